//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// driverConfig is what `awake-bench run` was asked to do.
type driverConfig struct {
	quick   bool
	repeats int
	bin     string // directory holding the built plugins and anchors
	json    string
	only    string // run only the rows whose name contains this
	self    string // this executable
}

// probe is one program run that prints JSON lines (see result).
type probe struct {
	id  string
	cmd []string
}

// ref names one figure: what probe printed it and under which "bench".
type ref struct{ probe, bench string }

// target is a row's goal: ratio <= x, ratio >= x, or awake's own figure
// <= x (abs).
type target struct {
	op string // "<=", ">=", "abs<="
	x  float64
}

// row is one line of the table: awake's figure against one anchor's.
type row struct {
	name       string
	unit       string
	awake      ref
	anchorName string
	anchor     ref
	target     *target // nil: shown for information, no goal
}

func runDriver(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var c driverConfig
	fs.BoolVar(&c.quick, "quick", false, "reduced sizes and 3 repeats (make bench QUICK=1)")
	fs.IntVar(&c.repeats, "repeats", 0, "repeats per probe (default 5, or 3 with -quick)")
	fs.StringVar(&c.bin, "bin", "build/bench", "directory with the built plugins and anchor programs")
	fs.StringVar(&c.json, "json", "bench.json", "file to write the table to as JSON")
	fs.StringVar(&c.only, "only", "", "run only the rows whose name contains this text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.repeats <= 0 {
		c.repeats = 5
		if c.quick {
			c.repeats = 3
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	c.self = self

	ps, rows := plan(c)
	rows = filterRows(rows, c.only)
	if len(rows) == 0 {
		return fmt.Errorf("no benchmark row matches -only %q", c.only)
	}
	ps = neededProbes(ps, rows)

	start := time.Now()
	loadStart := loadAvg()
	mode := "full"
	if c.quick {
		mode = "quick"
	}
	fmt.Fprintf(os.Stderr, "awake-bench: %s run, %d probes x %d repeats (medians of repeats; each round runs every probe once, in order)\n",
		mode, len(ps), c.repeats)
	runs := map[ref][]float64{}
	failures := map[string]string{}
	for r := 1; r <= c.repeats; r++ {
		for _, p := range ps {
			t0 := time.Now()
			res, err := runProbe(p)
			if err != nil {
				failures[p.id] = err.Error()
				fmt.Fprintf(os.Stderr, "  [%d/%d] %-16s FAILED: %v\n", r, c.repeats, p.id, err)
				continue
			}
			var shown []string
			for _, x := range res {
				runs[ref{p.id, x.Bench}] = append(runs[ref{p.id, x.Bench}], x.Value)
				if len(res) <= 3 {
					shown = append(shown, fmt.Sprintf("%.4g %s", x.Value, x.Unit))
				}
			}
			if len(shown) == 0 {
				shown = append(shown, fmt.Sprintf("%d figures", len(res)))
			}
			fmt.Fprintf(os.Stderr, "  [%d/%d] %-16s %-24s (%.1fs)\n", r, c.repeats, p.id, strings.Join(shown, ", "), time.Since(t0).Seconds())
		}
	}
	out := summarize(rows, runs)
	printTable(os.Stdout, out)
	fmt.Printf("\n%s run: %d repeats, %.0f s in all. Ratio = awake / anchor; noise = (max-min)/median over the repeats, the larger of the two sides.\n",
		mode, c.repeats, time.Since(start).Seconds())
	fmt.Printf("1-minute load average %s at the start, %s at the end, on %d CPUs", loadStart, loadAvg(), runtime.NumCPU())
	if l, err := strconv.ParseFloat(loadStart, 64); err == nil && l > float64(runtime.NumCPU()) {
		fmt.Print(": other work was running, so the figures are noisier than usual")
	}
	fmt.Println()
	if err := writeJSON(c.json, out); err != nil {
		return err
	}
	fmt.Printf("JSON: %s\n", c.json)
	if len(failures) > 0 {
		var b strings.Builder
		for id, e := range failures {
			fmt.Fprintf(&b, "\n  %s: %s", id, e)
		}
		return fmt.Errorf("%d probe(s) failed (their rows show no figure):%s", len(failures), b.String())
	}
	return nil
}

// plan lists every probe and every row.
func plan(c driverConfig) ([]probe, []row) {
	sz := func(full, quick int) string {
		if c.quick {
			return fmt.Sprint(quick)
		}
		return fmt.Sprint(full)
	}
	bin := func(name string) string { return filepath.Join(c.bin, name) }
	plug := bin("benchplug.so")
	m := func(bench, impl string, extra ...string) []string {
		return append([]string{c.self, "measure", bench, "-impl", impl, "-plugin", plug, "-echo", bin("echo.so")}, extra...)
	}
	tokio := bin("tokio-anchor")
	uv := bin("uvbench")
	echoDur := "3s"
	if c.quick {
		echoDur = "1s"
	}

	polls := sz(4_000_000, 500_000)
	spawns := sz(300_000, 50_000)
	rts := sz(30_000, 5_000)
	pings := sz(30_000, 5_000)
	churns := sz(300_000, 50_000)
	sleeps := sz(1000, 200)
	const timers, tasks = "100000", "100000"
	ps := []probe{
		{"awake-poll1", m("poll", "awake", "-tasks", "1", "-n", polls)},
		{"tokio-poll1", []string{tokio, "poll", "1", polls}},
		{"awake-poll64", m("poll", "awake", "-tasks", "64", "-n", polls)},
		{"tokio-poll64", []string{tokio, "poll", "64", polls}},
		{"cgo-call", []string{bin("cgo-anchor"), "call", sz(30_000_000, 5_000_000)}},
		{"awake-spawn", m("spawn", "awake", "-n", spawns, "-batch", "1000")},
		{"awake-spawnbatch", m("spawn", "awake", "-spawnbatch", "-n", spawns, "-batch", "1000")},
		{"go-spawn", m("spawn", "go", "-n", spawns, "-batch", "1000")},
		{"tokio-spawn", []string{tokio, "spawn", spawns, "1000"}},
		{"foreignwake", m("foreignwake", "awake", "-test", bin("vtable.test"), "-n", sz(100_000, 20_000))},
		{"awake-wakert", m("wakert", "awake", "-n", rts)},
		{"tokio-wakert", []string{tokio, "wakert", rts}},
		{"raw-wakert", []string{bin("floor"), rts}},
		{"awake-pingpong", m("pingpong", "awake", "-n", pings)},
		{"tokio-pingpong", []string{tokio, "pingpong", pings}},
		{"libuv-pingpong", []string{uv, "pingpong", pings}},
		{"go-pingpong", m("pingpong", "go", "-n", pings)},
		{"awake-echo", m("echo", "awake", "-workers", "0", "-conns", "100", "-size", "64", "-dur", echoDur)},
		{"go-echo", m("echo", "go", "-conns", "100", "-size", "64", "-dur", echoDur)},
		{"awake-timers", m("timers", "awake", "-n", timers)},
		{"libuv-timers", []string{uv, "timers", timers}},
		{"tokio-timers", []string{tokio, "timers", timers}},
		{"go-timers", m("timers", "go", "-n", timers)},
		{"awake-churn", m("churn", "awake", "-n", churns)},
		{"go-churn", m("churn", "go", "-n", churns)},
		{"awake-sleeplate", m("sleeplate", "awake", "-n", sleeps, "-us", "100")},
		{"tokio-sleeplate", []string{tokio, "sleeplate", sleeps, "100"}},
		{"go-sleeplate", m("sleeplate", "go", "-n", sleeps, "-us", "100")},
		{"awake-mem", m("mem", "awake", "-n", tasks)},
		{"go-mem", m("mem", "go", "-n", tasks)},
		{"tokio-mem", []string{tokio, "mem", tasks}},
	}

	le := func(x float64) *target { return &target{"<=", x} }
	ge := func(x float64) *target { return &target{">=", x} }
	fw := func(s string) ref { return ref{"foreignwake", s} }
	rows := []row{
		{"poll self-waking C future, 1 task", "ns/poll", ref{"awake-poll1", "poll"}, "tokio", ref{"tokio-poll1", "poll"}, le(1.0)},
		{"poll self-waking C future, 1 task", "ns/poll", ref{"awake-poll1", "poll"}, "cgo call", ref{"cgo-call", "poll"}, le(1.0)},
		{"poll self-waking C future, 64 tasks", "ns/poll", ref{"awake-poll64", "poll"}, "tokio", ref{"tokio-poll64", "poll"}, le(1.0)},
		{"poll self-waking C future, 64 tasks", "ns/poll", ref{"awake-poll64", "poll"}, "cgo call", ref{"cgo-call", "poll"}, le(1.0)},
		{"spawn+complete+join C future from Go", "ns/task", ref{"awake-spawn", "spawn"}, "goroutine+WaitGroup", ref{"go-spawn", "spawn"}, le(0.5)},
		{"spawn+complete+join C future from Go", "ns/task", ref{"awake-spawn", "spawn"}, "tokio", ref{"tokio-spawn", "spawn"}, le(1.5)},
		{"  same, 1000 at a time with SpawnBatch", "ns/task", ref{"awake-spawnbatch", "spawn"}, "goroutine+WaitGroup", ref{"go-spawn", "spawn"}, le(0.5)},
		{"  same, 1000 at a time with SpawnBatch", "ns/task", ref{"awake-spawnbatch", "spawn"}, "tokio", ref{"tokio-spawn", "spawn"}, le(1.5)},
		{"wake from foreign pthread, idle (waker cost)", "ns/wake", fw("asm/idle:ns/wake"), "purego callback", fw("purego-callback/idle:ns/wake"), le(0.01)},
		{"wake from foreign pthread, Ps busy + GC, p99.9", "ns", fw("asm/gc-busy:p99.9-ns"), "purego callback", fw("purego-callback/gc-busy:p99.9-ns"), &target{"abs<=", 100_000}},
		{"wake from foreign pthread, Ps busy + GC, max", "ns", fw("asm/gc-busy:max-ns"), "purego callback", fw("purego-callback/gc-busy:max-ns"), nil},
		{"foreign wake -> poll -> reply round trip (p50)", "ns", ref{"awake-wakert", "wakert"}, "tokio", ref{"tokio-wakert", "wakert"}, le(1.0)},
		{"foreign wake -> poll -> reply round trip (p50)", "ns", ref{"awake-wakert", "wakert"}, "raw eventfd+epoll", ref{"raw-wakert", "wakert"}, le(1.3)},
		{"1-byte socketpair ping-pong, C plugin", "ns/rt", ref{"awake-pingpong", "pingpong"}, "tokio", ref{"tokio-pingpong", "pingpong"}, le(1.0)},
		{"1-byte socketpair ping-pong, C plugin", "ns/rt", ref{"awake-pingpong", "pingpong"}, "libuv", ref{"libuv-pingpong", "pingpong"}, le(1.0)},
		{"1-byte socketpair ping-pong, C plugin", "ns/rt", ref{"awake-pingpong", "pingpong"}, "Go netpoller", ref{"go-pingpong", "pingpong"}, le(1.0)},
		{"TCP echo, 100 conns, 64 B (higher is better)", "req/s", ref{"awake-echo", "echo"}, "Go net server", ref{"go-echo", "echo"}, ge(1.0)},
		{"100k timers (1-10 ms) created and fired", "ms", ref{"awake-timers", "timers"}, "libuv", ref{"libuv-timers", "timers"}, le(1.0)},
		{"100k timers (1-10 ms) created and fired", "ms", ref{"awake-timers", "timers"}, "tokio", ref{"tokio-timers", "timers"}, nil},
		{"100k timers (1-10 ms) created and fired", "ms", ref{"awake-timers", "timers"}, "Go AfterFunc", ref{"go-timers", "timers"}, nil},
		{"timer insert + cancel", "ns/op", ref{"awake-churn", "churn"}, "Go AfterFunc+Stop", ref{"go-churn", "churn"}, le(1.0)},
		{"100 us sleep, lateness p50", "us", ref{"awake-sleeplate", "sleeplate"}, "tokio sleep", ref{"tokio-sleeplate", "sleeplate"}, le(0.2)},
		{"100 us sleep, lateness p50", "us", ref{"awake-sleeplate", "sleeplate"}, "Go time.Sleep", ref{"go-sleeplate", "sleeplate"}, nil},
		{"memory per pending C task (100k)", "B/task", ref{"awake-mem", "mem"}, "parked goroutine", ref{"go-mem", "mem"}, le(0.1)},
		{"memory per pending C task (100k)", "B/task", ref{"awake-mem", "mem"}, "pending tokio task", ref{"tokio-mem", "mem"}, nil},
	}
	return ps, rows
}

func filterRows(rows []row, only string) []row {
	if only == "" {
		return rows
	}
	var out []row
	for _, r := range rows {
		if strings.Contains(r.name, only) {
			out = append(out, r)
		}
	}
	return out
}

// neededProbes keeps the probes some row refers to, in plan order.
func neededProbes(ps []probe, rows []row) []probe {
	need := map[string]bool{}
	for _, r := range rows {
		need[r.awake.probe] = true
		need[r.anchor.probe] = true
	}
	var out []probe
	for _, p := range ps {
		if need[p.id] {
			out = append(out, p)
		}
	}
	return out
}

// runProbe runs p once (two minutes at most) and parses its JSON lines.
func runProbe(p probe) ([]result, error) {
	if _, err := os.Stat(p.cmd[0]); err != nil {
		return nil, fmt.Errorf("%s is missing (run `make bench`, which builds it): %w", p.cmd[0], err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.cmd[0], p.cmd[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after 2 minutes")
		}
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(p.cmd, " "), err, tail(stderr.String(), 2000))
	}
	res, err := parseResults(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(p.cmd, " "), err)
	}
	return res, nil
}

// parseResults reads the JSON-line results a probe printed, ignoring any
// line that is not a JSON object.
func parseResults(r io.Reader) ([]result, error) {
	var res []result
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var x result
		if err := json.Unmarshal([]byte(line), &x); err != nil {
			return nil, fmt.Errorf("bad result line %q: %w", line, err)
		}
		if x.Bench == "" || math.IsNaN(x.Value) || math.IsInf(x.Value, 0) {
			return nil, fmt.Errorf("incomplete result line %q", line)
		}
		res = append(res, x)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("printed no result line")
	}
	return res, sc.Err()
}

// loadAvg returns the 1-minute load average from /proc/loadavg ("?" if
// unreadable).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
