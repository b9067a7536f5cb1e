//! Scenarios: a line-oriented language for conformance cases, its parser and its runner.
//!
//! A scenario declares processes and threads, makes calls as them, and checks each
//! call's result with `expect` lines. `docs/scenarios.md` is the language's reference;
//! [`parse()`] turns a file into [`Step`]s (all syntax errors at once, each with its
//! line), [`run_file`] executes them against a fresh [`kobj::Kernel`].

mod lex;
mod parse;
mod run;

pub use parse::parse;
pub use run::{run_file, FileReport, RunOptions, Watchdog};

use std::time::Duration;

use kobj::{Access, DuplicateOptions, HandleFlags, WaitStatus};

/// A parsed scenario line.
#[derive(Clone, Debug)]
pub struct Step {
    /// 1-based line number in its file.
    pub line: usize,
    /// The line as written, comment and outer blanks removed.
    pub text: String,
    /// What it does.
    pub kind: StepKind,
}

/// A handle as a scenario names it: a variable bound by `VAR = ...`, or a literal value
/// (`0x8`, `12`, the pseudo-handles `-1` … `-6`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandleRef {
    /// A variable.
    Var(String),
    /// A raw value.
    Raw(usize),
}

/// A process or thread named by a scenario, or given by number (`open process 12`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A declared name.
    Name(String),
    /// A pid or tid.
    Id(u32),
}

/// A token as a process declaration gives it (`user`, `group`, `privilege`, `session`).
#[derive(Clone, Debug, Default)]
pub struct ProcSpec {
    /// `session N`.
    pub session: Option<u32>,
    /// `user N` or `user system`; with groups or privileges, a token is made.
    pub user: Option<SidSpec>,
    /// `group N`, repeatable.
    pub groups: Vec<SidSpec>,
    /// `privilege NAME`, repeatable.
    pub privileges: Vec<kobj::Privilege>,
}

impl ProcSpec {
    /// True when any token part was given (else the parent's token is used).
    pub fn has_token(&self) -> bool {
        self.user.is_some() || !self.groups.is_empty() || !self.privileges.is_empty()
    }
}

/// A SID: `everyone`, `system`, `user:N`, `group:N` (a bare `N` after `user`/`group`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SidSpec {
    /// S-1-1-0.
    Everyone,
    /// S-1-5-18.
    System,
    /// A user by relative id.
    User(u32),
    /// A group by relative id.
    Group(u32),
}

impl SidSpec {
    /// The engine's SID.
    pub fn sid(self) -> kobj::Sid {
        match self {
            SidSpec::Everyone => kobj::Sid::EVERYONE,
            SidSpec::System => kobj::Sid::SYSTEM,
            SidSpec::User(n) => kobj::Sid::user(n),
            SidSpec::Group(n) => kobj::Sid::group(n),
        }
    }
}

/// A security descriptor given with `dacl ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaclSpec {
    /// `dacl null`: a NULL DACL, everyone gets everything.
    Null,
    /// `dacl empty` or a list of ACEs (`allow SID ACCESS`, `deny SID ACCESS`).
    Aces(Vec<(bool, SidSpec, Access)>),
}

/// The object types a scenario creates and opens by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjType {
    /// `mutex`.
    Mutex,
    /// `event`.
    Event,
    /// `semaphore`.
    Semaphore,
    /// `timer` (a waitable timer).
    Timer,
    /// `mapping` (a file mapping).
    Mapping,
    /// `job`.
    Job,
}

impl ObjType {
    /// The type's ALL_ACCESS, the default access of `open`.
    pub fn all_access(self) -> Access {
        match self {
            ObjType::Mutex => Access::MUTEX_ALL_ACCESS,
            ObjType::Event => Access::EVENT_ALL_ACCESS,
            ObjType::Semaphore => Access::SEMAPHORE_ALL_ACCESS,
            ObjType::Timer => Access::TIMER_ALL_ACCESS,
            ObjType::Mapping => Access::FILE_MAP_ALL_ACCESS,
            ObjType::Job => Access::JOB_OBJECT_ALL_ACCESS,
        }
    }
}

