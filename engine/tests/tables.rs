//! Handles and tables: SPEC §3 "Handles and tables" (and the error order it ends with).

mod common;

use std::collections::BTreeSet;

use common::*;
use kobj::{Access, CreationDisposition, DuplicateOptions, Handle, HandleFlags, Kernel, ProcessOptions};

// SPEC §3 "Handles and tables": "A handle value is process-relative: a non-zero multiple
// of 4."
#[test]
fn handle_values_are_nonzero_multiples_of_four() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let dir = tempfile::tempdir().unwrap();
    let mut seen = BTreeSet::new();
    for i in 0..600 {
        let h = match i % 7 {
            0 => p.create_event(None, true, false, None).unwrap().handle,
            1 => p.create_mutex(None, false, None).unwrap().handle,
            2 => p.create_semaphore(None, 0, 5, None).unwrap().handle,
            3 => p.create_waitable_timer(None, false, None).unwrap().handle,
            4 => p.create_job_object(None, None).unwrap().handle,
            5 => dup_same(&p, Handle::CURRENT_PROCESS),
            _ => p
                .create_file(
                    &dir.path().join(format!("f{i}")),
                    Access::GENERIC_READ | Access::GENERIC_WRITE,
                    None,
                    CreationDisposition::CreateAlways,
                )
                .unwrap(),
        };
        assert_ne!(h.raw(), 0, "handle {i} is zero");
        assert_eq!(h.raw() % 4, 0, "handle {h:?} is not a multiple of 4");
        assert!(!h.is_pseudo(), "a real handle is never a pseudo-handle");
        assert!(seen.insert(h.raw()), "handle {h:?} handed out twice while live");
    }
    assert_eq!(p.handle_count(), 600);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Handles and tables": "The low two bits are ignored on every lookup (h | 1,
// h | 2, h | 3 act on h)." (As NT: the low bits are OBJ_HANDLE_TAGBITS.)
#[test]
fn low_two_bits_are_ignored() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let other = event(&p);
    let h = event(&p);
    for bits in 1..=3usize {
        let tagged = Handle::from_raw(h.raw() | bits);
        p.reset_event(h).unwrap();
        p.set_event(tagged).unwrap();
        assert_eq!(p.event_state(h), Ok(true), "set_event(h|{bits}) set h's event");
        assert_eq!(p.event_state(other), Ok(false), "and no other");
        p.reset_event(tagged).unwrap();
        assert_eq!(p.event_state(h), Ok(false));

        p.set_handle_information(tagged, HandleFlags::INHERIT, HandleFlags::INHERIT).unwrap();
        assert_eq!(p.get_handle_information(h), Ok(HandleFlags::INHERIT));
        assert_eq!(p.get_handle_information(tagged), Ok(HandleFlags::INHERIT));
        p.set_handle_information(h, HandleFlags::INHERIT, HandleFlags::empty()).unwrap();
        assert_eq!(p.get_handle_information(tagged), Ok(HandleFlags::empty()));

        assert_eq!(p.compare_object_handles(h, tagged), Ok(true));
        assert_eq!(p.compare_object_handles(other, tagged), Ok(false));
    }
    // close_handle(h|3) closes h itself.
    let before = k.object_count();
    p.close_handle(Handle::from_raw(h.raw() | 3)).unwrap();
    assert_eq!(k.object_count(), before - 1, "the tagged close closed h's object");
    assert_eq!(code(p.set_event(h)), INVALID_HANDLE);
    assert_eq!(code(p.close_handle(Handle::from_raw(h.raw() | 1))), INVALID_HANDLE);
    assert_eq!(p.event_state(other), Ok(false), "the other handle is untouched");
    finish(&k, base, vec![p]);
}

