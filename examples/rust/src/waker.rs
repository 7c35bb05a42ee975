//! Wakers across the boundary, both ways, without allocating in the common
//! case.
//!
//! # awake_waker -> std::task::Waker
//!
//! A `RawWaker` carries one data pointer; an `awake_waker` is two words
//! (data, vtable).  The second word is almost always the same: the host has
//! one waker vtable (the Go host's assembly functions, the C reference
//! executor's `ref_waker_vt`).  So this module keeps a small table of
//! *known host vtables* ([`HOST_VTABLE_SLOTS`] slots, each an `AtomicPtr`
//! set once and never changed) and, for each slot `I`, a static
//! `RawWakerVTable` whose functions call slot `I`'s host vtable.  A host
//! waker whose vtable sits in slot `I` becomes
//! `RawWaker::new(host_data_pointer, &SLOT_VTABLES[I])`: the data pointer
//! passes through unchanged, cloning the `Waker` is one call to the host's
//! `clone` (no allocation, no re-wrapping), and waking is one call to the
//! host's `wake`.
//!
//! Slots are learned, not configured: the adapter calls
//! [`learn_host_vtable`] with the vtable of the waker in every context the
//! host polls an exported future with (ABI 1.0 has no field that names the
//! host's waker vtable; see the note in the crate docs).  The first vtables
//! seen claim the slots; a slot is never reused, so a pointer comparison
//! with a slot is always a comparison with a vtable that really was handed
//! to us.  Wakers with any other vtable (a C plugin's own child wakers, say,
//! after the slots are full) fall back to a `Box<awake_waker>` behind
//! `FOREIGN_OWNED`; while merely borrowed for one poll they are not even
//! boxed (`FOREIGN_BORROWED` points at the caller's copy).
//!
//! # std::task::Waker -> awake_waker
//!
//! When Rust code polls a C future ([`crate::adapter::HostFuture`]) or parks
//! its waker in a host event ([`crate::sleep::Sleep`]) it needs an
//! `awake_waker`.  If the Rust `Waker` is one of ours (it wraps a host
//! waker), [`host_waker_of`] unwraps it to the original host `awake_waker`
//! -- the host sees its own waker, no allocation.  Otherwise (a Rust-made
//! waker such as [`crate::join`]'s per-child wakers) the std `Waker` is put
//! in an `Arc` behind the Rust-implemented [`RUST_WAKER_VTABLE`]; cloning
//! it is a reference-count increment that returns the *same* data pointer,
//! so `awake_waker_will_wake` holds between clones and the event protocol
//! keeps a parked clone instead of replacing it at every poll.
//! [`WakerBridge`] caches that `Arc` per poller so that steady-state polls
//! allocate nothing.  And an `awake_waker` with [`RUST_WAKER_VTABLE`] that
//! comes back to Rust is unwrapped to the std `Waker` inside it.

use core::ffi::c_void;
use core::mem::ManuallyDrop;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering::*};
use std::sync::Arc;
use std::task::{RawWaker, RawWakerVTable, Waker};

use crate::sys::*;

// ---- the header's waker helpers --------------------------------------------

/// `awake_waker_clone`: a new owned reference to the same waker.
///
/// # Safety
/// `w` is a valid (set) waker.
pub unsafe fn awake_waker_clone(w: awake_waker) -> awake_waker {
    // SAFETY: a set waker has a valid vtable whose clone never fails.
    unsafe { ((*w.vtable).clone)(w.data) }
}

/// `awake_waker_wake`: wakes the task and releases this reference.
///
/// # Safety
/// `w` is a valid owned waker, not used afterwards.
pub unsafe fn awake_waker_wake(w: awake_waker) {
    // SAFETY: caller's contract.
    unsafe { ((*w.vtable).wake)(w.data) }
}

/// `awake_waker_wake_by_ref`: wakes the task and keeps this reference.
///
/// # Safety
/// `w` is a valid waker.
pub unsafe fn awake_waker_wake_by_ref(w: &awake_waker) {
    // SAFETY: caller's contract.
    unsafe { ((*w.vtable).wake_by_ref)(w.data) }
}

/// `awake_waker_drop`: releases this reference without waking.
///
/// # Safety
/// `w` is a valid owned waker, not used afterwards.
pub unsafe fn awake_waker_drop(w: awake_waker) {
    // SAFETY: caller's contract.
    unsafe { ((*w.vtable).drop)(w.data) }
}

