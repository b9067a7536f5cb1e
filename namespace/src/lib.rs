//! The object namespace of kobj: the NT object directory tree, held in one sharded table,
//! generic over the object it names.
//!
//! # Layout
//!
//! ```text
//! \                                   root
//! \BaseNamedObjects                   global namespace = session 0's local namespace
//!     Global  -> \BaseNamedObjects
//!     Local   -> \BaseNamedObjects
//!     Session -> \Sessions\BNOLINKS
//! \Sessions
//! \Sessions\BNOLINKS
//!     0 -> \BaseNamedObjects
//!     n -> \Sessions\n\BaseNamedObjects      (while session n exists)
//! \Sessions\n\BaseNamedObjects        session n's local namespace (n >= 1)
//!     Global, Local, Session          as above, Local -> itself
//! ```
//!
//! [`Namespace::new`] builds the skeleton and session 0; [`Namespace::enter_session`]
//! adds session n, [`Namespace::leave_session`] lets it go (see "Sessions"). A Win32
//! name (`x`, `Local\x`, `Global\x`, `Session\2\x`, `alias\x`) is a path relative to the
//! caller's session directory; [`Namespace::resolve`] walks it to a [`Resolved`]
//! `(directory, final component)`, the operations then act on that one name. A private
//! namespace ([`Namespace::create_private`]) is a directory found by its boundary rather
//! than by path; a process that holds it reaches it through its alias, which the engine
//! supplies to `resolve` as a callback.
//!
//! # Two sharded tables
//!
//! The directories and links of every directory live in one `DashMap` keyed by
//! `(DirId, name)`; the named objects of every directory in a second table, a sharded
//! set of the engine's references (`table.rs`), each found by the name its object
//! carries ([`Named`]): the namespace keeps no copy of an object's name. The two never
//! hold the same name: a directory that may hold objects holds no directory or link but
//! the three fixed links of a session directory, whose names are never objects'. A name
//! operation hashes its name to one shard of the object set and takes that shard's lock
//! and no other of the set (a create in a session directory n ≥ 1 also holds its
//! session's shard lock, shared, and the removal of such a name takes it just after: see
//! "Sessions"), so creators of unrelated names in the same directory do not meet, and
//! there is no per-directory lock for a popular directory (`\BaseNamedObjects` holds most
//! names) to serialise on. Walking a path costs one shared shard lock of the directory
//! table per component, taken and released in turn; the hottest prefixes, a session
//! directory's fixed links `Global`, `Local` and `Session`, are answered without touching
//! it. Directories are plain ids ([`DirId`]): the skeleton's and each session's are
//! computed, so the tree needs no side table, and a directory costs nothing until it has
//! entries. A named object costs the set one pointer-sized `T` and the hash table's slack
//! and control bytes: `tests/memory.rs` measures about 19 bytes a name for a million
//! names. Names are hashed with the standard `RandomState`, since untrusted processes
//! choose them.
//!
//! # Lifetime: the two races
//!
//! The engine's objects have a handle count; a name must vanish the moment its object's
//! handle count reaches zero, and no one may obtain a handle to an object after that.
//! The namespace holds the engine's counted reference `T`, and the engine passes
//! closures in, so this crate never needs to know what an object is:
//!
//! - **Open against last close.** [`Namespace::open`] and
//!   [`Namespace::create_or_open`] call the engine's `acquire` on the named object under
//!   the name's shard lock, and `acquire` increments the handle count only if it is not
//!   zero. The last closer decrements the count to zero first and only then calls
//!   [`Namespace::remove_if`]. Either the opener's increment comes first (then the
//!   count never reaches zero while it holds the handle: the close was not the last) or
//!   the decrement does (then `acquire` sees zero and declines: the open fails with
//!   [`NameError::NotFound`], or the create makes a new object). No handle to a dead
//!   object is ever made, whatever order the shard lock is taken in. The entry's own
//!   `T` keeps the object's memory valid while `acquire` looks at it.
//! - **The closer against a new creator.** Between the count reaching zero and the
//!   closer's `remove_if`, a creator may find the dying entry, treat the name as free
//!   and replace it with a new object. `remove_if` therefore removes the entry only if
//!   the engine's predicate still recognises it as the closing object (identity), so
//!   the replacement keeps its name.
//! - **Two creators.** Both run under the same shard lock for the name, held exclusive
//!   from the lookup to the insert: the first finds no live object and runs `make`, the
//!   second finds the first's object and runs `acquire`. Exactly one sees
//!   `already_existed == false`. `make` runs under the lock, so a failing `make`
//!   publishes nothing.
//!
//! Private namespaces follow the same rules, keyed by boundary instead of name: the
//! engine's namespace object (a `T` with a handle count, like any object) is stored with
//! the directory; [`Namespace::open_private`] acquires it increment-if-not-zero, and the
//! closer of its last handle calls [`Namespace::remove_private_if`] with an identity
//! check. The count lives in the engine, not here, so duplicated or inherited namespace
//! handles need nothing from this crate. Objects created inside a private namespace
//! outlive it until their own last close, unreachable: directory ids are never reused.
//!
//! The closures run under a shard lock: they must be short and must not call back into
//! the namespace. A replaced or removed `T` is dropped only after the lock is released.
//!
//! # Sessions: created with the first process, removed after the last
//!
//! Session n ≥ 1 exists (its six entries: `\Sessions\n`, its `BaseNamedObjects`, the
//! three links, `\Sessions\BNOLINKS\n`) while a process is in it or an object is named
//! in its object directory; session 0 always exists. Beside the name table, a second
//! `DashMap` keyed by session number holds each session's two counts: processes
//! ([`Namespace::enter_session`] / [`Namespace::leave_session`], called by the engine at
//! process creation and termination) and names in its object directory. The protocol:
//!
//! - **Lock order**: a session's shard, then a name's shard; never a session's shard
//!   while holding a name's. Counts change only under the session's shard lock, shared;
//!   the session's six entries are published and removed only under it, exclusive, the
//!   removal only if both counts are 0. So a process that entered finds its session
//!   complete, and one entering while the session goes either counts in it first (no
//!   removal) or rebuilds it, empty, after.
//! - **Create against removal.** [`Namespace::create_or_open`] in session n's directory
//!   (from a process of n, or from elsewhere through `Session\n\x`) looks the session up
//!   under its shard lock, shared, and keeps that lock while it takes the name's and
//!   inserts; a new name is counted before the name's lock is released. The removal
//!   cannot run in between: either the session is found (and then the new name keeps it)
//!   or it is gone, and the create fails with [`NameError::PathNotFound`], as a walk one
//!   instant later would. A process alive in the session counts in it, so its creates
//!   never fail this way. Opens need no session lock: a removed session has no names, so
//!   an open that walked into it just before finds nothing, as it would have just before
//!   the removal.
//! - **Last one out.** A name is uncounted after [`Namespace::remove_if`] removed it (so
//!   the count never falls below the names present). Whoever takes one count to 0 and
//!   sees the other at 0 tries the removal; the decrements and those loads are SeqCst, so
//!   when the last process leaves while the last name goes, at least one sees both at 0.
//!
//! The cost on the hot path: names in the global directory pay nothing; a create in a
//! session directory n ≥ 1 one shared shard lock more (on the session's entry) and one
//! atomic increment, the removal of such a name the same; opens and walks nothing.
//!
//! # How an engine drives it
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use kobj_namespace::{DirId, NameError, Named, Namespace};
//!
//! // The object keeps its own name; the namespace finds it by that name.
//! #[derive(Debug)]
//! struct Object { handles: AtomicUsize, dir: DirId, name: String }
//!
//! impl Named for Object {
//!     fn name_key(&self) -> (DirId, &str) {
//!         (self.dir, &self.name)
//!     }
//! }
//!
//! // Take a handle only while the object lives: increment if not zero.
//! fn acquire(object: &Arc<Object>) -> Option<Result<Arc<Object>, NameError>> {
//!     let mut n = object.handles.load(Ordering::Relaxed);
//!     while n != 0 {
//!         match object.handles.compare_exchange(n, n + 1, Ordering::Acquire, Ordering::Relaxed) {
//!             Ok(_) => return Some(Ok(Arc::clone(object))),
//!             Err(now) => n = now,
//!         }
//!     }
//!     None
//! }
//!
//! let ns: Namespace<Arc<Object>> = Namespace::new();
//! let at = ns.resolve(0, "Global\\app", |_| None)?;
//! let made = ns.create_or_open(at, acquire, || {
//!     let object = Arc::new(Object { handles: AtomicUsize::new(1), dir: at.dir, name: at.name.to_owned() });
//!     Ok::<_, NameError>((Arc::clone(&object), object))
//! })?;
//! assert!(!made.already_existed);
//!
//! let opened = ns.open(ns.resolve(0, "app", |_| None)?, acquire)?;
//! assert!(Arc::ptr_eq(&opened, &made.value));
//!
//! // Close both handles; the last closer removes the name, if it is still this object.
//! for handle in [opened, made.value] {
//!     if handle.handles.fetch_sub(1, Ordering::Release) == 1 {
//!         ns.remove_if(at, |named| Arc::ptr_eq(named, &handle));
//!     }
//! }
//! assert_eq!(ns.open(at, acquire).unwrap_err(), NameError::NotFound);
//! # Ok::<(), NameError>(())
//! ```

mod dir;
mod error;
mod key;
mod namespace;
mod objects;
mod private;
mod session;
mod table;

pub use dir::DirId;
pub use error::NameError;
pub use namespace::{EntryKind, Namespace, Resolved, MAX_NAME_UNITS};
pub use objects::CreateOutcome;
pub use table::Named;
