//! Objects and lifetime: SPEC §3 "Objects and lifetime".

mod common;

use common::*;
use kobj::{Access, CreationDisposition, DuplicateOptions, Handle, HandleFlags, Kernel, ProcessOptions};

// SPEC §3 "Objects and lifetime": "closing the last handle destroys it"; object_count
// "drops when the last reference goes".
#[test]
fn closing_the_last_handle_destroys_the_object() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    assert_eq!(k.object_count(), base + 2, "the process and its main thread (SPEC §7.2) are objects");
    let handles = [
        event(&p),
        p.create_mutex(None, true, None).unwrap().handle,
        p.create_semaphore(None, 1, 2, None).unwrap().handle,
        p.create_waitable_timer(None, true, None).unwrap().handle,
        p.create_job_object(None, None).unwrap().handle,
        p.create_file_mapping(None, None, 0x04, 4096, None).unwrap().handle,
    ];
    assert_eq!(k.object_count(), base + 2 + handles.len());
    for (i, &h) in handles.iter().enumerate() {
        p.close_handle(h).unwrap();
        assert_eq!(k.object_count(), base + 1 + handles.len() - i, "closing {h:?}");
    }
    finish(&k, base, vec![p]);
}

// SPEC §3 "Duplication" (seed 003): "Duplicates and inherited handles count as distinct
// handles for lifetime: the object dies only when all of them are closed."
#[test]
fn duplicates_keep_the_object_alive_until_all_are_closed() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let h = event(&p);
    let d1 = dup_same(&p, h);
    let d2 = dup_with(&p, h, Access::EVENT_QUERY_STATE);
    let objects = k.object_count();
    p.close_handle(h).unwrap();
    assert_eq!(k.object_count(), objects);
    p.set_event(d1).unwrap();
    p.close_handle(d1).unwrap();
    assert_eq!(k.object_count(), objects);
    assert_eq!(p.event_state(d2), Ok(true), "the object is the one we set");
    p.close_handle(d2).unwrap();
    assert_eq!(k.object_count(), objects - 1);

    // Across processes: a duplicate in a child and an inherited handle.
    let hi = inheritable_event(&p);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    let in_child = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            hi,
            Some(child.handle),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    let objects = k.object_count();
    p.close_handle(hi).unwrap();
    assert_eq!(k.object_count(), objects, "the child's two handles keep it");
    child.process.set_event(hi).unwrap(); // the inherited one, at the same value
    child.process.close_handle(hi).unwrap();
    assert_eq!(k.object_count(), objects);
    assert_eq!(child.process.event_state(in_child), Ok(true));
    child.process.close_handle(in_child).unwrap();
    assert_eq!(k.object_count(), objects - 1);
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Objects and lifetime": "Terminating a process closes every handle in its
// table, PROTECT_FROM_CLOSE ones included; objects that other processes still hold
// survive untouched." (SPEC §5 repeats the protected case.)
#[test]
fn terminate_closes_every_handle_and_spares_shared_objects() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let q = root(&k);
    let q_in_p = p.open_process(Access::PROCESS_DUP_HANDLE, false, q.id()).unwrap();
    let only_p: Vec<Handle> = (0..20).map(|_| event(&p)).collect();
    for &h in only_p.iter().step_by(3) {
        p.set_handle_information(h, HandleFlags::PROTECT_FROM_CLOSE, HandleFlags::PROTECT_FROM_CLOSE)
            .unwrap();
    }
    let shared = event(&p);
    p.set_handle_information(
        shared,
        HandleFlags::PROTECT_FROM_CLOSE | HandleFlags::INHERIT,
        HandleFlags::PROTECT_FROM_CLOSE | HandleFlags::INHERIT,
    )
    .unwrap();
    let in_q = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            shared,
            Some(q_in_p),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS | DuplicateOptions::SAME_ATTRIBUTES,
        )
        .unwrap()
        .unwrap();
    q.set_event(in_q).unwrap();
    let before = k.object_count();
    p.terminate(7).unwrap();
    assert_eq!(p.handle_count(), 0, "every handle closed, protected ones too");
    assert!(p.is_terminated());
    // p's 20 private events are gone; q, p (still referenced by the value) and the
    // shared event remain.
    assert_eq!(k.object_count(), before - 20);
    assert_eq!(q.event_state(in_q), Ok(true), "the shared object is untouched");
    q.reset_event(in_q).unwrap();
    assert_eq!(q.get_handle_information(in_q), Ok(HandleFlags::PROTECT_FROM_CLOSE | HandleFlags::INHERIT));
    q.set_handle_information(in_q, HandleFlags::PROTECT_FROM_CLOSE, HandleFlags::empty()).unwrap();
    q.close_handle(in_q).unwrap();
    assert_eq!(k.object_count(), before - 21);
    finish(&k, base, vec![p, q]);
}

