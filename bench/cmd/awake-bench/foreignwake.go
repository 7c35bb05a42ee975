//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// foreignWake runs package vtable's BenchmarkForeignWake (a compiled test
// binary, f.test, run from the vtable directory so that it finds its C
// sources) for f.n wakes and re-emits its metrics as JSON lines:
//
//	bench "asm/idle:ns/wake", impl "awake", unit "ns", ...
//
// for each of asm and purego-callback, idle and gc-busy, and each metric
// (ns/wake, p50-ns, p99.9-ns, max-ns). The purego-callback/gc-busy case is
// capped at 2000 wakes by the benchmark itself (each may stall for ms).
func foreignWake(f measureFlags) error {
	bin, err := filepath.Abs(f.test)
	if err != nil {
		return err
	}
	dir, err := vtableDir()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-test.run", "^$", "-test.bench", "ForeignWake",
		"-test.benchtime", fmt.Sprintf("%dx", f.n), "-test.count", "1")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s -test.bench ForeignWake: %w\n%s", bin, err, out)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, metrics, ok := parseBenchLine(sc.Text())
		if !ok || !strings.HasPrefix(name, "BenchmarkForeignWake/") {
			continue
		}
		name = strings.TrimPrefix(name, "BenchmarkForeignWake/")
		if i := strings.LastIndexByte(name, '-'); i > 0 { // the -GOMAXPROCS suffix
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		impl := "awake"
		if strings.HasPrefix(name, "purego") {
			impl = "purego"
		}
		for unit, v := range metrics {
			emit(name+":"+unit, impl, v, "ns")
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("%s printed no BenchmarkForeignWake results:\n%s", bin, out)
	}
	return nil
}

// parseBenchLine splits a `go test -bench` result line into its name and its
// metrics by unit ("ns/op", "p99.9-ns", ...).
func parseBenchLine(line string) (string, map[string]float64, bool) {
	fields := strings.Fields(line)
	if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
		return "", nil, false
	}
	if _, err := strconv.Atoi(fields[1]); err != nil {
		return "", nil, false
	}
	m := map[string]float64{}
	for i := 2; i+1 < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return "", nil, false
		}
		m[fields[i+1]] = v
	}
	return fields[0], m, true
}

// vtableDir finds the vtable package directory: the repository root is the
// nearest directory at or above the working directory holding go.mod.
func vtableDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "vtable"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod at or above the working directory: run awake-bench from the awake repository")
		}
		dir = parent
	}
}
