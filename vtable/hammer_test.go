//go:build linux

package vtable

import (
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/internal/ctest"
)

// hammerLib is testdata/wakers/hammer.c loaded with purego.
type hammerLib struct {
	new, setWaker, start, startCalls, seq, ack, done, ops uintptr
	maxNs, totalNs, quantile, join, free                  uintptr
}

func loadHammer(t testing.TB) *hammerLib {
	t.Helper()
	return openHammer(t, buildHammer(t))
}

func buildHammer(t testing.TB) string {
	t.Helper()
	return ctest.Build(t, ctest.Shared, []string{"testdata/wakers/hammer.c"}, "-lpthread")
}

func openHammer(t testing.TB, so string) *hammerLib {
	t.Helper()
	h, err := purego.Dlopen(so, purego.RTLD_NOW|purego.RTLD_LOCAL)
	require.NoError(t, err)
	sym := func(name string) uintptr {
		p, err := purego.Dlsym(h, name)
		require.NoError(t, err, name)
		return p
	}
	return &hammerLib{
		new: sym("hammer_new"), setWaker: sym("hammer_set_waker"), start: sym("hammer_start"),
		startCalls: sym("hammer_start_calls"), seq: sym("hammer_seq"), ack: sym("hammer_ack"),
		done: sym("hammer_done"), ops: sym("hammer_ops"), maxNs: sym("hammer_max_ns"),
		totalNs: sym("hammer_total_ns"), quantile: sym("hammer_quantile_ns"),
		join: sym("hammer_join"), free: sym("hammer_free"),
	}
}

func (l *hammerLib) call(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// word64 returns the C-owned 64-bit word at address a.
func word64(a uintptr) *uint64 { return (*uint64)(ptr(a)) }

// testQueue makes a queue notified through a blocking eventfd.
func testQueue(t testing.TB) (*Queue, int) {
	t.Helper()
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	require.NoError(t, err)
	q, err := NewQueue(efd)
	require.NoError(t, err)
	t.Cleanup(func() {
		if q.Close() {
			unix.Close(efd)
		}
	})
	return q, efd
}

// drain drains q, reclaiming dead cells and reporting live tokens.
func drain(q *Queue, woken func(tok uint64)) int {
	return q.Drain(func(c Cell, dead bool) {
		if dead {
			q.Reclaim(c)
			return
		}
		woken(c.Token())
	})
}

// sleepOn blocks on the eventfd if the queue agrees it may sleep.
func sleepOn(q *Queue, efd int) {
	if q.PrepareSleep() {
		var b [8]byte
		_, _ = unix.Read(efd, b[:])
		q.Awake()
	}
}

func TestForeignThreadsHammerHostWakers(t *testing.T) {
	const threads = 4
	const iters = 50_000 // 4 threads x 50k x 5 calls = 1M waker calls
	lib := loadHammer(t)
	q, efd := testQueue(t)

	h := lib.call(lib.new, threads)
	require.NotZero(t, h)
	defer lib.call(lib.free, h)
	owners := make([]abi.Waker, threads)
	seqs := make([]*uint64, threads)
	acks := make([]*uint64, threads)
	for i := range threads {
		w, err := q.NewWaker(uint64(i))
		require.NoError(t, err)
		owners[i] = w
		c := Clone(w) // the thread's own reference
		lib.call(lib.setWaker, h, uintptr(i), c.Data, uintptr(unsafe.Pointer(c.Vtable)))
		seqs[i] = word64(lib.call(lib.seq, h, uintptr(i)))
		acks[i] = word64(lib.call(lib.ack, h, uintptr(i)))
	}
	done := word64(lib.call(lib.done, h))

	// Go goroutines hammer the same cells through the Go twins meanwhile.
	var goOps atomic.Uint64
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := owners[g]
			for range 20_000 {
				c := Clone(w)
				WakeByRef(c)
				Wake(Clone(c))
				Drop(c)
				goOps.Add(4)
			}
		}()
	}

	polls := make([]uint64, threads)
	require.Zero(t, lib.call(lib.start, h, iters, 64))
	for {
		finished := atomic.LoadUint64(done) == threads
		n := drain(q, func(tok uint64) {
			polls[tok]++
			atomic.StoreUint64(acks[tok], atomic.LoadUint64(seqs[tok]))
		})
		if finished {
			drain(q, func(uint64) {})
			break
		}
		if n == 0 {
			sleepOn(q, efd)
		}
	}
	lib.call(lib.join, h)
	wg.Wait()
	// The Go goroutines are not paced by acks: their last wakes may land
	// after the loop's final drain. Everyone has stopped now; drain them.
	drain(q, func(uint64) {})

	require.EqualValues(t, threads*(iters*5+iters/64+1), lib.call(lib.ops, h), "C waker calls")
	for i, w := range owners {
		require.NotZero(t, polls[i], "thread %d's wakes were never observed", i)
		require.EqualValues(t, stateRefStep, load(w.Data, cellState),
			"cell %d: want exactly the owner's reference and not queued", i)
		require.Zero(t, Misuse(w), "cell %d misuse", i)
		Drop(w)
	}
	drain(q, func(tok uint64) { t.Errorf("dead cell %d reported as woken", tok) })
	require.Zero(t, q.Live(), "cells leaked")
	t.Logf("1M+ waker calls from %d C threads and %d from Go; %v observations", threads, goOps.Load(), polls)
}

