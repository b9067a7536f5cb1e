//! The Linux ntsync selftests (tools/testing/selftests/drivers/ntsync/ntsync.c, Linux
//! 6.14), rewritten against the kobj API: SPEC §7.3 (waits) and §7.4 (mutexes).
//!
//! ntsync names a mutex owner by a number; here an owner is a guest thread (the process's
//! main thread or one from `create_thread`), and ntsync's MUTEX_KILL is that thread's
//! `exit`. Where ntsync and Win32 differ (a release of 0, a wait on no objects), the test
//! asserts what Win32 does and says so.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::TryRecvError;
use std::thread;
use std::time::Duration;

use common::*;
use kobj::{Kernel, Process, Thread, WaitStatus};

/// A wait that only tests.
const ZERO: Option<Duration> = Some(Duration::ZERO);
/// The bound on every wait that is expected to be satisfied: long enough never to fire on
/// a loaded machine, short enough that a broken engine fails instead of hanging.
const LONG: Option<Duration> = Some(Duration::from_secs(10));
/// How long a waiter is given to block before the test checks it has not returned.
const SETTLE: Duration = Duration::from_millis(100);

fn new_thread(p: &Process) -> Thread {
    p.create_thread(None).expect("create_thread").thread
}

/// Gives the waiter time to block, then checks that it has not returned.
#[track_caller]
fn assert_blocked(rx: &Reply) {
    thread::sleep(SETTLE);
    match rx.try_recv() {
        Err(TryRecvError::Empty) => {}
        other => panic!("the waiter should still be blocked, got {other:?}"),
    }
}

/// Checks, without a pause, that the waiter has not returned.
#[track_caller]
fn assert_still_blocked(rx: &Reply) {
    match rx.try_recv() {
        Err(TryRecvError::Empty) => {}
        other => panic!("the waiter should still be blocked, got {other:?}"),
    }
}

