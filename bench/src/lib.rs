//! Baselines that kobj is measured against, and the harness the benchmarks share.
//!
//! SPEC §4 asks that every performance figure be compared, in the same run, with three
//! other designs of a handle table. Each of them does exactly the work kobj's lookup
//! does: find the entry a handle names, check that the object is of the wanted type,
//! check that the handle holds the wanted access, and hand out the object.
//!
//! | baseline | what it stands for |
//! |---|---|
//! | [`LockedTable`] | the one-big-lock design: a `std::sync::RwLock<HashMap>` |
//! | [`SlabTable`] | a well-kept concurrent slab ([`sharded_slab::Slab`]) |
//! | [`VecTable`] | the floor: a plain `Vec` index with no synchronisation at all |
//!
//! The checks are the same in every baseline and in kobj, in the order SPEC §3 gives
//! (a dead handle and a handle to an object of another type are INVALID_HANDLE; missing
//! access is ACCESS_DENIED): see [`check`].
//!
//! [`spawn_and_measure`] runs one routine on N threads at once for criterion's
//! `iter_custom` and returns the wall time they took together.

use std::collections::HashMap;
use std::sync::{Arc, Barrier, RwLock};
use std::time::{Duration, Instant};

/// The object the baselines store: the same 8-byte payload kobj's benchmark type carries.
#[derive(Debug)]
pub struct Obj {
    /// The payload.
    pub payload: u64,
}

impl Obj {
    /// A new object behind an `Arc` (the baselines' reference count).
    #[must_use]
    pub fn new(payload: u64) -> Arc<Obj> {
        Arc::new(Obj { payload })
    }
}

/// One handle-table entry of a baseline: the object, its type and the access the handle
/// holds.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The object (one counted reference).
    pub object: Arc<Obj>,
    /// The object's type, as a small integer.
    pub type_id: u32,
    /// The access mask the handle holds.
    pub access: u32,
}

/// Why a baseline lookup failed; the same two outcomes kobj's lookup has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// The handle names no live entry, or an object of another type.
    InvalidHandle,
    /// The handle does not hold the wanted access.
    AccessDenied,
}

/// The type and access check every baseline does on a found entry, in kobj's order.
#[inline]
pub fn check(entry: &Entry, type_id: u32, access: u32) -> Result<&Obj, LookupError> {
    if entry.type_id != type_id {
        return Err(LookupError::InvalidHandle);
    }
    if entry.access & access != access {
        return Err(LookupError::AccessDenied);
    }
    Ok(&entry.object)
}

/// Handle values as Windows hands them out: non-zero multiples of 4.
fn handle_of(index: usize) -> u32 {
    ((index + 1) * 4) as u32
}

/// The one-big-lock design: a `RwLock<HashMap<handle, Entry>>`.
///
/// Lookups take the read lock (so they all write the lock word's cache line), inserts
/// and removes the write lock. Freed handle values are reused LIFO, as kobj does, so the
/// map does not grow under a create/close loop.
#[derive(Debug, Default)]
pub struct LockedTable {
    inner: RwLock<Locked>,
}

#[derive(Debug, Default)]
struct Locked {
    map: HashMap<u32, Entry>,
    free: Vec<u32>,
    next: usize,
}

impl LockedTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> LockedTable {
        LockedTable::default()
    }

    /// Inserts a handle to `object`; returns its value.
    pub fn insert(&self, object: Arc<Obj>, type_id: u32, access: u32) -> u32 {
        let mut t = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let handle = match t.free.pop() {
            Some(h) => h,
            None => {
                t.next += 1;
                handle_of(t.next - 1)
            }
        };
        t.map.insert(handle, Entry { object, type_id, access });
        handle
    }

    /// Closes a handle; returns its entry (dropped by the caller outside the lock).
    pub fn remove(&self, handle: u32) -> Option<Entry> {
        let mut t = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let entry = t.map.remove(&handle)?;
        t.free.push(handle);
        Some(entry)
    }

    /// Runs `f` on a handle's object under the read lock, after the type and access
    /// check (the shape of kobj's `Process::with_object`).
    #[inline]
    pub fn with<R>(
        &self,
        handle: u32,
        type_id: u32,
        access: u32,
        f: impl FnOnce(&Obj) -> R,
    ) -> Result<R, LookupError> {
        let t = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let entry = t.map.get(&handle).ok_or(LookupError::InvalidHandle)?;
        check(entry, type_id, access).map(f)
    }

    /// The number of live handles.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).map.len()
    }

    /// True if no handle is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A `sharded_slab::Slab<Entry>` table: the handle is the slab's key.
