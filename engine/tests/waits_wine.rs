//! Wine's conformance tests, rewritten against the kobj API: dlls/kernel32/tests/sync.c
//! (test_signalandwait, test_mutex, test_WaitForSingleObject, test_WaitForMultipleObjects)
//! and dlls/ntdll/tests/sync.c (test_event, test_mutant, test_semaphore). SPEC §7.
//!
//! Win32 reports a failed wait as WAIT_FAILED plus a last error; kobj returns `Err` with
//! that code. NtQueryMutant's CurrentCount is `1 - recursion` and OwnedByCaller is
//! `owner == caller`; kobj's `MutexInfo` reports the owner and the recursion themselves.

mod common;

use std::thread;
use std::time::Duration;

use common::*;
use kobj::{Access, CreationDisposition, Handle, Kernel, Thread, WaitStatus};

const PRIVILEGE_NOT_HELD: u32 = 1314;

const ZERO: Option<Duration> = Some(Duration::ZERO);
const LONG: Option<Duration> = Some(Duration::from_secs(10));

/// Wine's invalid handle value.
const INVALID: usize = 0xdead_bee0;

fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

/// `h` with its low two bits set to `bits` (Wine's modify_handle).
fn modify(h: Handle, bits: usize) -> Handle {
    Handle::from_raw(h.raw() | bits)
}

