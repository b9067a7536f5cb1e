//! `cargo run -p kobj-bench --bin report`: turns the last criterion run into
//! BENCHMARKS.md.
//!
//! Reads `target/criterion/**/new/{benchmark,estimates}.json` (the ids, throughput and
//! the median time per iteration of every benchmark of the last run), and writes, at the
//! repository root, `BENCHMARKS.md`: the machine, toolchain, commit and date; a table per
//! group (ns per operation, Mop/s, each baseline's time against kobj's, scaling against
//! one thread); issue 9's targets and the wait targets, each held or missed with the
//! measured ratio; and PNG
//! plots of throughput against threads for `lookup`, `create_close` and `mixed` under
//! `bench/plots/`. Ids missing from the run (a filtered run) show as "—".
//!
//! Options: `--criterion DIR` (default: `$CARGO_TARGET_DIR/criterion` or
//! `target/criterion`), `--out FILE` (default: `BENCHMARKS.md` at the repository root),
//! `--all` (keep results written more than three hours before the newest one, which are
//! otherwise taken for an earlier run and left out).
//! `--no-memory` skips the memory figures (heap bytes per table entry and per named
//! object), which the report measures itself, with a counting allocator, at the commit
//! it is built from.
//! `bench/notes.md`, if present, is copied in as the page's closing section.
//!
//! The results are those of both bench executables, `benches/table.rs` (the handle-table
//! groups) and `benches/waits.rs` (the `mutex_*`, `event_pingpong`, `wait_any_64` and
//! `async_wake` groups); each leaves a note of its last measuring run (times, arguments, load) in the
//! target folder, and the page shows both.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

use memory::Memory;

/// The heap figures of the two memory targets: the report measures them itself.
mod memory {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicIsize, Ordering};

    use kobj::{Access, DuplicateOptions, GenericMapping, Handle, Kernel, ProcessOptions};

    /// The system allocator, counting the bytes live on the heap.
    struct Counting;

    static LIVE: AtomicIsize = AtomicIsize::new(0);

    // SAFETY: every call is passed unchanged to the system allocator, which upholds
    // `GlobalAlloc`'s contract; the counter only observes the sizes.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract for `alloc_zeroed` is `System.alloc_zeroed`'s.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            }
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
            unsafe { System.dealloc(ptr, layout) };
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: `ptr` came from `System` with `layout`; the caller's contract is
            // `System.realloc`'s.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
            }
            p
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    fn live() -> isize {
        LIVE.load(Ordering::Relaxed)
    }

    /// Handles duplicated for the per-entry figure.
    pub const ENTRIES: usize = 1 << 18;
    /// Events created for the per-name figure.
    pub const NAMES: usize = 20_000;
    /// An example of the names used (all of this length).
    pub const NAME_EXAMPLE: &str = "kobj-bench-name-000042";

    /// The measured figures (`None`: the measurement failed).
    #[derive(Clone, Copy, Debug)]
    pub struct Memory {
        /// Heap bytes per handle-table entry: the growth of a table by [`ENTRIES`]
        /// duplicates of one object, divided by their number.
        pub per_entry: Option<f64>,
        /// Heap bytes of a named event, everything included (object, handle, name).
        pub named_total: Option<f64>,
        /// Heap bytes of an unnamed event, everything included.
        pub unnamed_total: Option<f64>,
        /// What the name adds: `named_total - unnamed_total`.
        pub per_name: Option<f64>,
        /// A named object without its handle: `named_total - per_entry`.
        pub named_object: Option<f64>,
    }

    fn per_entry() -> Option<f64> {
        let kernel = Kernel::new();
        let ty = kernel
            .register_type::<u64>(
                "Bench",
                GenericMapping::new(1, 2, 4, 0x1F_0003),
                Access::from_bits_retain(0x1F_0003),
            )
            .ok()?;
        let process = kernel.create_process(ProcessOptions::default()).ok()?;
        let first = process.create_object(&ty, 7, None, None).ok()?.handle;
        let before = live();
        for _ in 0..ENTRIES {
            process
                .duplicate_handle(
                    Handle::CURRENT_PROCESS,
                    first,
                    Some(Handle::CURRENT_PROCESS),
                    Access::empty(),
                    false,
                    DuplicateOptions::SAME_ACCESS,
                )
                .ok()?;
        }
        Some((live() - before) as f64 / ENTRIES as f64)
    }

    /// Runs on a thread of its own: the engine keeps the blocks of destroyed objects in a
    /// per-thread cache (up to a thousand per size) and reuses them, so on a thread that
    /// had destroyed events before, some new events would take no new memory.
    fn per_event(named: bool) -> Option<f64> {
        std::thread::spawn(move || {
            let kernel = Kernel::new();
            let process = kernel.create_process(ProcessOptions::default()).ok()?;
            let names: Vec<String> = (0..NAMES).map(|i| format!("kobj-bench-name-{i:06}")).collect();
            let before = live();
            for name in &names {
                let name = named.then_some(name.as_str());
                let _created = process.create_event(None, true, false, name).ok()?;
            }
            Some((live() - before) as f64 / NAMES as f64)
        })
        .join()
        .ok()
        .flatten()
    }

    /// Measures the figures (a few seconds in a debug build).
    pub fn measure() -> Memory {
        let per_entry = per_entry();
        let unnamed_total = per_event(false);
        let named_total = per_event(true);
        let per_name = named_total.zip(unnamed_total).map(|(n, u)| n - u);
        let named_object = named_total.zip(per_entry).map(|(n, e)| n - e);
        Memory { per_entry, named_total, unnamed_total, per_name, named_object }
    }
}

/// One benchmark's result.
#[derive(Clone, Debug)]
struct Measured {
    /// Criterion's median time per iteration, ns.
    median: f64,
    /// The 95 % confidence interval of the median, ns.
    low: f64,
    high: f64,
    /// Elements per iteration (threads, or handles for `inherit`).
    elements: f64,
    /// When the estimates were written.
    written: Option<SystemTime>,
}

impl Measured {
    /// Wall time per element, ns (the aggregate cost of one operation).
    fn ns_per_op(&self) -> f64 {
        self.median / self.elements
    }

    /// Aggregate throughput, millions of elements per second.
    fn mops(&self) -> f64 {
        self.elements / self.median * 1e3
    }
}

/// Every result, by `(group, impl, param)`.
type Results = BTreeMap<(String, String, String), Measured>;

