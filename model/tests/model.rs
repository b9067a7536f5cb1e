//! Model-based differential test (moved here from `engine/tests/model.rs`): random
//! single-threaded scenarios, decoded from random bytes by the same `arbitrary` decoder
//! the fuzz targets use, run against kobj and against the reference model. Every result
//! must be identical: handle values, error codes, flags, `already_existed`, compare
//! answers, each process's table (values, access, flags, type, object handle counts),
//! `handle_count` and `kernel.object_count()`. Plus fixed sequences that pin the model's
//! handle-value rules to the engine's.

use kobj::{Access, DuplicateOptions, Handle, Kernel, Process, ProcessOptions, SecurityAttributes};
use kobj_model::ops::{HSel, NameSel, ObjectKind, Op, SdSel};
use kobj_model::{run, run_scenario, Scenario};
use proptest::prelude::*;

const INVALID_HANDLE: u32 = 6;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_model(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let scenario = Scenario::decode(&bytes);
        if let Err(d) = run_scenario(&scenario) {
            panic!("{d}\nscenario: {scenario:#?}");
        }
    }

    #[test]
    fn names_match_the_model(bytes in proptest::collection::vec(any::<u8>(), 0..800)) {
        if let Err(d) = kobj_model::targets::names(&bytes) {
            panic!("{d}");
        }
    }
}

fn create(p: u8, kind: ObjectKind, name: Option<NameSel>, inherit: bool) -> Op {
    Op::Create { p, kind, name, inherit, sd: SdSel::Default, param: 0, file: None }
}

/// A fixed run through the calls each op kind makes, which must agree step by step.
#[test]
fn a_fixed_run_of_every_op_agrees() {
    let ops = vec![
        create(0, ObjectKind::Event, Some(NameSel::Fixed(0)), true),
        create(1, ObjectKind::Event, Some(NameSel::Fixed(2)), false),
        create(0, ObjectKind::Mutex, Some(NameSel::Fixed(0)), false),
        Op::Open { p: 1, kind: ObjectKind::Event, name: NameSel::Fixed(2), access: 5, inherit: true },
        Op::Namespace { p: 0, create: true, boundary: 0, sids: 1, alias: 0 },
        create(0, ObjectKind::Semaphore, Some(NameSel::Fixed(8)), false),
        Op::Open { p: 0, kind: ObjectKind::Semaphore, name: NameSel::Fixed(8), access: 0, inherit: false },
        Op::Semaphore { p: 0, h: HSel::LiveOf(ObjectKind::Semaphore, 0), count: 0, query: false },
        Op::Event { p: 0, h: HSel::LiveOf(ObjectKind::Event, 0), how: 0 },
        Op::CreateProcess { p: 0, inherit: true, list: None },
        Op::Dup {
            p: 0,
            src: None,
            h: HSel::Live(0, 0),
            dst: Some(HSel::LiveProcess(0)),
            target_none: false,
            options: 2,
            access: 0,
            inherit: false,
        },
        Op::SetInfo { p: 0, h: HSel::Live(1, 0), mask: 3, flags: 2 },
        Op::Close { p: 0, h: HSel::Live(1, 0) },
        Op::Terminate { p: 1 },
        Op::Close { p: 1, h: HSel::Garbage(0) },
    ];
    run(&ops).unwrap_or_else(|d| panic!("{d}"));
}

/// The runner reports a disagreement: a scenario where the engine's answer is known
/// and a model that answers otherwise must fail. (Checks the checker, with a real
/// engine result: the second close of one handle is INVALID_HANDLE on both sides, and a
/// close on a terminated process is ACCESS_DENIED on both.)
#[test]
fn double_close_and_terminated_caller_agree() {
    let ops = vec![
        create(0, ObjectKind::Job, None, false),
        Op::Close { p: 0, h: HSel::Issued(0, 0) },
        Op::Close { p: 0, h: HSel::Issued(0, 0) },
        Op::Terminate { p: 0 },
        Op::Close { p: 0, h: HSel::Issued(0, 0) },
        Op::Terminate { p: 0 },
    ];
    run(&ops).unwrap_or_else(|d| panic!("{d}"));
}

fn sa(inherit: bool) -> SecurityAttributes {
    SecurityAttributes { inherit_handle: inherit, ..Default::default() }
}

fn root(k: &Kernel) -> Process {
    k.create_process(ProcessOptions::default()).expect("a root")
}

fn event(p: &Process, inherit: bool) -> Handle {
    p.create_event(Some(&sa(inherit)), true, false, None).expect("an event").handle
}

fn finish(k: &Kernel, base: usize, procs: Vec<Process>) {
    for p in &procs {
        let _ = p.terminate(0);
    }
    drop(procs);
    assert_eq!(k.object_count(), base);
}

#[test]
fn inherited_child_table_layout_and_free_order() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let hs = [event(&p, false), event(&p, true), event(&p, false), event(&p, true), event(&p, false)];
    assert_eq!(hs.map(Handle::raw), [4, 8, 12, 16, 20]);
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    assert_eq!(child.handle.raw(), 24, "the child's handle goes into the parent after the copy");
    let c = &child.process;
    assert_eq!(c.handle_count(), 2);
    // Free stack, lowest on top: 4, then 12, then fresh 20, 24.
    let got: Vec<usize> = (0..4).map(|_| event(c, false).raw()).collect();
    assert_eq!(got, [4, 12, 20, 24]);
    finish(&k, base, vec![p, child.process]);
}

