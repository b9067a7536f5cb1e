//! Win32 name resolution: one test per rule of SPEC §3 "Named objects" and "Private
//! namespaces".

mod common;

use common::{create, open, Ns};
use kobj_namespace::{DirId, EntryKind, NameError, Resolved, MAX_NAME_UNITS};

fn ns_with_sessions(sessions: &[u32]) -> Ns {
    let ns = Ns::new();
    for &n in sessions {
        ns.enter_session(n);
    }
    ns
}

fn resolve<'n>(ns: &Ns, session: u32, name: &'n str) -> Result<Resolved<'n>, NameError> {
    ns.resolve(session, name, |_| None)
}

// SPEC: "a name is a path relative to the caller's session directory ... So a plain name
// and `Local\name` live in the caller's session namespace".
#[test]
fn plain_and_local_names_live_in_the_callers_session() {
    let ns = ns_with_sessions(&[1, 2]);
    for (session, dir) in [(0, DirId::GLOBAL), (1, DirId::session(1)), (2, DirId::session(2))] {
        assert_eq!(resolve(&ns, session, "x"), Ok(Resolved { dir, name: "x" }));
        assert_eq!(resolve(&ns, session, "Local\\x"), Ok(Resolved { dir, name: "x" }));
    }
    let made = create(&ns, 1, "x").unwrap();
    assert!(!made.already_existed);
    assert!(common::same(&open(&ns, 1, "Local\\x").unwrap(), &made.value));
    // Another session's plain name is another name.
    assert_eq!(open(&ns, 2, "x").unwrap_err(), NameError::NotFound);
    assert!(!create(&ns, 2, "x").unwrap().already_existed);
}

// SPEC: "`Global\name` in the global namespace (session 0's)".
#[test]
fn global_goes_to_the_global_directory_from_every_session() {
    let ns = ns_with_sessions(&[1, 7]);
    for session in [0, 1, 7] {
        assert_eq!(resolve(&ns, session, "Global\\x"), Ok(Resolved { dir: DirId::GLOBAL, name: "x" }));
    }
    let made = create(&ns, 1, "Global\\shared").unwrap();
    assert!(!made.already_existed);
    let again = create(&ns, 7, "Global\\shared").unwrap();
    assert!(again.already_existed);
    assert!(common::same(&made.value, &again.value));
}

// SPEC: "session 0's local and global namespaces are the same".
#[test]
fn session_zero_local_is_global() {
    let ns = ns_with_sessions(&[3]);
    let made = create(&ns, 0, "zero").unwrap();
    assert!(common::same(&open(&ns, 0, "Global\\zero").unwrap(), &made.value));
    assert!(common::same(&open(&ns, 0, "Local\\zero").unwrap(), &made.value));
    assert!(common::same(&open(&ns, 3, "Global\\zero").unwrap(), &made.value));
    assert!(common::same(&open(&ns, 3, "Session\\0\\zero").unwrap(), &made.value));
    assert_eq!(open(&ns, 3, "zero").unwrap_err(), NameError::NotFound);
}

// SPEC: "`Session\<n>` leads to session n's directory (one that exists: a process has run
// in session n) ... `Session\<n>\name` in session n's".
#[test]
fn session_n_goes_to_that_sessions_directory() {
    let ns = ns_with_sessions(&[1, 2]);
    assert_eq!(resolve(&ns, 1, "Session\\2\\x"), Ok(Resolved { dir: DirId::session(2), name: "x" }));
    assert_eq!(resolve(&ns, 2, "Session\\2\\x"), Ok(Resolved { dir: DirId::session(2), name: "x" }));
    let made = create(&ns, 2, "mine").unwrap();
    assert!(common::same(&open(&ns, 1, "Session\\2\\mine").unwrap(), &made.value));
    assert!(common::same(&open(&ns, 0, "Session\\2\\mine").unwrap(), &made.value));
    // The session number is a name, matched exactly.
    assert_eq!(resolve(&ns, 1, "Session\\02\\x"), Err(NameError::PathNotFound));
}

// SPEC: "`Session\<n>` leads to session n's directory (one that exists ...)" and "A
// component that names no directory or link is `PATH_NOT_FOUND`".
#[test]
fn a_missing_session_is_path_not_found() {
    let ns = ns_with_sessions(&[1]);
    assert_eq!(resolve(&ns, 1, "Session\\9\\x"), Err(NameError::PathNotFound));
    assert_eq!(create(&ns, 0, "Session\\9\\x").unwrap_err().win32_code(), 3);
    ns.enter_session(9);
    assert_eq!(resolve(&ns, 1, "Session\\9\\x"), Ok(Resolved { dir: DirId::session(9), name: "x" }));
    // `Session\8` itself, while session 8 does not exist, names nothing in
    // \Sessions\BNOLINKS: nothing to open, and no object may be created there.
    assert_eq!(open(&ns, 1, "Session\\8").unwrap_err(), NameError::NotFound);
    assert_eq!(create(&ns, 1, "Session\\8").unwrap_err(), NameError::AccessDenied);
}

