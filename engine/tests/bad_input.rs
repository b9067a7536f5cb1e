//! Bad input: SPEC §6. "Every public function, given any handle value, any name, any
//! access mask, any process in any state (terminated included), returns a value or one of
//! the errors above. It never panics, never aborts, never hands out a handle to a
//! destroyed object, never loses a reference."

mod common;

use std::collections::BTreeSet;
use std::io::SeekFrom;
use std::path::PathBuf;

use common::*;
use kobj::{
    Access, CreationDisposition, DuplicateOptions, GenericMapping, Handle, HandleFlags, Kernel, ObjectType,
    Process, ProcessOptions, SecurityAttributes, SecurityDescriptor,
};
use proptest::prelude::{any, prop_assert, prop_assert_eq, prop_oneof, proptest, ProptestConfig, Strategy};

/// An embedder's own type, registered through the public mechanism (SPEC §2).
#[derive(Debug)]
struct Widget {
    id: u64,
}

/// Everything one fuzzing run works on.
struct World {
    kernel: Kernel,
    widget: ObjectType<Widget>,
    /// Processes to call as: live roots, children, terminated ones.
    procs: Vec<Process>,
    /// Every handle value any call returned (in whatever process).
    seen: Vec<Handle>,
    /// The live handles of the process the current step calls as.
    current: Vec<Handle>,
    dir: tempfile::TempDir,
    rng: Rng,
    /// Calls made.
    calls: usize,
    /// Per call name: (succeeded, failed), to show the run reached the success paths.
    stats: std::collections::BTreeMap<&'static str, (usize, usize)>,
}

/// Codes Windows gives for file-system failures, which SPEC §2 lets file calls return
/// ("file-system failures map to the code Windows gives for them"): ERROR_WRITE_PROTECT,
/// ERROR_DISK_FULL, ERROR_FILE_INVALID (CreateFileMapping of an empty file at its size).
const FILE_SYSTEM_CODES: [u32; 3] = [19, 112, 1006];

/// Calls whose failures may be file-system failures.
const FILE_CALLS: [&str; 5] = ["read_file", "write_file", "set_file_pointer", "create_file", "create_*"];

impl World {
    fn new(seed: u64) -> World {
        let kernel = Kernel::builder().handle_limit(4096).build();
        let widget = kernel
            .register_type::<Widget>(
                "Widget",
                GenericMapping::new(0x20001, 0x20002, 0x120000, 0x1F0003),
                Access::from_bits_retain(0x1F0003),
            )
            .unwrap();
        let a = root(&kernel);
        let b = kernel
            .create_process(ProcessOptions {
                token: Some(kobj::Token::new(kobj::Sid::user(7))),
                session_id: Some(1),
                handle_list: None,
            })
            .unwrap();
        let dead = root(&kernel);
        event(&dead);
        dead.terminate(1).unwrap();
        World {
            kernel,
            widget,
            procs: vec![a, b, dead],
            seen: Vec::new(),
            current: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
            rng: Rng::new(seed),
            calls: 0,
            stats: Default::default(),
        }
    }

    /// A result must be a value or one of SPEC §2's codes.
    #[track_caller]
    fn check<T>(&mut self, what: &'static str, r: &kobj::Result<T>) {
        let entry = self.stats.entry(what).or_default();
        match r {
            Ok(_) => entry.0 += 1,
            Err(e) => {
                entry.1 += 1;
                let c = e.code();
                assert!(
                    SPEC_CODES.contains(&c) || (FILE_CALLS.contains(&what) && FILE_SYSTEM_CODES.contains(&c)),
                    "{what}: error {e:?} (code {c}) is not one of SPEC §2's codes"
                );
            }
        }
    }

    /// Mostly a live process; now and then a terminated one.
    fn process(&mut self) -> Process {
        let live: Vec<&Process> = self.procs.iter().filter(|p| !p.is_terminated()).collect();
        if live.is_empty() || self.rng.chance(6) {
            self.rng.pick(&self.procs).clone()
        } else {
            (*self.rng.pick(&live)).clone()
        }
    }

