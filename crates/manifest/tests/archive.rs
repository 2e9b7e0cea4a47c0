//! The packed form (`.yoi`): a round trip, and archives that try to place
//! files outside, link, or repeat entries.

use std::io::Write;
use std::path::Path;

use yoi_manifest::{
    ArchiveError, Code, Compat, Digest, HookPoint, Package, SIGNATURE_FILE, SigningKey,
};

fn compat() -> Compat {
    Compat {
        contracts: vec!["yoi:plugin@0.1.0".parse().expect("contract")],
        engine: semver::Version::new(0, 1, 0),
        hook_points: vec![HookPoint::ToolPreExec],
        imports: vec![],
        tools_interface: Some("yoi:plugin/tools".into()),
    }
}

/// A package folder with a tiny component exporting `tool.pre_exec`.
fn package_dir(dir: &Path) {
    let wasm = wat::parse_str(
        r#"(component (instance $i) (export "yoi:plugin/tool-pre-exec@0.1.0" (instance $i)))"#,
    )
    .expect("wat");
    std::fs::write(dir.join("p.wasm"), &wasm).expect("write");
    let manifest = format!(
        "[plugin]\nid = \"acme.packed\"\nversion = \"1.0.0\"\ncontract = \"yoi:plugin@0.1.0\"\n\n\
         [runtime]\nkind = \"wasm-component\"\nartifact = \"p.wasm\"\ndigest = \"{}\"\n\n\
         [[hooks]]\npoint = \"tool.pre_exec\"\n",
        Digest::of(&wasm)
    );
    std::fs::write(dir.join("plugin.toml"), manifest).expect("write");
}

#[test]
fn a_packed_package_opens_like_its_folder_and_packs_to_the_same_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    package_dir(dir.path());
    let package = Package::open(dir.path(), &compat()).expect("package opens");
    let out = dir.path().join("acme.packed-1.0.0.yoi");
    package.write_archive(&out).expect("packed");
    let again = Package::open_archive(&out, &compat()).expect("archive opens");
    assert_eq!(
        again.manifest().runtime.digest,
        package.manifest().runtime.digest
    );
    assert_eq!(again.artifact(), package.artifact());
    assert_eq!(again.manifest_text(), package.manifest_text());
    assert_eq!(again.dir(), out);

    let first = std::fs::read(&out).expect("read");
    package.write_archive(&out).expect("packed again");
    assert_eq!(
        std::fs::read(&out).expect("read"),
        first,
        "packing is deterministic"
    );
}

#[test]
fn a_signature_travels_inside_the_archive_and_a_stale_one_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    package_dir(dir.path());
    let key = SigningKey::generate().expect("key");
    let package = Package::open(dir.path(), &compat()).expect("package opens");
    assert!(package.signature().is_none());
    let signature = package.sign(&key, None);
    let signed = package.with_signature(signature.clone()).expect("covers");
    let out = dir.path().join("signed.yoi");
    signed.write_archive(&out).expect("packed");
    let again = Package::open_archive(&out, &compat()).expect("archive opens");
    assert_eq!(again.signature(), Some(&signature));
    again
        .signature()
        .expect("signed")
        .verify(&key.public(), std::time::SystemTime::now())
        .expect("verifies");

    // The folder signed, then changed: refused when opened, ignored when
    // opened to be signed again.
    std::fs::write(dir.path().join(SIGNATURE_FILE), signature.text()).expect("write");
    let manifest = std::fs::read_to_string(dir.path().join("plugin.toml")).expect("read");
    std::fs::write(
        dir.path().join("plugin.toml"),
        manifest.replace("version = \"1.0.0\"", "version = \"1.0.1\""),
    )
    .expect("write");
    let stale = Package::open(dir.path(), &compat()).expect_err("stale signature");
    assert_eq!(stale.items()[0].code, Code::SignatureMismatch);
    let unsigned = Package::open_unsigned(dir.path(), &compat()).expect("opens to be signed");
    assert!(unsigned.signature().is_none());
}