// SPEC §3 "Handles and tables": "A value that names no live entry of this process's
// table is INVALID_HANDLE, whatever another process holds there." (Seed 000: handles
// are process-relative.)
#[test]
fn a_value_from_another_process_is_invalid_here() {
    let k = Kernel::new();
    let base = k.object_count();
    let a = root(&k);
    let b = root(&k);
    let h = event(&a);
    assert_eq!(b.handle_count(), 0);
    assert_eq!(code(b.set_event(h)), INVALID_HANDLE);
    assert_eq!(code(b.get_handle_information(h)), INVALID_HANDLE);
    assert_eq!(code(b.close_handle(h)), INVALID_HANDLE);
    assert_eq!(code(b.compare_object_handles(h, h)), INVALID_HANDLE);
    // A child made without inheritance holds nothing either, even an inheritable value.
    let hi = inheritable_event(&a);
    let child = a.create_process(false, ProcessOptions::default()).unwrap();
    assert_eq!(code(child.process.set_event(hi)), INVALID_HANDLE);
    assert_eq!(code(child.process.set_event(h)), INVALID_HANDLE);
    // When b holds the same value for its own object, it acts on b's object only.
    let hb = event(&b);
    assert_eq!(hb, h, "fresh tables hand out the same first value");
    b.set_event(hb).unwrap();
    assert_eq!(a.event_state(h), Ok(false), "a's object is untouched");
    b.close_handle(hb).unwrap();
    a.set_event(h).unwrap();
    assert_eq!(code(b.set_event(h)), INVALID_HANDLE);
    finish(&k, base, vec![a, b, child.process]);
}

// SPEC §3 "Handles and tables": the pseudo-handles -1 to -6 are never stored in a table;
// "closing any of them succeeds and does nothing".
#[test]
fn closing_a_pseudo_handle_succeeds_and_does_nothing() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let handles: Vec<Handle> = (0..8).map(|_| event(&p)).collect();
    let objects = k.object_count();
    for ph in pseudo_handles() {
        assert_eq!(p.close_handle(ph), Ok(()), "close_handle({ph:?})");
        assert_eq!(p.close_handle(ph), Ok(()), "again: still nothing to close");
    }
    assert_eq!(p.handle_count(), handles.len());
    assert_eq!(k.object_count(), objects);
    assert!(!p.is_terminated(), "closing -1 does not end the process");
    for &h in &handles {
        p.set_event(h).unwrap();
    }
    // -1 still names the process afterwards.
    let d = dup_same(&p, Handle::CURRENT_PROCESS);
    assert_eq!(p.compare_object_handles(Handle::CURRENT_PROCESS, d), Ok(true));
    finish(&k, base, vec![p]);
}

// SPEC §3 "Handles and tables": "used where an object is expected, -1 is the calling
// process" and seed 003: "Duplicating Handle::CURRENT_PROCESS yields a real process
// handle".
#[test]
fn minus_one_is_the_calling_process() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let q = root(&k);
    let d = dup_same(&p, Handle::CURRENT_PROCESS);
    assert!(!d.is_pseudo());
    assert_eq!(p.compare_object_handles(Handle::CURRENT_PROCESS, d), Ok(true));
    assert_eq!(p.compare_object_handles(d, Handle::CURRENT_PROCESS), Ok(true));
    assert_eq!(p.compare_object_handles(Handle::CURRENT_PROCESS, Handle::CURRENT_PROCESS), Ok(true));
    // A handle to another process is not -1.
    let hq = p.open_process(Access::PROCESS_QUERY_INFORMATION, false, q.id()).unwrap();
    assert_eq!(p.compare_object_handles(Handle::CURRENT_PROCESS, hq), Ok(false));
    // -1 is a process, not an event: type check, INVALID_HANDLE.
    assert_eq!(code(p.set_event(Handle::CURRENT_PROCESS)), INVALID_HANDLE);
    finish(&k, base, vec![p, q]);
}

