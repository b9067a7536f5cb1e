//! Threads and the rules of waits: SPEC §7.2 (threads), §7.3 (waits: checks, pseudo-
//! handles, signal states, signal_object_and_wait) and §7.4 (mutexes).

mod common;

use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::Duration;

use common::*;
use kobj::{
    Access, CreationDisposition, DuplicateOptions, Handle, Kernel, Process, ProcessOptions,
    SecurityAttributes, SecurityDescriptor, Thread, WaitStatus,
};

const ZERO: Option<Duration> = Some(Duration::ZERO);
const SHORT: Option<Duration> = Some(Duration::from_millis(30));
const LONG: Option<Duration> = Some(Duration::from_secs(10));
const SETTLE: Duration = Duration::from_millis(100);

/// A value no table of these tests ever issues (Wine's 0xdeadbee0).
const BAD: Handle = Handle::from_raw(0xdead_bee0);

fn new_thread(p: &Process) -> Thread {
    p.create_thread(None).expect("create_thread").thread
}

fn child_of(p: &Process) -> kobj::Child {
    p.create_process(false, ProcessOptions::default()).expect("create a child")
}

#[track_caller]
fn assert_blocked(rx: &Reply) {
    thread::sleep(SETTLE);
    match rx.try_recv() {
        Err(TryRecvError::Empty) => {}
        other => panic!("the waiter should still be blocked, got {other:?}"),
    }
}

// SPEC §7.2: "Thread ids and process ids come from one id space (NT's client-id table):
// non-zero multiples of 4, unique among live processes and threads."
#[test]
fn ids_share_one_space() {
    let k = Kernel::new();
    let base = k.object_count();
    let mut procs: Vec<Process> = (0..3).map(|_| root(&k)).collect();
    procs.push(child_of(&procs[0]).process);
    let mut ids = Vec::new();
    let mut threads = Vec::new();
    for p in &procs {
        ids.push(p.id());
        let main = p.main_thread();
        assert_eq!(main.id(), p.main_thread().id(), "one main thread");
        assert_eq!(main.process().id(), p.id());
        ids.push(main.id());
        threads.push(main);
        for _ in 0..3 {
            let t = new_thread(p);
            assert_eq!(t.process().id(), p.id());
            ids.push(t.id());
            threads.push(t);
        }
    }
    for &id in &ids {
        assert!(id != 0 && id % 4 == 0, "id {id:#x} is not a non-zero multiple of 4");
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "ids collide: {ids:?}");
    done(&k, base, threads, procs);
}

// SPEC §7.2: "Every process has a main thread from its creation. process.create_mutex(..)
// and every other owner-sensitive call made through Process act as its main thread."
// SPEC §7.1: create_thread's handle has THREAD_ALL_ACCESS. SPEC §7.4: create_mutex with an
// existing name ignores initial_owner.
#[test]
fn main_thread_owns_what_the_process_creates() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let nt = p.create_thread(None).unwrap();
    let row = p.handles().into_iter().find(|r| r.handle == nt.handle).expect("the thread handle");
    assert_eq!(row.access, Access::THREAD_ALL_ACCESS);
    let t = nt.thread;

    let m = p.create_mutex(None, true, Some("owned")).unwrap();
    assert!(!m.already_existed);
    assert_eq!(mutex_info(&p, m.handle), (Some(main.id()), 1, false));
    assert_eq!(code(t.release_mutex(m.handle)), NOT_OWNER);
    // Opening by name with initial_owner ignores it: t gets no ownership.
    let again = t.create_mutex(None, true, Some("owned")).unwrap();
    assert!(again.already_existed);
    assert_eq!(mutex_info(&p, m.handle), (Some(main.id()), 1, false));
    main.release_mutex(again.handle).unwrap();
    assert_eq!(mutex_info(&p, m.handle), (None, 0, false));

    // A named mutex that exists unowned stays unowned.
    let again = p.create_mutex(None, true, Some("owned")).unwrap();
    assert!(again.already_existed);
    assert_eq!(mutex_info(&p, m.handle), (None, 0, false));

    // And thread.create_mutex makes that thread the owner.
    let mt = t.create_mutex(None, true, None).unwrap().handle;
    assert_eq!(mutex_info(&p, mt), (Some(t.id()), 1, false));
    assert_eq!(code(main.release_mutex(mt)), NOT_OWNER);
    t.release_mutex(mt).unwrap();

    done(&k, base, vec![main, t], vec![p]);
}

