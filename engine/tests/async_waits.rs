//! `thread.wait_async`: SPEC §7.5 (issue 11). The future follows every rule of
//! `wait_for_multiple_objects` (SPEC §7.3) and of a wait in progress (§7.2), and is
//! cancel-safe: dropping it before it completes leaves every object as if the wait had
//! never been made, even when an acquisition was already granted to it.
//!
//! The "granted, then dropped" cases are made deterministic by polling the future by hand
//! (`poll_once`, with a waker that counts its wakes) until it is pending, signalling, and
//! dropping it without polling again. Futures also run on tokio (multi-thread, for wakes
//! from other host threads) and on `futures::executor::block_on`: the API is
//! runtime-agnostic.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use common::*;
use futures::executor::block_on;
use futures::task::ArcWake;
use kobj::{Access, Due, Handle, Kernel, Process, Thread, WaitFuture, WaitStatus};

const ZERO: Option<Duration> = Some(Duration::ZERO);
const LONG: Option<Duration> = Some(Duration::from_secs(10));
/// A value no table of these tests ever issues (Wine's 0xdeadbee0).
const BAD: Handle = Handle::from_raw(0xdead_bee0);

type Fut = Pin<Box<WaitFuture>>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn new_thread(p: &Process) -> Thread {
    p.create_thread(None).expect("create_thread").thread
}

/// Counts the wakes of a waker.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl ArcWake for Wakes {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Wakes {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Polls `f` once with `wakes`'s waker.
fn poll_with(f: &mut Fut, wakes: &Arc<Wakes>) -> Poll<kobj::Result<WaitStatus>> {
    let waker = futures::task::waker(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    f.as_mut().poll(&mut cx)
}

/// Polls `f` once with a waker nobody looks at.
fn poll_once(f: &mut Fut) -> Poll<kobj::Result<WaitStatus>> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    f.as_mut().poll(&mut cx)
}

/// `t.wait_async(handles, all)`, polled once: it must be pending (queued on its objects).
#[track_caller]
fn pending(t: &Thread, handles: &[Handle], all: bool) -> Fut {
    let mut f = Box::pin(t.wait_async(handles, all));
    match poll_once(&mut f) {
        Poll::Pending => f,
        Poll::Ready(r) => panic!("the wait should be pending, got {r:?}"),
    }
}

/// Polls a future that must have completed, and drops it.
#[track_caller]
fn ready(mut f: Fut) -> kobj::Result<WaitStatus> {
    match poll_once(&mut f) {
        Poll::Ready(r) => r,
        Poll::Pending => panic!("the wait should have completed"),
    }
}

/// `t.wait_async` run to completion on `futures::executor`, for waits that are ready or
/// fail at once.
fn now(t: &Thread, handles: &[Handle], all: bool) -> kobj::Result<WaitStatus> {
    block_on(t.wait_async(handles, all))
}

// SPEC §7.5: "WaitFuture: Future<Output = Result<WaitStatus>> + Send + 'static". It is
// also Unpin (so `Pin::new(&mut future)` polls it, and `select!` may take `&mut` to it)
// and Debug.
#[test]
fn a_wait_future_is_send_and_static() {
    fn check<F: Future<Output = kobj::Result<WaitStatus>> + Send + Unpin + std::fmt::Debug + 'static>(_: &F) {
    }
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let t = p.main_thread();
    let e = p.create_event(None, true, true, None).unwrap().handle;
    let mut f = t.wait_async(&[e], false);
    check(&f);
    assert!(!format!("{f:?}").is_empty());
    // Polled in place, no box.
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    p.reset_event(e).unwrap();
    assert!(Pin::new(&mut f).poll(&mut cx).is_pending());
    p.set_event(e).unwrap();
    // Made on one host thread, run on another; its Thread value may go first.
    drop(t);
    let r = thread::spawn(move || block_on(f)).join().unwrap();
    assert_eq!(r, Ok(WaitStatus::Object(0)));
    done(&k, base, vec![], vec![p]);
}

// SPEC §7.3 via §7.5: signalled objects are acquired as by wait_for_multiple_objects —
// the lowest index wins, exactly one object per wait-any, all at once for a wait-all; an
// auto-reset event is reset, a semaphore's count drops, a mutex becomes owned, a
// manual-reset event is unchanged. A future made and dropped unpolled changes nothing.
#[test]
fn ready_objects_are_acquired_as_by_a_blocking_wait() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let t = p.main_thread();
    let auto = p.create_event(None, false, true, None).unwrap().handle;
    let manual = p.create_event(None, true, true, None).unwrap().handle;
    let sem = p.create_semaphore(None, 2, 2, None).unwrap().handle;
    let m = p.create_mutex(None, false, None).unwrap().handle;

    drop(t.wait_async(&[auto, sem, m], true));
    assert_eq!(event_info(&p, auto), (false, true), "an unpolled future changes nothing");
    assert_eq!(sem_info(&p, sem), (2, 2));
    assert_eq!(mutex_info(&p, m), (None, 0, false));

    assert_eq!(now(&t, &[auto], false), Ok(WaitStatus::Object(0)));
    assert_eq!(event_info(&p, auto), (false, false));
    assert_eq!(now(&t, &[auto, sem], false), Ok(WaitStatus::Object(1)));
    assert_eq!(sem_info(&p, sem), (1, 2), "exactly one object per wait-any");
    assert_eq!(now(&t, &[manual, sem], false), Ok(WaitStatus::Object(0)));
    assert_eq!(event_info(&p, manual), (true, true), "a manual-reset event is not changed");
    assert_eq!(sem_info(&p, sem), (1, 2));
    assert_eq!(now(&t, &[manual, m, sem], true), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, sem), (0, 2));
    assert_eq!(mutex_info(&p, m), (Some(t.id()), 1, false));
    assert_eq!(now(&t, &[m], false), Ok(WaitStatus::Object(0)), "an owner's wait on its mutex");
    assert_eq!(mutex_info(&p, m), (Some(t.id()), 2, false));
    t.release_mutex(m).unwrap();
    t.release_mutex(m).unwrap();
    // A wait-any may name an object twice.
    assert_eq!(now(&t, &[manual, manual], false), Ok(WaitStatus::Object(0)));

    // 64 events, all set, index 0 manual-reset: the lowest index wins each time (Wine
    // test_WaitForMultipleObjects).
    let events: Vec<Handle> =
        (0..64).map(|i| p.create_event(None, i == 0, true, None).unwrap().handle).collect();
    assert_eq!(now(&t, &events, false), Ok(WaitStatus::Object(0)));
    p.reset_event(events[0]).unwrap();
    for i in 1..64 {
        assert_eq!(now(&t, &events, false), Ok(WaitStatus::Object(i)));
    }
    let f = pending(&t, &events, false);
    p.set_event(events[40]).unwrap();
    assert_eq!(ready(f), Ok(WaitStatus::Object(40)));

    done(&k, base, vec![t], vec![p]);
}

