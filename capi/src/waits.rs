//! The wait calls, made as the entered guest thread: WaitForSingleObject(Ex),
//! WaitForMultipleObjects(Ex), SignalObjectAndWait, SleepEx; and QueueUserAPC.
//!
//! Return values are Win32's: WAIT_OBJECT_0 + i, WAIT_ABANDONED_0 + i, WAIT_TIMEOUT,
//! WAIT_IO_COMPLETION (an alertable wait ran APCs), or WAIT_FAILED (0xFFFFFFFF) with the
//! last error set. A wait that succeeds or times out leaves the last error alone
//! (WAIT_TIMEOUT is a result, not an error).
//!
//! APCs (SPEC §7.5) run on the target guest thread's host thread, inside its next
//! alertable wait, first in first out; an APC may call back into this library (nothing
//! is borrowed across a wait).

use kobj::Handle;

use crate::context::{as_thread, GuestThread};
use crate::{code, from_c, os, timeout, BOOL, DWORD, FALSE, HANDLE, PAPCFUNC, ULONG_PTR};

/// WAIT_FAILED.
const WAIT_FAILED: DWORD = 0xFFFF_FFFF;
/// WAIT_IO_COMPLETION.
const WAIT_IO_COMPLETION: DWORD = 0xC0;
/// MAXIMUM_WAIT_OBJECTS.
const MAXIMUM_WAIT_OBJECTS: usize = 64;

/// `WaitForSingleObject`: waits until `hHandle`'s object is signalled (and acquires it)
/// or `dwMilliseconds` pass (INFINITE: never). `GetCurrentProcess()` and
/// `GetCurrentThread()` are the calling process and thread (never signalled while it
/// runs). The handle needs SYNCHRONIZE (else ERROR_ACCESS_DENIED).
#[no_mangle]
pub extern "C" fn kobj_WaitForSingleObject(hHandle: HANDLE, dwMilliseconds: DWORD) -> DWORD {
    kobj_WaitForSingleObjectEx(hHandle, dwMilliseconds, FALSE)
}

/// `WaitForSingleObjectEx`: as `kobj_WaitForSingleObject`; with `bAlertable`, an object
/// already signalled is taken first, otherwise APCs queued to this thread (before or
/// during the wait) run here and the wait returns WAIT_IO_COMPLETION.
#[no_mangle]
pub extern "C" fn kobj_WaitForSingleObjectEx(
    hHandle: HANDLE,
    dwMilliseconds: DWORD,
    bAlertable: BOOL,
) -> DWORD {
    as_thread(WAIT_FAILED, |g| {
        let status = g.thread.wait_for_single_object_ex(
            from_c(hHandle),
            timeout(dwMilliseconds),
            bAlertable != FALSE,
        )?;
        Ok(status.code())
    })
}

/// The handles of a `WaitForMultipleObjects` call: `nCount` must be 1..=64
/// (ERROR_INVALID_PARAMETER, checked first, as NT does), then `lpHandles` non-NULL
/// (ERROR_NOACCESS).
///
/// # Safety
/// `lpHandles` is NULL or points to `nCount` handles.
unsafe fn handles(
    nCount: DWORD,
    lpHandles: *const HANDLE,
    buf: &mut [Handle; MAXIMUM_WAIT_OBJECTS],
) -> kobj::Result<&[Handle]> {
    let n = nCount as usize;
    if n == 0 || n > MAXIMUM_WAIT_OBJECTS {
        return Err(os(code::INVALID_PARAMETER));
    }
    if lpHandles.is_null() {
        return Err(os(code::NOACCESS));
    }
    // SAFETY: the caller guarantees `nCount` readable handles.
    let raw = unsafe { std::slice::from_raw_parts(lpHandles, n) };
    // Copied onto the stack: a wait allocates nothing here.
    for (slot, &h) in buf.iter_mut().zip(raw) {
        *slot = from_c(h);
    }
    Ok(&buf[..n])
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
    // SAFETY: the caller's guarantee.
    unsafe { kobj_WaitForMultipleObjectsEx(nCount, lpHandles, bWaitAll, dwMilliseconds, FALSE) }
}

