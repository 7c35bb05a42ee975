package executor

import (
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/reactor"
)

// Runtime-free timer_open and timer_close (BRIEF rule 2: opening and closing
// timers must not need a C -> Go callback on the hot path).
//
// Each worker has a timer-ops block outside the Go heap. timer_open (Go
// assembly with the C calling convention, timerops_*.s) takes a pre-
// allocated, unarmed timer from the block's free list, writes the deadline
// and queues "arm"; timer_close queues "close". Only the worker's own thread
// touches the block (host timer functions are [poll thread] functions), so
// no atomics are needed. The worker applies the queued operations to its
// reactor after every crossing into C (flushTimerOps), always before its
// next reactor turn, so a queued timer can neither fire early nor be missed.
// When the free list is empty or the queue is full, the assembly tail-calls
// the slow path: the purego callback, which flushes, refills the free list in
// bulk and does the operation in Go.
//
// Block layout (offsets fixed by timerops_*.s):
//
//	0       free_n      timers in the free list
//	8       ops_n       queued operations
//	16      slow_open   callback: int32 (awake_context *, uint64, awake_timer **)
//	24      slow_close  callback: void (awake_timer *)
//	64      free[opsFreeMax]   unarmed timers (awake_timer *)
//	36864   ops[opsMax]        awake_timer * to arm; | 1 to close
//
// A poll entry holds its worker's block address at +72; a timer slot holds
// it at reactor.TimerTagOffset.
type timerOps struct {
	mem  []byte
	base uintptr
}

const (
	opsFreeN     = 0
	opsN         = 8
	opsSlowOpen  = 16
	opsSlowClose = 24
	opsFree      = 64
	opsFreeMax   = 4096
	opsList      = 36864
	opsMax       = 4096
	opsSize      = opsList + opsMax*8
	entryOps     = 72
	opsRefill    = 1024 // timers allocated per slow-path refill
)

var (
	slowMu              sync.Mutex
	slowOpen, slowClose uintptr
	//lint:ignore U1000 read by timerops_*.s (the assembly's fallback when a call is not from an executor poll)
	slowOpenPtr, slowClosePtr uintptr // read by the assembly when a call is not from an executor poll
	timerOpenFn, timerClose   uintptr // the assembly entry points (0: none on this arch)
)

// SetTimerSlowPaths installs the callbacks the runtime-free timer functions
// fall back to (package cbindings passes its purego callbacks) and returns
// the assembly entry points to put in the host table instead of them, or
// zeros where there is no assembly (then keep the callbacks).
func SetTimerSlowPaths(open, close uintptr) (fastOpen, fastClose uintptr) {
	slowMu.Lock()
	slowOpen, slowClose = open, close
	slowOpenPtr, slowClosePtr = open, close
	slowMu.Unlock()
	return timerOpenFn, timerClose
}

func newTimerOps() (*timerOps, error) {
	mem, err := unix.Mmap(-1, 0, opsSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("mapping its timer-ops block: %w", err)
	}
	o := &timerOps{mem: mem, base: uintptr(unsafe.Pointer(&mem[0]))}
	slowMu.Lock()
	*o.word(opsSlowOpen) = uint64(slowOpen)
	*o.word(opsSlowClose) = uint64(slowClose)
	slowMu.Unlock()
	return o, nil
}

func (o *timerOps) word(off uintptr) *uint64 { return (*uint64)(unsafe.Pointer(&o.mem[off])) }

// flushTimerOps applies the queued arms and closes to the reactor, in order.
func (w *worker) flushTimerOps() {
	o := w.tops
	n := *o.word(opsN)
	if n == 0 {
		return
	}
	for i := uintptr(0); i < uintptr(n); i++ {
		v := uintptr(*o.word(opsList + i*8))
		t := (*abi.Timer)(cptr(v &^ 1))
		if v&1 != 0 {
			w.r.CloseTimer(t)
		} else if err := w.r.ArmTimer(t, t.DeadlineNs); err != nil {
			w.e.log.Error("awake: arming a timer opened by a plugin failed", "worker", w.idx, "err", err)
		}
	}
	*o.word(opsN) = 0
}

// refillTimers tops the free list up by opsRefill unarmed timers.
func (w *worker) refillTimers() {
	o := w.tops
	n := *o.word(opsFreeN)
	for n < opsFreeMax && n < opsRefill {
		t, err := w.r.AllocTimer()
		if err != nil {
			break
		}
		*o.word(opsFree + uintptr(n)*8) = uint64(uintptr(unsafe.Pointer(t)))
		n++
	}
	*o.word(opsFreeN) = n
}

// timerOwner returns the worker whose reactor owns t, from the tag in its
// slot.
func timerOwner(t *abi.Timer) *worker {
	tag := *(*uintptr)(unsafe.Add(unsafe.Pointer(t), reactor.TimerTagOffset))
	workersMu.RLock()
	defer workersMu.RUnlock()
	return byOps[tag]
}

// closeFreeTimers closes the unarmed timers of the free list (shutdown).
func (w *worker) closeFreeTimers() {
	o := w.tops
	n := *o.word(opsFreeN)
	for i := uintptr(0); i < uintptr(n); i++ {
		w.r.CloseTimer((*abi.Timer)(cptr(uintptr(*o.word(opsFree + i*8)))))
	}
	*o.word(opsFreeN) = 0
}
