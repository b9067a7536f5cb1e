//! Processes: "calling as this process", and the handle operations every type shares.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;

use crate::access::{Access, DuplicateOptions, HandleFlags};
use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::ids::ClientIds;
use crate::kernel::KernelShared;
use crate::object::types::{ObjectType, TypeInfo};
use crate::object::{self, HandleRef, ObjRef, ObjectHeader};
use crate::reference::ObjectRef;
use crate::security::{self, Privilege, SecurityAttributes, Token};
use crate::sync::{epoch, Arc, AtomicU64, Mutex as Lock, Ordering};
use crate::table::{HandleTable, Snapshot};
use crate::thread::{ThreadList, ThreadObject};
use crate::wait::{self, Kind, Waitable};

/// Options for a new process.
#[derive(Clone, Debug, Default)]
pub struct ProcessOptions {
    /// The token it runs with; `None`: the parent's, or `Token::default()` for a root.
    pub token: Option<Token>,
    /// Its terminal-services session; `None`: the parent's (a root's: 0).
    pub session_id: Option<u32>,
    /// `PROC_THREAD_ATTRIBUTE_HANDLE_LIST`: inherit only these (inheritable) handles.
    pub handle_list: Option<Vec<Handle>>,
}

/// A new child process and the parent's handle to it.
#[derive(Debug)]
pub struct Child {
    /// The child, to call as.
    pub process: Process,
    /// A PROCESS_ALL_ACCESS handle to the child, in the parent's table.
    pub handle: Handle,
}

/// The result of a `create_*` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub struct Created {
    /// The new handle.
    pub handle: Handle,
    /// True when a named object already existed and was opened (`ERROR_ALREADY_EXISTS`).
    pub already_existed: bool,
}

/// One row of a process's handle table, for listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandleInfo {
    /// The handle value.
    pub handle: Handle,
    /// The object's type name.
    pub type_name: String,
    /// The access the handle holds.
    pub access: Access,
    /// Its attributes.
    pub flags: HandleFlags,
    /// The object's handle count (all processes).
    pub object_handles: usize,
    /// The object's name as a full path (`\BaseNamedObjects\JeffMutex`), if it is
    /// named; a private namespace's objects show `<private>\name`.
    pub name: Option<String>,
}

/// Set in `ProcessObject::ended` once the process is terminated.
const TERMINATED: u64 = 1 << 32;

/// The payload of a process object.
pub(crate) struct ProcessObject {
    pub(crate) pid: u32,
    pub(crate) session: u32,
    pub(crate) token: Token,
    /// The security of the objects this process makes without a descriptor: its token's
    /// default, interned once.
    pub(crate) default_security: crate::security::SecurityRef,
    pub(crate) table: HandleTable,
    /// `TERMINATED` and the exit code in one word, set together by the one `terminate`
    /// that wins: nobody sees the process terminated with an exit code not yet stored.
    ended: AtomicU64,
    /// Private namespaces this process has open (see `names`).
    pub(crate) private: crate::names::PrivateAliases,
    /// Signalled for good once the process is terminated.
    pub(crate) signal: Waitable,
    /// The primary thread (a pointer reference; the thread does not refer back). Let go
    /// at the process's last handle, when nobody can ask for it any more, so the thread
    /// object's count drops then and not when this block is reclaimed.
    pub(crate) main: Lock<Option<ObjRef>>,
    /// Threads not yet exited.
    pub(crate) threads: Lock<ThreadList>,
    /// The id space `pid` is reserved in, until this payload is dropped with its block.
    ids: Arc<ClientIds>,
    /// The kernel: a process keeps it alive (object headers do not count it; see
    /// `object::Domain`). Last, so the table drops (releasing its entries) before it.
    pub(crate) kernel: Arc<KernelShared>,
}

impl Drop for ProcessObject {
    fn drop(&mut self) {
        // The block is being freed: no handle or `Process` value names this process any
        // more, so its id may be handed out again.
        self.ids.release(self.pid);
    }
}

