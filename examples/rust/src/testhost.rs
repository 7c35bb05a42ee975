//! Test doubles (compiled for `cargo test` only):
//!
//! * [`FakeTask`]: a host waker with a counting vtable ([`FAKE_VT`], or
//!   [`FOREIGN_VT`] for "a vtable nobody learned") that records clone /
//!   wake / wake_by_ref / drop and whether every call got the task's own
//!   data pointer;
//! * a counting global allocator, per thread ([`allocations`]), to prove
//!   that a path does not allocate;
//! * [`FakeHost`] and [`block_on`]: a host table with timers on a virtual
//!   clock and a one-task executor, so that exported futures can be run
//!   deterministically (no real time passes; a timer fires when the
//!   executor has nothing else to do and advances the clock to it).

use core::cell::Cell;
use core::ffi::{c_char, c_void};
use core::ptr;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::event::host_fire;
use crate::sys::*;
use crate::waker::awake_waker_drop;

// ---- counting allocator ------------------------------------------------------

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // try_with: allocations during thread teardown are not counted.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards to the system allocator; the counter does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made so far by this thread.
pub fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}

// ---- a counting host waker ------------------------------------------------------

/// The counters behind one fake task's waker.
pub struct Counters {
    me: AtomicPtr<Counters>,
    clones: AtomicUsize,
    wakes: AtomicUsize,
    wake_by_refs: AtomicUsize,
    drops: AtomicUsize,
    foreign_data: AtomicBool,
    mu: Mutex<()>,
    cv: Condvar,
}

/// The "host" waker vtable of the tests (learned by the adapter).
pub static FAKE_VT: awake_waker_vtable = awake_waker_vtable {
    size: core::mem::size_of::<awake_waker_vtable>() as u32,
    flags: 0,
    clone: fake_clone,
    wake: fake_wake,
    wake_by_ref: fake_wake_by_ref,
    drop: fake_drop,
};

/// The same functions behind another address: a vtable never learned.
pub static FOREIGN_VT: awake_waker_vtable = awake_waker_vtable {
    size: core::mem::size_of::<awake_waker_vtable>() as u32,
    flags: 0,
    clone: foreign_clone,
    wake: fake_wake,
    wake_by_ref: fake_wake_by_ref,
    drop: fake_drop,
};

fn counters<'a>(data: *const c_void) -> &'a Counters {
    // SAFETY: tests only hand out wakers whose data is a live Counters.
    let c = unsafe { &*data.cast::<Counters>() };
    if !ptr::eq(c.me.load(SeqCst), data.cast()) {
        c.foreign_data.store(true, SeqCst);
    }
    c
}

unsafe extern "C" fn fake_clone(data: *const c_void) -> awake_waker {
    counters(data).clones.fetch_add(1, SeqCst);
    awake_waker {
        data,
        vtable: &FAKE_VT,
    }
}

unsafe extern "C" fn foreign_clone(data: *const c_void) -> awake_waker {
    counters(data).clones.fetch_add(1, SeqCst);
    awake_waker {
        data,
        vtable: &FOREIGN_VT,
    }
}

fn notify(c: &Counters) {
    let _g = c.mu.lock().unwrap();
    c.cv.notify_all();
}

unsafe extern "C" fn fake_wake(data: *const c_void) {
    let c = counters(data);
    c.wakes.fetch_add(1, SeqCst);
    notify(c);
}

unsafe extern "C" fn fake_wake_by_ref(data: *const c_void) {
    let c = counters(data);
    c.wake_by_refs.fetch_add(1, SeqCst);
    notify(c);
}

unsafe extern "C" fn fake_drop(data: *const c_void) {
    counters(data).drops.fetch_add(1, SeqCst);
}

/// A task of a fake host: its waker counts what is done with it.
pub struct FakeTask {
    c: Arc<Counters>,
    vt: &'static awake_waker_vtable,
}

impl FakeTask {
    /// A task whose waker has the host vtable [`FAKE_VT`].
    pub fn new() -> Self {
        Self::with_vtable(&FAKE_VT)
    }

