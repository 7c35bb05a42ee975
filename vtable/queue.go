package vtable

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
)

var errUnsupported = errors.New("awake: runtime-free host wakers are not implemented for this GOARCH (supported: amd64, arm64)")

// Queue is the run queue that host wakers push onto: a lock-free
// multi-producer stack (a Treiber stack) drained all at once by its single
// consumer, the executor worker that owns it. Draining takes the whole stack
// with one atomic swap, so the consumer never races producers for a node and
// the ABA problem of popping one node at a time cannot arise.
//
// Every method except Wake-family functions and Stats must be called by the
// owning worker only.
type Queue struct {
	block uintptr // queue block (see layout.go), mmap'd, never unmapped
	mem   []byte
	cells cellPool
	vt    *abi.WakerVtable
	batch []uintptr

	quarantine bool
	retired    []Cell
}

// NewQueue creates a queue whose wakes rouse a sleeping executor by writing
// an 8-byte 1 to notifyFd (an eventfd, or a pipe's write end).
func NewQueue(notifyFd int) (*Queue, error) {
	vt, err := HostVtable()
	if err != nil {
		return nil, err
	}
	mem, err := unix.Mmap(-1, 0, qSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("awake: mapping a run queue: %w", err)
	}
	q := &Queue{block: uintptr(unsafe.Pointer(&mem[0])), mem: mem, vt: vt}
	store(q.block, qFd, uint64(int64(notifyFd)))
	store(q.block, qOne, 1)
	store(q.block, qWrite, uint64(libcWrite()))
	return q, nil
}

// NewWaker allocates a cell carrying token and returns the one owned waker
// that references it (refcount 1). The executor keeps that reference for the
// task's life and drops it when the task ends.
func (q *Queue) NewWaker(token uint64) (abi.Waker, error) {
	c, err := q.cells.get()
	if err != nil {
		return abi.Waker{}, err
	}
	// Plain stores: no other thread can reach a free cell (a wake after the
	// last drop is a plugin bug, counted as misuse at best). Another
	// thread learns of the new waker only through the poll that hands it
	// to the plugin, after the crossing into C, whose atomic operations
	// order these stores before it, on every architecture.
	put(c, cellNext, 0)
	put(c, cellQueue, uint64(q.block))
	put(c, cellVtable, uint64(uintptr(unsafe.Pointer(q.vt))))
	put(c, cellToken, token)
	put(c, cellMisuse, 0)
	put(c, cellState, stateRefStep)
	return abi.Waker{Data: c, Vtable: q.vt}, nil
}

// Token returns the token of a host waker's cell.
func Token(w abi.Waker) uint64 { return load(w.Data, cellToken) }

// Misuse returns how many clones or drops reached w's cell after its last
// reference was gone (a plugin bug the host counts instead of corrupting).
func Misuse(w abi.Waker) uint64 { return load(w.Data, cellMisuse) }

// Cell is a host waker cell as the queue's owner sees it.
type Cell uintptr

// Token returns the token the cell was created with.
func (c Cell) Token() uint64 { return load(uintptr(c), cellToken) }

// Misuse returns how many clones or drops reached the cell while it had no
// reference.
func (c Cell) Misuse() uint64 { return load(uintptr(c), cellMisuse) }

// Refs returns the cell's reference count and whether it is queued.
func (c Cell) Refs() (refs uint64, queued bool) {
	s := load(uintptr(c), cellState)
	return s / stateRefStep, s&stateQueued != 0
}

// CellOf returns the cell of a host waker.
func CellOf(w abi.Waker) Cell { return Cell(w.Data) }

// Drain takes every queued cell, oldest push first, clears its QUEUED and
// NOTIFIED bits and calls fn(cell, dead). dead means no reference is left: the owner then
// either reclaims the cell (Reclaim) when its task is over, or, when the
// task is alive (its own reference was dropped by someone else: a refcount
// bug in a plugin), repairs it (Revive). Returns the number of live cells
// reported.
func (q *Queue) Drain(fn func(c Cell, dead bool)) int {
	if q.Empty() { // a load, not a locked swap, in a busy loop with nothing queued
		return 0
	}
	head := atomic.SwapUint64(word(q.block, qHead), 0)
	b := q.batch[:0]
	for c := uintptr(head); c != 0; c = uintptr(load(c, cellNext)) {
		b = append(b, c)
	}
	n := 0
	for i := len(b) - 1; i >= 0; i-- { // the stack is newest first
		c := b[i]
		prev := atomic.AndUint64(word(c, cellState), ^uint64(stateQueued|stateNotified))
		dead := prev < stateRefStep
		if !dead {
			n++
		}
		fn(Cell(c), dead)
	}
	q.batch = b[:0]
	return n
}

