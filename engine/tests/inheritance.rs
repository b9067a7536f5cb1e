//! Handle inheritance: SPEC §3 "Inheritance" (seeds 000 and 001, "Object Handle
//! Inheritance"), with the bad input of SPEC §6 for this area.
//!
//! Every test ends with `kernel.object_count()` back at its start value: each process is
//! terminated and its `Process` value dropped (`common::finish`).

mod common;

use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use kobj::{
    Access, CreationDisposition, DuplicateOptions, Handle, HandleFlags, HandleInfo, Kernel, Process,
    ProcessOptions, SecurityAttributes,
};

/// The access and flags a handle holds.
fn info(p: &Process, h: Handle) -> (Access, HandleFlags) {
    p.pin().info(h).expect("a live handle")
}

/// A process's table as `handle -> (type, access, flags)`.
fn table(p: &Process) -> BTreeMap<usize, (String, Access, HandleFlags)> {
    p.handles()
        .into_iter()
        .map(|HandleInfo { handle, type_name, access, flags, .. }| (handle.raw(), (type_name, access, flags)))
        .collect()
}

/// The object handle count shown in a listing row.
fn object_handles(p: &Process, h: Handle) -> usize {
    p.handles().into_iter().find(|r| r.handle == h).expect("a listed handle").object_handles
}

fn inheritable() -> SecurityAttributes {
    SecurityAttributes { inherit_handle: true, ..Default::default() }
}

fn with_list(list: Vec<Handle>) -> ProcessOptions {
    ProcessOptions { handle_list: Some(list), ..Default::default() }
}

// SPEC §3 "Inheritance": "`SecurityAttributes::inherit_handle = true` makes the new handle
// inheritable" — seed 000: "If the bInheritHandle member is TRUE, the flag is set to 1";
// a NULL SECURITY_ATTRIBUTES gives a non-inheritable handle.
#[test]
fn security_attributes_inherit_handle_sets_the_inherit_flag() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let sa = inheritable();
    let m = p.create_mutex(Some(&sa), false, None).unwrap().handle;
    let e = p.create_event(Some(&sa), true, false, None).unwrap().handle;
    let s = p.create_semaphore(Some(&sa), 0, 1, None).unwrap().handle;
    let t = p.create_waitable_timer(Some(&sa), false, None).unwrap().handle;
    let j = p.create_job_object(Some(&sa), None).unwrap().handle;
    let f = p.create_file_mapping(None, Some(&sa), 0x04, 4096, None).unwrap().handle;
    for h in [m, e, s, t, j, f] {
        assert_eq!(p.get_handle_information(h), Ok(HandleFlags::INHERIT), "{h:?}");
    }
    let plain = p.create_mutex(None, false, None).unwrap().handle;
    let default_sa = p.create_mutex(Some(&SecurityAttributes::default()), false, None).unwrap().handle;
    assert_eq!(p.get_handle_information(plain), Ok(HandleFlags::empty()));
    assert_eq!(p.get_handle_information(default_sa), Ok(HandleFlags::empty()));
    finish(&k, base, vec![p]);
}