// SPEC §7.5: "wait_async follows every rule of 7.3 for wait_for_multiple_objects
// (pseudo-handles included ...) and is reported through its output". SPEC §7.3: 1..=64
// handles; the first bad handle decides (INVALID_HANDLE or ACCESS_DENIED); a wait-all
// naming one object twice is INVALID_PARAMETER; every pseudo-handle is INVALID_HANDLE; a
// file mapping's handle lacks SYNCHRONIZE. SPEC §7.2: calls as an exited thread are
// ACCESS_DENIED. A failed wait changes no object.
#[test]
fn errors_come_out_of_the_future() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let t = p.main_thread();
    let good = p.create_event(None, false, true, None).unwrap().handle;
    let other = p.create_event(None, true, false, None).unwrap().handle;
    let nosync = dup_with(&p, other, Access::EVENT_MODIFY_STATE | Access::EVENT_QUERY_STATE);
    let alias = dup_same(&p, good);
    let mapping = p.create_file_mapping(None, None, 0x04, 4096, None).unwrap().handle;
    let events: Vec<Handle> =
        (0..65).map(|_| p.create_event(None, true, true, None).unwrap().handle).collect();
    // Closed last, so that no later handle reuses its value.
    let closed = p.create_event(None, true, true, None).unwrap().handle;
    p.close_handle(closed).unwrap();

    for all in [false, true] {
        let w = |hs: &[Handle]| code(now(&t, hs, all));
        assert_eq!(w(&[]), INVALID_PARAMETER);
        assert_eq!(w(&events), INVALID_PARAMETER, "65 handles");
        assert_eq!(w(&[BAD; 65]), INVALID_PARAMETER, "the count is checked first");
        for h in pseudo_handles() {
            assert_eq!(w(&[h]), INVALID_HANDLE, "pseudo-handle {:#x}", h.raw());
            assert_eq!(w(&[good, h]), INVALID_HANDLE);
        }
        assert_eq!(w(&[good, BAD, nosync]), INVALID_HANDLE);
        assert_eq!(w(&[good, nosync, BAD]), ACCESS_DENIED);
        assert_eq!(w(&[closed]), INVALID_HANDLE);
        assert_eq!(w(&[mapping]), ACCESS_DENIED, "FILE_MAP_ALL_ACCESS holds no SYNCHRONIZE");
        assert_eq!(w(&[good, good, BAD]), INVALID_HANDLE, "handles before duplicates");
        assert_eq!(event_info(&p, good), (false, true), "no failed wait took anything");
    }
    assert_eq!(code(now(&t, &[good, alias], true)), INVALID_PARAMETER, "one object twice in a wait-all");
    assert_eq!(code(now(&t, &[good, good], true)), INVALID_PARAMETER);
    assert_eq!(event_info(&p, good), (false, true));
    assert_eq!(now(&t, &events[..64], true), Ok(WaitStatus::Object(0)), "64 handles");
    assert_eq!(now(&t, &[good, alias], false), Ok(WaitStatus::Object(0)), "a wait-any may repeat");

    let x = new_thread(&p);
    p.set_event(good).unwrap();
    x.exit(0).unwrap();
    assert_eq!(code(now(&x, &[good], false)), ACCESS_DENIED, "as an exited thread");
    assert_eq!(event_info(&p, good), (false, true));

    done(&k, base, vec![t, x], vec![p]);
}

// SPEC §7.3 ("Signals hand objects to blocked waiters at the moment of the signal") and
// issue 11 (the future is woken where the blocking path would unpark): each kind of
// signal wakes a pending future's waker, and the next poll returns the object.
#[test]
fn every_signal_wakes_a_pending_future() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let t = p.main_thread();
    let waiter = new_thread(&p);
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let sem = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let m = p.create_mutex(None, true, None).unwrap().handle; // owned by t
    let nt = p.create_thread(None).unwrap();
    let child = p.create_process(false, kobj::ProcessOptions::default()).unwrap();

    let check = |handles: &[Handle], signal: &dyn Fn(), want: WaitStatus| {
        let wakes = Arc::new(Wakes::default());
        let mut f = Box::pin(waiter.wait_async(handles, false));
        assert!(poll_with(&mut f, &wakes).is_pending());
        assert_eq!(wakes.count(), 0);
        signal();
        assert!(wakes.count() >= 1, "the signal woke the future");
        assert_eq!(ready(f), Ok(want));
    };
    check(&[e], &|| p.set_event(e).unwrap(), WaitStatus::Object(0));
    check(
        &[sem, e],
        &|| {
            p.release_semaphore(sem, 1).unwrap();
        },
        WaitStatus::Object(0),
    );
    check(&[e, m], &|| t.release_mutex(m).unwrap(), WaitStatus::Object(1));
    assert_eq!(mutex_info(&p, m), (Some(waiter.id()), 1, false));
    waiter.release_mutex(m).unwrap();
    check(&[e], &|| p.pulse_event(e).unwrap(), WaitStatus::Object(0));
    check(&[e, nt.handle], &|| nt.thread.exit(0).unwrap(), WaitStatus::Object(1));
    check(&[child.handle], &|| child.process.terminate(5).unwrap(), WaitStatus::Object(0));
    assert_eq!(event_info(&p, e), (false, false));

    // A timer on the manual clock.
    let mk = manual_kernel();
    let mbase = mk.object_count();
    let mp = root(&mk);
    let mt = mp.main_thread();
    let timer = mp.create_waitable_timer(None, false, None).unwrap().handle;
    let wakes = Arc::new(Wakes::default());
    let mut f = Box::pin(mt.wait_async(&[timer], false));
    assert!(poll_with(&mut f, &wakes).is_pending());
    mp.set_waitable_timer(timer, Due::After(ms(10)), Duration::ZERO).unwrap();
    mk.advance_clock(ms(9)).unwrap();
    assert_eq!(wakes.count(), 0);
    assert!(poll_with(&mut f, &wakes).is_pending(), "the latest poll's waker is the one woken");
    mk.advance_clock(ms(1)).unwrap();
    assert!(wakes.count() >= 1);
    assert_eq!(ready(f), Ok(WaitStatus::Object(0)));
    assert_eq!(timer_info(&mp, timer), (false, false, None), "taken by the future");
    done(&mk, mbase, vec![mt], vec![mp]);

    let c = child.process.clone();
    drop((child, nt));
    done(&k, base, vec![t, waiter], vec![p, c]);
}

