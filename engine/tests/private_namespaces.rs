//! Private namespaces: SPEC §3 "Private namespaces" (CreatePrivateNamespace /
//! OpenPrivateNamespace with a boundary descriptor, `alias\name` resolution).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use common::*;
use kobj::{Access, BoundaryDescriptor, Kernel, Process, ProcessOptions, Sid, Token};

const PATH_NOT_FOUND: u32 = 3;
const ALREADY_EXISTS: u32 = 183;

fn boundary(name: &str, sids: &[Sid]) -> BoundaryDescriptor {
    BoundaryDescriptor { name: name.to_owned(), sids: sids.to_vec() }
}

fn process_as(k: &Kernel, token: Token) -> Process {
    k.create_process(ProcessOptions { token: Some(token), ..Default::default() }).expect("create a process")
}

// SPEC §3 "Private namespaces": "create_private_namespace(boundary, alias) makes a namespace
// identified by its boundary descriptor (a name and SIDs); creating one whose boundary
// already exists is ALREADY_EXISTS."
#[test]
fn creating_an_existing_boundary_is_already_exists() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let q = root(&k);
    let b = boundary("Boundary", &[Sid::EVERYONE, Sid::user(1000)]);
    let ns = p.create_private_namespace(&b, "ns").unwrap();
    let row = p.handles().into_iter().find(|r| r.handle == ns).unwrap();
    assert_eq!(row.type_name, "Directory", "a namespace handle");
    let objects = k.object_count();
    assert_eq!(code(p.create_private_namespace(&b, "ns")), ALREADY_EXISTS);
    assert_eq!(code(p.create_private_namespace(&b, "another-alias")), ALREADY_EXISTS);
    assert_eq!(code(q.create_private_namespace(&b, "ns")), ALREADY_EXISTS);
    // The SIDs are a set: order and repeats do not make another boundary.
    let reordered = boundary("Boundary", &[Sid::user(1000), Sid::EVERYONE, Sid::user(1000)]);
    assert_eq!(code(q.create_private_namespace(&reordered, "ns")), ALREADY_EXISTS);
    assert_eq!(k.object_count(), objects, "failed creates made no object");
    assert_eq!((p.handle_count(), q.handle_count()), (1, 0), "and no handle");
    // Another name, or the same name with other SIDs, is another boundary.
    let other_name = q.create_private_namespace(&boundary("boundary", &[Sid::EVERYONE]), "ns").unwrap();
    let other_sids = q.create_private_namespace(&boundary("Boundary", &[Sid::EVERYONE]), "ns2").unwrap();
    let no_sids = q.create_private_namespace(&boundary("Boundary", &[]), "ns3").unwrap();
    assert_ne!(other_name, other_sids);
    assert_ne!(other_sids, no_sids);
    finish(&k, base, vec![p, q]);
}

// SPEC §3 "Private namespaces": "open_private_namespace opens it; the caller's token must
// hold every SID of the boundary, else ACCESS_DENIED; a missing one is FILE_NOT_FOUND."
#[test]
fn opening_needs_every_sid_of_the_boundary() {
    let k = Kernel::new();
    let base = k.object_count();
    let creator = process_as(&k, Token::new(Sid::user(1000)).with_group(Sid::group(5)));
    let b = boundary("Guarded", &[Sid::user(1000), Sid::group(5)]);
    creator.create_private_namespace(&b, "g").unwrap();
    let both =
        process_as(&k, Token::new(Sid::user(1000)).with_group(Sid::group(5)).with_group(Sid::group(9)));
    let user_only = process_as(&k, Token::new(Sid::user(1000)));
    let group_only = process_as(&k, Token::new(Sid::user(2000)).with_group(Sid::group(5)));
    assert!(both.open_private_namespace(&b, "g").is_ok());
    assert_eq!(code(user_only.open_private_namespace(&b, "g")), ACCESS_DENIED);
    assert_eq!(code(group_only.open_private_namespace(&b, "g")), ACCESS_DENIED);
    assert_eq!((user_only.handle_count(), group_only.handle_count()), (0, 0));
    // A user SID can be held as a group too.
    let as_group =
        process_as(&k, Token::new(Sid::user(3000)).with_group(Sid::user(1000)).with_group(Sid::group(5)));
    assert!(as_group.open_private_namespace(&b, "g").is_ok());
    // Everyone is in every token; a boundary with no SIDs is open to all.
    let open_b = boundary("Open", &[Sid::EVERYONE]);
    creator.create_private_namespace(&open_b, "o").unwrap();
    assert!(group_only.open_private_namespace(&open_b, "o").is_ok());
    let empty_b = boundary("Empty", &[]);
    creator.create_private_namespace(&empty_b, "e").unwrap();
    assert!(user_only.open_private_namespace(&empty_b, "e").is_ok());
    // A missing boundary: FILE_NOT_FOUND, whatever the caller holds.
    assert_eq!(code(both.open_private_namespace(&boundary("Missing", &[]), "m")), FILE_NOT_FOUND);
    assert_eq!(
        code(both.open_private_namespace(&boundary("Guarded", &[Sid::user(1000)]), "m")),
        FILE_NOT_FOUND
    );
    assert_eq!(code(both.open_private_namespace(&boundary("guarded", &b.sids), "m")), FILE_NOT_FOUND);
    // The creator's token is checked at create time only against nothing: any token may
    // create a boundary with SIDs it does not hold (CreatePrivateNamespace checks none).
    let stranger = process_as(&k, Token::new(Sid::user(4000)));
    assert!(stranger.create_private_namespace(&boundary("Foreign", &[Sid::group(77)]), "f").is_ok());
    assert_eq!(
        code(stranger.open_private_namespace(&boundary("Foreign", &[Sid::group(77)]), "f")),
        ACCESS_DENIED
    );
    finish(&k, base, vec![creator, both, user_only, group_only, as_group, stranger]);
}

