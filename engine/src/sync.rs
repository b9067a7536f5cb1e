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
    fence, AtomicBool, AtomicI32, AtomicIsize, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicIsize, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

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

/// Under loom every thread shares stripe 0, so the models see the contended case.
#[cfg(loom)]
pub(crate) fn stripe() -> usize {
    0
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
