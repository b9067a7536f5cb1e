//! kobj against the baselines of `kobj_bench`, in the same run (SPEC §4, issue 9).
//!
//! Every benchmark id is `<group>/<impl>/<param>`; `<param>` is the number of threads
//! for the multi-threaded groups (1, 2 and 4) and a size for `table_size` and `inherit`.
//! Every figure comes from [`kobj_bench::measure`]: persistent worker threads released
//! by a start barrier, each reading its own clock, held at an end barrier until all have
//! stopped theirs; the span from the first start to the last end. Criterion's time per iteration is the wall time of one operation while N
//! threads each do the same; the throughput (elements) is the aggregate, N per
//! iteration.
//!
//! | group | what one operation is |
//! |---|---|
//! | `lookup` | handle → object with a type and access check, over a hot set of 64 handles of one process |
//! | `create_close` | create an object and close its only handle, every thread in one process |
//! | `duplicate_close` | duplicate a handle within the process and close the copy |
//! | `set_event` | `SetEvent` on a hot set of 1 024 events that are already set |
//! | `mixed` | 90 % lookup, 5 % create, 5 % close, spread over 4 processes |
//! | `named_open` | open an existing name (out of 100 000) and close the handle |
//! | `probe` | a compute loop touching no shared line: the machine's own scaling |
//! | `table_size` | pinned lookup of a hot set of 1 024 handles spread over a table of N |
//! | `inherit` | create a child inheriting N handles, terminate it (an element is a handle) |
//!
//! Run `cargo bench -p kobj-bench` (4–5 minutes on a 2-CPU machine), then `cargo run -p kobj-bench --bin
//! report` to write BENCHMARKS.md. `cargo bench -p kobj-bench -- --test` runs each
//! benchmark once with smaller tables and name sets (the CI smoke).

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use kobj::{
    Access, DuplicateOptions, GenericMapping, Handle, Kernel, ObjectType, Process, ProcessOptions,
    SecurityAttributes,
};
use kobj_bench::{measure, probe_step, run_on, LockedTable, NameTable, Obj, RunNote, SlabTable, VecTable};

/// The thread counts of the multi-threaded groups.
const THREADS: [usize; 3] = [1, 2, 4];
/// The `lookup` group's hot set: how many distinct handles a lookup loop cycles through.
const LOOKUP_HOT: usize = 64;
/// The hot set of `set_event` and `table_size`.
const HOT: usize = 1024;
/// Live objects every create/close table holds besides the ones being created, so no
/// table is measured empty.
const BACKGROUND: usize = 1024;
/// Processes (and baseline tables) of the `mixed` group.
const MIXED_PROCESSES: usize = 4;
/// Live objects per process in `mixed`, which its lookups cycle through.
const MIXED_LIVE: usize = 256;
/// The baselines' type id for the benchmark type.
const TYPE_ID: u32 = 1;
/// The access a creator's handle holds (the benchmark type's ALL_ACCESS).
const ALL_ACCESS: u32 = 0x1F_0003;
/// The access every lookup asks for (the type's "query state").
const QUERY: u32 = 0x1;
/// The payload every object carries.
const PAYLOAD: u64 = 7;

/// True under `cargo bench -- --test` (criterion's test mode: each benchmark once).
fn smoke() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// Criterion's defaults for the suite; command-line flags (`--measurement-time`,
/// `--warm-up-time`, `--sample-size`) override them.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        // The report binary draws the plots that matter; criterion's own HTML plots
        // would only lengthen the run.
        .without_plots()
}

/// A group measured at 1, 2 and 4 threads: throughput is set per thread count.
fn threads_throughput<M: criterion::measurement::Measurement>(group: &mut BenchmarkGroup<'_, M>, n: usize) {
    group.throughput(Throughput::Elements(n as u64));
}

/// A kernel, one process and the benchmark type (`u64` payload, event-like rights).
fn kobj_setup() -> (Kernel, Process, ObjectType<u64>) {
    let kernel = Kernel::new();
    let ty = bench_type(&kernel);
    let process = kernel.create_process(ProcessOptions::default()).expect("create a process");
    (kernel, process, ty)
}

fn bench_type(kernel: &Kernel) -> ObjectType<u64> {
    kernel
        .register_type::<u64>(
            "Bench",
            GenericMapping::new(0x20001, 0x20002, 0x20000, ALL_ACCESS),
            Access::from_bits_retain(ALL_ACCESS),
        )
        .expect("register the benchmark type")
}

