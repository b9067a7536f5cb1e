//! Win32 names for the engine's numbers: access rights by object type, handle flags,
//! error codes and wait statuses — both ways, for printing tables and for parsing
//! scenarios.

use kobj::{Access, HandleFlags, WaitStatus};

/// The standard rights every type shares, highest first as Windows tools print them.
const STANDARD: &[(&str, u32)] = &[
    ("DELETE", 0x0001_0000),
    ("READ_CONTROL", 0x0002_0000),
    ("WRITE_DAC", 0x0004_0000),
    ("WRITE_OWNER", 0x0008_0000),
    ("SYNCHRONIZE", 0x0010_0000),
    ("ACCESS_SYSTEM_SECURITY", 0x0100_0000),
    ("MAXIMUM_ALLOWED", 0x0200_0000),
    ("GENERIC_ALL", 0x1000_0000),
    ("GENERIC_EXECUTE", 0x2000_0000),
    ("GENERIC_WRITE", 0x4000_0000),
    ("GENERIC_READ", 0x8000_0000),
];

/// One engine type's rights: its ALL_ACCESS name and value, and its specific rights.
struct TypeRights {
    /// The engine's type name (`Kernel::type_names`).
    ty: &'static str,
    all: (&'static str, u32),
    specific: &'static [(&'static str, u32)],
}

const TYPES: &[TypeRights] = &[
    TypeRights {
        ty: "Mutant",
        all: ("MUTEX_ALL_ACCESS", 0x1F_0001),
        specific: &[("MUTEX_MODIFY_STATE", 0x1)],
    },
    TypeRights {
        ty: "Event",
        all: ("EVENT_ALL_ACCESS", 0x1F_0003),
        specific: &[("EVENT_QUERY_STATE", 0x1), ("EVENT_MODIFY_STATE", 0x2)],
    },
    TypeRights {
        ty: "Semaphore",
        all: ("SEMAPHORE_ALL_ACCESS", 0x1F_0003),
        specific: &[("SEMAPHORE_QUERY_STATE", 0x1), ("SEMAPHORE_MODIFY_STATE", 0x2)],
    },
    TypeRights {
        ty: "Timer",
        all: ("TIMER_ALL_ACCESS", 0x1F_0003),
        specific: &[("TIMER_QUERY_STATE", 0x1), ("TIMER_MODIFY_STATE", 0x2)],
    },
    TypeRights {
        ty: "Section",
        all: ("FILE_MAP_ALL_ACCESS", 0xF_001F),
        specific: &[
            ("FILE_MAP_QUERY", 0x1),
            ("FILE_MAP_WRITE", 0x2),
            ("FILE_MAP_READ", 0x4),
            ("SECTION_MAP_EXECUTE", 0x8),
            ("SECTION_EXTEND_SIZE", 0x10),
        ],
    },
    TypeRights {
        ty: "Job",
        all: ("JOB_OBJECT_ALL_ACCESS", 0x1F_003F),
        specific: &[
            ("JOB_OBJECT_ASSIGN_PROCESS", 0x1),
            ("JOB_OBJECT_SET_ATTRIBUTES", 0x2),
            ("JOB_OBJECT_QUERY", 0x4),
            ("JOB_OBJECT_TERMINATE", 0x8),
            ("JOB_OBJECT_SET_SECURITY_ATTRIBUTES", 0x10),
            ("JOB_OBJECT_IMPERSONATE", 0x20),
        ],
    },
    TypeRights {
        ty: "File",
        all: ("FILE_ALL_ACCESS", 0x1F_01FF),
        specific: &[
            ("FILE_READ_DATA", 0x1),
            ("FILE_WRITE_DATA", 0x2),
            ("FILE_APPEND_DATA", 0x4),
            ("FILE_READ_EA", 0x8),
            ("FILE_WRITE_EA", 0x10),
            ("FILE_EXECUTE", 0x20),
            ("FILE_DELETE_CHILD", 0x40),
            ("FILE_READ_ATTRIBUTES", 0x80),
            ("FILE_WRITE_ATTRIBUTES", 0x100),
        ],
    },
    TypeRights {
        ty: "Process",
        all: ("PROCESS_ALL_ACCESS", 0x1F_FFFF),
        specific: &[
            ("PROCESS_TERMINATE", 0x1),
            ("PROCESS_CREATE_THREAD", 0x2),
            ("PROCESS_SET_SESSIONID", 0x4),
            ("PROCESS_VM_OPERATION", 0x8),
            ("PROCESS_VM_READ", 0x10),
            ("PROCESS_VM_WRITE", 0x20),
            ("PROCESS_DUP_HANDLE", 0x40),
            ("PROCESS_CREATE_PROCESS", 0x80),
            ("PROCESS_SET_QUOTA", 0x100),
            ("PROCESS_SET_INFORMATION", 0x200),
            ("PROCESS_QUERY_INFORMATION", 0x400),
            ("PROCESS_SUSPEND_RESUME", 0x800),
            ("PROCESS_QUERY_LIMITED_INFORMATION", 0x1000),
        ],
    },
    TypeRights {
        ty: "Thread",
        all: ("THREAD_ALL_ACCESS", 0x1F_FFFF),
        specific: &[
            ("THREAD_TERMINATE", 0x1),
            ("THREAD_SUSPEND_RESUME", 0x2),
            ("THREAD_GET_CONTEXT", 0x8),
            ("THREAD_SET_CONTEXT", 0x10),
            ("THREAD_SET_INFORMATION", 0x20),
            ("THREAD_QUERY_INFORMATION", 0x40),
            ("THREAD_SET_THREAD_TOKEN", 0x80),
            ("THREAD_IMPERSONATE", 0x100),
            ("THREAD_DIRECT_IMPERSONATION", 0x200),
            ("THREAD_SET_LIMITED_INFORMATION", 0x400),
            ("THREAD_QUERY_LIMITED_INFORMATION", 0x800),
        ],
    },
    TypeRights {
        ty: "Directory",
        all: ("DIRECTORY_ALL_ACCESS", 0xF_000F),
        specific: &[
            ("DIRECTORY_QUERY", 0x1),
            ("DIRECTORY_TRAVERSE", 0x2),
            ("DIRECTORY_CREATE_OBJECT", 0x4),
            ("DIRECTORY_CREATE_SUBDIRECTORY", 0x8),
        ],
    },
];

