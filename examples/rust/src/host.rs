//! The host of the poll in progress, for Rust futures.
//!
//! A std `Context` carries only a `Waker`, but a leaf future (a timer, an
//! fd) must reach the host's reactor.  The adapter that polls an exported
//! future records the host's `awake_context` in a thread-local for exactly
//! the duration of that poll (`enter`); Rust futures polled inside it --
//! however deeply nested in `async` blocks and joins -- reach the host
//! through [`current`].  Nested adapter polls (a host future that polls one
//! of our exported futures from inside our poll) save and restore it.
//!
//! There is therefore no "no reactor running" case for a future polled by
//! the host: the host's context is always there.  Polling such a future
//! outside any host poll (e.g. with a hand-made std executor) gives
//! [`ERR_NO_HOST`] instead of a hang.

use core::cell::Cell;
use core::ptr;

use crate::adapter::{export, HostFuture};
use crate::sys::*;
use crate::Error;

/// Error code: a host service was needed but no host poll is in progress.
pub const ERR_NO_HOST: i32 = 3;

thread_local! {
    // Const-initialised, no destructor: costs one TLS access, and never
    // registers a thread-exit hook (this library may live on threads the
    // host created from Go or C).
    static CURRENT: Cell<*mut awake_context> = const { Cell::new(ptr::null_mut()) };
}

/// While alive, `current()` on this thread returns the context it was made
/// with; dropping it restores the previous one (also when unwinding).
pub(crate) struct Enter {
    prev: *mut awake_context,
}

/// Makes `cx` the current host context of this thread until the guard drops.
pub(crate) fn enter(cx: *mut awake_context) -> Enter {
    Enter {
        prev: CURRENT.with(|c| c.replace(cx)),
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
    }
}

/// The host context of the poll in progress on this thread.
pub fn current() -> Result<*mut awake_context, Error> {
    let cx = CURRENT.with(|c| c.get());
    if cx.is_null() {
        return Err(Error::new(
            ERR_NO_HOST,
            "no awake host poll in progress on this thread: this future needs the host's \
             services and must be polled by an awake host (export it with adapter::export)",
        ));
    }
    Ok(cx)
}

/// A copy of the current context with `waker` in place of the host's
/// waker, for polling a C future or parking a waker in a host event from
/// Rust.  Valid for this poll only, like the original.
pub fn context_with_waker(waker: awake_waker) -> Result<awake_context, Error> {
    let cx = current()?;
    // SAFETY: live context; the adapter checked that it is at least as big
    // as the awake_context this crate knows (readers never read past size).
    let mut c = unsafe { *cx };
    c.size = core::mem::size_of::<awake_context>() as u32;
    c.waker = waker;
    Ok(c)
}

/// CLOCK_MONOTONIC in nanoseconds, from the host (`now_ns`).
pub fn now_ns() -> Result<u64, Error> {
    let cx = current()?;
    // SAFETY: live context; now_ns is [poll thread] and we are in a poll.
    Ok(unsafe { ((*(*cx).host).now_ns)(cx) })
}

/// Writes a log record through the host (`log`).
pub fn log(level: i32, msg: &str) -> Result<(), Error> {
    let cx = current()?;
    // SAFETY: live context; msg need not be NUL-terminated (len given).
    unsafe { ((*(*cx).host).log)(cx, level, msg.as_ptr().cast(), msg.len()) };
    Ok(())
}

/// Hands an awake future to the host executor as a new task and returns
/// its join future, to be awaited from Rust (`spawn`).  The host owns `fut`
/// from here on, even on failure.
///
/// # Safety
/// `fut` is a valid, owned awake future.
pub unsafe fn spawn(fut: awake_future) -> Result<HostFuture, Error> {
    let cx = current()?;
    let mut join = awake_future {
        self_: ptr::null_mut(),
        vtable: ptr::null(),
    };
    // SAFETY: live context; spawn is [poll thread]; `join` is writable.
    let rc = unsafe { ((*(*cx).host).spawn)(cx, fut, &mut join) };
    if rc != AWAKE_OK {
        return Err(Error::new(
            rc,
            format!("host spawn failed with code {rc} (-3: the runtime is closing)"),
        ));
    }
    // SAFETY: on AWAKE_OK the host stored an owned join future in `join`.
    unsafe { HostFuture::new(join) }
}

/// Spawns a Rust future on the host as its own task (exported with
/// [`export`]: text output, may run on any thread) and returns its join.
pub fn spawn_rust<F, T>(name: &'static str, fut: F) -> Result<HostFuture, Error>
where
    F: core::future::Future<Output = T> + Send + 'static,
    T: crate::adapter::IntoOutput,
{
    // SAFETY: export() returns a valid owned awake future.
    unsafe { spawn(export(name, fut)) }
}

/// Makes a future from a function the host offers by name (`call`, e.g. a
/// Go function registered with Runtime.Offer) and returns it to be awaited
/// from Rust.  Fails when the host has no `call` (its table is older, or the
/// field is NULL) or offers no such function.
pub fn call(name: &str, args: &[u8]) -> Result<HostFuture, Error> {
    let cx = current()?;
    // SAFETY: live context; the host table lives as long as the process.
    // No reference to the table is made: it may be shorter than our struct.
    let h: *const awake_host = unsafe { (*cx).host };
    // SAFETY: `size` is the first field of every host table.
    let has_call = (unsafe { (*h).size } as usize) > core::mem::offset_of!(awake_host, call);
    // SAFETY: the field lies within the host's table (checked just above).
    let Some(call) = (if has_call { unsafe { (*h).call } } else { None }) else {
        return Err(Error::new(
            AWAKE_E_INVALID,
            format!("host call \"{name}\": this host offers no functions (awake_host.call is absent or NULL)"),
        ));
    };
    let cname = std::ffi::CString::new(name).map_err(|_| {
        Error::new(
            AWAKE_E_INVALID,
            format!("host call {name:?}: name contains a NUL byte"),
        )
    })?;
    let mut fut = awake_future {
        self_: ptr::null_mut(),
        vtable: ptr::null(),
    };
    let mut err: *mut awake_error = ptr::null_mut();
    // SAFETY: live context, [poll thread]; args are copied by the host
    // before it returns; out-pointers are writable.
    let rc = unsafe {
        call(
            cx,
            cname.as_ptr(),
            args.as_ptr(),
            args.len(),
            &mut fut,
            &mut err,
        )
    };
    if rc != AWAKE_OK {
        // SAFETY: on failure the host stored an owned error or left NULL.
        let e = unsafe { Error::from_awake(err, &format!("host call \"{name}\"")) };
        return Err(Error::new(rc, e.message));
    }
    // SAFETY: on AWAKE_OK the host stored an owned future in `fut`.
    unsafe { HostFuture::new(fut) }
}