// ntsync TEST(semaphore_state); SPEC §3 (release_semaphore) and §7.3 (acquiring a
// semaphore drops its count by 1; a timed-out wait changes nothing).
#[test]
fn semaphore_state() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = p.main_thread();

    assert_eq!(code(p.create_semaphore(None, 3, 2, None)), INVALID_PARAMETER, "initial > maximum");
    let s = p.create_semaphore(None, 2, 2, None).unwrap().handle;
    assert_eq!(sem_info(&p, s), (2, 2));

    // ntsync treats a release of 0 as a no-op; Win32 rejects count <= 0 (SPEC §3).
    assert_eq!(code(p.release_semaphore(s, 0)), INVALID_PARAMETER);
    assert_eq!(sem_info(&p, s), (2, 2));
    assert_eq!(code(p.release_semaphore(s, 1)), TOO_MANY_POSTS);
    assert_eq!(sem_info(&p, s), (2, 2));

    assert_eq!(a.wait_for_single_object(s, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (1, 2));
    assert_eq!(a.wait_for_single_object(s, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (0, 2));
    assert_eq!(a.wait_for_single_object(s, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(sem_info(&p, s), (0, 2));

    assert_eq!(code(p.release_semaphore(s, 3)), TOO_MANY_POSTS);
    assert_eq!(sem_info(&p, s), (0, 2));
    assert_eq!(p.release_semaphore(s, 2), Ok(0));
    assert_eq!(sem_info(&p, s), (2, 2));

    assert_eq!(a.wait_for_single_object(s, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(a.wait_for_single_object(s, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(p.release_semaphore(s, 1), Ok(0));
    assert_eq!(sem_info(&p, s), (1, 2));

    // A release whose sum overflows is a release past the maximum.
    assert_eq!(code(p.release_semaphore(s, i32::MAX)), TOO_MANY_POSTS);
    assert_eq!(sem_info(&p, s), (1, 2));

    done(&k, base, vec![a], vec![p]);
}

// ntsync TEST(mutex_state); SPEC §7.4 (ownership, recursion, NOT_OWNER, abandonment by
// thread exit) and §7.3 (a thread's wait on a mutex it owns always succeeds).
#[test]
fn mutex_state() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = p.main_thread();
    let b = new_thread(&p);

    // ntsync creates a mutex owned by 123 with count 2: here the creator's own second wait.
    let m = a.create_mutex(None, true, None).unwrap().handle;
    assert_eq!(mutex_info(&p, m), (Some(a.id()), 1, false));
    assert_eq!(a.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (Some(a.id()), 2, false));

    assert_eq!(code(b.release_mutex(m)), NOT_OWNER, "released by a thread that does not own it");
    assert_eq!(mutex_info(&p, m), (Some(a.id()), 2, false));

    assert_eq!(a.release_mutex(m), Ok(()));
    assert_eq!(mutex_info(&p, m), (Some(a.id()), 1, false));
    assert_eq!(a.release_mutex(m), Ok(()));
    assert_eq!(mutex_info(&p, m), (None, 0, false));
    assert_eq!(code(a.release_mutex(m)), NOT_OWNER, "released while unowned");
    assert_eq!(mutex_info(&p, m), (None, 0, false));

    assert_eq!(b.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (Some(b.id()), 1, false));
    assert_eq!(b.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (Some(b.id()), 2, false));
    assert_eq!(b.release_mutex(m), Ok(()));
    assert_eq!(mutex_info(&p, m), (Some(b.id()), 1, false));

    assert_eq!(a.wait_for_single_object(m, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(mutex_info(&p, m), (Some(b.id()), 1, false), "a timed-out wait changes nothing");

    // ntsync's MUTEX_KILL by a non-owner fails; here a thread that owns nothing exits and
    // the mutex is untouched.
    let c = new_thread(&p);
    c.exit(0).unwrap();
    assert_eq!(mutex_info(&p, m), (Some(b.id()), 1, false));

    // The owner exits: free and abandoned; reading the state does not clear it.
    b.exit(0).unwrap();
    assert_eq!(mutex_info(&p, m), (None, 0, true));
    assert_eq!(mutex_info(&p, m), (None, 0, true));

    assert_eq!(a.wait_for_single_object(m, ZERO), Ok(WaitStatus::Abandoned(0)));
    assert_eq!(mutex_info(&p, m), (Some(a.id()), 1, false), "the acquisition clears the flag");

    // Abandoned a second time, by another owner.
    assert_eq!(a.release_mutex(m), Ok(()));
    let d = new_thread(&p);
    assert_eq!(d.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (Some(d.id()), 1, false));
    d.exit(0).unwrap();
    assert_eq!(mutex_info(&p, m), (None, 0, true));
    assert_eq!(a.wait_for_single_object(m, ZERO), Ok(WaitStatus::Abandoned(0)));
    assert_eq!(mutex_info(&p, m), (Some(a.id()), 1, false));
    p.close_handle(m).unwrap();

    // An unowned mutex.
    let m = a.create_mutex(None, false, None).unwrap().handle;
    assert_eq!(mutex_info(&p, m), (None, 0, false));
    assert_eq!(a.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (Some(a.id()), 1, false));

    // ntsync's last case (a mutex created at recursion ~0u) cannot be built through the
    // Win32 API: reaching i32::MAX takes 2^31 waits. MUTANT_LIMIT_EXCEEDED is not tested.

    done(&k, base, vec![a, b, c, d], vec![p]);
}

// ntsync TEST(manual_event_state); SPEC §7.3 (a manual-reset event is not changed by a
// wait; pulse_event leaves it reset).
#[test]
fn manual_event_state() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = p.main_thread();

    let e = p.create_event(None, true, false, None).unwrap().handle;
    assert_eq!(event_info(&p, e), (true, false));
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (true, true));
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (true, true));

    assert_eq!(a.wait_for_single_object(e, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(event_info(&p, e), (true, true), "a wait does not reset a manual-reset event");

    p.reset_event(e).unwrap();
    assert_eq!(event_info(&p, e), (true, false));
    p.reset_event(e).unwrap();
    assert_eq!(event_info(&p, e), (true, false));
    assert_eq!(a.wait_for_single_object(e, ZERO), Ok(WaitStatus::Timeout));

    p.set_event(e).unwrap();
    p.pulse_event(e).unwrap();
    assert_eq!(event_info(&p, e), (true, false), "pulse leaves the event reset");
    p.pulse_event(e).unwrap();
    assert_eq!(event_info(&p, e), (true, false));
    assert_eq!(a.wait_for_single_object(e, ZERO), Ok(WaitStatus::Timeout));

    done(&k, base, vec![a], vec![p]);
}

// ntsync TEST(auto_event_state); SPEC §7.3 (acquiring an auto-reset event resets it).
#[test]
fn auto_event_state() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = p.main_thread();

    let e = p.create_event(None, false, true, None).unwrap().handle;
    assert_eq!(event_info(&p, e), (false, true));
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, true));

    assert_eq!(a.wait_for_single_object(e, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(event_info(&p, e), (false, false), "the wait reset it");

    p.reset_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, false));
    assert_eq!(a.wait_for_single_object(e, ZERO), Ok(WaitStatus::Timeout));

    p.set_event(e).unwrap();
    p.pulse_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, false));
    p.pulse_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, false));
    assert_eq!(a.wait_for_single_object(e, ZERO), Ok(WaitStatus::Timeout));

    done(&k, base, vec![a], vec![p]);
}

