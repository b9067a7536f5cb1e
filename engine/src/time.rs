//! Time (SPEC §7.5): the kernel's clock, the deadlines of armed waitable timers, and —
//! under [`Clock::Manual`] — the deadlines of timed waits.
//!
//! This is the object layer: it knows object headers and wait blocks, nothing above.
//!
//! One [`Time`] per kernel holds every deadline in one ordered map (a `BTreeMap` keyed by
//! due instant, then class — timers before waits, so a timer due at a wait's deadline
//! fires first — then arming order). Timers fire *under* the map's lock, so an expiry
//! and a `cancel` or a re-`set` of the same timer are one-or-the-other: a cancel that
//! returns has either removed the deadline or come after its expiry, never in between.
//! Lock order: the map's lock, then the wait-all lock, then object locks (firing a timer
//! is a `SetEvent`); nothing that holds an object lock takes the map's lock.
//!
//! Who drives the map depends on the clock:
//! - [`Clock::System`]: one host thread per kernel, started with the first armed timer,
//!   sleeping on a condition variable until the earliest deadline (or until an earlier
//!   one is armed), and told to stop when the kernel is dropped. Timed waits park with a
//!   timeout on the same monotonic clock (`Instant`) and time out by themselves.
//! - [`Clock::Manual`]: no thread; time moves only in `advance_clock`, which fires the
//!   timers and times out the waits due by the new time, in due order, on the calling
//!   thread. A timed wait puts its deadline in the map (it cannot time itself out).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smallvec::SmallVec;

use crate::error::{Error, Result};
use crate::object::{ObjRef, ObjectHeader};
use crate::sync::{lock, Arc, AtomicU64, Mutex, Ordering};
use crate::wait::{self, WaitBlock, Waitable};

/// Where a kernel's time comes from ([`KernelBuilder::clock`](crate::KernelBuilder::clock)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Clock {
    /// The host's clocks: monotonic time for timeouts and relative due times, wall time
    /// for absolute ones.
    #[default]
    System,
    /// A clock that moves only when the embedder calls
    /// [`Kernel::advance_clock`](crate::Kernel::advance_clock). Its wall time starts at
    /// `UNIX_EPOCH`. With it, one thread's sequence of calls gives the same results on
    /// every run (replay, deterministic tests).
    Manual,
}

/// When a waitable timer is due (`SetWaitableTimer`'s `lpDueTime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Due {
    /// This long from now, on the monotonic clock (a negative `lpDueTime` in Win32).
    After(Duration),
    /// At this wall-clock time (a positive `lpDueTime`); a time already past fires at once.
    At(SystemTime),
}

/// `query_waitable_timer`'s answer (NtQueryTimer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerInfo {
    /// Manual-reset (notification) timer, or synchronization (auto-reset).
    pub manual_reset: bool,
    /// Signalled now.
    pub signaled: bool,
    /// Time until it next fires; `None` if it is not armed.
    pub remaining: Option<Duration>,
}

/// A deadline's place in the map. Timers (`class` 0) sort before waits (1) at the same
/// instant; `seq` keeps arming order and makes every key unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    at: u64,
    class: u8,
    seq: u64,
}

const TIMER: u8 = 0;
const WAIT: u8 = 1;

/// What is due at a key.
enum Deadline {
    /// An armed timer.
    Timer { timer: Arc<TimerShared>, period: u64 },
    /// A timed wait under `Clock::Manual`: decided `TIMEOUT` when due.
    Wait(Arc<WaitBlock>),
}

impl Deadline {
    /// A timer whose object has been destroyed (its last reference is gone, as NT
    /// deletes a timer object and cancels it then): nothing to fire.
    fn is_dead(&self) -> bool {
        let Deadline::Timer { timer, .. } = self else { return false };
        let target = lock(&timer.target);
        // SAFETY: a non-null target is a live object block while its lock is held (see
        // `run_due`).
        target.0.is_null() || unsafe { &*target.0 }.is_destroyed()
    }
}