// SPEC §3 "Objects and lifetime": "Calls made as a terminated process (a second
// terminate included) fail with ACCESS_DENIED."
#[test]
fn calls_as_a_terminated_process_are_access_denied() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let other = root(&k);
    let h = event(&p);
    let sem = p.create_semaphore(None, 0, 5, None).unwrap().handle;
    p.terminate(0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"x").unwrap();

    assert_eq!(code(p.terminate(0)), ACCESS_DENIED, "a second terminate");
    assert_eq!(code(p.close_handle(h)), ACCESS_DENIED);
    assert_eq!(code(p.close_handle(Handle::CURRENT_PROCESS)), ACCESS_DENIED);
    assert_eq!(code(p.set_event(h)), ACCESS_DENIED);
    assert_eq!(code(p.reset_event(h)), ACCESS_DENIED);
    assert_eq!(code(p.release_semaphore(sem, 1)), ACCESS_DENIED);
    assert_eq!(code(p.get_handle_information(h)), ACCESS_DENIED);
    assert_eq!(code(p.set_handle_information(h, HandleFlags::INHERIT, HandleFlags::INHERIT)), ACCESS_DENIED);
    assert_eq!(code(p.compare_object_handles(h, h)), ACCESS_DENIED);
    assert_eq!(
        code(p.compare_object_handles(Handle::CURRENT_PROCESS, Handle::CURRENT_PROCESS)),
        ACCESS_DENIED
    );
    assert_eq!(
        code(p.duplicate_handle(
            Handle::CURRENT_PROCESS,
            Handle::CURRENT_PROCESS,
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS
        )),
        ACCESS_DENIED
    );
    assert_eq!(code(p.create_event(None, true, false, None)), ACCESS_DENIED);
    assert_eq!(code(p.create_mutex(None, true, None)), ACCESS_DENIED);
    assert_eq!(code(p.create_semaphore(None, 0, 1, None)), ACCESS_DENIED);
    assert_eq!(code(p.create_waitable_timer(None, true, None)), ACCESS_DENIED);
    assert_eq!(code(p.create_job_object(None, None)), ACCESS_DENIED);
    assert_eq!(code(p.create_file_mapping(None, None, 0x04, 4096, None)), ACCESS_DENIED);
    assert_eq!(code(p.open_process(Access::PROCESS_QUERY_INFORMATION, false, other.id())), ACCESS_DENIED);
    assert_eq!(code(p.create_process(false, ProcessOptions::default())), ACCESS_DENIED);
    assert_eq!(
        code(p.create_file(&path, Access::GENERIC_READ, None, CreationDisposition::OpenExisting)),
        ACCESS_DENIED
    );
    assert_eq!(code(p.read_file(h, &mut [0u8; 4])), ACCESS_DENIED);
    assert_eq!(code(p.write_file(h, b"x")), ACCESS_DENIED);
    assert_eq!(code(p.set_file_pointer(h, std::io::SeekFrom::Start(0))), ACCESS_DENIED);
    assert_eq!(p.handle_count(), 0);
    finish(&k, base, vec![p, other]);
}

