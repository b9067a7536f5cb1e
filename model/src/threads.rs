//! The threaded runner: several OS threads replay their own operation lists on shared
//! processes at once. No model can say what each call returns under a race, so this
//! checks what holds whatever the interleaving: no panic; every answer is a handle value
//! (a non-zero multiple of 4) or one of SPEC §2's codes; and at the end, once every
//! handle of every process is closed, `object_count` is the processes alone, and after
//! every process is gone, what it was at the start.

use std::sync::Mutex;

use arbitrary::Arbitrary;
use kobj::{
    Access, BoundaryDescriptor, DuplicateOptions, Handle, HandleFlags, Kernel, Process, ProcessOptions, Sid,
};

use crate::ops::{ObjectKind, ALIASES, DUP_ACCESS, NAMES, OPEN_ACCESS};

/// The Win32 codes SPEC §2 lists.
pub const SPEC_CODES: [u32; 14] = [2, 3, 5, 6, 8, 80, 87, 123, 131, 183, 206, 298, 1314, 1450];

/// At most this many threads, operations per thread and children per thread.
pub const MAX_THREADS: usize = 4;
/// Operations per thread (longer lists are cut).
pub const MAX_THREAD_OPS: usize = 64;
const MAX_CHILDREN: usize = 3;

/// One operation of one thread. `p` picks a process among the shared roots and the
/// thread's own children; `h` picks among the handles the thread was given so far.
#[derive(Arbitrary, Clone, Debug)]
pub enum ThreadOp {
    /// `create_*`, named (from [`NAMES`]) or not.
    Create {
        /// The process.
        p: u8,
        /// The type.
        kind: ObjectKind,
        /// `None`: unnamed.
        name: Option<u8>,
        /// The new handle's INHERIT.
        inherit: bool,
    },
    /// `open_*` by name.
    Open {
        /// The process.
        p: u8,
        /// The type.
        kind: ObjectKind,
        /// Index into [`NAMES`].
        name: u8,
        /// Index into [`OPEN_ACCESS`].
        access: u8,
    },
    /// `close_handle` of one of the thread's handles.
    Close {
        /// Which handle.
        h: u8,
    },
    /// `close_handle` of any value of a process (likely another thread's handle).
    CloseAny {
        /// The process.
        p: u8,
        /// The value is `4 * (v % 64 + 1)`.
        v: u8,
    },
    /// `duplicate_handle` of one of the thread's handles into process `to` (through a
    /// process handle opened for it, closed after).
    Dup {
        /// Which handle.
        h: u8,
        /// The target process.
        to: u8,
        /// DuplicateOptions bits (`& 7`).
        options: u8,
        /// Index into [`DUP_ACCESS`].
        access: u8,
    },
    /// `set_handle_information` on one of the thread's handles (flags `& 3`).
    SetInfo {
        /// Which handle.
        h: u8,
        /// The mask.
        mask: u8,
        /// The flags.
        flags: u8,
    },
    /// `create_process`, inheriting (all, or just the handle `h`) or not.
    Spawn {
        /// The parent.
        p: u8,
        /// `inherit_handles`.
        inherit: bool,
        /// A handle list of one handle of the thread.
        list: Option<u8>,
    },
    /// `terminate` one of the thread's children.
    Terminate {
        /// Which child.
        c: u8,
    },
    /// `create_private_namespace` / `open_private_namespace` (boundary with Everyone).
    Namespace {
        /// The process.
        p: u8,
        /// Create or open.
        create: bool,
        /// Index into [`ALIASES`].
        alias: u8,
    },
    /// `compare_object_handles` of two of the thread's handles.
    Compare {
        /// First handle.
        a: u8,
        /// Second handle.
        b: u8,
    },
}

/// A threaded run: the number of shared roots (`1 + n % 3`) and each thread's list.
#[derive(Arbitrary, Clone, Debug)]
pub struct ThreadScenario {
    /// Root selector.
    pub roots: u8,
    /// Root sessions: bit i set puts root i in session 1.
    pub sessions: u8,
    /// One list per thread (the first [`MAX_THREADS`] are used).
    pub threads: Vec<Vec<ThreadOp>>,
}

/// One thread's view: its processes (shared roots, then its children) and its handles.
struct Worker<'a> {
    roots: &'a [Process],
    children: Vec<Process>,
    mine: Vec<(usize, Handle)>,
}

fn check<T>(what: &str, r: &kobj::Result<T>) -> Result<(), String> {
    match r {
        Err(e) if !SPEC_CODES.contains(&e.code()) => {
            Err(format!("{what}: code {} is not one of SPEC §2's", e.code()))
        }
        _ => Ok(()),
    }
}

fn check_handle(what: &str, h: Handle) -> Result<(), String> {
    let raw = h.raw();
    if raw == 0 || raw % 4 != 0 {
        return Err(format!("{what}: handle value {raw:#x} is not a non-zero multiple of 4"));
    }
    Ok(())
}

