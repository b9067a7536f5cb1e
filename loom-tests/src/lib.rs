//! loom models of kobj's concurrent races: shared helpers.
//!
//! The models live in `tests/` (one file per structure) and exist only in a loom build:
//!
//! ```text
//! RUSTFLAGS="--cfg loom --cfg crossbeam_loom" CARGO_TARGET_DIR=target/loom \
//!     LOOM_MAX_PREEMPTIONS=2 cargo test -p kobj-loom-tests --release
//! ```
//!
//! Each drives the engine's real code (its atomics come from `engine/src/sync.rs`, which
//! re-exports loom's under `cfg(loom)`), through the public API and the hidden
//! `kobj::loom_surface`, and ends with `loom_surface::finish`: the epoch flushed, every
//! object block freed exactly once, no last-handle work run twice, `object_count` zero.
//! See README.md.

#![cfg(loom)]

use std::cell::RefCell;

use kobj::{Access, GenericMapping, Handle, Kernel, ObjectType, Process, ProcessOptions};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread::JoinHandle;

pub use kobj::loom_surface;

/// The payload of the models' objects: a number telling one object from another.
#[derive(Debug)]
pub struct Obj(pub u32);

/// The models' object type and its ALL_ACCESS.
pub const ALL: Access = Access::from_bits_retain(0x1F_0003);

/// The models' handle limit: small, so a table's top page (level 2) has a few slots.
pub const LIMIT: usize = 16;

/// A fresh kernel (handle limit [`LIMIT`]) with the `Obj` type registered, and one root
/// process. Resets the block accounting: call first in every execution.
pub fn setup() -> (Kernel, ObjectType<Obj>, Process) {
    loom_surface::begin();
    let kernel = Kernel::builder().handle_limit(LIMIT).build();
    let ty = kernel
        .register_type::<Obj>("Obj", GenericMapping::new(0x2_0001, 0x2_0002, 0x2_0000, 0x1F_0003), ALL)
        .expect("register the model type");
    let p = kernel.create_process(ProcessOptions::default()).expect("a root process");
    (kernel, ty, p)
}

/// A fresh kernel on [`kobj::Clock::Manual`] (handle limit [`LIMIT`]) and one root
/// process: time moves only by `advance_clock`. Resets the block accounting.
pub fn setup_manual_clock() -> (Kernel, Process) {
    loom_surface::begin();
    let kernel = Kernel::builder().handle_limit(LIMIT).clock(kobj::Clock::Manual).build();
    let p = kernel.create_process(ProcessOptions::default()).expect("a root process");
    (kernel, p)
}

/// The end of a model that used `p`: closes `handles` in `p`, drops `p` (drop every
/// other `Process` or `Thread` value first), then [`Gate::finish`].
pub fn close_and_finish(gate: Gate, kernel: Kernel, p: Process, handles: &[Handle]) {
    for &h in handles {
        p.close_handle(h).expect("close a model handle");
    }
    drop(p);
    gate.finish(kernel);
}

/// Duplicates `h` within `p` with the same access (`DuplicateHandle` in place).
pub fn dup(p: &Process, h: Handle) -> kobj::Result<Handle> {
    p.duplicate_handle(
        Handle::CURRENT_PROCESS,
        h,
        Some(Handle::CURRENT_PROCESS),
        Access::empty(),
        false,
        kobj::DuplicateOptions::SAME_ACCESS,
    )
    .map(|d| d.expect("a target was given"))
}

/// Creates an unnamed `Obj(id)` in `p`.
pub fn create(p: &Process, ty: &ObjectType<Obj>, id: u32) -> kobj::Result<Handle> {
    p.create_object(ty, Obj(id), None, None).map(|c| c.handle)
}

/// What a lookup of `h` in `p` read: the payload's id and the entry's generation. Checks
/// that the block it points at is allocated (never freed memory, never a free-list link).
pub fn read(p: &Process, h: Handle) -> Option<(u32, u32)> {
    loom_surface::lookup::<Obj, _>(p, h, |o, generation, addr| {
        assert!(loom_surface::is_live_block(addr), "lookup returned a freed block");
        (o.0, generation)
    })
}

/// Runs `f` as a loom model: the loom defaults (`LOOM_MAX_PREEMPTIONS` etc. from the
/// environment) with room for the kernel's set-up, which every execution repeats.
pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 100_000;
    builder.check(f);
}

/// The threads of one model run, kept alive until the main thread has flushed the epoch
/// and checked the accounting.
///
/// Why: crossbeam-epoch unregisters a thread's participant in its thread-local destructor,
/// and loom lets the collector's later Relaxed read of that participant's epoch see a
/// value from before its final unpin, so with an exited thread the epoch may never
/// advance within the execution (a loom artefact, not a crossbeam bug). So each model
/// thread runs its work, hands its garbage to the global queue, reports done and waits;
/// the main thread waits for all, flushes and checks ([`Gate::finish`]), then lets them
/// exit and joins them.
#[derive(Default)]
pub struct Gate {
    /// (threads done, released)
    state: Arc<(Mutex<(usize, bool)>, Condvar)>,
    threads: RefCell<Vec<JoinHandle<()>>>,
}

/// A model thread's result, readable once [`Gate::wait`] has returned.
pub struct Worker<T>(Arc<Mutex<Option<T>>>);

impl<T> Worker<T> {
    /// The thread's result (once).
    pub fn take(&self) -> T {
        self.0.lock().unwrap().take().expect("worker result (after Gate::wait, once)")
    }
}

impl Gate {
    /// A gate with no thread yet.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Spawns a model thread running `f`.
    pub fn spawn<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Worker<T> {
        let result = Arc::new(Mutex::new(None));
        let (out, state) = (result.clone(), self.state.clone());
        let handle = loom::thread::spawn(move || {
            let r = f();
            loom_surface::push_local_garbage();
            *out.lock().unwrap() = Some(r);
            let (lock, cv) = &*state;
            let mut s = lock.lock().unwrap();
            s.0 += 1;
            cv.notify_all();
            while !s.1 {
                s = cv.wait(s).unwrap();
            }
        });
        self.threads.borrow_mut().push(handle);
        Worker(result)
    }

    /// Waits until every spawned thread has done its work.
    pub fn wait(&self) {
        let n = self.threads.borrow().len();
        let (lock, cv) = &*self.state;
        let mut s = lock.lock().unwrap();
        while s.0 < n {
            s = cv.wait(s).unwrap();
        }
    }

    /// The end of a model: waits for the threads, runs [`loom_surface::finish`] (epoch
    /// flushed, every block freed once, `object_count` zero), then lets the threads exit.
    pub fn finish(self, kernel: Kernel) {
        self.wait();
        loom_surface::push_local_garbage();
        loom_surface::finish(kernel);
        {
            let (lock, cv) = &*self.state;
            lock.lock().unwrap().1 = true;
            cv.notify_all();
        }
        for t in self.threads.into_inner() {
            t.join().unwrap();
        }
    }
}
