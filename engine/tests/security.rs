//! Access control: SPEC §3 "Security" (and the access rules of "Named objects" and
//! "Objects and lifetime" they feed), with the bad input of SPEC §6.
//!
//! Open-by-name is the simplest way to run an access check from another process: one
//! process creates a named mutex with a descriptor, others open it with their tokens.
//! Every test ends with `kernel.object_count()` back at its start value.

mod common;

use common::*;
use kobj::{
    Access, Ace, DuplicateOptions, Handle, HandleFlags, Kernel, Process, ProcessOptions, SecurityAttributes,
    SecurityDescriptor, Sid, Token,
};

const PRIVILEGE_NOT_HELD: u32 = 1314;
const ME: Handle = Handle::CURRENT_PROCESS;

fn as_user(k: &Kernel, sid: Sid) -> Process {
    k.create_process(ProcessOptions { token: Some(Token::new(sid)), ..Default::default() }).unwrap()
}

fn with_token(k: &Kernel, token: Token) -> Process {
    k.create_process(ProcessOptions { token: Some(token), ..Default::default() }).unwrap()
}

fn sa_with(dacl: Option<Vec<Ace>>) -> SecurityAttributes {
    SecurityAttributes {
        inherit_handle: false,
        security_descriptor: Some(SecurityDescriptor { owner: None, dacl }),
    }
}

/// The access a handle holds.
fn access(p: &Process, h: Handle) -> Access {
    p.pin().info(h).expect("a live handle").0
}

/// Opens `name` as a mutex and closes the handle again; the granted access or the code.
fn try_open(p: &Process, desired: Access, name: &str) -> Result<Access, u32> {
    match p.open_mutex(desired, false, name) {
        Ok(h) => {
            let a = access(p, h);
            p.close_handle(h).unwrap();
            Ok(a)
        }
        Err(e) => Err(e.code()),
    }
}

// SPEC §3 "Security": "An object created without a security descriptor gets the creator
// token's default DACL (default: allow the user and SYSTEM GENERIC_ALL), so another
// user's process cannot open it." (Microsoft docs, "Default DACL": the token's default
// DACL applies when no security descriptor is given.)
#[test]
fn the_default_dacl_admits_the_creators_user_and_system_only() {
    let k = Kernel::new();
    let base = k.object_count();
    let creator = as_user(&k, Sid::user(1));
    let same_user = as_user(&k, Sid::user(1));
    let other = as_user(&k, Sid::user(2));
    let system = as_user(&k, Sid::SYSTEM);
    let m = creator.create_mutex(None, false, Some("default-dacl")).unwrap().handle;
    assert_eq!(try_open(&other, Access::SYNCHRONIZE, "default-dacl"), Err(ACCESS_DENIED));
    assert_eq!(try_open(&other, Access::READ_CONTROL, "default-dacl"), Err(ACCESS_DENIED));
    assert_eq!(try_open(&other, Access::MAXIMUM_ALLOWED, "default-dacl"), Err(ACCESS_DENIED));
    assert_eq!(try_open(&system, Access::MUTEX_ALL_ACCESS, "default-dacl"), Ok(Access::MUTEX_ALL_ACCESS));
    assert_eq!(try_open(&same_user, Access::GENERIC_ALL, "default-dacl"), Ok(Access::MUTEX_ALL_ACCESS));
    // A token that holds the creator's SID as a group is admitted too.
    let member = with_token(&k, Token::new(Sid::user(2)).with_group(Sid::user(1)));
    assert_eq!(try_open(&member, Access::SYNCHRONIZE, "default-dacl"), Ok(Access::SYNCHRONIZE));
    // A second create by another user opens the existing object asking ALL_ACCESS:
    // denied (SPEC §3 "Named objects").
    assert_eq!(code(other.create_mutex(None, false, Some("default-dacl"))), ACCESS_DENIED);
    let again = same_user.create_mutex(None, false, Some("default-dacl")).unwrap();
    assert!(again.already_existed);
    let _ = m;
    finish(&k, base, vec![creator, same_user, other, system, member]);
}