// Wine kernel32 test_signalandwait; SPEC §7.3 (signal_object_and_wait).
#[test]
fn test_signalandwait() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let null = Handle::NULL;

    // Invalid parameters.
    assert_eq!(code(main.signal_object_and_wait(null, null, ZERO)), INVALID_HANDLE);
    let e0 = p.create_event(None, false, false, None).unwrap().handle;
    let e1 = p.create_event(None, true, true, None).unwrap().handle;
    assert_eq!(code(main.signal_object_and_wait(e0, null, ZERO)), INVALID_HANDLE);
    assert_eq!(event_info(&p, e0), (false, false), "a bad wait handle signals nothing");
    assert_eq!(code(main.signal_object_and_wait(null, e0, ZERO)), INVALID_HANDLE);

    // Valid parameters: e0 is set, e1 (manual, set) is waited for.
    assert_eq!(main.signal_object_and_wait(e0, e1, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(event_info(&p, e0), (false, true));
    // Signal and wait on one auto-reset event, many times over.
    for i in 0..10_000 {
        assert_eq!(main.signal_object_and_wait(e0, e0, ZERO), Ok(WaitStatus::Object(0)), "round {i}");
    }
    // e0 was consumed by the last wait.
    assert_eq!(main.wait_for_single_object(e0, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(main.signal_object_and_wait(e0, e0, ZERO), Ok(WaitStatus::Object(0)));

    // Clear e1 and check for a timeout.
    p.reset_event(e1).unwrap();
    assert_eq!(main.signal_object_and_wait(e0, e1, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(event_info(&p, e0), (false, true), "the signal happened");
    p.close_handle(e0).unwrap();
    p.close_handle(e1).unwrap();

    // Semaphores.
    let s0 = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let s1 = p.create_semaphore(None, 1, 1, None).unwrap().handle;
    assert_eq!(main.signal_object_and_wait(s0, s1, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s0), (1, 1));
    assert_eq!(sem_info(&p, s1), (0, 1));
    assert_eq!(code(main.signal_object_and_wait(s0, s1, ZERO)), TOO_MANY_POSTS);
    assert_eq!(code(p.release_semaphore(s0, 1)), TOO_MANY_POSTS);
    assert_eq!(p.release_semaphore(s1, 1), Ok(0));
    p.close_handle(s0).unwrap();
    p.close_handle(s1).unwrap();

    // A file cannot be signalled.
    let dir = tempfile::tempdir().unwrap();
    let file = p
        .create_file(
            &dir.path().join("x"),
            Access::GENERIC_READ | Access::GENERIC_WRITE,
            None,
            CreationDisposition::CreateAlways,
        )
        .unwrap();
    assert_eq!(code(main.signal_object_and_wait(file, file, ZERO)), INVALID_HANDLE);
    p.close_handle(file).unwrap();

    done(&k, base, vec![main], vec![p]);
}

// Wine kernel32 test_mutex (the access and recursion part); SPEC §3 (opening a mutex with
// each single access bit) and §7.4 (release needs no access; 32 acquisitions, the 33rd
// release fails with NOT_OWNER; release of a non-mutex is INVALID_HANDLE).
#[test]
fn test_mutex() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let name = "WineTestMutex";

    assert_eq!(code(p.open_mutex(Access::empty(), false, name)), FILE_NOT_FOUND);
    let created = p.create_mutex(None, false, Some(name)).unwrap().handle;
    assert_eq!(code(p.open_mutex(Access::empty(), false, name)), ACCESS_DENIED);

    // GENERIC_EXECUTE maps to SYNCHRONIZE: the wait takes the mutex.
    let opened = p.open_mutex(Access::GENERIC_EXECUTE, false, name).unwrap();
    assert_eq!(main.wait_for_single_object(opened, LONG), Ok(WaitStatus::Object(0)));
    p.close_handle(opened).unwrap();
    for _ in 0..31 {
        assert_eq!(main.wait_for_single_object(created, LONG), Ok(WaitStatus::Object(0)));
    }
    assert_eq!(mutex_info(&p, created), (Some(main.id()), 32, false));

    // GENERIC_READ | GENERIC_WRITE (0x20001 | 0x20000) holds no SYNCHRONIZE.
    let opened = p.open_mutex(Access::GENERIC_READ | Access::GENERIC_WRITE, false, name).unwrap();
    assert_eq!(code(main.wait_for_single_object(opened, LONG)), ACCESS_DENIED);
    p.close_handle(opened).unwrap();
    assert_eq!(mutex_info(&p, created), (Some(main.id()), 32, false), "the failed wait took nothing");

    // Each single bit: where it opens, the release goes through that handle (whatever
    // its access); where it does not, through the creator's handle. 32 releases in all.
    let mut failed = 0u32;
    for i in 0..32 {
        let bit = 1u32 << i;
        match p.open_mutex(Access::from_bits_retain(bit), false, name) {
            Ok(h) => {
                assert_eq!(main.release_mutex(h), Ok(()), "release through a handle with access {bit:#x}");
                p.close_handle(h).unwrap();
            }
            Err(e) => {
                let want = if bit == 0x0100_0000 { PRIVILEGE_NOT_HELD } else { ACCESS_DENIED };
                assert_eq!(e.code(), want, "open with access {bit:#x}");
                main.release_mutex(created).unwrap();
                failed |= bit;
            }
        }
    }
    assert_eq!(failed, 0x0de0_fffe, "the single bits that do not open a mutex");
    assert_eq!(code(main.release_mutex(created)), NOT_OWNER, "the 33rd release");
    assert_eq!(mutex_info(&p, created), (None, 0, false));

    // Names are case-sensitive; a create of an existing name opens it.
    assert_eq!(code(p.open_mutex(Access::READ_CONTROL, false, "WINETESTMUTEX")), FILE_NOT_FOUND);
    assert_eq!(code(p.open_mutex(Access::READ_CONTROL, false, "winetestmutex")), FILE_NOT_FOUND);
    let again = p.create_mutex(None, false, Some(name)).unwrap();
    assert!(again.already_existed);
    p.close_handle(again.handle).unwrap();
    let other = p.create_mutex(None, false, Some("WINETESTMUTEX")).unwrap();
    assert!(!other.already_existed);
    p.close_handle(other.handle).unwrap();

    // Not a mutex: INVALID_HANDLE (SPEC §7.4).
    let e = p.create_event(None, true, false, None).unwrap().handle;
    assert_eq!(code(main.release_mutex(e)), INVALID_HANDLE);
    assert_eq!(code(main.release_mutex(Handle::from_raw(INVALID))), INVALID_HANDLE);

    p.close_handle(created).unwrap();
    done(&k, base, vec![main], vec![p]);
}

// Wine kernel32 test_mutex (the thread part: test_mutex_thread); SPEC §7.2 (a thread's exit
// abandons its mutexes; a wait in progress when its thread exits returns ACCESS_DENIED),
// §7.3 (closing a handle does not end a wait in progress) and §7.4 (a blocked waiter gets
// Abandoned). Wine's TerminateThread is the owner's `exit`.
#[test]
fn test_mutex_threads() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let start = p.create_event(None, false, false, None).unwrap().handle;
    let stop = p.create_event(None, false, false, None).unwrap().handle;
    let mutex = p.create_mutex(None, false, None).unwrap().handle;
    let owner = p.create_thread(None).unwrap();
    let waiter = p.create_thread(None).unwrap();

    let run = |t: &Thread| {
        let got = t.wait_for_single_object(mutex, LONG);
        p.set_event(start).unwrap();
        (got, t.wait_for_single_object(stop, LONG))
    };
    thread::scope(|sc| {
        let owner_run = sc.spawn(|| run(&owner.thread));
        assert_eq!(main.wait_for_single_object(start, ms(1000)), Ok(WaitStatus::Object(0)));
        assert_eq!(mutex_info(&p, mutex), (Some(owner.thread.id()), 1, false));

        let waiter_run = sc.spawn(|| run(&waiter.thread));
        assert_eq!(main.wait_for_single_object(start, ms(200)), Ok(WaitStatus::Timeout));
        // The waiter's wait holds its own reference: closing the handle changes nothing.
        p.close_handle(mutex).unwrap();
        assert_eq!(main.wait_for_single_object(start, ms(100)), Ok(WaitStatus::Timeout));

        owner.thread.exit(0).unwrap();
        assert_eq!(main.wait_for_single_object(owner.handle, ms(1000)), Ok(WaitStatus::Object(0)));
        assert_eq!(main.wait_for_single_object(start, ms(1000)), Ok(WaitStatus::Object(0)));

        p.set_event(stop).unwrap();
        let (got, stopped) = waiter_run.join().unwrap();
        assert_eq!(got, Ok(WaitStatus::Abandoned(0)), "the waiter inherits the abandoned mutex");
        assert_eq!(stopped, Ok(WaitStatus::Object(0)));
        let (got, stopped) = owner_run.join().unwrap();
        assert_eq!(got, Ok(WaitStatus::Object(0)));
        assert_eq!(stopped.map_err(|e| e.code()), Err(ACCESS_DENIED), "its wait was in progress at exit");
    });
    assert_eq!(main.wait_for_single_object(waiter.handle, ZERO), Ok(WaitStatus::Timeout));
    waiter.thread.exit(0).unwrap();
    assert_eq!(main.wait_for_single_object(waiter.handle, ms(1000)), Ok(WaitStatus::Object(0)));

    let threads = vec![main, owner.thread, waiter.thread];
    done(&k, base, threads, vec![p]);
}

// Wine kernel32 test_WaitForSingleObject; SPEC §3 (the low two bits of a handle value are
// ignored) and §7.3 (-1 and -2 in wait_for_single_object are never signalled while the
// caller runs).
#[test]
fn test_wait_for_single_object() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let signaled = p.create_event(None, true, true, None).unwrap().handle;
    let nonsignaled = p.create_event(None, true, false, None).unwrap().handle;
    let invalid = Handle::from_raw(INVALID);

    for bits in 0..4 {
        assert_eq!(code(main.wait_for_single_object(modify(invalid, bits), ZERO)), INVALID_HANDLE);
        assert_eq!(main.wait_for_single_object(modify(nonsignaled, bits), ZERO), Ok(WaitStatus::Timeout));
        assert_eq!(main.wait_for_single_object(modify(signaled, bits), ZERO), Ok(WaitStatus::Object(0)));
    }

    // Pseudo-handles are allowed here.
    assert_eq!(main.wait_for_single_object(Handle::CURRENT_PROCESS, ms(100)), Ok(WaitStatus::Timeout));
    assert_eq!(main.wait_for_single_object(Handle::CURRENT_THREAD, ms(100)), Ok(WaitStatus::Timeout));

    done(&k, base, vec![main], vec![p]);
}

// Wine kernel32 test_WaitForMultipleObjects (and test_signalandwait's maximum-count part);
// SPEC §7.3 (wait-any: the lowest index wins and the others are untouched; 64 handles
// allowed; pseudo-handles are INVALID_HANDLE in wait_for_multiple_objects).
#[test]
fn test_wait_for_multiple_objects() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();

    // 64 manual-reset events, all set: a wait-any succeeds.
    let manual: Vec<Handle> =
        (0..64).map(|_| p.create_event(None, true, true, None).unwrap().handle).collect();
    assert_eq!(main.wait_for_multiple_objects(&manual, false, ZERO), Ok(WaitStatus::Object(0)));
    for h in manual {
        p.close_handle(h).unwrap();
    }

    // Event 0 manual-reset, the others auto-reset; all set.
    let events: Vec<Handle> =
        (0..64).map(|i| p.create_event(None, i == 0, true, None).unwrap().handle).collect();
    // Wine runs the sequence twice, through WaitForMultipleObjects and then
    // NtWaitForMultipleObjects; here once with a zero timeout and once with a long one.
    for timeout in [ZERO, LONG] {
        for &e in &events {
            p.set_event(e).unwrap();
        }
        // A manual-reset event stays signalled, so index 0 wins again.
        assert_eq!(main.wait_for_multiple_objects(&events, false, timeout), Ok(WaitStatus::Object(0)));
        assert_eq!(main.wait_for_multiple_objects(&events, false, timeout), Ok(WaitStatus::Object(0)));
        p.reset_event(events[0]).unwrap();
        for i in 1..64 {
            // The lowest signalled index wins, and only that auto-reset event is reset.
            assert_eq!(main.wait_for_multiple_objects(&events, false, timeout), Ok(WaitStatus::Object(i)));
        }
        assert_eq!(main.wait_for_multiple_objects(&events, false, ZERO), Ok(WaitStatus::Timeout));
    }

    // Unlike wait_for_single_object, pseudo-handles are not allowed.
    for h in [Handle::CURRENT_PROCESS, Handle::CURRENT_THREAD] {
        assert_eq!(code(main.wait_for_multiple_objects(&[h], false, ms(100))), INVALID_HANDLE);
    }

    done(&k, base, vec![main], vec![p]);
}

// Wine ntdll test_event; SPEC §7.1 (query_event needs EVENT_QUERY_STATE, pulse_event
// EVENT_MODIFY_STATE) and §7.3 (pulse leaves the event reset).
#[test]
fn test_event() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let name = "testEvent";

    let e = p.create_event(None, true, false, Some(name)).unwrap().handle;
    assert_eq!(event_info(&p, e), (true, false));
    p.close_handle(e).unwrap();

    let e = p.create_event(None, false, false, Some(name)).unwrap().handle;
    p.pulse_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, false));
    let e2 = p.open_event(Access::EVENT_ALL_ACCESS, false, name).unwrap();
    p.close_handle(e).unwrap();
    let e = e2;
    assert_eq!(event_info(&p, e), (false, false));

    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, true));
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, true));
    p.reset_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, false));
    p.reset_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, false));
    p.pulse_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, false));
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, true));
    p.pulse_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, false), "a pulse of a set event resets it");

    // Access and type.
    let sync_only = dup_with(&p, e, Access::SYNCHRONIZE);
    assert_eq!(code(p.query_event(sync_only)), ACCESS_DENIED);
    assert_eq!(code(p.pulse_event(sync_only)), ACCESS_DENIED);
    let query_only = dup_with(&p, e, Access::EVENT_QUERY_STATE);
    assert_eq!(event_info(&p, query_only), (false, false));
    assert_eq!(code(p.pulse_event(query_only)), ACCESS_DENIED);
    let s = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    assert_eq!(code(p.pulse_event(s)), INVALID_HANDLE, "not an event");
    assert_eq!(code(p.query_event(s)), INVALID_HANDLE);
    assert_eq!(code(p.query_event(Handle::from_raw(INVALID))), INVALID_HANDLE);
    assert_eq!(code(p.pulse_event(Handle::from_raw(INVALID))), INVALID_HANDLE);

    done(&k, base, vec![], vec![p]);
}

