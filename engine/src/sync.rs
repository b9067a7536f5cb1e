//! The synchronisation facade.
//!
//! Every piece of concurrent code in the engine takes its atomics and cells from here,
//! never from `std` directly. A normal build re-exports `std`'s types; a `cfg(loom)` build
//! re-exports loom's, so the loom models in `loom-tests/` exercise the code that ships
//! rather than a copy of it.
//!
//! `UnsafeCell` follows loom's closure API (`with`, `with_mut`) in both builds, so a
//! raw access is visible to loom's race detector.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering,
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
