//! APCs and alertable waits: SPEC §7.5 (issue 11). Sources: SPEC §7.5 and §7.2, Wine's
//! `dlls/kernel32/tests/sync.c` (test_QueueUserAPC, test_alertable_wait), and Microsoft's
//! docs for QueueUserAPC, SleepEx and WaitForMultipleObjectsEx (an alertable wait returns
//! WAIT_IO_COMPLETION once the queued APCs have run).
//!
//! Where a test needs a waiter to be blocked before it queues an APC, it runs on
//! `Clock::Manual` and waits for the waiter's deadline to show in `next_deadline()`
//! (`await_deadline`), so nothing sleeps and the interleaving is the one intended.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use common::*;
use kobj::{Access, Handle, Kernel, Process, Thread, WaitStatus};

const ZERO: Option<Duration> = Some(Duration::ZERO);
const LONG: Option<Duration> = Some(Duration::from_secs(10));
/// ERROR_GEN_FAILURE: an APC queued to a thread that has exited.
const GEN_FAILURE: u32 = 31;
/// A value no table of these tests ever issues (Wine's 0xdeadbee0).
const BAD: Handle = Handle::from_raw(0xdead_bee0);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A counter the APCs of a test bump.
#[derive(Clone, Default)]
struct Count(Arc<AtomicUsize>);

impl Count {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// An APC that adds one.
    fn apc(&self) -> impl FnOnce() + Send + 'static {
        let c = self.0.clone();
        move || {
            c.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The order in which APCs ran.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u32>>>);

impl Log {
    fn apc(&self, n: u32) -> impl FnOnce() + Send + 'static {
        let log = self.0.clone();
        move || log.lock().unwrap().push(n)
    }

    fn take(&self) -> Vec<u32> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Owned by an APC's closure: tells whether the closure was dropped (run or not).
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// An APC that records whether it ran, and whose closure records its drop.
fn tracked() -> (impl FnOnce() + Send + 'static, Arc<AtomicBool>, Arc<AtomicBool>) {
    let (ran, dropped) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let flag = DropFlag(dropped.clone());
    let r = ran.clone();
    let apc = move || {
        let _flag = &flag;
        r.store(true, Ordering::SeqCst);
    };
    (apc, ran, dropped)
}

fn new_thread(p: &Process) -> kobj::NewThread {
    p.create_thread(None).expect("create_thread")
}

// Wine kernel32 sync.c test_QueueUserAPC: QueueUserAPC to a terminated thread fails with
// ERROR_GEN_FAILURE (and to a bad handle with INVALID_HANDLE); an APC queued to the
// current thread does not run until SleepEx(.., TRUE), which returns WAIT_IO_COMPLETION
// having run it; then nothing is queued; SleepEx(0, TRUE) runs a queued APC (the
// QueueUserAPC2 part). SPEC §7.5: "Queueing to an exited thread: GEN_FAILURE"; "Through
// Process, the -2 pseudo-handle names the process's main thread".
#[test]
fn test_queue_user_apc() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();

    let nt = new_thread(&p);
    nt.thread.exit(0xdead_beef).unwrap();
    assert_eq!(main.wait_for_single_object(nt.handle, Some(ms(1000))), Ok(WaitStatus::Object(0)));
    let (apc, ran, dropped) = tracked();
    assert_eq!(code(p.queue_user_apc(nt.handle, apc)), GEN_FAILURE);
    assert!(!ran.load(Ordering::SeqCst) && dropped.load(Ordering::SeqCst), "refused, dropped, not run");
    assert_eq!(code(p.queue_user_apc(BAD, || {})), INVALID_HANDLE);
    p.close_handle(nt.handle).unwrap();

    let count = Count::default();
    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(count.get(), 0, "queued, not run");
    assert_eq!(main.sleep_ex(Some(ms(100)), true), Ok(WaitStatus::IoCompletion));
    assert_eq!(count.get(), 1);
    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::Timeout), "nothing is left queued");
    assert_eq!(count.get(), 1);

    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(count.get(), 1);
    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(count.get(), 2);
    assert_eq!(WaitStatus::IoCompletion.code(), 0xC0);

    done(&k, base, vec![main, nt.thread], vec![p]);
}

