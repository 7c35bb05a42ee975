//! Hand-written `#[repr(C)]` bindings for `include/awake.h` (ABI 1.0).
//!
//! Every struct, constant and function-pointer type of the header, in the
//! header's order, with the header's names.  The `const _: () = assert!(..)`
//! blocks at the end pin sizes, alignments and field offsets to what a C
//! compiler gives on LP64 targets (x86_64 and aarch64 Linux, darwin); a
//! mismatch fails the build.  `tests/layout_c.rs` additionally compiles a C
//! program against the real header and compares every number in [`LAYOUT`].
//!
//! Function pointers the header marks "may be NULL" are `Option<fn>` (same
//! layout: the null-pointer optimisation is guaranteed for `Option<fn>`);
//! every other one is required by the header to be non-NULL and is called
//! unconditionally by the header's own inline helpers, so it is a plain fn.
//!
//! The inline helpers of the header (`awake_event_poll`, `awake_event_clear`,
//! the waker helpers) are re-implemented in `event.rs` and `waker.rs`.
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_void};
use core::mem::{align_of, offset_of, size_of};

// ---- Versions -------------------------------------------------------------

/// AWAKE_ABI_MAJOR: a host and a plugin must agree on it exactly.
pub const AWAKE_ABI_MAJOR: u16 = 1;
/// AWAKE_ABI_MINOR: the feature level this plugin was built for.
pub const AWAKE_ABI_MINOR: u16 = 0;
/// AWAKE_VERSION_STRING (informative).
pub const AWAKE_VERSION_STRING: &str = "1.0.0";
/// AWAKE_ENTRY_SYMBOL.
pub const AWAKE_ENTRY_SYMBOL: &str = "awake_plugin_entry";
/// AWAKE_ENDIAN_CANARY, stored natively by both sides.
pub const AWAKE_ENDIAN_CANARY: u32 = 0x0102_0304;

// ---- Status codes -----------------------------------------------------------

/// Poll: not finished; a waker has been registered.
pub const AWAKE_PENDING: i32 = 0;
/// Poll: finished; the output was written to `out`.
pub const AWAKE_READY: i32 = 1;
/// Poll: finished with an owned error in `*err`.
pub const AWAKE_ERROR: i32 = 2;
/// Poll: finished early after cancel() was requested.
pub const AWAKE_CANCELLED: i32 = 3;
/// Poll: the caller broke the contract (e.g. polled after completion).
pub const AWAKE_MISUSE: i32 = 4;

/// Success of host functions, entry points and constructors.
pub const AWAKE_OK: i32 = 0;
/// An argument is NULL, out of range or misused.
pub const AWAKE_E_INVALID: i32 = -1;
/// Out of memory.
pub const AWAKE_E_NOMEM: i32 = -2;
/// The host runtime is shutting down.
pub const AWAKE_E_CLOSED: i32 = -3;
/// An OS call failed.
pub const AWAKE_E_SYSTEM: i32 = -4;
/// ABI major version mismatch.
pub const AWAKE_E_VERSION: i32 = -5;
/// Pointer size or byte order mismatch.
pub const AWAKE_E_CANARY: i32 = -6;
/// Called from a thread the function forbids.
pub const AWAKE_E_THREAD: i32 = -7;

/// Log levels (log/slog numbers).
pub const AWAKE_LOG_DEBUG: i32 = -4;
/// Log level info.
pub const AWAKE_LOG_INFO: i32 = 0;
/// Log level warn.
pub const AWAKE_LOG_WARN: i32 = 4;
/// Log level error.
pub const AWAKE_LOG_ERROR: i32 = 8;

// ---- Wakers -----------------------------------------------------------------

/// `awake_waker`: data + vtable, passed by value (RawWaker's shape).  A zeroed
/// waker (vtable NULL) means "no waker".
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct awake_waker {
    pub data: *const c_void,
    pub vtable: *const awake_waker_vtable,
}