/// Names an access mask the way the object's type spells it:
/// `EVENT_MODIFY_STATE|SYNCHRONIZE`, `MUTEX_ALL_ACCESS`, `0` for none. Bits no name
/// covers are shown in hex at the end; a type the table does not know (an embedder's)
/// gets standard names and hex for its specific bits.
#[must_use]
pub fn access_names(type_name: &str, access: Access) -> String {
    let bits = access.bits();
    if bits == 0 {
        return "0".to_owned();
    }
    let rights = TYPES.iter().find(|t| t.ty == type_name);
    let mut parts = Vec::new();
    let mut left = bits;
    if let Some(r) = rights {
        if bits & r.all.1 == r.all.1 {
            parts.push(r.all.0.to_owned());
            left &= !r.all.1;
        }
        for &(name, bit) in r.specific {
            if left & bit != 0 {
                parts.push(name.to_owned());
                left &= !bit;
            }
        }
    }
    for &(name, bit) in STANDARD {
        if left & bit != 0 {
            parts.push(name.to_owned());
            left &= !bit;
        }
    }
    if left != 0 {
        parts.push(format!("{left:#x}"));
    }
    parts.join("|")
}

/// The value of one access-right name, whatever type it belongs to (the names are
/// unique; several share a value, like MUTEX_MODIFY_STATE and EVENT_QUERY_STATE).
#[must_use]
pub fn access_bit(name: &str) -> Option<u32> {
    STANDARD
        .iter()
        .chain(TYPES.iter().flat_map(|t| std::iter::once(&t.all).chain(t.specific.iter())))
        .find(|(n, _)| *n == name)
        .map(|&(_, v)| v)
        .or(match name {
            "MUTEX_QUERY_STATE" => Some(0x1),
            _ => None,
        })
}