/// `awake_waker_will_wake`: both words equal.
pub fn awake_waker_will_wake(a: awake_waker, b: awake_waker) -> bool {
    a.data == b.data && a.vtable == b.vtable
}

/// `awake_waker_is_set`: the waker is not the zeroed "no waker".
pub fn awake_waker_is_set(w: awake_waker) -> bool {
    !w.vtable.is_null()
}

// ---- known host vtables -----------------------------------------------------

/// How many distinct host waker vtables map to a `Waker` without allocating.
/// One is the normal case (one host per process); the rest leave room for a
/// second host (the C reference executor in a Go test binary) and for C
/// plugins that poll our futures with their own wakers.
pub const HOST_VTABLE_SLOTS: usize = 4;

static HOST_VTABLES: [AtomicPtr<awake_waker_vtable>; HOST_VTABLE_SLOTS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; HOST_VTABLE_SLOTS];

/// The host vtable of slot `I`.  Only called through `SLOT_VTABLES[I]`,
/// which only exists in a `RawWaker` after slot `I` was claimed.
fn slot_vtable<const I: usize>() -> &'static awake_waker_vtable {
    let vt = HOST_VTABLES[I].load(Acquire);
    debug_assert!(!vt.is_null());
    // SAFETY: slot I was set (see above) to a vtable that came with a live
    // waker; awake.h vtables are static for the life of the library that
    // made them, and the slot never changes once set.
    unsafe { &*vt }
}

unsafe fn slot_clone<const I: usize>(data: *const ()) -> RawWaker {
    let vt = slot_vtable::<I>();
    // SAFETY: `data` came from a host waker of this vtable and is alive
    // (we hold a reference through the Waker being cloned).
    let w = unsafe { (vt.clone)(data.cast()) };
    if ptr::eq(w.vtable, vt) {
        return RawWaker::new(w.data.cast(), &SLOT_VTABLES[I]);
    }
    // A clone with another vtable (legal, if unusual): convert generically.
    // SAFETY: `w` is an owned waker that clone() just returned.
    unsafe { raw_from_owned(w) }
}

unsafe fn slot_wake<const I: usize>(data: *const ()) {
    // SAFETY: we own this reference; wake consumes it.
    unsafe { (slot_vtable::<I>().wake)(data.cast()) }
}

unsafe fn slot_wake_by_ref<const I: usize>(data: *const ()) {
    // SAFETY: the reference is alive while the Waker is.
    unsafe { (slot_vtable::<I>().wake_by_ref)(data.cast()) }
}

unsafe fn slot_drop<const I: usize>(data: *const ()) {
    // SAFETY: we own this reference; drop releases it.
    unsafe { (slot_vtable::<I>().drop)(data.cast()) }
}

const fn slot_raw_vtable<const I: usize>() -> RawWakerVTable {
    RawWakerVTable::new(
        slot_clone::<I>,
        slot_wake::<I>,
        slot_wake_by_ref::<I>,
        slot_drop::<I>,
    )
}

/// The `RawWakerVTable` of each slot (a `static`: its address identifies
/// the slot, see [`host_waker_of`]).
static SLOT_VTABLES: [RawWakerVTable; HOST_VTABLE_SLOTS] = [
    slot_raw_vtable::<0>(),
    slot_raw_vtable::<1>(),
    slot_raw_vtable::<2>(),
    slot_raw_vtable::<3>(),
];

/// The slot holding `vt`, if any.
fn find_slot(vt: *const awake_waker_vtable) -> Option<usize> {
    HOST_VTABLES
        .iter()
        .position(|s| ptr::eq(s.load(Acquire), vt))
}

/// Records `vt` as a host waker vtable (if there is a free slot and it is
/// not already known) and returns its slot.  Never records a vtable this
/// crate implements itself, nor NULL.  Cheap when `vt` is known: at most
/// [`HOST_VTABLE_SLOTS`] atomic loads.
pub fn learn_host_vtable(vt: *const awake_waker_vtable) -> Option<usize> {
    if vt.is_null() || ptr::eq(vt, &RUST_WAKER_VTABLE) {
        return None;
    }
    for (i, s) in HOST_VTABLES.iter().enumerate() {
        let cur = s.load(Acquire);
        if ptr::eq(cur, vt) {
            return Some(i);
        }
        if cur.is_null() {
            match s.compare_exchange(ptr::null_mut(), vt.cast_mut(), AcqRel, Acquire) {
                Ok(_) => return Some(i),
                Err(now) if ptr::eq(now, vt) => return Some(i),
                Err(_) => continue, // another vtable took it; try the next
            }
        }
    }
    None
}

