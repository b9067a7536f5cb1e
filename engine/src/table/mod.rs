//! The per-process handle table: lock-free lookup, insert and close.
//!
//! # Layout
//!
//! A radix of fixed pages that gains levels as it grows, as NT's `ex/handle.c`: leaf
//! pages of 16-byte [`Entry`]s, mid pages of leaf pointers, and a top page of mid
//! pointers sized for the handle limit. The root is one word, a page pointer tagged with
//! the level count: a small table is a single 4 KiB leaf; growing past it publishes a
//! new root page whose slot 0 is the old root, so the old pages stay where they are.
//! Pages are allocated on first use, published with one CAS and never move or shrink
//! until the table itself is dropped: growth copies nothing and a reader never waits
//! for it. A lookup costs one to three dependent loads after the root, bounded whatever
//! the table's size.
//!
//! ```text
//! index = handle / 4 - 1
//! level 0: root -> leaf[index]                                    (256 entries)
//! level 1: root -> mid[index >> 8] -> leaf[index & 255]           (256K entries)
//! level 2: root -> top[index >> 18] -> mid[..] -> leaf[..]        (up to the limit)
//!
//! Entry (16 bytes):
//!   object: usize  live: *const ObjectHeader    free: next free index + 1 (0 = end)
//!   meta:   u64    | generation:32 | LIVE:1 | 0:4 | WEAK:1 | PROTECT:1 | INHERIT:1 | access:24 |
//! ```
//!
//! A live entry owns a handle reference to its object — except a WEAK entry, a process's
//! handle to itself, which owns only a pointer reference: a process must not keep itself
//! in use, or dropping every `Process` value and outside handle would never terminate it.
//!
//! # The invariant
//!
//! `object` is written only while the entry is not live, by the one thread that owns the
//! slot (it popped it from the free list or took it fresh). Every transition out of LIVE
//! bumps the generation. So a reader that sees the same live `meta` before and after
//! reading `object` read the pointer of one live period of the entry — a seqlock whose
//! writers are serialised by slot ownership, and whose readers write nothing.
//!
//! A live entry owns one handle reference to its object ([`HandleRef`]). Whoever moves
//! the entry out of LIVE by CAS (a close, terminate's sweep) adopts that reference and
//! releases it; exactly one CAS wins.
//!
//! Freed slots go on Treiber stacks, one per stripe (a thread pushes on its own and pops
//! its own first), whose heads carry a 33-bit tag bumped on every push and pop, so a pop
//! that read a stale `next` fails its CAS (no ABA, short of 2^33 operations on one head
//! while a popper is stalled between its load and its CAS). The stacks are LIFO and fresh slots
//! come from a high-water mark, so one thread's sequence of calls gives the same handle
//! values on every run, whichever stripe the thread has.

use std::ptr;

use crossbeam_utils::CachePadded;

use crate::access::{Access, HandleFlags};
use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::object::{HandleRef, HandleRefs, ObjRef, ObjectHeader};
use crate::sync::{
    epoch, fence, stripe, AtomicBool, AtomicU64, AtomicUsize, LocalCounter, Ordering, STRIPES,
};

#[cfg(not(loom))]
const LEAF_BITS: u32 = 8;
#[cfg(not(loom))]
const MID_BITS: u32 = 10;
// Tiny pages keep loom's models within its branch limits (SPEC §5).
#[cfg(loom)]
const LEAF_BITS: u32 = 1;
#[cfg(loom)]
const MID_BITS: u32 = 1;

const LEAF_LEN: usize = 1 << LEAF_BITS;
const MID_LEN: usize = 1 << MID_BITS;
const TOP_SHIFT: u32 = LEAF_BITS + MID_BITS;
/// The root word's low bits hold the level count (pages are at least 8-aligned).
const LEVEL_MASK: usize = 0b11;

/// The largest handle limit a table supports (the Platform SDK figure).
pub(crate) const MAX_LIMIT: usize = 1 << 30;

const ACCESS_MASK: u64 = 0x00FF_FFFF;
const INHERIT: u64 = 1 << 24;
const PROTECT: u64 = 1 << 25;
const WEAK: u64 = 1 << 26;
const LIVE: u64 = 1 << 31;
const GEN_SHIFT: u32 = 32;

/// A free-list head: index + 1 in the low 31 bits (enough for the 2^30 limit), a tag in
/// the high 33. The tag makes a pop that read a stale `next` fail its CAS; it could only
/// fool a popper stalled between its load and its CAS while 2^33 other pushes and pops
/// hit the same head (see ARCHITECTURE.md, "Known limits").
const FREE_INDEX_BITS: u32 = 31;
const FREE_INDEX: u64 = (1 << FREE_INDEX_BITS) - 1;
const _: () = assert!(MAX_LIMIT as u64 <= FREE_INDEX);

/// The head's tag, plus one, in place (the index bits cleared).
fn bump_tag(head: u64) -> u64 {
    ((head >> FREE_INDEX_BITS).wrapping_add(1)) << FREE_INDEX_BITS
}

fn pack(generation: u64, access: Access, flags: HandleFlags) -> u64 {
    let mut m = (generation << GEN_SHIFT) | LIVE | (u64::from(access.bits()) & ACCESS_MASK);
    if flags.contains(HandleFlags::INHERIT) {
        m |= INHERIT;
    }
    if flags.contains(HandleFlags::PROTECT_FROM_CLOSE) {
        m |= PROTECT;
    }
    m
}

fn is_live(meta: u64) -> bool {
    meta & LIVE != 0
}

fn access_of(meta: u64) -> Access {
    Access::from_bits_retain((meta & ACCESS_MASK) as u32)
}

