//! Private namespaces: directories found by boundary, not by path.

use std::hash::Hash;
use std::sync::atomic::Ordering;

use dashmap::mapref::entry::Entry;

use crate::{DirId, NameError, Namespace};

impl<T, B: Hash + Eq> Namespace<T, B> {
    /// Creates the private namespace of `boundary`: a new, empty directory, and the
    /// engine's namespace object `T` (made by `make`, given the directory) that stands for
    /// it. Returns the directory and what `make` returned.
    ///
    /// Under the boundary's one shard lock: if a namespace with this boundary exists and
    /// `alive` says its object is alive, [`NameError::AlreadyExists`]
    /// (`ERROR_ALREADY_EXISTS`); if it is dying (its last handle closed), it is replaced,
    /// as a dying named object is. A failing `make` leaves no namespace behind. The
    /// closures run under the lock and must not call back into this namespace.
    ///
    /// The new directory's id is never reused: objects still alive under a namespace that
    /// was removed cannot be found through a new namespace with the same boundary.
    pub fn create_private<R, E>(
        &self,
        boundary: B,
        alive: impl FnOnce(&T) -> bool,
        make: impl FnOnce(DirId) -> Result<(T, R), E>,
    ) -> Result<(DirId, R), E>
    where
        E: From<NameError>,
    {
        let replaced: Option<(DirId, T)>;
        let result = match self.privates.entry(boundary) {
            Entry::Occupied(mut occupied) => {
                if alive(&occupied.get().1) {
                    replaced = None;
                    Err(NameError::AlreadyExists.into())
                } else {
                    let dir = self.new_private_dir();
                    match make(dir) {
                        Ok((object, value)) => {
                            replaced = Some(occupied.insert((dir, object)));
                            Ok((dir, value))
                        }
                        Err(error) => {
                            replaced = Some(occupied.remove());
                            Err(error)
                        }
                    }
                }
            }
            Entry::Vacant(vacant) => {
                replaced = None;
                let dir = self.new_private_dir();
                make(dir).map(|(object, value)| {
                    vacant.insert((dir, object));
                    (dir, value)
                })
            }
        };
        drop(replaced);
        result
    }

    /// Opens the private namespace of `boundary`: under its shard lock (shared),
    /// `acquire` decides on the engine's namespace object as in
    /// [`open`](Self::open). A missing or dying namespace is [`NameError::NotFound`]
    /// (`ERROR_FILE_NOT_FOUND`). The engine checks the boundary's SIDs against the
    /// caller's token itself, in `acquire` or before.
    pub fn open_private<R, E>(
        &self,
        boundary: &B,
        acquire: impl FnOnce(&T) -> Option<Result<R, E>>,
    ) -> Result<(DirId, R), E>
    where
        E: From<NameError>,
    {
        match self.privates.get(boundary).as_deref() {
            Some((dir, object)) => match acquire(object) {
                Some(result) => result.map(|value| (*dir, value)),
                None => Err(NameError::NotFound.into()),
            },
            None => Err(NameError::NotFound.into()),
        }
    }

    /// Removes the private namespace of `boundary` if its object is still one for which
    /// `pred` holds; returns whether it removed it. The engine calls this when the last
    /// handle to the namespace object closes (comparing identity, as for
    /// [`remove_if`](Self::remove_if)).
    ///
    /// Objects created inside the namespace are not touched: each keeps its name (under
    /// the old directory id, now unreachable by resolution) until its own last handle
    /// closes and the engine removes it.
    pub fn remove_private_if(&self, boundary: &B, pred: impl FnOnce(&T) -> bool) -> bool {
        self.privates.remove_if(boundary, |_, (_, object)| pred(object)).is_some()
    }

    /// A fresh private directory id.
    fn new_private_dir(&self) -> DirId {
        // Only uniqueness matters, not ordering with other memory. 2⁶³ creations, one a
        // nanosecond, would take 292 years: the counter does not wrap in practice.
        DirId::private(self.next_private.fetch_add(1, Ordering::Relaxed))
    }
}
