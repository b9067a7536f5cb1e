//! Regression tests for the engine review (issue 7): each fails on the code before its fix.
//! The first two also run under Miri (`fuzz/miri.sh`), where the weak-memory emulation
//! and the borrow checker see what x86 cannot.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use kobj::{Access, DuplicateOptions, GenericMapping, Handle, Kernel, Privilege, ProcessOptions, Sid, Token};

#[cfg(miri)]
const ROUNDS: usize = 40;
#[cfg(not(miri))]
const ROUNDS: usize = 20_000;

// Item 1: a lookup racing a close and a re-create at the same value must see the old
// event, the new one, or INVALID_HANDLE (SPEC §3 "Handles and tables": a value that names
// no live entry is INVALID_HANDLE; §6: never a handle to a destroyed object). Before the
// fix, the free-list link was stored into the entry with Relaxed, and under Miri's weak
// memory (`-Zmiri-preemption-rate=0.1`) the reader built `&ObjectHeader` from the link:
// "encountered a null reference" in `HandleTable::get`.
#[test]
fn lookup_racing_close_and_reuse() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let first = p.create_event(None, true, false, None).unwrap().handle;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (p, done) = (p.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut seen = 0usize;
            while !done.load(Ordering::Acquire) {
                match p.event_state(first) {
                    Ok(_) => seen += 1,
                    Err(e) => assert_eq!(e.code(), INVALID_HANDLE, "a lookup racing close gives {e:?}"),
                }
            }
            seen
        })
    };
    for i in 0..ROUNDS {
        p.close_handle(first).unwrap();
        // One thread, LIFO reuse: the re-create takes the value just freed (SPEC §3:
        // values are reused after a close; deterministic for one thread).
        let again = p.create_event(None, true, i % 2 == 0, None).unwrap().handle;
        assert_eq!(again, first);
    }
    done.store(true, Ordering::Release);
    reader.join().unwrap();
    p.close_handle(first).unwrap();
    p.terminate(0).unwrap();
    drop(p);
    assert_eq!(k.object_count(), base);
}