// SPEC §3 "Security" + "Duplication": the default DACL also bounds DuplicateHandle's
// growth: another user's process cannot grow a reduced handle, SYSTEM can.
#[test]
fn the_default_dacl_bounds_duplicate_growth() {
    let k = Kernel::new();
    let base = k.object_count();
    // Starting a child as another user needs AssignPrimaryToken (SPEC §3 "Security").
    let creator =
        with_token(&k, Token::new(Sid::user(1)).with_privilege(kobj::Privilege::AssignPrimaryToken));
    let other = creator
        .create_process(false, ProcessOptions { token: Some(Token::new(Sid::user(2))), ..Default::default() })
        .unwrap();
    let system = creator
        .create_process(false, ProcessOptions { token: Some(Token::new(Sid::SYSTEM)), ..Default::default() })
        .unwrap();
    let m = creator.create_mutex(None, false, None).unwrap().handle;
    for target in [&other, &system] {
        let weak = creator
            .duplicate_handle(
                ME,
                m,
                Some(target.handle),
                Access::SYNCHRONIZE,
                false,
                DuplicateOptions::empty(),
            )
            .unwrap()
            .unwrap();
        let grown = target.process.duplicate_handle(
            ME,
            weak,
            Some(ME),
            Access::MUTEX_ALL_ACCESS,
            false,
            DuplicateOptions::empty(),
        );
        if std::ptr::eq(target, &other) {
            assert_eq!(code(grown), ACCESS_DENIED);
        } else {
            let h = grown.unwrap().unwrap();
            assert_eq!(access(&system.process, h), Access::MUTEX_ALL_ACCESS);
        }
    }
    finish(&k, base, vec![creator, other.process, system.process]);
}

// SPEC §3 "Security": "a `None` DACL grants everything ... `SecurityAttributes::default()`
// has no descriptor (the creator's default DACL applies); `Some(SecurityDescriptor::
// default())` is a `None` DACL (everyone gets everything) — they differ." (Microsoft docs,
// "Null DACLs and Empty DACLs".)
#[test]
fn a_null_dacl_differs_from_no_descriptor() {
    let k = Kernel::new();
    let base = k.object_count();
    let creator = as_user(&k, Sid::user(1));
    let other = as_user(&k, Sid::user(2));
    let null_dacl = SecurityAttributes {
        inherit_handle: false,
        security_descriptor: Some(SecurityDescriptor::default()),
    };
    let _ = creator.create_mutex(Some(&null_dacl), false, Some("null-dacl")).unwrap();
    let _ = creator.create_mutex(Some(&SecurityAttributes::default()), false, Some("no-descriptor")).unwrap();
    let _ = creator.create_mutex(None, false, Some("no-attributes")).unwrap();
    assert_eq!(try_open(&other, Access::MUTEX_ALL_ACCESS, "null-dacl"), Ok(Access::MUTEX_ALL_ACCESS));
    assert_eq!(try_open(&other, Access::GENERIC_ALL, "null-dacl"), Ok(Access::MUTEX_ALL_ACCESS));
    assert_eq!(try_open(&other, Access::MAXIMUM_ALLOWED, "null-dacl"), Ok(Access::MUTEX_ALL_ACCESS));
    assert_eq!(try_open(&other, Access::SYNCHRONIZE, "no-descriptor"), Err(ACCESS_DENIED));
    assert_eq!(try_open(&other, Access::SYNCHRONIZE, "no-attributes"), Err(ACCESS_DENIED));
    // Under a NULL DACL bits outside the valid mask are granted and dropped (SPEC §3
    // "Named objects"); a real DACL does not grant them.
    let junk = Access::from_bits_retain(0x8000) | Access::SYNCHRONIZE;
    assert_eq!(try_open(&other, junk, "null-dacl"), Ok(Access::SYNCHRONIZE));
    assert_eq!(try_open(&creator, junk, "no-descriptor"), Err(ACCESS_DENIED));
    finish(&k, base, vec![creator, other]);
}

