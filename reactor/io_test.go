package reactor

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/vtable"
)

func socketpair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	nonblock(t, fds[:])
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func nonblock(t *testing.T, fds []int) {
	t.Helper()
	for _, fd := range fds {
		require.NoError(t, unix.SetNonblock(fd, true))
	}
}

// readAll reads fd until EAGAIN and returns how many bytes it got.
func readAll(t *testing.T, fd int) int {
	t.Helper()
	var buf [64]byte
	total := 0
	for {
		n, err := unix.Read(fd, buf[:])
		if err == unix.EAGAIN {
			return total
		}
		require.NoError(t, err)
		if n == 0 {
			return total // EOF
		}
		total += n
	}
}

// TestIOReadinessAndTickRule walks the edge-triggered protocol: register,
// see the registration edge, park, get woken by a write, drain to EAGAIN,
// and clear with the tick -- where a write that lands after the poll but
// before the clear must keep READY.
func TestIOReadinessAndTickRule(t *testing.T) {
	r := newReactor(t)
	q := newQueue(t, r)
	w := newWaker(t, q, 5)
	a, b := socketpair(t)
	io, err := r.OpenIO(int32(a), abi.IORead|abi.IOWrite)
	require.NoError(t, err)
	require.EqualValues(t, a, io.Fd)
	require.Zero(t, io.Read.State|io.Write.State, "nothing fires before the OS reports")

	n, err := r.Turn(0)
	require.NoError(t, err)
	require.Equal(t, 1, n, "registration reports current readiness: writable only")
	require.NotZero(t, io.Write.State&abi.EventReady)
	ready, _ := PollEvent(&io.Read, w)
	require.False(t, ready, "nothing to read yet")

	_, err = unix.Write(b, []byte{1})
	require.NoError(t, err)
	n, err = r.Turn(-1)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	require.Equal(t, []uint64{5}, drain(q), "readability woke the parked waker")
	ready, tick := PollEvent(&io.Read, w)
	require.True(t, ready)
	require.Equal(t, 1, readAll(t, a))

	// A write after the poll that returned tick, before the clear.
	_, err = unix.Write(b, []byte{2})
	require.NoError(t, err)
	_, err = r.Turn(-1)
	require.NoError(t, err)
	ClearEvent(&io.Read, tick)
	ready, tick2 := PollEvent(&io.Read, w)
	require.True(t, ready, "the clear with the old tick must not hide the new edge")
	require.Greater(t, tick2, tick)
	require.Equal(t, 1, readAll(t, a))
	ClearEvent(&io.Read, tick2)
	ready, _ = PollEvent(&io.Read, w)
	require.False(t, ready, "cleared after EAGAIN with the current tick")

	// Peer hang-up fires Read (EPOLLRDHUP/EPOLLHUP) and wakes the reader.
	require.NoError(t, unix.Close(b))
	_, err = r.Turn(-1)
	require.NoError(t, err)
	require.Equal(t, []uint64{5}, drain(q))
	ready, _ = PollEvent(&io.Read, w)
	require.True(t, ready)
	require.Zero(t, readAll(t, a), "EOF")

	r.CloseIO(io)
	require.Equal(t, abi.Waker{}, io.Read.Waker)
	r.CloseIO(io)
	st := r.Stats()
	require.EqualValues(t, 1, st.Misuse, "double CloseIO is counted")
	require.Zero(t, st.IOLive)
	vtable.Drop(w)
	drain(q)
	require.Zero(t, q.Live())
}

func TestIOInterestSelectsEvents(t *testing.T) {
	r := newReactor(t)
	a, b := socketpair(t)
	io, err := r.OpenIO(int32(a), abi.IORead)
	require.NoError(t, err)
	n, err := r.Turn(0)
	require.NoError(t, err)
	require.Zero(t, n, "a read-only registration ignores writability")
	_, err = unix.Write(b, []byte{1})
	require.NoError(t, err)
	n, err = r.Turn(-1)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, io.Write.State)
	require.NotZero(t, io.Read.State&abi.EventReady)

	// Closed: no more events even though data arrives.
	r.CloseIO(io)
	_, err = unix.Write(b, []byte{1})
	require.NoError(t, err)
	n, err = r.Turn(0)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestOpenIOErrors(t *testing.T) {
	r := newReactor(t)
	a, _ := socketpair(t)
	for _, c := range []struct {
		fd       int32
		interest uint32
	}{{-1, abi.IORead}, {int32(a), 0}, {int32(a), 4}} {
		_, err := r.OpenIO(c.fd, c.interest)
		require.Error(t, err, "fd %d interest %d", c.fd, c.interest)
	}
	io, err := r.OpenIO(int32(a), abi.IORead)
	require.NoError(t, err)
	_, err = r.OpenIO(int32(a), abi.IOWrite)
	require.ErrorContains(t, err, "registering fd", "an fd registers once per reactor")
	require.Equal(t, 1, r.Stats().IOLive, "the failed registration freed its slot")
	r.CloseIO(io)
}

func TestPipeReadiness(t *testing.T) {
	r := newReactor(t)
	var p [2]int
	require.NoError(t, unix.Pipe(p[:]))
	nonblock(t, p[:])
	defer unix.Close(p[0])
	io, err := r.OpenIO(int32(p[0]), abi.IORead)
	require.NoError(t, err)
	defer r.CloseIO(io)
	require.NoError(t, unix.Close(p[1]))
	n, err := r.Turn(-1)
	require.NoError(t, err)
	require.Equal(t, 1, n, "writer closed: EPOLLHUP fires Read")
	require.NotZero(t, io.Read.State&abi.EventReady)
}