struct Foo(u64);
struct Bar(#[allow(dead_code)] String);

fn register<P: std::any::Any + Send + Sync>(k: &Kernel, name: &str) -> kobj::ObjectType<P> {
    let mapping = GenericMapping::new(0x20001, 0x20002, 0x20000, 0x1F0003);
    k.register_type::<P>(name, mapping, Access::from_bits_retain(0x1F0003)).unwrap()
}

// Item 2: an object's header points at its type without a count, kept alive by its own
// kernel's registry; a type registered in another kernel must be refused (bad input is
// INVALID_PARAMETER, SPEC §6), or dropping that kernel leaves the header's type dangling
// and a later registration at the same address passes a `Foo` off as a `Bar`.
#[test]
fn a_type_of_another_kernel_is_refused() {
    let home = Kernel::new();
    let elsewhere = Kernel::new();
    let base = home.object_count();
    let foreign = register::<Foo>(&elsewhere, "Foo");
    let p = root(&home);
    assert_eq!(code(p.create_object(&foreign, Foo(0x4141_4141_4141_4141), None, None)), INVALID_PARAMETER);
    assert_eq!(code(p.create_object(&foreign, Foo(1), None, Some("named-foo"))), INVALID_PARAMETER);
    assert_eq!(code(p.open_object(&foreign, Access::SYNCHRONIZE, false, "named-foo")), INVALID_PARAMETER);
    // Nothing was made, named or leaked by the refusals.
    assert_eq!(home.object_count(), base + 2);
    assert_eq!(elsewhere.object_count(), 0);
    drop(elsewhere);
    drop(foreign);

    // Home's own types keep working, and a lookup with another type is INVALID_HANDLE,
    // never a payload of the wrong type (SPEC §3: the object's type is checked).
    let foo = register::<Foo>(&home, "Foo");
    let h = p.create_object(&foo, Foo(7), None, None).unwrap().handle;
    let bar = register::<Bar>(&home, "Bar");
    assert_eq!(p.with_object(&foo, h, Access::from_bits_retain(1), |f| f.0), Ok(7));
    assert_eq!(code(p.with_object(&bar, h, Access::from_bits_retain(1), |b| b.0.len())), INVALID_HANDLE);
    let third = Kernel::new();
    let stranger = register::<Bar>(&third, "Bar");
    assert_eq!(code(p.with_object(&stranger, h, Access::from_bits_retain(1), |b| b.0.len())), INVALID_HANDLE);
    assert_eq!(home.type_names().iter().filter(|n| *n == "Foo").count(), 1);
    p.close_handle(h).unwrap();
    p.terminate(0).unwrap();
    drop(p);
    assert_eq!(home.object_count(), base);
}

const PID_WRAP: u32 = 0xFFFF_FFF8;

// Item 5: process ids are unique among live processes, also once the id counter wraps
// (SPEC §7.2: ids are non-zero multiples of 4, unique among live processes and threads;
// NT's client-id table never hands out an id in use). Before the fix the wrapped counter
// handed out 4 again and `open_process(4)` opened the newcomer.
#[test]
fn process_ids_stay_unique_across_the_wrap() {
    let k = Kernel::new();
    let base = k.object_count();
    let first = root(&k);
    assert_eq!(first.id(), 4);
    let e = first.create_event(None, true, false, None).unwrap().handle;
    k.set_next_client_id(PID_WRAP);
    let mut later = Vec::new();
    for _ in 0..4 {
        later.push(root(&k));
    }
    let ids: Vec<u32> = later.iter().map(|p| p.id()).collect();
    // 0 is never an id, and 4 and 8 (the first process and its main thread) are taken:
    // the wrapped counter skips them. Each process's main thread takes the id after its
    // process's (one id space, SPEC §7.2).
    assert_eq!(ids, vec![PID_WRAP, 12, 20, 28]);
    // `open_process(4)` still opens the first process: a duplicate through it finds its
    // event (and no other process has a handle at that value).
    let opener = &later[0];
    let h = opener.open_process(Access::PROCESS_ALL_ACCESS, false, 4).unwrap();
    let copy = opener
        .duplicate_handle(
            h,
            e,
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    assert_eq!(opener.event_state(copy), Ok(false));
    // A terminated process whose object is still referenced keeps its id (a Windows pid
    // is not reused while a handle to the process is open): the next wrap skips it too.
    first.terminate(0).unwrap();
    assert_eq!(code(opener.open_process(Access::PROCESS_ALL_ACCESS, false, 4)), INVALID_PARAMETER);
    k.set_next_client_id(0);
    let newcomer = root(&k);
    // In use: 4 and 8 (the terminated first process, still referenced, and its main
    // thread), and 12..=32 (the three later processes past the wrap and their threads).
    assert!(!(4..=32).step_by(4).any(|id| id == newcomer.id()), "id {} reused while in use", newcomer.id());
    assert_eq!(newcomer.id(), 36);
    for p in later.iter().chain([&newcomer]) {
        p.terminate(0).unwrap();
    }
    drop((first, later, newcomer));
    assert_eq!(k.object_count(), base);
}

// Item 7: a process cannot hand its child more than it has (SPEC §3 "Security"): another
// token needs AssignPrimaryToken (CreateProcessAsUser), another session Tcb; without
// them PRIVILEGE_NOT_HELD, checked before anything else of the call.
#[test]
fn a_child_gets_another_token_or_session_only_with_the_privilege() {
    let k = Kernel::new();
    let base = k.object_count();
    // A session-1 user process without CreateGlobal, as in the review.
    let user = k.create_process(ProcessOptions { session_id: Some(1), ..Default::default() }).unwrap();
    let to_session_0 = ProcessOptions { session_id: Some(0), ..Default::default() };
    assert_eq!(code(user.create_process(false, to_session_0.clone())), PRIVILEGE_NOT_HELD);
    let as_system = ProcessOptions { token: Some(Token::new(Sid::SYSTEM)), ..Default::default() };
    assert_eq!(code(user.create_process(false, as_system.clone())), PRIVILEGE_NOT_HELD);
    let more = user.token().clone().with_privilege(Privilege::CreateGlobal);
    let with_more = ProcessOptions { token: Some(more), ..Default::default() };
    assert_eq!(code(user.create_process(false, with_more)), PRIVILEGE_NOT_HELD);
    // Before anything else: a bad handle list (INVALID_PARAMETER) is not looked at.
    let bad_list = ProcessOptions {
        session_id: Some(0),
        handle_list: Some(vec![Handle::from_raw(0x1234)]),
        ..Default::default()
    };
    assert_eq!(code(user.create_process(true, bad_list)), PRIVILEGE_NOT_HELD);
    assert_eq!(user.handle_count(), 0, "a refused call makes nothing");
    // Its own token and session, spelled out, need nothing.
    let same = ProcessOptions { token: Some(user.token().clone()), session_id: Some(1), handle_list: None };
    let child = user.create_process(false, same).unwrap();
    assert_eq!((child.process.session_id(), child.process.token().user()), (1, user.token().user()));
    // With the privileges, both are allowed.
    let admin_token =
        Token::default().with_privilege(Privilege::AssignPrimaryToken).with_privilege(Privilege::Tcb);
    let admin = k
        .create_process(ProcessOptions { token: Some(admin_token), session_id: Some(1), handle_list: None })
        .unwrap();
    let system = admin.create_process(false, as_system).unwrap();
    assert_eq!(system.process.token().user(), Sid::SYSTEM);
    let global = admin.create_process(false, to_session_0).unwrap();
    assert_eq!(global.process.session_id(), 0);
    // The kernel's own call is the embedder's and takes both as given.
    let raw = k
        .create_process(ProcessOptions {
            token: Some(Token::new(Sid::SYSTEM)),
            session_id: Some(5),
            handle_list: None,
        })
        .unwrap();
    for p in [&user, &child.process, &admin, &system.process, &global.process, &raw] {
        p.terminate(0).unwrap();
    }
    drop((user, child, admin, system, global, raw));
    assert_eq!(k.object_count(), base);
}

const PRIVILEGE_NOT_HELD: u32 = 1314;