// SPEC §3 "Security": "an empty DACL grants nothing (the owner still gets READ_CONTROL |
// WRITE_DAC)" (Microsoft docs, "Null DACLs and Empty DACLs": "an empty DACL ... denies all
// access"; the owner is implicitly allowed READ_CONTROL and WRITE_DAC).
#[test]
fn an_empty_dacl_grants_only_the_owner_read_control_and_write_dac() {
    let k = Kernel::new();
    let base = k.object_count();
    let owner = as_user(&k, Sid::user(1));
    let same_user = as_user(&k, Sid::user(1));
    let other = as_user(&k, Sid::user(2));
    let system = as_user(&k, Sid::SYSTEM);
    let _ = owner.create_mutex(Some(&sa_with(Some(vec![]))), false, Some("empty")).unwrap();
    assert_eq!(try_open(&same_user, Access::READ_CONTROL, "empty"), Ok(Access::READ_CONTROL));
    assert_eq!(try_open(&same_user, Access::WRITE_DAC, "empty"), Ok(Access::WRITE_DAC));
    assert_eq!(
        try_open(&same_user, Access::MAXIMUM_ALLOWED, "empty"),
        Ok(Access::READ_CONTROL | Access::WRITE_DAC)
    );
    for denied in [Access::SYNCHRONIZE, Access::MUTEX_MODIFY_STATE, Access::WRITE_OWNER, Access::GENERIC_READ]
    {
        assert_eq!(try_open(&same_user, denied, "empty"), Err(ACCESS_DENIED), "{denied:?}");
    }
    for p in [&other, &system] {
        assert_eq!(try_open(p, Access::READ_CONTROL, "empty"), Err(ACCESS_DENIED));
        assert_eq!(try_open(p, Access::MAXIMUM_ALLOWED, "empty"), Err(ACCESS_DENIED));
    }
    // An explicit owner: that SID gets the implicit rights, not the creator.
    let _ = owner
        .create_mutex(
            Some(&SecurityAttributes {
                inherit_handle: false,
                security_descriptor: Some(SecurityDescriptor {
                    owner: Some(Sid::user(2)),
                    dacl: Some(vec![]),
                }),
            }),
            false,
            Some("owned-by-2"),
        )
        .unwrap();
    assert_eq!(
        try_open(&other, Access::READ_CONTROL | Access::WRITE_DAC, "owned-by-2"),
        Ok(Access::READ_CONTROL | Access::WRITE_DAC)
    );
    assert_eq!(try_open(&same_user, Access::READ_CONTROL, "owned-by-2"), Err(ACCESS_DENIED));
    finish(&k, base, vec![owner, same_user, other, system]);
}

