//! The scenario parser: one statement per line, recursive descent over its tokens.
//!
//! Each line is parsed on its own, so one bad line does not hide the next: [`parse`]
//! returns every syntax error of a file, each as `(line, message)`.

use std::io::SeekFrom;
use std::time::Duration;

use kobj::{Access, CreationDisposition, DuplicateOptions, HandleFlags, Privilege};

use super::lex::{tokens, Tok, Token};
use super::{
    CreateSpec, DaclSpec, DueSpec, Expectation, HandleRef, ObjType, Op, PrintWhat, ProcSpec, SidSpec, Step,
    StepKind, Target, WaitMode, WaitOp,
};
use crate::names::{error_code, parse_access, parse_flags, parse_u64, parse_wait};

/// A syntax error: its line and message.
pub type SyntaxError = (usize, String);

/// Parses a whole scenario. Blank and comment-only lines make no step.
pub fn parse(source: &str) -> Result<Vec<Step>, Vec<SyntaxError>> {
    let mut steps = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in source.lines().enumerate() {
        let line = i + 1;
        let toks = match tokens(raw) {
            Ok(t) => t,
            Err((col, msg)) => {
                errors.push((line, format!("column {col}: {msg}")));
                continue;
            }
        };
        if toks.is_empty() {
            continue;
        }
        let text = strip_comment(raw);
        let mut c = Cursor { toks: &toks, pos: 0 };
        match statement(&mut c).and_then(|kind| c.end().map(|()| kind)) {
            Ok(kind) => steps.push(Step { line, text, kind }),
            Err(msg) => errors.push((line, msg)),
        }
    }
    if errors.is_empty() {
        Ok(steps)
    } else {
        Err(errors)
    }
}

/// The line without its comment (a `#` outside quotes) and outer blanks.
fn strip_comment(raw: &str) -> String {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        match c {
            '\\' if in_str && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => in_str = !in_str,
            '#' if !in_str => return raw[..i].trim().to_owned(),
            _ => {}
        }
        escaped = false;
    }
    raw.trim().to_owned()
}

/// A position in one line's tokens.
struct Cursor<'a> {
    toks: &'a [Token],
    pos: usize,
}

type PResult<T> = Result<T, String>;

impl Cursor<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    /// Describes the next token for an error message.
    fn found(&self) -> String {
        match self.toks.get(self.pos) {
            None => "the end of the line".to_owned(),
            Some(Token { tok: Tok::Word(w), col }) => format!("`{w}` (column {col})"),
            Some(Token { tok: Tok::Str(s), col }) => format!("the string {s:?} (column {col})"),
        }
    }

    fn word(&mut self, what: &str) -> PResult<String> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(format!("expected {what}, found {}", self.found())),
        }
    }

    fn string(&mut self, what: &str) -> PResult<String> {
        match self.peek() {
            Some(Tok::Str(s)) => {
                let mut s = s.clone();
                self.pos += 1;
                // `"ab" * 3` repeats the string (long names).
                if self.eat("*") {
                    let n = self.number("a repeat count after `*`")?;
                    let n = usize::try_from(n).map_err(|_| "repeat count too large".to_owned())?;
                    if n > 1 << 20 {
                        return Err("repeat count too large (at most 1048576)".to_owned());
                    }
                    s = s.repeat(n);
                }
                Ok(s)
            }
            _ => Err(format!("expected {what} (a quoted string), found {}", self.found())),
        }
    }

    fn eat(&mut self, kw: &str) -> bool {
        if self.peek_word() == Some(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, kw: &str) -> PResult<()> {
        if self.eat(kw) {
            Ok(())
        } else {
            Err(format!("expected `{kw}`, found {}", self.found()))
        }
    }

    fn number(&mut self, what: &str) -> PResult<u64> {
        let w = self.word(what)?;
        parse_u64(&w).ok_or_else(|| format!("expected {what}, found `{w}`"))
    }

    fn signed(&mut self, what: &str) -> PResult<i64> {
        let w = self.word(what)?;
        parse_signed(&w).ok_or_else(|| format!("expected {what}, found `{w}`"))
    }

    fn u32(&mut self, what: &str) -> PResult<u32> {
        let n = self.number(what)?;
        u32::try_from(n).map_err(|_| format!("{what} {n} does not fit 32 bits"))
    }

    fn i32(&mut self, what: &str) -> PResult<i32> {
        let n = self.signed(what)?;
        i32::try_from(n).map_err(|_| format!("{what} {n} does not fit a 32-bit integer"))
    }

    fn name(&mut self, what: &str) -> PResult<String> {
        let w = self.word(what)?;
        if is_name(&w) {
            Ok(w)
        } else {
            Err(format!("expected {what} (letters, digits, `_`, `.`), found `{w}`"))
        }
    }

    fn handle(&mut self, what: &str) -> PResult<HandleRef> {
        let w = self.word(what)?;
        handle_ref(&w).ok_or_else(|| format!("expected {what} (a variable or a handle value), found `{w}`"))
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn end(&self) -> PResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(format!("unexpected {}", self.found()))
        }
    }
}