// SPEC §7.2: "thread.exit(code): every mutex the thread owns is abandoned, then the thread
// object is signalled." SPEC §7.3: a thread object, once signalled, stays signalled; a
// successful wait-all returns Abandoned(0) if one of its mutexes was abandoned.
#[test]
fn exit_abandons_mutexes_and_signals_the_thread() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let nt = p.create_thread(None).unwrap();
    let t = nt.thread.clone();

    let m1 = t.create_mutex(None, true, None).unwrap().handle;
    let m2 = t.create_mutex(None, true, None).unwrap().handle;
    assert_eq!(t.wait_for_single_object(m2, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m2), (Some(t.id()), 2, false));
    let free = p.create_mutex(None, false, None).unwrap().handle;

    assert_eq!(main.wait_for_single_object(nt.handle, ZERO), Ok(WaitStatus::Timeout));
    t.exit(7).unwrap();
    assert_eq!(main.wait_for_single_object(nt.handle, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(main.wait_for_single_object(nt.handle, ZERO), Ok(WaitStatus::Object(0)), "not consumed");
    assert!(!p.is_terminated(), "the main thread still runs");

    assert_eq!(mutex_info(&p, m1), (None, 0, true));
    assert_eq!(mutex_info(&p, m2), (None, 0, true), "abandoned whatever its recursion");
    assert_eq!(mutex_info(&p, free), (None, 0, false), "a mutex it did not own is untouched");

    assert_eq!(main.wait_for_multiple_objects(&[free, m1, m2], true, ZERO), Ok(WaitStatus::Abandoned(0)));
    assert_eq!(mutex_info(&p, m1), (Some(main.id()), 1, false));
    assert_eq!(mutex_info(&p, m2), (Some(main.id()), 1, false));
    assert_eq!(mutex_info(&p, free), (Some(main.id()), 1, false));

    drop(nt);
    done(&k, base, vec![main, t], vec![p]);
}

// SPEC §7.2: "Calls made as an exited thread, or as a thread of a terminated process,
// fail with ACCESS_DENIED."
#[test]
fn calls_as_an_exited_thread_are_denied() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let t = new_thread(&p);
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let m = p.create_mutex(None, false, None).unwrap().handle;
    let before = p.handle_count();

    t.exit(0).unwrap();
    assert_eq!(code(t.wait_for_single_object(e, ZERO)), ACCESS_DENIED);
    assert_eq!(code(t.wait_for_multiple_objects(&[e, m], false, ZERO)), ACCESS_DENIED);
    assert_eq!(code(t.wait_for_single_object(m, ZERO)), ACCESS_DENIED);
    assert_eq!(code(t.signal_object_and_wait(e, m, ZERO)), ACCESS_DENIED);
    assert_eq!(event_info(&p, e), (false, false), "the denied call signalled nothing");
    assert_eq!(mutex_info(&p, m), (None, 0, false), "the denied call acquired nothing");
    assert_eq!(code(t.create_mutex(None, false, None)), ACCESS_DENIED);
    assert_eq!(code(t.release_mutex(m)), ACCESS_DENIED);
    assert_eq!(code(t.exit(1)), ACCESS_DENIED, "a second exit");
    assert_eq!(p.handle_count(), before, "no handle was made");
    assert_eq!(main.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));

    // A thread of a terminated process.
    let q = root(&k);
    let qmain = q.main_thread();
    let qt = new_thread(&q);
    let qe = q.create_event(None, true, true, None).unwrap().handle;
    q.terminate(0).unwrap();
    assert_eq!(code(q.create_thread(None)), ACCESS_DENIED, "calls as a terminated process");
    assert_eq!(code(q.open_thread(Access::SYNCHRONIZE, false, qt.id())), ACCESS_DENIED);
    for th in [&qmain, &qt] {
        assert_eq!(code(th.wait_for_single_object(qe, ZERO)), ACCESS_DENIED);
        assert_eq!(code(th.wait_for_single_object(Handle::CURRENT_THREAD, ZERO)), ACCESS_DENIED);
        assert_eq!(code(th.create_mutex(None, false, None)), ACCESS_DENIED);
        assert_eq!(code(th.exit(0)), ACCESS_DENIED);
    }

    done(&k, base, vec![main, t, qmain, qt], vec![p, q]);
}