#[derive(Default)]
struct Deadlines {
    map: BTreeMap<Key, Deadline>,
    seq: u64,
    /// The kernel is gone: the driver thread stops.
    shutdown: bool,
    /// The driver thread has been started (`Clock::System`).
    #[cfg(not(loom))]
    driver: bool,
}

impl Deadlines {
    fn insert(&mut self, at: u64, class: u8, d: Deadline) -> Key {
        self.seq += 1;
        let key = Key { at, class, seq: self.seq };
        self.map.insert(key, d);
        key
    }

    fn first(&self) -> Option<Key> {
        self.map.keys().next().copied()
    }

    /// The earliest deadline, after dropping the dead timers ahead of it.
    fn first_live(&mut self) -> Option<Key> {
        while let Some((&key, d)) = self.map.iter().next() {
            if !d.is_dead() {
                return Some(key);
            }
            self.map.remove(&key);
        }
        None
    }
}

/// What a driver needs to keep the kernel alive while it fires timers (dropping an
/// object reference touches the kernel's object count).
#[cfg(not(loom))]
type KeepAlive = Box<dyn Fn() -> Option<Box<dyn std::any::Any>> + Send + Sync>;

/// One kernel's clock and deadlines.
pub(crate) struct Time {
    clock: Clock,
    /// `Clock::System`: the monotonic origin of this kernel's time.
    #[cfg(not(loom))]
    start: std::time::Instant,
    /// `Clock::Manual`: nanoseconds advanced so far. Written under `state`'s lock.
    manual_now: AtomicU64,
    state: Mutex<Deadlines>,
    /// Serializes `advance_clock` calls (each moves time in one sweep).
    advancing: Mutex<()>,
    /// Wakes the driver thread: an earlier deadline, or shutdown.
    #[cfg(not(loom))]
    driver: std::sync::Condvar,
    /// Set by the kernel once it exists: upgrades a weak reference to it.
    #[cfg(not(loom))]
    keep_alive: std::sync::OnceLock<KeepAlive>,
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Time").field("clock", &self.clock).field("now", &self.now()).finish()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Time {
    pub(crate) fn new(clock: Clock) -> Time {
        Time {
            clock,
            #[cfg(not(loom))]
            start: std::time::Instant::now(),
            manual_now: AtomicU64::new(0),
            state: Mutex::new(Deadlines::default()),
            advancing: Mutex::new(()),
            #[cfg(not(loom))]
            driver: std::sync::Condvar::new(),
            #[cfg(not(loom))]
            keep_alive: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn clock(&self) -> Clock {
        self.clock
    }

    /// Lets the driver thread hold the kernel while it fires timers.
    #[cfg(not(loom))]
    pub(crate) fn set_keep_alive(&self, f: KeepAlive) {
        let _ = self.keep_alive.set(f);
    }

    /// Nanoseconds since this clock started.
    fn now_ns(&self) -> u64 {
        match self.clock {
            // Acquire: pairs with the Release stores in `run_due` (time read after an
            // advance sees everything fired before it).
            Clock::Manual => self.manual_now.load(Ordering::Acquire),
            #[cfg(not(loom))]
            Clock::System => nanos(self.start.elapsed()),
            // loom has no clock: system time stands still in a model.
            #[cfg(loom)]
            Clock::System => 0,
        }
    }

    /// Time since this clock started.
    pub(crate) fn now(&self) -> Duration {
        Duration::from_nanos(self.now_ns())
    }

    /// The clock's wall time: the host's on the system clock; `UNIX_EPOCH` plus the time
    /// advanced on the manual clock.
    pub(crate) fn wall(&self) -> SystemTime {
        match self.clock {
            Clock::Manual => UNIX_EPOCH + self.now(),
            Clock::System => SystemTime::now(),
        }
    }

    /// The instant `due` names, on this clock's monotonic scale.
    fn instant_of(&self, due: Due) -> u64 {
        let now = self.now_ns();
        match due {
            Due::After(d) => now.saturating_add(nanos(d)),
            // A time already past keeps its place (a periodic timer keeps its phase:
            // due + k·period); `set` fires it at once.
            Due::At(t) => match self.clock {
                Clock::Manual => t.duration_since(UNIX_EPOCH).map_or(0, nanos),
                Clock::System => match t.duration_since(SystemTime::now()) {
                    Ok(ahead) => now.saturating_add(nanos(ahead)),
                    Err(past) => now.saturating_sub(nanos(past.duration())),
                },
            },
        }
    }

    /// How long until the earliest deadline (ZERO if one is due); `None` if nothing is
    /// armed or waiting.
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        let first = lock(&self.state).first_live()?;
        Some(Duration::from_nanos(first.at.saturating_sub(self.now_ns())))
    }

    /// `advance_clock`: moves a manual clock forward by `by`, firing every timer and
    /// timing out every wait due by then, in due order. INVALID_PARAMETER on the system
    /// clock.
    pub(crate) fn advance(&self, by: Duration) -> Result<()> {
        if self.clock != Clock::Manual {
            return Err(Error::InvalidParameter);
        }
        let _one = lock(&self.advancing);
        let target = self.now_ns().saturating_add(nanos(by));
        self.run_due(target);
        Ok(())
    }

    /// Fires everything due by `upto`, in due order. On the manual clock, time steps to
    /// each deadline as it is fired and ends at `upto`.
    fn run_due(&self, upto: u64) {
        let mut fired: SmallVec<[(ObjRef, wait::Wakeups); 4]> = SmallVec::new();
        {
            let mut s = lock(&self.state);
            while let Some(key) = s.first().filter(|k| k.at <= upto) {
                if self.clock == Clock::Manual && key.at > self.manual_now.load(Ordering::Relaxed) {
                    // Release: pairs with `now_ns`.
                    self.manual_now.store(key.at, Ordering::Release);
                }
                let Some(due) = s.map.remove(&key) else { break };
                match due {
                    Deadline::Wait(block) => wait::time_out(&block),
                    Deadline::Timer { timer, period } => {
                        let target = lock(&timer.target);
                        if target.0.is_null() {
                            // Its object has been destroyed: nobody to signal, no re-arming.
                            continue;
                        }
                        // SAFETY: a non-null target is the timer's live object block: the
                        // payload nulls it (under this lock) before the block can be
                        // freed, and this lock is held until `try_ref` is done.
                        let header = unsafe { &*target.0 };
                        // A count of zero: being destroyed; nobody to signal.
                        let Some(r) = header.try_ref() else { continue };
                        drop(target);
                        let mut armed = lock(&timer.armed);
                        *armed = None;
                        if period > 0 {
                            let now = self.now_ns().max(key.at);
                            // Drift-free re-arming at due + period, due + 2·period…; the
                            // expiries already past (a due time set in the past, a late
                            // driver) are not fired one by one: the next is the first
                            // still ahead. (An advancing manual clock stands at this
                            // expiry, so each of its periods fires.)
                            let mut next = key.at.saturating_add(period);
                            if next <= now {
                                let behind = (now - key.at) / period;
                                next = key.at.saturating_add(period.saturating_mul(behind + 1));
                            }
                            let again = Deadline::Timer { timer: Arc::clone(&timer), period };
                            *armed = Some(s.insert(next, TIMER, again));
                        }
                        drop(armed);
                        let wakeups = wait::set_event_quiet(&r, &timer.w);
                        if let Some(routine) = lock(&timer.routine).clone() {
                            // Queued at the expiry, as Windows queues it: it runs when that
                            // thread next waits alertably. A thread that has exited gets
                            // nothing (GEN_FAILURE is nobody's to report).
                            let (run, at) = (routine.run, self.wall());
                            let _ = wait::queue_apc(&routine.thread, Box::new(move || run(at)));
                        }
                        fired.push((r, wakeups));
                    }
                }
            }
            if self.clock == Clock::Manual && upto > self.manual_now.load(Ordering::Relaxed) {
                self.manual_now.store(upto, Ordering::Release);
            }
        }
        // After the map's lock (a last reference destroys the object, and block drops
        // may run an embedder's code). Each reference goes before its waiters wake: one
        // that counts objects must not find it.
        for (r, wakeups) in fired {
            drop(r);
            wakeups.wake();
        }
    }

    /// Registers a manual-clock deadline for a timed wait: the block is decided TIMEOUT
    /// when the clock reaches `after` from now (at once if `after` is zero).
    pub(crate) fn add_wait(&self, after: Duration, block: &Arc<WaitBlock>) -> Key {
        let mut s = lock(&self.state);
        let at = self.now_ns().saturating_add(nanos(after));
        s.insert(at, WAIT, Deadline::Wait(Arc::clone(block)))
    }

    /// Removes a wait's deadline (the wait ended some other way, or it fired: then this
    /// finds nothing).
    pub(crate) fn remove_wait(&self, key: Key) {
        let gone = lock(&self.state).map.remove(&key);
        drop(gone);
    }

    /// Stops the driver thread (the kernel is being dropped).
    pub(crate) fn shutdown(&self) {
        let gone = {
            let mut s = lock(&self.state);
            s.shutdown = true;
            std::mem::take(&mut s.map)
        };
        #[cfg(not(loom))]
        self.driver.notify_all();
        drop(gone);
    }
}

/// A waitable timer's state, shared between its object's payload and the deadline map:
/// its signal state (an event's: a notification timer is manual-reset, a synchronization
/// timer auto-reset), its arming, and the object to signal.
pub(crate) struct TimerShared {
    pub(crate) w: Waitable,
    /// The deadline it is armed at, if any. Read and written under the map's lock.
    armed: Mutex<Option<Key>>,
    /// The completion routine of the last `set`, if it gave one: queued as an APC to the
    /// setting thread at each expiry. Read and written under the map's lock.
    routine: Mutex<Option<Routine>>,
    /// The timer's object; null once the object is being destroyed. A leaf lock: the
    /// payload's drop takes it (from wherever the block is dropped) and nothing else.
    target: Mutex<Target>,
}

/// A timer's completion routine and the thread it is queued to (`SetWaitableTimer`'s
/// `pfnCompletionRoutine`: an APC to the thread that set the timer).
#[derive(Clone)]
pub(crate) struct Routine {
    pub(crate) thread: Arc<wait::Owner>,
    /// Called with the wall time of the expiry (Win32 passes it as a FILETIME).
    pub(crate) run: std::sync::Arc<dyn Fn(SystemTime) + Send + Sync>,
}

/// The object a timer signals (see `TimerShared::target`).
struct Target(*const ObjectHeader);

// SAFETY: the pointer is only dereferenced under the `target` lock while non-null, when
// it names a live object block (see `run_due`); headers are `Sync`.
unsafe impl Send for Target {}

/// The part of a timer object's payload that arms it (`objects::WaitableTimer`).
pub(crate) struct TimerCore {
    shared: Arc<TimerShared>,
}

impl fmt::Debug for TimerCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerCore").field("w", &self.shared.w).finish_non_exhaustive()
    }
}

