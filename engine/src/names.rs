//! Named objects (temporary: wired to kobj-namespace next).
use crate::access::Access;
use crate::error::{Error, Result};
use crate::object::types::{ObjectType, TypeInfo};
use crate::object::{HandleRef, ObjectHeader};
use crate::process::Process;
use crate::security::SecurityDescriptor;
use std::any::Any;
use std::sync::Arc;

pub(crate) struct NameKey;
#[derive(Default)]
pub(crate) struct PrivateAliases;
impl PrivateAliases {
    pub(crate) fn clear(&self) {}
}
pub(crate) struct Names;
impl Names {
    pub(crate) fn new() -> Names {
        Names
    }
    pub(crate) fn ensure_session(&self, _s: u32) {}
    pub(crate) fn remove(&self, _k: &NameKey, _o: *const ObjectHeader) {}
    pub(crate) fn open(
        &self,
        _p: &Process,
        _t: &Arc<TypeInfo>,
        _a: Access,
        _n: &str,
    ) -> Result<(HandleRef, Access)> {
        Err(Error::FileNotFound)
    }
    pub(crate) fn create<P: Any + Send + Sync>(
        &self,
        _p: &Process,
        _t: &ObjectType<P>,
        _s: SecurityDescriptor,
        _n: &str,
        _m: impl FnOnce() -> Result<P>,
    ) -> Result<(HandleRef, Access, bool)> {
        Err(Error::InvalidParameter)
    }
}