// SPEC §3 "Handles and tables": pseudo-handles -2..-6, "used where an object is
// expected, ... the others are INVALID_HANDLE until threads and tokens exist".
#[test]
fn other_pseudo_handles_are_invalid_as_objects() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let h = event(&p);
    for raw in usize::MAX - 5..usize::MAX {
        let ph = Handle::from_raw(raw);
        assert_eq!(code(p.set_event(ph)), INVALID_HANDLE, "{ph:?}");
        assert_eq!(code(p.get_handle_information(ph)), INVALID_HANDLE, "{ph:?}");
        assert_eq!(
            code(p.set_handle_information(ph, HandleFlags::INHERIT, HandleFlags::INHERIT)),
            INVALID_HANDLE,
            "{ph:?}"
        );
        assert_eq!(code(p.compare_object_handles(ph, h)), INVALID_HANDLE);
        assert_eq!(code(p.compare_object_handles(h, ph)), INVALID_HANDLE);
        assert_eq!(code(p.compare_object_handles(ph, Handle::CURRENT_PROCESS)), INVALID_HANDLE);
        assert_eq!(
            code(p.duplicate_handle(
                Handle::CURRENT_PROCESS,
                ph,
                Some(Handle::CURRENT_PROCESS),
                Access::empty(),
                false,
                DuplicateOptions::SAME_ACCESS
            )),
            INVALID_HANDLE,
            "duplicating {ph:?}"
        );
    }
    assert_eq!(p.handle_count(), 1);
    finish(&k, base, vec![p]);
}

// SPEC §5: "Check for the pseudo-handles before masking the low two bits (-1 masked is
// -4)". Every value of -1..-6 masked is still a pseudo value, and the non-pseudo
// neighbours -7, -8 are ordinary (invalid) values: none of them may act on an entry.
#[test]
fn pseudo_handles_are_checked_before_masking() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let h = event(&p);
    p.set_handle_information(h, HandleFlags::INHERIT, HandleFlags::INHERIT).unwrap();
    // usize::MAX with the low bits masked is usize::MAX - 3 (-4): also pseudo.
    assert!(Handle::from_raw(usize::MAX & !3).is_pseudo());
    assert_eq!(p.close_handle(Handle::from_raw(usize::MAX & !3)), Ok(()));
    assert_eq!(
        p.compare_object_handles(Handle::CURRENT_PROCESS, Handle::CURRENT_PROCESS),
        Ok(true),
        "-1 is not masked onto -4"
    );
    for raw in [usize::MAX - 6, usize::MAX - 7, usize::MAX - 8, usize::MAX - 11] {
        let v = Handle::from_raw(raw);
        assert!(!v.is_pseudo());
        assert_eq!(code(p.close_handle(v)), INVALID_HANDLE, "{v:?}");
        assert_eq!(code(p.set_event(v)), INVALID_HANDLE, "{v:?}");
        assert_eq!(code(p.get_handle_information(v)), INVALID_HANDLE, "{v:?}");
    }
    assert_eq!(p.get_handle_information(h), Ok(HandleFlags::INHERIT));
    assert_eq!(p.handle_count(), 1);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Handles and tables": "Values are reused after a close, as on Windows".
#[test]
fn values_are_reused_after_close() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let first: Vec<Handle> = (0..50).map(|_| event(&p)).collect();
    let h = first[17];
    p.close_handle(h).unwrap();
    let again = event(&p);
    assert_eq!(again, h, "the only free value is reused");
    // The reused value names the new object, not the old one.
    p.set_event(again).unwrap();
    assert_eq!(p.event_state(again), Ok(true));
    for &h in &first {
        p.close_handle(h).unwrap();
    }
    let second: BTreeSet<usize> = (0..50).map(|_| event(&p).raw()).collect();
    let first: BTreeSet<usize> = first.iter().map(|h| h.raw()).collect();
    assert_eq!(first, second, "closing all and creating as many reuses every value");
    finish(&k, base, vec![p]);
}

