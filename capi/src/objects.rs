//! Create and open (mutex, event, semaphore, waitable timer, file mapping, job; `A` and
//! `W`), and the signal calls (ReleaseMutex, SetEvent, ResetEvent, PulseEvent,
//! ReleaseSemaphore).
//!
//! Last error, as kernelbase sets it: a `Create` that succeeds sets it to
//! ERROR_ALREADY_EXISTS (183) when it opened an existing object and to 0 when it made a
//! new one (`SetLastError(RtlNtStatusToDosError(status))` of STATUS_SUCCESS); an `Open`
//! and the signal calls leave it alone on success. Every failure returns NULL or FALSE
//! with the error's code.

use kobj::{Access, Created, Handle, SecurityAttributes};

use crate::context::{as_thread, set_last_error, GuestThread};
use crate::strings::{name_a, name_w, required};
use crate::{
    from_c, kobj_sd, to_c, win_bool, write_opt, BOOL, DWORD, FALSE, HANDLE, LONG, LPCSTR, LPCWSTR, LPLONG,
    LPSECURITY_ATTRIBUTES,
};

/// INVALID_HANDLE_VALUE: `CreateFileMapping`'s "the paging file" handle.
const INVALID_HANDLE_VALUE: usize = usize::MAX;

/// The engine's attributes for a C `SECURITY_ATTRIBUTES` (NULL: none).
///
/// # Safety
/// `sa` is NULL or a valid `SECURITY_ATTRIBUTES` whose `lpSecurityDescriptor` is NULL or
/// a live `kobj_sd *`.
pub(crate) unsafe fn attributes(sa: LPSECURITY_ATTRIBUTES) -> Option<SecurityAttributes> {
    // SAFETY: the caller guarantees `sa` is NULL or valid.
    let sa = unsafe { sa.as_ref() }?;
    // SAFETY: the caller guarantees the descriptor is NULL or a live `kobj_sd`.
    let sd = unsafe { sa.lpSecurityDescriptor.cast::<kobj_sd>().as_ref() };
    Some(SecurityAttributes {
        inherit_handle: sa.bInheritHandle != FALSE,
        security_descriptor: sd.map(|sd| sd.sd.clone()),
    })
}

/// A `Create` call's result, with Win32's last error for a success.
fn created(c: Created) -> HANDLE {
    set_last_error(if c.already_existed { 183 } else { 0 });
    to_c(c.handle)
}

/// The shape every `Create` shares: as the entered thread, name read first (its errors
/// come before the engine's), then `make`.
fn create(
    name: impl FnOnce() -> kobj::Result<Option<String>>,
    sa: LPSECURITY_ATTRIBUTES,
    make: impl FnOnce(&GuestThread, Option<&SecurityAttributes>, Option<&str>) -> kobj::Result<Created>,
) -> HANDLE {
    as_thread(std::ptr::null_mut(), |g| {
        let name = name()?;
        // SAFETY: every exported caller passes on its own caller's guarantee for `sa`.
        let sa = unsafe { attributes(sa) };
        Ok(created(make(g, sa.as_ref(), name.as_deref())?))
    })
}

/// The shape every `Open` shares: NULL name is ERROR_INVALID_PARAMETER.
fn open(
    name: impl FnOnce() -> kobj::Result<Option<String>>,
    access: DWORD,
    inherit: BOOL,
    open: impl FnOnce(&kobj::Process, Access, bool, &str) -> kobj::Result<Handle>,
) -> HANDLE {
    as_thread(std::ptr::null_mut(), |g| {
        let name = required(name()?)?;
        Ok(to_c(open(g.process(), Access::from_bits_retain(access), inherit != FALSE, &name)?))
    })
}

fn mutex(
    g: &GuestThread,
    sa: Option<&SecurityAttributes>,
    owner: BOOL,
    name: Option<&str>,
) -> kobj::Result<Created> {
    g.thread.create_mutex(sa, owner != FALSE, name)
}

/// `CreateMutexA` (UTF-8 name): a mutex owned by the calling thread if `bInitialOwner`
/// (ignored when the name exists). NULL on failure; ERROR_ALREADY_EXISTS with a valid
/// handle when the name existed; names over 260 characters: ERROR_FILENAME_EXCED_RANGE.
///
/// # Safety
/// `lpMutexAttributes` is NULL or a valid `SECURITY_ATTRIBUTES` (descriptor NULL or a
/// live `kobj_sd *`); `lpName` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateMutexA(
    lpMutexAttributes: LPSECURITY_ATTRIBUTES,
    bInitialOwner: BOOL,
    lpName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpName`.
    create(|| unsafe { name_a(lpName) }, lpMutexAttributes, |g, sa, n| mutex(g, sa, bInitialOwner, n))
}

/// `CreateMutexW`: as `kobj_CreateMutexA` with a UTF-16 name (up to 32,767 units).
///
/// # Safety
/// As `kobj_CreateMutexA`, `lpName` a NUL-terminated UTF-16 string.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateMutexW(
    lpMutexAttributes: LPSECURITY_ATTRIBUTES,
    bInitialOwner: BOOL,
    lpName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpName`.
    create(|| unsafe { name_w(lpName) }, lpMutexAttributes, |g, sa, n| mutex(g, sa, bInitialOwner, n))
}

