//! The operations a differential run applies, decodable from fuzz bytes
//! ([`arbitrary::Arbitrary`]).
//!
//! Every field is a small selector (an index into a table of interesting values, taken
//! modulo its length), so that any byte string decodes into a meaningful run and a
//! mutation of one byte changes one choice.

use arbitrary::Arbitrary;

/// Names for the `ops` target. Sessions 0 and 1 exist in most runs; `ns` is the alias
/// private namespaces are mapped to most often.
pub const NAMES: [&str; 16] = [
    "a",
    "b",
    "Global\\a",
    "Local\\b",
    "Global\\b",
    "Local\\a",
    "Session\\1\\a",
    "Session\\0\\b",
    "ns\\a",
    "ns\\b",
    "",
    "Global",
    "x\\a",
    "Session\\7\\a",
    "A",
    "a\0b",
];

/// Desired access masks for opens (0x0100_0000 is ACCESS_SYSTEM_SECURITY, 0x0200_0000
/// MAXIMUM_ALLOWED, the top nibble the GENERIC_* bits).
pub const OPEN_ACCESS: [u32; 18] = [
    0x1F_0003,
    0x10_0000,
    0x8000_0000,
    0x2,
    0,
    0x200_0000,
    0x4,
    0x1000_0000,
    0x0100_0000,
    0x1,
    0x6_0000,
    0x1F_001F,
    0xF_001F,
    0x200_0001,
    0x4000_0000,
    0x2000_0000,
    0xFFFF_FFFF,
    0x40,
];

/// Desired access masks for duplication without SAME_ACCESS.
pub const DUP_ACCESS: [u32; 12] = [
    0,
    0x10_0000,
    0x8000_0000,
    0x1000_0000,
    0x2,
    0xFFFF,
    0x0100_0000,
    0x200_0001,
    0x40,
    0x1F_FFFF,
    0x1,
    0x2_0000,
];

/// `(initial, maximum)` for `create_semaphore` (the invalid ones included).
pub const SEMAPHORE_COUNTS: [(i32, i32); 8] =
    [(0, 1), (1, 1), (2, 5), (0, i32::MAX), (-1, 1), (2, 1), (0, 0), (0, -1)];

/// Counts for `release_semaphore`.
pub const RELEASE_COUNTS: [i32; 6] = [1, 2, 0, -1, i32::MAX, 4];

/// `protect` for `create_file_mapping` (valid, with SEC_* flags, and invalid).
pub const PROTECTIONS: [u32; 10] = [0x04, 0x02, 0x08, 0x20, 0x40, 0x80, 0x0800_0004, 0x01, 0x05, 0x100];

/// `maximum_size` for `create_file_mapping`.
pub const MAPPING_SIZES: [u64; 3] = [4096, 0, u64::MAX];

/// Boundary names for private namespaces.
pub const BOUNDARY_NAMES: [&str; 4] = ["b1", "b2", "", "bé\0"];

/// Aliases for private namespaces (the empty one and one with `\` are INVALID_PARAMETER;
/// `Global` shadows the link while it is mapped).
pub const ALIASES: [&str; 6] = ["ns", "other", "", "a\\b", "Global", "x"];

/// The object types that have `create_*` and `open_*` calls (files aside: they need a disk).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// `create_mutex` / `open_mutex`.
    Mutex,
    /// `create_event` / `open_event`.
    Event,
    /// `create_semaphore` / `open_semaphore`.
    Semaphore,
    /// `create_waitable_timer` / `open_waitable_timer`.
    Timer,
    /// `create_file_mapping(None, ..)` / `open_file_mapping`.
    Mapping,
    /// `create_job_object` / `open_job_object`.
    Job,
}

/// How an operation picks a handle value.
#[derive(Arbitrary, Clone, Debug)]
pub enum HSel {
    /// A live handle of the process the value is for (else as `Issued`), with the low bits
    /// set to `.1 % 4`.
    Live(u16, u8),
    /// Any value ever returned to any process (possibly closed, or another table's).
    Issued(u16, u8),
    /// 0..=3, the next fresh value, a value past the limit, a huge value, -1..-7.
    Garbage(u8),
    /// `Handle::CURRENT_PROCESS`.
    Current,
    /// A live process handle of the process (else as `Live`).
    LiveProcess(u16),
    /// A live handle of a given type, if there is one (else as `Live`).
    LiveOf(ObjectKind, u16),
}

/// One path component for [`NameSel::Path`].
#[derive(Arbitrary, Clone, Debug)]
pub enum Component {
    /// `Global`.
    Global,
    /// `Local`.
    Local,
    /// `Session`.
    Session,
    /// A session number, `n % 4` (session 3 never exists), or with a leading zero.
    Number(u8),
    /// One of [`ALIASES`].
    Alias(u8),
    /// One of [`WORDS`].
    Word(u8),
    /// An empty component (`a\\b`, leading or trailing `\`).
    Empty,
    /// Anything.
    Raw(String),
}

