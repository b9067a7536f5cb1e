//! `DuplicateHandle`: SPEC §3 "Duplication" (seed 003, "Duplicating Handles", and the
//! Microsoft documentation of DuplicateHandle), with the bad input of SPEC §6.
//!
//! Every test ends with `kernel.object_count()` back at its start value (`common::finish`).

mod common;

use std::io::SeekFrom;

use common::*;
use kobj::{
    Access, Ace, CreationDisposition, DuplicateOptions, Handle, HandleFlags, Kernel, Process, ProcessOptions,
    SecurityAttributes, SecurityDescriptor, Sid, Token,
};

const ME: Handle = Handle::CURRENT_PROCESS;
const NONE: DuplicateOptions = DuplicateOptions::empty();
const SAME: DuplicateOptions = DuplicateOptions::SAME_ACCESS;
const CLOSE: DuplicateOptions = DuplicateOptions::CLOSE_SOURCE;

/// The access and flags a handle holds.
fn info(p: &Process, h: Handle) -> (Access, HandleFlags) {
    p.pin().info(h).expect("a live handle")
}

/// `p.duplicate_handle` within `p`, expecting a new handle.
fn dup(p: &Process, h: Handle, access: Access, inherit: bool, options: DuplicateOptions) -> Handle {
    p.duplicate_handle(ME, h, Some(ME), access, inherit, options)
        .expect("duplicate")
        .expect("a target handle")
}

/// The type name of a handle's object.
fn type_of(p: &Process, h: Handle) -> String {
    p.handles().into_iter().find(|r| r.handle == h).expect("a listed handle").type_name
}

/// An event whose DACL is `dacl` (the creator still holds EVENT_ALL_ACCESS).
fn event_with_dacl(p: &Process, dacl: Vec<Ace>) -> Handle {
    let sa = SecurityAttributes {
        inherit_handle: false,
        security_descriptor: Some(SecurityDescriptor { owner: None, dacl: Some(dacl) }),
    };
    p.create_event(Some(&sa), true, false, None).unwrap().handle
}

// SPEC §3 "Duplication": "`duplicate_handle` needs PROCESS_DUP_HANDLE on both process
// handles (the pseudo-handle has it); else `ACCESS_DENIED`." Seed 003: the source process
// handle "must have PROCESS_DUP_HANDLE access"; Microsoft docs: hTargetProcessHandle
// "must have the PROCESS_DUP_HANDLE access right".
#[test]
fn process_dup_handle_is_needed_on_both_process_handles() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let e = event(&p);
    let query = p.open_process(Access::PROCESS_QUERY_INFORMATION, false, p.id()).unwrap();
    let all_but_dup = p.open_process(Access::from_bits_retain(0x1F_FFBF), false, p.id()).unwrap();
    let dup_only = p.open_process(Access::PROCESS_DUP_HANDLE, false, p.id()).unwrap();
    for weak in [query, all_but_dup] {
        assert_eq!(code(p.duplicate_handle(weak, e, Some(ME), Access::empty(), false, SAME)), ACCESS_DENIED);
        assert_eq!(code(p.duplicate_handle(ME, e, Some(weak), Access::empty(), false, SAME)), ACCESS_DENIED);
        assert_eq!(
            code(p.duplicate_handle(weak, e, Some(weak), Access::empty(), false, SAME)),
            ACCESS_DENIED
        );
    }
    // PROCESS_DUP_HANDLE alone is enough, on either side.
    let d1 = p.duplicate_handle(dup_only, e, Some(ME), Access::empty(), false, SAME).unwrap().unwrap();
    let d2 = p.duplicate_handle(ME, e, Some(dup_only), Access::empty(), false, SAME).unwrap().unwrap();
    let d3 = p.duplicate_handle(dup_only, e, Some(dup_only), Access::empty(), false, SAME).unwrap().unwrap();
    for d in [d1, d2, d3] {
        assert_eq!(p.compare_object_handles(d, e), Ok(true));
    }
    assert_eq!(p.handle_count(), 7);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Duplication": "An invalid source handle: `INVALID_HANDLE`." Seed 003:
// "DuplicateHandle will fail if the source handle does not exist in the source process."
// SPEC §3 "Handles and tables": a value valid in another process's table is invalid here.
#[test]
fn a_source_handle_that_is_not_in_the_source_table_is_invalid_handle() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let child = p.create_process(false, ProcessOptions::default()).unwrap();
    // p holds only the child handle (the first value); the child holds two events.
    let _first = event(&child.process);
    let only_in_child = event(&child.process);
    assert_eq!(p.handle_count(), 1);
    // `only_in_child` names nothing in p's table.
    assert_eq!(
        code(p.duplicate_handle(ME, only_in_child, Some(ME), Access::empty(), false, SAME)),
        INVALID_HANDLE
    );
    // Read from the child's table it is fine.
    let got = p
        .duplicate_handle(child.handle, only_in_child, Some(ME), Access::empty(), false, SAME)
        .unwrap()
        .unwrap();
    assert_eq!(type_of(&p, got), "Event");
    // Garbage values, NULL, closed handles.
    p.close_handle(got).unwrap();
    for bad in
        [Handle::NULL, Handle::from_raw(3), Handle::from_raw(0x1_0000), Handle::from_raw(usize::MAX - 7), got]
    {
        assert_eq!(code(p.duplicate_handle(ME, bad, Some(ME), Access::empty(), false, SAME)), INVALID_HANDLE);
        // `got` is a live value in the child's table (only_in_child): skip it there.
        if bad != got {
            assert_eq!(
                code(p.duplicate_handle(child.handle, bad, Some(ME), Access::empty(), false, SAME)),
                INVALID_HANDLE
            );
        }
    }
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Duplication": "SAME_ACCESS copies the source's access and ignores `access`."
// (Microsoft docs: DUPLICATE_SAME_ACCESS "Ignores the dwDesiredAccess parameter".)
#[test]
fn same_access_copies_the_source_access() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let e = event(&p);
    let reduced = dup(&p, e, Access::EVENT_QUERY_STATE, false, NONE);
    let copy = dup(&p, reduced, Access::EVENT_ALL_ACCESS | Access::GENERIC_ALL, false, SAME);
    assert_eq!(info(&p, copy).0, Access::EVENT_QUERY_STATE);
    let full = dup(&p, e, Access::empty(), false, SAME);
    assert_eq!(info(&p, full).0, Access::EVENT_ALL_ACCESS);
    // ACCESS_SYSTEM_SECURITY in `access` is ignored too.
    let ignored = dup(&p, e, Access::ACCESS_SYSTEM_SECURITY, false, SAME);
    assert_eq!(info(&p, ignored).0, Access::EVENT_ALL_ACCESS);
    assert_eq!(code(p.set_event(copy)), ACCESS_DENIED);
    p.set_event(full).unwrap();
    assert_eq!(p.event_state(copy), Ok(true));
    finish(&k, base, vec![p]);
}

// SPEC §3 "Duplication": "the result may be less than the source's" (seed 003: "The
// parent and child processes may require different access ... the parent process can
// create a duplicate handle with the desired access").
#[test]
fn access_can_be_reduced() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let child = p.create_process(false, ProcessOptions::default()).unwrap();
    let e = event(&p);
    let q = p
        .duplicate_handle(ME, e, Some(child.handle), Access::EVENT_QUERY_STATE, false, NONE)
        .unwrap()
        .unwrap();
    assert_eq!(info(&child.process, q), (Access::EVENT_QUERY_STATE, HandleFlags::empty()));
    assert_eq!(code(child.process.set_event(q)), ACCESS_DENIED);
    p.set_event(e).unwrap();
    assert_eq!(child.process.event_state(q), Ok(true));
    // Access 0 is a valid reduction: a handle that can do nothing but be closed.
    let nothing = dup(&p, e, Access::empty(), false, NONE);
    assert_eq!(info(&p, nothing).0, Access::empty());
    assert_eq!(code(p.event_state(nothing)), ACCESS_DENIED);
    p.close_handle(nothing).unwrap();
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Duplication": the result may be "more if the object's DACL grants the whole
// requested mask to the target's token; else `ACCESS_DENIED`". (Microsoft docs: "In some
// cases, the new handle can have more access rights than the original handle.")
#[test]
fn access_can_grow_only_as_far_as_the_dacl_grants() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    // Default DACL: the creator's user holds GENERIC_ALL, so growth back is allowed.
    let e = event(&p);
    let q = dup(&p, e, Access::EVENT_QUERY_STATE, false, NONE);
    let grown = dup(&p, q, Access::EVENT_ALL_ACCESS, false, NONE);
    assert_eq!(info(&p, grown).0, Access::EVENT_ALL_ACCESS);

    // A DACL granting Everyone only SYNCHRONIZE | EVENT_QUERY_STATE.
    let limited =
        event_with_dacl(&p, vec![Ace::Allow(Sid::EVERYONE, Access::SYNCHRONIZE | Access::EVENT_QUERY_STATE)]);
    assert_eq!(info(&p, limited).0, Access::EVENT_ALL_ACCESS, "the creator holds ALL_ACCESS");
    let sync = dup(&p, limited, Access::SYNCHRONIZE, false, NONE);
    let up = dup(&p, sync, Access::SYNCHRONIZE | Access::EVENT_QUERY_STATE, false, NONE);
    assert_eq!(info(&p, up).0, Access::SYNCHRONIZE | Access::EVENT_QUERY_STATE);
    // Not granted at all, or granted only in part: ACCESS_DENIED.
    assert_eq!(
        code(p.duplicate_handle(ME, sync, Some(ME), Access::EVENT_MODIFY_STATE, false, NONE)),
        ACCESS_DENIED
    );
    assert_eq!(
        code(p.duplicate_handle(
            ME,
            sync,
            Some(ME),
            Access::SYNCHRONIZE | Access::EVENT_MODIFY_STATE,
            false,
            NONE
        )),
        ACCESS_DENIED
    );
    // The owner's implicit READ_CONTROL | WRITE_DAC count as granted.
    let rc = dup(&p, sync, Access::READ_CONTROL | Access::WRITE_DAC, false, NONE);
    assert_eq!(info(&p, rc).0, Access::READ_CONTROL | Access::WRITE_DAC);
    // The full-access source may still hand out anything (a reduction of its own access).
    let from_full = dup(&p, limited, Access::EVENT_MODIFY_STATE, false, NONE);
    assert_eq!(info(&p, from_full).0, Access::EVENT_MODIFY_STATE);

    // A NULL DACL grants everything: any growth is allowed.
    let sa = SecurityAttributes {
        inherit_handle: false,
        security_descriptor: Some(SecurityDescriptor::default()),
    };
    let open = p.create_event(Some(&sa), true, false, None).unwrap().handle;
    let none = dup(&p, open, Access::empty(), false, NONE);
    let back = dup(&p, none, Access::GENERIC_ALL, false, NONE);
    assert_eq!(info(&p, back).0, Access::EVENT_ALL_ACCESS);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Duplication": growth is checked against "the target's token": a handle
