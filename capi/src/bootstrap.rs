//! The bootstrap: kernels, processes, threads, SIDs, security descriptors, tokens,
//! boundary descriptors, and `kobj_CreateProcess`.
//!
//! Every object here is a `Box` handed to C as an opaque pointer and taken back by its
//! `_free` function. A `kobj_process *` or `kobj_thread *` is a reference to the guest
//! process or thread (as the engine's `Process` and `Thread` values are): it keeps the
//! object in use, and when the last reference and the last handle are gone an
//! unterminated process is terminated.

use std::sync::Arc;

use kobj::{Ace, BoundaryDescriptor, Kernel, Privilege, ProcessOptions, SecurityDescriptor, Sid, Token};

use crate::context::{as_thread, call, guard, GuestThread};
use crate::strings::name_w;
use crate::{code, from_c, os, to_c, win_bool, write_opt, BOOL, DWORD, FALSE, HANDLE, LPCSTR, LPCWSTR};

/// One machine's object manager (opaque).
pub struct kobj_kernel {
    kernel: Kernel,
}

impl From<Kernel> for kobj_kernel {
    fn from(kernel: Kernel) -> Self {
        kobj_kernel { kernel }
    }
}

impl kobj_kernel {
    pub(crate) fn kernel(&self) -> &Kernel {
        &self.kernel
    }
}

/// A reference to a guest process (opaque): calls made through it, and the threads made
/// by `kobj_thread_create`, act as this process.
pub struct kobj_process {
    pub(crate) process: kobj::Process,
    /// Its main thread, shared by every `kobj_process_main_thread` reference.
    main: Arc<GuestThread>,
}

impl kobj_process {
    fn new(process: kobj::Process) -> Box<kobj_process> {
        let main = GuestThread::new(process.main_thread());
        Box::new(kobj_process { process, main })
    }
}

/// A reference to a guest thread (opaque), to enter with `kobj_thread_enter`.
pub struct kobj_thread {
    pub(crate) guest: Arc<GuestThread>,
}

/// A security descriptor under construction (opaque): an owner and a DACL, used as
/// `SECURITY_ATTRIBUTES.lpSecurityDescriptor`.
pub struct kobj_sd {
    pub(crate) sd: SecurityDescriptor,
}

/// An access token under construction (opaque): a user, groups and privileges.
pub struct kobj_token {
    token: Token,
}

/// A boundary descriptor (opaque): a name and the SIDs an opener of the private
/// namespace must hold (`CreateBoundaryDescriptor` + `AddSIDToBoundaryDescriptor`).
pub struct kobj_boundary {
    pub(crate) boundary: BoundaryDescriptor,
}

/// A SID as C passes it: `KOBJ_SID_EVERYONE`, `KOBJ_SID_SYSTEM`, `kobj_sid_user(rid)`
/// or `kobj_sid_group(rid)` (the kind in the high 32 bits, the relative id in the low).
pub type kobj_sid = u64;

/// Everyone (S-1-1-0): every token holds it.
pub const KOBJ_SID_EVERYONE: kobj_sid = 0x1_0000_0000;
/// LocalSystem (S-1-5-18).
pub const KOBJ_SID_SYSTEM: kobj_sid = 0x2_0000_0000;
/// The kind bits of a user SID (`kobj_sid_user`).
const SID_USER: u64 = 3;
/// The kind bits of a group SID (`kobj_sid_group`).
const SID_GROUP: u64 = 4;

/// SeAssignPrimaryTokenPrivilege (its Windows LUID, SE_ASSIGNPRIMARYTOKEN_PRIVILEGE):
/// start a child with a token other than the caller's.
pub const KOBJ_PRIV_ASSIGN_PRIMARY_TOKEN: DWORD = 3;
/// SeTcbPrivilege (SE_TCB_PRIVILEGE): start a child in another session.
pub const KOBJ_PRIV_TCB: DWORD = 7;
/// SeCreateGlobalPrivilege (SE_CREATE_GLOBAL_PRIVILEGE): create a file mapping in the
/// global namespace from a session other than 0.
pub const KOBJ_PRIV_CREATE_GLOBAL: DWORD = 30;

