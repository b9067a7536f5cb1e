//! # kobj-capi
//!
//! The C ABI of kobj: a C or C++ runtime links this crate (static or shared) and hands a
//! guest's Win32 calls straight to it. Every Win32-shaped function is `kobj_` + the
//! Win32 name, with Win32's exact C signature, return convention (NULL, FALSE,
//! WAIT_FAILED …) and last-error behaviour; `include/kobj/win32.h` maps the plain Win32
//! names onto them, so code written against `<windows.h>` for these calls compiles
//! unchanged. `include/kobj.h` is generated from this crate by cbindgen.
//!
//! ## Calling as a guest thread
//!
//! A Win32 call acts as a thread of a process. The host thread that makes it says which
//! one with [`kobj_thread_enter`] (a thread-local binding: an emulator calls it when it
//! switches guest threads). A guest thread may be entered on one host thread at a time;
//! a call made with no thread entered fails with ERROR_INVALID_PARAMETER. The last error
//! lives with the entered guest thread (as Win32's lives in the thread's TEB), else in a
//! slot of the host thread.
//!
//! ## What the boundary guarantees
//!
//! No panic crosses it (each entry catches one and reports ERROR_INTERNAL_ERROR, 1359);
//! a null pointer, a bad length or a name that is not UTF-16 (or, for an `A` function,
//! UTF-8) is reported with Win32's error, never a crash. Strings are copied, never
//! retained. What the caller must guarantee in return (pointers that are null or valid,
//! objects made by this library and not yet freed) is written on each function.
//!
//! Layout: `context` (thread binding, last error, the entry guard), `strings` (names),
//! `bootstrap` (kernel, processes, threads, descriptors, tokens, boundaries),
//! `objects` (create/open and the signal calls), `handles`, `waits` (waits, SleepEx,
//! QueueUserAPC), `time` (waitable timers, the manual clock), `procthread` (process and
//! thread calls, private namespaces).

#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types, non_snake_case, clippy::upper_case_acronyms)]

use std::ffi::{c_char, c_void};

mod bootstrap;
mod context;
mod handles;
mod objects;
mod procthread;
mod strings;
mod time;
mod waits;

pub use bootstrap::*;
pub use context::{kobj_GetLastError, kobj_SetLastError, kobj_thread_enter};
pub use handles::*;
pub use objects::*;
pub use procthread::*;
pub use time::*;
pub use waits::*;

/// Win32 `HANDLE`: a process-relative handle value (or a pseudo-handle).
pub type HANDLE = *mut c_void;
/// Win32 `BOOL`: 0 is FALSE, anything else TRUE.
pub type BOOL = i32;
/// Win32 `BOOLEAN`: an 8-bit truth value (`ClosePrivateNamespace` returns one).
pub type BOOLEAN = u8;
/// Win32 `DWORD`.
pub type DWORD = u32;
/// Win32 `LONG` (32 bits on every Windows ABI).
pub type LONG = i32;
/// Win32 `ULONG`.
pub type ULONG = u32;
/// Win32 `UINT`.
pub type UINT = u32;
/// Win32 `ULONG_PTR`: an unsigned integer of pointer size.
pub type ULONG_PTR = usize;
/// Win32 `WCHAR`: one UTF-16 code unit.
pub type WCHAR = u16;
/// Win32 `LPCWSTR`: a NUL-terminated UTF-16 string.
pub type LPCWSTR = *const WCHAR;
/// Win32 `LPCSTR`: a NUL-terminated byte string (UTF-8 here).
pub type LPCSTR = *const c_char;
/// Win32 `LPVOID`.
pub type LPVOID = *mut c_void;
/// Win32 `LPHANDLE`.
pub type LPHANDLE = *mut HANDLE;
/// Win32 `LPDWORD`.
pub type LPDWORD = *mut DWORD;
/// Win32 `PDWORD`.
pub type PDWORD = *mut DWORD;
/// Win32 `LPLONG`.
pub type LPLONG = *mut LONG;

/// Win32 `SECURITY_ATTRIBUTES`. `lpSecurityDescriptor` is NULL (the creator's default
/// DACL) or a descriptor made by [`kobj_sd_new`]; `nLength` is not checked (Windows'
/// object calls do not check it either).
#[repr(C)]
pub struct SECURITY_ATTRIBUTES {
    /// `sizeof(SECURITY_ATTRIBUTES)`.
    pub nLength: DWORD,
    /// NULL or a `kobj_sd *`.
    pub lpSecurityDescriptor: LPVOID,
    /// Makes the new handle inheritable.
    pub bInheritHandle: BOOL,
}

