//! Model 1 — the entry seqlock: a lookup (`meta` → `object` → `meta`) racing a close of
//! the same handle and the reuse of its slot by another insert.
//!
//! The reader must get the old object under the old generation (its block still
//! allocated: the pin keeps it) or nothing — never the new object under the old
//! generation, the old under the new, a free-list link or freed memory (a hook in the
//! lookup checks the pointer is a live block before it is dereferenced).
//!
//! Catches `seqlock_no_recheck` and `link_relaxed` (the bug of review issue 7, item 1).
#![cfg(loom)]

use kobj_loom_tests::{create, loom_surface, model, read, setup, Gate};

#[test]
fn entry_seqlock_lookup_vs_close_and_reuse() {
    model(|| {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let h = create(&p, &ty, 1).unwrap();
        let reader = {
            let p = p.clone();
            gate.spawn(move || read(&p, h))
        };
        p.close_handle(h).unwrap();
        let h2 = create(&p, &ty, 2).unwrap();
        assert_eq!(h2, h, "LIFO reuse of the slot");
        gate.wait();
        match reader.take() {
            None | Some((1, 0)) | Some((2, 1)) => {}
            Some(other) => panic!("lookup read (object, generation) = {other:?}"),
        }
        assert_eq!(loom_surface::check_table(&p), 1);
        p.close_handle(h2).unwrap();
        drop(p);
        gate.finish(kernel);
    });
}