// SPEC §7.3: "Wait-all acquires all objects in one atomic step or none: no other thread
// ever sees some of them taken; while not all are available it takes nothing, even as
// others come and go."
#[test]
fn a_pending_wait_all_takes_nothing_until_all_are_ready() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let t = new_thread(&p);
    let other = new_thread(&p);
    let sem = p.create_semaphore(None, 1, 1, None).unwrap().handle;
    let e = p.create_event(None, false, false, None).unwrap().handle;

    let mut f = pending(&t, &[sem, e], true);
    assert_eq!(sem_info(&p, sem), (1, 1), "nothing is taken while not all are ready");
    assert_eq!(other.wait_for_single_object(sem, ZERO), Ok(WaitStatus::Object(0)), "the count is free");
    p.set_event(e).unwrap();
    assert!(poll_once(&mut f).is_pending(), "the semaphore is gone now");
    assert_eq!(event_info(&p, e), (false, true), "the event is not taken alone");
    p.release_semaphore(sem, 1).unwrap();
    assert_eq!(ready(f), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, sem), (0, 1));
    assert_eq!(event_info(&p, e), (false, false));

    done(&k, base, vec![t, other], vec![p]);
}

// SPEC §7.4: a mutex whose owner exits is abandoned, and a waiter already blocked gets
// Abandoned(i) — here a pending future, wait-any and wait-all.
#[test]
fn a_pending_future_inherits_an_abandoned_mutex() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let y = new_thread(&p);
    let x = new_thread(&p);
    let e = p.create_event(None, true, false, None).unwrap().handle;
    let m = x.create_mutex(None, true, None).unwrap().handle;
    let f = pending(&y, &[e, m], false);
    x.exit(0).unwrap();
    assert_eq!(ready(f), Ok(WaitStatus::Abandoned(1)));
    assert_eq!(mutex_info(&p, m), (Some(y.id()), 1, false));

    let z = new_thread(&p);
    let m2 = z.create_mutex(None, true, None).unwrap().handle;
    let s = p.create_semaphore(None, 1, 1, None).unwrap().handle;
    let f = pending(&y, &[s, m2], true);
    z.exit(0).unwrap();
    assert_eq!(ready(f), Ok(WaitStatus::Abandoned(0)));
    assert_eq!(mutex_info(&p, m2), (Some(y.id()), 1, false));
    assert_eq!(sem_info(&p, s), (0, 1));

    done(&k, base, vec![x, y, z], vec![p]);
}

// SPEC §7.5: "a pending future whose thread exits or whose process is terminated
// completes with ACCESS_DENIED" (SPEC §7.2: having acquired nothing); its waker is woken.
#[test]
fn exit_and_terminate_end_a_pending_future() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let t = new_thread(&p);
    let sem = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let e = p.create_event(None, false, false, None).unwrap().handle;

    let wakes = Arc::new(Wakes::default());
    let mut f = Box::pin(t.wait_async(&[sem, e], false));
    assert!(poll_with(&mut f, &wakes).is_pending());
    t.exit(0).unwrap();
    assert!(wakes.count() >= 1, "the exit woke the future");
    assert_eq!(ready(f).map_err(|e| e.code()), Err(ACCESS_DENIED));
    p.release_semaphore(sem, 1).unwrap();
    p.set_event(e).unwrap();
    assert_eq!(sem_info(&p, sem), (1, 1), "the ended wait took nothing");
    assert_eq!(event_info(&p, e), (false, true));

    // A child's thread, waiting on its parent's objects through its own handles.
    let child = p.create_process(false, kobj::ProcessOptions::default()).unwrap();
    let c = child.process.clone();
    let (cs, ce) = (dup_into(&p, sem, &c), dup_into(&p, e, &c));
    p.reset_event(e).unwrap();
    assert_eq!(p.main_thread().wait_for_single_object(sem, ZERO), Ok(WaitStatus::Object(0)));
    let wakes = Arc::new(Wakes::default());
    let ct = new_thread(&c);
    let mut any = Box::pin(c.main_thread().wait_async(&[cs, ce], false));
    let mut all = Box::pin(ct.wait_async(&[cs, ce], true));
    assert!(poll_with(&mut any, &wakes).is_pending());
    assert!(poll_with(&mut all, &wakes).is_pending());
    c.terminate(1).unwrap();
    assert!(wakes.count() >= 2);
    assert_eq!(ready(any).map_err(|e| e.code()), Err(ACCESS_DENIED));
    assert_eq!(ready(all).map_err(|e| e.code()), Err(ACCESS_DENIED));
    p.release_semaphore(sem, 1).unwrap();
    p.set_event(e).unwrap();
    assert_eq!(sem_info(&p, sem), (1, 1));
    assert_eq!(event_info(&p, e), (false, true));
    // A future made for a thread of a terminated process fails at once.
    assert_eq!(code(now(&ct, &[cs], false)), ACCESS_DENIED);

    drop(child);
    done(&k, base, vec![t, ct], vec![p, c]);
}

// SPEC §7.5: "Dropping the future before it completes leaves every object as if the wait
// had never been made" — dropped while still waiting: the objects signalled afterwards
// are not taken by a dead waiter.
#[test]
fn a_future_dropped_while_waiting_leaves_no_waiter() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let owner = p.main_thread();
    let t = new_thread(&p);
    let sem = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let auto = p.create_event(None, false, false, None).unwrap().handle;
    let m = owner.create_mutex(None, true, None).unwrap().handle;

    for all in [false, true] {
        let f = pending(&t, &[sem, auto, m], all);
        drop(f);
        p.release_semaphore(sem, 1).unwrap();
        p.set_event(auto).unwrap();
        owner.release_mutex(m).unwrap();
        assert_eq!(sem_info(&p, sem), (1, 1));
        assert_eq!(event_info(&p, auto), (false, true));
        assert_eq!(mutex_info(&p, m), (None, 0, false));
        // Back to the start.
        assert_eq!(owner.wait_for_multiple_objects(&[sem, auto, m], true, ZERO), Ok(WaitStatus::Object(0)));
    }
    // A pulse with only a dropped waiter satisfies nobody.
    drop(pending(&t, &[auto], false));
    p.pulse_event(auto).unwrap();
    assert_eq!(event_info(&p, auto), (false, false));
    // The dropped future's thread can wait again.
    p.set_event(auto).unwrap();
    assert_eq!(t.wait_for_single_object(auto, ZERO), Ok(WaitStatus::Object(0)));

    done(&k, base, vec![owner, t], vec![p]);
}