// SPEC §3 "Handles and tables": "A value whose index is beyond the limit is
// INVALID_HANDLE: never truncate a large value onto a live slot."
#[test]
fn values_beyond_the_limit_are_invalid_never_truncated() {
    let k = Kernel::builder().handle_limit(16).build();
    let base = k.object_count();
    let p = root(&k);
    let live: Vec<Handle> = (0..16).map(|_| event(&p)).collect();
    assert_eq!(live[0].raw(), 4, "the first handle of a fresh table");
    let mut aliases = vec![4 + 4 * 16, 4 + (1 << 40), 4 + (1 << 32), 4 + (1 << 34)];
    for &h in &live {
        for shift in [6u32, 8, 16, 18, 20, 24, 26, 28, 30, 32, 34, 40, 48, 56, 62] {
            aliases.push(h.raw() + (1usize << shift));
        }
        aliases.push(h.raw() + 4 * 16);
        aliases.push(h.raw() | (1usize << 63));
    }
    for raw in aliases {
        let v = Handle::from_raw(raw);
        if v.is_pseudo() {
            continue;
        }
        assert_eq!(code(p.set_event(v)), INVALID_HANDLE, "{v:?} aliases a live slot");
        assert_eq!(code(p.get_handle_information(v)), INVALID_HANDLE, "{v:?}");
        assert_eq!(code(p.compare_object_handles(v, live[0])), INVALID_HANDLE);
        assert_eq!(code(p.close_handle(v)), INVALID_HANDLE, "{v:?}");
    }
    assert_eq!(p.handle_count(), 16, "no live handle was closed through an alias");
    for &h in &live {
        assert_eq!(p.event_state(h), Ok(false), "no live event was set through an alias");
    }
    finish(&k, base, vec![p]);

    // The same with the default limit (2^30): index 2^30 and above.
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let h = event(&p);
    for raw in [
        h.raw() + 4 * (1 << 30),
        h.raw() + (1 << 32),
        h.raw() + (1 << 34),
        h.raw() + (1 << 40),
        (1usize << 32) * 4 + h.raw(),
    ] {
        let v = Handle::from_raw(raw);
        assert_eq!(code(p.set_event(v)), INVALID_HANDLE, "{v:?}");
        assert_eq!(code(p.close_handle(v)), INVALID_HANDLE, "{v:?}");
    }
    assert_eq!(p.event_state(h), Ok(false));
    finish(&k, base, vec![p]);
}

/// A fixed single-threaded script of calls: creates, closes (so reuse), duplicates,
/// inheritance and a child. Returns every handle value and result it saw.
fn script(kernel: &Kernel) -> Vec<String> {
    let mut out = Vec::new();
    let p = root(kernel);
    let mut live = Vec::new();
    for i in 0..300usize {
        let h = match i % 5 {
            0 => inheritable_event(&p),
            1 => p.create_mutex(None, i % 2 == 0, None).unwrap().handle,
            2 => p.create_semaphore(None, 1, 9, None).unwrap().handle,
            3 if !live.is_empty() => dup_same(&p, live[i % live.len()]),
            _ => event(&p),
        };
        out.push(format!("create {i} -> {:#x}", h.raw()));
        live.push(h);
        if i % 3 == 0 {
            let victim = live.remove((i * 7) % live.len());
            out.push(format!("close {:#x} -> {:?}", victim.raw(), p.close_handle(victim)));
        }
        if i % 11 == 0 && !live.is_empty() {
            let h = live[i % live.len()];
            let r = p.set_handle_information(h, HandleFlags::INHERIT, HandleFlags::INHERIT);
            out.push(format!("inherit {:#x} -> {r:?}", h.raw()));
        }
    }
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    out.push(format!("child handle {:#x}", child.handle.raw()));
    out.push(format!("child handles {}", child.process.handle_count()));
    for _ in 0..20 {
        out.push(format!("child create {:#x}", event(&child.process).raw()));
    }
    let into_child = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            live[0],
            Some(child.handle),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    out.push(format!("dup into child {:#x}", into_child.raw()));
    for h in live.drain(..).step_by(2) {
        out.push(format!("close {:#x} -> {:?}", h.raw(), p.close_handle(h)));
    }
    for _ in 0..40 {
        out.push(format!("create {:#x}", event(&p).raw()));
    }
    child.process.terminate(0).unwrap();
    p.terminate(0).unwrap();
    out
}

// SPEC §3 "Handles and tables": "Deterministic: on a fresh kernel, the same sequence of
// calls made from one thread gives the same handle values every run."
#[test]
fn handle_values_are_deterministic() {
    let k1 = Kernel::new();
    let k2 = Kernel::new();
    let a = script(&k1);
    let b = script(&k2);
    assert_eq!(a, b);
    // Also in one kernel after other activity is gone: a third fresh kernel agrees.
    let k3 = Kernel::new();
    assert_eq!(a, script(&k3));
    assert_eq!(k1.object_count(), 0);
    assert_eq!(k2.object_count(), 0);
    assert_eq!(k3.object_count(), 0);
}

