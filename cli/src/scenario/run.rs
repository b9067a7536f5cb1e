//! The scenario runner: executes parsed steps against a fresh kernel, prints each step
//! and its result, checks `expect` lines, and ends every file with a leak check (all
//! processes terminated, every object gone).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, UNIX_EPOCH};

use kobj::{
    Access, BoundaryDescriptor, Clock, Due, Error, Handle, HandleFlags, Kernel, Process, ProcessOptions,
    SecurityAttributes, SecurityDescriptor, Thread, Token, WaitStatus,
};
use serde_json::{json, Value as Json};

use super::{
    parse, CreateSpec, DaclSpec, DueSpec, Expectation, HandleRef, ObjType, Op, PrintWhat, ProcSpec, SidSpec,
    Step, StepKind, Target, WaitMode, WaitOp,
};
use crate::names::{access_names, error_name, flag_names, wait_name};
use crate::table;

/// How `kobj run` runs a file.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Print each step and its result (text mode).
    pub echo: bool,
    /// Keep the final handle tables of every declared process (`kobj handles FILE`).
    pub final_tables: bool,
    /// The watchdog that ends the run if one step hangs; `None`: no limit.
    pub watchdog: Option<Arc<Watchdog>>,
}

/// What running one file gave.
#[derive(Debug)]
pub struct FileReport {
    /// The file as named on the command line.
    pub file: String,
    /// `FILE:LINE: message` for each failure (syntax errors: all of them; else the first
    /// failed step, plus teardown findings).
    pub failures: Vec<String>,
    /// One JSON record per executed step.
    pub steps: Vec<Json>,
    /// With [`RunOptions::final_tables`]: each declared process's table at the end, as
    /// JSON, and as text.
    pub final_tables: Vec<Json>,
    /// The same tables as text.
    pub final_text: String,
}

impl FileReport {
    /// The report of a file that could not be read (`message` says why).
    pub fn unreadable(file: &str, message: String) -> FileReport {
        FileReport {
            file: file.to_owned(),
            failures: vec![message],
            steps: Vec::new(),
            final_tables: Vec::new(),
            final_text: String::new(),
        }
    }

    /// True if the file passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The report as JSON.
    pub fn json(&self) -> Json {
        json!({
            "file": self.file,
            "passed": self.passed(),
            "failures": self.failures,
            "steps": self.steps,
        })
    }
}

/// Ends the whole process if one step runs longer than its limit: a foreground wait
/// nobody can satisfy would otherwise hang the run (and CI) forever.
#[derive(Debug)]
pub struct Watchdog {
    /// Milliseconds since `start` at which the current step is overdue; 0: idle.
    deadline: AtomicU64,
    label: Mutex<String>,
    start: Instant,
    limit: Duration,
}

impl Watchdog {
    /// Starts the watchdog thread; a step may take `limit` plus the time it asks for
    /// (its timeouts and sleeps).
    pub fn start(limit: Duration) -> Arc<Watchdog> {
        let dog = Arc::new(Watchdog {
            deadline: AtomicU64::new(0),
            label: Mutex::new(String::new()),
            start: Instant::now(),
            limit,
        });
        let watcher = Arc::clone(&dog);
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            let deadline = watcher.deadline.load(Ordering::Acquire);
            if deadline != 0 && watcher.now_ms() > deadline {
                let label = watcher.label.lock().map(|l| l.clone()).unwrap_or_default();
                eprintln!(
                    "{label}: the step did not finish in time (a wait nobody satisfies?); stopping the run"
                );
                std::process::exit(2);
            }
        });
        dog
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn arm(&self, label: String, extra: Duration) {
        if let Ok(mut l) = self.label.lock() {
            *l = label;
        }
        let allowed = u64::try_from((self.limit + extra).as_millis()).unwrap_or(u64::MAX / 2);
        self.deadline.store(self.now_ms().saturating_add(allowed).max(1), Ordering::Release);
    }

    fn disarm(&self) {
        self.deadline.store(0, Ordering::Release);
    }
}

/// Parses and runs one scenario file's text. `out` gets the step-by-step trace when
/// `opts.echo` is set.
pub fn run_file(file: &str, source: &str, opts: &RunOptions, out: &mut dyn Write) -> FileReport {
    let mut report = FileReport {
        file: file.to_owned(),
        failures: Vec::new(),
        steps: Vec::new(),
        final_tables: Vec::new(),
        final_text: String::new(),
    };
    let steps = match parse(source) {
        Ok(steps) => steps,
        Err(errors) => {
            report.failures = errors.into_iter().map(|(line, msg)| format!("{file}:{line}: {msg}")).collect();
            return report;
        }
    };
    if opts.echo {
        let _ = writeln!(out, "== {file} ==");
    }
    let mut runner = Runner::new(opts, out);
    let mut failed = None;
    for step in &steps {
        if let Some(dog) = &opts.watchdog {
            dog.arm(format!("{file}:{}", step.line), step_allowance(&step.kind));
        }
        let result = runner.step(step);
        if let Some(dog) = &opts.watchdog {
            dog.disarm();
        }
        if let Err(f) = result {
            failed = Some(f);
            break;
        }
    }
    if failed.is_none() {
        if let Some((line, code)) = runner.unchecked.take() {
            failed = Some(unchecked_failure(line, code));
        }
    }
    if failed.is_none() {
        if let Some((name, job)) = runner.jobs.iter().next() {
            failed =
                Some(Failure { line: job.line, message: format!("background job {name} was never joined") });
        }
    }
    if opts.final_tables {
        runner.capture_tables();
    }
    if let Some(f) = failed {
        report.failures.push(format!("{file}:{}: {}", f.line, f.message));
    }
    if let Some(dog) = &opts.watchdog {
        dog.arm(format!("{file}: teardown"), Duration::from_secs(10));
    }
    let last_line = steps.last().map_or(1, |s| s.line);
    for problem in runner.teardown() {
        report.failures.push(format!("{file}:{last_line}: {problem}"));
    }
    if let Some(dog) = &opts.watchdog {
        dog.disarm();
    }
    report.steps = std::mem::take(&mut runner.records);
    report.final_tables = std::mem::take(&mut runner.tables_json);
    report.final_text = std::mem::take(&mut runner.tables_text);
    report
}