// Wine kernel32 sync.c test_alertable_wait: a thread blocked in an alertable
// WaitForMultipleObjectsEx on a semaphore gets an APC that releases that semaphore: the
// wait returns WAIT_IO_COMPLETION (not the object), and the next wait takes the count at
// once. Then two APCs that each wait for a unit of another semaphore both run (all the
// queued APCs, in one wait), and take both units. SPEC §7.5: APCs run "inside its next
// alertable wait, all of them, before that wait returns IoCompletion — even if an APC
// signalled the awaited object". Wine's Sleep(100) "to ensure the thread is blocking"
// becomes a wait for the waiter's deadline on the manual clock.
#[test]
fn test_alertable_wait() {
    let k = manual_kernel();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let nt = new_thread(&p);
    let s0 = p.create_semaphore(None, 0, 2, None).unwrap().handle;
    let s1 = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let second = Some(ms(1000));

    // alertable_wait_apc: release semaphores[1].
    let release_s1 = |p: &Process| {
        let p = p.clone();
        move || {
            // Checked by the waits that follow (a panic here would unwind through the wait).
            let _ = p.release_semaphore(s1, 1);
        }
    };
    // alertable_wait_apc2: wait for semaphores[0], as the thread the APC runs on.
    let apc_results: Arc<Mutex<Vec<kobj::Result<WaitStatus>>>> = Arc::default();
    let take_s0 = |t: &Thread| {
        let (t, out) = (t.clone(), apc_results.clone());
        move || {
            let r = t.wait_for_single_object(s0, Some(ms(1000)));
            out.lock().unwrap().push(r);
        }
    };

    let results = thread::scope(|s| {
        let (p2, t) = (p.clone(), nt.thread.clone());
        let worker = s.spawn(move || {
            let mut r = Vec::new();
            p2.release_semaphore(s0, 1).unwrap();
            r.push(t.wait_for_multiple_objects_ex(&[s1], true, Some(ms(1000)), true));
            r.push(t.wait_for_multiple_objects_ex(&[s1], true, Some(ms(200)), true));
            p2.release_semaphore(s0, 1).unwrap();
            r.push(t.wait_for_multiple_objects_ex(&[s1], true, Some(ms(1000)), true));
            r.push(t.wait_for_multiple_objects_ex(&[s1], true, Some(ms(200)), true));
            p2.release_semaphore(s0, 1).unwrap();
            r.push(t.wait_for_multiple_objects_ex(&[s1], true, Some(ms(1000)), true));
            r.push(t.wait_for_single_object(s0, ZERO));
            r
        });
        for _ in 0..2 {
            assert_eq!(main.wait_for_single_object(s0, second), Ok(WaitStatus::Object(0)));
            await_deadline(&k, second);
            p.queue_user_apc(nt.handle, release_s1(&p)).unwrap();
        }
        assert_eq!(main.wait_for_single_object(s0, second), Ok(WaitStatus::Object(0)));
        await_deadline(&k, second);
        p.queue_user_apc(nt.handle, take_s0(&nt.thread)).unwrap();
        p.queue_user_apc(nt.handle, take_s0(&nt.thread)).unwrap();
        p.release_semaphore(s0, 2).unwrap();
        worker.join().unwrap()
    });
    use WaitStatus::{IoCompletion, Object, Timeout};
    assert_eq!(
        results,
        [Ok(IoCompletion), Ok(Object(0)), Ok(IoCompletion), Ok(Object(0)), Ok(IoCompletion), Ok(Timeout)]
    );
    assert_eq!(
        *apc_results.lock().unwrap(),
        [Ok(Object(0)), Ok(Object(0))],
        "both APCs ran and each took a unit"
    );
    assert_eq!(sem_info(&p, s0), (0, 2));
    assert_eq!(sem_info(&p, s1), (0, 1));
    assert_eq!(k.clock_now(), Duration::ZERO, "no time passed");

    done(&k, base, vec![main, nt.thread], vec![p]);
}

// SPEC §7.5: "queued per thread, first in first out; ... all of them" — including an APC
// queued by an APC while it runs (the lead's reading: it joins the queue and runs in the
// same wait). Microsoft QueueUserAPC: the thread calls the APCs in FIFO order.
#[test]
fn apcs_run_first_in_first_out_and_all_of_them() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let log = Log::default();

    p.queue_user_apc(Handle::CURRENT_THREAD, log.apc(1)).unwrap();
    let (p2, l2) = (p.clone(), log.clone());
    p.queue_user_apc(Handle::CURRENT_THREAD, move || {
        l2.0.lock().unwrap().push(2);
        p2.queue_user_apc(Handle::CURRENT_THREAD, l2.apc(5)).unwrap();
    })
    .unwrap();
    p.queue_user_apc(Handle::CURRENT_THREAD, log.apc(3)).unwrap();
    p.queue_user_apc(Handle::CURRENT_THREAD, log.apc(4)).unwrap();
    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(log.take(), [1, 2, 3, 4, 5]);
    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::Timeout), "none left");
    assert_eq!(log.take(), [] as [u32; 0]);

    // Per thread: the main thread's APCs do not run in another thread's wait.
    let nt = new_thread(&p);
    p.queue_user_apc(Handle::CURRENT_THREAD, log.apc(6)).unwrap();
    p.queue_user_apc(nt.handle, log.apc(7)).unwrap();
    assert_eq!(nt.thread.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(log.take(), [7]);
    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(log.take(), [6]);

    done(&k, base, vec![main, nt.thread], vec![p]);
}