// SPEC §3 "Security": "ACEs are walked in order, a deny ACE for any SID of the token denies
// its bits not yet granted, an allow ACE grants its bits." (Microsoft docs, "How DACLs
// Control Access to an Object".)
#[test]
fn deny_and_allow_aces_apply_in_order() {
    let k = Kernel::new();
    let base = k.object_count();
    let creator = as_user(&k, Sid::user(1));
    let two = as_user(&k, Sid::user(2));
    let three = as_user(&k, Sid::user(3));
    let deny_first = vec![
        Ace::Deny(Sid::user(2), Access::MUTEX_MODIFY_STATE),
        Ace::Allow(Sid::EVERYONE, Access::MUTEX_ALL_ACCESS),
    ];
    let allow_first = vec![
        Ace::Allow(Sid::EVERYONE, Access::MUTEX_ALL_ACCESS),
        Ace::Deny(Sid::user(2), Access::MUTEX_MODIFY_STATE),
    ];
    let _ = creator.create_mutex(Some(&sa_with(Some(deny_first))), false, Some("deny-first")).unwrap();
    let _ = creator.create_mutex(Some(&sa_with(Some(allow_first))), false, Some("allow-first")).unwrap();
    assert_eq!(try_open(&two, Access::MUTEX_MODIFY_STATE, "deny-first"), Err(ACCESS_DENIED));
    assert_eq!(
        try_open(&two, Access::SYNCHRONIZE | Access::MUTEX_MODIFY_STATE, "deny-first"),
        Err(ACCESS_DENIED)
    );
    assert_eq!(try_open(&two, Access::SYNCHRONIZE, "deny-first"), Ok(Access::SYNCHRONIZE));
    assert_eq!(try_open(&two, Access::MAXIMUM_ALLOWED, "deny-first"), Ok(Access::from_bits_retain(0x1F0000)));
    assert_eq!(try_open(&three, Access::MUTEX_MODIFY_STATE, "deny-first"), Ok(Access::MUTEX_MODIFY_STATE));
    assert_eq!(try_open(&two, Access::MUTEX_MODIFY_STATE, "allow-first"), Ok(Access::MUTEX_MODIFY_STATE));
    assert_eq!(try_open(&two, Access::MAXIMUM_ALLOWED, "allow-first"), Ok(Access::MUTEX_ALL_ACCESS));
    // A deny ACE for a group the token holds applies too.
    let in_group = with_token(&k, Token::new(Sid::user(4)).with_group(Sid::group(7)));
    let _ = creator
        .create_mutex(
            Some(&sa_with(Some(vec![
                Ace::Deny(Sid::group(7), Access::SYNCHRONIZE),
                Ace::Allow(Sid::EVERYONE, Access::GENERIC_ALL),
            ]))),
            false,
            Some("deny-group"),
        )
        .unwrap();
    assert_eq!(try_open(&in_group, Access::SYNCHRONIZE, "deny-group"), Err(ACCESS_DENIED));
    assert_eq!(try_open(&three, Access::SYNCHRONIZE, "deny-group"), Ok(Access::SYNCHRONIZE));
    finish(&k, base, vec![creator, two, three, in_group]);
}

// SPEC §3 "Security": "ACE masks are generic-mapped for the object's type." (Microsoft
// docs, "Generic Access Rights": generic rights in an ACE are mapped by the object's
// GENERIC_MAPPING.)
#[test]
fn ace_masks_are_generic_mapped() {
    let k = Kernel::new();
    let base = k.object_count();
    let creator = as_user(&k, Sid::user(1));
    let other = as_user(&k, Sid::user(2));
    // Mutex GENERIC_READ = READ_CONTROL | MUTANT_QUERY_STATE (0x20001).
    let _ = creator
        .create_mutex(
            Some(&sa_with(Some(vec![Ace::Allow(Sid::EVERYONE, Access::GENERIC_READ)]))),
            false,
            Some("g-read"),
        )
        .unwrap();
    assert_eq!(
        try_open(&other, Access::READ_CONTROL | Access::MUTEX_MODIFY_STATE, "g-read"),
        Ok(Access::from_bits_retain(0x20001))
    );
    assert_eq!(try_open(&other, Access::GENERIC_READ, "g-read"), Ok(Access::from_bits_retain(0x20001)));
    assert_eq!(try_open(&other, Access::SYNCHRONIZE, "g-read"), Err(ACCESS_DENIED));
    assert_eq!(try_open(&other, Access::MAXIMUM_ALLOWED, "g-read"), Ok(Access::from_bits_retain(0x20001)));
    // GENERIC_EXECUTE = SYNCHRONIZE | READ_CONTROL (0x120000).
    let _ = creator
        .create_mutex(
            Some(&sa_with(Some(vec![Ace::Allow(Sid::EVERYONE, Access::GENERIC_EXECUTE)]))),
            false,
            Some("g-exec"),
        )
        .unwrap();
    assert_eq!(try_open(&other, Access::SYNCHRONIZE, "g-exec"), Ok(Access::SYNCHRONIZE));
    assert_eq!(try_open(&other, Access::MUTEX_MODIFY_STATE, "g-exec"), Err(ACCESS_DENIED));
    // A generic deny is mapped as well.
    let _ = creator
        .create_mutex(
            Some(&sa_with(Some(vec![
                Ace::Deny(Sid::user(2), Access::GENERIC_EXECUTE),
                Ace::Allow(Sid::EVERYONE, Access::GENERIC_ALL),
            ]))),
            false,
            Some("g-deny"),
        )
        .unwrap();
    assert_eq!(try_open(&other, Access::SYNCHRONIZE, "g-deny"), Err(ACCESS_DENIED));
    assert_eq!(try_open(&other, Access::MUTEX_MODIFY_STATE, "g-deny"), Ok(Access::MUTEX_MODIFY_STATE));
    finish(&k, base, vec![creator, other]);
}

