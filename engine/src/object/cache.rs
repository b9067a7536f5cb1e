//! Per-thread reuse of object blocks once the epoch allows.
//!
//! A destroyed block may still be read by a pinned reader, so it cannot be freed or
//! reused at once. Handing each block to crossbeam-epoch (`defer` a free) works, but the
//! free then runs on whichever thread collects the garbage, in bursts of a whole bag,
//! into an allocator cache that is not the allocating thread's: with two threads creating
//! and closing, the blocks ping-pong between threads and the allocator's shared arena.
//!
//! Instead each thread keeps its destroyed blocks itself:
//!
//! 1. **Limbo.** `retire` appends a destroyed block to this thread's limbo list.
//! 2. **Seal.** When the limbo holds [`BATCH`] blocks it becomes a sealed batch with a
//!    `ready` flag, and one deferred function that sets the flag is handed to the epoch
//!    (then the thread's bag is flushed so the epoch sees it soon). Every block of the
//!    batch was destroyed — unreachable to new readers — before the seal, so a reader
//!    that may still see one was pinned at the seal; the epoch runs the deferred function
//!    only once every such reader has unpinned.
//! 3. **Harvest.** After each seal, every ready batch's blocks are dropped in place
//!    (header and payload) on this thread, and their memory goes on this thread's free
//!    list for its layout (up to a bound; the rest goes back to the allocator).
//! 4. **Reuse.** `take` hands out a free block of the layout asked for, if there is one;
//!    the allocator is asked only when there is not.
//!
//! So in a steady create/close loop a thread reuses its own blocks and the allocator is
//! not called at all; the epoch sees one deferred function per [`BATCH`] objects.
//!
//! Dropping a block's payload may destroy other objects (a process's table releases its
//! entries), which re-enters `retire` on this thread: the cache is never borrowed while a
//! payload is dropped. When the thread-local is unavailable (thread exit, or re-entry
//! while borrowed), a block takes the plain path: one deferred drop-and-free.
//!
//! Under loom every block takes the plain path (loom models the epoch, not this cache).

use std::alloc::{self, Layout};
use std::ptr::NonNull;

use super::ObjectHeader;
use crate::sync::epoch;

/// Drops a block's contents in place and returns its layout (`ObjectHeader::drop_block`).
pub(crate) type DropBlock = unsafe fn(NonNull<ObjectHeader>) -> Layout;

/// A destroyed block, not yet dropped.
struct Retired {
    block: NonNull<ObjectHeader>,
    drop_block: DropBlock,
}

/// Drops a destroyed block and frees its memory.
///
/// # Safety
/// No thread may read the block any more (the epoch has allowed it), and it must come
/// from `super::allocate` with `drop_block` its own.
unsafe fn drop_and_free(r: Retired) {
    // SAFETY: per the contract, the block is ours alone and `drop_block` matches it.
    let layout = unsafe { (r.drop_block)(r.block) };
    // SAFETY: `allocate` allocated the block with this layout (from `take` or the global
    // allocator, which `take`'s blocks also came from).
    unsafe { alloc::dealloc(r.block.as_ptr().cast(), layout) };
}

/// The plain path: one deferred drop-and-free, run once every current pin is over.
fn defer_free(r: Retired) {
    let raw = r.block.as_ptr() as usize;
    let drop_block = r.drop_block;
    let guard = epoch::pin();
    // SAFETY: the block is destroyed (no new reference can be taken) and came from
    // `allocate`; readers that saw it were pinned before this point, and the epoch runs
    // the closure only after every such pin is over.
    unsafe {
        guard.defer_unchecked(move || {
            drop_and_free(Retired { block: NonNull::new_unchecked(raw as *mut ObjectHeader), drop_block })
        });
    }
}

#[cfg(not(loom))]
pub(crate) use threaded::{retire, take};

#[cfg(loom)]
pub(crate) fn retire(block: NonNull<ObjectHeader>, drop_block: DropBlock) {
    defer_free(Retired { block, drop_block });
}

#[cfg(loom)]
pub(crate) fn take(_layout: Layout) -> Option<NonNull<u8>> {
    None
}

#[cfg(not(loom))]
mod threaded {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Blocks per sealed batch: one deferred function and one flush per this many.
    const BATCH: usize = 64;
    /// Free blocks kept per layout; beyond it, harvested blocks go back to the allocator.
    const KEEP: usize = 1024;
    /// Layouts a thread keeps free lists for; blocks of others go back to the allocator.
    const CLASSES: usize = 8;

    struct Batch {
        /// Set by the epoch once no reader can see any block of the batch. Release (in
        /// the deferred function) pairs with the Acquire load in `harvest`.
        ready: Arc<AtomicBool>,
        blocks: Vec<Retired>,
    }

    struct Cache {
        /// A harvest is running on this thread (payload drops re-enter `retire` and
        /// `seal`; the outer harvest's loop takes their ready batches, so no recursion).
        harvesting: bool,
        limbo: Vec<Retired>,
        sealed: VecDeque<Batch>,
        free: Vec<(Layout, Vec<NonNull<u8>>)>,
    }

    thread_local! {
        // Initialised in place (`const`): every access is the thread-local's address, no
        // first-use check.
        static CACHE: RefCell<Cache> = const {
            RefCell::new(Cache { harvesting: false, limbo: Vec::new(), sealed: VecDeque::new(), free: Vec::new() })
        };
    }