// SPEC §3 "Inheritance": "`create_process(true, ..)` copies every entry that has INHERIT
// into the child's table at the same handle value, with the same access and flags, taking
// a reference on each object." Seed 000: the system "copies each valid, inheritable entry
// into the child's handle table at exactly the same position ... the access mask and flags
// are identical".
#[test]
fn inherited_handles_keep_value_access_and_flags() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let sa = inheritable();
    let mutex = p.create_mutex(Some(&sa), false, None).unwrap().handle;
    let _hidden = event(&p);
    let event_h = inheritable_event(&p);
    // A reduced-access, protected, inheritable duplicate.
    let reduced = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            event_h,
            Some(Handle::CURRENT_PROCESS),
            Access::EVENT_QUERY_STATE | Access::SYNCHRONIZE,
            true,
            DuplicateOptions::empty(),
        )
        .unwrap()
        .unwrap();
    p.set_handle_information(reduced, HandleFlags::PROTECT_FROM_CLOSE, HandleFlags::PROTECT_FROM_CLOSE)
        .unwrap();
    let sem = p.create_semaphore(Some(&sa), 1, 3, None).unwrap().handle;
    let parent_rows = table(&p);

    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    let c = &child.process;
    let expected: BTreeMap<_, _> =
        parent_rows.into_iter().filter(|(_, (_, _, flags))| flags.contains(HandleFlags::INHERIT)).collect();
    assert_eq!(expected.len(), 4);
    assert_eq!(table(c), expected, "the child holds exactly the inheritable entries, same values");
    assert_eq!(info(c, mutex), (Access::MUTEX_ALL_ACCESS, HandleFlags::INHERIT));
    assert_eq!(info(c, event_h), (Access::EVENT_ALL_ACCESS, HandleFlags::INHERIT));
    assert_eq!(
        info(c, reduced),
        (
            Access::EVENT_QUERY_STATE | Access::SYNCHRONIZE,
            HandleFlags::INHERIT | HandleFlags::PROTECT_FROM_CLOSE
        )
    );
    assert_eq!(info(c, sem), (Access::SEMAPHORE_ALL_ACCESS, HandleFlags::INHERIT));
    // "taking a reference on each object": the handle counts went up by one.
    assert_eq!(object_handles(c, mutex), 2);
    assert_eq!(object_handles(c, event_h), 4, "event_h, reduced, and their two copies");
    // Same object: a signal through the child is seen by the parent.
    c.set_event(event_h).unwrap();
    assert_eq!(p.event_state(event_h), Ok(true));
    // Same access: the reduced copy cannot modify.
    assert_eq!(code(c.reset_event(reduced)), ACCESS_DENIED);
    assert_eq!(c.event_state(reduced), Ok(true));
    // Same flags: the protected copy cannot be closed in the child either.
    assert_eq!(code(c.close_handle(reduced)), INVALID_HANDLE);
    assert_eq!(c.release_semaphore(sem, 1), Ok(1));
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Inheritance": "Values the parent holds without INHERIT are invalid in the
// child." Seed 000: "entries that are not inheritable are not copied".
#[test]
fn non_inheritable_values_are_invalid_in_the_child() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let plain = event(&p);
    let plain_mutex = p.create_mutex(None, false, None).unwrap().handle;
    let inh = inheritable_event(&p);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    let c = &child.process;
    assert_eq!(c.handle_count(), 1);
    for h in [plain, plain_mutex] {
        assert_eq!(code(c.get_handle_information(h)), INVALID_HANDLE);
        assert_eq!(code(c.close_handle(h)), INVALID_HANDLE);
        assert_eq!(code(c.compare_object_handles(h, h)), INVALID_HANDLE);
    }
    assert_eq!(code(c.set_event(plain)), INVALID_HANDLE);
    c.set_event(inh).unwrap();
    // The parent's own handles are untouched.
    p.set_event(plain).unwrap();
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Inheritance": "With `handle_list`, only the listed handles ... are copied"
// (Microsoft docs, UpdateProcThreadAttribute, PROC_THREAD_ATTRIBUTE_HANDLE_LIST: "the
// handles to be inherited by the child process").
#[test]
fn handle_list_restricts_what_is_inherited() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let a = inheritable_event(&p);
    let b = inheritable_event(&p);
    let c_h = inheritable_event(&p);
    // The low two bits are ignored in the list too; duplicates are harmless.
    let child = p.create_process(true, with_list(vec![c_h, a, Handle::from_raw(a.raw() | 3)])).unwrap();
    let c = &child.process;
    assert_eq!(c.handle_count(), 2);
    assert_eq!(info(c, a), (Access::EVENT_ALL_ACCESS, HandleFlags::INHERIT));
    assert_eq!(info(c, c_h), (Access::EVENT_ALL_ACCESS, HandleFlags::INHERIT));
    assert_eq!(code(c.set_event(b)), INVALID_HANDLE, "an unlisted inheritable handle is not copied");
    c.set_event(a).unwrap();
    assert_eq!(p.event_state(a), Ok(true));
    assert_eq!(p.event_state(b), Ok(false));
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Inheritance": the listed handles "must be inheritable, else
// `INVALID_PARAMETER`" (Microsoft docs: "These handles must be created as inheritable
// handles and must not include pseudo handles"). Nothing is created or leaked.
#[test]
fn handle_list_with_a_non_inheritable_or_invalid_handle_is_invalid_parameter() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let other = root(&k);
    let inh = inheritable_event(&p);
    let plain = event(&p);
    let garbage = Handle::from_raw(0x4000);
    let objects = k.object_count();
    let bad_lists = vec![
        vec![plain],
        vec![inh, plain],
        vec![garbage],
        vec![Handle::NULL],
        vec![Handle::CURRENT_PROCESS],
        vec![inh, Handle::CURRENT_THREAD],
        vec![Handle::from_raw(usize::MAX - 8)],
    ];
    for list in bad_lists {
        let r = p.create_process(true, with_list(list.clone()));
        assert_eq!(code(r), INVALID_PARAMETER, "{list:?}");
        assert_eq!(k.object_count(), objects, "no child object left behind for {list:?}");
        assert_eq!(p.handle_count(), 2, "no child handle left behind for {list:?}");
    }
    // A handle closed before the call is no longer listed-and-inheritable.
    p.close_handle(inh).unwrap();
    assert_eq!(code(p.create_process(true, with_list(vec![inh]))), INVALID_PARAMETER);
    // `other`'s inheritable value, which names nothing in p's table.
    let other_only = inheritable_event(&other);
    assert!(p.get_handle_information(other_only).is_err());
    assert_eq!(code(p.create_process(true, with_list(vec![other_only]))), INVALID_PARAMETER);
    finish(&k, base, vec![p, other]);
}

