//! Baselines that kobj is measured against, and the harness the benchmarks share.
//!
//! SPEC §4 asks that every performance figure be compared, in the same run, with three
//! other designs of a handle table. Each of them does exactly the work kobj's lookup
//! does: find the entry a handle names, check that the object is of the wanted type,
//! check that the handle holds the wanted access, and hand out the object.
//!
//! | baseline | what it stands for |
//! |---|---|
//! | [`LockedTable`] | the one-big-lock design: a `std::sync::RwLock<HashMap>` |
//! | [`SlabTable`] | a well-kept concurrent slab ([`sharded_slab::Slab`]) |
//! | [`VecTable`] | the floor: a plain `Vec` index with no synchronisation at all |
//!
//! The checks are the same in every baseline and in kobj, in the order SPEC §3 gives
//! (a dead handle and a handle to an object of another type are INVALID_HANDLE; missing
//! access is ACCESS_DENIED): see [`check`].
//!
//! [`NameTable`] (a `Mutex<HashMap<String, Arc<Obj>>>`) is the one-lock name table
//! `named_open` measures kobj's namespace against; [`LockedTable::duplicate`] is the lock
//! table's `DuplicateHandle`.
//!
//! [`CondvarEvent`] (a `Mutex<bool>` and a `Condvar`) is the auto-reset event the
//! `event_pingpong` group of `benches/waits.rs` measures kobj's events against; the
//! `mutex_*` groups use `std::sync::Mutex` and `parking_lot::Mutex` as they come.
//!
//! [`measure`] and [`run_on`] run one routine on N threads at once for criterion's
//! `iter_custom` and return the wall time they took together; [`probe_step`] is the
//! compute loop of the `probe` group, the machine's own scaling. [`RunNote`] records
//! when a bench executable measured and how loaded the machine was, for the report.

use std::collections::HashMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Barrier, Condvar, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The object the baselines store: the same 8-byte payload kobj's benchmark type carries.
#[derive(Debug)]
pub struct Obj {
    /// The payload.
    pub payload: u64,
}

impl Obj {
    /// A new object behind an `Arc` (the baselines' reference count).
    #[must_use]
    pub fn new(payload: u64) -> Arc<Obj> {
        Arc::new(Obj { payload })
    }
}

/// One handle-table entry of a baseline: the object, its type and the access the handle
/// holds.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The object (one counted reference).
    pub object: Arc<Obj>,
    /// The object's type, as a small integer.
    pub type_id: u32,
    /// The access mask the handle holds.
    pub access: u32,
}

/// Why a baseline lookup failed; the same two outcomes kobj's lookup has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// The handle names no live entry, or an object of another type.
    InvalidHandle,
    /// The handle does not hold the wanted access.
    AccessDenied,
}

/// The type and access check every baseline does on a found entry, in kobj's order.
#[inline]
pub fn check(entry: &Entry, type_id: u32, access: u32) -> Result<&Obj, LookupError> {
    if entry.type_id != type_id {
        return Err(LookupError::InvalidHandle);
    }
    if entry.access & access != access {
        return Err(LookupError::AccessDenied);
    }
    Ok(&entry.object)
}

/// Handle values as Windows hands them out: non-zero multiples of 4.
fn handle_of(index: usize) -> u32 {
    ((index + 1) * 4) as u32
}

/// The one-big-lock design: a `RwLock<HashMap<handle, Entry>>`.
///
/// Lookups take the read lock (so they all write the lock word's cache line), inserts
/// and removes the write lock. Freed handle values are reused LIFO, as kobj does, so the
/// map does not grow under a create/close loop.
#[derive(Debug, Default)]
pub struct LockedTable {
    inner: RwLock<Locked>,
}

#[derive(Debug, Default)]
struct Locked {
    map: HashMap<u32, Entry>,
    free: Vec<u32>,
    next: usize,
}