#[test]
fn close_source_keeps_the_value_and_failed_create_gives_the_slot_back() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let m = p.create_mutex(None, false, Some("a")).unwrap().handle;
    let e = event(&p, false);
    let d = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            e,
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::CLOSE_SOURCE | DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    assert_eq!(d, e);
    assert_eq!(
        p.create_event(None, true, false, Some("a")).map(|c| c.handle).map_err(|e| e.code()),
        Err(INVALID_HANDLE)
    );
    assert_eq!(event(&p, false).raw(), 12, "the failed create's slot is reused");
    assert_eq!(m.raw(), 4);
    finish(&k, base, vec![p]);
}

/// Fixed runs through the corners random bytes reach rarely: deny ACEs for another user,
/// duplication under an empty DACL (within the held access, and beyond it), CreateGlobal
/// for a global mapping from session 1, the `Session\<n>` links and the length limit.
#[test]
fn security_and_name_corners_agree() {
    use kobj_model::ops::{Component, RootSel};
    use kobj_model::Setup;
    let setup = Setup {
        roots: vec![
            RootSel { session: 1, token: 0 },
            RootSel { session: 1, token: 1 },
            RootSel { session: 1, token: 2 },
        ],
        limit: None,
    };
    let named = |p: u8, kind: ObjectKind, name: NameSel, sd: SdSel| Op::Create {
        p,
        kind,
        name: Some(name),
        inherit: false,
        sd,
        param: 0,
        file: None,
    };
    let open = |p: u8, name: NameSel, access: u8| Op::Open {
        p,
        kind: ObjectKind::Event,
        name,
        access,
        inherit: false,
    };
    let dup = |access: u8, options: u8| Op::Dup {
        p: 0,
        src: None,
        h: HSel::LiveOf(ObjectKind::Event, 0),
        dst: None,
        target_none: false,
        options,
        access,
        inherit: false,
    };
    let ops = vec![
        // Deny user 1001 GENERIC_ALL, then allow Everyone GENERIC_READ.
        named(0, ObjectKind::Event, NameSel::Fixed(0), SdSel::DenyThenRead),
        open(1, NameSel::Fixed(0), 2), // GENERIC_READ as user 1001: denied
        open(2, NameSel::Fixed(0), 2), // as user 1000: granted
        open(1, NameSel::Fixed(0), 5), // MAXIMUM_ALLOWED as user 1001
        named(1, ObjectKind::Event, NameSel::Fixed(0), SdSel::Default), // create-existing, denied
        // An empty DACL: the creator holds ALL_ACCESS; a duplicate may keep it, not grow.
        named(0, ObjectKind::Event, NameSel::Fixed(1), SdSel::Empty),
        dup(9, 0),
        dup(4, 0),
        Op::SetInfo { p: 0, h: HSel::LiveOf(ObjectKind::Event, 1), mask: 3, flags: 0 },
        open(0, NameSel::Fixed(1), 10), // READ_CONTROL | WRITE_DAC: the owner's
        open(1, NameSel::Fixed(1), 10),
        // A global mapping from session 1 needs CreateGlobal; opening it does not.
        named(0, ObjectKind::Mapping, NameSel::Fixed(2), SdSel::Default),
        named(2, ObjectKind::Mapping, NameSel::Fixed(2), SdSel::Null),
        Op::Open { p: 0, kind: ObjectKind::Mapping, name: NameSel::Fixed(2), access: 2, inherit: false },
        // Session links: Session\1 is a link (not an object), Session\3 does not exist,
        // Session\01 is not Session\1.
        named(
            0,
            ObjectKind::Job,
            NameSel::Path(vec![Component::Session, Component::Number(1)]),
            SdSel::Default,
        ),
        named(
            0,
            ObjectKind::Job,
            NameSel::Path(vec![Component::Session, Component::Number(3)]),
            SdSel::Default,
        ),
        named(
            0,
            ObjectKind::Job,
            NameSel::Path(vec![Component::Session, Component::Number(129), Component::Word(0)]),
            SdSel::Default,
        ),
        named(
            0,
            ObjectKind::Job,
            NameSel::Path(vec![
                Component::Session,
                Component::Number(1),
                Component::Local,
                Component::Word(0),
            ]),
            SdSel::Default,
        ),
        Op::Open {
            p: 1,
            kind: ObjectKind::Job,
            name: NameSel::Path(vec![Component::Word(0)]),
            access: 7,
            inherit: false,
        },
        // 32,767 units fit, 32,768 do not (1-unit and 2-unit characters).
        named(0, ObjectKind::Timer, NameSel::Long { delta: 2, global: true, wide: true }, SdSel::Default),
        named(0, ObjectKind::Timer, NameSel::Long { delta: 3, global: true, wide: true }, SdSel::Default),
        named(0, ObjectKind::Timer, NameSel::Long { delta: 2, global: false, wide: false }, SdSel::Default),
        named(0, ObjectKind::Timer, NameSel::Long { delta: 3, global: false, wide: false }, SdSel::Default),
        // A private namespace shadows `Global` as an alias while its handle is open.
        Op::Namespace { p: 0, create: true, boundary: 0, sids: 2, alias: 4 },
        named(0, ObjectKind::Event, NameSel::Fixed(2), SdSel::Default),
        Op::Namespace { p: 1, create: false, boundary: 0, sids: 2, alias: 0 },
        Op::Close { p: 0, h: HSel::LiveOf(ObjectKind::Event, 9) },
    ];
    run_scenario(&Scenario { setup, ops }).unwrap_or_else(|d| panic!("{d}"));
}