fn flags_of(meta: u64) -> HandleFlags {
    let mut f = HandleFlags::empty();
    if meta & INHERIT != 0 {
        f |= HandleFlags::INHERIT;
    }
    if meta & PROTECT != 0 {
        f |= HandleFlags::PROTECT_FROM_CLOSE;
    }
    f
}

/// The meta word of a slot taken out of LIVE: next generation, nothing else.
fn retired(meta: u64) -> u64 {
    ((meta >> GEN_SHIFT).wrapping_add(1) & 0xFFFF_FFFF) << GEN_SHIFT
}

/// One handle-table entry: 16 bytes.
#[repr(C, align(16))]
pub(crate) struct Entry {
    object: AtomicUsize,
    meta: AtomicU64,
}

const _: () = assert!(std::mem::size_of::<Entry>() <= 16);

impl Entry {
    fn new() -> Entry {
        Entry { object: AtomicUsize::new(0), meta: AtomicU64::new(0) }
    }

    /// Takes the entry out of LIVE if `pred` accepts its meta word; returns the handle
    /// reference the entry owned. Exactly one of several racing takers wins.
    fn take(&self, pred: impl Fn(u64) -> Result<()>) -> Result<EntryRef> {
        let mut meta = self.meta.load(Ordering::Acquire);
        loop {
            if !is_live(meta) {
                return Err(Error::InvalidHandle);
            }
            pred(meta)?;
            // Acquire pairs with the inserter's Release store of `meta`, making its
            // `object` store visible; Release orders our earlier reads before the slot
            // can be reused.
            #[cfg(kobj_mutant = "take_no_cas")] // mutant: check, then a plain store, no CAS
            break self.meta.store(retired(meta), Ordering::Release);
            match self.meta.compare_exchange_weak(meta, retired(meta), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => meta = now,
            }
        }
        let object = self.object.load(Ordering::Relaxed) as *const ObjectHeader;
        if meta & WEAK != 0 {
            // SAFETY: we moved the entry out of LIVE, so we alone own the pointer reference
            // a WEAK entry carries; `fill` stored it from an ObjRef::into_raw.
            return Ok(EntryRef::Pointer(unsafe { ObjRef::from_raw(object) }));
        }
        // SAFETY: we moved the entry out of LIVE, so we alone own the handle reference it
        // carried; `fill` stored it from a HandleRef::into_raw.
        Ok(EntryRef::Handle(unsafe { HandleRef::from_raw(object) }))
    }
}

/// What a sweep of a whole table took (`close_all`), to be released after it: runs of
/// handle references to one object, and WEAK entries' pointer references.
pub(crate) enum Swept {
    Handles(HandleRefs),
    // Held only to be released when dropped.
    #[allow(dead_code)]
    Pointer(ObjRef),
}

fn push_swept(out: &mut Vec<Swept>, r: EntryRef) {
    match r {
        EntryRef::Pointer(p) => out.push(Swept::Pointer(p)),
        EntryRef::Handle(h) => {
            let h = match out.last_mut() {
                Some(Swept::Handles(run)) => match run.absorb(h) {
                    None => return,
                    Some(h) => h,
                },
                _ => h,
            };
            out.push(Swept::Handles(HandleRefs::new(h)));
        }
    }
}

/// The reference a closed entry owned; dropping it releases it.
pub(crate) enum EntryRef {
    /// An ordinary entry's handle reference.
    Handle(HandleRef),
    /// A WEAK entry's pointer reference (a process's handle to itself).
    Pointer(ObjRef),
}

impl EntryRef {
    /// A handle reference to the same object, for moving the handle elsewhere
    /// (`DUPLICATE_CLOSE_SOURCE`). `None` if a WEAK entry's process is no longer in use.
    pub(crate) fn into_handle(self) -> Option<HandleRef> {
        match self {
            EntryRef::Handle(h) => Some(h),
            EntryRef::Pointer(p) => p.try_into_handle().ok(),
        }
    }
}

/// What a live entry says: read together under one pin.
#[derive(Clone, Copy)]
pub(crate) struct Snapshot<'g> {
    pub(crate) object: &'g ObjectHeader,
    pub(crate) access: Access,
    pub(crate) flags: HandleFlags,
    /// Which live period of the slot this is: a closed and reused handle value has
    /// another.
    pub(crate) generation: u32,
}

/// A leaf page, aligned to a cache line: entries `4k..4k+3` share one line and no
/// other, so fresh slots handed out a line at a time ([`FRESH_CHUNK`]) keep two threads'
/// entries off one line.
#[repr(C, align(64))]
struct LeafPage([Entry; LEAF_LEN]);

type Dir = [AtomicUsize];

/// Fresh slots a stripe claims from the high-water mark at once: a cache line of
/// entries, so two threads creating in one process do not write one line (false
/// sharing). One under loom, where pages are two entries.
#[cfg(not(loom))]
const FRESH_CHUNK: usize = 4;
#[cfg(loom)]
const FRESH_CHUNK: usize = 1;
const _: () = assert!(LEAF_LEN % FRESH_CHUNK == 0 && FRESH_CHUNK * 16 <= 64);

