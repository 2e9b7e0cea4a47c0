//! Any bytes must be classified as a component or refused, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = yoi_manifest::summarize(data);
});