    fn handle(&mut self) -> Handle {
        let r = &mut self.rng;
        let raw = match r.below(14) {
            10..=13 if !self.current.is_empty() => {
                let h = *r.pick(&self.current);
                h.raw() | if r.chance(4) { r.below(4) } else { 0 }
            }
            0..=2 if !self.seen.is_empty() => {
                let h = *r.pick(&self.seen);
                h.raw() | if r.chance(3) { r.below(4) } else { 0 }
            }
            3 => usize::MAX - r.below(11),
            4 => r.below(1000),
            5 => r.next_u64() as usize,
            6 if !self.seen.is_empty() => {
                let h = *r.pick(&self.seen);
                h.raw().wrapping_add(1usize << r.below(64))
            }
            7 => 4 * r.below(5000),
            _ => 4 * (1 + r.below(64)),
        };
        Handle::from_raw(raw)
    }

    fn access(&mut self) -> Access {
        let r = &mut self.rng;
        let bits = match r.below(6) {
            0 => r.next_u64() as u32,
            1 => 0,
            2 => *r.pick(&[
                0x1, 0x2, 0x3, 0x40, 0x100000, 0x1F0003, 0x1FFFFF, 0x2000000, 0x1000000, 0x10000000,
                0x80000000, 0x40000000, 0xF001F, 0x1F01FF,
            ]),
            3 => 1 << r.below(32),
            4 => (r.next_u64() as u32) & 0x001F_FFFF,
            _ => (r.next_u64() as u32) & 0xF300_0000,
        };
        Access::from_bits_retain(bits)
    }

    fn flags(&mut self) -> HandleFlags {
        let r = &mut self.rng;
        HandleFlags::from_bits_retain(if r.chance(4) { r.next_u64() as u32 } else { r.below(4) as u32 })
    }

    fn name(&mut self) -> String {
        let r = &mut self.rng;
        match r.below(18) {
            // A few plain names, so creates and opens meet.
            14..=17 => (*r.pick(&["n1", "n2", "Local\\n1", "Global\\n2"])).to_owned(),
            0 => String::new(),
            1 => "\\".into(),
            2 => "Global\\".into(),
            3 => "Local\\x".into(),
            4 => "Session\\1\\x".into(),
            5 => "Session\\99\\x".into(),
            6 => "a\\\\b".into(),
            7 => "x\0y".into(),
            8 => "a".repeat(*r.pick(&[255, 260, 32_767, 32_768, 40_000])),
            9 => "名前\u{1F600}".into(),
            10 => "Global".into(),
            _ => {
                let alphabet = ['a', 'B', '\\', '.', ' ', '\0', 'é', '/', '*', '?'];
                let len = r.below(12);
                (0..len).map(|_| *r.pick(&alphabet)).collect()
            }
        }
    }

    fn sa(&mut self) -> Option<SecurityAttributes> {
        let r = &mut self.rng;
        match r.below(4) {
            0 => None,
            1 => Some(SecurityAttributes::default()),
            2 => Some(SecurityAttributes {
                inherit_handle: true,
                security_descriptor: Some(SecurityDescriptor::default()),
            }),
            _ => Some(SecurityAttributes {
                inherit_handle: r.chance(2),
                security_descriptor: Some(SecurityDescriptor { owner: None, dacl: Some(vec![]) }),
            }),
        }
    }

    fn path(&mut self) -> PathBuf {
        // Names from the same generator, kept inside the temporary directory: no path
        // separator can climb out of it.
        let name = self.name().replace('/', "_");
        self.dir.path().join(format!("f{name}"))
    }