/// A group of the suite, in page order, with the implementations and parameters the
/// issue lists; a result outside them is shown too, after them.
struct Group {
    name: &'static str,
    title: &'static str,
    what: &'static str,
    reference: &'static str,
    impls: &'static [(&'static str, &'static str)],
    params: &'static [&'static str],
    param_label: &'static str,
}

const THREADS: &[&str] = &["1", "2", "4"];

const GROUPS: &[Group] = &[
    Group {
        name: "probe",
        title: "probe: the machine's own scaling",
        what: "Each thread runs a compute loop (16 rounds of xorshift on a register) that reads and writes no memory. \
               Its throughput at 2 and 4 threads over 1 thread is how far independent work scaled on this machine \
               during this run; the scaling targets are judged against it.",
        reference: "independent",
        impls: &[("independent", "independent compute loop")],
        params: THREADS,
        param_label: "threads",
    },
    Group {
        name: "lookup",
        title: "lookup: handle → object, with type and access check",
        what: "A hot set of 64 handles of one process; each thread walks all of them from its own offset. \
               Every implementation checks the type and the access and returns the 8-byte payload.",
        reference: "kobj",
        impls: &[
            ("kobj", "kobj `with_object` (one epoch pin per call)"),
            ("kobj_pinned", "kobj `pin()` + `Pinned::get`"),
            ("rwlock_hashmap", "`RwLock<HashMap>`"),
            ("sharded_slab", "sharded-slab"),
            ("vec_floor", "`Vec` floor (shared read-only)"),
        ],
        params: THREADS,
        param_label: "threads",
    },
    Group {
        name: "create_close",
        title: "create_close: create an object, close its only handle",
        what: "All threads in one process (one table), which holds 1 024 other live objects. \
               kobj: a registered embedder type (`create_object` + `close_handle`); kobj_event: \
               `create_event(None, true, false, None)` + `close_handle`, the path a Win32 guest takes (the event also \
               gets its default DACL). Baselines: `Arc::new` + insert + remove, the `Arc` dropped outside the lock.",
        reference: "kobj",
        impls: &[
            ("kobj", "kobj `create_object` + `close_handle`"),
            ("kobj_event", "kobj `create_event` + `close_handle`"),
            ("rwlock_hashmap", "`RwLock<HashMap>`"),
            ("sharded_slab", "sharded-slab"),
        ],
        params: THREADS,
        param_label: "threads",
    },
    Group {
        name: "duplicate_close",
        title: "duplicate_close: duplicate a handle within the process, close the copy",
        what: "Each thread duplicates its own source handle (so threads share the table, not an object's count), \
               same access; the lock baseline finds, checks and inserts under one write lock.",
        reference: "kobj",
        impls: &[("kobj", "kobj `duplicate_handle` + `close_handle`"), ("rwlock_hashmap", "`RwLock<HashMap>`")],
        params: THREADS,
        param_label: "threads",
    },
    Group {
        name: "set_event",
        title: "set_event: `SetEvent` on events already set",
        what: "A hot set of 1 024 manual-reset events, all set; every thread walks all of them from its own offset.",
        reference: "kobj",
        impls: &[("kobj", "kobj `set_event`")],
        params: THREADS,
        param_label: "threads",
    },
    Group {
        name: "mixed",
        title: "mixed: 90 % lookup, 5 % create, 5 % close over 4 processes",
        what: "Each thread walks over 4 processes (4 tables for the baselines) holding 256 live objects each; \
               18 steps in 20 look one up, one creates an object, one closes the oldest the thread created.",
        reference: "kobj",
        impls: &[("kobj", "kobj"), ("rwlock_hashmap", "`RwLock<HashMap>`"), ("sharded_slab", "sharded-slab")],
        params: THREADS,
        param_label: "threads",
    },
    Group {
        name: "named_open",
        title: "named_open: open an existing name, close the handle",
        what: "100 000 named events held by one process; the threads of another open names spread over all of them \
               and close the handle. Baseline: `Mutex<HashMap<String, Arc<Obj>>>`, the object then inserted into \
               and removed from a `RwLock<HashMap>` handle table.",
        reference: "kobj",
        impls: &[("kobj", "kobj `open_event` + `close_handle`"), ("mutex_hashmap", "`Mutex<HashMap>` names")],
        params: THREADS,
        param_label: "threads",
    },
    Group {
        name: "table_size",
        title: "table_size: does a lookup cost grow with the table?",
        what: "Pinned lookups (`pin()` + `Pinned::get`, so the figure is the table walk) of a hot set of 1 024 \
               handles (all of them at 1 000) spread evenly over a table of that many handles; the others are \
               duplicates of one filler object. One thread.",
        reference: "kobj",
        impls: &[("kobj", "kobj `Pinned::get`")],
        params: &["1000", "1000000", "10000000"],
        param_label: "handles in the table",
    },
    Group {
        name: "inherit",
        title: "inherit: create a child inheriting N handles, terminate it",
        what: "The parent holds N inheritable handles; one iteration creates a child that inherits all of them, \
               terminates it and closes the parent's handle to it. An element is one inherited handle.",
        reference: "kobj",
        impls: &[("kobj", "kobj `create_process(true, ..)` + `terminate`")],
        params: &["1000", "1000000"],
        param_label: "inherited handles",
    },
    Group {
        name: "mutex_uncontended",
        title: "mutex_uncontended: wait + release of a mutex nobody else uses",
        what: "One thread. kobj: `wait_for_single_object(h, None)` + `release_mutex(h)` as the process's main \
               thread (two handle lookups, the ownership and recursion bookkeeping); baselines: lock + unlock of \
               a `std::sync::Mutex` and a `parking_lot::Mutex`. (`benches/waits.rs`)",
        reference: "kobj",
        impls: &[
            ("kobj", "kobj `wait_for_single_object` + `release_mutex`"),
            ("std_mutex", "`std::sync::Mutex`"),
            ("parking_lot", "`parking_lot::Mutex`"),
        ],
        params: &["1"],
        param_label: "threads",
    },
    Group {
        name: "mutex_contended",
        title: "mutex_contended: N threads wait on and release one mutex",
        what: "Every thread waits on and releases the same mutex in a loop. kobj: each worker is a guest thread of \
               its own (`create_thread`), all of one process, through the same handle. A kobj mutex released \
               while another thread waits passes straight to that waiter (SPEC §7.3), which must be woken before \
               it runs; std's and parking_lot's locks let the releasing thread take them again at once. On a \
               busy machine the kobj figure is bimodal: while the workers seldom overlap, it is close to the \
               uncontended cost; while they do, every hand-over costs a wake-up. (`benches/waits.rs`)",
        reference: "kobj",
        impls: &[
            ("kobj", "kobj `wait_for_single_object` + `release_mutex`"),
            ("std_mutex", "`std::sync::Mutex`"),
            ("parking_lot", "`parking_lot::Mutex`"),
        ],
        params: &["2", "4"],
        param_label: "threads",
    },
    Group {
        name: "event_pingpong",
        title: "event_pingpong: a round trip between two threads over two auto-reset events",
        what: "Thread A sets e1 and waits on e2; thread B waits on e1 and sets e2. An element is one round trip \
               (two sets, two waits, two wake-ups), so ns/op is the time of a round trip. kobj: two guest \
               threads of one process, `set_event` + `wait_for_single_object(h, None)`; baseline: a pair of \
               `Mutex<bool>` + `Condvar` auto-reset events (`CondvarEvent`). (`benches/waits.rs`)",
        reference: "kobj",
        impls: &[
            ("kobj", "kobj `set_event` + `wait_for_single_object`"),
            ("std_condvar", "`Mutex<bool>` + `Condvar`"),
        ],
        params: &["2"],
        param_label: "threads",
    },
    Group {
        name: "wait_any_64",
        title: "wait_any_64: wait-any over 64 handles, only the last signalled",
        what: "One thread, the main thread: `wait_for_multiple_objects` over 64 manual-reset events of which only \
               the last is set, wait-any, timeout `None`. It returns `Object(63)` without blocking, having \
               checked all 64 handles; the wait changes no event. (`benches/waits.rs`)",
        reference: "kobj",
        impls: &[("kobj", "kobj `wait_for_multiple_objects(64 handles, false, None)`")],
        params: &["1"],
        param_label: "threads",
    },
    Group {
        name: "async_wake",
        title: "async_wake: from a set on one thread to the awaiting task running on another",
        what: "Two threads ping-pong over two auto-reset events, each awaiting on its own current-thread tokio \
               runtime (`block_on`), so every wake-up crosses threads. An element is one wake-up (two per round \
               trip), so ns/op is the latency from the set to the awaiting task running. kobj: two guest threads \
               of one process, `set_event` + `thread.wait_async(&[h], false).await` (a new `WaitFuture` per \
               wait); baseline: two `tokio::sync::Notify`, `notify_one` + `notified().await`. \
               (`benches/waits.rs`)",
        reference: "kobj",
        impls: &[
            ("kobj", "kobj `set_event` + `wait_async(..).await`"),
            ("tokio_notify", "`tokio::sync::Notify`"),
        ],
        params: &["2"],
        param_label: "threads",
    },
];