// SPEC §7.2: "When the last thread of a process exits, the process is terminated with that
// exit code" (and SPEC §7.3: the process object is then signalled, for good).
#[test]
fn last_thread_exit_terminates_the_process() {
    let k = Kernel::new();
    let base = k.object_count();
    let parent = root(&k);
    let pm = parent.main_thread();
    let child = child_of(&parent);
    let c = child.process.clone();
    let cm = c.main_thread();
    let ct = new_thread(&c);
    let _event = c.create_event(None, true, false, None).unwrap().handle;

    cm.exit(3).unwrap();
    assert!(!c.is_terminated(), "another thread still runs");
    assert_eq!(pm.wait_for_single_object(child.handle, ZERO), Ok(WaitStatus::Timeout));
    assert!(c.handle_count() > 0);

    ct.exit(5).unwrap();
    assert!(c.is_terminated());
    assert_eq!(c.exit_code(), 5, "the last thread's exit code");
    assert_eq!(c.handle_count(), 0, "its handles are closed");
    assert_eq!(pm.wait_for_single_object(child.handle, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(pm.wait_for_single_object(child.handle, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(code(c.terminate(1)), ACCESS_DENIED, "already terminated");
    assert_eq!(c.exit_code(), 5);

    drop(child);
    done(&k, base, vec![pm, cm, ct], vec![parent, c]);
}

// SPEC §7.2: "process.terminate exits all its threads first (abandoning their mutexes),
// then closes its handles; then the process object is signalled." A wait in progress
// returns ACCESS_DENIED having acquired nothing.
#[test]
fn terminate_exits_the_threads_first() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let pm = p.main_thread();
    let child = child_of(&p);
    let c = child.process.clone();
    let cm = c.main_thread();
    let t1 = new_thread(&c);

    let m = p.create_mutex(None, false, None).unwrap().handle;
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let cmx = dup_into(&p, m, &c);
    let cev = dup_into(&p, e, &c);
    assert_eq!(t1.wait_for_single_object(cmx, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (Some(t1.id()), 1, false));

    let h_t1 = p.open_thread(Access::SYNCHRONIZE, false, t1.id()).unwrap();
    let h_cm = p.open_thread(Access::SYNCHRONIZE, false, cm.id()).unwrap();
    assert_eq!(pm.wait_for_multiple_objects(&[h_t1, h_cm], false, ZERO), Ok(WaitStatus::Timeout));

    thread::scope(|sc| {
        let rx = spawn_wait(sc, &cm, &[cev], false, LONG);
        assert_blocked(&rx);
        c.terminate(9).unwrap();
        assert_eq!(code(reply(&rx)), ACCESS_DENIED, "the wait in progress");
    });
    assert_eq!(c.exit_code(), 9);
    assert_eq!(pm.wait_for_single_object(h_t1, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(pm.wait_for_single_object(h_cm, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(pm.wait_for_multiple_objects(&[h_t1, h_cm], true, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(pm.wait_for_single_object(child.handle, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (None, 0, true), "t1's mutex was abandoned");
    // The aborted waiter is gone: a set of the auto-reset event stays set.
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, true));
    assert_eq!(pm.wait_for_single_object(m, ZERO), Ok(WaitStatus::Abandoned(0)));

    drop(child);
    done(&k, base, vec![pm, cm, t1], vec![p, c]);
}

// SPEC §7.2: "A wait in progress when its thread exits ... returns ACCESS_DENIED having
// acquired nothing."
#[test]
fn a_wait_in_progress_when_its_thread_exits() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let s = p.create_semaphore(None, 1, 1, None).unwrap().handle;
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let m = p.create_mutex(None, true, None).unwrap().handle; // owned by main

    let t1 = new_thread(&p);
    let t2 = new_thread(&p);
    let t3 = new_thread(&p);
    thread::scope(|sc| {
        // A wait-all that could take the semaphore but not the event.
        let all = spawn_wait(sc, &t1, &[s, e], true, LONG);
        // A wait-any on the event, and one on a mutex main holds.
        let any = spawn_wait(sc, &t2, &[e], false, LONG);
        let mx = spawn_wait(sc, &t3, &[m], false, LONG);
        assert_blocked(&all);
        assert_blocked(&any);
        assert_blocked(&mx);
        t1.exit(0).unwrap();
        assert_eq!(code(reply(&all)), ACCESS_DENIED);
        t2.exit(0).unwrap();
        assert_eq!(code(reply(&any)), ACCESS_DENIED);
        t3.exit(0).unwrap();
        assert_eq!(code(reply(&mx)), ACCESS_DENIED);
    });
    assert_eq!(sem_info(&p, s), (1, 1), "the wait-all took nothing");
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, true), "no dead waiter takes the event");
    main.release_mutex(m).unwrap();
    assert_eq!(mutex_info(&p, m), (None, 0, false), "no dead waiter takes the mutex");

    done(&k, base, vec![main, t1, t2, t3], vec![p]);
}

// SPEC §7.2: "A wait in progress when ... its process is terminated returns ACCESS_DENIED
// having acquired nothing." The objects are shared with a parent that outlives the child.
#[test]
fn a_wait_in_progress_when_its_process_is_terminated() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let pm = p.main_thread();
    let child = child_of(&p);
    let c = child.process.clone();
    let ct = new_thread(&c);
    let cm = c.main_thread();

    let s = p.create_semaphore(None, 1, 1, None).unwrap().handle;
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let m = p.create_mutex(None, true, None).unwrap().handle; // owned by pm
    let (cs, ce, cmx) = (dup_into(&p, s, &c), dup_into(&p, e, &c), dup_into(&p, m, &c));

    thread::scope(|sc| {
        let all = spawn_wait(sc, &ct, &[cs, ce], true, LONG);
        let any = spawn_wait(sc, &cm, &[cmx, ce], false, LONG);
        assert_blocked(&all);
        assert_blocked(&any);
        c.terminate(0).unwrap();
        assert_eq!(code(reply(&all)), ACCESS_DENIED);
        assert_eq!(code(reply(&any)), ACCESS_DENIED);
    });
    assert_eq!(sem_info(&p, s), (1, 1));
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, true));
    pm.release_mutex(m).unwrap();
    assert_eq!(mutex_info(&p, m), (None, 0, false));

    drop(child);
    done(&k, base, vec![pm, ct, cm], vec![p, c]);
}

// SPEC §7.2: "open_thread of an id that names no thread object (never issued, or its
// object destroyed) is INVALID_PARAMETER; an exited thread whose object is still
// referenced opens." SPEC §7.1: the thread type's generic mapping (GENERIC_READ 0x20048
// lacks SYNCHRONIZE, GENERIC_EXECUTE 0x121800 holds it).
#[test]
fn open_thread_rules() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let pm = p.main_thread();
    let q = root(&k);
    let nt = q.create_thread(None).unwrap();
    let tid = nt.thread.id();

    assert_eq!(code(p.open_thread(Access::SYNCHRONIZE, false, 0)), INVALID_PARAMETER);
    assert_eq!(code(p.open_thread(Access::SYNCHRONIZE, false, 0x7fff_fffc)), INVALID_PARAMETER);
    assert_eq!(code(p.open_thread(Access::SYNCHRONIZE, false, q.id())), INVALID_PARAMETER, "a process id");

    let h = p.open_thread(Access::SYNCHRONIZE, false, tid).unwrap();
    assert_eq!(pm.wait_for_single_object(h, ZERO), Ok(WaitStatus::Timeout));
    let qi = p.open_thread(Access::THREAD_QUERY_INFORMATION, false, tid).unwrap();
    assert_eq!(code(pm.wait_for_single_object(qi, ZERO)), ACCESS_DENIED, "no SYNCHRONIZE");
    let gr = p.open_thread(Access::GENERIC_READ, false, tid).unwrap();
    assert_eq!(code(pm.wait_for_single_object(gr, ZERO)), ACCESS_DENIED, "GENERIC_READ: 0x20048");
    let gx = p.open_thread(Access::GENERIC_EXECUTE, false, tid).unwrap();
    assert_eq!(pm.wait_for_single_object(gx, ZERO), Ok(WaitStatus::Timeout), "GENERIC_EXECUTE: 0x121800");
    for x in [h, qi, gr, gx] {
        p.close_handle(x).unwrap();
    }

    // Exited, still referenced (q's handle and the Thread value): opens, and is signalled.
    nt.thread.exit(0).unwrap();
    let h = p.open_thread(Access::SYNCHRONIZE, false, tid).unwrap();
    assert_eq!(pm.wait_for_single_object(h, ZERO), Ok(WaitStatus::Object(0)));
    p.close_handle(h).unwrap();

    // Every reference gone: the object is destroyed and the id names nothing.
    let before = k.object_count();
    q.close_handle(nt.handle).unwrap();
    drop(nt);
    assert_eq!(k.object_count(), before - 1, "the thread object is destroyed");
    assert_eq!(code(p.open_thread(Access::SYNCHRONIZE, false, tid)), INVALID_PARAMETER);

    done(&k, base, vec![pm], vec![p, q]);
}

// SPEC §7.3: "In wait_for_single_object and as signal_object_and_wait's wait handle, -1
// and -2 are the calling process and thread (never signalled while the caller runs); in
// wait_for_multiple_objects every pseudo-handle is INVALID_HANDLE." Wine
// test_WaitForSingleObject / test_WaitForMultipleObjects.
#[test]
fn pseudo_handles_in_waits() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let t = new_thread(&p);
    let e = p.create_event(None, false, true, None).unwrap().handle;

    for th in [&main, &t] {
        assert_eq!(th.wait_for_single_object(Handle::CURRENT_THREAD, SHORT), Ok(WaitStatus::Timeout));
        assert_eq!(th.wait_for_single_object(Handle::CURRENT_PROCESS, SHORT), Ok(WaitStatus::Timeout));
        for raw in usize::MAX - 5..=usize::MAX - 2 {
            let h = Handle::from_raw(raw);
            assert_eq!(code(th.wait_for_single_object(h, ZERO)), INVALID_HANDLE, "pseudo-handle {raw:#x}");
        }
        for h in pseudo_handles() {
            assert_eq!(code(th.wait_for_multiple_objects(&[h], false, ZERO)), INVALID_HANDLE);
            assert_eq!(code(th.wait_for_multiple_objects(&[e, h], false, ZERO)), INVALID_HANDLE);
            assert_eq!(code(th.wait_for_multiple_objects(&[e, h], true, ZERO)), INVALID_HANDLE);
        }
    }
    assert_eq!(event_info(&p, e), (false, true), "the failed waits took nothing");

    // As signal_object_and_wait's wait handle: the signal happens, the wait times out.
    p.reset_event(e).unwrap();
    assert_eq!(main.signal_object_and_wait(e, Handle::CURRENT_THREAD, SHORT), Ok(WaitStatus::Timeout));
    assert_eq!(event_info(&p, e), (false, true));
    p.reset_event(e).unwrap();
    assert_eq!(main.signal_object_and_wait(e, Handle::CURRENT_PROCESS, SHORT), Ok(WaitStatus::Timeout));
    assert_eq!(event_info(&p, e), (false, true));
    // As the signal handle they are not an event, semaphore or mutex.
    assert_eq!(code(main.signal_object_and_wait(Handle::CURRENT_THREAD, e, ZERO)), INVALID_HANDLE);
    assert_eq!(code(main.signal_object_and_wait(Handle::CURRENT_PROCESS, e, ZERO)), INVALID_HANDLE);
    assert_eq!(event_info(&p, e), (false, true), "and nothing was waited for");

    done(&k, base, vec![main, t], vec![p]);
}

// SPEC §7.3: "handles.len() is 1..=64, else INVALID_PARAMETER" — checked before the
// handles. Wine test_WaitForMultipleObjects (MAXIMUM_WAIT_OBJECTS).
#[test]
fn one_to_sixty_four_handles() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let events: Vec<Handle> =
        (0..65).map(|_| p.create_event(None, true, true, None).unwrap().handle).collect();

    for all in [false, true] {
        assert_eq!(code(main.wait_for_multiple_objects(&[], all, ZERO)), INVALID_PARAMETER);
        assert_eq!(code(main.wait_for_multiple_objects(&events, all, ZERO)), INVALID_PARAMETER);
        assert_eq!(code(main.wait_for_multiple_objects(&[BAD; 65], all, ZERO)), INVALID_PARAMETER);
        assert_eq!(code(main.wait_for_multiple_objects(&[BAD; 1000], all, ZERO)), INVALID_PARAMETER);
        assert_eq!(main.wait_for_multiple_objects(&events[..64], all, ZERO), Ok(WaitStatus::Object(0)));
        assert_eq!(main.wait_for_multiple_objects(&events[..1], all, ZERO), Ok(WaitStatus::Object(0)));
    }

    done(&k, base, vec![main], vec![p]);
}