    /// A new handle in `p`, from a create or open that succeeded: it must name a live
    /// entry there.
    #[track_caller]
    fn got(&mut self, what: &'static str, p: &Process, r: kobj::Result<Handle>) {
        self.check(what, &r);
        if let Ok(h) = r {
            assert!(!h.is_pseudo() && h.raw() != 0 && h.raw() % 4 == 0, "{what}: {h:?}");
            assert!(
                p.get_handle_information(h).is_ok(),
                "{what}: handed out {h:?}, which names no live entry"
            );
            self.seen.push(h);
        }
    }

    fn step(&mut self) {
        self.calls += 1;
        let p = self.process();
        self.current = p.handles().into_iter().map(|row| row.handle).collect();
        let op = self.rng.below(30);
        match op {
            0..=2 => {
                let h = self.handle();
                self.check("close_handle", &p.close_handle(h));
            }
            3 => {
                let h = self.handle();
                self.check("get_handle_information", &p.get_handle_information(h));
            }
            4 => {
                let (h, m, f) = (self.handle(), self.flags(), self.flags());
                self.check("set_handle_information", &p.set_handle_information(h, m, f));
            }
            5 => {
                let (a, b) = (self.handle(), self.handle());
                self.check("compare_object_handles", &p.compare_object_handles(a, b));
            }
            6 => {
                let h = self.handle();
                self.check("set_event", &p.set_event(h));
                let h = self.handle();
                self.check("reset_event", &p.reset_event(h));
            }
            7 => {
                let h = self.handle();
                let count = match self.rng.below(4) {
                    0 => self.rng.next_u64() as i32,
                    1 => *self.rng.pick(&[0, -1, 1, i32::MAX, i32::MIN]),
                    _ => self.rng.below(4) as i32,
                };
                self.check("release_semaphore", &p.release_semaphore(h, count));
            }
            8..=9 => {
                let source_process = if self.rng.chance(2) { Handle::CURRENT_PROCESS } else { self.handle() };
                let source = self.handle();
                let target = match self.rng.below(4) {
                    0 => None,
                    1 => Some(Handle::CURRENT_PROCESS),
                    _ => Some(self.handle()),
                };
                let access = self.access();
                let inherit = self.rng.chance(2);
                let options = DuplicateOptions::from_bits_retain(if self.rng.chance(5) {
                    self.rng.next_u64() as u32
                } else {
                    self.rng.below(8) as u32
                });
                let r = p.duplicate_handle(source_process, source, target, access, inherit, options);
                self.check("duplicate_handle", &r);
                if let Ok(Some(h)) = r {
                    if target == Some(Handle::CURRENT_PROCESS) {
                        self.got("duplicate_handle", &p, Ok(h));
                    } else {
                        self.seen.push(h);
                    }
                }
            }
            10..=11 => {
                let (access, inherit, name) = (self.access(), self.rng.chance(2), self.name());
                let r = match self.rng.below(7) {
                    0 => p.open_mutex(access, inherit, &name),
                    1 => p.open_event(access, inherit, &name),
                    2 => p.open_semaphore(access, inherit, &name),
                    3 => p.open_waitable_timer(access, inherit, &name),
                    4 => p.open_file_mapping(access, inherit, &name),
                    5 => p.open_job_object(access, inherit, &name),
                    _ => p.open_object(&self.widget, access, inherit, &name),
                };
                self.got("open_*", &p, r);
            }
            12..=15 => {
                let sa = self.sa();
                let sa = sa.as_ref();
                let name = if self.rng.chance(3) { None } else { Some(self.name()) };
                let name = name.as_deref();
                let flag = self.rng.chance(2);
                let r = match self.rng.below(8) {
                    0 => p.create_mutex(sa, flag, name),
                    1 => p.create_event(sa, flag, self.rng.chance(2), name),
                    2 => {
                        let (i, m) = if self.rng.chance(2) {
                            (self.rng.next_u64() as i32, self.rng.next_u64() as i32)
                        } else {
                            (self.rng.below(3) as i32, self.rng.below(4) as i32)
                        };
                        p.create_semaphore(sa, i, m, name)
                    }
                    3 => p.create_waitable_timer(sa, flag, name),
                    4 => {
                        let file = if self.rng.chance(2) { Some(self.handle()) } else { None };
                        let protect = if self.rng.chance(2) {
                            *self.rng.pick(&[0x02, 0x04, 0x08, 0x20, 0x40, 0x80, 0x0800_0004])
                        } else {
                            self.rng.next_u64() as u32
                        };
                        let size = *self.rng.pick(&[0, 1, 4096, u64::MAX, 1 << 40]);
                        p.create_file_mapping(file, sa, protect, size, name)
                    }
                    5 => p.create_job_object(sa, name),
                    _ => {
                        let id = self.rng.next_u64();
                        p.create_object(&self.widget, Widget { id }, sa, name)
                    }
                };
                self.got("create_*", &p, r.map(|c| c.handle));
            }
            16..=17 => {
                let h = self.handle();
                match self.rng.below(3) {
                    0 => {
                        let mut buf = vec![0u8; self.rng.below(64)];
                        let r = p.read_file(h, &mut buf);
                        self.check("read_file", &r);
                        if let Ok(n) = r {
                            assert!(n <= buf.len());
                        }
                    }
                    1 => {
                        let buf = vec![0xA5u8; self.rng.below(64)];
                        let r = p.write_file(h, &buf);
                        self.check("write_file", &r);
                        if let Ok(n) = r {
                            assert!(n <= buf.len());
                        }
                    }
                    _ => {
                        let r = &mut self.rng;
                        let pos = match r.below(6) {
                            0 => SeekFrom::Start(r.next_u64()),
                            1 => SeekFrom::Start(r.below(100) as u64),
                            2 => SeekFrom::Current(r.next_u64() as i64),
                            3 => SeekFrom::Current(r.below(200) as i64 - 100),
                            4 => SeekFrom::End(r.next_u64() as i64),
                            _ => SeekFrom::End(r.below(200) as i64 - 100),
                        };
                        self.check("set_file_pointer", &p.set_file_pointer(h, pos));
                    }
                }
            }
            18 => {
                let path = self.path();
                let access = self.access();
                let sa = self.sa();
                let disposition = *self.rng.pick(&[
                    CreationDisposition::CreateNew,
                    CreationDisposition::CreateAlways,
                    CreationDisposition::OpenExisting,
                    CreationDisposition::OpenAlways,
                    CreationDisposition::TruncateExisting,
                ]);
                let r = p.create_file(&path, access, sa.as_ref(), disposition);
                self.got("create_file", &p, r);
            }
            19 => {
                let pid = match self.rng.below(3) {
                    0 => self.rng.next_u64() as u32,
                    1 => self.rng.below(100) as u32,
                    _ => self.rng.pick(&self.procs).id(),
                };
                let (access, inherit) = (self.access(), self.rng.chance(2));
                let r = p.open_process(access, inherit, pid);
                self.got("open_process", &p, r);
            }
            20..=22 => {
                let h = self.handle();
                let access = self.access();
                match self.rng.below(3) {
                    0 => {
                        let r = p.with_object(&self.widget, h, access, |w| w.id);
                        self.check("with_object", &r);
                    }
                    1 => {
                        let r = p.reference_object(&self.widget, h, access);
                        self.check("reference_object", &r);
                        if let Ok(w) = r {
                            let _ = w.id;
                        }
                    }
                    _ => {
                        let pin = p.pin();
                        let r = pin.get(&self.widget, h, access).map(|w| w.id);
                        self.check("Pinned::get", &r);
                        self.check("Pinned::info", &pin.info(h));
                    }
                }
            }
            23 => {
                if self.procs.len() >= 12 {
                    return;
                }
                let inherit = self.rng.chance(2);
                let handle_list = match self.rng.below(3) {
                    0 => None,
                    1 => Some(Vec::new()),
                    _ => Some((0..1 + self.rng.below(4)).map(|_| self.handle()).collect()),
                };
                let options = ProcessOptions {
                    token: None,
                    session_id: if self.rng.chance(3) { Some(self.rng.below(3) as u32) } else { None },
                    handle_list,
                };
                let r = p.create_process(inherit, options);
                self.check("create_process", &r);
                if let Ok(child) = r {
                    self.got("create_process", &p, Ok(child.handle));
                    self.procs.push(child.process);
                }
            }
            24 => {
                // Terminate now and then, but keep someone alive to call as.
                if self.rng.chance(16) && self.procs.iter().filter(|q| !q.is_terminated()).count() > 3 {
                    let code = self.rng.next_u64() as u32;
                    self.check("terminate", &p.terminate(code));
                }
            }
            25 => {
                let h = self.handle();
                self.check("event_state", &p.event_state(h));
                let h = self.handle();
                self.check("semaphore_count", &p.semaphore_count(h));
            }
            26 => {
                for row in p.handles() {
                    assert!(row.object_handles >= 1, "a listed handle's object has a handle");
                }
                let _ = (p.handle_count(), p.id(), p.session_id(), p.is_terminated());
            }
            _ => {
                let kernel = self.kernel.clone();
                let r = self.rng.pick(&self.procs).clone();
                let _ = kernel.object_count();
                let _ = format!("{kernel:?} {r:?}");
            }
        }
    }
}