/// The groups that get a throughput plot.
const PLOTTED: &[&str] = &["lookup", "create_close", "mixed"];

/// An issue 9 target.
enum Target {
    /// `time(a) ≤ factor × time(b)` (single-threaded costs).
    TimeAtMost { a: &'static str, b: &'static str, factor: f64 },
    /// `throughput(a) ≥ factor × throughput(b)`.
    ThroughputAtLeast { a: &'static str, b: &'static str, factor: f64 },
    /// `throughput(x/2) / throughput(x/1) ≥ factor × the probe's`.
    ScalingAtLeast { bench: &'static str, factor: f64 },
    /// Time per iteration under a bound, ms.
    TimeUnderMs { a: &'static str, ms: f64 },
    /// Heap bytes per table entry, measured by the report itself, at most this.
    EntryBytes { max: f64 },
    /// Heap bytes per named object, measured by the report itself, at most this.
    NamedBytes { max: f64 },
}

const TARGETS: &[Target] = &[
    Target::TimeAtMost { a: "create_close/kobj/1", b: "create_close/rwlock_hashmap/1", factor: 1.0 },
    Target::TimeAtMost { a: "create_close/kobj_event/1", b: "create_close/rwlock_hashmap/1", factor: 1.5 },
    Target::ThroughputAtLeast {
        a: "create_close/kobj_event/2",
        b: "create_close/rwlock_hashmap/2",
        factor: 2.0,
    },
    Target::ScalingAtLeast { bench: "create_close/kobj_event", factor: 0.8 },
    Target::ScalingAtLeast { bench: "set_event/kobj", factor: 0.9 },
    Target::TimeAtMost { a: "lookup/kobj_pinned/1", b: "lookup/vec_floor/1", factor: 2.0 },
    Target::TimeAtMost { a: "lookup/kobj/1", b: "lookup/vec_floor/1", factor: 6.0 },
    Target::ThroughputAtLeast { a: "lookup/kobj/2", b: "lookup/rwlock_hashmap/2", factor: 5.0 },
    Target::ThroughputAtLeast { a: "lookup/kobj/2", b: "lookup/sharded_slab/2", factor: 2.0 },
    Target::ThroughputAtLeast { a: "mixed/kobj/2", b: "mixed/rwlock_hashmap/2", factor: 3.0 },
    Target::ThroughputAtLeast {
        a: "duplicate_close/kobj/2",
        b: "duplicate_close/rwlock_hashmap/2",
        factor: 3.0,
    },
    Target::ThroughputAtLeast { a: "named_open/kobj/2", b: "named_open/mutex_hashmap/2", factor: 3.0 },
    Target::TimeAtMost { a: "table_size/kobj/10000000", b: "table_size/kobj/1000", factor: 1.5 },
    Target::TimeUnderMs { a: "inherit/kobj/1000000", ms: 100.0 },
    Target::EntryBytes { max: 16.0 },
    Target::NamedBytes { max: 160.0 },
];

/// The wait targets (SPEC §7), judged the same way.
const WAIT_TARGETS: &[Target] = &[
    Target::TimeAtMost { a: "mutex_uncontended/kobj/1", b: "mutex_uncontended/std_mutex/1", factor: 4.0 },
    // "Within 2× of std": at least half its throughput.
    Target::ThroughputAtLeast { a: "mutex_contended/kobj/2", b: "mutex_contended/std_mutex/2", factor: 0.5 },
    Target::TimeAtMost { a: "event_pingpong/kobj/2", b: "event_pingpong/std_condvar/2", factor: 1.5 },
];

/// The notes the bench executables leave beside `criterion/`: file, executable.
const RUN_NOTES: &[(&str, &str)] =
    &[("kobj-bench-run.txt", "benches/table.rs"), ("kobj-bench-run-waits.txt", "benches/waits.rs")];

fn main() {
    if let Err(e) = run() {
        eprintln!("report: {e}");
        std::process::exit(1);
    }
}

/// The repository root: the parent of this crate's folder.
fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

fn run() -> Result<(), String> {
    let root = repo_root();
    let mut criterion_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t).join("criterion"),
        None => root.join("target").join("criterion"),
    };
    let mut out = root.join("BENCHMARKS.md");
    let mut all = false;
    let mut measure_memory = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--criterion" => criterion_dir = args.next().ok_or("--criterion needs a folder")?.into(),
            "--out" => out = args.next().ok_or("--out needs a file")?.into(),
            "--all" => all = true,
            "--no-memory" => measure_memory = false,
            "-h" | "--help" => {
                println!("usage: report [--criterion DIR] [--out FILE] [--all] [--no-memory]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    let mut results = read_results(&criterion_dir)?;
    if results.is_empty() {
        return Err(format!(
            "no results under {} — run `cargo bench -p kobj-bench` first",
            criterion_dir.display()
        ));
    }
    let stale = if all { 0 } else { drop_stale(&mut results) };
    // Next to the repository's page, `bench/plots/`; next to any other page, a folder
    // named after it, so a trial run does not overwrite the committed plots.
    let out_dir = out.parent().map_or_else(|| root.clone(), Path::to_path_buf);
    let plots_dir = if out == root.join("BENCHMARKS.md") {
        root.join("bench").join("plots")
    } else {
        let stem = out.file_stem().map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
        out_dir.join(format!("{stem}-plots"))
    };
    std::fs::create_dir_all(&plots_dir).map_err(|e| format!("{}: {e}", plots_dir.display()))?;
    let fonts = load_font();
    let mut plots = Vec::new();
    for &group in PLOTTED {
        let file = plots_dir.join(format!("{group}.png"));
        match plot(group, &results, &file, fonts) {
            Ok(true) => plots.push((group, file)),
            Ok(false) => {}
            Err(e) => eprintln!("report: plot of {group} failed: {e}"),
        }
    }
    let memory = measure_memory.then(memory::measure);
    let run_notes: Vec<(&str, String)> = RUN_NOTES
        .iter()
        .filter_map(|&(file, bench)| {
            let text = std::fs::read_to_string(criterion_dir.parent()?.join(file)).ok()?;
            Some((bench, text))
        })
        .collect();
    let page = render(&Page {
        results: &results,
        stale,
        memory: memory.as_ref(),
        run_notes: &run_notes,
        root: &root,
        out: &out,
        plots: &plots,
        fonts,
    });
    std::fs::write(&out, page).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("wrote {} ({} results, {} plots)", out.display(), results.len(), plots.len());
    Ok(())
}

/// How long before the newest result a result may have been written and still count as
/// part of the same run. A full run takes minutes; criterion keeps every id's last
/// result forever, so without this a page would mix runs (and show ids the suite no
/// longer has).
const RUN_WINDOW: std::time::Duration = std::time::Duration::from_secs(3 * 3_600);

/// Removes the results written more than [`RUN_WINDOW`] before the newest; returns
/// how many.
fn drop_stale(results: &mut Results) -> usize {
    let Some(newest) = results.values().filter_map(|m| m.written).max() else { return 0 };
    let before = results.len();
    results.retain(|_, m| match m.written.map(|w| newest.duration_since(w)) {
        Some(Ok(age)) => age <= RUN_WINDOW,
        _ => true,
    });
    before - results.len()
}

/// Every `new/benchmark.json` + `new/estimates.json` pair under `dir`.
fn read_results(dir: &Path) -> Result<Results, String> {
    let mut results = Results::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                if let Some((key, m)) = read_one(&path) {
                    results.insert(key, m);
                }
            } else if path.file_name().is_some_and(|n| n != "report" && n != "base" && n != "change") {
                stack.push(path);
            }
        }
    }
    Ok(results)
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn read_one(new: &Path) -> Option<((String, String, String), Measured)> {
    let bench = read_json(&new.join("benchmark.json"))?;
    let estimates_path = new.join("estimates.json");
    let estimates = read_json(&estimates_path)?;
    let group = bench.get("group_id")?.as_str()?.to_owned();
    let function = bench.get("function_id").and_then(Value::as_str).unwrap_or("").to_owned();
    let param = bench.get("value_str").and_then(Value::as_str).unwrap_or("").to_owned();
    let elements = match bench.get("throughput") {
        Some(Value::Object(t)) => t.get("Elements").and_then(Value::as_f64).unwrap_or(1.0),
        _ => 1.0,
    };
    let median = estimates.get("median")?;
    let point = median.get("point_estimate")?.as_f64()?;
    let ci = median.get("confidence_interval");
    let low = ci.and_then(|c| c.get("lower_bound")).and_then(Value::as_f64).unwrap_or(point);
    let high = ci.and_then(|c| c.get("upper_bound")).and_then(Value::as_f64).unwrap_or(point);
    let written = std::fs::metadata(&estimates_path).and_then(|m| m.modified()).ok();
    if point <= 0.0 || elements <= 0.0 {
        return None;
    }
    Some(((group, function, param), Measured { median: point, low, high, elements, written }))
}

