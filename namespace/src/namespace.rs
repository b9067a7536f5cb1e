//! The [`Namespace`] itself: the table, the sessions, name resolution and listing.

use std::fmt;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::atomic::AtomicU64;

use dashmap::DashMap;

use crate::dir::{BASE_NAMED_OBJECTS, BNOLINKS, GLOBAL_LINK, LOCAL_LINK, SESSIONS, SESSION_LINK};
use crate::key::{Key, KeyView, Node};
use crate::session::SessionState;
use crate::table::{Named, ObjectTable};
use crate::{DirId, NameError};

/// The longest name, in UTF-16 code units, that a Win32 name may have (the whole string as
/// passed, prefix included). One more unit is [`NameError::InvalidName`].
pub const MAX_NAME_UNITS: usize = 32_767;

/// The object directory tree and its sharded name tables.
///
/// `T` is the engine's counted reference to an object (`Clone + Send + Sync`, typically an
/// `Arc`-like pointer) that dereferences to an object carrying its own name ([`Named`]:
/// the namespace keeps no copy); `B` is the key of a private namespace's boundary. See the crate
/// documentation for the layout, the lifetime rules and how an engine drives it.
pub struct Namespace<T, B = String> {
    /// The directories and links of every directory: `(directory, name) -> directory |
    /// link`. A directory that holds objects holds no directory or link but the three
    /// fixed links of a session directory, whose names are never objects' (`is_reserved`);
    /// so an object's name and a directory's or link's never meet.
    pub(crate) dirs: DashMap<Key, Node>,
    /// The named objects of every directory, each found by the name it carries.
    pub(crate) objects: ObjectTable<T>,
    /// The sessions n ≥ 1 that exist: what keeps each (see `session.rs`).
    pub(crate) sessions: DashMap<u32, SessionState>,
    /// The private namespaces: boundary -> (its directory, the engine's namespace object).
    pub(crate) privates: DashMap<B, (DirId, T)>,
    /// The number of the next private namespace directory; never reused.
    pub(crate) next_private: AtomicU64,
}

/// Where a Win32 name leads: the directory its final component is looked up in, and that
/// component.
///
/// Made by [`Namespace::resolve`]; an engine that must find a name again later (to remove
/// it when the object's last handle closes) keeps `dir` and an owned copy of `name`, and
/// rebuilds a `Resolved` from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Resolved<'n> {
    /// The directory holding the final component.
    pub dir: DirId,
    /// The final component: one name, no `\`. Empty only when the whole name was empty,
    /// in which case it stands for `dir` itself (never an object).
    pub name: &'n str,
}

/// What an entry of a directory is, as [`Namespace::list`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A named object, with the type name the caller's closure gave for it.
    Object(String),
    /// A sub-directory.
    Directory,
    /// A symbolic link, with the absolute path of the directory it leads to.
    Link(String),
}

impl<T, B: Hash + Eq> Default for Namespace<T, B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, B: Hash + Eq> fmt::Debug for Namespace<T, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("entries", &self.entry_count())
            .field("sessions", &self.session_count())
            .field("private_namespaces", &self.privates.len())
            .finish_non_exhaustive()
    }
}

impl<T, B: Hash + Eq> Namespace<T, B> {
    /// A tree with its skeleton: `\`, `\BaseNamedObjects`, `\Sessions`,
    /// `\Sessions\BNOLINKS`, and session 0 (whose object directory is
    /// `\BaseNamedObjects`, with its `Global`, `Local` and `Session` links and
    /// `\Sessions\BNOLINKS\0`).
    #[must_use]
    pub fn new() -> Self {
        let namespace = Namespace {
            dirs: DashMap::new(),
            objects: ObjectTable::new(),
            sessions: DashMap::new(),
            privates: DashMap::new(),
            next_private: AtomicU64::new(0),
        };
        namespace.publish(DirId::ROOT, BASE_NAMED_OBJECTS, Node::Dir(DirId::GLOBAL));
        namespace.publish(DirId::ROOT, SESSIONS, Node::Dir(DirId::SESSIONS));
        namespace.publish(DirId::SESSIONS, BNOLINKS, Node::Dir(DirId::BNOLINKS));
        namespace.publish_session(0);
        namespace
    }

