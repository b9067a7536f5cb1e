//! Object blocks and their lifetime.
//!
//! An object is one heap block: an [`ObjectHeader`] (two counts, the type, the
//! security descriptor, the name) and a payload. The rules, as in NT's object manager:
//!
//! - **Pointer count**: every reference that keeps the *memory* alive — each handle,
//!   each [`ObjectRef`], each `Process` value, the name table's entry. When it reaches
//!   zero the object is destroyed: `object_count` drops at once, and the block is handed
//!   to crossbeam-epoch, which frees it once no thread that might still read it is
//!   pinned.
//! - **Handle count**: the handles (and `Process` values) — the references that keep
//!   the object *in use*. When it reaches zero the name disappears and the type's
//!   last-handle hook runs. Each handle also holds a pointer reference, so
//!   `pointers >= handles` always.
//!
//! New references to an object found through a shared structure (a table entry seen
//! under a pin, the name table) are taken with increment-if-not-zero, never a plain
//! increment, so a count that reached zero is never resurrected (SPEC §5).
//!
//! Both counts live in one word ([`Counts`]: handles in the high half, pointers in the
//! low), so a handle reference — one of each — is taken or given back with one atomic
//! operation, and closing the last handle of an object with no last-handle work (no name,
//! a type without a hook) releases both, and finds out whether it was the last
//! reference, with one.

mod cache;
mod name;
pub(crate) mod types;

pub(crate) use name::NameKey;

use std::alloc::Layout;
use std::any::{Any, TypeId};
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;

use crate::security::SecurityRef;
use crate::sync::{AtomicU64, LocalCounter, Ordering};
use types::TypeInfo;

/// What every object of one kernel shares at this layer: the live-object count and the
/// work the layers above do when an object's last handle closes. The kernel embeds it
/// as the first field of its state, and each header points at it without counting a
/// reference — creating or destroying an object writes no kernel-wide cache line.
///
/// That is sound because the kernel outlives every use of a header's `domain` (and of
/// its `ty`): an object is reached only by a caller that holds the kernel — a `Kernel`,
/// a `Process` (the process payload keeps its kernel), an `ObjectRef` (which keeps it),
/// or code running inside such a call — and an object that nothing reachable holds is
/// never touched again (its block is freed through the epoch by a closure that reads
/// neither field).
pub(crate) struct Domain {
    /// Objects made and not yet destroyed, a slot per thread (`LocalCounter`).
    live: LocalCounter,
    /// The kernel's work at an object's last handle: its name, then its type's hook.
    last_handle: fn(&ObjectHeader),
    /// The wait-all lock (see `wait`): taken by wait-all waits and by signals of objects
    /// that have wait-all waiters, never by anything else.
    pub(crate) wait_all: crate::sync::Mutex<()>,
}

impl Domain {
    pub(crate) fn new(last_handle: fn(&ObjectHeader)) -> Domain {
        Domain { live: LocalCounter::new(), last_handle, wait_all: crate::sync::Mutex::new(()) }
    }

    /// Objects of this domain not yet destroyed.
    pub(crate) fn live(&self) -> usize {
        self.live.sum()
    }
}

/// The two counts of an object in one word: handles in the high 32 bits, pointer
/// references in the low 32. Every handle also holds a pointer reference, so the low
/// half is never below the high half, and a borrow out of the low half never happens.
struct Counts;

impl Counts {
    /// One pointer reference.
    const POINTER: u64 = 1;
    /// One handle count (without its pointer reference).
    const HANDLE: u64 = 1 << 32;
    /// One handle reference: a handle count and its pointer reference.
    const HANDLE_REF: u64 = Counts::HANDLE | Counts::POINTER;
    /// A count at or past this in either half stops the process (as `Arc` does past
    /// `isize::MAX`): 2^31 references to one object need at least 32 GiB of handle
    /// entries, and letting the low half carry into the high one would corrupt both.
    const LIMIT: u64 = 1 << 31;

    fn pointers(word: u64) -> u64 {
        word & 0xFFFF_FFFF
    }

    fn handles(word: u64) -> u64 {
        word >> 32
    }

