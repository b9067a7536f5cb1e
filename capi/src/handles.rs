//! The calls every handle shares: CloseHandle, DuplicateHandle, Get/SetHandleInformation,
//! CompareObjectHandles. Each returns FALSE with the error's code on failure and leaves
//! the last error alone on success.

use kobj::{Access, DuplicateOptions, Handle, HandleFlags};

use crate::context::{as_thread, GuestThread};
use crate::objects::bool_call;
use crate::{
    code, from_c, os, to_c, win_bool, write_opt, write_req, BOOL, DWORD, FALSE, HANDLE, LPDWORD, LPHANDLE,
};

/// `CloseHandle`. ERROR_INVALID_HANDLE for a closed, never-issued or garbage value and
/// for a HANDLE_FLAG_PROTECT_FROM_CLOSE handle (which stays valid); a pseudo-handle
/// succeeds and does nothing.
#[no_mangle]
pub extern "C" fn kobj_CloseHandle(hObject: HANDLE) -> BOOL {
    bool_call(|g| g.process().close_handle(from_c(hObject)))
}

/// `DuplicateHandle`: copies `hSourceHandle` of the process `hSourceProcessHandle` into
/// the process `hTargetProcessHandle` (both need PROCESS_DUP_HANDLE;
/// `GetCurrentProcess()` has it). `dwOptions`: DUPLICATE_CLOSE_SOURCE,
/// DUPLICATE_SAME_ACCESS (ignores `dwDesiredAccess`); `bInheritHandle` sets the new
/// handle's inheritance. A NULL target process with DUPLICATE_CLOSE_SOURCE only closes
/// the source. `*lpTargetHandle` receives the new handle if `lpTargetHandle` is not NULL
/// (Win32 allows NULL, for compatibility). CLOSE_SOURCE closes a valid source even when
/// the duplication fails. `GetCurrentThread()` from `GetCurrentProcess()` duplicates into
/// a real handle to the calling thread.
///
/// # Safety
/// `lpTargetHandle` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn kobj_DuplicateHandle(
    hSourceProcessHandle: HANDLE,
    hSourceHandle: HANDLE,
    hTargetProcessHandle: HANDLE,
    lpTargetHandle: LPHANDLE,
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    dwOptions: DWORD,
) -> BOOL {
    bool_call(|g| {
        let target = (!hTargetProcessHandle.is_null()).then(|| from_c(hTargetProcessHandle));
        let source_process = from_c(hSourceProcessHandle);
        let source = from_c(hSourceHandle);
        let access = Access::from_bits_retain(dwDesiredAccess);
        let options = DuplicateOptions::from_bits_truncate(dwOptions);
        let new = if source == Handle::CURRENT_THREAD && source_process == Handle::CURRENT_PROCESS {
            current_thread(g, target, access, bInheritHandle != FALSE, options)?
        } else {
            g.process().duplicate_handle(
                source_process,
                source,
                target,
                access,
                bInheritHandle != FALSE,
                options,
            )?
        };
        if let Some(new) = new {
            // SAFETY: the caller guarantees NULL or valid for a write.
            unsafe { write_opt(lpTargetHandle, to_c(new)) };
        }
        Ok(())
    })
}

/// `DuplicateHandle` of `GetCurrentThread()` from `GetCurrentProcess()`: a real handle to
/// the calling thread (THREAD_ALL_ACCESS under DUPLICATE_SAME_ACCESS), the common way to
/// get one. The engine's `Process` does not know which thread is calling, so this layer
/// opens the entered thread by id (an access check against the thread's DACL, which
/// grants its own user everything by default) and moves that handle to the target.
fn current_thread(
    g: &GuestThread,
    target: Option<Handle>,
    access: Access,
    inherit: bool,
    options: DuplicateOptions,
) -> kobj::Result<Option<Handle>> {
    let p = g.process();
    let Some(target) = target else {
        // Closing a pseudo-handle does nothing; without CLOSE_SOURCE: no target.
        return if options.contains(DuplicateOptions::CLOSE_SOURCE) {
            Ok(None)
        } else {
            Err(os(code::INVALID_PARAMETER))
        };
    };
    let access =
        if options.contains(DuplicateOptions::SAME_ACCESS) { Access::THREAD_ALL_ACCESS } else { access };
    // A pseudo-handle has no attributes to copy.
    let inherit = inherit && !options.contains(DuplicateOptions::SAME_ATTRIBUTES);
    let own = p.open_thread(access, inherit, g.thread.id())?;
    if target == Handle::CURRENT_PROCESS {
        return Ok(Some(own));
    }
    let moved =
        DuplicateOptions::SAME_ACCESS | DuplicateOptions::SAME_ATTRIBUTES | DuplicateOptions::CLOSE_SOURCE;
    // CLOSE_SOURCE closes `own` whether or not the move succeeds.
    p.duplicate_handle(Handle::CURRENT_PROCESS, own, Some(target), Access::empty(), false, moved)
}

/// `GetHandleInformation`: writes the handle's HANDLE_FLAG_INHERIT and
/// HANDLE_FLAG_PROTECT_FROM_CLOSE bits to `*lpdwFlags` (NULL: ERROR_NOACCESS, 998).
///
/// # Safety
/// `lpdwFlags` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn kobj_GetHandleInformation(hObject: HANDLE, lpdwFlags: LPDWORD) -> BOOL {
    bool_call(|g| {
        let flags = g.process().get_handle_information(from_c(hObject))?;
        // SAFETY: the caller guarantees NULL or valid for a write.
        unsafe { write_req(lpdwFlags, flags.bits()) }
    })
}

/// `SetHandleInformation`: sets the flags in `dwMask` to their values in `dwFlags`;
/// other bits are ignored. A pseudo-handle is ERROR_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn kobj_SetHandleInformation(hObject: HANDLE, dwMask: DWORD, dwFlags: DWORD) -> BOOL {
    bool_call(|g| {
        g.process().set_handle_information(
            from_c(hObject),
            HandleFlags::from_bits_truncate(dwMask),
            HandleFlags::from_bits_truncate(dwFlags),
        )
    })
}

/// `CompareObjectHandles`: TRUE if both handles name the same object. Otherwise FALSE,
/// with ERROR_NOT_SAME_OBJECT (1656) for two valid handles to different objects
/// (kernelbase maps NtCompareObjects' STATUS_NOT_SAME_OBJECT so) or the handle's error.
#[no_mangle]
pub extern "C" fn kobj_CompareObjectHandles(hFirstObjectHandle: HANDLE, hSecondObjectHandle: HANDLE) -> BOOL {
    as_thread(FALSE, |g| {
        if g.process().compare_object_handles(from_c(hFirstObjectHandle), from_c(hSecondObjectHandle))? {
            Ok(win_bool(true))
        } else {
            Err(os(code::NOT_SAME_OBJECT))
        }
    })
}
