//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/awake-rt/awake"
)

// openAwake starts a runtime with the requested workers and loads a plugin.
func openAwake(f measureFlags, plugin string, opts ...awake.Option) (*awake.Runtime, *awake.Plugin, error) {
	opts = append([]awake.Option{
		awake.WithWorkers(f.workers),
		awake.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	}, opts...)
	rt, err := awake.New(opts...)
	if err != nil {
		return nil, nil, err
	}
	p, err := rt.Load(plugin)
	if err != nil {
		rt.Close()
		return nil, nil, fmt.Errorf("loading %s (build it with `make bench`): %w", plugin, err)
	}
	return rt, p, nil
}

// callU64 runs export to completion and decodes its uint64 output.
func callU64(p *awake.Plugin, export, args string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := p.Call(ctx, export, []byte(args))
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", export, args, err)
	}
	if len(out) != 8 {
		return 0, fmt.Errorf("%s %q returned %d bytes, want a uint64 (8)", export, args, len(out))
	}
	return binary.LittleEndian.Uint64(out), nil
}

// awakePoll: tasks self-waking C futures ("yield"), n polls in all.
func awakePoll(f measureFlags) error {
	rt, p, err := openAwake(f, f.plugin)
	if err != nil {
		return err
	}
	defer rt.Close()
	per := f.n / f.tasks
	ctx := context.Background()
	if _, err := p.Call(ctx, "yield", []byte("1000")); err != nil { // warm-up
		return err
	}
	hs := make([]*awake.Task, f.tasks)
	t0 := time.Now()
	for i := range hs {
		if hs[i], err = p.Spawn("yield", []byte(fmt.Sprint(per))); err != nil {
			return err
		}
	}
	for _, h := range hs {
		if _, err := h.Await(ctx); err != nil {
			return err
		}
	}
	el := time.Since(t0)
	emit("poll", "awake", float64(el.Nanoseconds())/float64(per*f.tasks), "ns/poll")
	return nil
}

// awakeSpawn: spawn a ready C future from Go, let it complete, join it; in
// batches of f.batch (spawn all, then await all). With -spawnbatch the
// batch is spawned with one Plugin.SpawnBatch call instead of one Spawn
// per task.
func awakeSpawn(f measureFlags) error {
	rt, p, err := openAwake(f, f.plugin)
	if err != nil {
		return err
	}
	defer rt.Close()
	ctx := context.Background()
	hs := make([]*awake.Task, f.batch)
	noArgs := make([][]byte, f.batch)
	round := func() error {
		if f.spawnBatch {
			if hs, err = p.SpawnBatch("ready", noArgs); err != nil {
				return err
			}
		} else {
			for i := range hs {
				if hs[i], err = p.Spawn("ready", nil); err != nil {
					return err
				}
			}
		}
		for i, h := range hs {
			if _, err := h.Await(ctx); err != nil {
				return err
			}
			hs[i] = nil
		}
		return nil
	}
	for range spawnWarmup {
		if err := round(); err != nil {
			return err
		}
	}
	rounds := max(f.n/f.batch, 1)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	for range rounds {
		if err := round(); err != nil {
			return err
		}
	}
	el := time.Since(t0)
	runtime.ReadMemStats(&m1)
	tasks := float64(rounds * f.batch)
	emit("spawn", "awake", float64(el.Nanoseconds())/tasks, "ns/task")
	// Where it goes: Go allocations per task (all goroutines of the process).
	emit("spawn-allocs", "awake", float64(m1.Mallocs-m0.Mallocs)/tasks, "allocs/task")
	emit("spawn-bytes", "awake", float64(m1.TotalAlloc-m0.TotalAlloc)/tasks, "B/task")
	return nil
}

// awakeWakeRT: a C pthread wakes a task and spins for its reply.
func awakeWakeRT(f measureFlags) error {
	rt, p, err := openAwake(f, f.plugin)
	if err != nil {
		return err
	}
	defer rt.Close()
	ns, err := callU64(p, "wakert", fmt.Sprint(f.n))
	if err != nil {
		return err
	}
	emit("wakert", "awake", float64(ns), "ns")
	return nil
}

// awakePingPong: two C tasks ping-pong one byte over a socketpair on the
// reactor.
func awakePingPong(f measureFlags) error {
	rt, p, err := openAwake(f, f.plugin)
	if err != nil {
		return err
	}
	defer rt.Close()
	if _, err := callU64(p, "pingpong", "1000"); err != nil { // warm-up
		return err
	}
	ns, err := callU64(p, "pingpong", fmt.Sprint(f.n))
	if err != nil {
		return err
	}
	emit("pingpong", "awake", float64(ns)/float64(f.n), "ns/roundtrip")
	return nil
}

// awakeTimers: one C future opens n host timers due 1..10 ms and waits for
// all of them.
func awakeTimers(f measureFlags) error {
	rt, p, err := openAwake(f, f.plugin)
	if err != nil {
		return err
	}
	defer rt.Close()
	ns, err := callU64(p, "timers", fmt.Sprint(f.n))
	if err != nil {
		return err
	}
	emit("timers", "awake", float64(ns)/1e6, "ms")
	return nil
}

// awakeChurn: timer_open + timer_close from C, n times.
func awakeChurn(f measureFlags) error {
	rt, p, err := openAwake(f, f.plugin)
	if err != nil {
		return err
	}
	defer rt.Close()
	if _, err := callU64(p, "timer_churn", "1000"); err != nil { // warm-up
		return err
	}
	ns, err := callU64(p, "timer_churn", fmt.Sprint(f.n))
	if err != nil {
		return err
	}
	emit("churn", "awake", float64(ns)/float64(f.n), "ns/op")
	return nil
}

// awakeSleepLate: a C future sleeps f.us microseconds f.n times.
func awakeSleepLate(f measureFlags) error {
	rt, p, err := openAwake(f, f.plugin)
	if err != nil {
		return err
	}
	defer rt.Close()
	ns, err := callU64(p, "sleeplate", fmt.Sprintf("%d %d", f.n, f.us))
	if err != nil {
		return err
	}
	emit("sleeplate", "awake", float64(ns)/1e3, "us")
	return nil
}

// awakeMem: RSS growth for n pending C tasks, each polled once and parked
// with a waker clone.
func awakeMem(f measureFlags) error {
	rt, p, err := openAwake(f, f.plugin)
	if err != nil {
		return err
	}
	if _, err := p.Call(context.Background(), "ready", nil); err != nil { // warm-up
		return err
	}
	base := rt.Stats().Polled
	before, err := settledRSS()
	if err != nil {
		return err
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range f.n {
		if _, err := p.Spawn("pending", nil); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for rt.Stats().Polled < base+uint64(f.n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("mem: only %d of %d pending tasks were polled within a minute", rt.Stats().Polled-base, f.n)
		}
		time.Sleep(time.Millisecond)
	}
	after, err := settledRSS()
	if err != nil {
		return err
	}
	runtime.ReadMemStats(&m1)
	emit("mem", "awake", float64(int64(after)-int64(before))/float64(f.n), "B/task")
	// Where it goes: live Go heap, and Go heap objects, per task (the rest of
	// the RSS is C malloc, waker slabs and other mmap'd memory).
	emit("mem-goheap", "awake", float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(f.n), "B/task")
	emit("mem-goobjects", "awake", float64(int64(m1.HeapObjects)-int64(m0.HeapObjects))/float64(f.n), "objects/task")
	return nil // the runtime is not closed: the process ends with its n tasks
}
