//! Lifetime rules of names (SPEC §3 "Named objects", "Private namespaces", §5 pitfalls),
//! checked one step at a time with a fake object.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::{acquire, acquire_kind, close, create, make, make_unnamed, new_obj, open, Ns, Obj};
use kobj_namespace::{DirId, NameError, Resolved};

/// Puts `object` into the state its last closer leaves it in between its decrement to zero
/// and its `remove_if`: dying, but still named.
fn start_dying(object: &Obj) {
    assert_eq!(object.handles.swap(0, Ordering::SeqCst), 1);
    object.dead.store(true, Ordering::SeqCst);
}

fn at(name: &str) -> Resolved<'_> {
    Resolved { dir: DirId::GLOBAL, name }
}

// SPEC: "`create_*` with a name that does not exist creates the object; `already_existed =
// false`" and "with the name of an existing object of the same type opens it".
#[test]
fn create_then_create_opens_the_same_object() {
    let ns = Ns::new();
    let first = create(&ns, 0, "m").unwrap();
    assert!(!first.already_existed);
    let second = create(&ns, 0, "m").unwrap();
    assert!(second.already_existed);
    assert!(common::same(&first.value, &second.value));
    assert_eq!(first.value.handles.load(Ordering::SeqCst), 2);
}

// SPEC §5: "open-by-name must take a reference only if the object is still alive
// (increment-if-not-zero): never resurrect an object whose last handle is closing."
// A create that finds a dying object treats the name as free.
#[test]
fn a_dying_object_is_replaced_by_create() {
    let ns = Ns::new();
    let old = create(&ns, 0, "m").unwrap().value;
    start_dying(&old);
    let new = create(&ns, 0, "m").unwrap();
    assert!(!new.already_existed, "the dying object must not be reopened");
    assert!(!common::same(&old, &new.value));
    assert_eq!(old.handles.load(Ordering::SeqCst), 0);
    // The namespace dropped its reference to the old object.
    assert_eq!(Arc::strong_count(&old), 1);
    assert!(common::same(&open(&ns, 0, "m").unwrap(), &new.value));
}

// SPEC: "an open racing with the last close either gets a handle to the live object or
// `FILE_NOT_FOUND`, never a handle to a dead object."
#[test]
fn open_of_a_dying_object_is_not_found() {
    let ns = Ns::new();
    let old = create(&ns, 0, "m").unwrap().value;
    start_dying(&old);
    assert_eq!(open(&ns, 0, "m").unwrap_err().win32_code(), 2);
    assert_eq!(old.handles.load(Ordering::SeqCst), 0);
}

// The last closer of a replaced object must not remove its replacement.
#[test]
fn remove_if_leaves_a_replacement_alone() {
    let ns = Ns::new();
    let old = create(&ns, 0, "m").unwrap().value;
    start_dying(&old);
    let new = create(&ns, 0, "m").unwrap().value;
    // The old object's closer arrives late.
    assert!(!ns.remove_if(at("m"), |named| Arc::ptr_eq(named, &old)));
    assert!(common::same(&open(&ns, 0, "m").unwrap(), &new));
    // The new object's own last close does remove it.
    close(&ns, at("m"), &new);
    assert!(close(&ns, at("m"), &new));
    assert_eq!(open(&ns, 0, "m").unwrap_err(), NameError::NotFound);
    assert!(!ns.remove_if(at("m"), |_| true));
}

// SPEC: a name disappears with its object's last handle.
#[test]
fn the_last_close_removes_the_name() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    let a = create(&ns, 0, "m").unwrap().value;
    let b = open(&ns, 0, "m").unwrap();
    assert_eq!(ns.entry_count(), baseline + 1);
    assert!(!close(&ns, at("m"), &a));
    assert!(common::same(&open(&ns, 0, "Global\\m").unwrap(), &b));
    assert!(!close(&ns, at("m"), &b));
    assert!(close(&ns, at("m"), &b));
    assert_eq!(ns.entry_count(), baseline);
    assert_eq!(Arc::strong_count(&a), 2, "only the test's two clones remain");
}

// SPEC §5: "A create that fails (limit, access) must not leave a published name behind."
#[test]
fn a_failing_make_leaves_no_name() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    let fail = || Err::<(Obj, ()), _>(NameError::AccessDenied);
    let err = ns.create_or_open(at("m"), |_| Some(Ok(())), fail).unwrap_err();
    assert_eq!(err, NameError::AccessDenied);
    assert_eq!(ns.entry_count(), baseline);

    // Failing to replace a dying object removes the dying name too.
    let old = create(&ns, 0, "m").unwrap().value;
    start_dying(&old);
    let err = ns.create_or_open(at("m"), |_| None::<Result<(), _>>, fail).unwrap_err();
    assert_eq!(err, NameError::AccessDenied);
    assert_eq!(ns.entry_count(), baseline);
    assert_eq!(Arc::strong_count(&old), 1);
    // ...and its late closer finds nothing to remove.
    assert!(!ns.remove_if(at("m"), |named| Arc::ptr_eq(named, &old)));
}

