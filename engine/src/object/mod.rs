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

pub(crate) mod types;

use std::any::{Any, TypeId};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

use crate::kernel::KernelShared;
use crate::security::ObjectSecurity;
use crate::sync::{epoch, Arc, AtomicUsize, Ordering};
use types::TypeInfo;

/// The header every object block starts with.
pub(crate) struct ObjectHeader {
    handles: AtomicUsize,
    pointers: AtomicUsize,
    /// The type. Registered types live as long as the kernel, which `kernel` keeps alive.
    ty: NonNull<TypeInfo>,
    kernel: Arc<KernelShared>,
    pub(crate) security: ObjectSecurity,
    /// Where the object is named, if it is.
    pub(crate) name: Option<crate::names::NameKey>,
    /// The payload's type, for checked downcasts.
    payload_type: TypeId,
    /// The payload, inside this same block (an [`ObjectBlock`]): a pointer derived from
    /// the block's allocation, so it may reach past the header.
    body: NonNull<()>,
    /// Frees the whole block (`ObjectBlock<P>` for the payload type `P`).
    free: unsafe fn(NonNull<ObjectHeader>),
}

/// One object: header and payload in a single allocation. `repr(C)` puts the header
/// first, so a pointer to the block is a pointer to its header.
#[repr(C)]
struct ObjectBlock<P> {
    header: ObjectHeader,
    body: P,
}

/// Frees a block whose payload is a `P`.
///
/// # Safety
/// `header` must come from `allocate::<P>` (a leaked `Box<ObjectBlock<P>>`), and nothing
/// may use the block afterwards.
unsafe fn free_block<P>(header: NonNull<ObjectHeader>) {
    crate::sync::note_block_freed(header.as_ptr() as usize);
    // SAFETY: per the contract, the pointer is the block's own, with its provenance.
    drop(unsafe { Box::from_raw(header.as_ptr().cast::<ObjectBlock<P>>()) });
}

// SAFETY: every field but `ty` and `body` is Send + Sync; `ty` points at an immutable
// `TypeInfo` owned by the kernel's registry, which `kernel` keeps alive for the header's
// lifetime; `body` points at this block's payload, which `allocate` requires to be
// Send + Sync.
unsafe impl Send for ObjectHeader {}
// SAFETY: as for Send: shared access reads `*ty` (immutable) and `&P` (P: Sync).
unsafe impl Sync for ObjectHeader {}

impl ObjectHeader {
    /// The object's type.
    pub(crate) fn ty(&self) -> &TypeInfo {
        // SAFETY: `ty` came from an `Arc<TypeInfo>` held by `kernel.types`, which never
        // drops a registered type; `self.kernel` keeps that registry alive.
        unsafe { self.ty.as_ref() }
    }

    /// True if the object is of the type `ty` points at.
    #[inline]
    pub(crate) fn is_type(&self, ty: *const TypeInfo) -> bool {
        std::ptr::eq(self.ty.as_ptr(), ty)
    }

    pub(crate) fn kernel(&self) -> &Arc<KernelShared> {
        &self.kernel
    }

    /// The payload, if it is a `P`.
    #[inline]
    pub(crate) fn body<P: Any>(&self) -> Option<&P> {
        // SAFETY: `body` points at the block's payload, whose type `payload_type` records.
        (self.payload_type == TypeId::of::<P>()).then(|| unsafe { self.body.cast::<P>().as_ref() })
    }

    /// The payload of an object of type `ty`, found by the type-pointer compare alone
    /// (the hot path's check: no `Any` downcast after it).
    #[inline]
    pub(crate) fn body_of<P: Any>(&self, ty: &types::ObjectType<P>) -> Option<&P> {
        if !self.is_type(ty.info_ptr()) {
            return None;
        }
        debug_assert!(self.payload_type == TypeId::of::<P>());
        // SAFETY: `ObjectType<P>` is made only by `TypeRegistry::register::<P>`, with a
        // fresh `TypeInfo` allocation, and `allocate` pairs a `ty` with a payload of its
        // `P`. Both `TypeInfo`s compared are alive (the kernel's registry keeps this
        // header's; `ty` holds its own), so equal addresses are one registration and the
        // payload at `body` is a `P`.
        Some(unsafe { self.body.cast::<P>().as_ref() })
    }