/// The options of a new process (`kobj_process_create`, `kobj_CreateProcess`). A NULL
/// options pointer means all defaults, as does a zeroed struct.
#[repr(C)]
pub struct kobj_process_options {
    /// The token it runs with; NULL: the parent's (a root process: user 1000).
    pub token: *const kobj_token,
    /// TRUE: run in `session_id`; FALSE: the parent's session (a root's: 0).
    pub has_session: BOOL,
    /// The session, when `has_session`.
    pub session_id: DWORD,
    /// PROC_THREAD_ATTRIBUTE_HANDLE_LIST: NULL for none, else `handle_count` handles
    /// (each inheritable; an empty list is ERROR_INVALID_PARAMETER).
    pub handle_list: *const HANDLE,
    /// The number of handles at `handle_list`.
    pub handle_count: usize,
}

/// The engine's SID for a C `kobj_sid`; an unknown kind is ERROR_INVALID_SID.
fn sid(s: kobj_sid) -> kobj::Result<Sid> {
    let rid = s as u32;
    match (s >> 32, rid) {
        (1, 0) => Ok(Sid::EVERYONE),
        (2, 0) => Ok(Sid::SYSTEM),
        (SID_USER, rid) => Ok(Sid::user(rid)),
        (SID_GROUP, rid) => Ok(Sid::group(rid)),
        _ => Err(os(code::INVALID_SID)),
    }
}

/// The engine's process options for C's.
///
/// # Safety
/// `o` is NULL or a valid `kobj_process_options` whose `token` is NULL or a live
/// `kobj_token` and whose `handle_list` is NULL or points to `handle_count` handles.
unsafe fn options(o: *const kobj_process_options) -> kobj::Result<ProcessOptions> {
    // SAFETY: the caller guarantees `o` is NULL or valid.
    let Some(o) = (unsafe { o.as_ref() }) else {
        return Ok(ProcessOptions::default());
    };
    // SAFETY: the caller guarantees `token` is NULL or a live `kobj_token`.
    let token = unsafe { o.token.as_ref() }.map(|t| t.token.clone());
    let session_id = (o.has_session != FALSE).then_some(o.session_id);
    let handle_list = if o.handle_list.is_null() {
        if o.handle_count != 0 {
            return Err(os(code::INVALID_PARAMETER));
        }
        None
    } else {
        // SAFETY: the caller guarantees `handle_count` handles are readable there.
        let list = unsafe { std::slice::from_raw_parts(o.handle_list, o.handle_count) };
        Some(list.iter().map(|&h| from_c(h)).collect())
    };
    Ok(ProcessOptions { token, session_id, handle_list })
}

/// A new kernel with the default settings (handle limit 2^30, the system clock). Free
/// it with `kobj_kernel_free`; processes keep the kernel alive after that.
#[no_mangle]
pub extern "C" fn kobj_kernel_new() -> *mut kobj_kernel {
    guard(std::ptr::null_mut(), || Box::into_raw(Box::new(kobj_kernel { kernel: Kernel::new() })))
}

/// Frees a kernel reference. Processes made from it live on (they hold the kernel).
///
/// # Safety
/// `kernel` is NULL or a `kobj_kernel *` from `kobj_kernel_new(_with)` not yet freed; it is not
/// used after this call.
#[no_mangle]
pub unsafe extern "C" fn kobj_kernel_free(kernel: *mut kobj_kernel) {
    if !kernel.is_null() {
        // SAFETY: the caller hands back a pointer from `Box::into_raw`, once.
        guard((), || drop(unsafe { Box::from_raw(kernel) }));
    }
}