fn get<'a>(results: &'a Results, id: &str) -> Option<&'a Measured> {
    let mut parts = id.splitn(3, '/');
    let key = (parts.next()?.to_owned(), parts.next()?.to_owned(), parts.next()?.to_owned());
    results.get(&key)
}

/// Throughput at 2 threads over 1 thread of `bench` (`group/impl`).
fn scaling(results: &Results, bench: &str, threads: &str) -> Option<f64> {
    let one = get(results, &format!("{bench}/1"))?;
    let n = get(results, &format!("{bench}/{threads}"))?;
    Some(n.mops() / one.mops())
}

/// A number with about three significant figures.
fn num(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A time per operation in the best unit.
fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{} ms", num(ns / 1e6))
    } else if ns >= 1e3 {
        format!("{} µs", num(ns / 1e3))
    } else {
        format!("{} ns", num(ns))
    }
}

/// The command's first line of output, or "unknown".
fn command_line(program: &str, args: &[&str], dir: &Path) -> String {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// `(processors, model name)` from /proc/cpuinfo, where there is one.
fn cpu() -> (usize, String) {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let field = |key: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let mut model = model;
    if let (Some(family), Some(number)) = (field("cpu family"), field("model")) {
        let _ = write!(model, " (family {family}, model {number})");
    }
    if let Some(cache) = field("cache size") {
        let _ = write!(model, ", {cache} cache per CPU as /proc/cpuinfo reports it");
    }
    let processors = info.lines().filter(|l| l.starts_with("processor")).count();
    (if processors > 0 { processors } else { threads }, model)
}

/// A UTC timestamp, `YYYY-MM-DD HH:MM`.
fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3_600, rem % 3_600 / 60)
}

