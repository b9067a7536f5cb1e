//! The C test suite (`tests/c/*.c`): each file is a program written against
//! `kobj/win32.h` with Win32 names only, compiled with the system C compiler (`$CC`,
//! else `cc`), linked against this crate's static library and run; it exits 0 when every
//! check holds. Extra compiler flags come from `KOBJ_CAPI_CFLAGS` (for example
//! `-fsanitize=address -g` to run the suite under AddressSanitizer).

use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This crate's library file `name` as cargo built it for this test run: `cargo test`
/// builds every crate type of the library into `deps/` (next to this executable) without
/// copying them up to the profile directory, where an older `cargo build` may have left
/// one; the newer of the two is used.
fn library(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps directory");
    let candidates = [deps.join(name), deps.parent().expect("profile directory").join(name)];
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    candidates
        .iter()
        .filter(|p| p.exists())
        .max_by_key(|p| modified(p))
        .cloned()
        .unwrap_or_else(|| panic!("{name} was not built (looked in {})", deps.display()))
}

fn compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

fn extra_flags() -> Vec<String> {
    std::env::var("KOBJ_CAPI_CFLAGS")
        .map(|f| f.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Compiles `tests/c/<name>.c` and links it with `link` (the library and what it needs).
fn build(name: &str, out_name: &str, compiler: &str, lang: &[&str], link: &[String]) -> PathBuf {
    let source = crate_dir().join("tests/c").join(format!("{name}.c"));
    build_source(&source, name, out_name, compiler, lang, link)
}

fn build_source(
    source: &Path,
    name: &str,
    out_name: &str,
    compiler: &str,
    lang: &[&str],
    link: &[String],
) -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(out_name);
    let status = Command::new(compiler)
        .args(lang)
        .args(["-Wall", "-Wextra", "-Werror", "-g", "-pthread"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg("-I")
        .arg(crate_dir().join("tests/c"))
        .args(extra_flags())
        .arg(source)
        // What follows is not source: the library is linked as itself.
        .args(["-x", "none"])
        .arg("-o")
        .arg(&out)
        .args(link)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {compiler}: {e}"));
    assert!(status.success(), "{name}.c did not compile");
    out
}

fn static_link() -> Vec<String> {
    let lib = library("libkobj_capi.a");
    let mut link = vec![lib.display().to_string()];
    // What `rustc --print native-static-libs` lists for a static library on Linux.
    link.extend(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"].map(String::from));
    link
}

fn run(program: &Path, name: &str) {
    let output = Command::new(program).output().expect("run the C test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{name}.c failed ({}):\n{stdout}{stderr}", output.status);
}

/// Compiles, links statically and runs one C test.
fn c_test(name: &str) {
    let program = build(name, name, &compiler(), &["-std=c11"], &static_link());
    run(&program, name);
}

#[test]
fn inheritance() {
    c_test("inheritance");
}

#[test]
fn named_objects() {
    c_test("named_objects");
}

#[test]
fn duplicate_handle() {
    c_test("duplicate_handle");
}

#[test]
fn waits_across_host_threads() {
    c_test("waits_threads");
}

#[test]
fn binding_outlives_references_and_ends_with_the_host_thread() {
    c_test("binding");
}

#[test]
fn last_error() {
    c_test("last_error");
}

#[test]
fn bad_input() {
    c_test("bad_input");
}

#[test]
fn processes_threads_security_namespaces() {
    c_test("proc_thread");
}

#[test]
fn timers_and_apcs() {
    c_test("timers_apcs");
}

#[test]
fn constants_and_types() {
    c_test("constants");
}

/// The shared library works the same: one test linked against `libkobj_capi.so`.
#[test]
fn shared_library() {
    let so = library("libkobj_capi.so");
    let dir = so.parent().expect("the library's directory");
    let link = vec![
        format!("-L{}", dir.display()),
        format!("-Wl,-rpath,{}", dir.display()),
        "-lkobj_capi".to_owned(),
    ];
    let program = build("named_objects", "named_objects_shared", &compiler(), &["-std=c11"], &link);
    run(&program, "named_objects (shared)");
}

/// The headers compile as C++ too (cbindgen's `extern "C"` guard), and the program runs.
/// A machine with no C++ compiler (`$CXX`, else `c++`) skips it, saying so; a C compiler
/// is always there, as the Rust toolchain links with it.
#[test]
fn headers_compile_as_cpp() {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_owned());
    if Command::new(&cxx).arg("--version").output().is_err() {
        eprintln!("headers_compile_as_cpp: no C++ compiler ({cxx}); skipped");
        return;
    }
    let program = build("constants", "constants_cpp", &cxx, &["-x", "c++", "-std=c++17"], &static_link());
    run(&program, "constants (C++)");
}

/// The README's C example compiles, runs and prints what its comments say.
#[test]
fn readme_example() {
    let readme = std::fs::read_to_string(crate_dir().join("README.md")).expect("README.md");
    let after = readme.split("## Example").nth(1).expect("an Example section");
    let code = after.split("```c\n").nth(1).and_then(|c| c.split("```").next()).expect("a C block");
    let source = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("readme_example.c");
    std::fs::write(&source, code).expect("write the example");
    let program =
        build_source(&source, "readme_example", "readme_example", &compiler(), &["-std=c11"], &static_link());
    let output = Command::new(&program).output().expect("run the example");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "1\n1\n1\n0\n");
}
