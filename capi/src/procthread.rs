//! Processes and threads as Win32 sees them through handles and ids, and private
//! namespaces.
//!
//! `GetCurrentProcess()` and `GetCurrentThread()` are the pseudo-handles -1 and -2;
//! everywhere a thread handle is read here, -2 is the entered guest thread.

use kobj::{Access, Handle};

use crate::bootstrap::kobj_boundary;
use crate::context::{as_thread, guard, GuestThread};
use crate::objects::bool_call;
use crate::strings::{name_w, required};
use crate::{
    code, from_c, os, to_c, write_req, BOOL, BOOLEAN, DWORD, HANDLE, LPCWSTR, LPDWORD, LPSECURITY_ATTRIBUTES,
    LPVOID, PDWORD, UINT, ULONG,
};

/// STILL_ACTIVE: `GetExitCode*`'s answer for a process or thread that has not ended.
const STILL_ACTIVE: DWORD = 259;
/// PRIVATE_NAMESPACE_FLAG_DESTROY.
const PRIVATE_NAMESPACE_FLAG_DESTROY: ULONG = 1;

/// `GetCurrentProcess`: the -1 pseudo-handle. Needs no entered thread; never fails.
#[no_mangle]
pub extern "C" fn kobj_GetCurrentProcess() -> HANDLE {
    to_c(Handle::CURRENT_PROCESS)
}

/// `GetCurrentThread`: the -2 pseudo-handle. Needs no entered thread; never fails.
#[no_mangle]
pub extern "C" fn kobj_GetCurrentThread() -> HANDLE {
    to_c(Handle::CURRENT_THREAD)
}

/// `GetCurrentProcessId`: the entered thread's process id (0 with
/// ERROR_INVALID_PARAMETER when no thread is entered).
#[no_mangle]
pub extern "C" fn kobj_GetCurrentProcessId() -> DWORD {
    as_thread(0, |g| Ok(g.process().id()))
}

/// `GetCurrentThreadId`: the entered thread's id (0 with ERROR_INVALID_PARAMETER when
/// none is entered).
#[no_mangle]
pub extern "C" fn kobj_GetCurrentThreadId() -> DWORD {
    as_thread(0, |g| Ok(g.thread.id()))
}

/// The id and exit code of the thread `h` names: -2 is the entered thread.
fn thread_info(g: &GuestThread, h: HANDLE) -> kobj::Result<(u32, Option<u32>)> {
    let h = from_c(h);
    if h == Handle::CURRENT_THREAD {
        let t = &g.thread;
        return Ok((t.id(), t.has_exited().then(|| t.exit_code())));
    }
    let info = g.process().query_thread(h)?;
    Ok((info.id, info.exit_code))
}

/// `GetThreadId`: the id of the thread `Thread` names (THREAD_QUERY_INFORMATION or
/// THREAD_QUERY_LIMITED_INFORMATION); 0 on failure, with the last error set.
#[no_mangle]
pub extern "C" fn kobj_GetThreadId(Thread: HANDLE) -> DWORD {
    as_thread(0, |g| Ok(thread_info(g, Thread)?.0))
}

/// `GetProcessId`: the id of the process `Process` names (PROCESS_QUERY_INFORMATION or
/// PROCESS_QUERY_LIMITED_INFORMATION; -1: the caller's); 0 on failure.
#[no_mangle]
pub extern "C" fn kobj_GetProcessId(Process: HANDLE) -> DWORD {
    as_thread(0, |g| Ok(g.process().query_process(from_c(Process))?.id))
}

/// `OpenProcess`: a handle with `dwDesiredAccess` to the live process `dwProcessId`.
/// NULL on failure (ERROR_INVALID_PARAMETER for an id that names no live process,
/// ERROR_ACCESS_DENIED if its DACL refuses).
#[no_mangle]
pub extern "C" fn kobj_OpenProcess(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    dwProcessId: DWORD,
) -> HANDLE {
    as_thread(std::ptr::null_mut(), |g| {
        let access = Access::from_bits_retain(dwDesiredAccess);
        Ok(to_c(g.process().open_process(access, bInheritHandle != 0, dwProcessId)?))
    })
}