// SPEC: "the access asked for ... may fail with `ACCESS_DENIED`" — a refusal by `acquire`
// (type or access) fails the call and leaves the name and its object as they were.
#[test]
fn a_refusing_acquire_keeps_the_name() {
    let ns = Ns::new();
    let object = create(&ns, 0, "m").unwrap().value;
    let err = ns
        .create_or_open(
            at("m"),
            |_| Some(Err::<(), _>(NameError::AccessDenied)),
            || panic!("make must not run for a live object"),
        )
        .unwrap_err();
    assert_eq!(err.win32_code(), 5);
    let err = ns.open(at("m"), acquire_kind("event")).unwrap_err();
    assert_eq!(err.win32_code(), 6);
    assert!(common::same(&open(&ns, 0, "m").unwrap(), &object));
}

// Directories and links are never objects, never replaced, never removed by remove_if.
#[test]
fn directories_and_links_are_not_objects() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    for (dir, name) in [
        (DirId::ROOT, "BaseNamedObjects"),
        (DirId::ROOT, "Sessions"),
        (DirId::BNOLINKS, "0"),
        (DirId::GLOBAL, "Global"),
    ] {
        let at = Resolved { dir, name };
        let err = ns.create_or_open(at, acquire, || panic!("make must not run")).unwrap_err();
        assert_eq!(err, NameError::NotAnObject, "{name}");
        assert_eq!(ns.open(at, acquire).unwrap_err(), NameError::NotAnObject);
        assert!(!ns.remove_if(at, |_| true));
    }
    // The skeleton holds no new objects.
    let at = Resolved { dir: DirId::ROOT, name: "x" };
    let err = ns.create_or_open(at, acquire, make("mutex", at)).unwrap_err();
    assert_eq!(err, NameError::AccessDenied);
    assert_eq!(ns.entry_count(), baseline);
}

// SPEC "Private namespaces": "creating one whose boundary already exists is
// `ALREADY_EXISTS`", "a missing one is `FILE_NOT_FOUND`".
#[test]
fn private_namespaces_are_found_by_boundary() {
    let ns = Ns::new();
    let (dir, handle) =
        ns.create_private("b".to_owned(), |_| unreachable!(), |_| make_unnamed("namespace")()).unwrap();
    assert!(dir.is_private());
    assert_eq!(dir.path(), None);
    let alive = |o: &Obj| o.handles.load(Ordering::SeqCst) != 0;
    let err = ns.create_private("b".to_owned(), alive, |_| make_unnamed("namespace")()).unwrap_err();
    assert_eq!(err.win32_code(), 183);

    let (opened_dir, opened) = ns.open_private(&"b".to_owned(), acquire).unwrap();
    assert_eq!(opened_dir, dir);
    assert!(common::same(&opened, &handle));
    assert_eq!(ns.open_private(&"c".to_owned(), acquire).unwrap_err().win32_code(), 2);

    // Objects inside are in the one table, under the private directory.
    let inside = Resolved { dir, name: "obj" };
    let object = ns.create_or_open(inside, acquire, make("mutex", inside)).unwrap();
    assert!(!object.already_existed);
    assert_eq!(ns.list(dir, |o| o.kind.to_owned()).len(), 1);

    // The last namespace handle closes: the engine removes it if it is still the same.
    for h in [&opened, &handle] {
        h.handles.fetch_sub(1, Ordering::SeqCst);
    }
    assert!(!ns.remove_private_if(&"b".to_owned(), |o| Arc::ptr_eq(o, &new_obj("x"))));
    assert!(ns.remove_private_if(&"b".to_owned(), |o| Arc::ptr_eq(o, &handle)));
    assert_eq!(ns.open_private(&"b".to_owned(), acquire).unwrap_err(), NameError::NotFound);

    // A new namespace with the same boundary is a new, empty directory; the old one's
    // objects live on until their own last close, but are not reachable through it.
    let (new_dir, _new) = ns.create_private("b".to_owned(), alive, |_| make_unnamed("namespace")()).unwrap();
    assert_ne!(new_dir, dir);
    let through_new = Resolved { dir: new_dir, name: "obj" };
    assert_eq!(ns.open(through_new, acquire).unwrap_err(), NameError::NotFound);
    assert!(common::same(&ns.open(inside, acquire).unwrap(), &object.value));
}

// A dying private namespace (last handle closed, not yet removed) is free for a new one,
// and cannot be opened.
#[test]
fn a_dying_private_namespace_is_replaced() {
    let ns = Ns::new();
    let alive = |o: &Obj| o.handles.load(Ordering::SeqCst) != 0;
    let (old_dir, old) = ns.create_private("b".to_owned(), alive, |_| make_unnamed("namespace")()).unwrap();
    start_dying(&old);
    assert_eq!(ns.open_private(&"b".to_owned(), acquire).unwrap_err(), NameError::NotFound);
    let (new_dir, new) = ns.create_private("b".to_owned(), alive, |_| make_unnamed("namespace")()).unwrap();
    assert_ne!(old_dir, new_dir);
    assert!(!ns.remove_private_if(&"b".to_owned(), |o| Arc::ptr_eq(o, &old)));
    let (dir, opened) = ns.open_private(&"b".to_owned(), acquire).unwrap();
    assert_eq!(dir, new_dir);
    assert!(common::same(&opened, &new));

    // A failing make leaves no namespace behind.
    opened.handles.fetch_sub(1, Ordering::SeqCst);
    start_dying(&new);
    let err = ns
        .create_private("b".to_owned(), alive, |_| Err::<(Obj, ()), _>(NameError::AccessDenied))
        .unwrap_err();
    assert_eq!(err, NameError::AccessDenied);
    assert_eq!(ns.open_private(&"b".to_owned(), acquire).unwrap_err(), NameError::NotFound);
}