/// One raw archive entry: name, type, data.
type Entry<'a> = (&'a str, tar::EntryType, &'a [u8]);

/// Writes a .yoi whose entries are given raw.
fn hostile(entries: &[Entry<'_>]) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(".yoi")
        .tempfile()
        .expect("temp file");
    let gz =
        flate2::write::GzEncoder::new(file.reopen().expect("reopen"), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, kind, data) in entries {
        let mut header = tar::Header::new_old();
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        if *kind == tar::EntryType::Symlink {
            header.set_size(0);
            header.set_link_name("/etc/passwd").expect("link name");
        }
        header.set_cksum();
        tar.append(&header, *data).expect("append");
    }
    tar.into_inner()
        .expect("finish")
        .finish()
        .expect("gz")
        .flush()
        .expect("flush");
    file
}

#[test]
fn archives_that_reach_outside_link_or_repeat_are_refused() {
    let cases: &[(&[Entry<'_>], &str)] = &[
        (
            &[("../escape.txt", tar::EntryType::Regular, b"x")],
            "relative",
        ),
        (
            &[("/etc/cron.d/x", tar::EntryType::Regular, b"x")],
            "relative",
        ),
        (
            &[("./plugin.toml", tar::EntryType::Regular, b"x")],
            "relative",
        ),
        (
            &[("plugin.toml", tar::EntryType::Symlink, b"")],
            "plain files",
        ),
        (&[("dev", tar::EntryType::Char, b"")], "plain files"),
        (
            &[
                ("plugin.toml", tar::EntryType::Regular, b"a"),
                ("plugin.toml", tar::EntryType::Regular, b"b"),
            ],
            "twice",
        ),
    ];
    for (entries, why) in cases {
        let file = hostile(entries);
        match Package::open_archive(file.path(), &compat()) {
            Err(ArchiveError::Unsafe { reason, .. }) => assert!(reason.contains(why), "{reason}"),
            other => panic!("{entries:?}: expected a refusal, got {other:?}"),
        }
    }
    let garbage = tempfile::Builder::new()
        .suffix(".yoi")
        .tempfile()
        .expect("temp file");
    std::fs::write(garbage.path(), b"not an archive").expect("write");
    assert!(matches!(
        Package::open_archive(garbage.path(), &compat()),
        Err(ArchiveError::Unreadable { .. })
    ));
}

/// Bytes the decompressor yields count even where no file is written: a
/// folder entry claiming a large body (skipped, but inflated) is stopped
/// at the unpacked limit, not inflated to the end.
#[test]
fn every_inflated_byte_counts_against_the_unpacked_limit() {
    let body = vec![0u8; (yoi_manifest::MAX_UNPACKED_BYTES + 4 * 1024 * 1024) as usize];
    let file = hostile(&[("padding/", tar::EntryType::Directory, &body)]);
    let packed = std::fs::metadata(file.path()).expect("meta").len();
    assert!(packed < 2 * 1024 * 1024, "a small upload: {packed} bytes");
    match Package::open_archive(file.path(), &compat()) {
        Err(ArchiveError::Unsafe { reason, .. }) => {
            assert!(reason.contains("unpacks to more than"), "{reason}")
        }
        other => panic!("expected the limit, got {other:?}"),
    }
}

#[test]
#[ignore = "an experiment"]
fn print_stats_of_examples() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        for e in std::fs::read_dir(&dir).into_iter().flatten() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "wasm") {
                paths.push(p);
            }
        }
    }
    let open = yoi_manifest::CodeLimits {
        loop_locals: u64::MAX,
        ..yoi_manifest::CodeLimits::default()
    };
    for p in paths {
        let bytes = std::fs::read(&p).unwrap();
        let s = yoi_manifest::CodeStats::measure(&bytes, &open).unwrap();
        println!("{}: {:?}", p.display(), s);
    }
}
