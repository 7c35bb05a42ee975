//! The event protocol of awake.h, in Rust: `awake_event_poll` and
//! `awake_event_clear` are `static inline` C in the header, so a Rust plugin
//! re-implements them, step for step, over the same 64-bit word:
//!
//! ```text
//!   bit 0   READY        the event fired
//!   bit 1   REGISTERING  a poller owns `waker` while it stores a new one
//!   bit 2   WAKING       the host owns `waker` while it takes it to wake it
//!   bits 8+ tick         incremented by the host on every firing
//! ```
//!
//! `state` is only ever touched through an `AtomicU64` made in place with
//! `AtomicU64::from_ptr`; `waker` only while this side holds REGISTERING.
//! No `&`/`&mut` to the event is ever formed (the host writes to it from its
//! own threads), only raw pointers.

use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicU64, Ordering::*};

use crate::sys::*;
use crate::waker::{
    awake_waker_clone, awake_waker_drop, awake_waker_is_set, awake_waker_will_wake,
};

/// The atomic view of `(*ev).state`.
///
/// # Safety
/// `ev` points to a live `awake_event` whose `state` is only accessed
/// atomically by everyone (the header's rule); `u64` and `AtomicU64` have
/// the same size and alignment (asserted in sys.rs).
unsafe fn state<'a>(ev: *mut awake_event) -> &'a AtomicU64 {
    // SAFETY: see the function's contract.
    unsafe { AtomicU64::from_ptr(addr_of_mut!((*ev).state)) }
}

/// `awake_event_poll`: returns [`AWAKE_READY`] if the event has fired
/// (storing its tick in `*tick`), otherwise parks a clone of `cx.waker` in
/// the event -- reusing the parked one when it would wake the same task --
/// and returns [`AWAKE_PENDING`].
///
/// # Safety
/// `ev` points to a live event in host memory, polled by one task at a time
/// (the header's rule); `cx.waker` is a valid waker.
pub unsafe fn awake_event_poll(
    ev: *mut awake_event,
    cx: &awake_context,
    tick: Option<&mut u64>,
) -> i32 {
    // SAFETY: `ev` is live (caller's contract).
    let st = unsafe { state(ev) };
    let mut s = st.load(Acquire);
    loop {
        if s & AWAKE_EVENT_READY != 0 {
            if let Some(t) = tick {
                *t = s >> AWAKE_EVENT_TICK_SHIFT;
            }
            return AWAKE_READY;
        }
        if s & (AWAKE_EVENT_REGISTERING | AWAKE_EVENT_WAKING) != 0 {
            // WAKING without READY cannot happen; REGISTERING means a second
            // poller, which the contract forbids.  Re-read rather than spin
            // on a stale value.
            core::hint::spin_loop();
            s = st.load(Acquire);
            continue;
        }
        match st.compare_exchange(s, s | AWAKE_EVENT_REGISTERING, AcqRel, Acquire) {
            Ok(_) => break,
            Err(now) => s = now,
        }
    }
    // We hold REGISTERING: the host does not touch `waker` until we drop it.
    // SAFETY: `ev` is live (caller's contract); no reference is formed.
    let slot = unsafe { addr_of_mut!((*ev).waker) };
    // SAFETY: REGISTERING gives us exclusive access to `waker`.
    let old = unsafe { slot.read() };
    let replace = !(awake_waker_is_set(old) && awake_waker_will_wake(old, cx.waker));
    if replace {
        // SAFETY: cx.waker is valid (caller's contract); still exclusive.
        unsafe { slot.write(awake_waker_clone(cx.waker)) };
    }
    let s = st.fetch_and(!AWAKE_EVENT_REGISTERING, AcqRel);
    if replace && awake_waker_is_set(old) {
        // SAFETY: `old` was owned by the event and is now owned by us.
        unsafe { awake_waker_drop(old) };
    }
    if s & AWAKE_EVENT_READY != 0 {
        if let Some(t) = tick {
            *t = s >> AWAKE_EVENT_TICK_SHIFT;
        }
        return AWAKE_READY;
    }
    AWAKE_PENDING
}