/// Parameters of `create TYPE`.
#[derive(Clone, Debug)]
pub struct CreateSpec {
    /// The type.
    pub ty: ObjType,
    /// The name; `None` for an unnamed object.
    pub name: Option<String>,
    /// `inherit`.
    pub inherit: bool,
    /// `dacl ...`.
    pub dacl: Option<DaclSpec>,
    /// Mutex `owned`.
    pub owned: bool,
    /// Event or timer `manual`.
    pub manual: bool,
    /// Event `set` (initially signalled).
    pub set: bool,
    /// Semaphore `initial N`.
    pub initial: i32,
    /// Semaphore `max N`.
    pub max: i32,
    /// Mapping `size N`.
    pub size: u64,
    /// Mapping `protect N`.
    pub protect: u32,
    /// Mapping `file H`.
    pub file: Option<HandleRef>,
}

/// How a wait waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitMode {
    /// `wait H`: WaitForSingleObject.
    Single,
    /// `wait_any H...`: WaitForMultipleObjects(FALSE).
    Any,
    /// `wait_all H...`: WaitForMultipleObjects(TRUE).
    All,
    /// `wait_async H... [all]`: `thread.wait_async`, its future driven to completion on
    /// the waiting host thread (no timeout; `cancel JOB` drops it).
    Async {
        /// Wait for all of them.
        all: bool,
    },
}

/// A wait call: the form `background` also takes.
#[derive(Clone, Debug)]
pub enum WaitOp {
    /// `wait`, `wait_any`, `wait_all`.
    Wait {
        /// Single, any or all.
        mode: WaitMode,
        /// The handles, in order.
        handles: Vec<HandleRef>,
        /// `timeout MS` or `timeout infinite` (`None`); absent: the step's default.
        timeout: Option<Option<Duration>>,
        /// `alertable`: the `_ex` call with `alertable = true` (APCs run in it).
        alertable: bool,
    },
    /// `signal_and_wait S W`.
    SignalAndWait {
        /// The handle to signal.
        signal: HandleRef,
        /// The handle to wait on.
        wait: HandleRef,
        /// As for `Wait`.
        timeout: Option<Option<Duration>>,
        /// As for `Wait`.
        alertable: bool,
    },
}

/// A call made as a process or thread (`WHO: ...`).
#[derive(Clone, Debug)]
pub enum Op {
    /// `create TYPE ["name"] options`.
    Create(CreateSpec),
    /// `open TYPE "name" [access A] [inherit]`.
    Open { ty: ObjType, name: String, access: Access, inherit: bool },
    /// `open process NAME|PID [access A] [inherit]`.
    OpenProcess { target: Target, access: Access, inherit: bool },
    /// `open thread NAME|TID [access A] [inherit]`.
    OpenThread { target: Target, access: Access, inherit: bool },
    /// `create file "path" [access A] [disposition D] [inherit]`.
    CreateFile { path: String, access: Access, disposition: kobj::CreationDisposition, inherit: bool },
    /// `write H "text"`.
    Write { h: HandleRef, data: String },
    /// `read H N`.
    Read { h: HandleRef, len: usize },
    /// `seek H N [from start|current|end]`.
    Seek { h: HandleRef, pos: std::io::SeekFrom },
    /// `close H`.
    Close(HandleRef),
    /// `duplicate H [from P] [to P|none] [access A] [inherit] [close_source] [same_access] [same_attributes]`.
    Duplicate {
        source: HandleRef,
        from: HandleRef,
        to: Option<HandleRef>,
        access: Access,
        inherit: bool,
        options: DuplicateOptions,
    },
    /// `get_flags H`.
    GetFlags(HandleRef),
    /// `set_flags H FLAG=on|off ...`.
    SetFlags { h: HandleRef, mask: HandleFlags, flags: HandleFlags },
    /// `compare H H`.
    Compare(HandleRef, HandleRef),
    /// `access H`: the access a handle holds.
    AccessOf(HandleRef),
    /// `terminate [CODE]`.
    Terminate(u32),
    /// `exit [CODE]` (a thread).
    Exit(u32),
    /// `set H`.
    SetEvent(HandleRef),
    /// `reset H`.
    ResetEvent(HandleRef),
    /// `pulse H`.
    PulseEvent(HandleRef),
    /// `release H [N]` (a semaphore).
    ReleaseSemaphore(HandleRef, i32),
    /// `release_mutex H`.
    ReleaseMutex(HandleRef),
    /// `query event|semaphore|mutex H`.
    Query(ObjType, HandleRef),
    /// A wait.
    Wait(WaitOp),
    /// `handle_count`.
    HandleCount,
    /// `terminated` (a process) / `exited` (a thread).
    Ended,
    /// `exit_code`.
    ExitCode,
    /// `id`: the pid or tid.
    Id,
    /// `set_timer H after|at MS [period MS]`.
    SetTimer { h: HandleRef, due: DueSpec, period: Duration },
    /// `cancel_timer H`.
    CancelTimer(HandleRef),
    /// `queue_apc THREAD_HANDLE [set EVENT]`: an APC that counts itself (see `apcs`) and
    /// optionally sets an event.
    QueueApc { thread: HandleRef, set: Option<HandleRef> },
    /// `sleep_ex [timeout MS|infinite] [alertable]` (a thread).
    SleepEx { timeout: Option<Duration>, alertable: bool },
    /// `create_namespace "boundary" alias "A" [sid SID]...`.
    CreateNamespace { boundary: String, alias: String, sids: Vec<SidSpec> },
    /// `open_namespace "boundary" alias "A" [sid SID]...`.
    OpenNamespace { boundary: String, alias: String, sids: Vec<SidSpec> },
}