fn kobj_create(process: &Process, ty: &ObjectType<u64>) -> Handle {
    process.create_object(ty, PAYLOAD, None, None).expect("create an object").handle
}

/// The index thread `t` uses at step `i` of a hot set of `len`: each thread starts
/// elsewhere in the set and walks all of it.
#[inline]
fn hot_index(t: usize, i: u64, len: usize) -> usize {
    (t * 17 + i as usize) % len
}

fn lookup(c: &mut Criterion) {
    let (_kernel, process, ty) = kobj_setup();
    let query = Access::from_bits_retain(QUERY);
    let kobj_hot: Vec<Handle> = (0..LOOKUP_HOT).map(|_| kobj_create(&process, &ty)).collect();

    let locked = LockedTable::new();
    let locked_hot: Vec<u32> =
        (0..LOOKUP_HOT).map(|_| locked.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS)).collect();

    let slab = SlabTable::new();
    let slab_hot: Vec<usize> = (0..LOOKUP_HOT)
        .map(|_| slab.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS).expect("slab insert"))
        .collect();

    let mut vec = VecTable::new();
    let vec_hot: Vec<u32> =
        (0..LOOKUP_HOT).map(|_| vec.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS)).collect();
    let vec = vec;

    // Every implementation finds every hot handle before anything is timed.
    for k in 0..LOOKUP_HOT {
        assert_eq!(process.with_object(&ty, kobj_hot[k], query, |p| *p), Ok(PAYLOAD));
        assert_eq!(locked.with(locked_hot[k], TYPE_ID, QUERY, |o| o.payload), Ok(PAYLOAD));
        assert_eq!(slab.with(slab_hot[k], TYPE_ID, QUERY, |o| o.payload), Ok(PAYLOAD));
        assert_eq!(vec.get(vec_hot[k], TYPE_ID, QUERY).map(|o| o.payload), Ok(PAYLOAD));
    }

    let mut group = c.benchmark_group("lookup");
    for n in THREADS {
        threads_throughput(&mut group, n);
        // One epoch pin per call: the public one-shot path.
        group.bench_function(BenchmarkId::new("kobj", n), |b| {
            b.iter_custom(|iters| {
                measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let h = black_box(kobj_hot[hot_index(t, i, LOOKUP_HOT)]);
                        let v = process.with_object(&ty, h, query, |p| *p);
                        black_box(v.expect("live hot handle"));
                    }
                })
            })
        });
        // One pin per thread per sample, then `Pinned::get`.
        group.bench_function(BenchmarkId::new("kobj_pinned", n), |b| {
            b.iter_custom(|iters| {
                measure(n, iters, |t, iters| {
                    let pin = process.pin();
                    for i in 0..iters {
                        let h = black_box(kobj_hot[hot_index(t, i, LOOKUP_HOT)]);
                        let v = pin.get(&ty, h, query);
                        black_box(*v.expect("live hot handle"));
                    }
                })
            })
        });
        group.bench_function(BenchmarkId::new("rwlock_hashmap", n), |b| {
            b.iter_custom(|iters| {
                measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let h = black_box(locked_hot[hot_index(t, i, LOOKUP_HOT)]);
                        let v = locked.with(h, TYPE_ID, QUERY, |o| o.payload);
                        black_box(v.expect("live hot handle"));
                    }
                })
            })
        });
        group.bench_function(BenchmarkId::new("sharded_slab", n), |b| {
            b.iter_custom(|iters| {
                measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let h = black_box(slab_hot[hot_index(t, i, LOOKUP_HOT)]);
                        let v = slab.with(h, TYPE_ID, QUERY, |o| o.payload);
                        black_box(v.expect("live hot handle"));
                    }
                })
            })
        });
        // Every thread reads the same `Vec` through a shared reference; nobody changes it.
        group.bench_function(BenchmarkId::new("vec_floor", n), |b| {
            b.iter_custom(|iters| {
                measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let h = black_box(vec_hot[hot_index(t, i, LOOKUP_HOT)]);
                        let v = vec.get(h, TYPE_ID, QUERY).map(|o| o.payload);
                        black_box(v.expect("live hot handle"));
                    }
                })
            })
        });
    }
    group.finish();
}

