//! The `kobj` binary, run as a user runs it: every subcommand, good input and bad.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn kobj(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kobj")).args(args).output().expect("the kobj binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Bad input gets a message and a failing exit code, never a panic.
fn assert_refused(o: &Output, message: &str) {
    assert!(!o.status.success(), "expected a failure, got success: {}", stdout(o));
    let err = stderr(o);
    assert!(err.contains(message), "stderr lacks {message:?}: {err}");
    assert!(!err.contains("panicked"), "kobj panicked: {err}");
}

fn scenario(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write the scenario");
    path
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn shipped_scenarios() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kobj"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

#[test]
fn bare_kobj_is_the_demo_with_named_access_and_object_names() {
    let bare = kobj(&[]);
    let demo = kobj(&["demo"]);
    assert!(bare.status.success() && demo.status.success(), "{}", stderr(&bare));
    assert_eq!(stdout(&bare), stdout(&demo));
    let out = stdout(&demo);
    for needle in [
        "== Handle inheritance (seed 000) ==",
        "MUTEX_ALL_ACCESS",
        "0x00100000 SYNCHRONIZE",
        "EVENT_MODIFY_STATE",
        "INHERIT",
        "\\BaseNamedObjects\\JeffMutex",
        "Mutant",
        "== Mutex ownership and abandonment ==",
        "Abandoned(0)",
    ] {
        assert!(out.contains(needle), "the demo lacks {needle:?}:\n{out}");
    }
}

#[test]
fn the_shipped_scenarios_pass() {
    let files = shipped_scenarios();
    assert!(files.len() >= 44, "only {} scenario files", files.len());
    let mut args = vec!["run"];
    args.extend(files.iter().map(String::as_str));
    let o = kobj(&args);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(&format!(
        "{} scenario file(s): {} passed, 0 failed",
        files.len(),
        files.len()
    )));
}

#[test]
fn a_wrong_expect_fails_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "wrong.kobj",
        "# a comment\nprocess A\nA: m = create mutex \"X\"\nexpect already_existed\n",
    );
    let o = kobj(&["run", path_str(&file)]);
    assert_refused(
        &o,
        &format!("{}:4: expected an existing object (already_existed), got 0x4 (created)", file.display()),
    );
    assert!(stdout(&o).contains("0 passed, 1 failed"));
}

#[test]
fn a_wrong_wait_status_names_both_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "wait.kobj",
        "process A\nA: e = create event\nA.main: wait_any e\nexpect WAIT_OBJECT_0+1\n",
    );
    let o = kobj(&["run", path_str(&file)]);
    assert_refused(&o, ":4: expected WAIT_OBJECT_0+1, got WAIT_TIMEOUT");
}

#[test]
fn syntax_errors_are_all_reported_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "syntax.kobj",
        "process A\nA: frobnicate 3\nA: create semaphore initial x\nexpect WAIT_SOMETIMES\nA: open mutex \"unterminated\n",
    );
    let o = kobj(&["run", path_str(&file)]);
    let name = file.display().to_string();
    assert_refused(&o, &format!("{name}:2: unknown call `frobnicate`"));
    let err = stderr(&o);
    assert!(err.contains(&format!("{name}:3: expected an initial count, found `x`")), "{err}");
    assert!(err.contains(&format!("{name}:4: unknown wait status `WAIT_SOMETIMES`")), "{err}");
    assert!(err.contains(&format!("{name}:5: column 15: unterminated string")), "{err}");
    assert!(!stdout(&o).contains("process A "), "a file with syntax errors must not run");
}