/// Parses `EVENT_MODIFY_STATE|SYNCHRONIZE`, `0x100002`, `1048578` or a mix
/// (`SYNCHRONIZE|0x1`).
pub fn parse_access(text: &str) -> Result<Access, String> {
    let mut bits = 0u32;
    for part in text.split('|') {
        bits |= match parse_u64(part) {
            Some(v) => u32::try_from(v).map_err(|_| format!("access value {part} does not fit 32 bits"))?,
            None => access_bit(part).ok_or_else(|| format!("unknown access right `{part}`"))?,
        };
    }
    Ok(Access::from_bits_retain(bits))
}

/// Handle attributes as `INHERIT|PROTECT_FROM_CLOSE`, or `-` for none.
#[must_use]
pub fn flag_names(flags: HandleFlags) -> String {
    let names: Vec<&str> = flags.iter_names().map(|(name, _)| name).collect();
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join("|")
    }
}

/// Parses `INHERIT|PROTECT_FROM_CLOSE`, `none` or `-`.
pub fn parse_flags(text: &str) -> Result<HandleFlags, String> {
    if text == "none" || text == "-" || text == "0" {
        return Ok(HandleFlags::empty());
    }
    let mut flags = HandleFlags::empty();
    for part in text.split('|') {
        flags |= HandleFlags::from_name(part)
            .ok_or_else(|| format!("unknown handle flag `{part}` (INHERIT, PROTECT_FROM_CLOSE or none)"))?;
    }
    Ok(flags)
}

/// Win32 error names and codes: those the engine returns, and the file-system ones it
/// maps host failures to.
const ERRORS: &[(&str, u32)] = &[
    ("ERROR_SUCCESS", 0),
    ("ERROR_FILE_NOT_FOUND", 2),
    ("ERROR_PATH_NOT_FOUND", 3),
    ("ERROR_ACCESS_DENIED", 5),
    ("ERROR_INVALID_HANDLE", 6),
    ("ERROR_NOT_ENOUGH_MEMORY", 8),
    ("ERROR_WRITE_PROTECT", 19),
    ("ERROR_GEN_FAILURE", 31),
    ("ERROR_FILE_EXISTS", 80),
    ("ERROR_INVALID_PARAMETER", 87),
    ("ERROR_DISK_FULL", 112),
    ("ERROR_INVALID_NAME", 123),
    ("ERROR_NEGATIVE_SEEK", 131),
    ("ERROR_ALREADY_EXISTS", 183),
    ("ERROR_FILENAME_EXCED_RANGE", 206),
    ("ERROR_NOT_OWNER", 288),
    ("ERROR_TOO_MANY_POSTS", 298),
    ("ERROR_MUTANT_LIMIT_EXCEEDED", 587),
    ("ERROR_OPERATION_ABORTED", 995),
    ("ERROR_FILE_INVALID", 1006),
    ("ERROR_PRIVILEGE_NOT_HELD", 1314),
    ("ERROR_NO_SYSTEM_RESOURCES", 1450),
];

/// `ERROR_ACCESS_DENIED` for 5; `ERROR_<code>` for a code without a name here.
#[must_use]
pub fn error_name(code: u32) -> String {
    ERRORS
        .iter()
        .find(|&&(_, c)| c == code)
        .map_or_else(|| format!("ERROR_{code}"), |&(name, _)| name.to_owned())
}

/// The code of `ERROR_ACCESS_DENIED`, or of `ERROR_5`.
#[must_use]
pub fn error_code(name: &str) -> Option<u32> {
    ERRORS
        .iter()
        .find(|&&(n, _)| n == name)
        .map(|&(_, c)| c)
        .or_else(|| name.strip_prefix("ERROR_").and_then(|n| n.parse().ok()))
}