/// The number of live objects of every type, processes and threads included (for leak
/// checks); 0 for NULL.
///
/// # Safety
/// `kernel` is NULL or a live `kobj_kernel *`.
#[no_mangle]
pub unsafe extern "C" fn kobj_kernel_object_count(kernel: *const kobj_kernel) -> usize {
    // SAFETY: the caller guarantees `kernel` is NULL or live.
    let kernel = unsafe { kernel.as_ref() };
    guard(0, || kernel.map_or(0, |k| k.kernel.object_count()))
}

/// A root process of `kernel` (it inherits nothing), with `options` (NULL: defaults; a
/// handle list is ERROR_INVALID_PARAMETER). Returns NULL on failure, with the last error
/// set. Free it with `kobj_process_free`.
///
/// # Safety
/// `kernel` is NULL or live; `options` as for `kobj_process_options`.
#[no_mangle]
pub unsafe extern "C" fn kobj_process_create(
    kernel: *mut kobj_kernel,
    options: *const kobj_process_options,
) -> *mut kobj_process {
    // SAFETY: the caller guarantees `kernel` is NULL or live.
    let kernel = unsafe { kernel.as_ref() };
    call(std::ptr::null_mut(), || {
        let kernel = kernel.ok_or(os(code::INVALID_PARAMETER))?;
        // SAFETY: the caller's guarantee for `options`.
        let options = unsafe { self::options(options) }?;
        let process = kernel.kernel.create_process(options)?;
        Ok(Box::into_raw(kobj_process::new(process)))
    })
}

/// Frees a process reference. The process lives on while handles to it exist; with none
/// left, an unterminated process is terminated.
///
/// # Safety
/// `process` is NULL or a `kobj_process *` from this library not yet freed; it is not
/// used after this call.
#[no_mangle]
pub unsafe extern "C" fn kobj_process_free(process: *mut kobj_process) {
    if !process.is_null() {
        // SAFETY: the caller hands back a pointer from `Box::into_raw`, once.
        guard((), || drop(unsafe { Box::from_raw(process) }));
    }
}

/// The process's main thread (the one it has from its creation): a new reference, to
/// free with `kobj_thread_free`. Every reference to the main thread shares its last
/// error. NULL (ERROR_INVALID_PARAMETER) for a NULL process.
///
/// # Safety
/// `process` is NULL or a live `kobj_process *`.
#[no_mangle]
pub unsafe extern "C" fn kobj_process_main_thread(process: *mut kobj_process) -> *mut kobj_thread {
    // SAFETY: the caller guarantees `process` is NULL or live.
    let process = unsafe { process.as_ref() };
    call(std::ptr::null_mut(), || {
        let p = process.ok_or(os(code::INVALID_PARAMETER))?;
        Ok(Box::into_raw(Box::new(kobj_thread { guest: Arc::clone(&p.main) })))
    })
}

/// A new thread of `process` (`CreateThread` without the code to run: the embedder runs
/// it). `*handle` receives a THREAD_ALL_ACCESS handle to it in the process's table; with
/// `handle` NULL that handle is closed at once. NULL on failure (ERROR_ACCESS_DENIED once
/// the process has ended), with the last error set.
///
/// # Safety
/// `process` is NULL or a live `kobj_process *`; `handle` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn kobj_thread_create(
    process: *mut kobj_process,
    handle: *mut HANDLE,
) -> *mut kobj_thread {
    // SAFETY: the caller guarantees `process` is NULL or live.
    let process = unsafe { process.as_ref() };
    call(std::ptr::null_mut(), || {
        let p = process.ok_or(os(code::INVALID_PARAMETER))?;
        let new = p.process.create_thread(None)?;
        if handle.is_null() {
            p.process.close_handle(new.handle)?;
        } else {
            // SAFETY: non-null, and the caller guarantees it is valid for a write.
            unsafe { handle.write(to_c(new.handle)) };
        }
        Ok(Box::into_raw(Box::new(kobj_thread { guest: GuestThread::new(new.thread) })))
    })
}