/// A per-process handle table.
pub(crate) struct HandleTable {
    /// The root page with its level in the low bits (see the module docs); 0 = empty.
    /// Leaf pages are leaked `Box<LeafPage>`s, mid and top pages leaked
    /// `Box<[AtomicUsize]>`s whose slots hold child page pointers (0 = not allocated).
    root: AtomicUsize,
    /// The top page's length: enough mid pages to reach the limit.
    top_len: usize,
    /// Treiber stack of free slots: low 31 bits index + 1 (0 = empty; the limit is
    /// 2^30), high 33 bits a tag bumped by every push and pop.
    /// The counters inserts and closes write sit on cache lines of their own, away from
    /// the read-mostly `root` and `limit` every lookup reads.
    /// One stack per stripe (`sync::stripe`): a thread pushes the slots it frees on its
    /// own stripe and pops its own first, so threads on different stripes do not bounce
    /// one head between them.
    free: [CachePadded<AtomicU64>; STRIPES],
    /// Slots `0..high_water` have been handed out at least once, or claimed by a stripe.
    high_water: CachePadded<AtomicUsize>,
    /// Per stripe, the rest of the line of fresh slots it claimed (see `fresh_index`).
    fresh: [CachePadded<AtomicU64>; STRIPES],
    /// Live entries: a slot per thread (`LocalCounter`), so an insert or a close counts
    /// itself with a plain store on a line of its thread's, not a locked instruction.
    count: LocalCounter,
    /// Set once by `close_all`; no insert succeeds after it.
    closed: AtomicBool,
    /// The process object that owns this table (its handles to itself are WEAK).
    owner: AtomicUsize,
    limit: usize,
}