impl fmt::Debug for ProcessObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessObject")
            .field("pid", &self.pid)
            .field("session", &self.session)
            .field("handles", &self.table.len())
            .field("terminated", &self.is_terminated())
            .finish()
    }
}

impl ProcessObject {
    /// The security of an object this process makes: its default, or the descriptor
    /// `sa` asks for (interned in the kernel).
    pub(crate) fn security_for_new(&self, sa: Option<&SecurityAttributes>) -> crate::security::SecurityRef {
        match sa.and_then(|sa| sa.security_descriptor.as_ref()) {
            None => self.default_security,
            Some(sd) => self.kernel.descriptors.intern(self.token.descriptor_for_new(Some(sd))),
        }
    }

    /// Lets go of the main thread (the process's last handle has closed).
    fn release_main(&self) {
        let main = crate::sync::lock(&self.main).take();
        drop(main);
    }

    #[inline]
    pub(crate) fn is_terminated(&self) -> bool {
        // Acquire: pairs with the AcqRel CAS in `terminate`.
        self.ended.load(Ordering::Acquire) & TERMINATED != 0
    }

    /// The exit code once terminated, else 0.
    pub(crate) fn exit_code(&self) -> u32 {
        // The low half of the word (`ended`).
        self.ended.load(Ordering::Acquire) as u32
    }

    /// Terminates: closes every handle (protected ones too). ACCESS_DENIED if already done.
    fn terminate(&self, header: &ObjectHeader, kernel: &KernelShared, exit_code: u32) -> Result<()> {
        // AcqRel: one winner, whose code is stored with the flag.
        let running = self.ended.compare_exchange(
            0,
            TERMINATED | u64::from(exit_code),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        if running.is_err() {
            return Err(Error::AccessDenied);
        }
        // Its threads exit first, abandoning their mutexes (SPEC §7.2).
        crate::thread::end_threads(self, exit_code);
        kernel.ids.retire(self.pid);
        self.private.clear();
        // Released outside any table operation: a release may run another object's
        // last-handle work (even terminate another process).
        drop(self.table.close_all());
        kernel.names.leave_session(self.session);
        // Then the process object is signalled.
        wait::signal_once(header, &self.signal);
        Ok(())
    }
}

/// The process type's last-handle hook: a process nobody can call as or refer to any
/// more is terminated.
///
/// Terminating closes handles, which may close the last handle of another process, and
/// so on down a chain of processes each held only by its parent. Run directly, that
/// recursion is as deep as the chain and overflows the stack (SPEC §6: never abort), so
/// the outermost hook on a thread terminates the processes the cascade reaches one after
/// another, from a queue.
pub(crate) fn on_last_handle(header: &ObjectHeader) {
    #[cfg(not(loom))]
    {
        use std::cell::RefCell;
        thread_local! {
            static CASCADE: RefCell<Option<Vec<object::ObjRef>>> = const { RefCell::new(None) };
        }
        fn terminate(obj: &ObjectHeader) {
            if let Some(p) = obj.body::<ProcessObject>() {
                let _ = p.terminate(obj, &p.kernel, 0);
                p.release_main();
            }
        }
        // The closing handle still holds a pointer reference, so this succeeds; it keeps
        // the block alive while the process waits in the queue.
        let Some(me) = header.try_ref() else { return };
        let queued = CASCADE.try_with(|c| {
            let mut c = c.borrow_mut();
            match c.as_mut() {
                Some(queue) => {
                    queue.push(me);
                    None
                }
                None => {
                    *c = Some(Vec::new());
                    Some(me)
                }
            }
        });
        let first = match queued {
            Ok(Some(first)) => first,
            // Queued for the outermost hook of this thread.
            Ok(None) => return,
            // Thread-local storage is gone (a deferred free at thread exit): in place.
            Err(_) => return terminate(header),
        };
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                let rest = CASCADE.try_with(|c| c.borrow_mut().take());
                drop(rest);
            }
        }
        let _reset = Reset;
        let mut next = Some(first);
        while let Some(obj) = next {
            terminate(&obj);
            drop(obj);
            next = CASCADE.with(|c| c.borrow_mut().as_mut().and_then(Vec::pop));
        }
    }
    #[cfg(loom)]
    if let Some(p) = header.body::<ProcessObject>() {
        let _ = p.terminate(header, &p.kernel, 0);
        p.release_main();
    }
}

