//! Rust futures as awake futures, and awake futures as Rust futures.
//!
//! * [`export`] / [`export_local`] turn any `Future` whose output is text,
//!   bytes or a `Result` of those into an `awake_future`: one allocation
//!   holding the future, and a static vtable per future type (poll, drop,
//!   cancel; AWAKE_FUTURE_OUTPUT_BYTES).  `poll` is the executor of the
//!   Rust future: it builds a `std::task::Context` around the host's waker
//!   (see `waker.rs`: no allocation, no clone) and records the host context
//!   for leaf futures (`host.rs`).  Outputs are `awake_bytes`, errors owned
//!   `awake_error`s, and a panic becomes AWAKE_ERROR with the panic message.
//! * [`HostFuture`] is the other direction: an `awake_future` made by the
//!   host or a C plugin (a join future from `spawn`, say), polled from Rust
//!   with a context whose waker is converted from the Rust `Waker`.
//!
//! No `extern "C"` function here lets a panic unwind into C: each body runs
//! under `catch_unwind`.

use core::ffi::c_void;
use core::future::Future;
use core::pin::Pin;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering::*};
use core::task::{Context, Poll};
use std::alloc::Layout;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{ERR_FAILED, ERR_PANIC};
use crate::host;
use crate::sys::*;
use crate::waker::{learn_host_vtable, with_waker, WakerBridge};
use crate::Error;

// ---- panics -------------------------------------------------------------------

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn core::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs `f`, catching a panic (reported on stderr) so that it cannot unwind
/// into the C caller.  For functions that have no way to return an error.
pub(crate) fn no_unwind<R>(what: &str, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(p) => {
            eprintln!(
                "awake_example_rust: panic in {what} (stopped at the C boundary): {}",
                panic_message(&*p)
            );
            None
        }
    }
}

// ---- outputs ------------------------------------------------------------------

/// What an exported future may finish with: text or bytes, or a `Result`
/// of those whose error becomes an owned `awake_error`.
pub trait IntoOutput {
    /// The output bytes, or the error to report.
    fn into_output(self) -> Result<Vec<u8>, Error>;
}

impl IntoOutput for Vec<u8> {
    fn into_output(self) -> Result<Vec<u8>, Error> {
        Ok(self)
    }
}

impl IntoOutput for String {
    fn into_output(self) -> Result<Vec<u8>, Error> {
        Ok(self.into_bytes())
    }
}

impl<T: IntoOutput, E: Into<Error>> IntoOutput for Result<T, E> {
    fn into_output(self) -> Result<Vec<u8>, Error> {
        self.map_err(Into::into)?.into_output()
    }
}

unsafe extern "C" fn bytes_drop(data: *const u8, len: usize) {
    // SAFETY: made by write_bytes from a Box<[u8]> of exactly `len` bytes.
    drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(data.cast_mut(), len)) });
}

/// Writes `v` as an `awake_bytes` (freed by its drop) to `out`.
///
/// # Safety
/// `out` is writable and aligned for an `awake_bytes`.
unsafe fn write_bytes(out: *mut c_void, v: Vec<u8>) {
    let b: Box<[u8]> = v.into_boxed_slice();
    let len = b.len();
    let data = Box::into_raw(b).cast::<u8>().cast_const();
    // SAFETY: caller's contract (the host sized and aligned `out` from our
    // vtable's output_size/output_align).
    unsafe {
        out.cast::<awake_bytes>().write(awake_bytes {
            data,
            len,
            drop: Some(bytes_drop),
        })
    };
}

// ---- export: Rust future -> awake_future --------------------------------------

/// The object behind an exported future.  Boxed once and never moved, so
/// the future inside is pinned for its whole life.
struct Exported<F> {
    fut: Option<F>, // None once finished (dropped early to free resources)
    finished: bool,
    cancel: AtomicBool,
    name: &'static str,
}

