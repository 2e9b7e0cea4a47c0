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
