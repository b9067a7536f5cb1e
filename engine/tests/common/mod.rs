//! Helpers shared by the engine's integration tests (public API only).

#![allow(dead_code)]

use std::fmt::Debug;

use kobj::{Access, DuplicateOptions, Handle, Kernel, Process, ProcessOptions, SecurityAttributes};

/// How long a test waits for another host thread before it fails (a hang becomes a
/// failure). Miri runs a thousand times slower, and a real-time limit there only fails
/// a test whose threads are still working.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(if cfg!(miri) { 3_600 } else { 10 });

/// The Win32 codes SPEC §2 lists ("Errors carry the Win32 codes").
pub const SPEC_CODES: [u32; 14] = [2, 3, 5, 6, 8, 80, 87, 123, 131, 183, 206, 298, 1314, 1450];

pub const FILE_NOT_FOUND: u32 = 2;
pub const ACCESS_DENIED: u32 = 5;
pub const INVALID_HANDLE: u32 = 6;
pub const FILE_EXISTS: u32 = 80;
pub const INVALID_PARAMETER: u32 = 87;
pub const NEGATIVE_SEEK: u32 = 131;
pub const TOO_MANY_POSTS: u32 = 298;
pub const NOT_OWNER: u32 = 288;
pub const NO_SYSTEM_RESOURCES: u32 = 1450;

/// The six pseudo-handles -1 ..= -6 (SPEC §3 "Handles and tables").
pub fn pseudo_handles() -> impl Iterator<Item = Handle> {
    (usize::MAX - 5..=usize::MAX).map(Handle::from_raw)
}

/// The Win32 code of a result that must be an error.
#[track_caller]
pub fn code<T: Debug>(r: kobj::Result<T>) -> u32 {
    match r {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.code(),
    }
}

/// A root process whose token may start children with another token or in another
/// session (AssignPrimaryToken and Tcb; SPEC §3 "Security").
pub fn privileged_root(kernel: &Kernel) -> Process {
    let token = kobj::Token::default()
        .with_privilege(kobj::Privilege::AssignPrimaryToken)
        .with_privilege(kobj::Privilege::Tcb);
    kernel
        .create_process(ProcessOptions { token: Some(token), ..Default::default() })
        .expect("create a root process")
}

/// A root process on `kernel`.
pub fn root(kernel: &Kernel) -> Process {
    kernel.create_process(ProcessOptions::default()).expect("create a root process")
}

/// A new unnamed manual-reset event, unsignalled.
pub fn event(p: &Process) -> Handle {
    p.create_event(None, true, false, None).expect("create an event").handle
}

/// A new unnamed event whose handle is inheritable.
pub fn inheritable_event(p: &Process) -> Handle {
    let sa = SecurityAttributes { inherit_handle: true, ..Default::default() };
    p.create_event(Some(&sa), true, false, None).expect("create an event").handle
}

/// A duplicate of `h` in the same process, with the same access.
pub fn dup_same(p: &Process, h: Handle) -> Handle {
    p.duplicate_handle(
        Handle::CURRENT_PROCESS,
        h,
        Some(Handle::CURRENT_PROCESS),
        Access::empty(),
        false,
        DuplicateOptions::SAME_ACCESS,
    )
    .expect("duplicate")
    .expect("a target handle")
}

/// Duplicates `h` of `from` into `to` (SAME_ACCESS), with the calls made as `from`.
pub fn dup_into(from: &Process, h: Handle, to: &Process) -> Handle {
    let target = from.open_process(Access::PROCESS_DUP_HANDLE, false, to.id()).expect("open the target");
    let d = from
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            h,
            Some(target),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )
        .expect("duplicate")
        .expect("a target handle");
    from.close_handle(target).unwrap();
    d
}

/// A duplicate of `h` in the same process with exactly `access` (not SAME_ACCESS).
pub fn dup_with(p: &Process, h: Handle, access: Access) -> Handle {
    p.duplicate_handle(
        Handle::CURRENT_PROCESS,
        h,
        Some(Handle::CURRENT_PROCESS),
        access,
        false,
        DuplicateOptions::empty(),
    )
    .expect("duplicate")
    .expect("a target handle")
}

