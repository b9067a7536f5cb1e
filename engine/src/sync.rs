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
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

/// Blocking: a waiting thread parks until a signal unparks it. (Under loom the wait
/// engine blocks on a condition variable instead; see `wait::WaitBlock`.)
#[cfg(not(loom))]
pub(crate) use std::thread::{park, park_timeout};

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
/// update is some interleaving's value, not a snapshot; at rest it is exact. The loom
/// stand-in for [`LocalCounter`].
#[cfg(loom)]
pub(crate) struct StripedCounter([crossbeam_utils::CachePadded<AtomicIsize>; STRIPES]);

#[cfg(loom)]
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

/// A counter each thread updates without a locked instruction: a thread's first update
/// gives it a slot of its own (registered with the counter), which only that thread
/// writes — a plain load and store — and `sum` adds the slots up. When a thread exits,
/// its slots' values move into the counter's `retired` total. Exact whenever no update
/// is in flight, as a striped counter; cheaper per update (no `lock` prefix, no shared
/// line), at the price of a thread-local lookup and one registration per thread and
/// counter.
///
/// Under loom it is a [`StripedCounter`] (loom models atomics, not thread-local
/// destructors).
#[cfg(not(loom))]
pub(crate) struct LocalCounter(Arc<local::Registry>);

#[cfg(loom)]
pub(crate) struct LocalCounter(StripedCounter);

#[cfg(loom)]
impl LocalCounter {
    pub(crate) fn new() -> Self {
        LocalCounter(StripedCounter::new())
    }
    pub(crate) fn increment(&self) {
        self.0.increment();
    }
    pub(crate) fn decrement(&self) {
        self.0.decrement();
    }
    pub(crate) fn sum(&self) -> usize {
        self.0.sum()
    }
}

#[cfg(not(loom))]
impl LocalCounter {
    pub(crate) fn new() -> Self {
        LocalCounter(Arc::new(local::Registry::new()))
    }

    /// Adds one on this thread's slot.
    #[inline]
    pub(crate) fn increment(&self) {
        local::add(&self.0, 1);
    }

    /// Subtracts one on this thread's slot (a slot may go negative; the sum does not).
    #[inline]
    pub(crate) fn decrement(&self) {
        local::add(&self.0, -1);
    }

    /// The retired total plus every live slot.
    pub(crate) fn sum(&self) -> usize {
        let slots = lock(&self.0.slots);
        let live: isize = slots.iter().map(|s| s.load(Ordering::Relaxed)).sum();
        let total = self.0.retired.load(Ordering::Relaxed) + live;
        usize::try_from(total).unwrap_or(0)
    }
}

