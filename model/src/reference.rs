//! The reference model: SPEC §2–§3 written as plain maps and vectors, one call at a time.
//!
//! Nothing here is clever or concurrent. Every public call takes the calling process's
//! index and plain values (raw handle values, access masks as `u32`) and returns what the
//! engine must return: the handle value, or the Win32 error code.
//!
//! The handle-value rule (what the engine's table implements, and SPEC §3's determinism
//! rule pins down for one thread): per table, freed slots go on a LIFO stack; a new
//! handle pops it, else takes the next fresh index; value = (index + 1) * 4. A create
//! reserves its slot before it looks at the name, and a create that fails after that gives
//! the slot back (pushes it). A child created with inheritance holds its inherited entries
//! at their parent's indices, its high-water mark is the highest inherited index + 1, and
//! every non-live index below it is on its free stack, the lowest on top.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Win32 codes the model returns.
pub mod codes {
    /// ERROR_FILE_NOT_FOUND.
    pub const FILE_NOT_FOUND: u32 = 2;
    /// ERROR_PATH_NOT_FOUND.
    pub const PATH_NOT_FOUND: u32 = 3;
    /// ERROR_ACCESS_DENIED.
    pub const ACCESS_DENIED: u32 = 5;
    /// ERROR_INVALID_HANDLE.
    pub const INVALID_HANDLE: u32 = 6;
    /// ERROR_INVALID_PARAMETER.
    pub const INVALID_PARAMETER: u32 = 87;
    /// ERROR_INVALID_NAME.
    pub const INVALID_NAME: u32 = 123;
    /// ERROR_ALREADY_EXISTS.
    pub const ALREADY_EXISTS: u32 = 183;
    /// ERROR_TOO_MANY_POSTS.
    pub const TOO_MANY_POSTS: u32 = 298;
    /// ERROR_PRIVILEGE_NOT_HELD.
    pub const PRIVILEGE_NOT_HELD: u32 = 1314;
    /// ERROR_NO_SYSTEM_RESOURCES.
    pub const NO_SYSTEM_RESOURCES: u32 = 1450;
}
use codes::*;

/// The lowest pseudo-handle (-6).
pub const PSEUDO_LOW: usize = usize::MAX - 5;
/// `Handle::CURRENT_PROCESS` (-1).
pub const CURRENT: usize = usize::MAX;
/// The longest name, in UTF-16 code units.
pub const MAX_NAME_UNITS: usize = 32_767;

const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
const READ_CONTROL_WRITE_DAC: u32 = 0x6_0000;
const PROCESS_DUP_HANDLE: u32 = 0x40;
const DIRECTORY_ALL_ACCESS: u32 = 0xF_000F;
const INHERIT: u32 = 1;
const PROTECT: u32 = 2;

/// A model result: the value, or the Win32 code.
pub type R<T> = Result<T, u32>;

/// An object type, with the rights SPEC §2 gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// "Mutant".
    Mutex,
    /// "Event".
    Event,
    /// "Semaphore".
    Semaphore,
    /// "Timer".
    Timer,
    /// "Section" (a file mapping of the paging file).
    Mapping,
    /// "Job".
    Job,
    /// "Process".
    Process,
    /// "Directory" (a private namespace).
    Directory,
}

impl Kind {
    /// GENERIC_READ, WRITE, EXECUTE, ALL.
    #[must_use]
    pub fn mapping(self) -> [u32; 4] {
        match self {
            Kind::Mutex => [0x2_0001, 0x2_0000, 0x12_0000, 0x1F_0001],
            Kind::Event | Kind::Semaphore | Kind::Timer => [0x2_0001, 0x2_0002, 0x12_0000, 0x1F_0003],
            Kind::Mapping => [0x2_0005, 0x2_0002, 0x2_0008, 0xF_001F],
            Kind::Job => [0x2_0004, 0x2_000B, 0x12_0000, 0x1F_003F],
            Kind::Process => [0x2_0410, 0x2_0BEA, 0x12_1001, 0x1F_FFFF],
            Kind::Directory => [0x2_0003, 0x2_000C, 0x2_0003, 0xF_000F],
        }
    }

