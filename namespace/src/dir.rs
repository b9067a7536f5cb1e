//! Directory identities and the fixed layout of the tree.
//!
//! A [`DirId`] is 64 bits, laid out so that the skeleton of the tree needs no table:
//!
//! | value | directory |
//! |---|---|
//! | `0` | `\` |
//! | `1` | `\BaseNamedObjects` (global; session 0's local) |
//! | `2` | `\Sessions` |
//! | `3` | `\Sessions\BNOLINKS` |
//! | `1 << 32 \| n` | `\Sessions\<n>` (n ≥ 1) |
//! | `2 << 32 \| n` | `\Sessions\<n>\BaseNamedObjects` (n ≥ 1) |
//! | `1 << 63 \| k` | private namespace number `k` (k < 2⁶³) |
//!
//! So a session's object directory is a pure function of its number, the path of every
//! skeleton directory can be printed from its id, and whether a directory may hold objects
//! is one comparison. Private namespace ids come from a per-[`Namespace`] counter and are
//! never reused, so objects left under a destroyed private namespace can never be found
//! through a new namespace with the same boundary. (The id is 64 bits rather than 32
//! because a name-table key is 8-byte aligned anyway: the wider id is free.)
//!
//! [`Namespace`]: crate::Namespace

use std::fmt;

/// Bits 63..32 of a per-session directory id: which kind of directory it is.
const KIND_SHIFT: u32 = 32;
/// Kind of `\Sessions\<n>`.
const SESSION_CONTAINER: u64 = 1 << KIND_SHIFT;
/// Kind of `\Sessions\<n>\BaseNamedObjects`.
const SESSION_OBJECTS: u64 = 2 << KIND_SHIFT;
/// Bit 63: a private namespace directory.
const PRIVATE: u64 = 1 << 63;

/// The name of a session's object directory inside `\` or `\Sessions\<n>`.
pub(crate) const BASE_NAMED_OBJECTS: &str = "BaseNamedObjects";
/// The name of `\Sessions`.
pub(crate) const SESSIONS: &str = "Sessions";
/// The name of `\Sessions\BNOLINKS`.
pub(crate) const BNOLINKS: &str = "BNOLINKS";
/// The link, in every session object directory, to the global directory.
pub(crate) const GLOBAL_LINK: &str = "Global";
/// The link, in every session object directory, to that directory itself.
pub(crate) const LOCAL_LINK: &str = "Local";
/// The link, in every session object directory, to `\Sessions\BNOLINKS`.
pub(crate) const SESSION_LINK: &str = "Session";

/// The identity of one directory of the tree: the skeleton, a session's object directory
/// or a private namespace.
///
/// Entries of every directory live in one table keyed by `(DirId, name)`; a `DirId` is
/// cheap to copy, compare and hash. Ids of private namespaces are never reused within
/// one [`Namespace`](crate::Namespace).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DirId(u64);

impl DirId {
    /// The root directory, `\`.
    pub const ROOT: DirId = DirId(0);
    /// `\BaseNamedObjects`: the global namespace, which is also session 0's local one.
    pub const GLOBAL: DirId = DirId(1);
    /// `\Sessions`.
    pub const SESSIONS: DirId = DirId(2);
    /// `\Sessions\BNOLINKS`, where each existing session `n` has a link `<n>` to its
    /// object directory (the target of every session's `Session` link).
    pub const BNOLINKS: DirId = DirId(3);

    /// The object directory of session `n`: [`DirId::GLOBAL`] for session 0, else
    /// `\Sessions\<n>\BaseNamedObjects`.
    ///
    /// This is a pure function: it does not say whether the session exists (see
    /// [`Namespace::enter_session`](crate::Namespace::enter_session)).
    #[must_use]
    pub const fn session(n: u32) -> DirId {
        if n == 0 {
            DirId::GLOBAL
        } else {
            DirId(SESSION_OBJECTS | n as u64)
        }
    }

    /// `\Sessions\<n>`, the directory holding session `n`'s object directory (n ≥ 1).
    pub(crate) const fn session_container(n: u32) -> DirId {
        DirId(SESSION_CONTAINER | n as u64)
    }

    /// The session number n ≥ 1 if this is `\Sessions\<n>\BaseNamedObjects`: the object
    /// directories whose names keep their session in existence. `None` for the global
    /// directory (session 0 is never removed) and every other directory.
    pub(crate) const fn removable_session(self) -> Option<u32> {
        if self.0 >> KIND_SHIFT == SESSION_OBJECTS >> KIND_SHIFT {
            Some(self.0 as u32)
        } else {
            None
        }
    }

