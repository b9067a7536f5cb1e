//! Named objects: create-or-open, open and remove, each under one shard lock of the
//! object table (`table.rs`).

use std::hash::Hash;
use std::ops::Deref;

use hashbrown::hash_table::Entry;

use crate::key::KeyView;
use crate::namespace::is_reserved;
use crate::table::{is_named, Named};
use crate::{NameError, Namespace, Resolved};

/// What a `make` that broke the [`Named`] contract gets told (in debug builds).
const MISNAMED: &str = "`make` made an object that carries another name than the one it is created under";

/// The result of [`Namespace::create_or_open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub struct CreateOutcome<R> {
    /// What `make` or `acquire` returned (the engine's new handle, typically).
    pub value: R,
    /// `true` if a live object already had the name and `acquire` opened it;
    /// `false` if `make` created the object (`ERROR_ALREADY_EXISTS` is reported only
    /// when this is `true`).
    pub already_existed: bool,
}

impl<T: Deref, B: Hash + Eq> Namespace<T, B>
where
    T::Target: Named,
{
    /// Creates the object named by `at`, or opens the live object that has the name.
    ///
    /// Everything happens under the one shard lock of the name:
    /// - a live object has the name: `acquire(&object)` decides (the engine increments
    ///   the handle count if it is not zero, and checks type and access). `Some(Ok(r))`
    ///   gives `r` with `already_existed = true`; `Some(Err(e))` fails with `e`, leaving
    ///   the name as it was;
    /// - `acquire` returns `None` (the object's handle count already reached zero: it is
    ///   dying and its last closer is about to remove it) or nothing has the name: `make`
    ///   creates the object (with one handle), which must carry the name `at`
    ///   ([`Named`]), and its `T` takes the name, replacing the dying one; the result has
    ///   `already_existed = false`. If `make` fails, no name is left behind (a dying
    ///   entry it would have replaced is removed too);
    /// - the name is a directory or a link, one of a session's fixed links, or empty:
    ///   [`NameError::NotAnObject`] (`ERROR_INVALID_HANDLE`);
    /// - the name is free but `at.dir` is a skeleton directory that holds no objects
    ///   (`\Sessions\BNOLINKS`): [`NameError::AccessDenied`];
    /// - `at.dir` is the object directory of a session n ≥ 1 that no longer exists (its
    ///   last process left and its last name went after the walk):
    ///   [`NameError::PathNotFound`], as a walk now would say. A name in a session
    ///   directory keeps the session until the name is removed (see
    ///   [`leave_session`](Self::leave_session)).
    ///
    /// So two racing creators get one object: exactly one of them runs `make`.
    ///
    /// The closures run under the shard lock: they must be short and must not call back
    /// into this namespace. A replaced `T` is dropped after the lock is released.
    pub fn create_or_open<R, E>(
        &self,
        at: Resolved<'_>,
        acquire: impl FnOnce(&T) -> Option<Result<R, E>>,
        make: impl FnOnce() -> Result<(T, R), E>,
    ) -> Result<CreateOutcome<R>, E>
    where
        E: From<NameError>,
    {
        if at.name.is_empty() || is_reserved(at.dir, at.name) {
            return Err(NameError::NotAnObject.into());
        }
        if !at.dir.holds_objects() {
            // Only directories and links live here (`Namespace::dirs`).
            return Err(self.not_an_object_or(at, NameError::AccessDenied).into());
        }
        // A name in session n's object directory keeps the session: the session is
        // checked and the name counted under the session's shard lock (shared), which
        // its removal takes exclusive. A session removed since the walk is as missing as
        // it would have been to a later walk.
        let session_number = at.dir.removable_session();
        let session = match session_number {
            Some(n) => Some(self.sessions.get(&n).ok_or(NameError::PathNotFound)?),
            None => None,
        };
        let created = |value| CreateOutcome { value, already_existed: false };
        // Set when a failing `make` removed a dying entry: one name fewer.
        let mut removed = false;
        // Declared before the shard guard, so dropped after it: a replaced object's
        // last reference is released outside the shard lock.
        let replaced: Option<T>;
        let hash = self.objects.hash(at.dir, at.name);
        let mut shard = self.objects.shard(hash).write();
        let entry = shard.entry(hash, |t| is_named(t, at.dir, at.name), |t| self.objects.rehash(t));
        let result = match entry {
            Entry::Occupied(mut occupied) => match acquire(occupied.get()) {
                Some(result) => {
                    replaced = None;
                    result.map(|value| CreateOutcome { value, already_existed: true })
                }
                // Dying: the name is free. Its last closer's `remove_if` will not
                // match the new object and leaves it alone (and the name, still
                // counted once, stays counted once).
                None => match make() {
                    Ok((object, value)) => {
                        debug_assert!(is_named(&object, at.dir, at.name), "{MISNAMED}");
                        replaced = Some(std::mem::replace(occupied.get_mut(), object));
                        Ok(created(value))
                    }
                    Err(error) => {
                        replaced = Some(occupied.remove().0);
                        removed = true;
                        Err(error)
                    }
                },
            },
            Entry::Vacant(vacant) => {
                replaced = None;
                make().map(|(object, value)| {
                    debug_assert!(is_named(&object, at.dir, at.name), "{MISNAMED}");
                    vacant.insert(object);
                    // Counted before the name's shard lock is released: no closer
                    // can uncount it first.
                    if let Some(state) = &session {
                        state.name_added();
                    }
                    created(value)
                })
            }
        };
        drop(shard);
        let idle = removed && session.as_ref().is_some_and(|state| state.name_removed());
        drop(session);
        drop(replaced);
        if let (true, Some(n)) = (idle, session_number) {
            self.try_remove_session(n);
        }
        result
    }

    /// Opens the live object named by `at`.
    ///
    /// Under the name's shard lock (shared), `acquire(&object)` decides as in
    /// [`create_or_open`](Self::create_or_open); `None` (the object is dying) or no
    /// entry is [`NameError::NotFound`] (`ERROR_FILE_NOT_FOUND`); a directory, a link or
    /// the empty name is [`NameError::NotAnObject`] (`ERROR_INVALID_HANDLE`).
    /// `acquire` must not call back into this namespace.
    pub fn open<R, E>(
        &self,
        at: Resolved<'_>,
        acquire: impl FnOnce(&T) -> Option<Result<R, E>>,
    ) -> Result<R, E>
    where
        E: From<NameError>,
    {
        if at.name.is_empty() || is_reserved(at.dir, at.name) {
            return Err(NameError::NotAnObject.into());
        }
        if !at.dir.holds_objects() {
            return Err(self.not_an_object_or(at, NameError::NotFound).into());
        }
        let hash = self.objects.hash(at.dir, at.name);
        let shard = self.objects.shard(hash).read();
        match shard.find(hash, |t| is_named(t, at.dir, at.name)) {
            Some(object) => acquire(object).unwrap_or_else(|| Err(NameError::NotFound.into())),
            None => Err(NameError::NotFound.into()),
        }
    }

    /// Removes the name `at` if it is still an object for which `pred` holds; returns
    /// whether it removed it.
    ///
    /// The engine calls this when an object's handle count reaches zero, with `pred`
    /// comparing identity (`Arc::ptr_eq`): by then a creator may already have replaced
    /// the dying object with a new one of the same name, which must stay. Directories
    /// and links are never removed. `pred` runs under the shard lock and must not call
    /// back into this namespace; the removed `T` is dropped after the lock is released.
    ///
    /// Removing the last name of a session whose processes have all left removes the
    /// session's directories too.
    pub fn remove_if(&self, at: Resolved<'_>, pred: impl FnOnce(&T) -> bool) -> bool {
        let hash = self.objects.hash(at.dir, at.name);
        let mut shard = self.objects.shard(hash).write();
        let removed = match shard.find_entry(hash, |t| is_named(t, at.dir, at.name)) {
            Ok(occupied) if pred(occupied.get()) => Some(occupied.remove().0),
            Ok(_) | Err(_) => None,
        };
        drop(shard);
        let Some(object) = removed else { return false };
        // The removed reference goes after the shard lock is released; then the session
        // (session shard, then name shard: the name's is no longer held).
        drop(object);
        self.name_removed_from(at.dir);
        true
    }
}

impl<T, B: Hash + Eq> Namespace<T, B> {
    /// The error for an object operation on `at` in a directory that holds no objects:
    /// [`NameError::NotAnObject`] if `at` is a directory or a link there, else `absent`.
    fn not_an_object_or(&self, at: Resolved<'_>, absent: NameError) -> NameError {
        if self.dirs.contains_key(&(at.dir, at.name) as &dyn KeyView) {
            NameError::NotAnObject
        } else {
            absent
        }
    }
}