// ---- foreign (unknown vtable) fallback ----------------------------------------

/// A borrowed foreign waker: data points at the caller's `awake_waker`,
/// which outlives the borrow.  Only lives inside `ManuallyDrop` (see
/// [`with_waker`]), so wake/drop are never called; clone boxes a real clone.
static FOREIGN_BORROWED: RawWakerVTable = RawWakerVTable::new(
    foreign_borrowed_clone,
    foreign_borrowed_wake,
    foreign_wake_by_ref,
    foreign_borrowed_drop,
);

/// An owned foreign waker: data is a `Box<awake_waker>` holding one owned
/// reference.
static FOREIGN_OWNED: RawWakerVTable = RawWakerVTable::new(
    foreign_owned_clone,
    foreign_owned_wake,
    foreign_wake_by_ref,
    foreign_owned_drop,
);

unsafe fn foreign_borrowed_clone(data: *const ()) -> RawWaker {
    // SAFETY: data is the caller's live awake_waker (borrowed form).
    unsafe { raw_from_owned(awake_waker_clone(*data.cast::<awake_waker>())) }
}

unsafe fn foreign_borrowed_wake(data: *const ()) {
    // Unreachable through ManuallyDrop; a borrowed waker cannot be consumed.
    // SAFETY: data is the caller's live awake_waker.
    unsafe { awake_waker_wake_by_ref(&*data.cast::<awake_waker>()) }
}

unsafe fn foreign_borrowed_drop(_: *const ()) {}

unsafe fn foreign_wake_by_ref(data: *const ()) {
    // SAFETY: data points at a live awake_waker (borrowed or boxed).
    unsafe { awake_waker_wake_by_ref(&*data.cast::<awake_waker>()) }
}

unsafe fn foreign_owned_clone(data: *const ()) -> RawWaker {
    // SAFETY: data is our Box<awake_waker>, alive while this Waker is.
    unsafe { raw_from_owned(awake_waker_clone(*data.cast::<awake_waker>())) }
}

unsafe fn foreign_owned_wake(data: *const ()) {
    // SAFETY: data is our Box<awake_waker>, owned by this Waker (consumed).
    let b = unsafe { Box::from_raw(data.cast::<awake_waker>().cast_mut()) };
    // SAFETY: the box held one owned reference; wake consumes it.
    unsafe { awake_waker_wake(*b) }
}

unsafe fn foreign_owned_drop(data: *const ()) {
    // SAFETY: as in foreign_owned_wake.
    let b = unsafe { Box::from_raw(data.cast::<awake_waker>().cast_mut()) };
    // SAFETY: the box held one owned reference; drop releases it.
    unsafe { awake_waker_drop(*b) }
}

// ---- awake_waker -> Waker ---------------------------------------------------

/// Makes a `RawWaker` that owns the reference `w`.
///
/// # Safety
/// `w` is an owned, set waker; ownership moves into the result.
unsafe fn raw_from_owned(w: awake_waker) -> RawWaker {
    if ptr::eq(w.vtable, &RUST_WAKER_VTABLE) {
        // One of ours coming back: unwrap the std Waker inside.
        // SAFETY: RUST_WAKER_VTABLE data is an Arc<Waker> reference we own.
        let arc = unsafe { Arc::from_raw(w.data.cast::<Waker>()) };
        let waker = Arc::try_unwrap(arc).unwrap_or_else(|arc| (*arc).clone());
        let waker = ManuallyDrop::new(waker);
        return RawWaker::new(waker.data(), waker.vtable());
    }
    if let Some(i) = find_slot(w.vtable) {
        return RawWaker::new(w.data.cast(), &SLOT_VTABLES[i]);
    }
    RawWaker::new(
        Box::into_raw(Box::new(w)).cast_const().cast(),
        &FOREIGN_OWNED,
    )
}

