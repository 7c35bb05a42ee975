package reactor

import (
	"errors"
	"sync/atomic"
	"unsafe"

	"github.com/awake-rt/awake/abi"
)

// errNotTimer is returned for a pointer that is not an open timer of this
// reactor.
var errNotTimer = errors.New("awake reactor: not an open timer of this reactor (closed already, or opened on another worker's reactor?)")

// OpenTimer opens a timer that fires at deadlineNs (CLOCK_MONOTONIC ns). A
// deadline in the past fires on the next Turn, never inside this call. The
// timer stays valid until CloseTimer; its Reserved field holds its slot index.
func (r *Reactor) OpenTimer(deadlineNs uint64) (*abi.Timer, error) {
	t, err := r.AllocTimer()
	if err != nil {
		return nil, err
	}
	t.DeadlineNs = deadlineNs
	r.heap.set(uint32(t.Reserved), deadlineNs)
	return t, nil
}

// Timer slots are TimerSlot bytes: the awake_timer the plugin sees, then
// host-private words a plugin never touches. The word at TimerTagOffset is a
// tag the reactor's owner chooses (SetTimerTag): the executor stores the
// address of its worker's timer-ops block there, so the runtime-free
// timer_close can find it from the timer alone.
const (
	TimerSlot      = 64
	TimerTagOffset = 40
)

// SetTimerTag sets the tag written into every timer slot this reactor hands
// out from now on.
func (r *Reactor) SetTimerTag(tag uintptr) { r.timerTag = tag }

// AllocTimer hands out a timer that is not armed: it never fires until
// ArmTimer. The executor pre-allocates these for the runtime-free
// timer_open, which fills in the deadline and queues the arming.
func (r *Reactor) AllocTimer() (*abi.Timer, error) {
	if r.closed {
		return nil, ErrClosed
	}
	i, p, err := r.timers.alloc()
	if err != nil {
		return nil, err
	}
	r.heap.track(i)
	t := (*abi.Timer)(p)
	r.initEvent(&t.Event)
	t.DeadlineNs = 0
	t.Reserved = uint64(i)
	*(*uintptr)(unsafe.Add(p, TimerTagOffset)) = r.timerTag
	return t, nil
}

// ArmTimer (re)arms t for deadlineNs without touching its event: the
// arming half of OpenTimer, for a timer from AllocTimer.
func (r *Reactor) ArmTimer(t *abi.Timer, deadlineNs uint64) error {
	i, ok := r.timers.lookup(unsafe.Pointer(t), t.Reserved)
	if !ok {
		r.stats.Misuse++
		return errNotTimer
	}
	if r.closed {
		return ErrClosed
	}
	t.DeadlineNs = deadlineNs
	r.heap.set(i, deadlineNs)
	return nil
}

// ResetTimer re-arms t for deadlineNs: it forgets a past firing (READY) and
// keeps the parked waker, which the new firing wakes.
func (r *Reactor) ResetTimer(t *abi.Timer, deadlineNs uint64) error {
	if _, ok := r.timers.lookup(unsafe.Pointer(t), t.Reserved); ok && !r.closed {
		resetEvent(&t.Event)
	}
	return r.ArmTimer(t, deadlineNs)
}

// CloseTimer cancels t (it never fires afterwards), drops its parked waker
// and frees its slot. Safe after Close. A pointer that is not an open timer
// is counted as misuse and ignored.
func (r *Reactor) CloseTimer(t *abi.Timer) {
	i, ok := r.timers.lookup(unsafe.Pointer(t), t.Reserved)
	if !ok {
		r.stats.Misuse++
		return
	}
	r.heap.remove(i)
	if !closeEvent(&t.Event) {
		r.stats.Misuse++ // a poll is running on it: leak the slot, do not race
		return
	}
	r.timers.release(i)
}

// initEvent readies a reused slot's event: flags cleared, tick kept (so a
// stale clear from the slot's previous life cannot match), no waker. A
// waker found parked there was parked by a poll after close (a plugin bug):
// it is released, so its task's reference count stays right, and counted.
func (r *Reactor) initEvent(ev *abi.Event) {
	if ev.Waker.Vtable != nil {
		r.stats.Misuse++
		closeEvent(ev)
	}
	s := atomic.LoadUint64(&ev.State)
	ev.Waker = abi.Waker{}
	atomic.StoreUint64(&ev.State, s>>abi.EventTickShift<<abi.EventTickShift)
}