impl awake_waker {
    /// The "no waker" value (awake_waker_is_set() is false for it).
    pub const NONE: awake_waker = awake_waker {
        data: core::ptr::null(),
        vtable: core::ptr::null(),
    };
}

/// `awake_waker.clone`.
pub type awake_waker_clone_fn = unsafe extern "C" fn(data: *const c_void) -> awake_waker;
/// `awake_waker.wake`, `wake_by_ref`, `drop`.
pub type awake_waker_fn = unsafe extern "C" fn(data: *const c_void);

/// `awake_waker_vtable`: the functions behind a waker (see the waker
/// contract in awake.h: thread-safe, never block, never unwind).
#[repr(C)]
#[derive(Debug)]
pub struct awake_waker_vtable {
    pub size: u32,
    pub flags: u32,
    pub clone: awake_waker_clone_fn,
    pub wake: awake_waker_fn,
    pub wake_by_ref: awake_waker_fn,
    pub drop: awake_waker_fn,
}

// ---- Events -----------------------------------------------------------------

/// awake_event.state bit: the event fired.
pub const AWAKE_EVENT_READY: u64 = 1;
/// awake_event.state bit: a poller owns `waker` while it stores a new one.
pub const AWAKE_EVENT_REGISTERING: u64 = 2;
/// awake_event.state bit: the host owns `waker` while it takes it to wake it.
pub const AWAKE_EVENT_WAKING: u64 = 4;
/// The tick (incremented on every firing) lives in bits 8 and up.
pub const AWAKE_EVENT_TICK_SHIFT: u32 = 8;

/// `awake_event`: a readiness flag with a parked waker, in host memory.
/// `state` is accessed atomically only (see `event.rs`).
#[repr(C)]
#[derive(Debug)]
pub struct awake_event {
    pub state: u64,
    pub waker: awake_waker,
}

/// `awake_timer`: a host timer (memory owned by the host).
#[repr(C)]
#[derive(Debug)]
pub struct awake_timer {
    pub event: awake_event,
    pub deadline_ns: u64,
    pub reserved: u64,
}

/// Interest bit for io_open: readable.
pub const AWAKE_IO_READ: u32 = 1;
/// Interest bit for io_open: writable.
pub const AWAKE_IO_WRITE: u32 = 2;

/// `awake_io`: an fd registered with the host's reactor.
#[repr(C)]
#[derive(Debug)]
pub struct awake_io {
    pub read: awake_event,
    pub write: awake_event,
    pub fd: i32,
    pub interest: u32,
    pub reserved: u64,
}

// ---- Errors and outputs -----------------------------------------------------

/// `awake_error.drop`.
pub type awake_error_drop_fn = unsafe extern "C" fn(err: *mut awake_error);

/// `awake_error`: an owned error; the receiver calls `drop(err)` once.
#[repr(C)]
#[derive(Debug)]
pub struct awake_error {
    pub size: u32,
    pub code: i32,
    pub message: *const c_char,
    pub drop: awake_error_drop_fn,
}

/// `awake_bytes.drop` (the field may be NULL for static data).
pub type awake_bytes_drop_fn = unsafe extern "C" fn(data: *const u8, len: usize);

/// `awake_bytes`: the output of a future whose vtable sets
/// AWAKE_FUTURE_OUTPUT_BYTES.
#[repr(C)]
#[derive(Debug)]
pub struct awake_bytes {
    pub data: *const u8,
    pub len: usize,
    pub drop: Option<awake_bytes_drop_fn>,
}

// ---- Context, futures -------------------------------------------------------

/// `awake_context`: what a poll receives, borrowed for one poll only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct awake_context {
    pub size: u32,
    pub flags: u32,
    pub waker: awake_waker,
    pub host: *const awake_host,
    pub host_data: *mut c_void,
}

