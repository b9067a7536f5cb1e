//! The differential runner: every operation goes to the engine and to the model, and
//! every answer must be the same.

use std::collections::BTreeSet;
use std::fmt;

use kobj::{
    Access, Ace, BoundaryDescriptor, DuplicateOptions, Handle, HandleFlags, Kernel, Privilege, Process,
    ProcessOptions, SecurityAttributes, SecurityDescriptor, Sid, Token,
};

use crate::ops::{
    HSel, NameSel, ObjectKind, Op, Scenario, SdSel, Setup, ALIASES, BOUNDARY_NAMES, DUP_ACCESS,
    MAPPING_SIZES, OPEN_ACCESS, PROTECTIONS, RELEASE_COUNTS, SEMAPHORE_COUNTS,
};
use crate::reference::{value_of, Kind, MSecurity, MSid, MToken, Model, Payload, CURRENT, R};

/// At most this many processes (roots and children) in one run.
pub const MAX_PROCS: usize = 8;
/// At most this many operations of a run are applied (longer inputs are cut).
pub const MAX_OPS: usize = 256;

/// Where and how the engine and the model disagreed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The index of the operation (`None`: setup or the final check).
    pub step: Option<usize>,
    /// The operation, as `Debug` prints it.
    pub op: String,
    /// Which call or check.
    pub what: String,
    /// What the engine gave.
    pub engine: String,
    /// What the model gave.
    pub model: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(n) => write!(f, "divergence at op #{n} {}: {}", self.op, self.what)?,
            None => write!(f, "divergence {}: {}", self.op, self.what)?,
        }
        write!(f, "\n  engine: {}\n  model:  {}", self.engine, self.model)
    }
}

impl std::error::Error for Divergence {}

/// Compares one answer; on a difference, a [`Divergence`] (its step and op are filled in
/// by the caller).
fn same<T: PartialEq + fmt::Debug>(what: impl fmt::Display, engine: T, model: T) -> Result<(), Divergence> {
    if engine == model {
        Ok(())
    } else {
        Err(Divergence {
            step: None,
            op: String::new(),
            what: what.to_string(),
            engine: format!("{engine:?}"),
            model: format!("{model:?}"),
        })
    }
}

fn code<T>(r: kobj::Result<T>) -> R<T> {
    r.map_err(|e| e.code())
}

fn token_of(sel: u8) -> (Token, MToken) {
    match sel % 3 {
        0 => (Token::default(), MToken { user: 1000, create_global: false }),
        1 => (Token::new(Sid::user(1001)), MToken { user: 1001, create_global: false }),
        _ => (
            Token::default().with_privilege(Privilege::CreateGlobal),
            MToken { user: 1000, create_global: true },
        ),
    }
}

fn msid(sid: Sid) -> MSid {
    if sid == Sid::EVERYONE {
        MSid::Everyone
    } else if sid == Sid::SYSTEM {
        MSid::System
    } else if sid == Sid::user(1001) {
        MSid::User(1001)
    } else {
        MSid::User(1000)
    }
}

/// The engine's descriptor for a selector and the model's security it makes for `token`.
fn security_of(sel: SdSel, token: MToken) -> (Option<SecurityDescriptor>, Option<MSecurity>) {
    let ace = |allow: bool, sid: Sid, mask: u32| {
        let access = Access::from_bits_retain(mask);
        if allow {
            Ace::Allow(sid, access)
        } else {
            Ace::Deny(sid, access)
        }
    };
    type Aces = Option<Vec<(bool, Sid, u32)>>;
    let (owner, aces): (Option<Sid>, Aces) = match sel {
        SdSel::Default => return (None, None),
        SdSel::Null => (None, None),
        SdSel::Empty => (None, Some(vec![])),
        SdSel::DenyThenRead => {
            (None, Some(vec![(false, Sid::user(1001), 0x1000_0000), (true, Sid::EVERYONE, 0x8000_0000)]))
        }
        SdSel::OtherOwner => (Some(Sid::user(1001)), Some(vec![(true, Sid::user(1001), 0x1000_0000)])),
    };
    let sd = SecurityDescriptor {
        owner,
        dacl: aces.as_ref().map(|a| a.iter().map(|&(allow, sid, mask)| ace(allow, sid, mask)).collect()),
    };
    let model = MSecurity {
        owner: owner.map_or(MSid::User(token.user), msid),
        dacl: aces.map(|a| a.into_iter().map(|(allow, sid, mask)| (allow, msid(sid), mask)).collect()),
    };
    (Some(sd), Some(model))
}