impl LockedTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> LockedTable {
        LockedTable::default()
    }

    /// Inserts a handle to `object`; returns its value.
    pub fn insert(&self, object: Arc<Obj>, type_id: u32, access: u32) -> u32 {
        let mut t = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let handle = match t.free.pop() {
            Some(h) => h,
            None => {
                t.next += 1;
                handle_of(t.next - 1)
            }
        };
        t.map.insert(handle, Entry { object, type_id, access });
        handle
    }

    /// `DuplicateHandle` within the table: under one write lock, finds `handle`, checks
    /// its type and that it holds `access`, and inserts a second handle to the same
    /// object (one more `Arc` count) with the same access. Returns the new handle.
    pub fn duplicate(&self, handle: u32, type_id: u32, access: u32) -> Result<u32, LookupError> {
        let mut t = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let entry = t.map.get(&handle).ok_or(LookupError::InvalidHandle)?;
        check(entry, type_id, access)?;
        let copy = entry.clone();
        let new = match t.free.pop() {
            Some(h) => h,
            None => {
                t.next += 1;
                handle_of(t.next - 1)
            }
        };
        t.map.insert(new, copy);
        Ok(new)
    }

    /// Closes a handle; returns its entry (dropped by the caller outside the lock).
    pub fn remove(&self, handle: u32) -> Option<Entry> {
        let mut t = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let entry = t.map.remove(&handle)?;
        t.free.push(handle);
        Some(entry)
    }

    /// Runs `f` on a handle's object under the read lock, after the type and access
    /// check (the shape of kobj's `Process::with_object`).
    #[inline]
    pub fn with<R>(
        &self,
        handle: u32,
        type_id: u32,
        access: u32,
        f: impl FnOnce(&Obj) -> R,
    ) -> Result<R, LookupError> {
        let t = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let entry = t.map.get(&handle).ok_or(LookupError::InvalidHandle)?;
        check(entry, type_id, access).map(f)
    }

    /// The number of live handles.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).map.len()
    }

    /// True if no handle is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A `sharded_slab::Slab<Entry>` table: the handle is the slab's key.
///
/// sharded-slab is lock-free for lookups, but a lookup's guard raises and lowers a
/// reference count in the slot (a shared write on the entry's cache line), and removal
/// of a slot that is being read is deferred to its last reader.
#[derive(Debug, Default)]
pub struct SlabTable {
    slab: sharded_slab::Slab<Entry>,
}

impl SlabTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> SlabTable {
        SlabTable::default()
    }

    /// Inserts a handle to `object`; `None` if the slab is full.
    pub fn insert(&self, object: Arc<Obj>, type_id: u32, access: u32) -> Option<usize> {
        self.slab.insert(Entry { object, type_id, access })
    }

    /// Closes a handle; false if it was not live.
    pub fn remove(&self, handle: usize) -> bool {
        self.slab.remove(handle)
    }

    /// Runs `f` on a handle's object while holding the slot's guard, after the type and
    /// access check.
    #[inline]
    pub fn with<R>(
        &self,
        handle: usize,
        type_id: u32,
        access: u32,
        f: impl FnOnce(&Obj) -> R,
    ) -> Result<R, LookupError> {
        let entry = self.slab.get(handle).ok_or(LookupError::InvalidHandle)?;
        check(&entry, type_id, access).map(f)
    }
}

/// The floor: a plain `Vec<Option<Entry>>` indexed by `handle / 4 - 1`, with no
/// synchronisation.
///
/// Insert and remove need `&mut self`, so it cannot be changed while shared. Lookups
/// need only `&self`: in the multi-threaded lookup benchmark every thread reads the same
/// `VecTable` through a shared reference while nobody changes it (safe Rust; the data is
/// read-only, so the threads share its cache lines without writing any). It is what a
/// lookup costs with nothing but the index and the checks.
#[derive(Debug, Default)]
pub struct VecTable {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
}

impl VecTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> VecTable {
        VecTable::default()
    }

    /// Inserts a handle to `object`; returns its value.
    pub fn insert(&mut self, object: Arc<Obj>, type_id: u32, access: u32) -> u32 {
        let entry = Some(Entry { object, type_id, access });
        let index = match self.free.pop() {
            Some(i) => {
                self.entries[i] = entry;
                i
            }
            None => {
                self.entries.push(entry);
                self.entries.len() - 1
            }
        };
        handle_of(index)
    }

    /// Closes a handle; returns its entry.
    pub fn remove(&mut self, handle: u32) -> Option<Entry> {
        let index = (handle as usize / 4).checked_sub(1)?;
        let entry = self.entries.get_mut(index)?.take()?;
        self.free.push(index);
        Some(entry)
    }

    /// A handle's object, after the type and access check.
    #[inline]
    pub fn get(&self, handle: u32, type_id: u32, access: u32) -> Result<&Obj, LookupError> {
        let index = (handle as usize / 4).checked_sub(1).ok_or(LookupError::InvalidHandle)?;
        let entry = self.entries.get(index).and_then(Option::as_ref).ok_or(LookupError::InvalidHandle)?;
        check(entry, type_id, access)
    }
}