// SPEC §3 "Private namespaces": "While a process holds it, names alias\name resolve inside
// that namespace; in any other process alias\name is an ordinary path (PATH_NOT_FOUND)."
// Each process chooses its own alias.
#[test]
fn alias_names_resolve_inside_the_namespace_for_its_holders_only() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let q = root(&k);
    let outsider = root(&k);
    let in_session_1 =
        k.create_process(ProcessOptions { session_id: Some(1), ..Default::default() }).unwrap();
    let b = boundary("Shared", &[Sid::EVERYONE]);
    p.create_private_namespace(&b, "ns").unwrap();
    q.open_private_namespace(&b, "mine").unwrap();
    in_session_1.open_private_namespace(&b, "s1").unwrap();

    let obj = p.create_mutex(None, false, Some("ns\\obj")).unwrap();
    assert!(!obj.already_existed);
    // q reaches it through its own alias; a create there opens it.
    let seen = q.open_mutex(Access::SYNCHRONIZE, false, "mine\\obj").unwrap();
    assert!(q.compare_object_handles(seen, dup_into(&p, obj.handle, &q)).unwrap());
    assert!(q.create_mutex(None, false, Some("mine\\obj")).unwrap().already_existed);
    // Private namespaces are not per session.
    let s1 = in_session_1.open_mutex(Access::SYNCHRONIZE, false, "s1\\obj").unwrap();
    assert!(in_session_1.compare_object_handles(s1, dup_into(&p, obj.handle, &in_session_1)).unwrap());
    // One namespace for all types inside it too.
    assert_eq!(code(q.open_event(Access::SYNCHRONIZE, false, "mine\\obj")), INVALID_HANDLE);
    assert_eq!(code(q.open_mutex(Access::SYNCHRONIZE, false, "mine\\missing")), FILE_NOT_FOUND);
    // Another process's alias is an ordinary path component.
    assert_eq!(code(q.open_mutex(Access::SYNCHRONIZE, false, "ns\\obj")), PATH_NOT_FOUND);
    assert_eq!(code(p.open_mutex(Access::SYNCHRONIZE, false, "mine\\obj")), PATH_NOT_FOUND);
    for name in ["ns\\obj", "mine\\obj", "s1\\obj"] {
        assert_eq!(code(outsider.open_mutex(Access::SYNCHRONIZE, false, name)), PATH_NOT_FOUND, "{name}");
        assert_eq!(code(outsider.create_mutex(None, false, Some(name))), PATH_NOT_FOUND, "{name}");
    }
    // The private name is not the plain name: "obj" in \BaseNamedObjects is another object.
    assert_eq!(code(p.open_mutex(Access::SYNCHRONIZE, false, "obj")), FILE_NOT_FOUND);
    let plain = p.create_mutex(None, false, Some("obj")).unwrap();
    assert!(!plain.already_existed);
    assert!(!p.compare_object_handles(plain.handle, obj.handle).unwrap());
    // The alias is only a first component: the namespace itself is not an object, and it
    // has no Global/Local links.
    assert_eq!(code(p.open_mutex(Access::SYNCHRONIZE, false, "ns")), FILE_NOT_FOUND);
    assert_eq!(code(p.open_mutex(Access::SYNCHRONIZE, false, "ns\\Global\\obj")), PATH_NOT_FOUND);
    assert_eq!(code(p.open_mutex(Access::SYNCHRONIZE, false, "Global\\ns\\obj")), PATH_NOT_FOUND);
    // Names inside keep the other rules: an empty component is INVALID_NAME.
    assert_eq!(code(p.open_mutex(Access::SYNCHRONIZE, false, "ns\\")), 123);
    finish(&k, base, vec![p, q, outsider, in_session_1]);
}

