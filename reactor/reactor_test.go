package reactor

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/vtable"
)

func TestWakeFdUnblocksTurn(t *testing.T) {
	r := newReactor(t)
	go func() {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(r.WakeFd(), one[:])
	}()
	n, err := r.Turn(-1) // blocks until the goroutine's write
	require.NoError(t, err)
	require.Zero(t, n, "a wake-fd write fires nothing")
	n, err = r.Turn(0)
	require.NoError(t, err)
	require.Zero(t, n, "the wake fd was drained")
}

// TestHostWakerWakesSleepingTurn is the executor's sleep protocol: announce
// the sleep on the queue, block in Turn, and a host waker woken on another
// goroutine writes the wake fd.
func TestHostWakerWakesSleepingTurn(t *testing.T) {
	r := newReactor(t)
	q := newQueue(t, r)
	w := newWaker(t, q, 11)
	c := vtable.Clone(w)
	require.True(t, q.PrepareSleep())
	go vtable.Wake(c)
	_, err := r.Turn(-1)
	require.NoError(t, err)
	q.Awake()
	require.Equal(t, []uint64{11}, drain(q))
	vtable.Drop(w)
}

func TestTurnTimeoutReturns(t *testing.T) {
	r := newReactor(t)
	tm, err := r.OpenTimer(Now() + uint64(time.Hour))
	require.NoError(t, err)
	never, err := r.OpenTimer(^uint64(0)) // beyond int64: must not break arming
	require.NoError(t, err)
	n, err := r.Turn(0)
	require.NoError(t, err)
	require.Zero(t, n)
	r.CloseTimer(tm)
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, err = unix.Write(r.WakeFd(), one[:])
	require.NoError(t, err)
	_, err = r.Turn(-1) // arms the timer source for `never`, then sees the wake
	require.NoError(t, err)
	tm, err = r.OpenTimer(Now() + uint64(time.Hour))
	require.NoError(t, err)
	start := Now()
	n, err = r.Turn(200 * time.Microsecond) // a bounded wait ends on its own
	require.NoError(t, err)
	require.Zero(t, n)
	require.GreaterOrEqual(t, Now()-start, uint64(200*time.Microsecond), "Turn(d) returned before d")
	require.Zero(t, tm.Event.State|never.Event.State)
	require.EqualValues(t, 3, r.Stats().Turns)
}

func TestCloseThenCloseSlots(t *testing.T) {
	r, err := New()
	require.NoError(t, err)
	q, err := vtable.NewQueue(r.WakeFd())
	require.NoError(t, err)
	w, err := q.NewWaker(1)
	require.NoError(t, err)
	tm, err := r.OpenTimer(Now() + uint64(time.Hour))
	require.NoError(t, err)
	a, _ := socketpair(t)
	io, err := r.OpenIO(int32(a), abi.IORead)
	require.NoError(t, err)
	ready, _ := PollEvent(&tm.Event, w)
	require.False(t, ready)

	wake := r.WakeFd()
	require.NoError(t, r.CloseKeepWakeFd())
	require.NoError(t, r.Close(), "second close is a no-op")
	_, err = unix.FcntlInt(uintptr(wake), unix.F_GETFD, 0)
	require.NoError(t, err, "CloseKeepWakeFd left the wake fd open")
	_, err = r.Turn(0)
	require.ErrorIs(t, err, ErrClosed)
	_, err = r.OpenTimer(0)
	require.ErrorIs(t, err, ErrClosed)

	r.CloseTimer(tm) // timer_close/io_close stay safe after the runtime closed
	r.CloseIO(io)
	st := r.Stats()
	require.Zero(t, st.TimersLive+st.IOLive)
	require.Zero(t, st.Misuse)
	vtable.Drop(w)
	require.True(t, q.Close(), "the parked clone was dropped by CloseTimer")
	require.NoError(t, unix.Close(wake))
}
