//! awake_example_rust -- an awake plugin written in Rust, std only.
//!
//! Rust `async` code exported over the awake C ABI (`include/awake.h`) with
//! no crate, no Rust runtime and no second reactor: the host's executor
//! polls the futures, the host's reactor owns the timers, and the host's
//! wakers are used as they are.
//!
//! | module | what it holds |
//! |---|---|
//! | [`sys`] | `#[repr(C)]` bindings of awake.h, with layout assertions |
//! | [`event`] | the event protocol (`awake_event_poll`/`_clear`) in Rust |
//! | [`waker`] | awake_waker <-> std `Waker`, without allocating for host wakers |
//! | [`adapter`] | Rust future -> awake_future ([`adapter::export`]), awake_future -> Rust future ([`adapter::HostFuture`]) |
//! | [`host`] | the host of the poll in progress: now, log, spawn |
//! | [`sleep`] | [`sleep::Sleep`], the tutorial's TimerFuture on host timers |
//! | [`join`] | [`join::join_all`] with one waker per child |
//!
//! Exports (arguments are UTF-8 text; outputs are text):
//!
//! * `sleep <ms>` -> `slept <ms> ms`
//! * `join_sleeps <ms> <ms> ...` -> `joined 3 sleeps in 30.2 ms (6 child polls, one waker per child)`
//! * `spawn_and_join <ms> ...` -> spawns one host task per duration (a
//!   Rust `Sleep` exported as an awake future), awaits the host's join
//!   futures from Rust: `joined 2 spawned tasks in 20.1 ms: slept 10 ms; slept 20 ms`
//! * `await_host <name> [args...]` -> the text output of the function the
//!   host offers as `<name>` (`awake_host.call`, e.g. a Go function given to
//!   Runtime.Offer), awaited from Rust through a `HostFuture`
//! * `panic <message>` -> panics at its first poll; the host gets
//!   AWAKE_ERROR with the message (a panic never unwinds into C)
//!
//! Note for the ABI (minor 1 candidate): awake_host has no field naming the
//! host's waker vtable, so `waker` learns it from the contexts the host
//! polls with.  An appended `const awake_waker_vtable *waker_vtable` in
//! `awake_host` would let a plugin recognise host wakers from the start.

pub mod adapter;
pub mod error;
pub mod event;
pub mod host;
pub mod join;
pub mod sleep;
pub mod sys;
pub mod waker;

#[cfg(test)]
mod plugin_tests;
#[cfg(test)]
mod testhost;

use core::ffi::c_char;
use core::mem::size_of;
use core::sync::atomic::{AtomicPtr, Ordering::*};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use error::Error;

use adapter::{export, export_local, make_with};
use join::join_all;
use sleep::Sleep;
use sys::*;

/// Name of the plugin in its descriptor.
pub const PLUGIN_NAME: &core::ffi::CStr = c"rust_example";

// ---- exports ------------------------------------------------------------------

/// Parses "<ms>" or "<ms>ms": a whole number of milliseconds.
fn parse_ms(export: &str, word: &str) -> Result<u64, Error> {
    word.strip_suffix("ms").unwrap_or(word).parse::<u64>().map_err(|_| {
        Error::new(
            AWAKE_E_INVALID,
            format!("{export}: \"{word}\" is not a duration in milliseconds (expected e.g. \"150\" or \"150ms\")"),
        )
    })
}

/// Parses one or more durations (at most 1000).
fn parse_ms_list(export: &str, args: &str) -> Result<Vec<u64>, Error> {
    let v = args
        .split_whitespace()
        .map(|w| parse_ms(export, w))
        .collect::<Result<Vec<_>, _>>()?;
    if v.is_empty() || v.len() > 1000 {
        return Err(Error::new(
            AWAKE_E_INVALID,
            format!("{export}: expected 1 to 1000 durations in milliseconds such as \"10 20 30\", got \"{args}\""),
        ));
    }
    Ok(v)
}

/// "slept N ms" after a host timer of N ms.
async fn sleep_text(ms: u64) -> Result<String, Error> {
    Sleep::from_ms(ms).await?;
    Ok(format!("slept {ms} ms"))
}

unsafe extern "C" fn make_sleep(
    args: *const u8,
    len: usize,
    out: *mut awake_future,
    err: *mut *mut awake_error,
) -> i32 {
    // SAFETY: the host's make() arguments, passed through.
    unsafe {
        make_with("sleep", args, len, out, err, |a| {
            let ms = match a.split_whitespace().collect::<Vec<_>>()[..] {
                [w] => parse_ms("sleep", w)?,
                _ => {
                    return Err(Error::new(
                        AWAKE_E_INVALID,
                        format!("sleep: expected one duration in ms, got \"{a}\""),
                    ))
                }
            };
            Ok(export("sleep", sleep_text(ms)))
        })
    }
}

