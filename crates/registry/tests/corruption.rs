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
    // The copy is renewed once it is older than an hour: make it so, and
    // open again, as the next operator command would.
    let bak = dir.path().join(format!("{DATABASE_FILE}.bak"));
    let old = SystemTime::now() - Duration::from_secs(2 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&bak)
        .expect("a last good copy exists")
        .set_modified(old)
        .expect("age it");
    drop(Registry::open(dir.path()).expect("reopen"));
    let age = std::fs::metadata(&bak).unwrap().modified().unwrap();
    assert!(
        age > old + Duration::from_secs(3600),
        "the copy was renewed"
    );
    dir
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
