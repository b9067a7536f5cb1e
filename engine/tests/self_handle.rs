//! A process's handle to itself must not keep the process in use.
//!
//! SPEC §3 "Objects and lifetime": when the last `Process` value and the last handle to a
//! process are gone, an unterminated process is terminated. A handle the process holds to
//! itself (`DuplicateHandle(GetCurrentProcess(), GetCurrentProcess(), GetCurrentProcess())`,
//! a common Win32 idiom) does not count, or such a process would never end.

mod common;

use common::dup_same;
use kobj::{Access, DuplicateOptions, Handle, Kernel, ProcessOptions};

#[test]
fn self_handle_does_not_keep_a_dropped_process_alive() {
    let kernel = Kernel::new();
    let p = kernel.create_process(ProcessOptions::default()).unwrap();
    let own = dup_same(&p, Handle::CURRENT_PROCESS);
    let _event = p.create_event(None, false, false, None).unwrap();
    // The self handle works like any process handle.
    assert!(p.compare_object_handles(own, Handle::CURRENT_PROCESS).unwrap());
    assert_eq!(kernel.object_count(), 3);
    drop(p);
    assert_eq!(kernel.object_count(), 0, "the process and its event must be gone");
}

#[test]
fn self_handle_moved_out_with_close_source_stays_usable() {
    // SPEC §3 "Duplication": CLOSE_SOURCE moves the handle; the moved copy in another
    // process is an ordinary (counting) handle to the first process.
    let kernel = Kernel::new();
    let a = kernel.create_process(ProcessOptions::default()).unwrap();
    let b = a.create_process(false, ProcessOptions::default()).unwrap();
    let own = dup_same(&a, Handle::CURRENT_PROCESS);
    let in_b = a
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            own,
            Some(b.handle),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS | DuplicateOptions::CLOSE_SOURCE,
        )
        .unwrap()
        .unwrap();
    assert_eq!(a.get_handle_information(own).unwrap_err().code(), 6);
    let a_id = a.id();
    drop(a);
    // B's handle keeps A in use: A is not terminated, so it can still be opened by id.
    let opened = b.process.open_process(Access::PROCESS_QUERY_INFORMATION, false, a_id).unwrap();
    b.process.close_handle(opened).unwrap();
    b.process.close_handle(in_b).unwrap();
    b.process.terminate(0).unwrap();
    drop(b);
    assert_eq!(kernel.object_count(), 0);
}