unsafe extern "C" fn make_join_sleeps(
    args: *const u8,
    len: usize,
    out: *mut awake_future,
    err: *mut *mut awake_error,
) -> i32 {
    // SAFETY: the host's make() arguments, passed through.
    unsafe {
        make_with("join_sleeps", args, len, out, err, |a| {
            let list = parse_ms_list("join_sleeps", a)?;
            Ok(export("join_sleeps", async move {
                let start = host::now_ns()?;
                let mut joined = join_all(list.iter().map(|&ms| Sleep::from_ms(ms)).collect());
                let results = (&mut joined).await;
                results.into_iter().collect::<Result<Vec<()>, Error>>()?;
                let took = host::now_ns()?.saturating_sub(start);
                Ok::<_, Error>(format!(
                    "joined {} sleeps in {:.1} ms ({} child polls, one waker per child)",
                    list.len(),
                    took as f64 / 1e6,
                    joined.child_polls()
                ))
            }))
        })
    }
}

unsafe extern "C" fn make_spawn_and_join(
    args: *const u8,
    len: usize,
    out: *mut awake_future,
    err: *mut *mut awake_error,
) -> i32 {
    // SAFETY: the host's make() arguments, passed through.
    unsafe {
        make_with("spawn_and_join", args, len, out, err, |a| {
            let list = parse_ms_list("spawn_and_join", a)?;
            Ok(export("spawn_and_join", async move {
                let start = host::now_ns()?;
                // One host task per duration; keep the join futures.
                let mut joins = Vec::with_capacity(list.len());
                for &ms in &list {
                    let j = host::spawn_rust("spawn_and_join child", sleep_text(ms))?;
                    let j = j
                        .into_send()
                        .map_err(|_| Error::from("spawn_and_join: join future is not SEND"))?;
                    joins.push(j);
                }
                // Awaited from Rust.  One join: polled with the task's
                // waker, which goes back to the host as the host's own
                // awake_waker (unwrapped, no allocation).  Several: each is
                // polled with a join child's Rust waker, which the host
                // gets as an Arc<Waker> behind the Rust awake vtable.
                let texts = if joins.len() == 1 {
                    vec![joins.pop().expect("one join").await?.text()]
                } else {
                    join_all(joins)
                        .await
                        .into_iter()
                        .map(|r| r.map(|o| o.text()))
                        .collect::<Result<Vec<_>, Error>>()?
                };
                let took = host::now_ns()?.saturating_sub(start);
                Ok::<_, Error>(format!(
                    "joined {} spawned tasks in {:.1} ms: {}",
                    list.len(),
                    took as f64 / 1e6,
                    texts.join("; ")
                ))
            }))
        })
    }
}

unsafe extern "C" fn make_await_host(
    args: *const u8,
    len: usize,
    out: *mut awake_future,
    err: *mut *mut awake_error,
) -> i32 {
    // SAFETY: the host's make() arguments, passed through.
    unsafe {
        make_with("await_host", args, len, out, err, |a| {
            let a = a.trim_start();
            let (name, rest) = a.split_once(char::is_whitespace).unwrap_or((a, ""));
            if name.is_empty() {
                return Err(Error::new(
                    AWAKE_E_INVALID,
                    "await_host: expected \"<function offered by the host> [args...]\"",
                ));
            }
            let (name, rest) = (name.to_string(), rest.trim_start().to_string());
            // The host future is made at the first poll (call is [poll
            // thread]) and awaited from Rust; its text is the output.
            Ok(export_local("await_host", async move {
                let output = host::call(&name, rest.as_bytes())?.await?;
                Ok::<_, Error>(output.text())
            }))
        })
    }
}

/// The `panic` export's future: panics at its first poll.
struct PanicNow(String);