/// `WaitForMultipleObjectsEx`: as `kobj_WaitForMultipleObjects`, alertable as
/// `kobj_WaitForSingleObjectEx`.
///
/// # Safety
/// `lpHandles` is NULL or points to `nCount` handles.
#[no_mangle]
pub unsafe extern "C" fn kobj_WaitForMultipleObjectsEx(
    nCount: DWORD,
    lpHandles: *const HANDLE,
    bWaitAll: BOOL,
    dwMilliseconds: DWORD,
    bAlertable: BOOL,
) -> DWORD {
    as_thread(WAIT_FAILED, |g| {
        let mut buf = [Handle::NULL; MAXIMUM_WAIT_OBJECTS];
        // SAFETY: the caller's guarantee.
        let hs = unsafe { handles(nCount, lpHandles, &mut buf) }?;
        let (all, alertable) = (bWaitAll != FALSE, bAlertable != FALSE);
        Ok(g.thread.wait_for_multiple_objects_ex(hs, all, timeout(dwMilliseconds), alertable)?.code())
    })
}

/// `SignalObjectAndWait`: signals `hObjectToSignal` (sets an event, releases a semaphore
/// by one or a mutex) and waits on `hObjectToWaitOn` as one step. Both handles are
/// checked first; a signal that fails (ERROR_TOO_MANY_POSTS, ERROR_NOT_OWNER) performs
/// no wait. With `bAlertable`, the wait is alertable (WAIT_IO_COMPLETION after APCs).
#[no_mangle]
pub extern "C" fn kobj_SignalObjectAndWait(
    hObjectToSignal: HANDLE,
    hObjectToWaitOn: HANDLE,
    dwMilliseconds: DWORD,
    bAlertable: BOOL,
) -> DWORD {
    as_thread(WAIT_FAILED, |g| {
        let status = g.thread.signal_object_and_wait_ex(
            from_c(hObjectToSignal),
            from_c(hObjectToWaitOn),
            timeout(dwMilliseconds),
            bAlertable != FALSE,
        )?;
        Ok(status.code())
    })
}

/// `SleepEx`: waits `dwMilliseconds` (INFINITE: forever) and returns 0; with
/// `bAlertable`, APCs queued to this thread run and it returns WAIT_IO_COMPLETION
/// instead. SleepEx has no failure value in Win32: a call that cannot be made (no thread
/// entered, an exited thread) returns 0 at once with the last error set.
#[no_mangle]
pub extern "C" fn kobj_SleepEx(dwMilliseconds: DWORD, bAlertable: BOOL) -> DWORD {
    as_thread(0, |g| match g.thread.sleep_ex(timeout(dwMilliseconds), bAlertable != FALSE)? {
        kobj::WaitStatus::IoCompletion => Ok(WAIT_IO_COMPLETION),
        _ => Ok(0),
    })
}

/// A handle naming the entered thread for the engine's `queue_user_apc`, which reads -2
/// as the process's main thread: for another thread, a short-lived handle of its own
/// (closed again at once; the table's LIFO reuse leaves later handle values as they
/// would have been).
fn queue_to(g: &GuestThread, h: Handle, apc: impl FnOnce() + Send + 'static) -> kobj::Result<()> {
    let p = g.process();
    if h != Handle::CURRENT_THREAD || p.main_thread().id() == g.thread.id() {
        return p.queue_user_apc(h, apc);
    }
    let own = p.open_thread(kobj::Access::THREAD_SET_CONTEXT, false, g.thread.id())?;
    let queued = p.queue_user_apc(own, apc);
    p.close_handle(own)?;
    queued
}

/// `QueueUserAPC`: queues `pfnAPC(dwData)` to the thread `hThread` names
/// (THREAD_SET_CONTEXT; `GetCurrentThread()` is the calling thread). It runs on that
/// guest thread's host thread, in its next alertable wait, never in another. Returns
/// non-zero on success; 0 with ERROR_GEN_FAILURE if the thread has exited,
/// ERROR_INVALID_PARAMETER for a NULL function. An APC still queued when its thread
/// exits is dropped unrun.
///
/// # Safety
/// `pfnAPC` is NULL or a function that may be called with `dwData` on the target
/// thread's host thread.
#[no_mangle]
pub unsafe extern "C" fn kobj_QueueUserAPC(pfnAPC: PAPCFUNC, hThread: HANDLE, dwData: ULONG_PTR) -> DWORD {
    as_thread(0, |g| {
        let f = pfnAPC.ok_or(os(code::INVALID_PARAMETER))?;
        // SAFETY: the caller guarantees `f` may be called with `dwData` there.
        queue_to(g, from_c(hThread), move || unsafe { f(dwData) })?;
        Ok(1)
    })
}
