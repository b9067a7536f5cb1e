//! Model 2 — the entry's close CAS: two closes of one handle. Exactly one wins, and the
//! handle reference it adopts is released once (the object is destroyed once, its
//! last-handle work runs once, its block is freed once).
#![cfg(loom)]

use kobj_loom_tests::{create, loom_surface, model, setup, Gate};

#[test]
fn entry_close_twice() {
    model(|| {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let h = create(&p, &ty, 1).unwrap();
        let other = {
            let p = p.clone();
            gate.spawn(move || p.close_handle(h))
        };
        let mine = p.close_handle(h);
        gate.wait();
        let theirs = other.take();
        assert!(mine.is_ok() != theirs.is_ok(), "exactly one close wins: {mine:?} {theirs:?}");
        assert!(mine == Err(kobj::Error::InvalidHandle) || theirs == Err(kobj::Error::InvalidHandle));
        assert_eq!(kernel.object_count(), 2, "the object is destroyed, the process and its main thread are not");
        assert_eq!(loom_surface::check_table(&p), 0);
        drop(p);
        gate.finish(kernel);
    });
}