    /// Stops the process if `old`, the word before an increment, was at the limit.
    #[inline]
    fn check(old: u64) {
        if Counts::pointers(old) >= Counts::LIMIT || Counts::handles(old) >= Counts::LIMIT {
            std::process::abort();
        }
    }
}

/// The header every object block starts with.
pub(crate) struct ObjectHeader {
    /// Handle and pointer counts ([`Counts`]).
    counts: AtomicU64,
    /// The type. Registered types live as long as their kernel (see [`Domain`]).
    ty: NonNull<TypeInfo>,
    /// The kernel's object domain, uncounted (see [`Domain`]). Derived from a pointer
    /// to the whole kernel state, so the kernel layer may cast it back (`kernel::of`).
    domain: NonNull<Domain>,
    pub(crate) security: SecurityRef,
    /// Where the object is named, if it is: the one copy of its name (8 bytes here).
    pub(crate) name: Option<NameKey>,
    /// The payload, inside this same block (an [`ObjectBlock`]): a pointer derived from
    /// the block's allocation, so it may reach past the header.
    body: NonNull<()>,
}

/// One object: header and payload in a single allocation. `repr(C)` puts the header
/// first, so a pointer to the block is a pointer to its header.
#[repr(C)]
struct ObjectBlock<P> {
    header: ObjectHeader,
    body: P,
}

/// Drops a block whose payload is a `P` in place, leaving its memory allocated, and
/// returns the memory's layout.
///
/// # Safety
/// `header` must come from `allocate::<P>` and nothing may use the block afterwards.
pub(crate) unsafe fn drop_block<P>(header: NonNull<ObjectHeader>) -> Layout {
    crate::sync::note_block_freed(header.as_ptr() as usize);
    // SAFETY: per the contract, the pointer is the block's own, with its provenance, and
    // the block is initialised and ours alone.
    unsafe { std::ptr::drop_in_place(header.as_ptr().cast::<ObjectBlock<P>>()) };
    Layout::new::<ObjectBlock<P>>()
}

// SAFETY: every field but `ty`, `domain` and `body` is Send + Sync; `ty` points at an
// immutable `TypeInfo` owned by the kernel's registry and `domain` at the kernel's
// `Domain` (atomics and a fn pointer), both alive for every use (see `Domain`); `body`
// points at this block's payload, which `allocate` requires to be Send + Sync.
unsafe impl Send for ObjectHeader {}
// SAFETY: as for Send: shared access reads `*ty` (immutable), `*domain` (Sync) and `&P`
// (P: Sync).
unsafe impl Sync for ObjectHeader {}

impl ObjectHeader {
    /// The object's type.
    pub(crate) fn ty(&self) -> &TypeInfo {
        // SAFETY: `allocate` is only given a type registered in the header's own kernel
        // (`create_with` refuses a foreign `ObjectType` with INVALID_PARAMETER; the
        // engine's own calls use `kernel.builtin`), so `ty` came from an `Arc<TypeInfo>`
        // held by `kernel.types`, which never drops a registered type, and the kernel
        // outlives every use of the header (see `Domain`).
        unsafe { self.ty.as_ref() }
    }

    /// The kernel's object domain.
    pub(crate) fn domain(&self) -> &Domain {
        // SAFETY: `allocate` took it from a live kernel, and the kernel outlives every
        // use of the header (see `Domain`).
        unsafe { self.domain.as_ref() }
    }

    /// The raw domain pointer, with the provenance of the whole kernel state it was
    /// derived from (for the kernel layer's cast back).
    pub(crate) fn domain_ptr(&self) -> NonNull<Domain> {
        self.domain
    }

    /// True if the object is of the type `ty` points at.
    #[inline]
    pub(crate) fn is_type(&self, ty: *const TypeInfo) -> bool {
        std::ptr::eq(self.ty.as_ptr(), ty)
    }

    /// The payload, if it is a `P`.
    #[inline]
    pub(crate) fn body<P: Any>(&self) -> Option<&P> {
        // SAFETY: `body` points at the block's payload, whose type the object's type
        // records (`allocate` pairs a `ty` with a payload of its `P`).
        (self.ty().payload_type == TypeId::of::<P>()).then(|| unsafe { self.body.cast::<P>().as_ref() })
    }