fn create_close(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_close");
    for n in THREADS {
        threads_throughput(&mut group, n);
        {
            let (kernel, process, ty) = kobj_setup();
            let background: Vec<Handle> = (0..BACKGROUND).map(|_| kobj_create(&process, &ty)).collect();
            group.bench_function(BenchmarkId::new("kobj", n), |b| {
                b.iter_custom(|iters| {
                    measure(n, iters, |_, iters| {
                        for _ in 0..iters {
                            let h = process.create_object(&ty, PAYLOAD, None, None).expect("create").handle;
                            process.close_handle(black_box(h)).expect("close");
                        }
                    })
                })
            });
            assert_eq!(process.handle_count(), background.len(), "create_close/kobj leaked handles");
            drop(process);
            assert_eq!(kernel.object_count(), 0, "create_close/kobj leaked objects");
        }
        {
            let (kernel, process, _ty) = kobj_setup();
            for _ in 0..BACKGROUND {
                let _ = process.create_event(None, true, false, None).expect("create an event");
            }
            group.bench_function(BenchmarkId::new("kobj_event", n), |b| {
                b.iter_custom(|iters| {
                    measure(n, iters, |_, iters| {
                        for _ in 0..iters {
                            let h = process.create_event(None, true, false, None).expect("create").handle;
                            process.close_handle(black_box(h)).expect("close");
                        }
                    })
                })
            });
            assert_eq!(process.handle_count(), BACKGROUND, "create_close/kobj_event leaked handles");
            drop(process);
            assert_eq!(kernel.object_count(), 0, "create_close/kobj_event leaked objects");
        }
        {
            let table = LockedTable::new();
            for _ in 0..BACKGROUND {
                table.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS);
            }
            group.bench_function(BenchmarkId::new("rwlock_hashmap", n), |b| {
                b.iter_custom(|iters| {
                    measure(n, iters, |_, iters| {
                        for _ in 0..iters {
                            let h = table.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS);
                            // The entry (and its `Arc`) is dropped outside the lock.
                            drop(table.remove(black_box(h)).expect("close"));
                        }
                    })
                })
            });
            assert_eq!(table.len(), BACKGROUND);
        }
        {
            let table = SlabTable::new();
            for _ in 0..BACKGROUND {
                table.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS).expect("slab insert");
            }
            group.bench_function(BenchmarkId::new("sharded_slab", n), |b| {
                b.iter_custom(|iters| {
                    measure(n, iters, |_, iters| {
                        for _ in 0..iters {
                            let h =
                                table.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS).expect("slab insert");
                            assert!(table.remove(black_box(h)), "close");
                        }
                    })
                })
            });
        }
    }
    group.finish();
}

/// Duplicate a handle within the process (same access) and close the copy. Each thread
/// duplicates its own source object, so the threads share the table, not an object's
/// reference count.
fn duplicate_close(c: &mut Criterion) {
    let query = Access::from_bits_retain(QUERY);
    let mut group = c.benchmark_group("duplicate_close");
    for n in THREADS {
        threads_throughput(&mut group, n);
        {
            let (kernel, process, ty) = kobj_setup();
            let _background: Vec<Handle> = (0..BACKGROUND).map(|_| kobj_create(&process, &ty)).collect();
            let sources: Vec<Handle> = (0..n).map(|_| kobj_create(&process, &ty)).collect();
            group.bench_function(BenchmarkId::new("kobj", n), |b| {
                b.iter_custom(|iters| {
                    measure(n, iters, |t, iters| {
                        for _ in 0..iters {
                            let copy = process
                                .duplicate_handle(
                                    Handle::CURRENT_PROCESS,
                                    sources[t],
                                    Some(Handle::CURRENT_PROCESS),
                                    Access::empty(),
                                    false,
                                    DuplicateOptions::SAME_ACCESS,
                                )
                                .expect("duplicate")
                                .expect("a target handle");
                            process.close_handle(black_box(copy)).expect("close");
                        }
                    })
                })
            });
            assert_eq!(process.handle_count(), BACKGROUND + n, "duplicate_close/kobj leaked handles");
            assert_eq!(process.with_object(&ty, sources[0], query, |p| *p), Ok(PAYLOAD));
            drop(process);
            assert_eq!(kernel.object_count(), 0, "duplicate_close/kobj leaked objects");
        }
        {
            let table = LockedTable::new();
            for _ in 0..BACKGROUND {
                table.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS);
            }
            let sources: Vec<u32> =
                (0..n).map(|_| table.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS)).collect();
            group.bench_function(BenchmarkId::new("rwlock_hashmap", n), |b| {
                b.iter_custom(|iters| {
                    measure(n, iters, |t, iters| {
                        for _ in 0..iters {
                            let copy = table.duplicate(sources[t], TYPE_ID, 0).expect("duplicate");
                            drop(table.remove(black_box(copy)).expect("close"));
                        }
                    })
                })
            });
            assert_eq!(table.len(), BACKGROUND + n);
        }
    }
    group.finish();
}

