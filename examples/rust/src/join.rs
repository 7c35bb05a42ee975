//! A hand-written join: waits for every future of a `Vec`, polling only
//! the children that were woken.
//!
//! Each child is polled with its own `Waker` (an `Arc<ChildWaker>` through
//! `std::task::Wake`), which wraps the parent task's waker: waking child `i`
//! raises flag `i` and wakes the parent; the join's next poll re-polls only
//! the children whose flag is up.  This is Rust making its own wakers around
//! the host's (when the join is polled by the host, the parent waker is the
//! host's waker mapped by `waker.rs`), and it is what a child's leaf future
//! hands to C through `WakerBridge` (an `Arc<Waker>` behind the Rust awake
//! vtable), so a host timer ends up waking a Rust waker that wakes the host's.
//!
//! Wakes are thread-safe (atomics and a mutex around the parent waker) and
//! coalesce: only the wake that raises a child's flag wakes the parent.  A
//! wake after the join finished or was dropped is harmless.

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use core::task::{Context, Poll, Waker};
use std::sync::{Arc, Mutex};
use std::task::Wake;

/// Shared by the join and its child wakers.
struct Shared {
    parent: Mutex<Option<Waker>>, // the task's waker, refreshed every poll
    woken: Vec<AtomicBool>,       // per child: woken since its last poll
}

struct ChildWaker {
    shared: Arc<Shared>,
    index: usize,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Only the wake that raises the flag needs to wake the parent: until
        // the join clears it, a wake of the task is already on its way.
        if self.shared.woken[self.index].swap(true, AcqRel) {
            return;
        }
        let parent = self.shared.parent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = parent.as_ref() {
            w.wake_by_ref(); // never blocks, never polls inline
        }
    }
}

enum Slot<F: Future> {
    Running(Pin<Box<F>>),
    Done(F::Output),
    Taken,
}

/// The future returned by [`join_all`].
pub struct JoinAll<F: Future> {
    slots: Vec<Slot<F>>,
    wakers: Vec<Waker>,
    shared: Arc<Shared>,
    remaining: usize,
    child_polls: AtomicU64,
}

/// Waits for all of `futs` and returns their outputs in order.  Children
/// run concurrently inside one task; each is re-polled only when its own
/// waker was woken.
pub fn join_all<F: Future>(futs: Vec<F>) -> JoinAll<F> {
    let n = futs.len();
    let shared = Arc::new(Shared {
        parent: Mutex::new(None),
        // Every child starts "woken": the first poll polls them all.
        woken: (0..n).map(|_| AtomicBool::new(true)).collect(),
    });
    let wakers = (0..n)
        .map(|index| {
            Waker::from(Arc::new(ChildWaker {
                shared: shared.clone(),
                index,
            }))
        })
        .collect();
    JoinAll {
        slots: futs
            .into_iter()
            .map(|f| Slot::Running(Box::pin(f)))
            .collect(),
        wakers,
        shared,
        remaining: n,
        child_polls: AtomicU64::new(0),
    }
}

// Children are boxed (Pin<Box<F>>) and outputs are never pinned, so moving
// a JoinAll moves no pinned data.
impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> JoinAll<F> {
    /// How many times children were polled so far (n at the first poll, then
    /// one per woken child).
    pub fn child_polls(&self) -> u64 {
        self.child_polls.load(Relaxed)
    }
}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut(); // JoinAll is Unpin: children are boxed
                                   // Refresh the parent waker *before* reading the flags: a child wake
                                   // that lands after we read its flag finds this waker and wakes us.
        {
            let mut parent = this.shared.parent.lock().unwrap_or_else(|p| p.into_inner());
            match parent.as_ref() {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *parent = Some(cx.waker().clone()),
            }
        }
        for i in 0..this.slots.len() {
            let Slot::Running(fut) = &mut this.slots[i] else {
                continue;
            };
            if !this.shared.woken[i].swap(false, AcqRel) {
                continue; // not woken: nothing new for this child
            }
            this.child_polls.fetch_add(1, Relaxed);
            if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&this.wakers[i])) {
                this.slots[i] = Slot::Done(out); // drops the child now
                this.remaining -= 1;
            }
        }
        if this.remaining > 0 {
            return Poll::Pending;
        }
        // Finished: stop holding the task's waker (late child wakes no-op).
        *this.shared.parent.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let outs = this
            .slots
            .iter_mut()
            .map(|s| match core::mem::replace(s, Slot::Taken) {
                Slot::Done(o) => o,
                _ => panic!("join_all polled again after it completed"),
            })
            .collect();
        Poll::Ready(outs)
    }
}

