//! `kobj stress`: a mixed workload on the real engine, from many host threads, with a
//! live progress bar, per-operation throughput and latency percentiles, and an
//! invariant check at the end (every handle closed, `object_count` back at its start).
//!
//! Each worker is a host thread calling as one guest thread of one of the processes
//! (worker `i` belongs to process `i % P`) and owns a private list of event handles.
//! One operation is drawn from the mix each time:
//!
//! | op | what it does |
//! |---|---|
//! | `lookup` | `event_state` on one of its handles (handle → object, type and access check) |
//! | `create` | `create_event` (unnamed) |
//! | `close` | `close_handle` on one of its handles |
//! | `dup` | `duplicate_handle` of one of its handles within its process (SAME_ACCESS) |
//! | `open` | `open_event` of one of the shared named events (every process opens them) |
//! | `wait` | `set_event` then `wait_for_single_object(_, 0)` on one of its handles |
//!
//! An op that needs a handle when the worker has none creates one instead; one that
//! would add a handle when the worker holds `--cap` of them closes one instead (so the
//! tables stay bounded). Both are counted under the op actually performed. Each op is
//! timed with `Instant::now()` around the call (tens of nanoseconds of overhead are
//! included in the percentiles).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kobj::{Access, DuplicateOptions, Handle, Kernel, Process, ProcessOptions, Thread, WaitStatus};
use serde_json::{json, Value as Json};

/// The operations of a mix, in report order.
pub const OPS: [&str; 6] = ["lookup", "create", "close", "dup", "open", "wait"];
const LOOKUP: usize = 0;
const CREATE: usize = 1;
const CLOSE: usize = 2;
const DUP: usize = 3;
const OPEN: usize = 4;
const WAIT: usize = 5;

/// How many shared named events the processes open.
const SHARED_NAMES: usize = 16;
/// Handles each worker starts with.
const INITIAL_HANDLES: usize = 16;

/// Relative weights of the six operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    /// Weights in [`OPS`] order.
    pub weights: [u32; 6],
}

impl Mix {
    /// The default: `lookup=80,create=5,close=5,dup=4,open=3,wait=3`.
    pub const DEFAULT: &'static str = "lookup=80,create=5,close=5,dup=4,open=3,wait=3";

    /// Parses `op=weight,...`. Weights are relative (they need not sum to 100); an op not
    /// named has weight 0. Unknown or repeated ops, bad weights and an all-zero mix are
    /// errors.
    pub fn parse(text: &str) -> Result<Mix, String> {
        let mut weights = [0u32; 6];
        let mut seen = [false; 6];
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("empty entry in mix `{text}` (write op=weight,op=weight)"));
            }
            let (op, w) = part.split_once('=').ok_or_else(|| format!("`{part}` is not op=weight"))?;
            let i = OPS.iter().position(|o| *o == op.trim()).ok_or_else(|| {
                format!("unknown operation `{}` in the mix (known: {})", op.trim(), OPS.join(", "))
            })?;
            if seen[i] {
                return Err(format!("operation `{}` appears twice in the mix", OPS[i]));
            }
            seen[i] = true;
            weights[i] = w
                .trim()
                .parse()
                .map_err(|_| format!("weight `{}` of `{}` is not a whole number", w.trim(), OPS[i]))?;
        }
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 {
            return Err("the mix has no operation with a weight above 0".to_owned());
        }
        if total > u64::from(u32::MAX) {
            return Err("the mix's weights add up to more than 4294967295".to_owned());
        }
        Ok(Mix { weights })
    }

    fn pick(&self, r: u64) -> usize {
        let total: u64 = self.weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = r % total;
        for (i, &w) in self.weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        LOOKUP
    }

    fn text(&self) -> String {
        OPS.iter().zip(self.weights).map(|(o, w)| format!("{o}={w}")).collect::<Vec<_>>().join(",")
    }
}