/// The one-lock name table: `Mutex<HashMap<String, Arc<Obj>>>`, what `named_open`
/// measures kobj's name table against.
///
/// Opening a name takes the mutex, hashes and compares the name, and clones the object's
/// `Arc`; the caller then inserts it into a handle table (a [`LockedTable`]), as kobj's
/// `open_*` inserts into the process's table.
#[derive(Debug, Default)]
pub struct NameTable {
    names: Mutex<HashMap<String, Arc<Obj>>>,
}

impl NameTable {
    /// An empty name table.
    #[must_use]
    pub fn new() -> NameTable {
        NameTable::default()
    }

    /// Names `object`; false (and nothing changes) if the name is taken.
    pub fn create(&self, name: &str, object: Arc<Obj>) -> bool {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if names.contains_key(name) {
            return false;
        }
        names.insert(name.to_owned(), object);
        true
    }

    /// The object of that name, with one more reference.
    #[must_use]
    pub fn open(&self, name: &str) -> Option<Arc<Obj>> {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    /// How many names are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True if no name is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An auto-reset event made of a `Mutex<bool>` and a `Condvar`: what a program without
/// kobj would write for "wake the other thread", the baseline of `event_pingpong`.
///
/// [`set`](CondvarEvent::set) sets the flag and wakes one waiter;
/// [`wait`](CondvarEvent::wait) sleeps until the flag is set and clears it (the
/// auto-reset), so one set releases one wait, and a set with nobody waiting stays until
/// the next wait takes it, as with a kobj auto-reset event.
#[derive(Debug, Default)]
pub struct CondvarEvent {
    signalled: Mutex<bool>,
    wake: Condvar,
}

impl CondvarEvent {
    /// A reset event.
    #[must_use]
    pub fn new() -> CondvarEvent {
        CondvarEvent::default()
    }

    /// Sets the event and wakes one waiter (after the lock is dropped, so the waiter
    /// does not wake only to block on it).
    pub fn set(&self) {
        *self.signalled.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_one();
    }

    /// Waits until the event is set, then resets it.
    pub fn wait(&self) {
        let mut signalled = self.signalled.lock().unwrap_or_else(PoisonError::into_inner);
        while !*signalled {
            signalled = self.wake.wait(signalled).unwrap_or_else(PoisonError::into_inner);
        }
        *signalled = false;
    }

    /// Whether the event is set.
    #[must_use]
    pub fn is_set(&self) -> bool {
        *self.signalled.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One step of the `probe` group's compute loop: 16 rounds of xorshift on a register.
///
/// It reads and writes no memory, so N threads running it share no cache line: how its
/// throughput grows from 1 to N threads is how far this machine, in this run, lets
/// independent work scale (on a shared 2-vCPU VM often well short of 2×). The scaling
/// targets are judged against it.
#[inline]
#[must_use]
pub fn probe_step(mut x: u64) -> u64 {
    for _ in 0..16 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// The most threads [`run_on`] can be asked for.
pub const MAX_THREADS: usize = 16;

/// One persistent pool of worker threads per thread count, built on first use.
///
/// The pools are rayon's; [`run_on`] uses only `broadcast` (one job on every worker of
/// a pool). A rayon worker spins briefly looking for more work after its job, but that
/// is after the end barrier, outside every measured span.
///
/// Workers live for the whole run, so per-thread state (crossbeam-epoch's thread record,
/// sharded-slab's thread id, kobj's per-thread caches) is set up once and stays warm
/// across samples, as on an embedder's long-lived host threads; a benchmark measures the
/// operation, not thread start-up.
fn pool(threads: usize) -> &'static rayon::ThreadPool {
    static POOLS: [OnceLock<rayon::ThreadPool>; MAX_THREADS] = [const { OnceLock::new() }; MAX_THREADS];
    assert!((1..=MAX_THREADS).contains(&threads), "1 to {MAX_THREADS} threads, not {threads}");
    POOLS[threads - 1].get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("bench-{threads}.{i}"))
            .build()
            .expect("start the benchmark worker threads")
    })
}

/// Runs `routine(thread, iters)` on `threads` worker threads at once and returns the
/// wall time they took together, with what each returned (in thread order).
///
/// Every worker waits at a start barrier until all are there, reads its own clock,
/// runs `routine` (in which it does `iters` operations), reads its clock again and waits
/// at an end barrier. The time is the span from the earliest start to the latest end:
/// the coordinating thread reads no clock (it sleeps until the workers are done, so it
/// does not compete with them for cores, and its late wake-up is not counted), a worker
/// that is woken late by the barrier does not shorten the span, and one that only gets
/// a core after another has finished (more threads than cores) still counts the time it
/// waited. No worker leaves (and so tears anything down) before every worker has
/// stopped its clock.
///
/// Criterion's "time per iteration" is therefore *the wall time for one operation while
/// `threads` threads each do the same*; with `Throughput::Elements(threads)` criterion
/// also reports the aggregate throughput. What `routine` returns is dropped (or cleaned
/// up by the caller) outside the timed span. A panic in `routine` is re-raised here
/// after every worker has stopped.
pub fn run_on<S, F>(threads: usize, iters: u64, routine: F) -> (Duration, Vec<S>)
where
    S: Send,
    F: Fn(usize, u64) -> S + Sync,
{
    let start_line = Barrier::new(threads);
    let finish_line = Barrier::new(threads);
    let results = pool(threads).broadcast(|ctx| {
        let thread = ctx.index();
        start_line.wait();
        let start = Instant::now();
        let out = catch_unwind(AssertUnwindSafe(|| routine(thread, iters)));
        let end = Instant::now();
        finish_line.wait();
        (start, end, out)
    });
    let first = results.iter().map(|r| r.0).min();
    let last = results.iter().map(|r| r.1).max();
    let span = match (first, last) {
        (Some(first), Some(last)) => last.saturating_duration_since(first),
        _ => Duration::ZERO,
    };
    let mut outs = Vec::with_capacity(threads);
    for (_, _, out) in results {
        match out {
            Ok(out) => outs.push(out),
            Err(panic) => resume_unwind(panic),
        }
    }
    (span, outs)
}

/// [`run_on`] for a routine that returns nothing: the figure to hand back from
/// criterion's `iter_custom`.
pub fn measure<F>(threads: usize, iters: u64, routine: F) -> Duration
where
    F: Fn(usize, u64) + Sync,
{
    run_on(threads, iters, routine).0
}

/// A note of one measuring run of a bench executable, in `<target>/<file>` beside
/// `criterion/`: when it started and ended, its criterion arguments and the machine's
/// load average at both ends (the report shows them: a loaded machine explains noisy
/// figures). The smoke (`--test`) and `--list` leave the note of the last real run
/// alone.
///
/// The file holds `start: <unix seconds>`, `load_start: <1 5 15 min>`, `args: ...` and,
/// once [`end`](RunNote::end) has run, `end:` and `load_end:` lines.
#[derive(Debug)]
pub struct RunNote {
    path: Option<PathBuf>,
    start: String,
}

impl RunNote {
    /// Writes the start of the note (unless this run only smoke-tests or lists).
    #[must_use]
    pub fn begin(file: &str) -> RunNote {
        let measuring = !std::env::args().any(|a| a == "--test" || a == "--list");
        let path = notes_dir().map(|dir| dir.join(file)).filter(|_| measuring);
        let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
        let start =
            format!("start: {}\nload_start: {}\nargs: {}\n", unix_now(), load_average(), args.join(" "));
        if let Some(path) = &path {
            let _ = std::fs::write(path, &start);
        }
        RunNote { path, start }
    }

