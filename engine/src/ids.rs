//! Client ids: process ids (and, with threads, thread ids) from one id space, as NT's
//! client-id table.
//!
//! An id is a non-zero multiple of 4, unique among the objects that hold one: it is
//! *reserved* from the moment a process is made until its object's block is freed, and
//! *live* (found by `open_process`) from its publication until the process is
//! terminated. Ids come from a counter that wraps; a wrapped counter skips every id
//! still reserved, so a live entry is never replaced and a terminated process whose
//! object is still referenced keeps its id (as Windows keeps a pid while a handle to the
//! process is open).

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use crate::error::{Error, Result};
use crate::object::{ObjRef, ObjectHeader};
use crate::sync::{AtomicU32, Ordering};

/// What an id names.
enum Slot {
    /// Taken, but nothing to open: a process being made, or terminated while its object
    /// lives on.
    Reserved,
    /// A live process (a pointer reference, so `open_process` can take a handle).
    Process(ObjRef),
    /// A thread object, uncounted: the slot goes when the object's block is freed
    /// (`ThreadObject`'s `Drop`), and `open_thread` takes a reference only if the object
    /// is not yet destroyed.
    Thread(ThreadPtr),
}

/// An uncounted pointer to a thread object's header.
struct ThreadPtr(*const ObjectHeader);

// SAFETY: a header is Send + Sync; the pointer is only dereferenced under the map's shard
// lock, while the slot exists (see `ClientIds::thread`).
unsafe impl Send for ThreadPtr {}
// SAFETY: as for Send.
unsafe impl Sync for ThreadPtr {}

/// The id space of one kernel.
pub(crate) struct ClientIds {
    next: AtomicU32,
    slots: DashMap<u32, Slot>,
}

/// How many candidates `reserve` tries before it gives up: every id of the space.
const SPACE: u32 = 1 << 30;

impl ClientIds {
    pub(crate) fn new(first: u32) -> ClientIds {
        ClientIds { next: AtomicU32::new(first & !3), slots: DashMap::new() }
    }

    /// Reserves a fresh id. NO_SYSTEM_RESOURCES only if all 2^30 ids are taken.
    pub(crate) fn reserve(&self) -> Result<u32> {
        for _ in 0..SPACE {
            // Relaxed: ids need only be unique (the map's shard lock decides that), and
            // one thread's sequence is deterministic.
            let id = self.next.fetch_add(4, Ordering::Relaxed);
            if id == 0 {
                continue;
            }
            if let Entry::Vacant(v) = self.slots.entry(id) {
                v.insert(Slot::Reserved);
                return Ok(id);
            }
        }
        Err(Error::NoSystemResources)
    }

    /// Makes a reserved id open `process`.
    pub(crate) fn publish(&self, id: u32, process: ObjRef) {
        let old = self.slots.insert(id, Slot::Process(process));
        debug_assert!(matches!(old, Some(Slot::Reserved)), "publishing an id not reserved");
        // Dropped outside the shard lock (a Reserved slot owns nothing anyway).
        drop(old);
    }

    /// The process `id` names, if it is live.
    pub(crate) fn process(&self, id: u32) -> Option<ObjRef> {
        match self.slots.get(&id).as_deref() {
            Some(Slot::Process(p)) => Some(p.clone()),
            _ => None,
        }
    }

    /// Makes a reserved id open the thread `thread` (without counting a reference).
    pub(crate) fn publish_thread(&self, id: u32, thread: &ObjRef) {
        let old = self.slots.insert(id, Slot::Thread(ThreadPtr(thread.as_ptr())));
        debug_assert!(matches!(old, Some(Slot::Reserved)), "publishing an id not reserved");
    }

    /// A reference to the thread `id` names, unless its object is destroyed.
    pub(crate) fn thread(&self, id: u32) -> Option<ObjRef> {
        match self.slots.get(&id).as_deref() {
            // SAFETY: the slot is removed by the thread payload's `Drop`, which runs
            // before the block's memory is freed or reused, and needs this shard's write
            // lock, which our read guard holds off: the header is allocated while we
            // read it. `try_ref` refuses an object already destroyed.
            Some(Slot::Thread(p)) => unsafe { &*p.0 }.try_ref(),
            _ => None,
        }
    }

    /// The process behind `id` is terminated: `open_process` no longer finds it, but the
    /// id stays reserved until `release`.
    pub(crate) fn retire(&self, id: u32) {
        let old = self.slots.get_mut(&id).map(|mut slot| std::mem::replace(&mut *slot, Slot::Reserved));
        // The reference is released after the shard lock (it may be the last one).
        drop(old);
    }

    /// The object that held `id` is gone: the id may be handed out again.
    pub(crate) fn release(&self, id: u32) {
        let old = self.slots.remove(&id);
        drop(old);
    }

    /// Live processes (for `Debug`).
    pub(crate) fn live_processes(&self) -> usize {
        self.slots.iter().filter(|s| matches!(s.value(), Slot::Process(_))).count()
    }

    /// Sets the counter: a test-only hook to reach the wrap without 2^30 creations.
    pub(crate) fn set_next(&self, id: u32) {
        self.next.store(id & !3, Ordering::Relaxed);
    }
}