/// Calling as one process. `Clone + Send + Sync`; usable from many threads at once.
///
/// A `Process` value is a reference to its process object: the object lives while a
/// handle or a `Process` value refers to it, and when the last of both is gone an
/// unterminated process is terminated.
pub struct Process {
    /// One handle reference to the process object (a `Process` counts as a handle).
    object: HandleRef,
    /// The payload inside `object`'s block.
    inner: NonNull<ProcessObject>,
}

// SAFETY: `inner` points into the block `object` keeps alive; ProcessObject is Sync.
unsafe impl Send for Process {}
// SAFETY: as for Send.
unsafe impl Sync for Process {}

impl Clone for Process {
    fn clone(&self) -> Self {
        Process { object: self.object.another(), inner: self.inner }
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner().fmt(f)
    }
}

impl Process {
    pub(crate) fn from_handle_ref(object: HandleRef) -> Option<Process> {
        let inner = NonNull::from(object.body::<ProcessObject>()?);
        Some(Process { object, inner })
    }

    #[inline]
    pub(crate) fn inner(&self) -> &ProcessObject {
        // SAFETY: `inner` points at the payload of the block `self.object` holds a
        // reference to; payloads never move.
        unsafe { self.inner.as_ref() }
    }

    pub(crate) fn kernel(&self) -> &Arc<KernelShared> {
        &self.inner().kernel
    }

    #[inline]
    pub(crate) fn header(&self) -> &ObjectHeader {
        &self.object
    }

    /// ACCESS_DENIED for calls made as a terminated process.
    #[inline(always)]
    pub(crate) fn alive(&self) -> Result<&ProcessObject> {
        let inner = self.inner();
        if inner.is_terminated() {
            Err(Error::AccessDenied)
        } else {
            Ok(inner)
        }
    }

    /// Makes a process. `fill` runs on its new table before the process can be found
    /// by pid (`open_process`): inheritance copies into a table no other thread can
    /// insert into yet.
    fn spawn(
        kernel: &Arc<KernelShared>,
        token: Token,
        session: u32,
        fill: impl FnOnce(&HandleTable),
    ) -> Result<Process> {
        let pid = kernel.ids.reserve()?;
        let default_security = kernel.descriptors.intern(token.descriptor_for_new(None));
        let main = ThreadObject::create(kernel, pid, default_security)?;
        let body = ProcessObject {
            pid,
            session,
            token: token.clone(),
            default_security,
            table: HandleTable::new(kernel.handle_limit),
            ended: AtomicU64::new(0),
            private: Default::default(),
            signal: Waitable::new(Kind::Once { signaled: false }),
            threads: Lock::new(ThreadList { live: vec![main.clone()], ended: false }),
            main: Lock::new(Some(main)),
            ids: Arc::clone(&kernel.ids),
            kernel: Arc::clone(kernel),
        };
        fill(&body.table);
        // Before the process can be found: its `terminate` leaves the session.
        kernel.names.enter_session(session);
        let object = object::allocate(kernel.domain(), &kernel.builtin.process, default_security, None, body);
        if let Some(p) = object.body::<ProcessObject>() {
            p.table.set_owner(object.object().as_ptr());
        }
        kernel.ids.publish(pid, object.object().clone());
        match Process::from_handle_ref(object) {
            Some(p) => Ok(p),
            None => unreachable!("a process object carries a ProcessObject"),
        }
    }