type Stats = std::collections::BTreeMap<&'static str, (usize, usize)>;

fn run(seed: u64, steps: usize) -> Stats {
    let mut w = World::new(seed);
    let base = 0;
    for _ in 0..steps {
        w.step();
    }
    let calls = w.calls;
    let World { kernel, procs, stats, .. } = w;
    assert!(calls >= steps);
    finish(&kernel, base, procs);
    stats
}

// SPEC §6 over every public Process function, random arguments, live and terminated
// processes; object_count returns to its start value (no reference lost or leaked).
#[test]
fn random_calls_never_panic_and_return_spec_codes() {
    // Miri interprets every call: a few hundred steps per seed still reach every path.
    let steps = if cfg!(miri) {
        250
    } else if cfg!(debug_assertions) {
        6_000
    } else {
        50_000
    };
    let mut total = Stats::new();
    for seed in 1..=8u64 {
        for (what, (ok, err)) in run(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), steps) {
            let t = total.entry(what).or_default();
            t.0 += ok;
            t.1 += err;
        }
    }
    // The run must reach the success paths too, not only the argument checks. (Under Miri
    // the short run is there to find undefined behaviour; it need not reach every path.)
    if cfg!(miri) {
        return;
    }
    for what in [
        "close_handle",
        "get_handle_information",
        "set_handle_information",
        "compare_object_handles",
        "set_event",
        "reset_event",
        "duplicate_handle",
        "open_*",
        "create_*",
        "create_file",
        "read_file",
        "write_file",
        "set_file_pointer",
        "open_process",
        "create_process",
        "with_object",
        "reference_object",
        "Pinned::get",
        "terminate",
    ] {
        let (ok, err) = total.get(what).copied().unwrap_or_default();
        assert!(ok > 0 && err > 0, "{what}: {ok} succeeded, {err} failed: {total:?}");
    }
}