// Reclaim returns a dead cell for reuse by NewWaker. With quarantine on, the
// cell is retired instead: never reused, so a late clone or drop by a buggy
// plugin lands on a cell that still names its own task (see Retired).
func (q *Queue) Reclaim(c Cell) {
	if q.quarantine {
		q.retired = append(q.retired, c)
		q.cells.retire()
		return
	}
	q.cells.put(uintptr(c))
}

// Revive gives a dead cell back the one reference its task owns. It fails if
// the cell is not dead (someone took a reference meanwhile).
func (q *Queue) Revive(c Cell) bool {
	return atomic.CompareAndSwapUint64(word(uintptr(c), cellState), 0, stateRefStep)
}

// SetQuarantine turns cell reuse off (on = true) for the checked mode.
func (q *Queue) SetQuarantine(on bool) { q.quarantine = on }

// Retired returns the cells retired under quarantine.
func (q *Queue) Retired() []Cell { return q.retired }

// Empty reports whether no cell is queued.
func (q *Queue) Empty() bool { return load(q.block, qHead) == 0 }

// PrepareSleep announces that the owner is about to block on its notify fd.
// It returns false, and stays awake, when cells were pushed meanwhile. After
// true, the next push writes the fd once; call Awake after waking either way.
//
// The announce-then-check order pairs with the producers' push-then-check:
// both are sequentially consistent, so at least one side sees the other and
// a push can never slip between the check and the sleep.
func (q *Queue) PrepareSleep() bool {
	w := word(q.block, qSleeping)
	if !atomic.CompareAndSwapUint64(w, sleepRunning, sleepAsleep) {
		return false // closed
	}
	if !q.Empty() {
		atomic.CompareAndSwapUint64(w, sleepAsleep, sleepRunning)
		return false
	}
	return true
}

// Asleep reports whether the owner announced a sleep (PrepareSleep) and
// has not woken since. It is a sequentially consistent load: a producer
// that publishes work elsewhere (not as a wake) with a sequentially
// consistent store and then finds the owner awake can leave the wake out,
// provided the owner checks for that work after PrepareSleep (one of the
// two sees the other).
func (q *Queue) Asleep() bool { return load(q.block, qSleeping) == sleepAsleep }

// Awake records that the owner is running again (no more fd writes needed).
func (q *Queue) Awake() {
	w := word(q.block, qSleeping)
	if atomic.LoadUint64(w) == sleepAsleep { // a load, not a locked op, when already awake
		atomic.CompareAndSwapUint64(w, sleepAsleep, sleepRunning)
	}
}

// Close stops all further fd writes. It reports whether the notify fd may be
// closed: true when no waker cell is outstanding. When false, a plugin still
// holds wakers; they stay safe to call (they push onto this queue, which
// nobody drains, and never write the fd), but a writer that passed the
// sleeping check just before Close might still be about to write, so the fd
// must stay open (one fd and this queue's memory are leaked by design).
func (q *Queue) Close() (fdClosable bool) {
	atomic.StoreUint64(word(q.block, qSleeping), sleepClosed)
	q.Drain(func(c Cell, dead bool) {
		if dead {
			q.Reclaim(c)
		}
	})
	return q.cells.liveCount() == 0
}

// DropOwned drops the owner's reference to c. When it was the only one and
// the cell is not queued, the cell goes back to the pool at once instead of
// through the queue (no push, no drain) and DropOwned reports true;
// otherwise it is Drop.
func (q *Queue) DropOwned(c Cell) bool {
	if atomic.CompareAndSwapUint64(word(uintptr(c), cellState), stateRefStep, 0) {
		q.Reclaim(c)
		return true
	}
	hostDrop(uintptr(c))
	return false
}

// Release unmaps the queue block and its cells after Close, but only when no
// cell is outstanding (no waker can point into them). It reports whether the
// memory was returned; when it was not, it stays mapped for good.
func (q *Queue) Release() bool {
	if load(q.block, qSleeping) != sleepClosed || q.cells.liveCount() != 0 || q.quarantine {
		return false
	}
	q.cells.unmap()
	_ = unix.Munmap(q.mem)
	q.block, q.mem = 0, nil
	return true
}

// Live returns the number of cells handed out and not yet reclaimed.
func (q *Queue) Live() int { return q.cells.liveCount() }
