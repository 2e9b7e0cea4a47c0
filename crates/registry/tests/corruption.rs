//! A damaged database is refused at open, for reads and writes alike, with
//! the way back; the last good copy beside it restores the registry.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use yoi_registry::{DATABASE_FILE, Registry};

fn seeded() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    for i in 0..20 {
        let p = common::package_with("c.plugin", &format!("1.0.{i}"), vec![i; 512], "");
        reg.publish(&p, &common::compat(), "t").expect("publish");
    }
    drop(reg);
    assert_eq!(
        versions_in_copy(dir.path()),
        20,
        "the copy holds every write"
    );
    dir
}

/// How many versions the last good copy beside the registry in `dir` holds.
fn versions_in_copy(dir: &Path) -> usize {
    let restored = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        dir.join(format!("{DATABASE_FILE}.bak")),
        restored.path().join(DATABASE_FILE),
    )
    .expect("a last good copy exists");
    let reg = Registry::open(restored.path()).expect("the copy opens");
    reg.snapshot().expect("snapshot").versions.len()
}

/// The copy misses at most ten writes, by any process, or five minutes of
/// them: a restore after damage loses little.
#[test]
fn the_last_good_copy_misses_at_most_ten_writes_or_five_minutes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let publish = |i: u8| {
        // One process per write, as operators' commands are.
        let reg = Registry::open(dir.path()).expect("registry");
        let p = common::package_with("c.plugin", &format!("1.0.{i}"), vec![i; 64], "");
        reg.publish(&p, &common::compat(), "t").expect("publish");
    };
    for i in 0..9 {
        publish(i);
    }
    let copy = versions_in_copy(dir.path());
    assert!(copy < 9, "renewed before ten writes ({copy})");
    publish(9);
    assert_eq!(
        versions_in_copy(dir.path()),
        10,
        "the tenth write renews it"
    );
    publish(10);
    // A host that stays open: two writes, then the copy grows older than
    // five minutes, and its next write renews it.
    let host = Registry::open(dir.path()).expect("registry");
    let write = |i: u8| {
        let p = common::package_with("c.plugin", &format!("1.0.{i}"), vec![i; 64], "");
        host.publish(&p, &common::compat(), "t").expect("publish");
    };
    write(11);
    assert_eq!(versions_in_copy(dir.path()), 10);
    let bak = dir.path().join(format!("{DATABASE_FILE}.bak"));
    std::fs::File::options()
        .write(true)
        .open(&bak)
        .expect("copy")
        .set_modified(SystemTime::now() - Duration::from_secs(6 * 60))
        .expect("age it");
    write(12);
    assert_eq!(versions_in_copy(dir.path()), 13);
}

fn damage(db: &Path, how: &str) {
    let mut bytes = std::fs::read(db).expect("db");
    match how {
        "header" => bytes[..16].copy_from_slice(b"definitely-not-s"),
        "truncated" => bytes.truncate(bytes.len() / 2),
        "page" => bytes[4096..8192].fill(0xa5),
        _ => unreachable!(),
    }
    std::fs::write(db, bytes).expect("write");
}

#[test]
fn a_damaged_database_is_refused_and_the_last_good_copy_restores_it() {
    for how in ["header", "truncated", "page"] {
        let dir = seeded();
        let db = dir.path().join(DATABASE_FILE);
        damage(&db, how);
        let err = match Registry::open(dir.path()) {
            Ok(_) => panic!("{how}: a damaged registry opened"),
            Err(e) => e.to_string(),
        };
        assert!(err.starts_with("R0304"), "{how}: {err}");
        assert!(err.contains("registry.db.bak"), "{how}: {err}");
        assert!(err.contains("move"), "{how}: {err}");

        // The steps the error and docs/operations.md give.
        std::fs::rename(&db, dir.path().join("registry.db.damaged")).unwrap();
        for side in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.path().join(format!("{DATABASE_FILE}{side}")));
        }
        std::fs::copy(dir.path().join("registry.db.bak"), &db).unwrap();
        let reg = Registry::open(dir.path()).expect("restored");
        assert_eq!(reg.snapshot().unwrap().versions.len(), 20, "{how}");
    }
}

/// What hosts log as they run (receipts, heartbeats) never makes the copy
/// due: a process living for one event, writing its receipts, never stops
/// to copy the database. The copy still follows lifecycle writes.
#[test]
fn logged_events_never_renew_the_last_good_copy() {
    let dir = seeded();
    let bak = dir.path().join(format!("{DATABASE_FILE}.bak"));
    let before = std::fs::metadata(&bak)
        .and_then(|m| m.modified())
        .expect("a copy");
    for i in 0..30 {
        // One process per event, as `yoi hook` runs.
        let location = yoi_registry::Location::Folder(dir.path().to_path_buf());
        let reg = Registry::open_for_one_event(&location, dir.path()).expect("registry");
        reg.record_events(&[yoi_registry::EventRecord {
            id: 0,
            at: i,
            kind: "receipt".into(),
            plugin: "c.plugin".into(),
            version: Some("1.0.0".into()),
            detail: serde_json::json!({"status": "ok"}),
            host: None,
        }])
        .expect("logged");
    }
    let after = std::fs::metadata(&bak)
        .and_then(|m| m.modified())
        .expect("a copy");
    assert_eq!(before, after, "thirty logged events renewed the copy");
    let reg = Registry::open(dir.path()).expect("registry");
    assert_eq!(reg.events(None, 0, 100).expect("events").len(), 30);
}

/// A per-event process opens without the integrity scan, and still never
/// reads a damaged page as data: the read fails with the damage named.
#[test]
fn opening_for_one_event_skips_the_scan_but_not_the_refusal() {
    let dir = seeded();
    let db = dir.path().join(DATABASE_FILE);
    damage(&db, "page");
    let location = yoi_registry::Location::Folder(dir.path().to_path_buf());
    let read = Registry::open_for_one_event(&location, dir.path())
        .and_then(|reg| reg.snapshot().map(|s| s.versions.len()));
    match read {
        Ok(n) => panic!("a damaged registry was read: {n} versions"),
        Err(e) => assert!(
            e.to_string().contains("malformed") || e.to_string().starts_with("R0304"),
            "{e}"
        ),
    }
}