/// Frees a thread reference (a binding made through it lives on until its host thread
/// leaves).
///
/// # Safety
/// `thread` is NULL or a `kobj_thread *` from this library not yet freed; it is not used
/// after this call.
#[no_mangle]
pub unsafe extern "C" fn kobj_thread_free(thread: *mut kobj_thread) {
    if !thread.is_null() {
        // SAFETY: the caller hands back a pointer from `Box::into_raw`, once.
        guard((), || drop(unsafe { Box::from_raw(thread) }));
    }
}

/// The SID of user `rid`.
#[no_mangle]
pub extern "C" fn kobj_sid_user(rid: u32) -> kobj_sid {
    (SID_USER << 32) | u64::from(rid)
}

/// The SID of group `rid` (a space apart from users).
#[no_mangle]
pub extern "C" fn kobj_sid_group(rid: u32) -> kobj_sid {
    (SID_GROUP << 32) | u64::from(rid)
}

/// A new security descriptor: `empty_dacl` FALSE gives no DACL (everyone gets all
/// access), TRUE an empty DACL (nobody but the owner's implicit READ_CONTROL |
/// WRITE_DAC). Free it with `kobj_sd_free`; objects copy it when created.
#[no_mangle]
pub extern "C" fn kobj_sd_new(empty_dacl: BOOL) -> *mut kobj_sd {
    guard(std::ptr::null_mut(), || {
        let dacl = (empty_dacl != FALSE).then(Vec::new);
        Box::into_raw(Box::new(kobj_sd { sd: SecurityDescriptor { owner: None, dacl } }))
    })
}

/// Appends an ACE to a descriptor's DACL (a missing DACL becomes one holding it).
///
/// # Safety
/// `sd` is NULL or a live `kobj_sd *`.
unsafe fn add_ace(sd: *mut kobj_sd, make: impl FnOnce() -> kobj::Result<Ace>) -> BOOL {
    // SAFETY: the caller guarantees `sd` is NULL or live, and nothing else uses it now.
    let sd = unsafe { sd.as_mut() };
    call(FALSE, || {
        let sd = sd.ok_or(os(code::INVALID_PARAMETER))?;
        let ace = make()?;
        sd.sd.dacl.get_or_insert_with(Vec::new).push(ace);
        Ok(win_bool(true))
    })
}

/// Appends an access-allowed ACE (`AddAccessAllowedAce`); `access` may hold GENERIC_*
/// rights (mapped for each object's type). FALSE with ERROR_INVALID_SID for an unknown
/// SID, ERROR_INVALID_PARAMETER for a NULL descriptor.
///
/// # Safety
/// `sd` is NULL or a live `kobj_sd *` no other thread is changing.
#[no_mangle]
pub unsafe extern "C" fn kobj_sd_allow(sd: *mut kobj_sd, sid: kobj_sid, access: DWORD) -> BOOL {
    // SAFETY: the caller's guarantee.
    unsafe { add_ace(sd, || Ok(Ace::Allow(self::sid(sid)?, kobj::Access::from_bits_retain(access)))) }
}

/// Appends an access-denied ACE (`AddAccessDeniedAce`); as `kobj_sd_allow`.
///
/// # Safety
/// `sd` is NULL or a live `kobj_sd *` no other thread is changing.
#[no_mangle]
pub unsafe extern "C" fn kobj_sd_deny(sd: *mut kobj_sd, sid: kobj_sid, access: DWORD) -> BOOL {
    // SAFETY: the caller's guarantee.
    unsafe { add_ace(sd, || Ok(Ace::Deny(self::sid(sid)?, kobj::Access::from_bits_retain(access)))) }
}

/// Sets the descriptor's owner (default: the creating token's user).
///
/// # Safety
/// `sd` is NULL or a live `kobj_sd *` no other thread is changing.
#[no_mangle]
pub unsafe extern "C" fn kobj_sd_set_owner(sd: *mut kobj_sd, owner: kobj_sid) -> BOOL {
    // SAFETY: the caller guarantees `sd` is NULL or live and not shared now.
    let sd = unsafe { sd.as_mut() };
    call(FALSE, || {
        let sd = sd.ok_or(os(code::INVALID_PARAMETER))?;
        sd.sd.owner = Some(sid(owner)?);
        Ok(win_bool(true))
    })
}