impl HandleTable {
    pub(crate) fn new(limit: usize) -> HandleTable {
        let limit = limit.clamp(1, MAX_LIMIT);
        HandleTable {
            root: AtomicUsize::new(0),
            top_len: (limit - 1) / (LEAF_LEN * MID_LEN) + 1,
            free: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))),
            high_water: CachePadded::new(AtomicUsize::new(0)),
            fresh: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))),
            count: LocalCounter::new(),
            closed: AtomicBool::new(false),
            owner: AtomicUsize::new(0),
            limit,
        }
    }

    /// Records the process object that owns this table, before the table is used.
    pub(crate) fn set_owner(&self, owner: *const ObjectHeader) {
        self.owner.store(owner as usize, Ordering::Relaxed);
    }

    /// The number of live entries.
    pub(crate) fn len(&self) -> usize {
        self.count.sum()
    }

    /// The entry at `index`, if its pages exist.
    #[inline]
    fn entry(&self, index: usize) -> Option<&Entry> {
        let leaf = self.leaf_ptr(index)?;
        // SAFETY: a published leaf page is a leaked Box<LeafPage> of LEAF_LEN entries that
        // lives until the table drops (pages never move or shrink); `&self` outlives it.
        Some(unsafe { &*leaf.add(index & (LEAF_LEN - 1)) })
    }

    /// The published leaf page holding `index` (a pointer to its first entry, with the
    /// whole page's provenance), if it exists.
    ///
    /// On every lookup's path: inlined, and the level chosen by plain branches (a
    /// `match` compiled to a jump table costs an indirect jump per lookup).
    #[inline(always)]
    fn leaf_ptr(&self, index: usize) -> Option<*const Entry> {
        if index >= self.limit {
            return None;
        }
        // Acquire pairs with the Release CAS that published the root (and, below, each
        // page), so the page's initialised contents are visible.
        let root = self.root.load(Ordering::Acquire);
        let page = root & !LEVEL_MASK;
        if page == 0 {
            return None;
        }
        let level = root & LEVEL_MASK;
        let leaf = if level == 0 {
            if index >= LEAF_LEN {
                return None;
            }
            page
        } else if level == 1 {
            if index >= LEAF_LEN * MID_LEN {
                return None;
            }
            child(page, index >> LEAF_BITS)?
        } else {
            // Level 2, the highest `root_covering` makes.
            debug_assert_eq!(level, 2);
            if index >> TOP_SHIFT >= self.top_len {
                return None;
            }
            let mid = child(page, index >> TOP_SHIFT)?;
            child(mid, (index >> LEAF_BITS) & (MID_LEN - 1))?
        };
        Some(leaf as *const Entry)
    }

    /// The leaf page holding `index`, if it exists.
    fn leaf(&self, index: usize) -> Option<&LeafPage> {
        let page = self.leaf_ptr(index)?;
        // SAFETY: a published leaf page (a leaked Box<LeafPage>, `repr(C)`: its entries
        // start at its address), alive as long as the table; the pointer has the page's
        // provenance.
        Some(unsafe { &*page.cast::<LeafPage>() })
    }

    /// The leaf page holding `index`, allocating it (and its parents) if needed.
    fn leaf_or_alloc(&self, index: usize) -> &LeafPage {
        // SAFETY: as in `leaf`.
        unsafe { &*self.leaf_ptr_or_alloc(index).cast::<LeafPage>() }
    }

    /// The root, grown until its level covers `index`.
    fn root_covering(&self, index: usize) -> usize {
        loop {
            let root = self.root.load(Ordering::Acquire);
            let page = root & !LEVEL_MASK;
            let level = root & LEVEL_MASK;
            let covered = match level {
                0 => LEAF_LEN,
                1 => LEAF_LEN * MID_LEN,
                _ => usize::MAX,
            };
            if page != 0 && index < covered {
                return root;
            }
            // A first leaf, or a new root page one level up whose slot 0 is the old root.
            let (new, len) = if page == 0 {
                (Box::into_raw(new_leaf()) as usize, LEAF_LEN)
            } else {
                let len = if level == 0 { MID_LEN } else { self.top_len };
                let parent = new_dir(len);
                parent[0].store(page, Ordering::Relaxed);
                (Box::into_raw(parent) as *mut AtomicUsize as usize | (level + 1), len)
            };
            // AcqRel: Release publishes the new page (and its slot 0); Acquire on failure
            // sees the winner's root.
            #[cfg(not(kobj_mutant = "root_no_cas"))]
            let lost = self.root.compare_exchange(root, new, Ordering::AcqRel, Ordering::Acquire).is_err();
            #[cfg(kobj_mutant = "root_no_cas")] // mutant: the new root stored, not CASed
            let lost = {
                self.root.store(new, Ordering::Release);
                false
            };
            if lost {
                let page = new & !LEVEL_MASK;
                // SAFETY: the page was never published, so we own it alone; for a parent
                // page this frees only the page, not the old root its slot 0 names.
                unsafe {
                    if page == new {
                        drop(Box::from_raw(page as *mut LeafPage));
                    } else {
                        drop(Box::from_raw(ptr::slice_from_raw_parts_mut(page as *mut AtomicUsize, len)));
                    }
                }
            }
        }
    }

    /// The entry at `index`, allocating its pages if needed.
    ///
    /// `index` must be below the limit (every caller got it from `fresh_index`, the free
    /// list, or a parent table of the same kernel and so the same limit). The assertion
    /// makes that bound explicit: below it, `index >> TOP_SHIFT < top_len`, so the top
    /// page is never indexed past its end, whatever a future caller passes.
    fn entry_or_alloc(&self, index: usize) -> &Entry {
        let leaf = self.leaf_ptr_or_alloc(index);
        // SAFETY: as in `entry`, a published leaf page of LEAF_LEN entries.
        unsafe { &*leaf.add(index & (LEAF_LEN - 1)) }
    }

    /// [`leaf_ptr`](Self::leaf_ptr), allocating the pages if needed (see
    /// [`entry_or_alloc`](Self::entry_or_alloc)).
    fn leaf_ptr_or_alloc(&self, index: usize) -> *const Entry {
        assert!(index < self.limit, "handle-table index {index} past the limit {}", self.limit);
        let root = self.root_covering(index);
        let page = root & !LEVEL_MASK;
        match root & LEVEL_MASK {
            0 => page as *const Entry,
            1 => publish_child(page, index >> LEAF_BITS),
            _ => {
                let mid = publish_child::<AtomicUsize>(page, index >> TOP_SHIFT) as usize;
                publish_child(mid, (index >> LEAF_BITS) & (MID_LEN - 1))
            }
        }
    }

    /// Reads a live entry under `guard`. `None` for anything that is not a live handle.
    #[inline]
    pub(crate) fn get<'g>(&self, handle: Handle, _guard: &'g epoch::Guard) -> Option<Snapshot<'g>> {
        let entry = self.entry(handle.index()?)?;
        loop {
            // Seqlock read (see the module docs). Acquire on `meta` pairs with the
            // inserter's Release store. Acquire on `object` pairs with every Release store
            // into it: `fill`'s (a later period's pointer) and `push_free`'s (a free-list
            // link). Both are made after the slot's previous period was ended by a CAS on
            // `meta` that happens-before the store, so if we load either, the second
            // `meta` load sees that retired generation (or a later one) and the check
            // fails: a link or a later pointer is never taken for this period's object.
            let before = entry.meta.load(Ordering::Acquire);
            if !is_live(before) {
                return None;
            }
            let object = entry.object.load(Ordering::Acquire) as *const ObjectHeader;
            #[cfg(not(kobj_mutant = "seqlock_no_recheck"))]
            let after = entry.meta.load(Ordering::Relaxed);
            #[cfg(kobj_mutant = "seqlock_no_recheck")] // mutant: the second `meta` load removed
            let after = before;
            if before == after {
                // SAFETY: `before == after`, both LIVE: by the orderings above, the value
                // loaded from `object` is the pointer stored for this live period (a
                // link or a later period's pointer would have made `after` differ). The
                // entry held a reference to it after our pin began; its destruction is
                // deferred through the epoch until this guard is dropped, so it is valid
                // for 'g.
                let object = unsafe { &*object };
                crate::sync::check_block(object as *const ObjectHeader as usize);
                return Some(Snapshot {
                    object,
                    access: access_of(before),
                    flags: flags_of(before),
                    generation: (before >> GEN_SHIFT) as u32,
                });
            }
        }
    }

    /// Inserts a handle that owns `object`. On failure the reference is released.
    pub(crate) fn insert(&self, object: HandleRef, access: Access, flags: HandleFlags) -> Result<Handle> {
        self.reserve()?.fill(object, access, flags)
    }

    /// Reserves a free slot, to be filled once the object exists. A create reserves
    /// first and publishes a name second, so a full table never leaves a name behind
    /// (SPEC §5). Dropping the reservation unfilled frees the slot.
    pub(crate) fn reserve(&self) -> Result<Reservation<'_>> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::AccessDenied);
        }
        // A popped slot comes with its entry (its page exists: it was live before); a
        // fresh one may need its page allocated.
        let (index, entry) = match self.pop_free() {
            Some(popped) => popped,
            None => {
                let index = self.fresh_index()?;
                (index, self.entry_or_alloc(index))
            }
        };
        Ok(Reservation { table: self, index, entry })
    }

    /// Closes a handle: INVALID_HANDLE if it names no live entry or is protected.
    pub(crate) fn remove(&self, handle: Handle) -> Result<EntryRef> {
        self.remove_if(handle, |_, _| Ok(()))
    }

    /// Closes a handle if `check` accepts its access and flags first.
    pub(crate) fn remove_if(
        &self,
        handle: Handle,
        check: impl Fn(Access, HandleFlags) -> Result<()>,
    ) -> Result<EntryRef> {
        let index = handle.index().ok_or(Error::InvalidHandle)?;
        let entry = self.entry(index).ok_or(Error::InvalidHandle)?;
        let reference = entry.take(|meta| {
            if meta & PROTECT != 0 {
                return Err(Error::InvalidHandle);
            }
            check(access_of(meta), flags_of(meta))
        })?;
        self.retire(index, entry);
        Ok(reference)
    }

    /// Sets the flags in `mask` to their values in `flags`.
    pub(crate) fn set_flags(&self, handle: Handle, mask: HandleFlags, flags: HandleFlags) -> Result<()> {
        let index = handle.index().ok_or(Error::InvalidHandle)?;
        let entry = self.entry(index).ok_or(Error::InvalidHandle)?;
        let mut meta = entry.meta.load(Ordering::Acquire);
        loop {
            if !is_live(meta) {
                return Err(Error::InvalidHandle);
            }
            let old = flags_of(meta);
            let new = (old - mask) | (flags & mask);
            let next = pack(meta >> GEN_SHIFT, access_of(meta), new) | (meta & WEAK);
            // Relaxed success: only flag bits change; the object pointer is untouched.
            match entry.meta.compare_exchange_weak(meta, next, Ordering::Relaxed, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(now) => meta = now,
            }
        }
    }

    /// Marks the table dead and closes every handle, protected ones included.
    /// Returns the references the entries owned, for the caller to release.
    pub(crate) fn close_all(&self) -> Vec<Swept> {
        self.closed.store(true, Ordering::Relaxed);
        // Pairs with the SeqCst fence in `insert`.
        fence(Ordering::SeqCst);
        let end = self.high_water.load(Ordering::Acquire);
        let mut released = Vec::new();
        for base in (0..end).step_by(LEAF_LEN) {
            let Some(page) = self.leaf(base) else { continue };
            for entry in page.0.iter().take(end - base) {
                if let Ok(reference) = entry.take(|_| Ok(())) {
                    self.count.decrement();
                    push_swept(&mut released, reference);
                }
            }
        }
        released
    }

    /// Visits every live entry in index order under one pin (a listing; each entry is
    /// read consistently, the whole is not a snapshot).
    pub(crate) fn for_each<'g>(&self, guard: &'g epoch::Guard, mut f: impl FnMut(Handle, Snapshot<'g>)) {
        let end = self.high_water.load(Ordering::Acquire);
        let mut index = 0;
        while index < end {
            if self.entry(index).is_none() {
                // Skip a whole unallocated leaf page.
                index = (index | (LEAF_LEN - 1)) + 1;
                continue;
            }
            let handle = Handle::from_index(index);
            if let Some(s) = self.get(handle, guard) {
                f(handle, s);
            }
            index += 1;
        }
    }

    /// A slot (`entry`, at `index`) leaves LIVE: count it out and push it on the free list.
    fn retire(&self, index: usize, entry: &Entry) {
        self.count.decrement();
        self.push_free_entry(index, entry);
    }

    /// Pushes a slot that is not live on this thread's free list.
    fn push_free(&self, index: usize) {
        let entry = self.entry(index).expect("a retired slot's page exists");
        self.push_free_entry(index, entry);
    }

    /// [`push_free`](Self::push_free) for a caller that has the slot's entry at hand.
    fn push_free_entry(&self, index: usize, entry: &Entry) {
        let free = &self.free[stripe()];
        let mut head = free.load(Ordering::Relaxed);
        loop {
            // Release, not Relaxed: a reader in `get` may load this link from `object`
            // while its first `meta` load saw the entry still LIVE. Its Acquire load of
            // `object` then synchronises with this store, so the closer's CAS that took
            // the entry out of LIVE (earlier on this thread) is visible to the reader's
            // second `meta` load, which fails the seqlock check. With Relaxed, nothing
            // orders that second load after the CAS and the reader could build a
            // reference from the link (review issue 7, item 1).
            #[cfg(not(kobj_mutant = "link_relaxed"))]
            entry.object.store((head & FREE_INDEX) as usize, Ordering::Release);
            #[cfg(kobj_mutant = "link_relaxed")] // mutant: the link stored Relaxed (issue 7.1)
            entry.object.store((head & FREE_INDEX) as usize, Ordering::Relaxed);
            let next = bump_tag(head) | (index as u64 + 1);
            // Release: publishes the link store (and the slot's retirement) to the popper.
            match free.compare_exchange_weak(head, next, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Pops a free slot: this thread's stripe first, then the others in turn, so no freed
    /// slot is stranded on a stripe no thread uses.
    fn pop_free(&self) -> Option<(usize, &Entry)> {
        let own = stripe();
        (0..STRIPES).find_map(|i| Self::pop_from(&self.free[(own + i) % STRIPES], self))
    }

    /// Pops from one stripe's stack. Each stack's tag guards only its own head: a slot
    /// moved to another stack meanwhile still bumped this head's tag when it was popped.
    fn pop_from<'t>(free: &AtomicU64, table: &'t HandleTable) -> Option<(usize, &'t Entry)> {
        // Acquire pairs with `push_free`'s Release CAS, so the link we read is the pusher's.
        let mut head = free.load(Ordering::Acquire);
        loop {
            let top = (head & FREE_INDEX) as usize;
            if top == 0 {
                return None;
            }
            let index = top - 1;
            // Every slot on a free list was handed out before, so its page exists.
            let entry = table.entry(index).expect("a free slot's page exists");
            // The slot may be popped and reused by another thread meanwhile; then this
            // read is stale, but the tag in `head` has moved and the CAS below fails.
            let link = entry.object.load(Ordering::Relaxed) as u64;
            #[cfg(not(kobj_mutant = "pop_no_tag"))]
            let next = bump_tag(head) | (link & FREE_INDEX);
            #[cfg(kobj_mutant = "pop_no_tag")] // mutant: the pop drops the tag (ABA)
            let next = link & FREE_INDEX;
            match free.compare_exchange_weak(head, next, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => return Some((index, entry)),
                Err(now) => head = now,
            }
        }
    }

    /// A slot never handed out: from this stripe's claimed line, else a new line claimed
    /// from the high-water mark, else (at the limit) another stripe's leftovers.
    /// NO_SYSTEM_RESOURCES only when every slot below the limit has been handed out.
    fn fresh_index(&self) -> Result<usize> {
        let own = stripe();
        if let Some(index) = take_fresh(&self.fresh[own]) {
            return Ok(index);
        }
        let Some((base, end)) = self.claim_line() else {
            return (1..STRIPES)
                .find_map(|k| take_fresh(&self.fresh[(own + k) % STRIPES]))
                .ok_or(Error::NoSystemResources);
        };
        if base + 1 < end {
            // The rest of the line goes to this stripe's cursor, if it is still used up;
            // a thread sharing the stripe may have claimed a line meanwhile, and then our
            // leftovers go on the free list instead (never lost).
            let cursor = &self.fresh[own];
            let current = cursor.load(Ordering::Relaxed);
            let installed = current >> 32 >= current & 0xFFFF_FFFF
                && cursor
                    .compare_exchange(
                        current,
                        pack_fresh(base + 1, end),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_ok();
            if !installed {
                self.entry_or_alloc(base);
                for index in base + 1..end {
                    self.push_free(index);
                }
            }
        }
        Ok(base)
    }

    /// Claims the rest of the line at the high-water mark (a whole line, unless the mark
    /// is mid-line after inheritance or the limit cuts it): `(first, end)`.
    fn claim_line(&self) -> Option<(usize, usize)> {
        let mut n = self.high_water.load(Ordering::Relaxed);
        loop {
            if n >= self.limit {
                return None;
            }
            let end = ((n / FRESH_CHUNK + 1) * FRESH_CHUNK).min(self.limit);
            // Release: `close_all` reads `high_water` with Acquire to bound its sweep.
            match self.high_water.compare_exchange_weak(n, end, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return Some((n, end)),
                Err(now) => n = now,
            }
        }
    }
}

/// A stripe's claimed-but-unused fresh slots: `next` in the high 32 bits, `end` in the
/// low 32 (indices are below 2^30).
fn pack_fresh(next: usize, end: usize) -> u64 {
    ((next as u64) << 32) | end as u64
}

/// Takes the next slot of a stripe's claimed line, if any is left. Relaxed: the cursor
/// only divides indices between takers; what the slots hold is published by `fill`.
fn take_fresh(cursor: &AtomicU64) -> Option<usize> {
    let mut current = cursor.load(Ordering::Relaxed);
    loop {
        let (next, end) = (current >> 32, current & 0xFFFF_FFFF);
        if next >= end {
            return None;
        }
        match cursor.compare_exchange_weak(
            current,
            pack_fresh(next as usize + 1, end as usize),
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Some(next as usize),
            Err(now) => current = now,
        }
    }
}

fn new_leaf() -> Box<LeafPage> {
    Box::new(LeafPage(std::array::from_fn(|_| Entry::new())))
}

fn new_dir(len: usize) -> Box<Dir> {
    (0..len).map(|_| AtomicUsize::new(0)).collect()
}

/// The child page published in slot `i` of the directory page `dir`, if any.
#[inline]
fn child(dir: usize, i: usize) -> Option<usize> {
    // SAFETY: `dir` is a published directory page (a leaked Box<[AtomicUsize]>) whose
    // length the caller's index check respects; pages live until the table drops.
    let slot = unsafe { &*(dir as *const AtomicUsize).add(i) };
    // Acquire pairs with `publish_child`'s Release CAS: the page's contents are visible.
    let page = slot.load(Ordering::Acquire);
    (page != 0).then_some(page)
}

/// The child page in slot `i` of `dir`, publishing a new one (a leaf page if `T` is
/// `Entry`, else a mid page) if there is none.
fn publish_child<T: NewPage>(dir: usize, i: usize) -> *const T {
    // SAFETY: as in `child`.
    let slot = unsafe { &*(dir as *const AtomicUsize).add(i) };
    let current = slot.load(Ordering::Acquire);
    if current != 0 {
        return current as *const T;
    }
    let page = T::new_page();
    // AcqRel: Release publishes the initialised page; Acquire on failure sees the winner's.
    match slot.compare_exchange(0, page, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => page as *const T,
        Err(winner) => {
            // SAFETY: our page was never published; we still own it alone.
            unsafe { T::free_unpublished(page) };
            winner as *const T
        }
    }
}

/// The two kinds of page below the root: leaves and mid directories.
trait NewPage: Sized {
    /// A new page, leaked; its address.
    fn new_page() -> usize;
    /// Frees a page from `new_page`.
    ///
    /// # Safety
    /// `page` must come from `new_page` of this type and be owned by the caller alone.
    unsafe fn free_unpublished(page: usize);
}

impl NewPage for Entry {
    fn new_page() -> usize {
        Box::into_raw(new_leaf()) as usize
    }
    unsafe fn free_unpublished(page: usize) {
        // SAFETY: per the contract, a leaked Box<LeafPage> we own.
        drop(unsafe { Box::from_raw(page as *mut LeafPage) });
    }
}

impl NewPage for AtomicUsize {
    fn new_page() -> usize {
        Box::into_raw(new_dir(MID_LEN)) as *mut AtomicUsize as usize
    }
    unsafe fn free_unpublished(page: usize) {
        // SAFETY: per the contract, a leaked Box<[AtomicUsize]> of MID_LEN we own.
        drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(page as *mut AtomicUsize, MID_LEN)) });
    }
}