/// Object-name words: case variants, NULs, odd Unicode.
pub const WORDS: [&str; 14] =
    ["a", "A", "b", "a\0b", "é", "e\u{301}", "😀", "global", "GLOBAL", "Global ", ".", "..", "\u{FEFF}", "/"];

/// How an operation picks a name.
#[derive(Arbitrary, Clone, Debug)]
pub enum NameSel {
    /// One of [`NAMES`].
    Fixed(u8),
    /// Components joined by `\`.
    Path(Vec<Component>),
    /// A name of exactly 32,767 + `delta % 5 - 2` UTF-16 units, optionally under
    /// `Global\`, built of 1-unit or of 2-unit (surrogate pair) characters.
    Long {
        /// Length around the limit.
        delta: u8,
        /// Under `Global\`.
        global: bool,
        /// Surrogate pairs (4 UTF-8 bytes, 2 UTF-16 units each).
        wide: bool,
    },
    /// Anything.
    Raw(String),
}

impl NameSel {
    /// The name as passed to the engine.
    #[must_use]
    pub fn build(&self) -> String {
        match self {
            NameSel::Fixed(i) => NAMES[usize::from(*i) % NAMES.len()].to_owned(),
            NameSel::Path(parts) => {
                let parts: Vec<String> = parts.iter().take(6).map(Component::build).collect();
                parts.join("\\")
            }
            NameSel::Long { delta, global, wide } => {
                let units = 32_767 + usize::from(*delta % 5) - 2;
                let mut s = if *global { String::from("Global\\") } else { String::new() };
                let mut have = s.len();
                if *wide {
                    while have + 2 <= units {
                        s.push('😀');
                        have += 2;
                    }
                }
                while have < units {
                    s.push('x');
                    have += 1;
                }
                s
            }
            NameSel::Raw(s) => s.clone(),
        }
    }
}

impl Component {
    fn build(&self) -> String {
        match self {
            Component::Global => "Global".to_owned(),
            Component::Local => "Local".to_owned(),
            Component::Session => "Session".to_owned(),
            Component::Number(n) if *n >= 128 => format!("0{}", n % 4),
            Component::Number(n) => (n % 4).to_string(),
            Component::Alias(i) => ALIASES[usize::from(*i) % ALIASES.len()].to_owned(),
            Component::Word(i) => WORDS[usize::from(*i) % WORDS.len()].to_owned(),
            Component::Empty => String::new(),
            Component::Raw(s) => s.clone(),
        }
    }
}

/// The security descriptor a create asks for.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdSel {
    /// No descriptor: the creator's default DACL.
    Default,
    /// `Some(SecurityDescriptor::default())`: the NULL DACL.
    Null,
    /// An empty DACL.
    Empty,
    /// Allow Everyone GENERIC_READ, deny user 1001 GENERIC_ALL first.
    DenyThenRead,
    /// Owner user 1001, allow user 1001 GENERIC_ALL.
    OtherOwner,
}

