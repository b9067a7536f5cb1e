//! Model 11 — time, APCs and async waits (SPEC §7.5; `engine/src/wait.rs`'s
//! `AsyncWait`, `queue_apc`, and `engine/src/time.rs`).
//!
//! - A `WaitFuture` dropped while a signal grants it the object: whichever comes first,
//!   the grant is passed on (to the next waiter, or back to the object), never lost and
//!   never doubled — for a semaphore, a mutex, an auto-reset event and a pulse.
//! - An APC queued while its thread enters an alertable wait runs in that wait or the
//!   next, exactly once.
//! - A timer's expiry (`advance_clock` on a manual clock) racing `cancel` or a re-`set`:
//!   each is one-or-the-other, never a stale expiry signalling a timer set after it.
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use kobj::{Due, Handle, Process, WaitFuture, WaitStatus};
use kobj_loom_tests::{close_and_finish, model, setup, setup_manual_clock, Gate};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;

/// Any finite timeout: under loom it expires after the wait's queue-then-check.
const SOON: Option<Duration> = Some(Duration::from_millis(1));
const FOREVER: Option<Duration> = None;

/// A waker that does nothing: the models poll by hand.
struct Nothing;
impl Wake for Nothing {
    fn wake(self: StdArc<Self>) {}
}

fn poll(f: &mut WaitFuture) -> Poll<kobj::Result<WaitStatus>> {
    let waker = Waker::from(StdArc::new(Nothing));
    Pin::new(f).poll(&mut Context::from_waker(&waker))
}

/// Two futures queued on `h` in order (`first` by a new thread, `second` by the main
/// thread); `first` is dropped on another host thread while this one runs `signal`.
/// Returns what `second` got.
fn drop_first_while(
    gate: &Gate,
    p: &Process,
    h: Handle,
    signal: impl FnOnce(),
) -> Poll<kobj::Result<WaitStatus>> {
    let t1 = p.create_thread(None).unwrap();
    let mut first = t1.thread.wait_async(&[h], false);
    let mut second = p.main_thread().wait_async(&[h], false);
    assert!(poll(&mut first).is_pending());
    assert!(poll(&mut second).is_pending());
    let dropper = gate.spawn(move || drop(first));
    signal();
    gate.wait();
    dropper.take();
    let got = poll(&mut second);
    drop(second);
    p.close_handle(t1.handle).unwrap();
    drop(t1);
    got
}

#[test]
fn dropped_future_passes_on_a_semaphore() {
    model(|| {
        let (kernel, _, p) = setup();
        let s = p.create_semaphore(None, 0, 4, None).unwrap().handle;
        let gate = Gate::new();
        let got = drop_first_while(&gate, &p, s, || {
            p.release_semaphore(s, 1).unwrap();
        });
        assert_eq!(got, Poll::Ready(Ok(WaitStatus::Object(0))), "the unit reaches the next waiter");
        assert_eq!(p.query_semaphore(s).unwrap().count, 0, "and is not also back in the count");
        close_and_finish(gate, kernel, p, &[s]);
    });
}

#[test]
fn dropped_future_passes_on_a_mutex() {
    model(|| {
        let (kernel, _, p) = setup();
        let owner = p.create_thread(None).unwrap();
        let m = owner.thread.create_mutex(None, true, None).unwrap().handle;
        let gate = Gate::new();
        let got = drop_first_while(&gate, &p, m, || owner.thread.release_mutex(m).unwrap());
        assert_eq!(got, Poll::Ready(Ok(WaitStatus::Object(0))));
        let info = p.query_mutex(m).unwrap();
        assert_eq!((info.owner, info.recursion, info.abandoned), (Some(p.main_thread().id()), 1, false));
        p.main_thread().release_mutex(m).unwrap();
        let owner_handle = owner.handle;
        drop(owner);
        close_and_finish(gate, kernel, p, &[m, owner_handle]);
    });
}