// SPEC §3 "Inheritance": "a `handle_list` that is empty ... is `INVALID_PARAMETER`"
// (Microsoft docs: UpdateProcThreadAttribute fails with an empty list).
#[test]
fn empty_handle_list_is_invalid_parameter() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let _inh = inheritable_event(&p);
    let objects = k.object_count();
    assert_eq!(code(p.create_process(true, with_list(vec![]))), INVALID_PARAMETER);
    assert_eq!(code(p.create_process(false, with_list(vec![]))), INVALID_PARAMETER);
    assert_eq!(k.object_count(), objects);
    assert_eq!(p.handle_count(), 1);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Inheritance": a `handle_list` "given with `inherit_handles = false`, is
// `INVALID_PARAMETER`" (Microsoft docs: with PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
// bInheritHandles must be TRUE).
#[test]
fn handle_list_without_inherit_handles_is_invalid_parameter() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let inh = inheritable_event(&p);
    let objects = k.object_count();
    assert_eq!(code(p.create_process(false, with_list(vec![inh]))), INVALID_PARAMETER);
    assert_eq!(k.object_count(), objects);
    assert_eq!(p.handle_count(), 1);
    // A root process has no parent to inherit from: a list is INVALID_PARAMETER too.
    assert_eq!(code(k.create_process(with_list(vec![inh]))), INVALID_PARAMETER);
    assert_eq!(k.object_count(), objects);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Inheritance": "`create_process(false, ..)` copies nothing" (Microsoft docs,
