package vtable

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/internal/ccall"
)

// Clone returns a new owned reference to w. Host wakers are cloned with one
// atomic add; foreign wakers through their vtable's clone.
func Clone(w abi.Waker) abi.Waker {
	if IsHost(w) {
		hostClone(w.Data)
		return w
	}
	r1, r2 := ccall.Call(w.Vtable.Clone, w.Data)
	return abi.Waker{Data: r1, Vtable: (*abi.WakerVtable)(ptr(r2))}
}

// Wake wakes w's task and releases w.
func Wake(w abi.Waker) {
	if IsHost(w) {
		hostWakeByRef(w.Data)
		hostDrop(w.Data)
		return
	}
	ccall.Call1(w.Vtable.Wake, w.Data)
}

// WakeByRef wakes w's task and keeps w.
func WakeByRef(w abi.Waker) {
	if IsHost(w) {
		hostWakeByRef(w.Data)
		return
	}
	ccall.Call1(w.Vtable.WakeByRef, w.Data)
}

// Drop releases w without waking.
func Drop(w abi.Waker) {
	if IsHost(w) {
		hostDrop(w.Data)
		return
	}
	ccall.Call1(w.Vtable.Drop, w.Data)
}

// The Go twins of the assembly below: same words, same atomic steps, so a
// host waker behaves identically whichever side calls it.

// addRef adds delta (one reference, up or down) to the cell's count with
// the assembly's CAS loop: on a cell with no reference left it counts a
// misuse instead and reports false. It returns the state before the add.
func addRef(c uintptr, delta uint64) (old uint64, ok bool) {
	s := word(c, cellState)
	for {
		old = atomic.LoadUint64(s)
		if old < stateRefStep {
			atomic.AddUint64(word(c, cellMisuse), 1)
			return old, false
		}
		if atomic.CompareAndSwapUint64(s, old, old+delta) {
			return old, true
		}
	}
}

func hostClone(c uintptr) { addRef(c, stateRefStep) }

func hostWakeByRef(c uintptr) {
	if atomic.OrUint64(word(c, cellState), stateQueued|stateNotified)&stateQueued != 0 {
		return // queued or being polled: this wake coalesces with the pending one
	}
	push(c)
}

func hostDrop(c uintptr) {
	// Adding ^(step-1), two's complement -step, takes one reference away.
	if old, ok := addRef(c, ^uint64(stateRefStep-1)); ok && old/stateRefStep == 1 {
		hostWakeByRef(c) // last reference: hand the cell back
	}
}

func push(c uintptr) {
	q := uintptr(load(c, cellQueue))
	head := word(q, qHead)
	for {
		h := atomic.LoadUint64(head)
		store(c, cellNext, h)
		if atomic.CompareAndSwapUint64(head, h, uint64(c)) {
			break
		}
	}
	if atomic.LoadUint64(word(q, qSleeping)) == sleepAsleep &&
		atomic.CompareAndSwapUint64(word(q, qSleeping), sleepAsleep, sleepRunning) {
		one := load(q, qOne)
		_, _ = unix.Write(int(int64(load(q, qFd))), (*[8]byte)(unsafe.Pointer(&one))[:])
	}
}