/// The settings of one stress run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Host threads (workers).
    pub threads: usize,
    /// How long to run.
    pub duration: Duration,
    /// Guest processes the workers are spread over.
    pub processes: usize,
    /// The operation mix.
    pub mix: Mix,
    /// The most handles one worker holds.
    pub cap: usize,
    /// Print JSON instead of text, and no progress bar.
    pub json: bool,
}

impl Settings {
    /// Checks the settings that cannot work together.
    pub fn validate(&self) -> Result<(), String> {
        if self.threads == 0 || self.threads > 1024 {
            return Err(format!("--threads must be 1..=1024, not {}", self.threads));
        }
        if self.processes == 0 {
            return Err("--processes must be at least 1".to_owned());
        }
        if self.processes > self.threads {
            return Err(format!(
                "--processes {} needs at least as many --threads (each process gets a worker), not {}",
                self.processes, self.threads
            ));
        }
        if self.duration.is_zero() {
            return Err("--seconds must be above 0".to_owned());
        }
        if self.cap < 1 {
            return Err("--cap must be at least 1".to_owned());
        }
        Ok(())
    }
}

/// A per-worker operation counter on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Counter(AtomicU64);

/// What one worker measured.
struct WorkerResult {
    counts: [u64; 6],
    hist: Vec<Histogram<u64>>,
    errors: u64,
    first_errors: Vec<String>,
    /// Handles it still held when stopped, closed in the final phase.
    left: Vec<Handle>,
}

/// A small xorshift generator: each worker's own, seeded by its index.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The outcome of a run.
pub struct Outcome {
    /// True if every invariant held and no operation failed.
    pub passed: bool,
}

