//! A private namespace's alias lives exactly as long as the handle it was opened with
//! (issue 7.4). SPEC §3 "Private namespaces": "The returned handle is a namespace handle
//! (closing it unmaps the alias for that process)"; Microsoft docs, ClosePrivateNamespace /
//! CreatePrivateNamespace: the alias prefix names objects as `prefix\objectname` while the
//! namespace handle is open.

mod common;

use std::thread;

use common::*;
use kobj::{Access, BoundaryDescriptor, DuplicateOptions, Handle, Kernel, Process, Sid};

const PATH_NOT_FOUND: u32 = 3;
const INVALID_NAME: u32 = 123;
/// SPEC §3 "Named objects": names are up to 32,767 UTF-16 code units.
const MAX_NAME_UNITS: usize = 32_767;

fn boundary(name: &str) -> BoundaryDescriptor {
    BoundaryDescriptor { name: name.to_owned(), sids: vec![Sid::EVERYONE] }
}

/// A distinct alias of about 1 KB, as in the reproduction.
fn long_alias(i: usize) -> String {
    format!("{}{i}", "a".repeat(1000))
}

/// Whether `alias\probe` resolves inside a namespace for `p` (it is mapped): a create there
/// succeeds; unmapped, `alias` is an ordinary component and the create is PATH_NOT_FOUND.
fn mapped(p: &Process, alias: &str) -> bool {
    match p.create_event(None, true, false, Some(&format!("{alias}\\probe"))) {
        Ok(c) => {
            p.close_handle(c.handle).unwrap();
            true
        }
        Err(e) => {
            assert_eq!(e.code(), PATH_NOT_FOUND);
            false
        }
    }
}

// 100 000 open+close rounds with distinct 1 KB aliases, while one namespace handle stays
// open: the alias map stays at one alias (before the fix it grew by one per round, about
// 210 MB for 200 000 rounds), and every closed alias is unmapped.
#[test]
fn one_hundred_thousand_aliases_leave_nothing_behind() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let b = boundary("Many");
    let kept = p.create_private_namespace(&b, "kept").unwrap();
    for i in 0..100_000 {
        // Every hundredth alias is 1 KB, as in the issue; the others are short, since
        // hashing 1 KB strings is slow in a debug build and the count is what is checked.
        let alias = if i % 100 == 99 { long_alias(i) } else { format!("alias{i}") };
        let h = p.open_private_namespace(&b, &alias).unwrap();
        assert_eq!(p.private_alias_count(), 2);
        p.close_handle(h).unwrap();
        assert_eq!(p.private_alias_count(), 1, "round {i}: the closed handle's alias is unmapped");
    }
    assert!(!mapped(&p, &long_alias(99_999)));
    assert!(mapped(&p, "kept"));
    p.close_handle(kept).unwrap();
    assert_eq!(p.private_alias_count(), 0);
    finish(&k, base, vec![p]);
}

// DuplicateHandle with DUPLICATE_CLOSE_SOURCE closes the source handle (Microsoft docs,
// DuplicateHandle: "the source handle is closed"), even when the duplicate lands on the
// same value in the same process: the alias the source was opened with is unmapped, in the
// source process, and the map does not grow.
#[test]
fn duplicate_close_source_unmaps_the_alias() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let q = root(&k);
    let b = boundary("Dup");
    let kept = p.create_private_namespace(&b, "kept").unwrap();
    let to_q = p.open_process(Access::PROCESS_DUP_HANDLE, false, q.id()).unwrap();
    let q_to_p = q.open_process(Access::PROCESS_DUP_HANDLE, false, p.id()).unwrap();
    for i in 0..1_000 {
        let alias = format!("a{i}");
        let h = p.open_private_namespace(&b, &alias).unwrap();
        let (target, expect_same_value) = match i % 3 {
            0 => (Some(Handle::CURRENT_PROCESS), true),
            1 => (Some(to_q), false),
            _ => (None, false),
        };
        let opts = DuplicateOptions::SAME_ACCESS | DuplicateOptions::CLOSE_SOURCE;
        let dup =
            p.duplicate_handle(Handle::CURRENT_PROCESS, h, target, Access::empty(), false, opts).unwrap();
        if expect_same_value {
            // LIFO reuse: the closed source's slot takes the duplicate (same value, new
            // generation). The value is live again, the alias is not.
            assert_eq!(dup, Some(h));
        }
        assert_eq!(p.private_alias_count(), 1, "round {i}");
        assert!(!mapped(&p, &alias));
        match (i % 3, dup) {
            (0, Some(d)) => p.close_handle(d).unwrap(),
            (1, Some(d)) => q.close_handle(d).unwrap(),
            _ => {}
        }
    }
    // Closing from another process's side: q closes p's source with CLOSE_SOURCE and no
    // target (DuplicateHandle with a NULL target process).
    let h = p.open_private_namespace(&b, "remote").unwrap();
    assert_eq!(p.private_alias_count(), 2);
    let opts = DuplicateOptions::CLOSE_SOURCE;
    assert_eq!(q.duplicate_handle(q_to_p, h, None, Access::empty(), false, opts), Ok(None));
    assert_eq!(p.private_alias_count(), 1);
    assert!(!mapped(&p, "remote"));
    assert!(mapped(&p, "kept"));
    p.close_handle(kept).unwrap();
    finish(&k, base, vec![p, q]);
}