    /// The payload of an object of type `ty`, found by the type-pointer compare alone
    /// (the hot path's check: no `Any` downcast after it).
    #[inline]
    pub(crate) fn body_of<P: Any>(&self, ty: &types::ObjectType<P>) -> Option<&P> {
        if !self.is_type(ty.info_ptr()) {
            return None;
        }
        debug_assert!(self.ty().payload_type == TypeId::of::<P>());
        // SAFETY: `ObjectType<P>` is made only by `TypeRegistry::register::<P>`, with a
        // fresh `TypeInfo` allocation, and `allocate` pairs a `ty` with a payload of its
        // `P`. Both `TypeInfo`s compared are alive at once — this header's is held by its
        // own kernel's registry (`allocate` accepts only such a type, see `ty()`), and
        // `ty` holds its own `Arc` — so equal addresses are one registration (two live
        // allocations never share an address) and the payload at `body` is a `P`.
        Some(unsafe { self.body.cast::<P>().as_ref() })
    }

    /// The number of open handles.
    pub(crate) fn handle_count(&self) -> usize {
        Counts::handles(self.counts.load(Ordering::Relaxed)) as usize
    }

    /// True once the object's last reference is gone (for good: `try_ref` never brings
    /// a count back from zero).
    pub(crate) fn is_destroyed(&self) -> bool {
        // Acquire: pairs with the Release decrement of the last release.
        Counts::pointers(self.counts.load(Ordering::Acquire)) == 0
    }

    /// True if closing the last handle has work to do: a name to remove or the type's
    /// last-handle hook. The kernel's last-handle function (`Domain::last_handle`) does
    /// nothing else, so an object without either may skip it.
    #[inline]
    fn has_last_handle_work(&self) -> bool {
        self.name.is_some() || self.ty().on_last_handle.is_some()
    }

    /// Increment-if-not-zero on the word: adds `add` unless a half `refuse` names is
    /// zero (`refuse(word)` true). The CAS loop of `try_ref` and its kin.
    #[inline]
    fn add_unless(&self, add: u64, refuse: impl Fn(u64) -> bool) -> bool {
        let mut word = self.counts.load(Ordering::Relaxed);
        loop {
            if refuse(word) {
                return false;
            }
            Counts::check(word);
            // Acquire pairs with the Release decrements of earlier holders, so whatever
            // they wrote is visible to the new one.
            match self.counts.compare_exchange_weak(word, word + add, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => word = now,
            }
        }
    }

    /// Takes `n` handle references at once (each a handle count and a pointer
    /// reference), increment-if-not-zero on both halves: false, taking nothing, if the
    /// object is destroyed or its last handle is closing. The caller owns the references
    /// it took (as raw entries, `HandleRef::from_raw`). One atomic operation for `n`
    /// handles: inheritance copies runs of entries that name one object this way.
    #[inline]
    pub(crate) fn try_add_handles(&self, n: usize) -> bool {
        let n = n as u64;
        if n >= Counts::LIMIT {
            std::process::abort();
        }
        self.add_unless(n * Counts::HANDLE_REF, |w| Counts::pointers(w) == 0 || Counts::handles(w) == 0)
    }

    /// Takes a handle reference (a handle count and its pointer reference, in one
    /// operation), increment-if-not-zero on both halves: `None` if the object is
    /// destroyed or its last handle is closing. What `try_ref` then
    /// `ObjRef::try_into_handle` would do, with one locked instruction instead of two.
    #[inline]
    pub(crate) fn try_handle_ref(&self) -> Option<HandleRef> {
        #[cfg(any(kobj_mutant = "try_ref_plain", kobj_mutant = "try_into_handle_plain"))]
        // mutant: a plain increment, resurrects a zero count
        return Some(HandleRef::adopt(ObjRef(NonNull::from(self))))
            .inspect(|_| drop(self.counts.fetch_add(Counts::HANDLE_REF, Ordering::Acquire)));
        self.try_add_handles(1).then(|| HandleRef::adopt(ObjRef(NonNull::from(self))))
    }

