//! Any text must parse to a manifest or to diagnostics that render, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match yoi_manifest::Manifest::parse(&text) {
        Ok(manifest) => {
            // A manifest that parsed must survive a round trip.
            let again = yoi_manifest::Manifest::parse(&manifest.to_toml());
            assert_eq!(again.ok().as_ref(), Some(&manifest));
        }
        Err(diagnostics) => {
            let _ = diagnostics.render(false);
        }
    }
});