// SPEC §3 "Objects and lifetime": a process handle to a terminated process fails as a
// duplication source or target with ACCESS_DENIED; open_process of a pid that is gone is
// INVALID_PARAMETER.
#[test]
fn handles_to_terminated_processes() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let child = p.create_process(false, ProcessOptions::default()).unwrap();
    let ev = event(&child.process);
    let pid = child.process.id();
    child.process.terminate(3).unwrap();
    let mine = event(&p);
    assert_eq!(
        code(p.duplicate_handle(
            child.handle,
            ev,
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS
        )),
        ACCESS_DENIED
    );
    assert_eq!(
        code(p.duplicate_handle(
            Handle::CURRENT_PROCESS,
            mine,
            Some(child.handle),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS
        )),
        ACCESS_DENIED
    );
    assert_eq!(code(p.open_process(Access::PROCESS_QUERY_INFORMATION, false, pid)), INVALID_PARAMETER);
    p.set_event(mine).unwrap();
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Objects and lifetime": "A Process value is a reference to its process object:
// the object lives while a handle or a Process value refers to it. When the last of both
// is gone, an unterminated process is terminated (its handles closed)."
#[test]
fn process_values_and_handles_keep_the_process() {
    let k = Kernel::new();
    let base = k.object_count();

    // A root with objects, dropped without terminate: everything goes.
    let p = root(&k);
    for _ in 0..5 {
        event(&p);
    }
    let copy = p.clone();
    drop(p);
    assert_eq!(k.object_count(), base + 7, "a clone keeps the process and its objects");
    event(&copy);
    drop(copy);
    assert_eq!(k.object_count(), base, "the last Process value terminated it");

    // A child whose Process value is dropped lives while the parent's handle does.
    let parent = root(&k);
    let child = parent.create_process(false, ProcessOptions::default()).unwrap();
    let pid = child.process.id();
    for _ in 0..3 {
        event(&child.process);
    }
    let with_child = k.object_count();
    drop(child.process);
    assert_eq!(k.object_count(), with_child, "the handle keeps the child");
    let h2 =
        parent.open_process(Access::PROCESS_QUERY_INFORMATION, false, pid).expect("the child still runs");
    parent.close_handle(h2).unwrap();
    parent.close_handle(child.handle).unwrap();
    assert_eq!(
        k.object_count(),
        with_child - 5,
        "closing the last handle terminated the child: its 3 events and itself went"
    );
    assert_eq!(code(parent.open_process(Access::PROCESS_QUERY_INFORMATION, false, pid)), INVALID_PARAMETER);

    // A child whose parent closed its handle lives while its Process value does.
    let child = parent.create_process(false, ProcessOptions::default()).unwrap();
    parent.close_handle(child.handle).unwrap();
    let h = event(&child.process);
    child.process.set_event(h).unwrap();
    assert!(!child.process.is_terminated());
    let objects = k.object_count();
    drop(child.process);
    // The child, its event and its main thread.
    assert_eq!(k.object_count(), objects - 3);

    // A terminated process still counts while referenced, and goes with the last one.
    let q = root(&k);
    let hq = parent.open_process(Access::PROCESS_QUERY_INFORMATION, false, q.id()).unwrap();
    q.terminate(0).unwrap();
    drop(q);
    let objects = k.object_count();
    parent.close_handle(hq).unwrap();
    // The process and its main thread.
    assert_eq!(k.object_count(), objects - 2);
    finish(&k, base, vec![parent]);
}

// SPEC §3 "Objects and lifetime": "set_event/reset_event need EVENT_MODIFY_STATE".
#[test]
fn set_and_reset_event_need_modify_state() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let h = event(&p);
    let no_modify = [
        Access::EVENT_QUERY_STATE,
        Access::SYNCHRONIZE,
        Access::EVENT_QUERY_STATE | Access::SYNCHRONIZE | Access::READ_CONTROL,
        Access::from_bits_retain(0x1F0001),
        Access::GENERIC_READ,    // 0x20001
        Access::GENERIC_EXECUTE, // 0x120000
    ];
    for access in no_modify {
        let d = dup_with(&p, h, access);
        assert_eq!(code(p.set_event(d)), ACCESS_DENIED, "{access:?}");
        assert_eq!(code(p.reset_event(d)), ACCESS_DENIED, "{access:?}");
        p.close_handle(d).unwrap();
    }
    assert_eq!(p.event_state(h), Ok(false));
    for access in [
        Access::EVENT_MODIFY_STATE,
        Access::GENERIC_WRITE, // 0x20002
        Access::GENERIC_ALL,
        Access::EVENT_ALL_ACCESS,
    ] {
        let d = dup_with(&p, h, access);
        p.set_event(d).unwrap();
        assert_eq!(p.event_state(h), Ok(true), "{access:?}");
        p.reset_event(d).unwrap();
        assert_eq!(p.event_state(h), Ok(false), "{access:?}");
        p.close_handle(d).unwrap();
    }
    finish(&k, base, vec![p]);
}

