//! Threads (SPEC §7.2) and the wait calls made as one (§7.3–7.4).
//!
//! A guest thread is an object of type "Thread" whose payload carries its waiting
//! equipment (`wait::WaitContext`: the owner identity mutexes record, and a wait block
//! made with the thread). Its process lists its live threads; the thread object does not
//! refer back to its process object (a [`Thread`] value holds both), so the two never
//! keep each other alive.

use std::cell::Cell;
use std::fmt;
use std::time::Duration;

use smallvec::SmallVec;

use crate::access::Access;
use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::ids::ClientIds;
use crate::object::{self, ObjRef, ObjectHeader};
use crate::objects::{Event, Mutex, Semaphore};
use crate::process::{inherit_flag, Created, Process, ProcessObject};
use crate::security::{self, SecurityAttributes};
use crate::sync::{epoch, lock, Arc, AtomicU32, Ordering};
use crate::time::{Due, Routine};
use crate::wait::{self, Kind, SignalOp, WaitContext, WaitStatus, Waitable, MAXIMUM_WAIT_OBJECTS};

/// The payload of a thread object.
pub(crate) struct ThreadObject {
    pub(crate) tid: u32,
    pub(crate) pid: u32,
    pub(crate) ctx: WaitContext,
    /// Signalled for good when the thread exits.
    pub(crate) signal: Waitable,
    pub(crate) exit_code: AtomicU32,
    /// The id space `tid` is reserved in, until this payload is dropped with its block.
    ids: Arc<ClientIds>,
}

impl fmt::Debug for ThreadObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadObject").field("tid", &self.tid).field("pid", &self.pid).finish()
    }
}

impl Drop for ThreadObject {
    fn drop(&mut self) {
        // The block is being freed: `open_thread` can no longer find it (its slot held
        // no reference), and the id may be handed out again.
        self.ids.release(self.tid);
    }
}

impl ThreadObject {
    /// Makes a thread object for process `pid` and publishes its id.
    pub(crate) fn create(
        kernel: &crate::kernel::KernelShared,
        pid: u32,
        security: crate::security::SecurityRef,
    ) -> Result<ObjRef> {
        let tid = kernel.ids.reserve()?;
        let body = ThreadObject {
            tid,
            pid,
            ctx: WaitContext::new(tid, Arc::clone(&kernel.time)),
            signal: Waitable::new(Kind::Once { signaled: false }),
            exit_code: AtomicU32::new(0),
            ids: Arc::clone(&kernel.ids),
        };
        let object =
            object::allocate(kernel.domain(), &kernel.builtin.thread, security, None, body).into_pointer();
        kernel.ids.publish_thread(tid, &object);
        Ok(object)
    }

    /// `ExitThread` without the process's part: abandons the thread's mutexes, ends its
    /// waits, then signals the thread object. False if it had already exited.
    pub(crate) fn exit(&self, header: &ObjectHeader, code: u32) -> bool {
        // The code is stored by the one exit that wins, before anything can see the
        // thread as exited (two racing exits: the loser's code is not kept).
        if !wait::exit(&self.ctx.owner, || self.exit_code.store(code, Ordering::Relaxed)) {
            return false;
        }
        wait::signal_once(header, &self.signal);
        true
    }
}

/// The threads of one process.
#[derive(Default)]
pub(crate) struct ThreadList {
    /// Threads that have not exited (a pointer reference each).
    pub(crate) live: Vec<ObjRef>,
    /// Set when the process ends: no thread may be added.
    pub(crate) ended: bool,
}

/// One guest thread, to call as: the identity that owns mutexes and waits.
///
/// `Clone + Send + Sync`. A `Thread` value holds its thread object and its process (as
/// a [`Process`] value does, it keeps the process in use).
#[derive(Clone)]
pub struct Thread {
    object: ObjRef,
    process: Process,
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread").field("tid", &self.id()).field("pid", &self.process.id()).finish()
    }
}

/// A new thread and the creating process's handle to it.
#[derive(Debug)]
pub struct NewThread {
    /// The thread, to call as.
    pub thread: Thread,
    /// A THREAD_ALL_ACCESS handle to it, in the process's table.
    pub handle: Handle,
}