impl core::future::Future for PanicNow {
    type Output = Result<String, Error>;
    fn poll(
        self: core::pin::Pin<&mut Self>,
        _: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Self::Output> {
        panic!("{}", self.0)
    }
}

unsafe extern "C" fn make_panic(
    args: *const u8,
    len: usize,
    out: *mut awake_future,
    err: *mut *mut awake_error,
) -> i32 {
    // SAFETY: the host's make() arguments, passed through.
    unsafe {
        make_with("panic", args, len, out, err, |a| {
            let msg = if a.is_empty() {
                "panic export polled".to_string()
            } else {
                a.to_string()
            };
            Ok(export("panic", PanicNow(msg)))
        })
    }
}

// ---- descriptor and entry -----------------------------------------------------

/// A static holding raw pointers to static data.
#[repr(transparent)]
struct Static<T>(T);
// SAFETY: only ever points at immutable statics ('static C strings, the
// export array, functions); nothing is written through these pointers.
unsafe impl<T> Sync for Static<T> {}

const fn export_entry(
    name: &'static core::ffi::CStr,
    doc: &'static core::ffi::CStr,
    make: awake_make_fn,
) -> awake_export {
    awake_export {
        size: size_of::<awake_export>() as u32,
        flags: 0,
        name: name.as_ptr(),
        doc: doc.as_ptr(),
        make,
    }
}

static EXPORTS: Static<[awake_export; 5]> = Static([
    export_entry(c"sleep", c"<ms> -> text: slept <ms> ms (one host timer, Rust Sleep future)", make_sleep),
    export_entry(
        c"join_sleeps",
        c"<ms> <ms> ... -> text: joined N sleeps in T ms (Rust join, one waker per child)",
        make_join_sleeps,
    ),
    export_entry(
        c"spawn_and_join",
        c"<ms> ... -> text: spawns a host task per sleep, awaits the join futures from Rust",
        make_spawn_and_join,
    ),
    export_entry(
        c"await_host",
        c"<name> [args...] -> the text of the host function <name> (awake_host.call), awaited from Rust",
        make_await_host,
    ),
    export_entry(c"panic", c"<message> -> error: a panic in poll, reported as AWAKE_ERROR", make_panic),
]);

static PLUGIN: Static<awake_plugin> = Static(awake_plugin {
    size: size_of::<awake_plugin>() as u32,
    abi_major: AWAKE_ABI_MAJOR,
    abi_minor: AWAKE_ABI_MINOR,
    pointer_size: size_of::<*const ()>() as u32,
    endian: AWAKE_ENDIAN_CANARY,
    name: PLUGIN_NAME.as_ptr(),
    version: c"1.0.0".as_ptr(),
    export_count: 5,
    reserved: 0,
    exports: &EXPORTS.0 as *const [awake_export; 5] as *const awake_export,
});

/// The host table given at load time (contexts carry it too).
static HOST: AtomicPtr<awake_host> = AtomicPtr::new(core::ptr::null_mut());

/// The host table the plugin was loaded with (NULL before the entry ran).
/// A raw pointer: the table may be shorter than this crate's `awake_host`
/// (read fields below its `size` only).
pub fn loaded_host() -> *const awake_host {
    HOST.load(Acquire)
}

/// Checks the host's entry arguments as `awake_check_entry_args` does, plus
/// the host table this plugin uses.
///
/// # Safety
/// `args` is NULL or points at a readable awake_entry_args of at least
/// `args->size` bytes.
unsafe fn check_entry_args(args: *const awake_entry_args) -> i32 {
    if args.is_null() {
        return AWAKE_E_INVALID;
    }
    // SAFETY: non-NULL; the first field is the size (readers never read past it).
    if (unsafe { (*args).size } as usize) < size_of::<awake_entry_args>() {
        return AWAKE_E_INVALID;
    }
    // SAFETY: at least our size.
    let a = unsafe { &*args };
    if a.abi_major != AWAKE_ABI_MAJOR {
        return AWAKE_E_VERSION;
    }
    if a.pointer_size as usize != size_of::<*const ()>() || a.endian != AWAKE_ENDIAN_CANARY {
        return AWAKE_E_CANARY;
    }
    // SAFETY: the host pointer is valid for the life of the process.
    if a.host.is_null() || (unsafe { (*a.host).size } as usize) < AWAKE_HOST_MIN_SIZE {
        return AWAKE_E_INVALID; // every 1.0 host table holds now_ns .. log
    }
    AWAKE_OK
}

/// The plugin entry point (AWAKE_ENTRY_SYMBOL): checks the ABI major
/// version and the canaries, then hands out the static descriptor.
///
/// # Safety
/// Called by an awake host with its entry arguments.
#[no_mangle]
pub unsafe extern "C" fn awake_plugin_entry(
    args: *const awake_entry_args,
    out: *mut *const awake_plugin,
) -> i32 {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the host's pointer (or NULL), checked field by field.
        let rc = unsafe { check_entry_args(args) };
        if rc != AWAKE_OK {
            return rc;
        }
        if out.is_null() {
            return AWAKE_E_INVALID;
        }
        // SAFETY: checked above.
        HOST.store(unsafe { (*args).host }.cast_mut(), Release);
        // SAFETY: non-NULL out-pointer from the host.
        unsafe { out.write(&PLUGIN.0) };
        AWAKE_OK
    }))
    .unwrap_or(AWAKE_E_INVALID)
}

/// The C string of `p` (for tests and diagnostics).
///
/// # Safety
/// `p` is a NUL-terminated string.
pub unsafe fn c_str(p: *const c_char) -> String {
    // SAFETY: caller's contract.
    unsafe { core::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}