// SPEC §3 "Objects and lifetime": release_semaphore "rejects count <= 0 with
// INVALID_PARAMETER before it looks at the handle (as NT does), then needs
// SEMAPHORE_MODIFY_STATE, and a release past the maximum fails with TOO_MANY_POSTS and
// leaves the count unchanged"; SPEC §2: it returns the previous count.
#[test]
fn release_semaphore_rules() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let s = p.create_semaphore(None, 1, 5, None).unwrap().handle;
    for count in [0, -1, -5, i32::MIN] {
        assert_eq!(code(p.release_semaphore(s, count)), INVALID_PARAMETER);
        assert_eq!(code(p.release_semaphore(Handle::from_raw(4 * 999), count)), INVALID_PARAMETER);
        assert_eq!(code(p.release_semaphore(Handle::CURRENT_PROCESS, count)), INVALID_PARAMETER);
    }
    assert_eq!(p.release_semaphore(s, 2), Ok(1));
    assert_eq!(p.semaphore_count(s), Ok(3));
    assert_eq!(code(p.release_semaphore(s, 3)), TOO_MANY_POSTS);
    assert_eq!(p.semaphore_count(s), Ok(3), "a failed release leaves the count");
    assert_eq!(code(p.release_semaphore(s, i32::MAX)), TOO_MANY_POSTS);
    assert_eq!(p.semaphore_count(s), Ok(3));
    assert_eq!(p.release_semaphore(s, 2), Ok(3));
    assert_eq!(p.semaphore_count(s), Ok(5));
    assert_eq!(code(p.release_semaphore(s, 1)), TOO_MANY_POSTS);
    assert_eq!(p.semaphore_count(s), Ok(5));

    let query = dup_with(&p, s, Access::SEMAPHORE_QUERY_STATE | Access::SYNCHRONIZE);
    let big = p.create_semaphore(None, 0, i32::MAX, None).unwrap().handle;
    let big_query = dup_with(&p, big, Access::SEMAPHORE_QUERY_STATE);
    assert_eq!(code(p.release_semaphore(big_query, 1)), ACCESS_DENIED);
    assert_eq!(code(p.release_semaphore(query, 1)), ACCESS_DENIED, "access before posts");
    assert_eq!(p.release_semaphore(big, i32::MAX), Ok(0));
    assert_eq!(code(p.release_semaphore(big, 1)), TOO_MANY_POSTS, "no overflow");
    assert_eq!(code(p.release_semaphore(big, i32::MAX)), TOO_MANY_POSTS);
    assert_eq!(p.semaphore_count(big), Ok(i32::MAX));
    let modify = dup_with(&p, big, Access::SEMAPHORE_MODIFY_STATE);
    assert_eq!(code(p.release_semaphore(modify, 1)), TOO_MANY_POSTS);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Objects and lifetime": "create_semaphore with maximum <= 0, initial < 0 or
// initial > maximum fails with INVALID_PARAMETER, before the name is looked at."
#[test]
fn create_semaphore_rejects_bad_counts() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let objects = k.object_count();
    let bad = [
        (0, 0),
        (0, -1),
        (-1, 5),
        (6, 5),
        (1, 0),
        (i32::MIN, i32::MIN),
        (i32::MAX, i32::MAX - 1),
        (-1, -1),
        (0, i32::MIN),
    ];
    for (initial, maximum) in bad {
        assert_eq!(
            code(p.create_semaphore(None, initial, maximum, None)),
            INVALID_PARAMETER,
            "({initial}, {maximum})"
        );
        // A name that is itself malformed does not change the answer.
        for name in ["", "sem", "\\", "Global\\", "a\\\\b"] {
            assert_eq!(
                code(p.create_semaphore(None, initial, maximum, Some(name))),
                INVALID_PARAMETER,
                "({initial}, {maximum}, {name:?})"
            );
        }
    }
    assert_eq!(k.object_count(), objects);
    assert_eq!(p.handle_count(), 0);
    for (initial, maximum) in [(0, 1), (1, 1), (0, i32::MAX), (i32::MAX, i32::MAX)] {
        let s = p.create_semaphore(None, initial, maximum, None).unwrap().handle;
        assert_eq!(p.semaphore_count(s), Ok(initial));
    }
    finish(&k, base, vec![p]);
}

// SPEC §3 "Named objects": "An empty name (Some("")) makes an unnamed object, like None".
#[test]
fn an_empty_name_makes_an_unnamed_object() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = p.create_event(None, true, false, Some("")).unwrap();
    let b = p.create_event(None, true, false, Some("")).unwrap();
    assert!(!a.already_existed);
    assert!(!b.already_existed);
    assert_eq!(p.compare_object_handles(a.handle, b.handle), Ok(false));
    assert_eq!(k.object_count(), base + 4);
    let m1 = p.create_mutex(None, false, Some("")).unwrap();
    let m2 = p.create_mutex(None, false, Some("")).unwrap();
    assert!(!m1.already_existed && !m2.already_existed);
    assert_eq!(p.compare_object_handles(m1.handle, m2.handle), Ok(false));
    let s = p.create_semaphore(None, 0, 1, Some("")).unwrap();
    assert!(!s.already_existed);
    p.close_handle(a.handle).unwrap();
    assert_eq!(k.object_count(), base + 6, "closing the unnamed object's handle destroyed it");
    finish(&k, base, vec![p]);
}

