//! The pitfalls of SPEC §5 that the engine core must avoid.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use common::*;
use kobj::{Access, DuplicateOptions, GenericMapping, Handle, HandleFlags, Kernel, ProcessOptions};

// SPEC §5: "Check for the pseudo-handles before masking the low two bits (-1 masked is
// -4)." -1 must name the process everywhere a handle is read, never the -4 value.
#[test]
fn minus_one_is_not_masked() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let target = root(&k);
    let hs: Vec<Handle> = (0..4).map(|_| event(&p)).collect();
    // -1 as the source process and the source handle: a real handle to p.
    let real = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            Handle::CURRENT_PROCESS,
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    assert!(!real.is_pseudo());
    assert_eq!(p.compare_object_handles(real, Handle::CURRENT_PROCESS), Ok(true));
    // The real handle carries PROCESS_ALL_ACCESS, so it works as a duplication source.
    let again = p
        .duplicate_handle(
            real,
            hs[0],
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    assert_eq!(p.compare_object_handles(again, hs[0]), Ok(true));
    // -1 as the target: into p's own table, not a table of some other process.
    let to_target = p.open_process(Access::PROCESS_DUP_HANDLE, false, target.id()).unwrap();
    let before = target.handle_count();
    p.duplicate_handle(
        to_target,
        Handle::CURRENT_PROCESS,
        Some(to_target),
        Access::empty(),
        false,
        DuplicateOptions::SAME_ACCESS,
    )
    .unwrap();
    assert_eq!(target.handle_count(), before + 1, "-1 resolved in the source process");
    // Closing each pseudo-handle touches no entry.
    let count = p.handle_count();
    for ph in pseudo_handles() {
        p.close_handle(ph).unwrap();
    }
    assert_eq!(p.handle_count(), count);
    for &h in &hs {
        p.set_event(h).unwrap();
    }
    finish(&k, base, vec![p, target]);
}

// SPEC §5: "terminate must close PROTECT_FROM_CLOSE handles too".
#[test]
fn terminate_closes_protected_handles() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let mut handles = Vec::new();
    for _ in 0..300 {
        let h = event(&p);
        handles.push(h);
        handles.push(dup_same(&p, h));
    }
    for &h in &handles {
        p.set_handle_information(h, HandleFlags::PROTECT_FROM_CLOSE, HandleFlags::PROTECT_FROM_CLOSE)
            .unwrap();
        assert_eq!(code(p.close_handle(h)), INVALID_HANDLE);
    }
    assert_eq!(k.object_count(), base + 302);
    p.terminate(0).unwrap();
    assert_eq!(p.handle_count(), 0);
    assert_eq!(k.object_count(), base + 2, "only the process object and its main thread remain");
    finish(&k, base, vec![p]);
}

