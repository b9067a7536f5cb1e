//! `include/kobj.h` is what cbindgen makes of this crate now (run with `KOBJ_BLESS=1` to
//! rewrite it after changing the ABI), and `include/kobj/win32.h` maps every Win32-named
//! function the header declares.

use std::path::PathBuf;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> String {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn header_is_current() {
    let path = crate_dir().join("include/kobj.h");
    let fresh = generate();
    if std::env::var_os("KOBJ_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/kobj.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/kobj.h is out of date: run `KOBJ_BLESS=1 cargo test -p kobj-capi --test header`"
    );
}

/// Win32-named functions whose C signature is not Win32's, so win32.h does not map them.
const NOT_WIN32_SIGNATURES: &[&str] = &["CreateProcess"];

#[test]
fn win32_h_maps_every_win32_function() {
    let header = std::fs::read_to_string(crate_dir().join("include/kobj.h")).unwrap();
    let win32 = std::fs::read_to_string(crate_dir().join("include/kobj/win32.h")).unwrap();
    let mut missing = Vec::new();
    let mut seen = 0;
    for word in header.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        // The Win32-named functions: kobj_ followed by a capital (the bootstrap is lower case).
        let Some(name) = word.strip_prefix("kobj_") else { continue };
        if !name.starts_with(|c: char| c.is_ascii_uppercase()) || !header.contains(&format!("{word}(")) {
            continue;
        }
        // kobj_CreateProcess is only the part of CreateProcess kobj owns, not Win32's
        // signature: it keeps its kobj_ name.
        if NOT_WIN32_SIGNATURES.contains(&name) {
            continue;
        }
        seen += 1;
        let mapping = format!("#define {name} {word}\n");
        if !win32.contains(&mapping) && !missing.iter().any(|m| m == name) {
            missing.push(name.to_owned());
        }
    }
    assert!(seen > 50, "found only {seen} Win32-named functions in kobj.h");
    assert!(missing.is_empty(), "kobj/win32.h lacks a #define for {missing:?}");
}

/// Every function kobj.h declares is called from the C suite (by its Win32 name where
/// win32.h maps it), so each is exercised from C.
#[test]
fn the_c_suite_calls_every_function() {
    let header = std::fs::read_to_string(crate_dir().join("include/kobj.h")).unwrap();
    let mut suite = String::new();
    for entry in std::fs::read_dir(crate_dir().join("tests/c")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "c") {
            suite += &std::fs::read_to_string(path).unwrap();
        }
    }
    let calls = |name: &str| {
        suite.match_indices(name).any(|(i, _)| {
            let before = suite[..i].chars().next_back();
            let after = suite[i + name.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && matches!(after, Some('(') | Some(',') | Some(')'))
        })
    };
    let mut uncalled = Vec::new();
    for line in header.lines().filter(|l| !l.starts_with("//") && l.contains('(')) {
        let Some(start) = line.find("kobj_") else { continue };
        let word: String =
            line[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !line[start + word.len()..].starts_with('(') {
            continue;
        }
        let name = word.strip_prefix("kobj_").unwrap();
        let win32 =
            name.starts_with(|c: char| c.is_ascii_uppercase()) && !NOT_WIN32_SIGNATURES.contains(&name);
        let called = if win32 { calls(name) } else { calls(&word) };
        if !called {
            uncalled.push(word);
        }
    }
    assert!(uncalled.is_empty(), "not called from tests/c: {uncalled:?}");
}