/// Future flag: may be polled from any OS thread.
pub const AWAKE_FUTURE_SEND: u32 = 1;
/// Future flag: the output is an `awake_bytes`.
pub const AWAKE_FUTURE_OUTPUT_BYTES: u32 = 2;

/// `awake_future_vtable.poll`.
pub type awake_poll_fn = unsafe extern "C" fn(
    self_: *mut c_void,
    cx: *mut awake_context,
    out: *mut c_void,
    err: *mut *mut awake_error,
) -> i32;
/// `awake_future_vtable.drop`.
pub type awake_future_drop_fn = unsafe extern "C" fn(self_: *mut c_void);
/// `awake_future_vtable.cancel` (the field may be NULL).
pub type awake_cancel_fn = unsafe extern "C" fn(self_: *mut c_void) -> i32;

/// `awake_future_vtable`.
#[repr(C)]
#[derive(Debug)]
pub struct awake_future_vtable {
    pub size: u32,
    pub flags: u32,
    pub output_size: u32,
    pub output_align: u32,
    pub poll: awake_poll_fn,
    pub drop: awake_future_drop_fn,
    pub cancel: Option<awake_cancel_fn>,
}

/// `awake_future`: an object and its vtable, passed by value.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct awake_future {
    pub self_: *mut c_void,
    pub vtable: *const awake_future_vtable,
}

// ---- The host API -----------------------------------------------------------

/// `awake_host.now_ns`.
pub type awake_now_ns_fn = unsafe extern "C" fn(cx: *const awake_context) -> u64;
/// `awake_host.timer_open`.
pub type awake_timer_open_fn = unsafe extern "C" fn(
    cx: *mut awake_context,
    deadline_ns: u64,
    out: *mut *mut awake_timer,
) -> i32;
/// `awake_host.timer_reset`.
pub type awake_timer_reset_fn =
    unsafe extern "C" fn(cx: *mut awake_context, t: *mut awake_timer, deadline_ns: u64) -> i32;
/// `awake_host.timer_close`.
pub type awake_timer_close_fn = unsafe extern "C" fn(t: *mut awake_timer);
/// `awake_host.io_open`.
pub type awake_io_open_fn = unsafe extern "C" fn(
    cx: *mut awake_context,
    fd: i32,
    interest: u32,
    out: *mut *mut awake_io,
) -> i32;
/// `awake_host.io_close`.
pub type awake_io_close_fn = unsafe extern "C" fn(io: *mut awake_io);
/// `awake_host.spawn`.
pub type awake_spawn_fn =
    unsafe extern "C" fn(cx: *mut awake_context, fut: awake_future, join: *mut awake_future) -> i32;
/// `awake_host.log`.
pub type awake_log_fn =
    unsafe extern "C" fn(cx: *const awake_context, level: i32, msg: *const c_char, len: usize);
/// `awake_host.call` (appended after `log`: present only when the host's
/// `size` covers it, and may then still be NULL in a host that offers no
/// functions, such as the C reference executor).
pub type awake_call_fn = unsafe extern "C" fn(
    cx: *mut awake_context,
    name: *const c_char,
    args: *const u8,
    args_len: usize,
    out: *mut awake_future,
    err: *mut *mut awake_error,
) -> i32;

/// `awake_host`: the services a host offers (append-only; a function exists
/// when its offset is below `size`).
#[repr(C)]
#[derive(Debug)]
pub struct awake_host {
    pub size: u32,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub host_data: *mut c_void,
    pub now_ns: awake_now_ns_fn,
    pub timer_open: awake_timer_open_fn,
    pub timer_reset: awake_timer_reset_fn,
    pub timer_close: awake_timer_close_fn,
    pub io_open: awake_io_open_fn,
    pub io_close: awake_io_close_fn,
    pub spawn: awake_spawn_fn,
    pub log: awake_log_fn,
    /// Read only when `offset_of!(awake_host, call) < size`.
    pub call: Option<awake_call_fn>,
}