// SPEC: "A component that names no directory or link is `PATH_NOT_FOUND`".
#[test]
fn a_component_naming_nothing_or_an_object_is_path_not_found() {
    let ns = ns_with_sessions(&[1]);
    assert_eq!(resolve(&ns, 1, "nosuch\\x"), Err(NameError::PathNotFound));
    assert_eq!(resolve(&ns, 1, "Global\\nosuch\\x"), Err(NameError::PathNotFound));
    assert_eq!(create(&ns, 1, "nosuch\\x").unwrap_err().win32_code(), 3);
    assert_eq!(open(&ns, 1, "nosuch\\x").unwrap_err().win32_code(), 3);
    // An object is not a directory.
    let _object = create(&ns, 1, "obj").unwrap();
    assert_eq!(resolve(&ns, 1, "obj\\x"), Err(NameError::PathNotFound));
    assert_eq!(create(&ns, 1, "obj\\x").unwrap_err(), NameError::PathNotFound);
}

// SPEC: "an empty component (`Global\`, `a\\b`, a leading `\`) is `INVALID_NAME`".
#[test]
fn an_empty_component_is_invalid_name() {
    let ns = ns_with_sessions(&[1]);
    for name in [
        "Global\\",
        "a\\\\b",
        "\\x",
        "\\",
        "\\\\",
        "x\\",
        "Local\\\\x",
        "Session\\1\\",
        "Session\\\\1\\x",
        // Checked before the path is walked: `nosuch` does not matter.
        "nosuch\\\\x",
    ] {
        assert_eq!(resolve(&ns, 1, name), Err(NameError::InvalidName), "{name:?}");
        assert_eq!(create(&ns, 1, name).unwrap_err().win32_code(), 123, "{name:?}");
    }
}

// SPEC: "up to 32,767 UTF-16 code units as passed, prefix included; a longer name fails
// with `INVALID_NAME`".
#[test]
fn names_are_limited_to_32767_utf16_units_prefix_included() {
    let ns = ns_with_sessions(&[]);
    let longest = "a".repeat(MAX_NAME_UNITS);
    assert!(!create(&ns, 0, &longest).unwrap().already_existed);
    let too_long = "a".repeat(MAX_NAME_UNITS + 1);
    assert_eq!(resolve(&ns, 0, &too_long), Err(NameError::InvalidName));
    assert_eq!(create(&ns, 0, &too_long).unwrap_err().win32_code(), 123);
    assert_eq!(open(&ns, 0, &too_long).unwrap_err().win32_code(), 123);

    // The prefix counts.
    let prefixed = format!("Global\\{}", "b".repeat(MAX_NAME_UNITS - 7));
    assert_eq!(prefixed.encode_utf16().count(), MAX_NAME_UNITS);
    assert!(resolve(&ns, 0, &prefixed).is_ok());
    let prefixed = format!("Global\\{}", "b".repeat(MAX_NAME_UNITS - 6));
    assert_eq!(resolve(&ns, 0, &prefixed), Err(NameError::InvalidName));

    // Units, not bytes or chars: `é` is 2 bytes and 1 unit, `😀` 4 bytes and 2 units.
    let accented = "é".repeat(MAX_NAME_UNITS);
    assert!(resolve(&ns, 0, &accented).is_ok());
    let astral = format!("{}a", "😀".repeat(MAX_NAME_UNITS / 2));
    assert_eq!(astral.encode_utf16().count(), MAX_NAME_UNITS);
    assert!(resolve(&ns, 0, &astral).is_ok());
    let astral = "😀".repeat(MAX_NAME_UNITS / 2 + 1);
    assert_eq!(resolve(&ns, 0, &astral), Err(NameError::InvalidName));
}

// SPEC: "a name that is itself `Global`, `Local` or `Session` names a link, not an object
// of the type asked for: `INVALID_HANDLE`".
#[test]
fn the_link_names_themselves_are_not_objects() {
    let ns = ns_with_sessions(&[1]);
    for session in [0, 1, 5 /* never ensured: the names are reserved all the same */] {
        for name in [
            "Global",
            "Local",
            "Session",
            "Local\\Global",
            "Global\\Session",
            "Session\\1",
            "Session\\0",
            "Session\\1\\Local",
        ] {
            assert_eq!(
                create(&ns, session, name).unwrap_err().win32_code(),
                6,
                "create {name:?} in session {session}"
            );
            assert_eq!(
                open(&ns, session, name).unwrap_err().win32_code(),
                6,
                "open {name:?} in session {session}"
            );
        }
    }
}