/// An auto-reset event set (`pulse` false) or pulsed while the first of two futures is
/// dropped: the second gets it either way and the event ends reset. Set before the drop,
/// the dropped future sets it again and it goes to the second; pulsed before the drop,
/// the grant goes to the next waiter queued then (the second future); dropped first, the
/// signal finds the second future waiting.
fn event_passed_on(pulse: bool) {
    model(move || {
        let (kernel, _, p) = setup();
        let e = p.create_event(None, false, false, None).unwrap().handle;
        let gate = Gate::new();
        let signal = || if pulse { p.pulse_event(e) } else { p.set_event(e) }.unwrap();
        let got = drop_first_while(&gate, &p, e, signal);
        assert_eq!(got, Poll::Ready(Ok(WaitStatus::Object(0))));
        assert!(!p.query_event(e).unwrap().signaled, "taken once, and a pulse never leaves it set");
        close_and_finish(gate, kernel, p, &[e]);
    });
}

#[test]
fn dropped_future_passes_on_an_auto_reset_event() {
    event_passed_on(false);
}

#[test]
fn dropped_future_passes_on_a_pulse() {
    event_passed_on(true);
}

/// An APC queued while its thread enters an alertable sleep runs in that sleep or the
/// next one, exactly once.
#[test]
fn apc_vs_alertable_wait() {
    model(|| {
        let (kernel, _, p) = setup();
        let gate = Gate::new();
        let t1 = p.create_thread(None).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let sleeper = {
            let t = t1.thread.clone();
            let ran = ran.clone();
            gate.spawn(move || {
                let first = t.sleep_ex(SOON, true).unwrap();
                let seen_after_first = ran.load(Ordering::SeqCst);
                let second = match first {
                    WaitStatus::IoCompletion => None,
                    // Not yet queued when the first sleep ended: it comes in the second.
                    _ => Some(t.sleep_ex(FOREVER, true).unwrap()),
                };
                (first, seen_after_first, second)
            })
        };
        let counter = ran.clone();
        p.queue_user_apc(t1.handle, move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        gate.wait();
        let (first, seen_after_first, second) = sleeper.take();
        match first {
            WaitStatus::IoCompletion => assert_eq!(seen_after_first, 1, "ran in the first sleep"),
            WaitStatus::Timeout => {
                assert_eq!(seen_after_first, 0, "never outside an alertable wait");
                assert_eq!(second, Some(WaitStatus::IoCompletion));
            }
            other => panic!("first sleep: {other:?}"),
        }
        assert_eq!(ran.load(Ordering::SeqCst), 1, "exactly once");
        let t1_handle = t1.handle;
        drop(t1);
        close_and_finish(gate, kernel, p, &[t1_handle]);
    });
}

/// A manual-clock timer due at 10 ms, the clock advanced by 10 ms on another host thread
/// while this one runs `second` on the timer; what the timer looks like after both.
fn timer_race(second: impl Fn(&Process, Handle)) -> kobj::TimerInfo {
    let (kernel, p) = setup_manual_clock();
    let gate = Gate::new();
    let t = p.create_waitable_timer(None, true, None).unwrap().handle;
    p.set_waitable_timer(t, Due::After(Duration::from_millis(10)), Duration::ZERO).unwrap();
    let advancer = {
        let k = kernel.clone();
        gate.spawn(move || k.advance_clock(Duration::from_millis(10)))
    };
    second(&p, t);
    gate.wait();
    advancer.take().unwrap();
    let info = p.query_waitable_timer(t).unwrap();
    if info.remaining.is_none() {
        assert_eq!(kernel.next_deadline(), None, "a disarmed timer leaves no deadline");
    }
    close_and_finish(gate, kernel, p, &[t]);
    info
}

/// A timer's expiry racing `cancel`: either it fired (signalled) or it was cancelled
/// first (unsignalled); either way it ends disarmed.
#[test]
fn timer_expiry_vs_cancel() {
    model(|| {
        let info = timer_race(|p, t| p.cancel_waitable_timer(t).unwrap());
        assert_eq!(info.remaining, None, "disarmed");
    });
}

/// A timer's expiry racing a re-`set` (which resets it and arms it again): a stale
/// expiry never signals the timer after the set.
#[test]
fn timer_expiry_vs_set() {
    model(|| {
        let info = timer_race(|p, t| {
            p.set_waitable_timer(t, Due::After(Duration::from_millis(20)), Duration::ZERO).unwrap();
        });
        assert!(!info.signaled, "the set reset it, and its new due time has not come");
        // Set first (due at 20 ms): 10 ms left. Expired first (set at 10 ms, due at 30):
        // 20 ms left.
        let left = info.remaining.expect("armed");
        assert!(left == Duration::from_millis(10) || left == Duration::from_millis(20), "{left:?}");
    });
}