/// Frees a descriptor (objects created with it keep their own copy).
///
/// # Safety
/// `sd` is NULL or a `kobj_sd *` from `kobj_sd_new` not yet freed; not used after.
#[no_mangle]
pub unsafe extern "C" fn kobj_sd_free(sd: *mut kobj_sd) {
    if !sd.is_null() {
        // SAFETY: the caller hands back a pointer from `Box::into_raw`, once.
        guard((), || drop(unsafe { Box::from_raw(sd) }));
    }
}

/// A token for `user` (no groups, no privileges; its default DACL allows the user and
/// SYSTEM all access). NULL with ERROR_INVALID_SID for an unknown SID.
#[no_mangle]
pub extern "C" fn kobj_token_new(user: kobj_sid) -> *mut kobj_token {
    call(std::ptr::null_mut(), || Ok(Box::into_raw(Box::new(kobj_token { token: Token::new(sid(user)?) }))))
}

/// Changes a token in place.
///
/// # Safety
/// `token` is NULL or a live `kobj_token *` no other thread is using.
unsafe fn change_token(token: *mut kobj_token, change: impl FnOnce(Token) -> kobj::Result<Token>) -> BOOL {
    // SAFETY: the caller's guarantee.
    let token = unsafe { token.as_mut() };
    call(FALSE, || {
        let t = token.ok_or(os(code::INVALID_PARAMETER))?;
        t.token = change(t.token.clone())?;
        Ok(win_bool(true))
    })
}

/// Adds a group SID to a token.
///
/// # Safety
/// `token` is NULL or a live `kobj_token *` no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn kobj_token_add_group(token: *mut kobj_token, group: kobj_sid) -> BOOL {
    // SAFETY: the caller's guarantee.
    unsafe { change_token(token, |t| Ok(t.with_group(sid(group)?))) }
}

/// Adds a privilege to a token: `KOBJ_PRIV_CREATE_GLOBAL`, `KOBJ_PRIV_ASSIGN_PRIMARY_TOKEN`
/// or `KOBJ_PRIV_TCB` (Windows' LUID values); another is ERROR_NO_SUCH_PRIVILEGE.
///
/// # Safety
/// `token` is NULL or a live `kobj_token *` no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn kobj_token_add_privilege(token: *mut kobj_token, privilege: DWORD) -> BOOL {
    let privilege = match privilege {
        KOBJ_PRIV_CREATE_GLOBAL => Ok(Privilege::CreateGlobal),
        KOBJ_PRIV_ASSIGN_PRIMARY_TOKEN => Ok(Privilege::AssignPrimaryToken),
        KOBJ_PRIV_TCB => Ok(Privilege::Tcb),
        _ => Err(os(code::NO_SUCH_PRIVILEGE)),
    };
    // SAFETY: the caller's guarantee.
    unsafe { change_token(token, |t| Ok(t.with_privilege(privilege?))) }
}

/// Frees a token (processes made with it keep their own).
///
/// # Safety
/// `token` is NULL or a `kobj_token *` from `kobj_token_new` not yet freed; not used
/// after.
#[no_mangle]
pub unsafe extern "C" fn kobj_token_free(token: *mut kobj_token) {
    if !token.is_null() {
        // SAFETY: the caller hands back a pointer from `Box::into_raw`, once.
        guard((), || drop(unsafe { Box::from_raw(token) }));
    }
}

/// A boundary descriptor named `name` (UTF-8; `CreateBoundaryDescriptor`), with no SIDs.
/// NULL with ERROR_INVALID_PARAMETER for a NULL name, ERROR_NO_UNICODE_TRANSLATION for
/// one that is not UTF-8.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn kobj_boundary_new(name: LPCSTR) -> *mut kobj_boundary {
    call(std::ptr::null_mut(), || {
        // A boundary name is not an object name: the ANSI length rule does not apply.
        let name = if name.is_null() {
            None
        } else {
            // SAFETY: the caller guarantees a NUL-terminated string.
            let bytes = unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes();
            Some(std::str::from_utf8(bytes).map_err(|_| os(code::NO_UNICODE_TRANSLATION))?.to_owned())
        };
        boundary(name)
    })
}

