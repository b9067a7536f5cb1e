//! `threads`: see fuzz/README.md. The body is `kobj_model::targets::threads`, which the
//! stable replay of `fuzz/regressions/threads/` runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = kobj_model::targets::threads(data) {
        panic!("threads: {e}");
    }
});