func TestRefcountMisuseIsCountedNotCorrupting(t *testing.T) {
	q, _ := testQueue(t)
	w, err := q.NewWaker(7)
	require.NoError(t, err)
	vt := w.Vtable
	for _, fn := range []uintptr{vt.Clone, vt.WakeByRef} { // asm through C ABI
		require.NotZero(t, fn)
	}
	purego.SyscallN(vt.Drop, w.Data) // last reference: cell goes to the queue
	require.Equal(t, 0, drain(q, func(uint64) { t.Fatal("dead cell reported") }))
	// Reclaimed; a buggy plugin drops and clones it again.
	purego.SyscallN(vt.Drop, w.Data)
	purego.SyscallN(vt.Clone, w.Data)
	hostDrop(w.Data)
	require.EqualValues(t, 3, Misuse(w))
	require.EqualValues(t, 0, load(w.Data, cellState), "state must not underflow")
}

func TestWakeCoalescesAndRequeuesAfterDrain(t *testing.T) {
	q, _ := testQueue(t)
	w, err := q.NewWaker(1)
	require.NoError(t, err)
	for range 3 {
		purego.SyscallN(w.Vtable.WakeByRef, w.Data)
	}
	var got []uint64
	drain(q, func(tok uint64) { got = append(got, tok) })
	require.Equal(t, []uint64{1}, got, "three wakes before a drain coalesce into one")
	purego.SyscallN(w.Vtable.WakeByRef, w.Data)
	got = nil
	drain(q, func(tok uint64) { got = append(got, tok) })
	require.Equal(t, []uint64{1}, got, "a wake after the drain queues the task again")
	r1, r2, _ := purego.SyscallN(w.Vtable.Clone, w.Data)
	require.Equal(t, w.Data, r1)
	require.Equal(t, uintptr(unsafe.Pointer(w.Vtable)), r2, "clone returns the same vtable in the second register")
	purego.SyscallN(w.Vtable.Wake, r1) // consumes the clone
	require.EqualValues(t, stateRefStep|stateQueued|stateNotified, load(w.Data, cellState))
	Drop(w)
	require.Equal(t, 0, drain(q, func(uint64) {}))
	require.Zero(t, q.Live())
}