// SPEC §3 "Named objects": "MAXIMUM_ALLOWED grants what the DACL allows" (Microsoft docs,
// "Requesting Access Rights to an Object": MAXIMUM_ALLOWED); explicit bits asked with it
// must be granted too.
#[test]
fn maximum_allowed_grants_what_the_dacl_allows() {
    let k = Kernel::new();
    let base = k.object_count();
    let creator = as_user(&k, Sid::user(1));
    let two = as_user(&k, Sid::user(2));
    let three = as_user(&k, Sid::user(3));
    let _ = creator
        .create_mutex(
            Some(&sa_with(Some(vec![
                Ace::Allow(Sid::EVERYONE, Access::SYNCHRONIZE),
                Ace::Allow(Sid::user(2), Access::MUTEX_MODIFY_STATE),
            ]))),
            false,
            Some("max"),
        )
        .unwrap();
    assert_eq!(
        try_open(&two, Access::MAXIMUM_ALLOWED, "max"),
        Ok(Access::SYNCHRONIZE | Access::MUTEX_MODIFY_STATE)
    );
    assert_eq!(try_open(&three, Access::MAXIMUM_ALLOWED, "max"), Ok(Access::SYNCHRONIZE));
    assert_eq!(
        try_open(&two, Access::MAXIMUM_ALLOWED | Access::MUTEX_MODIFY_STATE, "max"),
        Ok(Access::SYNCHRONIZE | Access::MUTEX_MODIFY_STATE)
    );
    assert_eq!(
        try_open(&three, Access::MAXIMUM_ALLOWED | Access::MUTEX_MODIFY_STATE, "max"),
        Err(ACCESS_DENIED)
    );
    // The owner's implicit rights are part of the maximum.
    assert_eq!(
        try_open(&creator, Access::MAXIMUM_ALLOWED, "max"),
        Ok(Access::SYNCHRONIZE | Access::READ_CONTROL | Access::WRITE_DAC)
    );
    // Under the default DACL: everything.
    let _ = creator.create_mutex(None, false, Some("max-default")).unwrap();
    assert_eq!(try_open(&creator, Access::MAXIMUM_ALLOWED, "max-default"), Ok(Access::MUTEX_ALL_ACCESS));
    finish(&k, base, vec![creator, two, three]);
}

// SPEC §3 "Security": "ACCESS_SYSTEM_SECURITY (0x01000000) needs a privilege the engine
// does not grant: asking for it is `PRIVILEGE_NOT_HELD`." (Microsoft docs, "SACL Access
// Right": requires SE_SECURITY_NAME.)
#[test]
fn access_system_security_is_privilege_not_held() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let system = as_user(&k, Sid::SYSTEM);
    let null_dacl = SecurityAttributes {
        inherit_handle: false,
        security_descriptor: Some(SecurityDescriptor::default()),
    };
    let _ = p.create_mutex(Some(&null_dacl), false, Some("sacl")).unwrap();
    let ass = Access::ACCESS_SYSTEM_SECURITY;
    for who in [&p, &system] {
        assert_eq!(try_open(who, ass, "sacl"), Err(PRIVILEGE_NOT_HELD));
        assert_eq!(try_open(who, ass | Access::SYNCHRONIZE, "sacl"), Err(PRIVILEGE_NOT_HELD));
        assert_eq!(try_open(who, ass | Access::MAXIMUM_ALLOWED, "sacl"), Err(PRIVILEGE_NOT_HELD));
        assert_eq!(code(who.open_process(ass, false, p.id())), PRIVILEGE_NOT_HELD);
    }
    assert_eq!(code(p.open_mutex(Access::from_bits_retain(u32::MAX), false, "sacl")), PRIVILEGE_NOT_HELD);
    let e = event(&p);
    assert_eq!(
        code(p.duplicate_handle(ME, e, Some(ME), ass, false, DuplicateOptions::empty())),
        PRIVILEGE_NOT_HELD
    );
    assert_eq!(p.handle_count(), 2, "nothing was opened");
    finish(&k, base, vec![p, system]);
}

