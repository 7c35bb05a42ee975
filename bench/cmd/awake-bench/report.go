//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
)

// rowOut is one row of the table, as printed and as written to BENCH_JSON.
type rowOut struct {
	Name       string    `json:"name"`
	AnchorName string    `json:"anchor_name"`
	Awake      *float64  `json:"awake"`  // median over the repeats; null if the probe failed
	Anchor     *float64  `json:"anchor"` // median over the repeats; null if the probe failed
	Unit       string    `json:"unit"`
	Ratio      *float64  `json:"ratio"`  // awake / anchor
	Target     string    `json:"target"` // "" when the row is for information
	Met        *bool     `json:"met"`    // null when the row has no target
	AwakeRuns  []float64 `json:"awake_runs"`
	AnchorRuns []float64 `json:"anchor_runs"`
	Noise      *float64  `json:"noise"` // (max-min)/median of the noisier side
}

// summarize turns the repeated figures into table rows: medians, ratio and
// whether the target is met.
func summarize(rows []row, runs map[ref][]float64) []rowOut {
	var out []rowOut
	for _, r := range rows {
		o := rowOut{Name: r.name, AnchorName: r.anchorName, Unit: r.unit,
			AwakeRuns: runs[r.awake], AnchorRuns: runs[r.anchor]}
		if o.AwakeRuns == nil {
			o.AwakeRuns = []float64{}
		}
		if o.AnchorRuns == nil {
			o.AnchorRuns = []float64{}
		}
		a, b := median(o.AwakeRuns), median(o.AnchorRuns)
		o.Awake, o.Anchor = num(a), num(b)
		if b != 0 {
			o.Ratio = num(a / b)
		}
		o.Noise = num(math.Max(spreadOr0(o.AwakeRuns), spreadOr0(o.AnchorRuns)))
		if r.target != nil {
			o.Target = r.target.String(r.unit)
			met := r.target.met(a, b)
			o.Met = &met
		}
		out = append(out, o)
	}
	return out
}

// met says whether awake's figure a meets the target against anchor b; a
// missing figure never meets it.
func (t *target) met(a, b float64) bool {
	if math.IsNaN(a) {
		return false
	}
	switch t.op {
	case "abs<=":
		return a <= t.x
	case "<=":
		return !math.IsNaN(b) && b > 0 && a/b <= t.x
	case ">=":
		return !math.IsNaN(b) && b > 0 && a/b >= t.x
	}
	return false
}

// String shows the target as the issue writes it.
func (t *target) String(unit string) string {
	if t.op == "abs<=" {
		if unit == "ns" && t.x >= 1000 {
			return fmt.Sprintf("<= %g us", t.x/1000)
		}
		return fmt.Sprintf("<= %g %s", t.x, unit)
	}
	return fmt.Sprintf("%s %.2g x", t.op, t.x)
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func spreadOr0(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	return spread(v)
}

// fmtNum prints a figure with about three significant digits.
func fmtNum(p *float64) string {
	if p == nil {
		return "FAILED"
	}
	v := *p
	switch a := math.Abs(v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// printTable writes the rows as an aligned text table.
func printTable(w io.Writer, rows []rowOut) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tunit\tawake\tanchor\tanchor value\tratio\ttarget\tmet\tnoise\t")
	fmt.Fprintln(tw, "---------\t----\t-----\t------\t------------\t-----\t------\t---\t-----\t")
	prev := ""
	for _, r := range rows {
		name := r.Name
		if name == prev {
			name = strings.Repeat(" ", 2) + "\""
		}
		prev = r.Name
		ratio := "-"
		if r.Ratio != nil {
			ratio = fmt.Sprintf("%.3g x", *r.Ratio)
		}
		target, met := "-", "-"
		if r.Target != "" {
			target = r.Target
			met = "no"
			if r.Met != nil && *r.Met {
				met = "YES"
			}
		}
		noise := "-"
		if r.Noise != nil {
			noise = fmt.Sprintf("%.0f%%", *r.Noise*100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, r.Unit, fmtNum(r.Awake), r.AnchorName,
			fmtNum(r.Anchor), ratio, target, met, noise)
	}
	_ = tw.Flush()
}

// writeJSON writes the rows to path as a JSON array.
func writeJSON(path string, rows []rowOut) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "<=" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(rows); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the results to %s (BENCH_JSON): %w", path, err)
	}
	return nil
}