    pub(crate) fn create_root(kernel: &Arc<KernelShared>, options: ProcessOptions) -> Result<Process> {
        if options.handle_list.is_some() {
            return Err(Error::InvalidParameter);
        }
        let token = options.token.unwrap_or_default();
        Process::spawn(kernel, token, options.session_id.unwrap_or(0), |_| {})
    }

    /// The process id.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.inner().pid
    }

    /// The terminal-services session the process runs in.
    #[must_use]
    pub fn session_id(&self) -> u32 {
        self.inner().session
    }

    /// The token the process runs with.
    #[must_use]
    pub fn token(&self) -> &Token {
        &self.inner().token
    }

    /// The number of private-namespace aliases the process has mapped (one per open
    /// namespace handle at most): for tests of their lifetime.
    #[doc(hidden)]
    #[must_use]
    pub fn private_alias_count(&self) -> usize {
        self.inner().private.len()
    }

    /// The number of handles in the process's table.
    #[must_use]
    pub fn handle_count(&self) -> usize {
        self.inner().table.len()
    }

    /// True once the process has been terminated.
    #[must_use]
    pub fn is_terminated(&self) -> bool {
        self.inner().is_terminated()
    }

    /// The exit code given to `terminate` (0 until then).
    #[must_use]
    pub fn exit_code(&self) -> u32 {
        self.inner().exit_code()
    }

    /// Terminates the process: every handle in its table is closed, PROTECT_FROM_CLOSE
    /// ones included; objects other processes hold survive. A second call, like every
    /// call made as a terminated process, fails with ACCESS_DENIED.
    pub fn terminate(&self, exit_code: u32) -> Result<()> {
        self.inner().terminate(self.header(), self.kernel(), exit_code)
    }

    /// Creates a child process. With `inherit_handles`, every INHERIT entry of this
    /// process's table (or, with `options.handle_list`, the listed ones, which must be
    /// inheritable) is copied into the child at the same handle value.
    ///
    /// A process cannot hand its child more than it has (SPEC §3 "Security"): a `token`
    /// other than its own needs [`Privilege::AssignPrimaryToken`], a `session_id` other
    /// than its own [`Privilege::Tcb`]; without it PRIVILEGE_NOT_HELD, before anything
    /// else of the call. ([`Kernel::create_process`](crate::Kernel::create_process) is
    /// the embedder's unchecked call.)
    pub fn create_process(&self, inherit_handles: bool, options: ProcessOptions) -> Result<Child> {
        let parent = self.alive()?;
        let other_token = options.token.as_ref().is_some_and(|t| *t != parent.token);
        if other_token && !parent.token.has_privilege(Privilege::AssignPrimaryToken) {
            return Err(Error::PrivilegeNotHeld);
        }
        let other_session = options.session_id.is_some_and(|s| s != parent.session);
        if other_session && !parent.token.has_privilege(Privilege::Tcb) {
            return Err(Error::PrivilegeNotHeld);
        }
        let only = match (&options.handle_list, inherit_handles) {
            (None, _) => None,
            (Some(_), false) => return Err(Error::InvalidParameter),
            (Some(list), true) if list.is_empty() => return Err(Error::InvalidParameter),
            (Some(list), true) => {
                let guard = epoch::pin();
                let mut indices = Vec::with_capacity(list.len());
                for &h in list {
                    let index = h.index().ok_or(Error::InvalidParameter)?;
                    match parent.table.get(h, &guard) {
                        Some(s) if s.flags.contains(HandleFlags::INHERIT) => indices.push(index),
                        _ => return Err(Error::InvalidParameter),
                    }
                }
                indices.sort_unstable();
                indices.dedup();
                Some(indices)
            }
        };
        let token = options.token.unwrap_or_else(|| parent.token.clone());
        let session = options.session_id.unwrap_or(parent.session);
        let child = Process::spawn(self.kernel(), token, session, |table| {
            if inherit_handles {
                table.inherit_from(&parent.table, only.as_deref());
            }
        })?;
        match parent.table.insert(child.object.another(), Access::PROCESS_ALL_ACCESS, HandleFlags::empty()) {
            Ok(handle) => Ok(Child { process: child, handle }),
            Err(e) => {
                let _ = child.terminate(0);
                Err(e)
            }
        }
    }

    /// Opens a live process by id. A pid that is gone (or never was) is INVALID_PARAMETER.
    pub fn open_process(&self, access: Access, inherit: bool, pid: u32) -> Result<Handle> {
        let me = self.alive()?;
        let target = self.kernel().ids.process(pid).ok_or(Error::InvalidParameter)?;
        let rights = target.ty().rights();
        let granted = security::access_check(&target.security, &me.token, access, rights)?;
        let reference = target.try_into_handle().map_err(|_| Error::InvalidParameter)?;
        me.table.insert(reference, granted, inherit_flag(inherit))
    }

    /// Closes a handle. INVALID_HANDLE for a closed, never-issued or garbage value and for
    /// a PROTECT_FROM_CLOSE handle (which stays valid); pseudo-handles succeed and do
    /// nothing.
    pub fn close_handle(&self, h: Handle) -> Result<()> {
        let me = self.alive()?;
        if h.is_pseudo() {
            return Ok(());
        }
        let closed = me.table.remove(h)?;
        me.private.closed(me, h, &closed);
        drop(closed);
        Ok(())
    }

    /// A handle's attributes, exactly as set.
    pub fn get_handle_information(&self, h: Handle) -> Result<HandleFlags> {
        let guard = epoch::pin();
        Ok(self.resolve(h, &guard)?.flags)
    }

    /// Sets the attributes in `mask` to their values in `flags`; other bits stay.
    pub fn set_handle_information(&self, h: Handle, mask: HandleFlags, flags: HandleFlags) -> Result<()> {
        let me = self.alive()?;
        if h.is_pseudo() {
            return Err(Error::InvalidHandle);
        }
        me.table.set_flags(h, mask, flags)
    }

    /// True if both handles name the same object (`CompareObjectHandles`).
    pub fn compare_object_handles(&self, a: Handle, b: Handle) -> Result<bool> {
        let guard = epoch::pin();
        let a = self.resolve(a, &guard)?.object as *const ObjectHeader;
        let b = self.resolve(b, &guard)?.object as *const ObjectHeader;
        Ok(std::ptr::eq(a, b))
    }

    /// Reads a handle under `guard`: the pseudo-handle -1 is this process (with
    /// PROCESS_ALL_ACCESS); other pseudo-handles and dead entries are INVALID_HANDLE.
    #[inline]
    pub(crate) fn resolve<'g>(&'g self, h: Handle, guard: &'g epoch::Guard) -> Result<Snapshot<'g>> {
        let me = self.alive()?;
        if h == Handle::CURRENT_PROCESS {
            return Ok(Snapshot {
                object: self.header(),
                access: Access::PROCESS_ALL_ACCESS,
                flags: HandleFlags::empty(),
                generation: 0,
            });
        }
        me.table.get(h, guard).ok_or(Error::InvalidHandle)
    }

    /// A handle's object, checked in the order SPEC §3 gives: the handle is valid, the
    /// object is of type `ty`, the handle holds `access`.
    #[inline]
    pub(crate) fn lookup<'g>(
        &'g self,
        h: Handle,
        ty: *const TypeInfo,
        access: Access,
        guard: &'g epoch::Guard,
    ) -> Result<&'g ObjectHeader> {
        let s = self.resolve(h, guard)?;
        if !s.object.is_type(ty) {
            return Err(Error::InvalidHandle);
        }
        if !s.access.contains(access) {
            return Err(Error::AccessDenied);
        }
        Ok(s.object)
    }

    /// Runs `f` on the payload of an object of type `ty`, under one epoch pin.
    pub fn with_object<P: Any, R>(
        &self,
        ty: &ObjectType<P>,
        h: Handle,
        access: Access,
        f: impl FnOnce(&P) -> R,
    ) -> Result<R> {
        let guard = epoch::pin();
        let object = self.lookup(h, ty.info_ptr(), access, &guard)?;
        object.body_of(ty).map(f).ok_or(Error::InvalidHandle)
    }

    /// A counted reference to a handle's object that outlives any pin
    /// (`ObReferenceObjectByHandle`). If the handle is closed concurrently and the
    /// object is already being destroyed, INVALID_HANDLE.
    pub fn reference_object<P: Any>(
        &self,
        ty: &ObjectType<P>,
        h: Handle,
        access: Access,
    ) -> Result<ObjectRef<P>> {
        let guard = epoch::pin();
        let object = self.lookup(h, ty.info_ptr(), access, &guard)?;
        let counted = object.try_ref().ok_or(Error::InvalidHandle)?;
        ObjectRef::new(counted, self.kernel()).ok_or(Error::InvalidHandle)
    }

    /// Pins the epoch once for many lookups ([`Pinned::get`]): the cheapest way to look
    /// up handles in a loop.
    #[must_use]
    pub fn pin(&self) -> Pinned<'_> {
        Pinned { process: self, guard: epoch::pin() }
    }

    /// Creates an object of type `ty` with `payload` (`name`: see the named `create_*`
    /// calls; an existing object of that name is opened and `payload` dropped). The
    /// creator's handle holds the type's ALL_ACCESS.
    pub fn create_object<P: Any + Send + Sync>(
        &self,
        ty: &ObjectType<P>,
        payload: P,
        sa: Option<&SecurityAttributes>,
        name: Option<&str>,
    ) -> Result<Created> {
        self.create_with(ty, sa, name, || Ok(payload))
    }

    /// Opens a named object of type `ty`.
    pub fn open_object<P: Any + Send + Sync>(
        &self,
        ty: &ObjectType<P>,
        access: Access,
        inherit: bool,
        name: &str,
    ) -> Result<Handle> {
        let me = self.alive()?;
        if !ty.belongs_to(self.kernel().id) {
            return Err(Error::InvalidParameter);
        }
        let (reference, granted) = self.kernel().names.open(self, &ty.info, access, name)?;
        me.table.insert(reference, granted, inherit_flag(inherit))
    }

    /// The creation path every `create_*` shares: `make` runs only if a new object is made.
    pub(crate) fn create_with<P: Any + Send + Sync>(
        &self,
        ty: &ObjectType<P>,
        sa: Option<&SecurityAttributes>,
        name: Option<&str>,
        make: impl FnOnce() -> Result<P>,
    ) -> Result<Created> {
        let me = self.alive()?;
        // An object's header points at its type without a count, kept alive by its own
        // kernel's registry: a type registered in another kernel cannot be used here.
        if !ty.belongs_to(self.kernel().id) {
            return Err(Error::InvalidParameter);
        }
        let flags = inherit_flag(sa.is_some_and(|sa| sa.inherit_handle));
        let security = me.security_for_new(sa);
        // Reserve the slot first, publish the name second: a full table never leaves a
        // name behind (SPEC §5).
        let slot = me.table.reserve()?;
        let (reference, granted, already_existed) = match name {
            None | Some("") => (
                object::allocate(self.kernel().domain(), ty, security, None, make()?),
                ty.info.all_access(),
                false,
            ),
            Some(name) => self.kernel().names.create(self, ty, security, name, make)?,
        };
        let handle = slot.fill(reference, granted, flags)?;
        Ok(Created { handle, already_existed })
    }

    /// The rows of this process's handle table, in handle order.
    #[must_use]
    pub fn handles(&self) -> Vec<HandleInfo> {
        let guard = epoch::pin();
        let mut rows = Vec::new();
        self.inner().table.for_each(&guard, |handle, s| {
            rows.push(HandleInfo {
                handle,
                type_name: s.object.ty().name.clone(),
                access: s.access,
                flags: s.flags,
                object_handles: s.object.handle_count(),
                name: s.object.name.as_ref().map(|key| {
                    let dir = key.dir().path().unwrap_or_else(|| "<private>".to_owned());
                    format!("{}\\{}", dir.trim_end_matches('\\'), key.name())
                }),
            });
        });
        rows
    }

    /// Duplicates a handle (`DuplicateHandle`), with the rules of SPEC §3 "Duplication".
    ///
    /// `source_process` and `target_process` are handles in this process's table with
    /// PROCESS_DUP_HANDLE (the pseudo-handle has it). Returns the new handle, in the
    /// target's table, or `None` when `target_process` is `None` with CLOSE_SOURCE (which
    /// then only closes the source).
    pub fn duplicate_handle(
        &self,
        source_process: Handle,
        source: Handle,
        target_process: Option<Handle>,
        access: Access,
        inherit: bool,
        options: DuplicateOptions,
    ) -> Result<Option<Handle>> {
        self.alive()?;
        let source_proc = self.process_for_dup(source_process)?;
        let close_source = options.contains(DuplicateOptions::CLOSE_SOURCE);
        let target_proc = match target_process {
            Some(t) => Some(self.process_for_dup(t)),
            None if close_source => None,
            None => return Err(Error::InvalidParameter),
        };
        let src = source_proc.inner();
        if source.is_pseudo() && source != Handle::CURRENT_PROCESS {
            return Err(Error::InvalidHandle);
        }
        // Take the source: removed from its table with CLOSE_SOURCE (unless protected),
        // else a new reference to its object; with the access and flags it held.
        let (reference, held_access, held_flags) = if source == Handle::CURRENT_PROCESS {
            (source_proc.object.another(), Access::PROCESS_ALL_ACCESS, HandleFlags::empty())
        } else if close_source {
            // What the closed entry held (one word: read back whole, not in halves).
            let seen = Cell::new(0u64);
            // A protected source is never closed by CLOSE_SOURCE: it is copied instead.
            match src.table.remove_if(source, |a, f| {
                seen.set(pack_held(a, f));
                Ok(())
            }) {
                #[cfg(not(kobj_mutant = "close_source_release"))]
                Ok(r) => {
                    src.private.closed(src, source, &r);
                    let held = unpack_held(seen.get());
                    (r.into_handle().ok_or(Error::AccessDenied)?, held.0, held.1)
                }
                // mutant: the source's reference is released, then a new one taken
                #[cfg(kobj_mutant = "close_source_release")]
                Ok(r) => {
                    src.private.closed(src, source, &r);
                    let held = unpack_held(seen.get());
                    let pointer = r.into_handle().ok_or(Error::AccessDenied)?.object().clone();
                    (pointer.try_into_handle().map_err(|_| Error::InvalidHandle)?, held.0, held.1)
                }
                Err(_) => Self::reference_entry(src, source)?,
            }
        } else {
            Self::reference_entry(src, source)?
        };
        let Some(target_proc) = target_proc else {
            // CLOSE_SOURCE with no target: the source is closed (dropping `reference`
            // releases it), nothing is created.
            return Ok(None);
        };
        // From here a failure still closes the source (it was valid): `reference` drops.
        let target_proc = target_proc?;
        let target = target_proc.inner();
        let rights = reference.ty().rights();
        let new_access = if options.contains(DuplicateOptions::SAME_ACCESS) {
            held_access
        } else {
            if access.contains(Access::ACCESS_SYSTEM_SECURITY) {
                return Err(Error::PrivilegeNotHeld);
            }
            let wanted = rights.mapping.map(access) & rights.valid;
            if !security::may_grow(&reference.security, &target.token, held_access, wanted, rights) {
                return Err(Error::AccessDenied);
            }
            wanted
        };
        let new_flags = if options.contains(DuplicateOptions::SAME_ATTRIBUTES) {
            held_flags
        } else {
            inherit_flag(inherit)
        };
        target.table.insert(reference, new_access, new_flags).map(Some)
    }

    /// A new handle reference to the object of a live entry of `table`, with the
    /// entry's access and flags.
    fn reference_entry(p: &ProcessObject, h: Handle) -> Result<(HandleRef, Access, HandleFlags)> {
        let guard = epoch::pin();
        let s = p.table.get(h, &guard).ok_or(Error::InvalidHandle)?;
        let reference = s.object.try_handle_ref().ok_or(Error::InvalidHandle)?;
        Ok((reference, s.access, s.flags))
    }

    /// The process a handle of this process names, for duplication: it must be a
    /// process handle with PROCESS_DUP_HANDLE, to a process not terminated. The
    /// pseudo-handle borrows `self` rather than counting another reference, so threads of
    /// one process duplicating in place do not all write its object's counts.
    #[inline(always)]
    fn process_for_dup(&self, h: Handle) -> Result<ProcessRef<'_>> {
        if h == Handle::CURRENT_PROCESS {
            return Ok(ProcessRef::Caller(self));
        }
        let guard = epoch::pin();
        let object =
            self.lookup(h, self.kernel().builtin.process.info_ptr(), Access::PROCESS_DUP_HANDLE, &guard)?;
        // Refused if the handle was closed meanwhile and the object destroyed
        // (INVALID_HANDLE), or if its last handle is closing: the process is ending.
        let reference = object.try_handle_ref().ok_or_else(|| {
            if object.is_destroyed() {
                Error::InvalidHandle
            } else {
                Error::AccessDenied
            }
        })?;
        let process = Process::from_handle_ref(reference).ok_or(Error::InvalidHandle)?;
        if process.is_terminated() {
            return Err(Error::AccessDenied);
        }
        Ok(ProcessRef::Other(process))
    }
}