// SPEC §7.5: "an acquisition granted to it but not yet returned is undone through the
// normal paths (a semaphore released ...)": granted, dropped unpolled. Alone: the count
// comes back. With a second waiter queued (a future, then a blocking thread): the unit
// goes to it.
#[test]
fn a_granted_semaphore_is_released_when_the_future_is_dropped() {
    let k = manual_kernel();
    let base = k.object_count();
    let p = root(&k);
    let a = new_thread(&p);
    let b = new_thread(&p);
    let sem = p.create_semaphore(None, 0, 2, None).unwrap().handle;

    let fa = pending(&a, &[sem], false);
    p.release_semaphore(sem, 1).unwrap();
    assert_eq!(sem_info(&p, sem), (0, 2), "handed to the future at the release");
    drop(fa);
    assert_eq!(sem_info(&p, sem), (1, 2), "the unit came back");
    assert_eq!(a.wait_for_single_object(sem, ZERO), Ok(WaitStatus::Object(0)));

    let fa = pending(&a, &[sem], false);
    let mut fb = pending(&b, &[sem], false);
    p.release_semaphore(sem, 1).unwrap();
    assert!(poll_once(&mut fb).is_pending(), "first come first served: a was granted");
    drop(fa);
    assert_eq!(ready(fb), Ok(WaitStatus::Object(0)), "the unit went to the next waiter");
    assert_eq!(sem_info(&p, sem), (0, 2));

    // The next waiter is a blocked host thread (on the manual clock, it shows in
    // next_deadline once queued).
    let fa = pending(&a, &[sem], false);
    thread::scope(|s| {
        let w = s.spawn(|| b.wait_for_single_object(sem, LONG));
        await_deadline(&k, LONG);
        p.release_semaphore(sem, 1).unwrap();
        drop(fa);
        assert_eq!(w.join().unwrap(), Ok(WaitStatus::Object(0)));
    });
    assert_eq!(sem_info(&p, sem), (0, 2));

    // Granted in a wait-any on two: only that one is given back.
    let other = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let fa = pending(&a, &[other, sem], false);
    p.release_semaphore(sem, 2).unwrap();
    assert_eq!(sem_info(&p, sem), (1, 2));
    drop(fa);
    assert_eq!(sem_info(&p, sem), (2, 2));
    assert_eq!(sem_info(&p, other), (0, 1));

    done(&k, base, vec![a, b], vec![p]);
}

// SPEC §7.5: a granted mutex is "released to its next waiter with its abandoned state
// restored". Released by its owner: back to unowned, or to the next waiter. Abandoned by
// its owner's exit: back to abandoned, and the next acquirer gets Abandoned (SPEC §7.4).
#[test]
fn a_granted_mutex_passes_on_when_the_future_is_dropped() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = new_thread(&p);
    let b = new_thread(&p);
    let main = p.main_thread();

    // Released, nobody else waiting.
    let x = new_thread(&p);
    let m = x.create_mutex(None, true, None).unwrap().handle;
    let fa = pending(&a, &[m], false);
    x.release_mutex(m).unwrap();
    assert_eq!(mutex_info(&p, m), (Some(a.id()), 1, false), "handed to the future at the release");
    drop(fa);
    assert_eq!(mutex_info(&p, m), (None, 0, false));
    assert_eq!(code(a.release_mutex(m)), NOT_OWNER);

    // Released, b waiting next.
    assert_eq!(x.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    let fa = pending(&a, &[m], false);
    let fb = pending(&b, &[m], false);
    x.release_mutex(m).unwrap();
    drop(fa);
    assert_eq!(mutex_info(&p, m), (Some(b.id()), 1, false));
    assert_eq!(ready(fb), Ok(WaitStatus::Object(0)));
    b.release_mutex(m).unwrap();

    // Abandoned, nobody else waiting: abandoned again.
    let m = x.create_mutex(None, true, None).unwrap().handle;
    let fa = pending(&a, &[m], false);
    x.exit(0).unwrap();
    drop(fa);
    assert_eq!(mutex_info(&p, m), (None, 0, true), "the abandoned state is restored");
    assert_eq!(main.wait_for_single_object(m, ZERO), Ok(WaitStatus::Abandoned(0)));
    main.release_mutex(m).unwrap();

    // Abandoned, b waiting next: b inherits the abandonment.
    let y = new_thread(&p);
    let m = y.create_mutex(None, true, None).unwrap().handle;
    let fa = pending(&a, &[m], false);
    let fb = pending(&b, &[m], false);
    y.exit(0).unwrap();
    drop(fa);
    assert_eq!(ready(fb), Ok(WaitStatus::Abandoned(0)));
    assert_eq!(mutex_info(&p, m), (Some(b.id()), 1, false));
    b.release_mutex(m).unwrap();

    done(&k, base, vec![a, b, main, x, y], vec![p]);
}

// SPEC §7.5: a granted auto-reset event is "set again — or, for a pulse, handed to the
// next waiter queued at the time of the drop, else nobody: the event stays reset".
#[test]
fn a_granted_event_goes_back_or_on_when_the_future_is_dropped() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let (a, b, c) = (new_thread(&p), new_thread(&p), new_thread(&p));
    let e = p.create_event(None, false, false, None).unwrap().handle;

    // set: alone, the event is set again.
    let fa = pending(&a, &[e], false);
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, false), "handed to the future at the set");
    drop(fa);
    assert_eq!(event_info(&p, e), (false, true), "set again");
    assert_eq!(c.wait_for_single_object(e, ZERO), Ok(WaitStatus::Object(0)));

    // set: with b waiting next, b gets it.
    let fa = pending(&a, &[e], false);
    let mut fb = pending(&b, &[e], false);
    p.set_event(e).unwrap();
    assert!(poll_once(&mut fb).is_pending());
    drop(fa);
    assert_eq!(ready(fb), Ok(WaitStatus::Object(0)));
    assert_eq!(event_info(&p, e), (false, false));

    // pulse: alone, nobody gets it and the event stays reset.
    let fa = pending(&a, &[e], false);
    p.pulse_event(e).unwrap();
    drop(fa);
    assert_eq!(event_info(&p, e), (false, false), "a pulse is not set again");
    assert_eq!(c.wait_for_single_object(e, ZERO), Ok(WaitStatus::Timeout));

    // pulse: b was waiting at the pulse, b gets it.
    let fa = pending(&a, &[e], false);
    let mut fb = pending(&b, &[e], false);
    p.pulse_event(e).unwrap();
    assert!(poll_once(&mut fb).is_pending(), "an auto-reset pulse satisfies one waiter");
    drop(fa);
    assert_eq!(ready(fb), Ok(WaitStatus::Object(0)));
    assert_eq!(event_info(&p, e), (false, false));

    // pulse: b queued after the pulse but before the drop: queued at the time of the drop.
    let fa = pending(&a, &[e], false);
    p.pulse_event(e).unwrap();
    let fb = pending(&b, &[e], false);
    drop(fa);
    assert_eq!(ready(fb), Ok(WaitStatus::Object(0)));
    assert_eq!(event_info(&p, e), (false, false));

    // A manual-reset pulse grants every waiter; one dropped grant changes nothing.
    let me = p.create_event(None, true, false, None).unwrap().handle;
    let fa = pending(&a, &[me], false);
    let fb = pending(&b, &[me], false);
    p.pulse_event(me).unwrap();
    drop(fa);
    assert_eq!(ready(fb), Ok(WaitStatus::Object(0)));
    assert_eq!(event_info(&p, me), (true, false));
    // A set manual-reset event: nothing to undo.
    let fa = pending(&a, &[me], false);
    p.set_event(me).unwrap();
    drop(fa);
    assert_eq!(event_info(&p, me), (true, true));

    done(&k, base, vec![a, b, c], vec![p]);
}