    /// What GENERIC_ALL maps to: the creator's access.
    #[must_use]
    pub fn all_access(self) -> u32 {
        self.mapping()[3]
    }

    /// The bits a handle of this type can hold.
    #[must_use]
    pub fn valid(self) -> u32 {
        match self {
            Kind::Mapping => 0x1F_001F,
            other => other.all_access(),
        }
    }

    /// The engine's type name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mutex => "Mutant",
            Kind::Event => "Event",
            Kind::Semaphore => "Semaphore",
            Kind::Timer => "Timer",
            Kind::Mapping => "Section",
            Kind::Job => "Job",
            Kind::Process => "Process",
            Kind::Directory => "Directory",
        }
    }

    /// `RtlMapGenericMask`: GENERIC_* bits replaced, the rest kept.
    #[must_use]
    pub fn map(self, access: u32) -> u32 {
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

/// A SID as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MSid {
    /// `Sid::user(rid)`.
    User(u32),
    /// `Sid::EVERYONE`.
    Everyone,
    /// `Sid::SYSTEM`.
    System,
}

/// A token: a user (every token also holds Everyone) and whether it has CreateGlobal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MToken {
    /// The user's rid.
    pub user: u32,
    /// SeCreateGlobalPrivilege.
    pub create_global: bool,
}

impl MToken {
    fn holds(self, sid: MSid) -> bool {
        sid == MSid::Everyone || sid == MSid::User(self.user)
    }
}

/// An ACE: allow (true) or deny, a SID, a mask.
pub type MAce = (bool, MSid, u32);

/// An object's security: its owner and its DACL (`None`: the NULL DACL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MSecurity {
    /// The owner's SID.
    pub owner: MSid,
    /// The DACL; `None` grants everything.
    pub dacl: Option<Vec<MAce>>,
}

impl MSecurity {
    /// What a token's default DACL gives an object created without a descriptor.
    #[must_use]
    pub fn default_for(token: MToken) -> MSecurity {
        MSecurity {
            owner: MSid::User(token.user),
            dacl: Some(vec![(true, MSid::User(token.user), 0x1000_0000), (true, MSid::System, 0x1000_0000)]),
        }
    }

    /// The rights the DACL grants `token` on an object of `kind` (the walk of SPEC §3
    /// "Security", owner's implicit READ_CONTROL | WRITE_DAC included).
    #[must_use]
    pub fn granted(&self, kind: Kind, token: MToken) -> u32 {
        let Some(dacl) = &self.dacl else {
            return kind.valid();
        };
        let mut granted = 0;
        let mut denied = 0;
        if token.holds(self.owner) {
            granted |= READ_CONTROL_WRITE_DAC;
        }
        for &(allow, sid, mask) in dacl {
            if !token.holds(sid) {
                continue;
            }
            if allow {
                granted |= kind.map(mask) & !denied;
            } else {
                denied |= kind.map(mask) & !granted;
            }
        }
        granted & kind.valid()
    }

    /// The access check of an open (SPEC §3 "Named objects", "Security").
    pub fn access_check(&self, kind: Kind, token: MToken, desired: u32) -> R<u32> {
        if desired & ACCESS_SYSTEM_SECURITY != 0 {
            return Err(PRIVILEGE_NOT_HELD);
        }
        let mapped = kind.map(desired);
        let maximum = mapped & MAXIMUM_ALLOWED != 0;
        let explicit = mapped & !MAXIMUM_ALLOWED;
        if self.dacl.is_none() {
            let result = if maximum { kind.valid() } else { explicit & kind.valid() };
            return if maximum || explicit != 0 { Ok(result) } else { Err(ACCESS_DENIED) };
        }
        let allowed = self.granted(kind, token);
        if explicit & !allowed != 0 {
            return Err(ACCESS_DENIED);
        }
        let result = if maximum { allowed } else { explicit };
        if result == 0 {
            Err(ACCESS_DENIED)
        } else {
            Ok(result)
        }
    }
}