/// A reference to each of a wait's objects: a wait that blocks holds its own (closing a
/// handle does not end it).
fn take_refs(headers: &[&ObjectHeader]) -> Result<SmallVec<[ObjRef; 4]>> {
    headers.iter().map(|h| h.try_ref().ok_or(Error::InvalidHandle)).collect()
}

/// The future [`Thread::wait_async`] returns: `Future<Output = Result<WaitStatus>>`,
/// `Send + 'static`, cancel-safe (dropping it undoes what it was granted).
#[must_use = "a wait future does nothing unless polled; dropping it cancels the wait"]
pub struct WaitFuture {
    /// Keeps the thread and its process in use, as a `Thread` value does.
    _thread: Thread,
    state: FutureState,
}

enum FutureState {
    /// Waiting, or about to (the first poll queues it).
    Waiting(wait::AsyncWait),
    /// Decided without waiting (an error, or objects ready at once).
    Ready(Result<WaitStatus>),
    /// The output has been returned.
    Done,
}

impl fmt::Debug for WaitFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            FutureState::Waiting(w) => format!("{w:?}"),
            FutureState::Ready(r) => format!("Ready({r:?})"),
            FutureState::Done => "Done".to_owned(),
        };
        f.debug_struct("WaitFuture").field("thread", &self._thread).field("state", &state).finish()
    }
}

impl std::future::Future for WaitFuture {
    type Output = Result<WaitStatus>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        // Every field is `Unpin`, so the future is too.
        let this = self.get_mut();
        let out = match &mut this.state {
            FutureState::Waiting(w) => match w.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(out) => out,
            },
            FutureState::Ready(_) => match std::mem::replace(&mut this.state, FutureState::Done) {
                FutureState::Ready(out) => return Poll::Ready(out),
                _ => unreachable!("matched Ready above"),
            },
            // Polled again after it completed: an error, not a panic.
            FutureState::Done => return Poll::Ready(Err(Error::InvalidParameter)),
        };
        // Completed: the wait is over, nothing to undo at drop.
        this.state = FutureState::Done;
        Poll::Ready(out)
    }
}

/// `query_event`'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventInfo {
    /// Manual-reset (true) or auto-reset.
    pub manual_reset: bool,
    /// Signalled now.
    pub signaled: bool,
}

/// `query_semaphore`'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SemaphoreInfo {
    /// The current count.
    pub count: i32,
    /// The maximum count.
    pub maximum: i32,
}

/// `query_mutex`'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MutexInfo {
    /// The owning thread's id.
    pub owner: Option<u32>,
    /// How many times the owner holds it (0 when free).
    pub recursion: u32,
    /// Free, and its last owner exited without releasing it.
    pub abandoned: bool,
}

impl Thread {
    pub(crate) fn new(object: ObjRef, process: Process) -> Thread {
        Thread { object, process }
    }

    fn inner(&self) -> &ThreadObject {
        match self.object.body::<ThreadObject>() {
            Some(t) => t,
            None => unreachable!("a Thread value holds a thread object"),
        }
    }

    /// The thread id (from the same id space as process ids).
    #[must_use]
    pub fn id(&self) -> u32 {
        self.inner().tid
    }

    /// The process the thread belongs to.
    #[must_use]
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// True once the thread has exited (or its process was terminated).
    #[must_use]
    pub fn has_exited(&self) -> bool {
        self.inner().ctx.owner.is_exited()
    }

    /// The code given to `exit` (the process's exit code if it was terminated); 0 while
    /// the thread runs.
    #[must_use]
    pub fn exit_code(&self) -> u32 {
        self.inner().exit_code.load(Ordering::Relaxed)
    }

    /// ACCESS_DENIED for calls made as an exited thread or a thread of a terminated
    /// process.
    fn alive(&self) -> Result<&ThreadObject> {
        self.process.alive()?;
        let t = self.inner();
        if t.ctx.owner.is_exited() {
            return Err(Error::AccessDenied);
        }
        Ok(t)
    }

    /// `ExitThread`: every mutex the thread owns is abandoned, then the thread object is
    /// signalled; the last thread of a process to exit terminates it with `exit_code`.
    /// ACCESS_DENIED if the thread has already exited.
    pub fn exit(&self, exit_code: u32) -> Result<()> {
        let t = self.inner();
        if !t.exit(&self.object, exit_code) {
            return Err(Error::AccessDenied);
        }
        let last = {
            let p = self.process.inner();
            let mut threads = lock(&p.threads);
            let gone = threads.live.iter().position(|o| std::ptr::eq(o.as_ptr(), self.object.as_ptr()));
            let gone = gone.map(|i| threads.live.swap_remove(i));
            let last = threads.live.is_empty() && !threads.ended;
            if last {
                threads.ended = true;
            }
            drop(threads);
            drop(gone);
            last
        };
        if last {
            // Already terminated by someone else: nothing more to do.
            let _ = self.process.terminate(exit_code);
        }
        Ok(())
    }