// SPEC §3 "Handles and tables": "a table at its limit fails the next insert with
// NO_SYSTEM_RESOURCES" (1450); the limit is set with Kernel::builder().handle_limit(n)
// (SPEC §2).
#[test]
fn the_handle_limit_fails_the_next_insert() {
    let k = Kernel::builder().handle_limit(8).build();
    let base = k.object_count();
    let p = root(&k);
    let q = root(&k);
    let with_p = k.object_count();
    let handles: Vec<Handle> = (0..8).map(|_| event(&p)).collect();
    assert_eq!(p.handle_count(), 8);
    let full = k.object_count();
    assert_eq!(full, with_p + 8);

    // Every kind of insert fails at the limit, and a failed create leaves nothing behind.
    assert_eq!(code(p.create_event(None, true, false, None)), NO_SYSTEM_RESOURCES);
    assert_eq!(code(p.create_mutex(None, true, None)), NO_SYSTEM_RESOURCES);
    assert_eq!(code(p.create_semaphore(None, 0, 1, None)), NO_SYSTEM_RESOURCES);
    assert_eq!(code(p.create_event(None, true, false, Some(""))), NO_SYSTEM_RESOURCES);
    assert_eq!(k.object_count(), full, "a failed create leaves object_count unchanged");
    assert_eq!(
        code(p.duplicate_handle(
            Handle::CURRENT_PROCESS,
            handles[0],
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS
        )),
        NO_SYSTEM_RESOURCES
    );
    assert_eq!(code(p.open_process(Access::PROCESS_QUERY_INFORMATION, false, q.id())), NO_SYSTEM_RESOURCES);
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        code(p.create_file(
            &dir.path().join("f"),
            Access::GENERIC_READ,
            None,
            CreationDisposition::CreateAlways
        )),
        NO_SYSTEM_RESOURCES
    );
    assert_eq!(code(p.create_process(false, ProcessOptions::default())), NO_SYSTEM_RESOURCES);
    assert_eq!(p.handle_count(), 8);
    assert_eq!(k.object_count(), full, "failed inserts leave object_count unchanged");
    // The existing handles still work.
    for &h in &handles {
        p.set_event(h).unwrap();
    }

    // After a close, exactly one more insert succeeds.
    p.close_handle(handles[3]).unwrap();
    let again = event(&p);
    assert_eq!(p.handle_count(), 8);
    assert_eq!(code(p.create_event(None, true, false, None)), NO_SYSTEM_RESOURCES);
    // A full table still takes a CLOSE_SOURCE duplicate within one process: the source's
    // slot is freed first and the value is kept (SPEC §3 "Duplication").
    let moved = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            handles[0],
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS | DuplicateOptions::CLOSE_SOURCE,
        )
        .unwrap()
        .unwrap();
    assert_eq!(moved, handles[0]);
    assert_eq!(p.handle_count(), 8);
    p.set_event(moved).unwrap();
    p.close_handle(again).unwrap();
    assert_eq!(p.handle_count(), 7);
    // The other process has its own limit.
    let qs: Vec<Handle> = (0..8).map(|_| event(&q)).collect();
    assert_eq!(qs.len(), 8);
    assert_eq!(code(q.create_event(None, true, false, None)), NO_SYSTEM_RESOURCES);
    finish(&k, base, vec![p, q]);
}

// SPEC §3 "Handles and tables": "close_handle on a live handle succeeds; on a closed,
// never-issued or garbage value it fails with INVALID_HANDLE".
#[test]
fn close_handle_live_closed_never_issued_and_garbage() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let h = event(&p);
    let keep = event(&p);
    assert_eq!(p.close_handle(h), Ok(()));
    assert_eq!(code(p.close_handle(h)), INVALID_HANDLE, "closed twice");
    for raw in
        [0usize, 1, 2, 3, 4 * 1000, 4 * 1000 + 2, 12345, 0x7FFF_FFFC, 1 << 40, usize::MAX - 6, usize::MAX / 2]
    {
        let v = Handle::from_raw(raw);
        assert_eq!(code(p.close_handle(v)), INVALID_HANDLE, "{v:?}");
    }
    assert_eq!(p.handle_count(), 1);
    p.set_event(keep).unwrap();
    finish(&k, base, vec![p]);
}