/// Frees a published page of `level` (0 = leaf) and everything below it.
///
/// # Safety
/// `page` must be a published page of that level with `len` slots, unreachable by any
/// other thread (the table is being dropped).
unsafe fn free_page(page: usize, level: usize, len: usize) {
    if level == 0 {
        // SAFETY: per the contract, a leaked Box<LeafPage> we now own.
        drop(unsafe { Box::from_raw(page as *mut LeafPage) });
        return;
    }
    // SAFETY: per the contract, a leaked Box<[AtomicUsize]> of `len` slots we now own.
    let dir = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(page as *mut AtomicUsize, len)) };
    for slot in dir.iter() {
        let child = slot.load(Ordering::Relaxed);
        if child != 0 {
            // SAFETY: a published child one level down; below the root every directory
            // is a mid page of MID_LEN slots.
            unsafe { free_page(child, level - 1, MID_LEN) };
        }
    }
}

impl Drop for HandleTable {
    fn drop(&mut self) {
        // A table is dropped with its process object, after terminate's sweep; anything
        // still live here (a process that never ran) is released now.
        drop(self.close_all());
        let root = self.root.load(Ordering::Relaxed);
        let page = root & !LEVEL_MASK;
        if page != 0 {
            let level = root & LEVEL_MASK;
            let len = if level == 2 { self.top_len } else { MID_LEN };
            // SAFETY: the root page of its level; `&mut self` means no reader remains.
            unsafe { free_page(page, level, len) };
        }
    }
}

