//! Sessions come and go: a session's directories exist while a process is in it or a name
//! lives in its object directory (SPEC §3 "Named objects": `Session\<n>` leads to "one
//! that exists: a process has run in session n"; issue 7.3: they must go when the last
//! process and the last name have).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{close, create, open, Ns};
use kobj_namespace::{DirId, EntryKind, NameError};

/// Per session n ≥ 1: `\Sessions\n`, its BaseNamedObjects, three links, `BNOLINKS\n`.
const ENTRIES_PER_SESSION: usize = 6;

// 100 000 sessions, each entered, given a name, and left: the table returns to its size.
// Half leave before their name closes (the name's close removes the session), half after
// (the leave does).
#[test]
fn one_hundred_thousand_sessions_leave_nothing_behind() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    for n in 1..=100_000u32 {
        assert_eq!(ns.enter_session(n), DirId::session(n));
        if n % 1000 == 0 {
            assert_eq!(ns.entry_count(), baseline + ENTRIES_PER_SESSION);
        }
        let made = create(&ns, n, "x").unwrap();
        let at = ns.resolve(n, "x", |_| None).unwrap();
        if n % 2 == 0 {
            ns.leave_session(n);
            assert!(ns.session_exists(n), "a name keeps its session");
            assert!(close(&ns, at, &made.value));
        } else {
            assert!(close(&ns, at, &made.value));
            assert!(ns.session_exists(n), "a process keeps its session");
            ns.leave_session(n);
        }
        assert!(!ns.session_exists(n));
    }
    assert_eq!(ns.entry_count(), baseline);
    assert_eq!(ns.session_count(), 1);
}

// Session 0 is the global namespace: leaving it never removes anything.
#[test]
fn session_zero_is_never_removed() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    ns.enter_session(0);
    ns.leave_session(0);
    ns.leave_session(0);
    assert_eq!(ns.entry_count(), baseline);
    assert!(ns.session_exists(0));
    assert_eq!(ns.lookup_dir("\\Sessions\\BNOLINKS\\0"), Ok(DirId::GLOBAL));
    assert!(create(&ns, 0, "x").is_ok());
}

// A removed session comes back empty and usable when a process enters it again.
#[test]
fn a_session_comes_back_empty() {
    let ns = Ns::new();
    ns.enter_session(3);
    let made = create(&ns, 3, "kept").unwrap();
    let at = ns.resolve(3, "kept", |_| None).unwrap();
    assert!(close(&ns, at, &made.value));
    ns.leave_session(3);
    assert_eq!(ns.lookup_dir("\\Sessions\\3"), Err(NameError::PathNotFound));

    ns.enter_session(3);
    let names: Vec<String> = ns.list(DirId::session(3), |_| String::new()).into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["Global", "Local", "Session"]);
    assert_eq!(open(&ns, 3, "kept").unwrap_err(), NameError::NotFound);
    assert!(!create(&ns, 3, "Local\\new").unwrap().already_existed);
    assert!(create(&ns, 0, "Session\\3\\new").unwrap().already_existed);
    assert_eq!(ns.lookup_dir("\\Sessions\\3\\BaseNamedObjects"), Ok(DirId::session(3)));
}

// `Session\n\x` from another session is PATH_NOT_FOUND once session n is gone (SPEC §3:
// a component that names no directory or link is PATH_NOT_FOUND).
#[test]
fn a_removed_session_is_path_not_found_from_elsewhere() {
    let ns = Ns::new();
    ns.enter_session(1);
    ns.enter_session(2);
    let made = create(&ns, 1, "Session\\2\\x").unwrap();
    assert!(common::same(&open(&ns, 2, "x").unwrap(), &made.value));
    let at = ns.resolve(1, "Session\\2\\x", |_| None).unwrap();
    assert!(!close(&ns, at, &made.value));
    assert!(close(&ns, at, &made.value));
    ns.leave_session(2);
    assert_eq!(create(&ns, 1, "Session\\2\\x").unwrap_err(), NameError::PathNotFound);
    assert_eq!(open(&ns, 1, "Session\\2\\x").unwrap_err(), NameError::PathNotFound);
    assert_eq!(open(&ns, 0, "Session\\2\\x").unwrap_err(), NameError::PathNotFound);
    assert_eq!(ns.lookup_dir("\\Sessions\\BNOLINKS\\2"), Err(NameError::PathNotFound));
    // A walk that reached the directory before the removal cannot create there after it.
    ns.enter_session(4);
    let stale = ns.resolve(1, "Session\\4\\late", |_| None).unwrap();
    ns.leave_session(4);
    let made = ns.create_or_open(stale, common::acquire, common::make("mutex", stale));
    assert_eq!(made.unwrap_err(), NameError::PathNotFound);
    assert!(!ns.session_exists(4));
    // Session 1 is untouched.
    let links = ns.list(DirId::BNOLINKS, |_| String::new());
    assert_eq!(
        links,
        [
            ("0".to_owned(), EntryKind::Link("\\BaseNamedObjects".into())),
            ("1".to_owned(), EntryKind::Link("\\Sessions\\1\\BaseNamedObjects".into())),
        ]
    );
}