    /// Completes the note with the end time and load.
    pub fn end(self) {
        if let Some(path) = &self.path {
            let _ = std::fs::write(
                path,
                format!("{}end: {}\nload_end: {}\n", self.start, unix_now(), load_average()),
            );
        }
    }
}

/// The target folder: the bench executable is `<target>/release/deps/<name>-…`.
fn notes_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.to_path_buf())
}

/// `/proc/loadavg`'s three load averages, or "unknown".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_table_checks() {
        let t = LockedTable::new();
        let h = t.insert(Obj::new(7), 1, 0x3);
        assert_eq!(h, 4);
        assert_eq!(t.with(h, 1, 0x1, |o| o.payload), Ok(7));
        assert_eq!(t.with(h, 2, 0x1, |o| o.payload), Err(LookupError::InvalidHandle));
        assert_eq!(t.with(h, 1, 0x4, |o| o.payload), Err(LookupError::AccessDenied));
        assert!(t.remove(h).is_some());
        assert_eq!(t.with(h, 1, 0x1, |o| o.payload), Err(LookupError::InvalidHandle));
        assert_eq!(t.insert(Obj::new(8), 1, 0x3), h, "freed values are reused");
    }

    #[test]
    fn slab_table_checks() {
        let t = SlabTable::new();
        let h = t.insert(Obj::new(7), 1, 0x3).unwrap();
        assert_eq!(t.with(h, 1, 0x1, |o| o.payload), Ok(7));
        assert_eq!(t.with(h, 2, 0x1, |o| o.payload), Err(LookupError::InvalidHandle));
        assert_eq!(t.with(h, 1, 0x4, |o| o.payload), Err(LookupError::AccessDenied));
        assert!(t.remove(h));
        assert_eq!(t.with(h, 1, 0x1, |o| o.payload), Err(LookupError::InvalidHandle));
    }

    #[test]
    fn vec_table_checks() {
        let mut t = VecTable::new();
        let h = t.insert(Obj::new(7), 1, 0x3);
        assert_eq!(t.get(h, 1, 0x1).map(|o| o.payload), Ok(7));
        assert_eq!(t.get(h, 2, 0x1).err(), Some(LookupError::InvalidHandle));
        assert_eq!(t.get(h, 1, 0x4).err(), Some(LookupError::AccessDenied));
        assert_eq!(t.get(0, 1, 0x1).err(), Some(LookupError::InvalidHandle));
        assert!(t.remove(h).is_some());
        assert_eq!(t.get(h, 1, 0x1).err(), Some(LookupError::InvalidHandle));
    }

    #[test]
    fn run_on_runs_every_thread_once() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let done = AtomicU64::new(0);
        let (d, outs) = run_on(3, 10, |t, iters| {
            done.fetch_add(iters, Ordering::Relaxed);
            t
        });
        assert_eq!(done.load(Ordering::Relaxed), 30);
        assert_eq!(outs, vec![0, 1, 2]);
        assert!(d < Duration::from_secs(10));
        // The same pool again: its workers are reused.
        assert_eq!(run_on(3, 1, |t, _| t).1, vec![0, 1, 2]);
    }

    #[test]
    #[should_panic(expected = "worker 1")]
    fn run_on_reraises_a_worker_panic() {
        run_on(2, 1, |t, _| assert!(t != 1, "worker {t}"));
    }

    #[test]
    fn condvar_event_is_auto_reset() {
        let e = Arc::new(CondvarEvent::new());
        assert!(!e.is_set());
        e.set();
        e.set();
        assert!(e.is_set());
        e.wait();
        assert!(!e.is_set(), "one wait takes the set and resets the event");
        let waiter = {
            let e = Arc::clone(&e);
            std::thread::spawn(move || e.wait())
        };
        e.set();
        waiter.join().unwrap();
        assert!(!e.is_set());
    }

    #[test]
    fn locked_duplicate_and_names() {
        let t = LockedTable::new();
        let h = t.insert(Obj::new(7), 1, 0x3);
        let d = t.duplicate(h, 1, 0x1).unwrap();
        assert_ne!(h, d);
        assert_eq!(t.with(d, 1, 0x1, |o| o.payload), Ok(7));
        assert_eq!(t.duplicate(d, 2, 0x1), Err(LookupError::InvalidHandle));
        assert_eq!(t.duplicate(d, 1, 0x4), Err(LookupError::AccessDenied));
        let names = NameTable::new();
        assert!(names.create("a", Obj::new(9)));
        assert!(!names.create("a", Obj::new(10)));
        assert_eq!(names.open("a").map(|o| o.payload), Some(9));
        assert!(names.open("b").is_none());
        assert_eq!(names.len(), 1);
        assert_ne!(probe_step(1), 1);
    }
}