// Wine ntdll test_mutant (and mutant_thread); SPEC §7.1 (query_mutex needs
// MUTEX_QUERY_STATE 0x1) and §7.4 (abandonment: owner None, recursion 0, abandoned true,
// cleared by the next acquisition).
#[test]
fn test_mutant() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();

    let m = p.create_mutex(None, true, Some("test_mutant")).unwrap().handle;
    assert_eq!(code(p.query_mutex(Handle::from_raw(INVALID))), INVALID_HANDLE);
    let e = p.create_event(None, true, false, None).unwrap().handle;
    assert_eq!(code(p.query_mutex(e)), INVALID_HANDLE, "not a mutex");
    let sync_only = dup_with(&p, m, Access::SYNCHRONIZE);
    assert_eq!(code(p.query_mutex(sync_only)), ACCESS_DENIED);
    let query_only = dup_with(&p, m, Access::MUTEX_QUERY_STATE);
    assert_eq!(mutex_info(&p, query_only), (Some(main.id()), 1, false));

    // New: owned by the caller (CurrentCount 0).
    assert_eq!(mutex_info(&p, m), (Some(main.id()), 1, false));
    assert_eq!(main.wait_for_single_object(m, ms(1000)), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (Some(main.id()), 2, false), "CurrentCount -1");
    main.release_mutex(m).unwrap();
    assert_eq!(mutex_info(&p, m), (Some(main.id()), 1, false));
    main.release_mutex(m).unwrap();
    assert_eq!(mutex_info(&p, m), (None, 0, false), "CurrentCount 1, not owned");

    // Abandoned: a thread takes it and exits.
    let nt = p.create_thread(None).unwrap();
    assert_eq!(nt.thread.wait_for_single_object(m, ms(1000)), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (Some(nt.thread.id()), 1, false));
    nt.thread.exit(0).unwrap();
    assert_eq!(main.wait_for_single_object(nt.handle, ms(1000)), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (None, 0, true));

    assert_eq!(main.wait_for_single_object(m, ms(1000)), Ok(WaitStatus::Abandoned(0)));
    assert_eq!(mutex_info(&p, m), (Some(main.id()), 1, false));

    done(&k, base, vec![main, nt.thread], vec![p]);
}