// duplicated into another user's process cannot grow there, though the source's own
// user could grow it (SPEC §3 "Security": the default DACL allows the creator's user and
// SYSTEM only).
#[test]
fn growth_is_checked_against_the_target_token() {
    let k = Kernel::new();
    let base = k.object_count();
    // Starting children with other tokens needs AssignPrimaryToken (SPEC §3 "Security").
    let p = privileged_root(&k);
    let other_user = p
        .create_process(false, ProcessOptions { token: Some(Token::new(Sid::user(2))), ..Default::default() })
        .unwrap();
    let system = p
        .create_process(false, ProcessOptions { token: Some(Token::new(Sid::SYSTEM)), ..Default::default() })
        .unwrap();
    let e = event(&p);
    let q = dup(&p, e, Access::EVENT_QUERY_STATE, false, NONE);
    // p (user 1000) -> other user: growth denied; reduction from a full handle is fine.
    assert_eq!(
        code(p.duplicate_handle(ME, q, Some(other_user.handle), Access::EVENT_ALL_ACCESS, false, NONE)),
        ACCESS_DENIED
    );
    let theirs = p
        .duplicate_handle(ME, e, Some(other_user.handle), Access::EVENT_MODIFY_STATE, false, NONE)
        .unwrap()
        .unwrap();
    other_user.process.set_event(theirs).unwrap();
    // Within the other user's process, growth is denied too.
    assert_eq!(
        code(other_user.process.duplicate_handle(
            ME,
            theirs,
            Some(ME),
            Access::EVENT_ALL_ACCESS,
            false,
            NONE
        )),
        ACCESS_DENIED
    );
    // p -> SYSTEM: the default DACL grants SYSTEM GENERIC_ALL.
    let sys = p
        .duplicate_handle(ME, q, Some(system.handle), Access::EVENT_ALL_ACCESS, false, NONE)
        .unwrap()
        .unwrap();
    assert_eq!(info(&system.process, sys).0, Access::EVENT_ALL_ACCESS);
    finish(&k, base, vec![p, other_user.process, system.process]);
}