/// Exports `fut` as an awake future that may be polled from any OS thread
/// (AWAKE_FUTURE_SEND).  `name` appears in panic reports.
pub fn export<F>(name: &'static str, fut: F) -> awake_future
where
    F: Future + Send + 'static,
    F::Output: IntoOutput,
{
    export_flags::<F, true>(name, fut)
}

/// Exports a future that is not `Send`: the host polls it on one OS thread
/// for its whole life (no AWAKE_FUTURE_SEND).
pub fn export_local<F>(name: &'static str, fut: F) -> awake_future
where
    F: Future + 'static,
    F::Output: IntoOutput,
{
    export_flags::<F, false>(name, fut)
}

fn export_flags<F, const SEND: bool>(name: &'static str, fut: F) -> awake_future
where
    F: Future + 'static,
    F::Output: IntoOutput,
{
    // One static vtable per future type (an inline const is promoted to a
    // 'static and may use F).
    let vtable: &'static awake_future_vtable = const {
        &awake_future_vtable {
            size: core::mem::size_of::<awake_future_vtable>() as u32,
            flags: AWAKE_FUTURE_OUTPUT_BYTES | if SEND { AWAKE_FUTURE_SEND } else { 0 },
            output_size: core::mem::size_of::<awake_bytes>() as u32,
            output_align: core::mem::align_of::<awake_bytes>() as u32,
            poll: exported_poll::<F>,
            drop: exported_drop::<F>,
            cancel: Some(exported_cancel::<F>),
        }
    };
    let b = Box::new(Exported {
        fut: Some(fut),
        finished: false,
        cancel: AtomicBool::new(false),
        name,
    });
    awake_future {
        self_: Box::into_raw(b).cast(),
        vtable,
    }
}

unsafe extern "C" fn exported_poll<F>(
    self_: *mut c_void,
    cx: *mut awake_context,
    out: *mut c_void,
    err: *mut *mut awake_error,
) -> i32
where
    F: Future,
    F::Output: IntoOutput,
{
    let this = self_.cast::<Exported<F>>();
    if this.is_null() {
        return AWAKE_MISUSE;
    }
    // SAFETY: self_ is the Box made by export_flags (the host's contract:
    // it passes back what we gave it, never concurrently with itself).
    let name = unsafe { (*this).name };
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as above; this &mut is the only reference during the poll.
        let this = unsafe { &mut *this };
        // SAFETY: cx is NULL or the host's context for this poll.
        unsafe { poll_exported(this, cx, out, err) }
    }));
    match result {
        Ok(status) => status,
        Err(payload) => {
            let msg = format!("{name}: panic in poll: {}", panic_message(&*payload));
            // SAFETY: the closure's borrow ended with the unwind.
            let this = unsafe { &mut *this };
            this.finished = true;
            let fut = this.fut.take();
            no_unwind("drop after a panic", move || drop(fut));
            set_error(err, Error::new(ERR_PANIC, msg));
            AWAKE_ERROR
        }
    }
}

fn set_error(err: *mut *mut awake_error, e: Error) {
    if !err.is_null() {
        // SAFETY: the host passes a writable out-pointer for the error.
        unsafe { err.write(e.into_awake()) };
    }
}

