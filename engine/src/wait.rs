//! Waits (SPEC §7.3–7.4): the signal state of waitable objects, wait blocks, and the
//! arbitration between waiters and signals.
//!
//! This is the object layer: it knows object headers and their types, not processes or
//! threads. A guest thread is an [`Owner`] here (an id, the mutexes it owns, the waits
//! it is in); the thread layer above makes one per thread.
//!
//! The shape is Linux's `ntsync` driver's (ARCHITECTURE.md, "Waits"):
//! - each waitable object has its own lock over its state and one FIFO queue of
//!   waiters (wait-any and wait-all entries in arrival order, as NT's one wait list);
//! - each wait has a [`WaitBlock`] whose `status` word is the single arbitration point:
//!   whoever moves it out of `PENDING` by compare-and-swap (a signaller handing over an
//!   object, the waiter timing out, the thread's exit) decides the wait's outcome, and
//!   only a signaller that wins changes object state for it;
//! - a waiter queues itself on every object first and checks them second, so a signal
//!   that lands between the two is seen by the check ("queue then check": no lost
//!   wake-up);
//! - one wait-all lock per kernel (in the objects' `Domain`) is taken by wait-all
//!   waiters and by signals of objects that have wait-all waiters queued (`all_hint`),
//!   so that locking several objects at once has one order; wait-any waits and signals
//!   of other objects never touch it.

use std::collections::VecDeque;
use std::fmt;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use smallvec::SmallVec;

use crate::error::{Error, Result};
use crate::object::{ObjRef, ObjectHeader};
use crate::sync::{
    lock, Arc, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Mutex, MutexGuard, Ordering,
};
use crate::time::{Clock, Time};

/// The most handles one wait may name (`MAXIMUM_WAIT_OBJECTS`).
pub(crate) const MAXIMUM_WAIT_OBJECTS: usize = 64;

/// The object slots of a wait block: every handle of a wait. Four under loom, whose
/// models wait on at most three objects and track every atomic they create.
const BLOCK_SLOTS: usize = if cfg!(loom) { 4 } else { MAXIMUM_WAIT_OBJECTS };

/// How long a wait-any spins before it queues: rounds of pauses, each round followed by
/// a lock-free look at the objects (and a locked try if one looks ready); a few
/// microseconds in all.
#[cfg(not(loom))]
const SPIN_ROUNDS: usize = 40;
#[cfg(not(loom))]
const SPIN_PAUSES: usize = 8;

/// A wait block's status while nobody has decided the wait.
const PENDING: u32 = u32::MAX;
/// The wait's thread exited (or its process was terminated) while it waited.
const INTERRUPTED: u32 = u32::MAX - 1;
/// Added to an object's index when the object was an abandoned mutex.
const ABANDONED: u32 = 0x80;
/// WAIT_TIMEOUT.
const TIMEOUT: u32 = 0x102;
/// WAIT_IO_COMPLETION: an alertable wait was interrupted by a queued APC.
const IO_COMPLETION: u32 = 0xC0;
/// An async wait's future was dropped before it was decided.
const CANCELLED: u32 = u32::MAX - 2;
/// Marks a grant made by `PulseEvent`; the pulsed object's index is at `PULSE_SHIFT`
/// (an async wait dropped after such a grant passes it on as a pulse, not a set).
const PULSED: u32 = 1 << 24;
const PULSE_SHIFT: u32 = 16;
/// A grant's object index and `ABANDONED` bit.
const GRANT_BITS: u32 = 0xFF;

/// What a decided wait was given: the object (for a wait-all, 0) and how.
struct Grant {
    index: usize,
    abandoned: bool,
    /// The index of the object a pulse gave.
    pulsed: Option<usize>,
}

/// The grant a status holds; `None` for a wait that acquired nothing.
fn grant(code: u32) -> Option<Grant> {
    match code {
        PENDING | INTERRUPTED | CANCELLED | TIMEOUT | IO_COMPLETION => None,
        c => Some(Grant {
            index: (c & GRANT_BITS & !ABANDONED) as usize,
            abandoned: c & ABANDONED != 0,
            pulsed: (c & PULSED != 0).then_some(((c >> PULSE_SHIFT) & 0x7F) as usize),
        }),
    }
}

/// How a wait ended (`WaitForMultipleObjects`' return value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitStatus {
    /// WAIT_OBJECT_0 + i: the object at index `i` was acquired (a wait-all: all of
    /// them, reported as index 0).
    Object(usize),
    /// WAIT_ABANDONED_0 + i: as `Object(i)`, and the object was a mutex whose owner had
    /// exited (a wait-all: one of its mutexes was).
    Abandoned(usize),
    /// WAIT_TIMEOUT: the time ran out; nothing was acquired.
    Timeout,
    /// WAIT_IO_COMPLETION: an alertable wait ran queued APCs.
    IoCompletion,
}

impl WaitStatus {
    /// The Win32 return value: WAIT_OBJECT_0 (0) + i, WAIT_ABANDONED_0 (0x80) + i,
    /// WAIT_TIMEOUT (0x102) or WAIT_IO_COMPLETION (0xC0).
    #[must_use]
    pub fn code(self) -> u32 {
        match self {
            // Indexes are below MAXIMUM_WAIT_OBJECTS, so these never truncate.
            WaitStatus::Object(i) => i as u32,
            WaitStatus::Abandoned(i) => ABANDONED + i as u32,
            WaitStatus::Timeout => TIMEOUT,
            WaitStatus::IoCompletion => IO_COMPLETION,
        }
    }

    /// The status a decided wait block holds.
    fn from_code(code: u32) -> WaitStatus {
        match code {
            TIMEOUT => WaitStatus::Timeout,
            IO_COMPLETION => WaitStatus::IoCompletion,
            c if c & ABANDONED != 0 => WaitStatus::Abandoned((c & GRANT_BITS & !ABANDONED) as usize),
            c => WaitStatus::Object((c & GRANT_BITS) as usize),
        }
    }
}

/// The signal state of one waitable object, by kind.
pub(crate) enum Kind {
    /// An event, or a waitable timer (a notification timer is manual-reset).
    Event { manual: bool, signaled: bool },
    /// A semaphore.
    Semaphore { count: i32, maximum: i32 },
    /// A mutex (NT "mutant"). `listed` is the thread whose owned list holds it: its
    /// owner while `held`, else its last owner (the list is left alone at a release, so
    /// a thread that takes the same mutex again and again touches no list and no count;
    /// see `acquire`). `recursion`: how many times the owner has acquired it.
    Mutex { held: bool, recursion: u32, abandoned: bool, listed: Option<Arc<Owner>> },
    /// Signalled for good once set and never consumed (a process, a thread), or never
    /// signalled (a job).
    Once { signaled: bool },
}

impl Kind {
    /// Whether `who` would acquire the object now.
    fn ready_for(&self, who: &Owner) -> bool {
        match self {
            Kind::Event { signaled, .. } | Kind::Once { signaled } => *signaled,
            Kind::Semaphore { count, .. } => *count > 0,
            Kind::Mutex { recursion, .. } => *recursion == 0 || self.owned_by(who),
        }
    }

    /// A held mutex's owner.
    pub(crate) fn mutex_owner(&self) -> Option<&Arc<Owner>> {
        match self {
            Kind::Mutex { held: true, listed, .. } => listed.as_ref(),
            _ => None,
        }
    }

    fn owned_by(&self, who: &Owner) -> bool {
        self.mutex_owner().is_some_and(|o| std::ptr::eq(&**o, who))
    }