// SPEC §7.3: "each handle in array order is valid (INVALID_HANDLE) and holds SYNCHRONIZE
// (ACCESS_DENIED) — the first bad handle decides; then, in a wait-all, one object named
// twice, through any two handles, is INVALID_PARAMETER." "A ... failed wait changes no
// object."
#[test]
fn the_first_bad_handle_decides() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let good = p.create_event(None, false, true, None).unwrap().handle;
    let other = p.create_event(None, true, false, None).unwrap().handle;
    let nosync = dup_with(&p, other, Access::EVENT_MODIFY_STATE | Access::EVENT_QUERY_STATE);
    let alias = dup_same(&p, good);
    // Closed last, so that no later handle reuses its value.
    let closed = p.create_event(None, true, true, None).unwrap().handle;
    p.close_handle(closed).unwrap();

    assert_eq!(code(main.wait_for_single_object(BAD, ZERO)), INVALID_HANDLE);
    assert_eq!(code(main.wait_for_single_object(closed, ZERO)), INVALID_HANDLE);
    assert_eq!(code(main.wait_for_single_object(nosync, ZERO)), ACCESS_DENIED);

    for all in [false, true] {
        let w = |hs: &[Handle]| code(main.wait_for_multiple_objects(hs, all, ZERO));
        assert_eq!(w(&[good, BAD, nosync]), INVALID_HANDLE);
        assert_eq!(w(&[good, nosync, BAD]), ACCESS_DENIED);
        assert_eq!(w(&[closed, nosync]), INVALID_HANDLE);
        assert_eq!(w(&[nosync, closed]), ACCESS_DENIED);
        assert_eq!(w(&[good, good, BAD]), INVALID_HANDLE, "handles are checked before duplicates");
        assert_eq!(w(&[good, alias, nosync]), ACCESS_DENIED, "handles are checked before duplicates");
    }
    assert_eq!(code(main.wait_for_multiple_objects(&[good, alias], true, ZERO)), INVALID_PARAMETER);
    assert_eq!(code(main.wait_for_multiple_objects(&[alias, other, good], true, ZERO)), INVALID_PARAMETER);
    assert_eq!(event_info(&p, good), (false, true), "no failed wait took the auto-reset event");
    // A wait-any may name it twice: the lowest index takes it.
    assert_eq!(main.wait_for_multiple_objects(&[other, alias, good], false, ZERO), Ok(WaitStatus::Object(1)));
    assert_eq!(event_info(&p, good), (false, false));

    done(&k, base, vec![main], vec![p]);
}

