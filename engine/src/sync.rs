//! The synchronisation facade.
//!
//! Every piece of concurrent code in the engine takes its atomics and cells from here,
//! never from `std` directly. A normal build re-exports `std`'s types; a `cfg(loom)` build
//! re-exports loom's, so the loom models in `loom-tests/` exercise the code that ships
//! rather than a copy of it.
//!
//! The engine needs no `UnsafeCell`: every shared word is an atomic.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::thread::{current as current_thread, park, Thread};
/// Blocking: a waiting thread parks until a signal unparks it (loom models these too).
#[cfg(not(loom))]
pub(crate) use std::thread::{current as current_thread, park, park_timeout, Thread};

/// Locks a mutex, treating poisoning as recoverable: the engine never leaves shared
/// state half-updated across a panic point, so the data behind a poisoned lock is whole.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Epoch-based reclamation for object blocks and table pages.
pub(crate) use crossbeam_epoch as epoch;

/// How many stripes a striped structure has: enough that the threads of a 2- to 4-core
/// host rarely share one.
pub(crate) const STRIPES: usize = 4;

/// This thread's stripe, fixed for the thread's life: threads take stripes round-robin
/// as they first ask. One thread always uses one stripe, so a single-threaded sequence
/// of calls behaves the same whichever stripe it got.
#[cfg(not(loom))]
#[inline]
pub(crate) fn stripe() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % STRIPES;
    }
    // During thread teardown the thread-local may be gone: any stripe is correct.
    STRIPE.try_with(|s| *s).unwrap_or(0)
}

/// Under loom every thread takes stripe 0, so the models see the contended case, unless
/// a model moves it to another stripe ([`accounting::set_stripe`]) for a cross-stripe race.
#[cfg(loom)]
pub(crate) fn stripe() -> usize {
    accounting::STRIPE.with(std::cell::Cell::get)
}

/// A counter that threads update on stripes of their own (no shared cache line between
/// two threads on different stripes) and that readers sum. A sum taken while others
/// update is some interleaving's value, not a snapshot; at rest it is exact.
pub(crate) struct StripedCounter([crossbeam_utils::CachePadded<AtomicIsize>; STRIPES]);

impl StripedCounter {
    pub(crate) fn new() -> Self {
        StripedCounter(std::array::from_fn(|_| crossbeam_utils::CachePadded::new(AtomicIsize::new(0))))
    }

    /// Adds one on this thread's stripe. Relaxed: a count orders nothing.
    #[inline]
    pub(crate) fn increment(&self) {
        self.0[stripe()].fetch_add(1, Ordering::Relaxed);
    }

    /// Subtracts one on this thread's stripe (a stripe may go negative; the sum does not).
    #[inline]
    pub(crate) fn decrement(&self) {
        self.0[stripe()].fetch_sub(1, Ordering::Relaxed);
    }

    /// The sum of the stripes.
    pub(crate) fn sum(&self) -> usize {
        let total: isize = self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        usize::try_from(total).unwrap_or(0)
    }
}

// Test hooks for the loom models: no-ops in a normal build (the calls compile away), the
// accounting of `accounting` below in a `cfg(loom)` build. Each call site is one line.

/// An object block was allocated at `block`.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn note_block_allocated(_block: usize) {}

/// The object block at `block` is about to be freed.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn note_block_freed(_block: usize) {}

/// The object at `block` lost its last handle.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn note_last_handle(_block: usize) {}

/// A lookup is about to hand out a reference to the object at `block`.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn check_block(_block: usize) {}

#[cfg(loom)]
pub(crate) use self::accounting::{check_block, note_block_allocated, note_block_freed, note_last_handle};

/// Per-execution accounting of object blocks for the loom models, and the stripe a model
/// thread works on.
///
/// loom runs every thread of a model as a coroutine on the test's own OS thread, one at a
/// time, switching only at loom operations. So plain `std` thread-local state, touched
/// only between loom operations, is per model run (tests of one binary run on different
/// OS threads) and adds no schedule points; a model resets it at the start of each
/// execution ([`begin`](accounting::begin)).
#[cfg(loom)]
pub(crate) mod accounting {
    use std::cell::{Cell, RefCell};
    use std::collections::{HashMap, HashSet};

    ::loom::thread_local! {
        /// This loom thread's stripe (0 unless a model says otherwise).
        pub(crate) static STRIPE: Cell<usize> = Cell::new(0);
    }

    #[derive(Default)]
    struct Blocks {
        /// Blocks allocated and not yet freed.
        live: HashSet<usize>,
        allocated: usize,
        freed: usize,
        /// How many times each block's last handle closed (by address; an address that
        /// is reused starts again at zero when it is allocated).
        last_handle: HashMap<usize, usize>,
        /// Blocks whose last handle closed more than once.
        resurrected: usize,
    }

    std::thread_local! {
        static BLOCKS: RefCell<Blocks> = RefCell::new(Blocks::default());
    }

    /// Puts the calling loom thread on stripe `stripe % STRIPES`.
    pub(crate) fn set_stripe(stripe: usize) {
        STRIPE.with(|s| s.set(stripe % super::STRIPES));
    }

    /// Forgets every block: the start of an execution.
    pub(crate) fn begin() {
        BLOCKS.with(|b| *b.borrow_mut() = Blocks::default());
    }

    pub(crate) fn note_block_allocated(block: usize) {
        BLOCKS.with(|b| {
            let mut b = b.borrow_mut();
            b.allocated += 1;
            assert!(b.live.insert(block), "object block {block:#x} allocated while live");
            b.last_handle.insert(block, 0);
        });
    }

    /// Panics on a double free, before the block is dropped a second time.
    pub(crate) fn note_block_freed(block: usize) {
        BLOCKS.with(|b| {
            let mut b = b.borrow_mut();
            assert!(b.live.remove(&block), "object block {block:#x} freed twice (or never allocated)");
            b.freed += 1;
        });
    }

    pub(crate) fn note_last_handle(block: usize) {
        BLOCKS.with(|b| {
            let mut b = b.borrow_mut();
            let n = b.last_handle.entry(block).or_insert(0);
            *n += 1;
            if *n > 1 {
                b.resurrected += 1;
            }
        });
    }

    /// Panics unless `block` is an allocated, not yet freed object block.
    pub(crate) fn check_block(block: usize) {
        BLOCKS.with(|b| {
            assert!(
                b.borrow().live.contains(&block),
                "a lookup produced {block:#x}, which is not a live object block (freed memory or a free-list link)"
            );
        });
    }

    /// (allocated, freed, live, objects whose last handle closed twice).
    pub(crate) fn counts() -> (usize, usize, usize, usize) {
        BLOCKS.with(|b| {
            let b = b.borrow();
            (b.allocated, b.freed, b.live.len(), b.resurrected)
        })
    }

    /// True if `block` is allocated and not yet freed.
    pub(crate) fn is_live(block: usize) -> bool {
        BLOCKS.with(|b| b.borrow().live.contains(&block))
    }
}