/// A wait's return value by its Win32 name: `WAIT_OBJECT_0`, `WAIT_OBJECT_0+1`,
/// `WAIT_ABANDONED`, `WAIT_ABANDONED_0+2`, `WAIT_TIMEOUT`, `WAIT_IO_COMPLETION`.
#[must_use]
pub fn wait_name(status: WaitStatus) -> String {
    match status {
        WaitStatus::Object(0) => "WAIT_OBJECT_0".to_owned(),
        WaitStatus::Object(i) => format!("WAIT_OBJECT_0+{i}"),
        WaitStatus::Abandoned(0) => "WAIT_ABANDONED".to_owned(),
        WaitStatus::Abandoned(i) => format!("WAIT_ABANDONED_0+{i}"),
        WaitStatus::Timeout => "WAIT_TIMEOUT".to_owned(),
        WaitStatus::IoCompletion => "WAIT_IO_COMPLETION".to_owned(),
    }
}

/// Parses a wait status name (see [`wait_name`]; `WAIT_ABANDONED_0` is `WAIT_ABANDONED`).
#[must_use]
pub fn parse_wait(text: &str) -> Option<WaitStatus> {
    let index = |rest: &str| -> Option<usize> {
        if rest.is_empty() {
            Some(0)
        } else {
            rest.strip_prefix('+')?.parse().ok()
        }
    };
    match text {
        "WAIT_TIMEOUT" => Some(WaitStatus::Timeout),
        "WAIT_IO_COMPLETION" => Some(WaitStatus::IoCompletion),
        "WAIT_ABANDONED" => Some(WaitStatus::Abandoned(0)),
        _ => {
            if let Some(rest) = text.strip_prefix("WAIT_OBJECT_0") {
                index(rest).map(WaitStatus::Object)
            } else if let Some(rest) = text.strip_prefix("WAIT_ABANDONED_0") {
                index(rest).map(WaitStatus::Abandoned)
            } else {
                None
            }
        }
    }
}

/// A number in decimal or `0x` hex.
#[must_use]
pub fn parse_u64(text: &str) -> Option<u64> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_by_type() {
        assert_eq!(
            access_names("Event", Access::from_bits_retain(0x10_0002)),
            "EVENT_MODIFY_STATE|SYNCHRONIZE"
        );
        assert_eq!(access_names("Mutant", Access::MUTEX_ALL_ACCESS), "MUTEX_ALL_ACCESS");
        assert_eq!(access_names("Process", Access::from_bits_retain(0x40)), "PROCESS_DUP_HANDLE");
        assert_eq!(access_names("Socket", Access::from_bits_retain(0x10_0004)), "SYNCHRONIZE|0x4");
        assert_eq!(access_names("Event", Access::empty()), "0");
    }

    #[test]
    fn access_parses_back() {
        assert_eq!(parse_access("EVENT_MODIFY_STATE|SYNCHRONIZE"), Ok(Access::from_bits_retain(0x10_0002)));
        assert_eq!(parse_access("0x1F0001"), Ok(Access::MUTEX_ALL_ACCESS));
        assert_eq!(parse_access("SYNCHRONIZE|1"), Ok(Access::from_bits_retain(0x10_0001)));
        assert!(parse_access("EVENT_MODIFY").is_err());
    }

    #[test]
    fn errors_and_waits_round_trip() {
        assert_eq!(error_code(&error_name(183)), Some(183));
        assert_eq!(error_name(4242), "ERROR_4242");
        assert_eq!(error_code("ERROR_4242"), Some(4242));
        for s in
            [WaitStatus::Object(0), WaitStatus::Object(3), WaitStatus::Abandoned(0), WaitStatus::Abandoned(2)]
        {
            assert_eq!(parse_wait(&wait_name(s)), Some(s));
        }
        assert_eq!(parse_wait("WAIT_TIMEOUT"), Some(WaitStatus::Timeout));
        assert_eq!(parse_wait("WAIT_OBJECT_0+x"), None);
    }
}