/// `OpenMutexA`: a handle with `dwDesiredAccess` to the named mutex. NULL on failure
/// (ERROR_FILE_NOT_FOUND, ERROR_INVALID_HANDLE for another type, ERROR_ACCESS_DENIED,
/// ERROR_INVALID_PARAMETER for a NULL name); success leaves the last error alone.
///
/// # Safety
/// `lpName` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenMutexA(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(|| unsafe { name_a(lpName) }, dwDesiredAccess, bInheritHandle, kobj::Process::open_mutex)
}

/// `OpenMutexW`: as `kobj_OpenMutexA` with a UTF-16 name.
///
/// # Safety
/// `lpName` is NULL or a NUL-terminated UTF-16 string.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenMutexW(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(|| unsafe { name_w(lpName) }, dwDesiredAccess, bInheritHandle, kobj::Process::open_mutex)
}

/// `CreateEventA`: a manual- or auto-reset event, initially set or not (both ignored
/// when the name exists). Return and last error as `kobj_CreateMutexA`.
///
/// # Safety
/// As `kobj_CreateMutexA`.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateEventA(
    lpEventAttributes: LPSECURITY_ATTRIBUTES,
    bManualReset: BOOL,
    bInitialState: BOOL,
    lpName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpName`.
    create(
        || unsafe { name_a(lpName) },
        lpEventAttributes,
        |g, sa, n| g.process().create_event(sa, bManualReset != FALSE, bInitialState != FALSE, n),
    )
}

/// `CreateEventW`: as `kobj_CreateEventA` with a UTF-16 name.
///
/// # Safety
/// As `kobj_CreateMutexW`.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateEventW(
    lpEventAttributes: LPSECURITY_ATTRIBUTES,
    bManualReset: BOOL,
    bInitialState: BOOL,
    lpName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpName`.
    create(
        || unsafe { name_w(lpName) },
        lpEventAttributes,
        |g, sa, n| g.process().create_event(sa, bManualReset != FALSE, bInitialState != FALSE, n),
    )
}

/// `OpenEventA`: as `kobj_OpenMutexA` for an event.
///
/// # Safety
/// `lpName` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenEventA(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(|| unsafe { name_a(lpName) }, dwDesiredAccess, bInheritHandle, kobj::Process::open_event)
}

/// `OpenEventW`: as `kobj_OpenEventA` with a UTF-16 name.
///
/// # Safety
/// `lpName` is NULL or a NUL-terminated UTF-16 string.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenEventW(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(|| unsafe { name_w(lpName) }, dwDesiredAccess, bInheritHandle, kobj::Process::open_event)
}

/// `CreateSemaphoreA`: `lMaximumCount <= 0`, `lInitialCount < 0` or above the maximum is
/// ERROR_INVALID_PARAMETER (before the name is looked at). Return and last error as
/// `kobj_CreateMutexA`.
///
/// # Safety
/// As `kobj_CreateMutexA`.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateSemaphoreA(
    lpSemaphoreAttributes: LPSECURITY_ATTRIBUTES,
    lInitialCount: LONG,
    lMaximumCount: LONG,
    lpName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpName`.
    create(
        || unsafe { name_a(lpName) },
        lpSemaphoreAttributes,
        |g, sa, n| g.process().create_semaphore(sa, lInitialCount, lMaximumCount, n),
    )
}

/// `CreateSemaphoreW`: as `kobj_CreateSemaphoreA` with a UTF-16 name.
///
/// # Safety
/// As `kobj_CreateMutexW`.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateSemaphoreW(
    lpSemaphoreAttributes: LPSECURITY_ATTRIBUTES,
    lInitialCount: LONG,
    lMaximumCount: LONG,
    lpName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpName`.
    create(
        || unsafe { name_w(lpName) },
        lpSemaphoreAttributes,
        |g, sa, n| g.process().create_semaphore(sa, lInitialCount, lMaximumCount, n),
    )
}

/// `OpenSemaphoreA`: as `kobj_OpenMutexA` for a semaphore.
///
/// # Safety
/// `lpName` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenSemaphoreA(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(|| unsafe { name_a(lpName) }, dwDesiredAccess, bInheritHandle, kobj::Process::open_semaphore)
}