// SPEC §3 "Duplication": "`access` is generic-mapped" (Microsoft docs, DuplicateHandle:
// dwDesiredAccess; NT maps it with the type's GENERIC_MAPPING).
#[test]
fn requested_access_is_generic_mapped() {
    let k = Kernel::new();
    let base = k.object_count();
    let dir = tempfile::tempdir().unwrap();
    let p = root(&k);
    let e = event(&p);
    let cases = [
        (Access::GENERIC_READ, 0x20001),
        (Access::GENERIC_WRITE, 0x20002),
        (Access::GENERIC_EXECUTE, 0x120000),
        (Access::GENERIC_ALL, 0x1F0003),
        (Access::GENERIC_READ | Access::GENERIC_WRITE, 0x20003),
    ];
    for (asked, want) in cases {
        let d = dup(&p, e, asked, false, NONE);
        assert_eq!(info(&p, d).0.bits(), want, "{asked:?}");
    }
    let m = p.create_mutex(None, false, None).unwrap().handle;
    assert_eq!(info(&p, dup(&p, m, Access::GENERIC_READ, false, NONE)).0.bits(), 0x20001);
    assert_eq!(info(&p, dup(&p, m, Access::GENERIC_WRITE, false, NONE)).0.bits(), 0x20000);
    let f = p
        .create_file(&dir.path().join("f"), Access::GENERIC_ALL, None, CreationDisposition::CreateAlways)
        .unwrap();
    assert_eq!(info(&p, dup(&p, f, Access::GENERIC_READ, false, NONE)).0.bits(), 0x120089);
    assert_eq!(info(&p, dup(&p, f, Access::GENERIC_WRITE, false, NONE)).0.bits(), 0x120116);
    let pr = dup(&p, ME, Access::GENERIC_READ, false, NONE);
    assert_eq!(info(&p, pr).0.bits(), 0x20410);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Duplication": "bits outside the type's valid mask are dropped silently".
#[test]
fn unknown_access_bits_are_dropped_silently() {
    let k = Kernel::new();
    let base = k.object_count();
    // Starting children with other tokens needs AssignPrimaryToken (SPEC §3 "Security").
    let p = privileged_root(&k);
    let e = event(&p);
    let junk = Access::from_bits_retain(0x0000_8000 | 0x0040_0000 | 0x0800_0000);
    let d = dup(&p, e, Access::EVENT_ALL_ACCESS | junk, false, NONE);
    assert_eq!(info(&p, d).0, Access::EVENT_ALL_ACCESS);
    // Junk alone is a duplicate with no access at all.
    let nothing = dup(&p, e, junk, false, NONE);
    assert_eq!(info(&p, nothing).0, Access::empty());
    // From a reduced source, unknown bits do not count as growth.
    let q = dup(&p, e, Access::EVENT_QUERY_STATE, false, NONE);
    let other = p
        .create_process(false, ProcessOptions { token: Some(Token::new(Sid::user(9))), ..Default::default() })
        .unwrap();
    let there =
        p.duplicate_handle(q, q, None, Access::empty(), false, NONE).map(|_| ()).map_err(|e| e.code());
    assert_eq!(there, Err(INVALID_HANDLE), "an event is not a process");
    let in_other = p
        .duplicate_handle(ME, q, Some(other.handle), Access::EVENT_QUERY_STATE | junk, false, NONE)
        .unwrap()
        .unwrap();
    assert_eq!(info(&other.process, in_other).0, Access::EVENT_QUERY_STATE);
    // A process handle: bits beyond PROCESS_ALL_ACCESS are dropped the same way.
    let pr = dup(&p, ME, Access::from_bits_retain(0x0020_0000) | Access::PROCESS_DUP_HANDLE, false, NONE);
    assert_eq!(info(&p, pr).0, Access::PROCESS_DUP_HANDLE);
    finish(&k, base, vec![p, other.process]);
}

// SPEC §3 "Duplication": "`inherit` sets the new handle's INHERIT flag; SAME_ATTRIBUTES
// copies the source's flags instead." (Microsoft docs: DUPLICATE_SAME_ATTRIBUTES "Duplicates
// the handle attributes"; bInheritHandle "A variable that indicates whether the handle is
// inheritable".)
#[test]
fn inherit_and_same_attributes_decide_the_new_flags() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let plain = event(&p);
    let inh = inheritable_event(&p);
    let prot = event(&p);
    let all = HandleFlags::INHERIT | HandleFlags::PROTECT_FROM_CLOSE;
    p.set_handle_information(prot, all, all).unwrap();

    assert_eq!(info(&p, dup(&p, plain, Access::empty(), true, SAME)).1, HandleFlags::INHERIT);
    assert_eq!(info(&p, dup(&p, inh, Access::empty(), false, SAME)).1, HandleFlags::empty());
    // PROTECT_FROM_CLOSE is not carried over without SAME_ATTRIBUTES.
    assert_eq!(info(&p, dup(&p, prot, Access::empty(), false, SAME)).1, HandleFlags::empty());
    assert_eq!(info(&p, dup(&p, prot, Access::empty(), true, SAME)).1, HandleFlags::INHERIT);

    let same_attr = SAME | DuplicateOptions::SAME_ATTRIBUTES;
    assert_eq!(info(&p, dup(&p, prot, Access::empty(), false, same_attr)).1, all);
    assert_eq!(info(&p, dup(&p, inh, Access::empty(), false, same_attr)).1, HandleFlags::INHERIT);
    assert_eq!(info(&p, dup(&p, plain, Access::empty(), true, same_attr)).1, HandleFlags::empty());
    // A duplicate made inheritable is inherited by the next child.
    let made = dup(&p, plain, Access::EVENT_QUERY_STATE, true, NONE);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    assert_eq!(info(&child.process, made), (Access::EVENT_QUERY_STATE, HandleFlags::INHERIT));
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Duplication": "CLOSE_SOURCE closes the source handle even when the duplication
// fails (once the source was valid)" (Microsoft docs: DUPLICATE_CLOSE_SOURCE "Closes the
// source handle. This occurs regardless of any error status returned.")
#[test]
fn close_source_closes_even_when_the_duplication_fails() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let query = p.open_process(Access::PROCESS_QUERY_INFORMATION, false, p.id()).unwrap();
    let not_a_process = p.create_mutex(None, false, None).unwrap().handle;
    let gone = p.create_process(false, ProcessOptions::default()).unwrap();
    gone.process.terminate(0).unwrap();
    let objects = k.object_count();

    // The target process handle is invalid.
    let s = event(&p);
    assert_eq!(
        code(p.duplicate_handle(ME, s, Some(Handle::from_raw(0x7770)), Access::empty(), false, CLOSE | SAME)),
        INVALID_HANDLE
    );
    assert_eq!(code(p.get_handle_information(s)), INVALID_HANDLE, "the source was closed");
    assert_eq!(k.object_count(), objects, "and its object destroyed");

    // The target process handle is not a process.
    let s = event(&p);
    assert_eq!(
        code(p.duplicate_handle(ME, s, Some(not_a_process), Access::empty(), false, CLOSE)),
        INVALID_HANDLE
    );
    assert_eq!(code(p.get_handle_information(s)), INVALID_HANDLE);

    // The target process handle lacks PROCESS_DUP_HANDLE.
    let s = event(&p);
    assert_eq!(
        code(p.duplicate_handle(ME, s, Some(query), Access::empty(), false, CLOSE | SAME)),
        ACCESS_DENIED
    );
    assert_eq!(code(p.get_handle_information(s)), INVALID_HANDLE);

    // The target process is terminated.
    let s = event(&p);
    assert_eq!(
        code(p.duplicate_handle(ME, s, Some(gone.handle), Access::empty(), false, CLOSE | SAME)),
        ACCESS_DENIED
    );
    assert_eq!(code(p.get_handle_information(s)), INVALID_HANDLE);

    // The access check fails (growth the DACL does not grant).
    let s = event_with_dacl(&p, vec![Ace::Allow(Sid::EVERYONE, Access::SYNCHRONIZE)]);
    let weak = dup(&p, s, Access::SYNCHRONIZE, false, NONE);
    p.close_handle(s).unwrap();
    assert_eq!(
        code(p.duplicate_handle(ME, weak, Some(ME), Access::EVENT_MODIFY_STATE, false, CLOSE)),
        ACCESS_DENIED
    );
    assert_eq!(code(p.get_handle_information(weak)), INVALID_HANDLE);

    // ACCESS_SYSTEM_SECURITY asked for: PRIVILEGE_NOT_HELD, source closed all the same.
    let s = event(&p);
    assert_eq!(code(p.duplicate_handle(ME, s, Some(ME), Access::ACCESS_SYSTEM_SECURITY, false, CLOSE)), 1314);
    assert_eq!(code(p.get_handle_information(s)), INVALID_HANDLE);

    assert_eq!(k.object_count(), objects);
    finish(&k, base, vec![p, gone.process]);
}