    /// Whether anybody but the owner of a held mutex could acquire it now: the wake
    /// loop stops at the first waiter once this is false.
    fn ready_for_anyone(&self) -> bool {
        match self {
            Kind::Mutex { recursion, .. } => *recursion == 0,
            Kind::Event { signaled, .. } | Kind::Once { signaled } => *signaled,
            Kind::Semaphore { count, .. } => *count > 0,
        }
    }

    /// A free mutex whose last owner exited without releasing it.
    fn is_abandoned(&self) -> bool {
        matches!(self, Kind::Mutex { abandoned: true, recursion: 0, .. })
    }

    /// MUTANT_LIMIT_EXCEEDED if acquiring would take `who`'s recursion past `i32::MAX`.
    fn check_limit(&self, who: &Owner) -> Result<()> {
        match self {
            Kind::Mutex { recursion, .. } if self.owned_by(who) && *recursion >= i32::MAX as u32 => {
                Err(Error::MutantLimitExceeded)
            }
            _ => Ok(()),
        }
    }

    /// Acquires the object for `who` (it must be [`ready_for`](Self::ready_for) it):
    /// a semaphore's count drops, an auto-reset event resets, a mutex becomes `who`'s.
    /// `obj` is the object this state belongs to (a mutex goes on its owner's list).
    fn acquire(&mut self, who: &Arc<Owner>, obj: &ObjectHeader) {
        match self {
            Kind::Event { manual: false, signaled } => *signaled = false,
            Kind::Semaphore { count, .. } => *count -= 1,
            Kind::Mutex { held, recursion, abandoned, listed } => {
                if *recursion > 0 {
                    *recursion += 1;
                    return;
                }
                *abandoned = false;
                // Already on `who`'s list: its exit, if it has begun, has taken that list
                // and will lock this mutex after us and abandon it.
                let on_list = listed.as_ref().is_some_and(|l| Arc::ptr_eq(l, who));
                if on_list || who.adopt(obj) {
                    if !on_list {
                        if let Some(previous) = listed.replace(Arc::clone(who)) {
                            drop(previous.disown(obj));
                        }
                    }
                    *held = true;
                    *recursion = 1;
                } else {
                    // Its new owner exited in the meantime: taken and abandoned at once,
                    // as if the thread had acquired it and then exited.
                    *abandoned = true;
                }
            }
            Kind::Event { manual: true, .. } | Kind::Once { .. } => {}
        }
    }
}

/// A waitable object's state: its kind's state and its waiters.
pub(crate) struct State {
    pub(crate) kind: Kind,
    /// The waits queued here, wait-any and wait-all alike, in arrival order: served
    /// first come first served as one list (NT keeps one wait list per object). Room for
    /// one inline: an object with one waiter costs no allocation.
    queue: SmallVec<[Entry; 1]>,
}

impl State {
    fn enqueue(&mut self, block: &Arc<WaitBlock>, index: usize, all: bool) {
        self.queue.push(Entry { block: Arc::clone(block), index: index as u32, all });
    }

    /// Takes `block`'s entries off the queue; how many there were.
    fn dequeue(&mut self, block: &Arc<WaitBlock>) -> usize {
        let before = self.queue.len();
        self.queue.retain(|e| !Arc::ptr_eq(&e.block, block));
        before - self.queue.len()
    }
}

/// A wait queued on an object: its block, the object's index in its handle list, and
/// whether it is a wait-all.
struct Entry {
    block: Arc<WaitBlock>,
    index: u32,
    all: bool,
}

/// Waits decided under an object's lock, to be unparked once the lock is released (a
/// waiter woken under the lock would only block on it).
type Woken = SmallVec<[Arc<WaitBlock>; 2]>;

/// Wakes the waiters a signal decided.
///
/// Inlined, so the vector stays where its pushes left it: passed by value it would be
/// copied, and the copy's loads stall on those stores (most calls wake nobody).
#[inline(always)]
fn unpark_all(woken: Woken) {
    for block in woken {
        block.wake();
    }
}

/// A signal state for an embedder's own object type: a notification that is set or
/// reset, waited on like an event (`Kernel::register_waitable_type`). Setting it
/// releases every waiter; waits do not consume it (a manual-reset event's rules).
#[derive(Debug)]
pub struct Signal(pub(crate) Waitable);

impl Signal {
    /// A signal state, initially set or not.
    #[must_use]
    pub fn new(signaled: bool) -> Signal {
        Signal(Waitable::new(Kind::Event { manual: true, signaled }))
    }

    /// True while set.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.0.event_is_set()
    }
}

/// A payload with a signal state: the objects of a type registered with
/// `Kernel::register_waitable_type` are waited on through it.
pub trait Signaled: std::any::Any + Send + Sync {
    /// The payload's signal state.
    fn signal(&self) -> &Signal;
}

/// What a payload embeds to be waited on.
pub(crate) struct Waitable {
    state: Mutex<State>,
    /// Wait-all waiters queued here. Changed only under `state`'s lock; read before it
    /// to decide whether a signal takes the wait-all lock first.
    all_hint: AtomicU32,
    /// An event's `signaled` (for other kinds, "ready for anyone"), copied here before
    /// each unlock (see [`Locked`]), so that setting a set event or resetting a reset one
    /// takes no lock and writes nothing, and a spinning wait looks without locking.
    set: AtomicBool,
}

impl fmt::Debug for Waitable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waitable").field("all_hint", &self.all_hint.load(Ordering::Relaxed)).finish()
    }
}

impl Waitable {
    pub(crate) fn new(kind: Kind) -> Waitable {
        let set = kind.ready_for_anyone();
        Waitable {
            state: Mutex::new(State { kind, queue: SmallVec::new() }),
            all_hint: AtomicU32::new(0),
            set: AtomicBool::new(set),
        }
    }

    /// Locks the state alone (for changes that signal nothing and for queries).
    pub(crate) fn lock(&self) -> Locked<'_> {
        Locked { w: self, state: lock(&self.state) }
    }

    /// Whether a newcomer could take the object, without the lock: a hint for spinning.
    fn looks_ready(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// An event's state without the lock: some instant's value.
    pub(crate) fn event_is_set(&self) -> bool {
        // Acquire: pairs with the Release store in `Locked::drop`.
        self.set.load(Ordering::Acquire)
    }
}

/// A locked object state. On unlock it copies an event's state to the lock-free mirror
/// (before the lock is released, so a reader of the mirror never sees a value older than
/// the last unlock).
pub(crate) struct Locked<'a> {
    w: &'a Waitable,
    pub(crate) state: MutexGuard<'a, State>,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // For an event this is `signaled`; for the other kinds, whether a newcomer
        // could take the object (a spinning wait looks at it before it locks).
        let ready = self.state.kind.ready_for_anyone();
        if self.w.set.load(Ordering::Relaxed) != ready {
            // Release: pairs with the Acquire loads in `event_is_set` and `looks_ready`.
            self.w.set.store(ready, Ordering::Release);
        }
    }
}

/// An object locked for a change that may signal it, with the wait-all lock if the
/// object has wait-all waiters. Field order: the object's lock is released first.
struct SignalLock<'a> {
    locked: Locked<'a>,
    all: Option<MutexGuard<'a, ()>>,
}