// SPEC §7.5: APCs "run on the target thread's own host thread, inside its next alertable
// wait" — here a sleep_ex blocked on another host thread, queued to from this one.
#[test]
fn apcs_run_on_the_waiting_host_thread() {
    let k = manual_kernel();
    let base = k.object_count();
    let p = root(&k);
    let nt = new_thread(&p);
    let ran_on: Arc<Mutex<Option<ThreadId>>> = Arc::default();

    let (waiter_id, status) = thread::scope(|s| {
        let t = nt.thread.clone();
        let w = s.spawn(move || (thread::current().id(), t.sleep_ex(Some(ms(1000)), true)));
        await_deadline(&k, Some(ms(1000)));
        let r = ran_on.clone();
        p.queue_user_apc(nt.handle, move || *r.lock().unwrap() = Some(thread::current().id())).unwrap();
        w.join().unwrap()
    });
    assert_eq!(status, Ok(WaitStatus::IoCompletion), "the APC ended the sleep before its time");
    assert_eq!(*ran_on.lock().unwrap(), Some(waiter_id), "on the waiter's host thread");
    assert_ne!(waiter_id, thread::current().id());
    assert_eq!(k.next_deadline(), None);
    assert_eq!(k.clock_now(), Duration::ZERO);

    done(&k, base, vec![nt.thread], vec![p]);
}

// SPEC §7.5: "Objects are checked first: an alertable wait whose object is already
// signalled when it starts takes it and returns Object(i), and the APCs stay queued."
#[test]
fn a_signalled_object_wins_over_queued_apcs() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let count = Count::default();
    let manual = p.create_event(None, true, true, None).unwrap().handle;
    let auto = p.create_event(None, false, true, None).unwrap().handle;
    let unset = p.create_event(None, true, false, None).unwrap().handle;
    let sem = p.create_semaphore(None, 1, 1, None).unwrap().handle;
    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();

    assert_eq!(main.wait_for_single_object_ex(manual, ZERO, true), Ok(WaitStatus::Object(0)));
    assert_eq!(main.wait_for_single_object_ex(manual, LONG, true), Ok(WaitStatus::Object(0)));
    assert_eq!(
        main.wait_for_multiple_objects_ex(&[unset, auto], false, LONG, true),
        Ok(WaitStatus::Object(1))
    );
    assert_eq!(event_info(&p, auto), (false, false), "the wait took the auto-reset event");
    assert_eq!(
        main.wait_for_multiple_objects_ex(&[manual, sem], true, LONG, true),
        Ok(WaitStatus::Object(0))
    );
    assert_eq!(sem_info(&p, sem), (0, 1));
    assert_eq!(count.get(), 0, "the APC is still queued");

    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(count.get(), 1);

    done(&k, base, vec![main], vec![p]);
}

// SPEC §7.5 ("Objects are checked first") with §7.3 (signal_object_and_wait "signals ...
// and waits as one step"): the wait starts with its object already signalled by the
// step's own signal, so it takes it and returns Object(0), and the APC stays queued (NT
// checks the object before pending APCs, KeWaitForSingleObject). Also for a semaphore and
// a mutex as the signal.
#[test]
fn signal_and_wait_alertable_finds_its_own_signal_first() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let count = Count::default();
    let auto = p.create_event(None, false, false, None).unwrap().handle;
    let sem = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let m = p.create_mutex(None, false, None).unwrap().handle;
    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();

    assert_eq!(main.signal_object_and_wait_ex(auto, auto, LONG, true), Ok(WaitStatus::Object(0)));
    assert_eq!(event_info(&p, auto), (false, false), "the wait took its own set");
    assert_eq!(main.signal_object_and_wait_ex(sem, sem, LONG, true), Ok(WaitStatus::Object(0)));
    assert_eq!(sem_info(&p, sem), (0, 1));
    assert_eq!(main.wait_for_single_object(m, ZERO), Ok(WaitStatus::Object(0)));
    assert_eq!(main.signal_object_and_wait_ex(m, m, LONG, true), Ok(WaitStatus::Object(0)));
    assert_eq!(mutex_info(&p, m), (Some(main.id()), 1, false));
    main.release_mutex(m).unwrap();
    assert_eq!(count.get(), 0, "the APC is still queued");
    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(count.get(), 1);

    done(&k, base, vec![main], vec![p]);
}