// SPEC §3 "Security": "The creator of a new object gets the type's ALL_ACCESS on its
// handle whatever the DACL says (an empty DACL included)." (NT: the creator's access
// check is made by ObInsertObject with the requested ALL_ACCESS, which the creator as
// owner of a new object is granted.)
#[test]
fn the_creator_gets_all_access_even_under_an_empty_dacl() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let empty = sa_with(Some(vec![]));
    let deny_all = sa_with(Some(vec![Ace::Deny(Sid::EVERYONE, Access::GENERIC_ALL)]));
    for sa in [&empty, &deny_all] {
        let m = p.create_mutex(Some(sa), false, None).unwrap().handle;
        assert_eq!(access(&p, m), Access::MUTEX_ALL_ACCESS);
        let e = p.create_event(Some(sa), true, false, None).unwrap().handle;
        assert_eq!(access(&p, e), Access::EVENT_ALL_ACCESS);
        p.set_event(e).unwrap();
        let s = p.create_semaphore(Some(sa), 0, 2, None).unwrap().handle;
        assert_eq!(p.release_semaphore(s, 1), Ok(0));
        let j = p.create_job_object(Some(sa), None).unwrap().handle;
        assert_eq!(access(&p, j), Access::JOB_OBJECT_ALL_ACCESS);
        let f = p.create_file_mapping(None, Some(sa), 0x04, 4096, None).unwrap().handle;
        assert_eq!(access(&p, f), Access::FILE_MAP_ALL_ACCESS);
    }
    // Named: the creator holds ALL_ACCESS, but opening it again (even by create) is
    // checked against the empty DACL.
    let named = p.create_mutex(Some(&empty), false, Some("creator-empty")).unwrap();
    assert!(!named.already_existed);
    assert_eq!(access(&p, named.handle), Access::MUTEX_ALL_ACCESS);
    assert_eq!(code(p.create_mutex(Some(&empty), false, Some("creator-empty"))), ACCESS_DENIED);
    assert_eq!(code(p.open_mutex(Access::SYNCHRONIZE, false, "creator-empty")), ACCESS_DENIED);
    // The creator's full handle may still be duplicated with any subset of its access.
    let d = p
        .duplicate_handle(ME, named.handle, Some(ME), Access::SYNCHRONIZE, false, DuplicateOptions::empty())
        .unwrap()
        .unwrap();
    assert_eq!(access(&p, d), Access::SYNCHRONIZE);
    // ... but not grown back from the reduced one.
    assert_eq!(
        code(p.duplicate_handle(
            ME,
            d,
            Some(ME),
            Access::MUTEX_MODIFY_STATE,
            false,
            DuplicateOptions::empty()
        )),
        ACCESS_DENIED
    );
    finish(&k, base, vec![p]);
}

// SPEC §3 "Security" / "Named objects": "with access 0 ... `ACCESS_DENIED`", and access
// masks with unknown bits: a real DACL does not grant them.
#[test]
fn zero_and_unknown_access_are_denied_under_a_real_dacl() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let _ = p.create_mutex(None, false, Some("zero")).unwrap();
    assert_eq!(try_open(&p, Access::empty(), "zero"), Err(ACCESS_DENIED));
    for bit in [0x2u32, 0x8000, 0x0020_0000, 0x0040_0000, 0x0400_0000, 0x0800_0000] {
        let a = Access::from_bits_retain(bit);
        assert_eq!(try_open(&p, a, "zero"), Err(ACCESS_DENIED), "{bit:#x}");
        assert_eq!(try_open(&p, a | Access::SYNCHRONIZE, "zero"), Err(ACCESS_DENIED), "{bit:#x}");
    }
    assert_eq!(code(p.open_process(Access::empty(), false, p.id())), ACCESS_DENIED);
    assert_eq!(code(p.open_process(Access::from_bits_retain(0x0020_0000), false, p.id())), ACCESS_DENIED);
    assert_eq!(p.handle_count(), 1);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Objects and lifetime": "`open_process` of a pid that is gone is
