//! Named objects and private namespaces: the engine's side of `kobj-namespace`.
//!
//! The name table holds an [`ObjRef`] (a pointer reference) per named object; a
//! handle to it is made only through increment-if-not-zero on the object's handle
//! count, under the name's shard lock, and the last handle's close removes the name if it
//! still names this object. ARCHITECTURE.md gives the argument that the open-vs-last-close
//! and two-creators races come out right.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use kobj_namespace::{DirId, NameError, Named, Namespace, Resolved, MAX_NAME_UNITS};

use crate::access::Access;
use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::object::types::{ObjectType, TypeInfo};
use crate::object::{self, HandleRef, ObjRef, ObjectHeader};
use crate::process::{Process, ProcessObject};
use crate::security::{self, Privilege, SecurityRef, Sid, Token};
use crate::sync::{epoch, lock, AtomicBool, Mutex, Ordering};
use crate::table::EntryRef;

pub use kobj_namespace::EntryKind;

impl From<NameError> for Error {
    fn from(e: NameError) -> Error {
        match e {
            NameError::PathNotFound => Error::PathNotFound,
            NameError::InvalidName => Error::InvalidName,
            NameError::NotFound => Error::FileNotFound,
            NameError::NotAnObject => Error::InvalidHandle,
            NameError::AlreadyExists => Error::AlreadyExists,
            NameError::AccessDenied => Error::AccessDenied,
            other => Error::Os(other.win32_code()),
        }
    }
}

pub(crate) use crate::object::NameKey;

/// The name table finds a named object by the name in its header, the one copy of it.
impl Named for ObjectHeader {
    fn name_key(&self) -> (DirId, &str) {
        // Only named objects enter the table; the root's empty name is no object's.
        self.name.as_ref().map_or((DirId::ROOT, ""), |key| (key.dir(), key.name()))
    }
}

/// A private namespace's identity: its boundary's name and SIDs (sorted).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Boundary {
    name: String,
    sids: Vec<Sid>,
}

/// A boundary descriptor (`CreateBoundaryDescriptor` + `AddSIDToBoundaryDescriptor`):
/// a name and the SIDs a process's token must all hold to open the namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BoundaryDescriptor {
    /// The boundary's name.
    pub name: String,
    /// The SIDs an opener must hold.
    pub sids: Vec<Sid>,
}

impl BoundaryDescriptor {
    fn key(&self) -> Boundary {
        let mut sids = self.sids.clone();
        sids.sort_unstable();
        sids.dedup();
        Boundary { name: self.name.clone(), sids }
    }
}

/// The payload of a private-namespace object (NT's "Directory").
#[derive(Debug)]
pub struct PrivateNamespace {
    boundary: Boundary,
    /// Its directory: ids are never reused, so an alias can check that a handle still
    /// names *this* namespace even if a new one took the freed block's address.
    dir: DirId,
}

impl PrivateNamespace {
    /// The boundary's name.
    #[must_use]
    pub fn boundary_name(&self) -> &str {
        &self.boundary.name
    }
}

/// The private-namespace type's last-handle hook: the namespace goes with its last handle.
pub(crate) fn namespace_last_handle(header: &ObjectHeader) {
    if let Some(ns) = header.body::<PrivateNamespace>() {
        let me = header as *const ObjectHeader;
        crate::kernel::of(header).names.ns.remove_private_if(&ns.boundary, |t| std::ptr::eq(t.as_ptr(), me));
    }
}

/// The aliases a process has mapped to private namespaces. An alias is live while the
/// handle it was opened with is open: every close of a namespace handle (`close_handle`,
/// `DUPLICATE_CLOSE_SOURCE`; terminate clears the lot) unmaps the alias of that handle,
/// so the map holds at most one alias per open namespace handle. Closes of other objects
/// pay one type check.
#[derive(Default)]
pub(crate) struct PrivateAliases {
    any: AtomicBool,
    map: Mutex<AliasMap>,
}