// SPEC §7.5: "A queued APC never runs in a non-alertable wait": the non-alertable waits
// time out or are satisfied as usual, with the APC still queued; the next alertable wait
// runs it.
#[test]
fn apcs_never_run_in_a_non_alertable_wait() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let count = Count::default();
    let unset = p.create_event(None, false, false, None).unwrap().handle;
    let set = p.create_event(None, true, true, None).unwrap().handle;
    let sem = p.create_semaphore(None, 0, 1, None).unwrap().handle;

    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(main.wait_for_single_object(unset, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(main.wait_for_single_object_ex(unset, ZERO, false), Ok(WaitStatus::Timeout));
    assert_eq!(main.wait_for_multiple_objects(&[unset], false, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(main.wait_for_multiple_objects_ex(&[unset, sem], true, ZERO, false), Ok(WaitStatus::Timeout));
    assert_eq!(main.wait_for_single_object_ex(set, ZERO, false), Ok(WaitStatus::Object(0)));
    assert_eq!(main.wait_for_single_object_ex(unset, Some(ms(20)), false), Ok(WaitStatus::Timeout));
    assert_eq!(main.sleep_ex(ZERO, false), Ok(WaitStatus::Timeout));
    assert_eq!(main.sleep_ex(Some(ms(20)), false), Ok(WaitStatus::Timeout));
    assert_eq!(main.signal_object_and_wait(sem, unset, ZERO), Ok(WaitStatus::Timeout));
    assert_eq!(main.signal_object_and_wait_ex(unset, set, ZERO, false), Ok(WaitStatus::Object(0)));
    assert_eq!(count.get(), 0, "no non-alertable wait ran it");
    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(count.get(), 1);

    done(&k, base, vec![main], vec![p]);
}

// SPEC §7.5: "A queued APC never runs in a non-alertable wait" — one already blocked on
// another host thread when the APC is queued: on the manual clock it still times out at
// its deadline, not before, and the APC runs in the thread's next alertable wait.
#[test]
fn a_blocked_non_alertable_wait_ignores_apcs() {
    let k = manual_kernel();
    let base = k.object_count();
    let p = root(&k);
    let count = Count::default();
    let unset = p.create_event(None, false, false, None).unwrap().handle;
    let nt = new_thread(&p);
    thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        let t = nt.thread.clone();
        s.spawn(move || {
            let _ = tx.send(t.wait_for_single_object_ex(unset, Some(ms(10)), false));
        });
        await_deadline(&k, Some(ms(10)));
        p.queue_user_apc(nt.handle, count.apc()).unwrap();
        k.advance_clock(ms(9)).unwrap();
        assert_eq!(k.next_deadline(), Some(ms(1)), "still waiting");
        k.advance_clock(ms(1)).unwrap();
        assert_eq!(reply(&rx), Ok(WaitStatus::Timeout));

        // A non-alertable sleep: the same.
        let (tx, rx) = mpsc::channel();
        let t = nt.thread.clone();
        s.spawn(move || {
            let _ = tx.send(t.sleep_ex(Some(ms(10)), false));
        });
        await_deadline(&k, Some(ms(10)));
        p.queue_user_apc(nt.handle, count.apc()).unwrap();
        k.advance_clock(ms(10)).unwrap();
        assert_eq!(reply(&rx), Ok(WaitStatus::Timeout));
    });
    assert_eq!(count.get(), 0);
    assert_eq!(nt.thread.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(count.get(), 2, "both ran in the alertable wait");

    done(&k, base, vec![nt.thread], vec![p]);
}

// SPEC §7.5: the APCs run "before that wait returns IoCompletion — even if an APC
// signalled the awaited object"; SPEC §7.3: the object is then not taken by the wait
// (it returned no Object), so it is still signalled for the next one.
#[test]
fn an_apc_that_signals_the_awaited_object() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let auto = p.create_event(None, false, false, None).unwrap().handle;
    let other = p.create_event(None, false, false, None).unwrap().handle;
    let m = p.create_mutex(None, false, None).unwrap().handle;

    let p2 = p.clone();
    p.queue_user_apc(Handle::CURRENT_THREAD, move || p2.set_event(auto).unwrap()).unwrap();
    assert_eq!(main.wait_for_single_object_ex(auto, LONG, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(event_info(&p, auto), (false, true), "the wait did not take the set");
    assert_eq!(main.wait_for_single_object_ex(auto, ZERO, true), Ok(WaitStatus::Object(0)));

    // A wait-any on two: the APC sets the second.
    let p2 = p.clone();
    p.queue_user_apc(Handle::CURRENT_THREAD, move || p2.set_event(other).unwrap()).unwrap();
    assert_eq!(
        main.wait_for_multiple_objects_ex(&[auto, other], false, LONG, true),
        Ok(WaitStatus::IoCompletion)
    );
    assert_eq!(main.wait_for_multiple_objects(&[auto, other], false, ZERO), Ok(WaitStatus::Object(1)));

    // A wait-all whose last object the APC signals: IoCompletion, nothing taken.
    let sem = p.create_semaphore(None, 1, 1, None).unwrap().handle;
    p.reset_event(other).unwrap();
    let p2 = p.clone();
    p.queue_user_apc(Handle::CURRENT_THREAD, move || p2.set_event(other).unwrap()).unwrap();
    assert_eq!(
        main.wait_for_multiple_objects_ex(&[sem, other], true, LONG, true),
        Ok(WaitStatus::IoCompletion)
    );
    assert_eq!(sem_info(&p, sem), (1, 1));
    assert_eq!(event_info(&p, other), (false, true));
    assert_eq!(main.wait_for_multiple_objects_ex(&[sem, other], true, ZERO, true), Ok(WaitStatus::Object(0)));

    // An APC that takes a mutex as the waiting thread: it owns it after the wait.
    let t = main.clone();
    let got: Arc<Mutex<Option<kobj::Result<WaitStatus>>>> = Arc::default();
    let out = got.clone();
    p.queue_user_apc(Handle::CURRENT_THREAD, move || {
        *out.lock().unwrap() = Some(t.wait_for_single_object(m, ZERO));
    })
    .unwrap();
    assert_eq!(main.sleep_ex(LONG, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(*got.lock().unwrap(), Some(Ok(WaitStatus::Object(0))));
    assert_eq!(mutex_info(&p, m), (Some(main.id()), 1, false));
    main.release_mutex(m).unwrap();

    done(&k, base, vec![main], vec![p]);
}

// SPEC §7.5 (signal_object_and_wait_ex, alertable): the signal happens, the wait finds its
// object unsignalled, runs the APCs and returns IoCompletion. SPEC §7.3: no waiter can
// slip between the signal and the wait.
#[test]
fn signal_and_wait_alertable() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let count = Count::default();
    let signal = p.create_event(None, true, false, None).unwrap().handle;
    let wait = p.create_event(None, true, false, None).unwrap().handle;

    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(main.signal_object_and_wait_ex(signal, wait, LONG, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(event_info(&p, signal), (true, true), "the signal happened");
    assert_eq!(count.get(), 1);
    // Nothing queued: an alertable zero wait just times out.
    p.reset_event(signal).unwrap();
    assert_eq!(main.signal_object_and_wait_ex(signal, wait, ZERO, true), Ok(WaitStatus::Timeout));
    assert_eq!(event_info(&p, signal), (true, true));
    // Bad handles are checked before anything happens, APCs included.
    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(code(main.signal_object_and_wait_ex(signal, BAD, LONG, true)), INVALID_HANDLE);
    assert_eq!(code(main.wait_for_multiple_objects_ex(&[], false, LONG, true)), INVALID_PARAMETER);
    assert_eq!(code(main.wait_for_single_object_ex(BAD, LONG, true)), INVALID_HANDLE);
    assert_eq!(count.get(), 1, "a failed wait runs no APC");
    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(count.get(), 2);

    done(&k, base, vec![main], vec![p]);
}

// SPEC §7.5: sleep_ex "returns Timeout when its time runs out"; with APCs queued and
// alertable it runs them and returns IoCompletion at once, even an INFINITE sleep
// (Microsoft SleepEx); a non-alertable one leaves them queued.
#[test]
fn sleep_ex_rules() {
    let k = manual_kernel();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let count = Count::default();

    assert_eq!(main.sleep_ex(ZERO, false), Ok(WaitStatus::Timeout));
    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::Timeout));
    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(main.sleep_ex(ZERO, false), Ok(WaitStatus::Timeout));
    assert_eq!(main.sleep_ex(None, true), Ok(WaitStatus::IoCompletion), "returns at once");
    assert_eq!(count.get(), 1);
    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(main.sleep_ex(Some(ms(10)), true), Ok(WaitStatus::IoCompletion), "no time needed");
    assert_eq!(count.get(), 2);
    assert_eq!(k.clock_now(), Duration::ZERO);

    // SPEC §7.2: calls as an exited thread are ACCESS_DENIED.
    let nt = new_thread(&p);
    nt.thread.exit(0).unwrap();
    assert_eq!(code(nt.thread.sleep_ex(ZERO, false)), ACCESS_DENIED);
    assert_eq!(code(nt.thread.sleep_ex(ZERO, true)), ACCESS_DENIED);

    done(&k, base, vec![main, nt.thread], vec![p]);
}

// Microsoft SleepEx: an INFINITE alertable sleep returns WAIT_IO_COMPLETION when an APC
// is queued to it. Blocked on another host thread (system clock: an INFINITE sleep shows
// no deadline, so the test gives it a moment of real time; the result is the same if the
// APC comes first). A watchdog exits the thread if the sleep never ends, so the test
// fails instead of hanging.
#[test]
fn an_infinite_alertable_sleep_is_ended_by_an_apc() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let nt = new_thread(&p);
    let count = Count::default();
    thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        let t = nt.thread.clone();
        s.spawn(move || {
            let _ = tx.send(t.sleep_ex(None, true));
        });
        thread::sleep(ms(50));
        p.queue_user_apc(nt.handle, count.apc()).unwrap();
        let status = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(r) => r,
            Err(_) => {
                nt.thread.exit(1).unwrap();
                reply(&rx)
            }
        };
        assert_eq!(status, Ok(WaitStatus::IoCompletion));
    });
    assert_eq!(count.get(), 1);
    done(&k, base, vec![nt.thread], vec![p]);
}