/// A reserved slot of a table: not live, owned by its holder until filled or dropped.
pub(crate) struct Reservation<'t> {
    table: &'t HandleTable,
    index: usize,
    entry: &'t Entry,
}

impl Reservation<'_> {
    /// Publishes the slot as a live handle owning `object`. Fails (releasing `object`)
    /// if the table was closed by a racing terminate.
    pub(crate) fn fill(self, object: HandleRef, access: Access, flags: HandleFlags) -> Result<Handle> {
        self.fill_generation(object, access, flags).map(|(handle, _)| handle)
    }

    /// As [`fill`](Self::fill), also returning the new entry's generation (for callers
    /// that must later tell this handle from a reuse of its value).
    pub(crate) fn fill_generation(
        self,
        object: HandleRef,
        access: Access,
        flags: HandleFlags,
    ) -> Result<(Handle, u32)> {
        let (table, index, entry) = (self.table, self.index, self.entry);
        std::mem::forget(self);
        let generation = entry.meta.load(Ordering::Relaxed) >> GEN_SHIFT;
        // Relaxed: `owner` is set before the table is shared.
        let weak = std::ptr::eq(object.object().as_ptr(), table.owner.load(Ordering::Relaxed) as *const _);
        let (raw, weak_bit) = if weak {
            // A process's handle to itself keeps only its memory (see the module docs).
            (object.into_pointer().into_raw(), WEAK)
        } else {
            (object.into_raw(), 0)
        };
        table.count.increment();
        // Release: pairs with the Acquire load of `object` in `get` (see there).
        entry.object.store(raw as usize, Ordering::Release);
        // Release: publishes the `object` store to readers and takers.
        entry.meta.store(pack(generation, access, flags) | weak_bit, Ordering::Release);
        // SeqCst fence against `close_all`'s: either its sweep sees this entry live, or
        // we see `closed` and take the entry back ourselves (SPEC §5: an insert racing
        // terminate must not leave a handle in a dead table).
        #[cfg(not(kobj_mutant = "fill_no_fence"))]
        fence(Ordering::SeqCst);
        if table.closed.load(Ordering::Relaxed) {
            if let Ok(reference) = entry.take(|_| Ok(())) {
                table.retire(index, entry);
                drop(reference);
            }
            return Err(Error::AccessDenied);
        }
        Ok((Handle::from_index(index), generation as u32))
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.table.push_free(self.index);
    }
}