#[cfg(not(loom))]
mod local {
    use std::cell::{Cell, RefCell};
    use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, Weak};

    use crossbeam_utils::CachePadded;

    use super::lock;

    /// One thread's slot: written by that thread only, read by `sum`.
    pub(super) type Slot = Arc<CachePadded<AtomicIsize>>;

    pub(crate) struct Registry {
        /// Which set of a thread's cache (`LAST`) the counter goes in: counters made one
        /// after another (a kernel's, then its processes' tables) get different sets.
        set: usize,
        /// The slots of the threads that have updated the counter and not yet exited.
        pub(super) slots: Mutex<Vec<Slot>>,
        /// What exited threads' slots held.
        pub(super) retired: AtomicIsize,
    }

    impl Registry {
        pub(super) fn new() -> Registry {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            Registry {
                set: NEXT.fetch_add(1, Ordering::Relaxed) % SETS,
                slots: Mutex::default(),
                retired: AtomicIsize::new(0),
            }
        }
    }

    /// This thread's slots, one per counter it has updated. The `Weak` keeps the
    /// registry's allocation (so its address, the lookup key, is never another
    /// registry's) but not the counter.
    #[derive(Default)]
    struct Mine(Vec<(Weak<Registry>, Slot)>);

    impl Drop for Mine {
        fn drop(&mut self) {
            // The slots are going: the fast path must not find one (a later update on
            // this thread, from another thread-local's destructor, takes the slow path,
            // finds `MINE` gone and adds to the shared total).
            forget_last();
            // The thread is exiting: its slots' values go to their counters' totals, and
            // the slots leave the registries (under each registry's lock, so a `sum`
            // counts each value once).
            for (registry, slot) in self.0.drain(..) {
                let Some(registry) = registry.upgrade() else { continue };
                let mut slots = lock(&registry.slots);
                registry.retired.fetch_add(slot.load(Ordering::Relaxed), Ordering::Relaxed);
                slots.retain(|s| !Arc::ptr_eq(s, &slot));
            }
        }
    }

    thread_local! {
        static MINE: RefCell<Mine> = const { RefCell::new(Mine(Vec::new())) };
        /// Registries this thread updated recently, with its slots there: the fast
        /// path, one or two compares instead of a search of `MINE`. A small
        /// set-associative cache: [`SETS`] sets of two entries (`2 * set` and the one
        /// after it), the newest of a set first. While an entry is not null, `MINE`
        /// holds that registry's `Weak` (so no other registry has its address) and that
        /// slot's `Arc` (so the pointer is valid); whatever removes an entry from `MINE`
        /// clears them all first (`forget_last`).
        static LAST: [Cell<(*const Registry, *const AtomicIsize)>; 2 * SETS] =
            const { [const { Cell::new((std::ptr::null(), std::ptr::null())) }; 2 * SETS] };
    }

    /// Sets of the fast path's cache. An insert updates two counters (the kernel's
    /// objects and the table's entries), made at different times and so in different
    /// sets (or, if they share one, in its two entries); a thread may work in a few
    /// processes.
    const SETS: usize = 4;

    fn forget_last() {
        let _ = LAST.try_with(|ways| ways.iter().for_each(|w| w.set((std::ptr::null(), std::ptr::null()))));
    }

    /// Adds `delta` to this thread's slot of `registry`, registering one on first use.
    #[inline]
    pub(super) fn add(registry: &Arc<Registry>, delta: isize) {
        let key = Arc::as_ptr(registry);
        let at = 2 * registry.set;
        let hit = LAST.try_with(|cache| {
            let (first, second) = (cache[at].get(), cache[at + 1].get());
            if std::ptr::eq(first.0, key) {
                Some(first.1)
            } else if std::ptr::eq(second.0, key) {
                Some(second.1)
            } else {
                None
            }
        });
        let slot = match hit {
            Ok(Some(slot)) => slot,
            _ => match register(registry, key, at) {
                Some(slot) => slot,
                None => {
                    // This thread's slots are being torn down (or borrowed): the shared
                    // total.
                    registry.retired.fetch_add(delta, Ordering::Relaxed);
                    return;
                }
            },
        };
        // SAFETY: `LAST` names `registry` (its address is no other registry's while
        // `MINE` holds its `Weak`), and `slot` is this thread's slot there, kept alive
        // by `MINE` (see `LAST`); `register` returns such a slot and puts it in `LAST`.
        let slot = unsafe { &*slot };
        // Only this thread writes its slot: a load and a store, no locked RMW.
        // Relaxed: a count orders nothing; `sum` reads it Relaxed.
        slot.store(slot.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
    }

    /// [`add`] when `registry` (at `key`, in the set at `at`) is not one this thread
    /// updated recently: finds or makes this thread's slot there and puts it first in its
    /// set of `LAST`. `None` while the thread's slots are unavailable.
    #[cold]
    fn register(registry: &Arc<Registry>, key: *const Registry, at: usize) -> Option<*const AtomicIsize> {
        let slot = MINE.try_with(|mine| {
            let Ok(mut mine) = mine.try_borrow_mut() else { return None };
            let slot = match mine.0.iter().find(|(r, _)| std::ptr::eq(r.as_ptr(), key)) {
                Some((_, slot)) => slot,
                None => {
                    // Registries of dropped counters go first (their `Weak`s alone are left).
                    forget_last();
                    mine.0.retain(|(r, _)| r.strong_count() > 0);
                    let slot: Slot = Arc::default();
                    lock(&registry.slots).push(Arc::clone(&slot));
                    mine.0.push((Arc::downgrade(registry), slot));
                    &mine.0[mine.0.len() - 1].1
                }
            };
            let slot: *const AtomicIsize = &***slot;
            Some(slot)
        });
        let slot = slot.ok().flatten()?;
        // The newest first in its set; the older of the two drops out.
        LAST.try_with(|cache| {
            cache[at + 1].set(cache[at].get());
            cache[at].set((key, slot));
        })
        .ok()?;
        Some(slot)
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

/// The object at `block` (a thread: no name, no last-handle hook) gained a handle after
/// its last one had closed, legitimately.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn note_handle_reopened(_block: usize) {}

/// A lookup is about to hand out a reference to the object at `block`.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn check_block(_block: usize) {}

#[cfg(loom)]
pub(crate) use self::accounting::{
    check_block, note_block_allocated, note_block_freed, note_handle_reopened, note_last_handle,
};

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

    /// A thread's handle count rose from zero (allowed for it): its next last close is
    /// not a second one.
    pub(crate) fn note_handle_reopened(block: usize) {
        BLOCKS.with(|b| {
            if let Some(n) = b.borrow_mut().last_handle.get_mut(&block) {
                *n = n.saturating_sub(1);
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::LocalCounter;

    /// Updates from many threads, some of them exited (their slots folded into the
    /// total), sum exactly; so do updates on a thread that touches two counters.
    #[test]
    fn a_local_counter_sums_every_thread_including_exited_ones() {
        let a = std::sync::Arc::new(LocalCounter::new());
        let b = LocalCounter::new();
        std::thread::scope(|s| {
            for t in 0..8 {
                let a = &a;
                s.spawn(move || {
                    for _ in 0..1000 + t {
                        a.increment();
                    }
                    for _ in 0..t {
                        a.decrement();
                    }
                });
            }
        });
        assert_eq!(a.sum(), 8 * 1000, "every exited thread's updates kept");
        for _ in 0..5 {
            a.increment();
            b.increment();
        }
        b.decrement();
        assert_eq!((a.sum(), b.sum()), (8005, 4));
        // Decremented on another thread than the increments: the slots go negative, the
        // sum does not.
        std::thread::scope(|s| {
            s.spawn(|| (0..8005).for_each(|_| a.decrement()));
        });
        assert_eq!(a.sum(), 0);
    }

    /// The thread's cache of recent counters never sends an update to a dropped
    /// counter's slot: counters made and dropped in turn (the allocator hands their
    /// addresses out again) each count from zero, and more counters than the cache has
    /// ways, updated in turn, each keep their own count.
    #[test]
    fn a_local_counter_at_a_dropped_counters_address_starts_from_zero() {
        for round in 0..200 {
            let c = LocalCounter::new();
            for _ in 0..round % 7 {
                c.increment();
            }
            assert_eq!(c.sum(), round % 7, "round {round}");
        }
        let many: Vec<LocalCounter> = (0..20).map(|_| LocalCounter::new()).collect();
        for step in 0..1000 {
            many[step * 7 % many.len()].increment();
        }
        assert!(many.iter().all(|c| c.sum() == 50), "every counter counted its own updates");
    }
}
