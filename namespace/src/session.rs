//! Sessions: a session's directories come with its first process and go when its last
//! process has left and no name is left in its object directory.
//!
//! Each session n ≥ 1 that exists has a [`SessionState`] in `Namespace::sessions`, a
//! `DashMap` keyed by session number, and six entries in the name table; session 0 has
//! neither and is never removed. The crate documentation ("Sessions") gives the protocol:
//! counts change under the session's shard lock, shared; the session is built and removed
//! under it, exclusive; lock order session shard, then name shard.

use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::mapref::entry::Entry;

use crate::dir::{BASE_NAMED_OBJECTS, GLOBAL_LINK, LOCAL_LINK, SESSION_LINK};
use crate::key::{KeyView, Node};
use crate::{DirId, Namespace};

/// What keeps a session n ≥ 1 in existence.
#[derive(Debug, Default)]
pub(crate) struct SessionState {
    /// Processes that entered and have not left.
    processes: AtomicUsize,
    /// Objects named in the session's object directory (at least that many: a removed
    /// name is uncounted just after its removal).
    names: AtomicUsize,
}

impl SessionState {
    /// Counts a name just inserted in the session's object directory. The caller holds
    /// the session's shard lock and the name's.
    pub(crate) fn name_added(&self) {
        self.names.fetch_add(1, Ordering::SeqCst);
    }

    /// Uncounts a name just removed; true if that left the session with no name and no
    /// process (the caller then tries the removal, once it released the shard lock).
    #[must_use]
    pub(crate) fn name_removed(&self) -> bool {
        self.names.fetch_sub(1, Ordering::SeqCst) == 1 && self.processes.load(Ordering::SeqCst) == 0
    }

    /// Uncounts a process; true if that left the session with no process and no name.
    #[must_use]
    fn process_left(&self) -> bool {
        self.processes.fetch_sub(1, Ordering::SeqCst) == 1 && self.names.load(Ordering::SeqCst) == 0
    }
}

impl<T, B: Hash + Eq> Namespace<T, B> {
    /// A process enters session `n`: makes the session exist, if it does not, and counts
    /// the process in it. Returns the session's object directory.
    ///
    /// For n ≥ 1 a new session gets `\Sessions\<n>\BaseNamedObjects`; in it the links
    /// `Global` (to `\BaseNamedObjects`), `Local` (to itself) and `Session` (to
    /// `\Sessions\BNOLINKS`); and last `\Sessions\BNOLINKS\<n>`. All six are published
    /// under the session's shard lock, exclusive, before anyone can count in the session,
    /// so a process that entered always finds its session complete; a session that was
    /// removed comes back empty. Session 0 always exists: entering it does nothing.
    ///
    /// The engine calls this when it creates a process, and [`leave_session`] when the
    /// process is gone (terminated), exactly once each.
    ///
    /// [`leave_session`]: Self::leave_session
    pub fn enter_session(&self, n: u32) -> DirId {
        let objects = DirId::session(n);
        if n == 0 {
            return objects;
        }
        // The common case, a session that exists: counted under the shared lock.
        if let Some(state) = self.sessions.get(&n) {
            state.processes.fetch_add(1, Ordering::SeqCst);
            return objects;
        }
        match self.sessions.entry(n) {
            Entry::Occupied(occupied) => {
                occupied.get().processes.fetch_add(1, Ordering::SeqCst);
            }
            Entry::Vacant(vacant) => {
                self.publish_session(n);
                vacant.insert(SessionState { processes: AtomicUsize::new(1), names: AtomicUsize::new(0) });
            }
        }
        objects
    }

    /// A process leaves session `n` (it was terminated). When that was the session's last
    /// process and no object is named in its object directory, the session's directories
    /// and links are removed: `Session\<n>\…` is then [`NameError::PathNotFound`] from
    /// every session. If objects are still named there (held open by processes of other
    /// sessions), the last of their names to go removes the session.
    ///
    /// Session 0 is never removed: leaving it does nothing. Each call must match an
    /// earlier [`enter_session`](Self::enter_session).
    ///
    /// [`NameError::PathNotFound`]: crate::NameError::PathNotFound
    pub fn leave_session(&self, n: u32) {
        if n == 0 {
            return;
        }
        let state = self.sessions.get(&n);
        debug_assert!(state.is_some(), "leave_session({n}) without enter_session");
        // The shard lock is released before the removal takes it again, exclusive.
        if state.is_some_and(|state| state.process_left()) {
            self.try_remove_session(n);
        }
    }

    /// The number of sessions that exist, session 0 included.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.sessions.len() + 1
    }

    /// Whether session `n` exists (0 always does).
    #[must_use]
    pub fn session_exists(&self, n: u32) -> bool {
        n == 0 || self.sessions.contains_key(&n)
    }

    /// Removes session `n` if it has no process and no name left. Racing `enter_session`
    /// and creators of names in the session wait for the exclusive shard lock, then see
    /// either the whole session or none of it.
    pub(crate) fn try_remove_session(&self, n: u32) {
        if let Entry::Occupied(occupied) = self.sessions.entry(n) {
            // Every count changes under this shard's lock, shared: what this exclusive
            // holder reads is final until it releases the lock.
            let state = occupied.get();
            if state.processes.load(Ordering::SeqCst) == 0 && state.names.load(Ordering::SeqCst) == 0 {
                self.unpublish_session(n);
                occupied.remove();
            }
        }
    }

    /// After a name was removed from `dir`: uncounts it if `dir` is the object directory
    /// of a session n ≥ 1, and removes the session if that was all that kept it.
    pub(crate) fn name_removed_from(&self, dir: DirId) {
        let Some(n) = dir.removable_session() else { return };
        // The name still counted until now, so the state exists.
        let idle = self.sessions.get(&n).is_some_and(|state| state.name_removed());
        if idle {
            self.try_remove_session(n);
        }
    }

    /// Puts the six entries of session n's directories in place (n ≥ 1), or, for 0, the
    /// links of `\BaseNamedObjects` and `\Sessions\BNOLINKS\0`. `BNOLINKS\<n>` goes last.
    pub(crate) fn publish_session(&self, n: u32) {
        let objects = DirId::session(n);
        let number = n.to_string();
        if n != 0 {
            let container = DirId::session_container(n);
            self.publish(DirId::SESSIONS, &number, Node::Dir(container));
            self.publish(container, BASE_NAMED_OBJECTS, Node::Dir(objects));
        }
        self.publish(objects, GLOBAL_LINK, Node::Link(DirId::GLOBAL));
        self.publish(objects, LOCAL_LINK, Node::Link(objects));
        self.publish(objects, SESSION_LINK, Node::Link(DirId::BNOLINKS));
        self.publish(DirId::BNOLINKS, &number, Node::Link(objects));
    }

    /// Removes the six entries of session n's directories (n ≥ 1), in the reverse order:
    /// `BNOLINKS\<n>` first, so no new walk reaches the session.
    fn unpublish_session(&self, n: u32) {
        let objects = DirId::session(n);
        let container = DirId::session_container(n);
        let number = n.to_string();
        for (dir, name) in [
            (DirId::BNOLINKS, number.as_str()),
            (objects, SESSION_LINK),
            (objects, LOCAL_LINK),
            (objects, GLOBAL_LINK),
            (container, BASE_NAMED_OBJECTS),
            (DirId::SESSIONS, number.as_str()),
        ] {
            // A directory or a link: nothing of the engine's is dropped.
            self.dirs.remove(&(dir, name) as &dyn KeyView);
        }
    }
}
