//! [`ObjectRef`]: a counted, typed reference to an object that outlives any pin.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use crate::kernel::KernelShared;
use crate::object::ObjRef;
use crate::sync::Arc;

/// A counted reference to an object whose payload is a `P`, outliving any pin.
///
/// Keeps the object's memory alive (not the object in use: its name goes when the
/// last *handle* closes), and its kernel: an object's header reaches its kernel without a
/// count, so every holder outside the kernel's own structures keeps the kernel.
/// Dereferences to the payload.
pub struct ObjectRef<P> {
    obj: ObjRef,
    _kernel: Arc<KernelShared>,
    _payload: PhantomData<fn() -> P>,
}

impl<P: Any> ObjectRef<P> {
    pub(crate) fn new(obj: ObjRef, kernel: &Arc<KernelShared>) -> Option<Self> {
        obj.body::<P>()?;
        Some(ObjectRef { obj, _kernel: Arc::clone(kernel), _payload: PhantomData })
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
        ObjectRef { obj: self.obj.clone(), _kernel: Arc::clone(&self._kernel), _payload: PhantomData }
    }
}

impl<P: Any + fmt::Debug> fmt::Debug for ObjectRef<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectRef").field("type", &self.obj.ty().name).field("payload", &**self).finish()
    }
}