/// The part of `awake_host` every 1.0 host provides (up to and including
/// `log`): a host table shorter than this is unusable.
pub const AWAKE_HOST_MIN_SIZE: usize = offset_of!(awake_host, call);

// ---- Plugins ----------------------------------------------------------------

/// `awake_make_fn`: makes a future from an argument buffer.
pub type awake_make_fn = unsafe extern "C" fn(
    args: *const u8,
    args_len: usize,
    out: *mut awake_future,
    err: *mut *mut awake_error,
) -> i32;

/// `awake_export`: one function a plugin offers.
#[repr(C)]
#[derive(Debug)]
pub struct awake_export {
    pub size: u32,
    pub flags: u32,
    pub name: *const c_char,
    pub doc: *const c_char,
    pub make: awake_make_fn,
}

/// `awake_plugin`: what a plugin says about itself (static storage).
#[repr(C)]
#[derive(Debug)]
pub struct awake_plugin {
    pub size: u32,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub pointer_size: u32,
    pub endian: u32,
    pub name: *const c_char,
    pub version: *const c_char,
    pub export_count: u32,
    pub reserved: u32,
    pub exports: *const awake_export,
}

/// `awake_entry_args`: what the host tells the plugin at load time.
#[repr(C)]
#[derive(Debug)]
pub struct awake_entry_args {
    pub size: u32,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub pointer_size: u32,
    pub endian: u32,
    pub host: *const awake_host,
}

/// `awake_plugin_entry_fn`, exported as AWAKE_ENTRY_SYMBOL.
pub type awake_plugin_entry_fn =
    unsafe extern "C" fn(args: *const awake_entry_args, out: *mut *const awake_plugin) -> i32;

// ---- Layout -----------------------------------------------------------------