/// Aliases by name and by handle, kept in step: `by_handle[h] == (a, g)` exactly when
/// `by_alias[a]` is handle `h` of generation `g`.
#[derive(Default)]
struct AliasMap {
    by_alias: HashMap<Arc<str>, Alias>,
    /// Which alias a handle carries, and the generation it was opened at, to find it
    /// when the handle closes.
    by_handle: HashMap<Handle, (Arc<str>, u32)>,
}

struct Alias {
    dir: DirId,
    handle: Handle,
    /// The generation of the handle's entry: a later handle at the same value (even to
    /// the same namespace) does not revive the alias.
    generation: u32,
}

impl AliasMap {
    /// Unmaps `alias`, if mapped.
    fn unlink_alias(&mut self, alias: &str) {
        if let Some(old) = self.by_alias.remove(alias) {
            self.by_handle.remove(&old.handle);
        }
    }

    /// Unmaps the alias `handle` carries, if any.
    fn unlink_handle(&mut self, handle: Handle) {
        if let Some((alias, _)) = self.by_handle.remove(&handle) {
            self.by_alias.remove(&alias);
        }
    }
}

/// Whether the entry at `handle` is the live period `generation` of the slot.
fn is_live(process: &ProcessObject, handle: Handle, generation: u32) -> bool {
    let guard = epoch::pin();
    process.table.get(handle, &guard).is_some_and(|live| live.generation == generation)
}

impl PrivateAliases {
    pub(crate) fn clear(&self) {
        let mut map = lock(&self.map);
        map.by_alias.clear();
        map.by_handle.clear();
    }

    /// Maps `alias` to `dir` through the handle just opened at (`handle`, `generation`;
    /// as the table gave it, so with its low two bits clear).
    fn insert(&self, process: &ProcessObject, alias: &str, dir: DirId, handle: Handle, generation: u32) {
        let mut map = lock(&self.map);
        // Checked under the map's lock: if the handle was already closed by another
        // thread, its close's unmapping may have come and gone, so the alias is not
        // mapped at all. If it is live, a close now waits for the lock and unmaps it.
        if !is_live(process, handle, generation) {
            return;
        }
        // Whatever this value carried before belongs to a closed earlier period.
        map.unlink_handle(handle);
        map.unlink_alias(alias);
        let alias: Arc<str> = alias.into();
        map.by_handle.insert(handle, (Arc::clone(&alias), generation));
        map.by_alias.insert(alias, Alias { dir, handle, generation });
        self.any.store(true, Ordering::Release);
    }

    /// After `handle` was closed in `process`'s table: if the closed entry was a private
    /// namespace's, unmaps the alias it carried. A newer period of the value (filled by
    /// another thread since) keeps its own alias.
    pub(crate) fn closed(&self, process: &ProcessObject, handle: Handle, closed: &EntryRef) {
        // A WEAK entry is a process's handle to itself, never a namespace.
        let EntryRef::Handle(object) = closed else { return };
        if object.body::<PrivateNamespace>().is_none() {
            return;
        }
        // The caller may have closed `h | 1`, `h | 2` or `h | 3`; the map holds `h`.
        let Some(index) = handle.index() else { return };
        let handle = Handle::from_index(index);
        // No shortcut on `any`: the map's lock orders this against `insert`, which
        // either sees the entry closed or maps the alias before this looks.
        let mut map = lock(&self.map);
        let Some(&(_, generation)) = map.by_handle.get(&handle) else { return };
        if !is_live(process, handle, generation) {
            map.unlink_handle(handle);
        }
    }

    /// The number of aliases mapped (live ones: closing a handle unmaps its alias).
    pub(crate) fn len(&self) -> usize {
        lock(&self.map).by_alias.len()
    }

    /// The private directory `alias` maps to in `process`, if its handle is still open.
    fn lookup(&self, process: &ProcessObject, alias: &str) -> Option<DirId> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let (dir, handle, generation) = {
            let map = lock(&self.map);
            let a = map.by_alias.get(alias)?;
            (a.dir, a.handle, a.generation)
        };
        let guard = epoch::pin();
        let live = process.table.get(handle, &guard)?;
        #[cfg(kobj_mutant = "alias_no_generation")] // mutant: a reused value revives the alias
        let generation = live.generation;
        let same = live.generation == generation
            && live.object.body::<PrivateNamespace>().is_some_and(|ns| ns.dir == dir);
        same.then_some(dir)
    }
}

