//! `ops`: see fuzz/README.md. The body is `kobj_model::targets::ops`, which the stable
//! replay of `fuzz/regressions/ops/` runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(d) = kobj_model::targets::ops(data) {
        panic!("{d}");
    }
});