impl TimerCore {
    pub(crate) fn new(w: Waitable) -> TimerCore {
        TimerCore {
            shared: Arc::new(TimerShared {
                w,
                armed: Mutex::new(None),
                routine: Mutex::new(None),
                target: Mutex::new(Target(std::ptr::null())),
            }),
        }
    }

    /// The timer's signal state.
    pub(crate) fn waitable(&self) -> &Waitable {
        &self.shared.w
    }

    /// `SetWaitableTimer`: resets the timer and arms it on `time` for `due`, then every
    /// `period` (zero: once). A due time already reached fires before this returns.
    /// `header` is the timer's own object.
    pub(crate) fn set(
        &self,
        time: &Arc<Time>,
        header: &ObjectHeader,
        due: Due,
        period: Duration,
        routine: Option<Routine>,
    ) -> Result<()> {
        let at = time.instant_of(due);
        #[cfg(kobj_mutant = "reset_unlocked")] // mutant: reset before the map's lock is taken
        wait::reset_event(&self.shared.w);
        {
            let mut s = lock(&time.state);
            #[cfg(not(loom))]
            if time.clock == Clock::System && !s.driver {
                start_driver(time)?;
                s.driver = true;
            }
            lock(&self.shared.target).0 = header;
            // Reset and armed under the map's lock: an expiry cannot come in between.
            #[cfg(not(kobj_mutant = "reset_unlocked"))]
            wait::reset_event(&self.shared.w);
            let mut armed = lock(&self.shared.armed);
            if let Some(old) = armed.take() {
                s.map.remove(&old);
            }
            *lock(&self.shared.routine) = routine;
            let d = Deadline::Timer { timer: Arc::clone(&self.shared), period: nanos(period) };
            let key = s.insert(at, TIMER, d);
            *armed = Some(key);
            #[cfg(not(loom))]
            if s.first() == Some(key) {
                // The earliest deadline changed: the driver sleeps until it instead.
                time.driver.notify_all();
            }
        }
        let now = time.now_ns();
        if at <= now {
            time.run_due(now);
        }
        Ok(())
    }

