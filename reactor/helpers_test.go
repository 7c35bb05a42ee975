package reactor

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/vtable"
)

func newReactor(t testing.TB) *Reactor {
	t.Helper()
	r, err := New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// newQueue makes a host-waker run queue that notifies r's wake fd, the way
// an executor worker pairs them.
func newQueue(t testing.TB, r *Reactor) *vtable.Queue {
	t.Helper()
	q, err := vtable.NewQueue(r.WakeFd())
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })
	return q
}

func newWaker(t testing.TB, q *vtable.Queue, token uint64) abi.Waker {
	t.Helper()
	w, err := q.NewWaker(token)
	require.NoError(t, err)
	return w
}

// drain returns the tokens woken since the last drain, oldest first.
func drain(q *vtable.Queue) []uint64 {
	var got []uint64
	q.Drain(func(c vtable.Cell, dead bool) {
		if dead {
			q.Reclaim(c)
			return
		}
		got = append(got, c.Token())
	})
	return got
}

// syscallNow reads CLOCK_MONOTONIC through the clock_gettime syscall, the
// way a plugin does, independently of the reactor's Now.
func syscallNow(t testing.TB) uint64 {
	var ts unix.Timespec
	require.NoError(t, unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts))
	return uint64(ts.Nano())
}

// stressN is full normally and reduced under -race or -short (the arm64
// tier runs -short under qemu, where goroutine handoffs are ~50x slower).
func stressN(full, reduced int) int {
	if raceOn || testing.Short() {
		return reduced
	}
	return full
}