/// Takes ownership of the awake waker `w` and returns an equivalent std
/// `Waker` (no allocation when `w`'s vtable is a known host vtable or when
/// `w` wraps a std `Waker`).
///
/// # Safety
/// `w` is an owned, set, valid waker; it must not be used afterwards.
pub unsafe fn waker_from_owned(w: awake_waker) -> Waker {
    // SAFETY: raw_from_owned returns a RawWaker honouring the RawWaker
    // contract (thread-safe, refcounted) because awake wakers are.
    unsafe { Waker::from_raw(raw_from_owned(w)) }
}

/// Calls `f` with a std `Waker` that borrows the awake waker `w` (as in a
/// context: valid for the call only).  Nothing is cloned or allocated: a
/// known host vtable maps `w.data` directly, a [`RUST_WAKER_VTABLE`] waker
/// yields the std `Waker` inside it, any other vtable is pointed at by a
/// stack borrow.  Clones made inside `f` are owned and may outlive it.
///
/// # Safety
/// `w` is a set, valid waker that stays alive during `f`.
pub unsafe fn with_waker<R>(w: awake_waker, f: impl FnOnce(&Waker) -> R) -> R {
    if ptr::eq(w.vtable, &RUST_WAKER_VTABLE) {
        // SAFETY: data is an Arc<Waker> kept alive by the borrowed reference.
        return f(unsafe { &*w.data.cast::<Waker>() });
    }
    let raw = match find_slot(w.vtable) {
        Some(i) => RawWaker::new(w.data.cast(), &SLOT_VTABLES[i]),
        // `w` is our by-value parameter: its address is valid for this call.
        None => RawWaker::new(ptr::addr_of!(w).cast(), &FOREIGN_BORROWED),
    };
    // ManuallyDrop: the reference is borrowed, never released here.
    // SAFETY: the vtables above honour the RawWaker contract.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
    f(&waker)
}

// ---- Waker -> awake_waker -----------------------------------------------------

/// If `w` wraps an awake waker (a known host vtable or the foreign
/// fallback), returns that awake waker, borrowed: valid while `w` is.
/// No clone, no allocation: the host sees its own waker.
pub fn host_waker_of(w: &Waker) -> Option<awake_waker> {
    let vt: *const RawWakerVTable = w.vtable();
    if let Some(i) = SLOT_VTABLES.iter().position(|s| ptr::eq(s, vt)) {
        let host_vt = HOST_VTABLES[i].load(Acquire);
        return Some(awake_waker {
            data: w.data().cast(),
            vtable: host_vt,
        });
    }
    if ptr::eq(vt, &FOREIGN_OWNED) || ptr::eq(vt, &FOREIGN_BORROWED) {
        // SAFETY: both keep a live awake_waker at `data` while `w` lives.
        return Some(unsafe { *w.data().cast::<awake_waker>() });
    }
    None
}

/// The awake vtable behind which a std `Waker` is handed to C: data is an
/// `Arc<Waker>` (from `Arc::into_raw`); clone increments the count and
/// returns the same data pointer, so clones satisfy awake_waker_will_wake.
/// Every function catches panics (a panicking std waker must not unwind
/// into C) and is thread-safe because `Waker` is `Send + Sync`.
pub static RUST_WAKER_VTABLE: awake_waker_vtable = awake_waker_vtable {
    size: core::mem::size_of::<awake_waker_vtable>() as u32,
    flags: 0,
    clone: rust_waker_clone,
    wake: rust_waker_wake,
    wake_by_ref: rust_waker_wake_by_ref,
    drop: rust_waker_drop,
};

unsafe extern "C" fn rust_waker_clone(data: *const c_void) -> awake_waker {
    // SAFETY: data is a live Arc<Waker> reference (the one being cloned).
    unsafe { Arc::increment_strong_count(data.cast::<Waker>()) };
    awake_waker {
        data,
        vtable: &RUST_WAKER_VTABLE,
    }
}

unsafe extern "C" fn rust_waker_wake(data: *const c_void) {
    // SAFETY: data is an Arc<Waker> reference we own; wake consumes it.
    let arc = unsafe { Arc::from_raw(data.cast::<Waker>()) };
    crate::adapter::no_unwind("awake waker wake", || arc.wake_by_ref());
}

unsafe extern "C" fn rust_waker_wake_by_ref(data: *const c_void) {
    // SAFETY: data is a live Arc<Waker> reference, borrowed here.
    let w = unsafe { &*data.cast::<Waker>() };
    crate::adapter::no_unwind("awake waker wake_by_ref", || w.wake_by_ref());
}

