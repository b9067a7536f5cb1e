//! Races on names: SPEC §3 "Named objects" ("Races: two processes creating the same name
//! at once get one object (exactly one sees already_existed = false); an open racing with
//! the last close either gets a handle to the live object or FILE_NOT_FOUND, never a
//! handle to a dead object") and §5 ("open-by-name must take a reference only if the
//! object is still alive (increment-if-not-zero)").

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread;

use common::*;
use kobj::{Access, Kernel, Process};

const THREADS: usize = 4;

/// Decrements a counter when dropped, panicking or not: a worker counts itself out.
struct CountOut<'a>(&'a AtomicUsize);

impl Drop for CountOut<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A barrier that a panicking worker breaks: the others then panic too instead of waiting
/// for it forever, so a failed assertion fails the test rather than hanging it.
struct Rendezvous {
    parties: usize,
    /// (arrived in this generation, generation, broken)
    state: Mutex<(usize, u64, bool)>,
    wake: Condvar,
}

impl Rendezvous {
    fn new(parties: usize) -> Rendezvous {
        Rendezvous { parties, state: Mutex::new((0, 0, false)), wake: Condvar::new() }
    }

    fn wait(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = state.1;
        state.0 += 1;
        if state.0 == self.parties {
            *state = (0, generation + 1, state.2);
            self.wake.notify_all();
        }
        while state.1 == generation && !state.2 {
            state = self.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        assert!(!state.2, "another worker failed");
    }

    /// A guard that breaks the rendezvous if its thread panics.
    fn guard(&self) -> BreakOnPanic<'_> {
        BreakOnPanic(self)
    }
}

struct BreakOnPanic<'a>(&'a Rendezvous);

impl Drop for BreakOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.state.lock().unwrap_or_else(PoisonError::into_inner).2 = true;
            self.0.wake.notify_all();
        }
    }
}