    /// A task whose waker has `vt` ([`FAKE_VT`] or [`FOREIGN_VT`]).
    pub fn with_vtable(vt: &'static awake_waker_vtable) -> Self {
        let c = Arc::new(Counters {
            me: AtomicPtr::new(ptr::null_mut()),
            clones: AtomicUsize::new(0),
            wakes: AtomicUsize::new(0),
            wake_by_refs: AtomicUsize::new(0),
            drops: AtomicUsize::new(0),
            foreign_data: AtomicBool::new(false),
            mu: Mutex::new(()),
            cv: Condvar::new(),
        });
        c.me.store(Arc::as_ptr(&c).cast_mut(), SeqCst);
        FakeTask { c, vt }
    }

    /// The task's waker (borrowed form: no clone counted).
    pub fn waker(&self) -> awake_waker {
        awake_waker {
            data: Arc::as_ptr(&self.c).cast(),
            vtable: self.vt,
        }
    }

    pub fn clones(&self) -> usize {
        self.c.clones.load(SeqCst)
    }
    pub fn wakes(&self) -> usize {
        self.c.wakes.load(SeqCst)
    }
    pub fn wake_by_refs(&self) -> usize {
        self.c.wake_by_refs.load(SeqCst)
    }
    pub fn drops(&self) -> usize {
        self.c.drops.load(SeqCst)
    }
    /// All wakes, consuming or not.
    pub fn all_wakes(&self) -> usize {
        self.wakes() + self.wake_by_refs()
    }
    /// Owned references alive: clones minus wakes minus drops.
    pub fn refs(&self) -> isize {
        self.clones() as isize - self.wakes() as isize - self.drops() as isize
    }
    /// Every vtable call received this task's own data pointer.
    pub fn only_saw_own_data(&self) -> bool {
        !self.c.foreign_data.load(SeqCst)
    }
    /// Waits until `wake` was called at least `n` times; false if that does
    /// not happen within 10 s (a safety net against hanging on a lost wake,
    /// not a timing assertion).
    pub fn wait_wakes(&self, n: usize) -> bool {
        let mut g = self.c.mu.lock().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.wakes() < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            g = self.c.cv.wait_timeout(g, left).unwrap().0;
        }
        true
    }
}

// ---- a fake host on a virtual clock ------------------------------------------------

/// Host state reached from contexts (host_data) and timers (reserved).
pub struct FakeHost {
    pub now: AtomicU64,
    timers: Mutex<Vec<usize>>, // open timers (*mut awake_timer as usize)
    pub opened: AtomicUsize,
    pub closed: AtomicUsize,
    pub logs: Mutex<Vec<String>>,
}

impl FakeHost {
    pub fn new() -> Box<FakeHost> {
        Box::new(FakeHost {
            now: AtomicU64::new(1_000_000_000),
            timers: Mutex::new(Vec::new()),
            opened: AtomicUsize::new(0),
            closed: AtomicUsize::new(0),
            logs: Mutex::new(Vec::new()),
        })
    }

    pub fn open_timers(&self) -> usize {
        self.timers.lock().unwrap().len()
    }

    /// Advances the clock to the earliest pending deadline and fires every
    /// timer due.  Returns false when no timer is pending.
    fn fire_next(&self) -> bool {
        let timers = self.timers.lock().unwrap().clone();
        let pending: Vec<*mut awake_timer> = timers
            .into_iter()
            .map(|t| t as *mut awake_timer)
            // SAFETY: open timers are live boxes owned by this host.
            .filter(|&t| {
                let st = unsafe {
                    core::sync::atomic::AtomicU64::from_ptr(ptr::addr_of_mut!((*t).event.state))
                };
                st.load(SeqCst) & AWAKE_EVENT_READY == 0
            })
            .collect();
        // SAFETY: as above.
        let Some(next) = pending.iter().map(|&t| unsafe { (*t).deadline_ns }).min() else {
            return false;
        };
        self.now.fetch_max(next, SeqCst);
        let now = self.now.load(SeqCst);
        for t in pending {
            // SAFETY: as above.
            if unsafe { (*t).deadline_ns } <= now {
                unsafe { host_fire(ptr::addr_of_mut!((*t).event)) };
            }
        }
        true
    }
}

