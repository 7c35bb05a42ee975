//go:build linux

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// result is one figure a probe prints, as one JSON line on stdout.
type result struct {
	Bench string  `json:"bench"`
	Impl  string  `json:"impl"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

func emit(bench, impl string, value float64, unit string) {
	b, _ := json.Marshal(result{Bench: bench, Impl: impl, Value: value, Unit: unit})
	fmt.Println(string(b))
}

// measureFlags are the flags every `measure` bench accepts; each uses the
// ones it needs.
type measureFlags struct {
	impl       string
	plugin     string
	echoSO     string
	n          int
	tasks      int
	batch      int
	us         int
	conns      int
	size       int
	dur        time.Duration
	workers    int
	test       string
	cpuprof    string
	spawnBatch bool
	memprof    string
}

// measure runs one probe: the awake side (-impl awake) or a Go anchor
// (-impl go) of one benchmark.
//
//	poll        -tasks T -n N      self-waking C future, ns per poll (awake only)
//	spawn       -n N -batch B [-spawnbatch]  spawn + complete + join, ns per task
//	wakert      -n N               foreign-thread wake round trip, median ns (awake only)
//	pingpong    -n N               1-byte socketpair ping-pong, ns per round trip
//	echo        -conns C -size S -dur D   TCP echo requests/s (server in a child process)
//	echo-server -conns C           the server side of echo (prints "port N")
//	timers      -n N               N timers due 1..10 ms, ms until all fired
//	churn       -n N               timer insert + cancel, ns per pair
//	sleeplate   -n N -us U         sleep U us N times, median lateness in us
//	mem         -n N               RSS bytes per pending task
//	foreignwake -test BIN -n N     runs vtable's BenchmarkForeignWake
func measure(bench string, args []string) error {
	fs := flag.NewFlagSet("measure "+bench, flag.ContinueOnError)
	var f measureFlags
	fs.StringVar(&f.impl, "impl", "awake", "awake or go")
	fs.StringVar(&f.plugin, "plugin", "build/bench/benchplug.so", "the benchmark plugin")
	fs.StringVar(&f.echoSO, "echo", "build/bench/echo.so", "the echo example plugin")
	fs.IntVar(&f.n, "n", 100000, "operations")
	fs.IntVar(&f.tasks, "tasks", 1, "concurrent tasks")
	fs.IntVar(&f.batch, "batch", 1000, "spawns per batch before joining")
	fs.BoolVar(&f.spawnBatch, "spawnbatch", false, "spawn: one Plugin.SpawnBatch call per batch")
	fs.IntVar(&f.us, "us", 100, "sleep duration in microseconds")
	fs.IntVar(&f.conns, "conns", 100, "TCP connections")
	fs.IntVar(&f.size, "size", 64, "message size in bytes")
	fs.DurationVar(&f.dur, "dur", 2*time.Second, "measured duration")
	fs.IntVar(&f.workers, "workers", 1, "awake worker threads (0: GOMAXPROCS)")
	fs.StringVar(&f.test, "test", "build/bench/vtable.test", "vtable test binary (foreignwake)")
	fs.StringVar(&f.cpuprof, "cpuprofile", "", "write a CPU profile of this probe to this file (go tool pprof)")
	fs.StringVar(&f.memprof, "memprofile", "", "write a heap profile (live objects at the end) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.n <= 0 || f.tasks <= 0 || f.batch <= 0 {
		return fmt.Errorf("measure %s: -n, -tasks and -batch must be positive", bench)
	}
	if f.impl != "awake" && f.impl != "go" {
		return fmt.Errorf("measure %s: -impl must be awake or go, not %q", bench, f.impl)
	}
	type fn func(measureFlags) error
	table := map[string][2]fn{ // awake side, Go side (nil: none)
		"poll":        {awakePoll, nil},
		"spawn":       {awakeSpawn, goSpawn},
		"wakert":      {awakeWakeRT, nil},
		"pingpong":    {awakePingPong, goPingPong},
		"echo":        {echoBench, echoBench},
		"echo-server": {awakeEchoServer, goEchoServer},
		"timers":      {awakeTimers, goTimers},
		"churn":       {awakeChurn, goChurn},
		"sleeplate":   {awakeSleepLate, goSleepLate},
		"mem":         {awakeMem, goMem},
		"foreignwake": {foreignWake, foreignWake},
	}
	sides, ok := table[bench]
	if !ok {
		return fmt.Errorf("measure: unknown bench %q", bench)
	}
	side := sides[0]
	if f.impl == "go" {
		side = sides[1]
	}
	if side == nil {
		return fmt.Errorf("measure %s: there is no -impl %s side", bench, f.impl)
	}
	if f.cpuprof != "" {
		out, err := os.Create(f.cpuprof)
		if err != nil {
			return err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if err := side(f); err != nil {
		return err
	}
	if f.memprof != "" {
		out, err := os.Create(f.memprof)
		if err != nil {
			return err
		}
		defer out.Close()
		runtime.GC()
		return pprof.Lookup("heap").WriteTo(out, 0)
	}
	return nil
}

// rssBytes is the resident set size of this process, from /proc/self/statm.
func rssBytes() (uint64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0, fmt.Errorf("/proc/self/statm has an unexpected format: %q", b)
	}
	pages, err := strconv.ParseUint(fields[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * uint64(os.Getpagesize()), nil
}

// settledRSS collects garbage and returns freed memory to the OS before
// reading the RSS, so that only live memory is counted.
func settledRSS() (uint64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	return rssBytes()
}

// timerOffset is the delay of timer j of n: spread evenly over 1..10 ms
// (the same formula in every implementation).
func timerOffset(j, n int) time.Duration {
	return time.Duration(1_000_000 + uint64(j)*9_000_000/uint64(n))
}

// timerPerm maps creation step i to timer j: multiplication by a number
// prime to n, so that timers are not created in deadline order.
func timerPerm(i, n int) int {
	p := 7919
	for gcd(p, n) != 1 {
		p += 2
	}
	return int(uint64(i) * uint64(p) % uint64(n))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