/// The implementations and parameters of a group: the issue's, then any others found.
fn rows_and_columns(group: &Group, results: &Results) -> (Vec<(String, String)>, Vec<String>) {
    let mut impls: Vec<(String, String)> =
        group.impls.iter().map(|&(id, label)| (id.to_owned(), label.to_owned())).collect();
    let mut params: Vec<String> = group.params.iter().map(|&p| p.to_owned()).collect();
    let mut extra_params = BTreeSet::new();
    for (g, i, p) in results.keys() {
        if g != group.name {
            continue;
        }
        if !impls.iter().any(|(id, _)| id == i) {
            impls.push((i.clone(), format!("`{i}`")));
        }
        if !params.contains(p) {
            extra_params.insert(p.parse::<u64>().map_err(|_| p.clone()));
        }
    }
    params.extend(extra_params.into_iter().map(|p| match p {
        Ok(n) => n.to_string(),
        Err(s) => s,
    }));
    (impls, params)
}

/// Everything a page is made from.
struct Page<'a> {
    results: &'a Results,
    /// Results left out as older than the run.
    stale: usize,
    memory: Option<&'a Memory>,
    /// The note of each bench executable's last measuring run: executable, text.
    run_notes: &'a [(&'a str, String)],
    root: &'a Path,
    out: &'a Path,
    plots: &'a [(&'a str, PathBuf)],
    /// Whether the plots have text.
    fonts: bool,
}

fn render(page: &Page<'_>) -> String {
    let &Page { results, stale, memory, run_notes, root, out, plots, fonts } = page;
    let mut s = String::new();
    let (cores, model) = cpu();
    let rustc = command_line("rustc", &["-V"], root);
    let mut commit = command_line("git", &["rev-parse", "--short", "HEAD"], root);
    // The page and plots this report writes do not count: a run re-written from the
    // same results is still of the same code.
    let dirty = Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!BENCHMARKS.md",
            ":!bench/plots",
        ])
        .current_dir(root)
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    if dirty {
        commit.push_str(" (with uncommitted changes)");
    }
    let written: Vec<SystemTime> = results.values().filter_map(|m| m.written).collect();
    let span = match (written.iter().min(), written.iter().max()) {
        (Some(a), Some(b)) => format!("{} – {}", utc(*a), utc(*b)),
        _ => "unknown".into(),
    };
    let expected: usize = GROUPS.iter().map(|g| g.impls.len() * g.params.len()).sum();
    let present = GROUPS
        .iter()
        .flat_map(|g| g.impls.iter().flat_map(move |i| g.params.iter().map(move |p| (g.name, i.0, *p))))
        .filter(|(g, i, p)| get(results, &format!("{g}/{i}/{p}")).is_some())
        .count();

    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "kobj against the baselines SPEC §4 names, measured in the same run by the criterion suite in \
         `bench/benches/table.rs`, and kobj's waits (SPEC §7) against the host's locks by \
         `bench/benches/waits.rs` (baselines and harness in `bench/src/lib.rs`). This page is written by \
         `cargo run -p kobj-bench --bin report` from that run's results; do not edit it by hand \
         (notes that should survive go in `bench/notes.md`).\n"
    );
    let _ = writeln!(s, "## Setup\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| machine | {cores} logical CPUs, {model} |");
    let _ = writeln!(s, "| toolchain | {rustc}, `bench` profile (release + debug info) |");
    let _ = writeln!(s, "| commit | `{commit}` |");
    let _ = writeln!(s, "| results written | {span} |");
    for (bench, notes) in run_notes {
        let field = |k: &str| {
            notes
                .lines()
                .find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix(": ")).map(str::to_owned))
        };
        let when = |k: &str| {
            field(k)
                .and_then(|v| v.parse::<u64>().ok())
                .map(|secs| utc(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs)))
        };
        let run = match (when("start"), when("end")) {
            (Some(a), Some(b)) => format!("{a} – {b}"),
            (Some(a), None) => format!("from {a}, not finished (or interrupted)"),
            _ => "unknown".into(),
        };
        let args = field("args").filter(|a| !a.trim().is_empty()).map_or("none".into(), |a| format!("`{a}`"));
        let _ = writeln!(s, "| last run of `{bench}` | {run}; criterion arguments: {args} |");
        let _ = writeln!(
            s,
            "| load average (1, 5, 15 min), `{bench}` | {} at its start, {} at its end |",
            field("load_start").unwrap_or_else(|| "unknown".into()),
            field("load_end").unwrap_or_else(|| "unknown".into())
        );
    }
    if stale > 0 {
        let _ = writeln!(
            s,
            "| older results | {stale} left out (written more than {} h before the newest; `--all` keeps them) |",
            RUN_WINDOW.as_secs() / 3_600
        );
    }
    let _ = writeln!(s, "| page written | {} |", utc(SystemTime::now()));
    let _ = writeln!(s, "| results | {present} of the suite's {expected} benchmarks |");
    let _ = writeln!(
        s,
        "| command | `cargo bench -p kobj-bench` then `cargo run -p kobj-bench --bin report` |\n"
    );
    let _ = writeln!(
        s,
        "**What a figure means.** Every benchmark runs on persistent worker threads (one pool per thread count, \
         so per-thread state stays warm across samples). The workers are released together by a barrier, each \
         reads its own clock, does its operations, reads its clock again; the time is the span from the first \
         worker's start to the last one's end. Criterion's time per iteration is therefore the wall time of one \
         operation while N threads each do one. The tables show the aggregate: **ns/op** is that time divided by \
         the operations the N threads did together (lower is better) and **Mop/s** the operations per second of \
         all threads together (higher is better). Figures are criterion's median; the 95 % confidence interval \
         of the median is in the JSON; a cell marked (±N %) had a confidence interval wider than ±25 % of \
         the median. With more threads than cores (4 on a 2-CPU machine) the threads time-share: \
         aggregate throughput cannot grow past the core count.\n"
    );
    let _ = writeln!(
        s,
        "**×kobj** is the row's ns/op divided by kobj's at the same parameter: above 1, kobj is that many times \
         faster. **scaling** is the row's throughput at N threads over its throughput at 1; the `probe` group \
         shows what independent work gets on this machine in this run. \"—\" is a benchmark this run did not \
         measure (a filtered run).\n"
    );

    let _ = writeln!(s, "## Targets (issue 9)\n");
    let _ = writeln!(s, "| target | measured | |\n|---|---|---|");
    for target in TARGETS {
        let (what, measured, verdict) = evaluate(target, results, memory);
        let _ = writeln!(s, "| {what} | {measured} | {verdict} |");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "## Targets (threads and waits)\n");
    let _ = writeln!(s, "| target | measured | |\n|---|---|---|");
    for target in WAIT_TARGETS {
        let (what, measured, verdict) = evaluate(target, results, memory);
        let _ = writeln!(s, "| {what} | {measured} | {verdict} |");
    }
    let _ = writeln!(s);

    if let Some(m) = memory {
        render_memory(&mut s, m);
    }

    for group in GROUPS {
        render_group(&mut s, group, results);
        if let Some((_, file)) = plots.iter().find(|(g, _)| *g == group.name) {
            let rel = relative(file, out.parent().unwrap_or(root));
            let _ = writeln!(s, "![{}: throughput against threads]({rel})\n", group.name);
            if !fonts {
                let _ = writeln!(
                    s,
                    "(No TrueType font was found on the machine that drew this plot, so it has no text: x is 1, 2 \
                     and 4 threads, y is Mop/s from 0; the colours are those of the list below.)\n"
                );
            }
            let legend: Vec<String> = group
                .impls
                .iter()
                .enumerate()
                .map(|(k, (id, _))| format!("{} `{id}`", COLOURS[k % COLOURS.len()].0))
                .collect();
            let _ = writeln!(
                s,
                "Lines: {}; dashed grey: kobj's 1-thread throughput scaled as the probe scaled.\n",
                legend.join(", ")
            );
        }
    }

    let notes = root.join("bench").join("notes.md");
    if let Ok(text) = std::fs::read_to_string(&notes) {
        let _ = writeln!(s, "{}", text.trim_end());
    }
    s
}

