//! `names`: see fuzz/README.md. The body is `kobj_model::targets::names`, which the stable
//! replay of `fuzz/regressions/names/` runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(d) = kobj_model::targets::names(data) {
        panic!("{d}");
    }
});