    /// Puts a skeleton entry in place. Skeleton names can never hold objects (see
    /// [`is_reserved`]), so this only ever replaces an identical entry.
    pub(crate) fn publish(&self, dir: DirId, name: &str, node: Node) {
        self.dirs.insert(Key::new(dir, name), node);
    }

    /// Resolves a Win32 name, as passed by a process of `session`, to the directory and
    /// final component it names. Only the path is walked: the final component itself is
    /// not looked up (the operation that follows does that, under its one shard lock).
    ///
    /// The rules (SPEC §3 "Named objects"):
    /// - the name is relative to `session`'s object directory ([`DirId::session`]); the
    ///   caller's own session is taken to exist (the engine entered it when it created
    ///   the process, and leaves it only when the process is terminated);
    /// - components are separated by `\` and match exactly: case-sensitive, counted
    ///   (an embedded NUL is part of the name);
    /// - more than [`MAX_NAME_UNITS`] UTF-16 code units, or an empty component (a leading
    ///   or trailing `\`, or `\\`), is [`NameError::InvalidName`], whatever the path;
    /// - each non-final component must name a directory or a link (which is followed),
    ///   else [`NameError::PathNotFound`]: `Global` leads to `\BaseNamedObjects`, `Local`
    ///   to the session's own directory, `Session\<n>` to session n's directory if session
    ///   n exists (a creator that finds it removed after the walk fails in
    ///   [`create_or_open`](Self::create_or_open), as the walk would have);
    /// - if the first of two or more components is an alias for which `private` returns
    ///   a directory (the caller holds that private namespace), the rest resolves inside
    ///   that directory; otherwise the alias is an ordinary component. `private` is
    ///   called at most once;
    /// - the empty name resolves to the session directory with an empty final component:
    ///   the directory itself, which [`create_or_open`](Self::create_or_open) and
    ///   [`open`](Self::open) answer with [`NameError::NotAnObject`].
    ///
    /// A final component that names a link or a directory (`Global`, `Local`,
    /// `Session\0`) resolves; the operation on it fails with [`NameError::NotAnObject`].
    ///
    /// ```
    /// use kobj_namespace::{DirId, Namespace};
    /// let ns: Namespace<u32> = Namespace::new();
    /// ns.enter_session(1);
    /// let r = ns.resolve(1, "Global\\app", |_| None).unwrap();
    /// assert_eq!((r.dir, r.name), (DirId::GLOBAL, "app"));
    /// let r = ns.resolve(1, "app", |_| None).unwrap();
    /// assert_eq!(r.dir, DirId::session(1));
    /// ```
    pub fn resolve<'n>(
        &self,
        session: u32,
        name: &'n str,
        private: impl FnOnce(&str) -> Option<DirId>,
    ) -> Result<Resolved<'n>, NameError> {
        check_length(name)?;
        check_components(name)?;
        let base = DirId::session(session);
        let Some((first, mut rest)) = name.split_once('\\') else {
            return Ok(Resolved { dir: base, name });
        };
        let mut dir = match private(first) {
            Some(private_dir) => private_dir,
            None => self.follow(base, first)?,
        };
        while let Some((component, tail)) = rest.split_once('\\') {
            dir = self.follow(dir, component)?;
            rest = tail;
        }
        Ok(Resolved { dir, name: rest })
    }

    /// Finds the directory at an absolute path of the tree, such as `\BaseNamedObjects`
    /// or `\Sessions\BNOLINKS\1` (links are followed). `\` is the root.
    ///
    /// Errors: a path that does not start with `\` or has an empty component is
    /// [`NameError::InvalidName`]; one whose components do not all name directories or
    /// links is [`NameError::PathNotFound`].
    pub fn lookup_dir(&self, path: &str) -> Result<DirId, NameError> {
        let relative = path.strip_prefix('\\').ok_or(NameError::InvalidName)?;
        if relative.is_empty() {
            return Ok(DirId::ROOT);
        }
        check_components(relative)?;
        relative.split('\\').try_fold(DirId::ROOT, |dir, component| self.follow(dir, component))
    }

    /// One step of a walk: the directory that `component` of `dir` leads to.
    fn follow(&self, dir: DirId, component: &str) -> Result<DirId, NameError> {
        // The three links of a session directory are fixed by the layout; answering them
        // here spares the hottest prefixes (`Global\`, `Local\`) a shard lock on one
        // shared entry. The answer is the one the stored links give.
        if dir.is_session_objects() {
            match component {
                GLOBAL_LINK => return Ok(DirId::GLOBAL),
                LOCAL_LINK => return Ok(dir),
                SESSION_LINK => return Ok(DirId::BNOLINKS),
                _ => {}
            }
        }
        // An object is never a path component: the directory table alone decides.
        match self.dirs.get(&(dir, component) as &dyn KeyView).as_deref() {
            Some(Node::Dir(next) | Node::Link(next)) => Ok(*next),
            None => Err(NameError::PathNotFound),
        }
    }

    /// The number of entries of every kind (objects, directories, links) in every
    /// directory, the skeleton included. Counts one shard at a time, so under concurrent
    /// changes it is approximate.
    #[must_use]
    pub fn entry_count(&self) -> usize {
        self.dirs.len() + self.objects.len()
    }
}