/// The kernel's object namespace.
pub(crate) struct Names {
    pub(crate) ns: Namespace<ObjRef, Boundary>,
}

impl Names {
    pub(crate) fn new() -> Names {
        Names { ns: Namespace::new() }
    }

    /// A new process enters its session (which comes to exist if it did not).
    pub(crate) fn enter_session(&self, session: u32) {
        self.ns.enter_session(session);
    }

    /// A terminated process leaves its session: the session goes with its last process
    /// once nothing is named in it.
    pub(crate) fn leave_session(&self, session: u32) {
        self.ns.leave_session(session);
    }

    /// Removes `key` if it still names the object at `object` (its last handle closed).
    pub(crate) fn remove(&self, key: &NameKey, object: *const ObjectHeader) {
        let at = Resolved { dir: key.dir(), name: key.name() };
        self.ns.remove_if(at, |t| std::ptr::eq(t.as_ptr(), object));
    }

    fn resolve<'n>(&self, process: &Process, name: &'n str) -> Result<Resolved<'n>> {
        let p = process.inner();
        Ok(self.ns.resolve(p.session, name, |alias| p.private.lookup(p, alias))?)
    }

    /// A handle reference to a named object of type `ty`, with `granted` access, if it is
    /// alive: the `acquire` step of create and open, run under the name's shard lock. It
    /// drops nothing that could be an object's last handle.
    fn acquire(
        t: &ObjRef,
        ty: &TypeInfo,
        token: &Token,
        desired: Access,
    ) -> Option<Result<(HandleRef, Access)>> {
        if t.handle_count() == 0 {
            return None;
        }
        if !t.is_type(ty) {
            return Some(Err(Error::InvalidHandle));
        }
        let granted = match security::access_check(&t.security, token, desired, ty.rights()) {
            Ok(g) => g,
            Err(e) => return Some(Err(e)),
        };
        // Increment-if-not-zero: a count that reached zero meanwhile means dying.
        t.try_handle_ref().map(|h| Ok((h, granted)))
    }

    /// Opens the object `name` names for `process`, checking type and access.
    pub(crate) fn open(
        &self,
        process: &Process,
        ty: &TypeInfo,
        desired: Access,
        name: &str,
    ) -> Result<(HandleRef, Access)> {
        let at = self.resolve(process, name)?;
        let token = &process.inner().token;
        self.ns.open(at, |t| Self::acquire(t, ty, token, desired))
    }

    /// Creates the object `name` names, or opens the live one (`already_existed`).
    pub(crate) fn create<P: Any + Send + Sync>(
        &self,
        process: &Process,
        ty: &ObjectType<P>,
        security: SecurityRef,
        name: &str,
        make: impl FnOnce() -> Result<P>,
    ) -> Result<(HandleRef, Access, bool)> {
        let at = self.resolve(process, name)?;
        let p = process.inner();
        let all = ty.info.all_access();
        let builtin = &process.kernel().builtin;
        let needs_create_global = std::ptr::eq(ty.info_ptr(), builtin.mapping.info_ptr());
        let outcome = self.ns.create_or_open(
            at,
            |t| Self::acquire(t, &ty.info, &p.token, all),
            || {
                // SPEC §3: a new file mapping in the global namespace from a session
                // other than 0 needs SeCreateGlobalPrivilege; other types need none.
                if needs_create_global
                    && at.dir == DirId::GLOBAL
                    && p.session != 0
                    && !p.token.has_privilege(Privilege::CreateGlobal)
                {
                    return Err(Error::AccessDenied);
                }
                let key = NameKey::new(at.dir, at.name);
                let reference = object::allocate(process.kernel().domain(), ty, security, Some(key), make()?);
                Ok((reference.object().clone(), (reference, all)))
            },
        )?;
        let (reference, granted) = outcome.value;
        Ok((reference, granted, outcome.already_existed))
    }

    /// The entries of the directory at an absolute path (`\BaseNamedObjects`), sorted.
    pub(crate) fn list(&self, path: &str) -> Result<Vec<(String, EntryKind)>> {
        let dir = self.ns.lookup_dir(path)?;
        Ok(self.ns.list(dir, |t| t.ty().name.clone()))
    }
}