fn render_memory(s: &mut String, m: &Memory) {
    let b = |x: Option<f64>| x.map_or("—".to_owned(), |x| format!("{x:.1} B"));
    let _ = writeln!(s, "## Memory\n");
    let _ = writeln!(
        s,
        "Measured by the report itself (a counting global allocator; live heap bytes before and after), at \
         the commit above: a handle table grown by {} duplicates of one object, and {} events created by one \
         process with names like `{}` ({} characters) against as many unnamed ones. Table and name-table \
         growth is amortised over the count, so \"per table entry\" includes the entry's share of the table's \
         index levels. \"Per named object\" (the target's figure) is a named event less its handle's table \
         entry: the object, its security descriptor and its name, wherever they are kept.\n",
        memory::ENTRIES,
        memory::NAMES,
        memory::NAME_EXAMPLE,
        memory::NAME_EXAMPLE.len()
    );
    let _ = writeln!(s, "| heap bytes | |\n|---|---:|");
    let _ = writeln!(s, "| per table entry | {} |", b(m.per_entry));
    let _ = writeln!(s, "| per unnamed event (object + handle) | {} |", b(m.unnamed_total));
    let _ = writeln!(s, "| per named event (object + handle + name) | {} |", b(m.named_total));
    let _ = writeln!(s, "| what the name adds | {} |", b(m.per_name));
    let _ = writeln!(s, "| per named object (named event less its table entry) | {} |\n", b(m.named_object));
}

fn relative(file: &Path, base: &Path) -> String {
    file.strip_prefix(base).unwrap_or(file).to_string_lossy().replace('\\', "/")
}

fn render_group(s: &mut String, group: &Group, results: &Results) {
    let (impls, params) = rows_and_columns(group, results);
    let _ = writeln!(s, "## {}\n\n{}\n", group.title, group.what);
    let multi = group.params == THREADS;
    let mut header = format!("| {} → |", group.param_label);
    let mut rule = String::from("|---|");
    for p in &params {
        let _ = write!(header, " {p} |");
        rule.push_str("---:|");
    }
    if multi {
        header.push_str(" scaling 2/1 | scaling 4/1 |");
        rule.push_str("---:|---:|");
    }
    let _ = writeln!(s, "{header}\n{rule}");
    for (id, label) in &impls {
        let mut row = format!("| {label} |");
        for p in &params {
            let cell = match get(results, &format!("{}/{id}/{p}", group.name)) {
                None => "—".to_owned(),
                Some(m) => {
                    let mut cell = format!("{} · {} Mop/s", time(m.ns_per_op()), num(m.mops()));
                    if id != group.reference {
                        if let Some(r) = get(results, &format!("{}/{}/{p}", group.name, group.reference)) {
                            let _ = write!(cell, " · {}×kobj", num(m.ns_per_op() / r.ns_per_op()));
                        }
                    }
                    if group.name == "inherit" {
                        let _ = write!(cell, " · {} per child", time(m.median));
                    }
                    let spread = (m.high - m.low) / m.median;
                    if spread > 0.5 {
                        let _ = write!(cell, " (±{:.0} %)", spread * 50.0);
                    }
                    cell
                }
            };
            let _ = write!(row, " {cell} |");
        }
        if multi {
            for n in ["2", "4"] {
                let v = scaling(results, &format!("{}/{id}", group.name), n)
                    .map_or("—".into(), |x| format!("{x:.2}"));
                let _ = write!(row, " {v} |");
            }
        }
        let _ = writeln!(s, "{row}");
    }
    let _ = writeln!(s);
}

