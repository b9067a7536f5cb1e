//! kobj's handle table against the baselines of `kobj_bench`, in the same run (SPEC §4).
//!
//! Groups:
//!
//! - `lookup`: handle -> object with a type and access check, over a hot set of 64
//!   handles, at 1, 2 and 4 threads (all threads read the same table). kobj through
//!   `Process::with_object` (one epoch pin per call) and through `Process::pin` +
//!   `Pinned::get` (one pin per thread per sample), the `RwLock<HashMap>` table, the
//!   sharded-slab table, and the `Vec` floor (shared read-only by every thread).
//! - `lookup_table_size`: kobj pinned lookups of a hot set of 64 handles spread over a
//!   table of 1 thousand, 1 million and 10 million handles (the extra handles are
//!   duplicates of one filler object, so the table is full size without 10 million
//!   objects). Under `--test` the sizes are 1 thousand and 100 thousand, to keep the
//!   smoke fast.
//! - `create_close`: create an object, insert its handle, close it, at 1 and 2 threads
//!   sharing one table: kobj (`create_object` + `close_handle`), the `RwLock<HashMap>`
//!   table (`Arc::new` + insert + remove), sharded-slab, and the `Vec` floor (1 thread).
//!
//! Every figure is criterion's time per iteration from [`spawn_and_measure`]: the wall
//! time from the first thread's start to the last thread's end, divided by the
//! operations each thread did, i.e. the time of one operation while N threads each do
//! the same. With 4 threads on a 2-core machine it is expected to double.
//!
//! Run `cargo bench -p kobj-bench` (a few minutes) or `cargo bench -p kobj-bench --
//! --test` (each benchmark once, a smoke).

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use kobj::{Access, DuplicateOptions, GenericMapping, Handle, Kernel, ObjectType, Process, ProcessOptions};
use kobj_bench::{spawn_and_measure, LockedTable, Obj, SlabTable, VecTable};

/// The hot set: how many distinct handles a lookup loop cycles through.
const HOT: usize = 64;
/// The baselines' type id for the benchmark type.
const TYPE_ID: u32 = 1;
/// The access a creator's handle holds (the benchmark type's ALL_ACCESS).
const ALL_ACCESS: u32 = 0x1F_0003;
/// The access every lookup asks for (the type's "query state").
const QUERY: u32 = 0x1;
/// The payload every object carries.
const PAYLOAD: u64 = 7;

fn smoke() -> bool {
    std::env::args().any(|a| a == "--test")
}

fn configure<M: criterion::measurement::Measurement>(group: &mut BenchmarkGroup<'_, M>) {
    group.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500)).sample_size(20);
}

/// A kernel, one process and the benchmark type (`u64` payload, event-like rights).
fn kobj_setup() -> (Kernel, Process, ObjectType<u64>) {
    let kernel = Kernel::new();
    let ty = kernel
        .register_type::<u64>(
            "Bench",
            GenericMapping::new(0x20001, 0x20002, 0x20000, ALL_ACCESS),
            Access::from_bits_retain(ALL_ACCESS),
        )
        .expect("register the benchmark type");
    let process = kernel.create_process(ProcessOptions::default()).expect("create a process");
    (kernel, process, ty)
}

fn kobj_create(process: &Process, ty: &ObjectType<u64>) -> Handle {
    process.create_object(ty, PAYLOAD, None, None).expect("create an object").handle
}

/// The hot index thread `t` looks up at step `i`: each thread starts elsewhere in the
/// hot set and walks all of it.
#[inline]
fn hot_index(t: usize, i: u64) -> usize {
    (t * 17 + i as usize) % HOT
}

fn lookup(c: &mut Criterion) {
    let (_kernel, process, ty) = kobj_setup();
    let query = Access::from_bits_retain(QUERY);
    let kobj_hot: Vec<Handle> = (0..HOT).map(|_| kobj_create(&process, &ty)).collect();

    let locked = LockedTable::new();
    let locked_hot: Vec<u32> =
        (0..HOT).map(|_| locked.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS)).collect();

    let slab = SlabTable::new();
    let slab_hot: Vec<usize> =
        (0..HOT).map(|_| slab.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS).expect("slab insert")).collect();

    let mut vec = VecTable::new();
    let vec_hot: Vec<u32> = (0..HOT).map(|_| vec.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS)).collect();
    let vec = vec;

    // Every implementation finds every hot handle before anything is timed.
    for k in 0..HOT {
        assert_eq!(process.with_object(&ty, kobj_hot[k], query, |p| *p), Ok(PAYLOAD));
        assert_eq!(locked.with(locked_hot[k], TYPE_ID, QUERY, |o| o.payload), Ok(PAYLOAD));
        assert_eq!(slab.with(slab_hot[k], TYPE_ID, QUERY, |o| o.payload), Ok(PAYLOAD));
        assert_eq!(vec.get(vec_hot[k], TYPE_ID, QUERY).map(|o| o.payload), Ok(PAYLOAD));
    }

    let mut group = c.benchmark_group("lookup");
    configure(&mut group);
    for threads in [1usize, 2, 4] {
        group.bench_with_input(BenchmarkId::new("kobj_with_object", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                spawn_and_measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let h = black_box(kobj_hot[hot_index(t, i)]);
                        let v = process.with_object(&ty, h, query, |p| *p);
                        black_box(v.expect("live hot handle"));
                    }
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("kobj_pinned", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                spawn_and_measure(n, iters, |t, iters| {
                    let pin = process.pin();
                    for i in 0..iters {
                        let h = black_box(kobj_hot[hot_index(t, i)]);
                        let v = pin.get(&ty, h, query);
                        black_box(*v.expect("live hot handle"));
                    }
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("rwlock_hashmap", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                spawn_and_measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let h = black_box(locked_hot[hot_index(t, i)]);
                        let v = locked.with(h, TYPE_ID, QUERY, |o| o.payload);
                        black_box(v.expect("live hot handle"));
                    }
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("sharded_slab", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                spawn_and_measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let h = black_box(slab_hot[hot_index(t, i)]);
                        let v = slab.with(h, TYPE_ID, QUERY, |o| o.payload);
                        black_box(v.expect("live hot handle"));
                    }
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("vec_floor", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                spawn_and_measure(n, iters, |t, iters| {
                    for i in 0..iters {
                        let h = black_box(vec_hot[hot_index(t, i)]);
                        let v = vec.get(h, TYPE_ID, QUERY).map(|o| o.payload);
                        black_box(v.expect("live hot handle"));
                    }
                })
            })
        });
    }
    group.finish();
}