/// Inheritance: copying a parent's inheritable entries into a new child table.
impl HandleTable {
    /// Tables at least this large are copied page by page in parallel.
    #[cfg(not(loom))]
    const PARALLEL_COPY: usize = 1 << 16;

    /// Copies every INHERIT entry of `parent` into this table (new, not yet visible to
    /// any other thread) at the same index, with the same access and flags. With `only`,
    /// just those indices are considered.
    ///
    /// Each copied entry was live and inheritable at the instant its snapshot was read
    /// (under a pin), and its object's handle count is raised with increment-if-not-zero,
    /// so an entry closed meanwhile is either skipped or copied with a fresh reference,
    /// never resurrected.
    pub(crate) fn inherit_from(&self, parent: &HandleTable, only: Option<&[usize]>) {
        match only {
            Some(indices) => {
                let guard = epoch::pin();
                self.copy_entries(parent, indices.iter().copied(), &guard);
            }
            None => {
                let end = parent.high_water.load(Ordering::Acquire);
                let pages: Vec<usize> =
                    (0..end).step_by(LEAF_LEN).filter(|&base| parent.entry(base).is_some()).collect();
                let copy_page = |&base: &usize| {
                    let guard = epoch::pin();
                    self.copy_entries(parent, base..(base + LEAF_LEN).min(end), &guard);
                };
                // rayon's pool does not run under loom; a loom table is far below the size.
                #[cfg(not(loom))]
                if end >= Self::PARALLEL_COPY {
                    use rayon::prelude::*;
                    pages.par_iter().for_each(copy_page);
                    return self.rebuild_free_list();
                }
                pages.iter().for_each(copy_page);
            }
        }
        self.rebuild_free_list();
    }