/// Win32 `LPSECURITY_ATTRIBUTES`.
pub type LPSECURITY_ATTRIBUTES = *mut SECURITY_ATTRIBUTES;

/// Win32 `LARGE_INTEGER`, as `SetWaitableTimer` reads it: a signed 64-bit count of
/// 100-nanosecond units (the C union's `QuadPart`; same size and alignment).
#[repr(C)]
pub struct LARGE_INTEGER {
    /// The value.
    pub QuadPart: i64,
}

/// Win32 `PAPCFUNC`: a user-mode APC, called with `QueueUserAPC`'s `dwData`.
pub type PAPCFUNC = Option<unsafe extern "C" fn(Parameter: ULONG_PTR)>;

/// Win32 `PTIMERAPCROUTINE`: a waitable timer's completion routine.
pub type PTIMERAPCROUTINE = Option<
    unsafe extern "C" fn(lpArgToCompletionRoutine: LPVOID, dwTimerLowValue: DWORD, dwTimerHighValue: DWORD),
>;

/// Win32 `TRUE`.
const TRUE: BOOL = 1;
/// Win32 `FALSE`.
const FALSE: BOOL = 0;

/// The Win32 error codes this layer reports itself (the engine's come from
/// `kobj::Error::code`).
mod code {
    /// ERROR_NOT_SUPPORTED.
    pub(crate) const NOT_SUPPORTED: u32 = 50;
    /// ERROR_INVALID_PARAMETER.
    pub(crate) const INVALID_PARAMETER: u32 = 87;
    /// ERROR_INVALID_NAME.
    pub(crate) const INVALID_NAME: u32 = 123;
    /// ERROR_BUSY: the guest thread is entered on another host thread.
    pub(crate) const BUSY: u32 = 170;
    /// ERROR_FILENAME_EXCED_RANGE: an `A` name over 260 characters.
    pub(crate) const FILENAME_EXCED_RANGE: u32 = 206;
    /// ERROR_NOACCESS: a required pointer is NULL (what Windows reports when the kernel
    /// probes an invalid user pointer).
    pub(crate) const NOACCESS: u32 = 998;
    /// ERROR_NO_UNICODE_TRANSLATION: an `A` name that is not UTF-8.
    pub(crate) const NO_UNICODE_TRANSLATION: u32 = 1113;
    /// ERROR_NO_SUCH_PRIVILEGE.
    pub(crate) const NO_SUCH_PRIVILEGE: u32 = 1313;
    /// ERROR_INVALID_SID.
    pub(crate) const INVALID_SID: u32 = 1337;
    /// ERROR_INTERNAL_ERROR: a panic was caught at the boundary.
    pub(crate) const INTERNAL_ERROR: u32 = 1359;
    /// ERROR_NOT_SAME_OBJECT: `CompareObjectHandles` of two different objects.
    pub(crate) const NOT_SAME_OBJECT: u32 = 1656;
}

/// An error of this layer, as the engine's error type carries any Win32 code.
fn os(code: u32) -> kobj::Error {
    kobj::Error::Os(code)
}

/// Win32's `BOOL` from a Rust `bool`.
fn win_bool(b: bool) -> BOOL {
    if b {
        TRUE
    } else {
        FALSE
    }
}

/// A handle value as C sees it.
fn to_c(h: kobj::Handle) -> HANDLE {
    h.raw() as HANDLE
}

/// A handle value from C (any value; the engine decides validity).
fn from_c(h: HANDLE) -> kobj::Handle {
    kobj::Handle::from_raw(h as usize)
}

/// A Win32 timeout in milliseconds: INFINITE (0xFFFFFFFF) waits forever.
fn timeout(ms: DWORD) -> Option<std::time::Duration> {
    (ms != u32::MAX).then(|| std::time::Duration::from_millis(u64::from(ms)))
}

/// Writes `value` through an out-pointer that may be NULL.
///
/// # Safety
/// `p` is NULL or valid for a write of a `T`.
unsafe fn write_opt<T>(p: *mut T, value: T) {
    if !p.is_null() {
        // SAFETY: non-null, and the caller guarantees it is valid for writes.
        unsafe { p.write(value) }
    }
}

/// Writes `value` through a required out-pointer: NULL is ERROR_NOACCESS.
///
/// # Safety
/// `p` is NULL or valid for a write of a `T`.
unsafe fn write_req<T>(p: *mut T, value: T) -> kobj::Result<()> {
    if p.is_null() {
        return Err(os(code::NOACCESS));
    }
    // SAFETY: non-null, and the caller guarantees it is valid for writes.
    unsafe { p.write(value) };
    Ok(())
}