impl ThreadScenario {
    /// Three selector bytes (roots, sessions, thread count `2 + n % 3`), then
    /// `(thread, op)` pairs until the bytes run out, dealt to the threads by `thread % n`.
    #[must_use]
    pub fn decode(data: &[u8]) -> ThreadScenario {
        let mut u = arbitrary::Unstructured::new(data);
        let roots = u8::arbitrary(&mut u).unwrap_or(0);
        let sessions = u8::arbitrary(&mut u).unwrap_or(0);
        let n = 2 + usize::from(u8::arbitrary(&mut u).unwrap_or(0)) % (MAX_THREADS - 1);
        let mut threads = vec![Vec::new(); n];
        for (t, op) in crate::ops::decode_list::<(u8, ThreadOp)>(&mut u, MAX_THREADS * MAX_THREAD_OPS) {
            threads[usize::from(t) % n].push(op);
        }
        ThreadScenario { roots, sessions, threads }
    }
}

impl Worker<'_> {
    fn proc_(&self, p: u8) -> (usize, &Process) {
        let n = self.roots.len() + self.children.len();
        let i = usize::from(p) % n;
        let p = if i < self.roots.len() { &self.roots[i] } else { &self.children[i - self.roots.len()] };
        (i, p)
    }

    fn mine(&self, h: u8) -> Option<(usize, Handle)> {
        (!self.mine.is_empty()).then(|| self.mine[usize::from(h) % self.mine.len()])
    }

    fn by_index(&self, i: usize) -> &Process {
        if i < self.roots.len() {
            &self.roots[i]
        } else {
            &self.children[i - self.roots.len()]
        }
    }

    fn got(&mut self, what: &str, i: usize, r: kobj::Result<Handle>) -> Result<(), String> {
        check(what, &r)?;
        if let Ok(h) = r {
            check_handle(what, h)?;
            self.mine.push((i, h));
        }
        Ok(())
    }

    fn step(&mut self, op: &ThreadOp) -> Result<(), String> {
        match *op {
            ThreadOp::Create { p, kind, name, inherit } => {
                let (i, proc_) = self.proc_(p);
                let name = name.map(|n| NAMES[usize::from(n) % NAMES.len()]);
                let sa = kobj::SecurityAttributes { inherit_handle: inherit, ..Default::default() };
                let sa = Some(&sa);
                let r = match kind {
                    ObjectKind::Mutex => proc_.create_mutex(sa, false, name),
                    ObjectKind::Event => proc_.create_event(sa, true, false, name),
                    ObjectKind::Semaphore => proc_.create_semaphore(sa, 0, 4, name),
                    ObjectKind::Timer => proc_.create_waitable_timer(sa, false, name),
                    ObjectKind::Mapping => proc_.create_file_mapping(None, sa, 0x04, 4096, name),
                    ObjectKind::Job => proc_.create_job_object(sa, name),
                };
                self.got("create", i, r.map(|c| c.handle))
            }
            ThreadOp::Open { p, kind, name, access } => {
                let (i, proc_) = self.proc_(p);
                let name = NAMES[usize::from(name) % NAMES.len()];
                let a = Access::from_bits_retain(OPEN_ACCESS[usize::from(access) % OPEN_ACCESS.len()]);
                let r = match kind {
                    ObjectKind::Mutex => proc_.open_mutex(a, false, name),
                    ObjectKind::Event => proc_.open_event(a, false, name),
                    ObjectKind::Semaphore => proc_.open_semaphore(a, false, name),
                    ObjectKind::Timer => proc_.open_waitable_timer(a, false, name),
                    ObjectKind::Mapping => proc_.open_file_mapping(a, false, name),
                    ObjectKind::Job => proc_.open_job_object(a, false, name),
                };
                self.got("open", i, r)
            }
            ThreadOp::Close { h } => {
                if let Some((i, h)) = self.mine(h) {
                    check("close", &self.by_index(i).close_handle(h))?;
                }
                Ok(())
            }
            ThreadOp::CloseAny { p, v } => {
                let (_, proc_) = self.proc_(p);
                check("close any", &proc_.close_handle(Handle::from_raw(4 * (usize::from(v % 64) + 1))))
            }
            ThreadOp::Dup { h, to, options, access } => {
                let Some((i, h)) = self.mine(h) else { return Ok(()) };
                let (j, target) = self.proc_(to);
                let target_pid = target.id();
                let source = self.by_index(i).clone();
                let th = source.open_process(Access::PROCESS_DUP_HANDLE, false, target_pid);
                check("open_process", &th)?;
                let Ok(th) = th else { return Ok(()) };
                let options = DuplicateOptions::from_bits_retain(u32::from(options & 7));
                let access = Access::from_bits_retain(DUP_ACCESS[usize::from(access) % DUP_ACCESS.len()]);
                let r = source.duplicate_handle(Handle::CURRENT_PROCESS, h, Some(th), access, false, options);
                check("duplicate_handle", &r)?;
                check("close the process handle", &source.close_handle(th))?;
                match r {
                    Ok(Some(d)) => self.got("duplicate_handle", j, Ok(d)),
                    Ok(None) => Err("duplicate_handle with a target returned no handle".into()),
                    Err(_) => Ok(()),
                }
            }
            ThreadOp::SetInfo { h, mask, flags } => {
                if let Some((i, h)) = self.mine(h) {
                    let r = self.by_index(i).set_handle_information(
                        h,
                        HandleFlags::from_bits_retain(u32::from(mask & 3)),
                        HandleFlags::from_bits_retain(u32::from(flags & 3)),
                    );
                    check("set_handle_information", &r)?;
                }
                Ok(())
            }
            ThreadOp::Spawn { p, inherit, list } => {
                if self.children.len() >= MAX_CHILDREN {
                    return Ok(());
                }
                let (i, proc_) = self.proc_(p);
                let list = list.and_then(|h| self.mine(h)).map(|(_, h)| vec![h]);
                let r =
                    proc_.create_process(inherit, ProcessOptions { handle_list: list, ..Default::default() });
                check("create_process", &r)?;
                if let Ok(child) = r {
                    check_handle("create_process", child.handle)?;
                    self.mine.push((i, child.handle));
                    self.children.push(child.process);
                }
                Ok(())
            }
            ThreadOp::Terminate { c } => {
                if !self.children.is_empty() {
                    let c = &self.children[usize::from(c) % self.children.len()];
                    check("terminate", &c.terminate(0))?;
                }
                Ok(())
            }
            ThreadOp::Namespace { p, create, alias } => {
                let (i, proc_) = self.proc_(p);
                let b = BoundaryDescriptor { name: "threads".into(), sids: vec![Sid::EVERYONE] };
                let alias = ALIASES[usize::from(alias) % ALIASES.len()];
                let r = if create {
                    proc_.create_private_namespace(&b, alias)
                } else {
                    proc_.open_private_namespace(&b, alias)
                };
                self.got("private namespace", i, r)
            }
            ThreadOp::Compare { a, b } => {
                if let (Some((i, a)), Some((j, b))) = (self.mine(a), self.mine(b)) {
                    if i == j {
                        check("compare_object_handles", &self.by_index(i).compare_object_handles(a, b))?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Runs the threads, then closes every handle and checks the counts (see the module
/// documentation). `Err` says what went wrong.
pub fn run_threads(scenario: &ThreadScenario) -> Result<(), String> {
    let kernel = Kernel::new();
    let base = kernel.object_count();
    let roots: Vec<Process> = (0..1 + usize::from(scenario.roots % 3))
        .map(|i| {
            let session = u32::from(scenario.sessions >> i & 1);
            kernel
                .create_process(ProcessOptions { session_id: Some(session), ..Default::default() })
                .expect("a root process")
        })
        .collect();
    let children: Mutex<Vec<Process>> = Mutex::new(Vec::new());
    let outcome: Result<(), String> = std::thread::scope(|s| {
        let workers: Vec<_> = scenario
            .threads
            .iter()
            .take(MAX_THREADS)
            .map(|ops| {
                let roots = &roots;
                let children = &children;
                s.spawn(move || {
                    let mut w = Worker { roots, children: Vec::new(), mine: Vec::new() };
                    let r = ops
                        .iter()
                        .take(MAX_THREAD_OPS)
                        .try_for_each(|op| w.step(op).map_err(|e| format!("{op:?}: {e}")));
                    children.lock().unwrap_or_else(|e| e.into_inner()).extend(w.children);
                    r
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().map_err(|_| "a thread panicked".to_owned())?)
    });
    outcome?;
    let children = children.into_inner().unwrap_or_else(|e| e.into_inner());
    let all: Vec<&Process> = roots.iter().chain(&children).collect();
    // Every handle of every process closed, protected ones unprotected first.
    for p in &all {
        for row in p.handles() {
            if p.is_terminated() {
                return Err("a terminated process still lists handles".into());
            }
            p.set_handle_information(row.handle, HandleFlags::PROTECT_FROM_CLOSE, HandleFlags::empty())
                .map_err(|e| format!("unprotect {:#x}: {e}", row.handle.raw()))?;
            p.close_handle(row.handle).map_err(|e| format!("close {:#x}: {e}", row.handle.raw()))?;
        }
        if p.handle_count() != 0 {
            return Err(format!("handle_count {} after closing every handle", p.handle_count()));
        }
    }
    // Each process and its main thread (SPEC §7.2).
    let want = base + 2 * all.len();
    if kernel.object_count() != want {
        return Err(format!(
            "object_count {} with every handle closed, want {want} (the {} processes and their main threads)",
            kernel.object_count(),
            all.len()
        ));
    }
    for p in &all {
        let _ = p.terminate(0);
    }
    drop(all);
    drop(children);
    drop(roots);
    if kernel.object_count() != base {
        return Err(format!("object_count {} at the end, want {base}", kernel.object_count()));
    }
    Ok(())
}