fn boundary_of(name: u8, sids: u8) -> (BoundaryDescriptor, crate::reference::Boundary) {
    let name = BOUNDARY_NAMES[usize::from(name) % BOUNDARY_NAMES.len()].to_owned();
    let mut engine = Vec::new();
    let mut model = BTreeSet::new();
    for (bit, sid) in [(1u8, Sid::EVERYONE), (2, Sid::user(1000)), (4, Sid::user(1001))] {
        if sids & bit != 0 {
            engine.push(sid);
            model.insert(msid(sid));
        }
    }
    (BoundaryDescriptor { name: name.clone(), sids: engine }, (name, model))
}

fn kind_of(k: ObjectKind) -> Kind {
    match k {
        ObjectKind::Mutex => Kind::Mutex,
        ObjectKind::Event => Kind::Event,
        ObjectKind::Semaphore => Kind::Semaphore,
        ObjectKind::Timer => Kind::Timer,
        ObjectKind::Mapping => Kind::Mapping,
        ObjectKind::Job => Kind::Job,
    }
}

/// The engine and the model side by side.
pub struct World {
    kernel: Kernel,
    /// One process per session in use, never terminated before the end, so a session's
    /// directory exists for the whole run whatever the visible processes do.
    anchors: Vec<Process>,
    procs: Vec<Process>,
    model: Model,
    /// Every handle value ever returned, in order.
    issued: Vec<usize>,
    base: usize,
}

impl World {
    /// A fresh kernel with the setup's roots.
    #[must_use]
    pub fn new(setup: &Setup) -> World {
        let limit = setup.limit.map(|n| 2 + usize::from(n % 8));
        let kernel = match limit {
            Some(n) => Kernel::builder().handle_limit(n).build(),
            None => Kernel::new(),
        };
        let base = kernel.object_count();
        let mut model = Model::new(limit.unwrap_or(kobj::DEFAULT_HANDLE_LIMIT));
        let mut roots: Vec<(u32, u8)> =
            setup.roots.iter().take(3).map(|r| (u32::from(r.session % 3), r.token)).collect();
        if roots.is_empty() {
            roots.push((0, 0));
        }
        let sessions: BTreeSet<u32> = roots.iter().map(|r| r.0).collect();
        let mut anchors = Vec::new();
        for &s in &sessions {
            model.add_process(s, token_of(0).1);
            let p = kernel
                .create_process(ProcessOptions { session_id: Some(s), ..Default::default() })
                .expect("an anchor process");
            anchors.push(p);
        }
        let mut procs = Vec::new();
        for &(s, t) in &roots {
            let (token, mtoken) = token_of(t);
            model.add_process(s, mtoken);
            let p = kernel
                .create_process(ProcessOptions {
                    session_id: Some(s),
                    token: Some(token),
                    ..Default::default()
                })
                .expect("a root process");
            procs.push(p);
        }
        World { kernel, anchors, procs, model, issued: Vec::new(), base }
    }

    /// Model index of visible process `i` (the anchors come first in the model).
    fn m(&self, i: usize) -> usize {
        i + self.anchors.len()
    }

    fn pick(&self, p: u8) -> usize {
        usize::from(p) % self.procs.len()
    }