/// The time a step may take beyond the watchdog's limit: what it asks for itself.
fn step_allowance(kind: &StepKind) -> Duration {
    let t = |timeout: &Option<Option<Duration>>| timeout.flatten().unwrap_or(Duration::ZERO);
    match kind {
        StepKind::Call {
            op: Op::Wait(WaitOp::Wait { timeout, .. } | WaitOp::SignalAndWait { timeout, .. }),
            ..
        } => t(timeout),
        StepKind::Call { op: Op::SleepEx { timeout, .. }, .. } => timeout.unwrap_or(Duration::ZERO),
        StepKind::Join { timeout, .. } => *timeout,
        StepKind::Sleep(d) | StepKind::Settle(d) => *d,
        _ => Duration::ZERO,
    }
}

/// A step that failed: its line and why.
struct Failure {
    line: usize,
    message: String,
}

fn fail<T>(line: usize, message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure { line, message: message.into() })
}

fn unchecked_failure(line: usize, code: u32) -> Failure {
    let name = error_name(code);
    Failure {
        line,
        message: format!(
            "the call failed with {name} ({code}) and no `expect` checks it (add `expect {name}`)"
        ),
    }
}

/// A field of a `query` result.
#[derive(Clone, Debug)]
enum Field {
    Int(i64),
    Bool(bool),
    Owner(Option<u32>),
    /// A duration in milliseconds, or none.
    Ms(Option<Duration>),
}

/// What a cancelled `wait_async` job reports: ERROR_OPERATION_ABORTED.
const ERROR_OPERATION_ABORTED: u32 = 995;

/// Wakes a parked host thread: the waker `block_on` gives a future.
struct Unpark(std::thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `future` to completion on this host thread (parking between polls); `None` if
/// `cancel` was set first, in which case the future is dropped unfinished.
fn block_on<F: std::future::Future>(future: F, cancel: &AtomicBool) -> Option<F::Output> {
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return Some(v);
        }
        if cancel.load(Ordering::SeqCst) {
            return None;
        }
        std::thread::park();
        if cancel.load(Ordering::SeqCst) {
            return None;
        }
    }
}

/// A wait with its handles resolved, ready to run on any host thread.
enum Resolved {
    Wait { mode: WaitMode, handles: Vec<Handle>, timeout: Option<Duration>, alertable: bool },
    SignalAndWait { signal: Handle, wait: Handle, timeout: Option<Duration>, alertable: bool },
}

impl Resolved {
    /// Runs the wait as `t`; a `wait_async` future is dropped unfinished once `cancel`
    /// is set.
    fn perform(&self, t: &Thread, cancel: &AtomicBool) -> kobj::Result<WaitStatus> {
        match self {
            Resolved::Wait { mode: WaitMode::Single, handles, timeout, alertable } => {
                t.wait_for_single_object_ex(handles[0], *timeout, *alertable)
            }
            Resolved::Wait { mode: WaitMode::Async { all }, handles, .. } => {
                block_on(t.wait_async(handles, *all), cancel)
                    .unwrap_or(Err(Error::Os(ERROR_OPERATION_ABORTED)))
            }
            Resolved::Wait { mode, handles, timeout, alertable } => {
                t.wait_for_multiple_objects_ex(handles, *mode == WaitMode::All, *timeout, *alertable)
            }
            Resolved::SignalAndWait { signal, wait, timeout, alertable } => {
                t.signal_object_and_wait_ex(*signal, *wait, *timeout, *alertable)
            }
        }
    }
}

