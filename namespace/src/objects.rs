//! Named objects: create-or-open, open and remove, each under one shard lock.

use std::hash::Hash;

use dashmap::mapref::entry::Entry;

use crate::key::{Key, KeyView, Slot};
use crate::namespace::is_reserved;
use crate::{NameError, Namespace, Resolved};

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

impl<T, B: Hash + Eq> Namespace<T, B> {
    /// Creates the object named by `at`, or opens the live object that has the name.
    ///
    /// Everything happens under the one shard lock of the name:
    /// - a live object has the name: `acquire(&object)` decides (the engine increments
    ///   the handle count if it is not zero, and checks type and access). `Some(Ok(r))`
    ///   gives `r` with `already_existed = true`; `Some(Err(e))` fails with `e`, leaving
    ///   the name as it was;
    /// - `acquire` returns `None` (the object's handle count already reached zero: it is
    ///   dying and its last closer is about to remove it) or nothing has the name: `make`
    ///   creates the object (with one handle) and its `T` takes the name, replacing the
    ///   dying one; the result has `already_existed = false`. If `make` fails, no name is
    ///   left behind (a dying entry it would have replaced is removed too);
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
        // Declared before the entry guard, so dropped after it: a replaced object's
        // last reference is released outside the shard lock.
        let replaced: Option<Slot<T>>;
        let result = match self.entries.entry(Key::new(at.dir, at.name)) {
            Entry::Occupied(mut occupied) => {
                let acquired = match occupied.get() {
                    Slot::Object(object) => acquire(object),
                    Slot::Dir(_) | Slot::Link(_) => Some(Err(NameError::NotAnObject.into())),
                };
                match acquired {
                    Some(result) => {
                        replaced = None;
                        result.map(|value| CreateOutcome { value, already_existed: true })
                    }
                    // Dying: the name is free. Its last closer's `remove_if` will not
                    // match the new object and leaves it alone (and the name, still
                    // counted once, stays counted once).
                    None => match make() {
                        Ok((object, value)) => {
                            replaced = Some(occupied.insert(Slot::Object(object)));
                            Ok(created(value))
                        }
                        Err(error) => {
                            replaced = Some(occupied.remove());
                            removed = true;
                            Err(error)
                        }
                    },
                }
            }
            Entry::Vacant(vacant) => {
                replaced = None;
                if at.dir.holds_objects() {
                    make().map(|(object, value)| {
                        vacant.insert(Slot::Object(object));
                        // Counted before the name's shard lock is released: no closer
                        // can uncount it first.
                        if let Some(state) = &session {
                            state.name_added();
                        }
                        created(value)
                    })
                } else {
                    Err(NameError::AccessDenied.into())
                }
            }
        };
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
        match self.entries.get(&(at.dir, at.name) as &dyn KeyView).as_deref() {
            Some(Slot::Object(object)) => acquire(object).unwrap_or_else(|| Err(NameError::NotFound.into())),
            Some(Slot::Dir(_) | Slot::Link(_)) => Err(NameError::NotAnObject.into()),
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
        let removed = self
            .entries
            .remove_if(&(at.dir, at.name) as &dyn KeyView, |_, slot| match slot {
                Slot::Object(object) => pred(object),
                Slot::Dir(_) | Slot::Link(_) => false,
            })
            .is_some();
        if removed {
            // After the name's shard lock is released: session shard, then name shard.
            self.name_removed_from(at.dir);
        }
        removed
    }
}
