//! # kobj
//!
//! An embeddable, lock-free engine for the Windows kernel-object model: per-process
//! handle tables, reference-counted objects, one shared object namespace, handle
//! inheritance, `DuplicateHandle` and access control — usable from many host threads at
//! once, with no global lock.
//!
//! ```
//! use kobj::{Access, Kernel, ProcessOptions, SecurityAttributes};
//!
//! let kernel = Kernel::new();
//! let parent = kernel.create_process(ProcessOptions::default()).unwrap();
//! let sa = SecurityAttributes { inherit_handle: true, ..Default::default() };
//! let event = parent.create_event(Some(&sa), true, false, None).unwrap().handle;
//! let child = parent.create_process(true, ProcessOptions::default()).unwrap();
//! // The child holds the same object at the same handle value.
//! child.process.set_event(event).unwrap();
//! assert_eq!(parent.event_state(event), Ok(true));
//! ```
//!
//! The crate's layout: [`table`](self) (the lock-free handle table), `object` (object
//! blocks, types, lifetime), `security`, `process` (calling as a process), `win32` (the
//! Win32-shaped calls), `names` (named objects) and `sync` (the atomics facade loom
//! swaps). ARCHITECTURE.md explains the whole.

#![deny(unsafe_op_in_unsafe_fn)]

mod access;
mod error;
mod handle;
mod ids;
mod kernel;
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_surface;
mod names;
mod object;
mod objects;
mod process;
mod query;
mod reference;
mod security;
mod sync;
mod table;
mod thread;
mod time;
mod wait;
mod win32;

pub use access::{Access, DuplicateOptions, GenericMapping, HandleFlags};
pub use error::{Error, Result};
pub use handle::Handle;
pub use kernel::{Kernel, KernelBuilder, DEFAULT_HANDLE_LIMIT};
pub use names::{BoundaryDescriptor, EntryKind, PrivateNamespace};
pub use object::types::ObjectType;
pub use objects::{Event, File, FileMapping, Job, Mutex, Semaphore, WaitableTimer};
pub use process::{Child, Created, HandleInfo, Pinned, Process, ProcessOptions};
pub use query::{ProcessInfo, ThreadInfo};
pub use reference::ObjectRef;
pub use security::{Ace, Privilege, SecurityAttributes, SecurityDescriptor, Sid, Token};
pub use thread::{EventInfo, MutexInfo, NewThread, SemaphoreInfo, Thread, WaitFuture};
pub use time::{Clock, Due, TimerInfo};
pub use wait::{Signal, Signaled, WaitStatus};
pub use win32::CreationDisposition;

/// The README's example is compiled and run as a doc test, so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}