    /// `CreateMutex` as this thread: `initial_owner` makes this thread the owner
    /// (recursion 1), unless the name already exists.
    pub fn create_mutex(
        &self,
        sa: Option<&SecurityAttributes>,
        initial_owner: bool,
        name: Option<&str>,
    ) -> Result<Created> {
        let t = self.alive()?;
        let who = &t.ctx.owner;
        let made_owned = Cell::new(false);
        let ty = &self.process.kernel().builtin.mutex;
        let created = self.process.create_with(ty, sa, name, || {
            made_owned.set(initial_owner);
            // Listed as `who`'s from the start; on `who`'s list once it exists (below).
            let listed = initial_owner.then(|| Arc::clone(who));
            Ok(Mutex {
                w: Waitable::new(Kind::Mutex {
                    held: initial_owner,
                    recursion: u32::from(initial_owner),
                    abandoned: false,
                    listed,
                }),
            })
        })?;
        if made_owned.get() {
            // Record the ownership with the thread, so its exit abandons the mutex.
            let guard = epoch::pin();
            if let Ok(obj) = self.process.lookup(created.handle, ty.info_ptr(), Access::empty(), &guard) {
                if let Some(m) = obj.body_of(ty) {
                    wait::take_initial_ownership(obj, &m.w, who);
                }
            }
        }
        Ok(created)
    }

    /// `SetWaitableTimer` with a completion routine: as
    /// [`Process::set_waitable_timer`], and at each expiry `routine` is queued as an APC
    /// to this thread — it runs when this thread next waits alertably (SPEC §7.5), never
    /// if the thread has exited — and is given the expiry's wall time (the kernel's
    /// clock: see [`Kernel::wall_time`](crate::Kernel::wall_time)). A later set of the timer replaces the routine (or
    /// removes it, through `Process::set_waitable_timer`); a cancel stops further calls
    /// but leaves queued ones queued. Needs TIMER_MODIFY_STATE.
    pub fn set_waitable_timer_apc(
        &self,
        h: Handle,
        due: Due,
        period: Duration,
        routine: impl Fn(std::time::SystemTime) + Send + Sync + 'static,
    ) -> Result<()> {
        let t = self.alive()?;
        let routine = Routine { thread: Arc::clone(&t.ctx.owner), run: std::sync::Arc::new(routine) };
        self.process.set_timer(h, due, period, Some(routine))
    }

    /// `ReleaseMutex`: needs no particular access right, but the handle must name a
    /// mutex (INVALID_HANDLE); NOT_OWNER unless this thread owns it.
    pub fn release_mutex(&self, h: Handle) -> Result<()> {
        let t = self.alive()?;
        let ty = &self.process.kernel().builtin.mutex;
        let guard = epoch::pin();
        let obj = self.process.lookup(h, ty.info_ptr(), Access::empty(), &guard)?;
        let m = obj.body_of(ty).ok_or(Error::InvalidHandle)?;
        wait::release_mutex(obj, &m.w, &t.ctx.owner)
    }

    /// Sets the recursion count of a mutex this thread holds: a test-only hook that lets
    /// a test reach the `i32::MAX` limit without 2^31 waits. NOT_OWNER unless this thread
    /// holds it; `recursion` must be 1..=`i32::MAX` (INVALID_PARAMETER).
    #[doc(hidden)]
    pub fn set_mutex_recursion(&self, h: Handle, recursion: u32) -> Result<()> {
        let t = self.alive()?;
        if recursion == 0 || recursion > i32::MAX as u32 {
            return Err(Error::InvalidParameter);
        }
        let ty = &self.process.kernel().builtin.mutex;
        let guard = epoch::pin();
        let obj = self.process.lookup(h, ty.info_ptr(), Access::empty(), &guard)?;
        let m = obj.body_of(ty).ok_or(Error::InvalidHandle)?;
        wait::set_recursion(&m.w, &t.ctx.owner, recursion)
    }

