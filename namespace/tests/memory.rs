//! One million live names: what a name costs the namespace (SPEC §4: name operations on a
//! sharded table; issue 9: the name stored once, a small per-name footprint). A counting
//! global allocator measures the bytes the table holds per name: the objects (which keep
//! their own names) are made before the count starts, so what is counted is the table's
//! alone. It counts per thread — only what the test's own thread
//! allocates and frees — so the test harness's own allocations on its main thread (output
//! buffers, its channel) never show up as the table's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kobj_namespace::{DirId, NameError, Named, Namespace, Resolved};

/// The system allocator, counting the bytes each thread currently has allocated (a
/// block freed on another thread than the one that allocated it moves bytes between the
/// two counts; this test frees on the thread that allocated).
struct Counting;

thread_local! {
    // Const-initialised with no destructor: using it from the allocator never allocates.
    static ALLOCATED: Cell<isize> = const { Cell::new(0) };
}

/// Adds `bytes` to this thread's count (a no-op while the thread-local is torn down).
fn count(bytes: isize) {
    let _ = ALLOCATED.try_with(|a| a.set(a.get() + bytes));
}

/// The bytes this thread has allocated and not freed.
fn allocated() -> isize {
    ALLOCATED.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is `System`'s; the counter has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), passed on as is.
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            count(layout.size() as isize);
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: `block` was allocated by `System` (through this allocator) with `layout`,
        // as the caller guarantees.
        unsafe { System.dealloc(block, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `block` is live with `layout` and `new_size` is
        // valid for it; `System` allocated it.
        let moved = unsafe { System.realloc(block, layout, new_size) };
        if !moved.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const NAMES: usize = 1_000_000;
/// The table's cost per name: one pointer-sized entry over a hash table that is at least
/// 7/16 full after a resize, with a control byte each: at most 8 × 16/7 + 16/7 ≈ 20.6
/// bytes. A copy of the name (14 bytes here, and a box) or a wider entry would not fit.
const MAX_BYTES_PER_NAME: f64 = 24.0;

/// The object, which carries its name as the engine's do.
struct Item {
    dir: DirId,
    name: Box<str>,
    id: usize,
}

impl Named for Item {
    fn name_key(&self) -> (DirId, &str) {
        (self.dir, &self.name)
    }
}

/// The reference the namespace stores: pointer-sized, like the engine's.
type Object = Box<Item>;

fn name_of(i: usize, buffer: &mut String) -> &str {
    use std::fmt::Write;
    buffer.clear();
    write!(buffer, "object-{i:07}").unwrap();
    buffer
}

#[test]
fn a_million_live_names() {
    let mut buffer = String::with_capacity(32);
    let mut objects: Vec<Option<Object>> = (0..NAMES)
        .map(|i| Some(Box::new(Item { dir: DirId::GLOBAL, name: name_of(i, &mut buffer).into(), id: i })))
        .collect();
    let before = allocated();
    let ns: Namespace<Object> = Namespace::new();
    for (i, object) in objects.iter_mut().enumerate() {
        let at = Resolved { dir: DirId::GLOBAL, name: name_of(i, &mut buffer) };
        let outcome = ns
            .create_or_open(at, |_| None::<Result<(), NameError>>, || Ok((object.take().unwrap(), ())))
            .unwrap();
        assert!(!outcome.already_existed);
    }
    let after = allocated();
    let per_name = (after - before) as f64 / NAMES as f64;
    let name_bytes = name_of(0, &mut buffer).len();
    println!(
        "{NAMES} names of {name_bytes} bytes: the table allocated {} bytes, {per_name:.1} bytes/name \
         (the names are the objects')",
        after - before
    );

    // Some of them open, through Win32 names, with the object they were made with.
    for i in (0..NAMES).step_by(9_973) {
        let name = format!("Global\\{}", name_of(i, &mut buffer));
        let at = ns.resolve(1, &name, |_| None).unwrap();
        let found = ns.open(at, |object| Some(Ok::<_, NameError>(object.id)));
        assert_eq!(found, Ok(i));
    }
    assert_eq!(
        ns.open(ns.resolve(0, "object-x", |_| None).unwrap(), |o| Some(Ok(o.id))),
        Err(NameError::NotFound)
    );
    assert!(ns.entry_count() >= NAMES);
    assert!(per_name < MAX_BYTES_PER_NAME, "{per_name:.1} bytes per name");

    // Dropping the namespace frees its table and the objects it held (made before the
    // count started, so their bytes come off it).
    let objects_bytes = NAMES * (std::mem::size_of::<Item>() + name_bytes);
    drop(ns);
    let leaked = (allocated() - before + objects_bytes as isize).max(0);
    assert!(leaked < 1024, "{leaked} bytes not returned");
    drop(objects);
}