#[test]
fn undeclared_names_and_unchecked_errors_fail_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let ghost = scenario(&dir, "ghost.kobj", "process A\nGhost: create event\n");
    assert_refused(&kobj(&["run", path_str(&ghost)]), "ghost.kobj:2: no process or thread named `Ghost`");
    let var = scenario(&dir, "var.kobj", "process A\nA: close nothing\n");
    assert_refused(&kobj(&["run", path_str(&var)]), "var.kobj:2: no handle variable `nothing`");
    let unchecked = scenario(&dir, "unchecked.kobj", "process A\nA: close 0x40\nA: create event\n");
    assert_refused(
        &kobj(&["run", path_str(&unchecked)]),
        "unchecked.kobj:2: the call failed with ERROR_INVALID_HANDLE (6) and no `expect` checks it",
    );
    let twice = scenario(&dir, "twice.kobj", "process A\nprocess A\n");
    assert_refused(&kobj(&["run", path_str(&twice)]), "twice.kobj:2: `A` is already declared (line 1)");
    let lonely = scenario(&dir, "lonely.kobj", "expect ok\n");
    assert_refused(&kobj(&["run", path_str(&lonely)]), "lonely.kobj:1: `expect` needs a call before it");
    let unjoined =
        scenario(&dir, "unjoined.kobj", "process A\nA: e = create event\nbackground J A: wait e\n");
    assert_refused(
        &kobj(&["run", path_str(&unjoined)]),
        "unjoined.kobj:3: background job J was never joined",
    );
}

#[test]
fn unreadable_files_fail_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let good = scenario(&dir, "good.kobj", "process A\nA: create event\nexpect created\n");
    let missing = dir.path().join("missing.kobj");
    let o = kobj(&["run", path_str(&missing), path_str(&good)]);
    assert_refused(&o, "missing.kobj: cannot read the scenario");
    assert!(stdout(&o).contains("2 scenario file(s): 1 passed, 1 failed"), "{}", stdout(&o));
}

#[test]
fn background_waits_are_joined_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        &dir,
        "bg.kobj",
        "process A\nthread T in A\nA: e = create event\nbackground J T: wait e timeout infinite\npending J\nexpect true\n\
         A: set e\njoin J\nexpect WAIT_OBJECT_0\n",
    );
    let o = kobj(&["run", path_str(&file)]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let bad = scenario(
        &dir,
        "bgbad.kobj",
        "process A\nthread T in A\nA: e = create event\nbackground J T: wait e timeout 10\njoin J\nexpect WAIT_OBJECT_0\n",
    );
    assert_refused(&kobj(&["run", path_str(&bad)]), "bgbad.kobj:6: expected WAIT_OBJECT_0, got WAIT_TIMEOUT");
}

#[test]
fn a_step_that_never_ends_is_stopped_by_the_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let file =
        scenario(&dir, "hang.kobj", "process A\nA: e = create event\nA.main: wait e timeout infinite\n");
    let o = kobj(&["run", "--step-timeout", "1", path_str(&file)]);
    assert_refused(&o, "hang.kobj:3: the step did not finish in time");
}

#[test]
fn run_json_is_one_document() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        scenario(&dir, "g.kobj", "process A\nA: h = create mutex \"J\"\nexpect created\nprint handles\n");
    let bad = scenario(&dir, "b.kobj", "process A\nA: create event\nexpect ERROR_ACCESS_DENIED\n");
    let o = kobj(&["run", "--json", path_str(&good), path_str(&bad)]);
    assert!(!o.status.success());
    let doc: Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(doc["passed"], 1);
    assert_eq!(doc["failed"], 1);
    let steps = &doc["files"][0]["steps"];
    assert_eq!(steps[1]["result"]["handle"], "0x4");
    assert_eq!(steps[1]["result"]["already_existed"], false);
    assert_eq!(steps[3]["detail"]["tables"][0]["handles"][0]["name"], "\\BaseNamedObjects\\J");
    assert_eq!(steps[3]["detail"]["tables"][0]["handles"][0]["access_names"], "MUTEX_ALL_ACCESS");
    let failure = doc["files"][1]["failures"][0].as_str().unwrap();
    assert!(
        failure.ends_with(
            "b.kobj:3: expected ERROR_ACCESS_DENIED (5), got 0x4 (created) (from line 2: A: create event)"
        ),
        "{failure}"
    );
}

