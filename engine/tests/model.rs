//! Model-based differential test: random single-threaded sequences of handle, name,
//! inheritance, duplication and termination calls, run against kobj and against a plain
//! reference model (HashMaps and Vecs) written here from SPEC §2-§3. Every result must be
//! identical: handle values, error codes, flags, `already_existed`, compare answers, each
//! process's handle table (values, access, flags, type, object handle counts),
//! `handle_count` and `kernel.object_count()`.
//!
//! The model's handle-value rule (what `table/mod.rs` implements, and SPEC §3's
//! determinism rule pins down for one thread): per table, freed slots go on a LIFO stack;
//! a new handle pops it, else takes the next fresh index; value = (index + 1) * 4. A
//! create reserves its slot before it looks at the name, and a create that fails gives
//! the slot back (pushes it). A child created with inheritance holds its inherited entries
//! at their parent's indices, its high-water mark is the highest inherited index + 1, and
//! every non-live index below it is on its free stack, the lowest on top.

mod common;

use std::collections::{BTreeMap, HashMap};

use kobj::{
    Access, DuplicateOptions, Handle, HandleFlags, Kernel, Process, ProcessOptions, SecurityAttributes,
};
use proptest::prelude::*;
use proptest::sample::Index;

/// Names: in session 0, "a" = "Global\a" = "Local\a"; in session 1, "a" = "Local\a" only.
const NAMES: [&str; 6] = ["a", "b", "Global\\a", "Local\\b", "Global\\b", "Local\\a"];
/// Desired access for `open_event`.
const OPEN_ACCESS: [u32; 8] = [0x1F_0003, 0x10_0000, 0x8000_0000, 0x2, 0, 0x200_0000, 0x4, 0x1000_0000];
/// Desired access for `duplicate_handle` without SAME_ACCESS (0x0100_0000 is
/// ACCESS_SYSTEM_SECURITY: PRIVILEGE_NOT_HELD, after CLOSE_SOURCE closed the source).
const DUP_ACCESS: [u32; 8] = [0, 0x10_0000, 0x8000_0000, 0x1000_0000, 0x2, 0xFFFF, 0x0100_0000, 0x200_0001];
/// At most this many processes (roots and children) per case.
const MAX_PROCS: usize = 8;
const PSEUDO_LOW: usize = usize::MAX - 5;
const CURRENT: usize = usize::MAX;

const FILE_NOT_FOUND: u32 = 2;
const ACCESS_DENIED: u32 = 5;
const INVALID_HANDLE: u32 = 6;
const INVALID_PARAMETER: u32 = 87;
const PRIVILEGE_NOT_HELD: u32 = 1314;
const NO_SYSTEM_RESOURCES: u32 = 1450;

// ---------------------------------------------------------------------------------------
// The reference model.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Event,
    Mutex,
    Process,
}

impl Kind {
    /// GENERIC_READ, WRITE, EXECUTE, ALL (SPEC §2).
    fn mapping(self) -> [u32; 4] {
        match self {
            Kind::Event => [0x2_0001, 0x2_0002, 0x12_0000, 0x1F_0003],
            Kind::Mutex => [0x2_0001, 0x2_0000, 0x12_0000, 0x1F_0001],
            Kind::Process => [0x2_0410, 0x2_0BEA, 0x12_1001, 0x1F_FFFF],
        }
    }

