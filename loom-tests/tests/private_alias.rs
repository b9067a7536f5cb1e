//! Model 9 — a private-namespace alias against the close and reuse of the handle it was
//! opened with.
//!
//! A process maps alias `a` to a private namespace with handle `hns` and names an object
//! `a\x` in it; it also holds a second handle to the namespace, so closing `hns` is not
//! the namespace's last handle. One thread opens `a\x` while the main thread closes `hns`
//! and duplicates the second handle, which lands at `hns`'s value (LIFO) — the same
//! namespace object, the same directory, only the entry's generation differs. The open
//! either resolved the alias while `hns` was open (and got object 1) or finds `a` an
//! ordinary, missing component (PATH_NOT_FOUND); after the close the alias is dead, even
//! though the value names the namespace again.
//!
//! The open runs `ns.open` under a dashmap shard's read lock with loom yields inside;
//! nothing else in this model takes that shard (the main thread's close and duplicate do
//! not touch the name table), so the dashmap is never contended.
#![cfg(loom)]

use kobj::{Access, BoundaryDescriptor, Error};
use kobj_loom_tests::{dup, loom_surface, model, read, setup, Gate, Obj};

#[test]
fn private_alias_vs_close_and_reuse() {
    model(|| {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let boundary = BoundaryDescriptor { name: "b".into(), sids: vec![] };
        let hns = p.create_private_namespace(&boundary, "a").unwrap();
        let hx = p.create_object(&ty, Obj(1), None, Some("a\\x")).unwrap().handle;
        let second = dup(&p, hns).unwrap();
        let opener = {
            let (p, ty) = (p.clone(), ty.clone());
            gate.spawn(move || p.open_object(&ty, Access::from_bits_retain(1), false, "a\\x"))
        };
        p.close_handle(hns).unwrap();
        let again = dup(&p, second).unwrap();
        gate.wait();
        let opened = opener.take();
        match opened {
            Ok(h) => {
                assert_eq!(read(&p, h).map(|r| r.0), Some(1));
                p.close_handle(h).unwrap();
            }
            Err(e) => assert_eq!(e, Error::PathNotFound),
        }
        assert_eq!(
            p.open_object(&ty, Access::from_bits_retain(1), false, "a\\x"),
            Err(Error::PathNotFound),
            "the alias outlived the handle it was opened with"
        );
        for h in [hx, second, again] {
            p.close_handle(h).unwrap();
        }
        assert_eq!(loom_surface::check_table(&p), 0);
        drop(p);
        gate.finish(kernel);
    });
}

/// The same alias, with the reuse racing the close: one thread closes `hns` while the main
/// thread duplicates the second handle and then opens `a\x`. If the duplicate took `hns`'s
/// value, the close had already taken the entry out of the table — so the alias is dead
/// for the open that follows, even if the closer has not yet unmapped it (the alias
/// remembers its handle's generation; the close's pruning comes after its CAS).
#[test]
fn private_alias_vs_racing_reuse() {
    model(|| {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let boundary = BoundaryDescriptor { name: "b".into(), sids: vec![] };
        let hns = p.create_private_namespace(&boundary, "a").unwrap();
        let hx = p.create_object(&ty, Obj(1), None, Some("a\\x")).unwrap().handle;
        let second = dup(&p, hns).unwrap();
        let closer = {
            let p = p.clone();
            gate.spawn(move || p.close_handle(hns))
        };
        let again = dup(&p, second).unwrap();
        let opened = p.open_object(&ty, Access::from_bits_retain(1), false, "a\\x");
        if again == hns {
            assert_eq!(opened, Err(Error::PathNotFound), "a reused handle value revived the alias");
        }
        if let Ok(h) = opened {
            assert_eq!(read(&p, h).map(|r| r.0), Some(1));
            p.close_handle(h).unwrap();
        }
        gate.wait();
        closer.take().unwrap();
        for h in [hx, second, again] {
            p.close_handle(h).unwrap();
        }
        assert_eq!(loom_surface::check_table(&p), 0);
        drop(p);
        gate.finish(kernel);
    });
}