    /// Takes a pointer reference if the object is not yet destroyed.
    #[inline]
    pub(crate) fn try_ref(&self) -> Option<ObjRef> {
        #[cfg(kobj_mutant = "try_ref_plain")] // mutant: a plain increment, resurrects a zero count
        return Some(ObjRef(NonNull::from(self)))
            .inspect(|_| drop(self.counts.fetch_add(Counts::POINTER, Ordering::Acquire)));
        self.add_unless(Counts::POINTER, |w| Counts::pointers(w) == 0).then(|| ObjRef(NonNull::from(self)))
    }
}

/// Allocates a new object with one handle and one pointer reference, both owned by the
/// returned [`HandleRef`]; counts it in its domain's live objects.
///
/// `domain` must point at a live kernel's domain, derived from a pointer to the whole
/// kernel state, and `ty` must be a type of that kernel (the callers check it: a foreign
/// type is INVALID_PARAMETER; `ty()` relies on it). The kernel layer's `KernelShared::
/// domain` provides such a pointer.
pub(crate) fn allocate<P: Any + Send + Sync>(
    domain: NonNull<Domain>,
    ty: &types::ObjectType<P>,
    security: SecurityRef,
    name: Option<NameKey>,
    body: P,
) -> HandleRef {
    let layout = Layout::new::<ObjectBlock<P>>();
    // Memory this thread freed earlier for a block of the same layout, else new.
    let block = match cache::take(layout) {
        Some(memory) => memory.as_ptr().cast::<ObjectBlock<P>>(),
        None => {
            // SAFETY: the layout is not zero-sized (the header is not).
            let memory = unsafe { std::alloc::alloc(layout) }.cast::<ObjectBlock<P>>();
            if memory.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            memory
        }
    };
    let value = ObjectBlock {
        header: ObjectHeader {
            counts: AtomicU64::new(Counts::HANDLE_REF),
            ty: NonNull::from(&*ty.info),
            domain,
            security,
            name,
            body: NonNull::dangling(),
        },
        body,
    };
    // SAFETY: `block` is memory of `ObjectBlock<P>`'s layout that nobody else can see (a
    // fresh allocation, or a harvested block: dropped, and unreachable since the epoch
    // allowed it); the payload pointer is derived from it, so it keeps its provenance.
    unsafe {
        block.write(value);
        (*block).header.body = NonNull::new_unchecked(std::ptr::addr_of_mut!((*block).body).cast());
    }
    // SAFETY: per the contract, a live kernel's domain.
    unsafe { domain.as_ref() }.live.increment();
    crate::sync::note_block_allocated(block as usize);
    // SAFETY: `block` is non-null (checked or cached) and its header is its first field
    // (`repr(C)`).
    HandleRef::adopt(ObjRef(unsafe { NonNull::new_unchecked(block.cast::<ObjectHeader>()) }))
}

/// A counted pointer reference to an object (the engine's internal form).
pub(crate) struct ObjRef(NonNull<ObjectHeader>);

// SAFETY: an ObjRef is a counted reference to a Sync header; moving it to another thread
// moves the count with it.
unsafe impl Send for ObjRef {}
// SAFETY: shared access only reads the header, which is Sync.
unsafe impl Sync for ObjRef {}

impl ObjRef {
    /// Adopts the pointer reference that `ptr` carries (from a table entry).
    ///
    /// # Safety
    /// `ptr` must come from [`ObjRef::into_raw`] (or a [`HandleRef`]) and its reference
    /// must not be adopted twice.
    pub(crate) unsafe fn from_raw(ptr: *const ObjectHeader) -> ObjRef {
        // SAFETY: the caller passes a pointer produced from a live, counted reference,
        // which is non-null.
        ObjRef(unsafe { NonNull::new_unchecked(ptr.cast_mut()) })
    }

    pub(crate) fn as_ptr(&self) -> *const ObjectHeader {
        self.0.as_ptr()
    }