// ntsync TEST(test_wait_any); SPEC §7.3 (wait-any: lowest index wins, one object per call,
// an object may be named twice, 1..=64 handles) and §7.4 (recursion, abandonment).
#[test]
fn wait_any() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let x = new_thread(&p); // ntsync's owner 123
    let y = new_thread(&p); // ntsync's owner 456

    let s = p.create_semaphore(None, 2, 3, None).unwrap().handle;
    let m = p.create_mutex(None, false, None).unwrap().handle;
    let objs = [s, m];

    assert_eq!(x.wait_for_multiple_objects(&objs, false, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (1, 3));
    assert_eq!(mutex_info(&p, m), (None, 0, false), "only the first signalled object is taken");
    assert_eq!(x.wait_for_multiple_objects(&objs, false, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (0, 3));
    assert_eq!(mutex_info(&p, m), (None, 0, false));
    assert_eq!(x.wait_for_multiple_objects(&objs, false, ZERO), Ok(WaitStatus::Object(1)));
    assert_eq!(sem_info(&p, s), (0, 3));
    assert_eq!(mutex_info(&p, m), (Some(x.id()), 1, false));

    assert_eq!(p.release_semaphore(s, 1), Ok(0));
    assert_eq!(x.wait_for_multiple_objects(&objs, false, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (0, 3));
    assert_eq!(mutex_info(&p, m), (Some(x.id()), 1, false));

    // Mutex recursion through a wait-any.
    assert_eq!(x.wait_for_multiple_objects(&objs, false, ZERO), Ok(WaitStatus::Object(1)));
    assert_eq!(sem_info(&p, s), (0, 3));
    assert_eq!(mutex_info(&p, m), (Some(x.id()), 2, false));

    assert_eq!(y.wait_for_multiple_objects(&objs, false, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(mutex_info(&p, m), (Some(x.id()), 2, false));

    x.exit(0).unwrap();
    assert_eq!(y.wait_for_multiple_objects(&objs, false, ZERO), Ok(WaitStatus::Abandoned(1)));
    assert_eq!(mutex_info(&p, m), (Some(y.id()), 1, false));
    assert_eq!(y.wait_for_multiple_objects(&objs, false, ZERO), Ok(WaitStatus::Object(1)));
    assert_eq!(mutex_info(&p, m), (Some(y.id()), 2, false));
    p.close_handle(m).unwrap();

    // The same object named twice: allowed in a wait-any, and taken once.
    assert_eq!(p.release_semaphore(s, 2), Ok(0));
    assert_eq!(y.wait_for_multiple_objects(&[s, s], false, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (1, 3));

    // ntsync accepts a wait on no objects (it times out); Win32 wants 1..=64 handles.
    assert_eq!(code(y.wait_for_multiple_objects(&[], false, ZERO)), INVALID_PARAMETER);
    let max = [s; 64];
    assert_eq!(y.wait_for_multiple_objects(&max, false, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (0, 3), "64 names of one object, one acquisition");
    assert_eq!(p.release_semaphore(s, 1), Ok(0));
    let too_many = [s; 65];
    assert_eq!(code(y.wait_for_multiple_objects(&too_many, false, ZERO)), INVALID_PARAMETER);
    assert_eq!(sem_info(&p, s), (1, 3), "a failed wait takes nothing");

    done(&k, base, vec![x, y], vec![p]);
}

// ntsync TEST(test_wait_all); SPEC §7.3 (wait-all: all or nothing, returns Object(0) or
// Abandoned(0); an object named twice, through any two handles, is INVALID_PARAMETER).
#[test]
fn wait_all() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let x = new_thread(&p);
    let y = new_thread(&p);

    let s = p.create_semaphore(None, 2, 3, None).unwrap().handle;
    let m = p.create_mutex(None, false, None).unwrap().handle;
    let objs = [s, m];

    assert_eq!(x.wait_for_multiple_objects(&objs, true, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (1, 3));
    assert_eq!(mutex_info(&p, m), (Some(x.id()), 1, false));

    // y cannot have the mutex, so it takes nothing — not even the free semaphore count.
    assert_eq!(y.wait_for_multiple_objects(&objs, true, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(sem_info(&p, s), (1, 3));
    assert_eq!(mutex_info(&p, m), (Some(x.id()), 1, false));

    assert_eq!(x.wait_for_multiple_objects(&objs, true, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (0, 3));
    assert_eq!(mutex_info(&p, m), (Some(x.id()), 2, false));

    // The semaphore is empty: x, although it could recurse on the mutex, takes nothing.
    assert_eq!(x.wait_for_multiple_objects(&objs, true, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(sem_info(&p, s), (0, 3));
    assert_eq!(mutex_info(&p, m), (Some(x.id()), 2, false));

    assert_eq!(p.release_semaphore(s, 3), Ok(0));
    assert_eq!(x.wait_for_multiple_objects(&objs, true, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (2, 3));
    assert_eq!(mutex_info(&p, m), (Some(x.id()), 3, false));

    x.exit(0).unwrap();
    assert_eq!(mutex_info(&p, m), (None, 0, true));
    assert_eq!(y.wait_for_multiple_objects(&objs, true, ZERO), Ok(WaitStatus::Abandoned(0)));
    assert_eq!(sem_info(&p, s), (1, 3));
    assert_eq!(mutex_info(&p, m), (Some(y.id()), 1, false));
    p.close_handle(m).unwrap();

    // A manual-reset event is not changed by the wait-all that includes it.
    let e = p.create_event(None, true, true, None).unwrap().handle;
    assert_eq!(y.wait_for_multiple_objects(&[s, e], true, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (0, 3));
    assert_eq!(event_info(&p, e), (true, true));

    // One object twice: by the same handle, or by two handles.
    assert_eq!(p.release_semaphore(s, 2), Ok(0));
    assert_eq!(code(y.wait_for_multiple_objects(&[s, s], true, ZERO)), INVALID_PARAMETER);
    let s2 = dup_same(&p, s);
    assert_eq!(code(y.wait_for_multiple_objects(&[s, e, s2], true, ZERO)), INVALID_PARAMETER);
    assert_eq!(sem_info(&p, s), (2, 3), "a rejected wait-all takes nothing");
    // The same two handles are fine in a wait-any.
    assert_eq!(y.wait_for_multiple_objects(&[s2, s], false, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (1, 3));

    done(&k, base, vec![x, y], vec![p]);
}

// ntsync TEST(wake_any); SPEC §7.3 ("Signals hand objects to blocked waiters at the
// moment of the signal"; a mutex released to 0 passes straight to its waiter; closing a
// handle does not affect a wait in progress) and §7.4 (a blocked waiter gets Abandoned).
#[test]
fn wake_any() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = p.main_thread();
    let b = new_thread(&p);

    let s = p.create_semaphore(None, 0, 3, None).unwrap().handle;
    let m = p.create_mutex(None, true, None).unwrap().handle; // owned by a
    assert_eq!(mutex_info(&p, m), (Some(a.id()), 1, false));

    thread::scope(|sc| {
        // The semaphore.
        let rx = spawn_wait(sc, &b, &[s, m], false, LONG);
        assert_blocked(&rx);
        assert_eq!(p.release_semaphore(s, 1), Ok(0));
        assert_eq!(sem_info(&p, s), (0, 3), "the count went straight to the waiter");
        assert_eq!(reply(&rx), Ok(WaitStatus::Object(0)));

        // The mutex: only the release that brings it to 0 wakes the waiter.
        assert_eq!(a.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
        let rx = spawn_wait(sc, &b, &[s, m], false, LONG);
        assert_blocked(&rx);
        a.release_mutex(m).unwrap();
        thread::sleep(SETTLE);
        assert_still_blocked(&rx);
        assert_eq!(mutex_info(&p, m), (Some(a.id()), 1, false));
        a.release_mutex(m).unwrap();
        assert_eq!(mutex_info(&p, m), (Some(b.id()), 1, false), "passed straight to the waiter");
        assert_eq!(reply(&rx), Ok(WaitStatus::Object(1)));
    });
    p.close_handle(m).unwrap();

    // An auto-reset event: set and pulse each wake the waiter and leave it reset.
    let e = p.create_event(None, false, false, None).unwrap().handle;
    thread::scope(|sc| {
        let rx = spawn_wait(sc, &b, &[s, e], false, LONG);
        assert_blocked(&rx);
        p.set_event(e).unwrap();
        assert_eq!(event_info(&p, e), (false, false), "the waiter took the set");
        assert_eq!(reply(&rx), Ok(WaitStatus::Object(1)));

        let rx = spawn_wait(sc, &b, &[s, e], false, LONG);
        assert_blocked(&rx);
        p.pulse_event(e).unwrap();
        assert_eq!(event_info(&p, e), (false, false));
        assert_eq!(reply(&rx), Ok(WaitStatus::Object(1)));
    });
    p.close_handle(e).unwrap();

    // A manual-reset event: set wakes the waiter and stays set; pulse wakes it and resets.
    let e = p.create_event(None, true, false, None).unwrap().handle;
    thread::scope(|sc| {
        let rx = spawn_wait(sc, &b, &[s, e], false, LONG);
        assert_blocked(&rx);
        p.set_event(e).unwrap();
        assert_eq!(event_info(&p, e), (true, true));
        assert_eq!(reply(&rx), Ok(WaitStatus::Object(1)));

        p.reset_event(e).unwrap();
        let rx = spawn_wait(sc, &b, &[s, e], false, LONG);
        assert_blocked(&rx);
        p.pulse_event(e).unwrap();
        assert_eq!(event_info(&p, e), (true, false));
        assert_eq!(reply(&rx), Ok(WaitStatus::Object(1)));
    });

    // A blocked waiter woken by the owner's exit gets Abandoned (ntsync: MUTEX_KILL).
    let x = new_thread(&p);
    let m2 = x.create_mutex(None, true, None).unwrap().handle;
    thread::scope(|sc| {
        let rx = spawn_wait(sc, &b, &[s, m2], false, LONG);
        assert_blocked(&rx);
        x.exit(0).unwrap();
        assert_eq!(reply(&rx), Ok(WaitStatus::Abandoned(1)));
        assert_eq!(mutex_info(&p, m2), (Some(b.id()), 1, false));
    });

    // Closing the handles does not end a wait in progress: it times out.
    thread::scope(|sc| {
        let rx = spawn_wait(sc, &b, &[s, e], false, Some(SETTLE * 4));
        assert_blocked(&rx);
        p.close_handle(s).unwrap();
        p.close_handle(e).unwrap();
        assert_eq!(reply(&rx), Ok(WaitStatus::Timeout));
    });

    done(&k, base, vec![a, b, x], vec![p]);
}

// ntsync TEST(wake_all); SPEC §7.3 (a blocked wait-all takes nothing while not all objects
// are available, even as they come and go, then takes all at once).
#[test]
fn wake_all() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = p.main_thread();
    let b = new_thread(&p);

    let s = p.create_semaphore(None, 0, 3, None).unwrap().handle;
    let m = p.create_mutex(None, true, None).unwrap().handle; // owned by a
    let manual = p.create_event(None, true, true, None).unwrap().handle;
    let auto = p.create_event(None, false, true, None).unwrap().handle;
    let objs = [s, m, manual, auto];

    thread::scope(|sc| {
        let rx = spawn_wait(sc, &b, &objs, true, LONG);
        assert_blocked(&rx);

        assert_eq!(p.release_semaphore(s, 1), Ok(0));
        thread::sleep(SETTLE);
        assert_still_blocked(&rx);
        assert_eq!(sem_info(&p, s), (1, 3), "the blocked wait-all took nothing");

        assert_eq!(a.wait_for_single_object(s, ZERO), Ok(WaitStatus::Object(0)));
        a.release_mutex(m).unwrap();
        thread::sleep(SETTLE);
        assert_still_blocked(&rx);
        assert_eq!(mutex_info(&p, m), (None, 0, false));
        assert_eq!(event_info(&p, auto), (false, true), "the auto-reset event is untouched");

        p.reset_event(manual).unwrap();
        assert_eq!(p.release_semaphore(s, 2), Ok(0));
        thread::sleep(SETTLE);
        assert_still_blocked(&rx);
        assert_eq!(sem_info(&p, s), (2, 3));

        p.reset_event(auto).unwrap();
        p.set_event(manual).unwrap();
        thread::sleep(SETTLE);
        assert_still_blocked(&rx);

        // The last missing object: everything is taken in one step.
        p.set_event(auto).unwrap();
        assert_eq!(sem_info(&p, s), (1, 3));
        assert_eq!(mutex_info(&p, m), (Some(b.id()), 1, false));
        assert_eq!(event_info(&p, manual), (true, true));
        assert_eq!(event_info(&p, auto), (false, false));
        assert_eq!(reply(&rx), Ok(WaitStatus::Object(0)));
    });

    // Closing the handles does not end a wait-all in progress: it times out.
    thread::scope(|sc| {
        let rx = spawn_wait(sc, &b, &objs, true, Some(SETTLE * 4));
        assert_blocked(&rx);
        for h in objs {
            p.close_handle(h).unwrap();
        }
        assert_eq!(reply(&rx), Ok(WaitStatus::Timeout));
    });

    done(&k, base, vec![a, b], vec![p]);
}

// ntsync TEST(wake_any) extended to several waiters; SPEC §7.3 ("first come first
// served": release_semaphore(n) satisfies up to n waiters, set_event on an auto-reset
// event wakes one, a released mutex passes to its first waiter).
#[test]
fn wake_order_is_fifo() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = p.main_thread();
    let w: Vec<Thread> = (0..3).map(|_| new_thread(&p)).collect();

    // The mutex passes from waiter to waiter in the order they began to wait.
    let m = p.create_mutex(None, true, None).unwrap().handle;
    thread::scope(|sc| {
        let rx: Vec<Reply> = w
            .iter()
            .map(|t| {
                let rx = spawn_wait(sc, t, &[m], false, LONG);
                assert_blocked(&rx);
                rx
            })
            .collect();
        a.release_mutex(m).unwrap();
        for i in 0..3 {
            assert_eq!(mutex_info(&p, m), (Some(w[i].id()), 1, false), "waiter {i} owns it");
            assert_eq!(reply(&rx[i]), Ok(WaitStatus::Object(0)));
            thread::sleep(SETTLE);
            for later in &rx[i + 1..] {
                assert_still_blocked(later);
            }
            w[i].release_mutex(m).unwrap();
        }
        assert_eq!(mutex_info(&p, m), (None, 0, false));
    });

    // release_semaphore(n) satisfies the first n waiters.
    let s = p.create_semaphore(None, 0, 5, None).unwrap().handle;
    thread::scope(|sc| {
        let rx: Vec<Reply> = w
            .iter()
            .map(|t| {
                let rx = spawn_wait(sc, t, &[s], false, LONG);
                assert_blocked(&rx);
                rx
            })
            .collect();
        assert_eq!(p.release_semaphore(s, 2), Ok(0));
        assert_eq!(sem_info(&p, s), (0, 5), "both counts went to waiters");
        assert_eq!(reply(&rx[0]), Ok(WaitStatus::Object(0)));
        assert_eq!(reply(&rx[1]), Ok(WaitStatus::Object(0)));
        thread::sleep(SETTLE);
        assert_still_blocked(&rx[2]);
        assert_eq!(p.release_semaphore(s, 3), Ok(0));
        assert_eq!(sem_info(&p, s), (2, 5), "one waiter left, so two counts remain");
        assert_eq!(reply(&rx[2]), Ok(WaitStatus::Object(0)));
    });

    // An auto-reset event: each set wakes exactly the first waiter; a pulse likewise.
    let e = p.create_event(None, false, false, None).unwrap().handle;
    thread::scope(|sc| {
        let rx: Vec<Reply> = w
            .iter()
            .map(|t| {
                let rx = spawn_wait(sc, t, &[e], false, LONG);
                assert_blocked(&rx);
                rx
            })
            .collect();
        p.set_event(e).unwrap();
        assert_eq!(event_info(&p, e), (false, false));
        assert_eq!(reply(&rx[0]), Ok(WaitStatus::Object(0)));
        thread::sleep(SETTLE);
        assert_still_blocked(&rx[1]);
        assert_still_blocked(&rx[2]);
        p.pulse_event(e).unwrap();
        assert_eq!(reply(&rx[1]), Ok(WaitStatus::Object(0)));
        thread::sleep(SETTLE);
        assert_still_blocked(&rx[2]);
        p.set_event(e).unwrap();
        assert_eq!(reply(&rx[2]), Ok(WaitStatus::Object(0)));
        assert_eq!(event_info(&p, e), (false, false));
        // Nobody waits now: a set stays set.
        p.set_event(e).unwrap();
        assert_eq!(event_info(&p, e), (false, true));
    });

    let mut threads = w;
    threads.push(a);
    done(&k, base, threads, vec![p]);
}

// ntsync TEST(wake_any) (pulse cases) with several waiters; SPEC §7.3 ("pulse_event
// satisfies the waiters that are waiting at that instant (one for auto-reset, all for
// manual-reset) and leaves the event reset").
#[test]
fn pulse_wakes_the_waiters_present() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = p.main_thread();
    let w: Vec<Thread> = (0..3).map(|_| new_thread(&p)).collect();

    let e = p.create_event(None, true, false, None).unwrap().handle;
    thread::scope(|sc| {
        let rx: Vec<Reply> = w.iter().map(|t| spawn_wait(sc, t, &[e], false, LONG)).collect();
        for r in &rx {
            assert_blocked(r);
        }
        p.pulse_event(e).unwrap();
        assert_eq!(event_info(&p, e), (true, false));
        for r in &rx {
            assert_eq!(reply(r), Ok(WaitStatus::Object(0)));
        }
    });
    // A wait that starts after the pulse does not see it.
    assert_eq!(a.wait_for_single_object(e, ZERO), Ok(WaitStatus::Timeout));
    // A pulse with nobody waiting leaves the event reset.
    p.pulse_event(e).unwrap();
    assert_eq!(a.wait_for_single_object(e, ZERO), Ok(WaitStatus::Timeout));

    done(&k, base, w.into_iter().chain([a]).collect(), vec![p]);
}

// ntsync TEST(wake_all) under contention; SPEC §7.3 ("Wait-all acquires all objects in one
// atomic step or none"). Two threads wait for the same two auto-reset events named in
// opposite orders; an engine that takes them one at a time deadlocks (each holds one),
// and the bounded waits then fail the test.
#[test]
fn wait_all_is_atomic_under_contention() {
    const ROUNDS: usize = 1000;
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let e1 = p.create_event(None, false, true, None).unwrap().handle;
    let e2 = p.create_event(None, false, true, None).unwrap().handle;
    let x = new_thread(&p);
    let y = new_thread(&p);
    let inside = AtomicUsize::new(0);
    let overlap = AtomicBool::new(false);
    let rounds = AtomicUsize::new(0);

    thread::scope(|sc| {
        for (t, order) in [(&x, [e1, e2]), (&y, [e2, e1])] {
            let (p, inside, overlap, rounds) = (&p, &inside, &overlap, &rounds);
            sc.spawn(move || {
                for _ in 0..ROUNDS {
                    assert_eq!(t.wait_for_multiple_objects(&order, true, LONG), Ok(WaitStatus::Object(0)));
                    // Holding both events is exclusive.
                    if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                        overlap.store(true, Ordering::SeqCst);
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                    rounds.fetch_add(1, Ordering::SeqCst);
                    p.set_event(order[0]).unwrap();
                    p.set_event(order[1]).unwrap();
                }
            });
        }
    });
    assert!(!overlap.load(Ordering::SeqCst), "two threads held both events at once");
    assert_eq!(rounds.load(Ordering::SeqCst), 2 * ROUNDS);
    assert_eq!(event_info(&p, e1), (false, true));
    assert_eq!(event_info(&p, e2), (false, true));

    done(&k, base, vec![x, y], vec![p]);
}

// ntsync TEST(stress_wait): 4 threads × 10,000 acquisitions of one mutex guarding a
// counter updated by a separate load and store, so a mutex that lets two owners in loses
// counts. SPEC §7.3/§7.4 (a mutex has one owner; a release to 0 passes it on).
#[test]
fn stress_wait() {
    const THREADS: usize = 4;
    const LOOPS: u64 = 10_000;
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let m = p.create_mutex(None, false, None).unwrap().handle;
    let start = p.create_event(None, true, false, None).unwrap().handle;
    let workers: Vec<Thread> = (0..THREADS).map(|_| new_thread(&p)).collect();
    let counter = AtomicU64::new(0);

    thread::scope(|sc| {
        for t in &workers {
            let counter = &counter;
            sc.spawn(move || {
                assert_eq!(t.wait_for_single_object(start, LONG), Ok(WaitStatus::Object(0)));
                for _ in 0..LOOPS {
                    assert_eq!(t.wait_for_single_object(m, LONG), Ok(WaitStatus::Object(0)));
                    // Not an atomic increment: the mutex must make it one.
                    let v = counter.load(Ordering::Relaxed);
                    counter.store(v + 1, Ordering::Relaxed);
                    t.release_mutex(m).unwrap();
                }
            });
        }
        p.set_event(start).unwrap();
    });

    assert_eq!(counter.load(Ordering::SeqCst), THREADS as u64 * LOOPS);
    assert_eq!(mutex_info(&p, m), (None, 0, false));
    done(&k, base, workers, vec![p]);
}