/// One operation, made as process `p` (an index, modulo the number of processes).
#[derive(Arbitrary, Clone, Debug)]
pub enum Op {
    /// `create_*`: `param` chooses the payload parameters (event state, semaphore counts,
    /// mapping protection/size, a file handle for a mapping).
    Create {
        /// The caller.
        p: u8,
        /// The type.
        kind: ObjectKind,
        /// `None`: unnamed.
        name: Option<NameSel>,
        /// `SecurityAttributes::inherit_handle`.
        inherit: bool,
        /// The descriptor.
        sd: SdSel,
        /// Payload parameters.
        param: u8,
        /// For a mapping: a file handle (never a file here: INVALID_HANDLE).
        file: Option<HSel>,
    },
    /// `open_*` by name.
    Open {
        /// The caller.
        p: u8,
        /// The type.
        kind: ObjectKind,
        /// The name.
        name: NameSel,
        /// Index into [`OPEN_ACCESS`].
        access: u8,
        /// The new handle's INHERIT.
        inherit: bool,
    },
    /// `open_process` of process `target` (an index; values past the processes are pids
    /// no process has).
    OpenProcess {
        /// The caller.
        p: u8,
        /// The process opened.
        target: u8,
        /// Index into [`OPEN_ACCESS`].
        access: u8,
        /// The new handle's INHERIT.
        inherit: bool,
    },
    /// `close_handle`.
    Close {
        /// The caller.
        p: u8,
        /// The handle.
        h: HSel,
    },
    /// `set_handle_information(h, mask & 3, flags & 3)` (`& 7` when the high bit is set).
    SetInfo {
        /// The caller.
        p: u8,
        /// The handle.
        h: HSel,
        /// The mask.
        mask: u8,
        /// The flags.
        flags: u8,
    },
    /// `get_handle_information`.
    GetInfo {
        /// The caller.
        p: u8,
        /// The handle.
        h: HSel,
    },
    /// `compare_object_handles`.
    Compare {
        /// The caller.
        p: u8,
        /// First handle.
        a: HSel,
        /// Second handle.
        b: HSel,
    },
    /// `duplicate_handle`; `src`/`dst` `None` are -1; `target_none` passes no target.
    Dup {
        /// The caller.
        p: u8,
        /// The source process handle.
        src: Option<HSel>,
        /// The source handle (picked in the source process).
        h: HSel,
        /// The target process handle.
        dst: Option<HSel>,
        /// `target_process = None`.
        target_none: bool,
        /// DuplicateOptions bits (`& 7`).
        options: u8,
        /// Index into [`DUP_ACCESS`].
        access: u8,
        /// The new handle's INHERIT.
        inherit: bool,
    },
    /// `create_process(inherit, handle_list)`.
    CreateProcess {
        /// The caller.
        p: u8,
        /// `inherit_handles`.
        inherit: bool,
        /// `ProcessOptions::handle_list`.
        list: Option<Vec<HSel>>,
    },
    /// `terminate`.
    Terminate {
        /// The caller.
        p: u8,
    },
    /// `set_event` (0), `reset_event` (1) or `event_state` (2), `how % 3`.
    Event {
        /// The caller.
        p: u8,
        /// The handle.
        h: HSel,
        /// Which call.
        how: u8,
    },
    /// `release_semaphore` (`count` indexes [`RELEASE_COUNTS`]), or `semaphore_count`
    /// when `query`.
    Semaphore {
        /// The caller.
        p: u8,
        /// The handle.
        h: HSel,
        /// Index into [`RELEASE_COUNTS`].
        count: u8,
        /// `semaphore_count` instead.
        query: bool,
    },
    /// `create_private_namespace` / `open_private_namespace`.
    Namespace {
        /// The caller.
        p: u8,
        /// Create rather than open.
        create: bool,
        /// Index into [`BOUNDARY_NAMES`].
        boundary: u8,
        /// The boundary's SIDs: bit 0 Everyone, bit 1 user 1000, bit 2 user 1001.
        sids: u8,
        /// Index into [`ALIASES`].
        alias: u8,
    },
}

/// A root process: its session (`% 3`) and token (`% 3`: user 1000; user 1001; user 1000
/// with CreateGlobal).
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct RootSel {
    /// Session selector.
    pub session: u8,
    /// Token selector.
    pub token: u8,
}

/// The world a run starts from.
#[derive(Arbitrary, Clone, Debug)]
pub struct Setup {
    /// The root processes (the first three are used; none means one default root).
    pub roots: Vec<RootSel>,
    /// A small per-process handle limit, `2 + n % 8`, or the default.
    pub limit: Option<u8>,
}

impl Default for Setup {
    /// One root in session 0 and one in session 1, default tokens and limit.
    fn default() -> Setup {
        Setup { roots: vec![RootSel { session: 0, token: 0 }, RootSel { session: 1, token: 0 }], limit: None }
    }
}

/// A whole differential run: the setup and the operations.
#[derive(Arbitrary, Clone, Debug)]
pub struct Scenario {
    /// The starting world.
    pub setup: Setup,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

/// Decodes a setup, then elements of `T` one after another until the bytes run out (or
/// `max` of them): every byte feeds an element, none is spent on "one more?" flags as
/// `Vec`'s own `arbitrary_take_rest` does. An element that fails to decode ends the list.
pub fn decode_list<'a, T: Arbitrary<'a>>(u: &mut arbitrary::Unstructured<'a>, max: usize) -> Vec<T> {
    let mut out = Vec::new();
    while !u.is_empty() && out.len() < max {
        match T::arbitrary(u) {
            Ok(t) => out.push(t),
            Err(_) => break,
        }
    }
    out
}

impl Scenario {
    /// The scenario fuzz bytes stand for: a [`Setup`], then operations until the bytes
    /// run out (at most [`MAX_OPS`](crate::runner::MAX_OPS)).
    #[must_use]
    pub fn decode(data: &[u8]) -> Scenario {
        let mut u = arbitrary::Unstructured::new(data);
        let setup = Setup::arbitrary(&mut u).unwrap_or_default();
        let ops = decode_list(&mut u, crate::runner::MAX_OPS);
        Scenario { setup, ops }
    }
}
