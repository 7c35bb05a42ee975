package reactor

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake/abi"
)

// TestMillionTimers opens 1M timers, closes a random half, re-keys a random
// tenth, checks the heap invariant and index, then pops everything and checks
// the deadlines come out sorted. Heap operations only: no Turn, no syscall.
func TestMillionTimers(t *testing.T) {
	n := stressN(1_000_000, 100_000)
	r := newReactor(t)
	rng := rand.New(rand.NewPCG(1, 2))
	timers := make([]*abi.Timer, n)
	for i := range timers {
		tm, err := r.OpenTimer(1 + rng.Uint64N(1<<40))
		if err != nil {
			t.Fatal(err) // (plain ifs in hot loops: require costs ~1 us a call)
		}
		timers[i] = tm
	}
	rng.Shuffle(n, func(i, j int) { timers[i], timers[j] = timers[j], timers[i] })
	for _, tm := range timers[:n/2] {
		r.CloseTimer(tm)
	}
	live := timers[n/2:]
	for _, tm := range live[:n/10] {
		if err := r.ResetTimer(tm, 1+rng.Uint64N(1<<40)); err != nil {
			t.Fatal(err)
		}
	}
	require.NoError(t, r.heap.check())
	require.Equal(t, n-n/2, r.Stats().TimersLive)
	require.Len(t, r.heap.h, n-n/2)

	// Reopening reuses the freed slots instead of mapping more.
	chunks := len(r.timers.chunks)
	for range n / 4 {
		if _, err := r.OpenTimer(rng.Uint64N(1 << 40)); err != nil {
			t.Fatal(err)
		}
	}
	require.Equal(t, chunks, len(r.timers.chunks))
	require.NoError(t, r.heap.check())

	prev := uint64(0)
	for {
		i, ok := r.heap.popExpired(^uint64(0))
		if !ok {
			break
		}
		d := (*abi.Timer)(r.timers.addr(i)).DeadlineNs
		if d < prev {
			t.Fatalf("popped deadline %d after %d: out of order", d, prev)
		}
		prev = d
	}
	require.NoError(t, r.heap.check())
}

func TestHeapRemoveKeepsInvariant(t *testing.T) {
	var h timerHeap
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range uint32(2000) {
		h.track(i)
		h.set(i, rng.Uint64N(100)) // many ties
	}
	for i := range uint32(2000) {
		switch rng.IntN(3) {
		case 0:
			h.remove(i)
		case 1:
			h.set(i, rng.Uint64N(100))
		}
		if i%100 == 0 {
			require.NoError(t, h.check())
		}
	}
	require.NoError(t, h.check())
	h.h[len(h.h)-1].deadline = 0 // corrupt it: check must notice
	require.Error(t, h.check())
}