/// Locks `w` (the waitable of `obj`) for a signal: the wait-all lock comes first when
/// wait-all waiters are queued here, because waking them locks their other objects.
fn lock_signal<'a>(obj: &'a ObjectHeader, w: &'a Waitable) -> SignalLock<'a> {
    // Acquire: pairs with the hint's changes, which happen under the state lock; the
    // reading that counts is the one below, made under that lock.
    if w.all_hint.load(Ordering::Acquire) == 0 {
        let locked = w.lock();
        // The hint changes only under this lock: this reading is exact. A wait-all waiter
        // that registers after we unlock will check this object's state itself.
        if w.all_hint.load(Ordering::Relaxed) == 0 {
            return SignalLock { locked, all: None };
        }
        drop(locked);
    }
    let all = lock(&obj.domain().wait_all);
    SignalLock { locked: w.lock(), all: Some(all) }
}

/// The waitable state of an object, if its type has one; `None` means always signalled
/// (NT's default object: a file, a file mapping, an embedder's type without a state).
pub(crate) fn waitable(obj: &ObjectHeader) -> Option<&Waitable> {
    obj.ty().waitable.and_then(|f| f(obj))
}

/// A guest thread as the waits see it: the identity that owns mutexes and waits.
pub(crate) struct Owner {
    /// The thread id.
    pub(crate) tid: u32,
    /// A copy of `state.exited` for readers without the lock (every call checks it).
    exited: AtomicBool,
    state: Mutex<OwnerState>,
}

#[derive(Default)]
struct OwnerState {
    exited: bool,
    /// The mutexes this thread owns (a pointer reference each).
    owned: SmallVec<[ObjRef; 4]>,
    /// The waits this thread is in (one, unless an embedder waits as one thread from
    /// two host threads at once).
    waits: SmallVec<[Arc<WaitBlock>; 1]>,
    /// User APCs queued to this thread, first in first out.
    apcs: VecDeque<Apc>,
}

/// A user-mode APC: run once, on its thread's own host thread, in an alertable wait.
pub(crate) type Apc = Box<dyn FnOnce() + Send>;

/// Whom a decided wait wakes.
enum Wakeup {
    Nobody,
    /// A blocked host thread (under loom, the block's condition variable instead).
    #[cfg(not(loom))]
    Thread(std::thread::Thread),
    /// An async task (`AsyncWait`); taken by the wake.
    Task(Waker),
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Owner").field("tid", &self.tid).finish()
    }
}

impl Owner {
    pub(crate) fn new(tid: u32) -> Owner {
        Owner { tid, exited: AtomicBool::new(false), state: Mutex::new(OwnerState::default()) }
    }

    /// True once the thread has exited.
    pub(crate) fn is_exited(&self) -> bool {
        // Acquire: pairs with the Release store in `exit`.
        self.exited.load(Ordering::Acquire)
    }

    /// Records that this thread now owns `mutex`. False if the thread has exited (the
    /// caller abandons the mutex instead). Called under the mutex's lock; this lock is
    /// a leaf (nothing is locked while it is held).
    fn adopt(&self, mutex: &ObjectHeader) -> bool {
        let Some(r) = mutex.try_ref() else { return false };
        let mut s = lock(&self.state);
        if s.exited {
            drop(s);
            drop(r);
            return false;
        }
        s.owned.push(r);
        true
    }

    /// Forgets `mutex` (released to recursion 0). The reference is returned to be
    /// dropped after every lock is released.
    fn disown(&self, mutex: &ObjectHeader) -> Option<ObjRef> {
        let mut s = lock(&self.state);
        let i = s.owned.iter().position(|m| std::ptr::eq(m.as_ptr(), mutex))?;
        Some(s.owned.swap_remove(i))
    }
}

/// One wait in progress: the arbitration word and what a signaller needs to satisfy it.
pub(crate) struct WaitBlock {
    /// `PENDING` until decided; then the code of the outcome (an object index, plus
    /// `ABANDONED`; `TIMEOUT`; `INTERRUPTED`). Moved out of `PENDING` only by CAS.
    status: AtomicU32,
    /// The waiting thread: mutexes acquired for this wait become its.
    owner: Arc<Owner>,
    /// The host thread to unpark or the task to wake. A leaf lock.
    waker: Mutex<Wakeup>,
    /// Under loom, a condition variable instead of park/unpark: loom's `unpark` of a
    /// thread that has already moved on and blocks elsewhere (a stale unpark, harmless
    /// with std's token) upsets its scheduler. The waiter checks the status under
    /// `waker` and the waker notifies under it, so no notification is lost.
    #[cfg(loom)]
    cv: loom::sync::Condvar,
    /// An alertable wait: a queued APC decides it `IO_COMPLETION`. Written before the
    /// block is registered with its thread; read under the thread's lock.
    alertable: AtomicBool,
    /// For a wait-all granted by a signaller: which of its objects were abandoned
    /// mutexes (bit i: object i), so a dropped async wait restores each. Written before
    /// the deciding CAS, which publishes it.
    abandoned: AtomicU64,
    /// For a wait-all: how many objects, and which (a signaller checks all of them).
    /// Written by the waiter before the block is queued (the queue's lock publishes
    /// them); valid while the block is queued, since the waiter holds a reference to each
    /// object until it has left every queue.
    count: AtomicUsize,
    objects: [AtomicPtr<ObjectHeader>; BLOCK_SLOTS],
}

impl WaitBlock {
    fn new(owner: Arc<Owner>) -> WaitBlock {
        WaitBlock {
            status: AtomicU32::new(PENDING),
            owner,
            waker: Mutex::new(Wakeup::Nobody),
            #[cfg(loom)]
            cv: loom::sync::Condvar::new(),
            alertable: AtomicBool::new(false),
            abandoned: AtomicU64::new(0),
            count: AtomicUsize::new(0),
            objects: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
        }
    }

    /// Decides the wait with `code` if nobody has. True for the one caller that did.
    fn decide(&self, code: u32) -> bool {
        // AcqRel: the winner's later reads of the block see the waiter's setup; the
        // waiter's Acquire load of the status sees the winner's changes to objects.
        #[cfg(kobj_mutant = "decide_store")] // mutant: check, then a plain store
        return self.status.load(Ordering::Acquire) == PENDING && {
            self.status.store(code, Ordering::Release);
            true
        };
        self.status.compare_exchange(PENDING, code, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    fn wake(&self) {
        let task = {
            let mut w = lock(&self.waker);
            #[cfg(loom)]
            self.cv.notify_all();
            match &*w {
                #[cfg(not(loom))]
                Wakeup::Thread(t) => {
                    t.unpark();
                    None
                }
                Wakeup::Task(_) => match std::mem::replace(&mut *w, Wakeup::Nobody) {
                    Wakeup::Task(t) => Some(t),
                    _ => None,
                },
                Wakeup::Nobody => None,
            }
        };
        // Outside the lock: a waker may run arbitrary code (even poll the future).
        if let Some(t) = task {
            t.wake();
        }
    }
}

/// A thread's waiting equipment: its identity and a wait block made with the thread,
/// so a wait allocates nothing (NT keeps wait blocks inside each thread for the same
/// reason).
pub(crate) struct WaitContext {
    pub(crate) owner: Arc<Owner>,
    spare: Arc<WaitBlock>,
    busy: AtomicBool,
    /// The kernel's clock: timeouts run on it.
    time: Arc<Time>,
}

impl fmt::Debug for WaitContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitContext").field("tid", &self.owner.tid).finish()
    }
}

impl WaitContext {
    pub(crate) fn new(tid: u32, time: Arc<Time>) -> WaitContext {
        let owner = Arc::new(Owner::new(tid));
        WaitContext {
            spare: Arc::new(WaitBlock::new(Arc::clone(&owner))),
            owner,
            busy: AtomicBool::new(false),
            time,
        }
    }