    /// `CancelWaitableTimer`: disarms it; its signal state stays as it is.
    pub(crate) fn cancel(&self, time: &Time) {
        let mut s = lock(&time.state);
        let old = lock(&self.shared.armed).take();
        let gone = old.and_then(|k| s.map.remove(&k));
        drop(s);
        drop(gone);
    }

    /// Time left until it fires; `None` if it is not armed.
    pub(crate) fn remaining(&self, time: &Time) -> Option<Duration> {
        let _s = lock(&time.state);
        let at = (*lock(&self.shared.armed))?.at;
        Some(Duration::from_nanos(at.saturating_sub(time.now_ns())))
    }
}

impl Drop for TimerCore {
    fn drop(&mut self) {
        // The object is being destroyed: the map's entry, if any, is dropped when it
        // comes due (or sooner, by `first_live`) instead of firing. Only leaf locks: a
        // block may be dropped wherever an object reference is let go.
        lock(&self.shared.target).0 = std::ptr::null();
        // The completion routine goes with the timer (whatever it holds is released
        // now, after the lock), not when a dead entry is next met.
        let routine = lock(&self.shared.routine).take();
        drop(routine);
    }
}

/// Starts the `Clock::System` driver: one host thread per kernel that sleeps until the
/// earliest deadline and fires what is due. It holds `Time` only, and the kernel just
/// while it fires (through `keep_alive`), so it never keeps a dropped kernel alive.
#[cfg(not(loom))]
fn start_driver(time: &Arc<Time>) -> Result<()> {
    let time = Arc::clone(time);
    std::thread::Builder::new()
        .name("kobj-timers".into())
        .spawn(move || drive(&time))
        .map(drop)
        .map_err(|_| Error::NoSystemResources)
}

#[cfg(not(loom))]
fn drive(time: &Time) {
    let mut s = lock(&time.state);
    loop {
        if s.shutdown {
            return;
        }
        let now = time.now_ns();
        match s.first() {
            Some(k) if k.at <= now => {
                drop(s);
                let Some(kernel) = time.keep_alive.get().and_then(|f| f()) else { return };
                time.run_due(now);
                // Possibly the kernel's last reference: its drop calls `shutdown`, which
                // takes the lock this thread no longer holds.
                drop(kernel);
                s = lock(&time.state);
            }
            Some(k) => {
                let wait = Duration::from_nanos(k.at - now);
                s = match time.driver.wait_timeout(s, wait) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
            }
            None => {
                s = match time.driver.wait(s) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
            }
        }
    }
}