/// `awake_event_clear`: clears READY unless the event fired again after the
/// poll that returned `tick` (then it stays READY).
///
/// # Safety
/// `ev` points to a live event in host memory.
pub unsafe fn awake_event_clear(ev: *mut awake_event, tick: u64) {
    // SAFETY: `ev` is live (caller's contract).
    let st = unsafe { state(ev) };
    let mut s = st.load(Acquire);
    loop {
        if (s >> AWAKE_EVENT_TICK_SHIFT) != tick || s & AWAKE_EVENT_READY == 0 {
            return;
        }
        match st.compare_exchange(s, s & !AWAKE_EVENT_READY, AcqRel, Acquire) {
            Ok(_) => return,
            Err(now) => s = now,
        }
    }
}

/// `awake_timer_poll`: READY once the timer fired, else parks cx's waker.
///
/// # Safety
/// `t` is an open host timer; see [`awake_event_poll`].
pub unsafe fn awake_timer_poll(t: *mut awake_timer, cx: &awake_context) -> i32 {
    // SAFETY: `t` is live, so is its event (caller's contract).
    unsafe { awake_event_poll(addr_of_mut!((*t).event), cx, None) }
}

/// The host side of the protocol, for tests and for Rust hosts: fires the
/// event (tick + 1, READY) and wakes the parked waker unless a poller holds
/// REGISTERING (that poller then sees READY itself).  This is the
/// transition the header documents as
/// `s -> (s + tick) | READY [| WAKING if no REGISTERING] -> clear WAKING`.
///
/// # Safety
/// `ev` points to a live event; only one thread fires it at a time.
pub unsafe fn host_fire(ev: *mut awake_event) {
    // SAFETY: `ev` is live (caller's contract).
    let st = unsafe { state(ev) };
    let mut s = st.load(Acquire);
    let taken = loop {
        let mut n = s.wrapping_add(1 << AWAKE_EVENT_TICK_SHIFT) | AWAKE_EVENT_READY;
        let take = s & AWAKE_EVENT_REGISTERING == 0;
        if take {
            n |= AWAKE_EVENT_WAKING;
        }
        match st.compare_exchange(s, n, AcqRel, Acquire) {
            Ok(_) => break take,
            Err(now) => s = now,
        }
    };
    if !taken {
        return;
    }
    // SAFETY: `ev` is live (caller's contract); no reference is formed.
    let slot = unsafe { addr_of_mut!((*ev).waker) };
    // SAFETY: WAKING gives the host exclusive access to `waker`.
    let w = unsafe { slot.read() };
    // SAFETY: as above: we still hold WAKING.
    unsafe { slot.write(awake_waker::NONE) };
    st.fetch_and(!AWAKE_EVENT_WAKING, AcqRel);
    if awake_waker_is_set(w) {
        // SAFETY: the parked waker was owned by the event, now by us.
        unsafe { crate::waker::awake_waker_wake(w) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testhost::FakeTask;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Barrier};

    fn new_event() -> Box<awake_event> {
        Box::new(awake_event {
            state: 0,
            waker: awake_waker::NONE,
        })
    }

    fn cx_for(w: awake_waker) -> awake_context {
        awake_context {
            size: core::mem::size_of::<awake_context>() as u32,
            flags: 0,
            waker: w,
            host: core::ptr::null(),
            host_data: core::ptr::null_mut(),
        }
    }

    #[test]
    fn pending_parks_one_clone_and_reuses_it() {
        let task = FakeTask::new();
        let mut ev = new_event();
        let cx = cx_for(task.waker());
        let ev_ptr: *mut awake_event = &mut *ev;
        unsafe {
            assert_eq!(awake_event_poll(ev_ptr, &cx, None), AWAKE_PENDING);
            assert_eq!(task.clones(), 1);
            assert_eq!(
                (*ev_ptr).waker,
                task.waker(),
                "the clone is parked unchanged"
            );
            // Same task: the parked clone is reused, not replaced.
            assert_eq!(awake_event_poll(ev_ptr, &cx, None), AWAKE_PENDING);
            assert_eq!(task.clones(), 1);
            assert_eq!(task.drops(), 0);
            host_fire(ev_ptr);
        }
        assert_eq!(task.wakes(), 1, "firing wakes the parked waker once");
        assert_eq!(task.refs(), 0, "wake consumed the parked reference");
        let mut tick = 0;
        unsafe { assert_eq!(awake_event_poll(ev_ptr, &cx, Some(&mut tick)), AWAKE_READY) };
        assert_eq!(tick, 1);
        assert_eq!(task.clones(), 1, "a ready poll registers nothing");
    }

    #[test]
    fn a_different_waker_replaces_and_drops_the_old_one() {
        let a = FakeTask::new();
        let b = FakeTask::new();
        let mut ev = new_event();
        let ev_ptr: *mut awake_event = &mut *ev;
        unsafe {
            assert_eq!(
                awake_event_poll(ev_ptr, &cx_for(a.waker()), None),
                AWAKE_PENDING
            );
            assert_eq!(
                awake_event_poll(ev_ptr, &cx_for(b.waker()), None),
                AWAKE_PENDING
            );
            host_fire(ev_ptr);
        }
        assert_eq!((a.clones(), a.drops(), a.wakes()), (1, 1, 0));
        assert_eq!((b.clones(), b.drops(), b.wakes()), (1, 0, 1));
        assert_eq!(a.refs() + b.refs(), 0);
    }

    #[test]
    fn clear_forgets_only_the_seen_tick() {
        let task = FakeTask::new();
        let mut ev = new_event();
        let ev_ptr: *mut awake_event = &mut *ev;
        let cx = cx_for(task.waker());
        let mut tick = 0;
        unsafe {
            host_fire(ev_ptr);
            assert_eq!(awake_event_poll(ev_ptr, &cx, Some(&mut tick)), AWAKE_READY);
            assert_eq!(tick, 1);
            host_fire(ev_ptr); // fires again after that poll
            awake_event_clear(ev_ptr, tick); // stale tick: stays READY
            assert_eq!(awake_event_poll(ev_ptr, &cx, Some(&mut tick)), AWAKE_READY);
            assert_eq!(tick, 2);
            awake_event_clear(ev_ptr, tick);
            assert_eq!(
                (*ev_ptr).state,
                2 << AWAKE_EVENT_TICK_SHIFT,
                "READY cleared, tick kept"
            );
            assert_eq!(awake_event_poll(ev_ptr, &cx, None), AWAKE_PENDING);
            host_fire(ev_ptr);
        }
        assert_eq!(task.wakes(), 1);
        assert_eq!(task.refs(), 0);
    }

    #[test]
    fn fire_during_registering_leaves_the_waker_parked() {
        let task = FakeTask::new();
        let mut ev = new_event();
        let ev_ptr: *mut awake_event = &mut *ev;
        unsafe {
            assert_eq!(
                awake_event_poll(ev_ptr, &cx_for(task.waker()), None),
                AWAKE_PENDING
            );
            // A poller holds REGISTERING while the host fires.
            state(ev_ptr).fetch_or(AWAKE_EVENT_REGISTERING, AcqRel);
            host_fire(ev_ptr);
            assert_eq!(task.wakes(), 0, "no wake while the poller owns the waker");
            let s = state(ev_ptr).fetch_and(!AWAKE_EVENT_REGISTERING, AcqRel);
            assert_eq!(
                s & (AWAKE_EVENT_READY | AWAKE_EVENT_WAKING),
                AWAKE_EVENT_READY
            );
            // The poller sees READY itself.
            assert_eq!(
                awake_event_poll(ev_ptr, &cx_for(task.waker()), None),
                AWAKE_READY
            );
            // The parked clone is still owned by the event; release it the
            // way timer_close does.
            let w = (*ev_ptr).waker;
            crate::waker::awake_waker_drop(w);
        }
        assert_eq!(task.refs(), 0);
    }

    /// The host fires in the middle of a registration (here: from inside the
    /// waker's clone, which runs while the poller holds REGISTERING).  The
    /// host must leave the waker alone and the poller must return READY when
    /// it releases REGISTERING -- else that wake is lost.
    #[test]
    fn a_fire_while_registering_is_seen_at_release() {
        use core::ffi::c_void;
        use std::sync::atomic::AtomicUsize;
        struct Firing {
            ev: *mut awake_event,
            clones: AtomicUsize,
            drops: AtomicUsize,
            wakes: AtomicUsize,
        }
        unsafe extern "C" fn clone(d: *const c_void) -> awake_waker {
            let f = unsafe { &*d.cast::<Firing>() };
            f.clones.fetch_add(1, SeqCst);
            unsafe { host_fire(f.ev) }; // the host fires right now
            awake_waker {
                data: d,
                vtable: &FIRING_VT,
            }
        }
        unsafe extern "C" fn wake(d: *const c_void) {
            unsafe { &*d.cast::<Firing>() }.wakes.fetch_add(1, SeqCst);
        }
        unsafe extern "C" fn drop_(d: *const c_void) {
            unsafe { &*d.cast::<Firing>() }.drops.fetch_add(1, SeqCst);
        }
        static FIRING_VT: awake_waker_vtable = awake_waker_vtable {
            size: core::mem::size_of::<awake_waker_vtable>() as u32,
            flags: 0,
            clone,
            wake,
            wake_by_ref: wake,
            drop: drop_,
        };
        let ev = Box::into_raw(new_event());
        let f = Firing {
            ev,
            clones: AtomicUsize::new(0),
            drops: AtomicUsize::new(0),
            wakes: AtomicUsize::new(0),
        };
        let w = awake_waker {
            data: (&f as *const Firing).cast(),
            vtable: &FIRING_VT,
        };
        let mut tick = 0;
        let r = unsafe { awake_event_poll(ev, &cx_for(w), Some(&mut tick)) };
        assert_eq!(
            r, AWAKE_READY,
            "READY set during REGISTERING must be returned"
        );
        assert_eq!(tick, 1);
        assert_eq!(f.wakes.load(SeqCst), 0, "the host did not take the waker");
        unsafe {
            assert_eq!(
                (*ev).state,
                (1 << AWAKE_EVENT_TICK_SHIFT) | AWAKE_EVENT_READY
            );
            assert_eq!((*ev).waker, w, "the clone stays parked, owned by the event");
            crate::waker::awake_waker_drop((*ev).waker);
            drop(Box::from_raw(ev));
        }
        assert_eq!(f.clones.load(SeqCst), f.drops.load(SeqCst));
    }

    /// A poller and a firing host race on one event for many rounds: every
    /// round ends with the poller either seeing READY or being woken; a lost
    /// wake would leave the poller waiting (caught by the bounded wait).
    #[test]
    fn no_lost_wakes_under_a_race() {
        const ROUNDS: u64 = 3000;
        struct Shared {
            ev: *mut awake_event,
        }
        // SAFETY: the event is only reached through the protocol's atomics.
        unsafe impl Send for Shared {}
        unsafe impl Sync for Shared {}
        let task = FakeTask::new();
        let ev = Box::into_raw(new_event());
        let shared = Arc::new(Shared { ev });
        let barrier = Arc::new(Barrier::new(2));
        let stop = Arc::new(AtomicBool::new(false));
        let host = {
            let (shared, barrier, stop) = (shared.clone(), barrier.clone(), stop.clone());
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    barrier.wait();
                    unsafe { host_fire(shared.ev) };
                    barrier.wait();
                }
                stop.store(true, SeqCst);
            })
        };
        let cx = cx_for(task.waker());
        for round in 1..=ROUNDS {
            barrier.wait();
            let wakes_before = task.wakes();
            let mut tick = 0;
            let r = unsafe { awake_event_poll(shared.ev, &cx, Some(&mut tick)) };
            if r == AWAKE_PENDING {
                assert!(
                    task.wait_wakes(wakes_before + 1),
                    "round {round}: PENDING and never woken (lost wake)"
                );
                let r = unsafe { awake_event_poll(shared.ev, &cx, Some(&mut tick)) };
                assert_eq!(r, AWAKE_READY, "round {round}: woken but not READY");
            }
            assert_eq!(tick, round);
            unsafe { awake_event_clear(shared.ev, tick) };
            barrier.wait();
        }
        host.join().unwrap();
        assert!(stop.load(SeqCst));
        unsafe {
            let w = (*ev).waker;
            if awake_waker_is_set(w) {
                crate::waker::awake_waker_drop(w);
            }
            drop(Box::from_raw(ev));
        }
        assert_eq!(task.refs(), 0, "clones and drops balance");
    }
}