/// Every size, alignment and field offset of the bindings, named the way
/// `tests/layout_c.rs` prints them from C (`sizeof(T)`, `_Alignof(T)`,
/// `offsetof(T, f)`), so that the test can compare them one by one.
pub const LAYOUT: &[(&str, usize)] = &[
    ("sizeof(awake_waker)", size_of::<awake_waker>()),
    ("_Alignof(awake_waker)", align_of::<awake_waker>()),
    ("offsetof(awake_waker, data)", offset_of!(awake_waker, data)),
    (
        "offsetof(awake_waker, vtable)",
        offset_of!(awake_waker, vtable),
    ),
    (
        "sizeof(awake_waker_vtable)",
        size_of::<awake_waker_vtable>(),
    ),
    (
        "_Alignof(awake_waker_vtable)",
        align_of::<awake_waker_vtable>(),
    ),
    (
        "offsetof(awake_waker_vtable, size)",
        offset_of!(awake_waker_vtable, size),
    ),
    (
        "offsetof(awake_waker_vtable, flags)",
        offset_of!(awake_waker_vtable, flags),
    ),
    (
        "offsetof(awake_waker_vtable, clone)",
        offset_of!(awake_waker_vtable, clone),
    ),
    (
        "offsetof(awake_waker_vtable, wake)",
        offset_of!(awake_waker_vtable, wake),
    ),
    (
        "offsetof(awake_waker_vtable, wake_by_ref)",
        offset_of!(awake_waker_vtable, wake_by_ref),
    ),
    (
        "offsetof(awake_waker_vtable, drop)",
        offset_of!(awake_waker_vtable, drop),
    ),
    ("sizeof(awake_event)", size_of::<awake_event>()),
    ("_Alignof(awake_event)", align_of::<awake_event>()),
    (
        "offsetof(awake_event, state)",
        offset_of!(awake_event, state),
    ),
    (
        "offsetof(awake_event, waker)",
        offset_of!(awake_event, waker),
    ),
    ("sizeof(awake_timer)", size_of::<awake_timer>()),
    ("_Alignof(awake_timer)", align_of::<awake_timer>()),
    (
        "offsetof(awake_timer, event)",
        offset_of!(awake_timer, event),
    ),
    (
        "offsetof(awake_timer, deadline_ns)",
        offset_of!(awake_timer, deadline_ns),
    ),
    (
        "offsetof(awake_timer, reserved)",
        offset_of!(awake_timer, reserved),
    ),
    ("sizeof(awake_io)", size_of::<awake_io>()),
    ("_Alignof(awake_io)", align_of::<awake_io>()),
    ("offsetof(awake_io, read)", offset_of!(awake_io, read)),
    ("offsetof(awake_io, write)", offset_of!(awake_io, write)),
    ("offsetof(awake_io, fd)", offset_of!(awake_io, fd)),
    (
        "offsetof(awake_io, interest)",
        offset_of!(awake_io, interest),
    ),
    (
        "offsetof(awake_io, reserved)",
        offset_of!(awake_io, reserved),
    ),
    ("sizeof(awake_error)", size_of::<awake_error>()),
    ("_Alignof(awake_error)", align_of::<awake_error>()),
    ("offsetof(awake_error, size)", offset_of!(awake_error, size)),
    ("offsetof(awake_error, code)", offset_of!(awake_error, code)),
    (
        "offsetof(awake_error, message)",
        offset_of!(awake_error, message),
    ),
    ("offsetof(awake_error, drop)", offset_of!(awake_error, drop)),
    ("sizeof(awake_bytes)", size_of::<awake_bytes>()),
    ("_Alignof(awake_bytes)", align_of::<awake_bytes>()),
    ("offsetof(awake_bytes, data)", offset_of!(awake_bytes, data)),
    ("offsetof(awake_bytes, len)", offset_of!(awake_bytes, len)),
    ("offsetof(awake_bytes, drop)", offset_of!(awake_bytes, drop)),
    ("sizeof(awake_context)", size_of::<awake_context>()),
    ("_Alignof(awake_context)", align_of::<awake_context>()),
    (
        "offsetof(awake_context, size)",
        offset_of!(awake_context, size),
    ),
    (
        "offsetof(awake_context, flags)",
        offset_of!(awake_context, flags),
    ),
    (
        "offsetof(awake_context, waker)",
        offset_of!(awake_context, waker),
    ),
    (
        "offsetof(awake_context, host)",
        offset_of!(awake_context, host),
    ),
    (
        "offsetof(awake_context, host_data)",
        offset_of!(awake_context, host_data),
    ),
    (
        "sizeof(awake_future_vtable)",
        size_of::<awake_future_vtable>(),
    ),
    (
        "_Alignof(awake_future_vtable)",
        align_of::<awake_future_vtable>(),
    ),
    (
        "offsetof(awake_future_vtable, size)",
        offset_of!(awake_future_vtable, size),
    ),
    (
        "offsetof(awake_future_vtable, flags)",
        offset_of!(awake_future_vtable, flags),
    ),
    (
        "offsetof(awake_future_vtable, output_size)",
        offset_of!(awake_future_vtable, output_size),
    ),
    (
        "offsetof(awake_future_vtable, output_align)",
        offset_of!(awake_future_vtable, output_align),
    ),
    (
        "offsetof(awake_future_vtable, poll)",
        offset_of!(awake_future_vtable, poll),
    ),
    (
        "offsetof(awake_future_vtable, drop)",
        offset_of!(awake_future_vtable, drop),
    ),
    (
        "offsetof(awake_future_vtable, cancel)",
        offset_of!(awake_future_vtable, cancel),
    ),
    ("sizeof(awake_future)", size_of::<awake_future>()),
    ("_Alignof(awake_future)", align_of::<awake_future>()),
    (
        "offsetof(awake_future, self)",
        offset_of!(awake_future, self_),
    ),
    (
        "offsetof(awake_future, vtable)",
        offset_of!(awake_future, vtable),
    ),
    ("sizeof(awake_host)", size_of::<awake_host>()),
    ("_Alignof(awake_host)", align_of::<awake_host>()),
    ("offsetof(awake_host, size)", offset_of!(awake_host, size)),
    (
        "offsetof(awake_host, abi_major)",
        offset_of!(awake_host, abi_major),
    ),
    (
        "offsetof(awake_host, abi_minor)",
        offset_of!(awake_host, abi_minor),
    ),
    (
        "offsetof(awake_host, host_data)",
        offset_of!(awake_host, host_data),
    ),
    (
        "offsetof(awake_host, now_ns)",
        offset_of!(awake_host, now_ns),
    ),
    (
        "offsetof(awake_host, timer_open)",
        offset_of!(awake_host, timer_open),
    ),
    (
        "offsetof(awake_host, timer_reset)",
        offset_of!(awake_host, timer_reset),
    ),
    (
        "offsetof(awake_host, timer_close)",
        offset_of!(awake_host, timer_close),
    ),
    (
        "offsetof(awake_host, io_open)",
        offset_of!(awake_host, io_open),
    ),
    (
        "offsetof(awake_host, io_close)",
        offset_of!(awake_host, io_close),
    ),
    ("offsetof(awake_host, spawn)", offset_of!(awake_host, spawn)),
    ("offsetof(awake_host, log)", offset_of!(awake_host, log)),
    ("offsetof(awake_host, call)", offset_of!(awake_host, call)),
    ("sizeof(awake_export)", size_of::<awake_export>()),
    ("_Alignof(awake_export)", align_of::<awake_export>()),
    (
        "offsetof(awake_export, size)",
        offset_of!(awake_export, size),
    ),
    (
        "offsetof(awake_export, flags)",
        offset_of!(awake_export, flags),
    ),
    (
        "offsetof(awake_export, name)",
        offset_of!(awake_export, name),
    ),
    ("offsetof(awake_export, doc)", offset_of!(awake_export, doc)),
    (
        "offsetof(awake_export, make)",
        offset_of!(awake_export, make),
    ),
    ("sizeof(awake_plugin)", size_of::<awake_plugin>()),
    ("_Alignof(awake_plugin)", align_of::<awake_plugin>()),
    (
        "offsetof(awake_plugin, size)",
        offset_of!(awake_plugin, size),
    ),
    (
        "offsetof(awake_plugin, abi_major)",
        offset_of!(awake_plugin, abi_major),
    ),
    (
        "offsetof(awake_plugin, abi_minor)",
        offset_of!(awake_plugin, abi_minor),
    ),
    (
        "offsetof(awake_plugin, pointer_size)",
        offset_of!(awake_plugin, pointer_size),
    ),
    (
        "offsetof(awake_plugin, endian)",
        offset_of!(awake_plugin, endian),
    ),
    (
        "offsetof(awake_plugin, name)",
        offset_of!(awake_plugin, name),
    ),
    (
        "offsetof(awake_plugin, version)",
        offset_of!(awake_plugin, version),
    ),
    (
        "offsetof(awake_plugin, export_count)",
        offset_of!(awake_plugin, export_count),
    ),
    (
        "offsetof(awake_plugin, reserved)",
        offset_of!(awake_plugin, reserved),
    ),
    (
        "offsetof(awake_plugin, exports)",
        offset_of!(awake_plugin, exports),
    ),
    ("sizeof(awake_entry_args)", size_of::<awake_entry_args>()),
    ("_Alignof(awake_entry_args)", align_of::<awake_entry_args>()),
    (
        "offsetof(awake_entry_args, size)",
        offset_of!(awake_entry_args, size),
    ),
    (
        "offsetof(awake_entry_args, abi_major)",
        offset_of!(awake_entry_args, abi_major),
    ),
    (
        "offsetof(awake_entry_args, abi_minor)",
        offset_of!(awake_entry_args, abi_minor),
    ),
    (
        "offsetof(awake_entry_args, pointer_size)",
        offset_of!(awake_entry_args, pointer_size),
    ),
    (
        "offsetof(awake_entry_args, endian)",
        offset_of!(awake_entry_args, endian),
    ),
    (
        "offsetof(awake_entry_args, host)",
        offset_of!(awake_entry_args, host),
    ),
];