    /// The raw value a selector picks for process `i` (visible index).
    fn raw(&self, i: usize, sel: &HSel) -> usize {
        let with_low = |v: usize, b: u8| v | usize::from(b % 4);
        let mp = &self.model.procs[self.m(i)];
        let live_of = |filter: &dyn Fn(Kind) -> bool, n: u16| -> Option<usize> {
            let keys: Vec<usize> = mp
                .entries
                .iter()
                .filter(|(_, e)| filter(self.model.objs[e.obj].kind))
                .map(|(&k, _)| k)
                .collect();
            (!keys.is_empty()).then(|| value_of(keys[usize::from(n) % keys.len()]))
        };
        match *sel {
            HSel::Live(n, b) => match live_of(&|_| true, n) {
                Some(v) => with_low(v, b),
                None => self.raw(i, &HSel::Issued(n, b)),
            },
            HSel::Issued(n, b) => {
                if self.issued.is_empty() {
                    return with_low(4, b);
                }
                with_low(self.issued[usize::from(n) % self.issued.len()], b)
            }
            HSel::Garbage(g) => match g % 14 {
                g @ 0..=3 => usize::from(g),
                4 => value_of(mp.high_water),
                5 => value_of(self.model.limit.min(1 << 40)),
                6 => 1 << 40,
                7 => usize::MAX - 6,
                g => usize::MAX - usize::from(g - 8),
            },
            HSel::Current => CURRENT,
            HSel::LiveProcess(n) => {
                live_of(&|k| k == Kind::Process, n).unwrap_or_else(|| self.raw(i, &HSel::Live(n, 0)))
            }
            HSel::LiveOf(k, n) => {
                let k = kind_of(k);
                live_of(&|x| x == k, n).unwrap_or_else(|| self.raw(i, &HSel::Live(n, 0)))
            }
        }
    }

