//! Model 7 — inheritance: a child copying the parent's inheritable entries while the
//! parent closes one, or clears its INHERIT flag.
//!
//! Each copied entry was live and inheritable at some instant of the copy: the child has
//! the handle at the same value, to the same object, with INHERIT, and a reference of its
//! own taken with increment-if-not-zero (never a resurrected count); or it does not have
//! it at all. References balance. Catches `try_ref_plain` and `try_into_handle_plain`.
#![cfg(loom)]

use kobj::{HandleFlags, ProcessOptions, SecurityAttributes};
use kobj_loom_tests::{loom_surface, model, read, setup, Gate, Obj};

fn inherit_racing(clear_flag_instead: bool) {
    model(move || {
        let (kernel, ty, p) = setup();
        let gate = Gate::new();
        let sa = SecurityAttributes { inherit_handle: true, ..Default::default() };
        let h = p.create_object(&ty, Obj(1), Some(&sa), None).unwrap().handle;
        let t = {
            let p = p.clone();
            gate.spawn(move || p.create_process(true, ProcessOptions::default()).unwrap())
        };
        if clear_flag_instead {
            p.set_handle_information(h, HandleFlags::INHERIT, HandleFlags::empty()).unwrap();
        } else {
            p.close_handle(h).unwrap();
        }
        gate.wait();
        let child = t.take();
        let c = &child.process;
        match read(c, h) {
            Some((id, _)) => {
                assert_eq!(id, 1);
                assert_eq!(c.get_handle_information(h), Ok(HandleFlags::INHERIT));
                assert_eq!(loom_surface::check_table(c), 1);
                c.close_handle(h).unwrap();
            }
            None => assert_eq!(loom_surface::check_table(c), 0),
        }
        if clear_flag_instead {
            p.close_handle(h).unwrap();
        }
        // The object is gone; the two processes remain.
        assert_eq!(kernel.object_count(), 4, "the object destroyed once, the two processes and their main threads not");
        p.close_handle(child.handle).unwrap();
        drop(child);
        drop(p);
        gate.finish(kernel);
    });
}

#[test]
fn inherit_vs_close() {
    inherit_racing(false);
}

#[test]
fn inherit_vs_set_handle_information() {
    inherit_racing(true);
}
