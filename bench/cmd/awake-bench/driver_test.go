//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMedianAndSpread(t *testing.T) {
	assert.True(t, math.IsNaN(median(nil)))
	assert.Equal(t, 3.0, median([]float64{5, 1, 3}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	in := []float64{9, 1, 5}
	median(in)
	assert.Equal(t, []float64{9, 1, 5}, in, "median must not reorder its input")

	assert.InDelta(t, 1.0/1.5, spread([]float64{1, 2, 1.5}), 1e-9)
}

func TestTargetMet(t *testing.T) {
	le, ge, abs := &target{"<=", 1.0}, &target{">=", 1.0}, &target{"abs<=", 100_000}
	assert.True(t, le.met(90, 100))
	assert.False(t, le.met(110, 100))
	assert.True(t, ge.met(110, 100))
	assert.False(t, ge.met(90, 100))
	assert.True(t, abs.met(64, math.NaN()), "an absolute target ignores the anchor")
	assert.False(t, abs.met(200_000, 1))
	assert.False(t, le.met(math.NaN(), 100), "a failed awake probe never meets its target")
	assert.False(t, le.met(50, math.NaN()), "a failed anchor cannot be beaten")
	assert.Equal(t, "<= 0.5 x", (&target{"<=", 0.5}).String("ns"))
	assert.Equal(t, "<= 100 us", abs.String("ns"))
}

func TestSummarizeAndTable(t *testing.T) {
	rows := []row{
		{"poll", "ns/poll", ref{"a", "poll"}, "tokio", ref{"b", "poll"}, &target{"<=", 1.0}},
		{"poll", "ns/poll", ref{"a", "poll"}, "cgo", ref{"missing", "poll"}, &target{"<=", 1.0}},
		{"mem", "B/task", ref{"a", "mem"}, "tokio", ref{"b", "mem"}, nil},
	}
	runs := map[ref][]float64{
		{"a", "poll"}: {80, 120, 100},
		{"b", "poll"}: {200, 200, 210},
		{"a", "mem"}:  {500},
		{"b", "mem"}:  {100},
	}
	out := summarize(rows, runs)
	require.Len(t, out, 3)
	assert.Equal(t, 100.0, *out[0].Awake)
	assert.Equal(t, 200.0, *out[0].Anchor)
	assert.Equal(t, 0.5, *out[0].Ratio)
	assert.True(t, *out[0].Met)
	assert.Nil(t, out[1].Anchor)
	assert.False(t, *out[1].Met)
	assert.Nil(t, out[2].Met)
	assert.Equal(t, "", out[2].Target)

	var buf bytes.Buffer
	printTable(&buf, out)
	text := buf.String()
	assert.Contains(t, text, "YES")
	assert.Contains(t, text, "FAILED")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	require.Len(t, lines, 5)
	// Aligned: every row's "unit" column starts where the header's does.
	col := strings.Index(lines[0], "unit")
	for _, l := range lines[2:] {
		assert.True(t, strings.HasPrefix(l[col:], "ns/poll") || strings.HasPrefix(l[col:], "B/task"), l)
	}
}

func TestWriteJSON(t *testing.T) {
	one := 1.5
	yes := true
	path := t.TempDir() + "/bench.json"
	require.NoError(t, writeJSON(path, []rowOut{{Name: "poll", AnchorName: "tokio", Awake: &one, Anchor: &one,
		Unit: "ns/poll", Ratio: &one, Target: "<= 1 x", Met: &yes, AwakeRuns: []float64{1.5}, AnchorRuns: []float64{1.5}}}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(b, &rows))
	require.Len(t, rows, 1)
	for _, k := range []string{"name", "awake", "anchor", "unit", "ratio", "target", "met"} {
		assert.Contains(t, rows[0], k)
	}
	assert.Contains(t, string(b), `"target": "<= 1 x"`)
}

func TestParseResults(t *testing.T) {
	res, err := parseResults(strings.NewReader("warming up\n{\"bench\":\"poll\",\"impl\":\"tokio\",\"value\":63.5,\"unit\":\"ns/poll\"}\n"))
	require.NoError(t, err)
	assert.Equal(t, []result{{"poll", "tokio", 63.5, "ns/poll"}}, res)
	_, err = parseResults(strings.NewReader("nothing\n"))
	assert.Error(t, err)
	_, err = parseResults(strings.NewReader("{\"bench\":\"poll\",\"value\":\"x\"}\n"))
	assert.Error(t, err)
}

func TestParseBenchLine(t *testing.T) {
	name, m, ok := parseBenchLine("BenchmarkForeignWake/asm/gc-busy-2   \t   20001\t   134.9 ns/op\t  21841 max-ns\t  71.84 ns/wake\t  64.00 p99.9-ns")
	require.True(t, ok)
	assert.Equal(t, "BenchmarkForeignWake/asm/gc-busy-2", name)
	assert.Equal(t, map[string]float64{"ns/op": 134.9, "max-ns": 21841, "ns/wake": 71.84, "p99.9-ns": 64}, m)
	_, _, ok = parseBenchLine("goos: linux")
	assert.False(t, ok)
	_, _, ok = parseBenchLine("PASS")
	assert.False(t, ok)
}

func TestTimerPermIsAPermutation(t *testing.T) {
	for _, n := range []int{1, 7, 1000, 7919 * 2, 100_000} {
		seen := make([]bool, n)
		for i := range n {
			j := timerPerm(i, n)
			require.False(t, seen[j], "n=%d: %d repeats", n, j)
			seen[j] = true
		}
	}
	assert.Equal(t, int64(1_000_000), int64(timerOffset(0, 100)))
	assert.Less(t, int64(timerOffset(99, 100)), int64(10_000_000))
}

func TestPlanRowsReferToProbes(t *testing.T) {
	ps, rows := plan(driverConfig{bin: "b", self: "self"})
	ids := map[string]bool{}
	for _, p := range ps {
		assert.False(t, ids[p.id], "probe %s listed twice", p.id)
		ids[p.id] = true
	}
	for _, r := range rows {
		assert.True(t, ids[r.awake.probe], "row %q: no probe %s", r.name, r.awake.probe)
		assert.True(t, ids[r.anchor.probe], "row %q: no probe %s", r.name, r.anchor.probe)
	}
	assert.Len(t, neededProbes(ps, filterRows(rows, "timer insert")), 2)
}