    /// Applies one operation to both sides and compares the answers.
    pub fn step(&mut self, op: &Op) -> Result<(), Divergence> {
        match op {
            Op::Create { p, kind, name, inherit, sd, param, file } => {
                let p = self.pick(*p);
                let name = name.as_ref().map(NameSel::build);
                self.create(p, *kind, name.as_deref(), *inherit, *sd, *param, file.as_ref())
            }
            Op::Open { p, kind, name, access, inherit } => {
                let p = self.pick(*p);
                let name = name.build();
                self.open(p, *kind, &name, OPEN_ACCESS[usize::from(*access) % OPEN_ACCESS.len()], *inherit)
            }
            Op::OpenProcess { p, target, access, inherit } => {
                let p = self.pick(*p);
                let t = usize::from(*target) % (self.procs.len() + 4);
                let (pid, mt) = if t < self.procs.len() {
                    (self.procs[t].id(), Some(self.m(t)))
                } else {
                    // Pids no process has: 0, 1 (not a multiple of 4), u32::MAX, a high one.
                    ([0, 1, u32::MAX, 0x7FFF_FFFC][t - self.procs.len()], None)
                };
                let access = OPEN_ACCESS[usize::from(*access) % OPEN_ACCESS.len()];
                let got = code(self.procs[p].open_process(Access::from_bits_retain(access), *inherit, pid))
                    .map(Handle::raw);
                let want = self.model.open_process(self.m(p), access, *inherit, mt);
                same(format_args!("open_process({pid})"), got, want)?;
                self.issue(got);
                Ok(())
            }
            Op::Close { p, h } => {
                let p = self.pick(*p);
                let raw = self.raw(p, h);
                let got = code(self.procs[p].close_handle(Handle::from_raw(raw)));
                let want = self.model.close(self.m(p), raw);
                same(format_args!("close_handle({raw:#x})"), got, want)
            }
            Op::SetInfo { p, h, mask, flags } => {
                let p = self.pick(*p);
                let raw = self.raw(p, h);
                let bits = if mask & 0x80 != 0 { 7 } else { 3 };
                let (mask, flags) = (u32::from(*mask) & bits, u32::from(*flags) & bits);
                let got = code(self.procs[p].set_handle_information(
                    Handle::from_raw(raw),
                    HandleFlags::from_bits_retain(mask),
                    HandleFlags::from_bits_retain(flags),
                ));
                let want = self.model.set_info(self.m(p), raw, mask & 3, flags & 3);
                same(format_args!("set_handle_information({raw:#x}, {mask}, {flags})"), got, want)
            }
            Op::GetInfo { p, h } => {
                let p = self.pick(*p);
                let raw = self.raw(p, h);
                let got = code(self.procs[p].get_handle_information(Handle::from_raw(raw))).map(|f| f.bits());
                let want = self.model.get_info(self.m(p), raw);
                same(format_args!("get_handle_information({raw:#x})"), got, want)
            }
            Op::Compare { p, a, b } => {
                let p = self.pick(*p);
                let (a, b) = (self.raw(p, a), self.raw(p, b));
                let got =
                    code(self.procs[p].compare_object_handles(Handle::from_raw(a), Handle::from_raw(b)));
                let want = self.model.compare(self.m(p), a, b);
                same(format_args!("compare_object_handles({a:#x}, {b:#x})"), got, want)
            }
            Op::Dup { p, src, h, dst, target_none, options, access, inherit } => {
                let p = self.pick(*p);
                let src = src.as_ref().map_or(CURRENT, |s| self.raw(p, s));
                // The source handle is picked from the source process's table.
                let sp = self.model.process_for_dup(self.m(p), src).unwrap_or(self.m(p));
                let raw = match sp.checked_sub(self.anchors.len()) {
                    Some(v) => self.raw(v, h),
                    None => self.raw(p, h),
                };
                let dst =
                    if *target_none { None } else { Some(dst.as_ref().map_or(CURRENT, |d| self.raw(p, d))) };
                let access = DUP_ACCESS[usize::from(*access) % DUP_ACCESS.len()];
                let options = u32::from(*options) & 7;
                let got = code(self.procs[p].duplicate_handle(
                    Handle::from_raw(src),
                    Handle::from_raw(raw),
                    dst.map(Handle::from_raw),
                    Access::from_bits_retain(access),
                    *inherit,
                    DuplicateOptions::from_bits_retain(options),
                ))
                .map(|o| o.map(Handle::raw));
                let want = self.model.duplicate(self.m(p), src, raw, dst, access, *inherit, options);
                same(
                    format_args!("duplicate_handle({src:#x}, {raw:#x}, {dst:x?}, {access:#x}, {options})"),
                    got,
                    want,
                )?;
                if let Ok(Some(h)) = got {
                    self.issued.push(h);
                }
                Ok(())
            }
            Op::CreateProcess { p, inherit, list } => {
                if self.procs.len() >= MAX_PROCS {
                    return Ok(());
                }
                let p = self.pick(*p);
                let list: Option<Vec<usize>> =
                    list.as_ref().map(|l| l.iter().take(4).map(|h| self.raw(p, h)).collect());
                let options = ProcessOptions {
                    handle_list: list.as_ref().map(|l| l.iter().copied().map(Handle::from_raw).collect()),
                    ..Default::default()
                };
                let got = code(self.procs[p].create_process(*inherit, options));
                let want = self.model.create_process(self.m(p), *inherit, list.as_deref());
                match (got, want) {
                    (Ok(child), Ok((index, h))) => {
                        same("create_process: the child's handle", child.handle.raw(), h)?;
                        same("create_process: the child's index", self.m(self.procs.len()), index)?;
                        same(
                            "create_process: the child's session",
                            child.process.session_id(),
                            self.model.procs[index].session,
                        )?;
                        self.procs.push(child.process);
                        self.issued.push(h);
                        Ok(())
                    }
                    (got, want) => same("create_process", got.map(|c| c.handle.raw()), want.map(|w| w.1)),
                }
            }
            Op::Terminate { p } => {
                let p = self.pick(*p);
                let got = code(self.procs[p].terminate(0));
                let want = self.model.terminate(self.m(p));
                same("terminate", got, want)
            }
            Op::Event { p, h, how } => {
                let p = self.pick(*p);
                let raw = self.raw(p, h);
                let hd = Handle::from_raw(raw);
                let proc_ = &self.procs[p];
                let (what, got, set) = match how % 3 {
                    0 => ("set_event", code(proc_.set_event(hd)).map(|()| true), Some(true)),
                    1 => ("reset_event", code(proc_.reset_event(hd)).map(|()| false), Some(false)),
                    _ => ("event_state", code(proc_.event_state(hd)), None),
                };
                let want = self.model.event(self.m(p), raw, set);
                same(format_args!("{what}({raw:#x})"), got, want)
            }
            Op::Semaphore { p, h, count, query } => {
                let p = self.pick(*p);
                let raw = self.raw(p, h);
                let hd = Handle::from_raw(raw);
                if *query {
                    let got = code(self.procs[p].semaphore_count(hd));
                    let want = self.model.semaphore_count(self.m(p), raw);
                    return same(format_args!("semaphore_count({raw:#x})"), got, want);
                }
                let count = RELEASE_COUNTS[usize::from(*count) % RELEASE_COUNTS.len()];
                let got = code(self.procs[p].release_semaphore(hd, count));
                let want = self.model.release_semaphore(self.m(p), raw, count);
                same(format_args!("release_semaphore({raw:#x}, {count})"), got, want)
            }
            Op::Namespace { p, create, boundary, sids, alias } => {
                let p = self.pick(*p);
                let (engine_b, model_b) = boundary_of(*boundary, *sids);
                let alias = ALIASES[usize::from(*alias) % ALIASES.len()];
                let proc_ = &self.procs[p];
                let got = if *create {
                    proc_.create_private_namespace(&engine_b, alias)
                } else {
                    proc_.open_private_namespace(&engine_b, alias)
                };
                let got = code(got).map(Handle::raw);
                let want = self.model.private_namespace(self.m(p), *create, &model_b, alias);
                let call = if *create { "create" } else { "open" };
                same(format_args!("{call}_private_namespace({engine_b:?}, {alias:?})"), got, want)?;
                self.issue(got);
                Ok(())
            }
        }
    }

