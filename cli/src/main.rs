//! `kobj`: the command line of the kobj engine.
//!
//! - `kobj demo` (the default): walks through the seed scenarios — inheritance,
//!   duplication and named objects — printing each process's handle table as it goes,
//!   then through a mutex's ownership: taken by one process's thread, abandoned when it
//!   exits, acquired (`Abandoned`) by another process's thread.
//! - `kobj run FILE...`: runs scenario files (the language: `docs/scenarios.md`).
//! - `kobj stress`: a mixed workload with live progress, latency percentiles and an
//!   invariant check.
//! - `kobj handles [FILE...]`: the handle tables of a machine, like Sysinternals'
//!   `handle`: the demo machine (`scenarios/seed-machine.kobj`), or the state each
//!   scenario file leaves at its end.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod demo;
mod names;
mod scenario;
mod stress;
mod table;

/// The scenario `kobj handles` runs when given no file: the seeds' three ways of
/// sharing, left in place.
const MACHINE: &str = include_str!("../../scenarios/seed-machine.kobj");

/// The kobj command line.
#[derive(Parser, Debug)]
#[command(name = "kobj", version, about = "A lock-free engine for the Windows kernel-object model")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Walk through the seed scenarios, printing handle tables (the default).
    Demo,
    /// Run scenario files (see docs/scenarios.md); a failed `expect` exits non-zero.
    Run {
        /// Scenario files (`.kobj`).
        #[arg(required = true)]
        files: Vec<String>,
        /// Print one JSON document instead of the step-by-step trace.
        #[arg(long)]
        json: bool,
        /// Seconds one step may take beyond its own timeouts before the run is stopped.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
        step_timeout: u64,
    },
    /// Put the engine under a mixed load from many threads and report throughput and latency.
    Stress {
        /// Host threads (workers).
        #[arg(long, default_value_t = 4)]
        threads: usize,
        /// How long to run, in seconds (fractions allowed).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Guest processes the workers are spread over (at most --threads).
        #[arg(long, default_value_t = 1)]
        processes: usize,
        /// Operation weights: lookup, create, close, dup, open, wait.
        #[arg(long, default_value = stress::Mix::DEFAULT)]
        mix: String,
        /// The most handles one worker holds at once.
        #[arg(long, default_value_t = 10_000)]
        cap: usize,
        /// Print the report as JSON (and no progress bar).
        #[arg(long)]
        json: bool,
    },
    /// List handle tables: of the demo machine, or as each scenario FILE leaves them.
    Handles {
        /// Scenario files to run first; none: the seeds' machine.
        files: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Demo) {
        Command::Demo => match demo::run(&mut std::io::stdout().lock()) {
            // `kobj demo | head`: the reader has gone; nothing more to say.
            Err(e) if is_broken_pipe(e.as_ref()) => Ok(true),
            other => other.map(|()| true),
        },
        Command::Run { files, json, step_timeout } => run(&files, json, step_timeout),
        Command::Stress { threads, seconds, processes, mix, cap, json } => {
            stress(threads, seconds, processes, &mix, cap, json)
        }
        Command::Handles { files, json } => handles(&files, json),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("kobj: {e}");
            ExitCode::FAILURE
        }
    }
}

/// True for the error a write gets once stdout's reader has gone.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

type CliResult = Result<bool, Box<dyn std::error::Error>>;

/// Reads a scenario file, or says why not as `FILE: message`.
fn read(file: &str) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|e| format!("{file}: cannot read the scenario: {e}"))
}

fn run(files: &[String], json: bool, step_timeout: u64) -> CliResult {
    let opts = scenario::RunOptions {
        echo: !json,
        final_tables: false,
        watchdog: Some(scenario::Watchdog::start(Duration::from_secs(step_timeout))),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut reports = Vec::new();
    let mut failed = 0;
    for file in files {
        let report = match read(file) {
            Ok(source) => scenario::run_file(file, &source, &opts, &mut out),
            Err(msg) => scenario::FileReport::unreadable(file, msg),
        };
        for f in &report.failures {
            eprintln!("{f}");
            if !json {
                writeln!(out, "FAILED {f}")?;
            }
        }
        if !report.passed() {
            failed += 1;
        }
        reports.push(report);
    }
    let passed = reports.len() - failed;
    if json {
        let doc = serde_json::json!({
            "files": reports.iter().map(scenario::FileReport::json).collect::<Vec<_>>(),
            "passed": passed,
            "failed": failed,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        writeln!(out, "\n{} scenario file(s): {passed} passed, {failed} failed", reports.len())?;
    }
    Ok(failed == 0)
}

fn stress(threads: usize, seconds: f64, processes: usize, mix: &str, cap: usize, json: bool) -> CliResult {
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 86_400.0 {
        return Err(format!("--seconds must be above 0 and at most 86400, not {seconds}").into());
    }
    let settings = stress::Settings {
        threads,
        duration: Duration::from_secs_f64(seconds),
        processes,
        mix: stress::Mix::parse(mix).map_err(|e| format!("--mix: {e}"))?,
        cap,
        json,
    };
    settings.validate()?;
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || on_signal.store(true, std::sync::atomic::Ordering::Relaxed)) {
        eprintln!("kobj: Ctrl-C will not stop the run cleanly: {e}");
    }
    let outcome = stress::run(&settings, stop, &mut std::io::stdout().lock())?;
    Ok(outcome.passed)
}

fn handles(files: &[String], json: bool) -> CliResult {
    let opts = scenario::RunOptions {
        echo: false,
        final_tables: true,
        watchdog: Some(scenario::Watchdog::start(Duration::from_secs(30))),
    };
    let machine = [("seed machine".to_owned(), Ok(MACHINE.to_owned()))];
    let sources: Vec<(String, Result<String, String>)> = if files.is_empty() {
        machine.to_vec()
    } else {
        files.iter().map(|f| (f.clone(), read(f))).collect()
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut ok = true;
    let mut docs = Vec::new();
    for (file, source) in sources {
        let report = match source {
            Ok(source) => scenario::run_file(&file, &source, &opts, &mut std::io::sink()),
            Err(msg) => scenario::FileReport::unreadable(&file, msg),
        };
        for f in &report.failures {
            eprintln!("{f}");
        }
        ok &= report.passed();
        if json {
            docs.push(serde_json::json!({"file": file, "passed": report.passed(), "processes": report.final_tables}));
        } else {
            writeln!(out, "== {file} ==")?;
            out.write_all(report.final_text.as_bytes())?;
        }
    }
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&docs)?)?;
    }
    Ok(ok)
}