    /// A destroyed block: into this thread's limbo (or the plain path).
    pub(crate) fn retire(block: NonNull<ObjectHeader>, drop_block: DropBlock) {
        let mut r = Some(Retired { block, drop_block });
        // The closure takes `r` only once it holds the borrow; whatever it did not take
        // (thread-local gone, or re-entered while borrowed) takes the plain path.
        let full = CACHE.try_with(|c| {
            let mut c = c.try_borrow_mut().ok()?;
            c.limbo.extend(r.take());
            (c.limbo.len() >= BATCH).then(|| std::mem::replace(&mut c.limbo, Vec::with_capacity(BATCH)))
        });
        if let Some(r) = r {
            defer_free(r);
        }
        if let Ok(Some(blocks)) = full {
            seal(blocks);
        }
    }

    /// Seals a full limbo: one deferred flag for the whole batch.
    fn seal(blocks: Vec<Retired>) {
        let ready = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ready);
        let guard = epoch::pin();
        // Release pairs with `harvest`'s Acquire: the epoch's "no reader remains" is
        // established before the flag, and the harvester sees it after.
        guard.defer(move || flag.store(true, Ordering::Release));
        // Hand the bag to the global queue now, so the epoch can run it after two
        // advances instead of after the bag fills with 64 seals.
        guard.flush();
        drop(guard);
        let mut batch = Some(Batch { ready, blocks });
        let _ = CACHE.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                c.sealed.extend(batch.take());
            }
        });
        if let Some(batch) = batch {
            batch.blocks.into_iter().for_each(defer_free);
        }
        harvest();
    }

    /// Drops every ready batch's blocks (outside the borrow) and keeps their memory.
    fn harvest() {
        let entered = CACHE.try_with(|c| {
            let mut c = c.try_borrow_mut().ok()?;
            (!std::mem::replace(&mut c.harvesting, true)).then_some(())
        });
        if !matches!(entered, Ok(Some(()))) {
            return;
        }
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                let _ = CACHE.try_with(|c| {
                    if let Ok(mut c) = c.try_borrow_mut() {
                        c.harvesting = false;
                    }
                });
            }
        }
        let _leave = Leave;
        loop {
            let batch = CACHE.try_with(|c| {
                let mut c = c.try_borrow_mut().ok()?;
                // Acquire pairs with the deferred function's Release store.
                if c.sealed.front()?.ready.load(Ordering::Acquire) {
                    c.sealed.pop_front()
                } else {
                    None
                }
            });
            let Ok(Some(batch)) = batch else { return };
            let mut memory = Vec::with_capacity(batch.blocks.len());
            for r in batch.blocks {
                // SAFETY: the batch is ready: no reader can see its blocks, and each came
                // from `allocate` with its own `drop_block`.
                let layout = unsafe { (r.drop_block)(r.block) };
                memory.push((layout, r.block.cast::<u8>()));
            }
            let spare = CACHE.try_with(|c| match c.try_borrow_mut() {
                Ok(mut c) => {
                    let mut spare = Vec::new();
                    for (layout, block) in memory {
                        if !c.keep(layout, block) {
                            spare.push((layout, block));
                        }
                    }
                    spare
                }
                Err(_) => memory,
            });
            for (layout, block) in spare.unwrap_or_default() {
                // SAFETY: dropped above, ours alone, allocated with this layout.
                unsafe { alloc::dealloc(block.as_ptr(), layout) };
            }
        }
    }

    /// Memory for a block of `layout` from this thread's free list, if it has one.
    ///
    /// It never harvests: harvesting drops payloads, which may run any object's
    /// last-handle work, and `allocate` runs where that must not happen (under a name's
    /// shard lock). Harvests happen on the destroy path, where payload drops already
    /// could.
    pub(crate) fn take(layout: Layout) -> Option<NonNull<u8>> {
        CACHE
            .try_with(|c| {
                let mut c = c.try_borrow_mut().ok()?;
                c.free.iter_mut().find(|(l, _)| *l == layout)?.1.pop()
            })
            .ok()
            .flatten()
    }

    impl Cache {
        /// Keeps `block` on the free list for `layout`; false if the list is full or
        /// there is no room for another layout.
        fn keep(&mut self, layout: Layout, block: NonNull<u8>) -> bool {
            if let Some((_, list)) = self.free.iter_mut().find(|(l, _)| *l == layout) {
                if list.len() < KEEP {
                    list.push(block);
                    return true;
                }
                return false;
            }
            if self.free.len() < CLASSES {
                self.free.push((layout, vec![block]));
                return true;
            }
            false
        }
    }

    impl Drop for Cache {
        fn drop(&mut self) {
            // Thread exit. Blocks not yet ready take the plain path (their drops may
            // re-enter `retire`, which then finds the thread-local gone and defers);
            // ready ones are dropped and freed now; free memory goes back.
            for batch in std::mem::take(&mut self.sealed) {
                if batch.ready.load(Ordering::Acquire) {
                    // SAFETY: ready: no reader can see these blocks.
                    batch.blocks.into_iter().for_each(|r| unsafe { drop_and_free(r) });
                } else {
                    batch.blocks.into_iter().for_each(defer_free);
                }
            }
            std::mem::take(&mut self.limbo).into_iter().for_each(defer_free);
            for (layout, list) in std::mem::take(&mut self.free) {
                for block in list {
                    // SAFETY: free memory of this layout, dropped when it was harvested.
                    unsafe { alloc::dealloc(block.as_ptr(), layout) };
                }
            }
        }
    }
}
