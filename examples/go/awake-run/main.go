// Command awake-run loads an awake plugin, lists its exports, or runs one
// export with arguments and prints the result, the time it took and the
// runtime's counters.
//
//	awake-run build/examples/timer.so                 # list exports
//	awake-run build/examples/timer.so sleep 150ms     # run one
//	awake-run -n 1000 build/examples/timer.so sleep 5ms
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/awake-rt/awake"
)

func main() {
	n := flag.Int("n", 1, "run the export this many times concurrently")
	workers := flag.Int("workers", 0, "worker threads (default GOMAXPROCS)")
	timeout := flag.Duration("timeout", time.Minute, "give up (and cancel) after this long")
	quiet := flag.Bool("q", false, "print only the outputs")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: awake-run [flags] <plugin.so> [export [args...]]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Args()[1:], *n, *workers, *timeout, *quiet); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(path string, rest []string, n, workers int, timeout time.Duration, quiet bool) error {
	level := slog.LevelInfo
	if quiet {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	rt, err := awake.New(awake.WithWorkers(workers), awake.WithLogger(log))
	if err != nil {
		return err
	}
	defer rt.Close()
	// Go functions plugins can await through host->call (see await_go.c).
	rt.Offer("upper", func(_ context.Context, args []byte) ([]byte, error) {
		return bytes.ToUpper(args), nil
	})
	rt.Offer("sleep_upper", func(ctx context.Context, args []byte) ([]byte, error) {
		select {
		case <-time.After(50 * time.Millisecond):
			return bytes.ToUpper(args), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	p, err := rt.Load(path)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		fmt.Printf("%s %s (%s)\n", p.Name(), p.Version(), p.Path())
		for _, e := range p.Exports() {
			fmt.Printf("  %-20s %s\n", e.Name, e.Doc)
		}
		return nil
	}
	export, args := rest[0], []byte(strings.Join(rest[1:], " "))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	start := time.Now()
	outs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = p.Call(ctx, export, args)
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if n == 1 || quiet {
		for _, o := range outs {
			fmt.Println(string(o))
		}
	} else {
		fmt.Printf("%s (and %d more)\n", outs[0], n-1)
	}
	if !quiet {
		s := rt.Stats()
		fmt.Printf("%s/%s x%d took %v\n", p.Name(), export, n, took.Round(time.Microsecond))
		fmt.Printf("counters: spawned=%d polled=%d woken=%d stale-wakes=%d pending=%d completed=%d failed=%d cancelled=%d\n",
			s.Spawned, s.Polled, s.Woken, s.StaleWakes, s.Pending, s.Completed, s.Failed, s.Cancelled)
		if s.LostWakers+s.WakerMisuse+s.SpuriousWakes+s.WakersHeld > 0 {
			fmt.Printf("diagnostics: lost-wakers=%d waker-misuse=%d spurious-wakes=%d wakers-held-at-finish=%d\n",
				s.LostWakers, s.WakerMisuse, s.SpuriousWakes, s.WakersHeld)
		}
	}
	return nil
}