/// A timer's due time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DueSpec {
    /// `after MS`: relative, on the monotonic clock.
    After(Duration),
    /// `at MS`: absolute, MS after `UNIX_EPOCH` on the kernel's wall clock.
    At(Duration),
}

/// What `expect` checks about the previous step's result.
#[derive(Clone, Debug)]
pub enum Expectation {
    /// `ok`: any success.
    Ok,
    /// `ERROR_NAME` or `error N`.
    Error(u32),
    /// `created`: a create that made a new object.
    Created,
    /// `already_existed`: a create that opened an existing object.
    AlreadyExisted,
    /// `handle H`.
    Handle(HandleRef),
    /// `none`: a duplicate that returned no handle.
    NoHandle,
    /// `WAIT_...`.
    Wait(WaitStatus),
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// `flags F`.
    Flags(HandleFlags),
    /// `access A`.
    Access(Access),
    /// `data "text"`.
    Data(String),
    /// `key=value ...` (fields of a `query`).
    Fields(Vec<(String, String)>),
}

/// What `print` prints.
#[derive(Clone, Debug)]
pub enum PrintWhat {
    /// `print handles [NAME...]`.
    Handles(Vec<String>),
    /// `print namespace [PATH]`.
    Namespace(String),
    /// `print objects`.
    Objects,
    /// `print "text"`.
    Text(String),
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum StepKind {
    /// `kernel [handle_limit N] [clock manual|system]` (before any process).
    Kernel { handle_limit: Option<usize>, manual_clock: bool },
    /// `advance MS`: moves a manual clock forward.
    Advance(Duration),
    /// `clock`: the kernel's clock reading, in milliseconds.
    ClockNow,
    /// `apcs`: how many of the scenario's APCs have run.
    Apcs,
    /// `process NAME ...`.
    Process { name: String, spec: ProcSpec },
    /// `thread NAME in PROC [inherit] [as VAR]`.
    Thread { name: String, process: String, inherit: bool, bind: Option<String> },
    /// `spawn NAME from PROC [inherit] [list H,H] ... [as VAR]`.
    Spawn {
        name: String,
        parent: String,
        inherit: bool,
        list: Option<Vec<HandleRef>>,
        spec: ProcSpec,
        bind: Option<String>,
    },
    /// `WHO: [VAR =] op`.
    Call { who: String, bind: Option<String>, op: Op },
    /// `background JOB WHO: wait...`.
    Background { job: String, who: String, op: WaitOp },
    /// `join JOB [timeout MS]`.
    Join { job: String, timeout: Duration },
    /// `pending JOB`.
    Pending(String),
    /// `cancel JOB`: drops a `wait_async` job's future.
    Cancel(String),
    /// `expect ...`.
    Expect(Expectation),
    /// `print ...`.
    Print(PrintWhat),
    /// `objects`: the kernel's live object count.
    Objects,
    /// `sleep MS`.
    Sleep(Duration),
    /// `settle MS`: how long `background` waits for its thread to block.
    Settle(Duration),
}
