//! The error type of this crate and its conversion to an owned `awake_error`.

use core::ffi::c_char;
use std::ffi::{CStr, CString};
use std::fmt;

use crate::sys::*;

/// Error code of a plugin failure that has no host code (producer-defined,
/// as awake.h allows; host failures keep the host's AWAKE_E_* code).
pub const ERR_FAILED: i32 = 1;
/// Error code of a Rust panic caught at the C boundary.
pub const ERR_PANIC: i32 = 2;

/// An error with an awake code and a message saying what happened, to what,
/// and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// AWAKE_E_* for host failures, [`ERR_FAILED`]/[`ERR_PANIC`]/... for ours.
    pub code: i32,
    /// UTF-8 text.
    pub message: String,
}

impl Error {
    /// An error with a code and a message.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    /// Moves this error into an owned `awake_error` (one allocation, freed
    /// by its drop function).  An interior NUL in the message is shown as
    /// `\0` so that the C string is the whole message.
    pub fn into_awake(self) -> *mut awake_error {
        let msg = CString::new(self.message.replace('\0', "\\0")).unwrap_or_default();
        let owned = Box::new(OwnedError {
            err: awake_error {
                size: core::mem::size_of::<awake_error>() as u32,
                code: self.code,
                message: core::ptr::null(),
                drop: owned_error_drop,
            },
            msg,
        });
        let p = Box::into_raw(owned);
        // SAFETY: `p` is a fresh, valid allocation; the CString's buffer
        // does not move when the Box's owner pointer changes.
        unsafe { (*p).err.message = (*p).msg.as_ptr() };
        // `err` is the first field of a repr(C) struct: same address.
        p.cast()
    }

    /// Takes an owned `awake_error` from C: copies code and message, then
    /// releases it with its drop function.
    ///
    /// # Safety
    /// `e` is NULL or an owned, valid awake_error not used afterwards.
    pub unsafe fn from_awake(e: *mut awake_error, what: &str) -> Self {
        if e.is_null() {
            return Error::new(ERR_FAILED, format!("{what} failed without an error object"));
        }
        // SAFETY: caller's contract; message is NUL-terminated or NULL.
        let (code, message) = unsafe {
            let m: *const c_char = (*e).message;
            let text = if m.is_null() {
                "(no message)".to_string()
            } else {
                CStr::from_ptr(m).to_string_lossy().into_owned()
            };
            ((*e).code, text)
        };
        // SAFETY: we own `e`; drop releases it exactly once.
        unsafe { ((*e).drop)(e) };
        Error::new(code, format!("{what}: {message}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::new(ERR_FAILED, message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::new(ERR_FAILED, message)
    }
}

#[repr(C)]
struct OwnedError {
    err: awake_error, // must stay first: *mut OwnedError == *mut awake_error
    msg: CString,
}

unsafe extern "C" fn owned_error_drop(e: *mut awake_error) {
    if !e.is_null() {
        // SAFETY: made by into_awake, so `e` is the start of an OwnedError.
        drop(unsafe { Box::from_raw(e.cast::<OwnedError>()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_awake_error() {
        let e = Error::new(-3, "timer: closed\0after");
        let p = e.into_awake();
        unsafe {
            assert_eq!((*p).size as usize, core::mem::size_of::<awake_error>());
            assert_eq!((*p).code, -3);
            assert_eq!(
                CStr::from_ptr((*p).message).to_str().unwrap(),
                "timer: closed\\0after"
            );
        }
        let back = unsafe { Error::from_awake(p, "join") };
        assert_eq!(back, Error::new(-3, "join: timer: closed\\0after"));
    }
}
