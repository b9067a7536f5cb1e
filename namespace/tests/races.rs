//! The races of SPEC §3 "Named objects": "two processes creating the same name at once get
//! one object (exactly one sees `already_existed = false`); an open racing with the last
//! close either gets a handle to the live object or `FILE_NOT_FOUND`, never a handle to a
//! dead object." Run with std threads and a fake object whose `acquire` asserts it never
//! takes a handle to a dead object.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, Weak};
use std::thread;

use common::{acquire, close, make, Ns, Obj};
use kobj_namespace::{DirId, NameError, Resolved};

const THREADS: usize = 4;
const ROUNDS: usize = 10_000;

const AT: Resolved<'static> = Resolved { dir: DirId::GLOBAL, name: "race" };

/// Every object made, to check at the end that none is leaked by the namespace.
#[derive(Default)]
struct Made {
    all: Mutex<Vec<Weak<common::FakeObj>>>,
}

impl Made {
    /// A `make` that records the object and checks that the object it replaces, if any,
    /// is really dead: a live object must never lose its name to a new one.
    fn make<'a>(
        &'a self,
        previous: &'a Mutex<Option<Obj>>,
    ) -> impl FnOnce() -> Result<(Obj, Obj), NameError> + 'a {
        move || {
            let (named, handle) = make("mutex", AT)()?;
            let mut previous = previous.lock().unwrap();
            if let Some(old) = previous.as_ref() {
                assert_eq!(
                    old.handles.load(Ordering::SeqCst),
                    0,
                    "a new object was made while the named one was alive"
                );
            }
            *previous = Some(Arc::clone(&handle));
            self.all.lock().unwrap().push(Arc::downgrade(&handle));
            Ok((named, handle))
        }
    }

    /// All objects made are gone: every handle closed and every reference dropped.
    fn assert_all_released(&self, previous: &Mutex<Option<Obj>>) -> usize {
        previous.lock().unwrap().take();
        let all = self.all.lock().unwrap();
        for object in all.iter() {
            assert!(object.upgrade().is_none(), "an object was leaked");
        }
        all.len()
    }
}

// SPEC: "two processes creating the same name at once get one object (exactly one sees
// `already_existed = false`)". Each round all threads create the same name at once, all
// hold their handle, then all close; the last closer removes the name.
#[test]
fn racing_creators_get_one_object() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    let creators: Vec<AtomicUsize> = (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
    let last_closes = AtomicUsize::new(0);
    let barrier = Barrier::new(THREADS);
    let made = Made::default();
    let previous = Mutex::new(None);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for creators in &creators {
                    barrier.wait();
                    let outcome = ns.create_or_open(AT, acquire, made.make(&previous)).unwrap();
                    if !outcome.already_existed {
                        creators.fetch_add(1, Ordering::SeqCst);
                    }
                    barrier.wait();
                    if close(&ns, AT, &outcome.value) {
                        last_closes.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    for (round, creators) in creators.iter().enumerate() {
        assert_eq!(creators.load(Ordering::SeqCst), 1, "round {round}");
    }
    assert_eq!(last_closes.load(Ordering::SeqCst), ROUNDS);
    assert_eq!(made.assert_all_released(&previous), ROUNDS);
    assert_eq!(ns.entry_count(), baseline, "a name was left behind");
}

// The same without rounds: creators and closers interleave freely, so creates meet dying
// objects and late closers meet their replacements.
#[test]
fn free_running_creators_and_closers() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    let made = Made::default();
    let previous = Mutex::new(None);
    let (creates, last_closes) = (AtomicUsize::new(0), AtomicUsize::new(0));
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    let outcome = ns.create_or_open(AT, acquire, made.make(&previous)).unwrap();
                    if !outcome.already_existed {
                        creates.fetch_add(1, Ordering::SeqCst);
                    }
                    assert!(!outcome.value.dead.load(Ordering::SeqCst));
                    if close(&ns, AT, &outcome.value) {
                        last_closes.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let creates = creates.load(Ordering::SeqCst);
    assert_eq!(creates, last_closes.load(Ordering::SeqCst));
    assert_eq!(made.assert_all_released(&previous), creates);
    assert_eq!(ns.entry_count(), baseline, "a name was left behind");
    println!("{creates} objects made for {} creates", THREADS * ROUNDS);
}

// SPEC: "an open racing with the last close either gets a handle to the live object or
// `FILE_NOT_FOUND`, never a handle to a dead object." One thread creates and closes the
// name over and over; the others open and close it. `acquire` asserts that it never
// succeeds on a dead object; an opened object must stay alive while held.
#[test]
fn open_races_last_close() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    let made = Made::default();
    let previous = Mutex::new(None);
    let done = AtomicBool::new(false);
    let (opened, not_found) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let last_closes_by_openers = AtomicUsize::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            for round in 0..ROUNDS {
                let outcome = ns.create_or_open(AT, acquire, made.make(&previous)).unwrap();
                // Every other round, hold the handle a moment, so that openers find the
                // object alive as often as they find it gone.
                if round % 2 == 0 {
                    thread::yield_now();
                }
                close(&ns, AT, &outcome.value);
            }
            done.store(true, Ordering::SeqCst);
        });
        for _ in 1..THREADS {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    match ns.open(AT, acquire) {
                        Ok(object) => {
                            opened.fetch_add(1, Ordering::Relaxed);
                            assert!(object.handles.load(Ordering::SeqCst) >= 1);
                            assert!(!object.dead.load(Ordering::SeqCst));
                            thread::yield_now();
                            assert!(!object.dead.load(Ordering::SeqCst));
                            if close(&ns, AT, &object) {
                                last_closes_by_openers.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(error) => {
                            assert_eq!(error.win32_code(), 2);
                            not_found.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    made.assert_all_released(&previous);
    assert_eq!(ns.entry_count(), baseline, "a name was left behind");
    assert_eq!(ns.open(AT, acquire).unwrap_err(), NameError::NotFound);
    println!(
        "opens: {} live, {} not found; {} last closes by openers",
        opened.load(Ordering::Relaxed),
        not_found.load(Ordering::Relaxed),
        last_closes_by_openers.load(Ordering::Relaxed)
    );
}

// Many names at once from many threads: unrelated names never interfere, and every
// name goes with its last handle.
#[test]
fn many_names_many_threads() {
    let ns = Ns::new();
    let baseline = ns.entry_count();
    thread::scope(|s| {
        for t in 0..THREADS {
            let ns = &ns;
            s.spawn(move || {
                let mut held = Vec::new();
                for i in 0..2_000 {
                    // Half the names are shared by all threads, half are this thread's.
                    let name = if i % 2 == 0 { format!("shared{i}") } else { format!("t{t}-{i}") };
                    let at = Resolved { dir: DirId::GLOBAL, name: &name };
                    let outcome = ns.create_or_open(at, acquire, make("mutex", at)).unwrap();
                    held.push((name, outcome.value));
                }
                for (name, object) in &held {
                    let at = Resolved { dir: DirId::GLOBAL, name };
                    close(ns, at, object);
                }
            });
        }
    });
    assert_eq!(ns.entry_count(), baseline, "a name was left behind");
}