/// Terminates every process (ignoring "already terminated"), drops the values and checks
/// that `kernel.object_count()` is back at `base` (SPEC §3 "Objects and lifetime":
/// object_count "falls back to what it was once every process that created objects is
/// gone").
#[track_caller]
pub fn finish(kernel: &Kernel, base: usize, processes: Vec<Process>) {
    for p in &processes {
        let _ = p.terminate(0);
        assert_eq!(p.handle_count(), 0, "a terminated process holds no handles");
    }
    drop(processes);
    assert_eq!(kernel.object_count(), base, "object_count back to its start value");
}

/// A small deterministic PRNG (xorshift64*), so failures replay.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// `query_mutex` as a tuple: (owner, recursion, abandoned).
pub fn mutex_info(p: &Process, h: Handle) -> (Option<u32>, u32, bool) {
    let kobj::MutexInfo { owner, recursion, abandoned } = p.query_mutex(h).expect("query_mutex");
    (owner, recursion, abandoned)
}

/// `query_semaphore` as a tuple: (count, maximum).
pub fn sem_info(p: &Process, h: Handle) -> (i32, i32) {
    let kobj::SemaphoreInfo { count, maximum } = p.query_semaphore(h).expect("query_semaphore");
    (count, maximum)
}

/// `query_event` as a tuple: (manual_reset, signaled).
pub fn event_info(p: &Process, h: Handle) -> (bool, bool) {
    let kobj::EventInfo { manual_reset, signaled } = p.query_event(h).expect("query_event");
    (manual_reset, signaled)
}

/// A kernel on `Clock::Manual` (SPEC §7.5): time moves only by `advance_clock`.
pub fn manual_kernel() -> Kernel {
    Kernel::builder().clock(kobj::Clock::Manual).build()
}

/// Spins (yielding, never sleeping) until `kernel.next_deadline()` is `want`: under
/// `Clock::Manual` a blocked timed wait shows there once it is queued, so a test knows a
/// background wait is in place before it advances the clock. Gives up after 10 s of real
/// time.
#[track_caller]
pub fn await_deadline(kernel: &Kernel, want: Option<std::time::Duration>) {
    let start = std::time::Instant::now();
    loop {
        let now = kernel.next_deadline();
        if now == want {
            return;
        }
        assert!(start.elapsed() < PATIENCE, "next_deadline stayed {now:?}, expected {want:?}");
        std::thread::yield_now();
    }
}

/// `query_waitable_timer` as a tuple: (manual_reset, signaled, remaining).
pub fn timer_info(p: &Process, h: Handle) -> (bool, bool, Option<std::time::Duration>) {
    let kobj::TimerInfo { manual_reset, signaled, remaining } =
        p.query_waitable_timer(h).expect("query_waitable_timer");
    (manual_reset, signaled, remaining)
}

/// Runs `f` on a host thread of its own and returns what it returns, or panics if it has
/// not returned within 10 s of real time (the thread is left behind): a call that must
/// not block fails its test instead of hanging the run.
#[track_caller]
pub fn within_10s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(v) => v,
        Err(_) => panic!("{what}: still blocked after 10 s"),
    }
}

/// The result of a wait made on another host thread ([`spawn_wait`]).
pub type Reply = std::sync::mpsc::Receiver<kobj::Result<kobj::WaitStatus>>;

/// Starts `t.wait_for_multiple_objects(handles, all, timeout)` on a host thread of the
/// scope; its result arrives on the returned channel.
pub fn spawn_wait<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    t: &kobj::Thread,
    handles: &[Handle],
    all: bool,
    timeout: Option<std::time::Duration>,
) -> Reply {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = t.clone();
    let handles = handles.to_vec();
    s.spawn(move || {
        let _ = tx.send(t.wait_for_multiple_objects(&handles, all, timeout));
    });
    rx
}

/// What another host thread sent (bounded: one that never answers fails the test).
#[track_caller]
pub fn reply<T: Debug>(rx: &std::sync::mpsc::Receiver<T>) -> T {
    rx.recv_timeout(PATIENCE).expect("the waiter should have returned")
}

/// Drops the thread values first (each keeps its process alive), then terminates and
/// drops the processes and checks `object_count` is back at `base`.
#[track_caller]
pub fn done(k: &Kernel, base: usize, threads: Vec<kobj::Thread>, processes: Vec<Process>) {
    drop(threads);
    finish(k, base, processes);
}
