//! Object types as data.
//!
//! A type is a name, a generic mapping, a valid-access mask and a payload (a Rust
//! type). The built-in types are registered through [`Kernel::register_type`], the same
//! call an embedder uses for its own (a socket, a WASI resource), so nothing in the
//! engine is a closed enum of kinds.
//!
//! [`Kernel::register_type`]: crate::Kernel::register_type

use std::any::{Any, TypeId};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::access::{Access, GenericMapping};
use crate::error::{Error, Result};
use crate::object::ObjectHeader;
use crate::security::TypeRights;
use crate::sync::{lock, Mutex};

/// The bits an access mask may hold once mapped: the sixteen specific rights and the
/// five standard rights. A valid-access mask outside it cannot be stored in an entry.
pub(crate) const STORABLE_ACCESS: u32 = 0x001F_FFFF;

/// A hook run when an object's last handle closes (the process type terminates the
/// process there). Internal: embedders release resources in their payload's `Drop`.
pub(crate) type LastHandleHook = fn(&ObjectHeader);

/// The description of one object type.
pub(crate) struct TypeInfo {
    /// The id of the kernel whose registry holds this type: objects of the type may be
    /// made only in that kernel, whose registry keeps this `TypeInfo` alive for them.
    pub(crate) kernel: u64,
    pub(crate) name: String,
    pub(crate) mapping: GenericMapping,
    pub(crate) valid: Access,
    pub(crate) on_last_handle: Option<LastHandleHook>,
    /// Where an object of this type keeps its signal state; `None`: always signalled.
    pub(crate) waitable: Option<WaitableOf>,
    /// The payload type `P` every object of this type carries, for checked downcasts
    /// (kept here, not in each object's header).
    pub(crate) payload_type: TypeId,
    /// Drops an object block of this type in place (`ObjectBlock<P>`) and returns its
    /// layout, for the memory to be reused or freed (`cache`).
    pub(crate) drop_block: super::cache::DropBlock,
}

/// Finds the signal state in an object of one type (`None` if the payload is not the
/// type's: never for objects made through the type).
pub(crate) type WaitableOf = fn(&ObjectHeader) -> Option<&crate::wait::Waitable>;

impl TypeInfo {
    pub(crate) fn rights(&self) -> TypeRights {
        TypeRights { mapping: self.mapping, valid: self.valid }
    }

    /// The type's ALL_ACCESS: what the creator of a new object holds.
    pub(crate) fn all_access(&self) -> Access {
        self.mapping.all
    }
}

/// A registered object type whose objects carry a payload of type `P`.
///
/// Obtained from [`Kernel::register_type`](crate::Kernel::register_type); cheap to clone.
/// Lookups through it check that a handle names an object of exactly this type.
pub struct ObjectType<P> {
    pub(crate) info: Arc<TypeInfo>,
    _payload: PhantomData<fn() -> P>,
}

impl<P> Clone for ObjectType<P> {
    fn clone(&self) -> Self {
        ObjectType { info: Arc::clone(&self.info), _payload: PhantomData }
    }
}

impl<P> fmt::Debug for ObjectType<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectType").field("name", &self.info.name).field("valid", &self.info.valid).finish()
    }
}

impl<P> ObjectType<P> {
    /// The type's name ("Mutant", "Event", …).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The type's generic mapping.
    #[must_use]
    pub fn mapping(&self) -> GenericMapping {
        self.info.mapping
    }

    /// The type's valid-access mask: no handle holds a bit outside it.
    #[must_use]
    pub fn valid_access(&self) -> Access {
        self.info.valid
    }

    pub(crate) fn info_ptr(&self) -> *const TypeInfo {
        Arc::as_ptr(&self.info)
    }

    /// True if the type was registered in the kernel with id `kernel`. An object may be
    /// made only with a type of its own kernel: its header points at the `TypeInfo`
    /// without a count, relying on that kernel's registry to keep it alive.
    pub(crate) fn belongs_to(&self, kernel: u64) -> bool {
        self.info.kernel == kernel
    }
}

/// Every type a kernel knows. Append-only: a registered type lives as long as the
/// kernel, so object headers of this kernel may point at their `TypeInfo` without a
/// count. (A type of another kernel is refused at creation: `ObjectType::belongs_to`.)
pub(crate) struct TypeRegistry {
    /// The owning kernel's id, stamped into every `TypeInfo` registered here.
    kernel: u64,
    types: Mutex<Vec<Arc<TypeInfo>>>,
}

impl TypeRegistry {
    pub(crate) fn new(kernel: u64) -> TypeRegistry {
        TypeRegistry { kernel, types: Mutex::new(Vec::new()) }
    }

    pub(crate) fn register<P: Any + Send + Sync>(
        &self,
        name: &str,
        mapping: GenericMapping,
        valid: Access,
        on_last_handle: Option<LastHandleHook>,
        waitable: Option<WaitableOf>,
    ) -> Result<ObjectType<P>> {
        let storable = Access::from_bits_retain(STORABLE_ACCESS);
        let parts = [mapping.read, mapping.write, mapping.execute, mapping.all, valid];
        if name.is_empty() || parts.iter().any(|m| !storable.contains(*m)) || !valid.contains(mapping.all) {
            return Err(Error::InvalidParameter);
        }
        let mut types = lock(&self.types);
        if types.iter().any(|t| t.name == name) {
            return Err(Error::AlreadyExists);
        }
        let info = Arc::new(TypeInfo {
            kernel: self.kernel,
            name: name.to_owned(),
            mapping,
            valid,
            on_last_handle,
            waitable,
            payload_type: TypeId::of::<P>(),
            drop_block: super::drop_block::<P>,
        });
        types.push(Arc::clone(&info));
        Ok(ObjectType { info, _payload: PhantomData })
    }

    /// The names of every registered type, in registration order.
    pub(crate) fn names(&self) -> Vec<String> {
        lock(&self.types).iter().map(|t| t.name.clone()).collect()
    }
}
