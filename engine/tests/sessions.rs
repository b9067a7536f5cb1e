//! Sessions come and go with their processes (issue 7.3). SPEC §3 "Named objects":
//! `Session\<n>` leads to session n's directory, "one that exists: a process has run in
//! session n"; a session that no process runs in and nothing is named in any more is
//! removed, and comes back empty when a process is created in it again. (On Windows,
//! `\Sessions\<n>` is made when session n is created and deleted when it is torn down;
//! Microsoft docs, "Kernel object namespaces".)

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::*;
use kobj::{Access, EntryKind, Kernel, Process, ProcessOptions};

const PATH_NOT_FOUND: u32 = 3;

/// A root process in `session` (the embedder's unchecked call: any session).
fn process_in(k: &Kernel, session: u32) -> Process {
    k.create_process(ProcessOptions { session_id: Some(session), ..Default::default() })
        .expect("create a process")
}

/// The names in `\Sessions\BNOLINKS`: one per existing session.
fn sessions(k: &Kernel) -> Vec<String> {
    k.list_directory("\\Sessions\\BNOLINKS").unwrap().into_iter().map(|(name, _)| name).collect()
}

// 100 000 processes, each in a session of its own, each naming an object in its session and
// then terminated: the namespace and object_count return to their size (before the fix,
// each session left six entries behind). SPEC §3 "Objects and lifetime": object_count falls
// back once every process that created objects is gone.
#[test]
fn one_hundred_thousand_sessions_leave_nothing_behind() {
    let k = Kernel::new();
    let base_objects = k.object_count();
    let base_entries = k.namespace_entry_count();
    for n in 1..=100_000u32 {
        let p = process_in(&k, n);
        // A name in every tenth session (more would only slow a debug build down).
        if n % 10 == 0 {
            let made = p.create_mutex(None, false, Some("x")).unwrap();
            assert!(!made.already_existed, "a new session is empty");
            if n % 10_000 == 0 {
                assert_eq!(k.namespace_entry_count(), base_entries + 7, "six session entries and x");
            }
        }
        p.terminate(0).unwrap();
    }
    assert_eq!(k.namespace_entry_count(), base_entries);
    assert_eq!(sessions(&k), ["0"]);
    assert_eq!(k.list_directory("\\Sessions").unwrap().len(), 1, "only BNOLINKS");
    assert_eq!(k.object_count(), base_objects);
}

// A process that is never terminated explicitly leaves its session when its last reference
// goes (SPEC §3 "Objects and lifetime": an unterminated process whose last handle and
// Process value are gone is terminated).
#[test]
fn a_dropped_process_leaves_its_session() {
    let k = Kernel::new();
    let base_entries = k.namespace_entry_count();
    let base = k.object_count();
    let parent = process_in(&k, 1);
    let child = parent.create_process(false, ProcessOptions::default()).unwrap();
    assert_eq!(child.process.session_id(), 1, "a child runs in its parent's session");
    assert!(!child.process.create_event(None, true, false, Some("e")).unwrap().already_existed);
    drop(child.process);
    assert_eq!(sessions(&k), ["0", "1"]);
    drop(parent);
    assert_eq!(sessions(&k), ["0"]);
    assert_eq!(k.namespace_entry_count(), base_entries);
    assert_eq!(k.object_count(), base);
}

// A removed session comes back empty and usable when a process is created in it again
// (SPEC §3 "Objects and lifetime": a name disappears with its object's last handle).
#[test]
fn a_session_comes_back_empty_and_usable() {
    let k = Kernel::new();
    let base = k.object_count();
    let first = process_in(&k, 3);
    assert!(!first.create_mutex(None, false, Some("old")).unwrap().already_existed);
    first.terminate(0).unwrap();
    assert_eq!(code(k.list_directory("\\Sessions\\3\\BaseNamedObjects")), PATH_NOT_FOUND);

    let again = process_in(&k, 3);
    let listing = k.list_directory("\\Sessions\\3\\BaseNamedObjects").unwrap();
    let names: Vec<&str> = listing.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["Global", "Local", "Session"], "the links and nothing else");
    assert_eq!(code(again.open_mutex(Access::SYNCHRONIZE, false, "old")), FILE_NOT_FOUND);
    let made = again.create_mutex(None, false, Some("old")).unwrap();
    assert!(!made.already_existed, "a new object under the old name");
    let other = process_in(&k, 0);
    let seen = other.open_mutex(Access::SYNCHRONIZE, false, "Session\\3\\old").unwrap();
    assert!(other.compare_object_handles(seen, dup_into(&again, made.handle, &other)).unwrap());
    assert_eq!(
        k.list_directory("\\Sessions\\BNOLINKS").unwrap()[1],
        ("3".to_owned(), EntryKind::Link("\\Sessions\\3\\BaseNamedObjects".to_owned()))
    );
    finish(&k, base, vec![first, again, other]);
    assert_eq!(sessions(&k), ["0"]);
}