/// `OpenThread`: a handle with `dwDesiredAccess` to thread `dwThreadId` (an exited
/// thread whose object lives opens). NULL on failure (ERROR_INVALID_PARAMETER for an id
/// that names no thread).
#[no_mangle]
pub extern "C" fn kobj_OpenThread(dwDesiredAccess: DWORD, bInheritHandle: BOOL, dwThreadId: DWORD) -> HANDLE {
    as_thread(std::ptr::null_mut(), |g| {
        let access = Access::from_bits_retain(dwDesiredAccess);
        Ok(to_c(g.process().open_thread(access, bInheritHandle != 0, dwThreadId)?))
    })
}

/// `TerminateProcess`: terminates the process `hProcess` names (PROCESS_TERMINATE; -1 is
/// the caller's own) with `uExitCode`: its threads exit (abandoning their mutexes) and
/// every handle in its table is closed. A process already terminated is
/// ERROR_ACCESS_DENIED.
#[no_mangle]
pub extern "C" fn kobj_TerminateProcess(hProcess: HANDLE, uExitCode: UINT) -> BOOL {
    bool_call(|g| g.process().terminate_process(from_c(hProcess), uExitCode))
}

/// `ExitThread`: the entered thread exits with `dwExitCode` (its mutexes are abandoned;
/// the last thread of a process terminates it). Unlike Win32 it returns to the caller:
/// the embedder unwinds its guest thread itself. Calls the thread makes after it fail
/// with ERROR_ACCESS_DENIED; with no thread entered the last error is
/// ERROR_INVALID_PARAMETER.
#[no_mangle]
pub extern "C" fn kobj_ExitThread(dwExitCode: DWORD) {
    let _ = bool_call(|g| g.thread.exit(dwExitCode));
}

/// `GetExitCodeProcess`: writes the process's exit code, or STILL_ACTIVE (259) while it
/// runs, to `*lpExitCode` (NULL: ERROR_NOACCESS). Needs PROCESS_QUERY_INFORMATION or
/// PROCESS_QUERY_LIMITED_INFORMATION.
///
/// # Safety
/// `lpExitCode` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn kobj_GetExitCodeProcess(hProcess: HANDLE, lpExitCode: LPDWORD) -> BOOL {
    bool_call(|g| {
        let info = g.process().query_process(from_c(hProcess))?;
        // SAFETY: the caller guarantees NULL or valid for a write.
        unsafe { write_req(lpExitCode, info.exit_code.unwrap_or(STILL_ACTIVE)) }
    })
}

/// `GetExitCodeThread`: writes the thread's exit code, or STILL_ACTIVE (259) while it
/// runs, to `*lpExitCode` (NULL: ERROR_NOACCESS). Needs THREAD_QUERY_INFORMATION or
/// THREAD_QUERY_LIMITED_INFORMATION; -2 is the entered thread.
///
/// # Safety
/// `lpExitCode` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn kobj_GetExitCodeThread(hThread: HANDLE, lpExitCode: LPDWORD) -> BOOL {
    bool_call(|g| {
        let (_, exit_code) = thread_info(g, hThread)?;
        // SAFETY: the caller guarantees NULL or valid for a write.
        unsafe { write_req(lpExitCode, exit_code.unwrap_or(STILL_ACTIVE)) }
    })
}

/// `GetProcessHandleCount`: writes the number of handles in the table of the process
/// `hProcess` names (-1: the caller's) to `*pdwHandleCount` (NULL: ERROR_NOACCESS).
/// Needs PROCESS_QUERY_INFORMATION or PROCESS_QUERY_LIMITED_INFORMATION.
///
/// # Safety
/// `pdwHandleCount` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn kobj_GetProcessHandleCount(hProcess: HANDLE, pdwHandleCount: PDWORD) -> BOOL {
    bool_call(|g| {
        let info = g.process().query_process(from_c(hProcess))?;
        let count = DWORD::try_from(info.handle_count).unwrap_or(DWORD::MAX);
        // SAFETY: the caller guarantees NULL or valid for a write.
        unsafe { write_req(pdwHandleCount, count) }
    })
}