// SPEC §3 "Handles and tables": "on a PROTECT_FROM_CLOSE handle it fails with
// INVALID_HANDLE and the handle stays valid" (Microsoft docs, SetHandleInformation:
// HANDLE_FLAG_PROTECT_FROM_CLOSE).
#[test]
fn protect_from_close() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let h = event(&p);
    p.set_handle_information(h, HandleFlags::PROTECT_FROM_CLOSE, HandleFlags::PROTECT_FROM_CLOSE).unwrap();
    let objects = k.object_count();
    assert_eq!(code(p.close_handle(h)), INVALID_HANDLE);
    assert_eq!(code(p.close_handle(Handle::from_raw(h.raw() | 2))), INVALID_HANDLE);
    assert_eq!(k.object_count(), objects, "the object survives");
    assert_eq!(p.handle_count(), 1);
    p.set_event(h).unwrap();
    assert_eq!(p.event_state(h), Ok(true));
    assert_eq!(p.get_handle_information(h), Ok(HandleFlags::PROTECT_FROM_CLOSE));
    // CLOSE_SOURCE never closes a protected source (SPEC §3 "Duplication"), the call
    // still succeeds.
    let d = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            h,
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS | DuplicateOptions::CLOSE_SOURCE,
        )
        .unwrap()
        .unwrap();
    assert_ne!(d, h);
    assert_eq!(p.get_handle_information(h), Ok(HandleFlags::PROTECT_FROM_CLOSE));
    p.close_handle(d).unwrap();
    // Clearing the flag makes the handle closable again.
    p.set_handle_information(h, HandleFlags::PROTECT_FROM_CLOSE, HandleFlags::empty()).unwrap();
    assert_eq!(p.close_handle(h), Ok(()));
    assert_eq!(k.object_count(), objects - 1, "closing the last handle destroyed it");
    assert_eq!(code(p.set_event(h)), INVALID_HANDLE);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Handles and tables": "get/set_handle_information: flags are exactly what was
// set; set changes only the bits in mask." (Microsoft docs, SetHandleInformation: dwMask
// selects the flags to change.)
#[test]
fn handle_information_is_exactly_what_was_set() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let both = HandleFlags::INHERIT | HandleFlags::PROTECT_FROM_CLOSE;
    let all = [HandleFlags::empty(), HandleFlags::INHERIT, HandleFlags::PROTECT_FROM_CLOSE, both];
    let h = event(&p);
    assert_eq!(p.get_handle_information(h), Ok(HandleFlags::empty()));
    let hi = inheritable_event(&p);
    assert_eq!(p.get_handle_information(hi), Ok(HandleFlags::INHERIT));
    for start in all {
        for mask in all {
            for flags in all {
                p.set_handle_information(h, both, start).unwrap();
                assert_eq!(p.get_handle_information(h), Ok(start));
                p.set_handle_information(h, mask, flags).unwrap();
                let expected = (start - mask) | (flags & mask);
                assert_eq!(
                    p.get_handle_information(h),
                    Ok(expected),
                    "start {start:?} mask {mask:?} flags {flags:?}"
                );
            }
        }
    }
    // Flag changes on one handle do not touch a duplicate of it.
    p.set_handle_information(h, both, HandleFlags::empty()).unwrap();
    let d = dup_same(&p, h);
    p.set_handle_information(h, both, both).unwrap();
    assert_eq!(p.get_handle_information(d), Ok(HandleFlags::empty()));
    // The access a handle holds does not change with its flags.
    p.set_event(h).unwrap();
    p.set_handle_information(h, both, HandleFlags::empty()).unwrap();
    // Closed handles have no information.
    p.close_handle(h).unwrap();
    assert_eq!(code(p.get_handle_information(h)), INVALID_HANDLE);
    assert_eq!(code(p.set_handle_information(h, both, both)), INVALID_HANDLE);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Handles and tables": "Every operation checks in this order: the handle is