// Wine ntdll test_semaphore; SPEC §3 (create_semaphore and release_semaphore rules) and
// §7.1 (query_semaphore needs SEMAPHORE_QUERY_STATE).
#[test]
fn test_semaphore() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();

    assert_eq!(code(p.create_semaphore(None, 2, 1, Some("test_semaphore"))), INVALID_PARAMETER);
    let s = p.create_semaphore(None, 1, 2, Some("test_semaphore")).unwrap().handle;
    assert_eq!(code(p.query_semaphore(Handle::from_raw(INVALID))), INVALID_HANDLE);
    let sync_only = dup_with(&p, s, Access::SYNCHRONIZE);
    assert_eq!(code(p.query_semaphore(sync_only)), ACCESS_DENIED);
    let e = p.create_event(None, true, false, None).unwrap().handle;
    assert_eq!(code(p.query_semaphore(e)), INVALID_HANDLE, "not a semaphore");

    assert_eq!(sem_info(&p, s), (1, 2));
    assert_eq!(main.wait_for_single_object(s, ms(1000)), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, s), (0, 2));

    assert_eq!(code(p.release_semaphore(s, 3)), TOO_MANY_POSTS);
    assert_eq!(sem_info(&p, s), (0, 2));
    assert_eq!(p.release_semaphore(s, 1), Ok(0));
    assert_eq!(p.release_semaphore(s, 1), Ok(1));
    assert_eq!(code(p.release_semaphore(s, 1)), TOO_MANY_POSTS);
    assert_eq!(sem_info(&p, s), (2, 2));

    done(&k, base, vec![main], vec![p]);
}