    fn issue(&mut self, got: R<usize>) {
        if let Ok(h) = got {
            self.issued.push(h);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        p: usize,
        kind: ObjectKind,
        name: Option<&str>,
        inherit: bool,
        sd: SdSel,
        param: u8,
        file: Option<&HSel>,
    ) -> Result<(), Divergence> {
        let mp = self.m(p);
        let (engine_sd, model_sd) = security_of(sd, self.model.procs[mp].token);
        let sa = SecurityAttributes { inherit_handle: inherit, security_descriptor: engine_sd };
        let sa = Some(&sa);
        let proc_ = &self.procs[p];
        let flag = |bit: u8| param & bit != 0;
        let (got, want) = match kind {
            ObjectKind::Mutex => (
                proc_.create_mutex(sa, flag(1), name),
                self.model_create(mp, Payload::Mutex, name, inherit, model_sd),
            ),
            ObjectKind::Event => (
                proc_.create_event(sa, flag(1), flag(2), name),
                self.model_create(mp, Payload::Event(flag(2)), name, inherit, model_sd),
            ),
            ObjectKind::Semaphore => {
                let (initial, maximum) = SEMAPHORE_COUNTS[usize::from(param) % SEMAPHORE_COUNTS.len()];
                let got = proc_.create_semaphore(sa, initial, maximum, name);
                let want = if maximum <= 0 || initial < 0 || initial > maximum {
                    Err(crate::reference::codes::INVALID_PARAMETER)
                } else {
                    self.model_create(mp, Payload::Semaphore(initial, maximum), name, inherit, model_sd)
                };
                (got, want)
            }
            ObjectKind::Timer => (
                proc_.create_waitable_timer(sa, flag(1), name),
                self.model_create(mp, Payload::Timer, name, inherit, model_sd),
            ),
            ObjectKind::Mapping => {
                let protect = PROTECTIONS[usize::from(param) % PROTECTIONS.len()];
                let size = MAPPING_SIZES[usize::from(param / 16) % MAPPING_SIZES.len()];
                let file_raw = file.map(|f| self.raw(p, f));
                let got = self.procs[p].create_file_mapping(
                    file_raw.map(Handle::from_raw),
                    sa,
                    protect,
                    size,
                    name,
                );
                let valid_protect = matches!(protect & 0xFF, 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80)
                    && protect & !(0xFF | 0x9F00_0000) == 0;
                let want = if !self.model.procs[mp].alive {
                    Err(crate::reference::codes::ACCESS_DENIED)
                } else if !valid_protect || (file_raw.is_none() && size == 0) {
                    Err(crate::reference::codes::INVALID_PARAMETER)
                } else if file_raw.is_some() {
                    // No handle of these runs is a file: INVALID_HANDLE (or the -1 process).
                    Err(crate::reference::codes::INVALID_HANDLE)
                } else {
                    self.model_create(mp, Payload::Mapping, name, inherit, model_sd)
                };
                (got, want)
            }
            ObjectKind::Job => (
                proc_.create_job_object(sa, name),
                self.model_create(mp, Payload::Job, name, inherit, model_sd),
            ),
        };
        let got = code(got).map(|c| (c.handle.raw(), c.already_existed));
        same(format_args!("create {kind:?} {:?}", name.map(short)), got, want)?;
        if let Ok((h, _)) = got {
            self.issued.push(h);
        }
        Ok(())
    }

    fn model_create(
        &mut self,
        mp: usize,
        payload: Payload,
        name: Option<&str>,
        inherit: bool,
        sd: Option<MSecurity>,
    ) -> R<(usize, bool)> {
        self.model.create(mp, payload, name, inherit, sd)
    }

    fn open(
        &mut self,
        p: usize,
        kind: ObjectKind,
        name: &str,
        access: u32,
        inherit: bool,
    ) -> Result<(), Divergence> {
        let a = Access::from_bits_retain(access);
        let proc_ = &self.procs[p];
        let got = match kind {
            ObjectKind::Mutex => proc_.open_mutex(a, inherit, name),
            ObjectKind::Event => proc_.open_event(a, inherit, name),
            ObjectKind::Semaphore => proc_.open_semaphore(a, inherit, name),
            ObjectKind::Timer => proc_.open_waitable_timer(a, inherit, name),
            ObjectKind::Mapping => proc_.open_file_mapping(a, inherit, name),
            ObjectKind::Job => proc_.open_job_object(a, inherit, name),
        };
        let got = code(got).map(Handle::raw);
        let want = self.model.open(self.m(p), kind_of(kind), access, inherit, name);
        same(format_args!("open {kind:?} {:?} {access:#x}", short(name)), got, want)?;
        self.issue(got);
        Ok(())
    }

    /// Every table, row by row, `handle_count`, `is_terminated` and the object count.
    pub fn check(&self) -> Result<(), Divergence> {
        for (i, p) in self.procs.iter().enumerate() {
            let m = &self.model.procs[self.m(i)];
            same(format_args!("handle_count of process #{i}"), p.handle_count(), m.entries.len())?;
            same(format_args!("is_terminated of process #{i}"), p.is_terminated(), !m.alive)?;
            let rows: Vec<(usize, String, u32, u32, Option<usize>)> = p
                .handles()
                .into_iter()
                .map(|r| {
                    // A process object's handle count also counts `Process` values.
                    let n = (r.type_name != "Process").then_some(r.object_handles);
                    (r.handle.raw(), r.type_name, r.access.bits(), r.flags.bits(), n)
                })
                .collect();
            let want: Vec<(usize, String, u32, u32, Option<usize>)> = m
                .entries
                .iter()
                .map(|(&index, e)| {
                    let o = &self.model.objs[e.obj];
                    let n = (o.kind != Kind::Process).then_some(o.handles);
                    (value_of(index), o.kind.name().to_owned(), e.access, e.flags, n)
                })
                .collect();
            same(format_args!("the handle table of process #{i}"), rows, want)?;
        }
        // Every process held here counts twice: itself and its main thread (SPEC §7.2).
        let processes = self.anchors.len() + self.procs.len();
        same(
            "object_count",
            self.kernel.object_count(),
            self.base + 2 * processes + self.model.live_objects(),
        )
    }

    /// Terminates everything and checks that `object_count` falls back to where it began.
    pub fn finish(self) -> Result<(), Divergence> {
        let World { kernel, anchors, procs, base, .. } = self;
        for p in procs.iter().chain(&anchors) {
            let _ = p.terminate(0);
            same("handle_count after terminate", p.handle_count(), 0)?;
        }
        drop(procs);
        drop(anchors);
        same("object_count at the end", kernel.object_count(), base)
    }
}

/// A name for messages: long ones cut.
fn short(name: &str) -> String {
    if name.len() > 40 {
        format!("{}…({} bytes)", name.chars().take(20).collect::<String>(), name.len())
    } else {
        name.to_owned()
    }
}

/// Runs `ops` from the default setup (roots in sessions 0 and 1), comparing every answer
/// and every table after each operation, and the object count at the end.
pub fn run(ops: &[Op]) -> Result<(), Divergence> {
    run_scenario(&Scenario { setup: Setup::default(), ops: ops.to_vec() })
}

/// Runs a whole scenario (at most [`MAX_OPS`] operations).
pub fn run_scenario(scenario: &Scenario) -> Result<(), Divergence> {
    let mut w = World::new(&scenario.setup);
    w.check().map_err(|d| Divergence { op: "(setup)".into(), ..d })?;
    for (n, op) in scenario.ops.iter().take(MAX_OPS).enumerate() {
        w.step(op).and_then(|()| w.check()).map_err(|d| Divergence {
            step: Some(n),
            op: format!("{op:?}"),
            ..d
        })?;
    }
    w.finish().map_err(|d| Divergence { op: "(finish)".into(), ..d })
}