/// `SetEvent` on a hot set of 1 024 manual-reset events that are already set, every
/// thread in one process walking all of them from its own offset.
fn set_event(c: &mut Criterion) {
    let kernel = Kernel::new();
    let process = kernel.create_process(ProcessOptions::default()).expect("create a process");
    let events: Vec<Handle> = (0..HOT)
        .map(|_| process.create_event(None, true, true, None).expect("create an event").handle)
        .collect();
    let mut group = c.benchmark_group("set_event");
    for n in THREADS {
        threads_throughput(&mut group, n);
        group.bench_function(BenchmarkId::new("kobj", n), |b| {
            b.iter_custom(|iters| {
                measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let h = black_box(events[hot_index(t, i, HOT)]);
                        process.set_event(h).expect("set");
                    }
                })
            })
        });
    }
    group.finish();
    assert_eq!(process.event_state(events[0]), Ok(true));
}

/// What one thread of `mixed` does at step `i`: 18 of every 20 steps a lookup, one a
/// create, one a close of the oldest object the thread created (kept until it has a few,
/// so objects live a while). Steps walk over the processes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Lookup,
    Create,
    Close,
}

#[inline]
fn mixed_step(i: u64) -> Step {
    match i % 20 {
        0 => Step::Create,
        10 => Step::Close,
        _ => Step::Lookup,
    }
}

/// The process (or table) and the live object thread `t` uses at step `i` of `mixed`.
#[inline]
fn mixed_target(t: usize, i: u64) -> (usize, usize) {
    let p = (t + i as usize) % MIXED_PROCESSES;
    let k = (t * 37 + i as usize * 7) % MIXED_LIVE;
    (p, k)
}

/// Objects a `mixed` thread keeps before it starts closing its oldest.
const MIXED_KEEP: usize = 4;