/// A successful call's result.
#[derive(Clone, Debug)]
enum Value {
    Unit,
    Handle {
        h: Handle,
        existed: Option<bool>,
        note: Option<String>,
    },
    NoHandle,
    Wait(WaitStatus),
    Int(i64),
    Bool(bool),
    Flags(HandleFlags),
    Access(Access, String),
    Fields(Vec<(&'static str, Field)>),
    Data(String),
    /// A declaration's result, as text (`pid 4`).
    Declared(String),
}

type Outcome = Result<Value, Error>;

/// Who a call is made as.
enum Caller {
    Process(Process),
    Thread(Thread),
}

impl Caller {
    fn process(&self) -> &Process {
        match self {
            Caller::Process(p) => p,
            Caller::Thread(t) => t.process(),
        }
    }

    fn thread(&self) -> Thread {
        match self {
            Caller::Process(p) => p.main_thread(),
            Caller::Thread(t) => t.clone(),
        }
    }
}

/// A `background` wait running on a host thread.
struct Job {
    line: usize,
    handle: JoinHandle<kobj::Result<WaitStatus>>,
    /// Set by `cancel` (a `wait_async` job drops its future).
    cancel: Arc<AtomicBool>,
    /// A `wait_async` job (the only kind `cancel` can stop).
    is_async: bool,
}

struct Runner<'o> {
    out: &'o mut dyn Write,
    echo: bool,
    kernel: Option<Kernel>,
    /// Declared processes, in declaration order, with the line that declared them.
    procs: Vec<(String, Process, usize)>,
    threads: Vec<(String, Thread, usize)>,
    vars: HashMap<String, Handle>,
    jobs: HashMap<String, Job>,
    /// The last call's line, text and outcome, for `expect`.
    last: Option<(usize, String, Outcome)>,
    /// A failed call no `expect` has looked at yet.
    unchecked: Option<(usize, u32)>,
    settle: Duration,
    /// How many of the scenario's APCs have run.
    apcs: Arc<AtomicU64>,
    records: Vec<Json>,
    tempdir: Option<PathBuf>,
    tables_json: Vec<Json>,
    tables_text: String,
}

impl<'o> Runner<'o> {
    fn new(opts: &RunOptions, out: &'o mut dyn Write) -> Runner<'o> {
        Runner {
            out,
            echo: opts.echo,
            kernel: None,
            procs: Vec::new(),
            threads: Vec::new(),
            vars: HashMap::new(),
            jobs: HashMap::new(),
            last: None,
            unchecked: None,
            settle: Duration::from_millis(50),
            apcs: Arc::new(AtomicU64::new(0)),
            records: Vec::new(),
            tempdir: None,
            tables_json: Vec::new(),
            tables_text: String::new(),
        }
    }

    fn kernel(&mut self) -> &Kernel {
        self.kernel.get_or_insert_with(Kernel::new)
    }

    fn echo_line(&mut self, step: &Step, result: &str) {
        if self.echo {
            let _ = writeln!(self.out, "{:>5}  {:<58} {result}", step.line, step.text);
        }
    }

    fn step(&mut self, step: &Step) -> Result<(), Failure> {
        if !matches!(step.kind, StepKind::Expect(_)) {
            if let Some((line, code)) = self.unchecked.take() {
                return Err(unchecked_failure(line, code));
            }
        }
        let line = step.line;
        match &step.kind {
            StepKind::Kernel { handle_limit, manual_clock } => {
                if self.kernel.is_some() {
                    return fail(line, "`kernel` must come before any other statement that uses the kernel");
                }
                let mut builder = Kernel::builder();
                if let Some(n) = handle_limit {
                    builder = builder.handle_limit(*n);
                }
                if *manual_clock {
                    builder = builder.clock(Clock::Manual);
                }
                let kernel = builder.build();
                let text = format!(
                    "handle limit {}, {} clock",
                    kernel.handle_limit(),
                    if *manual_clock { "manual" } else { "system" }
                );
                self.kernel = Some(kernel);
                self.finish_plain(
                    step,
                    json!({"handle_limit": handle_limit, "manual_clock": manual_clock}),
                    &text,
                );
            }
            StepKind::Advance(by) => {
                let outcome = self.kernel().advance_clock(*by).map(|()| Value::Unit);
                self.finish_call(step, outcome, None);
            }
            StepKind::ClockNow => {
                let now = self.kernel().clock_now();
                self.finish_call(step, Ok(Value::Int(now.as_millis() as i64)), None);
            }
            StepKind::Apcs => {
                let n = self.apcs.load(Ordering::SeqCst);
                self.finish_call(step, Ok(Value::Int(n as i64)), None);
            }
            StepKind::Process { name, spec } => {
                self.check_new_name(line, name)?;
                let options =
                    ProcessOptions { token: token(spec), session_id: spec.session, handle_list: None };
                let kernel = self.kernel().clone();
                let outcome = kernel.create_process(options).map(|p| {
                    let id = p.id();
                    self.procs.push((name.clone(), p, line));
                    Value::Declared(format!("pid {id}"))
                });
                self.finish_call(step, outcome, None);
            }
            StepKind::Thread { name, process, inherit, bind } => {
                self.check_new_name(line, name)?;
                let p = self.process_named(line, process)?;
                let sa = SecurityAttributes { inherit_handle: *inherit, security_descriptor: None };
                let outcome = p.create_thread(Some(&sa)).map(|t| {
                    let note = format!("tid {}", t.thread.id());
                    self.threads.push((name.clone(), t.thread, line));
                    Value::Handle { h: t.handle, existed: None, note: Some(note) }
                });
                self.finish_call(step, outcome, bind.as_deref());
            }
            StepKind::Spawn { name, parent, inherit, list, spec, bind } => {
                self.check_new_name(line, name)?;
                let p = self.process_named(line, parent)?;
                let handle_list = match list {
                    Some(l) => Some(l.iter().map(|h| self.handle(line, h)).collect::<Result<Vec<_>, _>>()?),
                    None => None,
                };
                let options = ProcessOptions { token: token(spec), session_id: spec.session, handle_list };
                let outcome = p.create_process(*inherit, options).map(|c| {
                    let note = format!("pid {}", c.process.id());
                    self.procs.push((name.clone(), c.process, line));
                    Value::Handle { h: c.handle, existed: None, note: Some(note) }
                });
                self.finish_call(step, outcome, bind.as_deref());
            }
            StepKind::Call { who, bind, op } => {
                let caller = self.caller(line, who)?;
                let outcome = self.call(line, &caller, op)?;
                self.finish_call(step, outcome, bind.as_deref());
            }
            StepKind::Background { job, who, op } => {
                if self.jobs.contains_key(job) {
                    return fail(line, format!("background job {job} is still running (join it first)"));
                }
                let thread = self.caller(line, who)?.thread();
                let cancel = Arc::new(AtomicBool::new(false));
                let handle = self.spawn_wait(line, thread, op, &cancel)?;
                let is_async = matches!(op, WaitOp::Wait { mode: WaitMode::Async { .. }, .. });
                self.jobs.insert(job.clone(), Job { line, handle, cancel, is_async });
                std::thread::sleep(self.settle);
                self.last = None;
                self.finish_plain(step, json!({"started": job}), "started");
            }
            StepKind::Join { job, timeout } => {
                let Some(j) = self.jobs.remove(job) else {
                    return fail(line, format!("no background job named {job}"));
                };
                let deadline = Instant::now() + *timeout;
                while !j.handle.is_finished() {
                    if Instant::now() >= deadline {
                        let started = j.line;
                        self.jobs.insert(job.clone(), j);
                        return fail(
                            line,
                            format!(
                                "background job {job} (line {started}) is still waiting after {} ms",
                                timeout.as_millis()
                            ),
                        );
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                let outcome = match j.handle.join() {
                    Ok(r) => r.map(Value::Wait),
                    Err(_) => return fail(line, format!("background job {job} panicked")),
                };
                self.finish_call(step, outcome, None);
            }
            StepKind::Cancel(job) => {
                let Some(j) = self.jobs.get(job) else {
                    return fail(line, format!("no background job named {job}"));
                };
                if !j.is_async {
                    return fail(
                        line,
                        format!("`cancel` drops a wait_async job's future; job {job} is a blocking wait"),
                    );
                }
                j.cancel.store(true, Ordering::SeqCst);
                j.handle.thread().unpark();
                self.finish_plain(
                    step,
                    json!({"cancelled": job}),
                    "cancel requested (join it for the outcome)",
                );
            }
            StepKind::Pending(job) => {
                let Some(j) = self.jobs.get(job) else {
                    return fail(line, format!("no background job named {job}"));
                };
                let outcome = Ok(Value::Bool(!j.handle.is_finished()));
                self.finish_call(step, outcome, None);
            }
            StepKind::Expect(e) => self.expect(step, e)?,
            StepKind::Print(what) => self.print(step, what)?,
            StepKind::Objects => {
                let n = self.kernel().object_count();
                self.finish_call(step, Ok(Value::Int(n as i64)), None);
            }
            StepKind::Sleep(d) => {
                std::thread::sleep(*d);
                self.finish_plain(step, json!({"slept_ms": d.as_millis() as u64}), "");
            }
            StepKind::Settle(d) => {
                self.settle = *d;
                self.finish_plain(step, json!({"settle_ms": d.as_millis() as u64}), "");
            }
        }
        Ok(())
    }

    /// Records a step that has no result to check.
    fn finish_plain(&mut self, step: &Step, detail: Json, text: &str) {
        self.echo_line(step, text);
        self.records.push(json!({"line": step.line, "step": step.text, "detail": detail}));
    }

    /// Records a call's outcome, binds its handle, and keeps it for `expect`.
    fn finish_call(&mut self, step: &Step, outcome: Outcome, bind: Option<&str>) {
        if let (Some(var), Ok(Value::Handle { h, .. })) = (bind, &outcome) {
            self.vars.insert(var.to_owned(), *h);
        }
        let text = self.describe(&outcome);
        self.echo_line(step, &format!("-> {text}"));
        self.records
            .push(json!({"line": step.line, "step": step.text, "result": self.outcome_json(&outcome)}));
        if let Err(e) = &outcome {
            self.unchecked = Some((step.line, e.code()));
        }
        self.last = Some((step.line, step.text.clone(), outcome));
    }

    fn check_new_name(&self, line: usize, name: &str) -> Result<(), Failure> {
        let taken = self
            .procs
            .iter()
            .map(|(n, _, l)| (n, l))
            .chain(self.threads.iter().map(|(n, _, l)| (n, l)))
            .find(|(n, _)| n.as_str() == name);
        match taken {
            Some((_, l)) => fail(line, format!("`{name}` is already declared (line {l})")),
            None if name.ends_with(".main") => fail(line, "names ending in `.main` are the main threads"),
            None => Ok(()),
        }
    }

    fn process_named(&self, line: usize, name: &str) -> Result<Process, Failure> {
        match self.procs.iter().find(|(n, ..)| n == name) {
            Some((_, p, _)) => Ok(p.clone()),
            None => {
                fail(line, format!("no process named `{name}` (declare it with `process {name}` or `spawn`)"))
            }
        }
    }

    fn caller(&self, line: usize, who: &str) -> Result<Caller, Failure> {
        if let Some((_, t, _)) = self.threads.iter().find(|(n, ..)| n == who) {
            return Ok(Caller::Thread(t.clone()));
        }
        if let Some((_, p, _)) = self.procs.iter().find(|(n, ..)| n == who) {
            return Ok(Caller::Process(p.clone()));
        }
        if let Some(base) = who.strip_suffix(".main") {
            if let Some((_, p, _)) = self.procs.iter().find(|(n, ..)| n == base) {
                return Ok(Caller::Thread(p.main_thread()));
            }
        }
        fail(
            line,
            format!("no process or thread named `{who}` (declare it with `process`, `spawn` or `thread`)"),
        )
    }

    fn handle(&self, line: usize, h: &HandleRef) -> Result<Handle, Failure> {
        match h {
            HandleRef::Raw(raw) => Ok(Handle::from_raw(*raw)),
            HandleRef::Var(name) => match self.vars.get(name) {
                Some(h) => Ok(*h),
                None => fail(
                    line,
                    format!("no handle variable `{name}` (bind one with `{name} = ...` or `as {name}`)"),
                ),
            },
        }
    }

    fn handles(&self, line: usize, hs: &[HandleRef]) -> Result<Vec<Handle>, Failure> {
        hs.iter().map(|h| self.handle(line, h)).collect()
    }

    /// The thread id a name stands for (`T`, `A.main`, `A`: its main thread), or a number.
    fn thread_id(&self, name: &str) -> Option<u32> {
        if let Ok(n) = name.parse() {
            return Some(n);
        }
        if let Some((_, t, _)) = self.threads.iter().find(|(n, ..)| n == name) {
            return Some(t.id());
        }
        let base = name.strip_suffix(".main").unwrap_or(name);
        self.procs.iter().find(|(n, ..)| n == base).map(|(_, p, _)| p.main_thread().id())
    }

    /// The name of a thread id, for printing.
    fn thread_name(&self, tid: u32) -> String {
        if let Some((n, ..)) = self.threads.iter().find(|(_, t, _)| t.id() == tid) {
            return n.clone();
        }
        if let Some((n, ..)) = self.procs.iter().find(|(_, p, _)| p.main_thread().id() == tid) {
            return format!("{n}.main");
        }
        format!("tid {tid}")
    }

    fn spawn_wait(
        &self,
        line: usize,
        thread: Thread,
        op: &WaitOp,
        cancel: &Arc<AtomicBool>,
    ) -> Result<JoinHandle<kobj::Result<WaitStatus>>, Failure> {
        let wait = self.resolve_wait(line, op, None)?;
        // The host thread says when it is about to call the wait, so the settle pause
        // that follows covers only the call's way into its blocked state, not the
        // thread's start-up (which a loaded machine can make long).
        let (started, running) = std::sync::mpsc::channel();
        let stop = Arc::clone(cancel);
        let handle = std::thread::spawn(move || {
            let _ = started.send(());
            wait.perform(&thread, &stop)
        });
        let _ = running.recv();
        Ok(handle)
    }

    /// A wait's handles resolved; `default` is the timeout when the step gives none.
    fn resolve_wait(&self, line: usize, op: &WaitOp, default: Option<Duration>) -> Result<Resolved, Failure> {
        Ok(match op {
            WaitOp::Wait { mode, handles, timeout, alertable } => Resolved::Wait {
                mode: *mode,
                handles: self.handles(line, handles)?,
                timeout: timeout.unwrap_or(default),
                alertable: *alertable,
            },
            WaitOp::SignalAndWait { signal, wait, timeout, alertable } => Resolved::SignalAndWait {
                signal: self.handle(line, signal)?,
                wait: self.handle(line, wait)?,
                timeout: timeout.unwrap_or(default),
                alertable: *alertable,
            },
        })
    }

    fn file_path(&mut self, line: usize, path: &str) -> Result<PathBuf, Failure> {
        let rel = Path::new(path);
        if path.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return fail(
                line,
                format!("file paths are relative to the run's scratch directory, without `..`: `{path}`"),
            );
        }
        if self.tempdir.is_none() {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("kobj-run-{}-{n}", std::process::id()));
            if let Err(e) = std::fs::create_dir_all(&dir) {
                return fail(line, format!("cannot make a scratch directory {}: {e}", dir.display()));
            }
            self.tempdir = Some(dir);
        }
        Ok(self.tempdir.as_ref().map_or_else(PathBuf::new, |d| d.join(rel)))
    }

    fn call(&mut self, line: usize, c: &Caller, op: &Op) -> Result<Outcome, Failure> {
        let p = c.process();
        let unit = |r: kobj::Result<()>| r.map(|()| Value::Unit);
        let handle = |r: kobj::Result<Handle>| r.map(|h| Value::Handle { h, existed: None, note: None });
        Ok(match op {
            Op::Create(spec) => self.create(line, c, spec)?,
            Op::Open { ty, name, access, inherit } => handle(match ty {
                ObjType::Mutex => p.open_mutex(*access, *inherit, name),
                ObjType::Event => p.open_event(*access, *inherit, name),
                ObjType::Semaphore => p.open_semaphore(*access, *inherit, name),
                ObjType::Timer => p.open_waitable_timer(*access, *inherit, name),
                ObjType::Mapping => p.open_file_mapping(*access, *inherit, name),
                ObjType::Job => p.open_job_object(*access, *inherit, name),
            }),
            Op::OpenProcess { target, access, inherit } => {
                let pid = match target {
                    Target::Id(n) => *n,
                    Target::Name(n) => self.process_named(line, n)?.id(),
                };
                handle(p.open_process(*access, *inherit, pid))
            }
            Op::OpenThread { target, access, inherit } => {
                let tid = match target {
                    Target::Id(n) => *n,
                    Target::Name(n) => match self.thread_id(n) {
                        Some(t) => t,
                        None => return fail(line, format!("no thread named `{n}`")),
                    },
                };
                handle(p.open_thread(*access, *inherit, tid))
            }
            Op::CreateFile { path, access, disposition, inherit } => {
                let full = self.file_path(line, path)?;
                let sa = SecurityAttributes { inherit_handle: *inherit, security_descriptor: None };
                handle(p.create_file(&full, *access, Some(&sa), *disposition))
            }
            Op::Write { h, data } => {
                p.write_file(self.handle(line, h)?, data.as_bytes()).map(|n| Value::Int(n as i64))
            }
            Op::Read { h, len } => {
                let mut buf = vec![0u8; *len];
                p.read_file(self.handle(line, h)?, &mut buf)
                    .map(|n| Value::Data(String::from_utf8_lossy(&buf[..n]).into_owned()))
            }
            Op::Seek { h, pos } => {
                p.set_file_pointer(self.handle(line, h)?, *pos).map(|n| Value::Int(n as i64))
            }
            Op::Close(h) => unit(p.close_handle(self.handle(line, h)?)),
            Op::Duplicate { source, from, to, access, inherit, options } => {
                let to = match to {
                    Some(t) => Some(self.handle(line, t)?),
                    None => None,
                };
                p.duplicate_handle(
                    self.handle(line, from)?,
                    self.handle(line, source)?,
                    to,
                    *access,
                    *inherit,
                    *options,
                )
                .map(|h| match h {
                    Some(h) => Value::Handle { h, existed: None, note: None },
                    None => Value::NoHandle,
                })
            }
            Op::GetFlags(h) => p.get_handle_information(self.handle(line, h)?).map(Value::Flags),
            Op::SetFlags { h, mask, flags } => {
                unit(p.set_handle_information(self.handle(line, h)?, *mask, *flags))
            }
            Op::Compare(a, b) => {
                p.compare_object_handles(self.handle(line, a)?, self.handle(line, b)?).map(Value::Bool)
            }
            Op::AccessOf(h) => {
                let h = self.handle(line, h)?;
                let raw = h.raw() & !3;
                match p.handles().into_iter().find(|r| !h.is_pseudo() && r.handle.raw() == raw) {
                    Some(row) => Ok(Value::Access(row.access, row.type_name)),
                    None => Err(Error::InvalidHandle),
                }
            }
            Op::Terminate(code) => unit(p.terminate(*code)),
            Op::Exit(code) => unit(c.thread().exit(*code)),
            Op::SetEvent(h) => unit(p.set_event(self.handle(line, h)?)),
            Op::ResetEvent(h) => unit(p.reset_event(self.handle(line, h)?)),
            Op::PulseEvent(h) => unit(p.pulse_event(self.handle(line, h)?)),
            Op::ReleaseSemaphore(h, n) => {
                p.release_semaphore(self.handle(line, h)?, *n).map(|v| Value::Int(i64::from(v)))
            }
            Op::ReleaseMutex(h) => unit(c.thread().release_mutex(self.handle(line, h)?)),
            Op::Query(ty, h) => {
                let h = self.handle(line, h)?;
                match ty {
                    ObjType::Event => p.query_event(h).map(|i| {
                        Value::Fields(vec![
                            ("manual_reset", Field::Bool(i.manual_reset)),
                            ("signaled", Field::Bool(i.signaled)),
                        ])
                    }),
                    ObjType::Semaphore => p.query_semaphore(h).map(|i| {
                        Value::Fields(vec![
                            ("count", Field::Int(i64::from(i.count))),
                            ("maximum", Field::Int(i64::from(i.maximum))),
                        ])
                    }),
                    ObjType::Timer => p.query_waitable_timer(h).map(|i| {
                        Value::Fields(vec![
                            ("manual_reset", Field::Bool(i.manual_reset)),
                            ("signaled", Field::Bool(i.signaled)),
                            ("remaining", Field::Ms(i.remaining)),
                        ])
                    }),
                    _ => p.query_mutex(h).map(|i| {
                        Value::Fields(vec![
                            ("owner", Field::Owner(i.owner)),
                            ("recursion", Field::Int(i64::from(i.recursion))),
                            ("abandoned", Field::Bool(i.abandoned)),
                        ])
                    }),
                }
            }
            Op::Wait(w) => {
                let never = AtomicBool::new(false);
                self.resolve_wait(line, w, Some(Duration::ZERO))?
                    .perform(&c.thread(), &never)
                    .map(Value::Wait)
            }
            Op::SleepEx { timeout, alertable } => c.thread().sleep_ex(*timeout, *alertable).map(Value::Wait),
            Op::SetTimer { h, due, period } => {
                let due = match due {
                    DueSpec::After(d) => Due::After(*d),
                    DueSpec::At(d) => Due::At(UNIX_EPOCH + *d),
                };
                unit(p.set_waitable_timer(self.handle(line, h)?, due, *period))
            }
            Op::CancelTimer(h) => unit(p.cancel_waitable_timer(self.handle(line, h)?)),
            Op::QueueApc { thread, set } => {
                let target = self.handle(line, thread)?;
                let counter = Arc::clone(&self.apcs);
                let set = match set {
                    Some(e) => Some((p.clone(), self.handle(line, e)?)),
                    None => None,
                };
                unit(p.queue_user_apc(target, move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    if let Some((p, e)) = set {
                        let _ = p.set_event(e);
                    }
                }))
            }
            Op::HandleCount => Ok(Value::Int(p.handle_count() as i64)),
            Op::Ended => Ok(Value::Bool(match c {
                Caller::Process(p) => p.is_terminated(),
                Caller::Thread(t) => t.has_exited(),
            })),
            Op::ExitCode => Ok(Value::Int(i64::from(match c {
                Caller::Process(p) => p.exit_code(),
                Caller::Thread(t) => t.exit_code(),
            }))),
            Op::Id => Ok(Value::Int(i64::from(match c {
                Caller::Process(p) => p.id(),
                Caller::Thread(t) => t.id(),
            }))),
            Op::CreateNamespace { boundary, alias, sids } => {
                let b = BoundaryDescriptor {
                    name: boundary.clone(),
                    sids: sids.iter().map(|s| s.sid()).collect(),
                };
                handle(p.create_private_namespace(&b, alias))
            }
            Op::OpenNamespace { boundary, alias, sids } => {
                let b = BoundaryDescriptor {
                    name: boundary.clone(),
                    sids: sids.iter().map(|s| s.sid()).collect(),
                };
                handle(p.open_private_namespace(&b, alias))
            }
        })
    }