unsafe extern "C" fn rust_waker_drop(data: *const c_void) {
    // SAFETY: data is an Arc<Waker> reference we own.
    let arc = unsafe { Arc::from_raw(data.cast::<Waker>()) };
    crate::adapter::no_unwind("awake waker drop", move || drop(arc));
}

/// Gives a std `Waker` to C as an `awake_waker`, caching the conversion so
/// that polling the same task again costs nothing.
///
/// * a `Waker` that wraps a host waker yields that host waker itself;
/// * any other `Waker` is cloned into one `Arc` behind
///   [`RUST_WAKER_VTABLE`], kept until a poll brings a `Waker` that would
///   not wake the same task.
///
/// The returned `awake_waker` is borrowed (as in a context): valid until the
/// next `view` or until the bridge is dropped; C clones it to keep it.
#[derive(Default)]
pub struct WakerBridge {
    arc: Option<ptr::NonNull<Waker>>,
}

// SAFETY: the only field is an Arc<Waker> reference; Waker is Send + Sync.
unsafe impl Send for WakerBridge {}
// SAFETY: as above; &WakerBridge gives no access to the Waker.
unsafe impl Sync for WakerBridge {}

impl WakerBridge {
    /// A bridge with nothing cached.
    pub const fn new() -> Self {
        WakerBridge { arc: None }
    }

    /// The `awake_waker` to put in a context for a poll made with `w`.
    pub fn view(&mut self, w: &Waker) -> awake_waker {
        if let Some(host) = host_waker_of(w) {
            return host;
        }
        if let Some(p) = self.arc {
            // SAFETY: `p` is our live Arc<Waker> reference.
            if unsafe { p.as_ref() }.will_wake(w) {
                return awake_waker {
                    data: p.as_ptr().cast_const().cast(),
                    vtable: &RUST_WAKER_VTABLE,
                };
            }
        }
        self.release();
        let p = Arc::into_raw(Arc::new(w.clone())).cast_mut();
        // SAFETY: Arc::into_raw never returns NULL.
        let p = unsafe { ptr::NonNull::new_unchecked(p) };
        self.arc = Some(p);
        awake_waker {
            data: p.as_ptr().cast_const().cast(),
            vtable: &RUST_WAKER_VTABLE,
        }
    }

    fn release(&mut self) {
        if let Some(p) = self.arc.take() {
            // SAFETY: we own this Arc<Waker> reference.
            drop(unsafe { Arc::from_raw(p.as_ptr().cast_const()) });
        }
    }
}

impl Drop for WakerBridge {
    fn drop(&mut self) {
        self.release();
    }
}