// SPEC §7.3: "A file mapping's handle lacks SYNCHRONIZE unless asked for (FILE_MAP_ALL_ACCESS
// has none), so a wait on the handle create_file_mapping returned is ACCESS_DENIED."
#[test]
fn a_file_mapping_handle_lacks_synchronize() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let fm = p.create_file_mapping(None, None, 0x04, 4096, None).unwrap().handle;
    assert_eq!(code(main.wait_for_single_object(fm, ZERO)), ACCESS_DENIED);
    assert_eq!(code(main.wait_for_multiple_objects(&[fm], false, ZERO)), ACCESS_DENIED);
    // Under the default DACL (GENERIC_ALL maps to 0xF001F) SYNCHRONIZE is not granted
    // even when asked for.
    assert_eq!(
        code(p.duplicate_handle(
            Handle::CURRENT_PROCESS,
            fm,
            Some(Handle::CURRENT_PROCESS),
            Access::SYNCHRONIZE,
            false,
            DuplicateOptions::empty(),
        )),
        ACCESS_DENIED
    );
    // Under a None DACL the creator's handle still lacks it (the creator gets the type's
    // ALL_ACCESS), but asked for it is granted (the valid mask 0x1F001F holds it) and the
    // mapping is always signalled.
    let sa =
        SecurityAttributes { security_descriptor: Some(SecurityDescriptor::default()), ..Default::default() };
    let open = p.create_file_mapping(None, Some(&sa), 0x04, 4096, Some("fm")).unwrap().handle;
    assert_eq!(code(main.wait_for_single_object(open, ZERO)), ACCESS_DENIED);
    let sync = dup_with(&p, open, Access::SYNCHRONIZE | Access::FILE_MAP_READ);
    assert_eq!(main.wait_for_single_object(sync, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(main.wait_for_single_object(sync, ZERO), Ok(WaitStatus::Object(0)));
    let named = p.open_file_mapping(Access::SYNCHRONIZE, false, "fm").unwrap();
    assert_eq!(main.wait_for_single_object(named, ZERO), Ok(WaitStatus::Object(0)));
    done(&k, base, vec![main], vec![p]);
}

// SPEC §7.3: "Every object can be waited on": a job is never signalled; a file and an
// embedder's type registered without a signal state are always signalled; a process or
// thread is signalled once it ends; a timer never set is not signalled.
#[test]
fn signal_states_by_type() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let job = p.create_job_object(None, None).unwrap().handle;
    assert_eq!(main.wait_for_single_object(job, ZERO), Ok(WaitStatus::Timeout));
    let timer = p.create_waitable_timer(None, true, None).unwrap().handle;
    assert_eq!(main.wait_for_single_object(timer, ZERO), Ok(WaitStatus::Timeout));

    let dir = tempfile::tempdir().unwrap();
    let f = p
        .create_file(
            &dir.path().join("f"),
            Access::GENERIC_READ | Access::GENERIC_WRITE,
            None,
            CreationDisposition::CreateAlways,
        )
        .unwrap();
    assert_eq!(main.wait_for_single_object(f, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(main.wait_for_multiple_objects(&[job, timer, f], false, ZERO), Ok(WaitStatus::Object(2)));
    assert_eq!(main.wait_for_multiple_objects(&[job, f], true, ZERO), Ok(WaitStatus::Timeout));

    // An embedder's type registered without a signal state: always signalled.
    #[derive(Debug)]
    struct Socket;
    let socket = k
        .register_type::<Socket>(
            "Socket",
            kobj::GenericMapping::new(0x20001, 0x20002, 0x120000, 0x1F0003),
            Access::from_bits_retain(0x1F0003),
        )
        .unwrap();
    let sock = p.create_object(&socket, Socket, None, None).unwrap().handle;
    assert_eq!(main.wait_for_single_object(sock, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(main.wait_for_single_object(sock, ZERO), Ok(WaitStatus::Object(0)), "not consumed");
    assert_eq!(main.wait_for_multiple_objects(&[job, sock, f], true, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(main.wait_for_multiple_objects(&[sock, f], true, ZERO), Ok(WaitStatus::Object(0)));

    let child = child_of(&p);
    let nt = p.create_thread(None).unwrap();
    assert_eq!(
        main.wait_for_multiple_objects(&[child.handle, nt.handle], false, ZERO),
        Ok(WaitStatus::Timeout)
    );
    nt.thread.exit(0).unwrap();
    assert_eq!(
        main.wait_for_multiple_objects(&[child.handle, nt.handle], false, ZERO),
        Ok(WaitStatus::Object(1))
    );
    child.process.terminate(0).unwrap();
    assert_eq!(
        main.wait_for_multiple_objects(&[child.handle, nt.handle], true, ZERO),
        Ok(WaitStatus::Object(0))
    );
    assert_eq!(
        main.wait_for_multiple_objects(&[child.handle, nt.handle], false, ZERO),
        Ok(WaitStatus::Object(0))
    );

    let c = child.process.clone();
    drop((child, nt));
    done(&k, base, vec![main], vec![p, c]);
}

// SPEC §7.3: "no waiter can slip between the signal and the start of the wait (10,000
// signal_object_and_wait(e, e) on one auto-reset event all succeed)." Wine
// test_signalandwait.
#[test]
fn ten_thousand_signal_and_wait_on_one_event() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let e = p.create_event(None, false, false, None).unwrap().handle;
    for i in 0..10_000 {
        assert_eq!(main.signal_object_and_wait(e, e, ZERO), Ok(WaitStatus::Object(0)), "round {i}");
    }
    assert_eq!(event_info(&p, e), (false, false), "each wait took the set it made");
    done(&k, base, vec![main], vec![p]);
}

// SPEC §7.3: "signal_object_and_wait ... Both handles are checked before anything happens
// (a bad wait handle signals nothing). The signal object must be an event, semaphore or
// mutex (else INVALID_HANDLE), held with EVENT_MODIFY_STATE or SEMAPHORE_MODIFY_STATE for
// the first two (else ACCESS_DENIED); a semaphore at its maximum fails with TOO_MANY_POSTS
// and a mutex the caller does not own with NOT_OWNER, and then the wait is not performed."
// SPEC §7.4: release_mutex needs no particular access right.
#[test]
fn signal_object_and_wait_checks() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let t = new_thread(&p);
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let target = p.create_event(None, false, true, None).unwrap().handle; // the wait object
    let nosync = dup_with(&p, target, Access::EVENT_MODIFY_STATE);

    // A bad wait handle: nothing is signalled.
    assert_eq!(code(main.signal_object_and_wait(e, BAD, ZERO)), INVALID_HANDLE);
    assert_eq!(code(main.signal_object_and_wait(e, nosync, ZERO)), ACCESS_DENIED);
    assert_eq!(event_info(&p, e), (false, false), "a bad wait handle signals nothing");

    // The signal object's type.
    let job = p.create_job_object(None, None).unwrap().handle;
    let fm = p.create_file_mapping(None, None, 0x04, 4096, None).unwrap().handle;
    let nt = p.create_thread(None).unwrap();
    for h in [job, fm, nt.handle, BAD] {
        assert_eq!(code(main.signal_object_and_wait(h, target, ZERO)), INVALID_HANDLE);
    }
    // The signal handle's access.
    let e_sync = dup_with(&p, e, Access::SYNCHRONIZE);
    assert_eq!(code(main.signal_object_and_wait(e_sync, target, ZERO)), ACCESS_DENIED);
    let s = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let s_sync = dup_with(&p, s, Access::SYNCHRONIZE);
    assert_eq!(code(main.signal_object_and_wait(s_sync, target, ZERO)), ACCESS_DENIED);
    assert_eq!(event_info(&p, target), (false, true), "no wait was performed");
    assert_eq!(sem_info(&p, s), (0, 1));

    // A semaphore at its maximum, a mutex not owned: the wait is not performed.
    p.release_semaphore(s, 1).unwrap();
    assert_eq!(code(main.signal_object_and_wait(s, target, ZERO)), TOO_MANY_POSTS);
    assert_eq!(sem_info(&p, s), (1, 1));
    let m = p.create_mutex(None, false, None).unwrap().handle;
    assert_eq!(code(main.signal_object_and_wait(m, target, ZERO)), NOT_OWNER);
    assert_eq!(t.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(code(main.signal_object_and_wait(m, target, ZERO)), NOT_OWNER, "owned by another thread");
    assert_eq!(event_info(&p, target), (false, true), "no wait was performed");

    // A mutex handle with no MUTEX_MODIFY_STATE still releases (release needs no right).
    let m_sync = dup_with(&p, m, Access::SYNCHRONIZE);
    assert_eq!(t.signal_object_and_wait(m_sync, target, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (None, 0, false));
    assert_eq!(event_info(&p, target), (false, false));
    // Release one, wait on the same mutex: the caller gets it back.
    assert_eq!(main.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(main.signal_object_and_wait(m, m, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (Some(main.id()), 1, false));
    // A semaphore signal releases by 1.
    assert_eq!(main.wait_for_single_object(s, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(main.signal_object_and_wait(s, e, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(sem_info(&p, s), (1, 1));

    drop(nt);
    done(&k, base, vec![main, t], vec![p]);
}

// SPEC §7.3: "A timed-out or failed wait changes no object."
#[test]
fn a_timed_out_wait_changes_nothing() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let x = new_thread(&p);
    let s = p.create_semaphore(None, 1, 1, None).unwrap().handle;
    let auto = p.create_event(None, false, true, None).unwrap().handle;
    let manual = p.create_event(None, true, false, None).unwrap().handle;
    let m = x.create_mutex(None, true, None).unwrap().handle;
    let free = p.create_mutex(None, false, None).unwrap().handle;

    let check = || {
        assert_eq!(sem_info(&p, s), (1, 1));
        assert_eq!(event_info(&p, auto), (false, true));
        assert_eq!(event_info(&p, manual), (true, false));
        assert_eq!(mutex_info(&p, m), (Some(x.id()), 1, false));
        assert_eq!(mutex_info(&p, free), (None, 0, false));
    };
    for timeout in [ZERO, SHORT] {
        assert_eq!(
            main.wait_for_multiple_objects(&[s, auto, free, m], true, timeout),
            Ok(WaitStatus::Timeout)
        );
        check();
        assert_eq!(
            main.wait_for_multiple_objects(&[free, s, auto, manual], true, timeout),
            Ok(WaitStatus::Timeout)
        );
        check();
        assert_eq!(main.wait_for_multiple_objects(&[manual, m], false, timeout), Ok(WaitStatus::Timeout));
        check();
        assert_eq!(main.wait_for_single_object(m, timeout), Ok(WaitStatus::Timeout));
        check();
    }
    assert_eq!(code(main.wait_for_multiple_objects(&[s, auto, free, BAD], true, ZERO)), INVALID_HANDLE);
    check();
    assert_eq!(code(main.wait_for_multiple_objects(&[s, auto, free, s], true, ZERO)), INVALID_PARAMETER);
    check();

    done(&k, base, vec![main, x], vec![p]);
}

// SPEC §7.4: "A wait that would take recursion past i32::MAX fails with
// MUTANT_LIMIT_EXCEEDED (587)". Not reachable cheaply: the public API raises recursion by
// one per wait, so the limit takes 2^31 waits. Nothing here tests it.

// SPEC §7.4: "The next thread to acquire it (a waiter already blocked, or a later waiter)
// gets Abandoned(i), and the abandoned flag clears on that acquisition." Also: a thread's
// wait on a mutex it owns always succeeds (SPEC §7.3), here 32 times then 32 releases.
#[test]
fn abandonment_reaches_exactly_one_acquirer() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let x = new_thread(&p);
    let y = new_thread(&p);
    let m = x.create_mutex(None, true, None).unwrap().handle;
    for _ in 0..31 {
        assert_eq!(x.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    }
    assert_eq!(mutex_info(&p, m), (Some(x.id()), 32, false));

    thread::scope(|sc| {
        let rx = spawn_wait(sc, &y, &[m], false, LONG);
        assert_blocked(&rx);
        x.exit(0).unwrap();
        assert_eq!(reply(&rx), Ok(WaitStatus::Abandoned(0)));
    });
    assert_eq!(mutex_info(&p, m), (Some(y.id()), 1, false));
    y.release_mutex(m).unwrap();
    assert_eq!(main.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)), "the flag was cleared");

    // 32 acquisitions, 32 releases; the 33rd fails.
    for _ in 0..31 {
        assert_eq!(main.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    }
    for _ in 0..32 {
        main.release_mutex(m).unwrap();
    }
    assert_eq!(mutex_info(&p, m), (None, 0, false));
    assert_eq!(code(main.release_mutex(m)), NOT_OWNER);

    done(&k, base, vec![main, x, y], vec![p]);
}

// SPEC §7.3: "Closing a handle does not affect a wait in progress on its object (the wait
// holds its own references); the wait ends by signal or timeout." SPEC §3: the object
// dies when the last reference, the wait's included, goes.
#[test]
fn closing_a_handle_does_not_end_the_wait() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let t = new_thread(&p);

    // Ended by a signal through another handle.
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let e2 = dup_same(&p, e);
    thread::scope(|sc| {
        let rx = spawn_wait(sc, &t, &[e], false, LONG);
        assert_blocked(&rx);
        p.close_handle(e).unwrap();
        assert_blocked(&rx);
        p.set_event(e2).unwrap();
        assert_eq!(reply(&rx), Ok(WaitStatus::Object(0)));
    });
    assert_eq!(event_info(&p, e2), (false, false), "the waiter took the set");

    // The last handle closed during the wait: the object lives until the wait ends.
    let s = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let live = k.object_count();
    thread::scope(|sc| {
        let rx = spawn_wait(sc, &t, &[s], false, Some(SETTLE * 4));
        assert_blocked(&rx);
        p.close_handle(s).unwrap();
        assert_eq!(reply(&rx), Ok(WaitStatus::Timeout));
    });
    assert_eq!(k.object_count(), live - 1, "the wait's reference was dropped");

    done(&k, base, vec![t], vec![p]);
}

// SPEC §7.3: process and thread objects are "signalled once terminated/exited, for good;
// waits do not consume them" — a blocked waiter wakes at the exit.
#[test]
fn a_blocked_wait_on_a_thread_or_process_wakes_at_its_end() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let waiters: Vec<Thread> = (0..2).map(|_| new_thread(&p)).collect();
    let nt = p.create_thread(None).unwrap();
    let child = child_of(&p);

    thread::scope(|sc| {
        let rx: Vec<Reply> = waiters.iter().map(|w| spawn_wait(sc, w, &[nt.handle], false, LONG)).collect();
        let all = spawn_wait(sc, &main, &[child.handle, nt.handle], true, LONG);
        for r in &rx {
            assert_blocked(r);
        }
        assert_blocked(&all);
        nt.thread.exit(0).unwrap();
        for r in &rx {
            assert_eq!(reply(r), Ok(WaitStatus::Object(0)), "every waiter sees the exit");
        }
        assert_blocked(&all);
        child.process.terminate(4).unwrap();
        assert_eq!(reply(&all), Ok(WaitStatus::Object(0)));
    });
    assert_eq!(main.wait_for_single_object(nt.handle, ZERO), Ok(WaitStatus::Object(0)));

    let c = child.process.clone();
    drop((child, nt));
    done(&k, base, waiters.into_iter().chain([main]).collect(), vec![p, c]);
}

// SPEC §7.3: "Signals hand objects to blocked waiters at the moment of the signal, first
// come first served" — across wait-any and wait-all waiters alike: NT keeps one FIFO wait
// list per object and walks it from the head (WRK ke/ki.h KiWaitTestSynchronizationObject,
// ke/waitsup.c KiWaitTest). The ntsync driver instead tries wait-all waiters first. A wait-any waiter that queued first gets the count; a wait-all waiter
// that queued after it, and could also be satisfied, stays blocked.
#[test]
fn first_come_first_served_across_wait_any_and_wait_all() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let first = new_thread(&p);
    let second = new_thread(&p);
    let s = p.create_semaphore(None, 0, 2, None).unwrap().handle;
    let ready = p.create_event(None, true, true, None).unwrap().handle;
    // Shorter than LONG: an engine that gets this wrong fails in seconds.
    let bound = Some(Duration::from_secs(2));

    thread::scope(|sc| {
        let any = spawn_wait(sc, &first, &[s], false, bound);
        assert_blocked(&any);
        let all = spawn_wait(sc, &second, &[s, ready], true, bound);
        assert_blocked(&all);
        assert_eq!(p.release_semaphore(s, 1), Ok(0));
        assert_eq!(reply(&any), Ok(WaitStatus::Object(0)), "the first waiter, a wait-any, gets the count");
        assert_blocked(&all);
        assert_eq!(p.release_semaphore(s, 1), Ok(0));
        assert_eq!(reply(&all), Ok(WaitStatus::Object(0)));
    });
    assert_eq!(sem_info(&p, s), (0, 2));

    done(&k, base, vec![first, second], vec![p]);
}

// SPEC §7.2: "process.terminate exits all its threads first ... then the process object
// is signalled", and a wait in progress when its process is terminated returns
// ACCESS_DENIED — even a wait on the process itself.
#[test]
fn a_wait_on_its_own_process_ends_with_access_denied_at_terminate() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let t = new_thread(&p);
    let own_thread = p.open_thread(Access::SYNCHRONIZE, false, t.id()).unwrap();
    // A thread's real handle to itself is not signalled while it runs.
    assert_eq!(t.wait_for_single_object(own_thread, SHORT), Ok(WaitStatus::Timeout));

    thread::scope(|sc| {
        let (tx, rx) = mpsc::channel();
        let m = main.clone();
        sc.spawn(move || {
            let _ = tx.send(m.wait_for_single_object(Handle::CURRENT_PROCESS, LONG));
        });
        let on_thread = spawn_wait(sc, &t, &[own_thread], false, LONG);
        assert_blocked(&rx);
        assert_blocked(&on_thread);
        p.terminate(2).unwrap();
        assert_eq!(code(reply(&rx)), ACCESS_DENIED);
        assert_eq!(code(reply(&on_thread)), ACCESS_DENIED);
    });
    assert_eq!(p.exit_code(), 2);

    done(&k, base, vec![main, t], vec![p]);
}

// SPEC §7.1: create_thread's handle is made with `sa` (inheritable when asked) and
// open_thread's `inherit` sets INHERIT; both name the same thread object.
#[test]
fn thread_handles_take_their_attributes() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let sa = SecurityAttributes { inherit_handle: true, ..Default::default() };
    let nt = p.create_thread(Some(&sa)).unwrap();
    assert_eq!(p.get_handle_information(nt.handle), Ok(kobj::HandleFlags::INHERIT));
    let plain = p.create_thread(None).unwrap();
    assert_eq!(p.get_handle_information(plain.handle), Ok(kobj::HandleFlags::empty()));
    let opened = p.open_thread(Access::SYNCHRONIZE, true, nt.thread.id()).unwrap();
    assert_eq!(p.get_handle_information(opened), Ok(kobj::HandleFlags::INHERIT));
    assert_eq!(p.compare_object_handles(opened, nt.handle), Ok(true));
    assert_eq!(p.compare_object_handles(opened, plain.handle), Ok(false));

    let threads = vec![nt.thread, plain.thread];
    done(&k, base, threads, vec![p]);
}