/// One handle-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MEntry {
    /// The object's index in [`Model::objs`].
    pub obj: usize,
    /// The granted access.
    pub access: u32,
    /// INHERIT (1) and PROTECT_FROM_CLOSE (2).
    pub flags: u32,
    /// Which live period of its slot this is (stands for the engine's generation).
    pub id: u64,
}

/// A private-namespace alias of one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MAlias {
    dir: Dir,
    index: usize,
    id: u64,
}

/// One process.
#[derive(Debug)]
pub struct MProc {
    /// Its process object.
    pub obj: usize,
    /// Its session.
    pub session: u32,
    /// Its token.
    pub token: MToken,
    /// Not terminated.
    pub alive: bool,
    /// The live entries, by slot index.
    pub entries: BTreeMap<usize, MEntry>,
    /// Freed slots, LIFO (the top is the last element).
    pub free: Vec<usize>,
    /// The next fresh index.
    pub high_water: usize,
    aliases: HashMap<String, MAlias>,
}

/// One object.
#[derive(Debug)]
pub struct MObj {
    /// Its type.
    pub kind: Kind,
    /// Handle references (processes: the handles only, not `Process` values).
    pub handles: usize,
    /// Where its name lives, while it is named.
    pub name: Option<(Dir, String)>,
    /// Not destroyed (processes: always true; the world holds their `Process` values).
    pub live: bool,
    /// Its security.
    pub security: MSecurity,
    /// Event: signalled. Unused otherwise.
    pub signaled: bool,
    /// Semaphore: (count, maximum). Unused otherwise.
    pub semaphore: (i32, i32),
    /// Private namespace: its boundary and directory.
    pub namespace: Option<(Boundary, Dir)>,
}

/// A directory objects can be named in (or a path walks through).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// A session's object directory; session 0's is the global one.
    Session(u32),
    /// `\Sessions\BNOLINKS`: one link per existing session.
    Bnolinks,
    /// A private namespace's directory (numbers never reused).
    Private(u64),
}

/// A boundary descriptor's identity: its name and its set of SIDs.
pub type Boundary = (String, BTreeSet<MSid>);

/// The whole model: the processes, the objects, the namespace.
#[derive(Debug)]
pub struct Model {
    /// The per-process handle limit (indices `0..limit`).
    pub limit: usize,
    /// Every process ever created, in creation order (a child whose creation failed is
    /// removed).
    pub procs: Vec<MProc>,
    /// Every object ever created.
    pub objs: Vec<MObj>,
    names: HashMap<(Dir, String), usize>,
    sessions: BTreeSet<u32>,
    privates: HashMap<Boundary, (Dir, usize)>,
    next_private: u64,
    next_entry: u64,
}