impl<F: Future> Drop for JoinAll<F> {
    fn drop(&mut self) {
        // Release the task's waker even if child wakers outlive us (a timer
        // or another thread may still hold one).
        if let Ok(mut p) = self.shared.parent.lock() {
            *p = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A future that completes when `gate` is set, recording its waker.
    struct Gate {
        open: Arc<AtomicBool>,
        waker: Arc<Mutex<Option<Waker>>>,
        polls: Arc<AtomicUsize>,
    }

    impl Future for Gate {
        type Output = usize;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            self.polls.fetch_add(1, SeqCst);
            if self.open.load(SeqCst) {
                return Poll::Ready(self.polls.load(SeqCst));
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    struct CountWake(AtomicUsize);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn only_woken_children_are_repolled() {
        let gates: Vec<_> = (0..3)
            .map(|_| {
                (
                    Arc::new(AtomicBool::new(false)),
                    Arc::new(Mutex::new(None)),
                    Arc::new(AtomicUsize::new(0)),
                )
            })
            .collect();
        let futs = gates
            .iter()
            .map(|(o, w, p)| Gate {
                open: o.clone(),
                waker: w.clone(),
                polls: p.clone(),
            })
            .collect();
        let mut j = join_all(futs);
        let parent = Arc::new(CountWake(AtomicUsize::new(0)));
        let pw = Waker::from(parent.clone());
        let mut cx = Context::from_waker(&pw);
        assert!(Pin::new(&mut j).poll(&mut cx).is_pending());
        assert_eq!(j.child_polls(), 3);
        // Each child got its own waker, none of them the parent's.
        let child_wakers: Vec<Waker> = gates
            .iter()
            .map(|g| g.1.lock().unwrap().clone().unwrap())
            .collect();
        assert!(!child_wakers[0].will_wake(&pw) && !child_wakers[0].will_wake(&child_wakers[1]));
        // Wake child 1 twice: the parent is woken once (coalesced).
        gates[1].0.store(true, SeqCst);
        child_wakers[1].wake_by_ref();
        child_wakers[1].wake_by_ref();
        assert_eq!(parent.0.load(SeqCst), 1);
        assert!(Pin::new(&mut j).poll(&mut cx).is_pending());
        assert_eq!(j.child_polls(), 4, "only child 1 was polled again");
        assert_eq!(gates[0].2.load(SeqCst), 1);
        // A poll with nothing woken polls no child.
        assert!(Pin::new(&mut j).poll(&mut cx).is_pending());
        assert_eq!(j.child_polls(), 4);
        gates[0].0.store(true, SeqCst);
        gates[2].0.store(true, SeqCst);
        child_wakers[0].wake_by_ref();
        child_wakers[2].wake_by_ref();
        match Pin::new(&mut j).poll(&mut cx) {
            Poll::Ready(v) => assert_eq!(v, vec![2, 2, 2]),
            Poll::Pending => panic!("all children are open"),
        }
        assert_eq!(j.child_polls(), 6);
        // A late wake after completion is harmless and wakes nobody.
        child_wakers[0].wake_by_ref();
        assert_eq!(parent.0.load(SeqCst), 3);
        drop(j);
        drop(child_wakers);
        drop(gates);
        drop(pw);
        assert_eq!(
            Arc::strong_count(&parent),
            1,
            "the parent waker was released"
        );
    }
}
