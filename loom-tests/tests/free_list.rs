//! Model 3 — the striped Treiber free lists: closes (pushes) and inserts (pops) racing
//! on one stripe and across stripes. At rest no slot is lost or on a list twice, no live
//! slot is on a list, and two inserts never get one slot (`check_table`).
//!
//! `free_list_aba` is the ABA interleaving a tagless pop falls to: one insert reads the
//! head and its link, then, before its CAS, another thread pops that slot and the next,
//! and pushes them back so the same slot is on top again with another link. The tag
//! makes the stale CAS fail. Catches `pop_no_tag`.
#![cfg(loom)]

use kobj_loom_tests::{create, loom_surface, model, setup, Gate};

fn close_and_insert(other_stripe: usize) {
    model(move || {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let h0 = create(&p, &ty, 1).unwrap();
        let h1 = create(&p, &ty, 2).unwrap();
        let t = {
            let (p, ty) = (p.clone(), ty.clone());
            gate.spawn(move || {
                loom_surface::set_stripe(other_stripe);
                p.close_handle(h1).unwrap();
                create(&p, &ty, 4).unwrap()
            })
        };
        p.close_handle(h0).unwrap();
        let mine = create(&p, &ty, 3).unwrap();
        gate.wait();
        let theirs = t.take();
        assert_ne!(mine, theirs, "one slot handed out twice");
        assert_eq!(loom_surface::check_table(&p), 2);
        p.close_handle(mine).unwrap();
        p.close_handle(theirs).unwrap();
        assert_eq!(loom_surface::check_table(&p), 0);
        drop(p);
        gate.finish(kernel);
    });
}

#[test]
fn free_list_one_stripe() {
    close_and_insert(0);
}

#[test]
fn free_list_across_stripes() {
    close_and_insert(1);
}

#[test]
fn free_list_aba() {
    model(|| {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        // Slots 0..4; free 2, 1, 0 (the list is 0 -> 1 -> 2), take 0 back: the head is
        // slot 1 with link 2, just after a pop.
        let hs: Vec<_> = (0..4).map(|i| create(&p, &ty, i).unwrap()).collect();
        for &h in hs[..3].iter().rev() {
            p.close_handle(h).unwrap();
        }
        let y = create(&p, &ty, 10).unwrap();
        assert_eq!(y, hs[0]);
        let t = {
            let (p, ty) = (p.clone(), ty.clone());
            gate.spawn(move || {
                // pop 1, pop 2, push 1, push y, pop y: slot 1 is on top again, linked to
                // nothing, and slot 2 is live.
                let a = create(&p, &ty, 20).unwrap();
                let b = create(&p, &ty, 21).unwrap();
                p.close_handle(a).unwrap();
                p.close_handle(y).unwrap();
                let c = create(&p, &ty, 22).unwrap();
                vec![b, c]
            })
        };
        let mine = create(&p, &ty, 30).unwrap();
        gate.wait();
        let mut live = t.take();
        assert!(!live.contains(&mine), "one slot handed out twice");
        live.push(mine);
        live.push(hs[3]);
        assert_eq!(loom_surface::check_table(&p), live.len());
        for h in live {
            p.close_handle(h).unwrap();
        }
        assert_eq!(loom_surface::check_table(&p), 0);
        drop(p);
        gate.finish(kernel);
    });
}
