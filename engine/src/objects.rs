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
use crate::sync::Mutex as Lock;
use crate::thread::ThreadObject;
use crate::wait::{self, Kind, Waitable};
use std::any::Any;

/// A mutex (NT "Mutant"): owned by a thread, recursively.
#[derive(Debug)]
pub struct Mutex {
    pub(crate) w: Waitable,
}

/// An event. Manual or auto reset is kept with its signal state (`Kind::Event`), not in a
/// field of its own: a `bool` beside the `Waitable` would cost 8 bytes a payload.
#[derive(Debug)]
pub struct Event {
    pub(crate) w: Waitable,
}

/// A semaphore. Its maximum is kept with its count (`Kind::Semaphore`).
#[derive(Debug)]
pub struct Semaphore {
    pub(crate) w: Waitable,
}

/// A waitable timer.
#[derive(Debug)]
pub struct WaitableTimer {
    pub(crate) manual_reset: bool,
    /// Its signal state and arming (SPEC §7.5).
    pub(crate) core: crate::time::TimerCore,
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

/// A job object. Never signalled here (kobj has no job time limits).
#[derive(Debug)]
pub struct Job {
    pub(crate) w: Waitable,
}

/// A file object over a real file on disk. The file pointer lives here, so every handle
/// to this object shares it.
#[derive(Debug)]
pub struct File {
    pub(crate) host: Lock<HostFile>,
    pub(crate) path: PathBuf,
}

impl Mutex {
    /// The id of the owning thread, or `None` when the mutex is free.
    #[must_use]
    pub fn owner(&self) -> Option<u32> {
        wait::query(&self.w, |k| k.mutex_owner().map(|o| o.tid))
    }
}

impl Event {
    /// True for a manual-reset event.
    #[must_use]
    pub fn manual_reset(&self) -> bool {
        wait::query(&self.w, |k| matches!(k, Kind::Event { manual: true, .. }))
    }

    /// True while signalled.
    #[must_use]
    pub fn is_signaled(&self) -> bool {
        self.w.event_is_set()
    }
}

impl Semaphore {
    /// The current count.
    #[must_use]
    pub fn count(&self) -> i32 {
        wait::query(&self.w, |k| match k {
            Kind::Semaphore { count, .. } => *count,
            _ => 0,
        })
    }

    /// The maximum count.
    #[must_use]
    pub fn maximum(&self) -> i32 {
        wait::query(&self.w, |k| match k {
            Kind::Semaphore { maximum, .. } => *maximum,
            _ => 0,
        })
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
        self.core.waitable().event_is_set()
    }
}

/// A payload that embeds its object's signal state.
pub(crate) trait HasWaitable: Any {
    fn waitable(&self) -> &Waitable;
}

macro_rules! has_waitable {
    ($($t:ty => $f:ident),* $(,)?) => {
        $(impl HasWaitable for $t {
            fn waitable(&self) -> &Waitable {
                &self.$f
            }
        })*
    };
}

has_waitable!(Mutex => w, Event => w, Semaphore => w, Job => w, ProcessObject => signal, ThreadObject => signal);

impl HasWaitable for WaitableTimer {
    fn waitable(&self) -> &Waitable {
        self.core.waitable()
    }
}

/// The [`WaitableOf`] of a payload type.
fn waitable_of<P: HasWaitable>(h: &crate::object::ObjectHeader) -> Option<&Waitable> {
    h.body::<P>().map(P::waitable)
}

/// The mutex type's last-handle hook (see `wait::mutex_last_handle`).
fn mutex_last_handle(header: &crate::object::ObjectHeader) {
    if let Some(m) = header.body::<Mutex>() {
        wait::mutex_last_handle(header, &m.w);
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
    pub(crate) thread: ObjectType<ThreadObject>,
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
                    Some(waitable_of::<ProcessObject>),
                )?,
                thread: types.register(
                    "Thread",
                    GenericMapping::new(0x20048, 0x20037, 0x121800, 0x1FFFFF),
                    mask(0x1FFFFF),
                    None,
                    Some(waitable_of::<ThreadObject>),
                )?,
                mutex: types.register(
                    "Mutant",
                    GenericMapping::new(0x20001, 0x20000, 0x120000, 0x1F0001),
                    mask(0x1F0001),
                    Some(mutex_last_handle),
                    Some(waitable_of::<Mutex>),
                )?,
                event: types.register("Event", state, mask(0x1F0003), None, Some(waitable_of::<Event>))?,
                semaphore: types.register(
                    "Semaphore",
                    state,
                    mask(0x1F0003),
                    None,
                    Some(waitable_of::<Semaphore>),
                )?,
                timer: types.register(
                    "Timer",
                    state,
                    mask(0x1F0003),
                    None,
                    Some(waitable_of::<WaitableTimer>),
                )?,
                // A file mapping's valid mask also holds SYNCHRONIZE (SPEC §2).
                mapping: types.register(
                    "Section",
                    GenericMapping::new(0x20005, 0x20002, 0x20008, 0xF001F),
                    mask(0x1F001F),
                    Some(mapping_last_handle),
                    None,
                )?,
                job: types.register(
                    "Job",
                    GenericMapping::new(0x20004, 0x2000B, 0x120000, 0x1F003F),
                    mask(0x1F003F),
                    None,
                    Some(waitable_of::<Job>),
                )?,
                namespace: types.register(
                    "Directory",
                    GenericMapping::new(0x20003, 0x2000C, 0x20003, 0xF000F),
                    mask(0xF000F),
                    Some(crate::names::namespace_last_handle),
                    None,
                )?,
                file: types.register(
                    "File",
                    GenericMapping::new(0x120089, 0x120116, 0x1200A0, 0x1F01FF),
                    mask(0x1F01FF),
                    None,
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
