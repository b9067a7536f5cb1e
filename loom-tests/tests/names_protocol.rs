//! Model 8 — the name table's protocol: create-by-name against create-by-name, open-by-name
//! against the last close, and the last close's removal against a re-create.
//!
//! **A replica, not the engine's code.** The name table's object set is sharded behind
//! `parking_lot` locks (and its directories are a `DashMap`, whose locks are
//! `parking_lot_core`'s too), which do not run under loom (a thread blocked on a shard
//! held across a loom yield would park the whole model). So this model replays the
//! protocol `kobj-namespace` and `engine/src/names.rs` follow over loom's primitives:
//! one lock for the shard the name hashes to (a `loom::sync::Mutex` around the map), the
//! closures the engine passes run under it (`acquire`: increment-if-not-zero on the
//! object's handle count; `make`: a new object with one handle, replacing a dying one),
//! the last close decrementing the handle count first and only then taking the lock to
//! remove the name *if it still names this object*. Objects are `loom::sync::Arc`s (the
//! name's pointer reference); a per-execution count of objects made and dropped checks
//! each is freed once. The other models keep off the engine's name table while a loom
//! yield can happen under one of its shard locks, so its locks are never contended.
//!
//! The replica carries the `name_remove_unconditional` mutant (`--cfg
//! kobj_mutant="name_remove_unconditional"`): the removal without the identity check,
//! which lets a dying object's last close remove the name of its live successor.
#![cfg(loom)]

use std::cell::Cell;
use std::collections::HashMap;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

std::thread_local! {
    /// (objects made, objects dropped, last-handle works run) in this execution.
    static COUNTS: Cell<(usize, usize, usize)> = const { Cell::new((0, 0, 0)) };
}

fn bump(f: impl FnOnce(&mut (usize, usize, usize))) {
    COUNTS.with(|c| {
        let mut v = c.get();
        f(&mut v);
        c.set(v);
    });
}

struct Object {
    id: u32,
    handles: AtomicUsize,
    /// Times its last-handle work ran (must end at exactly 1).
    last_ran: AtomicUsize,
}

impl Drop for Object {
    fn drop(&mut self) {
        bump(|c| c.1 += 1);
    }
}

/// One shard of the name table: its lock and its map (name -> pointer reference).
#[derive(Default)]
struct Names {
    shard: Mutex<HashMap<&'static str, Arc<Object>>>,
}

/// A handle: one count on `handles`, plus the pointer reference.
struct HandleRef(Arc<Object>);

/// `acquire`, run under the shard lock: increment-if-not-zero on the handle count.
fn acquire(o: &Arc<Object>) -> Option<HandleRef> {
    let mut n = o.handles.load(Ordering::Relaxed);
    loop {
        if n == 0 {
            return None;
        }
        match o.handles.compare_exchange(n, n + 1, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return Some(HandleRef(o.clone())),
            Err(now) => n = now,
        }
    }
}

impl Names {
    /// `create_or_open`: (handle, already_existed).
    fn create(&self, name: &'static str, id: u32) -> (HandleRef, bool) {
        let replaced;
        let result = {
            let mut map = self.shard.lock().unwrap();
            if let Some(h) = map.get(name).and_then(acquire) {
                return (h, true);
            }
            // Free, or dying (handle count zero, removal pending): a new object replaces it.
            bump(|c| c.0 += 1);
            let o = Arc::new(Object { id, handles: AtomicUsize::new(1), last_ran: AtomicUsize::new(0) });
            replaced = map.insert(name, o.clone());
            (HandleRef(o), false)
        };
        // The replaced pointer reference is dropped outside the lock.
        drop(replaced);
        result
    }

    /// `open`: FILE_NOT_FOUND (None) if the name is free or its object dying.
    fn open(&self, name: &'static str) -> Option<HandleRef> {
        self.shard.lock().unwrap().get(name).and_then(acquire)
    }

    /// Closes a handle; the last one removes the name if it still names this object.
    fn close(&self, name: &'static str, h: HandleRef) {
        if h.0.handles.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        h.0.last_ran.fetch_add(1, Ordering::Relaxed);
        bump(|c| c.2 += 1);
        let removed = {
            let mut map = self.shard.lock().unwrap();
            #[cfg(not(kobj_mutant = "name_remove_unconditional"))]
            let ours = map.get(name).is_some_and(|o| Arc::ptr_eq(o, &h.0));
            #[cfg(kobj_mutant = "name_remove_unconditional")] // mutant: no identity check
            let ours = true;
            if ours {
                map.remove(name)
            } else {
                None
            }
        };
        drop(removed);
    }

    fn is_empty(&self) -> bool {
        self.shard.lock().unwrap().is_empty()
    }
}

fn model(f: impl Fn(&Arc<Names>) + Sync + Send + 'static) {
    kobj_loom_tests::model(move || {
        COUNTS.with(|c| c.set((0, 0, 0)));
        let names = Arc::new(Names::default());
        f(&names);
        assert!(names.is_empty(), "a name outlived its object's last handle");
        drop(names);
        let (made, dropped, last) = COUNTS.with(Cell::get);
        assert_eq!(made, dropped, "objects leaked");
        assert_eq!(made, last, "each object's last-handle work runs exactly once");
    });
}

#[test]
fn names_create_vs_create() {
    model(|names| {
        let t = {
            let names = names.clone();
            thread::spawn(move || names.create("n", 1))
        };
        let (mine, mine_existed) = names.create("n", 2);
        let (theirs, theirs_existed) = t.join().unwrap();
        assert!(mine_existed != theirs_existed, "one creator, one opener");
        assert!(Arc::ptr_eq(&mine.0, &theirs.0), "one object");
        assert_eq!(mine.0.handles.load(Ordering::Relaxed), 2);
        names.close("n", mine);
        names.close("n", theirs);
    });
}

#[test]
fn names_open_vs_last_close() {
    model(|names| {
        let (h, _) = names.create("n", 1);
        let t = {
            let names = names.clone();
            thread::spawn(move || {
                let opened = names.open("n");
                // No handle to a dying object: its last-handle work has not run.
                if let Some(o) = &opened {
                    assert_eq!(o.0.last_ran.load(Ordering::Relaxed), 0);
                }
                opened
            })
        };
        names.close("n", h);
        if let Some(o) = t.join().unwrap() {
            assert_eq!(o.0.id, 1);
            names.close("n", o);
        }
    });
}

#[test]
fn names_last_close_vs_recreate() {
    model(|names| {
        let (h, _) = names.create("n", 1);
        let t = {
            let names = names.clone();
            thread::spawn(move || names.create("n", 2))
        };
        names.close("n", h);
        let (mine, _) = t.join().unwrap();
        // Whichever object the re-creator holds, the name still finds it.
        let again = names.open("n").expect("the live object's name was removed");
        assert!(Arc::ptr_eq(&again.0, &mine.0));
        names.close("n", again);
        names.close("n", mine);
    });
}