    /// A block for one wait: the thread's own, or a new one if another host thread is
    /// already waiting as this thread.
    fn claim(&self) -> Claimed<'_> {
        // Acquire: pairs with the Release in `Claimed::drop` (the last wait is done with it).
        if self.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            Claimed { ctx: self, block: Arc::clone(&self.spare), spare: true }
        } else {
            Claimed { ctx: self, block: Arc::new(WaitBlock::new(Arc::clone(&self.owner))), spare: false }
        }
    }
}

struct Claimed<'a> {
    ctx: &'a WaitContext,
    block: Arc<WaitBlock>,
    spare: bool,
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        if self.spare {
            self.ctx.busy.store(false, Ordering::Release);
        }
    }
}

/// Hands a just-signalled object to its waiters, first come first served, wait-any and
/// wait-all entries alike (the wait-all ones only when the wait-all lock is held:
/// trying them locks their other objects; without it there are none queued, see
/// `lock_signal`, except in a waiter's own check, which tries wait-any entries only). A wait-any entry that is decided here leaves the queue (its
/// waiter need not relock this object); decided blocks go on `woken`.
fn wake(obj: &ObjectHeader, state: &mut State, all_locked: bool, woken: &mut Woken) {
    wake_as(obj, state, all_locked, false, woken);
}

/// [`wake`], marking the grants as a pulse's when `pulse`.
fn wake_as(obj: &ObjectHeader, state: &mut State, all_locked: bool, pulse: bool, woken: &mut Woken) {
    let mut i = 0;
    while i < state.queue.len() {
        if !state.kind.ready_for_anyone() && !matches!(state.kind, Kind::Mutex { .. }) {
            // Ready for nobody. (A held mutex may still go to its owner's own waits.)
            return;
        }
        if state.queue[i].all {
            if all_locked {
                let block = Arc::clone(&state.queue[i].block);
                try_wake_all(&block, obj, state, pulse, woken);
            }
            i += 1;
            continue;
        }
        let State { kind, queue } = &mut *state;
        let e = &queue[i];
        if !kind.ready_for(&e.block.owner) {
            i += 1;
            continue;
        }
        let mut code = e.index + if kind.is_abandoned() { ABANDONED } else { 0 };
        if pulse {
            code |= PULSED | e.index << PULSE_SHIFT;
        }
        if e.block.decide(code) {
            let e = queue.remove(i);
            kind.acquire(&e.block.owner, obj);
            woken.push(e.block);
        } else {
            // Decided elsewhere: its waiter removes it.
            i += 1;
        }
    }
}

/// The wait-any half of [`wake`]: needs only this object's lock.
fn wake_any(obj: &ObjectHeader, state: &mut State, woken: &mut Woken) {
    wake(obj, state, false, woken);
}

