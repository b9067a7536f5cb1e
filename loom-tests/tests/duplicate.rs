//! Model 6 — `duplicate_handle` against `close` of its source.
//!
//! - in place and into another process: the duplicate either fails with INVALID_HANDLE
//!   (the close came first) or holds a counted reference to the live object (the source's
//!   snapshot is turned into references with increment-if-not-zero);
//! - DUPLICATE_CLOSE_SOURCE against a plain close of the same source: exactly one takes
//!   the entry; the loser gets INVALID_HANDLE; the winner's reference is moved, not
//!   released and retaken.
//!
//! References balance: every object is destroyed once, every block freed once, no
//! last-handle work twice. Catches `close_source_release`, `try_ref_plain` and
//! `try_into_handle_plain`.
#![cfg(loom)]

use kobj::{Access, DuplicateOptions, Error, Handle, ProcessOptions};
use kobj_loom_tests::{create, dup, loom_surface, model, read, setup, Gate};

#[test]
fn duplicate_in_place_vs_close() {
    model(|| {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let h = create(&p, &ty, 1).unwrap();
        let t = {
            let p = p.clone();
            gate.spawn(move || dup(&p, h))
        };
        p.close_handle(h).unwrap();
        gate.wait();
        match t.take() {
            Ok(d) => {
                assert_eq!(kernel.object_count(), 3, "the duplicate keeps the object (and the process and its main thread remain)");
                assert_eq!(read(&p, d).map(|r| r.0), Some(1));
                p.close_handle(d).unwrap();
            }
            Err(e) => assert_eq!(e, Error::InvalidHandle),
        }
        assert_eq!(kernel.object_count(), 2, "the object destroyed once, the process and its main thread not");
        assert_eq!(loom_surface::check_table(&p), 0);
        drop(p);
        gate.finish(kernel);
    });
}

#[test]
fn duplicate_into_other_process_vs_close() {
    model(|| {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let h = create(&p, &ty, 1).unwrap();
        let child = p.create_process(false, ProcessOptions::default()).unwrap();
        let (q, hq) = (child.process, child.handle);
        let t = {
            let p = p.clone();
            gate.spawn(move || {
                p.duplicate_handle(
                    Handle::CURRENT_PROCESS,
                    h,
                    Some(hq),
                    Access::empty(),
                    false,
                    DuplicateOptions::SAME_ACCESS,
                )
            })
        };
        p.close_handle(h).unwrap();
        gate.wait();
        match t.take() {
            Ok(Some(d)) => {
                assert_eq!(read(&q, d).map(|r| r.0), Some(1));
                q.close_handle(d).unwrap();
            }
            Ok(None) => panic!("a target was given"),
            Err(e) => assert_eq!(e, Error::InvalidHandle),
        }
        assert_eq!(loom_surface::check_table(&q), 0);
        assert_eq!(kernel.object_count(), 4, "only the two processes and their main threads remain");
        p.close_handle(hq).unwrap();
        drop(q);
        drop(p);
        gate.finish(kernel);
    });
}

/// The target is another process: moved into the source's own table, the duplicate
/// could take the source's freed slot and value, and the plain close would then rightly
/// close the duplicate.
#[test]
fn duplicate_close_source_vs_close() {
    model(|| {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let h = create(&p, &ty, 1).unwrap();
        let child = p.create_process(false, ProcessOptions::default()).unwrap();
        let (q, hq) = (child.process, child.handle);
        let t = {
            let p = p.clone();
            gate.spawn(move || {
                let both = DuplicateOptions::SAME_ACCESS | DuplicateOptions::CLOSE_SOURCE;
                p.duplicate_handle(Handle::CURRENT_PROCESS, h, Some(hq), Access::empty(), false, both)
            })
        };
        let closed = p.close_handle(h);
        gate.wait();
        let duplicated = t.take();
        assert!(closed.is_ok() != duplicated.is_ok(), "exactly one wins: {closed:?} {duplicated:?}");
        match duplicated {
            Ok(Some(d)) => {
                assert_eq!(closed, Err(Error::InvalidHandle));
                assert_eq!(kernel.object_count(), 5, "the moved reference keeps the object");
                assert_eq!(read(&q, d).map(|r| r.0), Some(1));
                q.close_handle(d).unwrap();
            }
            Ok(None) => panic!("a target was given"),
            Err(e) => assert_eq!(e, Error::InvalidHandle),
        }
        assert_eq!(kernel.object_count(), 4, "only the two processes and their main threads remain");
        assert_eq!(loom_surface::check_table(&p), 1);
        assert_eq!(loom_surface::check_table(&q), 0);
        p.close_handle(hq).unwrap();
        drop(q);
        drop(p);
        gate.finish(kernel);
    });
}
