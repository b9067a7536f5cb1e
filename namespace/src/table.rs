//! The named objects of every directory: one sharded set of the engine's references,
//! each found by the name it carries.
//!
//! An object's name is kept once, by the object ([`Named`]); the set holds only the
//! engine's pointer-sized reference `T`, so an entry costs its 8 bytes plus the hash
//! table's slack and control bytes (10 to 21 bytes a name, by how full the table is).
//! A lookup hashes the borrowed `(directory, name)` and compares it with the name each
//! candidate object reports, so finding a name reads the object it names, which the
//! caller's `acquire` reads next anyway.
//!
//! The set is `N` shards, each a `parking_lot::RwLock` around a `hashbrown::HashTable`
//! of `T`; a name's hash picks its shard. The operations in `objects.rs` take one shard's
//! lock and run the engine's closures under it, as the crate documentation describes.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::ops::Deref;
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
use parking_lot::RwLock;

use crate::DirId;

/// What the namespace needs from a named object: where it is named.
///
/// The engine's reference `T` dereferences to an object that implements this; the object
/// keeps the name it was created with, and the namespace keeps no copy.
pub trait Named {
    /// The directory and the final component this object was created under
    /// ([`Resolved::dir`](crate::Resolved::dir) and [`Resolved::name`](crate::Resolved::name)
    /// of the `create_or_open` that made it). It must not change while the namespace
    /// holds the object: the set finds the object by it.
    fn name_key(&self) -> (DirId, &str);
}

/// The sharded set of named objects.
pub(crate) struct ObjectTable<T> {
    shards: Box<[CachePadded<RwLock<HashTable<T>>>]>,
    /// The standard keyed hasher: untrusted processes choose the names.
    hasher: RandomState,
    /// `shards.len() - 1` (the shard count is a power of two).
    mask: usize,
}

/// One shard's table, locked.
pub(crate) type Shard<T> = HashTable<T>;

/// The number of shards: four per core, a power of two, as for the crate's other maps.
/// Computed once per host process (the core count is read from the OS, which is slow).
fn shard_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (cores * 4).next_power_of_two()
    })
}

impl<T> ObjectTable<T> {
    pub(crate) fn new() -> Self {
        let n = shard_count();
        ObjectTable {
            shards: (0..n).map(|_| CachePadded::new(RwLock::new(HashTable::new()))).collect(),
            hasher: RandomState::new(),
            mask: n - 1,
        }
    }

    /// The hash of a name.
    pub(crate) fn hash(&self, dir: DirId, name: &str) -> u64 {
        self.hasher.hash_one((dir, name))
    }

    /// The shard a hash belongs to. The table inside uses the hash's low bits for the
    /// bucket and its top seven for the control byte; the shard takes bits from the middle.
    pub(crate) fn shard(&self, hash: u64) -> &RwLock<Shard<T>> {
        &self.shards[(hash >> 32) as usize & self.mask]
    }

    /// Every shard, in turn (for listing and counting).
    pub(crate) fn shards(&self) -> impl Iterator<Item = &RwLock<Shard<T>>> {
        self.shards.iter().map(|shard| &**shard)
    }

    /// The number of named objects (one shard at a time: approximate under changes).
    pub(crate) fn len(&self) -> usize {
        self.shards().map(|shard| shard.read().len()).sum()
    }
}

impl<T: Deref> ObjectTable<T>
where
    T::Target: Named,
{
    /// The hash of a stored object, by the name it carries (for the table's resizes).
    pub(crate) fn rehash(&self, object: &T) -> u64 {
        let (dir, name) = object.name_key();
        self.hash(dir, name)
    }
}

/// Whether `object` is the one named `name` in `dir`.
pub(crate) fn is_named<T: Deref>(object: &T, dir: DirId, name: &str) -> bool
where
    T::Target: Named,
{
    object.name_key() == (dir, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Obj(DirId, String);

    impl Named for Obj {
        fn name_key(&self) -> (DirId, &str) {
            (self.0, &self.1)
        }
    }

    #[test]
    fn a_stored_object_rehashes_to_its_lookup_hash() {
        let table: ObjectTable<Box<Obj>> = ObjectTable::new();
        let object = Box::new(Obj(DirId::session(2), "a\0b".to_owned()));
        assert_eq!(table.rehash(&object), table.hash(DirId::session(2), "a\0b"));
        assert_ne!(table.hash(DirId::GLOBAL, "x"), table.hash(DirId::session(1), "x"));
        assert!(is_named(&object, DirId::session(2), "a\0b"));
        assert!(!is_named(&object, DirId::session(2), "a"));
        assert!(table.shard_count_is_a_power_of_two());
    }

    impl<T> ObjectTable<T> {
        fn shard_count_is_a_power_of_two(&self) -> bool {
            self.shards.len().is_power_of_two() && self.mask == self.shards.len() - 1
        }
    }
}