/// Asserts `size_of`, `align_of` and every listed `offset_of` at compile time.
macro_rules! assert_layout {
    ($t:ty, size $s:expr, align $a:expr $(, $f:ident @ $o:expr)* $(,)?) => {
        const _: () = {
            assert!(size_of::<$t>() == $s, concat!("size of ", stringify!($t)));
            assert!(align_of::<$t>() == $a, concat!("alignment of ", stringify!($t)));
            $(assert!(offset_of!($t, $f) == $o,
                      concat!("offset of ", stringify!($t), ".", stringify!($f)));)*
        };
    };
}

// What a C compiler gives on LP64 (x86_64 and aarch64 Linux): pointers and
// size_t are 8 bytes, uint64_t is 8-aligned.
#[cfg(target_pointer_width = "64")]
mod lp64 {
    use super::*;

    assert_layout!(awake_waker, size 16, align 8, data @ 0, vtable @ 8);
    assert_layout!(awake_waker_vtable, size 40, align 8,
        size @ 0, flags @ 4, clone @ 8, wake @ 16, wake_by_ref @ 24, drop @ 32);
    assert_layout!(awake_event, size 24, align 8, state @ 0, waker @ 8);
    assert_layout!(awake_timer, size 40, align 8, event @ 0, deadline_ns @ 24, reserved @ 32);
    assert_layout!(awake_io, size 64, align 8,
        read @ 0, write @ 24, fd @ 48, interest @ 52, reserved @ 56);
    assert_layout!(awake_error, size 24, align 8, size @ 0, code @ 4, message @ 8, drop @ 16);
    assert_layout!(awake_bytes, size 24, align 8, data @ 0, len @ 8, drop @ 16);
    assert_layout!(awake_context, size 40, align 8,
        size @ 0, flags @ 4, waker @ 8, host @ 24, host_data @ 32);
    assert_layout!(awake_future_vtable, size 40, align 8,
        size @ 0, flags @ 4, output_size @ 8, output_align @ 12, poll @ 16, drop @ 24, cancel @ 32);
    assert_layout!(awake_future, size 16, align 8, self_ @ 0, vtable @ 8);
    assert_layout!(awake_host, size 88, align 8,
        size @ 0, abi_major @ 4, abi_minor @ 6, host_data @ 8, now_ns @ 16, timer_open @ 24,
        timer_reset @ 32, timer_close @ 40, io_open @ 48, io_close @ 56, spawn @ 64, log @ 72,
        call @ 80);
    assert_layout!(awake_export, size 32, align 8, size @ 0, flags @ 4, name @ 8, doc @ 16, make @ 24);
    assert_layout!(awake_plugin, size 48, align 8,
        size @ 0, abi_major @ 4, abi_minor @ 6, pointer_size @ 8, endian @ 12, name @ 16,
        version @ 24, export_count @ 32, reserved @ 36, exports @ 40);
    assert_layout!(awake_entry_args, size 24, align 8,
        size @ 0, abi_major @ 4, abi_minor @ 6, pointer_size @ 8, endian @ 12, host @ 16);
}

// The event protocol treats `state` as an AtomicU64 in place: it must have
// the atomic's alignment (true on every 64-bit target awake supports).
const _: () = assert!(align_of::<u64>() == align_of::<core::sync::atomic::AtomicU64>());
// Option<fn> must be a nullable pointer, exactly like the C field.
const _: () = assert!(size_of::<Option<awake_bytes_drop_fn>>() == size_of::<*const c_void>());
