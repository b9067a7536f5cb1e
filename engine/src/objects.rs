//! The built-in object types and their payloads.
//!
//! Each is registered through [`TypeRegistry::register`], the mechanism behind
//! [`Kernel::register_type`](crate::Kernel::register_type), with the generic mapping and
//! valid-access mask of SPEC §2.

use std::fs::File as HostFile;
use std::path::PathBuf;

use crate::access::{Access, GenericMapping};
use crate::object::types::{ObjectType, TypeRegistry};
use crate::object::ObjRef;
use crate::process::{self, ProcessObject};
use crate::sync::{AtomicBool, AtomicI32, AtomicU32, Mutex as Lock, Ordering};

/// A mutex (NT "Mutant"). Ownership is recorded but not waited on: the engine has no
/// threads yet.
#[derive(Debug)]
pub struct Mutex {
    /// The id of the owning process, 0 when free.
    pub(crate) owner: AtomicU32,
}

/// An event.
#[derive(Debug)]
pub struct Event {
    /// Manual-reset (true) or auto-reset.
    pub(crate) manual_reset: bool,
    /// Signalled.
    pub(crate) signaled: AtomicBool,
}

/// A semaphore.
#[derive(Debug)]
pub struct Semaphore {
    pub(crate) count: AtomicI32,
    pub(crate) maximum: i32,
}

/// A waitable timer.
#[derive(Debug)]
pub struct WaitableTimer {
    pub(crate) manual_reset: bool,
    pub(crate) signaled: AtomicBool,
}

/// A file-mapping object (NT "Section").
#[derive(Debug)]
pub struct FileMapping {
    pub(crate) protect: u32,
    pub(crate) maximum_size: u64,
    /// The file it maps, if it is not backed by the paging file. Released when the
    /// mapping's last handle closes ([`mapping_last_handle`]), not when its block is
    /// reclaimed: the file's `object_count` must drop with the mapping (SPEC §3).
    pub(crate) file: Lock<Option<ObjRef>>,
    /// True if a file backs it (kept after the file reference is released).
    pub(crate) file_backed: bool,
}

/// A job object.
#[derive(Debug)]
pub struct Job {
    pub(crate) _private: (),
}

/// A file object over a real file on disk. The file pointer lives here, so every handle
/// to this object shares it.
#[derive(Debug)]
pub struct File {
    pub(crate) host: Lock<HostFile>,
    pub(crate) path: PathBuf,
}

impl Mutex {
    /// The id of the owning process, or `None` when the mutex is free.
    #[must_use]
    pub fn owner(&self) -> Option<u32> {
        Some(self.owner.load(Ordering::Acquire)).filter(|&pid| pid != 0)
    }
}

impl Event {
    /// True for a manual-reset event.
    #[must_use]
    pub fn manual_reset(&self) -> bool {
        self.manual_reset
    }

    /// True while signalled.
    #[must_use]
    pub fn is_signaled(&self) -> bool {
        self.signaled.load(Ordering::Acquire)
    }
}

impl Semaphore {
    /// The current count.
    #[must_use]
    pub fn count(&self) -> i32 {
        self.count.load(Ordering::Acquire)
    }

    /// The maximum count.
    #[must_use]
    pub fn maximum(&self) -> i32 {
        self.maximum
    }
}

impl WaitableTimer {
    /// True for a manual-reset timer.
    #[must_use]
    pub fn manual_reset(&self) -> bool {
        self.manual_reset
    }

    /// True while signalled (a timer is created unsignalled).
    #[must_use]
    pub fn is_signaled(&self) -> bool {
        self.signaled.load(Ordering::Acquire)
    }
}

/// The file-mapping type's last-handle hook: releases the mapping's reference to its
/// file. A payload is dropped only when its block is reclaimed (epoch), which may be
/// much later; a reference held there would keep the file counted as live.
pub(crate) fn mapping_last_handle(header: &crate::object::ObjectHeader) {
    if let Some(m) = header.body::<FileMapping>() {
        let file = crate::sync::lock(&m.file).take();
        drop(file);
    }
}

impl FileMapping {
    /// The page protection and SEC_* flags it was created with.
    #[must_use]
    pub fn protect(&self) -> u32 {
        self.protect
    }

    /// Its size in bytes.
    #[must_use]
    pub fn maximum_size(&self) -> u64 {
        self.maximum_size
    }

    /// True if a file backs it (not the paging file).
    #[must_use]
    pub fn is_file_backed(&self) -> bool {
        self.file_backed
    }
}

impl File {
    /// The host path it was opened at.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl std::fmt::Debug for ObjRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjRef({} @ {:p})", self.ty().name, self.as_ptr())
    }
}

/// The built-in types of one kernel.
pub(crate) struct Builtins {
    pub(crate) process: ObjectType<ProcessObject>,
    pub(crate) mutex: ObjectType<Mutex>,
    pub(crate) event: ObjectType<Event>,
    pub(crate) semaphore: ObjectType<Semaphore>,
    pub(crate) timer: ObjectType<WaitableTimer>,
    pub(crate) mapping: ObjectType<FileMapping>,
    pub(crate) job: ObjectType<Job>,
    pub(crate) file: ObjectType<File>,
    pub(crate) namespace: ObjectType<crate::names::PrivateNamespace>,
}

fn mask(bits: u32) -> Access {
    Access::from_bits_retain(bits)
}

impl Builtins {
    pub(crate) fn register(types: &TypeRegistry) -> Builtins {
        let state = GenericMapping::new(0x20001, 0x20002, 0x120000, 0x1F0003);
        let registered = (|| {
            Ok::<_, crate::Error>(Builtins {
                process: types.register(
                    "Process",
                    GenericMapping::new(0x20410, 0x20BEA, 0x121001, 0x1FFFFF),
                    mask(0x1FFFFF),
                    Some(process::on_last_handle),
                )?,
                mutex: types.register(
                    "Mutant",
                    GenericMapping::new(0x20001, 0x20000, 0x120000, 0x1F0001),
                    mask(0x1F0001),
                    None,
                )?,
                event: types.register("Event", state, mask(0x1F0003), None)?,
                semaphore: types.register("Semaphore", state, mask(0x1F0003), None)?,
                timer: types.register("Timer", state, mask(0x1F0003), None)?,
                // A file mapping's valid mask also holds SYNCHRONIZE (SPEC §2).
                mapping: types.register(
                    "Section",
                    GenericMapping::new(0x20005, 0x20002, 0x20008, 0xF001F),
                    mask(0x1F001F),
                    Some(mapping_last_handle),
                )?,
                job: types.register(
                    "Job",
                    GenericMapping::new(0x20004, 0x2000B, 0x120000, 0x1F003F),
                    mask(0x1F003F),
                    None,
                )?,
                namespace: types.register(
                    "Directory",
                    GenericMapping::new(0x20003, 0x2000C, 0x20003, 0xF000F),
                    mask(0xF000F),
                    Some(crate::names::namespace_last_handle),
                )?,
                file: types.register(
                    "File",
                    GenericMapping::new(0x120089, 0x120116, 0x1200A0, 0x1F01FF),
                    mask(0x1F01FF),
                    None,
                )?,
            })
        })();
        match registered {
            Ok(b) => b,
            // The built-in masks are constants within the storable range and the names
            // are distinct, so registration into a fresh registry cannot fail.
            Err(e) => unreachable!("built-in type registration failed: {e}"),
        }
    }
}