// SPEC §3 "Named objects": "two processes creating the same name at once get one object
// (exactly one sees already_existed = false)". Four processes, one thread each, create the
// same name in every round; a barrier starts the round and another ends it before anyone
// closes, so each round's name is fresh. Each creator releases the semaphore once: the
// previous counts of one object are 0, 1, 2, 3 in some order (two objects would repeat a
// count).
#[test]
fn concurrent_creators_get_one_object() {
    const ROUNDS: usize = 10_000;
    let k = Kernel::new();
    let base = k.object_count();
    let processes: Vec<Process> = (0..THREADS).map(|_| root(&k)).collect();
    let start = Rendezvous::new(THREADS);
    let end = Rendezvous::new(THREADS);
    let results: Vec<Vec<(bool, i32)>> = thread::scope(|s| {
        let workers: Vec<_> = processes
            .iter()
            .map(|p| {
                let (start, end) = (&start, &end);
                s.spawn(move || {
                    let _guards = (start.guard(), end.guard());
                    let mut seen = Vec::with_capacity(ROUNDS);
                    for _ in 0..ROUNDS {
                        start.wait();
                        let c = p.create_semaphore(None, 0, THREADS as i32, Some("race")).unwrap();
                        let previous = p.release_semaphore(c.handle, 1).unwrap();
                        seen.push((c.already_existed, previous));
                        end.wait();
                        p.close_handle(c.handle).unwrap();
                    }
                    seen
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for round in 0..ROUNDS {
        let creators = results.iter().filter(|r| !r[round].0).count();
        assert_eq!(creators, 1, "round {round}: exactly one creator sees already_existed = false");
        let mut counts: Vec<i32> = results.iter().map(|r| r[round].1).collect();
        counts.sort_unstable();
        assert_eq!(counts, [0, 1, 2, 3], "round {round}: all four released one semaphore");
    }
    let first_creator: Vec<usize> =
        (0..THREADS).map(|t| results[t].iter().filter(|(existed, _)| !existed).count()).collect();
    println!("new-object creates per process over {ROUNDS} rounds: {first_creator:?}");
    assert_eq!(code(processes[0].open_semaphore(Access::SYNCHRONIZE, false, "race")), FILE_NOT_FOUND);
    finish(&k, base, processes);
}

// The same without a barrier: every thread creates the round-numbered names "r0", "r1", …
// in order, holding its handles, so creators meet at different speeds. Every name is
// created exactly once and all four handles to it name one object.
#[test]
fn concurrent_creators_of_round_numbered_names() {
    const ROUNDS: usize = 10_000;
    let k = Kernel::new();
    let base = k.object_count();
    let processes: Vec<Process> = (0..THREADS).map(|_| root(&k)).collect();
    let created: Vec<AtomicUsize> = (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
    thread::scope(|s| {
        for p in &processes {
            let created = &created;
            s.spawn(move || {
                for (round, counter) in created.iter().enumerate() {
                    let c = p.create_event(None, true, false, Some(&format!("r{round}"))).unwrap();
                    if !c.already_existed {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    for (round, counter) in created.iter().enumerate() {
        assert_eq!(counter.load(Ordering::Relaxed), 1, "name r{round} created once");
    }
    // Each process holds one handle per name; every object has four handles.
    for p in &processes {
        let rows = p.handles();
        assert_eq!(rows.len(), ROUNDS);
        assert!(rows.iter().all(|r| r.object_handles == THREADS), "one object per name");
    }
    assert_eq!(k.object_count(), base + 2 * THREADS + ROUNDS);
    finish(&k, base, processes);
}

// SPEC §3 "Named objects": "an open racing with the last close either gets a handle to the
// live object or FILE_NOT_FOUND, never a handle to a dead object". Two processes create and
// close the name over and over (each close may be the last); two others open it. Every
// successful open yields a handle the opener can use (set_event, event_state); every
// failure is FILE_NOT_FOUND. A create racing the last close likewise either makes a new
// object or opens the live one.
#[test]
fn open_racing_the_last_close() {
    const CYCLES: usize = 20_000;
    let k = Kernel::new();
    let base = k.object_count();
    let creators: Vec<Process> = (0..2).map(|_| root(&k)).collect();
    let openers: Vec<Process> = (0..2).map(|_| root(&k)).collect();
    // The openers run while a creator runs; a creator that panics still counts itself
    // out (the guard), so a failure never leaves the openers spinning.
    let creators_left = AtomicUsize::new(creators.len());
    let opened = AtomicUsize::new(0);
    let missing = AtomicUsize::new(0);
    let existed = AtomicUsize::new(0);
    thread::scope(|s| {
        for p in &creators {
            let (existed, creators_left) = (&existed, &creators_left);
            s.spawn(move || {
                let _guard = CountOut(creators_left);
                for _ in 0..CYCLES {
                    let c = p.create_event(None, true, false, Some("hot")).unwrap();
                    if c.already_existed {
                        existed.fetch_add(1, Ordering::Relaxed);
                    }
                    // The handle names a live event, new or existing (nobody resets it).
                    p.set_event(c.handle).unwrap();
                    assert_eq!(p.event_state(c.handle), Ok(true));
                    p.close_handle(c.handle).unwrap();
                }
            });
        }
        for p in &openers {
            let (creators_left, opened, missing) = (&creators_left, &opened, &missing);
            s.spawn(move || {
                while creators_left.load(Ordering::Relaxed) != 0 {
                    match p.open_event(Access::EVENT_MODIFY_STATE | Access::EVENT_QUERY_STATE, false, "hot") {
                        Ok(h) => {
                            // A live object: its state is usable, and it stays alive (and
                            // named) while this handle holds it.
                            p.set_event(h).unwrap();
                            assert_eq!(p.event_state(h), Ok(true));
                            let again = p.open_event(Access::EVENT_QUERY_STATE, false, "hot").unwrap();
                            assert!(p.compare_object_handles(h, again).unwrap(), "still the same object");
                            p.close_handle(again).unwrap();
                            p.close_handle(h).unwrap();
                            opened.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            assert_eq!(
                                e.code(),
                                FILE_NOT_FOUND,
                                "an open fails only with FILE_NOT_FOUND: {e}"
                            );
                            missing.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    println!(
        "opens: {} succeeded, {} FILE_NOT_FOUND; creates that found the name: {}",
        opened.load(Ordering::Relaxed),
        missing.load(Ordering::Relaxed),
        existed.load(Ordering::Relaxed)
    );
    for p in creators.iter().chain(&openers) {
        assert_eq!(p.handle_count(), 0);
    }
    assert_eq!(code(openers[0].open_event(Access::SYNCHRONIZE, false, "hot")), FILE_NOT_FOUND);
    let mut all = creators;
    all.extend(openers);
    finish(&k, base, all);
}

// SPEC §3 "Objects and lifetime" + §5: terminate racing opens. A process creates a name
// and is terminated (its handle table closed) while others open the name: each open gets
// a live object or FILE_NOT_FOUND, and the objects all go in the end.
#[test]
fn open_racing_terminate() {
    const CYCLES: usize = 3_000;
    let k = Kernel::new();
    let base = k.object_count();
    let parent = root(&k);
    let openers: Vec<Process> = (0..2).map(|_| root(&k)).collect();
    let terminating = AtomicUsize::new(1);
    thread::scope(|s| {
        for p in &openers {
            let terminating = &terminating;
            s.spawn(move || {
                while terminating.load(Ordering::Relaxed) != 0 {
                    match p.open_mutex(Access::SYNCHRONIZE, false, "owner-of-name") {
                        Ok(h) => {
                            assert_eq!(
                                p.handles().iter().find(|r| r.handle == h).unwrap().type_name,
                                "Mutant"
                            );
                            p.close_handle(h).unwrap();
                        }
                        Err(e) => assert_eq!(e.code(), FILE_NOT_FOUND, "{e}"),
                    }
                }
            });
        }
        let _guard = CountOut(&terminating);
        for _ in 0..CYCLES {
            let child = parent.create_process(false, Default::default()).unwrap();
            // The child's handle is the only one: terminate closes it.
            let _only_handle = child.process.create_mutex(None, true, Some("owner-of-name")).unwrap();
            child.process.terminate(1).unwrap();
            parent.close_handle(child.handle).unwrap();
        }
    });
    assert_eq!(code(openers[0].open_mutex(Access::SYNCHRONIZE, false, "owner-of-name")), FILE_NOT_FOUND);
    let mut all = openers;
    all.push(parent);
    finish(&k, base, all);
}

// Name operations on unrelated names do not interfere (SPEC §4: one shard lock each):
// four threads create, open and close their own names and read each other's, with the
// names spread over every shard.
#[test]
fn unrelated_names_from_many_threads() {
    const NAMES: usize = 5_000;
    let k = Kernel::new();
    let base = k.object_count();
    let processes: Vec<Process> = (0..THREADS).map(|_| root(&k)).collect();
    let ready = Rendezvous::new(THREADS);
    thread::scope(|s| {
        for (t, p) in processes.iter().enumerate() {
            let ready = &ready;
            s.spawn(move || {
                let _guard = ready.guard();
                let mine: Vec<_> = (0..NAMES)
                    .map(|i| {
                        let c = p.create_semaphore(None, 0, 1000, Some(&format!("t{t}-{i}"))).unwrap();
                        assert!(!c.already_existed);
                        c.handle
                    })
                    .collect();
                ready.wait();
                // Everyone's names are visible; each release lands on the right object.
                let mut rng = Rng::new(t as u64 + 1);
                for _ in 0..NAMES {
                    let (other, i) = (rng.below(THREADS), rng.below(NAMES));
                    let h = p
                        .open_semaphore(Access::SEMAPHORE_MODIFY_STATE, false, &format!("t{other}-{i}"))
                        .unwrap();
                    p.release_semaphore(h, 1).unwrap();
                    p.close_handle(h).unwrap();
                }
                ready.wait();
                for h in mine {
                    p.close_handle(h).unwrap();
                }
            });
        }
    });
    assert_eq!(k.object_count(), base + 2 * THREADS);
    let listed = k.list_directory("\\BaseNamedObjects").unwrap();
    assert_eq!(listed.len(), 3, "only the links remain: {:?}", &listed[..listed.len().min(5)]);
    finish(&k, base, processes);
}