// SPEC §3 "Named objects": "Session\<n> leads to session n's directory (one that exists: a
// process has run in session n)"; "a component that names no directory or link is
// PATH_NOT_FOUND". Once session 2's last process is gone, Session\2\x is PATH_NOT_FOUND
// from every other session, for create and open alike.
#[test]
fn a_gone_session_is_path_not_found_from_another_session() {
    let k = Kernel::new();
    let base = k.object_count();
    let p0 = process_in(&k, 0);
    let p1 = process_in(&k, 1);
    let p2 = process_in(&k, 2);
    let h = p0.create_mutex(None, false, Some("Session\\2\\x")).unwrap().handle;
    p0.close_handle(h).unwrap();
    p2.terminate(0).unwrap();
    for p in [&p0, &p1] {
        assert_eq!(code(p.create_mutex(None, false, Some("Session\\2\\x"))), PATH_NOT_FOUND);
        assert_eq!(code(p.open_mutex(Access::SYNCHRONIZE, false, "Session\\2\\x")), PATH_NOT_FOUND);
    }
    assert_eq!(code(k.list_directory("\\Sessions\\2")), PATH_NOT_FOUND);
    // Session 1 still has its process: reachable.
    assert!(!p0.create_mutex(None, false, Some("Session\\1\\y")).unwrap().already_existed);
    assert_eq!(sessions(&k), ["0", "1"]);
    finish(&k, base, vec![p0, p1, p2]);
}

// A name in session 2 held alive by a process of another session keeps session 2's
// directories after session 2's last process is gone, until that handle closes (SPEC §3
// "Objects and lifetime": "objects that other processes still hold survive untouched", and
// a named object keeps its name while it has a handle).
#[test]
fn a_name_held_from_another_session_keeps_the_session() {
    let k = Kernel::new();
    let base = k.object_count();
    let base_entries = k.namespace_entry_count();
    let p1 = process_in(&k, 1);
    let p2 = process_in(&k, 2);
    // One name made by session 2's own process and handed to p1, one made from session 1.
    let own = p2.create_event(None, true, false, Some("own")).unwrap().handle;
    let held = dup_into(&p2, own, &p1);
    let from_outside = p1.create_mutex(None, false, Some("Session\\2\\outside")).unwrap().handle;
    p2.terminate(0).unwrap();
    assert_eq!(sessions(&k), ["0", "1", "2"], "held names keep the session");
    let opened = p1.open_event(Access::SYNCHRONIZE, false, "Session\\2\\own").unwrap();
    assert!(p1.compare_object_handles(opened, held).unwrap());
    p1.close_handle(opened).unwrap();
    p1.close_handle(held).unwrap();
    assert_eq!(code(p1.open_event(Access::SYNCHRONIZE, false, "Session\\2\\own")), FILE_NOT_FOUND);
    assert_eq!(sessions(&k), ["0", "1", "2"], "one name is left");
    p1.close_handle(from_outside).unwrap();
    assert_eq!(sessions(&k), ["0", "1"]);
    assert_eq!(code(p1.create_mutex(None, false, Some("Session\\2\\outside"))), PATH_NOT_FOUND);
    finish(&k, base, vec![p1, p2]);
    assert_eq!(k.namespace_entry_count(), base_entries);
}

// Races (issue 7.3): processes created in and terminated from session 5 (so it is removed
// and rebuilt over and over) against creators reaching it from session 0 through
// Session\5\x. A process alive in the session never fails to create there; a create from
// outside either succeeds (and the session then exists while the name lives) or is
// PATH_NOT_FOUND; at the end nothing is left, and object_count is back at its base.
#[test]
fn session_removal_races_with_creators() {
    let k = Kernel::new();
    let base = k.object_count();
    let base_entries = k.namespace_entry_count();
    let outsider = process_in(&k, 0);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for t in 0..2 {
            let (k, stop) = (&k, &stop);
            s.spawn(move || {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let p = process_in(k, 5);
                    let name = format!("own{t}_{}", i % 3);
                    let made = p.create_mutex(None, false, Some(&name));
                    assert!(made.is_ok(), "a live process creates in its own session: {made:?}");
                    p.terminate(0).unwrap();
                    i += 1;
                }
            });
        }
        // Stops the loops above even if an assertion below panics (else the scope hangs).
        let _stop = StopOnDrop(&stop);
        let mut made = 0;
        for i in 0..5_000 {
            let name = format!("Session\\5\\outside{}", i % 3);
            match outsider.create_mutex(None, false, Some(&name)) {
                Ok(c) => {
                    made += 1;
                    let listing = k.list_directory("\\Sessions\\5\\BaseNamedObjects");
                    assert!(listing.is_ok(), "a name lives in a removed session");
                    outsider.close_handle(c.handle).unwrap();
                }
                Err(e) => assert_eq!(e.code(), PATH_NOT_FOUND),
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert!(made > 0, "no create met the session");
    });
    finish(&k, base, vec![outsider]);
    assert_eq!(sessions(&k), ["0"]);
    assert_eq!(k.namespace_entry_count(), base_entries);
}

/// Sets its flag when dropped, so threads looping on it end even when the test panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