// SPEC: "An empty name (`Some("")`) makes an unnamed object ...; `open_*` with an empty
// name names the namespace directory itself, which is not of the type asked for:
// `INVALID_HANDLE`." (The engine handles unnamed creation; the namespace answers with the
// directory itself.)
#[test]
fn the_empty_name_is_the_directory_itself() {
    let ns = ns_with_sessions(&[1]);
    assert_eq!(resolve(&ns, 1, ""), Ok(Resolved { dir: DirId::session(1), name: "" }));
    assert_eq!(open(&ns, 1, "").unwrap_err().win32_code(), 6);
    assert_eq!(create(&ns, 1, "").unwrap_err().win32_code(), 6);
}

// SPEC: "Names are case-sensitive, counted strings: "Test", "TEST" and "Test\0x" are three
// names" and "Components match exactly (case-sensitive)".
#[test]
fn names_are_case_sensitive_counted_strings() {
    let ns = ns_with_sessions(&[]);
    let a = create(&ns, 0, "Test").unwrap();
    let b = create(&ns, 0, "TEST").unwrap();
    let c = create(&ns, 0, "Test\0x").unwrap();
    assert!(!a.already_existed && !b.already_existed && !c.already_existed);
    assert!(!common::same(&a.value, &b.value));
    assert!(!common::same(&a.value, &c.value));
    assert!(common::same(&open(&ns, 0, "Test").unwrap(), &a.value));
    assert!(common::same(&open(&ns, 0, "Test\0x").unwrap(), &c.value));
    assert_eq!(open(&ns, 0, "test").unwrap_err(), NameError::NotFound);
    assert_eq!(open(&ns, 0, "Test\0").unwrap_err(), NameError::NotFound);
    // Path components too: the links are `Global`, `Local`, `Session` exactly.
    assert_eq!(resolve(&ns, 0, "global\\x"), Err(NameError::PathNotFound));
    assert_eq!(resolve(&ns, 0, "LOCAL\\x"), Err(NameError::PathNotFound));
    assert_eq!(resolve(&ns, 0, "session\\0\\x"), Err(NameError::PathNotFound));
}

// SPEC: "All object types share one namespace: a name used by a mutex cannot name a
// semaphore" and "`create_*` with the name of an object of another type fails with
// `INVALID_HANDLE`" (the type check is the engine's `acquire`).
#[test]
fn all_types_share_one_namespace() {
    let ns = ns_with_sessions(&[]);
    let mutex = create(&ns, 0, "JeffObj").unwrap();
    let at = ns.resolve(0, "JeffObj", |_| None).unwrap();
    let err =
        ns.create_or_open(at, common::acquire_kind("semaphore"), common::make("semaphore", at)).unwrap_err();
    assert_eq!(err.win32_code(), 6);
    assert!(common::same(&open(&ns, 0, "JeffObj").unwrap(), &mutex.value));
}

// SPEC "Private namespaces": "While a process holds it, names `alias\name` resolve inside
// that namespace".
#[test]
fn a_held_alias_resolves_inside_the_private_directory() {
    let ns = ns_with_sessions(&[1]);
    let (dir, _object) =
        ns.create_private("boundary".to_owned(), |_| true, |_| common::make_unnamed("namespace")()).unwrap();
    let holder = |alias: &str| (alias == "ns1").then_some(dir);
    assert_eq!(ns.resolve(1, "ns1\\obj", holder), Ok(Resolved { dir, name: "obj" }));
    // Only the first component is an alias, and only when more follow.
    assert_eq!(ns.resolve(1, "ns1", holder), Ok(Resolved { dir: DirId::session(1), name: "ns1" }));
    assert_eq!(ns.resolve(1, "Global\\ns1\\obj", holder), Err(NameError::PathNotFound));
    assert_eq!(ns.resolve(1, "ns1\\a\\b", holder), Err(NameError::PathNotFound));
    assert_eq!(ns.resolve(1, "ns1\\", holder), Err(NameError::InvalidName));
    // The alias is matched by the holder's callback, which sees exactly the component.
    let mut seen = Vec::new();
    let _ = ns.resolve(1, "NS1\\obj", |alias: &str| {
        seen.push(alias.to_owned());
        None
    });
    assert_eq!(seen, ["NS1"]);

    // An object in the private directory is not the same-named object of the session.
    let at = ns.resolve(1, "ns1\\obj", holder).unwrap();
    let private = ns.create_or_open(at, common::acquire_kind("mutex"), common::make("mutex", at)).unwrap();
    assert!(!private.already_existed);
    let public = create(&ns, 1, "obj").unwrap();
    assert!(!public.already_existed);
    assert!(!common::same(&private.value, &public.value));
}