    fn create(&mut self, line: usize, c: &Caller, spec: &CreateSpec) -> Result<Outcome, Failure> {
        let p = c.process();
        let sa = SecurityAttributes {
            inherit_handle: spec.inherit,
            security_descriptor: spec.dacl.as_ref().map(|d| SecurityDescriptor {
                owner: None,
                dacl: match d {
                    DaclSpec::Null => None,
                    DaclSpec::Aces(aces) => Some(
                        aces.iter()
                            .map(|&(allow, sid, access)| {
                                if allow {
                                    kobj::Ace::Allow(sid.sid(), access)
                                } else {
                                    kobj::Ace::Deny(sid.sid(), access)
                                }
                            })
                            .collect(),
                    ),
                },
            }),
        };
        let name = spec.name.as_deref();
        let created = match spec.ty {
            ObjType::Mutex => c.thread().create_mutex(Some(&sa), spec.owned, name),
            ObjType::Event => p.create_event(Some(&sa), spec.manual, spec.set, name),
            ObjType::Semaphore => p.create_semaphore(Some(&sa), spec.initial, spec.max, name),
            ObjType::Timer => p.create_waitable_timer(Some(&sa), spec.manual, name),
            ObjType::Mapping => {
                let file = match &spec.file {
                    Some(h) => Some(self.handle(line, h)?),
                    None => None,
                };
                p.create_file_mapping(file, Some(&sa), spec.protect, spec.size, name)
            }
            ObjType::Job => p.create_job_object(Some(&sa), name),
        };
        Ok(created.map(|c| Value::Handle { h: c.handle, existed: Some(c.already_existed), note: None }))
    }

