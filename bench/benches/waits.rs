//! kobj's waits (SPEC §7) against the host's own locks, in the same run.
//!
//! Every benchmark id is `<group>/<impl>/<param>`; `<param>` is the number of host
//! threads. Every figure comes from [`kobj_bench::measure`], as in `table.rs`: persistent
//! worker threads released by a start barrier, each reading its own clock, held at an
//! end barrier until all have stopped theirs; the span from the first start to the last
//! end. Throughput is in elements: operations of all threads together for the mutex
//! groups and `wait_any_64`, round trips for `event_pingpong`, wake-ups (two per round
//! trip) for `async_wake`.
//!
//! | group | what one operation is |
//! |---|---|
//! | `mutex_uncontended` | wait + release of a mutex nobody else uses (1 thread) |
//! | `mutex_contended` | wait + release of one mutex all N threads share (2 and 4 threads) |
//! | `event_pingpong` | one round trip between 2 threads over two auto-reset events |
//! | `wait_any_64` | a wait-any over 64 manual-reset events of which only the last is set |
//! | `async_wake` | one wake-up: a set on one thread to the awaiting task running on the other (2 threads) |
//!
//! kobj's side: one process per benchmark; `mutex_uncontended` and `wait_any_64` wait as
//! the process's main thread, the multi-threaded groups give each worker a guest thread
//! of its own (`create_thread`), all of one process, all waiting through the same
//! handles. The baselines are `std::sync::Mutex`, `parking_lot::Mutex`,
//! [`CondvarEvent`] (`Mutex<bool>` + `Condvar`) and, for `async_wake`, tokio's `Notify`.
//! In `async_wake` each worker thread drives its own current-thread tokio runtime
//! (`block_on`), so every wake-up crosses from the setting thread to the other's runtime.
//!
//! Every worker does a fixed number of operations, so a run ends whatever the
//! interleaving: in `mutex_contended` nobody waits for anything but the mutex, and in
//! `event_pingpong` each set is taken by exactly one wait of the other side. Under
//! `cargo bench -p kobj-bench -- --test` (each benchmark once) kobj's blocking waits also
//! carry a one-minute timeout, so a lost wake-up fails the smoke instead of hanging it;
//! a measuring run waits with `None` (INFINITE), the path being measured.

use std::hint::black_box;
use std::sync::PoisonError;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use kobj::{Handle, Kernel, Process, ProcessOptions, Thread, WaitFuture, WaitStatus};
use kobj_bench::{measure, CondvarEvent, RunNote};

/// The thread counts of `mutex_contended`.
const CONTENDED_THREADS: [usize; 2] = [2, 4];
/// The handles of `wait_any_64`: the most one wait takes.
const WAIT_ANY: usize = 64;

/// True under `cargo bench -- --test` (criterion's test mode: each benchmark once).
fn smoke() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// The timeout of kobj's waits that can block: INFINITE when measuring; a minute in the
/// smoke, so a lost wake-up panics (and the run ends) instead of hanging CI.
fn blocking_timeout() -> Option<Duration> {
    smoke().then_some(Duration::from_secs(60))
}

/// Criterion's defaults for the suite, the same as `table.rs`'s; command-line flags
/// (`--measurement-time`, `--warm-up-time`, `--sample-size`) override them.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .without_plots()
}

/// Panics unless a wait returned `Object(index)`: the check every timed wait makes (a
/// compare and a branch; a timeout or an abandonment would make the figure meaningless).
#[inline]
fn acquired(status: kobj::Result<WaitStatus>, index: usize) {
    match status {
        Ok(WaitStatus::Object(i)) if i == index => {}
        other => panic!("expected Object({index}), got {other:?}"),
    }
}

/// A kernel and one process with `threads` guest threads besides its main thread.
struct Guests {
    kernel: Kernel,
    process: Process,
    threads: Vec<Thread>,
}

impl Guests {
    fn new(threads: usize) -> Guests {
        let kernel = Kernel::new();
        let process = kernel.create_process(ProcessOptions::default()).expect("create a process");
        let threads = (0..threads)
            .map(|_| process.create_thread(None).expect("create a guest thread").thread)
            .collect();
        Guests { kernel, process, threads }
    }

    /// A mutex nobody owns.
    fn mutex(&self) -> Handle {
        self.process.create_mutex(None, false, None).expect("create a mutex").handle
    }

    /// Checks that `mutex` is free again (every wait was matched by a release), then
    /// terminates the process and checks that no object outlives it.
    fn finish_with_mutex(self, mutex: Handle, what: &str) {
        let info = self.process.query_mutex(mutex).expect("query the mutex");
        assert_eq!((info.owner, info.recursion, info.abandoned), (None, 0, false), "{what}: {info:?}");
        self.finish(what);
    }

    /// Terminates the process and checks that no object outlives it.
    fn finish(self, what: &str) {
        let Guests { kernel, process, threads } = self;
        process.terminate(0).expect("terminate");
        drop((threads, process));
        assert_eq!(kernel.object_count(), 0, "{what} leaked objects");
    }
}

