//go:build linux

// Command awake-bench runs awake's benchmarks against their anchors (tokio,
// libuv, cgo, Go) and prints one table of ratios and targets; `make bench`
// builds everything and runs it (bench/README.md).
//
//	awake-bench run [-quick] [-json bench.json] [-bin build/bench]
//	awake-bench measure <bench> [flags]
//
// `run` is the driver: it runs every probe (a program that prints JSON lines
// {"bench","impl","value","unit"}) several times, interleaved, takes the
// median of each figure, and compares awake's figure with each anchor's.
// `measure` is one probe of the awake side or of a Go anchor, run in a fresh
// process so that no measurement inherits another's heap, threads or
// timers.
//
// This program measures; it must never be imported, never change awake's
// packages, and never send traffic anywhere but 127.0.0.1.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runDriver(os.Args[2:])
	case "measure":
		if len(os.Args) < 3 {
			usage()
		}
		err = measure(os.Args[2], os.Args[3:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "awake-bench: %v\n", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: awake-bench run [-quick] [-json FILE] [-bin DIR] [-repeats N] [-only SUBSTR]
       awake-bench measure <bench> [flags]   (one probe; see measure.go)`)
	os.Exit(2)
}