/// `OpenSemaphoreW`: as `kobj_OpenSemaphoreA` with a UTF-16 name.
///
/// # Safety
/// `lpName` is NULL or a NUL-terminated UTF-16 string.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenSemaphoreW(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(|| unsafe { name_w(lpName) }, dwDesiredAccess, bInheritHandle, kobj::Process::open_semaphore)
}

/// `CreateWaitableTimerA`: a manual-reset (notification) or synchronization timer, not
/// set. Return and last error as `kobj_CreateMutexA`.
///
/// # Safety
/// As `kobj_CreateMutexA`.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateWaitableTimerA(
    lpTimerAttributes: LPSECURITY_ATTRIBUTES,
    bManualReset: BOOL,
    lpTimerName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpTimerName`.
    create(
        || unsafe { name_a(lpTimerName) },
        lpTimerAttributes,
        |g, sa, n| g.process().create_waitable_timer(sa, bManualReset != FALSE, n),
    )
}

/// `CreateWaitableTimerW`: as `kobj_CreateWaitableTimerA` with a UTF-16 name.
///
/// # Safety
/// As `kobj_CreateMutexW`.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateWaitableTimerW(
    lpTimerAttributes: LPSECURITY_ATTRIBUTES,
    bManualReset: BOOL,
    lpTimerName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpTimerName`.
    create(
        || unsafe { name_w(lpTimerName) },
        lpTimerAttributes,
        |g, sa, n| g.process().create_waitable_timer(sa, bManualReset != FALSE, n),
    )
}

/// `OpenWaitableTimerA`: as `kobj_OpenMutexA` for a waitable timer.
///
/// # Safety
/// `lpTimerName` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenWaitableTimerA(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpTimerName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(
        || unsafe { name_a(lpTimerName) },
        dwDesiredAccess,
        bInheritHandle,
        kobj::Process::open_waitable_timer,
    )
}

/// `OpenWaitableTimerW`: as `kobj_OpenWaitableTimerA` with a UTF-16 name.
///
/// # Safety
/// `lpTimerName` is NULL or a NUL-terminated UTF-16 string.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenWaitableTimerW(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpTimerName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(
        || unsafe { name_w(lpTimerName) },
        dwDesiredAccess,
        bInheritHandle,
        kobj::Process::open_waitable_timer,
    )
}

/// A file mapping for either name form: INVALID_HANDLE_VALUE is the paging file (which
/// needs a non-zero size), any other value a file handle.
fn mapping(
    g: &GuestThread,
    file: HANDLE,
    sa: Option<&SecurityAttributes>,
    protect: DWORD,
    high: DWORD,
    low: DWORD,
    name: Option<&str>,
) -> kobj::Result<Created> {
    let file = (file as usize != INVALID_HANDLE_VALUE).then(|| from_c(file));
    let size = (u64::from(high) << 32) | u64::from(low);
    g.process().create_file_mapping(file, sa, protect, size, name)
}

/// `CreateFileMappingA`: a section of `dwMaximumSizeHigh:Low` bytes with page protection
/// `flProtect` (PAGE_* with SEC_* flags, else ERROR_INVALID_PARAMETER), over the paging
/// file (`hFile` INVALID_HANDLE_VALUE; a zero size is ERROR_INVALID_PARAMETER) or a file
/// handle. Return and last error as `kobj_CreateMutexA`.
///
/// # Safety
/// As `kobj_CreateMutexA`.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateFileMappingA(
    hFile: HANDLE,
    lpFileMappingAttributes: LPSECURITY_ATTRIBUTES,
    flProtect: DWORD,
    dwMaximumSizeHigh: DWORD,
    dwMaximumSizeLow: DWORD,
    lpName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpName`.
    create(
        || unsafe { name_a(lpName) },
        lpFileMappingAttributes,
        |g, sa, n| mapping(g, hFile, sa, flProtect, dwMaximumSizeHigh, dwMaximumSizeLow, n),
    )
}

/// `CreateFileMappingW`: as `kobj_CreateFileMappingA` with a UTF-16 name.
///
/// # Safety
/// As `kobj_CreateMutexW`.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateFileMappingW(
    hFile: HANDLE,
    lpFileMappingAttributes: LPSECURITY_ATTRIBUTES,
    flProtect: DWORD,
    dwMaximumSizeHigh: DWORD,
    dwMaximumSizeLow: DWORD,
    lpName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpName`.
    create(
        || unsafe { name_w(lpName) },
        lpFileMappingAttributes,
        |g, sa, n| mapping(g, hFile, sa, flProtect, dwMaximumSizeHigh, dwMaximumSizeLow, n),
    )
}