fn host_of(cx: *const awake_context) -> &'static FakeHost {
    // SAFETY: contexts made by block_on carry a live FakeHost in host_data.
    unsafe { &*(*cx).host_data.cast::<FakeHost>() }
}

unsafe extern "C" fn fh_now(cx: *const awake_context) -> u64 {
    host_of(cx).now.load(SeqCst)
}

unsafe extern "C" fn fh_timer_open(
    cx: *mut awake_context,
    deadline: u64,
    out: *mut *mut awake_timer,
) -> i32 {
    let h = host_of(cx);
    let t = Box::into_raw(Box::new(awake_timer {
        event: awake_event {
            state: 0,
            waker: awake_waker::NONE,
        },
        deadline_ns: deadline,
        reserved: h as *const FakeHost as u64,
    }));
    h.timers.lock().unwrap().push(t as usize);
    h.opened.fetch_add(1, SeqCst);
    // SAFETY: the caller's out-pointer.
    unsafe { out.write(t) };
    AWAKE_OK
}

unsafe extern "C" fn fh_timer_reset(
    _: *mut awake_context,
    t: *mut awake_timer,
    deadline: u64,
) -> i32 {
    // SAFETY: an open timer; only its poller races with us, through state.
    unsafe {
        core::sync::atomic::AtomicU64::from_ptr(&mut (*t).event.state)
            .fetch_and(!AWAKE_EVENT_READY, SeqCst);
        (*t).deadline_ns = deadline;
    }
    AWAKE_OK
}

unsafe extern "C" fn fh_timer_close(t: *mut awake_timer) {
    // SAFETY: an open timer made by fh_timer_open, closed once.
    let b = unsafe { Box::from_raw(t) };
    let h = unsafe { &*(b.reserved as *const FakeHost) };
    h.timers.lock().unwrap().retain(|&x| x != t as usize);
    h.closed.fetch_add(1, SeqCst);
    if b.event.waker.vtable.is_null() {
        return;
    }
    // SAFETY: the parked waker is owned by the timer.
    unsafe { awake_waker_drop(b.event.waker) };
}

unsafe extern "C" fn fh_io_open(
    _: *mut awake_context,
    _: i32,
    _: u32,
    _: *mut *mut awake_io,
) -> i32 {
    AWAKE_E_INVALID
}

unsafe extern "C" fn fh_io_close(_: *mut awake_io) {}

unsafe extern "C" fn fh_spawn(
    _: *mut awake_context,
    fut: awake_future,
    _: *mut awake_future,
) -> i32 {
    // The fake host has no task list: it refuses, dropping fut (it owns it).
    // SAFETY: a valid future handed over to us.
    unsafe { ((*fut.vtable).drop)(fut.self_) };
    AWAKE_E_CLOSED
}

unsafe extern "C" fn fh_log(cx: *const awake_context, _: i32, msg: *const c_char, len: usize) {
    // SAFETY: msg is readable for len bytes.
    let s = unsafe { core::slice::from_raw_parts(msg.cast::<u8>(), len) };
    host_of(cx)
        .logs
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(s).into_owned());
}

/// Offers one function, "echo": a future (a Rust export, seen by the plugin
/// only through its C vtable) that sleeps 1 ms on the host and returns
/// "echo: <args>".
unsafe extern "C" fn fh_call(
    _: *mut awake_context,
    name: *const c_char,
    args: *const u8,
    len: usize,
    out: *mut awake_future,
    err: *mut *mut awake_error,
) -> i32 {
    // SAFETY: NUL-terminated name; args readable for len bytes.
    let name = unsafe { crate::c_str(name) };
    let args =
        String::from_utf8_lossy(unsafe { core::slice::from_raw_parts(args, len) }).into_owned();
    if name != "echo" {
        if !err.is_null() {
            let e = crate::Error::new(
                AWAKE_E_INVALID,
                format!("no function \"{name}\" is offered"),
            );
            unsafe { err.write(e.into_awake()) };
        }
        return AWAKE_E_INVALID;
    }
    let f = crate::adapter::export("echo", async move {
        crate::sleep::Sleep::from_ms(1).await?;
        Ok::<_, crate::Error>(format!("echo: {args}"))
    });
    unsafe { out.write(f) };
    AWAKE_OK
}