// SPEC §3 "Duplication": "Within one process, a CLOSE_SOURCE duplicate of a closable
// source keeps the same handle value." (Windows reuses the freed entry at once.)
#[test]
fn close_source_within_one_process_keeps_the_handle_value() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let _a = event(&p);
    let e = event(&p);
    let _b = event(&p);
    let moved = dup(&p, e, Access::EVENT_QUERY_STATE, true, CLOSE);
    assert_eq!(moved, e, "same value");
    assert_eq!(info(&p, moved), (Access::EVENT_QUERY_STATE, HandleFlags::INHERIT));
    assert_eq!(p.handle_count(), 3);
    let again = dup(&p, moved, Access::empty(), false, CLOSE | SAME | DuplicateOptions::SAME_ATTRIBUTES);
    assert_eq!(again, e);
    assert_eq!(info(&p, again), (Access::EVENT_QUERY_STATE, HandleFlags::INHERIT));
    // Through an explicit process handle to itself, the same.
    let me = dup(&p, ME, Access::empty(), false, SAME);
    let third =
        p.duplicate_handle(me, again, Some(me), Access::empty(), false, CLOSE | SAME).unwrap().unwrap();
    assert_eq!(third, e);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Duplication": CLOSE_SOURCE closes the source "except a PROTECT_FROM_CLOSE