    /// The number of open handles.
    pub(crate) fn handle_count(&self) -> usize {
        self.handles.load(Ordering::Relaxed)
    }

    /// Takes a pointer reference if the object is not yet destroyed.
    #[inline]
    pub(crate) fn try_ref(&self) -> Option<ObjRef> {
        #[cfg(kobj_mutant = "try_ref_plain")] // mutant: a plain increment, resurrects a zero count
        return Some(ObjRef(NonNull::from(self)))
            .inspect(|_| drop(self.pointers.fetch_add(1, Ordering::Acquire)));
        let mut n = self.pointers.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            // Acquire pairs with the Release decrement of `release`, so whatever the
            // previous holders wrote is visible to the new one.
            match self.pointers.compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(ObjRef(NonNull::from(self))),
                Err(now) => n = now,
            }
        }
    }
}

/// Allocates a new object with one handle and one pointer reference, both owned by the
/// returned [`HandleRef`]; counts it in the kernel's `object_count`.
pub(crate) fn allocate<P: Any + Send + Sync>(
    kernel: &Arc<KernelShared>,
    ty: &types::ObjectType<P>,
    security: ObjectSecurity,
    name: Option<crate::names::NameKey>,
    body: P,
) -> HandleRef {
    let block = Box::into_raw(Box::new(ObjectBlock {
        header: ObjectHeader {
            handles: AtomicUsize::new(1),
            pointers: AtomicUsize::new(1),
            ty: NonNull::from(&*ty.info),
            kernel: Arc::clone(kernel),
            security,
            name,
            payload_type: TypeId::of::<P>(),
            body: NonNull::dangling(),
            free: free_block::<P>,
        },
        body,
    }));
    // SAFETY: `block` is a fresh allocation nobody else can see yet; the payload pointer
    // is derived from it, so it keeps the block's provenance.
    unsafe {
        (*block).header.body = NonNull::new_unchecked(std::ptr::addr_of_mut!((*block).body).cast());
    }
    kernel.objects_created();
    crate::sync::note_block_allocated(block as usize);
    // SAFETY: `block` is non-null (Box) and its header is its first field (`repr(C)`).
    HandleRef(ObjRef(unsafe { NonNull::new_unchecked(block.cast::<ObjectHeader>()) }))
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

    /// Raises the handle count if it is not zero, turning this pointer reference into a
    /// handle reference; on failure (the last handle is closing) gives the pointer
    /// reference back.
    pub(crate) fn try_into_handle(self) -> Result<HandleRef, ObjRef> {
        let handles = &self.handles;
        #[cfg(kobj_mutant = "try_into_handle_plain")] // mutant: a plain increment, resurrects
        return Ok(HandleRef(self)).inspect(|h| drop(h.handles.fetch_add(1, Ordering::Acquire)));
        let mut n = handles.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return Err(self);
            }
            match handles.compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Ok(HandleRef(self)),
                Err(now) => n = now,
            }
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
        self.pointers.fetch_add(1, Ordering::Relaxed);
        ObjRef(self.0)
    }
}