/// A no-op awake waker implemented in Rust (`awake_waker_noop`).
pub fn awake_waker_noop() -> awake_waker {
    static NOOP: awake_waker_vtable = awake_waker_vtable {
        size: core::mem::size_of::<awake_waker_vtable>() as u32,
        flags: 0,
        clone: noop_clone,
        wake: noop_fn,
        wake_by_ref: noop_fn,
        drop: noop_fn,
    };
    unsafe extern "C" fn noop_clone(_: *const c_void) -> awake_waker {
        awake_waker_noop()
    }
    unsafe extern "C" fn noop_fn(_: *const c_void) {}
    awake_waker {
        data: ptr::null(),
        vtable: &NOOP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testhost::{allocations, FakeTask, FOREIGN_VT};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::Wake;

    #[test]
    fn host_waker_maps_directly_and_clones_without_allocating() {
        let task = FakeTask::new();
        let hw = task.waker();
        assert!(learn_host_vtable(hw.vtable).is_some());
        let a0 = allocations();
        let (clone_data, view) = unsafe {
            with_waker(hw, |w| {
                assert_eq!(
                    w.data(),
                    hw.data.cast(),
                    "data pointer passed through unchanged"
                );
                let c = w.clone();
                let d = c.data();
                let v = host_waker_of(&c);
                c.wake_by_ref();
                let c2 = c.clone();
                c2.wake(); // consumes: host wake
                drop(c); // host drop
                (d, v)
            })
        };
        assert_eq!(allocations(), a0, "no allocation on the host-vtable path");
        assert_eq!(clone_data, hw.data.cast(), "host clone's data used as-is");
        assert_eq!(
            view,
            Some(hw),
            "unwrapping gives back the original host waker"
        );
        assert_eq!(
            task.clones(),
            2,
            "each Waker::clone reached the host clone once"
        );
        assert_eq!((task.wake_by_refs(), task.wakes(), task.drops()), (1, 1, 1));
        assert_eq!(task.refs(), 0, "clones balance wakes + drops");
        assert!(
            task.only_saw_own_data(),
            "every host call got the original data pointer"
        );
    }

    #[test]
    fn owned_host_waker_round_trips() {
        let task = FakeTask::new();
        let hw = task.waker();
        learn_host_vtable(hw.vtable);
        let owned = unsafe { awake_waker_clone(hw) };
        let a0 = allocations();
        let w = unsafe { waker_from_owned(owned) };
        assert_eq!(host_waker_of(&w), Some(hw));
        let mut bridge = WakerBridge::new();
        assert_eq!(
            bridge.view(&w),
            hw,
            "a bridge hands the host its own waker back"
        );
        assert!(bridge.arc.is_none());
        drop(w);
        assert_eq!(allocations(), a0);
        assert_eq!((task.clones(), task.drops(), task.refs()), (1, 1, 0));
    }

    #[test]
    fn foreign_vtable_falls_back_to_a_box_and_balances() {
        // FOREIGN_VT is never learned: it is the "unknown vtable" case.
        let task = FakeTask::with_vtable(&FOREIGN_VT);
        let fw = task.waker();
        assert!(find_slot(fw.vtable).is_none());
        let a0 = allocations();
        let cloned = unsafe {
            with_waker(fw, |w| {
                assert_eq!(allocations(), a0, "a borrowed foreign waker is not boxed");
                assert_eq!(host_waker_of(w), Some(fw));
                w.wake_by_ref();
                w.clone()
            })
        };
        assert!(allocations() > a0, "an owned foreign waker is boxed");
        assert_eq!(
            host_waker_of(&cloned),
            Some(fw),
            "the box unwraps to the foreign waker"
        );
        let c2 = cloned.clone();
        c2.wake();
        drop(cloned);
        assert_eq!(
            (
                task.clones(),
                task.wakes(),
                task.wake_by_refs(),
                task.drops()
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(task.refs(), 0);
        assert!(task.only_saw_own_data());
    }

    struct CountingWake(AtomicUsize);
    impl Wake for CountingWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn rust_waker_goes_to_c_behind_an_arc_and_comes_back_unwrapped() {
        let inner = Arc::new(CountingWake(AtomicUsize::new(0)));
        let w = Waker::from(inner.clone());
        let mut bridge = WakerBridge::new();
        let aw = bridge.view(&w);
        assert!(ptr::eq(aw.vtable, &RUST_WAKER_VTABLE));
        assert_eq!(bridge.view(&w), aw, "same task: cached, no new Arc");
        assert_eq!(
            bridge.view(&w.clone()),
            aw,
            "a clone would wake the same task"
        );
        let a0 = allocations();
        // C side: clone (refcount only, same data), wake_by_ref, wake.
        let c = unsafe { awake_waker_clone(aw) };
        assert!(awake_waker_will_wake(c, aw), "clones keep both words equal");
        unsafe { awake_waker_wake_by_ref(&c) };
        unsafe { awake_waker_wake(c) };
        assert_eq!(
            allocations(),
            a0,
            "cloning a Rust waker from C does not allocate"
        );
        assert_eq!(inner.0.load(SeqCst), 2);
        // Back to Rust: borrowed gives the very std Waker, owned unwraps.
        unsafe { with_waker(aw, |b| assert!(b.will_wake(&w))) };
        let back = unsafe { waker_from_owned(awake_waker_clone(aw)) };
        assert!(back.will_wake(&w), "unwrapped, not re-wrapped");
        drop(back);
        drop(bridge);
        drop(w);
        assert_eq!(Arc::strong_count(&inner), 1, "every Arc reference released");
    }

    #[test]
    fn learning_never_takes_our_own_vtable_and_is_idempotent() {
        assert_eq!(learn_host_vtable(&RUST_WAKER_VTABLE), None);
        assert_eq!(learn_host_vtable(ptr::null()), None);
        let task = FakeTask::new();
        let a = learn_host_vtable(task.waker().vtable);
        assert!(a.is_some());
        assert_eq!(learn_host_vtable(task.waker().vtable), a);
    }
}