fn mixed(c: &mut Criterion) {
    let query = Access::from_bits_retain(QUERY);
    let mut group = c.benchmark_group("mixed");
    for n in THREADS {
        threads_throughput(&mut group, n);
        {
            let kernel = Kernel::new();
            let ty = bench_type(&kernel);
            let processes: Vec<Process> = (0..MIXED_PROCESSES)
                .map(|_| kernel.create_process(ProcessOptions::default()).expect("create a process"))
                .collect();
            let live: Vec<Vec<Handle>> =
                processes.iter().map(|p| (0..MIXED_LIVE).map(|_| kobj_create(p, &ty)).collect()).collect();
            group.bench_function(BenchmarkId::new("kobj", n), |b| {
                b.iter_custom(|iters| {
                    let (time, leftovers) = run_on(n, iters, |t, iters| {
                        let mut mine: VecDeque<(usize, Handle)> = VecDeque::with_capacity(2 * MIXED_KEEP);
                        for i in 0..iters {
                            let (p, k) = mixed_target(t, i);
                            match mixed_step(i) {
                                Step::Lookup => {
                                    let v =
                                        processes[p].with_object(&ty, black_box(live[p][k]), query, |x| *x);
                                    black_box(v.expect("live handle"));
                                }
                                Step::Create => mine.push_back((p, kobj_create(&processes[p], &ty))),
                                Step::Close => {
                                    if mine.len() >= MIXED_KEEP {
                                        let (q, h) = mine.pop_front().expect("an own object");
                                        processes[q].close_handle(h).expect("close");
                                    }
                                }
                            }
                        }
                        mine
                    });
                    for (q, h) in leftovers.into_iter().flatten() {
                        processes[q].close_handle(h).expect("close");
                    }
                    time
                })
            });
            for p in &processes {
                assert_eq!(p.handle_count(), MIXED_LIVE, "mixed/kobj leaked handles");
            }
            drop(processes);
            assert_eq!(kernel.object_count(), 0, "mixed/kobj leaked objects");
        }
        {
            let tables: Vec<LockedTable> = (0..MIXED_PROCESSES).map(|_| LockedTable::new()).collect();
            let live: Vec<Vec<u32>> = tables
                .iter()
                .map(|tb| {
                    (0..MIXED_LIVE).map(|_| tb.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS)).collect()
                })
                .collect();
            group.bench_function(BenchmarkId::new("rwlock_hashmap", n), |b| {
                b.iter_custom(|iters| {
                    let (time, leftovers) = run_on(n, iters, |t, iters| {
                        let mut mine: VecDeque<(usize, u32)> = VecDeque::with_capacity(2 * MIXED_KEEP);
                        for i in 0..iters {
                            let (p, k) = mixed_target(t, i);
                            match mixed_step(i) {
                                Step::Lookup => {
                                    let v =
                                        tables[p].with(black_box(live[p][k]), TYPE_ID, QUERY, |o| o.payload);
                                    black_box(v.expect("live handle"));
                                }
                                Step::Create => mine
                                    .push_back((p, tables[p].insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS))),
                                Step::Close => {
                                    if mine.len() >= MIXED_KEEP {
                                        let (q, h) = mine.pop_front().expect("an own object");
                                        drop(tables[q].remove(h).expect("close"));
                                    }
                                }
                            }
                        }
                        mine
                    });
                    for (q, h) in leftovers.into_iter().flatten() {
                        drop(tables[q].remove(h).expect("close"));
                    }
                    time
                })
            });
            for tb in &tables {
                assert_eq!(tb.len(), MIXED_LIVE, "mixed/rwlock_hashmap leaked handles");
            }
        }
        {
            let tables: Vec<SlabTable> = (0..MIXED_PROCESSES).map(|_| SlabTable::new()).collect();
            let live: Vec<Vec<usize>> = tables
                .iter()
                .map(|tb| {
                    (0..MIXED_LIVE)
                        .map(|_| tb.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS).expect("slab insert"))
                        .collect()
                })
                .collect();
            group.bench_function(BenchmarkId::new("sharded_slab", n), |b| {
                b.iter_custom(|iters| {
                    let (time, leftovers) = run_on(n, iters, |t, iters| {
                        let mut mine: VecDeque<(usize, usize)> = VecDeque::with_capacity(2 * MIXED_KEEP);
                        for i in 0..iters {
                            let (p, k) = mixed_target(t, i);
                            match mixed_step(i) {
                                Step::Lookup => {
                                    let v =
                                        tables[p].with(black_box(live[p][k]), TYPE_ID, QUERY, |o| o.payload);
                                    black_box(v.expect("live handle"));
                                }
                                Step::Create => {
                                    let h = tables[p]
                                        .insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS)
                                        .expect("slab insert");
                                    mine.push_back((p, h));
                                }
                                Step::Close => {
                                    if mine.len() >= MIXED_KEEP {
                                        let (q, h) = mine.pop_front().expect("an own object");
                                        assert!(tables[q].remove(h), "close");
                                    }
                                }
                            }
                        }
                        mine
                    });
                    for (q, h) in leftovers.into_iter().flatten() {
                        assert!(tables[q].remove(h), "close");
                    }
                    time
                })
            });
        }
    }
    group.finish();
}

/// How many names `named_open` picks from (fewer in the smoke, to keep it quick).
fn name_count() -> usize {
    if smoke() {
        1_000
    } else {
        100_000
    }
}

/// The name thread `t` opens at step `i`: a stride through all of them (7 919 is prime
/// and shares no factor with 100 000 or 1 000), from a per-thread start.
#[inline]
fn name_index(t: usize, i: u64, count: usize) -> usize {
    (t * 12_345 + (i as usize).wrapping_mul(7_919)) % count
}