// CreateProcess: "If the parameter is FALSE, the handles are not inherited").
#[test]
fn create_process_without_inheritance_copies_nothing() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let handles: Vec<Handle> = (0..10).map(|_| inheritable_event(&p)).collect();
    let child = p.create_process(false, ProcessOptions::default()).unwrap();
    assert_eq!(child.process.handle_count(), 0);
    assert!(child.process.handles().is_empty());
    for &h in &handles {
        assert_eq!(code(child.process.set_event(h)), INVALID_HANDLE);
        assert_eq!(object_handles(&p, h), 1, "no reference taken");
    }
    // The child's own first handle takes the first value, as in any fresh table.
    let own = event(&child.process);
    assert_eq!(own, handles[0]);
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Inheritance": "`Child.handle` is a PROCESS_ALL_ACCESS handle to the child in
// the parent's table" (CreateProcess's PROCESS_INFORMATION.hProcess). It is not
// inheritable, and it is itself not copied into the child.
#[test]
fn child_handle_is_process_all_access() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    let row = p.handles().into_iter().find(|r| r.handle == child.handle).unwrap();
    assert_eq!(row.type_name, "Process");
    assert_eq!(row.access, Access::PROCESS_ALL_ACCESS);
    assert_eq!(row.flags, HandleFlags::empty());
    assert_eq!(code(child.process.get_handle_information(child.handle)), INVALID_HANDLE);
    // It holds PROCESS_DUP_HANDLE: the parent can duplicate into the child.
    let e = event(&p);
    let in_child = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            e,
            Some(child.handle),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    child.process.set_event(in_child).unwrap();
    assert_eq!(p.event_state(e), Ok(true));
    // It names the child: a real handle to the child is the child's own -1.
    let back = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            child.handle,
            Some(child.handle),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    assert_eq!(child.process.compare_object_handles(back, Handle::CURRENT_PROCESS), Ok(true));
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Objects and lifetime" / "Inheritance": "handles made by duplication or
// inheritance share the one file object and so its pointer (a read through one moves the
// position seen by the other)" (Microsoft docs, DuplicateHandle: "if you duplicate a file
// handle, the current file position is always the same for both handles").
#[test]
fn inherited_file_handles_share_the_file_pointer() {
    let k = Kernel::new();
    let base = k.object_count();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.txt");
    let p = root(&k);
    let f = p
        .create_file(
            &path,
            Access::GENERIC_READ | Access::GENERIC_WRITE,
            Some(&inheritable()),
            CreationDisposition::CreateAlways,
        )
        .unwrap();
    assert_eq!(p.write_file(f, b"hello, world"), Ok(12));
    assert_eq!(p.set_file_pointer(f, SeekFrom::Start(0)), Ok(0));
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    let c = &child.process;
    let mut buf = [0u8; 5];
    assert_eq!(c.read_file(f, &mut buf), Ok(5));
    assert_eq!(&buf, b"hello");
    // The parent's position moved with the child's read.
    assert_eq!(p.set_file_pointer(f, SeekFrom::Current(0)), Ok(5));
    let mut rest = [0u8; 16];
    assert_eq!(p.read_file(f, &mut rest), Ok(7));
    assert_eq!(&rest[..7], b", world");
    assert_eq!(c.set_file_pointer(f, SeekFrom::Current(0)), Ok(12));
    // A file opened separately has its own pointer.
    let g = c.create_file(&path, Access::GENERIC_READ, None, CreationDisposition::OpenExisting).unwrap();
    assert_eq!(c.set_file_pointer(g, SeekFrom::Current(0)), Ok(0));
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Duplication" (last rule) and "Objects and lifetime": "Duplicates and inherited
// handles count as distinct handles for lifetime: the object dies only when all of them
// are closed." Seed 003: "Inherited and duplicate handles are both distinct from the
// original handles and are represented in the reference count."
#[test]
fn objects_lifetime_counts_inherited_handles() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let before = k.object_count();
    let e = inheritable_event(&p);
    assert_eq!(k.object_count(), before + 1);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    let with_child = k.object_count();
    p.close_handle(e).unwrap();
    assert_eq!(k.object_count(), with_child, "the child's inherited handle keeps the event alive");
    child.process.set_event(e).unwrap();
    assert_eq!(child.process.event_state(e), Ok(true));
    child.process.close_handle(e).unwrap();
    assert_eq!(k.object_count(), with_child - 1, "the last handle closed: destroyed");
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Objects and lifetime": "A named object's name disappears when its last handle
// closes" — an inherited handle is one of those handles, so the name lives on in the
// child after the parent closes its own.
#[test]
fn an_inherited_handle_keeps_a_name_alive() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let other = root(&k);
    let name = "inheritance-keeps-name";
    let m = p.create_mutex(Some(&inheritable()), false, Some(name)).unwrap();
    assert!(!m.already_existed);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    p.close_handle(m.handle).unwrap();
    let opened = other.open_mutex(Access::SYNCHRONIZE, false, name).unwrap();
    other.close_handle(opened).unwrap();
    child.process.close_handle(m.handle).unwrap();
    assert_eq!(code(other.open_mutex(Access::SYNCHRONIZE, false, name)), FILE_NOT_FOUND);
    finish(&k, base, vec![p, other, child.process]);
}