    fn describe(&self, outcome: &Outcome) -> String {
        match outcome {
            Err(e) => format!("{} ({})", error_name(e.code()), e.code()),
            Ok(v) => match v {
                Value::Unit => "ok".to_owned(),
                Value::Handle { h, existed, note } => {
                    let mut s = handle_text(*h);
                    match existed {
                        Some(true) => s.push_str(" (already existed)"),
                        Some(false) => s.push_str(" (created)"),
                        None => {}
                    }
                    if let Some(n) = note {
                        s.push_str(&format!(" ({n})"));
                    }
                    s
                }
                Value::NoHandle => "no handle".to_owned(),
                Value::Wait(w) => wait_name(*w),
                Value::Int(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Flags(f) => flag_names(*f),
                Value::Access(a, ty) => format!("{:#x} {}", a.bits(), access_names(ty, *a)),
                Value::Fields(fields) => fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", self.field_text(v)))
                    .collect::<Vec<_>>()
                    .join(" "),
                Value::Data(d) => format!("{d:?}"),
                Value::Declared(d) => d.clone(),
            },
        }
    }

    fn field_text(&self, f: &Field) -> String {
        match f {
            Field::Int(n) => n.to_string(),
            Field::Bool(b) => b.to_string(),
            Field::Owner(None) => "none".to_owned(),
            Field::Owner(Some(tid)) => self.thread_name(*tid),
            Field::Ms(None) => "none".to_owned(),
            Field::Ms(Some(d)) => d.as_millis().to_string(),
        }
    }

    fn outcome_json(&self, outcome: &Outcome) -> Json {
        match outcome {
            Err(e) => json!({"ok": false, "error": error_name(e.code()), "code": e.code()}),
            Ok(v) => {
                let mut j = json!({"ok": true, "text": self.describe(outcome)});
                match v {
                    Value::Handle { h, existed, .. } => {
                        j["handle"] = json!(format!("{:#x}", h.raw()));
                        if let Some(e) = existed {
                            j["already_existed"] = json!(e);
                        }
                    }
                    Value::Wait(w) => {
                        j["wait"] = json!(wait_name(*w));
                        j["code"] = json!(w.code());
                    }
                    Value::Int(n) => j["value"] = json!(n),
                    Value::Bool(b) => j["value"] = json!(b),
                    Value::Flags(f) => j["flags"] = json!(flag_names(*f)),
                    Value::Access(a, ty) => {
                        j["access"] = json!(format!("{:#x}", a.bits()));
                        j["access_names"] = json!(access_names(ty, *a));
                    }
                    Value::Fields(fields) => {
                        for (k, f) in fields {
                            j[*k] = match f {
                                Field::Int(n) => json!(n),
                                Field::Bool(b) => json!(b),
                                Field::Owner(o) => json!(o),
                                Field::Ms(d) => json!(d.map(|d| d.as_millis() as u64)),
                            };
                        }
                    }
                    Value::Data(d) => j["data"] = json!(d),
                    Value::Unit | Value::NoHandle | Value::Declared(_) => {}
                }
                j
            }
        }
    }

    fn expect(&mut self, step: &Step, e: &Expectation) -> Result<(), Failure> {
        let line = step.line;
        let Some((at, at_text, outcome)) = self.last.clone() else {
            return fail(
                line,
                "`expect` needs a call before it to check (after `background`, check the `join`)",
            );
        };
        self.unchecked = None;
        let verdict = self.check(line, e, &outcome)?;
        let passed = verdict.is_none();
        self.echo_line(step, if passed { "ok" } else { "FAILED" });
        self.records.push(json!({"line": line, "step": step.text, "checks_line": at, "passed": passed}));
        match verdict {
            None => Ok(()),
            Some(wanted) => fail(
                line,
                format!("expected {wanted}, got {} (from line {at}: {at_text})", self.describe(&outcome)),
            ),
        }
    }

    /// `None` if `outcome` meets `e`, else what was wanted, in words.
    fn check(&self, line: usize, e: &Expectation, outcome: &Outcome) -> Result<Option<String>, Failure> {
        let ok = match (e, outcome) {
            (Expectation::Ok, Ok(_)) => true,
            (Expectation::Error(code), Err(err)) => err.code() == *code,
            // As GetLastError after a create that opened an existing object.
            (Expectation::Error(183), Ok(Value::Handle { existed: Some(true), .. })) => true,
            (Expectation::Created, Ok(Value::Handle { existed: Some(false), .. })) => true,
            (Expectation::AlreadyExisted, Ok(Value::Handle { existed: Some(true), .. })) => true,
            (Expectation::Handle(want), Ok(Value::Handle { h, .. })) => self.handle(line, want)? == *h,
            (Expectation::NoHandle, Ok(Value::NoHandle)) => true,
            (Expectation::Wait(w), Ok(Value::Wait(got))) => w == got,
            (Expectation::Bool(b), Ok(Value::Bool(got))) => b == got,
            (Expectation::Int(n), Ok(Value::Int(got))) => n == got,
            (Expectation::Flags(f), Ok(Value::Flags(got))) => f == got,
            (Expectation::Access(a), Ok(Value::Access(got, _))) => a.bits() == got.bits(),
            (Expectation::Data(d), Ok(Value::Data(got))) => d == got,
            (Expectation::Fields(want), Ok(Value::Fields(got))) => {
                for (k, v) in want {
                    let Some((_, f)) = got.iter().find(|(name, _)| name == k) else {
                        let known: Vec<&str> = got.iter().map(|(n, _)| *n).collect();
                        return fail(
                            line,
                            format!("the result has no field `{k}` (it has {})", known.join(", ")),
                        );
                    };
                    let matches = match f {
                        Field::Int(n) => v.parse::<i64>().ok() == Some(*n),
                        Field::Bool(b) => v.parse::<bool>().ok() == Some(*b),
                        Field::Owner(None) => v == "none",
                        Field::Ms(None) => v == "none",
                        Field::Ms(Some(d)) => v.parse::<u128>().ok() == Some(d.as_millis()),
                        Field::Owner(Some(tid)) => match self.thread_id(v) {
                            Some(t) => t == *tid,
                            None if v == "none" => false,
                            None => return fail(line, format!("no thread named `{v}`")),
                        },
                    };
                    if !matches {
                        return Ok(Some(
                            want.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
                        ));
                    }
                }
                true
            }
            _ => false,
        };
        Ok(if ok { None } else { Some(self.wanted(line, e)) })
    }

    fn wanted(&self, line: usize, e: &Expectation) -> String {
        match e {
            Expectation::Ok => "success".to_owned(),
            Expectation::Error(code) => format!("{} ({code})", error_name(*code)),
            Expectation::Created => "a new object (created)".to_owned(),
            Expectation::AlreadyExisted => "an existing object (already_existed)".to_owned(),
            Expectation::Handle(h) => match self.handle(line, h) {
                Ok(h) => format!("handle {}", handle_text(h)),
                Err(_) => "a handle".to_owned(),
            },
            Expectation::NoHandle => "no handle".to_owned(),
            Expectation::Wait(w) => wait_name(*w),
            Expectation::Bool(b) => b.to_string(),
            Expectation::Int(n) => n.to_string(),
            Expectation::Flags(f) => format!("flags {}", flag_names(*f)),
            Expectation::Access(a) => format!("access {:#x}", a.bits()),
            Expectation::Data(d) => format!("data {d:?}"),
            Expectation::Fields(f) => f.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
        }
    }

    fn print(&mut self, step: &Step, what: &PrintWhat) -> Result<(), Failure> {
        let line = step.line;
        let mut text = Vec::new();
        let detail = match what {
            PrintWhat::Handles(names) => {
                let chosen: Vec<(String, Process)> = if names.is_empty() {
                    self.procs.iter().map(|(n, p, _)| (n.clone(), p.clone())).collect()
                } else {
                    names
                        .iter()
                        .map(|n| self.process_named(line, n).map(|p| (n.clone(), p)))
                        .collect::<Result<_, _>>()?
                };
                let mut tables = Vec::new();
                for (n, p) in &chosen {
                    let _ = table::write_table(&mut text, n, p);
                    tables.push(table::table_json(n, p));
                }
                json!({"tables": tables})
            }
            PrintWhat::Namespace(path) => {
                let entries = match table::directory(self.kernel(), path) {
                    Ok(e) => e,
                    Err(e) => return fail(line, format!("cannot list {path}: {}", error_name(e.code()))),
                };
                let _ = table::write_directory(&mut text, path, &entries);
                json!({"namespace": path, "entries": entries.iter().map(|(n, k)| json!({"name": n, "kind": k})).collect::<Vec<_>>()})
            }
            PrintWhat::Objects => {
                let n = self.kernel().object_count();
                let _ = writeln!(text, "  objects alive: {n}");
                json!({"objects": n})
            }
            PrintWhat::Text(t) => {
                let _ = writeln!(text, "  {t}");
                json!({"text": t})
            }
        };
        self.echo_line(step, "");
        if self.echo {
            let _ = self.out.write_all(&text);
        }
        self.records.push(json!({"line": line, "step": step.text, "detail": detail}));
        Ok(())
    }

    fn capture_tables(&mut self) {
        let mut text = Vec::new();
        for (n, p, _) in &self.procs {
            let _ = table::write_table(&mut text, n, p);
            self.tables_json.push(table::table_json(n, p));
        }
        self.tables_text = String::from_utf8_lossy(&text).into_owned();
    }

    /// Terminates every process, ends the background waits, drops every value and
    /// checks that no object is left. Returns the problems found.
    fn teardown(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for (_, p, _) in &self.procs {
            let _ = p.terminate(0);
        }
        for (name, job) in self.jobs.drain() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !job.handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if job.handle.is_finished() {
                let _ = job.handle.join();
            } else {
                problems.push(format!(
                    "background job {name} (line {}) did not end when its process was terminated",
                    job.line
                ));
            }
        }
        self.last = None;
        self.threads.clear();
        self.procs.clear();
        if let Some(k) = &self.kernel {
            let left = k.object_count();
            if left != 0 {
                problems.push(format!(
                    "{left} object(s) still alive after every process was terminated (a leak)"
                ));
            }
        }
        if let Some(dir) = self.tempdir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        problems
    }
}

/// `0x4`, or `-1` … `-6` for the pseudo-handles.
fn handle_text(h: Handle) -> String {
    if h.is_pseudo() {
        format!("-{}", usize::MAX - h.raw() + 1)
    } else {
        format!("{:#x}", h.raw())
    }
}

/// The token a declaration asks for, if it names any part of one.
fn token(spec: &ProcSpec) -> Option<Token> {
    if !spec.has_token() {
        return None;
    }
    let user = spec.user.unwrap_or(SidSpec::User(1000)).sid();
    let mut t = Token::new(user);
    for g in &spec.groups {
        t = t.with_group(g.sid());
    }
    for p in &spec.privileges {
        t = t.with_privilege(*p);
    }
    Some(t)
}