// `INVALID_PARAMETER`" (Microsoft docs, OpenProcess: ERROR_INVALID_PARAMETER for a
// process that does not exist).
#[test]
fn open_process_of_a_gone_pid_is_invalid_parameter() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let child = p.create_process(false, ProcessOptions::default()).unwrap();
    let pid = child.process.id();
    let h = p.open_process(Access::PROCESS_QUERY_INFORMATION, false, pid).unwrap();
    p.close_handle(h).unwrap();
    child.process.terminate(0).unwrap();
    assert_eq!(code(p.open_process(Access::PROCESS_QUERY_INFORMATION, false, pid)), INVALID_PARAMETER);
    assert_eq!(code(p.open_process(Access::MAXIMUM_ALLOWED, false, pid)), INVALID_PARAMETER);
    // Never existed.
    for bogus in [0u32, 1, 3, 0xFFFF_FFF0, u32::MAX] {
        assert_eq!(code(p.open_process(Access::PROCESS_QUERY_INFORMATION, false, bogus)), INVALID_PARAMETER);
    }
    // Gone because its last reference went.
    let short = p.create_process(false, ProcessOptions::default()).unwrap();
    let short_pid = short.process.id();
    p.close_handle(short.handle).unwrap();
    drop(short.process);
    assert_eq!(code(p.open_process(Access::PROCESS_QUERY_INFORMATION, false, short_pid)), INVALID_PARAMETER);
    finish(&k, base, vec![p, child.process]);
}

// SPEC §3 "Security": a process object gets its token's default DACL like any object
// created without a descriptor, so `open_process` is checked against the target's token
// default DACL (Microsoft docs, OpenProcess: "the access is checked against the security
// descriptor for the process").
#[test]
fn open_process_is_checked_against_the_targets_default_dacl() {
    let k = Kernel::new();
    let base = k.object_count();
    let one = as_user(&k, Sid::user(1));
    let two = as_user(&k, Sid::user(2));
    let two_again = as_user(&k, Sid::user(2));
    let system = as_user(&k, Sid::SYSTEM);
    assert_eq!(code(one.open_process(Access::PROCESS_QUERY_INFORMATION, false, two.id())), ACCESS_DENIED);
    assert_eq!(code(one.open_process(Access::MAXIMUM_ALLOWED, false, two.id())), ACCESS_DENIED);
    let h = two_again.open_process(Access::PROCESS_ALL_ACCESS, false, two.id()).unwrap();
    assert_eq!(access(&two_again, h), Access::PROCESS_ALL_ACCESS);
    let hs = system.open_process(Access::GENERIC_ALL, true, two.id()).unwrap();
    assert_eq!(access(&system, hs), Access::PROCESS_ALL_ACCESS);
    assert_eq!(system.get_handle_information(hs), Ok(HandleFlags::INHERIT));
    // A token whose default DACL lets Everyone read: GENERIC_READ maps to 0x20410
    // (READ_CONTROL | PROCESS_QUERY_INFORMATION | PROCESS_VM_READ).
    let open = with_token(
        &k,
        Token::new(Sid::user(5)).with_default_dacl(vec![
            Ace::Allow(Sid::user(5), Access::GENERIC_ALL),
            Ace::Allow(Sid::EVERYONE, Access::GENERIC_READ),
        ]),
    );
    let q = one.open_process(Access::PROCESS_QUERY_INFORMATION, false, open.id()).unwrap();
    assert_eq!(access(&one, q), Access::PROCESS_QUERY_INFORMATION);
    assert_eq!(code(one.open_process(Access::PROCESS_DUP_HANDLE, false, open.id())), ACCESS_DENIED);
    let max = one.open_process(Access::MAXIMUM_ALLOWED, false, open.id()).unwrap();
    assert_eq!(access(&one, max).bits(), 0x20410);
    // And that handle cannot be used for duplication (it lacks PROCESS_DUP_HANDLE).
    let e = event(&open);
    assert_eq!(
        code(one.duplicate_handle(max, e, Some(ME), Access::empty(), false, DuplicateOptions::SAME_ACCESS)),
        ACCESS_DENIED
    );
    // A child inherits its parent's token, and so its default DACL.
    let child = two.create_process(false, ProcessOptions::default()).unwrap();
    assert_eq!(code(one.open_process(Access::SYNCHRONIZE, false, child.process.id())), ACCESS_DENIED);
    let ok = two_again.open_process(Access::SYNCHRONIZE, false, child.process.id()).unwrap();
    two_again.close_handle(ok).unwrap();
    finish(&k, base, vec![one, two, two_again, system, open, child.process]);
}

