package awake_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/awake-rt/awake"
	"github.com/awake-rt/awake/internal/ctest"
)

func benchTestkit(b *testing.B, workers int) *awake.Plugin {
	so := ctest.Build(b, ctest.Shared, []string{"testdata/cplugins/testkit.c"}, "-pthread", "-O2")
	rt, err := awake.New(awake.WithWorkers(workers))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Close() })
	p, err := rt.Load(so)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkSelfWakePoll: one C future that wakes itself by reference and
// returns PENDING b.N times: the cost of one poll round trip through the
// executor (drain, schedule, call into C, result).
func BenchmarkSelfWakePoll(b *testing.B) {
	p := benchTestkit(b, 1)
	b.ResetTimer()
	if _, err := p.Call(context.Background(), "yield", []byte(fmt.Sprint(b.N))); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSpawnReadyC: spawn + complete + join of a C future from Go, 64 in
// flight.
func BenchmarkSpawnReadyC(b *testing.B) {
	p := benchTestkit(b, 1)
	ctx := context.Background()
	tasks := make([]*awake.Task, 0, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		tasks = tasks[:0]
		for j := 0; j < 64 && i+j < b.N; j++ {
			t, err := p.Spawn("ready", nil)
			if err != nil {
				b.Fatal(err)
			}
			tasks = append(tasks, t)
		}
		for _, t := range tasks {
			if _, err := t.Await(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSelfWakePoll64: 64 self-waking C futures at once, so the executor
// polls them in batches: ns per poll.
func BenchmarkSelfWakePoll64(b *testing.B) {
	p := benchTestkit(b, 1)
	per := b.N/64 + 1
	tasks := make([]*awake.Task, 64)
	b.ResetTimer()
	for i := range tasks {
		var err error
		if tasks[i], err = p.Spawn("yield", []byte(fmt.Sprint(per))); err != nil {
			b.Fatal(err)
		}
	}
	for _, t := range tasks {
		if _, err := t.Await(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
