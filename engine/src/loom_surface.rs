//! The loom models' window into the engine (`cfg(loom)` only, hidden from the docs).
//!
//! The models in `loom-tests/` drive the engine through its public API; what they cannot
//! see from there — which live period of a slot a lookup read, the free lists' shape, the
//! object blocks allocated and freed in this execution — they read here. Nothing here
//! changes what the engine does.

use std::any::Any;

use crate::handle::Handle;
use crate::kernel::Kernel;
use crate::process::Process;
use crate::sync::{accounting, epoch};

/// Starts an execution: forgets the previous one's blocks. Call first in a model.
pub fn begin() {
    accounting::begin();
}

/// Puts the calling (loom) thread on stripe `stripe` (modulo the stripe count); threads
/// start on stripe 0.
pub fn set_stripe(stripe: usize) {
    accounting::set_stripe(stripe);
}

/// Object blocks of this execution: allocated, freed, still allocated, and the number of
/// objects whose last-handle work ran more than once (a resurrected handle count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocks {
    /// Blocks allocated.
    pub allocated: usize,
    /// Blocks freed (each at most once: a second free panics).
    pub freed: usize,
    /// Blocks allocated and not yet freed.
    pub live: usize,
    /// Objects whose last handle closed twice.
    pub resurrected: usize,
}

/// The block accounting so far.
#[must_use]
pub fn blocks() -> Blocks {
    let (allocated, freed, live, resurrected) = accounting::counts();
    Blocks { allocated, freed, live, resurrected }
}

/// Hands this thread's epoch garbage (its deferred frees) to the global queue. A model
/// thread calls it when its work is done, before the main thread flushes.
pub fn push_local_garbage() {
    epoch::pin().flush();
}

/// Runs the epoch's deferred functions: pins and flushes until the global epoch has
/// moved past every bag. Call with no other thread pinned, every other thread's garbage
/// pushed ([`push_local_garbage`]) and those threads still alive: a loom thread that has
/// exited leaves its epoch participant in a state the collector's Relaxed reads may see
/// stale in loom's memory model, and then the epoch never advances.
pub fn flush_epoch() {
    for _ in 0..8 {
        let guard = epoch::pin();
        guard.flush();
    }
}

/// The end of a model, after every thread has joined and every `Process` is dropped:
/// flushes the epoch and checks that every object block was freed exactly once (a
/// double free has already panicked), no object's last-handle work ran twice, and the
/// kernel counts no live object.
pub fn finish(kernel: Kernel) {
    flush_epoch();
    assert_eq!(kernel.object_count(), 0, "objects leaked (kernel.object_count)");
    drop(kernel);
    flush_epoch();
    let b = blocks();
    assert_eq!(b.resurrected, 0, "an object's last handle closed twice (a handle count resurrected): {b:?}");
    assert_eq!(b.live, 0, "object blocks leaked: {b:?}");
    assert_eq!(b.allocated, b.freed, "object blocks leaked: {b:?}");
}

/// True if the object block at `addr` is allocated and not yet freed.
#[must_use]
pub fn is_live_block(addr: usize) -> bool {
    accounting::is_live(addr)
}

/// Looks `h` up in `process`'s table (the real seqlock read, under a pin) and runs `f` on
/// the payload (if it is a `P`), the entry's generation and the object block's address.
/// `None`: not a live handle (or not a `P`).
pub fn lookup<P: Any, R>(process: &Process, h: Handle, f: impl FnOnce(&P, u32, usize) -> R) -> Option<R> {
    let guard = epoch::pin();
    let s = process.inner().table.get(h, &guard)?;
    let addr = s.object as *const _ as usize;
    Some(f(s.object.body::<P>()?, s.generation, addr))
}

/// Checks `process`'s table at rest (no operation in flight): every slot below the
/// high-water mark live or on exactly one free list, the live count right. Returns the
/// number of live handles.
pub fn check_table(process: &Process) -> usize {
    process.inner().table.check_at_rest()
}
