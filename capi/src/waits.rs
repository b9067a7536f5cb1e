//! The wait calls, made as the entered guest thread: WaitForSingleObject,
//! WaitForMultipleObjects, SignalObjectAndWait.
//!
//! Return values are Win32's: WAIT_OBJECT_0 + i, WAIT_ABANDONED_0 + i, WAIT_TIMEOUT, or
//! WAIT_FAILED (0xFFFFFFFF) with the last error set. A wait that succeeds or times out
//! leaves the last error alone (WAIT_TIMEOUT is a result, not an error).

use kobj::Handle;

use crate::context::as_thread;
use crate::{code, from_c, os, timeout, BOOL, DWORD, HANDLE};

/// WAIT_FAILED.
const WAIT_FAILED: DWORD = 0xFFFF_FFFF;
/// MAXIMUM_WAIT_OBJECTS.
const MAXIMUM_WAIT_OBJECTS: usize = 64;

/// `WaitForSingleObject`: waits until `hHandle`'s object is signalled (and acquires it)
/// or `dwMilliseconds` pass (INFINITE: never). `GetCurrentProcess()` and
/// `GetCurrentThread()` are the calling process and thread (never signalled while it
/// runs). The handle needs SYNCHRONIZE (else ERROR_ACCESS_DENIED).
#[no_mangle]
pub extern "C" fn kobj_WaitForSingleObject(hHandle: HANDLE, dwMilliseconds: DWORD) -> DWORD {
    as_thread(WAIT_FAILED, |g| {
        Ok(g.thread.wait_for_single_object(from_c(hHandle), timeout(dwMilliseconds))?.code())
    })
}

/// The handles of a `WaitForMultipleObjects` call: `nCount` must be 1..=64
/// (ERROR_INVALID_PARAMETER, checked first, as NT does), then `lpHandles` non-NULL
/// (ERROR_NOACCESS).
///
/// # Safety
/// `lpHandles` is NULL or points to `nCount` handles.
unsafe fn handles(nCount: DWORD, lpHandles: *const HANDLE) -> kobj::Result<Vec<Handle>> {
    let n = nCount as usize;
    if n == 0 || n > MAXIMUM_WAIT_OBJECTS {
        return Err(os(code::INVALID_PARAMETER));
    }
    if lpHandles.is_null() {
        return Err(os(code::NOACCESS));
    }
    // SAFETY: the caller guarantees `nCount` readable handles.
    let raw = unsafe { std::slice::from_raw_parts(lpHandles, n) };
    Ok(raw.iter().map(|&h| from_c(h)).collect())
}

/// `WaitForMultipleObjects`: 1 to 64 handles; with `bWaitAll` FALSE the lowest signalled
/// index is acquired (WAIT_OBJECT_0 + i), with TRUE all at once (WAIT_OBJECT_0).
/// Pseudo-handles are ERROR_INVALID_HANDLE here; one object named twice in a wait-all is
/// ERROR_INVALID_PARAMETER.
///
/// # Safety
/// `lpHandles` is NULL or points to `nCount` handles.
#[no_mangle]
pub unsafe extern "C" fn kobj_WaitForMultipleObjects(
    nCount: DWORD,
    lpHandles: *const HANDLE,
    bWaitAll: BOOL,
    dwMilliseconds: DWORD,
) -> DWORD {
    as_thread(WAIT_FAILED, |g| {
        // SAFETY: the caller's guarantee.
        let hs = unsafe { handles(nCount, lpHandles) }?;
        Ok(g.thread.wait_for_multiple_objects(&hs, bWaitAll != 0, timeout(dwMilliseconds))?.code())
    })
}

/// `SignalObjectAndWait`: signals `hObjectToSignal` (sets an event, releases a semaphore
/// by one or a mutex) and waits on `hObjectToWaitOn` as one step. Both handles are
/// checked first; a signal that fails (ERROR_TOO_MANY_POSTS, ERROR_NOT_OWNER) performs
/// no wait.
///
/// `bAlertable` is accepted; kobj has no APCs yet (SPEC §7.5 is not in this build), so
/// no APC can be queued and an alertable wait is the same as one that is not.
#[no_mangle]
pub extern "C" fn kobj_SignalObjectAndWait(
    hObjectToSignal: HANDLE,
    hObjectToWaitOn: HANDLE,
    dwMilliseconds: DWORD,
    bAlertable: BOOL,
) -> DWORD {
    let _ = bAlertable;
    as_thread(WAIT_FAILED, |g| {
        let status = g.thread.signal_object_and_wait(
            from_c(hObjectToSignal),
            from_c(hObjectToWaitOn),
            timeout(dwMilliseconds),
        )?;
        Ok(status.code())
    })
}