// SPEC §7.5 (a granted acquisition is undone) for a wait-all, whose grant is several
// objects at once, and for a synchronization timer (reset by the acquisition, SPEC §7.3):
// each is given back. A future that completed is not undone by its drop.
#[test]
fn a_granted_wait_all_and_timer_are_given_back() {
    let k = manual_kernel();
    let base = k.object_count();
    let p = root(&k);
    let a = new_thread(&p);
    let sem = p.create_semaphore(None, 1, 1, None).unwrap().handle;
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let x = new_thread(&p);
    let m = x.create_mutex(None, true, None).unwrap().handle;

    let fa = pending(&a, &[sem, e, m], true);
    p.set_event(e).unwrap();
    assert!(event_info(&p, e).1, "not all ready: nothing taken");
    x.release_mutex(m).unwrap();
    assert_eq!((sem_info(&p, sem), event_info(&p, e).1), ((0, 1), false), "all granted at once");
    assert_eq!(mutex_info(&p, m), (Some(a.id()), 1, false));
    drop(fa);
    assert_eq!(sem_info(&p, sem), (1, 1));
    assert_eq!(event_info(&p, e), (false, true));
    assert_eq!(mutex_info(&p, m), (None, 0, false));

    let timer = p.create_waitable_timer(None, false, None).unwrap().handle;
    let fa = pending(&a, &[timer], false);
    p.set_waitable_timer(timer, Due::After(ms(5)), Duration::ZERO).unwrap();
    k.advance_clock(ms(5)).unwrap();
    assert_eq!(timer_info(&p, timer), (false, false, None), "handed to the future as it fired");
    drop(fa);
    assert_eq!(timer_info(&p, timer), (false, true, None), "set again");

    // Completed, then dropped: the acquisition stands.
    assert_eq!(a.wait_for_single_object(sem, ZERO), Ok(WaitStatus::Object(0)));
    let fa = pending(&a, &[sem], false);
    p.release_semaphore(sem, 1).unwrap();
    assert_eq!(ready(fa), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, sem), (0, 1));

    done(&k, base, vec![a, x], vec![p]);
}

// SPEC §3 "Objects and lifetime" and §7.3 ("the wait holds its own references"): a
// pending future holds its objects after their last handle is closed; dropping it frees
// them (every test ends at its start object_count, dropped futures included).
#[test]
fn a_pending_future_holds_its_objects_until_dropped() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let t = new_thread(&p);
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let before = k.object_count();
    let f = pending(&t, &[e], false);
    p.close_handle(e).unwrap();
    assert_eq!(k.object_count(), before, "the future holds the event");
    drop(f);
    assert_eq!(k.object_count(), before - 1, "dropping the future freed it");

    // A future still pending when everything else is gone.
    let q = root(&k);
    let qe = q.create_event(None, false, false, None).unwrap().handle;
    let f = pending(&q.main_thread(), &[qe], false);
    q.terminate(0).unwrap();
    drop(q);
    drop(f);

    done(&k, base, vec![t], vec![p]);
}

// Runtime-agnostic (issue 11): a future blocked on futures::executor::block_on is woken by
// a set made on another host thread. A watchdog terminates the process if it never is,
// so a lost wake-up fails the test (ACCESS_DENIED) instead of hanging it.
#[test]
fn block_on_is_woken_from_another_host_thread() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let t = new_thread(&p);
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let watched = &p;
    thread::scope(|s| {
        s.spawn(move || {
            thread::sleep(ms(30));
            watched.set_event(e).unwrap();
            if stopped.recv_timeout(Duration::from_secs(10)).is_err() {
                let _ = watched.terminate(99);
            }
        });
        assert_eq!(block_on(t.wait_async(&[e], false)), Ok(WaitStatus::Object(0)));
        stop.send(()).unwrap();
    });
    assert_eq!(event_info(&p, e), (false, false));
    done(&k, base, vec![t], vec![p]);
}

// Issue 11: tokio tasks (multi-thread runtime) await handles that other host threads
// signal; a task spawned with the future itself (it is Send + 'static).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_tasks_are_woken_from_other_threads() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let (a, b) = (new_thread(&p), new_thread(&p));
    let e = p.create_event(None, true, false, None).unwrap().handle;
    let sem = p.create_semaphore(None, 0, 1, None).unwrap().handle;

    let ta = tokio::spawn(a.wait_async(&[e], false));
    let tb = tokio::spawn(b.wait_async(&[sem, e], true));
    let p2 = p.clone();
    let setter = thread::spawn(move || {
        thread::sleep(ms(20));
        p2.set_event(e).unwrap();
        thread::sleep(ms(20));
        p2.release_semaphore(sem, 1).unwrap();
    });
    let secs = Duration::from_secs(10);
    assert_eq!(tokio::time::timeout(secs, ta).await.expect("woken").unwrap(), Ok(WaitStatus::Object(0)));
    assert_eq!(tokio::time::timeout(secs, tb).await.expect("woken").unwrap(), Ok(WaitStatus::Object(0)));
    setter.join().unwrap();
    assert_eq!(sem_info(&p, sem), (0, 1));

    done(&k, base, vec![a, b], vec![p]);
}

// Issue 11: "Timeouts come from the caller's runtime (tokio::time::timeout drops the
// future — which is why cancel-safety matters)". After the timeout, every object is as
// it was: signalled afterwards, nobody takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_timeout_leaves_the_objects_untouched() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let owner = p.main_thread();
    let t = new_thread(&p);
    let sem = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let auto = p.create_event(None, false, false, None).unwrap().handle;
    let m = owner.create_mutex(None, true, None).unwrap().handle;

    for all in [false, true] {
        let r = tokio::time::timeout(ms(30), t.wait_async(&[sem, auto, m], all)).await;
        assert!(r.is_err(), "the wait cannot complete: {r:?}");
        p.release_semaphore(sem, 1).unwrap();
        p.set_event(auto).unwrap();
        owner.release_mutex(m).unwrap();
        assert_eq!(sem_info(&p, sem), (1, 1));
        assert_eq!(event_info(&p, auto), (false, true));
        assert_eq!(mutex_info(&p, m), (None, 0, false));
        assert_eq!(owner.wait_for_multiple_objects(&[sem, auto, m], true, ZERO), Ok(WaitStatus::Object(0)));
    }

    done(&k, base, vec![owner, t], vec![p]);
}