///
/// sharded-slab is lock-free for lookups, but a lookup's guard raises and lowers a
/// reference count in the slot (a shared write on the entry's cache line), and removal
/// of a slot that is being read is deferred to its last reader.
#[derive(Debug, Default)]
pub struct SlabTable {
    slab: sharded_slab::Slab<Entry>,
}

impl SlabTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> SlabTable {
        SlabTable::default()
    }

    /// Inserts a handle to `object`; `None` if the slab is full.
    pub fn insert(&self, object: Arc<Obj>, type_id: u32, access: u32) -> Option<usize> {
        self.slab.insert(Entry { object, type_id, access })
    }

    /// Closes a handle; false if it was not live.
    pub fn remove(&self, handle: usize) -> bool {
        self.slab.remove(handle)
    }

    /// Runs `f` on a handle's object while holding the slot's guard, after the type and
    /// access check.
    #[inline]
    pub fn with<R>(
        &self,
        handle: usize,
        type_id: u32,
        access: u32,
        f: impl FnOnce(&Obj) -> R,
    ) -> Result<R, LookupError> {
        let entry = self.slab.get(handle).ok_or(LookupError::InvalidHandle)?;
        check(&entry, type_id, access).map(f)
    }
}

/// The floor: a plain `Vec<Option<Entry>>` indexed by `handle / 4 - 1`, with no
/// synchronisation.
///
/// Insert and remove need `&mut self`, so it cannot be changed while shared. Lookups
/// need only `&self`: in the multi-threaded lookup benchmark every thread reads the same
/// `VecTable` through a shared reference while nobody changes it (safe Rust; the data is
/// read-only, so the threads share its cache lines without writing any). It is what a
/// lookup costs with nothing but the index and the checks.
#[derive(Debug, Default)]
pub struct VecTable {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
}

impl VecTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> VecTable {
        VecTable::default()
    }

    /// Inserts a handle to `object`; returns its value.
    pub fn insert(&mut self, object: Arc<Obj>, type_id: u32, access: u32) -> u32 {
        let entry = Some(Entry { object, type_id, access });
        let index = match self.free.pop() {
            Some(i) => {
                self.entries[i] = entry;
                i
            }
            None => {
                self.entries.push(entry);
                self.entries.len() - 1
            }
        };
        handle_of(index)
    }

    /// Closes a handle; returns its entry.
    pub fn remove(&mut self, handle: u32) -> Option<Entry> {
        let index = (handle as usize / 4).checked_sub(1)?;
        let entry = self.entries.get_mut(index)?.take()?;
        self.free.push(index);
        Some(entry)
    }

    /// A handle's object, after the type and access check.
    #[inline]
    pub fn get(&self, handle: u32, type_id: u32, access: u32) -> Result<&Obj, LookupError> {
        let index = (handle as usize / 4).checked_sub(1).ok_or(LookupError::InvalidHandle)?;
        let entry = self.entries.get(index).and_then(Option::as_ref).ok_or(LookupError::InvalidHandle)?;
        check(entry, type_id, access)
    }
}

