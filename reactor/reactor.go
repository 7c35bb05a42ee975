package reactor

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/awake-rt/awake/abi"
)

// ErrClosed is returned by Turn and the Open/Reset functions after Close.
var ErrClosed = errors.New("awake reactor: the reactor is closed (its worker shut down); open timers and fds on a running worker")

func errHeap(format string, args ...any) error {
	return fmt.Errorf("awake reactor: timer heap corrupt: "+format, args...)
}

// Reactor is one worker's OS reactor. Its methods, except WakeFd, must be
// called from the owning worker's goroutine only (no locks anywhere).
type Reactor struct {
	p      poller // the OS part: reactor_linux.go, reactor_darwin.go
	closed bool
	timers slab // abi.Timer slots; Timer.Reserved = slot index
	heap   timerHeap
	ios    slab // abi.IO slots; IO.Reserved = slot index
	fired  int  // events fired by the current Turn
	stats  Stats
	onWake func()

	timerTag uintptr // written into each timer slot (SetTimerTag)
}

// OnWake sets a function Turn calls as soon as the OS wait returns, before
// it fires anything: the executor marks itself awake there, so that the
// wakes those firings cause do not write the wake fd for a worker that is
// already running.
func (r *Reactor) OnWake(f func()) { r.onWake = f }

// Stats are a reactor's counters.
type Stats struct {
	TimersLive  int    // timers opened and not closed
	TimersFired uint64 // timer firings
	IOLive      int    // fd registrations open
	IOEvents    uint64 // read or write readiness firings
	Turns       uint64 // calls to Turn
	Wakes       uint64 // parked wakers woken by firings
	Misuse      uint64 // refused calls: stale/foreign timer or io pointers, closes racing a poll
}

// New creates a reactor: an epoll (kqueue) instance, its wake fd and its
// timer source.
func New() (*Reactor, error) {
	r := &Reactor{
		timers: newSlab("timer", TimerSlot),
		ios:    newSlab("io", unsafe.Sizeof(abi.IO{})),
	}
	if err := r.p.open(); err != nil {
		return nil, err
	}
	return r, nil
}

// WakeFd returns the fd other threads write an 8-byte 1 to in order to make
// a blocked Turn return (an eventfd on Linux, a pipe's write end on darwin).
// Safe from any thread.
func (r *Reactor) WakeFd() int { return r.p.wakeFd() }

// Close releases the OS resources, wake fd included. Timer and io slots stay
// mapped: closing them afterwards (CloseTimer, CloseIO) is safe.
func (r *Reactor) Close() error { return r.close(false) }

// CloseKeepWakeFd is Close but leaves the wake fd open (both pipe ends on
// darwin), for when leaked wakers may still write to it from other threads.
// That fd is leaked by design.
func (r *Reactor) CloseKeepWakeFd() error { return r.close(true) }

func (r *Reactor) close(keepWake bool) error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.p.close(keepWake)
}

// Release unmaps the reactor's timer and fd slots after Close, but only when
// none is open: a plugin may still hold a pointer to an open one and call
// timer_close or io_close on it later, which must not fault. It reports
// whether the memory was returned.
func (r *Reactor) Release() bool {
	if !r.closed || r.timers.live > 0 || r.ios.live > 0 {
		return false
	}
	r.timers.unmap()
	r.ios.unmap()
	return true
}

// Stats returns the reactor's counters.
func (r *Reactor) Stats() Stats {
	s := r.stats
	s.TimersLive = r.timers.live
	s.IOLive = r.ios.live
	return s
}

// Due reports whether a non-blocking Turn could fire anything: an fd is
// registered (its readiness is only learnt from the OS), or a timer is due.
// A busy executor skips the turn's syscall otherwise.
func (r *Reactor) Due() bool {
	if r.ios.live > 0 {
		return true
	}
	d, ok := r.heap.min()
	return ok && d <= Now()
}

// NextDeadline returns the earliest armed timer deadline (CLOCK_MONOTONIC ns).
func (r *Reactor) NextDeadline() (uint64, bool) { return r.heap.min() }

// Turn waits for readiness and fires what is due: expired timers in deadline
// order and fd readiness. timeout < 0 blocks until something fires or the
// wake fd is written; 0 only collects what is already due; > 0 bounds the
// wait. Timers wake it with sub-millisecond precision (timerfd /
// EVFILT_TIMER armed to the earliest deadline). It returns how many events it
// fired (wake fd writes are not counted). The only foreign code it runs is a
// parked foreign waker's wake (through purego), which by contract only
// schedules.
func (r *Reactor) Turn(timeout time.Duration) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	r.stats.Turns++
	r.fired = 0
	block := timeout != 0
	if block {
		want, ok := r.heap.min()
		var now uint64
		if ok || timeout > 0 { // no timer and no timeout: no clock read
			now = Now()
		}
		switch {
		case ok && want <= now:
			block = false // a timer is due already
		case timeout > 0 && (!ok || now+uint64(timeout) < want):
			want = now + uint64(timeout)
		case !ok:
			want = 0 // nothing to wait for but fds and the wake fd
		}
		want = min(want, math.MaxInt64) // beyond that means never; the OS takes int64
		if block {
			if err := r.p.arm(want, now); err != nil {
				return 0, err
			}
		}
	}
	if err := r.p.wait(r, block); err != nil {
		return r.fired, err
	}
	if _, ok := r.heap.min(); !ok {
		return r.fired, nil // no timer: no clock read
	}
	now := Now()
	for {
		i, ok := r.heap.popExpired(now)
		if !ok {
			break
		}
		r.stats.TimersFired++
		r.fired++
		if fire(&(*abi.Timer)(r.timers.addr(i)).Event) {
			r.stats.Wakes++
		}
	}
	return r.fired, nil
}

// ioReady fires the events of the fd registered in slot (called by wait).
func (r *Reactor) ioReady(slot uint32, read, write bool) {
	if slot >= r.ios.next || !r.ios.used[slot] {
		return // deregistered meanwhile
	}
	io := (*abi.IO)(r.ios.addr(slot))
	if read && io.Interest&abi.IORead != 0 {
		r.fireIO(&io.Read)
	}
	if write && io.Interest&abi.IOWrite != 0 {
		r.fireIO(&io.Write)
	}
}

func (r *Reactor) fireIO(ev *abi.Event) {
	r.stats.IOEvents++
	r.fired++
	if fire(ev) {
		r.stats.Wakes++
	}
}
