package reactor

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/vtable"
)

// turnUntil turns r (blocking) until q has woken want tokens, and returns
// them in wake order with the clock read right after the Turn that fired
// each one.
func turnUntil(t *testing.T, r *Reactor, q *vtable.Queue, want int) (toks, seenAt []uint64) {
	t.Helper()
	for len(toks) < want {
		_, err := r.Turn(-1)
		require.NoError(t, err)
		now := syscallNow(t)
		for _, tok := range drain(q) {
			toks = append(toks, tok)
			seenAt = append(seenAt, now)
		}
	}
	return toks, seenAt
}

// TestTimersFireInDeadlineOrderNeverEarly opens timers with distinct
// deadlines 0.5-3 ms ahead in shuffled order. Wakes must arrive in deadline
// order, and a plugin woken by one must read a clock_gettime at or past its
// deadline.
func TestTimersFireInDeadlineOrderNeverEarly(t *testing.T) {
	r := newReactor(t)
	q := newQueue(t, r)
	const n = 64
	base := Now() + 500_000
	deadlines := make([]uint64, n)
	for i := range deadlines {
		deadlines[i] = base + uint64(i)*40_000 // 40 us apart
	}
	rand.Shuffle(n, func(i, j int) { deadlines[i], deadlines[j] = deadlines[j], deadlines[i] })
	owners := make([]abi.Waker, n)
	timers := make([]*abi.Timer, n)
	for i, d := range deadlines {
		tm, err := r.OpenTimer(d)
		require.NoError(t, err)
		timers[i] = tm
		owners[i] = newWaker(t, q, uint64(i))
		ready, _ := PollEvent(&tm.Event, owners[i])
		require.False(t, ready, "timer %d fired before any Turn", i)
	}
	toks, seenAt := turnUntil(t, r, q, n)
	got := make([]uint64, n)
	for k, tok := range toks {
		got[k] = deadlines[tok]
		require.GreaterOrEqual(t, seenAt[k], deadlines[tok], "timer %d fired %d ns early", tok, deadlines[tok]-seenAt[k])
		ready, _ := PollEvent(&timers[tok].Event, owners[tok])
		require.True(t, ready)
	}
	require.True(t, slices.IsSorted(got), "wake order is not deadline order: %v", got)
	for i, tm := range timers {
		r.CloseTimer(tm)
		vtable.Drop(owners[i])
	}
	drain(q)
	require.Zero(t, q.Live())
	st := r.Stats()
	require.EqualValues(t, n, st.TimersFired)
	require.EqualValues(t, n, st.Wakes)
	require.Zero(t, st.TimersLive)
	require.Zero(t, st.Misuse)
}

func TestPastDeadlineFiresOnNextTurnNotInline(t *testing.T) {
	r := newReactor(t)
	tm, err := r.OpenTimer(0)
	require.NoError(t, err)
	require.Zero(t, tm.Event.State&abi.EventReady, "OpenTimer must not fire inline")
	n, err := r.Turn(0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NotZero(t, tm.Event.State&abi.EventReady)
	_, ok := r.NextDeadline()
	require.False(t, ok, "a fired timer leaves the heap")
	n, err = r.Turn(0)
	require.NoError(t, err)
	require.Zero(t, n, "a timer fires once per arm")
}

func TestClosedTimerNeverFires(t *testing.T) {
	r := newReactor(t)
	q := newQueue(t, r)
	w := newWaker(t, q, 1)
	doomed, err := r.OpenTimer(Now() + 200_000)
	require.NoError(t, err)
	ready, _ := PollEvent(&doomed.Event, w)
	require.False(t, ready)
	later, err := r.OpenTimer(Now() + 1_000_000)
	require.NoError(t, err)
	r.CloseTimer(doomed)
	require.Equal(t, abi.Waker{}, doomed.Event.Waker, "close dropped the parked waker")
	for later.Event.State&abi.EventReady == 0 {
		_, err := r.Turn(-1)
		require.NoError(t, err)
	}
	require.Empty(t, drain(q), "the closed timer's waker was woken")
	require.EqualValues(t, 1, r.Stats().TimersFired)

	// The freed slot is reused; its tick survives so stale clears miss.
	again, err := r.OpenTimer(0)
	require.NoError(t, err)
	require.Equal(t, doomed, again)
	require.Zero(t, again.Event.State)

	r.CloseTimer(doomed) // closes `again`
	r.CloseTimer(doomed) // double close: counted, ignored
	require.EqualValues(t, 1, r.Stats().Misuse)

	// A buggy plugin polls after close, parking a clone in the free slot;
	// reuse releases it instead of leaking the task's reference.
	ready, _ = PollEvent(&doomed.Event, w)
	require.False(t, ready)
	again, err = r.OpenTimer(0)
	require.NoError(t, err)
	require.Equal(t, doomed, again)
	require.Equal(t, abi.Waker{}, again.Event.Waker)
	require.EqualValues(t, 2, r.Stats().Misuse)
	r.CloseTimer(again)
	vtable.Drop(w)
	require.Empty(t, drain(q))
	require.Zero(t, q.Live(), "the stale clone was released")
}

func TestResetTimer(t *testing.T) {
	r := newReactor(t)
	q := newQueue(t, r)
	w := newWaker(t, q, 9)
	tm, err := r.OpenTimer(Now() + uint64(time.Hour))
	require.NoError(t, err)
	ready, _ := PollEvent(&tm.Event, w)
	require.False(t, ready)

	d := Now() + 300_000
	require.NoError(t, r.ResetTimer(tm, d))
	require.Equal(t, d, tm.DeadlineNs)
	next, ok := r.NextDeadline()
	require.True(t, ok)
	require.Equal(t, d, next)
	toks, _ := turnUntil(t, r, q, 1)
	require.Equal(t, []uint64{9}, toks)
	ready, tick := PollEvent(&tm.Event, w)
	require.True(t, ready)
	require.EqualValues(t, 1, tick)

	// Re-arm after firing: READY is forgotten, the tick is kept.
	require.NoError(t, r.ResetTimer(tm, 0))
	ready, _ = PollEvent(&tm.Event, w)
	require.False(t, ready, "reset clears READY")
	toks, _ = turnUntil(t, r, q, 1)
	require.Equal(t, []uint64{9}, toks)
	ready, tick = PollEvent(&tm.Event, w)
	require.True(t, ready)
	require.EqualValues(t, 2, tick)

	r.CloseTimer(tm)
	require.Error(t, r.ResetTimer(tm, 0), "reset of a closed timer is refused")
	vtable.Drop(w)
	drain(q)
	require.Zero(t, q.Live())
}

func TestForeignTimerPointerRefused(t *testing.T) {
	a, b := newReactor(t), newReactor(t)
	ta, err := a.OpenTimer(0)
	require.NoError(t, err)
	_, err = b.OpenTimer(0)
	require.NoError(t, err)
	b.CloseTimer(ta) // same slot index, other reactor's memory
	require.EqualValues(t, 1, b.Stats().Misuse)
	require.Equal(t, 1, b.Stats().TimersLive)
	require.Error(t, b.ResetTimer(ta, 5))
}