// SPEC §7.5: "An APC that is dropped unrun (its thread exits) is dropped, not run";
// "Queueing to an exited thread: GEN_FAILURE". APCs pending at `exit` and at `terminate`
// are dropped unrun, with everything they own (a Process value included: no reference
// outlives them, SPEC §3).
#[test]
fn pending_apcs_are_dropped_unrun_at_exit() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let nt = new_thread(&p);

    let mut flags = Vec::new();
    for _ in 0..3 {
        let (apc, ran, dropped) = tracked();
        p.queue_user_apc(nt.handle, apc).unwrap();
        flags.push((ran, dropped));
    }
    // One that holds its own process and thread.
    let (p2, t2) = (p.clone(), nt.thread.clone());
    let (apc, ran, dropped) = tracked();
    p.queue_user_apc(nt.handle, move || {
        let _ = (&p2, &t2);
        apc();
    })
    .unwrap();
    flags.push((ran, dropped));
    assert!(flags.iter().all(|(r, d)| !r.load(Ordering::SeqCst) && !d.load(Ordering::SeqCst)));

    nt.thread.exit(0).unwrap();
    for (i, (ran, dropped)) in flags.iter().enumerate() {
        assert!(!ran.load(Ordering::SeqCst), "APC {i} ran");
        assert!(dropped.load(Ordering::SeqCst), "APC {i} was not dropped at exit");
    }
    let (apc, ran, dropped) = tracked();
    assert_eq!(code(p.queue_user_apc(nt.handle, apc)), GEN_FAILURE);
    assert!(!ran.load(Ordering::SeqCst) && dropped.load(Ordering::SeqCst));

    // Terminate: every thread's pending APCs, the main thread's too.
    let q = root(&k);
    let qt = new_thread(&q);
    let mut flags = Vec::new();
    for h in [qt.handle, Handle::CURRENT_THREAD, qt.handle] {
        let (apc, ran, dropped) = tracked();
        let q2 = q.clone();
        q.queue_user_apc(h, move || {
            let _ = &q2;
            apc();
        })
        .unwrap();
        flags.push((ran, dropped));
    }
    q.terminate(0).unwrap();
    for (ran, dropped) in &flags {
        assert!(!ran.load(Ordering::SeqCst) && dropped.load(Ordering::SeqCst));
    }

    done(&k, base, vec![nt.thread, qt.thread], vec![p, q]);
}