impl<T: Deref, B: Hash + Eq> Namespace<T, B>
where
    T::Target: Named,
{
    /// The entries of directory `dir`, sorted by name, with the type name of each object
    /// as `type_name` gives it.
    ///
    /// This is for tooling, not a hot path: it scans both tables one shard at a time,
    /// holding that shard's lock and never two at once (name operations on the shard wait
    /// for its scan). `type_name` runs under that lock and must not call back into this
    /// namespace.
    #[must_use]
    pub fn list(&self, dir: DirId, type_name: impl Fn(&T) -> String) -> Vec<(String, EntryKind)> {
        let mut found = Vec::new();
        // `retain` visits the shards one after another, releasing each lock before taking
        // the next (`iter` would hold the next before releasing the last). Nothing is
        // removed: the closure always keeps the entry.
        self.dirs.retain(|key, node| {
            if key.dir() == dir {
                let kind = match *node {
                    Node::Dir(_) => EntryKind::Directory,
                    Node::Link(target) => {
                        EntryKind::Link(target.path().unwrap_or_else(|| format!("{target:?}")))
                    }
                };
                found.push((key.name().to_owned(), kind));
            }
            true
        });
        for shard in self.objects.shards() {
            for object in shard.read().iter() {
                let (at, name) = object.name_key();
                if at == dir {
                    found.push((name.to_owned(), EntryKind::Object(type_name(object))));
                }
            }
        }
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        found
    }
}

/// Names longer than [`MAX_NAME_UNITS`] UTF-16 code units are invalid.
fn check_length(name: &str) -> Result<(), NameError> {
    // A UTF-8 string has at least as many bytes as UTF-16 units: short names need no count.
    if name.len() > MAX_NAME_UNITS && name.encode_utf16().count() > MAX_NAME_UNITS {
        return Err(NameError::InvalidName);
    }
    Ok(())
}

/// A non-empty path must not have an empty component: no leading or trailing `\`, no `\\`.
fn check_components(path: &str) -> Result<(), NameError> {
    // One pass over the bytes (a `\` is one byte in UTF-8 and never part of another
    // character): a substring search would set up a searcher on every open.
    let bytes = path.as_bytes();
    let empty = bytes.first() == Some(&b'\\')
        || bytes.last() == Some(&b'\\')
        || bytes.windows(2).any(|pair| pair == b"\\\\");
    if empty {
        return Err(NameError::InvalidName);
    }
    Ok(())
}

/// Whether `name` in `dir` is one of the fixed links of a session directory. Such a name
/// is never an object, even in a session directory not (yet) ensured.
pub(crate) fn is_reserved(dir: DirId, name: &str) -> bool {
    dir.is_session_objects() && matches!(name, GLOBAL_LINK | LOCAL_LINK | SESSION_LINK)
}