/// A target's wording, the measured figure and held / missed.
fn evaluate(target: &Target, results: &Results, memory: Option<&Memory>) -> (String, String, String) {
    let verdict = |ok: bool| if ok { "held".to_owned() } else { "**missed**".to_owned() };
    let missing = || ("—".to_owned(), "—".to_owned());
    match *target {
        Target::TimeAtMost { a, b, factor } => {
            let what = format!("`{a}` ≤ {factor} × `{b}` (time)");
            let (m, v) = match (get(results, a), get(results, b)) {
                (Some(x), Some(y)) => {
                    let r = x.ns_per_op() / y.ns_per_op();
                    (
                        format!("{} / {} = {:.2}×", time(x.ns_per_op()), time(y.ns_per_op()), r),
                        verdict(r <= factor),
                    )
                }
                _ => missing(),
            };
            (what, m, v)
        }
        Target::ThroughputAtLeast { a, b, factor } => {
            let what = format!("`{a}` ≥ {factor} × `{b}` (throughput)");
            let (m, v) = match (get(results, a), get(results, b)) {
                (Some(x), Some(y)) => {
                    let r = x.mops() / y.mops();
                    (format!("{} / {} Mop/s = {:.2}×", num(x.mops()), num(y.mops()), r), verdict(r >= factor))
                }
                _ => missing(),
            };
            (what, m, v)
        }
        Target::ScalingAtLeast { bench, factor } => {
            let what = format!("`{bench}` 2-thread / 1-thread throughput ≥ {factor} × the probe's");
            let (m, v) = match (scaling(results, bench, "2"), scaling(results, "probe/independent", "2")) {
                (Some(x), Some(p)) => {
                    let r = x / p;
                    (format!("{x:.2} against the probe's {p:.2}: {r:.2}×"), verdict(r >= factor))
                }
                _ => missing(),
            };
            (what, m, v)
        }
        Target::TimeUnderMs { a, ms } => {
            let what = format!("`{a}` under {ms} ms per iteration");
            let (m, v) = match get(results, a) {
                Some(x) => (time(x.median), verdict(x.median < ms * 1e6)),
                None => missing(),
            };
            (what, m, v)
        }
        Target::EntryBytes { max } => {
            let what = format!("≤ {max} B per table entry (heap; see \"Memory\")");
            let (m, v) = match memory.and_then(|m| m.per_entry) {
                Some(b) => (format!("{b:.1} B"), verdict(b <= max)),
                None => missing(),
            };
            (what, m, v)
        }
        Target::NamedBytes { max } => {
            let what = format!("≤ {max} B heap per named object (see \"Memory\")");
            let (m, v) = match memory.and_then(|m| m.named_object) {
                Some(b) => (format!("{b:.0} B"), verdict(b <= max)),
                None => missing(),
            };
            (what, m, v)
        }
    }
}

/// Line colours of the plots, named for the legend in the page.
const COLOURS: &[(&str, plotters::style::RGBColor)] = &[
    ("blue", plotters::style::RGBColor(31, 119, 180)),
    ("orange", plotters::style::RGBColor(255, 127, 14)),
    ("green", plotters::style::RGBColor(44, 160, 44)),
    ("red", plotters::style::RGBColor(214, 39, 40)),
    ("purple", plotters::style::RGBColor(148, 103, 189)),
    ("brown", plotters::style::RGBColor(140, 86, 75)),
];

/// Registers a TrueType font for the plots' text: `KOBJ_BENCH_FONT`, then a few usual
/// places, then any `.ttf` under the usual font folders. False if none was found (the
/// plots are then drawn without text).
fn load_font() -> bool {
    let mut candidates: Vec<PathBuf> =
        std::env::var_os("KOBJ_BENCH_FONT").map(PathBuf::from).into_iter().collect();
    for known in [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/Library/Fonts/Arial.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "C:\\Windows\\Fonts\\arial.ttf",
    ] {
        candidates.push(known.into());
    }
    let mut stack: Vec<PathBuf> =
        ["/usr/share/fonts", "/usr/local/share/fonts"].iter().map(PathBuf::from).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("ttf")) {
                candidates.push(path);
            }
        }
    }
    for path in candidates {
        let Ok(bytes) = std::fs::read(&path) else { continue };
        // plotters keeps registered fonts for the life of the program.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        if plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes).is_ok() {
            return true;
        }
    }
    false
}

/// One line of a plot: the implementation, its colour, (threads, Mop/s) points.
type Series = (String, plotters::style::RGBColor, Vec<(u32, f64)>);

