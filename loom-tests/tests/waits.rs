//! Model 10 — the wait engine (`engine/src/wait.rs`): wait blocks decided by one CAS,
//! queue then check, the wait-all lock, mutex hand-off against abandonment.
//!
//! Under loom a finite timeout expires right after the wait's queue-then-check (loom has
//! no clock), which is exactly the window in which a timeout races a signal. An infinite
//! wait parks for real: a lost wake-up leaves every thread blocked, which loom reports.
//! Catches `decide_store` (the status set by a load and a store instead of a CAS) and
//! `no_recheck` (a wait-any that sleeps without checking its objects after queueing).
#![cfg(loom)]

use std::time::Duration;

use kobj::{Handle, Process, WaitStatus};
use kobj_loom_tests::{close_and_finish, model, setup, Gate};

const FOREVER: Option<Duration> = None;
/// Any finite timeout: under loom it expires after the queue-then-check.
const SOON: Option<Duration> = Some(Duration::from_millis(1));

fn semaphore(p: &Process, initial: i32) -> Handle {
    p.create_semaphore(None, initial, 4, None).unwrap().handle
}

fn count(p: &Process, h: Handle) -> i32 {
    p.semaphore_count(h).unwrap()
}

/// A blocked wait-any racing a release: exactly one acquisition, no lost wake-up.
#[test]
fn wait_any_vs_release() {
    model(|| {
        let (kernel, _, p) = setup();
        let gate = Gate::new();
        let (a, b) = (semaphore(&p, 0), semaphore(&p, 0));
        let t = p.create_thread(None).unwrap();
        let waiter = {
            let t = t.thread.clone();
            gate.spawn(move || t.wait_for_multiple_objects(&[a, b], false, FOREVER))
        };
        p.release_semaphore(b, 1).unwrap();
        gate.wait();
        assert_eq!(waiter.take(), Ok(WaitStatus::Object(1)));
        assert_eq!((count(&p, a), count(&p, b)), (0, 0), "exactly one unit taken");
        let t_handle = t.handle;
        drop(t);
        close_and_finish(gate, kernel, p, &[a, b, t_handle]);
    });
}

/// Two wait-alls over a shared object: never both, and each all or nothing.
#[test]
fn overlapping_wait_alls() {
    model(|| {
        let (kernel, _, p) = setup();
        let gate = Gate::new();
        let (x, y, z) = (semaphore(&p, 1), semaphore(&p, 1), semaphore(&p, 1));
        let t1 = p.create_thread(None).unwrap();
        let first = {
            let t = t1.thread.clone();
            gate.spawn(move || t.wait_for_multiple_objects(&[x, y], true, SOON))
        };
        let second = p.main_thread().wait_for_multiple_objects(&[y, z], true, SOON);
        gate.wait();
        let first = first.take();
        let won = |r: &kobj::Result<WaitStatus>| match r {
            Ok(WaitStatus::Object(0)) => 1,
            Ok(WaitStatus::Timeout) => 0,
            other => panic!("unexpected {other:?}"),
        };
        let (w1, w2) = (won(&first), won(&second));
        assert_eq!(w1 + w2, 1, "one of the two wait-alls takes the shared object");
        assert_eq!(count(&p, x), 1 - w1, "x taken only with y");
        assert_eq!(count(&p, y), 0);
        assert_eq!(count(&p, z), 1 - w2, "z taken only with y");
        let t1_handle = t1.handle;
        drop(t1);
        close_and_finish(gate, kernel, p, &[x, y, z, t1_handle]);
    });
}

/// A blocked wait-all racing a wait-any that steals one of its objects: the wait-all
/// takes nothing until it can take everything.
#[test]
fn wait_all_vs_stealing_wait_any() {
    model(|| {
        let (kernel, _, p) = setup();
        let gate = Gate::new();
        let (x, y) = (semaphore(&p, 1), semaphore(&p, 0));
        let t1 = p.create_thread(None).unwrap();
        let all = {
            let t = t1.thread.clone();
            gate.spawn(move || t.wait_for_multiple_objects(&[x, y], true, FOREVER))
        };
        p.release_semaphore(y, 1).unwrap();
        // The thief: this thread, with a timeout. If it took x, it gives it back.
        match p.main_thread().wait_for_single_object(x, SOON) {
            Ok(WaitStatus::Object(0)) => {
                p.release_semaphore(x, 1).unwrap();
            }
            Ok(WaitStatus::Timeout) => {}
            other => panic!("thief: {other:?}"),
        }
        gate.wait();
        assert_eq!(all.take(), Ok(WaitStatus::Object(0)));
        assert_eq!((count(&p, x), count(&p, y)), (0, 0));
        let t1_handle = t1.handle;
        drop(t1);
        close_and_finish(gate, kernel, p, &[x, y, t1_handle]);
    });
}