/// `OpenFileMappingA`: as `kobj_OpenMutexA` for a file mapping.
///
/// # Safety
/// `lpName` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenFileMappingA(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(|| unsafe { name_a(lpName) }, dwDesiredAccess, bInheritHandle, kobj::Process::open_file_mapping)
}

/// `OpenFileMappingW`: as `kobj_OpenFileMappingA` with a UTF-16 name.
///
/// # Safety
/// `lpName` is NULL or a NUL-terminated UTF-16 string.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenFileMappingW(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(|| unsafe { name_w(lpName) }, dwDesiredAccess, bInheritHandle, kobj::Process::open_file_mapping)
}

/// `CreateJobObjectA`. Return and last error as `kobj_CreateMutexA`.
///
/// # Safety
/// As `kobj_CreateMutexA`.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateJobObjectA(
    lpJobAttributes: LPSECURITY_ATTRIBUTES,
    lpName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpName`.
    create(|| unsafe { name_a(lpName) }, lpJobAttributes, |g, sa, n| g.process().create_job_object(sa, n))
}

/// `CreateJobObjectW`: as `kobj_CreateJobObjectA` with a UTF-16 name.
///
/// # Safety
/// As `kobj_CreateMutexW`.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateJobObjectW(
    lpJobAttributes: LPSECURITY_ATTRIBUTES,
    lpName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee for `lpName`.
    create(|| unsafe { name_w(lpName) }, lpJobAttributes, |g, sa, n| g.process().create_job_object(sa, n))
}

/// `OpenJobObjectA`: as `kobj_OpenMutexA` for a job.
///
/// # Safety
/// `lpName` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenJobObjectA(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpName: LPCSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(|| unsafe { name_a(lpName) }, dwDesiredAccess, bInheritHandle, kobj::Process::open_job_object)
}

/// `OpenJobObjectW`: as `kobj_OpenJobObjectA` with a UTF-16 name.
///
/// # Safety
/// `lpName` is NULL or a NUL-terminated UTF-16 string.
#[no_mangle]
pub unsafe extern "C" fn kobj_OpenJobObjectW(
    dwDesiredAccess: DWORD,
    bInheritHandle: BOOL,
    lpName: LPCWSTR,
) -> HANDLE {
    // SAFETY: the caller's guarantee.
    open(|| unsafe { name_w(lpName) }, dwDesiredAccess, bInheritHandle, kobj::Process::open_job_object)
}

/// A `BOOL` call as the entered thread: FALSE with the error's code on failure, the last
/// error left alone on success.
pub(crate) fn bool_call(body: impl FnOnce(&GuestThread) -> kobj::Result<()>) -> BOOL {
    as_thread(FALSE, |g| body(g).map(|()| win_bool(true)))
}

/// `ReleaseMutex`: releases one acquisition by the calling thread. FALSE with
/// ERROR_NOT_OWNER (288) if it does not own the mutex, ERROR_INVALID_HANDLE if `hMutex`
/// is not a mutex.
#[no_mangle]
pub extern "C" fn kobj_ReleaseMutex(hMutex: HANDLE) -> BOOL {
    bool_call(|g| g.thread.release_mutex(from_c(hMutex)))
}

/// `SetEvent`: needs EVENT_MODIFY_STATE.
#[no_mangle]
pub extern "C" fn kobj_SetEvent(hEvent: HANDLE) -> BOOL {
    bool_call(|g| g.process().set_event(from_c(hEvent)))
}

/// `ResetEvent`: needs EVENT_MODIFY_STATE.
#[no_mangle]
pub extern "C" fn kobj_ResetEvent(hEvent: HANDLE) -> BOOL {
    bool_call(|g| g.process().reset_event(from_c(hEvent)))
}

/// `PulseEvent`: satisfies the threads waiting now and leaves the event reset; needs
/// EVENT_MODIFY_STATE.
#[no_mangle]
pub extern "C" fn kobj_PulseEvent(hEvent: HANDLE) -> BOOL {
    bool_call(|g| g.process().pulse_event(from_c(hEvent)))
}

/// `ReleaseSemaphore`: adds `lReleaseCount` (> 0, else ERROR_INVALID_PARAMETER before
/// the handle is looked at) and writes the previous count to `*lpPreviousCount` if it is
/// not NULL. Past the maximum: FALSE with ERROR_TOO_MANY_POSTS (298), count unchanged.
///
/// # Safety
/// `lpPreviousCount` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn kobj_ReleaseSemaphore(
    hSemaphore: HANDLE,
    lReleaseCount: LONG,
    lpPreviousCount: LPLONG,
) -> BOOL {
    bool_call(|g| {
        let previous = g.process().release_semaphore(from_c(hSemaphore), lReleaseCount)?;
        // SAFETY: the caller guarantees NULL or valid for a write.
        unsafe { write_opt(lpPreviousCount, previous) };
        Ok(())
    })
}