/// A process named by a handle: the caller itself (borrowed) or another (counted).
enum ProcessRef<'a> {
    Caller(&'a Process),
    Other(Process),
}

impl std::ops::Deref for ProcessRef<'_> {
    type Target = Process;
    fn deref(&self) -> &Process {
        match self {
            ProcessRef::Caller(p) => p,
            ProcessRef::Other(p) => p,
        }
    }
}

/// An entry's access and flags as one word, so a `Cell` that carries them out of a
/// closure is written and read whole (two halves written and the word read back would
/// stall the store-to-load forwarding of the CPUs this runs on).
fn pack_held(access: Access, flags: HandleFlags) -> u64 {
    u64::from(access.bits()) | (u64::from(flags.bits()) << 32)
}

/// The access and flags [`pack_held`] packed.
fn unpack_held(word: u64) -> (Access, HandleFlags) {
    (Access::from_bits_retain(word as u32), HandleFlags::from_bits_retain((word >> 32) as u32))
}

pub(crate) fn inherit_flag(inherit: bool) -> HandleFlags {
    if inherit {
        HandleFlags::INHERIT
    } else {
        HandleFlags::empty()
    }
}

/// Many lookups under one epoch pin. References it hands out live as long as it does.
pub struct Pinned<'p> {
    process: &'p Process,
    guard: epoch::Guard,
}

impl fmt::Debug for Pinned<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pinned").field("process", &self.process.id()).finish()
    }
}

impl Pinned<'_> {
    /// The payload of a handle's object of type `ty`, if the handle holds `access`.
    /// No lock, no shared write: atomic loads and a generation check.
    #[inline]
    pub fn get<P: Any>(&self, ty: &ObjectType<P>, h: Handle, access: Access) -> Result<&P> {
        let object = self.process.lookup(h, ty.info_ptr(), access, &self.guard)?;
        object.body_of(ty).ok_or(Error::InvalidHandle)
    }

    /// The access a handle holds and its attributes.
    pub fn info(&self, h: Handle) -> Result<(Access, HandleFlags)> {
        let s = self.process.resolve(h, &self.guard)?;
        Ok((s.access, s.flags))
    }
}
