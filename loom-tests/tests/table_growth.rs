//! Model 4 — table growth: two inserts that both need a new leaf page (and a new root
//! level: the root CAS with the level tag), or both a new top level, while a lookup walks
//! the old root (two threads: the main thread looks up, then inserts). Under loom a leaf holds 2 entries and a mid page 2 leaves, so level 0
//! holds slots 0..2, level 1 slots 0..4, level 2 the rest.
//!
//! Both inserts succeed with distinct handles, the losers' pages are freed (no leak, no
//! double free: a leaked page would not show in the block accounting, but loom's own
//! leak check sees its atomics), the lookup of an existing handle always finds its object,
//! and the table is consistent at rest.
#![cfg(loom)]

use kobj_loom_tests::{create, loom_surface, model, read, setup, Gate};

fn grow(existing: usize) {
    model(move || {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let old: Vec<_> = (0..existing).map(|i| create(&p, &ty, i as u32).unwrap()).collect();
        let inserter = {
            let (p, ty) = (p.clone(), ty.clone());
            gate.spawn(move || create(&p, &ty, 100).unwrap())
        };
        // The lookup walks whichever root it loads, the old one or a grown one; then this
        // thread's insert races the other's for the new pages and the root.
        assert_eq!(read(&p, old[0]), Some((0, 0)));
        let mine = create(&p, &ty, 101).unwrap();
        gate.wait();
        let new = [inserter.take(), mine];
        assert_ne!(new[0], new[1]);
        for (i, &h) in new.iter().enumerate() {
            assert!(!old.contains(&h));
            let id = read(&p, h).expect("an inserted handle is not found: its entry was lost").0;
            assert!(id == 100 || id == 101, "handle {i} reads object {id}");
        }
        assert_eq!(loom_surface::check_table(&p), existing + 2);
        for h in old.into_iter().chain(new) {
            p.close_handle(h).unwrap();
        }
        drop(p);
        gate.finish(kernel);
    });
}

/// Level 0 full (one leaf): both inserts need a mid page and a second leaf.
#[test]
fn table_growth_new_leaf() {
    grow(2);
}

/// Level 1 full (two leaves): both inserts need a top page and a new mid and leaf.
#[test]
fn table_growth_new_level() {
    grow(4);
}