// Issue 11 (cancel-safety under a runtime): tokio::select! drops the future that lost;
// the object it waited on, set afterwards, stays set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_drops_the_losing_wait() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let (a, b) = (new_thread(&p), new_thread(&p));
    let e1 = p.create_event(None, false, false, None).unwrap().handle;
    let e2 = p.create_event(None, false, false, None).unwrap().handle;
    let p2 = p.clone();
    let setter = tokio::spawn(async move {
        tokio::time::sleep(ms(20)).await;
        p2.set_event(e1).unwrap();
    });
    let winner = tokio::select! {
        r = a.wait_async(&[e1], false) => (1, r),
        r = b.wait_async(&[e2], false) => (2, r),
        _ = tokio::time::sleep(Duration::from_secs(10)) => (0, Ok(WaitStatus::Timeout)),
    };
    assert_eq!(winner, (1, Ok(WaitStatus::Object(0))));
    p.set_event(e2).unwrap();
    assert_eq!(event_info(&p, e2), (false, true), "the losing wait is gone");
    assert_eq!(event_info(&p, e1), (false, false));
    setter.await.unwrap();

    done(&k, base, vec![a, b], vec![p]);
}

// SPEC §7.3 (a release of n satisfies up to n waiters, first come first served) with many
// tasks, each its own guest thread: every task completes and no unit is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_a_semaphore() {
    const TASKS: usize = 32;
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let sem = p.create_semaphore(None, 0, TASKS as i32, None).unwrap().handle;
    let threads: Vec<Thread> = (0..TASKS).map(|_| new_thread(&p)).collect();
    let tasks: Vec<_> = threads.iter().map(|t| tokio::spawn(t.wait_async(&[sem], false))).collect();
    for _ in 0..TASKS / 4 {
        p.release_semaphore(sem, 4).unwrap();
        tokio::task::yield_now().await;
    }
    for task in tasks {
        let r = tokio::time::timeout(Duration::from_secs(10), task).await.expect("completed").unwrap();
        assert_eq!(r, Ok(WaitStatus::Object(0)));
    }
    assert_eq!(sem_info(&p, sem), (0, TASKS as i32));

    done(&k, base, threads, vec![p]);
}

// A ping-pong between two tasks over two auto-reset events (the shape of the async_wake
// benchmark), 500 rounds: each set is taken by exactly one wait of the other side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tasks_ping_pong() {
    const ROUNDS: usize = 500;
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let (a, b) = (new_thread(&p), new_thread(&p));
    let ping = p.create_event(None, false, false, None).unwrap().handle;
    let pong = p.create_event(None, false, false, None).unwrap().handle;
    let (pa, pb) = (p.clone(), p.clone());
    let (ta, tb) = (a.clone(), b.clone());
    let left = tokio::spawn(async move {
        for _ in 0..ROUNDS {
            pa.set_event(ping).unwrap();
            assert_eq!(ta.wait_async(&[pong], false).await, Ok(WaitStatus::Object(0)));
        }
    });
    let right = tokio::spawn(async move {
        for _ in 0..ROUNDS {
            assert_eq!(tb.wait_async(&[ping], false).await, Ok(WaitStatus::Object(0)));
            pb.set_event(pong).unwrap();
        }
    });
    let secs = Duration::from_secs(30);
    tokio::time::timeout(secs, left).await.expect("no lost wake-up").unwrap();
    tokio::time::timeout(secs, right).await.expect("no lost wake-up").unwrap();
    assert_eq!(event_info(&p, ping), (false, false));
    assert_eq!(event_info(&p, pong), (false, false));

    done(&k, base, vec![a, b], vec![p]);
}

// SPEC §7.3 first come first served across a blocking waiter and a future: a guest thread
// blocked in wait_for_single_object (queued first) gets the first unit, the task the
// second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_waiter_and_a_future_in_queue_order() {
    let k = manual_kernel();
    let base = k.object_count();
    let p = root(&k);
    let (a, b) = (new_thread(&p), new_thread(&p));
    let sem = p.create_semaphore(None, 0, 2, None).unwrap().handle;
    let ta = a.clone();
    let blocking = tokio::task::spawn_blocking(move || ta.wait_for_single_object(sem, LONG));
    // On the manual clock the blocked wait shows in next_deadline once it is queued.
    let k2 = k.clone();
    tokio::task::spawn_blocking(move || await_deadline(&k2, LONG)).await.unwrap();
    let mut fb = Box::pin(b.wait_async(&[sem], false));
    assert!(poll_once(&mut fb).is_pending());
    p.release_semaphore(sem, 1).unwrap();
    assert_eq!(blocking.await.unwrap(), Ok(WaitStatus::Object(0)), "the first waiter");
    assert!(poll_once(&mut fb).is_pending());
    p.release_semaphore(sem, 1).unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), fb).await.expect("woken"),
        Ok(WaitStatus::Object(0))
    );

    done(&k, base, vec![a, b], vec![p]);
}

// A future granted an object and dropped on another host thread (it is Send): the undo
// runs there, and the next waiter, blocked on this one, gets the object.
#[test]
fn a_future_dropped_on_another_host_thread() {
    let k = manual_kernel();
    let base = k.object_count();
    let p = root(&k);
    let (a, b) = (new_thread(&p), new_thread(&p));
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let fa = pending(&a, &[e], false);
    p.set_event(e).unwrap();
    thread::scope(|s| {
        let w = s.spawn(|| b.wait_for_single_object(e, LONG));
        await_deadline(&k, LONG);
        thread::spawn(move || drop(fa)).join().unwrap();
        assert_eq!(w.join().unwrap(), Ok(WaitStatus::Object(0)));
    });
    assert_eq!(event_info(&p, e), (false, false));
    done(&k, base, vec![a, b], vec![p]);
}