/// Wait + release on a mutex nobody else uses, one thread.
fn mutex_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("mutex_uncontended");
    group.throughput(Throughput::Elements(1));
    {
        let guests = Guests::new(0);
        let mutex = guests.mutex();
        let main = guests.process.main_thread();
        group.bench_function(BenchmarkId::new("kobj", 1), |b| {
            b.iter_custom(|iters| {
                measure(1, iters, |_, iters| {
                    for _ in 0..iters {
                        let h = black_box(mutex);
                        acquired(main.wait_for_single_object(h, None), 0);
                        main.release_mutex(h).expect("release");
                    }
                })
            })
        });
        drop(main);
        guests.finish_with_mutex(mutex, "mutex_uncontended/kobj");
    }
    {
        let mutex = std::sync::Mutex::new(0u64);
        group.bench_function(BenchmarkId::new("std_mutex", 1), |b| {
            b.iter_custom(|iters| {
                measure(1, iters, |_, iters| {
                    for _ in 0..iters {
                        let guard = black_box(&mutex).lock().unwrap_or_else(PoisonError::into_inner);
                        black_box(&*guard);
                    }
                })
            })
        });
    }
    {
        let mutex = parking_lot::Mutex::new(0u64);
        group.bench_function(BenchmarkId::new("parking_lot", 1), |b| {
            b.iter_custom(|iters| {
                measure(1, iters, |_, iters| {
                    for _ in 0..iters {
                        let guard = black_box(&mutex).lock();
                        black_box(&*guard);
                    }
                })
            })
        });
    }
    group.finish();
}

/// Wait + release of one mutex all N threads share, each thread in a loop.
fn mutex_contended(c: &mut Criterion) {
    let timeout = blocking_timeout();
    let mut group = c.benchmark_group("mutex_contended");
    for n in CONTENDED_THREADS {
        group.throughput(Throughput::Elements(n as u64));
        {
            let guests = Guests::new(n);
            let mutex = guests.mutex();
            let threads = &guests.threads;
            group.bench_function(BenchmarkId::new("kobj", n), |b| {
                b.iter_custom(|iters| {
                    measure(n, iters, |t, iters| {
                        let me = &threads[t];
                        for _ in 0..iters {
                            let h = black_box(mutex);
                            acquired(me.wait_for_single_object(h, timeout), 0);
                            me.release_mutex(h).expect("release");
                        }
                    })
                })
            });
            guests.finish_with_mutex(mutex, "mutex_contended/kobj");
        }
        {
            let mutex = std::sync::Mutex::new(0u64);
            group.bench_function(BenchmarkId::new("std_mutex", n), |b| {
                b.iter_custom(|iters| {
                    measure(n, iters, |_, iters| {
                        for _ in 0..iters {
                            let guard = black_box(&mutex).lock().unwrap_or_else(PoisonError::into_inner);
                            black_box(&*guard);
                        }
                    })
                })
            });
        }
        {
            let mutex = parking_lot::Mutex::new(0u64);
            group.bench_function(BenchmarkId::new("parking_lot", n), |b| {
                b.iter_custom(|iters| {
                    measure(n, iters, |_, iters| {
                        for _ in 0..iters {
                            let guard = black_box(&mutex).lock();
                            black_box(&*guard);
                        }
                    })
                })
            });
        }
    }
    group.finish();
}

/// One round trip between two threads: A sets `ping` and waits on `pong`, B waits on
/// `ping` and sets `pong` (auto-reset events, so each set is taken by one wait).
fn event_pingpong(c: &mut Criterion) {
    let timeout = blocking_timeout();
    let mut group = c.benchmark_group("event_pingpong");
    group.throughput(Throughput::Elements(1));
    {
        let guests = Guests::new(2);
        let ping = guests.process.create_event(None, false, false, None).expect("create an event").handle;
        let pong = guests.process.create_event(None, false, false, None).expect("create an event").handle;
        let (process, threads) = (&guests.process, &guests.threads);
        group.bench_function(BenchmarkId::new("kobj", 2), |b| {
            b.iter_custom(|iters| {
                measure(2, iters, |t, iters| {
                    let me = &threads[t];
                    if t == 0 {
                        for _ in 0..iters {
                            process.set_event(black_box(ping)).expect("set");
                            acquired(me.wait_for_single_object(black_box(pong), timeout), 0);
                        }
                    } else {
                        for _ in 0..iters {
                            acquired(me.wait_for_single_object(black_box(ping), timeout), 0);
                            process.set_event(black_box(pong)).expect("set");
                        }
                    }
                })
            })
        });
        for e in [ping, pong] {
            assert_eq!(guests.process.event_state(e), Ok(false), "event_pingpong/kobj: every set was taken");
        }
        guests.finish("event_pingpong/kobj");
    }
    {
        let (ping, pong) = (CondvarEvent::new(), CondvarEvent::new());
        group.bench_function(BenchmarkId::new("std_condvar", 2), |b| {
            b.iter_custom(|iters| {
                measure(2, iters, |t, iters| {
                    if t == 0 {
                        for _ in 0..iters {
                            ping.set();
                            pong.wait();
                        }
                    } else {
                        for _ in 0..iters {
                            ping.wait();
                            pong.set();
                        }
                    }
                })
            })
        });
        assert!(!ping.is_set() && !pong.is_set(), "event_pingpong/std_condvar: every set was taken");
    }
    group.finish();
}

