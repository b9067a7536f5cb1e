//! Replays the committed fuzz inputs (`fuzz/regressions/<target>/*`) through the same
//! entry points the cargo-fuzz targets use, on stable, so CI checks them without nightly
//! or libFuzzer. Each target's folder holds a handful of minimised inputs that reach
//! distinct parts of the engine (from `cargo fuzz cmin` and `tmin`); an input that once
//! showed a divergence or a crash is kept here too.

use std::fs;
use std::path::PathBuf;

use kobj_model::targets::NamesScenario;
use kobj_model::threads::ThreadScenario;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions").join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file() && !matches!(p.extension(), Some(x) if x == "md"))
        .collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), fs::read(&p).expect("a readable input"))).collect()
}

/// Replays every input of `target`; `ops_in` says how many operations an input decodes
/// to (an input that decodes to none would test nothing).
fn replay<E: std::fmt::Display>(
    target: &str,
    ops_in: impl Fn(&[u8]) -> usize,
    run: impl Fn(&[u8]) -> Result<(), E>,
) {
    let inputs = inputs(target);
    assert!(!inputs.is_empty(), "fuzz/regressions/{target}/ holds no input");
    for (path, data) in inputs {
        assert!(ops_in(&data) > 0, "{}: decodes to no operation", path.display());
        if let Err(e) = run(&data) {
            panic!("{}: {e}", path.display());
        }
    }
}

#[test]
fn ops_regressions_replay() {
    replay("ops", |d| kobj_model::Scenario::decode(d).ops.len(), kobj_model::targets::ops);
}

#[test]
fn names_regressions_replay() {
    replay("names", |d| NamesScenario::decode(d).ops.len(), kobj_model::targets::names);
}

#[test]
fn threads_regressions_replay() {
    replay(
        "threads",
        |d| ThreadScenario::decode(d).threads.iter().map(Vec::len).sum(),
        kobj_model::targets::threads,
    );
}