// SPEC §7.2: a wait in progress when its thread exits returns ACCESS_DENIED having
// acquired nothing — an alertable one too; SPEC §7.5: APCs still queued to a thread
// blocked in a non-alertable wait are dropped unrun when it exits.
#[test]
fn exit_during_a_wait() {
    let k = manual_kernel();
    let base = k.object_count();
    let p = root(&k);
    let alertable = new_thread(&p);
    let plain = new_thread(&p);
    let e = p.create_event(None, false, false, None).unwrap().handle;
    let (apc, ran, dropped) = tracked();

    thread::scope(|s| {
        let t = alertable.thread.clone();
        let w = s.spawn(move || t.wait_for_single_object_ex(e, Some(ms(1000)), true));
        await_deadline(&k, Some(ms(1000)));
        alertable.thread.exit(3).unwrap();
        assert_eq!(code(w.join().unwrap()), ACCESS_DENIED);
        await_deadline(&k, None);

        let t = plain.thread.clone();
        let w = s.spawn(move || t.wait_for_single_object_ex(e, Some(ms(1000)), false));
        await_deadline(&k, Some(ms(1000)));
        p.queue_user_apc(plain.handle, apc).unwrap();
        plain.thread.exit(4).unwrap();
        assert_eq!(code(w.join().unwrap()), ACCESS_DENIED);
    });
    assert!(!ran.load(Ordering::SeqCst) && dropped.load(Ordering::SeqCst), "dropped unrun");
    p.set_event(e).unwrap();
    assert_eq!(event_info(&p, e), (false, true), "the ended waits took nothing");
    assert_eq!(k.next_deadline(), None);

    done(&k, base, vec![alertable.thread, plain.thread], vec![p]);
}