/// The body of `exported_poll`.
///
/// # Safety
/// `cx` is NULL or a valid context for this poll; `out` is NULL or sized and
/// aligned for an `awake_bytes`; `err` is NULL or writable.
unsafe fn poll_exported<F>(
    this: &mut Exported<F>,
    cx: *mut awake_context,
    out: *mut c_void,
    err: *mut *mut awake_error,
) -> i32
where
    F: Future,
    F::Output: IntoOutput,
{
    if this.finished {
        return AWAKE_MISUSE; // polled after it finished: contract broken
    }
    if this.cancel.load(Acquire) {
        this.finished = true;
        this.fut = None; // releases timers, joins... now
        return AWAKE_CANCELLED;
    }
    // SAFETY: checked non-NULL; a host context is valid for the poll.
    let ok_cx = !cx.is_null()
        && unsafe { (*cx).size } as usize >= core::mem::size_of::<awake_context>()
        && unsafe { !(*cx).host.is_null() && !(*cx).waker.vtable.is_null() };
    if !ok_cx {
        set_error(
            err,
            Error::new(
                AWAKE_E_INVALID,
                format!(
                    "{}: polled with a NULL, short or waker-less awake_context",
                    this.name
                ),
            ),
        );
        this.finished = true;
        this.fut = None;
        return AWAKE_ERROR;
    }
    // SAFETY: validated above.
    let waker = unsafe { (*cx).waker };
    learn_host_vtable(waker.vtable);
    let _host = host::enter(cx);
    let Some(fut) = this.fut.as_mut() else {
        return AWAKE_MISUSE;
    };
    // SAFETY: the future lives inside the Box of `this`, which is never
    // moved; it is only ever dropped in place (fut = None).
    let fut = unsafe { Pin::new_unchecked(fut) };
    // SAFETY: the host's waker is valid for the whole poll.
    let poll = unsafe { with_waker(waker, |w| fut.poll(&mut Context::from_waker(w))) };
    let output = match poll {
        Poll::Pending => return AWAKE_PENDING,
        Poll::Ready(output) => output,
    };
    this.finished = true;
    this.fut = None;
    match output.into_output() {
        Ok(bytes) if !out.is_null() => {
            // SAFETY: non-NULL, and sized/aligned from our vtable.
            unsafe { write_bytes(out, bytes) };
            AWAKE_READY
        }
        Ok(_) => {
            set_error(
                err,
                Error::new(
                    AWAKE_E_INVALID,
                    format!("{}: finished but `out` is NULL", this.name),
                ),
            );
            AWAKE_ERROR
        }
        Err(e) => {
            set_error(err, e);
            AWAKE_ERROR
        }
    }
}

unsafe extern "C" fn exported_drop<F>(self_: *mut c_void) {
    if self_.is_null() {
        return;
    }
    // SAFETY: the Box made by export_flags, released exactly once (host's
    // contract).
    let b = unsafe { Box::from_raw(self_.cast::<Exported<F>>()) };
    no_unwind("drop of an exported future", move || drop(b));
}

unsafe extern "C" fn exported_cancel<F>(self_: *mut c_void) -> i32 {
    if self_.is_null() {
        return AWAKE_E_INVALID;
    }
    // SAFETY: live Box made by export_flags; only an atomic is touched.
    unsafe { (*self_.cast::<Exported<F>>()).cancel.store(true, Release) };
    AWAKE_OK
}

// ---- HostFuture: awake_future -> Rust future -----------------------------------

/// What a host future finished with.
#[derive(Debug, PartialEq, Eq)]
pub enum HostOutput {
    /// The future's vtable sets AWAKE_FUTURE_OUTPUT_BYTES: the bytes,
    /// copied (the awake_bytes was released with its drop).
    Bytes(Vec<u8>),
    /// Any other output: its `output_size` raw bytes.
    Raw(Vec<u8>),
}