    /// `WaitForSingleObject`. -1 and -2 are this thread's process and this thread.
    pub fn wait_for_single_object(&self, h: Handle, timeout: Option<Duration>) -> Result<WaitStatus> {
        self.wait(std::slice::from_ref(&h), false, timeout, true, false)
    }

    /// `WaitForSingleObjectEx`: with `alertable`, APCs queued to this thread run in the
    /// wait (SPEC §7.5; see [`wait_for_multiple_objects_ex`](Self::wait_for_multiple_objects_ex)).
    pub fn wait_for_single_object_ex(
        &self,
        h: Handle,
        timeout: Option<Duration>,
        alertable: bool,
    ) -> Result<WaitStatus> {
        self.wait(std::slice::from_ref(&h), false, timeout, true, alertable)
    }

    /// `WaitForMultipleObjects`: 1 to 64 handles; any (lowest signalled index wins) or
    /// all (atomically). Pseudo-handles are INVALID_HANDLE here.
    pub fn wait_for_multiple_objects(
        &self,
        handles: &[Handle],
        wait_all: bool,
        timeout: Option<Duration>,
    ) -> Result<WaitStatus> {
        self.wait(handles, wait_all, timeout, false, false)
    }

    /// `WaitForMultipleObjectsEx`. An `alertable` wait checks its objects first (if they
    /// are ready it takes them, and queued APCs stay queued); otherwise every APC queued
    /// to this thread — before or during the wait — runs here, on the calling host
    /// thread, and the wait returns `IoCompletion` (even if an APC signalled an object).
    pub fn wait_for_multiple_objects_ex(
        &self,
        handles: &[Handle],
        wait_all: bool,
        timeout: Option<Duration>,
        alertable: bool,
    ) -> Result<WaitStatus> {
        self.wait(handles, wait_all, timeout, false, alertable)
    }

    /// `SleepEx`: waits for `timeout` (`None`: forever), returning `Timeout`; with
    /// `alertable`, queued APCs (or ones queued during the sleep) run here and it
    /// returns `IoCompletion` instead.
    pub fn sleep_ex(&self, timeout: Option<Duration>, alertable: bool) -> Result<WaitStatus> {
        let t = self.alive()?;
        if timeout == Some(Duration::ZERO) {
            // Sleep(0): gives up the rest of the time slice.
            std::thread::yield_now();
        }
        self.block(&t.ctx, SmallVec::new(), false, timeout, alertable)
    }

    /// Runs the APCs queued to this thread, first in first out, until none is left
    /// (APCs an APC queues run too).
    fn run_apcs(&self) {
        let owner = &self.inner().ctx.owner;
        while let Some(apc) = wait::take_apc(owner) {
            apc();
        }
    }

    fn wait(
        &self,
        handles: &[Handle],
        all: bool,
        timeout: Option<Duration>,
        pseudo: bool,
        alertable: bool,
    ) -> Result<WaitStatus> {
        let t = self.alive()?;
        let objects = {
            let guard = epoch::pin();
            let mut headers = SmallVec::new();
            self.resolve_all(handles, all, pseudo, &guard, &mut headers)?;
            // The cheap path: under the pin, no references taken.
            if let Some(status) = wait::try_now(&t.ctx.owner, &headers, all)? {
                return Ok(status);
            }
            take_refs(&headers)?
        };
        self.block(&t.ctx, objects, all, timeout, alertable)
    }

    /// A wait past its first try of the objects (a sleep: none): an alertable one runs
    /// the APCs already queued instead; a zero timeout ends here; else the blocking
    /// wait, after which the APCs it was woken for run on this host thread (its object
    /// references released first).
    fn block(
        &self,
        ctx: &WaitContext,
        objects: SmallVec<[ObjRef; 4]>,
        all: bool,
        timeout: Option<Duration>,
        alertable: bool,
    ) -> Result<WaitStatus> {
        if alertable && wait::has_apc(&ctx.owner) {
            self.run_apcs();
            return Ok(WaitStatus::IoCompletion);
        }
        if timeout == Some(Duration::ZERO) {
            return Ok(WaitStatus::Timeout);
        }
        let status = wait::wait(ctx, &objects, all, timeout, alertable)?;
        if status == WaitStatus::IoCompletion {
            drop(objects);
            self.run_apcs();
        }
        Ok(status)
    }