fn named_open(c: &mut Criterion) {
    let count = name_count();
    let names: Vec<String> = (0..count).map(|i| format!("kobj-bench-name-{i:06}")).collect();
    let open_access = Access::EVENT_MODIFY_STATE | Access::EVENT_QUERY_STATE;
    let mut group = c.benchmark_group("named_open");
    // Built on first use, so a filtered run that skips an implementation never builds it.
    let kobj_names: OnceCell<(Kernel, Process, Process)> = OnceCell::new();
    let lock_names: OnceCell<(NameTable, LockedTable)> = OnceCell::new();
    for n in THREADS {
        threads_throughput(&mut group, n);
        group.bench_function(BenchmarkId::new("kobj", n), |b| {
            let (_, _, opener) = kobj_names.get_or_init(|| {
                let kernel = Kernel::new();
                let holder = kernel.create_process(ProcessOptions::default()).expect("create a process");
                for name in &names {
                    let created =
                        holder.create_event(None, true, false, Some(name)).expect("create a named event");
                    assert!(!created.already_existed);
                }
                let opener = kernel.create_process(ProcessOptions::default()).expect("create a process");
                (kernel, holder, opener)
            });
            b.iter_custom(|iters| {
                measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let name = &names[name_index(t, i, count)];
                        let h = opener.open_event(open_access, false, black_box(name)).expect("open");
                        opener.close_handle(h).expect("close");
                    }
                })
            })
        });
        group.bench_function(BenchmarkId::new("mutex_hashmap", n), |b| {
            let (table, opener) = lock_names.get_or_init(|| {
                let table = NameTable::new();
                for name in &names {
                    assert!(table.create(name, Obj::new(PAYLOAD)));
                }
                (table, LockedTable::new())
            });
            b.iter_custom(|iters| {
                measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let name = &names[name_index(t, i, count)];
                        let object = table.open(black_box(name)).expect("open");
                        let h = opener.insert(object, TYPE_ID, open_access.bits());
                        drop(opener.remove(black_box(h)).expect("close"));
                    }
                })
            })
        });
    }
    group.finish();
    if let Some((kernel, holder, opener)) = kobj_names.into_inner() {
        assert_eq!(opener.handle_count(), 0, "named_open/kobj leaked handles");
        assert_eq!(holder.handle_count(), count);
        drop((holder, opener));
        assert_eq!(kernel.object_count(), 0, "named_open/kobj leaked objects");
    }
}

/// The machine's own scaling: [`probe_step`] on every thread, nothing shared.
fn probe(c: &mut Criterion) {
    let mut group = c.benchmark_group("probe");
    for n in THREADS {
        threads_throughput(&mut group, n);
        group.bench_function(BenchmarkId::new("independent", n), |b| {
            b.iter_custom(|iters| {
                measure(n, iters, |t, iters| {
                    let mut x = t as u64 + 1;
                    for _ in 0..iters {
                        x = probe_step(black_box(x));
                    }
                    black_box(x);
                })
            })
        });
    }
    group.finish();
}

/// A process whose table holds `size` handles: `min(HOT, size)` hot objects spread
/// evenly over it, every other handle a duplicate of one filler object (so the table is
/// full size without `size` objects). Returns the hot handles.
fn big_table(size: usize) -> (Kernel, Process, ObjectType<u64>, Vec<Handle>) {
    let (kernel, process, ty) = kobj_setup();
    let query = Access::from_bits_retain(QUERY);
    let hot_len = HOT.min(size);
    let stride = size / hot_len;
    let filler = kobj_create(&process, &ty);
    let mut hot = Vec::with_capacity(hot_len);
    // Slot 0 holds the filler; with a table no bigger than the hot set, it is hot too.
    if stride == 1 {
        hot.push(filler);
    }
    for index in 1..size {
        if index % stride == stride / 2 && hot.len() < hot_len {
            hot.push(kobj_create(&process, &ty));
        } else {
            let dup = process
                .duplicate_handle(
                    Handle::CURRENT_PROCESS,
                    filler,
                    Some(Handle::CURRENT_PROCESS),
                    Access::empty(),
                    false,
                    DuplicateOptions::SAME_ACCESS,
                )
                .expect("duplicate the filler");
            black_box(dup);
        }
    }
    assert_eq!(process.handle_count(), size);
    assert_eq!(hot.len(), hot_len);
    for &h in &hot {
        assert_eq!(process.with_object(&ty, h, query, |p| *p), Ok(PAYLOAD));
    }
    (kernel, process, ty, hot)
}