// SPEC §3 "Inheritance": "`set_handle_information` can change it later" (Microsoft docs,
// SetHandleInformation: HANDLE_FLAG_INHERIT "If this flag is set, a child process created
// with the bInheritHandles parameter of CreateProcess set to TRUE will inherit the object
// handle").
#[test]
fn set_handle_information_can_make_a_handle_inheritable_later() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let late = event(&p);
    let withdrawn = inheritable_event(&p);
    p.set_handle_information(late, HandleFlags::INHERIT, HandleFlags::INHERIT).unwrap();
    p.set_handle_information(withdrawn, HandleFlags::INHERIT, HandleFlags::empty()).unwrap();
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    assert_eq!(child.process.get_handle_information(late), Ok(HandleFlags::INHERIT));
    assert_eq!(code(child.process.get_handle_information(withdrawn)), INVALID_HANDLE);
    // And with a handle list: a handle made inheritable later may be listed.
    let listed = event(&p);
    assert_eq!(code(p.create_process(true, with_list(vec![listed]))), INVALID_PARAMETER);
    p.set_handle_information(listed, HandleFlags::INHERIT, HandleFlags::INHERIT).unwrap();
    let second = p.create_process(true, with_list(vec![listed])).unwrap();
    assert_eq!(second.process.handle_count(), 1);
    second.process.set_event(listed).unwrap();
    assert_eq!(p.event_state(listed), Ok(true));
    finish(&k, base, vec![p, child.process, second.process]);
}

// SPEC §3 "Inheritance": the copy keeps the flags, INHERIT included, so a grandchild
// inherits the handle again at the same value (seed 000: the child can in turn pass the
// handle on to its own children).
#[test]
fn inherited_handles_pass_on_to_grandchildren() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let e = inheritable_event(&p);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    let grandchild = child.process.create_process(true, ProcessOptions::default()).unwrap();
    grandchild.process.set_event(e).unwrap();
    assert_eq!(p.event_state(e), Ok(true));
    assert_eq!(object_handles(&p, e), 3);
    // The child's handle to the grandchild was not inheritable: not in the grandchild.
    assert_eq!(code(grandchild.process.get_handle_information(grandchild.handle)), INVALID_HANDLE);
    finish(&k, base, vec![p, child.process, grandchild.process]);
}