#[test]
fn handles_lists_the_seed_machine_and_scenario_end_states() {
    let o = kobj(&["handles"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in
        ["Parent (pid", "\\BaseNamedObjects\\JeffMutex", "0x00100000 SYNCHRONIZE", "INHERIT", "Process"]
    {
        assert!(out.contains(needle), "`kobj handles` lacks {needle:?}:\n{out}");
    }
    let json = kobj(&["handles", "--json"]);
    let doc: Value = serde_json::from_slice(&json.stdout).expect("stdout is JSON");
    let procs = doc[0]["processes"].as_array().unwrap();
    let t = procs.iter().find(|p| p["process"] == "T").unwrap();
    assert_eq!(t["handles"][0]["access_names"], "SYNCHRONIZE");
    assert_eq!(t["handles"][0]["type"], "Event");

    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, "h.kobj", "process Solo\nSolo: e = create event \"Mine\" inherit\nexpect ok\n");
    let o = kobj(&["handles", path_str(&file)]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("\\BaseNamedObjects\\Mine"), "{}", stdout(&o));
    assert_refused(&kobj(&["handles", "/no/such/file.kobj"]), "cannot read the scenario");
}

#[test]
fn stress_reports_and_keeps_its_invariants() {
    let o = kobj(&["stress", "--threads", "2", "--seconds", "1", "--processes", "2"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    for needle in ["lookup", "create", "p50", "p999", "ops/s", "invariant: handles left 0", "PASSED"] {
        assert!(out.contains(needle), "the report lacks {needle:?}:\n{out}");
    }
    let o = kobj(&["stress", "--threads", "2", "--seconds", "0.5", "--mix", "lookup=50,wait=50", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(doc["invariant"]["passed"], true);
    assert_eq!(doc["invariant"]["objects_end"], doc["invariant"]["objects_start"]);
    assert!(doc["ops"]["lookup"]["p99_ns"].as_u64().unwrap() > 0);
    assert!(doc["ops"]["create"].is_null() || doc["ops"]["create"]["count"].as_u64().is_some());
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_stress_cleanly_and_it_still_reports() {
    let child = Command::new(env!("CARGO_BIN_EXE_kobj"))
        .args(["stress", "--threads", "2", "--seconds", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("(interrupted)") && out.contains("PASSED"), "{out}");
}

#[test]
fn stress_refuses_impossible_settings() {
    assert_refused(&kobj(&["stress", "--mix", "lookup=0,close=0"]), "no operation with a weight above 0");
    assert_refused(&kobj(&["stress", "--mix", "lookup=80,frob=3"]), "unknown operation `frob`");
    assert_refused(&kobj(&["stress", "--mix", "lookup=1,lookup=2"]), "appears twice");
    assert_refused(&kobj(&["stress", "--threads", "0"]), "--threads must be 1..=1024");
    assert_refused(&kobj(&["stress", "--threads", "2", "--processes", "3"]), "--processes 3 needs at least");
    assert_refused(&kobj(&["stress", "--seconds", "0"]), "--seconds must be above 0");
    assert_refused(&kobj(&["stress", "--seconds", "NaN"]), "--seconds must be above 0");
    assert_refused(&kobj(&["stress", "--seconds", "soon"]), "invalid value 'soon'");
}

#[test]
fn clap_refuses_unknown_subcommands_and_flags() {
    let o = kobj(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    assert_refused(&o, "unrecognized subcommand 'frobnicate'");
    assert_refused(&kobj(&["run", "--frob", "x.kobj"]), "unexpected argument '--frob'");
    assert_refused(&kobj(&["run"]), "required arguments were not provided");
    assert_refused(&kobj(&["stress", "--threads", "-3"]), "unexpected argument '-3'");
}