// Issue 11's loom model "a WaitFuture dropped after it was granted a semaphore / mutex /
// auto-reset event / pulse (the grant is passed on, nothing lost, nothing doubled)", as a
// stress test on real threads: the signal and the drop of the first waiter's future race;
// whichever comes first, the second waiter ends up with the object, exactly once.
#[test]
fn a_signal_racing_the_drop_of_a_waiter_loses_nothing() {
    const ROUNDS: usize = 500;
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let (a, b, x) = (new_thread(&p), new_thread(&p), new_thread(&p));
    let sem = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let auto = p.create_event(None, false, false, None).unwrap().handle;
    let m = x.create_mutex(None, true, None).unwrap().handle;
    let start = std::sync::Barrier::new(2);

    for round in 0..ROUNDS {
        for kind in 0..4 {
            let h = [sem, auto, m, auto][kind];
            let fa = pending(&a, &[h], false);
            let fb = pending(&b, &[h], false);
            thread::scope(|s| {
                s.spawn(|| {
                    start.wait();
                    match kind {
                        0 => drop(p.release_semaphore(sem, 1).unwrap()),
                        1 => p.set_event(auto).unwrap(),
                        2 => x.release_mutex(m).unwrap(),
                        _ => p.pulse_event(auto).unwrap(),
                    }
                });
                start.wait();
                drop(fa);
            });
            assert_eq!(ready(fb), Ok(WaitStatus::Object(0)), "round {round}, kind {kind}");
            match kind {
                0 => assert_eq!(sem_info(&p, sem), (0, 1), "round {round}: one unit, taken once"),
                1 | 3 => assert_eq!(event_info(&p, auto), (false, false), "round {round}, kind {kind}"),
                _ => {
                    assert_eq!(mutex_info(&p, m), (Some(b.id()), 1, false), "round {round}");
                    b.release_mutex(m).unwrap();
                    assert_eq!(x.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
                }
            }
        }
    }
    x.release_mutex(m).unwrap();

    done(&k, base, vec![a, b, x], vec![p]);
}

// SPEC §7.5 with the system clock's timer driver: a task awaits a timer that fires on its
// own, and a task's `tokio::time::timeout` around a timer that is cancelled leaves the
// timer untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_awaits_a_timer() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let t = new_thread(&p);
    let timer = p.create_waitable_timer(None, false, None).unwrap().handle;
    p.set_waitable_timer(timer, Due::After(ms(20)), Duration::ZERO).unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), t.wait_async(&[timer], false)).await;
    assert_eq!(r.expect("the timer fired"), Ok(WaitStatus::Object(0)));
    assert_eq!(timer_info(&p, timer), (false, false, None));

    p.set_waitable_timer(timer, Due::After(Duration::from_secs(100)), Duration::ZERO).unwrap();
    let r = tokio::time::timeout(ms(20), t.wait_async(&[timer], false)).await;
    assert!(r.is_err());
    p.cancel_waitable_timer(timer).unwrap();
    assert_eq!(timer_info(&p, timer), (false, false, None));

    done(&k, base, vec![t], vec![p]);
}

// SPEC §7.2 ("A wait in progress when its thread exits ... returns ACCESS_DENIED having
// acquired nothing"; an exiting thread abandons its mutexes) meeting §7.5's cancel-safety:
// a future granted an object, whose thread then exits before it is polled. Whatever it
// reports, the objects stay consistent with it: a semaphore unit is either returned or
// reported taken; a mutex is never left owned by the dead thread, and the future's later
// drop does not release a mutex someone else has taken since.
#[test]
fn a_granted_future_whose_thread_exits() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let (x, c) = (new_thread(&p), new_thread(&p));

    // A semaphore unit.
    let a = new_thread(&p);
    let sem = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let fa = pending(&a, &[sem], false);
    p.release_semaphore(sem, 1).unwrap();
    a.exit(0).unwrap();
    match ready(fa) {
        Ok(WaitStatus::Object(0)) => assert_eq!(sem_info(&p, sem), (0, 1), "reported taken"),
        Err(e) if e.code() == ACCESS_DENIED => assert_eq!(sem_info(&p, sem), (1, 1), "acquired nothing"),
        other => panic!("{other:?}"),
    }

    // A mutex, polled after the exit.
    let a2 = new_thread(&p);
    let m = x.create_mutex(None, true, None).unwrap().handle;
    let fa = pending(&a2, &[m], false);
    x.release_mutex(m).unwrap();
    a2.exit(0).unwrap();
    let (owner, _, _) = mutex_info(&p, m);
    assert_ne!(owner, Some(a2.id()), "not owned by a thread that has exited");
    let r = ready(fa);
    assert!(r == Ok(WaitStatus::Object(0)) || r.map_err(|e| e.code()) == Err(ACCESS_DENIED), "{r:?}");
    let got = c.wait_for_single_object(m, ZERO).unwrap();
    assert!(matches!(got, WaitStatus::Object(0) | WaitStatus::Abandoned(0)), "{got:?}");
    assert_eq!(mutex_info(&p, m), (Some(c.id()), 1, false));
    c.release_mutex(m).unwrap();

    // A mutex, dropped unpolled after the exit and after another thread took it.
    let a3 = new_thread(&p);
    let m = x.create_mutex(None, true, None).unwrap().handle;
    let fa = pending(&a3, &[m], false);
    x.release_mutex(m).unwrap();
    a3.exit(0).unwrap();
    let got = c.wait_for_single_object(m, ZERO).unwrap();
    assert!(matches!(got, WaitStatus::Object(0) | WaitStatus::Abandoned(0)), "{got:?}");
    drop(fa);
    assert_eq!(mutex_info(&p, m), (Some(c.id()), 1, false), "the drop released nothing of c's");
    c.release_mutex(m).unwrap();
    assert_eq!(mutex_info(&p, m), (None, 0, false));

    done(&k, base, vec![x, c, a, a2, a3], vec![p]);
}

// SPEC §7.3 ("pulse_event satisfies the waiters that are waiting at that instant" — a
// wait-all among them, if its other objects are available, taking them all in one step)
// and §7.5 (a pulse's grant dropped goes to the next waiter queued at the time of the
// drop): a wait-all future granted by a pulse and dropped gives its semaphore unit back
// and passes the pulse on.
#[test]
fn a_pulse_granted_to_a_wait_all_and_dropped() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let (a, b) = (new_thread(&p), new_thread(&p));
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let sem = p.create_semaphore(None, 1, 1, None).unwrap().handle;

    let fa = pending(&a, &[e, sem], true);
    let fb = pending(&b, &[e], false);
    p.pulse_event(e).unwrap();
    assert_eq!(sem_info(&p, sem), (0, 1), "the pulse satisfied the wait-all, first in the queue");
    drop(fa);
    assert_eq!(sem_info(&p, sem), (1, 1), "its semaphore unit came back");
    assert_eq!(ready(fb), Ok(WaitStatus::Object(0)), "the pulse went on to the next waiter");
    assert_eq!(event_info(&p, e), (false, false));

    // Alone: the pulse goes to nobody, the unit comes back.
    let fa = pending(&a, &[e, sem], true);
    p.pulse_event(e).unwrap();
    drop(fa);
    assert_eq!(sem_info(&p, sem), (1, 1));
    assert_eq!(event_info(&p, e), (false, false));

    done(&k, base, vec![a, b], vec![p]);
}

// SPEC §6 (no panic, no lost reference) at teardown: a kernel whose last values are
// dropped while futures are still pending and timers armed; the futures, dropped after
// everything else, end it cleanly.
#[test]
fn pending_futures_outlive_their_kernel_values() {
    let k = Kernel::new();
    let p = root(&k);
    let t = new_thread(&p);
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let timer = p.create_waitable_timer(None, true, None).unwrap().handle;
    p.set_waitable_timer(timer, Due::After(Duration::from_secs(100)), ms(10)).unwrap();
    let f1 = pending(&t, &[e], false);
    let f2 = pending(&t, &[timer, e], true);
    let weak = k.clone();
    drop((t, p, k));
    drop(f1);
    drop(f2);
    assert_eq!(weak.object_count(), 0, "nothing is left");
}