    /// Copies the inheritable entries among `indices` (ascending). Consecutive entries
    /// that name one object are copied as a run: their snapshots are read one by one,
    /// then the object's counts are raised once for the whole run (increment-if-not-
    /// zero: if the object's last handle closed meanwhile, every entry of the run was
    /// closed by then and none is copied), so a table of duplicates of one object is
    /// not copied one contended count update at a time. The high-water mark is raised
    /// once per call.
    fn copy_entries(&self, parent: &HandleTable, indices: impl Iterator<Item = usize>, guard: &epoch::Guard) {
        let mut run: Vec<(usize, Access, HandleFlags)> = Vec::new();
        let mut object: *const ObjectHeader = std::ptr::null();
        let mut top = 0;
        for index in indices {
            let Some(snapshot) = parent.get(Handle::from_index(index), guard) else { continue };
            if !snapshot.flags.contains(HandleFlags::INHERIT) {
                continue;
            }
            if !std::ptr::eq(snapshot.object, object) {
                top = top.max(self.copy_run(object, &mut run));
                object = snapshot.object;
            }
            run.push((index, snapshot.access, snapshot.flags));
        }
        top = top.max(self.copy_run(object, &mut run));
        if top > 0 {
            self.high_water.fetch_max(top, Ordering::Release);
        }
    }

    /// Stores a run of entries naming `object` (valid under the caller's pin) if its
    /// handle references can be taken; empties the run. Returns one past the highest
    /// index stored (0 if none).
    fn copy_run(&self, object: *const ObjectHeader, run: &mut Vec<(usize, Access, HandleFlags)>) -> usize {
        if run.is_empty() {
            return 0;
        }
        // SAFETY: every entry of the run was read from the parent under the caller's
        // pin, which keeps the object's block allocated (a destroyed object's count is
        // zero, and `try_add_handles` then takes nothing).
        let taken = unsafe { &*object }.try_add_handles(run.len());
        let mut top = 0;
        if taken {
            let mut page: Option<(usize, &LeafPage)> = None;
            for &(index, access, flags) in run.iter() {
                let base = index & !(LEAF_LEN - 1);
                let leaf = match page {
                    Some((b, leaf)) if b == base => leaf,
                    _ => {
                        let leaf = self.leaf_or_alloc(index);
                        page = Some((base, leaf));
                        leaf
                    }
                };
                let entry = &leaf.0[index - base];
                self.count.increment();
                // Each entry owns one of the handle references just taken.
                entry.object.store(object as usize, Ordering::Release);
                entry.meta.store(pack(0, access, flags), Ordering::Release);
                top = index + 1;
            }
        }
        run.clear();
        top
    }

    /// Puts every non-live slot below the high-water mark on the free list,
    /// lowest index on top (so one thread's later inserts are deterministic).
    fn rebuild_free_list(&self) {
        let end = self.high_water.load(Ordering::Acquire);
        for base in (0..end).step_by(LEAF_LEN).rev() {
            let page = self.leaf_or_alloc(base);
            for (i, entry) in page.0.iter().enumerate().take(end - base).rev() {
                if !is_live(entry.meta.load(Ordering::Acquire)) {
                    self.push_free(base + i);
                }
            }
        }
    }
}

/// The loom models' consistency check of a table at rest.
#[cfg(loom)]
impl HandleTable {
    /// Panics unless, with no operation in flight, every slot below the high-water mark
    /// is either live, on exactly one free list or in a stripe's unused fresh line (in a
    /// table not closed), each list ends,
    /// no live slot is on one, and the live count matches. Returns the number of live entries.
    pub(crate) fn check_at_rest(&self) -> usize {
        let end = self.high_water.load(Ordering::Acquire);
        let mut on_list = vec![false; end];
        for (stripe, free) in self.free.iter().enumerate() {
            let mut top = (free.load(Ordering::Acquire) & FREE_INDEX) as usize;
            while top != 0 {
                let index = top - 1;
                assert!(index < end, "free list {stripe} holds slot {index}, past the high-water mark {end}");
                assert!(!on_list[index], "slot {index} is on the free lists twice (or a list loops)");
                on_list[index] = true;
                let entry = self.entry(index).expect("a freed slot's page exists");
                assert!(
                    !is_live(entry.meta.load(Ordering::Acquire)),
                    "live slot {index} is on free list {stripe}"
                );
                top = entry.object.load(Ordering::Acquire) & FREE_INDEX as usize;
            }
        }
        // A stripe's claimed-but-unused fresh slots are accounted for by its cursor.
        for cursor in &self.fresh {
            let current = cursor.load(Ordering::Acquire);
            for index in (current >> 32) as usize..(current & 0xFFFF_FFFF) as usize {
                assert!(index < end && !on_list[index], "fresh slot {index} also listed or past the mark");
                on_list[index] = true;
            }
        }
        let dead = self.closed.load(Ordering::Acquire);
        let mut live = 0;
        for (index, listed) in on_list.iter().enumerate() {
            let entry_live = self.entry(index).is_some_and(|e| is_live(e.meta.load(Ordering::Acquire)));
            // A dead table's sweep takes entries without freeing their slots.
            assert!(entry_live || *listed || dead, "slot {index} is neither live nor free: lost");
            live += usize::from(entry_live);
        }
        assert_eq!(self.len(), live, "the live count disagrees with the live entries");
        live
    }
}