// SPEC §3 "Objects and lifetime": "An object lives while any handle or internal reference
// to it exists"; object_count "drops when the last reference goes (not when memory is
// reclaimed), and falls back to what it was once every process that created objects is
// gone". A file mapping's internal reference to its file must not outlive the mapping.
#[test]
fn a_file_mapping_releases_its_file() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mapped");
    std::fs::write(&path, vec![7u8; 4096]).unwrap();
    let objects = k.object_count();
    let file = p
        .create_file(
            &path,
            Access::GENERIC_READ | Access::GENERIC_WRITE,
            None,
            CreationDisposition::OpenExisting,
        )
        .unwrap();
    let mapping = p.create_file_mapping(Some(file), None, 0x04, 0, None).unwrap().handle;
    assert_eq!(k.object_count(), objects + 2);
    p.close_handle(file).unwrap();
    assert_eq!(k.object_count(), objects + 2, "the mapping keeps its file");
    p.close_handle(mapping).unwrap();
    assert_eq!(k.object_count(), objects, "the mapping and its file are gone");

    // The same through terminate.
    let file = p.create_file(&path, Access::GENERIC_READ, None, CreationDisposition::OpenExisting).unwrap();
    let _ = p.create_file_mapping(Some(file), None, 0x02, 0, None).unwrap();
    finish(&k, base, vec![p]);
}

// SPEC §3 "Objects and lifetime": when the last handle and Process value of an
// unterminated process are gone, it is terminated (its handles closed) — which may close
// the last handle of a child, and so on down a chain. SPEC §6: no call may abort, so the
// cascade must not recurse once per process (a deep chain would overflow the stack).
#[test]
fn a_long_chain_of_processes_is_torn_down_without_overflow() {
    // A small handle limit keeps each process's table small.
    let k = Kernel::builder().handle_limit(64).build();
    let base = k.object_count();
    let root_process = root(&k);
    // Deep enough to overflow a 2 MiB stack when each level recursed (it did at 10^4).
    let depth = 20_000;
    let mut tail = root_process.clone();
    for _ in 0..depth {
        // The child lives only through its parent's handle once `tail` moves on.
        tail = tail.create_process(false, ProcessOptions::default()).unwrap().process;
        event(&tail);
    }
    drop(tail);
    assert_eq!(k.object_count(), base + 2 + 3 * depth);
    // Run on a thread with a small stack: the teardown must not depend on stack depth.
    let handle =
        std::thread::Builder::new().stack_size(128 * 1024).spawn(move || root_process.terminate(0)).unwrap();
    handle.join().expect("the teardown did not overflow").unwrap();
    assert_eq!(k.object_count(), base, "every process of the chain is gone");
}

// SPEC §3 "Objects and lifetime": an object's memory is freed "once no reader can still
// see it" — kobj reuses it on the destroying thread once the epoch allows (ARCHITECTURE.md,
// "The block cache"). Thousands of create/close rounds of one type on one thread go
// through limbo, sealed batches, harvest and reuse; every new object must start from its
// own creation parameters (a reused block carries nothing over), and the count must return.
// Under Miri this is the run that drives the cache's unsafe code.
#[test]
fn destroyed_blocks_are_reused_with_fresh_state() {
    let rounds: usize = if cfg!(miri) { 300 } else { 20_000 };
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    for i in 0..rounds {
        let signalled = i % 3 == 0;
        let e = p.create_event(None, i % 2 == 0, signalled, None).unwrap().handle;
        assert_eq!(p.event_state(e), Ok(signalled), "round {i}: a reused block kept old state");
        let s = p.create_semaphore(None, (i % 5) as i32, 5, None).unwrap().handle;
        assert_eq!(p.semaphore_count(s), Ok((i % 5) as i32), "round {i}");
        if signalled {
            p.reset_event(e).unwrap();
        }
        p.close_handle(s).unwrap();
        p.close_handle(e).unwrap();
        assert_eq!(k.object_count(), base + 2, "round {i}: the process and its main thread alone remain");
    }
    p.terminate(0).unwrap();
    drop(p);
    assert_eq!(k.object_count(), base);
}