// SPEC §3 "Security": "every token also holds `Sid::EVERYONE`"; groups added with
// `with_group` are matched like the user.
#[test]
fn everyone_and_groups_are_matched() {
    let k = Kernel::new();
    let base = k.object_count();
    let creator = as_user(&k, Sid::user(1));
    let anyone = as_user(&k, Sid::user(99));
    let member = with_token(&k, Token::new(Sid::user(98)).with_group(Sid::group(3)));
    let _ = creator
        .create_mutex(
            Some(&sa_with(Some(vec![
                Ace::Allow(Sid::EVERYONE, Access::SYNCHRONIZE),
                Ace::Allow(Sid::group(3), Access::MUTEX_MODIFY_STATE),
            ]))),
            false,
            Some("groups"),
        )
        .unwrap();
    assert_eq!(try_open(&anyone, Access::SYNCHRONIZE, "groups"), Ok(Access::SYNCHRONIZE));
    assert_eq!(try_open(&anyone, Access::MUTEX_MODIFY_STATE, "groups"), Err(ACCESS_DENIED));
    assert_eq!(
        try_open(&member, Access::SYNCHRONIZE | Access::MUTEX_MODIFY_STATE, "groups"),
        Ok(Access::SYNCHRONIZE | Access::MUTEX_MODIFY_STATE)
    );
    // A group and a user with the same number are different SIDs.
    let user3 = as_user(&k, Sid::user(3));
    assert_eq!(try_open(&user3, Access::MUTEX_MODIFY_STATE, "groups"), Err(ACCESS_DENIED));
    finish(&k, base, vec![creator, anyone, member, user3]);
}

// SPEC §3 "Security" + "Inheritance": inheritance is not an access check — an inherited
// handle keeps its access even when the child's token could not open the object (seed
// 000: "kernel object handles are inheritable, kernel objects themselves are not"; the
// handle's access mask is copied).
#[test]
fn inherited_handles_bypass_the_childs_access_check() {
    let k = Kernel::new();
    let base = k.object_count();
    // Starting a child as another user needs AssignPrimaryToken (SPEC §3 "Security").
    let parent = with_token(&k, Token::new(Sid::user(1)).with_privilege(kobj::Privilege::AssignPrimaryToken));
    let sa = SecurityAttributes { inherit_handle: true, security_descriptor: None };
    let m = parent.create_mutex(Some(&sa), false, Some("inherit-sec")).unwrap().handle;
    let child = parent
        .create_process(true, ProcessOptions { token: Some(Token::new(Sid::user(2))), ..Default::default() })
        .unwrap();
    assert_eq!(access(&child.process, m), Access::MUTEX_ALL_ACCESS);
    assert_eq!(try_open(&child.process, Access::SYNCHRONIZE, "inherit-sec"), Err(ACCESS_DENIED));
    // But it cannot grow a reduced copy beyond what its own token is granted.
    let weak = child
        .process
        .duplicate_handle(ME, m, Some(ME), Access::SYNCHRONIZE, false, DuplicateOptions::empty())
        .unwrap()
        .unwrap();
    assert_eq!(
        code(child.process.duplicate_handle(
            ME,
            weak,
            Some(ME),
            Access::MUTEX_ALL_ACCESS,
            false,
            DuplicateOptions::empty()
        )),
        ACCESS_DENIED
    );
    finish(&k, base, vec![parent, child.process]);
}
