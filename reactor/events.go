package reactor

import (
	"runtime"
	"sync/atomic"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/vtable"
)

// The awake_event protocol, host side (include/awake.h, AWAKE_EVENT_READY).
//
// State is one atomic word:
//
//	| tick (56 bits) | 00000 | WAKING | REGISTERING | READY |
//	  63 ........ 8             2         1             0
//
//	READY        the event fired since the poller last cleared it
//	REGISTERING  a poller owns Waker while it stores a new one
//	WAKING       the host owns Waker while it takes it out to wake it
//	tick         bumped by every fire; lets a clear tell "the fire I saw"
//	             from "a fire that came after"
//
// Transitions (each one CAS or atomic AND/OR on the word):
//
//	fire (host):      s -> (s + 1<<8) | READY | (WAKING if !REGISTERING)
//	                  then, holding WAKING: w = Waker; Waker = 0; AND ^WAKING;
//	                  wake(w) if w was set.
//	                  Holding REGISTERING the poller owns Waker, so the host
//	                  leaves it parked; the poller sees READY in the value
//	                  its AND ^REGISTERING returns and reports READY itself.
//	poll (poller):    READY -> report READY with tick (no waker touched)
//	                  idle -> REGISTERING; store clone (unless will_wake);
//	                  AND ^REGISTERING; READY in the old value ? READY : PENDING
//	clear (poller):   READY|tick==t -> !READY (CAS; fails harmlessly when a
//	                  later fire bumped tick, so that fire is not lost)
//	reset (host):     AND ^READY, tick kept (timer re-arm)
//	close (host):     no REGISTERING/WAKING -> WAKING; take Waker; drop it;
//	                  state = tick only (tick kept across slot reuse, so a
//	                  stale clear with an old tick cannot match)
//
// Why fire sets WAKING whether or not a waker is parked: deciding from a read
// of Waker taken before the CAS is an ABA race. Between the host's load of s
// and its CAS, a poller can go idle -> REGISTERING -> idle, parking a waker
// and returning PENDING; the word is back to s, the CAS succeeds, and a host
// that read "no waker" would set READY without waking anyone: a lost wake.
// Taking WAKING unconditionally costs one extra atomic AND per fire with no
// waker and makes Waker's presence a question asked only while owning it.
//
// Who calls what: fire, reset and close run on the reactor's worker thread
// only, so WAKING is never held when close runs. The poller is the one task
// that owns the event, which (by the poll-thread contract) also runs close on
// its own thread, so REGISTERING is never held when close runs either.
// closeEvent checks both and refuses (reporting misuse) rather than race.

// fire marks ev fired and wakes the waker parked in it, if any. It reports
// whether a waker was woken.
func fire(ev *abi.Event) bool {
	for {
		s := atomic.LoadUint64(&ev.State)
		n := (s + 1<<abi.EventTickShift) | abi.EventReady
		if s&abi.EventRegistering == 0 {
			n |= abi.EventWaking
		}
		if !atomic.CompareAndSwapUint64(&ev.State, s, n) {
			continue
		}
		if n&abi.EventWaking == 0 {
			return false // the registering poller will see READY
		}
		w := ev.Waker
		if w.Vtable != nil {
			ev.Waker = abi.Waker{}
		}
		atomic.AndUint64(&ev.State, ^abi.EventWaking)
		if w.Vtable == nil {
			return false
		}
		vtable.Wake(w)
		return true
	}
}

// resetEvent forgets a firing (READY) and keeps the tick and parked waker.
func resetEvent(ev *abi.Event) {
	atomic.AndUint64(&ev.State, ^abi.EventReady)
}

// closeEvent drops ev's parked waker and leaves only its tick. It reports
// false, touching nothing, when a poller or a firing holds the event, which
// the threading contract above rules out (the caller counts it as misuse and
// leaks the slot rather than free memory someone is writing).
func closeEvent(ev *abi.Event) bool {
	s := atomic.LoadUint64(&ev.State)
	for {
		if s&(abi.EventRegistering|abi.EventWaking) != 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(&ev.State, s, s|abi.EventWaking) {
			break
		}
		s = atomic.LoadUint64(&ev.State)
	}
	w := ev.Waker
	ev.Waker = abi.Waker{}
	atomic.StoreUint64(&ev.State, s>>abi.EventTickShift<<abi.EventTickShift)
	if w.Vtable != nil {
		vtable.Drop(w)
	}
	return true
}

// PollEvent is awake_event_poll for Go futures: it reports whether ev fired
// (and the firing's tick, for ClearEvent). Otherwise it parks a clone of w in
// ev (keeping an already parked waker that wakes the same task) and returns
// false; the reactor wakes w when the event fires. w is borrowed. A zero w
// only checks readiness. One task polls a given event at a time.
func PollEvent(ev *abi.Event, w abi.Waker) (ready bool, tick uint64) {
	s := atomic.LoadUint64(&ev.State)
	for {
		if s&abi.EventReady != 0 {
			return true, s >> abi.EventTickShift
		}
		if w.Vtable == nil {
			return false, 0
		}
		if s&(abi.EventRegistering|abi.EventWaking) != 0 {
			// A firing is taking the old waker out (WAKING lasts a few
			// instructions on the reactor's thread; READY may already have
			// been cleared by us), or a second poller broke the contract.
			// Yield rather than spin on a stale value.
			runtime.Gosched()
			s = atomic.LoadUint64(&ev.State)
			continue
		}
		if atomic.CompareAndSwapUint64(&ev.State, s, s|abi.EventRegistering) {
			break
		}
		s = atomic.LoadUint64(&ev.State)
	}
	old := ev.Waker
	replace := !(old.Vtable != nil && old == w)
	if replace {
		ev.Waker = vtable.Clone(w)
	}
	s = atomic.AndUint64(&ev.State, ^abi.EventRegistering)
	if replace && old.Vtable != nil {
		vtable.Drop(old)
	}
	if s&abi.EventReady != 0 {
		return true, s >> abi.EventTickShift
	}
	return false, 0
}

// ClearEvent is awake_event_clear: it clears READY unless ev fired again
// after the poll that returned tick (then it stays READY and the next poll
// does not wait). Edge-triggered fd code calls it after EAGAIN.
func ClearEvent(ev *abi.Event, tick uint64) {
	s := atomic.LoadUint64(&ev.State)
	for s>>abi.EventTickShift == tick && s&abi.EventReady != 0 {
		if atomic.CompareAndSwapUint64(&ev.State, s, s&^abi.EventReady) {
			return
		}
		s = atomic.LoadUint64(&ev.State)
	}
}