    /// Gives up the value without releasing the pointer reference it carries.
    pub(crate) fn into_raw(self) -> *const ObjectHeader {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// Raises the handle count even from zero, for an object whose last handle has no
    /// work to undo: no name and a type without a last-handle hook (a thread, which runs
    /// and is opened by id with no handle open, as on NT). The caller guarantees that.
    pub(crate) fn into_handle_unnamed(self) -> HandleRef {
        debug_assert!(self.name.is_none() && self.ty().on_last_handle.is_none());
        // Relaxed: our pointer reference keeps the object alive; the count orders nothing.
        let old = self.counts.fetch_add(Counts::HANDLE, Ordering::Relaxed);
        Counts::check(old);
        if Counts::handles(old) == 0 {
            crate::sync::note_handle_reopened(self.as_ptr() as usize);
        }
        HandleRef::adopt(self)
    }

    /// Raises the handle count if it is not zero, turning this pointer reference into a
    /// handle reference; on failure (the last handle is closing) gives the pointer
    /// reference back.
    pub(crate) fn try_into_handle(self) -> Result<HandleRef, ObjRef> {
        #[cfg(kobj_mutant = "try_into_handle_plain")] // mutant: a plain increment, resurrects
        return Ok(HandleRef::adopt(self))
            .inspect(|h| drop(h.counts.fetch_add(Counts::HANDLE, Ordering::Acquire)));
        if self.add_unless(Counts::HANDLE, |w| Counts::handles(w) == 0) {
            Ok(HandleRef::adopt(self))
        } else {
            Err(self)
        }
    }
}

impl Deref for ObjRef {
    type Target = ObjectHeader;
    fn deref(&self) -> &ObjectHeader {
        // SAFETY: this ObjRef holds a pointer reference, so the block is not destroyed.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for ObjRef {
    fn clone(&self) -> Self {
        // Relaxed: we already hold a reference, so the count cannot be zero; nothing
        // is published by taking another (as `Arc::clone`).
        Counts::check(self.counts.fetch_add(Counts::POINTER, Ordering::Relaxed));
        ObjRef(self.0)
    }
}

impl Drop for ObjRef {
    fn drop(&mut self) {
        // Release: our uses of the object happen before its destruction; the Acquire
        // fence below pairs with every other holder's Release decrement.
        if Counts::pointers(self.counts.fetch_sub(Counts::POINTER, Ordering::Release)) != 1 {
            return;
        }
        crate::sync::fence(Ordering::Acquire);
        destroy(self.0);
    }
}

#[cold]
fn destroy(ptr: NonNull<ObjectHeader>) {
    // SAFETY: the pointer count just reached zero, so the block is still allocated
    // (freeing is deferred below) and nobody can take a new reference (try_ref refuses
    // zero).
    let header = unsafe { ptr.as_ref() };
    header.domain().live.decrement();
    // A thread that read this pointer out of a table entry did so while pinned and while
    // the entry still held a reference, i.e. before this point; the cache reuses or frees
    // the block only once the epoch says every such pin is over.
    // The type's `drop_block` is read now, while the kernel (which holds the type, as it
    // holds the domain just used) is alive; the cache keeps the function pointer.
    cache::retire(ptr, header.ty().drop_block);
}

/// One handle's worth of references: a handle count and a pointer count. What a table
/// entry owns; closing the handle releases it. The pointer reference is an `ObjRef` its
/// drop releases by hand (with the handle count, in one operation, when it can).
pub(crate) struct HandleRef(ManuallyDrop<ObjRef>);

/// Several handle references to one object, released together: a run of table entries
/// naming one object, taken by one sweep (`HandleTable::close_all`). Dropping it does
/// what dropping each would — the last-handle work once, if the count reaches zero, and
/// the destruction once — with one update of each count.
pub(crate) struct HandleRefs {
    /// The object, holding the `n` pointer references (released by `drop`).
    obj: ManuallyDrop<ObjRef>,
    n: usize,
}

impl HandleRefs {
    /// A run of one.
    pub(crate) fn new(h: HandleRef) -> HandleRefs {
        let obj = ObjRef(h.0 .0);
        std::mem::forget(h);
        HandleRefs { obj: ManuallyDrop::new(obj), n: 1 }
    }