// SPEC §5: "an insert racing terminate must not leave a handle in a dead table".
// Threads create, duplicate and open while another thread terminates the process;
// afterwards the table is empty and every object is gone.
#[test]
fn an_insert_racing_terminate_leaves_no_handle() {
    let k = Kernel::new();
    let base = k.object_count();
    let other = root(&k);
    let other_pid = other.id();
    let rounds = if cfg!(debug_assertions) { 60 } else { 300 };
    for round in 0..rounds {
        let p = root(&k);
        let go = Arc::new(Barrier::new(5));
        let made = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let p = p.clone();
                let go = Arc::clone(&go);
                let made = Arc::clone(&made);
                thread::spawn(move || {
                    go.wait();
                    let mut mine = Vec::new();
                    for i in 0usize.. {
                        let r = match (i + t) % 4 {
                            0 => p.create_event(None, true, false, None).map(|c| c.handle),
                            1 => p.create_semaphore(None, 0, 1, None).map(|c| c.handle),
                            2 => match mine.last() {
                                Some(&h) => p
                                    .duplicate_handle(
                                        Handle::CURRENT_PROCESS,
                                        h,
                                        Some(Handle::CURRENT_PROCESS),
                                        Access::empty(),
                                        true,
                                        DuplicateOptions::SAME_ACCESS,
                                    )
                                    .map(|d| d.expect("a target was given")),
                                None => continue,
                            },
                            _ => p.open_process(Access::SYNCHRONIZE, false, other_pid),
                        };
                        match r {
                            Ok(h) => {
                                made.fetch_add(1, Ordering::Relaxed);
                                mine.push(h);
                                if mine.len() > 16 {
                                    let h = mine.remove(0);
                                    if let Err(e) = p.close_handle(h) {
                                        assert!(
                                            [ACCESS_DENIED, INVALID_HANDLE].contains(&e.code()),
                                            "close racing terminate: {e:?}"
                                        );
                                    }
                                }
                            }
                            Err(e) => {
                                // After terminate: ACCESS_DENIED; a duplicate whose
                                // source the sweep already closed: INVALID_HANDLE.
                                assert!(
                                    [ACCESS_DENIED, INVALID_HANDLE].contains(&e.code()),
                                    "insert racing terminate: {e:?}"
                                );
                                if p.is_terminated() {
                                    return;
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        go.wait();
        // Let the workers get going for a varying while before terminating.
        let wait_for = (round % 7) * 20;
        while made.load(Ordering::Relaxed) < wait_for {
            std::hint::spin_loop();
        }
        p.terminate(0).unwrap();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(p.handle_count(), 0, "round {round}: a handle survived in a dead table");
        drop(p);
        assert_eq!(k.object_count(), base + 2, "round {round}: an object outlived its terminated process");
    }
    finish(&k, base, vec![other]);
}

// SPEC §5, the same race across processes: threads of p duplicate handles into q's
// table (and open processes into it) while q is terminated; SPEC §3: a process handle to
// a terminated process fails as a duplication target with ACCESS_DENIED. Nothing may be
// left in q's dead table.
#[test]
fn a_duplicate_into_a_terminating_process_leaves_no_handle() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let rounds = if cfg!(debug_assertions) { 60 } else { 300 };
    for round in 0..rounds {
        let q = root(&k);
        let to_q = p.open_process(Access::PROCESS_DUP_HANDLE, false, q.id()).unwrap();
        let before = k.object_count();
        let go = Arc::new(Barrier::new(4));
        let made = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (p, go, made) = (p.clone(), Arc::clone(&go), Arc::clone(&made));
                thread::spawn(move || {
                    let source = event(&p);
                    go.wait();
                    loop {
                        let r = p.duplicate_handle(
                            Handle::CURRENT_PROCESS,
                            source,
                            Some(to_q),
                            Access::empty(),
                            false,
                            DuplicateOptions::SAME_ACCESS,
                        );
                        match r {
                            Ok(_) => {
                                made.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                assert_eq!(e.code(), ACCESS_DENIED, "duplicate into a dead process");
                                break;
                            }
                        }
                    }
                    p.close_handle(source).unwrap();
                })
            })
            .collect();
        go.wait();
        while made.load(Ordering::Relaxed) < (round % 5) * 30 {
            std::hint::spin_loop();
        }
        q.terminate(0).unwrap();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(q.handle_count(), 0, "round {round}: a handle survived in q's dead table");
        assert_eq!(k.object_count(), before, "round {round}: the duplicated events are gone");
        p.close_handle(to_q).unwrap();
        drop(q);
        assert_eq!(k.object_count(), base + 2, "round {round}");
    }
    finish(&k, base, vec![p]);
}

const MAGIC: u64 = 0x6b6f_626a_6f62_6a21;
const DEAD: u64 = 0xdead_dead_dead_dead;

/// A payload that marks itself dead when dropped, so a reference to a destroyed object
/// shows.
struct Tracked {
    magic: AtomicU64,
    serial: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.magic.store(DEAD, Ordering::SeqCst);
    }
}

fn tracked_type(k: &Kernel) -> kobj::ObjectType<Tracked> {
    k.register_type::<Tracked>(
        "Tracked",
        GenericMapping::new(0x20001, 0x20002, 0x120000, 0x1F0003),
        Access::from_bits_retain(0x1F0003),
    )
    .unwrap()
}

// SPEC §5: "take a reference only if the object is still alive (increment-if-not-zero):
// never resurrect an object whose last handle is closing"; SPEC §6: never hands out a
// handle to a destroyed object, never loses a reference. Creators close their handles as
// fast as readers reference, duplicate and look them up.
#[test]
fn references_racing_close_never_see_a_dead_object() {
    let k = Kernel::new();
    let ty = tracked_type(&k);
    let base = k.object_count();
    let p = root(&k);
    let per_creator: u64 = if cfg!(debug_assertions) { 20_000 } else { 200_000 };
    let published: Arc<Vec<AtomicUsize>> = Arc::new((0..2).map(|_| AtomicUsize::new(0)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for c in 0..2usize {
        let (p, ty, published) = (p.clone(), ty.clone(), Arc::clone(&published));
        threads.push(thread::spawn(move || {
            for serial in 0..per_creator {
                let t = Tracked { magic: AtomicU64::new(MAGIC), serial };
                let h = p.create_object(&ty, t, None, None).unwrap().handle;
                published[c].store(h.raw(), Ordering::Release);
                if serial % 3 == 0 {
                    thread::yield_now();
                }
                p.close_handle(h).expect("the creator's own handle closes once");
            }
        }));
    }
    let readers: Vec<_> = (0..2usize)
        .map(|r| {
            let (p, ty, published, done) = (p.clone(), ty.clone(), Arc::clone(&published), Arc::clone(&done));
            thread::spawn(move || {
                let mut rng = Rng::new(0x5eed + r as u64);
                let mut seen = 0u64;
                while !done.load(Ordering::Acquire) {
                    let h = Handle::from_raw(published[rng.below(2)].load(Ordering::Acquire));
                    let access = Access::from_bits_retain(1);
                    match rng.below(4) {
                        0 => match p.reference_object(&ty, h, access) {
                            Ok(obj) => {
                                // Held past the pin: the object must stay whole.
                                thread::yield_now();
                                assert_eq!(obj.magic.load(Ordering::SeqCst), MAGIC);
                                seen += 1;
                            }
                            Err(e) => assert_eq!(e.code(), INVALID_HANDLE),
                        },
                        1 => match p.with_object(&ty, h, access, |t| t.magic.load(Ordering::SeqCst)) {
                            Ok(m) => assert_eq!(m, MAGIC),
                            Err(e) => assert_eq!(e.code(), INVALID_HANDLE),
                        },
                        2 => {
                            let pin = p.pin();
                            match pin.get(&ty, h, access) {
                                Ok(t) => assert_eq!(t.magic.load(Ordering::SeqCst), MAGIC),
                                Err(e) => assert_eq!(e.code(), INVALID_HANDLE),
                            }
                        }
                        _ => match p.duplicate_handle(
                            Handle::CURRENT_PROCESS,
                            h,
                            Some(Handle::CURRENT_PROCESS),
                            Access::empty(),
                            false,
                            DuplicateOptions::SAME_ACCESS,
                        ) {
                            Ok(Some(d)) => {
                                let m = p
                                    .with_object(&ty, d, access, |t| {
                                        (t.magic.load(Ordering::SeqCst), t.serial)
                                    })
                                    .expect("a fresh duplicate names a live object");
                                assert_eq!(m.0, MAGIC);
                                p.close_handle(d).expect("our duplicate closes");
                            }
                            Ok(None) => panic!("a target was given"),
                            Err(e) => assert_eq!(e.code(), INVALID_HANDLE),
                        },
                    }
                }
                seen
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(p.handle_count(), 0, "no duplicate or reference leaked a handle");
    assert_eq!(k.object_count(), base + 2, "only the process and its main thread are left");
    finish(&k, base, vec![p]);
}

// SPEC §3 "Inheritance" and SPEC §5 (increment-if-not-zero): "The copy is safe while
// other threads of the parent create, duplicate and close handles ... no reference is
// lost or leaked."
#[test]
fn inheritance_racing_close_loses_and_leaks_nothing() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let done = Arc::new(AtomicBool::new(false));
    let churners: Vec<_> = (0..2)
        .map(|_| {
            let (p, done) = (p.clone(), Arc::clone(&done));
            thread::spawn(move || {
                let mut live = Vec::new();
                while !done.load(Ordering::Acquire) {
                    live.push(inheritable_event(&p));
                    if live.len() > 32 {
                        for h in live.drain(..16) {
                            p.close_handle(h).unwrap();
                        }
                    }
                }
                for h in live {
                    p.close_handle(h).unwrap();
                }
            })
        })
        .collect();
    let children = if cfg!(debug_assertions) { 300 } else { 3000 };
    for _ in 0..children {
        let child = p.create_process(true, ProcessOptions::default()).unwrap();
        // Every inherited handle names a live event the child may use.
        for row in child.process.handles() {
            assert_eq!(row.flags, HandleFlags::INHERIT);
            child.process.set_event(row.handle).unwrap();
        }
        child.process.terminate(0).unwrap();
        p.close_handle(child.handle).unwrap();
    }
    done.store(true, Ordering::Release);
    for c in churners {
        c.join().unwrap();
    }
    assert_eq!(p.handle_count(), 0);
    assert_eq!(k.object_count(), base + 2);
    finish(&k, base, vec![p]);
}

// SPEC §5: "Keep unknown access bits (from_bits_retain), never truncate them silently."
#[test]
fn unknown_access_bits_are_kept() {
    for bits in [0x8000_0004u32, 0x0040_0000, 0x0080_0000, 0x0400_0000, 0x0800_0000, u32::MAX] {
        let a = Access::from_bits_retain(bits);
        assert_eq!(a.bits(), bits);
        assert_eq!((a | Access::EVENT_MODIFY_STATE).bits(), bits | 0x2);
        assert!(a.contains(Access::from_bits_retain(bits)));
    }
    assert_eq!(Access::from_bits_retain(0x8000_0000 | 0x4).bits(), 0x8000_0004);
    assert_eq!((Access::GENERIC_READ | Access::from_bits_retain(0x0040_0000)).bits(), 0x8040_0000);
}
