package reactor

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/vtable"
)

const tick1 uint64 = 1 << abi.EventTickShift

func TestFireWithoutWakerSetsReadyAndTick(t *testing.T) {
	var ev abi.Event
	require.False(t, fire(&ev))
	require.Equal(t, tick1|abi.EventReady, ev.State, "fire bumps tick, sets READY, releases WAKING")
	require.False(t, fire(&ev))
	require.Equal(t, 2*tick1|abi.EventReady, ev.State)
	resetEvent(&ev)
	require.Equal(t, 2*tick1, ev.State, "reset clears READY and keeps the tick")
}

func TestFireDuringRegisteringLeavesWakerParked(t *testing.T) {
	r := newReactor(t)
	q := newQueue(t, r)
	w := newWaker(t, q, 7)
	ev := abi.Event{State: abi.EventRegistering, Waker: vtable.Clone(w)}
	require.False(t, fire(&ev), "the registering poller owns the waker")
	require.Equal(t, tick1|abi.EventReady|abi.EventRegistering, ev.State)
	require.Equal(t, w, ev.Waker)
	require.Empty(t, drain(q))
	ev.State &^= abi.EventRegistering // the poller releases and sees READY
	ready, tick := PollEvent(&ev, w)
	require.True(t, ready)
	require.EqualValues(t, 1, tick)
	require.True(t, closeEvent(&ev))
	require.Equal(t, tick1, ev.State, "close keeps only the tick")
	vtable.Drop(w)
	require.Empty(t, drain(q))
	require.Zero(t, q.Live(), "the parked clone and the owner were both released")
}

func TestPollParksOneCloneAndFireWakesIt(t *testing.T) {
	r := newReactor(t)
	q := newQueue(t, r)
	w := newWaker(t, q, 3)
	var ev abi.Event
	for range 3 { // re-polling with the same waker keeps the parked clone
		ready, _ := PollEvent(&ev, w)
		require.False(t, ready)
	}
	require.Equal(t, w, ev.Waker)
	require.True(t, fire(&ev))
	require.Equal(t, abi.Waker{}, ev.Waker, "the wake consumed the parked clone")
	require.Equal(t, []uint64{3}, drain(q))
	require.False(t, fire(&ev), "nothing parked: a second fire wakes nobody")
	ready, tick := PollEvent(&ev, w)
	require.True(t, ready)
	require.EqualValues(t, 2, tick)

	ClearEvent(&ev, 1) // stale tick: READY stays
	require.NotZero(t, ev.State&abi.EventReady)
	ClearEvent(&ev, 2)
	require.Equal(t, 2*tick1, ev.State)

	// A different waker replaces the parked one, which is dropped.
	ready, _ = PollEvent(&ev, w)
	require.False(t, ready)
	w2 := newWaker(t, q, 4)
	ready, _ = PollEvent(&ev, w2)
	require.False(t, ready)
	require.Equal(t, w2, ev.Waker)
	require.True(t, closeEvent(&ev))
	vtable.Drop(w)
	vtable.Drop(w2)
	require.Empty(t, drain(q), "close drops, never wakes")
	require.Zero(t, q.Live())
}

func TestCloseRefusesHeldEvent(t *testing.T) {
	for _, bit := range []uint64{abi.EventRegistering, abi.EventWaking} {
		ev := abi.Event{State: bit}
		require.False(t, closeEvent(&ev))
		require.Equal(t, bit, ev.State, "a refused close touches nothing")
	}
}

// TestFirePollRace races a firing goroutine against a polling one on one
// event (in the Go heap, so -race sees the waker's plain accesses). A lost
// READY edge shows up as a poll that returns PENDING after the fire it should
// have seen, or a wait for a wake that never comes although that fire is
// done. "free" fires without pause (edges coalesce; exercises the tick rule
// of ClearEvent); "paced" waits for the poller to see each fire before the
// next, so every fire is the last one and a lost wake cannot be repaired by
// a later fire.
func TestFirePollRace(t *testing.T) {
	fires := uint64(stressN(1_000_000, 50_000))
	t.Run("free", func(t *testing.T) { firePollRace(t, fires, false) })
	t.Run("paced", func(t *testing.T) { firePollRace(t, fires/4, true) })
}

func firePollRace(t *testing.T, fires uint64, paced bool) {
	r := newReactor(t)
	q := newQueue(t, r)
	owner := newWaker(t, q, 1)
	ev := new(abi.Event)
	var firedTick, seenTick atomic.Uint64 // tick of the last completed fire / last READY seen
	var wakes atomic.Uint64
	go func() {
		for i := range fires {
			if fire(ev) {
				wakes.Add(1)
			}
			firedTick.Store(i + 1)
			for paced && seenTick.Load() < i+1 {
				runtime.Gosched()
			}
			if i%64 == 0 {
				runtime.Gosched()
			}
		}
	}()

	var pendings, readies, spurious int
	for {
		before := firedTick.Load()
		ready, tick := PollEvent(ev, owner)
		if ready {
			readies++
			seenTick.Store(tick)
			if tick == fires {
				break
			}
			ClearEvent(ev, tick)
			continue
		}
		require.LessOrEqual(t, before, seenTick.Load(), "PENDING after fire %d completed: a READY edge was lost", before)
		pendings++
		for {
			f := firedTick.Load()
			if len(drain(q)) > 0 {
				break
			}
			require.LessOrEqual(t, f, seenTick.Load(), "parked a waker, fire %d completed, no wake came", f)
			runtime.Gosched()
		}
		if ready, _ := PollEvent(ev, abi.Waker{}); !ready {
			spurious++ // a wake of a waker parked during an earlier REGISTERING
		}
	}
	require.GreaterOrEqual(t, wakes.Load(), uint64(pendings), "every PENDING got its wake")
	require.Zero(t, vtable.Misuse(owner), "no waker was released twice")
	require.True(t, closeEvent(ev))
	vtable.Drop(owner)
	drain(q)
	require.Zero(t, q.Live(), "every parked clone was released exactly once")
	t.Logf("%d fires: %d READY polls, %d PENDING, %d wakes, %d spurious", fires, readies, pendings, wakes.Load(), spurious)
}