    /// The checks of SPEC §7.3 in order: the count, each handle valid and with
    /// SYNCHRONIZE, then wait-all duplicates. The objects, valid under `guard`, go in
    /// `headers` (the caller's: a vector returned through a `Result` is copied, and
    /// the copy's loads stall on the stores that just filled it).
    #[inline(always)]
    fn resolve_all<'g>(
        &'g self,
        handles: &[Handle],
        all: bool,
        pseudo: bool,
        guard: &'g epoch::Guard,
        headers: &mut SmallVec<[&'g ObjectHeader; 4]>,
    ) -> Result<()> {
        if handles.is_empty() || handles.len() > MAXIMUM_WAIT_OBJECTS {
            return Err(Error::InvalidParameter);
        }
        for &h in handles {
            headers.push(self.resolve_for_wait(h, pseudo, guard)?);
        }
        if all {
            for (i, a) in headers.iter().enumerate() {
                if headers[..i].iter().any(|b| std::ptr::eq(*a, *b)) {
                    return Err(Error::InvalidParameter);
                }
            }
        }
        Ok(())
    }

    /// An async `WaitForMultipleObjects`: a future that completes as the blocking call
    /// would return, following every rule of SPEC §7.3 (the handles are checked now;
    /// an error is the future's output). It works on any executor; a pending future
    /// whose thread exits, or whose process is terminated, completes with
    /// ACCESS_DENIED.
    ///
    /// Cancel-safe: dropping the future before it completes leaves every object as if
    /// the wait had never been made — an acquisition granted to it but not yet returned
    /// is undone through the normal paths (a semaphore released, a mutex released to
    /// its next waiter with its abandoned state restored, an auto-reset event set again,
    /// a pulse handed to the next waiter queued at the time of the drop, else to
    /// nobody). Timeouts come from the caller's runtime, which drops the future.
    ///
    /// ```
    /// use kobj::{Kernel, ProcessOptions, WaitStatus};
    ///
    /// let kernel = Kernel::new();
    /// let p = kernel.create_process(ProcessOptions::default()).unwrap();
    /// let e = p.create_event(None, false, false, None).unwrap().handle;
    /// let waiting = p.main_thread().wait_async(&[e], false);
    /// p.set_event(e).unwrap();
    /// assert_eq!(futures_lite_block_on(waiting), Ok(WaitStatus::Object(0)));
    /// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl Wake for Unpark { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
    /// #     let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(&waker)) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// ```
    pub fn wait_async(&self, handles: &[Handle], wait_all: bool) -> WaitFuture {
        let objects = self.alive().and_then(|_| {
            let guard = epoch::pin();
            let mut headers = SmallVec::new();
            self.resolve_all(handles, wait_all, false, &guard, &mut headers)
                .and_then(|()| take_refs(&headers))
        });
        let state = match objects {
            Ok(objects) => FutureState::Waiting(wait::AsyncWait::new(
                Arc::clone(&self.inner().ctx.owner),
                objects,
                wait_all,
            )),
            Err(e) => FutureState::Ready(Err(e)),
        };
        WaitFuture { _thread: self.clone(), state }
    }