// SPEC §7.3 ("A wait-any may name an object more than once ... exactly one object is
// acquired per call") with §7.5's undo: a future granted one unit through a handle named
// twice gives back one unit, not two.
#[test]
fn a_granted_wait_on_one_object_named_twice_gives_back_one_unit() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = new_thread(&p);
    let sem = p.create_semaphore(None, 0, 5, None).unwrap().handle;
    let alias = dup_same(&p, sem);
    let fa = pending(&a, &[sem, alias, sem], false);
    p.release_semaphore(sem, 2).unwrap();
    assert_eq!(sem_info(&p, sem), (1, 5), "one unit granted, one left");
    drop(fa);
    assert_eq!(sem_info(&p, sem), (2, 5), "one unit given back");
    assert_eq!(a.wait_for_multiple_objects(&[sem], false, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(a.wait_for_multiple_objects(&[sem], false, ZERO), Ok(WaitStatus::Object(0)));
    let fa = pending(&a, &[alias, sem], false);
    p.release_semaphore(sem, 1).unwrap();
    assert_eq!(ready(fa), Ok(WaitStatus::Object(0)), "the lowest index, as it was granted");
    assert_eq!(sem_info(&p, sem), (0, 5));
    done(&k, base, vec![a], vec![p]);
}

/// One future of the cancel-safety model: its guest thread's index and whether it has
/// been granted (and, for the event, whether by a pulse).
#[derive(Clone, Copy, Debug)]
struct ModelWait {
    thread: usize,
    granted: bool,
    pulsed: bool,
}

// SPEC §7.3 (signals hand objects to waiters at the moment of the signal, first come first
// served; release_semaphore(n) fails with TOO_MANY_POSTS when the count would pass its
// maximum; a pulse satisfies only the waiters waiting at that instant) and §7.5's
// cancel-safety (a granted future's drop passes the grant on, else gives it back; a
// pulse's grant goes to the next waiter queued at the drop, else to nobody), checked
// against a model over random sequences of new futures, signals, polls and drops, on a
// semaphore and on an auto-reset event. Seeded, so a failure replays.
#[test]
fn futures_on_one_object_agree_with_a_model() {
    for (seed, on_event) in (1..=6u64).map(|s| (s, s % 2 == 0)) {
        let mut rng = Rng::new(seed * 104_729);
        let k = Kernel::new();
        let base = k.object_count();
        let p = root(&k);
        let threads: Vec<Thread> = (0..6).map(|_| new_thread(&p)).collect();
        let h = if on_event {
            p.create_event(None, false, false, None).unwrap().handle
        } else {
            p.create_semaphore(None, 0, 3, None).unwrap().handle
        };
        // The model: the object's state, and the live futures in queue order.
        let (mut count, mut signaled) = (0i32, false);
        let mut queue: Vec<ModelWait> = Vec::new();
        let mut futures: Vec<Option<Fut>> = (0..6).map(|_| None).collect();
        for step in 0..3000 {
            let t = rng.below(6);
            match rng.below(6) {
                // A new future on a thread that has none.
                0 | 1 if futures[t].is_none() => {
                    let mut f = Box::pin(threads[t].wait_async(&[h], false));
                    let got = poll_once(&mut f);
                    let available = if on_event { signaled } else { count > 0 };
                    if available {
                        assert_eq!(got, Poll::Ready(Ok(WaitStatus::Object(0))), "seed {seed} step {step}");
                        if on_event {
                            signaled = false;
                        } else {
                            count -= 1;
                        }
                    } else {
                        assert!(got.is_pending(), "seed {seed} step {step}: {got:?}");
                        futures[t] = Some(f);
                        queue.push(ModelWait { thread: t, granted: false, pulsed: false });
                    }
                }
                // A signal.
                2 => {
                    if on_event {
                        let pulse = rng.chance(3);
                        if pulse {
                            p.pulse_event(h).unwrap();
                        } else {
                            p.set_event(h).unwrap();
                        }
                        match queue.iter_mut().find(|w| !w.granted) {
                            Some(w) => (w.granted, w.pulsed) = (true, pulse),
                            // A set with nobody to take it stays; a pulse leaves the event reset.
                            None => signaled = !pulse,
                        }
                    } else {
                        let n = 1 + rng.below(2) as i32;
                        let r = p.release_semaphore(h, n);
                        if count + n > 3 {
                            assert_eq!(code(r), TOO_MANY_POSTS, "seed {seed} step {step}");
                        } else {
                            assert_eq!(r, Ok(count), "seed {seed} step {step}: the previous count");
                            for _ in 0..n {
                                match queue.iter_mut().find(|w| !w.granted) {
                                    Some(w) => w.granted = true,
                                    None => count += 1,
                                }
                            }
                        }
                    }
                }
                // A poll.
                3 if futures[t].is_some() => {
                    let i = queue.iter().position(|w| w.thread == t).unwrap();
                    let got = poll_once(futures[t].as_mut().unwrap());
                    if queue[i].granted {
                        assert_eq!(got, Poll::Ready(Ok(WaitStatus::Object(0))), "seed {seed} step {step}");
                        futures[t] = None;
                        queue.remove(i);
                    } else {
                        assert!(got.is_pending(), "seed {seed} step {step}: {got:?}");
                    }
                }
                // A drop: a grant is passed on, or given back (a pulse's to nobody).
                4 | 5 if futures[t].is_some() => {
                    let i = queue.iter().position(|w| w.thread == t).unwrap();
                    let w = queue.remove(i);
                    futures[t] = None;
                    if w.granted {
                        match queue.iter_mut().find(|w| !w.granted) {
                            Some(next) => (next.granted, next.pulsed) = (true, w.pulsed),
                            None if on_event => signaled = signaled || !w.pulsed,
                            None => count += 1,
                        }
                    }
                }
                _ => {}
            }
            if on_event {
                assert_eq!(event_info(&p, h), (false, signaled), "seed {seed} step {step}: the event");
            } else {
                assert_eq!(sem_info(&p, h), (count, 3), "seed {seed} step {step}: the semaphore");
            }
        }
        drop(futures);
        done(&k, base, threads, vec![p]);
    }
}

// SPEC §7.5: a dropped future's pulse grant goes "to the next waiter queued at the time
// of the drop, else nobody" — nobody gets it, and nothing else changes: a set made after
// the pulse (with nobody else waiting, so it left the event set) stays. Found by the
// model test below (seed 2).
#[test]
fn a_dropped_pulse_grant_leaves_a_later_set_alone() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = new_thread(&p);
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let fa = pending(&a, &[e], false);
    p.pulse_event(e).unwrap();
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, true), "set, nobody waiting");
    drop(fa);
    assert_eq!(event_info(&p, e), (false, true), "the pulse's grant went to nobody; the set stands");
    done(&k, base, vec![a], vec![p]);
}