/// A wait-any over 64 manual-reset events of which only the last is set: the scan of the
/// whole array, and the acquisition (which changes nothing), with no blocking.
fn wait_any_64(c: &mut Criterion) {
    let mut group = c.benchmark_group("wait_any_64");
    group.throughput(Throughput::Elements(1));
    let guests = Guests::new(0);
    let events: Vec<Handle> = (0..WAIT_ANY)
        .map(|i| {
            let set = i == WAIT_ANY - 1;
            guests.process.create_event(None, true, set, None).expect("create an event").handle
        })
        .collect();
    let main = guests.process.main_thread();
    acquired(main.wait_for_multiple_objects(&events, false, Some(Duration::ZERO)), WAIT_ANY - 1);
    group.bench_function(BenchmarkId::new("kobj", 1), |b| {
        b.iter_custom(|iters| {
            measure(1, iters, |_, iters| {
                for _ in 0..iters {
                    let status = main.wait_for_multiple_objects(black_box(&events), false, None);
                    acquired(status, WAIT_ANY - 1);
                }
            })
        })
    });
    group.finish();
    drop(main);
    guests.finish("wait_any_64/kobj");
}

thread_local! {
    /// Each worker thread's own current-thread runtime, built on the thread's first
    /// `async_wake` run and kept with the (persistent) worker.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
}

/// Awaits `wait`; in the smoke, under a one-minute timeout, so a lost wake-up panics
/// instead of hanging CI (as [`blocking_timeout`] does for the blocking waits).
async fn awaited<F: std::future::Future>(wait: F, smoke: bool) -> F::Output {
    if smoke {
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .expect("a lost wake-up: nothing in a minute")
    } else {
        wait.await
    }
}

/// The latency of one wake-up: `set_event` on one thread to the task awaiting the event
/// (`wait_async`) running on the other. A ping-pong of two auto-reset events between two
/// threads, each awaiting on its own current-thread tokio runtime; an element is one
/// wake-up (two per round trip). Baseline: the same with two `tokio::sync::Notify`
/// (`notify_one` keeps a permit when nobody waits, as an auto-reset event stays set).
fn async_wake(c: &mut Criterion) {
    let smoke = smoke();
    let mut group = c.benchmark_group("async_wake");
    group.throughput(Throughput::Elements(2));
    {
        let guests = Guests::new(2);
        let ping = guests.process.create_event(None, false, false, None).expect("create an event").handle;
        let pong = guests.process.create_event(None, false, false, None).expect("create an event").handle;
        let (process, threads) = (&guests.process, &guests.threads);
        let wait = |me: &Thread, h: Handle| -> WaitFuture { me.wait_async(&[black_box(h)], false) };
        group.bench_function(BenchmarkId::new("kobj", 2), |b| {
            b.iter_custom(|iters| {
                measure(2, iters, |t, iters| {
                    let me = &threads[t];
                    RUNTIME.with(|rt| {
                        rt.block_on(async {
                            if t == 0 {
                                for _ in 0..iters {
                                    process.set_event(black_box(ping)).expect("set");
                                    acquired(awaited(wait(me, pong), smoke).await, 0);
                                }
                            } else {
                                for _ in 0..iters {
                                    acquired(awaited(wait(me, ping), smoke).await, 0);
                                    process.set_event(black_box(pong)).expect("set");
                                }
                            }
                        })
                    })
                })
            })
        });
        for e in [ping, pong] {
            assert_eq!(guests.process.event_state(e), Ok(false), "async_wake/kobj: every set was taken");
        }
        guests.finish("async_wake/kobj");
    }
    {
        let (ping, pong) = (tokio::sync::Notify::new(), tokio::sync::Notify::new());
        group.bench_function(BenchmarkId::new("tokio_notify", 2), |b| {
            b.iter_custom(|iters| {
                measure(2, iters, |t, iters| {
                    RUNTIME.with(|rt| {
                        rt.block_on(async {
                            if t == 0 {
                                for _ in 0..iters {
                                    black_box(&ping).notify_one();
                                    awaited(pong.notified(), smoke).await;
                                }
                            } else {
                                for _ in 0..iters {
                                    awaited(ping.notified(), smoke).await;
                                    black_box(&pong).notify_one();
                                }
                            }
                        })
                    })
                })
            })
        });
    }
    group.finish();
}

/// The suite (a module so the macro's undocumented `pub fn` stays private).
mod suite {
    use super::{async_wake, config, event_pingpong, mutex_contended, mutex_uncontended, wait_any_64};
    criterion::criterion_group! {
        name = benches;
        config = config();
        targets = mutex_uncontended, mutex_contended, event_pingpong, wait_any_64, async_wake
    }
}

/// The suite, with a note of the machine's load before and after a measuring run (the
/// report shows it beside `table.rs`'s).
fn main() {
    let note = RunNote::begin("kobj-bench-run-waits.txt");
    suite::benches();
    Criterion::default().configure_from_args().final_summary();
    note.end();
}
