//! The key and value of the directory table: the directories and links of the tree.
//!
//! The table is a `DashMap<Key, Node>`. A [`Key`] owns its name (a `Box<str>`: 16
//! bytes, no capacity field). Lookups must not allocate, so the table is also searchable
//! by a borrowed `(DirId, &str)`: both sides implement [`KeyView`],
//! `Key: Borrow<dyn KeyView>`, and the `Hash`/`Eq` of `Key` and of `dyn KeyView` are the
//! same function of the two parts. (Named objects are not in this table: see `table.rs`.)

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use crate::DirId;

/// The owned key of one entry: the directory it is in and its name there.
#[derive(Debug)]
pub(crate) struct Key {
    /// The directory holding the entry.
    dir: DirId,
    /// The entry's name inside `dir` (one component, counted: NULs included).
    name: Box<str>,
}

impl Key {
    /// The key of `name` in `dir`.
    pub(crate) fn new(dir: DirId, name: &str) -> Key {
        Key { dir, name: name.into() }
    }

    /// The directory holding the entry.
    pub(crate) fn dir(&self) -> DirId {
        self.dir
    }

    /// The entry's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// A key seen as its two parts, owned or borrowed.
pub(crate) trait KeyView {
    /// The directory and the name.
    fn parts(&self) -> (DirId, &str);
}

impl KeyView for Key {
    fn parts(&self) -> (DirId, &str) {
        (self.dir, &self.name)
    }
}

impl KeyView for (DirId, &str) {
    fn parts(&self) -> (DirId, &str) {
        (self.0, self.1)
    }
}

/// The one hash function of a key, shared by owned and borrowed keys.
fn hash_parts<H: Hasher>((dir, name): (DirId, &str), state: &mut H) {
    dir.hash(state);
    name.hash(state);
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_parts(self.parts(), state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Key {}

impl Hash for dyn KeyView + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_parts(self.parts(), state);
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyView + '_ {}

impl<'a> Borrow<dyn KeyView + 'a> for Key {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

/// What a directory-table entry stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    /// A sub-directory.
    Dir(DirId),
    /// A symbolic link to a directory. The target is stored resolved: every link of the
    /// layout points at a directory that exists as long as the link does.
    Link(DirId),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;

    #[test]
    fn owned_and_borrowed_keys_hash_and_compare_alike() {
        let state = RandomState::new();
        for (dir, name) in [(DirId::GLOBAL, "Test"), (DirId::session(3), ""), (DirId::ROOT, "a\0b")] {
            let owned = Key::new(dir, name);
            let view: &dyn KeyView = &(dir, name);
            assert_eq!(state.hash_one(&owned), state.hash_one(view));
            assert!(<Key as Borrow<dyn KeyView>>::borrow(&owned) == view);
        }
        let a: &dyn KeyView = &(DirId::GLOBAL, "x");
        let b: &dyn KeyView = &(DirId::session(1), "x");
        assert!(a != b);
    }
}
