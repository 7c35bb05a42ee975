//! `Sleep`: the tutorial's `TimerFuture` on the host's timers.
//!
//! ```text
//!   if now >= deadline { return Ready }
//!   register_os_timer(cx.waker().clone(), remaining); return Pending
//! ```
//!
//! with `register_os_timer` made real: at the first poll the future opens a
//! timer on the host's reactor (`timer_open`, deadline = host `now_ns` +
//! duration); every poll then runs the event protocol (`event.rs`) on the
//! timer's `awake_event`, which returns READY once it fired or parks a
//! clone of the task's waker in host memory -- no call into the host, no
//! thread, no second reactor.  The timer is closed on completion and on drop.

use core::future::Future;
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll};
use std::time::Duration;

use crate::event::awake_timer_poll;
use crate::host;
use crate::sys::*;
use crate::waker::WakerBridge;
use crate::Error;

/// A future that completes once `duration` has passed since its first poll.
pub struct Sleep {
    dur_ns: u64,
    deadline_ns: u64,
    host: *const awake_host, // for timer_close in drop (no context there)
    timer: *mut awake_timer, // open host timer; NULL before the first poll and after completion
    done: bool,
    bridge: WakerBridge, // the waker the timer holds, when the task's waker is a Rust one
}

// SAFETY: the raw pointers are host memory valid until timer_close; the
// host's timer functions are called from poll and drop only, which the host
// runs on its poll thread whatever thread that is.
unsafe impl Send for Sleep {}

impl Sleep {
    /// A sleep of `d` (the clock starts at the first poll).
    pub fn new(d: Duration) -> Sleep {
        Sleep::from_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// A sleep of `ms` milliseconds.
    pub fn from_ms(ms: u64) -> Sleep {
        Sleep::from_ns(ms.saturating_mul(1_000_000))
    }

    /// A sleep of `ns` nanoseconds.
    pub fn from_ns(ns: u64) -> Sleep {
        Sleep {
            dur_ns: ns,
            deadline_ns: 0,
            host: ptr::null(),
            timer: ptr::null_mut(),
            done: false,
            bridge: WakerBridge::new(),
        }
    }

    /// The deadline (host CLOCK_MONOTONIC ns), 0 before the first poll.
    pub fn deadline_ns(&self) -> u64 {
        self.deadline_ns
    }

    fn close(&mut self) {
        if !self.timer.is_null() {
            // SAFETY: an open timer of this host, closed exactly once.
            unsafe { ((*self.host).timer_close)(self.timer) };
            self.timer = ptr::null_mut();
        }
    }
}

impl Future for Sleep {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut(); // Sleep is Unpin
        if this.done {
            return Poll::Ready(Ok(()));
        }
        let hcx = match host::current() {
            Ok(c) => c,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if this.timer.is_null() {
            // First poll: open a timer on the host's reactor.  A deadline
            // in the past is fine: the timer fires at once.
            // SAFETY: hcx is the live context of this poll; both functions
            // are [poll thread] and we are in the poll.
            let rc = unsafe {
                this.host = (*hcx).host;
                this.deadline_ns = ((*this.host).now_ns)(hcx).saturating_add(this.dur_ns);
                ((*this.host).timer_open)(hcx, this.deadline_ns, &mut this.timer)
            };
            if rc != AWAKE_OK {
                this.timer = ptr::null_mut();
                this.done = true;
                return Poll::Ready(Err(Error::new(
                    rc,
                    format!("sleep: host timer_open failed with code {rc} (-3 means the runtime is shutting down)"),
                )));
            }
        }
        // The task's waker as an awake_waker: the host's own when the task
        // is the host's, else a cached Arc of the Rust waker (a join child).
        let acx = match host::context_with_waker(this.bridge.view(cx.waker())) {
            Ok(c) => c,
            Err(e) => return Poll::Ready(Err(e)),
        };
        // SAFETY: the timer is open (host memory valid until timer_close)
        // and only this future polls it; acx's waker is valid for the poll.
        if unsafe { awake_timer_poll(this.timer, &acx) } == AWAKE_PENDING {
            return Poll::Pending;
        }
        this.close(); // also drops the parked waker
        this.done = true;
        Poll::Ready(Ok(()))
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.close();
    }
}