impl crate::Kernel {
    /// The number of entries (objects, directories, links) in the whole object namespace,
    /// the skeleton included: for tests that sessions and names leave nothing behind.
    #[doc(hidden)]
    #[must_use]
    pub fn namespace_entry_count(&self) -> usize {
        self.shared.names.ns.entry_count()
    }
}

/// DIRECTORY_ALL_ACCESS: what a private-namespace handle holds.
const DIRECTORY_ALL_ACCESS: Access = Access::from_bits_retain(0xF000F);

impl Process {
    /// `CreatePrivateNamespace`: makes the namespace of `boundary` and maps `alias` to it
    /// in this process; names `alias\name` then resolve inside it. A boundary that
    /// already has a namespace is ALREADY_EXISTS. Returns the namespace handle (closing
    /// it unmaps the alias).
    pub fn create_private_namespace(&self, boundary: &BoundaryDescriptor, alias: &str) -> Result<Handle> {
        let me = self.alive()?;
        check_alias(alias)?;
        let slot = me.table.reserve()?;
        let kernel = self.kernel();
        let ty = &kernel.builtin.namespace;
        let security = me.default_security;
        let (dir, reference) = kernel.names.ns.create_private(
            boundary.key(),
            |t| t.handle_count() != 0,
            |dir| {
                let body = PrivateNamespace { boundary: boundary.key(), dir };
                let reference = object::allocate(kernel.domain(), ty, security, None, body);
                Ok::<_, Error>((reference.object().clone(), reference))
            },
        )?;
        let (handle, generation) =
            slot.fill_generation(reference, DIRECTORY_ALL_ACCESS, Default::default())?;
        me.private.insert(me, alias, dir, handle, generation);
        Ok(handle)
    }

    /// `OpenPrivateNamespace`: maps `alias` to the existing namespace of `boundary`. The
    /// caller's token must hold every SID of the boundary (else ACCESS_DENIED); a
    /// boundary with no namespace is FILE_NOT_FOUND.
    pub fn open_private_namespace(&self, boundary: &BoundaryDescriptor, alias: &str) -> Result<Handle> {
        let me = self.alive()?;
        check_alias(alias)?;
        let slot = me.table.reserve()?;
        let key = boundary.key();
        let token = &me.token;
        let (dir, reference) = self.kernel().names.ns.open_private(&key, |t| {
            if t.handle_count() == 0 {
                return None;
            }
            if !key.sids.iter().all(|&sid| token.holds(sid)) {
                return Some(Err(Error::AccessDenied));
            }
            t.try_handle_ref().map(Ok)
        })?;
        let (handle, generation) =
            slot.fill_generation(reference, DIRECTORY_ALL_ACCESS, Default::default())?;
        me.private.insert(me, alias, dir, handle, generation);
        Ok(handle)
    }
}

/// An alias is one path component, no longer than a whole name may be: it only ever
/// serves as the first component of a name (`alias\name`), which SPEC §3 bounds at
/// MAX_NAME_UNITS UTF-16 code units (a UNICODE_STRING's 16-bit byte length), so a longer
/// alias could never be used, and the bound caps what one mapping costs. Longer is
/// INVALID_NAME, as for a name.
fn check_alias(alias: &str) -> Result<()> {
    // A UTF-8 string has at least as many bytes as UTF-16 units: short aliases need no count.
    if alias.len() > MAX_NAME_UNITS && alias.encode_utf16().count() > MAX_NAME_UNITS {
        return Err(Error::InvalidName);
    }
    if alias.is_empty() || alias.contains('\\') {
        Err(Error::InvalidParameter)
    } else {
        Ok(())
    }
}