/// An owner's exit racing a blocked waiter's queue-then-check: the waiter gets the
/// abandoned mutex, exactly once.
#[test]
fn mutex_abandoned_to_a_blocked_waiter() {
    model(|| {
        let (kernel, _, p) = setup();
        let gate = Gate::new();
        let owner = p.create_thread(None).unwrap();
        let m = owner.thread.create_mutex(None, true, None).unwrap().handle;
        let waiter = {
            let t = p.main_thread();
            gate.spawn(move || t.wait_for_single_object(m, FOREVER))
        };
        owner.thread.exit(0).unwrap();
        gate.wait();
        assert_eq!(waiter.take(), Ok(WaitStatus::Abandoned(0)));
        let info = p.query_mutex(m).unwrap();
        assert_eq!((info.owner, info.recursion, info.abandoned), (Some(p.main_thread().id()), 1, false));
        p.main_thread().release_mutex(m).unwrap();
        let owner_handle = owner.handle;
        drop(owner);
        close_and_finish(gate, kernel, p, &[m, owner_handle]);
    });
}

/// A mutex released by its owner while another host thread makes the owner exit: the
/// release either happens (the mutex is free, not abandoned) or fails because the exit
/// came first (the mutex is abandoned) — never both, never neither.
#[test]
fn mutex_release_vs_owner_exit() {
    model(|| {
        let (kernel, _, p) = setup();
        let gate = Gate::new();
        let owner = p.create_thread(None).unwrap();
        let m = owner.thread.create_mutex(None, true, None).unwrap().handle;
        let exiter = {
            let t = owner.thread.clone();
            gate.spawn(move || t.exit(0))
        };
        let released = owner.thread.release_mutex(m);
        gate.wait();
        assert_eq!(exiter.take(), Ok(()));
        let info = p.query_mutex(m).unwrap();
        assert_eq!((info.owner, info.recursion), (None, 0));
        match released {
            Ok(()) => assert!(!info.abandoned, "released before the exit: not abandoned"),
            Err(e) => {
                // The owner had exited (ACCESS_DENIED), or exited between that check
                // and the release, which then found the mutex abandoned (NOT_OWNER).
                assert!(matches!(e, kobj::Error::AccessDenied | kobj::Error::NotOwner), "{e:?}");
                assert!(info.abandoned, "the exit came first: abandoned");
            }
        }
        let owner_handle = owner.handle;
        drop(owner);
        close_and_finish(gate, kernel, p, &[m, owner_handle]);
    });
}

/// `signal_object_and_wait(e, e)` on an auto-reset event against another waiter: the one
/// signal is acquired by exactly one of them, or stays in the event — never lost, never
/// taken twice.
#[test]
fn signal_and_wait_on_one_event() {
    model(|| {
        let (kernel, _, p) = setup();
        let gate = Gate::new();
        let e = p.create_event(None, false, false, None).unwrap().handle;
        let other = p.create_thread(None).unwrap();
        let waiter = {
            let t = other.thread.clone();
            gate.spawn(move || t.wait_for_single_object(e, SOON))
        };
        let mine = p.main_thread().signal_object_and_wait(e, e, SOON);
        gate.wait();
        let took = |r: &kobj::Result<WaitStatus>| match r {
            Ok(WaitStatus::Object(0)) => 1,
            Ok(WaitStatus::Timeout) => 0,
            other => panic!("unexpected {other:?}"),
        };
        let taken = took(&mine) + took(&waiter.take());
        let left = usize::from(p.event_state(e).unwrap());
        assert_eq!(taken + left, 1, "the signal is taken once or left in the event");
        let other_handle = other.handle;
        drop(other);
        close_and_finish(gate, kernel, p, &[e, other_handle]);
    });
}

/// A timed-out wait racing a signal: the signal is either taken by the wait (which then
/// returns it as acquired) or left in the object.
#[test]
fn timeout_vs_signal() {
    model(|| {
        let (kernel, _, p) = setup();
        let gate = Gate::new();
        let e = p.create_event(None, false, false, None).unwrap().handle;
        let t = p.create_thread(None).unwrap();
        let waiter = {
            let t = t.thread.clone();
            gate.spawn(move || t.wait_for_single_object(e, SOON))
        };
        p.set_event(e).unwrap();
        gate.wait();
        let state = p.event_state(e).unwrap();
        match waiter.take() {
            Ok(WaitStatus::Object(0)) => assert!(!state, "taken: the event was reset for the waiter"),
            Ok(WaitStatus::Timeout) => assert!(state, "timed out: the signal stays in the event"),
            other => panic!("unexpected {other:?}"),
        }
        let t_handle = t.handle;
        drop(t);
        close_and_finish(gate, kernel, p, &[e, t_handle]);
    });
}