// SPEC "Private namespaces": "in any other process `alias\name` is an ordinary path
// (`PATH_NOT_FOUND`)".
#[test]
fn an_alias_not_held_is_an_ordinary_path() {
    let ns = ns_with_sessions(&[1]);
    let (_dir, _object) =
        ns.create_private("boundary".to_owned(), |_| true, |_| common::make_unnamed("namespace")()).unwrap();
    assert_eq!(resolve(&ns, 1, "ns1\\obj"), Err(NameError::PathNotFound));
    assert_eq!(create(&ns, 1, "ns1\\obj").unwrap_err().win32_code(), 3);
    assert_eq!(open(&ns, 1, "ns1\\obj").unwrap_err().win32_code(), 3);
}

// The tree of SPEC §3 "Named objects" as tooling sees it: the links that resolution
// follows are real entries, with the targets resolution uses.
#[test]
fn the_layout_lists_as_the_tree() {
    let ns = ns_with_sessions(&[1]);
    let names = |dir| -> Vec<(String, EntryKind)> { ns.list(dir, |o| o.kind.to_owned()) };
    let link = |to: &str| EntryKind::Link(to.to_owned());
    assert_eq!(
        names(DirId::ROOT),
        [
            ("BaseNamedObjects".to_owned(), EntryKind::Directory),
            ("Sessions".to_owned(), EntryKind::Directory),
        ]
    );
    assert_eq!(
        names(DirId::SESSIONS),
        [("1".to_owned(), EntryKind::Directory), ("BNOLINKS".to_owned(), EntryKind::Directory),]
    );
    assert_eq!(
        names(DirId::BNOLINKS),
        [
            ("0".to_owned(), link("\\BaseNamedObjects")),
            ("1".to_owned(), link("\\Sessions\\1\\BaseNamedObjects")),
        ]
    );
    let _object = create(&ns, 1, "app").unwrap();
    assert_eq!(
        names(DirId::session(1)),
        [
            ("Global".to_owned(), link("\\BaseNamedObjects")),
            ("Local".to_owned(), link("\\Sessions\\1\\BaseNamedObjects")),
            ("Session".to_owned(), link("\\Sessions\\BNOLINKS")),
            ("app".to_owned(), EntryKind::Object("mutex".to_owned())),
        ]
    );
    assert_eq!(
        names(DirId::GLOBAL)[..3],
        [
            ("Global".to_owned(), link("\\BaseNamedObjects")),
            ("Local".to_owned(), link("\\BaseNamedObjects")),
            ("Session".to_owned(), link("\\Sessions\\BNOLINKS")),
        ]
    );

    assert_eq!(ns.lookup_dir("\\"), Ok(DirId::ROOT));
    assert_eq!(ns.lookup_dir("\\BaseNamedObjects"), Ok(DirId::GLOBAL));
    assert_eq!(ns.lookup_dir("\\Sessions\\1\\BaseNamedObjects"), Ok(DirId::session(1)));
    assert_eq!(ns.lookup_dir("\\Sessions\\BNOLINKS\\1"), Ok(DirId::session(1)));
    assert_eq!(ns.lookup_dir("\\Sessions\\BNOLINKS\\1\\Global"), Ok(DirId::GLOBAL));
    assert_eq!(ns.lookup_dir("\\Sessions\\2"), Err(NameError::PathNotFound));
    assert_eq!(ns.lookup_dir("\\Sessions\\1\\BaseNamedObjects\\app"), Err(NameError::PathNotFound));
    assert_eq!(ns.lookup_dir("Sessions"), Err(NameError::InvalidName));
    assert_eq!(ns.lookup_dir("\\Sessions\\"), Err(NameError::InvalidName));
}

// Many processes entering the same sessions at once build each session once: the tree
// ends up the same as from one thread, and leaving as often as entering removes it all.
#[test]
fn enter_session_is_idempotent_and_thread_safe() {
    let ns = ns_with_sessions(&[]);
    let before = ns.entry_count();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for n in 1..=20 {
                    assert_eq!(ns.enter_session(n), DirId::session(n));
                }
            });
        }
    });
    // Per session: \Sessions\n, its BaseNamedObjects, three links, BNOLINKS\n.
    assert_eq!(ns.entry_count(), before + 20 * 6);
    assert_eq!(ns.enter_session(0), DirId::GLOBAL);
    assert_eq!(ns.entry_count(), before + 20 * 6);
    assert_eq!(ns.session_count(), 21);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| (1..=20).for_each(|n| ns.leave_session(n)));
        }
    });
    ns.leave_session(0);
    assert_eq!(ns.entry_count(), before);
    assert_eq!(ns.session_count(), 1);
}
