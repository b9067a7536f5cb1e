//! Many threads on one process: SPEC §4 "Concurrency and performance" (lookups without a
//! lock, create/close/duplicate without a table-wide lock) and the requirement:
//! four threads on ONE process create, duplicate in place, use and close 100k handles,
//! and at the end nothing is left (object_count back, handle_count 0).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use common::*;
use kobj::{Access, DuplicateOptions, GenericMapping, Handle, Kernel, ObjectType, Process};

/// An embedder's type whose payload says who made it, so a lookup that lands on the
/// wrong object shows.
#[derive(Debug)]
struct Tag {
    thread: usize,
    serial: u64,
}

fn tag_type(k: &Kernel) -> ObjectType<Tag> {
    k.register_type::<Tag>(
        "Tag",
        GenericMapping::new(0x20001, 0x20002, 0x120000, 0x1F0003),
        Access::from_bits_retain(0x1F0003),
    )
    .unwrap()
}

const THREADS: usize = 4;
const TOTAL_HANDLES: usize = 100_000;

/// Duplicates `h` in place: CURRENT_PROCESS as both source and target process.
fn dup_in_place(p: &Process, h: Handle) -> kobj::Result<Handle> {
    p.duplicate_handle(
        Handle::CURRENT_PROCESS,
        h,
        Some(Handle::CURRENT_PROCESS),
        Access::empty(),
        false,
        DuplicateOptions::SAME_ACCESS,
    )
    .map(|d| d.expect("a target was given"))
}

/// What a thread's handle names: an event, or a Tag with its serial.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Event,
    Tag(u64),
}

// The requirement (SPEC §4): 4 threads on one process create, duplicate in
// place, use (set_event, and pinned lookups of a custom type) and close 100k handles in
// total. Each thread owns its handles, so every call must succeed and every lookup must
// land on the thread's own object: a slot handed to two threads at once, a lost close
// or a stale lookup fails the test. At the end object_count is back and the table empty.
#[test]
fn four_threads_one_process_100k_handles() {
    let k = Kernel::new();
    let ty = tag_type(&k);
    let base = k.object_count();
    let p = root(&k);
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (p, ty, start) = (p.clone(), ty.clone(), Arc::clone(&start));
            thread::spawn(move || {
                let mut rng = Rng::new(0xC0FFEE + t as u64);
                let quota = TOTAL_HANDLES / THREADS;
                let mut made = 0usize;
                let mut serial = 0u64;
                let mut mine: Vec<(Handle, Kind)> = Vec::new();
                start.wait();
                while made < quota || !mine.is_empty() {
                    let roll = rng.below(10);
                    if made < quota && (mine.len() < 8 || roll < 3) {
                        // Create.
                        let h = if rng.chance(2) {
                            mine.push((event(&p), Kind::Event));
                            mine.last().unwrap().0
                        } else {
                            serial += 1;
                            let tag = Tag { thread: t, serial };
                            let h = p.create_object(&ty, tag, None, None).unwrap().handle;
                            mine.push((h, Kind::Tag(serial)));
                            h
                        };
                        assert!(h.raw() != 0 && h.raw() % 4 == 0);
                        made += 1;
                    } else if made < quota && roll < 5 {
                        // Duplicate in place.
                        let (h, kind) = *rng.pick(&mine);
                        let d = dup_in_place(&p, h).expect("a live handle duplicates");
                        assert_ne!(d, h);
                        mine.push((d, kind));
                        made += 1;
                    } else if roll < 8 {
                        // Use: many lookups under one pin, and set_event on events.
                        let pin = p.pin();
                        for &(h, kind) in mine.iter().take(8) {
                            match kind {
                                Kind::Tag(serial) => {
                                    let tag = pin.get(&ty, h, Access::from_bits_retain(1)).unwrap();
                                    assert_eq!((tag.thread, tag.serial), (t, serial), "{h:?}");
                                }
                                Kind::Event => {
                                    assert_eq!(
                                        pin.get(&ty, h, Access::empty()).map(|_| ()).map_err(|e| e.code()),
                                        Err(INVALID_HANDLE),
                                        "an event is not a Tag"
                                    );
                                }
                            }
                        }
                        drop(pin);
                        let (h, kind) = *rng.pick(&mine);
                        match kind {
                            Kind::Event => {
                                p.set_event(h).unwrap();
                                assert_eq!(p.event_state(h), Ok(true));
                                p.reset_event(h).unwrap();
                            }
                            Kind::Tag(serial) => {
                                let s = p.with_object(&ty, h, Access::empty(), |tag| tag.serial);
                                assert_eq!(s, Ok(serial));
                                assert_eq!(p.set_event(h).map_err(|e| e.code()), Err(INVALID_HANDLE));
                            }
                        }
                    } else {
                        // Close.
                        let (h, _) = mine.swap_remove(rng.below(mine.len()));
                        // Closed once only: another thread may reuse the value at once.
                        p.close_handle(h).expect("our own live handle closes");
                    }
                }
                made
            })
        })
        .collect();
    let made: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(made, TOTAL_HANDLES);
    assert_eq!(p.handle_count(), 0);
    assert_eq!(k.object_count(), base + 2, "every object but the process and its main thread is gone");
    finish(&k, base, vec![p]);
}