// A name in session n's directory, created and held from another session, keeps session n
// after its last process left; the name's last close removes the session.
#[test]
fn a_name_held_from_another_session_keeps_the_session() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    ns.enter_session(5);
    let made = create(&ns, 0, "Session\\5\\held").unwrap();
    ns.leave_session(5);
    assert!(ns.session_exists(5));
    assert!(common::same(&open(&ns, 0, "Session\\5\\held").unwrap(), &made.value));
    // The opened handle and the creator's: two closes.
    let at = ns.resolve(0, "Session\\5\\held", |_| None).unwrap();
    assert!(!close(&ns, at, &made.value));
    assert!(ns.session_exists(5));
    assert!(close(&ns, at, &made.value));
    assert!(!ns.session_exists(5));
    assert_eq!(ns.entry_count(), baseline);
}

// A create of a dying name whose `make` fails removes the name: that, too, uncounts it.
#[test]
fn a_failed_replacement_uncounts_the_name() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    ns.enter_session(6);
    let made = create(&ns, 6, "x").unwrap();
    let at = ns.resolve(6, "x", |_| None).unwrap();
    // The handle count reaches zero; the closer has not removed the name yet.
    made.value.handles.store(0, Ordering::SeqCst);
    let failed =
        ns.create_or_open(at, common::acquire, || Err::<(common::Obj, common::Obj), _>(NameError::NotFound));
    assert_eq!(failed.unwrap_err(), NameError::NotFound);
    // The late closer finds nothing to remove.
    assert!(!ns.remove_if(at, |_| true));
    ns.leave_session(6);
    assert!(!ns.session_exists(6));
    assert_eq!(ns.entry_count(), baseline);
}

// Races: processes entering and leaving session 7 (so it is removed and recreated over and
// over) against creators reaching it from session 0 through `Session\7\x`, and against a
// process that stays in the session and creates there. A create either fails with
// PATH_NOT_FOUND (the session was gone) or leaves a name in a session that exists while the
// name lives; the staying process's creates never fail; at the end nothing is left.
#[test]
fn removal_races_with_creators_and_entering_processes() {
    const ROUNDS: usize = 20_000;
    let ns = Ns::new();
    let baseline = ns.entry_count();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // Processes coming and going in sessions 7 and 8.
        for n in [7, 7, 8] {
            let (ns, stop) = (&ns, &stop);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    ns.enter_session(n);
                    // A process in the session always finds it complete.
                    assert_eq!(ns.lookup_dir(&format!("\\Sessions\\BNOLINKS\\{n}")), Ok(DirId::session(n)));
                    assert_eq!(
                        ns.lookup_dir(&format!("\\Sessions\\{n}\\BaseNamedObjects")),
                        Ok(DirId::session(n))
                    );
                    ns.leave_session(n);
                }
            });
        }
        // A process living in session 8 the whole time: its creates never fail.
        let stays = {
            let (ns, stop) = (&ns, &stop);
            s.spawn(move || {
                ns.enter_session(8);
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("mine{}", i % 4);
                    let made = create(ns, 8, &name).expect("a process in its session can always create");
                    let at = ns.resolve(8, &name, |_| None).unwrap();
                    close(ns, at, &made.value);
                    i += 1;
                }
                ns.leave_session(8);
            })
        };
        // Stops the loops above even if an assertion below panics (else the scope hangs).
        let _stop = StopOnDrop(&stop);
        // Creators from session 0.
        let creators: Vec<_> = (0..2)
            .map(|t| {
                let ns = &ns;
                s.spawn(move || {
                    let mut made_some = 0;
                    for i in 0..ROUNDS {
                        let n = 7 + (i % 2) as u32;
                        let name = format!("Session\\{n}\\c{t}_{}", i % 3);
                        match create(ns, 0, &name) {
                            Ok(made) => {
                                made_some += 1;
                                assert!(ns.session_exists(n), "a name lives in a removed session");
                                let at = ns.resolve(0, &name, |_| None);
                                // The name keeps the session, so the walk still succeeds.
                                let at = at.expect("a named session is reachable");
                                assert!(close(ns, at, &made.value));
                            }
                            Err(e) => assert_eq!(e, NameError::PathNotFound),
                        }
                    }
                    made_some
                })
            })
            .collect();
        let made: usize = creators.into_iter().map(|c| c.join().unwrap()).sum();
        stop.store(true, Ordering::Relaxed);
        stays.join().unwrap();
        assert!(made > 0, "no create ever met an existing session");
    });
    assert_eq!(ns.entry_count(), baseline, "a session or a name was left behind");
    assert_eq!(ns.session_count(), 1);
}

/// Sets its flag when dropped, so threads looping on it end even when the test panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