/// Satisfies a wait-all waiter if every one of its objects is ready for it. The caller
/// holds the wait-all lock and `held`'s lock (`held_state`); the others are locked here,
/// one after another — safe because only holders of the wait-all lock ever hold two
/// object locks at once.
fn try_wake_all(
    block: &Arc<WaitBlock>,
    held: &ObjectHeader,
    held_state: &mut State,
    pulse: bool,
    woken: &mut Woken,
) {
    if block.status.load(Ordering::Acquire) != PENDING {
        return;
    }
    let n = block.count.load(Ordering::Relaxed);
    let mut others: SmallVec<[(usize, &ObjectHeader, Locked<'_>); 8]> = SmallVec::new();
    let mut held_index = 0;
    for (i, slot) in block.objects[..n].iter().enumerate() {
        let p = slot.load(Ordering::Relaxed);
        if std::ptr::eq(p, held) {
            held_index = i;
            continue;
        }
        // SAFETY: the block is queued on `held`, whose lock we hold, and its waiter
        // holds a pointer reference to each of its objects until it has left every
        // queue (it leaves `held`'s only under this lock), so `p` is a live object for
        // as long as this call runs.
        let obj = unsafe { &*p };
        if let Some(w) = waitable(obj) {
            others.push((i, obj, w.lock()));
        }
    }
    let who = &block.owner;
    if !held_state.kind.ready_for(who) || !others.iter().all(|(_, _, l)| l.state.kind.ready_for(who)) {
        return;
    }
    let mut mask = u64::from(held_state.kind.is_abandoned()) << held_index;
    for (i, _, l) in &others {
        mask |= u64::from(l.state.kind.is_abandoned()) << i;
    }
    // Relaxed: published by the deciding CAS below (AcqRel), read after the waiter's
    // Acquire load of the status. Only holders of the wait-all lock write it, one at a
    // time, and only while the block is undecided.
    block.abandoned.store(mask, Ordering::Relaxed);
    let mut code = if mask != 0 { ABANDONED } else { 0 };
    if pulse {
        code |= PULSED | (held_index as u32) << PULSE_SHIFT;
    }
    if block.decide(code) {
        held_state.kind.acquire(who, held);
        for (_, obj, l) in &mut others {
            l.state.kind.acquire(who, obj);
        }
        woken.push(Arc::clone(block));
    }
}

/// Tries `objects` as they stand (SYNCHRONIZE checked, wait-all duplicates refused),
/// without blocking: `Some` status if the wait is satisfied now (the objects acquired),
/// `None` if it would have to wait. The caller may hold no references, only a pin: it
/// takes none here (the cheap path of every wait).
pub(crate) fn try_now(who: &Arc<Owner>, objects: &[&ObjectHeader], all: bool) -> Result<Option<WaitStatus>> {
    if all {
        let _all = lock(&objects[0].domain().wait_all);
        let mut locked = lock_all(who, objects.iter().copied())?;
        return Ok(take_all(who, &mut locked));
    }
    // The lowest ready index wins.
    for (i, &obj) in objects.iter().enumerate() {
        let Some(w) = waitable(obj) else { return Ok(Some(WaitStatus::Object(i))) };
        let mut l = w.lock();
        l.state.kind.check_limit(who)?;
        if l.state.kind.ready_for(who) {
            let abandoned = l.state.kind.is_abandoned();
            l.state.kind.acquire(who, obj);
            return Ok(Some(if abandoned { WaitStatus::Abandoned(i) } else { WaitStatus::Object(i) }));
        }
    }
    Ok(None)
}

/// One look of a spinning wait-any: an object whose mirror says ready is tried with
/// `try_lock` — a spinner never blocks on an object's lock (its holder may be the thread
/// about to release the object) and never makes that holder wait long.
#[cfg(not(loom))]
fn try_spinning(who: &Arc<Owner>, objects: &[&ObjectHeader]) -> Option<WaitStatus> {
    for (i, &obj) in objects.iter().enumerate() {
        let w = waitable(obj)?;
        if !w.looks_ready() {
            continue;
        }
        let Ok(state) = w.state.try_lock() else { continue };
        let mut l = Locked { w, state };
        if l.state.kind.ready_for(who) {
            let abandoned = l.state.kind.is_abandoned();
            l.state.kind.acquire(who, obj);
            return Some(if abandoned { WaitStatus::Abandoned(i) } else { WaitStatus::Object(i) });
        }
    }
    None
}

/// Waits for `objects` as `ctx`'s thread, blocking if they are not ready (the caller
/// holds a reference to each, so a close of their handles does not end the wait).
/// `timeout`: `None` forever, `Some(ZERO)` a test. An `alertable` wait also ends, with
/// `IoCompletion`, when an APC is queued to the thread (the caller runs the APCs). No
/// objects: a sleep.
pub(crate) fn wait(
    ctx: &WaitContext,
    objects: &[ObjRef],
    all: bool,
    timeout: Option<Duration>,
    alertable: bool,
) -> Result<WaitStatus> {
    debug_assert!(objects.len() <= BLOCK_SLOTS && !(all && objects.is_empty()));
    let who = &ctx.owner;
    if !all {
        let headers: SmallVec<[&ObjectHeader; 4]> = objects.iter().map(|o| &**o).collect();
        if let Some(status) = try_now(who, &headers, false)? {
            return Ok(status);
        }
        if timeout == Some(Duration::ZERO) {
            return Ok(WaitStatus::Timeout);
        }
        // A short spin before queueing: an object held for a moment (a mutex another
        // core is about to release) is taken without a sleep and a wake-up. Spinning is
        // only a repeated first look; queued waiters keep their order.
        #[cfg(not(loom))]
        if !objects.is_empty() {
            for _ in 0..SPIN_ROUNDS {
                for _ in 0..SPIN_PAUSES {
                    std::hint::spin_loop();
                }
                if let Some(status) = try_spinning(who, &headers) {
                    return Ok(status);
                }
            }
        }
    }
    let claimed = ctx.claim();
    let block = &claimed.block;
    prepare(block, objects, thread_wakeup());
    register(who, block)?;
    if let Some(status) = queue(block, objects, all)? {
        return Ok(status);
    }
    if alertable {
        arm_alert(who, block);
    }
    let code = sleep(block, timeout, &ctx.time);
    leave(block, objects, all, code);
    outcome(code)
}

/// Queues a wait-any on every object, then checks them again: a signal between the
/// waiter's first look and its queueing is seen here ("queue then check").
fn queue_any(block: &Arc<WaitBlock>, objects: &[ObjRef]) {
    for (i, obj) in objects.iter().enumerate() {
        if let Some(w) = waitable(obj) {
            w.lock().state.enqueue(block, i, false);
        }
    }
    #[cfg(not(kobj_mutant = "no_recheck"))] // mutant: sleep without the check
    for obj in objects {
        if block.status.load(Ordering::Acquire) != PENDING {
            break;
        }
        if let Some(w) = waitable(obj) {
            let mut woken = Woken::new();
            wake_any(obj, &mut w.lock().state, &mut woken);
            unpark_all(woken);
        }
    }
}

/// A wait-all's one atomic step, under the wait-all lock and every object's lock: if
/// all the objects are ready, acquires them and returns the status (the block is not
/// queued); else queues the block on each, so that a signal of any of them (which then
/// takes the wait-all lock) tries it.
fn queue_all(block: &Arc<WaitBlock>, objects: &[ObjRef]) -> Result<Option<WaitStatus>> {
    let who = &block.owner;
    let _all = lock(&objects[0].domain().wait_all);
    let mut locked = lock_all(who, objects.iter().map(|o| &**o))?;
    if let Some(status) = take_all(who, &mut locked) {
        return Ok(Some(status));
    }
    for (i, obj) in objects.iter().enumerate() {
        if let Some((_, l)) = locked.iter_mut().find(|(o, _)| std::ptr::eq(*o, &**obj)) {
            l.state.enqueue(block, i, true);
            // Under the object's lock (see `lock_signal`).
            l.w.all_hint.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(None)
}

/// Locks every waitable object of a wait-all (the caller holds the wait-all lock, so
/// the order does not matter); MUTANT_LIMIT_EXCEEDED if one would pass its limit.
fn lock_all<'a>(
    who: &Owner,
    objects: impl Iterator<Item = &'a ObjectHeader>,
) -> Result<SmallVec<[(&'a ObjectHeader, Locked<'a>); 4]>> {
    let mut locked = SmallVec::new();
    for obj in objects {
        if let Some(w) = waitable(obj) {
            let l = w.lock();
            l.state.kind.check_limit(who)?;
            locked.push((obj, l));
        }
    }
    Ok(locked)
}

/// A wait-all's all-or-nothing step over its locked objects: takes them all if every
/// one is ready for `who`, else nothing.
fn take_all(who: &Arc<Owner>, locked: &mut [(&ObjectHeader, Locked<'_>)]) -> Option<WaitStatus> {
    if !locked.iter().all(|(_, l)| l.state.kind.ready_for(who)) {
        return None;
    }
    let abandoned = locked.iter().any(|(_, l)| l.state.kind.is_abandoned());
    for (obj, l) in locked.iter_mut() {
        l.state.kind.acquire(who, obj);
    }
    Some(if abandoned { WaitStatus::Abandoned(0) } else { WaitStatus::Object(0) })
}

/// Queues a registered block as a wait-any or a wait-all. `Some` status if a wait-all
/// found every object ready and took them at once; then, or on an error, the block is
/// taken off its thread again.
fn queue(block: &Arc<WaitBlock>, objects: &[ObjRef], all: bool) -> Result<Option<WaitStatus>> {
    if !all {
        queue_any(block, objects);
        return Ok(None);
    }
    let queued = queue_all(block, objects);
    if !matches!(queued, Ok(None)) {
        unregister(&block.owner, block);
    }
    queued
}

/// Takes a decided (`code`) or abandoned wait off its objects' queues and its thread.
fn leave(block: &Arc<WaitBlock>, objects: &[ObjRef], all: bool, code: u32) {
    if all {
        for obj in objects {
            if let Some(w) = waitable(obj) {
                let mut l = w.lock();
                if l.state.dequeue(block) > 0 {
                    // Under the object's lock (see `lock_signal`).
                    w.all_hint.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    } else {
        // The entry of the object that satisfied the wait left its queue when it was
        // decided.
        let satisfied_by = grant(code).map(|g| g.index);
        for (i, obj) in objects.iter().enumerate() {
            if Some(i) == satisfied_by {
                continue;
            }
            if let Some(w) = waitable(obj) {
                w.lock().state.dequeue(block);
            }
        }
    }
    unregister(&block.owner, block);
}

/// The calling host thread, to be unparked.
fn thread_wakeup() -> Wakeup {
    #[cfg(not(loom))]
    return Wakeup::Thread(std::thread::current());
    #[cfg(loom)]
    Wakeup::Nobody
}

/// Readies a claimed block for a wait on `objects`.
fn prepare(block: &WaitBlock, objects: &[ObjRef], wakeup: Wakeup) {
    // Relaxed: the block is not yet shared; registering it under its thread's lock and
    // queueing it under an object lock publish these stores to every signaller that
    // finds it there.
    block.status.store(PENDING, Ordering::Relaxed);
    block.alertable.store(false, Ordering::Relaxed);
    block.abandoned.store(0, Ordering::Relaxed);
    block.count.store(objects.len(), Ordering::Relaxed);
    for (slot, obj) in block.objects.iter().zip(objects) {
        slot.store(obj.as_ptr().cast_mut(), Ordering::Relaxed);
    }
    *lock(&block.waker) = wakeup;
}

/// Makes the wait findable by the thread's exit and by `queue_apc`. ACCESS_DENIED if
/// the thread has exited.
fn register(who: &Owner, block: &Arc<WaitBlock>) -> Result<()> {
    let mut s = lock(&who.state);
    if s.exited {
        return Err(Error::AccessDenied);
    }
    s.waits.push(Arc::clone(block));
    Ok(())
}

/// Makes a registered, queued and checked wait alertable: from now on a queued APC
/// decides it `IO_COMPLETION`, and if APCs are queued already it is decided so now
/// (unless its objects, checked first, decided it). Under the thread's lock, as
/// `queue_apc` looks at it: an APC queued at any moment is either seen here or finds
/// the block alertable.
fn arm_alert(who: &Owner, block: &WaitBlock) {
    let s = lock(&who.state);
    block.alertable.store(true, Ordering::Relaxed);
    #[cfg(not(kobj_mutant = "apc_unchecked"))] // mutant: APCs queued before the wait are not seen
    if !s.apcs.is_empty() {
        block.decide(IO_COMPLETION);
    }
}

fn unregister(who: &Owner, block: &Arc<WaitBlock>) {
    let mut s = lock(&who.state);
    if let Some(i) = s.waits.iter().position(|b| Arc::ptr_eq(b, block)) {
        s.waits.swap_remove(i);
    }
}

/// Parks until the block is decided or the time runs out (then decides it `TIMEOUT`,
/// unless a signal got there first: then the signal's outcome stands). On the manual
/// clock the deadline goes in `time`'s map, and `advance_clock` times the wait out.
fn sleep(block: &Arc<WaitBlock>, timeout: Option<Duration>, time: &Time) -> u32 {
    if timeout == Some(Duration::ZERO) {
        // A test: the objects were checked when the wait was queued.
        return if block.decide(TIMEOUT) { TIMEOUT } else { block.status.load(Ordering::Acquire) };
    }
    // Queued and still awake for a moment: a hand-off that comes now needs no wake-up
    // (unparking a thread that is not parked is one atomic swap, no system call).
    #[cfg(not(loom))]
    for _ in 0..SPIN_ROUNDS * SPIN_PAUSES {
        std::hint::spin_loop();
        let code = block.status.load(Ordering::Acquire);
        if code != PENDING {
            return code;
        }
    }
    if let (Some(after), Clock::Manual) = (timeout, time.clock()) {
        let key = time.add_wait(after, block);
        let code = park(block, None);
        time.remove_wait(key);
        return code;
    }
    park(block, timeout)
}

/// Blocks until the block is decided, or until `timeout` on the host's clock passes
/// (then decides it `TIMEOUT` if nobody has).
fn park(block: &WaitBlock, timeout: Option<Duration>) -> u32 {
    #[cfg(not(loom))]
    let deadline = timeout.and_then(|d| std::time::Instant::now().checked_add(d));
    loop {
        // Acquire: pairs with `decide`'s AcqRel.
        let code = block.status.load(Ordering::Acquire);
        if code != PENDING {
            return code;
        }
        #[cfg(not(loom))]
        match deadline {
            // No timeout, or one past `Instant`'s range: forever.
            None => crate::sync::park(),
            Some(d) => {
                let now = std::time::Instant::now();
                if now >= d {
                    return if block.decide(TIMEOUT) {
                        TIMEOUT
                    } else {
                        block.status.load(Ordering::Acquire)
                    };
                }
                crate::sync::park_timeout(d - now);
            }
        }
        // loom has no clock: a finite timeout expires at once, after the queue-then-check
        // (which is the race a model of a timed-out wait needs).
        #[cfg(loom)]
        match timeout {
            None => {
                let g = lock(&block.waker);
                if block.status.load(Ordering::Acquire) == PENDING {
                    drop(block.cv.wait(g));
                }
            }
            Some(_) => {
                return if block.decide(TIMEOUT) { TIMEOUT } else { block.status.load(Ordering::Acquire) };
            }
        }
    }
}

/// A manual-clock deadline came: the wait times out unless it was decided already.
pub(crate) fn time_out(block: &WaitBlock) {
    if block.decide(TIMEOUT) {
        block.wake();
    }
}

fn outcome(code: u32) -> Result<WaitStatus> {
    match code {
        INTERRUPTED | CANCELLED => Err(Error::AccessDenied),
        c => Ok(WaitStatus::from_code(c)),
    }
}

/// `QueueUserAPC`: queues `apc` to `who`, and ends an alertable wait it is in (with
/// `IO_COMPLETION`; it runs the APCs). GEN_FAILURE if the thread has exited (the APC
/// is dropped unrun).
pub(crate) fn queue_apc(who: &Owner, apc: Apc) -> Result<()> {
    let mut s = lock(&who.state);
    if s.exited {
        drop(s);
        drop(apc);
        return Err(Error::GenFailure);
    }
    s.apcs.push_back(apc);
    let alerted: SmallVec<[Arc<WaitBlock>; 1]> = s
        .waits
        .iter()
        .filter(|b| b.alertable.load(Ordering::Relaxed) && b.decide(IO_COMPLETION))
        .cloned()
        .collect();
    drop(s);
    for b in alerted {
        b.wake();
    }
    Ok(())
}

/// The next APC queued to `who`, taken off its queue.
pub(crate) fn take_apc(who: &Owner) -> Option<Apc> {
    lock(&who.state).apcs.pop_front()
}

/// Whether APCs are queued to `who`.
pub(crate) fn has_apc(who: &Owner) -> bool {
    !lock(&who.state).apcs.is_empty()
}

/// An async task's wait (the engine of `WaitFuture`): the same queue and arbitration as
/// a blocking wait, with the task's waker in the block instead of a host thread. Its
/// drop before the outcome was returned undoes whatever it was granted.
pub(crate) struct AsyncWait {
    owner: Arc<Owner>,
    objects: SmallVec<[ObjRef; 4]>,
    all: bool,
    /// Set while queued.
    block: Option<Arc<WaitBlock>>,
}

impl fmt::Debug for AsyncWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncWait")
            .field("tid", &self.owner.tid)
            .field("objects", &self.objects.len())
            .field("all", &self.all)
            .field("queued", &self.block.is_some())
            .finish()
    }
}

impl AsyncWait {
    /// A wait by `owner` for `objects` (1..=64, checked by the caller, each with a
    /// reference; no duplicates in a wait-all).
    pub(crate) fn new(owner: Arc<Owner>, objects: SmallVec<[ObjRef; 4]>, all: bool) -> AsyncWait {
        AsyncWait { owner, objects, all, block: None }
    }

    /// The first poll tries the objects and queues; later polls look at the outcome.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<WaitStatus>> {
        if let Some(block) = &self.block {
            {
                let mut w = lock(&block.waker);
                if !matches!(&*w, Wakeup::Task(t) if t.will_wake(cx.waker())) {
                    *w = Wakeup::Task(cx.waker().clone());
                }
            }
            // After the waker is in place: a decision made before it was would have found
            // the old waker, and is seen here.
            let code = block.status.load(Ordering::Acquire);
            if code == PENDING {
                return Poll::Pending;
            }
            return Poll::Ready(self.finish(code));
        }
        if self.owner.is_exited() {
            return Poll::Ready(Err(Error::AccessDenied));
        }
        if !self.all {
            let headers: SmallVec<[&ObjectHeader; 4]> = self.objects.iter().map(|o| &**o).collect();
            match try_now(&self.owner, &headers, false) {
                Ok(Some(status)) => return Poll::Ready(Ok(status)),
                Err(e) => return Poll::Ready(Err(e)),
                Ok(None) => {}
            }
        }
        let block = Arc::new(WaitBlock::new(Arc::clone(&self.owner)));
        prepare(&block, &self.objects, Wakeup::Task(cx.waker().clone()));
        if let Err(e) = register(&self.owner, &block) {
            return Poll::Ready(Err(e));
        }
        match queue(&block, &self.objects, self.all) {
            Ok(None) => {}
            Ok(Some(status)) => return Poll::Ready(Ok(status)),
            Err(e) => return Poll::Ready(Err(e)),
        }
        let code = block.status.load(Ordering::Acquire);
        self.block = Some(block);
        if code == PENDING {
            Poll::Pending
        } else {
            Poll::Ready(self.finish(code))
        }
    }

    fn finish(&mut self, code: u32) -> Result<WaitStatus> {
        if let Some(block) = self.block.take() {
            leave(&block, &self.objects, self.all, code);
        }
        outcome(code)
    }
}

impl Drop for AsyncWait {
    /// Dropped while queued: the wait is cancelled if undecided; if it was granted, the
    /// grant is undone through the normal release paths, so every object is as if the
    /// wait had never been made.
    fn drop(&mut self) {
        let Some(block) = self.block.take() else { return };
        let code = if block.decide(CANCELLED) { CANCELLED } else { block.status.load(Ordering::Acquire) };
        leave(&block, &self.objects, self.all, code);
        #[cfg(kobj_mutant = "async_no_undo")] // mutant: a granted future's drop loses the grant
        return;
        let Some(g) = grant(code) else { return };
        if self.all {
            // Relaxed: the Acquire load of the status above made it visible.
            let mask = block.abandoned.load(Ordering::Relaxed);
            for (i, obj) in self.objects.iter().enumerate() {
                undo(obj, &self.owner, mask & (1 << i) != 0, g.pulsed == Some(i));
            }
        } else if let Some(obj) = self.objects.get(g.index) {
            undo(obj, &self.owner, g.abandoned, g.pulsed.is_some());
        }
    }
}

/// `SetEvent` (and a timer's expiry): signals, then hands the object to its waiters.
pub(crate) fn set_event(obj: &ObjectHeader, w: &Waitable) {
    set_event_quiet(obj, w).wake();
}

/// The waiters a signal decided, to be woken once the signaller has let go of what it
/// holds (`set_event_quiet`).
pub(crate) struct Wakeups(Woken);

impl Wakeups {
    pub(crate) fn wake(self) {
        unpark_all(self.0);
    }
}

/// [`set_event`] without the wake-ups: the caller wakes the waiters when it is ready (a
/// timer's expiry first drops its reference to the timer, so a woken waiter that looks
/// at `object_count` does not see it).
pub(crate) fn set_event_quiet(obj: &ObjectHeader, w: &Waitable) -> Wakeups {
    let mut woken = Woken::new();
    if w.event_is_set() {
        // A set event has no wait-any waiter that could take it (it would have), and
        // setting it again changes nothing: no lock, no write.
        return Wakeups(woken);
    }
    let mut g = lock_signal(obj, w);
    if let Kind::Event { signaled, .. } = &mut g.locked.state.kind {
        *signaled = true;
    }
    let all = g.all.is_some();
    wake(obj, &mut g.locked.state, all, &mut woken);
    Wakeups(woken)
}

/// `ResetEvent`.
pub(crate) fn reset_event(w: &Waitable) {
    if !w.event_is_set() {
        return;
    }
    if let Kind::Event { signaled, .. } = &mut w.lock().state.kind {
        *signaled = false;
    }
}

/// `PulseEvent`: satisfies the waiters waiting now (one for auto-reset, all for
/// manual-reset) and leaves the event reset.
pub(crate) fn pulse_event(obj: &ObjectHeader, w: &Waitable) {
    let mut woken = Woken::new();
    {
        let mut g = lock_signal(obj, w);
        let all = g.all.is_some();
        pulse(obj, &mut g.locked.state, all, &mut woken);
    }
    unpark_all(woken);
}

/// A pulse under the event's lock: signalled for the waiters queued now (their grants
/// marked as a pulse's), then reset.
fn pulse(obj: &ObjectHeader, state: &mut State, all_locked: bool, woken: &mut Woken) {
    if let Kind::Event { signaled, .. } = &mut state.kind {
        *signaled = true;
    }
    wake_as(obj, state, all_locked, true, woken);
    if let Kind::Event { signaled, .. } = &mut state.kind {
        *signaled = false;
    }
}

/// `ReleaseSemaphore`: the previous count, or TOO_MANY_POSTS (nothing changes).
pub(crate) fn release_semaphore(obj: &ObjectHeader, w: &Waitable, n: i32) -> Result<i32> {
    let mut woken = Woken::new();
    let previous = {
        let mut g = lock_signal(obj, w);
        let Kind::Semaphore { count, maximum } = &mut g.locked.state.kind else {
            return Err(Error::InvalidHandle);
        };
        let previous = *count;
        if i64::from(previous) + i64::from(n) > i64::from(*maximum) {
            return Err(Error::TooManyPosts);
        }
        *count += n;
        let all = g.all.is_some();
        wake(obj, &mut g.locked.state, all, &mut woken);
        previous
    };
    unpark_all(woken);
    Ok(previous)
}

/// `ReleaseMutex` as `who`: NOT_OWNER unless `who` owns it; at recursion 0 the mutex
/// passes to its first waiter. (It stays on `who`'s owned list: see `Kind::Mutex`.)
pub(crate) fn release_mutex(obj: &ObjectHeader, w: &Waitable, who: &Owner) -> Result<()> {
    let mut woken = Woken::new();
    {
        let mut g = lock_signal(obj, w);
        let kind = &mut g.locked.state.kind;
        if !matches!(kind, Kind::Mutex { .. }) {
            return Err(Error::InvalidHandle);
        }
        if !kind.owned_by(who) {
            return Err(Error::NotOwner);
        }
        let Kind::Mutex { held, recursion, .. } = kind else { return Err(Error::InvalidHandle) };
        *recursion -= 1;
        if *recursion > 0 {
            return Ok(());
        }
        *held = false;
        let all = g.all.is_some();
        wake(obj, &mut g.locked.state, all, &mut woken);
    }
    unpark_all(woken);
    Ok(())
}

/// Records a new mutex's initial owner (made owned by `who`) on the owner's list, so its
/// exit abandons it; if `who` has exited meanwhile, the mutex is abandoned now.
pub(crate) fn take_initial_ownership(obj: &ObjectHeader, w: &Waitable, who: &Arc<Owner>) {
    let mut woken = Woken::new();
    {
        let mut g = lock_signal(obj, w);
        let Kind::Mutex { held, recursion, abandoned, listed } = &mut g.locked.state.kind else { return };
        // Made held with `listed` already naming `who`, before it was on the list.
        if !*held || !listed.as_ref().is_some_and(|o| Arc::ptr_eq(o, who)) {
            return;
        }
        if who.adopt(obj) {
            return;
        }
        *held = false;
        *listed = None;
        *recursion = 0;
        *abandoned = true;
        let all = g.all.is_some();
        wake(obj, &mut g.locked.state, all, &mut woken);
    }
    unpark_all(woken);
}

/// The mutex type's last-handle hook: a mutex nobody can name any more stops being
/// kept alive by an owned list. If no wait is queued on it, it is let go at once (no
/// one could release it or see it released); a queued waiter still gets it when its
/// owner exits, so then the owner's list keeps it.
pub(crate) fn mutex_last_handle(obj: &ObjectHeader, w: &Waitable) {
    let mut off_list = None;
    {
        let mut l = w.lock();
        let State { kind, queue } = &mut *l.state;
        if !queue.is_empty() {
            return;
        }
        if let Kind::Mutex { held, recursion, listed, .. } = kind {
            *held = false;
            *recursion = 0;
            if let Some(o) = listed.take() {
                off_list = o.disown(obj);
            }
        }
    }
    drop(off_list);
}

/// The test hook behind `Thread::set_mutex_recursion`.
pub(crate) fn set_recursion(w: &Waitable, who: &Owner, n: u32) -> Result<()> {
    let mut l = w.lock();
    let owned = l.state.kind.owned_by(who);
    match &mut l.state.kind {
        Kind::Mutex { recursion, .. } if owned => {
            *recursion = n;
            Ok(())
        }
        Kind::Mutex { .. } => Err(Error::NotOwner),
        _ => Err(Error::InvalidHandle),
    }
}

/// Whether `who` owns the mutex `w` (a precheck for `SignalObjectAndWait`).
pub(crate) fn owns(w: &Waitable, who: &Owner) -> bool {
    w.lock().state.kind.owned_by(who)
}

/// A process or thread has ended: signalled for good, every waiter released.
pub(crate) fn signal_once(obj: &ObjectHeader, w: &Waitable) {
    let mut woken = Woken::new();
    {
        let mut g = lock_signal(obj, w);
        if let Kind::Once { signaled } = &mut g.locked.state.kind {
            *signaled = true;
        }
        let all = g.all.is_some();
        wake(obj, &mut g.locked.state, all, &mut woken);
    }
    unpark_all(woken);
}

/// The thread `who` exits: its waits end with ACCESS_DENIED, then every mutex it owns
/// is abandoned and handed to its next waiter. False if it had already exited; else
/// `first` runs first, under the owner's lock (the thread's exit code is stored there).
pub(crate) fn exit(who: &Arc<Owner>, first: impl FnOnce()) -> bool {
    let (owned, waits, apcs) = {
        let mut s = lock(&who.state);
        if s.exited {
            return false;
        }
        first();
        s.exited = true;
        // Release: pairs with `is_exited`.
        who.exited.store(true, Ordering::Release);
        (std::mem::take(&mut s.owned), std::mem::take(&mut s.waits), std::mem::take(&mut s.apcs))
    };
    // Queued APCs are dropped unrun (their closures' captures are released here,
    // outside every lock).
    drop(apcs);
    for block in &waits {
        if block.decide(INTERRUPTED) {
            block.wake();
        }
    }
    for m in &owned {
        let Some(w) = waitable(m) else { continue };
        let mut woken = Woken::new();
        let gone;
        {
            let mut g = lock_signal(m, w);
            let Kind::Mutex { held, recursion, abandoned, listed } = &mut g.locked.state.kind else {
                continue;
            };
            if !listed.as_ref().is_some_and(|l| Arc::ptr_eq(l, who)) {
                continue;
            }
            // Off the list; abandoned if it is held (by us: held means owned by `listed`).
            gone = listed.take();
            if *held {
                *held = false;
                *recursion = 0;
                *abandoned = true;
            }
            let all = g.all.is_some();
            wake(m, &mut g.locked.state, all, &mut woken);
        }
        drop(gone);
        unpark_all(woken);
    }
    drop(waits);
    drop(owned);
    true
}

/// Undoes an acquisition a wait made but will not report (a `SignalObjectAndWait`
/// whose signal failed after its wait was satisfied): through the normal signal paths.
fn undo(obj: &ObjectHeader, who: &Owner, was_abandoned: bool, pulsed: bool) {
    let Some(w) = waitable(obj) else { return };
    let mut woken = Woken::new();
    {
        let mut g = lock_signal(obj, w);
        let all = g.all.is_some();
        let owned = g.locked.state.kind.owned_by(who);
        match &mut g.locked.state.kind {
            // Set again since the pulse: the set stands, and the pulse's grant goes to
            // nobody (a waiter queued now would have taken the set already).
            Kind::Event { manual: false, signaled: true } if pulsed => return,
            Kind::Event { manual: false, .. } if pulsed => {
                // A pulse's grant goes to the next waiter queued now, else to nobody.
                pulse(obj, &mut g.locked.state, all, &mut woken);
                drop(g);
                unpark_all(woken);
                return;
            }
            Kind::Event { manual: false, signaled } => *signaled = true,
            Kind::Semaphore { count, .. } => *count += 1,
            Kind::Mutex { held, recursion, abandoned, .. } => {
                if owned {
                    *recursion -= 1;
                    if *recursion == 0 {
                        *held = false;
                        *abandoned = was_abandoned;
                    }
                }
            }
            Kind::Event { manual: true, .. } | Kind::Once { .. } => return,
        }
        wake(obj, &mut g.locked.state, all, &mut woken);
    }
    unpark_all(woken);
}

/// What `SignalObjectAndWait` does to its first object.
pub(crate) enum SignalOp {
    Event,
    Semaphore,
    Mutex,
}

/// `SignalObjectAndWait`: queues on `target` first, then signals `signal`, then checks
/// `target` — so no waiter can come between the signal and the wait. A signal that fails
/// (TOO_MANY_POSTS) undoes an acquisition the wait may already have been given.
pub(crate) fn signal_and_wait(
    ctx: &WaitContext,
    signal: (&ObjectHeader, SignalOp),
    target: &ObjRef,
    timeout: Option<Duration>,
    alertable: bool,
) -> Result<WaitStatus> {
    let who = &ctx.owner;
    let (sig_obj, op) = signal;
    let Some(sig_w) = waitable(sig_obj) else { return Err(Error::InvalidHandle) };
    if matches!(op, SignalOp::Mutex) && !owns(sig_w, who) {
        return Err(Error::NotOwner);
    }
    let Some(w) = waitable(target) else {
        // Always signalled: the wait is satisfied at once.
        do_signal(sig_obj, sig_w, &op, who)?;
        return Ok(WaitStatus::Object(0));
    };
    w.lock().state.kind.check_limit(who)?;
    let claimed = ctx.claim();
    let block = &claimed.block;
    prepare(block, std::slice::from_ref(target), thread_wakeup());
    register(who, block)?;
    w.lock().state.enqueue(block, 0, false);
    let signalled = do_signal(sig_obj, sig_w, &op, who);
    let code = match &signalled {
        Ok(()) => {
            // The check of "queue then check", after our own signal; then, the object
            // checked first, the APCs.
            let mut woken = Woken::new();
            wake_any(target, &mut w.lock().state, &mut woken);
            unpark_all(woken);
            if alertable {
                arm_alert(who, block);
            }
            sleep(block, timeout, &ctx.time)
        }
        // The wait is not performed; if it was satisfied meanwhile, it is undone below.
        Err(_) => {
            if block.decide(TIMEOUT) {
                TIMEOUT
            } else {
                block.status.load(Ordering::Acquire)
            }
        }
    };
    leave(block, std::slice::from_ref(target), false, code);
    if let Err(e) = signalled {
        if let Some(g) = grant(code) {
            undo(target, who, g.abandoned, g.pulsed.is_some());
        }
        return Err(e);
    }
    outcome(code)
}

fn do_signal(obj: &ObjectHeader, w: &Waitable, op: &SignalOp, who: &Owner) -> Result<()> {
    match op {
        SignalOp::Event => {
            set_event(obj, w);
            Ok(())
        }
        SignalOp::Semaphore => release_semaphore(obj, w, 1).map(|_| ()),
        SignalOp::Mutex => release_mutex(obj, w, who),
    }
}

/// A snapshot of an object's kind state, for the query calls.
pub(crate) fn query<R>(w: &Waitable, f: impl FnOnce(&Kind) -> R) -> R {
    f(&w.lock().state.kind)
}
