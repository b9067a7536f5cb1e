//! Model 5 — terminate against insert: `close_all` (closed flag, SeqCst fence, sweep)
//! racing an insert's `fill` (LIVE store, SeqCst fence, closed check).
//!
//! Whatever the interleaving, no handle survives in the dead table (no live entry, live
//! count zero), the inserted object is released exactly once (destroyed by the time
//! both are done) and every block is freed once. Catches `fill_no_fence`.
#![cfg(loom)]

use kobj_loom_tests::{create, loom_surface, model, setup, Gate};

#[test]
fn terminate_vs_insert() {
    model(|| {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let inserter = {
            let (p, ty) = (p.clone(), ty.clone());
            gate.spawn(move || create(&p, &ty, 1))
        };
        p.terminate(7).unwrap();
        gate.wait();
        // Ok (the insert finished first, then the sweep closed it) or ACCESS_DENIED.
        let r = inserter.take();
        assert!(r.is_ok() || r == Err(kobj::Error::AccessDenied), "{r:?}");
        assert_eq!(loom_surface::check_table(&p), 0, "a handle survived in a dead table");
        assert_eq!(p.handle_count(), 0);
        assert_eq!(kernel.object_count(), 2, "the inserted object is released; the process and its main thread remain");
        drop(p);
        gate.finish(kernel);
    });
}