/// Runs the workload and writes the report to `out`; `stop` ends it early (Ctrl-C).
pub fn run(settings: &Settings, stop: Arc<AtomicBool>, out: &mut dyn Write) -> std::io::Result<Outcome> {
    let kernel = Kernel::new();
    let objects_start = kernel.object_count();
    let mut setup_errors = Vec::new();

    // Processes, a holder of the shared names, and one guest thread per worker.
    let processes: Vec<Process> = (0..settings.processes)
        .filter_map(|_| {
            kernel.create_process(ProcessOptions::default()).map_err(|e| setup_errors.push(e)).ok()
        })
        .collect();
    if processes.len() != settings.processes {
        writeln!(out, "stress: could not create the processes: {setup_errors:?}")?;
        return Ok(Outcome { passed: false });
    }
    let baseline: Vec<usize> = processes.iter().map(Process::handle_count).collect();
    let names: Arc<Vec<String>> = Arc::new((0..SHARED_NAMES).map(|i| format!("kobj-stress-{i}")).collect());
    let mut shared = Vec::new();
    for name in names.iter() {
        match processes[0].create_event(None, false, false, Some(name)) {
            Ok(c) => shared.push(c.handle),
            Err(e) => setup_errors.push(e),
        }
    }
    let mut workers = Vec::new();
    for i in 0..settings.threads {
        let p = &processes[i % settings.processes];
        match p.create_thread(None) {
            Ok(t) => workers.push((p.clone(), t.thread, t.handle)),
            Err(e) => setup_errors.push(e),
        }
    }
    if !setup_errors.is_empty() {
        writeln!(out, "stress: setup failed: {setup_errors:?}")?;
        return Ok(Outcome { passed: false });
    }

    let counters: Arc<Vec<Counter>> = Arc::new((0..settings.threads).map(|_| Counter::default()).collect());
    let start = Instant::now();
    let handles: Vec<_> = workers
        .iter()
        .enumerate()
        .map(|(i, (p, t, _))| {
            let (p, t, names, counters, stop) =
                (p.clone(), t.clone(), Arc::clone(&names), Arc::clone(&counters), Arc::clone(&stop));
            let (mix, cap) = (settings.mix, settings.cap);
            std::thread::spawn(move || worker(i, &p, &t, &names, mix, cap, &stop, &counters[i].0))
        })
        .collect();

    let bar = progress_bar(settings);
    let mut interrupted = false;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let elapsed = start.elapsed();
        let total: u64 = counters.iter().map(|c| c.0.load(Ordering::Relaxed)).sum();
        bar.set_position(elapsed.min(settings.duration).as_millis() as u64);
        bar.set_message(format!(
            "{} ops, {} ops/s",
            group(total),
            group((total as f64 / elapsed.as_secs_f64().max(1e-9)) as u64)
        ));
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        if elapsed >= settings.duration || handles.iter().all(std::thread::JoinHandle::is_finished) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut results = Vec::new();
    let mut panicked = 0;
    for h in handles {
        match h.join() {
            Ok(r) => results.push(r),
            Err(_) => panicked += 1,
        }
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();

    // The invariant phase: everything the workers made is closed, then the processes go.
    let mut close_errors = 0u64;
    for (r, (p, _, _)) in results.iter().zip(&workers) {
        for &h in &r.left {
            if p.close_handle(h).is_err() {
                close_errors += 1;
            }
        }
    }
    for (p, t, h) in &workers {
        if t.exit(0).is_err() || p.close_handle(*h).is_err() {
            close_errors += 1;
        }
    }
    for h in shared {
        if processes[0].close_handle(h).is_err() {
            close_errors += 1;
        }
    }
    let handles_left: usize =
        processes.iter().zip(&baseline).map(|(p, &b)| p.handle_count().saturating_sub(b)).sum();
    drop(workers);
    for p in &processes {
        let _ = p.terminate(0);
    }
    drop(processes);
    let objects_end = kernel.object_count();

    let mut counts = [0u64; 6];
    let mut hist: Vec<Histogram<u64>> = (0..6).map(|_| new_histogram()).collect();
    let mut errors = close_errors;
    let mut first_errors = Vec::new();
    for r in &results {
        for i in 0..6 {
            counts[i] += r.counts[i];
            let _ = hist[i].add(&r.hist[i]);
        }
        errors += r.errors;
        first_errors.extend(r.first_errors.iter().take(5 - first_errors.len().min(5)).cloned());
    }
    let passed = handles_left == 0 && objects_end == objects_start && errors == 0 && panicked == 0;
    let secs = elapsed.as_secs_f64();
    let total: u64 = counts.iter().sum();

    if settings.json {
        let ops: serde_json::Map<String, Json> = OPS
            .iter()
            .enumerate()
            .filter(|&(i, _)| counts[i] > 0)
            .map(|(i, name)| {
                let h = &hist[i];
                (
                    (*name).to_owned(),
                    json!({
                        "count": counts[i],
                        "ops_per_sec": counts[i] as f64 / secs,
                        "p50_ns": h.value_at_quantile(0.5),
                        "p99_ns": h.value_at_quantile(0.99),
                        "p999_ns": h.value_at_quantile(0.999),
                        "max_ns": h.max(),
                    }),
                )
            })
            .collect();
        let report = json!({
            "threads": settings.threads,
            "processes": settings.processes,
            "seconds": settings.duration.as_secs_f64(),
            "elapsed": secs,
            "interrupted": interrupted,
            "mix": settings.mix.text(),
            "total_ops": total,
            "ops_per_sec": total as f64 / secs,
            "ops": ops,
            "invariant": {
                "passed": passed,
                "handles_left": handles_left,
                "objects_start": objects_start,
                "objects_end": objects_end,
                "errors": errors,
                "first_errors": first_errors,
                "panicked_workers": panicked,
            },
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&report).unwrap_or_default())?;
        return Ok(Outcome { passed });
    }

    writeln!(
        out,
        "kobj stress: {} thread(s), {} process(es), {:.2} s{}; mix {}",
        settings.threads,
        settings.processes,
        secs,
        if interrupted { " (interrupted)" } else { "" },
        settings.mix.text()
    )?;
    writeln!(
        out,
        "{:<8} {:>14} {:>14} {:>10} {:>10} {:>10} {:>10}",
        "op", "count", "ops/s", "p50", "p99", "p999", "max"
    )?;
    for (i, name) in OPS.iter().enumerate() {
        if counts[i] == 0 {
            continue;
        }
        let h = &hist[i];
        writeln!(
            out,
            "{:<8} {:>14} {:>14} {:>10} {:>10} {:>10} {:>10}",
            name,
            group(counts[i]),
            group((counts[i] as f64 / secs) as u64),
            ns(h.value_at_quantile(0.5)),
            ns(h.value_at_quantile(0.99)),
            ns(h.value_at_quantile(0.999)),
            ns(h.max())
        )?;
    }
    writeln!(out, "{:<8} {:>14} {:>14}", "total", group(total), group((total as f64 / secs) as u64))?;
    writeln!(
        out,
        "invariant: handles left {handles_left}, objects {objects_start} at start and {objects_end} at the end, \
         errors {errors}{}: {}",
        if panicked > 0 { format!(", {panicked} worker(s) panicked") } else { String::new() },
        if passed { "PASSED" } else { "FAILED" }
    )?;
    for e in &first_errors {
        writeln!(out, "  error: {e}")?;
    }
    Ok(Outcome { passed })
}

fn progress_bar(settings: &Settings) -> ProgressBar {
    let bar = ProgressBar::new(settings.duration.as_millis() as u64);
    if settings.json {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg}") {
        bar.set_style(style);
    }
    bar
}

fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, 60_000_000_000, 3) {
        Ok(h) => h,
        // The bounds are constants hdrhistogram accepts (low >= 1, high >= 2 * low, 3 figures).
        Err(e) => unreachable!("histogram bounds: {e}"),
    }
}

/// 1234567 as `1,234,567`.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Nanoseconds as `850ns`, `12.3µs`, `4.5ms`.
fn ns(v: u64) -> String {
    if v < 1_000 {
        format!("{v}ns")
    } else if v < 1_000_000 {
        format!("{:.1}µs", v as f64 / 1e3)
    } else {
        format!("{:.1}ms", v as f64 / 1e6)
    }
}

/// Counts an unexpected error, keeping the first few messages.
fn note(r: &mut WorkerResult, what: String) {
    r.errors += 1;
    if r.first_errors.len() < 5 {
        r.first_errors.push(what);
    }
}

#[allow(clippy::too_many_arguments)]
fn worker(
    index: usize,
    p: &Process,
    t: &Thread,
    names: &[String],
    mix: Mix,
    cap: usize,
    stop: &AtomicBool,
    counter: &AtomicU64,
) -> WorkerResult {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((index as u64 + 1) * 0x2545_F491_4F6C_DD1D));
    let mut r = WorkerResult {
        counts: [0; 6],
        hist: (0..6).map(|_| new_histogram()).collect(),
        errors: 0,
        first_errors: Vec::new(),
        left: Vec::new(),
    };
    let mut mine: Vec<Handle> = Vec::with_capacity(cap.min(1 << 16));
    for _ in 0..INITIAL_HANDLES.min(cap) {
        match p.create_event(None, false, false, None) {
            Ok(c) => mine.push(c.handle),
            Err(e) => note(&mut r, format!("initial create_event: {e}")),
        }
    }
    let mut done = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut op = mix.pick(rng.next());
        if mine.is_empty() && matches!(op, LOOKUP | CLOSE | DUP | WAIT) {
            op = CREATE;
        } else if mine.len() >= cap && matches!(op, CREATE | DUP | OPEN) {
            op = CLOSE;
        }
        let began = Instant::now();
        let result: Result<(), String> = match op {
            LOOKUP => {
                let h = mine[rng.below(mine.len())];
                p.event_state(h).map(drop).map_err(|e| format!("lookup {h}: {e}"))
            }
            CREATE => p
                .create_event(None, false, rng.next() & 1 == 0, None)
                .map(|c| mine.push(c.handle))
                .map_err(|e| format!("create_event: {e}")),
            CLOSE => {
                let h = mine.swap_remove(rng.below(mine.len()));
                p.close_handle(h).map_err(|e| format!("close {h}: {e}"))
            }
            DUP => {
                let h = mine[rng.below(mine.len())];
                match p.duplicate_handle(
                    Handle::CURRENT_PROCESS,
                    h,
                    Some(Handle::CURRENT_PROCESS),
                    Access::empty(),
                    false,
                    DuplicateOptions::SAME_ACCESS,
                ) {
                    Ok(Some(d)) => {
                        mine.push(d);
                        Ok(())
                    }
                    Ok(None) => Err(format!("duplicate {h}: no handle")),
                    Err(e) => Err(format!("duplicate {h}: {e}")),
                }
            }
            OPEN => {
                let name = &names[rng.below(names.len())];
                p.open_event(Access::EVENT_ALL_ACCESS, false, name)
                    .map(|h| mine.push(h))
                    .map_err(|e| format!("open_event {name}: {e}"))
            }
            _ => {
                let h = mine[rng.below(mine.len())];
                // Shared events may be taken by another worker between the two calls.
                match p.set_event(h).and_then(|()| t.wait_for_single_object(h, Some(Duration::ZERO))) {
                    Ok(WaitStatus::Object(0) | WaitStatus::Timeout) => Ok(()),
                    Ok(s) => Err(format!("wait {h}: {s:?}")),
                    Err(e) => Err(format!("set/wait {h}: {e}")),
                }
            }
        };
        let took = began.elapsed();
        r.counts[op] += 1;
        r.hist[op].saturating_record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1));
        if let Err(e) = result {
            note(&mut r, e);
        }
        done += 1;
        if done % 256 == 0 {
            counter.store(done, Ordering::Relaxed);
        }
    }
    counter.store(done, Ordering::Relaxed);
    r.left = mine;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_and_refuse() {
        let m = Mix::parse(Mix::DEFAULT).unwrap();
        assert_eq!(m.weights, [80, 5, 5, 4, 3, 3]);
        assert_eq!(Mix::parse("lookup=1").unwrap().weights, [1, 0, 0, 0, 0, 0]);
        assert!(Mix::parse("lookup=0,close=0").unwrap_err().contains("no operation"));
        assert!(Mix::parse("frob=3").unwrap_err().contains("unknown operation `frob`"));
        assert!(Mix::parse("lookup=3,lookup=4").unwrap_err().contains("twice"));
        assert!(Mix::parse("lookup=x").unwrap_err().contains("not a whole number"));
        assert!(Mix::parse("lookup").unwrap_err().contains("op=weight"));
        assert!(Mix::parse("lookup=1,").unwrap_err().contains("empty entry"));
    }

    #[test]
    fn picks_follow_the_weights() {
        let m = Mix::parse("create=1,wait=3").unwrap();
        let picks: Vec<usize> = (0..4).map(|r| m.pick(r)).collect();
        assert_eq!(picks, vec![CREATE, WAIT, WAIT, WAIT]);
    }

    #[test]
    fn a_short_run_keeps_its_invariants() {
        let settings = Settings {
            threads: 2,
            duration: Duration::from_millis(300),
            processes: 2,
            mix: Mix::parse("lookup=40,create=15,close=15,dup=10,open=10,wait=10").unwrap(),
            cap: 64,
            json: true,
        };
        let mut out = Vec::new();
        let outcome = run(&settings, Arc::new(AtomicBool::new(false)), &mut out).unwrap();
        let report: Json = serde_json::from_slice(&out).unwrap();
        assert!(outcome.passed, "{report}");
        assert_eq!(report["invariant"]["handles_left"], 0);
        assert!(report["total_ops"].as_u64().unwrap() > 0);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(group(12), "12");
        assert_eq!(ns(850), "850ns");
        assert_eq!(ns(12_300), "12.3µs");
    }
}