// SPEC §3 "Private namespaces": "The returned handle is a namespace handle (closing it
// unmaps the alias for that process)."
#[test]
fn closing_the_namespace_handle_unmaps_the_alias() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let q = root(&k);
    let b = boundary("Closing", &[Sid::EVERYONE]);
    let ns_p = p.create_private_namespace(&b, "ns").unwrap();
    let ns_q = q.open_private_namespace(&b, "ns").unwrap();
    let obj = p.create_event(None, true, false, Some("ns\\ev")).unwrap().handle;
    p.close_handle(ns_p).unwrap();
    assert_eq!(code(p.open_event(Access::SYNCHRONIZE, false, "ns\\ev")), PATH_NOT_FOUND);
    assert_eq!(code(p.create_event(None, true, false, Some("ns\\ev"))), PATH_NOT_FOUND);
    // q still holds its handle: its alias still works and the object is still there.
    let h = q.open_event(Access::EVENT_MODIFY_STATE, false, "ns\\ev").unwrap();
    q.set_event(h).unwrap();
    assert_eq!(p.event_state(obj), Ok(true), "the object outlives p's alias");
    // The namespace lives while q holds it: it still exists for create and open.
    assert_eq!(code(p.create_private_namespace(&b, "ns")), ALREADY_EXISTS);
    let again = p.open_private_namespace(&b, "again").unwrap();
    assert!(p.open_event(Access::SYNCHRONIZE, false, "again\\ev").is_ok());
    p.close_handle(again).unwrap();
    // Closing the last namespace handle destroys the namespace: open is FILE_NOT_FOUND and
    // a new create makes a new, empty namespace (the old objects are not in it).
    q.close_handle(ns_q).unwrap();
    assert_eq!(code(q.open_event(Access::SYNCHRONIZE, false, "ns\\ev")), PATH_NOT_FOUND);
    assert_eq!(code(q.open_private_namespace(&b, "ns")), FILE_NOT_FOUND);
    let fresh = q.create_private_namespace(&b, "ns").unwrap();
    assert_eq!(code(q.open_event(Access::SYNCHRONIZE, false, "ns\\ev")), FILE_NOT_FOUND);
    assert!(!q.create_event(None, true, false, Some("ns\\ev")).unwrap().already_existed);
    // The old event still lives through p's handle.
    assert_eq!(p.event_state(obj), Ok(true));
    q.close_handle(fresh).unwrap();
    // A duplicate keeps the namespace alive, but only the handle the alias was mapped
    // with maps it.
    let ns = p.create_private_namespace(&b, "dup").unwrap();
    let copy = dup_into(&p, ns, &p);
    p.close_handle(ns).unwrap();
    assert_eq!(code(p.open_event(Access::SYNCHRONIZE, false, "dup\\ev")), PATH_NOT_FOUND);
    assert_eq!(code(q.create_private_namespace(&b, "x")), ALREADY_EXISTS, "the duplicate keeps it");
    p.close_handle(copy).unwrap();
    assert_eq!(code(q.open_private_namespace(&b, "x")), FILE_NOT_FOUND);
    finish(&k, base, vec![p, q]);
}

// SPEC §3 "Objects and lifetime": terminate closes every handle, the namespace handle
// included, so the alias goes and the namespace with it when it was the last.
#[test]
fn terminate_closes_the_namespace() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let q = root(&k);
    let b = boundary("Terminated", &[Sid::EVERYONE]);
    p.create_private_namespace(&b, "ns").unwrap();
    let kept = p.create_job_object(None, Some("ns\\job")).unwrap().handle;
    let held = q.open_private_namespace(&b, "q").unwrap();
    let job = q.open_job_object(Access::GENERIC_READ, false, "q\\job").unwrap();
    p.terminate(0).unwrap();
    assert_eq!(
        code(p.open_job_object(Access::GENERIC_READ, false, "ns\\job")),
        ACCESS_DENIED,
        "a terminated caller"
    );
    assert!(q.open_job_object(Access::GENERIC_READ, false, "q\\job").is_ok(), "q's handle keeps the job");
    q.close_handle(held).unwrap();
    assert_eq!(code(q.open_private_namespace(&b, "q")), FILE_NOT_FOUND);
    assert!(q.create_private_namespace(&b, "q").is_ok());
    let _ = (kept, job);
    finish(&k, base, vec![p, q]);
}