impl HostOutput {
    /// The bytes as text (lossy UTF-8).
    pub fn text(&self) -> String {
        match self {
            HostOutput::Bytes(b) | HostOutput::Raw(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }
}

/// An awake future made by the host or by C code (a join future from
/// spawn, a C plugin's export), awaited from Rust.  Each poll passes the
/// host context of the poll in progress with its waker replaced by the Rust
/// `Waker` converted through a [`WakerBridge`]: the host's own waker when
/// the Rust waker wraps one, else a cached `Arc<Waker>` behind a Rust awake
/// vtable.  Dropping it drops the awake future (for a join: detaches).
///
/// Not `Send`: use [`HostFuture::into_send`] for futures whose vtable sets
/// AWAKE_FUTURE_SEND.
pub struct HostFuture {
    fut: awake_future,
    out: *mut u8, // output_size bytes aligned to output_align; NULL if none
    layout: Option<Layout>,
    done: bool,
    bridge: WakerBridge,
}

impl HostFuture {
    /// Takes ownership of `fut` (dropped with its vtable when this is).
    /// Fails on an unusable vtable, after dropping `fut` if it can.
    ///
    /// # Safety
    /// `fut` is a valid owned awake future.
    pub unsafe fn new(fut: awake_future) -> Result<HostFuture, Error> {
        if fut.vtable.is_null() {
            return Err(Error::new(AWAKE_E_INVALID, "awake future has no vtable"));
        }
        // SAFETY: non-NULL vtable of a valid future.
        let vt = unsafe { &*fut.vtable };
        let min = core::mem::offset_of!(awake_future_vtable, cancel);
        let (size, align) = (vt.output_size as usize, vt.output_align as usize);
        let layout = if size == 0 {
            Ok(None)
        } else {
            Layout::from_size_align(size, align.max(1)).map(Some)
        };
        let bad = if (vt.size as usize) < min {
            Some(format!("vtable size {} is smaller than {min}", vt.size))
        } else if layout.is_err() {
            Some(format!("output_align {align} is not a power of two"))
        } else {
            None
        };
        if let Some(why) = bad {
            if vt.size as usize >= min {
                // SAFETY: poll and drop lie below `min`, so drop is present.
                unsafe { (vt.drop)(fut.self_) };
            } // else: a table too short to hold drop; leaking is all we can do
            return Err(Error::new(
                AWAKE_E_INVALID,
                format!("unusable awake future: {why}"),
            ));
        }
        let layout = layout.unwrap_or(None);
        let out = match layout {
            // SAFETY: non-zero size.
            Some(l) => unsafe { std::alloc::alloc(l) },
            None => ptr::null_mut(),
        };
        if layout.is_some() && out.is_null() {
            // SAFETY: as above.
            unsafe { (vt.drop)(fut.self_) };
            return Err(Error::new(
                AWAKE_E_NOMEM,
                "out of memory for a host future's output",
            ));
        }
        Ok(HostFuture {
            fut,
            out,
            layout,
            done: false,
            bridge: WakerBridge::new(),
        })
    }

    fn vtable(&self) -> &awake_future_vtable {
        // SAFETY: checked non-NULL in new; valid while the future lives.
        unsafe { &*self.fut.vtable }
    }

    /// The vtable's AWAKE_FUTURE_* flags.
    pub fn flags(&self) -> u32 {
        self.vtable().flags
    }

    /// Asks the future to stop early (vtable cancel).  Returns false when it
    /// has no cancel function.  Keep polling: it answers at its next poll.
    pub fn cancel(&mut self) -> bool {
        let vt = self.vtable();
        let has = vt.size as usize >= core::mem::size_of::<awake_future_vtable>();
        match vt.cancel {
            Some(cancel) if has && !self.done => {
                // SAFETY: live future; cancel is [poll thread] and we are
                // the one polling it.
                unsafe { cancel(self.fut.self_) };
                true
            }
            _ => false,
        }
    }

    /// A `Send` version, when the vtable says the future may be polled from
    /// any thread (AWAKE_FUTURE_SEND); else gives `self` back.
    pub fn into_send(self) -> Result<SendHostFuture, HostFuture> {
        if self.flags() & AWAKE_FUTURE_SEND != 0 {
            Ok(SendHostFuture(self))
        } else {
            Err(self)
        }
    }

    fn take_output(&mut self) -> HostOutput {
        let vt = self.vtable();
        let size = vt.output_size as usize;
        if vt.flags & AWAKE_FUTURE_OUTPUT_BYTES != 0 && size >= core::mem::size_of::<awake_bytes>()
        {
            // SAFETY: READY wrote output_size bytes, an awake_bytes, to `out`
            // (allocated with the vtable's alignment).
            let b = unsafe { self.out.cast::<awake_bytes>().read() };
            let v = if b.len == 0 || b.data.is_null() {
                Vec::new()
            } else {
                // SAFETY: the producer's buffer of b.len bytes, valid until drop.
                unsafe { core::slice::from_raw_parts(b.data, b.len) }.to_vec()
            };
            if let Some(drop) = b.drop {
                // SAFETY: we own the output; released exactly once.
                unsafe { drop(b.data, b.len) };
            }
            HostOutput::Bytes(v)
        } else if size > 0 {
            // SAFETY: READY wrote `size` bytes.
            HostOutput::Raw(unsafe { core::slice::from_raw_parts(self.out, size) }.to_vec())
        } else {
            HostOutput::Raw(Vec::new())
        }
    }
}

impl Future for HostFuture {
    type Output = Result<HostOutput, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut(); // HostFuture is Unpin: the awake future is behind a pointer
        if this.done {
            return Poll::Ready(Err(Error::new(
                AWAKE_MISUSE,
                "host future polled after it finished",
            )));
        }
        let waker = this.bridge.view(cx.waker());
        let mut acx = match host::context_with_waker(waker) {
            Ok(c) => c,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let mut err: *mut awake_error = ptr::null_mut();
        let poll = this.vtable().poll;
        // SAFETY: live future, polled by its owner (never concurrently);
        // acx is a valid context for this poll; out is sized and aligned
        // from the vtable.
        let st = unsafe { poll(this.fut.self_, &mut acx, this.out.cast(), &mut err) };
        if st == AWAKE_PENDING {
            return Poll::Pending;
        }
        this.done = true;
        Poll::Ready(match st {
            AWAKE_READY => Ok(this.take_output()),
            // SAFETY: ERROR stored an owned error (or NULL) in err.
            AWAKE_ERROR => Err(unsafe { Error::from_awake(err, "host future failed") }),
            AWAKE_CANCELLED => Err(Error::new(AWAKE_CANCELLED, "host future was cancelled")),
            AWAKE_MISUSE => Err(Error::new(
                AWAKE_MISUSE,
                "host future reported AWAKE_MISUSE",
            )),
            other => Err(Error::new(
                ERR_FAILED,
                format!("host future returned invalid status {other}"),
            )),
        })
    }
}

impl Drop for HostFuture {
    fn drop(&mut self) {
        let drop_fn = self.vtable().drop;
        // SAFETY: we own the future; drop is legal in any state, once.
        unsafe { drop_fn(self.fut.self_) };
        if let Some(l) = self.layout {
            // SAFETY: allocated in new with this layout.
            unsafe { std::alloc::dealloc(self.out, l) };
        }
    }
}

/// A [`HostFuture`] whose vtable sets AWAKE_FUTURE_SEND.
pub struct SendHostFuture(HostFuture);

// SAFETY: into_send only builds this when the producer declared, with
// AWAKE_FUTURE_SEND, that the future may be polled (and dropped) from any
// OS thread; the output buffer and bridge are plain owned memory.
unsafe impl Send for SendHostFuture {}

impl SendHostFuture {
    /// The wrapped future.
    pub fn get_mut(&mut self) -> &mut HostFuture {
        &mut self.0
    }
}

impl Future for SendHostFuture {
    type Output = Result<HostOutput, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

// ---- make: argument buffer -> awake_future --------------------------------------

/// The body of an export's `make` function: decodes the argument buffer as
/// UTF-8, runs `build`, stores the future or the error, catches panics.
///
/// # Safety
/// The pointers are those the host passed to `make`: `args` readable for
/// `len` bytes (or NULL with len 0), `out` writable, `err` NULL or writable.
pub unsafe fn make_with(
    export: &'static str,
    args: *const u8,
    len: usize,
    out: *mut awake_future,
    err: *mut *mut awake_error,
    build: impl FnOnce(&str) -> Result<awake_future, Error>,
) -> i32 {
    let r = catch_unwind(AssertUnwindSafe(|| {
        if out.is_null() || (args.is_null() && len > 0) {
            return Err(Error::new(
                AWAKE_E_INVALID,
                format!("{export}: make called with a NULL pointer"),
            ));
        }
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: caller's contract.
            unsafe { core::slice::from_raw_parts(args, len) }
        };
        let text = core::str::from_utf8(bytes).map_err(|e| {
            Error::new(
                AWAKE_E_INVALID,
                format!("{export}: arguments are not UTF-8 text: {e}"),
            )
        })?;
        build(text)
    }))
    .unwrap_or_else(|p| {
        Err(Error::new(
            ERR_PANIC,
            format!("{export}: make panicked: {}", panic_message(&*p)),
        ))
    });
    match r {
        Ok(f) => {
            // SAFETY: checked non-NULL above (Ok implies it).
            unsafe { out.write(f) };
            AWAKE_OK
        }
        Err(e) => {
            let code = if e.code < 0 { e.code } else { AWAKE_E_INVALID };
            set_error(err, e);
            code
        }
    }
}