/// Does a lookup cost grow with the table? Pinned lookups (`Process::pin` +
/// `Pinned::get`, so the figure is the table walk and not the pin) of a hot set spread
/// over a table of 1 thousand, 1 million and 10 million handles; one thread.
fn table_size(c: &mut Criterion) {
    let sizes: &[usize] = if smoke() { &[1_000, 100_000] } else { &[1_000, 1_000_000, 10_000_000] };
    let query = Access::from_bits_retain(QUERY);
    let mut group = c.benchmark_group("table_size");
    group.throughput(Throughput::Elements(1));
    for &size in sizes {
        // Built on first use, so a filtered run that skips this size never builds it.
        let built: OnceCell<(Kernel, Process, ObjectType<u64>, Vec<Handle>)> = OnceCell::new();
        group.bench_function(BenchmarkId::new("kobj", size), |b| {
            let (_, process, ty, hot) = built.get_or_init(|| big_table(size));
            b.iter_custom(|iters| {
                measure(1, iters, |_, iters| {
                    let pin = process.pin();
                    // A wrapping cursor, not `i % hot.len()`: the hot set's length is
                    // not a power of two at every size, and a division per lookup would
                    // be a good part of what is measured.
                    let mut k = 0;
                    for _ in 0..iters {
                        let h = black_box(hot[k]);
                        k += 1;
                        if k == hot.len() {
                            k = 0;
                        }
                        let v = pin.get(ty, h, query);
                        black_box(*v.expect("live hot handle"));
                    }
                })
            })
        });
        // The table (and its millions of entries) goes before the next size is built.
        drop(built);
    }
    group.finish();
}

/// Create a child process inheriting `size` handles, terminate it and close the parent's
/// handle to it; one thread. An element is one inherited handle; the time per iteration
/// is the time per child.
fn inherit(c: &mut Criterion) {
    let sizes: &[usize] = if smoke() { &[1_000, 10_000] } else { &[1_000, 1_000_000] };
    let mut group = c.benchmark_group("inherit");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for &size in sizes {
        group.throughput(Throughput::Elements(size as u64));
        let built: OnceCell<(Kernel, Process)> = OnceCell::new();
        group.bench_function(BenchmarkId::new("kobj", size), |b| {
            let (_, parent) = built.get_or_init(|| {
                let (kernel, parent, ty) = kobj_setup();
                let sa = SecurityAttributes { inherit_handle: true, ..Default::default() };
                let first = parent.create_object(&ty, PAYLOAD, Some(&sa), None).expect("create").handle;
                for _ in 1..size {
                    let dup = parent
                        .duplicate_handle(
                            Handle::CURRENT_PROCESS,
                            first,
                            Some(Handle::CURRENT_PROCESS),
                            Access::empty(),
                            true,
                            DuplicateOptions::SAME_ACCESS,
                        )
                        .expect("duplicate");
                    black_box(dup);
                }
                let child = parent.create_process(true, ProcessOptions::default()).expect("create a child");
                assert_eq!(child.process.handle_count(), size, "the child inherits every handle");
                child.process.terminate(0).expect("terminate");
                parent.close_handle(child.handle).expect("close");
                (kernel, parent)
            });
            b.iter_custom(|iters| {
                measure(1, iters, |_, iters| {
                    for _ in 0..iters {
                        let child =
                            parent.create_process(true, ProcessOptions::default()).expect("create a child");
                        child.process.terminate(0).expect("terminate");
                        parent.close_handle(child.handle).expect("close");
                    }
                })
            })
        });
        if let Some((_, parent)) = built.get() {
            assert_eq!(parent.handle_count(), size, "inherit leaked handles in the parent");
        }
        drop(built);
    }
    group.finish();
}

/// The suite (a module so the macro's undocumented `pub fn` stays private).
mod suite {
    use super::{
        config, create_close, duplicate_close, inherit, lookup, mixed, named_open, probe, set_event,
        table_size,
    };
    criterion::criterion_group! {
        name = benches;
        config = config();
        targets = probe, lookup, create_close, duplicate_close, set_event, mixed, named_open, table_size, inherit
    }
}

/// The suite, with a note of the machine's load before and after a measuring run.
fn main() {
    let note = RunNote::begin("kobj-bench-run.txt");
    suite::benches();
    Criterion::default().configure_from_args().final_summary();
    note.end();
}