impl Drop for ObjRef {
    fn drop(&mut self) {
        // Release: our uses of the object happen before its destruction; the Acquire
        // fence below pairs with every other holder's Release decrement.
        if self.pointers.fetch_sub(1, Ordering::Release) != 1 {
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
    header.kernel.objects_destroyed();
    let raw = ptr.as_ptr() as usize;
    let free = header.free;
    let guard = epoch::pin();
    // SAFETY: the block came from `allocate` and `free` is its own freeing function. A
    // thread that read this pointer out of a table entry did so while pinned and while
    // the entry still held a reference, i.e. before this point; epoch defers the free
    // until every such pin is over, so no reader touches freed memory.
    unsafe {
        guard.defer_unchecked(move || free(NonNull::new_unchecked(raw as *mut ObjectHeader)));
    }
}

/// One handle's worth of references: a handle count and a pointer count. What a table
/// entry owns; closing the handle releases it.
pub(crate) struct HandleRef(ObjRef);

impl HandleRef {
    /// Adopts the handle reference a table entry carried.
    ///
    /// # Safety
    /// As [`ObjRef::from_raw`]: `ptr` must carry a handle and a pointer reference that
    /// nobody else adopts.
    pub(crate) unsafe fn from_raw(ptr: *const ObjectHeader) -> HandleRef {
        // SAFETY: forwarded from the caller.
        HandleRef(unsafe { ObjRef::from_raw(ptr) })
    }

    pub(crate) fn into_raw(self) -> *const ObjectHeader {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// Another handle reference to the same object (a duplicate or inherited handle).
    pub(crate) fn another(&self) -> HandleRef {
        // Relaxed: this handle keeps both counts above zero.
        self.0.pointers.fetch_add(1, Ordering::Relaxed);
        self.0.handles.fetch_add(1, Ordering::Relaxed);
        HandleRef(ObjRef(self.0 .0))
    }

    /// The pointer reference inside, for reading the object.
    pub(crate) fn object(&self) -> &ObjRef {
        &self.0
    }

    /// Gives up the handle count but keeps the pointer reference (a process's handle to
    /// itself, which must not keep the process in use). May run the last-handle work.
    pub(crate) fn into_pointer(self) -> ObjRef {
        let pointer = self.0.clone();
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
        // AcqRel: the last closer must see every other closer's writes before it runs
        // the last-handle work.
        if self.0.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            last_handle_closed(&self.0);
        }
        // The pointer reference is released when the inner ObjRef drops.
    }
}

#[cold]
fn last_handle_closed(obj: &ObjRef) {
    crate::sync::note_last_handle(obj.as_ptr() as usize);
    if let Some(key) = &obj.name {
        obj.kernel.names.remove(key, obj.as_ptr());
    }
    if let Some(hook) = obj.ty().on_last_handle {
        hook(obj);
    }
}

/// A counted reference to an object whose payload is a `P`, outliving any pin.
///
/// Keeps the object's memory alive (not the object in use: its name goes when the
/// last *handle* closes). Dereferences to the payload.
pub struct ObjectRef<P> {
    obj: ObjRef,
    _payload: PhantomData<fn() -> P>,
}

impl<P: Any> ObjectRef<P> {
    pub(crate) fn new(obj: ObjRef) -> Option<Self> {
        obj.body::<P>()?;
        Some(ObjectRef { obj, _payload: PhantomData })
    }

    /// The untyped counted reference inside.
    pub(crate) fn into_counted(self) -> ObjRef {
        self.obj
    }

    /// True if both references name the same object.
    #[must_use]
    pub fn same_object(&self, other: &ObjectRef<P>) -> bool {
        std::ptr::eq(self.obj.as_ptr(), other.obj.as_ptr())
    }
}

impl<P: Any> Deref for ObjectRef<P> {
    type Target = P;
    fn deref(&self) -> &P {
        match self.obj.body::<P>() {
            Some(p) => p,
            // `new` checked the payload type, and a payload never changes.
            None => unreachable!("ObjectRef payload type checked at construction"),
        }
    }
}

impl<P> Clone for ObjectRef<P> {
    fn clone(&self) -> Self {
        ObjectRef { obj: self.obj.clone(), _payload: PhantomData }
    }
}

impl<P: Any + fmt::Debug> fmt::Debug for ObjectRef<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectRef").field("type", &self.obj.ty().name).field("payload", &**self).finish()
    }
}