// source, which is never closed by it (the call still succeeds)".
#[test]
fn close_source_skips_a_protected_source() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let child = p.create_process(false, ProcessOptions::default()).unwrap();
    let e = event(&p);
    p.set_handle_information(e, HandleFlags::PROTECT_FROM_CLOSE, HandleFlags::PROTECT_FROM_CLOSE).unwrap();
    let d = dup(&p, e, Access::empty(), false, CLOSE | SAME);
    assert_ne!(d, e, "the source stays, so the duplicate is a new value");
    assert_eq!(info(&p, e), (Access::EVENT_ALL_ACCESS, HandleFlags::PROTECT_FROM_CLOSE));
    assert_eq!(info(&p, d), (Access::EVENT_ALL_ACCESS, HandleFlags::empty()));
    // Into another process too.
    let there =
        p.duplicate_handle(ME, e, Some(child.handle), Access::empty(), false, CLOSE | SAME).unwrap().unwrap();
    child.process.set_event(there).unwrap();
    assert_eq!(p.event_state(e), Ok(true));
    // With no target: succeeds, nothing closed.
    assert_eq!(p.duplicate_handle(ME, e, None, Access::empty(), false, CLOSE), Ok(None));
    assert_eq!(p.get_handle_information(e), Ok(HandleFlags::PROTECT_FROM_CLOSE));
    // Read from another process's table.
    let theirs = event(&child.process);
    child
        .process
        .set_handle_information(theirs, HandleFlags::PROTECT_FROM_CLOSE, HandleFlags::PROTECT_FROM_CLOSE)
        .unwrap();
    let got = p
        .duplicate_handle(child.handle, theirs, Some(ME), Access::empty(), false, CLOSE | SAME)
        .unwrap()
        .unwrap();
    assert_eq!(type_of(&p, got), "Event");
    assert_eq!(child.process.get_handle_information(theirs), Ok(HandleFlags::PROTECT_FROM_CLOSE));
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Duplication": "With `target_process = None`, CLOSE_SOURCE just closes the
// source and the call returns `None`; `None` without CLOSE_SOURCE is `INVALID_PARAMETER`."
// (Microsoft docs: hTargetProcessHandle "can be NULL only if DUPLICATE_CLOSE_SOURCE".)
#[test]
fn no_target_with_and_without_close_source() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let child = p.create_process(false, ProcessOptions::default()).unwrap();
    let objects = k.object_count();
    let e = event(&p);
    assert_eq!(code(p.duplicate_handle(ME, e, None, Access::empty(), false, SAME)), INVALID_PARAMETER);
    assert_eq!(code(p.duplicate_handle(ME, e, None, Access::empty(), true, NONE)), INVALID_PARAMETER);
    assert_eq!(p.get_handle_information(e), Ok(HandleFlags::empty()), "not closed");
    assert_eq!(p.duplicate_handle(ME, e, None, Access::empty(), false, CLOSE), Ok(None));
    assert_eq!(code(p.get_handle_information(e)), INVALID_HANDLE);
    assert_eq!(k.object_count(), objects, "the last handle closed: destroyed");
    // Closing a handle in another process this way (the remote CloseHandle idiom).
    let theirs = event(&child.process);
    assert_eq!(
        p.duplicate_handle(child.handle, theirs, None, Access::empty(), false, CLOSE | SAME),
        Ok(None)
    );
    assert_eq!(code(child.process.close_handle(theirs)), INVALID_HANDLE);
    assert_eq!(child.process.handle_count(), 0);
    // An invalid source with no target: INVALID_HANDLE (`theirs` is closed in the child).
    assert_eq!(
        code(p.duplicate_handle(child.handle, theirs, None, Access::empty(), false, CLOSE)),
        INVALID_HANDLE
    );
    assert_eq!(
        code(p.duplicate_handle(ME, Handle::from_raw(0x7770), None, Access::empty(), false, CLOSE)),
        INVALID_HANDLE
    );
    assert_eq!(p.handle_count(), 1, "the child handle is untouched");
    assert_eq!(k.object_count(), objects);
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Duplication": "The source is not closed when the source process handle is
// invalid or lacks PROCESS_DUP_HANDLE, or the source handle itself is invalid."
#[test]
fn the_source_survives_when_the_source_side_is_bad() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let e = event(&p);
    let query = p.open_process(Access::PROCESS_QUERY_INFORMATION, false, p.id()).unwrap();
    let not_a_process = p.create_semaphore(None, 0, 1, None).unwrap().handle;
    let gone = p.create_process(false, ProcessOptions::default()).unwrap();
    gone.process.terminate(0).unwrap();
    for opts in [CLOSE, CLOSE | SAME] {
        for target in [Some(ME), None] {
            let bad_source_process = [
                (Handle::from_raw(0x7770), INVALID_HANDLE),
                (Handle::NULL, INVALID_HANDLE),
                (Handle::CURRENT_THREAD, INVALID_HANDLE),
                (not_a_process, INVALID_HANDLE),
                (query, ACCESS_DENIED),
                (gone.handle, ACCESS_DENIED),
            ];
            for (sp, want) in bad_source_process {
                assert_eq!(
                    code(p.duplicate_handle(sp, e, target, Access::empty(), false, opts)),
                    want,
                    "{sp:?}"
                );
                assert_eq!(p.get_handle_information(e), Ok(HandleFlags::empty()), "source survives {sp:?}");
            }
            // The source handle itself invalid (a value of e's with a different index).
            let bad = Handle::from_raw(e.raw() + 0x400);
            assert_eq!(
                code(p.duplicate_handle(ME, bad, target, Access::empty(), false, opts)),
                INVALID_HANDLE
            );
        }
    }
    assert_eq!(p.handle_count(), 4);
    p.set_event(e).unwrap();
    finish(&k, base, vec![p, gone.process]);
}

