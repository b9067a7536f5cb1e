//! A fake engine object for the tests: a handle count with increment-if-not-zero, as the
//! engine's objects have.

#![allow(dead_code)] // each test binary uses a different part

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use kobj_namespace::{CreateOutcome, DirId, NameError, Named, Namespace, Resolved};

/// An engine object as far as the namespace sees it.
#[derive(Debug)]
pub struct FakeObj {
    /// Open handles; the name must go when this reaches zero.
    pub handles: AtomicUsize,
    /// The object's type, for type checks and listing.
    pub kind: &'static str,
    /// Set by the closer that took `handles` to zero.
    pub dead: AtomicBool,
    /// Where it is named (the root and "" for a private namespace's object, never named).
    pub dir: DirId,
    pub name: String,
}

impl Named for FakeObj {
    fn name_key(&self) -> (DirId, &str) {
        (self.dir, &self.name)
    }
}

/// The counted reference the namespace stores.
pub type Obj = Arc<FakeObj>;

/// The namespace under test.
pub type Ns = Namespace<Obj>;

/// A new object of `kind` with one handle, named `at`.
pub fn named_obj(kind: &'static str, at: Resolved<'_>) -> Obj {
    Arc::new(FakeObj {
        handles: AtomicUsize::new(1),
        kind,
        dead: AtomicBool::new(false),
        dir: at.dir,
        name: at.name.to_owned(),
    })
}

/// A new object of `kind` with one handle and no name (a private namespace's object).
pub fn new_obj(kind: &'static str) -> Obj {
    named_obj(kind, Resolved { dir: DirId::ROOT, name: "" })
}

/// Takes a handle if the object is alive (increment-if-not-zero); `None` if it is dying.
pub fn acquire(object: &Obj) -> Option<Result<Obj, NameError>> {
    let mut n = object.handles.load(Ordering::Relaxed);
    loop {
        if n == 0 {
            return None;
        }
        match object.handles.compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => {
                assert!(!object.dead.load(Ordering::SeqCst), "acquired a dead object");
                return Some(Ok(Arc::clone(object)));
            }
            Err(now) => n = now,
        }
    }
}

/// `acquire` with the engine's type check: another type is `ERROR_INVALID_HANDLE`.
pub fn acquire_kind(kind: &'static str) -> impl FnOnce(&Obj) -> Option<Result<Obj, NameError>> {
    move |object| {
        if object.kind != kind {
            return Some(Err(NameError::NotAnObject));
        }
        acquire(object)
    }
}

/// `make` for a new object of `kind` named `at`: the namespace keeps one reference, the
/// caller the other (its handle).
pub fn make<'a>(kind: &'static str, at: Resolved<'a>) -> impl FnOnce() -> Result<(Obj, Obj), NameError> + 'a {
    move || {
        let object = named_obj(kind, at);
        Ok((Arc::clone(&object), object))
    }
}

/// `make` for a private namespace's object of `kind` (unnamed).
pub fn make_unnamed(kind: &'static str) -> impl FnOnce() -> Result<(Obj, Obj), NameError> {
    make(kind, Resolved { dir: DirId::ROOT, name: "" })
}

/// Creates or opens `name` as a "mutex" from `session`, with no private namespaces.
pub fn create(ns: &Ns, session: u32, name: &str) -> Result<CreateOutcome<Obj>, NameError> {
    let at = ns.resolve(session, name, |_| None)?;
    ns.create_or_open(at, acquire_kind("mutex"), make("mutex", at))
}

/// Opens `name` as a "mutex" from `session`, with no private namespaces.
pub fn open(ns: &Ns, session: u32, name: &str) -> Result<Obj, NameError> {
    let at = ns.resolve(session, name, |_| None)?;
    ns.open(at, acquire_kind("mutex"))
}

/// Closes one handle to `object`, named at `at`; the last closer removes the name if it is
/// still this object. Returns whether this was the last handle.
pub fn close(ns: &Ns, at: Resolved<'_>, object: &Obj) -> bool {
    if object.handles.fetch_sub(1, Ordering::Release) == 1 {
        object.dead.store(true, Ordering::SeqCst);
        ns.remove_if(at, |named| Arc::ptr_eq(named, object));
        true
    } else {
        false
    }
}

/// Whether two results name the same object.
pub fn same(a: &Obj, b: &Obj) -> bool {
    Arc::ptr_eq(a, b)
}