// SPEC §6 with every call made as a terminated process: each one is ACCESS_DENIED (SPEC
// §3 "Objects and lifetime") or, for release_semaphore's count check, INVALID_PARAMETER.
#[test]
fn random_calls_as_a_terminated_process() {
    let k = Kernel::new();
    let p = root(&k);
    let hs: Vec<Handle> = (0..5).map(|_| event(&p)).collect();
    p.terminate(0).unwrap();
    let mut rng = Rng::new(42);
    let rounds = if cfg!(miri) { 100 } else { 2_000 };
    for _ in 0..rounds {
        let h = if rng.chance(2) { *rng.pick(&hs) } else { Handle::from_raw(rng.next_u64() as usize) };
        let access = Access::from_bits_retain(rng.next_u64() as u32);
        assert_eq!(code(p.close_handle(h)), ACCESS_DENIED);
        assert_eq!(code(p.set_event(h)), ACCESS_DENIED);
        assert_eq!(code(p.get_handle_information(h)), ACCESS_DENIED);
        assert_eq!(code(p.compare_object_handles(h, h)), ACCESS_DENIED);
        assert_eq!(code(p.open_process(access, false, rng.next_u64() as u32)), ACCESS_DENIED);
        assert_eq!(code(p.open_event(access, false, "x")), ACCESS_DENIED);
        assert_eq!(
            code(p.duplicate_handle(
                Handle::CURRENT_PROCESS,
                h,
                Some(Handle::CURRENT_PROCESS),
                access,
                false,
                DuplicateOptions::from_bits_retain(rng.next_u64() as u32)
            )),
            ACCESS_DENIED
        );
        let c = code(p.release_semaphore(h, rng.next_u64() as i32));
        assert!(c == ACCESS_DENIED || c == INVALID_PARAMETER, "{c}");
    }
    drop(p);
    assert_eq!(k.object_count(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // SPEC §3 "Handles and tables" + SPEC §6: an arbitrary raw value acts on a live
    // entry exactly when it is not a pseudo-handle and its value with the low two bits
    // cleared names that entry; otherwise it is INVALID_HANDLE (never truncated onto a
    // live slot, never a panic).
    #[test]
    fn any_raw_value_acts_only_on_the_entry_it_names(
        raws in proptest::collection::vec(
            prop_oneof![
                any::<usize>(),
                0usize..200,
                (usize::MAX - 10)..=usize::MAX,
                (0u32..64).prop_map(|s| 4usize.wrapping_add(1usize << s)),
            ],
            1..40,
        ),
        access in any::<u32>(),
    ) {
        let k = Kernel::builder().handle_limit(64).build();
        let p = root(&k);
        let live: Vec<Handle> = (0..10).map(|_| event(&p)).collect();
        let names: BTreeSet<usize> = live.iter().map(|h| h.raw()).collect();
        for raw in raws {
            let v = Handle::from_raw(raw);
            let names_live = !v.is_pseudo() && names.contains(&(raw & !3));
            let r = p.get_handle_information(v);
            if names_live {
                prop_assert_eq!(r, Ok(HandleFlags::empty()));
                prop_assert_eq!(p.compare_object_handles(v, Handle::from_raw(raw & !3)), Ok(true));
            } else if v == Handle::CURRENT_PROCESS {
                prop_assert!(r.is_ok());
            } else {
                prop_assert_eq!(r.map_err(|e| e.code()), Err(INVALID_HANDLE));
                prop_assert_eq!(p.set_event(v).map_err(|e| e.code()), Err(INVALID_HANDLE));
                if v.is_pseudo() {
                    prop_assert_eq!(p.close_handle(v), Ok(()));
                } else {
                    prop_assert_eq!(p.close_handle(v).map_err(|e| e.code()), Err(INVALID_HANDLE));
                }
            }
            let d = p.duplicate_handle(
                Handle::CURRENT_PROCESS,
                v,
                Some(Handle::CURRENT_PROCESS),
                Access::from_bits_retain(access),
                false,
                DuplicateOptions::empty(),
            );
            match d {
                Ok(Some(h)) => {
                    prop_assert!(names_live || v == Handle::CURRENT_PROCESS);
                    p.close_handle(h).unwrap();
                }
                Ok(None) => prop_assert!(false, "a target was given"),
                Err(e) => prop_assert!(SPEC_CODES.contains(&e.code())),
            }
        }
        prop_assert_eq!(p.handle_count(), live.len());
        for &h in &live {
            prop_assert_eq!(p.event_state(h), Ok(false));
        }
        p.terminate(0).unwrap();
        drop(p);
        prop_assert_eq!(k.object_count(), 0);
    }
}
