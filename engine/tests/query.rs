//! `query_process`, `terminate_process` and `query_thread`: the handle-based questions
//! an embedder's `GetProcessId`/`GetExitCodeProcess`/`TerminateProcess`/`GetThreadId`/
//! `GetExitCodeThread` need (Microsoft's docs for each: the access rights they take).

use kobj::{Access, Error, Handle, Kernel, ProcessOptions};

#[test]
fn a_process_handle_answers_with_query_rights_only() {
    let kernel = Kernel::new();
    let parent = kernel.create_process(ProcessOptions::default()).unwrap();
    let child = parent.create_process(false, ProcessOptions::default()).unwrap();
    let info = parent.query_process(child.handle).unwrap();
    assert_eq!((info.id, info.exit_code), (child.process.id(), None));
    assert_eq!(info.handle_count, child.process.handle_count());
    assert_eq!(parent.query_process(Handle::CURRENT_PROCESS).unwrap().id, parent.id());

    // PROCESS_QUERY_LIMITED_INFORMATION (0x1000) is enough; SYNCHRONIZE alone is not.
    let limited = parent.open_process(Access::from_bits_retain(0x1000), false, child.process.id()).unwrap();
    assert_eq!(parent.query_process(limited).unwrap().id, child.process.id());
    let sync = parent.open_process(Access::SYNCHRONIZE, false, child.process.id()).unwrap();
    assert_eq!(parent.query_process(sync), Err(Error::AccessDenied));
    assert_eq!(parent.terminate_process(limited, 1), Err(Error::AccessDenied));

    // Not a process: INVALID_HANDLE; a garbage value too.
    let event = parent.create_event(None, true, false, None).unwrap().handle;
    assert_eq!(parent.query_process(event), Err(Error::InvalidHandle));
    assert_eq!(parent.query_process(Handle::from_raw(0x4000)), Err(Error::InvalidHandle));

    parent.terminate_process(child.handle, 7).unwrap();
    assert_eq!(parent.query_process(child.handle).unwrap().exit_code, Some(7));
    assert_eq!(parent.query_process(child.handle).unwrap().handle_count, 0);
    // NT: STATUS_PROCESS_IS_TERMINATING.
    assert_eq!(parent.terminate_process(child.handle, 8), Err(Error::AccessDenied));
    for h in [limited, sync, event, child.handle] {
        parent.close_handle(h).unwrap();
    }
    drop(child);
    parent.terminate(0).unwrap();
    drop(parent);
    assert_eq!(kernel.object_count(), 0);
}

#[test]
fn a_thread_handle_answers_until_and_after_exit() {
    let kernel = Kernel::new();
    let p = kernel.create_process(ProcessOptions::default()).unwrap();
    let t = p.create_thread(None).unwrap();
    let info = p.query_thread(t.handle).unwrap();
    assert_eq!((info.id, info.process_id, info.exit_code), (t.thread.id(), p.id(), None));
    assert_eq!(p.query_thread(Handle::CURRENT_THREAD).unwrap().id, p.main_thread().id());
    let sync = p.open_thread(Access::SYNCHRONIZE, false, t.thread.id()).unwrap();
    assert_eq!(p.query_thread(sync), Err(Error::AccessDenied));
    let limited = p.open_thread(Access::from_bits_retain(0x800), false, t.thread.id()).unwrap();
    assert_eq!(p.query_thread(limited).unwrap().id, t.thread.id());
    assert_eq!(p.query_thread(Handle::CURRENT_PROCESS), Err(Error::InvalidHandle));
    t.thread.exit(42).unwrap();
    assert_eq!(p.query_thread(t.handle).unwrap().exit_code, Some(42));
    for h in [sync, limited, t.handle] {
        p.close_handle(h).unwrap();
    }
    drop(t);
    p.terminate(0).unwrap();
    drop(p);
    assert_eq!(kernel.object_count(), 0);
}