func TestSleepingExecutorIsWokenOnce(t *testing.T) {
	q, efd := testQueue(t)
	w, err := q.NewWaker(1)
	require.NoError(t, err)
	require.True(t, q.PrepareSleep())
	purego.SyscallN(w.Vtable.WakeByRef, w.Data)
	var b [8]byte
	n, err := unix.Read(efd, b[:]) // blocks unless the wake wrote the fd
	require.NoError(t, err)
	require.Equal(t, 8, n)
	require.EqualValues(t, 1, *(*uint64)(unsafe.Pointer(&b[0])))
	q.Awake()
	require.False(t, q.PrepareSleep(), "a queued cell forbids sleeping")
	drain(q, func(uint64) {})
	Drop(w)
	drain(q, func(uint64) {})
}

func TestQuarantineRetiresCellsAndKeepsMisuseAttributable(t *testing.T) {
	q, _ := testQueue(t)
	q.SetQuarantine(true)
	w, err := q.NewWaker(9)
	require.NoError(t, err)
	Drop(w)
	drain(q, func(uint64) { t.Fatal("dead cell reported live") })
	require.Equal(t, []Cell{CellOf(w)}, q.Retired())
	w2, err := q.NewWaker(10)
	require.NoError(t, err)
	require.NotEqual(t, w.Data, w2.Data, "a retired cell is never reused")
	purego.SyscallN(w.Vtable.Drop, w.Data) // late over-drop by a buggy plugin
	require.EqualValues(t, 1, CellOf(w).Misuse())
	require.EqualValues(t, 9, CellOf(w).Token(), "the misuse still names the cell's task")
	refs, _ := CellOf(w2).Refs()
	require.EqualValues(t, 1, refs, "another task's cell is untouched")
}

func TestReviveRepairsAnOverDroppedLiveCell(t *testing.T) {
	q, _ := testQueue(t)
	w, err := q.NewWaker(3)
	require.NoError(t, err)
	c := Clone(w)
	Drop(c)
	Drop(c) // one drop too many: the owner's reference is gone
	var deadSeen bool
	q.Drain(func(cell Cell, dead bool) {
		deadSeen = dead
		require.True(t, q.Revive(cell))
	})
	require.True(t, deadSeen)
	refs, queued := CellOf(w).Refs()
	require.EqualValues(t, 1, refs)
	require.False(t, queued)
	Drop(w)
	drain(q, func(uint64) {})
	require.Zero(t, q.Live())
}

func TestDropOwnedReturnsALoneCellAtOnce(t *testing.T) {
	q, _ := testQueue(t)
	w, err := q.NewWaker(5)
	require.NoError(t, err)
	require.True(t, q.DropOwned(CellOf(w)), "the owner's was the only reference")
	require.Zero(t, q.Live(), "the cell is back in the pool")
	require.True(t, q.Empty(), "without a trip through the queue")
	w2, err := q.NewWaker(6)
	require.NoError(t, err)
	require.Equal(t, w.Data, w2.Data, "and is reused first")

	// A clone outstanding: the cell lives on until the clone's drop, which
	// queues it dead, as Drop does.
	c := Clone(w2)
	require.False(t, q.DropOwned(CellOf(w2)))
	require.Equal(t, 1, q.Live())
	Drop(c)
	var dead int
	q.Drain(func(cell Cell, d bool) {
		require.True(t, d)
		dead++
		q.Reclaim(cell)
	})
	require.Equal(t, 1, dead)
	require.Zero(t, q.Live())

	// Queued (woken, not drained yet): not returned early either, so the
	// queue never holds a cell the pool hands out again.
	w3, err := q.NewWaker(7)
	require.NoError(t, err)
	WakeByRef(w3)
	require.False(t, q.DropOwned(CellOf(w3)))
	q.Drain(func(cell Cell, d bool) {
		require.True(t, d, "dropped while queued: drained dead")
		q.Reclaim(cell)
	})
	require.Zero(t, q.Live())
}

func TestAsleepFollowsPrepareSleepAndAwake(t *testing.T) {
	q, _ := testQueue(t)
	require.False(t, q.Asleep())
	require.True(t, q.PrepareSleep())
	require.True(t, q.Asleep())
	q.Awake()
	require.False(t, q.Asleep())
}