/// The slot index of a raw handle value (`None`: 0..3 or a pseudo-handle).
#[must_use]
pub fn index_of(raw: usize) -> Option<usize> {
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

/// The handle value of a slot index.
#[must_use]
pub fn value_of(index: usize) -> usize {
    (index + 1) * 4
}

/// A name the first create/open step found: directory and final component.
enum Target {
    /// The final component names no object and cannot (a link, a directory, the empty
    /// name): INVALID_HANDLE.
    NotAnObject,
    /// An object may live at `(dir, name)`.
    At(Dir, String),
}

/// The parameters of a new object's payload.
#[derive(Clone, Copy, Debug)]
pub enum Payload {
    /// A mutex (ownership is not modelled).
    Mutex,
    /// An event with its initial state.
    Event(bool),
    /// A semaphore (initial, maximum), already validated.
    Semaphore(i32, i32),
    /// A waitable timer.
    Timer,
    /// A paging-file mapping.
    Mapping,
    /// A job.
    Job,
}

impl Payload {
    fn kind(self) -> Kind {
        match self {
            Payload::Mutex => Kind::Mutex,
            Payload::Event(_) => Kind::Event,
            Payload::Semaphore(..) => Kind::Semaphore,
            Payload::Timer => Kind::Timer,
            Payload::Mapping => Kind::Mapping,
            Payload::Job => Kind::Job,
        }
    }
}

impl Model {
    /// An empty model with a per-process handle limit.
    #[must_use]
    pub fn new(limit: usize) -> Model {
        let mut sessions = BTreeSet::new();
        sessions.insert(0);
        Model {
            limit,
            procs: Vec::new(),
            objs: Vec::new(),
            names: HashMap::new(),
            sessions,
            privates: HashMap::new(),
            next_private: 0,
            next_entry: 0,
        }
    }

    fn new_obj(
        &mut self,
        kind: Kind,
        handles: usize,
        name: Option<(Dir, String)>,
        security: MSecurity,
    ) -> usize {
        self.objs.push(MObj {
            kind,
            handles,
            name,
            live: true,
            security,
            signaled: false,
            semaphore: (0, 0),
            namespace: None,
        });
        self.objs.len() - 1
    }

    /// A new process (root, or a child before its table is filled); returns its index.
    pub fn add_process(&mut self, session: u32, token: MToken) -> usize {
        let obj = self.new_obj(Kind::Process, 0, None, MSecurity::default_for(token));
        self.sessions.insert(session);
        self.procs.push(MProc {
            obj,
            session,
            token,
            alive: true,
            entries: BTreeMap::new(),
            free: Vec::new(),
            high_water: 0,
            aliases: HashMap::new(),
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

    /// Gives a reserved slot back.
    fn unreserve(&mut self, p: usize, index: usize) {
        self.procs[p].free.push(index);
    }

    /// Fills a reserved slot with a reference the caller already counted.
    fn fill(&mut self, p: usize, index: usize, obj: usize, access: u32, flags: u32) -> usize {
        self.next_entry += 1;
        let entry = MEntry { obj, access, flags, id: self.next_entry };
        let old = self.procs[p].entries.insert(index, entry);
        assert!(old.is_none(), "model: slot {index} reused while live");
        value_of(index)
    }

    /// Inserts an entry owning a counted reference; on failure the reference is released.
    fn insert(&mut self, p: usize, obj: usize, access: u32, flags: u32) -> R<usize> {
        match self.reserve(p) {
            Ok(index) => Ok(self.fill(p, index, obj, access, flags)),
            Err(e) => {
                self.release(obj);
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

    /// Drops one handle reference; the last one destroys the object (processes stay:
    /// their `Process` values keep them).
    fn release(&mut self, obj: usize) {
        let o = &mut self.objs[obj];
        assert!(o.handles > 0, "model: releasing an object with no handles");
        o.handles -= 1;
        if o.handles > 0 || o.kind == Kind::Process {
            return;
        }
        o.live = false;
        if let Some(key) = o.name.take() {
            if self.names.get(&key) == Some(&obj) {
                self.names.remove(&key);
            }
        }
        if let Some((boundary, _)) = o.namespace.clone() {
            if self.privates.get(&boundary).map(|&(_, o)| o) == Some(obj) {
                self.privates.remove(&boundary);
            }
        }
    }

    fn entry(&self, p: usize, raw: usize) -> R<MEntry> {
        index_of(raw).and_then(|i| self.procs[p].entries.get(&i).copied()).ok_or(INVALID_HANDLE)
    }

    /// The object a handle names, as the engine's `resolve` does (-1 is the caller).
    fn object_of(&self, p: usize, raw: usize) -> R<(usize, u32)> {
        self.alive(p)?;
        if raw == CURRENT {
            return Ok((self.procs[p].obj, Kind::Process.all_access()));
        }
        let e = self.entry(p, raw)?;
        Ok((e.obj, e.access))
    }

    /// The object of a handle of type `kind` holding `access` (valid, type, access).
    fn lookup(&self, p: usize, raw: usize, kind: Kind, access: u32) -> R<usize> {
        let (obj, held) = self.object_of(p, raw)?;
        if self.objs[obj].kind != kind {
            return Err(INVALID_HANDLE);
        }
        if held & access != access {
            return Err(ACCESS_DENIED);
        }
        Ok(obj)
    }

    /// The directory of a live alias of `p`.
    fn alias_dir(&self, p: usize, alias: &str) -> Option<Dir> {
        let proc_ = &self.procs[p];
        let a = proc_.aliases.get(alias)?;
        let e = proc_.entries.get(&a.index)?;
        (e.id == a.id).then_some(a.dir)
    }

    /// One step of a path walk.
    fn follow(&self, dir: Dir, component: &str) -> R<Dir> {
        match dir {
            Dir::Session(n) => match component {
                "Global" => Ok(Dir::Session(0)),
                "Local" => Ok(Dir::Session(n)),
                "Session" => Ok(Dir::Bnolinks),
                _ => Err(PATH_NOT_FOUND),
            },
            Dir::Bnolinks => self
                .sessions
                .iter()
                .find(|s| s.to_string() == component)
                .map(|&s| Dir::Session(s))
                .ok_or(PATH_NOT_FOUND),
            Dir::Private(_) => Err(PATH_NOT_FOUND),
        }
    }

    /// Resolves a name for `p` (SPEC §3 "Where a name lives", private aliases).
    fn resolve(&self, p: usize, name: &str) -> R<Target> {
        if name.encode_utf16().count() > MAX_NAME_UNITS {
            return Err(INVALID_NAME);
        }
        if name.starts_with('\\') || name.ends_with('\\') || name.contains("\\\\") {
            return Err(INVALID_NAME);
        }
        let base = Dir::Session(self.procs[p].session);
        let mut parts: Vec<&str> = name.split('\\').collect();
        let last = parts.pop().expect("split yields one part at least");
        let mut dir = base;
        for (i, component) in parts.into_iter().enumerate() {
            dir = match (i, self.alias_dir(p, component)) {
                (0, Some(private)) => private,
                _ => self.follow(dir, component)?,
            };
        }
        let not_an_object = last.is_empty()
            || (matches!(dir, Dir::Session(_)) && matches!(last, "Global" | "Local" | "Session"))
            || (dir == Dir::Bnolinks && self.sessions.iter().any(|s| s.to_string() == last));
        Ok(if not_an_object { Target::NotAnObject } else { Target::At(dir, last.to_owned()) })
    }

    /// `create_*` of a new or existing object. `sd`: the descriptor asked for (`None`:
    /// the creator's default DACL). Parameter checks that come before the process check
    /// (semaphore counts, mapping protection) are the caller's.
    pub fn create(
        &mut self,
        p: usize,
        payload: Payload,
        name: Option<&str>,
        inherit: bool,
        sd: Option<MSecurity>,
    ) -> R<(usize, bool)> {
        self.alive(p)?;
        let kind = payload.kind();
        let token = self.procs[p].token;
        let security = sd.unwrap_or_else(|| MSecurity::default_for(token));
        let flags = u32::from(inherit);
        let access = kind.all_access();
        let index = self.reserve(p)?;
        let name = match name {
            None | Some("") => {
                let obj = self.new_obj(kind, 1, None, security);
                self.init_payload(obj, payload);
                return Ok((self.fill(p, index, obj, access, flags), false));
            }
            Some(name) => name,
        };
        let found = self.create_named(p, payload, name, security);
        match found {
            Ok((obj, granted, existed)) => Ok((self.fill(p, index, obj, granted, flags), existed)),
            Err(e) => {
                self.unreserve(p, index);
                Err(e)
            }
        }
    }

    fn init_payload(&mut self, obj: usize, payload: Payload) {
        match payload {
            Payload::Event(state) => self.objs[obj].signaled = state,
            Payload::Semaphore(initial, maximum) => self.objs[obj].semaphore = (initial, maximum),
            _ => {}
        }
    }

    /// The named part of a create: (object with one new handle reference, granted, existed).
    fn create_named(
        &mut self,
        p: usize,
        payload: Payload,
        name: &str,
        security: MSecurity,
    ) -> R<(usize, u32, bool)> {
        let kind = payload.kind();
        let Target::At(dir, last) = self.resolve(p, name)? else {
            return Err(INVALID_HANDLE);
        };
        let key = (dir, last);
        if let Some(&obj) = self.names.get(&key) {
            if self.objs[obj].kind != kind {
                return Err(INVALID_HANDLE);
            }
            let granted =
                self.objs[obj].security.access_check(kind, self.procs[p].token, kind.all_access())?;
            self.objs[obj].handles += 1;
            return Ok((obj, granted, true));
        }
        if dir == Dir::Bnolinks {
            return Err(ACCESS_DENIED);
        }
        let proc_ = &self.procs[p];
        if kind == Kind::Mapping && dir == Dir::Session(0) && proc_.session != 0 && !proc_.token.create_global
        {
            return Err(ACCESS_DENIED);
        }
        let obj = self.new_obj(kind, 1, Some(key.clone()), security);
        self.init_payload(obj, payload);
        self.names.insert(key, obj);
        Ok((obj, kind.all_access(), false))
    }

    /// `open_*` by name.
    pub fn open(&mut self, p: usize, kind: Kind, access: u32, inherit: bool, name: &str) -> R<usize> {
        self.alive(p)?;
        let Target::At(dir, last) = self.resolve(p, name)? else {
            return Err(INVALID_HANDLE);
        };
        let obj = *self.names.get(&(dir, last)).ok_or(FILE_NOT_FOUND)?;
        if self.objs[obj].kind != kind {
            return Err(INVALID_HANDLE);
        }
        let granted = self.objs[obj].security.access_check(kind, self.procs[p].token, access)?;
        self.objs[obj].handles += 1;
        self.insert(p, obj, granted, u32::from(inherit))
    }

    /// `open_process(access, inherit, pid)` where `target` is the process the pid names
    /// (`None`: a pid no process ever had).
    pub fn open_process(&mut self, p: usize, access: u32, inherit: bool, target: Option<usize>) -> R<usize> {
        self.alive(p)?;
        let t = target.filter(|&t| self.procs[t].alive).ok_or(INVALID_PARAMETER)?;
        let obj = self.procs[t].obj;
        let granted = self.objs[obj].security.access_check(Kind::Process, self.procs[p].token, access)?;
        self.objs[obj].handles += 1;
        self.insert(p, obj, granted, u32::from(inherit))
    }

    /// `close_handle`.
    pub fn close(&mut self, p: usize, raw: usize) -> R<()> {
        self.alive(p)?;
        if raw >= PSEUDO_LOW {
            return Ok(());
        }
        let e = self.entry(p, raw)?;
        if e.flags & PROTECT != 0 {
            return Err(INVALID_HANDLE);
        }
        let index = index_of(raw).expect("a live entry has an index");
        self.take(p, index);
        self.release(e.obj);
        Ok(())
    }

    /// `get_handle_information`.
    pub fn get_info(&self, p: usize, raw: usize) -> R<u32> {
        self.alive(p)?;
        if raw == CURRENT {
            return Ok(0);
        }
        Ok(self.entry(p, raw)?.flags)
    }

    /// `set_handle_information`.
    pub fn set_info(&mut self, p: usize, raw: usize, mask: u32, flags: u32) -> R<()> {
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

    /// `compare_object_handles`.
    pub fn compare(&self, p: usize, a: usize, b: usize) -> R<bool> {
        let a = self.object_of(p, a)?.0;
        let b = self.object_of(p, b)?.0;
        Ok(a == b)
    }

    /// `set_event` (`Some(true)`), `reset_event` (`Some(false)`) or `event_state` (`None`).
    pub fn event(&mut self, p: usize, raw: usize, set: Option<bool>) -> R<bool> {
        let access = if set.is_some() { 0x2 } else { 0x1 };
        let obj = self.lookup(p, raw, Kind::Event, access)?;
        if let Some(state) = set {
            self.objs[obj].signaled = state;
        }
        Ok(self.objs[obj].signaled)
    }

    /// `release_semaphore`: the previous count.
    pub fn release_semaphore(&mut self, p: usize, raw: usize, count: i32) -> R<i32> {
        if count <= 0 {
            return Err(INVALID_PARAMETER);
        }
        let obj = self.lookup(p, raw, Kind::Semaphore, 0x2)?;
        let (current, maximum) = self.objs[obj].semaphore;
        if i64::from(current) + i64::from(count) > i64::from(maximum) {
            return Err(TOO_MANY_POSTS);
        }
        self.objs[obj].semaphore.0 = current + count;
        Ok(current)
    }

    /// `semaphore_count`.
    pub fn semaphore_count(&self, p: usize, raw: usize) -> R<i32> {
        let obj = self.lookup(p, raw, Kind::Semaphore, 0x1)?;
        Ok(self.objs[obj].semaphore.0)
    }

    /// The process a process handle of `p` names, for duplication: -1 is `p`; else a live
    /// process handle (INVALID_HANDLE) with PROCESS_DUP_HANDLE (ACCESS_DENIED) to a process
    /// not terminated (ACCESS_DENIED).
    pub fn process_for_dup(&self, p: usize, raw: usize) -> R<usize> {
        if raw == CURRENT {
            return Ok(p);
        }
        let e = self.entry(p, raw)?;
        if self.objs[e.obj].kind != Kind::Process {
            return Err(INVALID_HANDLE);
        }
        if e.access & PROCESS_DUP_HANDLE == 0 {
            return Err(ACCESS_DENIED);
        }
        let q = self.procs.iter().position(|m| m.obj == e.obj).expect("a process object has a process");
        self.alive(q)?;
        Ok(q)
    }

    /// `p.duplicate_handle(src, raw, dst, ..)`; `dst = None` is `target_process = None`.
    #[allow(clippy::too_many_arguments)]
    pub fn duplicate(
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
        // only after the source was closed (CLOSE_SOURCE closes a valid source even when
        // the duplication fails).
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
            if close_source && e.flags & PROTECT == 0 {
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
            if access & ACCESS_SYSTEM_SECURITY != 0 {
                self.release(obj);
                return Err(PRIVILEGE_NOT_HELD);
            }
            let wanted = kind.map(access) & kind.valid();
            let grows = held_access & wanted != wanted;
            if grows && self.objs[obj].security.granted(kind, self.procs[t].token) & wanted != wanted {
                self.release(obj);
                return Err(ACCESS_DENIED);
            }
            wanted
        };
        let new_flags = if options & 4 != 0 { held_flags } else { u32::from(inherit) };
        self.insert(t, obj, new_access, new_flags).map(Some)
    }

    /// `create_process(inherit, handle_list)`; returns (child index, the child's handle
    /// value in the parent). The child runs with the parent's token and session.
    pub fn create_process(&mut self, p: usize, inherit: bool, list: Option<&[usize]>) -> R<(usize, usize)> {
        self.alive(p)?;
        let only: Option<Vec<usize>> = match (list, inherit) {
            (None, _) => None,
            (Some(_), false) | (Some([]), true) => return Err(INVALID_PARAMETER),
            (Some(list), true) => {
                let mut indices = Vec::new();
                for &raw in list {
                    match self.entry(p, raw) {
                        Ok(e) if e.flags & INHERIT != 0 => indices.push(index_of(raw).expect("live")),
                        _ => return Err(INVALID_PARAMETER),
                    }
                }
                Some(indices)
            }
        };
        let (session, token) = (self.procs[p].session, self.procs[p].token);
        let child = self.add_process(session, token);
        if inherit {
            let copied: Vec<(usize, MEntry)> = self.procs[p]
                .entries
                .iter()
                .filter(|(i, e)| e.flags & INHERIT != 0 && only.as_ref().map_or(true, |o| o.contains(i)))
                .map(|(&i, &e)| (i, e))
                .collect();
            for &(_, e) in &copied {
                self.objs[e.obj].handles += 1;
            }
            self.procs[child].high_water = copied.last().map_or(0, |&(i, _)| i + 1);
            for (i, e) in copied {
                self.fill(child, i, e.obj, e.access, e.flags);
            }
            let c = &mut self.procs[child];
            // Every non-live slot below the mark, the lowest on top.
            c.free = (0..c.high_water).rev().filter(|i| !c.entries.contains_key(i)).collect();
        }
        let obj = self.procs[child].obj;
        self.objs[obj].handles += 1;
        match self.insert(p, obj, Kind::Process.all_access(), 0) {
            Ok(h) => Ok((child, h)),
            Err(e) => {
                // The engine terminates the child and drops its last reference.
                self.terminate(child).expect("a new child is alive");
                self.procs.pop();
                Err(e)
            }
        }
    }

    /// `terminate`: every handle closed, aliases gone.
    pub fn terminate(&mut self, p: usize) -> R<()> {
        self.alive(p)?;
        let t = &mut self.procs[p];
        t.alive = false;
        t.aliases.clear();
        let entries = std::mem::take(&mut t.entries);
        for e in entries.values() {
            self.release(e.obj);
        }
        Ok(())
    }

    /// `create_private_namespace` (`create`) or `open_private_namespace`.
    pub fn private_namespace(
        &mut self,
        p: usize,
        create: bool,
        boundary: &Boundary,
        alias: &str,
    ) -> R<usize> {
        self.alive(p)?;
        if alias.is_empty() || alias.contains('\\') {
            return Err(INVALID_PARAMETER);
        }
        let index = self.reserve(p)?;
        let existing = self.privates.get(boundary).copied();
        let (dir, obj) = if create {
            if existing.is_some() {
                self.unreserve(p, index);
                return Err(ALREADY_EXISTS);
            }
            let dir = Dir::Private(self.next_private);
            self.next_private += 1;
            let security = MSecurity::default_for(self.procs[p].token);
            let obj = self.new_obj(Kind::Directory, 1, None, security);
            self.objs[obj].namespace = Some((boundary.clone(), dir));
            self.privates.insert(boundary.clone(), (dir, obj));
            (dir, obj)
        } else {
            let Some((dir, obj)) = existing else {
                self.unreserve(p, index);
                return Err(FILE_NOT_FOUND);
            };
            let token = self.procs[p].token;
            if !boundary.1.iter().all(|&sid| token.holds(sid)) {
                self.unreserve(p, index);
                return Err(ACCESS_DENIED);
            }
            self.objs[obj].handles += 1;
            (dir, obj)
        };
        let value = self.fill(p, index, obj, DIRECTORY_ALL_ACCESS, 0);
        let id = self.procs[p].entries[&index].id;
        self.procs[p].aliases.insert(alias.to_owned(), MAlias { dir, index, id });
        Ok(value)
    }

    /// Live objects that are not processes (namespaces included).
    #[must_use]
    pub fn live_objects(&self) -> usize {
        self.objs.iter().filter(|o| o.kind != Kind::Process && o.live).count()
    }
}