    /// The private namespace directory number `k` (only the low 63 bits of `k` count).
    pub(crate) const fn private(k: u64) -> DirId {
        DirId(PRIVATE | (k & !PRIVATE))
    }

    /// Whether this is a session object directory (the global one included): the
    /// directories that hold the `Global`, `Local` and `Session` links.
    pub(crate) const fn is_session_objects(self) -> bool {
        self.0 == DirId::GLOBAL.0 || self.0 >> KIND_SHIFT == SESSION_OBJECTS >> KIND_SHIFT
    }

    /// Whether new objects may be created in this directory: session object directories
    /// and private namespaces. The skeleton (`\`, `\Sessions`, `\Sessions\<n>`,
    /// `\Sessions\BNOLINKS`) holds only directories and links.
    pub(crate) const fn holds_objects(self) -> bool {
        self.is_session_objects() || self.is_private()
    }

    /// Whether this is a private namespace directory.
    #[must_use]
    pub const fn is_private(self) -> bool {
        self.0 & PRIVATE != 0
    }

    /// The raw 64-bit value, for logging; its layout is private and may change.
    #[must_use]
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The absolute path of this directory in the tree, or `None` for a private namespace
    /// (which has no path: it is reached only through a process's alias).
    ///
    /// ```
    /// use kobj_namespace::DirId;
    /// assert_eq!(DirId::GLOBAL.path().as_deref(), Some("\\BaseNamedObjects"));
    /// assert_eq!(DirId::session(2).path().as_deref(), Some("\\Sessions\\2\\BaseNamedObjects"));
    /// ```
    #[must_use]
    pub fn path(self) -> Option<String> {
        let n = self.0 as u32;
        match self.0 {
            0 => Some("\\".to_owned()),
            1 => Some(format!("\\{BASE_NAMED_OBJECTS}")),
            2 => Some(format!("\\{SESSIONS}")),
            3 => Some(format!("\\{SESSIONS}\\{BNOLINKS}")),
            raw if raw >> KIND_SHIFT == SESSION_CONTAINER >> KIND_SHIFT => Some(format!("\\{SESSIONS}\\{n}")),
            raw if raw >> KIND_SHIFT == SESSION_OBJECTS >> KIND_SHIFT => {
                Some(format!("\\{SESSIONS}\\{n}\\{BASE_NAMED_OBJECTS}"))
            }
            _ => None,
        }
    }
}

impl fmt::Debug for DirId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path() {
            Some(path) => write!(f, "DirId({path})"),
            None if self.is_private() => write!(f, "DirId(private #{})", self.0 & !PRIVATE),
            None => write!(f, "DirId({:#x})", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_ids_are_distinct_and_classified() {
        let ids = [
            DirId::ROOT,
            DirId::GLOBAL,
            DirId::SESSIONS,
            DirId::BNOLINKS,
            DirId::session_container(1),
            DirId::session(1),
            DirId::session(u32::MAX),
            DirId::private(0),
            DirId::private(u64::MAX),
        ];
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(DirId::GLOBAL.holds_objects());
        assert!(DirId::session(7).holds_objects());
        assert!(DirId::private(3).holds_objects());
        assert!(!DirId::ROOT.holds_objects());
        assert!(!DirId::SESSIONS.holds_objects());
        assert!(!DirId::BNOLINKS.holds_objects());
        assert!(!DirId::session_container(7).holds_objects());
        assert!(!DirId::private(3).is_session_objects());
        assert_eq!(DirId::session(0), DirId::GLOBAL);
        assert_eq!(DirId::session(7).removable_session(), Some(7));
        assert_eq!(DirId::session(u32::MAX).removable_session(), Some(u32::MAX));
        assert_eq!(DirId::GLOBAL.removable_session(), None);
        assert_eq!(DirId::session_container(7).removable_session(), None);
        assert_eq!(DirId::private(7).removable_session(), None);
    }

    #[test]
    fn paths_and_debug() {
        assert_eq!(DirId::ROOT.path().as_deref(), Some("\\"));
        assert_eq!(DirId::BNOLINKS.path().as_deref(), Some("\\Sessions\\BNOLINKS"));
        assert_eq!(DirId::session_container(4_000_000_000).path().as_deref(), Some("\\Sessions\\4000000000"));
        assert_eq!(DirId::private(5).path(), None);
        assert_eq!(format!("{:?}", DirId::private(5)), "DirId(private #5)");
        assert_eq!(format!("{:?}", DirId::SESSIONS), "DirId(\\Sessions)");
    }
}