/// Draws `group`'s throughput against threads to `file`; false if the run has no
/// result of the group.
fn plot(group_name: &str, results: &Results, file: &Path, fonts: bool) -> Result<bool, String> {
    use plotters::prelude::*;

    let Some(group) = GROUPS.iter().find(|g| g.name == group_name) else { return Ok(false) };
    let threads = [1u32, 2, 4];
    let mut series: Vec<Series> = Vec::new();
    for (k, (id, _)) in group.impls.iter().enumerate() {
        let points: Vec<(u32, f64)> = threads
            .iter()
            .filter_map(|&n| get(results, &format!("{group_name}/{id}/{n}")).map(|m| (n, m.mops())))
            .collect();
        if !points.is_empty() {
            series.push(((*id).to_owned(), COLOURS[k % COLOURS.len()].1, points));
        }
    }
    if series.is_empty() {
        return Ok(false);
    }
    // (The x axis runs on past 4 threads to leave room for the legend.)
    // kobj's 1-thread throughput, scaled as the probe scaled: what "scales as far as the
    // machine does" would look like.
    let ideal: Vec<(u32, f64)> = match get(results, &format!("{group_name}/{}/1", group.reference)) {
        Some(base) => threads
            .iter()
            .filter_map(|&n| {
                let f =
                    if n == 1 { Some(1.0) } else { scaling(results, "probe/independent", &n.to_string()) };
                f.map(|f| (n, base.mops() * f))
            })
            .collect(),
        None => Vec::new(),
    };
    let all = series.iter().flat_map(|s| s.2.iter().map(|p| p.1)).chain(ideal.iter().map(|p| p.1));
    let hi = all.fold(0.0f64, f64::max) * 1.15;

    let root = BitMapBackend::new(file, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(20).x_label_area_size(if fonts { 45 } else { 10 }).y_label_area_size(if fonts {
        70
    } else {
        10
    });
    if fonts {
        builder.caption(format!("{group_name}: aggregate throughput"), ("sans-serif", 24));
    }
    let mut chart = builder.build_cartesian_2d(0.8f64..6.4f64, 0.0..hi).map_err(|e| e.to_string())?;
    {
        let mut mesh = chart.configure_mesh();
        if fonts {
            mesh.x_desc("threads")
                .y_desc("Mop/s, all threads together")
                .x_labels(12)
                .x_label_formatter(&|x| {
                    if [1.0, 2.0, 4.0].iter().any(|t| (x - t).abs() < 1e-9) {
                        format!("{x:.0}")
                    } else {
                        String::new()
                    }
                })
                .y_labels(8)
                // Rounded to three decimals, then the shortest form: 50, 1.5, 0.
                .y_label_formatter(&|y| format!("{}", (y * 1e3).round() / 1e3))
                .label_style(("sans-serif", 16));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| e.to_string())?;
    }
    for (id, colour, points) in &series {
        let line = points.iter().map(|&(n, y)| (f64::from(n), y));
        let drawn = chart
            .draw_series(LineSeries::new(line.clone(), colour.stroke_width(3)))
            .map_err(|e| e.to_string())?;
        if fonts {
            let c = *colour;
            drawn
                .label(id.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        }
        chart.draw_series(line.map(|p| Circle::new(p, 5, colour.filled()))).map_err(|e| e.to_string())?;
    }
    if !ideal.is_empty() {
        let grey = RGBColor(150, 150, 150);
        let pts: Vec<(f64, f64)> = ideal.iter().map(|&(n, y)| (f64::from(n), y)).collect();
        let drawn = chart
            .draw_series(DashedLineSeries::new(pts, 8, 6, grey.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        if fonts {
            drawn
                .label("kobj at 1 thread × probe scaling")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2)));
        }
    }
    if fonts {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn result(median: f64, elements: f64, age_s: u64) -> Measured {
        let written = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_s);
        Measured { median, low: median, high: median, elements, written: Some(written) }
    }

    fn results() -> Results {
        let mut r = Results::new();
        let mut put = |id: &str, m: Measured| {
            let mut p = id.split('/').map(str::to_owned);
            r.insert((p.next().unwrap(), p.next().unwrap(), p.next().unwrap()), m);
        };
        put("create_close/kobj/1", result(100.0, 1.0, 0));
        put("create_close/rwlock_hashmap/1", result(120.0, 1.0, 0));
        put("create_close/kobj_event/1", result(150.0, 1.0, 0));
        put("create_close/kobj_event/2", result(300.0, 2.0, 0));
        put("create_close/rwlock_hashmap/2", result(600.0, 2.0, 0));
        put("probe/independent/1", result(30.0, 1.0, 0));
        put("probe/independent/2", result(40.0, 2.0, 0));
        put("lookup/kobj/1", result(8.0, 1.0, 5 * 3_600));
        r
    }

    #[test]
    fn dates() {
        assert_eq!(utc(SystemTime::UNIX_EPOCH), "1970-01-01 00:00 UTC");
        assert_eq!(
            utc(SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_660)),
            "2000-02-29 01:01 UTC"
        );
    }

    #[test]
    fn targets_are_judged() {
        let r = results();
        let (_, m, v) = evaluate(&TARGETS[0], &r, None);
        assert_eq!((m.as_str(), v.as_str()), ("100 ns / 120 ns = 0.83×", "held"));
        // 2-thread throughput 2 per 300 ns against 2 per 600 ns: 2×.
        let (_, m, v) = evaluate(&TARGETS[2], &r, None);
        assert!(m.ends_with("= 2.00×") && v == "held", "{m} {v}");
        // kobj_event scales 1.0, the probe 1.5: 0.67× < 0.8.
        let (_, m, v) = evaluate(&TARGETS[3], &r, None);
        assert!(m.ends_with("0.67×") && v.contains("missed"), "{m} {v}");
        // Not measured: a dash, not a verdict.
        let (_, m, v) = evaluate(&TARGETS[4], &r, None);
        assert_eq!((m.as_str(), v.as_str()), ("—", "—"));
    }

    #[test]
    fn wait_targets_are_judged() {
        let mut r = results();
        let mut put = |id: &str, m: Measured| {
            let mut p = id.split('/').map(str::to_owned);
            r.insert((p.next().unwrap(), p.next().unwrap(), p.next().unwrap()), m);
        };
        put("mutex_uncontended/kobj/1", result(50.0, 1.0, 0));
        put("mutex_uncontended/std_mutex/1", result(10.0, 1.0, 0));
        put("mutex_contended/kobj/2", result(300.0, 2.0, 0));
        put("mutex_contended/std_mutex/2", result(200.0, 2.0, 0));
        // 5× std's time: missed.
        let (what, m, v) = evaluate(&WAIT_TARGETS[0], &r, None);
        assert!(what.contains("≤ 4 ×"), "{what}");
        assert_eq!((m.as_str(), v.as_str()), ("50.0 ns / 10.0 ns = 5.00×", "**missed**"));
        // Two thirds of std's throughput: within 2×.
        let (what, m, v) = evaluate(&WAIT_TARGETS[1], &r, None);
        assert!(what.contains("≥ 0.5 ×") && what.contains("(throughput)"), "{what}");
        assert!(m.ends_with("= 0.67×") && v == "held", "{m} {v}");
        let (_, m, v) = evaluate(&WAIT_TARGETS[2], &r, None);
        assert_eq!((m.as_str(), v.as_str()), ("—", "—"));
        let root = repo_root();
        let out = root.join("BENCHMARKS.md");
        let notes = [("benches/waits.rs", "start: 0\nload_start: 1.00 0.50 0.25\nargs: \n".to_owned())];
        let page = render(&Page {
            results: &r,
            stale: 0,
            memory: None,
            run_notes: &notes,
            root: &root,
            out: &out,
            plots: &[],
            fonts: false,
        });
        assert!(page.contains("## Targets (threads and waits)"), "{page}");
        assert!(page.contains("| `parking_lot::Mutex` | — | — |"), "{page}");
        assert!(page.contains("| last run of `benches/waits.rs` | from 1970-01-01 00:00 UTC"), "{page}");
        assert!(page.contains("## event_pingpong"));
    }

    #[test]
    fn older_runs_are_left_out() {
        let mut r = results();
        assert_eq!(drop_stale(&mut r), 1);
        assert!(get(&r, "lookup/kobj/1").is_none());
        assert!(get(&r, "create_close/kobj/1").is_some());
    }

    #[test]
    fn a_partial_run_renders_with_dashes() {
        let r = results();
        let root = repo_root();
        let out = root.join("BENCHMARKS.md");
        let page = render(&Page {
            results: &r,
            stale: 0,
            memory: None,
            run_notes: &[],
            root: &root,
            out: &out,
            plots: &[],
            fonts: false,
        });
        assert!(page.contains("## create_close"));
        assert!(page.contains("| `RwLock<HashMap>` | 120 ns · 8.33 Mop/s · 1.20×kobj |"), "{page}");
        assert!(page.contains("| sharded-slab | — | — | — | — | — |"));
    }
}