/// As `kobj_boundary_new`, with a UTF-16 name (`CreateBoundaryDescriptorW`);
/// ERROR_INVALID_NAME for one that is not UTF-16.
///
/// # Safety
/// `name` is NULL or a NUL-terminated UTF-16 string.
#[no_mangle]
pub unsafe extern "C" fn kobj_boundary_new_w(name: LPCWSTR) -> *mut kobj_boundary {
    // SAFETY: the caller's guarantee.
    call(std::ptr::null_mut(), || boundary(unsafe { name_w(name) }?))
}

fn boundary(name: Option<String>) -> kobj::Result<*mut kobj_boundary> {
    let name = name.ok_or(os(code::INVALID_PARAMETER))?;
    Ok(Box::into_raw(Box::new(kobj_boundary { boundary: BoundaryDescriptor { name, sids: Vec::new() } })))
}

/// Adds a SID to a boundary (`AddSIDToBoundaryDescriptor`): an opener's token must hold
/// every SID of it.
///
/// # Safety
/// `boundary` is NULL or a live `kobj_boundary *` no other thread is changing.
#[no_mangle]
pub unsafe extern "C" fn kobj_boundary_add_sid(boundary: *mut kobj_boundary, s: kobj_sid) -> BOOL {
    // SAFETY: the caller's guarantee.
    let boundary = unsafe { boundary.as_mut() };
    call(FALSE, || {
        let b = boundary.ok_or(os(code::INVALID_PARAMETER))?;
        b.boundary.sids.push(sid(s)?);
        Ok(win_bool(true))
    })
}

/// Frees a boundary descriptor (`DeleteBoundaryDescriptor`).
///
/// # Safety
/// `boundary` is NULL or a `kobj_boundary *` not yet freed; not used after.
#[no_mangle]
pub unsafe extern "C" fn kobj_boundary_free(boundary: *mut kobj_boundary) {
    if !boundary.is_null() {
        // SAFETY: the caller hands back a pointer from `Box::into_raw`, once.
        guard((), || drop(unsafe { Box::from_raw(boundary) }));
    }
}

/// The parts of `CreateProcess` kobj owns, as the entered thread's process: a child
/// with `options` (token, session, handle list; NULL: defaults) that inherits the
/// inheritable handles when `inherit_handles` (only the listed ones with a handle list).
/// `*child` receives a reference to the child (free it with `kobj_process_free`),
/// `*child_handle` a PROCESS_ALL_ACCESS handle to it in the caller's table; either may be
/// NULL (the handle then stays in the table, as CreateProcess's `hProcess` would if
/// never closed). FALSE on failure with the last error set (ERROR_PRIVILEGE_NOT_HELD for
/// another token without SeAssignPrimaryTokenPrivilege or another session without
/// SeTcbPrivilege, ERROR_INVALID_PARAMETER for a bad handle list); success leaves the
/// last error alone.
///
/// # Safety
/// `options` as for `kobj_process_options`; `child` and `child_handle` are NULL or valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn kobj_CreateProcess(
    inherit_handles: BOOL,
    options: *const kobj_process_options,
    child: *mut *mut kobj_process,
    child_handle: *mut HANDLE,
) -> BOOL {
    as_thread(FALSE, |g| {
        // SAFETY: the caller's guarantee for `options`.
        let options = unsafe { self::options(options) }?;
        let new = g.process().create_process(inherit_handles != FALSE, options)?;
        // SAFETY: the caller guarantees both are NULL or valid for a write.
        unsafe { write_opt(child_handle, to_c(new.handle)) };
        if !child.is_null() {
            // SAFETY: as above.
            unsafe { child.write(Box::into_raw(kobj_process::new(new.process))) };
        }
        Ok(win_bool(true))
    })
}