/// The fake host's function table, in a Sync wrapper.
pub static FAKE_HOST: crate::Static<awake_host> = crate::Static(awake_host {
    size: core::mem::size_of::<awake_host>() as u32,
    abi_major: AWAKE_ABI_MAJOR,
    abi_minor: AWAKE_ABI_MINOR,
    host_data: ptr::null_mut(),
    now_ns: fh_now,
    timer_open: fh_timer_open,
    timer_reset: fh_timer_reset,
    timer_close: fh_timer_close,
    io_open: fh_io_open,
    io_close: fh_io_close,
    spawn: fh_spawn,
    log: fh_log,
    call: Some(fh_call),
});

/// The fake host's function table.
pub fn fake_host_table() -> &'static awake_host {
    &FAKE_HOST.0
}

/// A context for `task` on `host`.
pub fn context(host: &FakeHost, task: &FakeTask) -> awake_context {
    awake_context {
        size: core::mem::size_of::<awake_context>() as u32,
        flags: 0,
        waker: task.waker(),
        host: fake_host_table(),
        host_data: host as *const FakeHost as *mut c_void,
    }
}

/// How a future ended under [`block_on`].
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Text(String),
    Error(i32, String),
    Status(i32),
    Deadlock,
}

/// Polls one awake future once with `task`'s waker.  Returns the status and
/// fills `outcome` when it finished.
pub fn poll_once(
    fut: awake_future,
    host: &FakeHost,
    task: &FakeTask,
    outcome: &mut Option<Outcome>,
) -> i32 {
    let mut cx = context(host, task);
    let mut out = core::mem::MaybeUninit::<awake_bytes>::uninit();
    let mut err: *mut awake_error = ptr::null_mut();
    // SAFETY: a valid future polled by its owner.
    let st = unsafe { ((*fut.vtable).poll)(fut.self_, &mut cx, out.as_mut_ptr().cast(), &mut err) };
    match st {
        AWAKE_PENDING => {}
        AWAKE_READY => {
            // SAFETY: READY wrote an awake_bytes (our futures set OUTPUT_BYTES).
            let b = unsafe { out.assume_init() };
            let text =
                String::from_utf8_lossy(unsafe { core::slice::from_raw_parts(b.data, b.len) })
                    .into_owned();
            unsafe { (b.drop.unwrap())(b.data, b.len) };
            *outcome = Some(Outcome::Text(text));
        }
        AWAKE_ERROR => {
            // SAFETY: ERROR stored an owned error.
            let e = unsafe { crate::Error::from_awake(err, "poll") };
            *outcome = Some(Outcome::Error(e.code, e.message));
        }
        other => *outcome = Some(Outcome::Status(other)),
    }
    st
}

/// Runs `fut` to completion on `host` with one task, firing timers on the
/// virtual clock when the task is not woken otherwise.  Drops `fut`.
/// Returns the outcome and the number of polls.
pub fn block_on(fut: awake_future, host: &FakeHost, task: &FakeTask) -> (Outcome, usize) {
    let mut polls = 0;
    let mut outcome = None;
    loop {
        let woken = task.all_wakes();
        polls += 1;
        if poll_once(fut, host, task, &mut outcome) != AWAKE_PENDING {
            break;
        }
        while task.all_wakes() == woken {
            if !host.fire_next() {
                outcome = Some(Outcome::Deadlock);
                break;
            }
        }
        if outcome.is_some() {
            break;
        }
    }
    // SAFETY: we own fut; dropped once.
    unsafe { ((*fut.vtable).drop)(fut.self_) };
    (outcome.unwrap(), polls)
}