// SPEC §3 "Duplication": "Duplicating `Handle::CURRENT_PROCESS` yields a real process
// handle." Seed 003: "A process may also need a real, inheritable process handle—rather
// than the pseudohandle produced by GetCurrentProcess—for use by a child process."
#[test]
fn duplicating_the_current_process_gives_a_real_handle() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let real = dup(&p, ME, Access::empty(), true, SAME);
    assert!(!real.is_pseudo());
    assert_eq!(info(&p, real), (Access::PROCESS_ALL_ACCESS, HandleFlags::INHERIT));
    assert_eq!(type_of(&p, real), "Process");
    assert_eq!(p.compare_object_handles(real, ME), Ok(true));
    // The child inherits it and uses it to reach into the parent's table.
    let e = event(&p);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    let c = &child.process;
    assert_eq!(type_of(c, real), "Process");
    assert_eq!(c.compare_object_handles(real, ME), Ok(false), "it names the parent, not the child");
    let got = c.duplicate_handle(real, e, Some(ME), Access::empty(), false, SAME).unwrap().unwrap();
    c.set_event(got).unwrap();
    assert_eq!(p.event_state(e), Ok(true));
    // -1 read from another process's table names that process.
    let child_self =
        p.duplicate_handle(child.handle, ME, Some(ME), Access::empty(), false, SAME).unwrap().unwrap();
    assert_eq!(p.compare_object_handles(child_self, child.handle), Ok(true));
    // With reduced access.
    let limited = dup(&p, ME, Access::PROCESS_QUERY_INFORMATION, false, NONE);
    assert_eq!(info(&p, limited).0, Access::PROCESS_QUERY_INFORMATION);
    assert_eq!(code(p.duplicate_handle(limited, e, Some(ME), Access::empty(), false, SAME)), ACCESS_DENIED);
    // CLOSE_SOURCE on -1 closes nothing.
    let d = dup(&p, ME, Access::empty(), false, SAME | CLOSE);
    assert_eq!(type_of(&p, d), "Process");
    assert!(!p.is_terminated());
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Objects and lifetime": "a process handle to a terminated process fails as a
// duplication source or target with `ACCESS_DENIED`".
#[test]
fn a_terminated_process_as_source_or_target_is_access_denied() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    let theirs = event(&child.process);
    let e = event(&p);
    child.process.terminate(3).unwrap();
    assert_eq!(
        code(p.duplicate_handle(child.handle, theirs, Some(ME), Access::empty(), false, SAME)),
        ACCESS_DENIED
    );
    assert_eq!(
        code(p.duplicate_handle(child.handle, ME, Some(ME), Access::empty(), false, SAME)),
        ACCESS_DENIED
    );
    assert_eq!(
        code(p.duplicate_handle(ME, e, Some(child.handle), Access::empty(), false, SAME)),
        ACCESS_DENIED
    );
    assert_eq!(p.get_handle_information(e), Ok(HandleFlags::empty()));
    // The terminated process cannot duplicate either (calls made as it are ACCESS_DENIED).
    assert_eq!(
        code(child.process.duplicate_handle(ME, ME, Some(ME), Access::empty(), false, SAME)),
        ACCESS_DENIED
    );
    // A handle to a terminated process is still a valid handle: it can itself be
    // duplicated and closed.
    let copy = dup(&p, child.handle, Access::empty(), false, SAME);
    assert_eq!(p.compare_object_handles(copy, child.handle), Ok(true));
    p.close_handle(copy).unwrap();
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Duplication": "Duplicates and inherited handles count as distinct handles for
// lifetime: the object dies only when all of them are closed." Seed 003: "Inherited and
// duplicate handles are both distinct from the original handles and are represented in
// the reference count."
#[test]
fn duplicates_count_as_distinct_handles() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let child = p.create_process(false, ProcessOptions::default()).unwrap();
    let objects = k.object_count();
    let e = event(&p);
    let d1 = dup(&p, e, Access::empty(), false, SAME);
    let d2 = p.duplicate_handle(ME, e, Some(child.handle), Access::empty(), false, SAME).unwrap().unwrap();
    assert_ne!(d1, e);
    assert_eq!(p.handles().into_iter().find(|r| r.handle == e).unwrap().object_handles, 3);
    p.close_handle(e).unwrap();
    assert_eq!(k.object_count(), objects + 1);
    p.set_event(d1).unwrap();
    p.close_handle(d1).unwrap();
    assert_eq!(k.object_count(), objects + 1, "the child's duplicate keeps it alive");
    assert_eq!(child.process.event_state(d2), Ok(true));
    child.process.close_handle(d2).unwrap();
    assert_eq!(k.object_count(), objects, "all closed: destroyed");
    // A name lives as long as any duplicate.
    let m = p.create_mutex(None, false, Some("dup-keeps-name")).unwrap().handle;
    let md =
        p.duplicate_handle(ME, m, Some(child.handle), Access::SYNCHRONIZE, false, NONE).unwrap().unwrap();
    p.close_handle(m).unwrap();
    let reopened = p.open_mutex(Access::SYNCHRONIZE, false, "dup-keeps-name").unwrap();
    p.close_handle(reopened).unwrap();
    child.process.close_handle(md).unwrap();
    assert_eq!(code(p.open_mutex(Access::SYNCHRONIZE, false, "dup-keeps-name")), FILE_NOT_FOUND);
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Objects and lifetime": "handles made by duplication ... share the one file
// object and so its pointer" (Microsoft docs, DuplicateHandle: "if you duplicate a file
// handle, the current file position is always the same for both handles").
#[test]
fn duplicated_file_handles_share_the_file_pointer() {
    let k = Kernel::new();
    let base = k.object_count();
    let dir = tempfile::tempdir().unwrap();
    let p = root(&k);
    let child = p.create_process(false, ProcessOptions::default()).unwrap();
    let f = p
        .create_file(
            &dir.path().join("dup.txt"),
            Access::GENERIC_READ | Access::GENERIC_WRITE,
            None,
            CreationDisposition::CreateAlways,
        )
        .unwrap();
    p.write_file(f, b"0123456789").unwrap();
    let there =
        p.duplicate_handle(ME, f, Some(child.handle), Access::GENERIC_READ, false, NONE).unwrap().unwrap();
    assert_eq!(child.process.set_file_pointer(there, SeekFrom::Start(2)), Ok(2));
    let mut buf = [0u8; 3];
    assert_eq!(p.read_file(f, &mut buf), Ok(3));
    assert_eq!(&buf, b"234");
    assert_eq!(child.process.read_file(there, &mut buf), Ok(3));
    assert_eq!(&buf, b"567");
    // The reduced duplicate cannot write.
    assert_eq!(code(child.process.write_file(there, b"x")), ACCESS_DENIED);
    finish(&k, base, vec![p, child.process]);
}