// SPEC §7.5: queue_user_apc needs THREAD_SET_CONTEXT (SPEC §7.1: the thread type maps
// GENERIC_WRITE to 0x20037, which holds it, and GENERIC_READ to 0x20048, which does not);
// a handle to another type, a closed handle and a bad value are INVALID_HANDLE; a refused
// APC is dropped unrun. Any process holding a handle with the right can queue.
#[test]
fn queue_user_apc_checks_the_handle() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let q = root(&k);
    let nt = new_thread(&p);
    let tid = nt.thread.id();
    let count = Count::default();

    let refused = |h: Handle, want: u32, what: &str| {
        let (apc, ran, dropped) = tracked();
        assert_eq!(code(p.queue_user_apc(h, apc)), want, "{what}");
        assert!(!ran.load(Ordering::SeqCst) && dropped.load(Ordering::SeqCst), "{what}: dropped unrun");
    };
    let sync_only = p.open_thread(Access::SYNCHRONIZE, false, tid).unwrap();
    refused(sync_only, ACCESS_DENIED, "SYNCHRONIZE only");
    let read = p.open_thread(Access::GENERIC_READ, false, tid).unwrap();
    refused(read, ACCESS_DENIED, "GENERIC_READ");
    let e = event(&p);
    refused(e, INVALID_HANDLE, "an event");
    refused(Handle::CURRENT_PROCESS, INVALID_HANDLE, "the process pseudo-handle");
    refused(BAD, INVALID_HANDLE, "a bad value");
    let closed = p.open_thread(Access::THREAD_SET_CONTEXT, false, tid).unwrap();
    p.close_handle(closed).unwrap();
    refused(closed, INVALID_HANDLE, "a closed handle");
    assert_eq!(nt.thread.sleep_ex(ZERO, true), Ok(WaitStatus::Timeout), "nothing was queued");

    let ctx = p.open_thread(Access::THREAD_SET_CONTEXT, false, tid).unwrap();
    p.queue_user_apc(ctx, count.apc()).unwrap();
    let write = p.open_thread(Access::GENERIC_WRITE, false, tid).unwrap();
    p.queue_user_apc(write, count.apc()).unwrap();
    // From another process, through its own handle.
    let remote = q.open_thread(Access::THREAD_SET_CONTEXT, false, tid).unwrap();
    q.queue_user_apc(remote, count.apc()).unwrap();
    // -2 through q is q's main thread, not nt.
    q.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(nt.thread.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(count.get(), 3);
    assert_eq!(q.main_thread().sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(count.get(), 4);

    done(&k, base, vec![nt.thread], vec![p, q]);
}

// Issue 11's loom model, as a stress test: APCs queued from several host threads while
// their target loops in short alertable waits each run exactly once ("it runs in that
// wait or the next, exactly once"), and each producer's APCs run in the order it queued
// them (first in first out per thread).
#[test]
fn apcs_queued_while_the_thread_waits_run_exactly_once() {
    const PRODUCERS: u32 = 3;
    const EACH: u32 = 2000;
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let nt = new_thread(&p);
    let log = Log::default();
    let ran = Count::default();

    thread::scope(|s| {
        let t = nt.thread.clone();
        let seen = ran.clone();
        let consumer = s.spawn(move || {
            let start = Instant::now();
            let mut completions = 0u32;
            while seen.get() < (PRODUCERS * EACH) as usize && start.elapsed() < Duration::from_secs(20) {
                match t.sleep_ex(Some(ms(1)), true) {
                    Ok(WaitStatus::IoCompletion) => completions += 1,
                    Ok(WaitStatus::Timeout) => {}
                    other => panic!("{other:?}"),
                }
            }
            completions
        });
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|i| {
                let (p, log, ran, h) = (p.clone(), log.clone(), ran.clone(), nt.handle);
                s.spawn(move || {
                    for n in 0..EACH {
                        let (apc, r) = (log.apc(i * 10_000 + n), ran.apc());
                        p.queue_user_apc(h, move || {
                            apc();
                            r();
                        })
                        .unwrap();
                        if n % 8 == 0 {
                            thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for pr in producers {
            pr.join().unwrap();
        }
        assert!(consumer.join().unwrap() >= 1);
    });
    assert_eq!(nt.thread.sleep_ex(ZERO, true), Ok(WaitStatus::Timeout), "none left over");
    let order = log.take();
    assert_eq!(order.len(), (PRODUCERS * EACH) as usize, "each ran exactly once");
    for i in 0..PRODUCERS {
        let mine: Vec<u32> = order.iter().copied().filter(|n| n / 10_000 == i).collect();
        assert_eq!(mine, (0..EACH).map(|n| i * 10_000 + n).collect::<Vec<_>>(), "producer {i}'s order");
    }

    done(&k, base, vec![nt.thread], vec![p]);
}

// The Win32 idiom `WaitForSingleObjectEx(GetCurrentThread(), INFINITE, TRUE)` to run a
// thread's APCs: SPEC §7.3 (-2 in a single-object wait is the calling thread, never
// signalled while it runs) and §7.5 (the alertable wait runs the APCs and returns
// IoCompletion). Without APCs it times out.
#[test]
fn an_alertable_wait_on_the_current_thread_runs_its_apcs() {
    let k = manual_kernel();
    let base = k.object_count();
    let p = root(&k);
    let main = p.main_thread();
    let count = Count::default();
    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(
        main.wait_for_single_object_ex(Handle::CURRENT_THREAD, None, true),
        Ok(WaitStatus::IoCompletion)
    );
    assert_eq!(count.get(), 2);
    assert_eq!(main.wait_for_single_object_ex(Handle::CURRENT_THREAD, ZERO, true), Ok(WaitStatus::Timeout));
    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(
        main.wait_for_single_object_ex(Handle::CURRENT_PROCESS, None, true),
        Ok(WaitStatus::IoCompletion)
    );
    assert_eq!(count.get(), 3);
    // In a multiple-object wait the pseudo-handles are INVALID_HANDLE, APCs or not.
    p.queue_user_apc(Handle::CURRENT_THREAD, count.apc()).unwrap();
    assert_eq!(
        code(main.wait_for_multiple_objects_ex(&[Handle::CURRENT_THREAD], false, None, true)),
        INVALID_HANDLE
    );
    assert_eq!(count.get(), 3);
    assert_eq!(main.sleep_ex(ZERO, true), Ok(WaitStatus::IoCompletion));
    assert_eq!(count.get(), 4);

    done(&k, base, vec![main], vec![p]);
}

// SPEC §7.5 ("Queueing to an exited thread: GEN_FAILURE"; "An APC that is dropped unrun
// (its thread exits) is dropped, not run") with the queueing racing the exit: every APC
// is either refused with GEN_FAILURE or accepted, and every one of them — refused,
// pending at the exit, or queued after it — is dropped exactly once and never run.
#[test]
fn apcs_queued_while_the_thread_exits_are_all_dropped() {
    use std::sync::atomic::AtomicU32;
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let drops = Arc::new(AtomicUsize::new(0));
    let runs = Arc::new(AtomicUsize::new(0));
    let (mut accepted, mut refused) = (0u32, 0u32);
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    for _ in 0..100 {
        let nt = new_thread(&p);
        let gate = std::sync::Barrier::new(2);
        let ok = AtomicU32::new(0);
        let failed = AtomicU32::new(0);
        thread::scope(|s| {
            s.spawn(|| {
                gate.wait();
                for _ in 0..50 {
                    let (c, r) = (Counted(drops.clone()), runs.clone());
                    match p.queue_user_apc(nt.handle, move || {
                        let _ = &c;
                        r.fetch_add(1, Ordering::SeqCst);
                    }) {
                        Ok(()) => ok.fetch_add(1, Ordering::SeqCst),
                        Err(e) => {
                            assert_eq!(e.code(), GEN_FAILURE);
                            failed.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                }
            });
            gate.wait();
            thread::yield_now();
            nt.thread.exit(0).unwrap();
        });
        accepted += ok.load(Ordering::SeqCst);
        refused += failed.load(Ordering::SeqCst);
        p.close_handle(nt.handle).unwrap();
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0, "no APC ran");
    assert_eq!(drops.load(Ordering::SeqCst), 5_000, "every APC was dropped once");
    assert_eq!(accepted + refused, 5_000);
    println!("{accepted} accepted before the exit, {refused} refused after it");

    done(&k, base, vec![], vec![p]);
}