// valid, then the object's type, then the access (INVALID_HANDLE, INVALID_HANDLE,
// ACCESS_DENIED)"; SPEC §3 "Objects and lifetime": release_semaphore "rejects count <= 0
// with INVALID_PARAMETER before it looks at the handle (as NT does)".
#[test]
fn errors_come_in_order_handle_type_access() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let mutex = p.create_mutex(None, false, None).unwrap().handle;
    let sem = p.create_semaphore(None, 0, 10, None).unwrap().handle;
    let ev = event(&p);
    let garbage = Handle::from_raw(4 * 777);

    // Invalid handle first.
    assert_eq!(code(p.set_event(garbage)), INVALID_HANDLE);
    // Wrong type next, even with every right on the handle.
    assert_eq!(code(p.set_event(mutex)), INVALID_HANDLE);
    assert_eq!(code(p.reset_event(sem)), INVALID_HANDLE);
    assert_eq!(code(p.release_semaphore(ev, 1)), INVALID_HANDLE);
    assert_eq!(code(p.release_semaphore(mutex, 1)), INVALID_HANDLE);
    // Wrong type wins over missing access: a mutex handle holding no rights at all.
    let bare_mutex = dup_with(&p, mutex, Access::empty());
    assert_eq!(code(p.set_event(bare_mutex)), INVALID_HANDLE);
    // Then access.
    let query_only = dup_with(&p, ev, Access::EVENT_QUERY_STATE | Access::SYNCHRONIZE);
    assert_eq!(code(p.set_event(query_only)), ACCESS_DENIED);
    assert_eq!(code(p.reset_event(query_only)), ACCESS_DENIED);
    let bare_event = dup_with(&p, ev, Access::empty());
    assert_eq!(code(p.set_event(bare_event)), ACCESS_DENIED);
    let sem_query = dup_with(&p, sem, Access::SEMAPHORE_QUERY_STATE);
    assert_eq!(code(p.release_semaphore(sem_query, 1)), ACCESS_DENIED);
    // release_semaphore checks its count before anything else.
    assert_eq!(code(p.release_semaphore(garbage, 0)), INVALID_PARAMETER);
    assert_eq!(code(p.release_semaphore(garbage, -1)), INVALID_PARAMETER);
    assert_eq!(code(p.release_semaphore(ev, 0)), INVALID_PARAMETER);
    assert_eq!(code(p.release_semaphore(sem_query, 0)), INVALID_PARAMETER);
    assert_eq!(code(p.release_semaphore(sem, i32::MIN)), INVALID_PARAMETER);
    // The checks did nothing.
    assert_eq!(p.event_state(ev), Ok(false));
    assert_eq!(p.semaphore_count(sem), Ok(0));
    finish(&k, base, vec![p]);
}

// SPEC §3 "Handles and tables" with a terminated sibling: a process value that is gone
// from the table because the other process was terminated does not leak into this one.
#[test]
fn handle_tables_are_independent_under_termination() {
    let k = Kernel::new();
    let base = k.object_count();
    let a = root(&k);
    let b = root(&k);
    let ha: Vec<Handle> = (0..10).map(|_| event(&a)).collect();
    let hb: Vec<Handle> = (0..10).map(|_| event(&b)).collect();
    assert_eq!(ha, hb);
    a.terminate(0).unwrap();
    for &h in &hb {
        b.set_event(h).unwrap();
    }
    assert_eq!(b.handle_count(), 10);
    finish(&k, base, vec![a, b]);
}

// SPEC §2: Handle::from_raw(usize) -> Handle; handle.raw() -> usize;
// Handle::CURRENT_PROCESS is raw usize::MAX.
#[test]
fn handle_raw_round_trip() {
    for raw in [0usize, 1, 4, 8, 0xFFFF_FFFF, usize::MAX - 5, usize::MAX] {
        assert_eq!(Handle::from_raw(raw).raw(), raw);
    }
    assert_eq!(Handle::CURRENT_PROCESS.raw(), usize::MAX);
    assert!(pseudo_handles().all(|h| h.is_pseudo()));
    assert!(!Handle::from_raw(usize::MAX - 6).is_pseudo());
}