fn is_name(w: &str) -> bool {
    let mut chars = w.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn parse_signed(w: &str) -> Option<i64> {
    match w.strip_prefix('-') {
        Some(rest) => parse_u64(rest).and_then(|n| i64::try_from(n).ok()).map(|n| -n),
        None => parse_u64(w).and_then(|n| i64::try_from(n).ok()),
    }
}

/// `m` (a variable), `0x8`, `12`, or a pseudo-handle `-1` … `-6`.
fn handle_ref(w: &str) -> Option<HandleRef> {
    if let Some(rest) = w.strip_prefix('-') {
        let n = parse_u64(rest)?;
        return (1..=6).contains(&n).then(|| HandleRef::Raw(usize::MAX - (n as usize) + 1));
    }
    if let Some(n) = parse_u64(w) {
        return usize::try_from(n).ok().map(HandleRef::Raw);
    }
    is_name(w).then(|| HandleRef::Var(w.to_owned()))
}

fn statement(c: &mut Cursor<'_>) -> PResult<StepKind> {
    let first = match c.peek() {
        Some(Tok::Word(w)) => w.clone(),
        _ => return Err(format!("expected a statement, found {}", c.found())),
    };
    // `WHO: ...` (or `WHO : ...`).
    if let Some(who) = first.strip_suffix(':') {
        c.pos += 1;
        return call(c, who);
    }
    if c.toks.get(1).is_some_and(|t| t.tok == Tok::Word(":".into())) {
        c.pos += 2;
        return call(c, &first);
    }
    c.pos += 1;
    match first.as_str() {
        "kernel" => {
            let mut handle_limit = None;
            let mut manual_clock = false;
            if c.at_end() {
                return Err("expected `handle_limit N` or `clock manual|system` after `kernel`".to_owned());
            }
            while !c.at_end() {
                let w = c.word("a kernel option (handle_limit, clock)")?;
                match w.as_str() {
                    "handle_limit" => {
                        let n = c.number("a handle limit")?;
                        handle_limit =
                            Some(usize::try_from(n).map_err(|_| "handle limit too large".to_owned())?);
                    }
                    "clock" => {
                        let k = c.word("manual or system")?;
                        manual_clock = match k.as_str() {
                            "manual" => true,
                            "system" => false,
                            _ => return Err(format!("expected manual or system after `clock`, found `{k}`")),
                        };
                    }
                    _ => return Err(format!("unknown kernel option `{w}` (handle_limit, clock)")),
                }
            }
            Ok(StepKind::Kernel { handle_limit, manual_clock })
        }
        "advance" => Ok(StepKind::Advance(Duration::from_millis(c.number("milliseconds")?))),
        "clock" => Ok(StepKind::ClockNow),
        "apcs" => Ok(StepKind::Apcs),
        "process" => {
            let name = c.name("a process name")?;
            let spec = proc_spec(c)?;
            Ok(StepKind::Process { name, spec })
        }
        "thread" => {
            let name = c.name("a thread name")?;
            c.keyword("in")?;
            let process = c.name("the process the thread belongs to")?;
            let inherit = c.eat("inherit");
            let bind = bind_as(c)?;
            Ok(StepKind::Thread { name, process, inherit, bind })
        }
        "spawn" => {
            let name = c.name("the child's name")?;
            c.keyword("from")?;
            let parent = c.name("the parent process")?;
            let mut inherit = false;
            let mut list = None;
            let mut spec = ProcSpec::default();
            let mut bind = None;
            loop {
                if c.eat("inherit") {
                    inherit = true;
                } else if c.eat("list") {
                    let w = c.word("a handle list (h1,h2,...)")?;
                    let mut hs = Vec::new();
                    for part in w.split(',').filter(|p| !p.is_empty()) {
                        hs.push(handle_ref(part).ok_or_else(|| format!("bad handle `{part}` in the list"))?);
                    }
                    list = Some(hs);
                } else if c.eat("empty_list") {
                    list = Some(Vec::new());
                } else if c.peek_word() == Some("as") {
                    bind = bind_as(c)?;
                } else if c.at_end() {
                    break;
                } else {
                    proc_option(c, &mut spec)?;
                }
            }
            Ok(StepKind::Spawn { name, parent, inherit, list, spec, bind })
        }
        "background" => {
            let job = c.name("a job name")?;
            let who = c.word("`WHO:`")?;
            let who = who
                .strip_suffix(':')
                .ok_or_else(|| format!("expected `WHO:` after the job name, found `{who}`"))?;
            let verb = c.word("a wait (wait, wait_any, wait_all, signal_and_wait)")?;
            let op = wait_op(c, &verb)?.ok_or_else(|| {
                format!("`background` takes a wait (wait, wait_any, wait_all, wait_async, signal_and_wait), not `{verb}`")
            })?;
            Ok(StepKind::Background { job, who: who.to_owned(), op })
        }
        "join" => {
            let job = c.name("a job name")?;
            let timeout = if c.eat("timeout") {
                Duration::from_millis(c.number("a timeout in milliseconds")?)
            } else {
                Duration::from_secs(5)
            };
            Ok(StepKind::Join { job, timeout })
        }
        "pending" => Ok(StepKind::Pending(c.name("a job name")?)),
        "cancel" => Ok(StepKind::Cancel(c.name("a job name")?)),
        "expect" => Ok(StepKind::Expect(expectation(c)?)),
        "print" => Ok(StepKind::Print(print(c)?)),
        "objects" => Ok(StepKind::Objects),
        "sleep" => Ok(StepKind::Sleep(Duration::from_millis(c.number("milliseconds")?))),
        "settle" => Ok(StepKind::Settle(Duration::from_millis(c.number("milliseconds")?))),
        other => Err(format!(
            "unknown statement `{other}` (expected process, thread, spawn, `WHO:` call, background, join, \
             pending, cancel, expect, print, objects, apcs, clock, advance, sleep, settle or kernel)"
        )),
    }
}

fn bind_as(c: &mut Cursor<'_>) -> PResult<Option<String>> {
    if c.eat("as") {
        Ok(Some(c.name("a variable name after `as`")?))
    } else {
        Ok(None)
    }
}

fn proc_spec(c: &mut Cursor<'_>) -> PResult<ProcSpec> {
    let mut spec = ProcSpec::default();
    while !c.at_end() {
        proc_option(c, &mut spec)?;
    }
    Ok(spec)
}

fn proc_option(c: &mut Cursor<'_>, spec: &mut ProcSpec) -> PResult<()> {
    let w = c.word("a process option (session, user, group, privilege)")?;
    match w.as_str() {
        "session" => spec.session = Some(c.u32("a session number")?),
        "user" => {
            spec.user =
                Some(if c.eat("system") { SidSpec::System } else { SidSpec::User(c.u32("a user id")?) })
        }
        "group" => spec.groups.push(SidSpec::Group(c.u32("a group id")?)),
        "privilege" => {
            let p = c.word("a privilege")?;
            spec.privileges.push(match p.as_str() {
                "CreateGlobal" | "SeCreateGlobalPrivilege" => Privilege::CreateGlobal,
                "AssignPrimaryToken" | "SeAssignPrimaryTokenPrivilege" => Privilege::AssignPrimaryToken,
                "Tcb" | "SeTcbPrivilege" => Privilege::Tcb,
                _ => return Err(format!("unknown privilege `{p}` (CreateGlobal, AssignPrimaryToken, Tcb)")),
            });
        }
        _ => return Err(format!("unknown process option `{w}` (session, user, group, privilege)")),
    }
    Ok(())
}

fn sid(c: &mut Cursor<'_>) -> PResult<SidSpec> {
    let w = c.word("a SID (everyone, system, user:N, group:N)")?;
    let num = |s: &str| s.parse::<u32>().map_err(|_| format!("bad SID `{w}`"));
    match w.as_str() {
        "everyone" => Ok(SidSpec::Everyone),
        "system" => Ok(SidSpec::System),
        _ => {
            if let Some(n) = w.strip_prefix("user:") {
                Ok(SidSpec::User(num(n)?))
            } else if let Some(n) = w.strip_prefix("group:") {
                Ok(SidSpec::Group(num(n)?))
            } else {
                Err(format!("expected a SID (everyone, system, user:N, group:N), found `{w}`"))
            }
        }
    }
}

fn access(c: &mut Cursor<'_>) -> PResult<Access> {
    let w = c.word("an access mask")?;
    parse_access(&w)
}

fn obj_type(w: &str) -> Option<ObjType> {
    Some(match w {
        "mutex" => ObjType::Mutex,
        "event" => ObjType::Event,
        "semaphore" => ObjType::Semaphore,
        "timer" => ObjType::Timer,
        "mapping" => ObjType::Mapping,
        "job" => ObjType::Job,
        _ => return None,
    })
}

/// `[timeout MS|infinite] [alertable]`, in either order.
fn wait_tail(c: &mut Cursor<'_>) -> PResult<(Option<Option<Duration>>, bool)> {
    let mut timeout = None;
    let mut alertable = false;
    loop {
        if c.eat("timeout") {
            timeout = Some(if c.eat("infinite") {
                None
            } else {
                Some(Duration::from_millis(c.number("a timeout in milliseconds, or `infinite`")?))
            });
        } else if c.eat("alertable") {
            alertable = true;
        } else {
            return Ok((timeout, alertable));
        }
    }
}

/// A wait verb's arguments, or `None` if `verb` is not a wait.
fn wait_op(c: &mut Cursor<'_>, verb: &str) -> PResult<Option<WaitOp>> {
    let mode = match verb {
        "wait" => WaitMode::Single,
        "wait_any" => WaitMode::Any,
        "wait_all" => WaitMode::All,
        "wait_async" => {
            let mut handles = Vec::new();
            while !c.at_end() && c.peek_word() != Some("all") {
                handles.push(c.handle("a handle to wait on")?);
            }
            if handles.is_empty() {
                return Err(format!("expected a handle to wait on, found {}", c.found()));
            }
            let all = c.eat("all");
            return Ok(Some(WaitOp::Wait {
                mode: WaitMode::Async { all },
                handles,
                timeout: None,
                alertable: false,
            }));
        }
        "signal_and_wait" => {
            let signal = c.handle("the handle to signal")?;
            let wait = c.handle("the handle to wait on")?;
            let (timeout, alertable) = wait_tail(c)?;
            return Ok(Some(WaitOp::SignalAndWait { signal, wait, timeout, alertable }));
        }
        _ => return Ok(None),
    };
    let mut handles = vec![c.handle("a handle to wait on")?];
    if mode != WaitMode::Single {
        while !c.at_end() && c.peek_word() != Some("timeout") && c.peek_word() != Some("alertable") {
            handles.push(c.handle("a handle to wait on")?);
        }
    }
    let (timeout, alertable) = wait_tail(c)?;
    Ok(Some(WaitOp::Wait { mode, handles, timeout, alertable }))
}

fn call(c: &mut Cursor<'_>, who: &str) -> PResult<StepKind> {
    if !is_name(who) {
        return Err(format!("`{who}` is not a process or thread name"));
    }
    let mut bind = None;
    if c.toks.get(c.pos + 1).is_some_and(|t| t.tok == Tok::Word("=".into())) {
        bind = Some(c.name("a variable name")?);
        c.pos += 1;
    }
    let verb = c.word("a call (create, open, close, duplicate, wait, ...)")?;
    let op = op(c, &verb)?;
    Ok(StepKind::Call { who: who.to_owned(), bind, op })
}

fn op(c: &mut Cursor<'_>, verb: &str) -> PResult<Op> {
    if let Some(w) = wait_op(c, verb)? {
        return Ok(Op::Wait(w));
    }
    let h = |c: &mut Cursor<'_>| c.handle("a handle");
    Ok(match verb {
        "create" => create(c)?,
        "open" => open(c)?,
        "close" => Op::Close(h(c)?),
        "duplicate" => duplicate(c)?,
        "get_flags" => Op::GetFlags(h(c)?),
        "set_flags" => {
            let handle = h(c)?;
            let mut mask = HandleFlags::empty();
            let mut flags = HandleFlags::empty();
            if c.at_end() {
                return Err(
                    "expected FLAG=on|off after the handle (INHERIT=on, PROTECT_FROM_CLOSE=off)".to_owned()
                );
            }
            while !c.at_end() {
                let w = c.word("FLAG=on|off")?;
                let (name, value) =
                    w.split_once('=').ok_or_else(|| format!("expected FLAG=on|off, found `{w}`"))?;
                let bit = parse_flags(name)?;
                mask |= bit;
                match value {
                    "on" | "1" | "true" => flags |= bit,
                    "off" | "0" | "false" => {}
                    _ => return Err(format!("expected on or off after `{name}=`, found `{value}`")),
                }
            }
            Op::SetFlags { h: handle, mask, flags }
        }
        "compare" => Op::Compare(h(c)?, h(c)?),
        "access" => Op::AccessOf(h(c)?),
        "terminate" => Op::Terminate(if c.at_end() { 0 } else { c.u32("an exit code")? }),
        "exit" => Op::Exit(if c.at_end() { 0 } else { c.u32("an exit code")? }),
        "set" => Op::SetEvent(h(c)?),
        "reset" => Op::ResetEvent(h(c)?),
        "pulse" => Op::PulseEvent(h(c)?),
        "release" => {
            let handle = h(c)?;
            let n = if c.at_end() { 1 } else { c.i32("a release count")? };
            Op::ReleaseSemaphore(handle, n)
        }
        "release_mutex" => Op::ReleaseMutex(h(c)?),
        "query" => {
            let w = c.word("event, semaphore, mutex or timer")?;
            let ty = match w.as_str() {
                "event" => ObjType::Event,
                "semaphore" => ObjType::Semaphore,
                "mutex" => ObjType::Mutex,
                "timer" => ObjType::Timer,
                _ => return Err(format!("`query` takes event, semaphore, mutex or timer, not `{w}`")),
            };
            Op::Query(ty, h(c)?)
        }
        "set_timer" => {
            let handle = h(c)?;
            let due = if c.eat("after") {
                DueSpec::After(Duration::from_millis(c.number("milliseconds")?))
            } else if c.eat("at") {
                DueSpec::At(Duration::from_millis(c.number("milliseconds after UNIX_EPOCH")?))
            } else {
                return Err(format!("expected `after MS` or `at MS`, found {}", c.found()));
            };
            let period = if c.eat("period") {
                Duration::from_millis(c.number("a period in milliseconds")?)
            } else {
                Duration::ZERO
            };
            Op::SetTimer { h: handle, due, period }
        }
        "cancel_timer" => Op::CancelTimer(h(c)?),
        "queue_apc" => {
            let thread = c.handle("a thread handle")?;
            let set = if c.eat("set") { Some(c.handle("an event to set")?) } else { None };
            Op::QueueApc { thread, set }
        }
        "sleep_ex" => {
            let (timeout, alertable) = wait_tail(c)?;
            Op::SleepEx { timeout: timeout.unwrap_or(Some(Duration::ZERO)), alertable }
        }
        "handle_count" => Op::HandleCount,
        "terminated" | "exited" => Op::Ended,
        "exit_code" => Op::ExitCode,
        "id" => Op::Id,
        "write" => Op::Write { h: h(c)?, data: c.string("the data to write")? },
        "read" => {
            let handle = h(c)?;
            let n = c.number("a byte count")?;
            if n > 1 << 20 {
                return Err("read at most 1048576 bytes".to_owned());
            }
            Op::Read { h: handle, len: n as usize }
        }
        "seek" => {
            let handle = h(c)?;
            let n = c.signed("a position")?;
            let pos = if c.eat("from") {
                let w = c.word("start, current or end")?;
                match w.as_str() {
                    "start" => {
                        SeekFrom::Start(u64::try_from(n).map_err(|_| "a position from start is >= 0")?)
                    }
                    "current" => SeekFrom::Current(n),
                    "end" => SeekFrom::End(n),
                    _ => return Err(format!("expected start, current or end, found `{w}`")),
                }
            } else {
                SeekFrom::Start(
                    u64::try_from(n).map_err(|_| "a position from start is >= 0 (add `from current`)")?,
                )
            };
            Op::Seek { h: handle, pos }
        }
        "create_namespace" | "open_namespace" => {
            let boundary = c.string("the boundary name")?;
            c.keyword("alias")?;
            let alias = c.string("the alias")?;
            let mut sids = Vec::new();
            while c.eat("sid") {
                sids.push(sid(c)?);
            }
            if verb == "create_namespace" {
                Op::CreateNamespace { boundary, alias, sids }
            } else {
                Op::OpenNamespace { boundary, alias, sids }
            }
        }
        _ => return Err(format!("unknown call `{verb}`")),
    })
}

fn create(c: &mut Cursor<'_>) -> PResult<Op> {
    let tw = c.word("a type (mutex, event, semaphore, timer, mapping, job, file)")?;
    if tw == "file" {
        let path = c.string("a file path")?;
        let mut access_mask = Access::GENERIC_READ | Access::GENERIC_WRITE;
        let mut disposition = CreationDisposition::OpenAlways;
        let mut inherit = false;
        while !c.at_end() {
            let w = c.word("a file option (access, disposition, inherit)")?;
            match w.as_str() {
                "access" => access_mask = access(c)?,
                "inherit" => inherit = true,
                "disposition" => {
                    let d = c.word("a disposition")?;
                    disposition = match d.as_str() {
                        "create_new" => CreationDisposition::CreateNew,
                        "create_always" => CreationDisposition::CreateAlways,
                        "open_existing" => CreationDisposition::OpenExisting,
                        "open_always" => CreationDisposition::OpenAlways,
                        "truncate_existing" => CreationDisposition::TruncateExisting,
                        _ => return Err(format!("unknown disposition `{d}`")),
                    };
                }
                _ => return Err(format!("unknown file option `{w}` (access, disposition, inherit)")),
            }
        }
        return Ok(Op::CreateFile { path, access: access_mask, disposition, inherit });
    }
    let ty = obj_type(&tw).ok_or_else(|| {
        format!("unknown object type `{tw}` (mutex, event, semaphore, timer, mapping, job, file)")
    })?;
    let name = if matches!(c.peek(), Some(Tok::Str(_))) { Some(c.string("a name")?) } else { None };
    let mut spec = CreateSpec {
        ty,
        name,
        inherit: false,
        dacl: None,
        owned: false,
        manual: false,
        set: false,
        initial: 0,
        max: 1,
        size: 4096,
        protect: 0x04,
        file: None,
    };
    while !c.at_end() {
        let w = c.word("an option")?;
        let fits = match (w.as_str(), ty) {
            ("inherit", _) => {
                spec.inherit = true;
                true
            }
            ("dacl", _) => {
                spec.dacl = Some(dacl(c)?);
                true
            }
            ("owned", ObjType::Mutex) => {
                spec.owned = true;
                true
            }
            ("manual", ObjType::Event | ObjType::Timer) => {
                spec.manual = true;
                true
            }
            ("auto", ObjType::Event | ObjType::Timer) => {
                spec.manual = false;
                true
            }
            ("set", ObjType::Event) => {
                spec.set = true;
                true
            }
            ("initial", ObjType::Semaphore) => {
                spec.initial = c.i32("an initial count")?;
                true
            }
            ("max", ObjType::Semaphore) => {
                spec.max = c.i32("a maximum count")?;
                true
            }
            ("size", ObjType::Mapping) => {
                spec.size = c.number("a size")?;
                true
            }
            ("protect", ObjType::Mapping) => {
                spec.protect = c.u32("a page protection")?;
                true
            }
            ("file", ObjType::Mapping) => {
                spec.file = Some(c.handle("a file handle")?);
                true
            }
            _ => false,
        };
        if !fits {
            return Err(format!("`{w}` is not an option of `create {tw}`"));
        }
    }
    Ok(Op::Create(spec))
}

fn dacl(c: &mut Cursor<'_>) -> PResult<DaclSpec> {
    if c.eat("null") {
        return Ok(DaclSpec::Null);
    }
    if c.eat("empty") {
        return Ok(DaclSpec::Aces(Vec::new()));
    }
    let mut aces = Vec::new();
    loop {
        let allow = if c.eat("allow") {
            true
        } else if c.eat("deny") {
            false
        } else {
            break;
        };
        let s = sid(c)?;
        let a = access(c)?;
        aces.push((allow, s, a));
    }
    if aces.is_empty() {
        return Err(format!(
            "expected null, empty, or `allow|deny SID ACCESS`... after `dacl`, found {}",
            c.found()
        ));
    }
    Ok(DaclSpec::Aces(aces))
}

fn open(c: &mut Cursor<'_>) -> PResult<Op> {
    let tw = c.word("a type (mutex, event, semaphore, timer, mapping, job, process, thread)")?;
    let (kind, ty) = match tw.as_str() {
        "process" | "thread" => (Some(tw.clone()), None),
        _ => (
            None,
            Some(obj_type(&tw).ok_or_else(|| {
                format!("unknown object type `{tw}` (mutex, event, semaphore, timer, mapping, job, process, thread)")
            })?),
        ),
    };
    let target = if let Some(ty) = ty {
        let _ = ty;
        None
    } else {
        let w = c.word("a process or thread name, or an id")?;
        Some(match parse_u64(&w) {
            Some(n) => Target::Id(u32::try_from(n).map_err(|_| format!("id {n} does not fit 32 bits"))?),
            None if is_name(&w) => Target::Name(w),
            None => return Err(format!("expected a name or an id, found `{w}`")),
        })
    };
    let name = if ty.is_some() { Some(c.string("the object's name")?) } else { None };
    let mut access_mask = match (ty, kind.as_deref()) {
        (Some(t), _) => t.all_access(),
        (None, Some("process")) => Access::PROCESS_ALL_ACCESS,
        _ => Access::THREAD_ALL_ACCESS,
    };
    let mut inherit = false;
    while !c.at_end() {
        let w = c.word("an option (access, inherit)")?;
        match w.as_str() {
            "access" => access_mask = access(c)?,
            "inherit" => inherit = true,
            _ => return Err(format!("unknown option `{w}` of `open` (access, inherit)")),
        }
    }
    Ok(match (ty, kind.as_deref(), target, name) {
        (Some(ty), _, _, Some(name)) => Op::Open { ty, name, access: access_mask, inherit },
        (None, Some("process"), Some(target), _) => Op::OpenProcess { target, access: access_mask, inherit },
        (None, _, Some(target), _) => Op::OpenThread { target, access: access_mask, inherit },
        _ => return Err("malformed open".to_owned()),
    })
}

fn duplicate(c: &mut Cursor<'_>) -> PResult<Op> {
    let source = c.handle("the handle to duplicate")?;
    let mut from = HandleRef::Raw(usize::MAX);
    let mut to = Some(HandleRef::Raw(usize::MAX));
    let mut access_mask = Access::empty();
    let mut inherit = false;
    let mut options = DuplicateOptions::empty();
    while !c.at_end() {
        let w = c.word("a duplicate option")?;
        match w.as_str() {
            "from" => from = c.handle("the source process handle")?,
            "to" => to = if c.eat("none") { None } else { Some(c.handle("the target process handle")?) },
            "access" => access_mask = access(c)?,
            "inherit" => inherit = true,
            "close_source" => options |= DuplicateOptions::CLOSE_SOURCE,
            "same_access" => options |= DuplicateOptions::SAME_ACCESS,
            "same_attributes" => options |= DuplicateOptions::SAME_ATTRIBUTES,
            _ => {
                return Err(format!(
                    "unknown duplicate option `{w}` (from, to, access, inherit, close_source, same_access, \
                     same_attributes)"
                ))
            }
        }
    }
    Ok(Op::Duplicate { source, from, to, access: access_mask, inherit, options })
}

fn expectation(c: &mut Cursor<'_>) -> PResult<Expectation> {
    let w = match c.peek() {
        Some(Tok::Word(w)) => w.clone(),
        _ => return Err(format!("expected what to expect, found {}", c.found())),
    };
    if w.contains('=') {
        let mut fields = Vec::new();
        while !c.at_end() {
            let kv = c.word("key=value")?;
            let (k, v) = kv.split_once('=').ok_or_else(|| format!("expected key=value, found `{kv}`"))?;
            fields.push((k.to_owned(), v.to_owned()));
        }
        return Ok(Expectation::Fields(fields));
    }
    c.pos += 1;
    Ok(match w.as_str() {
        "ok" => Expectation::Ok,
        "created" => Expectation::Created,
        "already_existed" => Expectation::AlreadyExisted,
        "none" => Expectation::NoHandle,
        "true" => Expectation::Bool(true),
        "false" => Expectation::Bool(false),
        "handle" => Expectation::Handle(c.handle("a handle")?),
        "flags" => Expectation::Flags(parse_flags(&c.word("flags")?)?),
        "access" => Expectation::Access(access(c)?),
        "data" => Expectation::Data(c.string("the expected data")?),
        "error" => Expectation::Error(c.u32("an error code")?),
        _ if w.starts_with("WAIT_") => {
            Expectation::Wait(parse_wait(&w).ok_or_else(|| format!("unknown wait status `{w}`"))?)
        }
        _ if w.starts_with("ERROR_") => {
            Expectation::Error(error_code(&w).ok_or_else(|| format!("unknown error name `{w}`"))?)
        }
        _ => match parse_signed(&w) {
            Some(n) => Expectation::Int(n),
            None => {
                return Err(format!(
                    "unknown expectation `{w}` (ok, created, already_existed, none, true, false, a number, \
                     handle H, flags F, access A, data \"..\", ERROR_*, error N, WAIT_*, key=value)"
                ))
            }
        },
    })
}

fn print(c: &mut Cursor<'_>) -> PResult<PrintWhat> {
    if matches!(c.peek(), Some(Tok::Str(_))) {
        return Ok(PrintWhat::Text(c.string("text")?));
    }
    let w = c.word("handles, namespace, objects or a quoted text")?;
    match w.as_str() {
        "handles" => {
            let mut names = Vec::new();
            while !c.at_end() {
                names.push(c.name("a process name")?);
            }
            Ok(PrintWhat::Handles(names))
        }
        "namespace" => {
            let path = match c.peek() {
                None => "\\BaseNamedObjects".to_owned(),
                Some(Tok::Str(_)) => c.string("a directory path")?,
                Some(Tok::Word(_)) => c.word("a directory path")?,
            };
            Ok(PrintWhat::Namespace(path))
        }
        "objects" => Ok(PrintWhat::Objects),
        _ => Err(format!("`print` takes handles, namespace, objects or a quoted text, not `{w}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_with_a_binding() {
        let steps =
            parse("process A\nA: m = create mutex \"JeffMutex\" owned inherit\nexpect created\n").unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[1].line, 2);
        match &steps[1].kind {
            StepKind::Call { who, bind, op: Op::Create(spec) } => {
                assert_eq!(who, "A");
                assert_eq!(bind.as_deref(), Some("m"));
                assert_eq!(spec.name.as_deref(), Some("JeffMutex"));
                assert!(spec.owned && spec.inherit);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let errors =
            parse("process A\nA: frobnicate\n\nexpect WAIT_SOMETHING\nA: create semaphore initial x\n")
                .unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.0).collect();
        assert_eq!(lines, vec![2, 4, 5]);
        assert!(errors[0].1.contains("unknown call `frobnicate`"), "{}", errors[0].1);
    }

    #[test]
    fn pseudo_handles_and_waits() {
        let steps = parse("T: wait_any a -1 0x8 timeout 10\nbackground J T: wait_all a b\n").unwrap();
        match &steps[0].kind {
            StepKind::Call {
                op: Op::Wait(WaitOp::Wait { mode: WaitMode::Any, handles, timeout, .. }),
                ..
            } => {
                assert_eq!(handles[1], HandleRef::Raw(usize::MAX));
                assert_eq!(handles[2], HandleRef::Raw(8));
                assert_eq!(*timeout, Some(Some(Duration::from_millis(10))));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(matches!(&steps[1].kind, StepKind::Background { job, .. } if job == "J"));
    }

    #[test]
    fn time_apcs_and_async_waits() {
        let steps = parse(
            "kernel handle_limit 8 clock manual\nA: set_timer t after 10 period 5\nadvance 3\n\
             T: wait_any a b alertable timeout 7\nbackground J T: wait_async a b all\ncancel J\nT: sleep_ex alertable\n",
        )
        .unwrap();
        assert!(matches!(steps[0].kind, StepKind::Kernel { handle_limit: Some(8), manual_clock: true }));
        match &steps[1].kind {
            StepKind::Call { op: Op::SetTimer { due, period, .. }, .. } => {
                assert_eq!(*due, DueSpec::After(Duration::from_millis(10)));
                assert_eq!(*period, Duration::from_millis(5));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(matches!(steps[2].kind, StepKind::Advance(d) if d == Duration::from_millis(3)));
        assert!(matches!(
            &steps[3].kind,
            StepKind::Call { op: Op::Wait(WaitOp::Wait { alertable: true, timeout: Some(Some(_)), .. }), .. }
        ));
        assert!(matches!(
            &steps[4].kind,
            StepKind::Background { op: WaitOp::Wait { mode: WaitMode::Async { all: true }, .. }, .. }
        ));
        assert!(matches!(&steps[5].kind, StepKind::Cancel(j) if j == "J"));
        assert!(matches!(&steps[6].kind, StepKind::Call { op: Op::SleepEx { alertable: true, .. }, .. }));
        let errors = parse("kernel\nkernel clock sundial\nA: set_timer t soon\n").unwrap_err();
        assert_eq!(errors.len(), 3);
    }

    #[test]
    fn comments_are_not_part_of_the_text() {
        assert_eq!(strip_comment(r#"A: open mutex "a#b" # note"#), r#"A: open mutex "a#b""#);
    }
}