// SPEC §3 "Inheritance": inherited values stay reserved in the child: its own new
// handles take other values (free slots below the highest inherited one first).
#[test]
fn a_child_allocates_around_inherited_values() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let mut inherited = Vec::new();
    for i in 0..20 {
        if i % 3 == 0 {
            inherited.push(inheritable_event(&p));
        } else {
            let _ = event(&p);
        }
    }
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    let c = &child.process;
    let mine: Vec<Handle> = (0..30).map(|_| event(c)).collect();
    for h in &mine {
        assert!(!inherited.contains(h), "{h:?} was handed out over an inherited value");
    }
    for &h in &inherited {
        c.set_event(h).unwrap();
        assert_eq!(p.event_state(h), Ok(true));
    }
    assert_eq!(c.handle_count(), inherited.len() + mine.len());
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Inheritance": "`ProcessOptions.token`: None: the parent's"; the child's handle
// table is the only thing inheritance shares — tokens and sessions follow ProcessOptions.
#[test]
fn a_child_runs_with_the_parents_token_and_session_unless_told() {
    let k = Kernel::new();
    let base = k.object_count();
    // Another token and another session for a child need AssignPrimaryToken and Tcb
    // (SPEC §3 "Security"): the parent holds both.
    let token = kobj::Token::new(kobj::Sid::user(42))
        .with_privilege(kobj::Privilege::AssignPrimaryToken)
        .with_privilege(kobj::Privilege::Tcb);
    let p = k
        .create_process(ProcessOptions { token: Some(token), session_id: Some(3), handle_list: None })
        .unwrap();
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    assert_eq!(child.process.token().user(), kobj::Sid::user(42));
    assert_eq!(child.process.session_id(), 3);
    let other = p
        .create_process(
            true,
            ProcessOptions { token: Some(kobj::Token::default()), session_id: Some(0), handle_list: None },
        )
        .unwrap();
    assert_eq!(other.process.token().user(), kobj::Sid::user(1000));
    assert_eq!(other.process.session_id(), 0);
    finish(&k, base, vec![p, child.process, other.process]);
}

// SPEC §3 "Objects and lifetime" / §6: "Calls made as a terminated process ... fail with
// ACCESS_DENIED" — a terminated parent cannot create children; a child outlives its
// terminated parent with its inherited handles intact.
#[test]
fn terminated_parents_and_children() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let e = inheritable_event(&p);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    p.terminate(7).unwrap();
    assert_eq!(code(p.create_process(true, ProcessOptions::default())), ACCESS_DENIED);
    assert_eq!(code(p.create_process(false, ProcessOptions::default())), ACCESS_DENIED);
    assert_eq!(code(p.create_process(true, with_list(vec![e]))), ACCESS_DENIED);
    // The child still holds the event, and can create its own children from it.
    child.process.set_event(e).unwrap();
    let grandchild = child.process.create_process(true, ProcessOptions::default()).unwrap();
    assert_eq!(grandchild.process.event_state(e), Ok(true));
    // A terminated child holds nothing: its own children inherit nothing from it.
    child.process.terminate(0).unwrap();
    assert_eq!(child.process.handle_count(), 0);
    assert_eq!(code(child.process.create_process(true, ProcessOptions::default())), ACCESS_DENIED);
    finish(&k, base, vec![p, child.process, grandchild.process]);
}