// Seed 003: "Note that three processes are involved, including the calling process": a
// broker duplicates from process S into process T with less access, closing the source.
#[test]
fn a_third_process_moves_a_handle_from_s_to_t() {
    let k = Kernel::new();
    let base = k.object_count();
    let broker = root(&k);
    let s = broker.create_process(false, ProcessOptions::default()).unwrap();
    let t = broker.create_process(false, ProcessOptions::default()).unwrap();
    let in_s = s.process.create_semaphore(None, 0, 10, None).unwrap().handle;
    let _t_own = event(&t.process);
    let in_t = broker
        .duplicate_handle(s.handle, in_s, Some(t.handle), Access::SEMAPHORE_MODIFY_STATE, false, CLOSE)
        .unwrap()
        .unwrap();
    assert_eq!(code(s.process.close_handle(in_s)), INVALID_HANDLE, "closed in S");
    assert_eq!(info(&t.process, in_t), (Access::SEMAPHORE_MODIFY_STATE, HandleFlags::empty()));
    assert_eq!(t.process.release_semaphore(in_t, 4), Ok(0));
    assert_eq!(broker.handle_count(), 2, "the broker holds only the two process handles");
    finish(&k, base, vec![broker, s.process, t.process]);
}

// SPEC §6: every public function, given any handle value, any access mask, any process in
// any state, returns a value or one of the listed errors — never panics, never leaks.
#[test]
fn bad_input_gives_clear_errors_and_leaks_nothing() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let child = p.create_process(false, ProcessOptions::default()).unwrap();
    let e = event(&p);
    let m = p.create_mutex(None, false, None).unwrap().handle;
    let mut rng = Rng::new(3);
    let handles = [
        ME,
        Handle::CURRENT_THREAD,
        Handle::from_raw(usize::MAX - 5),
        Handle::NULL,
        Handle::from_raw(1),
        Handle::from_raw(0x7770),
        Handle::from_raw(usize::MAX - 6),
        Handle::from_raw(1 << 40),
        e,
        m,
        child.handle,
    ];
    let masks =
        [0u32, 1, 0x1F0003, 0x0100_0000, 0x0200_0000, 0xFFFF_FFFF, 0x8000_0000, 0x00E0_0000, 0x0C00_0000];
    let rounds = if cfg!(miri) { 150 } else { 3_000 };
    for _ in 0..rounds {
        let sp = *rng.pick(&handles);
        let src = *rng.pick(&handles);
        let tp = if rng.chance(4) { None } else { Some(*rng.pick(&handles)) };
        let access = Access::from_bits_retain(*rng.pick(&masks));
        let opts = DuplicateOptions::from_bits_retain(rng.below(16) as u32);
        // Keep e, m and the child handle alive so the handle pool stays meaningful.
        let opts = if [e, m, child.handle].contains(&src) && sp == ME { opts - CLOSE } else { opts };
        match p.duplicate_handle(sp, src, tp, access, rng.chance(2), opts) {
            Ok(Some(h)) => {
                let target = if tp == Some(child.handle) { &child.process } else { &p };
                assert!(!h.is_pseudo());
                let (a, _) = info(target, h);
                assert_eq!(a.bits() & !0x1F_FFFF, 0, "a handle never holds bits outside its valid mask");
                target
                    .close_handle(h)
                    .or_else(|_| {
                        target.set_handle_information(
                            h,
                            HandleFlags::PROTECT_FROM_CLOSE,
                            HandleFlags::empty(),
                        )?;
                        target.close_handle(h)
                    })
                    .unwrap();
            }
            Ok(None) => assert!(tp.is_none() && opts.contains(CLOSE)),
            Err(err) => assert!([5, 6, 87, 1314].contains(&err.code()), "{err:?}"),
        }
    }
    assert_eq!(p.handle_count(), 3);
    assert_eq!(p.get_handle_information(e), Ok(HandleFlags::empty()));
    // Everything made as a terminated process is ACCESS_DENIED.
    child.process.terminate(0).unwrap();
    assert_eq!(
        code(child.process.duplicate_handle(ME, ME, Some(ME), Access::empty(), false, SAME)),
        ACCESS_DENIED
    );
    assert_eq!(
        code(child.process.duplicate_handle(ME, e, None, Access::empty(), false, CLOSE)),
        ACCESS_DENIED
    );
    finish(&k, base, vec![p, child.process]);
}