// SPEC §3 "Handles and tables": "The low two bits are ignored on every lookup (h | 1,
// h | 2, h | 3 act on h)": closing a namespace handle through such a value, or
// duplicating it away with CLOSE_SOURCE, unmaps its alias all the same.
#[test]
fn closing_through_the_low_bits_unmaps_the_alias() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let b = boundary("LowBits");
    let kept = p.create_private_namespace(&b, "kept").unwrap();
    for bits in 1..=3 {
        let h = p.open_private_namespace(&b, "a").unwrap();
        p.close_handle(Handle::from_raw(h.raw() | bits)).unwrap();
        assert_eq!(p.private_alias_count(), 1);
        assert!(!mapped(&p, "a"));
        let h = p.open_private_namespace(&b, "b").unwrap();
        let opts = DuplicateOptions::CLOSE_SOURCE;
        let source = Handle::from_raw(h.raw() | bits);
        assert_eq!(
            p.duplicate_handle(Handle::CURRENT_PROCESS, source, None, Access::empty(), false, opts),
            Ok(None)
        );
        assert_eq!(p.private_alias_count(), 1);
        assert!(!mapped(&p, "b"));
    }
    p.close_handle(kept).unwrap();
    finish(&k, base, vec![p]);
}

// SPEC §3 "Objects and lifetime": terminate closes every handle, so every alias goes.
#[test]
fn terminate_unmaps_every_alias() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let b = boundary("Term");
    p.create_private_namespace(&b, "first").unwrap();
    for i in 0..10 {
        p.open_private_namespace(&b, &format!("a{i}")).unwrap();
    }
    assert_eq!(p.private_alias_count(), 11);
    p.terminate(0).unwrap();
    assert_eq!(p.private_alias_count(), 0);
    finish(&k, base, vec![p]);
}

// Mapping an alias again moves it to the new handle; closing the old handle then leaves the
// alias alone, and closing the new one unmaps it (SPEC §3: closing the handle unmaps the
// alias; the alias is the latest open's).
#[test]
fn a_remapped_alias_follows_its_latest_handle() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let b = boundary("Remap");
    let first = p.create_private_namespace(&b, "ns").unwrap();
    let second = p.open_private_namespace(&b, "ns").unwrap();
    assert_eq!(p.private_alias_count(), 1);
    p.close_handle(first).unwrap();
    assert!(mapped(&p, "ns"));
    p.close_handle(second).unwrap();
    assert!(!mapped(&p, "ns"));
    assert_eq!(p.private_alias_count(), 0);
    finish(&k, base, vec![p]);
}

// An alias is the first component of names (`alias\name`), which SPEC §3 bounds at 32,767
// UTF-16 code units, prefix included, longer being INVALID_NAME: an alias is bounded the
// same way, counted in UTF-16 units as passed.
#[test]
fn an_alias_is_bounded_like_a_name() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let b = boundary("Long");
    let longest = "a".repeat(MAX_NAME_UNITS);
    let ns = p.create_private_namespace(&b, &longest).unwrap();
    p.close_handle(ns).unwrap();
    assert_eq!(code(p.create_private_namespace(&b, &"a".repeat(MAX_NAME_UNITS + 1))), INVALID_NAME);
    let kept = p.create_private_namespace(&b, "kept").unwrap();
    assert_eq!(code(p.open_private_namespace(&b, &"a".repeat(MAX_NAME_UNITS + 1))), INVALID_NAME);
    // 'é' is two UTF-8 bytes but one UTF-16 unit; '𝄞' is two UTF-16 units.
    let h = p.open_private_namespace(&b, &"é".repeat(MAX_NAME_UNITS)).unwrap();
    p.close_handle(h).unwrap();
    let too_long = format!("{}𝄞", "a".repeat(MAX_NAME_UNITS - 1));
    assert_eq!(code(p.open_private_namespace(&b, &too_long)), INVALID_NAME);
    assert_eq!(p.private_alias_count(), 1, "failed opens map nothing");
    assert_eq!(p.handle_count(), 1, "and leave no handle");
    p.close_handle(kept).unwrap();
    finish(&k, base, vec![p]);
}

// Threads of one process opening, using and closing namespace handles at once (handle
// values are reused across threads): every alias is usable while its handle is open and
// the map ends with only the handle kept open.
#[test]
fn concurrent_opens_and_closes_leave_one_alias() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let b = boundary("Threads");
    let kept = p.create_private_namespace(&b, "kept").unwrap();
    thread::scope(|s| {
        for t in 0..4 {
            let (p, b) = (&p, &b);
            s.spawn(move || {
                for i in 0..2_000 {
                    let alias = format!("t{t}_{}", i % 7);
                    let h = p.open_private_namespace(b, &alias).unwrap();
                    assert!(mapped(p, &alias), "an open handle's alias resolves");
                    if i % 2 == 0 {
                        p.close_handle(h).unwrap();
                    } else {
                        let opts = DuplicateOptions::SAME_ACCESS | DuplicateOptions::CLOSE_SOURCE;
                        let d = p.duplicate_handle(
                            Handle::CURRENT_PROCESS,
                            h,
                            Some(Handle::CURRENT_PROCESS),
                            Access::empty(),
                            false,
                            opts,
                        );
                        p.close_handle(d.unwrap().unwrap()).unwrap();
                    }
                }
            });
        }
    });
    assert_eq!(p.private_alias_count(), 1);
    p.close_handle(kept).unwrap();
    assert_eq!(p.private_alias_count(), 0);
    finish(&k, base, vec![p]);
}
