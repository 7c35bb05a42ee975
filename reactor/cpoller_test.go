package reactor

import (
	"runtime"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/internal/ctest"
)

// addr turns the address of C memory (returned by a C function) into a
// pointer; that memory is never moved, and is freed only after the test is
// done with it.
func addr[T any](a uintptr) *T { return (*T)(*(*unsafe.Pointer)(unsafe.Pointer(&a))) }

// TestCPollerRacesGoFire runs the header's inline awake_event_poll on a C
// thread against the Go host's fire, paced so every fire is the last one
// before the poller must see it (see TestFirePollRace). The C poller counts a
// PENDING after a completed unseen fire (lost edge) and a wait that outlives
// a completed fire without a wake (lost wake); its waker is a C vtable, so
// the host wakes it through the foreign (purego) path.
func TestCPollerRacesGoFire(t *testing.T) {
	fires := uint64(stressN(100_000, 20_000))
	so := ctest.Build(t, ctest.Shared, []string{"testdata/reactor/poller.c"}, "-lpthread")
	lib, err := purego.Dlopen(so, purego.RTLD_NOW|purego.RTLD_LOCAL)
	require.NoError(t, err)
	sym := func(name string) uintptr {
		p, err := purego.Dlsym(lib, name)
		require.NoError(t, err, name)
		return p
	}
	call := func(fn string, args ...uintptr) uintptr {
		r, _, _ := purego.SyscallN(sym(fn), args...)
		return r
	}
	p := call("poller_start", uintptr(fires))
	require.NotZero(t, p, "poller_start: calloc or pthread_create failed")
	defer call("poller_free", p)
	ev := addr[abi.Event](call("poller_event", p))
	firedTick := addr[uint64](call("poller_fired_tick", p))
	seenTick := addr[uint64](call("poller_seen_tick", p))
	finished := addr[uint64](call("poller_finished", p))

	wakes := 0
	for i := range fires {
		if fire(ev) {
			wakes++
		}
		atomic.StoreUint64(firedTick, i+1)
		for atomic.LoadUint64(seenTick) < i+1 && atomic.LoadUint64(finished) == 0 {
			runtime.Gosched()
		}
		if atomic.LoadUint64(finished) != 0 {
			break
		}
	}
	// The conversion to uintptr must sit in the SyscallN call itself (its
	// go:uintptrescapes keeps out in place); through the call helper the
	// stack could move between the conversion and the C call.
	out := new([5]uint64)
	join := sym("poller_join")
	purego.SyscallN(join, p, uintptr(unsafe.Pointer(out)))
	require.Zero(t, out[2], "the C poller returned PENDING after a fire it had not seen: lost READY edge")
	require.Zero(t, out[3], "the C poller parked its waker and a completed fire did not wake it")
	require.EqualValues(t, fires, out[1], "one READY per paced fire")
	require.LessOrEqual(t, out[4], uint64(2), "at the end: the poller's own waker reference, plus at most the clone parked in the event")
	require.True(t, closeEvent(ev))
	require.EqualValues(t, 1, call("poller_refs", p), "after close, only the poller's own waker reference is left")
	t.Logf("%d fires: %d PENDING, %d wakes through the C vtable", fires, out[0], wakes)
}