    fn all_access(self) -> u32 {
        self.mapping()[3]
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Event => "Event",
            Kind::Mutex => "Mutant",
            Kind::Process => "Process",
        }
    }

    /// `RtlMapGenericMask`: GENERIC_* bits replaced, the rest kept.
    fn map(self, access: u32) -> u32 {
        let m = self.mapping();
        let mut out = access & 0x0FFF_FFFF;
        for (bit, mapped) in
            [(0x8000_0000u32, m[0]), (0x4000_0000, m[1]), (0x2000_0000, m[2]), (0x1000_0000, m[3])]
        {
            if access & bit != 0 {
                out |= mapped;
            }
        }
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MEntry {
    obj: usize,
    access: u32,
    flags: u32,
}

#[derive(Debug)]
struct MProc {
    obj: usize,
    session: u32,
    alive: bool,
    entries: BTreeMap<usize, MEntry>,
    /// LIFO: the top is the last element.
    free: Vec<usize>,
    high_water: usize,
}

#[derive(Debug)]
struct MObj {
    kind: Kind,
    /// Handle references (processes: only the handles, not `Process` values).
    handles: usize,
    name: Option<(u32, String)>,
    live: bool,
}

#[derive(Debug)]
struct Model {
    /// The per-process handle limit (indices `0..limit`).
    limit: usize,
    procs: Vec<MProc>,
    objs: Vec<MObj>,
    names: HashMap<(u32, String), usize>,
}

type R<T> = Result<T, u32>;

fn index_of(raw: usize) -> Option<usize> {
    if raw >= PSEUDO_LOW {
        return None;
    }
    let v = raw & !3;
    if v == 0 {
        None
    } else {
        Some(v / 4 - 1)
    }
}

fn value_of(index: usize) -> usize {
    (index + 1) * 4
}

/// Where a name lives: (directory session, name within it). Session 0's local and global
/// directories are the same.
fn resolve_name(session: u32, name: &str) -> (u32, String) {
    if let Some(rest) = name.strip_prefix("Global\\") {
        (0, rest.to_owned())
    } else if let Some(rest) = name.strip_prefix("Local\\") {
        (session, rest.to_owned())
    } else {
        (session, name.to_owned())
    }
}

impl Model {
    fn new_obj(&mut self, kind: Kind, handles: usize, name: Option<(u32, String)>) -> usize {
        self.objs.push(MObj { kind, handles, name, live: true });
        self.objs.len() - 1
    }

    fn add_process(&mut self, session: u32) -> usize {
        let obj = self.new_obj(Kind::Process, 0, None);
        self.procs.push(MProc {
            obj,
            session,
            alive: true,
            entries: BTreeMap::new(),
            free: Vec::new(),
            high_water: 0,
        });
        self.procs.len() - 1
    }

    fn alive(&self, p: usize) -> R<()> {
        if self.procs[p].alive {
            Ok(())
        } else {
            Err(ACCESS_DENIED)
        }
    }

    /// Reserves a slot: pop the free stack, else a fresh index below the limit.
    fn reserve(&mut self, p: usize) -> R<usize> {
        let t = &mut self.procs[p];
        if let Some(index) = t.free.pop() {
            return Ok(index);
        }
        if t.high_water >= self.limit {
            return Err(NO_SYSTEM_RESOURCES);
        }
        t.high_water += 1;
        Ok(t.high_water - 1)
    }

    /// Fills a reserved slot with a reference the caller already counted.
    fn fill(&mut self, p: usize, index: usize, entry: MEntry) -> usize {
        let old = self.procs[p].entries.insert(index, entry);
        assert!(old.is_none(), "model: slot {index} reused while live");
        value_of(index)
    }

    /// Inserts an entry owning a counted reference; on failure the reference is released.
    fn insert(&mut self, p: usize, entry: MEntry) -> R<usize> {
        match self.reserve(p) {
            Ok(index) => Ok(self.fill(p, index, entry)),
            Err(e) => {
                self.release(entry.obj);
                Err(e)
            }
        }
    }

    /// Takes an entry out of its table (the slot goes on the free stack); the caller owns
    /// its reference.
    fn take(&mut self, p: usize, index: usize) -> MEntry {
        let t = &mut self.procs[p];
        let e = t.entries.remove(&index).expect("a live entry");
        t.free.push(index);
        e
    }

    fn release(&mut self, obj: usize) {
        let o = &mut self.objs[obj];
        assert!(o.handles > 0, "model: releasing an object with no handles");
        o.handles -= 1;
        if o.handles == 0 && o.kind != Kind::Process {
            o.live = false;
            if let Some(key) = o.name.take() {
                if self.names.get(&key) == Some(&obj) {
                    self.names.remove(&key);
                }
            }
        }
    }

    fn entry(&self, p: usize, raw: usize) -> R<MEntry> {
        index_of(raw).and_then(|i| self.procs[p].entries.get(&i).copied()).ok_or(INVALID_HANDLE)
    }

    /// The object a handle names, as `resolve` does (-1 is the caller).
    fn object_of(&self, p: usize, raw: usize) -> R<usize> {
        self.alive(p)?;
        if raw == CURRENT {
            return Ok(self.procs[p].obj);
        }
        Ok(self.entry(p, raw)?.obj)
    }

    fn create(&mut self, p: usize, kind: Kind, name: Option<&str>, inherit: bool) -> R<(usize, bool)> {
        self.alive(p)?;
        let flags = u32::from(inherit);
        let access = kind.all_access();
        let index = self.reserve(p)?;
        let Some(name) = name else {
            let obj = self.new_obj(kind, 1, None);
            return Ok((self.fill(p, index, MEntry { obj, access, flags }), false));
        };
        let key = resolve_name(self.procs[p].session, name);
        match self.names.get(&key).copied() {
            Some(obj) if self.objs[obj].kind != kind => {
                // The reservation is given back.
                self.procs[p].free.push(index);
                Err(INVALID_HANDLE)
            }
            Some(obj) => {
                self.objs[obj].handles += 1;
                Ok((self.fill(p, index, MEntry { obj, access, flags }), true))
            }
            None => {
                let obj = self.new_obj(kind, 1, Some(key.clone()));
                self.names.insert(key, obj);
                Ok((self.fill(p, index, MEntry { obj, access, flags }), false))
            }
        }
    }

    fn open(&mut self, p: usize, kind: Kind, access: u32, inherit: bool, name: &str) -> R<usize> {
        self.alive(p)?;
        let key = resolve_name(self.procs[p].session, name);
        let obj = *self.names.get(&key).ok_or(FILE_NOT_FOUND)?;
        if self.objs[obj].kind != kind {
            return Err(INVALID_HANDLE);
        }
        // The default DACL grants the creator's user everything valid.
        if access & 0x0100_0000 != 0 {
            return Err(PRIVILEGE_NOT_HELD);
        }
        let valid = kind.all_access();
        let mapped = kind.map(access);
        let maximum = mapped & 0x200_0000 != 0;
        let explicit = mapped & !0x200_0000;
        if explicit & !valid != 0 {
            return Err(ACCESS_DENIED);
        }
        let granted = if maximum { valid } else { explicit };
        if granted == 0 {
            return Err(ACCESS_DENIED);
        }
        self.objs[obj].handles += 1;
        self.insert(p, MEntry { obj, access: granted, flags: u32::from(inherit) })
    }

    fn close(&mut self, p: usize, raw: usize) -> R<()> {
        self.alive(p)?;
        if raw >= PSEUDO_LOW {
            return Ok(());
        }
        let e = self.entry(p, raw)?;
        if e.flags & 2 != 0 {
            return Err(INVALID_HANDLE);
        }
        let index = index_of(raw).expect("a live entry has an index");
        self.take(p, index);
        self.release(e.obj);
        Ok(())
    }

    fn get_info(&self, p: usize, raw: usize) -> R<u32> {
        self.alive(p)?;
        if raw == CURRENT {
            return Ok(0);
        }
        Ok(self.entry(p, raw)?.flags)
    }

    fn set_info(&mut self, p: usize, raw: usize, mask: u32, flags: u32) -> R<()> {
        self.alive(p)?;
        if raw >= PSEUDO_LOW {
            return Err(INVALID_HANDLE);
        }
        let e = self.entry(p, raw)?;
        let index = index_of(raw).expect("a live entry has an index");
        let new = (e.flags & !mask) | (flags & mask);
        self.procs[p].entries.get_mut(&index).expect("live").flags = new;
        Ok(())
    }

    fn compare(&self, p: usize, a: usize, b: usize) -> R<bool> {
        let a = self.object_of(p, a)?;
        let b = self.object_of(p, b)?;
        Ok(a == b)
    }

    /// The process a process handle of `p` names, for duplication: -1 is `p`; else a live
    /// process handle (INVALID_HANDLE) with PROCESS_DUP_HANDLE (ACCESS_DENIED) to a process
    /// not terminated (ACCESS_DENIED).
    fn process_for_dup(&self, p: usize, raw: usize) -> R<usize> {
        if raw == CURRENT {
            return Ok(p);
        }
        let e = self.entry(p, raw)?;
        if self.objs[e.obj].kind != Kind::Process {
            return Err(INVALID_HANDLE);
        }
        if e.access & 0x40 == 0 {
            return Err(ACCESS_DENIED);
        }
        let q = self.procs.iter().position(|m| m.obj == e.obj).expect("a process object has a process");
        self.alive(q)?;
        Ok(q)
    }

    /// `p.duplicate_handle(src, raw, dst, ..)`; `dst = None` is `target_process = None`.
    #[allow(clippy::too_many_arguments)]
    fn duplicate(
        &mut self,
        p: usize,
        src: usize,
        raw: usize,
        dst: Option<usize>,
        access: u32,
        inherit: bool,
        options: u32,
    ) -> R<Option<usize>> {
        self.alive(p)?;
        let s = self.process_for_dup(p, src)?;
        let close_source = options & 1 != 0;
        // The target is looked up before the source is taken; its failure is reported
        // only after the source was closed (SPEC: CLOSE_SOURCE closes a valid source even
        // when the duplication fails).
        let target = match dst {
            Some(d) => Some(self.process_for_dup(p, d)),
            None if close_source => None,
            None => return Err(INVALID_PARAMETER),
        };
        if raw >= PSEUDO_LOW && raw != CURRENT {
            return Err(INVALID_HANDLE);
        }
        // The source's object, with one reference now owned here.
        let (obj, held_access, held_flags) = if raw == CURRENT {
            let obj = self.procs[s].obj;
            self.objs[obj].handles += 1;
            (obj, Kind::Process.all_access(), 0)
        } else {
            let e = self.entry(s, raw)?;
            if close_source && e.flags & 2 == 0 {
                self.take(s, index_of(raw).expect("live"));
            } else {
                self.objs[e.obj].handles += 1;
            }
            (e.obj, e.access, e.flags)
        };
        let t = match target {
            None => {
                self.release(obj);
                return Ok(None);
            }
            Some(Err(e)) => {
                self.release(obj);
                return Err(e);
            }
            Some(Ok(t)) => t,
        };
        let kind = self.objs[obj].kind;
        let new_access = if options & 2 != 0 {
            held_access
        } else {
            if access & 0x0100_0000 != 0 {
                self.release(obj);
                return Err(PRIVILEGE_NOT_HELD);
            }
            // Every token is the default user's and every object has its default DACL,
            // which grants every valid bit: the access may always grow.
            kind.map(access) & kind.all_access()
        };
        let new_flags = if options & 4 != 0 { held_flags } else { u32::from(inherit) };
        self.insert(t, MEntry { obj, access: new_access, flags: new_flags }).map(Some)
    }

    /// Returns (child index, the child's handle value in the parent).
    /// `list`: `ProcessOptions::handle_list` (each must be a live inheritable handle).
    fn create_process(&mut self, p: usize, inherit: bool, list: Option<&[usize]>) -> R<(usize, usize)> {
        self.alive(p)?;
        let only: Option<Vec<usize>> = match (list, inherit) {
            (None, _) => None,
            (Some(_), false) => return Err(INVALID_PARAMETER),
            (Some([]), true) => return Err(INVALID_PARAMETER),
            (Some(list), true) => {
                let mut indices = Vec::new();
                for &raw in list {
                    match self.entry(p, raw) {
                        Ok(e) if e.flags & 1 != 0 => indices.push(index_of(raw).expect("live")),
                        _ => return Err(INVALID_PARAMETER),
                    }
                }
                Some(indices)
            }
        };
        let session = self.procs[p].session;
        let child = self.add_process(session);
        if inherit {
            let copied: Vec<(usize, MEntry)> = self.procs[p]
                .entries
                .iter()
                .filter(|(i, e)| e.flags & 1 != 0 && only.as_ref().map_or(true, |o| o.contains(i)))
                .map(|(&i, &e)| (i, e))
                .collect();
            for &(_, e) in &copied {
                self.objs[e.obj].handles += 1;
            }
            let c = &mut self.procs[child];
            c.high_water = copied.last().map_or(0, |&(i, _)| i + 1);
            c.entries = copied.into_iter().collect();
            // Every non-live slot below the mark, the lowest on top.
            c.free = (0..c.high_water).rev().filter(|i| !c.entries.contains_key(i)).collect();
        }
        let obj = self.procs[child].obj;
        self.objs[obj].handles += 1;
        match self.insert(p, MEntry { obj, access: Kind::Process.all_access(), flags: 0 }) {
            Ok(h) => Ok((child, h)),
            Err(e) => {
                // The engine terminates the child and drops its last reference.
                self.terminate(child).expect("a new child is alive");
                self.procs.pop();
                Err(e)
            }
        }
    }

    fn terminate(&mut self, p: usize) -> R<()> {
        self.alive(p)?;
        let t = &mut self.procs[p];
        t.alive = false;
        let entries = std::mem::take(&mut t.entries);
        for e in entries.values() {
            self.release(e.obj);
        }
        Ok(())
    }

    /// Live events and mutexes.
    fn live_objects(&self) -> usize {
        self.objs.iter().filter(|o| o.kind != Kind::Process && o.live).count()
    }
}

// ---------------------------------------------------------------------------------------
// Operations.

/// How an operation picks a handle value.
#[derive(Clone, Debug)]
enum HSel {
    /// A live handle of the calling process (else as `Issued`), low bits `u8 % 4` set.
    Live(Index, u8),
    /// Any value ever returned to any process (possibly closed, or another table's).
    Issued(Index, u8),
    /// 0..=3, the next fresh value, values past the limit, pseudo-handles -1..-6, -7.
    Garbage(u8),
    /// `Handle::CURRENT_PROCESS` (duplicating it makes a process's handle to itself).
    Current,
    /// A live handle of the calling process to a process (else as `Live`).
    LiveProcess(Index),
}

#[derive(Clone, Debug)]
enum Op {
    CreateEvent {
        p: Index,
        name: Option<u8>,
        inherit: bool,
    },
    CreateMutex {
        p: Index,
        name: u8,
        inherit: bool,
    },
    OpenEvent {
        p: Index,
        name: u8,
        access: u8,
        inherit: bool,
    },
    Close {
        p: Index,
        h: HSel,
    },
    SetInfo {
        p: Index,
        h: HSel,
        mask: u8,
        flags: u8,
    },
    GetInfo {
        p: Index,
        h: HSel,
    },
    /// `src`/`dst`: the source/target process handles (`None`: -1); `target_none`:
    /// `target_process = None`.
    Dup {
        p: Index,
        src: Option<HSel>,
        h: HSel,
        dst: Option<HSel>,
        target_none: bool,
        options: u8,
        access: u8,
        inherit: bool,
    },
    /// `list`: `Some` sets `ProcessOptions::handle_list`.
    CreateProcess {
        p: Index,
        inherit: bool,
        list: Option<Vec<HSel>>,
    },
    Terminate {
        p: Index,
    },
    Compare {
        p: Index,
        a: HSel,
        b: HSel,
    },
}

fn low_bits() -> impl Strategy<Value = u8> {
    prop_oneof![3 => Just(0u8), 1 => 1u8..4]
}

fn hsel() -> impl Strategy<Value = HSel> {
    prop_oneof![
        6 => (any::<Index>(), low_bits()).prop_map(|(i, b)| HSel::Live(i, b)),
        2 => (any::<Index>(), low_bits()).prop_map(|(i, b)| HSel::Issued(i, b)),
        1 => (0u8..13).prop_map(HSel::Garbage),
        1 => Just(HSel::Current),
    ]
}

/// A process handle for duplication: mostly -1, else mostly a live process handle.
fn proc_sel() -> impl Strategy<Value = Option<HSel>> {
    prop_oneof![
        3 => Just(None),
        2 => any::<Index>().prop_map(|i| Some(HSel::LiveProcess(i))),
        1 => hsel().prop_map(Some),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let p = any::<Index>;
    prop_oneof![
        6 => (p(), proptest::option::weighted(0.6, 0u8..6), any::<bool>())
            .prop_map(|(p, name, inherit)| Op::CreateEvent { p, name, inherit }),
        2 => (p(), 0u8..6, any::<bool>()).prop_map(|(p, name, inherit)| Op::CreateMutex { p, name, inherit }),
        3 => (p(), 0u8..6, 0u8..8, any::<bool>())
            .prop_map(|(p, name, access, inherit)| Op::OpenEvent { p, name, access, inherit }),
        5 => (p(), hsel()).prop_map(|(p, h)| Op::Close { p, h }),
        4 => (p(), hsel(), 0u8..4, 0u8..4).prop_map(|(p, h, mask, flags)| Op::SetInfo { p, h, mask, flags }),
        1 => (p(), hsel()).prop_map(|(p, h)| Op::GetInfo { p, h }),
        6 => (
            p(),
            (proc_sel(), hsel(), proc_sel(), proptest::bool::weighted(0.1)),
            (0u8..8, 0u8..8, any::<bool>())
        )
            .prop_map(|(p, (src, h, dst, target_none), (options, access, inherit))| Op::Dup {
                p,
                src,
                h,
                dst,
                target_none,
                options,
                access,
                inherit
            }),
        3 => (
            p(),
            proptest::bool::weighted(0.8),
            proptest::option::weighted(0.25, proptest::collection::vec(hsel(), 0..3))
        )
            .prop_map(|(p, inherit, list)| Op::CreateProcess { p, inherit, list }),
        1 => p().prop_map(|p| Op::Terminate { p }),
        2 => (p(), hsel(), hsel()).prop_map(|(p, a, b)| Op::Compare { p, a, b }),
    ]
}

// ---------------------------------------------------------------------------------------
// The driver.

struct World {
    kernel: Kernel,
    procs: Vec<Process>,
    model: Model,
    /// Every handle value ever returned, in order.
    issued: Vec<usize>,
    /// `object_count` before the roots existed, and right after.
    base: usize,
    base_roots: usize,
    roots: usize,
}

fn code<T>(r: kobj::Result<T>) -> R<T> {
    r.map_err(|e| e.code())
}

fn sa(inherit: bool) -> SecurityAttributes {
    SecurityAttributes { inherit_handle: inherit, ..Default::default() }
}

impl World {
    fn new(sessions: &[u32], limit: Option<usize>) -> World {
        let kernel = match limit {
            Some(n) => Kernel::builder().handle_limit(n).build(),
            None => Kernel::new(),
        };
        let base = kernel.object_count();
        let mut model = Model {
            limit: limit.unwrap_or(kobj::DEFAULT_HANDLE_LIMIT),
            procs: vec![],
            objs: vec![],
            names: HashMap::new(),
        };
        let procs: Vec<Process> = sessions
            .iter()
            .map(|&s| {
                model.add_process(s);
                kernel
                    .create_process(ProcessOptions { session_id: Some(s), ..Default::default() })
                    .expect("a root process")
            })
            .collect();
        let base_roots = kernel.object_count();
        World { kernel, procs, model, issued: Vec::new(), base, base_roots, roots: sessions.len() }
    }

    fn raw(&self, p: usize, sel: &HSel) -> usize {
        let with_low = |v: usize, b: u8| v | usize::from(b % 4);
        match *sel {
            HSel::Live(i, b) => {
                let live = &self.model.procs[p].entries;
                if live.is_empty() {
                    return self.raw(p, &HSel::Issued(i, b));
                }
                let &index = live.keys().nth(i.index(live.len())).expect("in range");
                with_low(value_of(index), b)
            }
            HSel::Issued(i, b) => {
                if self.issued.is_empty() {
                    return with_low(4, b);
                }
                with_low(self.issued[i.index(self.issued.len())], b)
            }
            HSel::Garbage(g) => match g {
                0..=3 => usize::from(g),
                4 => value_of(self.model.procs[p].high_water),
                5 => 1 << 40,
                6 => usize::MAX - 6,
                _ => usize::MAX - usize::from(g - 7),
            },
            HSel::Current => CURRENT,
            HSel::LiveProcess(i) => {
                let m = &self.model;
                let procs: Vec<usize> = m.procs[p]
                    .entries
                    .iter()
                    .filter(|(_, e)| m.objs[e.obj].kind == Kind::Process)
                    .map(|(&index, _)| index)
                    .collect();
                if procs.is_empty() {
                    return self.raw(p, &HSel::Live(i, 0));
                }
                value_of(procs[i.index(procs.len())])
            }
        }
    }

    fn issue(&mut self, raw: usize) {
        self.issued.push(raw);
    }

    fn step(&mut self, op: &Op) {
        let n = self.procs.len();
        let pick = |i: &Index| i.index(n);
        match op {
            Op::CreateEvent { p, name, inherit } => {
                let p = pick(p);
                let name = name.map(|n| NAMES[usize::from(n)]);
                let got = code(self.procs[p].create_event(Some(&sa(*inherit)), true, false, name))
                    .map(|c| (c.handle.raw(), c.already_existed));
                let want = self.model.create(p, Kind::Event, name, *inherit);
                assert_eq!(got, want, "create_event");
                if let Ok((h, _)) = got {
                    self.issue(h);
                }
            }
            Op::CreateMutex { p, name, inherit } => {
                let p = pick(p);
                let name = NAMES[usize::from(*name)];
                let got = code(self.procs[p].create_mutex(Some(&sa(*inherit)), false, Some(name)))
                    .map(|c| (c.handle.raw(), c.already_existed));
                let want = self.model.create(p, Kind::Mutex, Some(name), *inherit);
                assert_eq!(got, want, "create_mutex");
                if let Ok((h, _)) = got {
                    self.issue(h);
                }
            }
            Op::OpenEvent { p, name, access, inherit } => {
                let p = pick(p);
                let name = NAMES[usize::from(*name)];
                let access = OPEN_ACCESS[usize::from(*access)];
                let got = code(self.procs[p].open_event(Access::from_bits_retain(access), *inherit, name))
                    .map(Handle::raw);
                let want = self.model.open(p, Kind::Event, access, *inherit, name);
                assert_eq!(got, want, "open_event");
                if let Ok(h) = got {
                    self.issue(h);
                }
            }
            Op::Close { p, h } => {
                let p = pick(p);
                let raw = self.raw(p, h);
                let got = code(self.procs[p].close_handle(Handle::from_raw(raw)));
                assert_eq!(got, self.model.close(p, raw), "close_handle({raw:#x})");
            }
            Op::SetInfo { p, h, mask, flags } => {
                let p = pick(p);
                let raw = self.raw(p, h);
                let (mask, flags) = (u32::from(*mask), u32::from(*flags));
                let got = code(self.procs[p].set_handle_information(
                    Handle::from_raw(raw),
                    HandleFlags::from_bits_retain(mask),
                    HandleFlags::from_bits_retain(flags),
                ));
                assert_eq!(got, self.model.set_info(p, raw, mask, flags), "set_handle_information({raw:#x})");
            }
            Op::GetInfo { p, h } => {
                let p = pick(p);
                let raw = self.raw(p, h);
                let got = code(self.procs[p].get_handle_information(Handle::from_raw(raw))).map(|f| f.bits());
                assert_eq!(got, self.model.get_info(p, raw), "get_handle_information({raw:#x})");
            }
            Op::Dup { p, src, h, dst, target_none, options, access, inherit } => {
                let p = pick(p);
                let src = src.as_ref().map_or(CURRENT, |s| self.raw(p, s));
                // The source handle is picked from the source process's table.
                let sp = self.model.process_for_dup(p, src).unwrap_or(p);
                let raw = self.raw(sp, h);
                let dst =
                    if *target_none { None } else { Some(dst.as_ref().map_or(CURRENT, |d| self.raw(p, d))) };
                let access = DUP_ACCESS[usize::from(*access)];
                let options = u32::from(*options);
                let got = code(self.procs[p].duplicate_handle(
                    Handle::from_raw(src),
                    Handle::from_raw(raw),
                    dst.map(Handle::from_raw),
                    Access::from_bits_retain(access),
                    *inherit,
                    DuplicateOptions::from_bits_retain(options),
                ))
                .map(|o| o.map(Handle::raw));
                let want = self.model.duplicate(p, src, raw, dst, access, *inherit, options);
                assert_eq!(got, want, "duplicate_handle({src:#x}, {raw:#x}, {dst:x?})");
                if let Ok(Some(h)) = got {
                    self.issue(h);
                }
            }
            Op::CreateProcess { p, inherit, list } => {
                if self.procs.len() >= MAX_PROCS {
                    return;
                }
                let p = pick(p);
                let list: Option<Vec<usize>> =
                    list.as_ref().map(|l| l.iter().map(|h| self.raw(p, h)).collect());
                let options = ProcessOptions {
                    handle_list: list.as_ref().map(|l| l.iter().copied().map(Handle::from_raw).collect()),
                    ..Default::default()
                };
                let got = code(self.procs[p].create_process(*inherit, options));
                let want = self.model.create_process(p, *inherit, list.as_deref());
                match (got, want) {
                    (Ok(child), Ok((index, h))) => {
                        assert_eq!(child.handle.raw(), h, "create_process: the child's handle");
                        assert_eq!(index, self.procs.len());
                        assert_eq!(child.process.session_id(), self.model.procs[index].session);
                        self.procs.push(child.process);
                        self.issue(h);
                    }
                    (Err(e), Err(w)) => assert_eq!(e, w, "create_process"),
                    (got, want) => {
                        panic!("create_process: engine {:?} vs model {want:?}", got.map(|c| c.handle))
                    }
                }
            }
            Op::Terminate { p } => {
                let p = pick(p);
                let got = code(self.procs[p].terminate(0));
                assert_eq!(got, self.model.terminate(p), "terminate");
            }
            Op::Compare { p, a, b } => {
                let p = pick(p);
                let (a, b) = (self.raw(p, a), self.raw(p, b));
                let got =
                    code(self.procs[p].compare_object_handles(Handle::from_raw(a), Handle::from_raw(b)));
                assert_eq!(got, self.model.compare(p, a, b), "compare_object_handles({a:#x}, {b:#x})");
            }
        }
    }

    /// Every table, row by row, and the object count.
    fn check(&self) {
        for (i, p) in self.procs.iter().enumerate() {
            let m = &self.model.procs[i];
            assert_eq!(p.handle_count(), m.entries.len(), "handle_count of process #{i}");
            assert_eq!(p.is_terminated(), !m.alive, "is_terminated of process #{i}");
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
            assert_eq!(rows, want, "the handle table of process #{i}");
        }
        let children = self.procs.len() - self.roots;
        assert_eq!(
            self.kernel.object_count(),
            self.base_roots + children + self.model.live_objects(),
            "object_count"
        );
    }

    fn finish(self) {
        let World { kernel, procs, base, .. } = self;
        common::finish(&kernel, base, procs);
    }
}

fn run(sessions: &[u32], limit: Option<usize>, ops: &[Op]) {
    let mut w = World::new(sessions, limit);
    w.check();
    for (n, op) in ops.iter().enumerate() {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.step(op);
            w.check();
        }));
        if let Err(e) = result {
            eprintln!("divergence at op #{n}: {op:?}");
            std::panic::resume_unwind(e);
        }
    }
    w.finish();
}