/// The boundary and alias of a private-namespace call.
///
/// # Safety
/// `boundary` is NULL or a live `kobj_boundary *`; `alias` NULL or NUL-terminated UTF-16.
unsafe fn namespace_args<'b>(boundary: LPVOID, alias: LPCWSTR) -> kobj::Result<(&'b kobj_boundary, String)> {
    // SAFETY: the caller's guarantee.
    let b = unsafe { boundary.cast::<kobj_boundary>().as_ref() }.ok_or(os(code::INVALID_PARAMETER))?;
    // SAFETY: the caller's guarantee.
    let alias = required(unsafe { name_w(alias) }?)?;
    Ok((b, alias))
}

/// `CreatePrivateNamespaceW`: makes the private namespace of `lpBoundaryDescriptor` (a
/// `kobj_boundary *`) and maps `lpAliasPrefix` to it in the calling process; names
/// `alias\name` then resolve inside it. Returns the namespace handle, or NULL
/// (ERROR_ALREADY_EXISTS if the boundary already has a namespace; ERROR_INVALID_PARAMETER
/// for a NULL boundary or alias). `lpPrivateNamespaceAttributes` is accepted and not
/// used: the namespace gets the creator's default DACL.
///
/// # Safety
/// `lpPrivateNamespaceAttributes` is unused (any value); `lpBoundaryDescriptor` is NULL
/// or a live `kobj_boundary *`; `lpAliasPrefix` is NULL or NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreatePrivateNamespaceW(
    lpPrivateNamespaceAttributes: LPSECURITY_ATTRIBUTES,
    lpBoundaryDescriptor: LPVOID,
    lpAliasPrefix: LPCWSTR,
) -> HANDLE {
    let _ = lpPrivateNamespaceAttributes;
    as_thread(std::ptr::null_mut(), |g| {
        // SAFETY: the caller's guarantee.
        let (b, alias) = unsafe { namespace_args(lpBoundaryDescriptor, lpAliasPrefix) }?;
        Ok(to_c(g.process().create_private_namespace(&b.boundary, &alias)?))
    })
}

/// `OpenPrivateNamespaceW`: maps `lpAliasPrefix` to the existing namespace of
/// `lpBoundaryDescriptor`. NULL on failure: ERROR_FILE_NOT_FOUND if the boundary has no
/// namespace, ERROR_ACCESS_DENIED unless the caller's token holds every SID of it.
///
/// # Safety
/// As `kobj_CreatePrivateNamespaceW`.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenPrivateNamespaceW(
    lpBoundaryDescriptor: LPVOID,
    lpAliasPrefix: LPCWSTR,
) -> HANDLE {
    as_thread(std::ptr::null_mut(), |g| {
        // SAFETY: the caller's guarantee.
        let (b, alias) = unsafe { namespace_args(lpBoundaryDescriptor, lpAliasPrefix) }?;
        Ok(to_c(g.process().open_private_namespace(&b.boundary, &alias)?))
    })
}

/// `ClosePrivateNamespace`: closes the namespace handle (unmapping the alias in this
/// process). Returns a `BOOLEAN`, as Win32's does: 1 on success, 0 on failure with the
/// last error set. `Flags` may be 0 or PRIVATE_NAMESPACE_FLAG_DESTROY (else
/// ERROR_INVALID_PARAMETER); with DESTROY the namespace still lives until its last handle
/// closes (kobj has no early destruction).
#[no_mangle]
pub extern "C" fn kobj_ClosePrivateNamespace(Handle: HANDLE, Flags: ULONG) -> BOOLEAN {
    guard(0, || {
        let ok = bool_call(|g| {
            if Flags & !PRIVATE_NAMESPACE_FLAG_DESTROY != 0 {
                return Err(os(code::INVALID_PARAMETER));
            }
            g.process().close_handle(from_c(Handle))
        });
        BOOLEAN::from(ok != 0)
    })
}