    /// A handle's object for a wait: valid (INVALID_HANDLE), with SYNCHRONIZE
    /// (ACCESS_DENIED). With `pseudo`, -1 and -2 name the process and this thread.
    fn resolve_for_wait<'g>(
        &'g self,
        h: Handle,
        pseudo: bool,
        guard: &'g epoch::Guard,
    ) -> Result<&'g ObjectHeader> {
        if h.is_pseudo() {
            return match h {
                Handle::CURRENT_PROCESS if pseudo => Ok(self.process.header()),
                Handle::CURRENT_THREAD if pseudo => Ok(&self.object),
                _ => Err(Error::InvalidHandle),
            };
        }
        let s = self.process.resolve(h, guard)?;
        if !s.access.contains(Access::SYNCHRONIZE) {
            return Err(Error::AccessDenied);
        }
        Ok(s.object)
    }

    /// `SignalObjectAndWait`: signals `signal` (sets an event, releases a semaphore by
    /// one, releases a mutex) and waits on `wait` as one step. Both handles are checked
    /// first; a signal that fails (TOO_MANY_POSTS, NOT_OWNER) performs no wait.
    pub fn signal_object_and_wait(
        &self,
        signal: Handle,
        wait: Handle,
        timeout: Option<Duration>,
    ) -> Result<WaitStatus> {
        self.signal_object_and_wait_ex(signal, wait, timeout, false)
    }

    /// `SignalObjectAndWait` with its `bAlertable`: after the signal, an alertable wait
    /// runs queued APCs and returns `IoCompletion` (as
    /// [`wait_for_multiple_objects_ex`](Self::wait_for_multiple_objects_ex)).
    pub fn signal_object_and_wait_ex(
        &self,
        signal: Handle,
        wait: Handle,
        timeout: Option<Duration>,
        alertable: bool,
    ) -> Result<WaitStatus> {
        let t = self.alive()?;
        let builtin = &self.process.kernel().builtin;
        let guard = epoch::pin();
        let s = self.process.resolve(signal, &guard)?;
        let op = if s.object.is_type(builtin.event.info_ptr()) {
            SignalOp::Event
        } else if s.object.is_type(builtin.semaphore.info_ptr()) {
            SignalOp::Semaphore
        } else if s.object.is_type(builtin.mutex.info_ptr()) {
            SignalOp::Mutex
        } else {
            return Err(Error::InvalidHandle);
        };
        let needs = match op {
            SignalOp::Event => Access::EVENT_MODIFY_STATE,
            SignalOp::Semaphore => Access::SEMAPHORE_MODIFY_STATE,
            SignalOp::Mutex => Access::empty(),
        };
        if !s.access.contains(needs) {
            return Err(Error::AccessDenied);
        }
        let signal_obj = s.object.try_ref().ok_or(Error::InvalidHandle)?;
        let target = self.resolve_for_wait(wait, true, &guard)?.try_ref().ok_or(Error::InvalidHandle)?;
        drop(guard);
        let status = wait::signal_and_wait(&t.ctx, (&signal_obj, op), &target, timeout, alertable)?;
        if status == WaitStatus::IoCompletion {
            self.run_apcs();
        }
        Ok(status)
    }
}

impl Process {
    /// The primary thread every process has from its creation.
    #[must_use]
    pub fn main_thread(&self) -> Thread {
        match lock(&self.inner().main).clone() {
            Some(main) => Thread::new(main, self.clone()),
            // Let go only at the last handle, and this `Process` value is a handle.
            None => unreachable!("a process with a Process value has its main thread"),
        }
    }

    /// `CreateThread`: a new thread of this process, and a THREAD_ALL_ACCESS handle to
    /// it. ACCESS_DENIED once the process has ended.
    pub fn create_thread(&self, sa: Option<&SecurityAttributes>) -> Result<NewThread> {
        let me = self.alive()?;
        let security = me.security_for_new(sa);
        let object = ThreadObject::create(self.kernel(), me.pid, security)?;
        {
            let mut threads = lock(&me.threads);
            if threads.ended {
                return Err(Error::AccessDenied);
            }
            threads.live.push(object.clone());
        }
        let thread = Thread::new(object.clone(), self.clone());
        let flags = inherit_flag(sa.is_some_and(|sa| sa.inherit_handle));
        let reference = object.into_handle_unnamed();
        match me.table.insert(reference, Access::THREAD_ALL_ACCESS, flags) {
            Ok(handle) => Ok(NewThread { thread, handle }),
            Err(e) => {
                let _ = thread.exit(0);
                Err(e)
            }
        }
    }

    /// `OpenThread`: a thread by id. An id that names no thread object (never issued,
    /// or its object destroyed) is INVALID_PARAMETER; an exited thread whose object is
    /// still referenced opens.
    pub fn open_thread(&self, access: Access, inherit: bool, tid: u32) -> Result<Handle> {
        let me = self.alive()?;
        let target = self.kernel().ids.thread(tid).ok_or(Error::InvalidParameter)?;
        let rights = target.ty().rights();
        let granted = security::access_check(&target.security, &me.token, access, rights)?;
        // A thread's handle count may rise from zero: a thread has no name and its type
        // no last-handle hook.
        me.table.insert(target.into_handle_unnamed(), granted, inherit_flag(inherit))
    }