proptest! {
    // No regression file: failures print their minimal case (kept as fixed tests below).
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_model(
        sessions in proptest::collection::vec(prop_oneof![3 => Just(0u32), 1 => Just(1u32)], 1..=3),
        limit in prop_oneof![3 => Just(None), 1 => (2usize..10).prop_map(Some)],
        ops in proptest::collection::vec(op(), 1..=60),
    ) {
        run(&sessions, limit, &ops);
    }
}

// ---------------------------------------------------------------------------------------
// Fixed sequences for the rules the model encodes (they also pin the model down).

#[test]
fn inherited_child_table_layout_and_free_order() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = common::root(&k);
    let inh = |p: &Process| p.create_event(Some(&sa(true)), true, false, None).unwrap().handle;
    let h1 = common::event(&p); // 4
    let h2 = inh(&p); // 8
    let h3 = common::event(&p); // 12
    let h4 = inh(&p); // 16
    let h5 = common::event(&p); // 20
    assert_eq!([h1, h2, h3, h4, h5].map(Handle::raw), [4, 8, 12, 16, 20]);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    assert_eq!(child.handle.raw(), 24, "the child's handle goes into the parent after the copy");
    let c = &child.process;
    assert_eq!(c.handle_count(), 2);
    // Free stack, lowest on top: 4, then 12, then fresh 20, 24.
    let got: Vec<usize> = (0..4).map(|_| common::event(c).raw()).collect();
    assert_eq!(got, [4, 12, 20, 24]);
    common::finish(&k, base, vec![p, child.process]);
}

#[test]
fn close_source_keeps_the_value_and_failed_create_gives_the_slot_back() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = common::root(&k);
    let m = p.create_mutex(None, false, Some("a")).unwrap().handle;
    let e = common::event(&p);
    let d = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            e,
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::CLOSE_SOURCE | DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    assert_eq!(d, e);
    assert_eq!(code(p.create_event(None, true, false, Some("a"))).map(|c| c.handle), Err(INVALID_HANDLE));
    assert_eq!(common::event(&p).raw(), 12, "the failed create's slot is reused");
    assert_eq!(m.raw(), 4);
    common::finish(&k, base, vec![p]);
}