// SPEC §3 "Named objects" races, for boundaries: processes creating the same boundary at
// once get one namespace (exactly one succeeds; the others are ALREADY_EXISTS and open it)
// and then share it: of their creates of `alias\e`, exactly one makes the event. Four
// threads walk the round-numbered boundaries "Race0", "Race1", … in step, holding every
// handle until the end.
#[test]
fn concurrent_creators_of_one_boundary() {
    const ROUNDS: usize = 2_000;
    const THREADS: usize = 4;
    let k = Kernel::new();
    let base = k.object_count();
    let processes: Vec<Process> = (0..THREADS).map(|_| root(&k)).collect();
    let namespaces: Vec<AtomicUsize> = (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
    let events: Vec<AtomicUsize> = (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
    thread::scope(|s| {
        for (t, p) in processes.iter().enumerate() {
            let (namespaces, events) = (&namespaces, &events);
            s.spawn(move || {
                for round in 0..ROUNDS {
                    let b = boundary(&format!("Race{round}"), &[Sid::EVERYONE]);
                    let alias = format!("p{t}r{round}");
                    match p.create_private_namespace(&b, &alias) {
                        Ok(_) => {
                            namespaces[round].fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            assert_eq!(e.code(), ALREADY_EXISTS, "round {round}");
                            p.open_private_namespace(&b, &alias).unwrap();
                        }
                    }
                    let e = p.create_event(None, true, false, Some(&format!("{alias}\\e"))).unwrap();
                    if !e.already_existed {
                        events[round].fetch_add(1, Ordering::Relaxed);
                    }
                    p.set_event(e.handle).unwrap();
                }
            });
        }
    });
    for round in 0..ROUNDS {
        assert_eq!(namespaces[round].load(Ordering::Relaxed), 1, "round {round}: one namespace creator");
        assert_eq!(events[round].load(Ordering::Relaxed), 1, "round {round}: one namespace shared by all");
    }
    for p in &processes {
        assert_eq!(p.handle_count(), 2 * ROUNDS);
    }
    assert_eq!(k.object_count(), base + 2 * THREADS + 2 * ROUNDS);
    finish(&k, base, processes);
}

// An alias outlives its namespace handle only as a dead entry: a later namespace handle at
// the same value, even to an object at the same address, must not revive it. (Repeated,
// because object memory is reused only once the epoch frees it.)
#[test]
fn a_closed_alias_stays_unmapped_when_its_handle_value_is_reused() {
    const ROUNDS: usize = 2_000;
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let keeper = root(&k);
    for i in 0..ROUNDS {
        let old = boundary(&format!("old{i}"), &[]);
        let ns = p.create_private_namespace(&old, "old").unwrap();
        // An object inside, kept alive by another process.
        let e = p.create_event(None, true, false, Some("old\\e")).unwrap().handle;
        let _kept = dup_into(&p, e, &keeper);
        p.close_handle(e).unwrap();
        p.close_handle(ns).unwrap();
        // Let the epoch free the old namespace object, so that the allocator may hand its
        // block to the next one.
        for _ in 0..64 {
            crossbeam_epoch::pin().flush();
        }
        // A new namespace under another alias, very likely at the same handle value.
        let new = p.create_private_namespace(&boundary(&format!("new{i}"), &[]), "new").unwrap();
        match p.open_event(Access::SYNCHRONIZE, false, "old\\e") {
            Err(e) => assert_eq!(e.code(), PATH_NOT_FOUND, "round {i}"),
            Ok(h) => {
                panic!("round {i}: the closed alias revived (handle {ns:?} reused as {new:?}, opened {h:?})")
            }
        }
        p.close_handle(new).unwrap();
    }
    finish(&k, base, vec![p, keeper]);
}

// SPEC §3 "Private namespaces": closing the namespace handle unmaps the alias for that
// process. A new handle to the *same* namespace that lands on the closed handle's value
// (here duplicated in by another process; LIFO reuse gives it the same slot) is a new
// handle, not the one the alias was opened with: the alias stays unmapped.
#[test]
fn a_new_handle_to_the_same_namespace_at_the_old_value_does_not_revive_the_alias() {
    let k = Kernel::new();
    let base = k.object_count();
    let owner = root(&k);
    let p = root(&k);
    let b = boundary("same", &[]);
    let held = owner.create_private_namespace(&b, "mine").unwrap();
    let e = owner.create_event(None, true, false, Some("mine\\e")).unwrap().handle;
    let ns = p.open_private_namespace(&b, "x").unwrap();
    let opened = p.open_event(Access::SYNCHRONIZE, false, "x\\e").unwrap();
    p.close_handle(opened).unwrap();
    p.close_handle(ns).unwrap();
    let again = dup_into(&owner, held, &p);
    assert_eq!(again, ns, "the freed slot is reused first (deterministic LIFO reuse)");
    assert_eq!(p.open_event(Access::SYNCHRONIZE, false, "x\\e").unwrap_err().code(), PATH_NOT_FOUND);
    p.close_handle(again).unwrap();
    owner.close_handle(e).unwrap();
    finish(&k, base, vec![owner, p]);
}