/// A process whose table holds `size` handles: 64 hot objects spread evenly over it,
/// every other handle a duplicate of one filler object. Returns the hot handles.
fn big_table(size: usize) -> (Kernel, Process, ObjectType<u64>, Vec<Handle>) {
    let (kernel, process, ty) = kobj_setup();
    let query = Access::from_bits_retain(QUERY);
    let stride = size / HOT;
    let filler = kobj_create(&process, &ty);
    let mut hot = Vec::with_capacity(HOT);
    for index in 1..size {
        if index % stride == stride / 2 && hot.len() < HOT {
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
    assert_eq!(hot.len(), HOT);
    for &h in &hot {
        assert_eq!(process.with_object(&ty, h, query, |p| *p), Ok(PAYLOAD));
    }
    (kernel, process, ty, hot)
}

fn lookup_table_size(c: &mut Criterion) {
    let sizes: &[usize] = if smoke() { &[1_000, 100_000] } else { &[1_000, 1_000_000, 10_000_000] };
    let query = Access::from_bits_retain(QUERY);
    let mut group = c.benchmark_group("lookup_table_size");
    configure(&mut group);
    for &size in sizes {
        // Built on first use, so a filtered run that skips this size never builds it.
        let built: OnceCell<(Kernel, Process, ObjectType<u64>, Vec<Handle>)> = OnceCell::new();
        group.bench_with_input(BenchmarkId::new("kobj_pinned", size), &size, |b, &size| {
            let (_, process, ty, hot) = built.get_or_init(|| big_table(size));
            b.iter_custom(|iters| {
                spawn_and_measure(1, iters, |t, iters| {
                    let pin = process.pin();
                    for i in 0..iters {
                        let h = black_box(hot[hot_index(t, i)]);
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

fn create_close(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_close");
    configure(&mut group);
    for threads in [1usize, 2] {
        group.bench_with_input(BenchmarkId::new("kobj", threads), &threads, |b, &n| {
            let (kernel, process, ty) = kobj_setup();
            b.iter_custom(|iters| {
                spawn_and_measure(n, iters, |_, iters| {
                    for _ in 0..iters {
                        let h = kobj_create(&process, &ty);
                        black_box(h);
                        process.close_handle(h).expect("close");
                    }
                })
            });
            assert_eq!(process.handle_count(), 0);
            drop(process);
            assert_eq!(kernel.object_count(), 0, "create_close leaked objects");
        });
        group.bench_with_input(BenchmarkId::new("rwlock_hashmap", threads), &threads, |b, &n| {
            let table = LockedTable::new();
            b.iter_custom(|iters| {
                spawn_and_measure(n, iters, |_, iters| {
                    for _ in 0..iters {
                        let h = table.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS);
                        black_box(h);
                        drop(table.remove(h).expect("close"));
                    }
                })
            });
            assert!(table.is_empty());
        });
        group.bench_with_input(BenchmarkId::new("sharded_slab", threads), &threads, |b, &n| {
            let table = SlabTable::new();
            b.iter_custom(|iters| {
                spawn_and_measure(n, iters, |_, iters| {
                    for _ in 0..iters {
                        let h = table.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS).expect("slab insert");
                        black_box(h);
                        assert!(table.remove(h), "close");
                    }
                })
            });
        });
    }
    // The floor cannot be shared while it changes: one thread, its own table.
    group.bench_with_input(BenchmarkId::new("vec_floor", 1), &1usize, |b, _| {
        b.iter_custom(|iters| {
            spawn_and_measure(1, iters, |_, iters| {
                let mut table = VecTable::new();
                for _ in 0..iters {
                    let h = table.insert(Obj::new(PAYLOAD), TYPE_ID, ALL_ACCESS);
                    black_box(h);
                    drop(table.remove(h).expect("close"));
                }
            })
        });
    });
    group.finish();
}

/// The suite (a module so the macro's undocumented `pub fn` stays private).
mod suite {
    use super::{create_close, lookup, lookup_table_size};
    criterion::criterion_group!(benches, lookup, lookup_table_size, create_close);
}

criterion_main!(suite::benches);