// SPEC §4 and SPEC §6 ("never hands out a handle to a destroyed object, never loses a
// reference"): handles passed between threads through a shared pool, so closes race
// lookups, duplicates and reuse of the same values. A value taken out of the pool (by
// swap) is owned by the taker, whose close must succeed; a lookup of a value someone
// else may close at any moment either succeeds or is INVALID_HANDLE.
#[test]
fn handles_shared_between_threads_race_cleanly() {
    let k = Kernel::new();
    let ty = tag_type(&k);
    let base = k.object_count();
    let p = root(&k);
    let pool: Arc<Vec<AtomicUsize>> = Arc::new((0..64).map(|_| AtomicUsize::new(0)).collect());
    let iterations = if cfg!(debug_assertions) { 20_000 } else { 200_000 };
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (p, ty, pool, start) = (p.clone(), ty.clone(), Arc::clone(&pool), Arc::clone(&start));
            thread::spawn(move || {
                let mut rng = Rng::new(0xFACE + t as u64);
                // Puts an owned handle in a random slot and closes what was there.
                let put = |rng: &mut Rng, h: Handle| {
                    let old = pool[rng.below(pool.len())].swap(h.raw(), Ordering::AcqRel);
                    if old != 0 {
                        p.close_handle(Handle::from_raw(old)).expect("an owned handle closes");
                    }
                };
                start.wait();
                for i in 0..iterations {
                    let shared = Handle::from_raw(pool[rng.below(pool.len())].load(Ordering::Acquire));
                    match rng.below(6) {
                        0 => {
                            let h = if i % 2 == 0 {
                                event(&p)
                            } else {
                                p.create_object(&ty, Tag { thread: t, serial: i as u64 }, None, None)
                                    .unwrap()
                                    .handle
                            };
                            put(&mut rng, h);
                        }
                        1 => match dup_in_place(&p, shared) {
                            Ok(d) => put(&mut rng, d),
                            Err(e) => assert_eq!(e.code(), INVALID_HANDLE, "dup of {shared:?}"),
                        },
                        2 => {
                            if let Err(e) = p.set_event(shared) {
                                assert_eq!(e.code(), INVALID_HANDLE, "set_event({shared:?})");
                            }
                        }
                        3 => {
                            let pin = p.pin();
                            match pin.get(&ty, shared, Access::from_bits_retain(1)) {
                                Ok(tag) => assert!(tag.thread < THREADS),
                                Err(e) => assert_eq!(e.code(), INVALID_HANDLE),
                            }
                        }
                        4 => match p.reference_object(&ty, shared, Access::empty()) {
                            Ok(tag) => {
                                thread::yield_now();
                                assert!(tag.thread < THREADS && tag.serial < iterations as u64);
                            }
                            Err(e) => assert_eq!(e.code(), INVALID_HANDLE),
                        },
                        _ => {
                            // Take a value out of the pool and close it: ours now.
                            let old = pool[rng.below(pool.len())].swap(0, Ordering::AcqRel);
                            if old != 0 {
                                p.close_handle(Handle::from_raw(old)).expect("an owned handle closes");
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let left: Vec<usize> = pool.iter().map(|s| s.swap(0, Ordering::AcqRel)).filter(|&v| v != 0).collect();
    assert_eq!(p.handle_count(), left.len(), "the pool holds every live handle");
    for v in left {
        p.close_handle(Handle::from_raw(v)).unwrap();
    }
    assert_eq!(p.handle_count(), 0);
    assert_eq!(k.object_count(), base + 2);
    finish(&k, base, vec![p]);
}