    /// Takes `h` into the run if it names the same object; else gives it back.
    pub(crate) fn absorb(&mut self, h: HandleRef) -> Option<HandleRef> {
        if h.0 .0 != self.obj.0 {
            return Some(h);
        }
        std::mem::forget(h);
        self.n += 1;
        None
    }
}

impl Drop for HandleRefs {
    fn drop(&mut self) {
        // SAFETY: taken once, here; `obj` is not used again.
        let obj = unsafe { ManuallyDrop::take(&mut self.obj) };
        release_handles(obj, self.n as u64);
    }
}

/// Gives back `n` handle references to `obj`'s object (`obj` carrying their `n` pointer
/// references): the last-handle work once, if the handle count reaches zero, and the
/// destruction once, if the pointer count does.
#[inline]
fn release_handles(obj: ObjRef, n: u64) {
    if !obj.has_last_handle_work() {
        // Both halves at once. AcqRel: Release orders our uses before a destruction by
        // whoever releases last; Acquire, if that is us, sees every other holder's.
        let old = obj.counts.fetch_sub(n * Counts::HANDLE_REF, Ordering::AcqRel);
        if Counts::handles(old) == n {
            crate::sync::note_last_handle(obj.as_ptr() as usize);
        }
        // The references `obj` carried are given back: it must not release one again.
        let ptr = obj.0;
        std::mem::forget(obj);
        if Counts::pointers(old) == n {
            destroy(ptr);
        }
        return;
    }
    // AcqRel: the last closer must see every other closer's writes before it runs the
    // last-handle work.
    if Counts::handles(obj.counts.fetch_sub(n * Counts::HANDLE, Ordering::AcqRel)) == n {
        last_handle_closed(&obj);
    }
    // The pointer references: all but the one `obj` holds, then that one (its drop
    // destroys the object if it was the last anywhere). Release: our uses happen before
    // a later destruction; `obj`'s own keeps this one from reaching zero.
    if n > 1 {
        obj.counts.fetch_sub((n - 1) * Counts::POINTER, Ordering::Release);
    }
    drop(obj);
}

impl HandleRef {
    /// A handle reference made of a pointer reference whose handle count the caller
    /// has already taken.
    fn adopt(obj: ObjRef) -> HandleRef {
        HandleRef(ManuallyDrop::new(obj))
    }

    /// Adopts the handle reference a table entry carried.
    ///
    /// # Safety
    /// As [`ObjRef::from_raw`]: `ptr` must carry a handle and a pointer reference that
    /// nobody else adopts.
    pub(crate) unsafe fn from_raw(ptr: *const ObjectHeader) -> HandleRef {
        // SAFETY: forwarded from the caller.
        HandleRef::adopt(unsafe { ObjRef::from_raw(ptr) })
    }

    pub(crate) fn into_raw(self) -> *const ObjectHeader {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// Another handle reference to the same object (a duplicate or inherited handle).
    pub(crate) fn another(&self) -> HandleRef {
        // Relaxed: this handle keeps both counts above zero.
        Counts::check(self.counts.fetch_add(Counts::HANDLE_REF, Ordering::Relaxed));
        HandleRef::adopt(ObjRef(self.0 .0))
    }

    /// The pointer reference inside, for reading the object.
    pub(crate) fn object(&self) -> &ObjRef {
        &self.0
    }

    /// Gives up the handle count but keeps the pointer reference (a process's handle to
    /// itself, which must not keep the process in use). May run the last-handle work.
    pub(crate) fn into_pointer(self) -> ObjRef {
        let pointer = ObjRef::clone(&self.0);
        drop(self);
        pointer
    }
}

impl Deref for HandleRef {
    type Target = ObjectHeader;
    fn deref(&self) -> &ObjectHeader {
        &self.0
    }
}

impl Drop for HandleRef {
    fn drop(&mut self) {
        // SAFETY: taken once, here; the field is not used again.
        let obj = unsafe { ManuallyDrop::take(&mut self.0) };
        release_handles(obj, 1);
    }
}

#[cold]
fn last_handle_closed(obj: &ObjRef) {
    crate::sync::note_last_handle(obj.as_ptr() as usize);
    // The layers above decide what a last handle means (a name removed, a process
    // terminated): this layer only calls up through the hook the kernel registered.
    (obj.domain().last_handle)(obj);
}