    /// `QueueUserAPC`: queues `apc` to a thread (THREAD_SET_CONTEXT; -2 names this
    /// process's main thread). It runs on that thread's own host thread, in its next
    /// alertable wait; it never runs in a non-alertable one, and is dropped unrun if the
    /// thread exits first. GEN_FAILURE if the thread has exited.
    pub fn queue_user_apc(&self, thread: Handle, apc: impl FnOnce() + Send + 'static) -> Result<()> {
        let apc: wait::Apc = Box::new(apc);
        if thread == Handle::CURRENT_THREAD {
            let main = self.main_thread();
            return wait::queue_apc(&main.inner().ctx.owner, apc);
        }
        let ty = &self.kernel().builtin.thread;
        self.with_object(ty, thread, Access::THREAD_SET_CONTEXT, |t: &ThreadObject| {
            wait::queue_apc(&t.ctx.owner, apc)
        })?
    }

    /// `PulseEvent`: satisfies the waiters waiting now (one for an auto-reset event, all
    /// for manual-reset) and leaves the event reset. Needs EVENT_MODIFY_STATE.
    pub fn pulse_event(&self, h: Handle) -> Result<()> {
        let ty = &self.kernel().builtin.event;
        let guard = epoch::pin();
        let obj = self.lookup(h, ty.info_ptr(), Access::EVENT_MODIFY_STATE, &guard)?;
        let e = obj.body_of(ty).ok_or(Error::InvalidHandle)?;
        wait::pulse_event(obj, &e.w);
        Ok(())
    }

    /// Sets (`true`: every waiter released) or resets the signal state of an object of
    /// an embedder's waitable type ([`Kernel::register_waitable_type`]). The handle must
    /// name an object of `ty` (INVALID_HANDLE) and hold `access` (ACCESS_DENIED; the
    /// embedder decides which right it takes).
    ///
    /// [`Kernel::register_waitable_type`]: crate::Kernel::register_waitable_type
    pub fn set_object_signal<P: crate::Signaled>(
        &self,
        ty: &crate::ObjectType<P>,
        h: Handle,
        access: Access,
        signaled: bool,
    ) -> Result<()> {
        let guard = epoch::pin();
        let obj = self.lookup(h, ty.info_ptr(), access, &guard)?;
        let p = obj.body_of(ty).ok_or(Error::InvalidHandle)?;
        if signaled {
            wait::set_event(obj, &p.signal().0);
        } else {
            wait::reset_event(&p.signal().0);
        }
        Ok(())
    }

    /// `NtQueryEvent`: needs EVENT_QUERY_STATE.
    pub fn query_event(&self, h: Handle) -> Result<EventInfo> {
        self.with_object(&self.kernel().builtin.event, h, Access::EVENT_QUERY_STATE, |e: &Event| EventInfo {
            manual_reset: e.manual_reset(),
            signaled: e.w.event_is_set(),
        })
    }

    /// `NtQuerySemaphore`: needs SEMAPHORE_QUERY_STATE.
    pub fn query_semaphore(&self, h: Handle) -> Result<SemaphoreInfo> {
        self.with_object(
            &self.kernel().builtin.semaphore,
            h,
            Access::SEMAPHORE_QUERY_STATE,
            |s: &Semaphore| SemaphoreInfo { count: s.count(), maximum: s.maximum() },
        )
    }

    /// `NtQueryMutant`: needs MUTEX_QUERY_STATE. An abandoned mutex shows as
    /// `owner: None, recursion: 0, abandoned: true`.
    pub fn query_mutex(&self, h: Handle) -> Result<MutexInfo> {
        self.with_object(&self.kernel().builtin.mutex, h, Access::MUTEX_QUERY_STATE, |m: &Mutex| {
            wait::query(&m.w, |k| match k {
                Kind::Mutex { recursion, abandoned, .. } => MutexInfo {
                    owner: k.mutex_owner().map(|o| o.tid),
                    recursion: *recursion,
                    abandoned: *abandoned,
                },
                _ => MutexInfo { owner: None, recursion: 0, abandoned: false },
            })
        })
    }
}

/// Ends every thread of a process being terminated (SPEC §7.2: its threads exit first,
/// abandoning their mutexes). Called once, by `terminate`.
pub(crate) fn end_threads(p: &ProcessObject, exit_code: u32) {
    let live = {
        let mut threads = lock(&p.threads);
        threads.ended = true;
        std::mem::take(&mut threads.live)
    };
    for t in &live {
        if let Some(body) = t.body::<ThreadObject>() {
            body.exit(t, exit_code);
        }
    }
}