// SPEC §3 "Handles and tables": "a table at its limit fails the next insert with
// NO_SYSTEM_RESOURCES"; §6: nothing leaked — a parent whose table is full cannot hold the
// child's handle, so the child is not left behind.
#[test]
fn a_full_parent_table_fails_create_process_without_leaking() {
    let k = Kernel::builder().handle_limit(4).build();
    let base = k.object_count();
    let p = root(&k);
    let handles: Vec<Handle> = (0..4).map(|_| inheritable_event(&p)).collect();
    let objects = k.object_count();
    assert_eq!(code(p.create_process(true, ProcessOptions::default())), NO_SYSTEM_RESOURCES);
    assert_eq!(k.object_count(), objects, "the child and its inherited references are gone");
    for &h in &handles {
        assert_eq!(object_handles(&p, h), 1);
    }
    p.close_handle(handles[3]).unwrap();
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    assert_eq!(child.process.handle_count(), 3);
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Inheritance": "The copy is safe while other threads of the parent create,
// duplicate and close handles: each copied entry is one that was live and inheritable at
// some instant during the copy, and no reference is lost or leaked." One thread churns
// inheritable handles while another spawns and terminates 1,000 inheriting children.
#[test]
fn stress_inheritance_while_the_parent_churns_handles() {
    const CHILDREN: usize = 1_000;
    let k = Kernel::new();
    let base = k.object_count();
    let parent = root(&k);
    // Handles that stay put during the whole run: every child must see all of them.
    let stable: Vec<Handle> = (0..16).map(|_| inheritable_event(&parent)).collect();
    let hidden: Vec<Handle> = (0..4).map(|_| event(&parent)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let churned = Arc::new(AtomicUsize::new(0));

    let churner = {
        let parent = parent.clone();
        let stop = Arc::clone(&stop);
        let churned = Arc::clone(&churned);
        std::thread::spawn(move || {
            let mut rng = Rng::new(0x5eed);
            let mut live: Vec<Handle> = Vec::new();
            let sa = SecurityAttributes { inherit_handle: true, ..Default::default() };
            while !stop.load(Ordering::Relaxed) {
                match rng.below(5) {
                    0 | 1 => live.push(parent.create_event(Some(&sa), true, false, None).unwrap().handle),
                    2 if !live.is_empty() => {
                        let h = live.swap_remove(rng.below(live.len()));
                        parent.close_handle(h).unwrap();
                    }
                    3 if !live.is_empty() => {
                        let h = *rng.pick(&live);
                        let d = parent
                            .duplicate_handle(
                                Handle::CURRENT_PROCESS,
                                h,
                                Some(Handle::CURRENT_PROCESS),
                                Access::empty(),
                                rng.chance(2),
                                DuplicateOptions::SAME_ACCESS,
                            )
                            .unwrap()
                            .unwrap();
                        live.push(d);
                    }
                    4 if !live.is_empty() => {
                        let h = *rng.pick(&live);
                        let on = if rng.chance(2) { HandleFlags::INHERIT } else { HandleFlags::empty() };
                        parent.set_handle_information(h, HandleFlags::INHERIT, on).unwrap();
                    }
                    _ => {}
                }
                if live.len() > 200 {
                    for h in live.drain(..100) {
                        parent.close_handle(h).unwrap();
                    }
                }
                churned.fetch_add(1, Ordering::Relaxed);
            }
            for h in live {
                parent.close_handle(h).unwrap();
            }
        })
    };

    let spawner = {
        let parent = parent.clone();
        let stable = stable.clone();
        let hidden = hidden.clone();
        std::thread::spawn(move || {
            for _ in 0..CHILDREN {
                let child = parent.create_process(true, ProcessOptions::default()).unwrap();
                let c = &child.process;
                for &h in &stable {
                    assert_eq!(c.get_handle_information(h), Ok(HandleFlags::INHERIT));
                }
                for &h in &hidden {
                    assert_eq!(code(c.get_handle_information(h)), INVALID_HANDLE);
                }
                // Every copied entry was live and inheritable at some instant: an event
                // with INHERIT and a valid access.
                for row in c.handles() {
                    assert_eq!(row.type_name, "Event", "{row:?}");
                    assert!(row.flags.contains(HandleFlags::INHERIT), "{row:?}");
                    assert_eq!(row.access, Access::EVENT_ALL_ACCESS, "{row:?}");
                    assert!(row.object_handles >= 1, "{row:?}");
                }
                assert_eq!(c.handle_count(), c.handles().len());
                child.process.terminate(0).unwrap();
                parent.close_handle(child.handle).unwrap();
            }
        })
    };
    spawner.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    churner.join().unwrap();
    assert!(churned.load(Ordering::Relaxed) > 0);
    assert_eq!(parent.handle_count(), stable.len() + hidden.len());
    finish(&k, base, vec![parent]);
}

// SPEC §3 "Inheritance" and §4: a parent with at least 70,000 inheritable handles takes
// the parallel copy path (rayon, tables of 2^16 entries or more) and the child gets
// exactly the same values, access and flags.
#[test]
fn a_large_parent_table_is_copied_exactly() {
    const HANDLES: usize = 70_000;
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let sa = inheritable();
    let e = p.create_event(Some(&sa), true, false, None).unwrap().handle;
    let mut all = vec![e];
    // Many handles to a handful of objects keeps the run fast in debug builds.
    for i in 1..HANDLES {
        let src = all[i % all.len().min(8)];
        let access = if i % 5 == 0 { Access::EVENT_QUERY_STATE } else { Access::EVENT_ALL_ACCESS };
        let h = p
            .duplicate_handle(
                Handle::CURRENT_PROCESS,
                src,
                Some(Handle::CURRENT_PROCESS),
                access,
                i % 7 != 0,
                DuplicateOptions::empty(),
            )
            .unwrap()
            .unwrap();
        if i % 11 == 0 {
            p.set_handle_information(h, HandleFlags::PROTECT_FROM_CLOSE, HandleFlags::PROTECT_FROM_CLOSE)
                .unwrap();
        }
        all.push(h);
    }
    // Holes: closed entries are not copied.
    for &h in all.iter().skip(3).step_by(13) {
        let _ = p.close_handle(h);
    }
    assert!(all.iter().map(|h| h.raw() / 4).max().unwrap() >= 1 << 16);
    let expected: BTreeMap<_, _> =
        table(&p).into_iter().filter(|(_, (_, _, f))| f.contains(HandleFlags::INHERIT)).collect();
    assert!(expected.len() > 55_000, "{}", expected.len());

    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    assert_eq!(child.process.handle_count(), expected.len());
    let got = table(&child.process);
    assert_eq!(got.len(), expected.len());
    for ((gh, grow), (eh, erow)) in got.iter().zip(expected.iter()) {
        assert_eq!((gh, grow), (eh, erow));
    }
    // And the child's next handle does not land on an inherited value.
    let fresh = event(&child.process);
    assert!(!expected.contains_key(&fresh.raw()));
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Inheritance" ("no reference is lost or leaked") and §6 ("never panics"): a
// child can be opened by pid (pids are deterministic, so guessable) and duplicated into
// from another process while its parent is still creating it. Its table must be complete
// before anyone can find it: an insert racing the inheritance copy used to corrupt the
// child's free list (an out-of-bounds panic) and overwrite inherited entries.
#[test]
fn a_child_opened_by_pid_during_its_creation_is_not_corrupted() {
    const INHERITED: usize = 300;
    let k = Kernel::new();
    let base = k.object_count();
    let parent = root(&k);
    let inherited: Vec<Handle> = (0..INHERITED).map(|_| inheritable_event(&parent)).collect();
    let outsider = root(&k);
    let ev = event(&outsider);
    let last_pid = Arc::new(std::sync::atomic::AtomicU32::new(parent.id()));
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let (outsider, last_pid, stop) = (outsider.clone(), Arc::clone(&last_pid), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // The next child's pid: the last one plus 4.
                let pid = last_pid.load(Ordering::Relaxed) + 4;
                if let Ok(h) = outsider.open_process(Access::PROCESS_DUP_HANDLE, false, pid) {
                    // The child may be terminated meanwhile: ACCESS_DENIED is fine.
                    match outsider.duplicate_handle(
                        Handle::CURRENT_PROCESS,
                        ev,
                        Some(h),
                        Access::empty(),
                        false,
                        DuplicateOptions::SAME_ACCESS,
                    ) {
                        Ok(_) => {}
                        Err(e) => assert_eq!(e.code(), ACCESS_DENIED),
                    }
                    outsider.close_handle(h).unwrap();
                }
            }
        })
    };
    for _ in 0..1_000 {
        let child = parent.create_process(true, ProcessOptions::default()).unwrap();
        last_pid.store(child.process.id(), Ordering::Relaxed);
        let c = &child.process;
        for &h in &inherited {
            assert_eq!(c.get_handle_information(h), Ok(HandleFlags::INHERIT), "{h:?}");
            assert_eq!(c.compare_object_handles(h, h), Ok(true));
        }
        child.process.terminate(0).unwrap();
        parent.close_handle(child.handle).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    prober.join().unwrap();
    for &h in &inherited {
        assert_eq!(object_handles(&parent, h), 1, "every child's copy was released");
    }
    finish(&k, base, vec![parent, outsider]);
}