/// Runs `routine` on `threads` threads at once and returns the wall time they took
/// together: the figure to hand back from criterion's `iter_custom`.
///
/// Each thread is spawned (scoped, so `routine` may borrow), waits on a [`Barrier`]
/// until all are ready, then runs `routine(thread, iters)`, in which it does `iters`
/// operations, noting the instants just before and just after. The result is the span
/// from the earliest start to the latest end, so thread start-up and the barrier are
/// outside it, and a thread that only got a core after another had finished (more
/// threads than cores) still counts the time it waited. With one thread it is simply
/// that thread's time.
///
/// Criterion's "time per iteration" therefore reads as *the wall time for one operation
/// while `threads` threads each do the same*: with perfect scaling it stays flat as
/// threads are added (up to the number of cores); aggregate throughput is `threads`
/// divided by it. With more threads than cores it grows at least in proportion.
///
/// `routine` should `black_box` what it computes. A first call on a fresh thread pays
/// any per-thread registration (crossbeam-epoch's thread record, sharded-slab's thread
/// id) once, amortised over `iters`.
pub fn spawn_and_measure<F>(threads: usize, iters: u64, routine: F) -> Duration
where
    F: Fn(usize, u64) + Sync,
{
    assert!(threads > 0, "spawn_and_measure needs at least one thread");
    let barrier = Barrier::new(threads);
    let routine = &routine;
    let barrier = &barrier;
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    routine(t, iters);
                    (start, Instant::now())
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    let first = spans.iter().map(|&(start, _)| start).min();
    let last = spans.iter().map(|&(_, end)| end).max();
    match (first, last) {
        (Some(first), Some(last)) => last.saturating_duration_since(first),
        _ => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_table_checks() {
        let t = LockedTable::new();
        let h = t.insert(Obj::new(7), 1, 0x3);
        assert_eq!(h, 4);
        assert_eq!(t.with(h, 1, 0x1, |o| o.payload), Ok(7));
        assert_eq!(t.with(h, 2, 0x1, |o| o.payload), Err(LookupError::InvalidHandle));
        assert_eq!(t.with(h, 1, 0x4, |o| o.payload), Err(LookupError::AccessDenied));
        assert!(t.remove(h).is_some());
        assert_eq!(t.with(h, 1, 0x1, |o| o.payload), Err(LookupError::InvalidHandle));
        assert_eq!(t.insert(Obj::new(8), 1, 0x3), h, "freed values are reused");
    }

    #[test]
    fn slab_table_checks() {
        let t = SlabTable::new();
        let h = t.insert(Obj::new(7), 1, 0x3).unwrap();
        assert_eq!(t.with(h, 1, 0x1, |o| o.payload), Ok(7));
        assert_eq!(t.with(h, 2, 0x1, |o| o.payload), Err(LookupError::InvalidHandle));
        assert_eq!(t.with(h, 1, 0x4, |o| o.payload), Err(LookupError::AccessDenied));
        assert!(t.remove(h));
        assert_eq!(t.with(h, 1, 0x1, |o| o.payload), Err(LookupError::InvalidHandle));
    }

    #[test]
    fn vec_table_checks() {
        let mut t = VecTable::new();
        let h = t.insert(Obj::new(7), 1, 0x3);
        assert_eq!(t.get(h, 1, 0x1).map(|o| o.payload), Ok(7));
        assert_eq!(t.get(h, 2, 0x1).err(), Some(LookupError::InvalidHandle));
        assert_eq!(t.get(h, 1, 0x4).err(), Some(LookupError::AccessDenied));
        assert_eq!(t.get(0, 1, 0x1).err(), Some(LookupError::InvalidHandle));
        assert!(t.remove(h).is_some());
        assert_eq!(t.get(h, 1, 0x1).err(), Some(LookupError::InvalidHandle));
    }

    #[test]
    fn spawn_and_measure_runs_every_thread() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let done = AtomicU64::new(0);
        let d = spawn_and_measure(3, 10, |_, iters| {
            done.fetch_add(iters, Ordering::Relaxed);
        });
        assert_eq!(done.load(Ordering::Relaxed), 30);
        assert!(d < Duration::from_secs(10));
    }
}
