//go:build cgo

// Command cgo-anchor is the cgo side of awake's benchmarks (bench/README.md):
// the cost of one cgo call into a trivial C function, the floor every
// cgo-based plugin host pays per crossing. It needs CGO_ENABLED=1 and is
// excluded from the cgo-free build by its build tag; it must never be
// imported (awake itself never uses cgo).
//
// Usage: cgo-anchor call <n>   prints {"bench":"poll","impl":"cgo",...}
package main

/*
#include <stdint.h>
static uint64_t awake_bench_trivial(uint64_t x) { return x + 1; }
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != "call" {
		fmt.Fprintln(os.Stderr, "usage: cgo-anchor call <n>")
		os.Exit(2)
	}
	n, err := strconv.ParseUint(os.Args[2], 10, 64)
	if err != nil || n == 0 {
		fmt.Fprintf(os.Stderr, "cgo-anchor: <n> must be a positive number, got %q\n", os.Args[2])
		os.Exit(2)
	}
	var acc C.uint64_t
	t0 := time.Now()
	for range n {
		acc = C.awake_bench_trivial(acc)
	}
	el := time.Since(t0)
	if uint64(acc) != n {
		fmt.Fprintln(os.Stderr, "cgo-anchor: the C function returned a wrong sum")
		os.Exit(1)
	}
	fmt.Printf("{\"bench\":\"poll\",\"impl\":\"cgo\",\"value\":%.3f,\"unit\":\"ns/call\"}\n", float64(el.Nanoseconds())/float64(n))
}
