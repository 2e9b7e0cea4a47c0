//! The `fs` grant that applies is the one covering where a call really
//! lands: links old or new, relative or absolute, chained, hard links and
//! renames cannot turn a read-only grant into a writable one, in either
//! nesting. Special files are refused without waiting on them, and the
//! quota counts entries as well as bytes.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::grants::{Reach, assert_denied, reach};

fn op(op: &str, path: &str) -> Value {
    json!({"op": op, "path": path})
}

fn op_to(op: &str, path: &str, to: &str) -> Value {
    json!({"op": op, "path": path, "to": to})
}

fn write(path: &str, data: &str) -> Value {
    json!({"op": "write", "path": path, "data": data})
}

/// Runs `input` and asserts the guest got an `ok`.
async fn ok(r: &Reach, input: Value) -> Value {
    let (seen, outcome) = r.call("file", input.clone()).await;
    assert!(seen.get("ok").is_some(), "{input}: {seen:#} / {outcome:#?}");
    seen["ok"].clone()
}

/// Runs `input` and asserts it was refused: a denial naming read-only, or
/// (for removing and moving granted paths) an `invalid` error.
async fn refused(r: &Reach, input: Value) {
    let (seen, outcome) = r.call("file", input.clone()).await;
    match seen["error"].as_str() {
        Some("denied") => {
            assert_denied(&seen, &outcome, "fs");
        }
        Some("invalid") => {}
        _ => panic!("{input} was not refused: {seen:#}"),
    }
}

/// Every file under `dir`, with its content, for before/after checks.
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let meta = p.symlink_metadata().unwrap();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if meta.is_dir() {
                stack.push(p);
                out.push((rel, "<dir>".into()));
            } else if meta.is_file() {
                out.push((rel, std::fs::read_to_string(&p).unwrap_or_default()));
            } else {
                out.push((rel, "<link>".into()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_read_only_grant_inside_a_writable_one_holds_through_every_link() {
    let r = reach(&[], &["fs:box:rw", "fs:box/config:ro"], |b| b);
    let root = r.root();
    std::fs::create_dir_all(root.join("box/config")).unwrap();
    std::fs::write(root.join("box/config/settings.toml"), "safe = true").unwrap();
    {
        use std::os::unix::fs::symlink;
        // Made before the grant was narrowed: a hard link, an absolute link,
        // and a chain of relative links into the read-only folder.
        std::fs::hard_link(
            root.join("box/config/settings.toml"),
            root.join("box/old-name"),
        )
        .unwrap();
        symlink(root.join("box/config"), root.join("box/abs")).unwrap();
        symlink("l2", root.join("box/l1")).unwrap();
        symlink("./config/", root.join("box/l2")).unwrap();
    }
    let before = snapshot(&root.join("box/config"));

    // Links the plugin makes may point into the read-only folder; writing
    // through them lands there and is refused.
    ok(&r, op_to("symlink", "box/c2", "config")).await;
    ok(&r, op_to("symlink", "box/f2", "config/settings.toml")).await;
    assert_eq!(
        ok(&r, op("read", "box/c2/settings.toml")).await,
        "safe = true"
    );
    for input in [
        write("box/c2/settings.toml", "safe = false"),
        write("box/c2/new.toml", "x"),
        write("box/f2", "safe = false"),
        json!({"op": "append", "path": "box/f2", "data": "x"}),
        op("mkdir", "box/c2/sub"),
        op("remove", "box/c2/settings.toml"),
        write("box/l1/settings.toml", "safe = false"),
        write("box/abs/settings.toml", "safe = false"),
        op_to("hardlink", "box/h", "box/config/settings.toml"),
        op_to("hardlink", "box/h", "box/c2/settings.toml"),
        op_to("rename", "box/config/settings.toml", "box/moved"),
        op_to("rename", "box/c2/settings.toml", "box/moved"),
        op_to("rename", "box/config", "box/elsewhere"),
        op_to("rename", "box/old-name", "box/c2/settings.toml"),
        op_to("symlink", "box/c2/l", "../old-name"),
        op("remove", "box/config"),
    ] {
        refused(&r, input).await;
    }
    // The name made before the grant was narrowed belongs to the writable
    // folder: writing it gives that name new content and leaves the
    // read-only file alone.
    ok(&r, write("box/old-name", "mine")).await;
    ok(
        &r,
        json!({"op": "append", "path": "box/old-name", "data": "+"}),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(root.join("box/old-name")).unwrap(),
        "mine+"
    );
    assert_eq!(snapshot(&root.join("box/config")), before);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_read_only_folder_under_a_writable_root_holds_through_new_links() {
    let r = reach(&[], &["fs:.:rw", "fs:docs:ro", "fs:a/b:ro"], |b| b);
    let root = r.root();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("docs/guide.md"), "read me").unwrap();
    std::fs::write(root.join("a/b/kept.md"), "kept").unwrap();
    let docs = snapshot(&root.join("docs"));
    let ab = snapshot(&root.join("a"));

    ok(&r, op_to("symlink", "l", "docs/guide.md")).await;
    ok(&r, op_to("symlink", "dl", "docs")).await;
    for input in [
        write("l", "changed"),
        write("dl/new.md", "x"),
        write("dl/guide.md", "changed"),
        op_to("rename", "dl/guide.md", "stolen.md"),
        op_to("rename", "docs", "docs2"),
        op_to("rename", "a", "z"),
        op("remove", "a"),
        op("remove", "docs"),
        op("mkdir", "dl/sub"),
        write("a/b/kept.md", "changed"),
    ] {
        refused(&r, input).await;
    }
    // Removing the link itself is the writable root's business.
    ok(&r, op("remove", "dl")).await;
    assert_eq!(snapshot(&root.join("docs")), docs);
    assert_eq!(snapshot(&root.join("a")), ab);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_writable_grant_inside_a_read_only_one_stays_the_only_writable_place() {
    let r = reach(&[], &["fs:.:ro", "fs:pub/out:rw"], |b| b);
    let root = r.root();
    std::fs::create_dir_all(root.join("pub/out")).unwrap();
    std::fs::write(root.join("pub/index.md"), "index").unwrap();
    let before = std::fs::read_to_string(root.join("pub/index.md")).unwrap();

    ok(&r, write("pub/out/report.md", "r")).await;
    // A link made in the writable folder that climbs back into the
    // read-only one: using it lands there.
    ok(&r, op_to("symlink", "pub/out/up", "..")).await;
    for input in [
        write("pub/out/up/index.md", "changed"),
        write("pub/out/up/new.md", "x"),
        write("pub/new.md", "x"),
        op_to("rename", "pub/out/report.md", "pub/report.md"),
        op_to("rename", "pub/index.md", "pub/out/index.md"),
        op_to("hardlink", "pub/out/i", "pub/index.md"),
        op("remove", "pub/out"),
        op_to("rename", "pub/out", "pub/out2"),
    ] {
        refused(&r, input).await;
    }
    assert_eq!(ok(&r, op("read", "pub/out/up/index.md")).await, "index");
    assert_eq!(
        std::fs::read_to_string(root.join("pub/index.md")).unwrap(),
        before
    );
    let names: Vec<_> = std::fs::read_dir(root.join("pub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn special_files_are_refused_without_waiting_on_them() {
    let r = reach(&[], &["fs:.:rw"], |b| b);
    let root = r.root();
    std::fs::create_dir_all(&root).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(root.join("pipe"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let started = Instant::now();
    for input in [
        op("read", "pipe"),
        write("pipe", "x"),
        json!({"op": "append", "path": "pipe", "data": "x"}),
    ] {
        let (seen, outcome) = r.call("file", input.clone()).await;
        assert_eq!(seen["error"], "invalid", "{input}: {seen:#} / {outcome:#?}");
        assert!(
            seen["message"].as_str().unwrap().contains("named pipe"),
            "{seen:#}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refusals took {:?}",
        started.elapsed()
    );
    let stat = ok(&r, op("stat", "pipe")).await;
    assert_eq!(stat["kind"], "other", "{stat:#}");
    // The pipe is still a pipe: nothing replaced it.
    use std::os::unix::fs::FileTypeExt;
    assert!(
        root.join("pipe")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_quota_counts_entries_as_well_as_bytes() {
    let r = reach(&[], &["fs:.:rw"], |b| b.fs_entry_quota(20));
    for i in 0..10 {
        ok(&r, write(&format!("f{i}"), "")).await;
        ok(&r, op("mkdir", &format!("d{i}"))).await;
    }
    for input in [
        write("one-more", ""),
        op("mkdir", "one-more"),
        op_to("symlink", "one-more", "f0"),
        op_to("hardlink", "one-more", "f0"),
        write("d0/deep/er", ""),
    ] {
        let (seen, outcome) = r.call("file", input.clone()).await;
        let reason = assert_denied(&seen, &outcome, "fs");
        assert!(reason.contains("quota is 20 entries"), "{input}: {reason}");
    }
    // Rewriting an existing file adds no entry; removing frees one.
    ok(&r, write("f0", "again")).await;
    ok(&r, op("remove", "f1")).await;
    ok(&r, write("one-more", "")).await;
    let on_disk = std::fs::read_dir(r.root()).unwrap().count();
    assert_eq!(on_disk, 20);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn absolute_and_climbing_paths_are_refused_for_what_they_are() {
    let r = reach(&[], &["fs:.:rw"], |b| b);
    let (seen, outcome) = r.call("file", op("read", "/etc/passwd")).await;
    let reason = assert_denied(&seen, &outcome, "fs");
    assert!(reason.contains("absolute"), "{reason}");
    assert!(!reason.contains(".."), "{reason}");
    let (seen, outcome) = r.call("file", op("read", "a/../../x")).await;
    let reason = assert_denied(&seen, &outcome, "fs");
    assert!(reason.contains("`..`"), "{reason}");
}

/// The kernel lowers a file's link count before its name is gone, so an
/// append checked while another call removes the file's last writable name
/// could see "one name" on a file whose other name is read-only. Name
/// changes and appends take the data root's lock (an `flock` on the root
/// folder), so an append waits for a change in progress, and concurrent
/// removes and appends never write the read-only file.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn an_append_never_lands_in_a_file_whose_writable_name_is_going_away() {
    let r = reach(&[], &["fs:rw:rw", "fs:ro:ro"], |b| b);
    let root = r.root();
    std::fs::create_dir_all(root.join("rw")).unwrap();
    std::fs::create_dir_all(root.join("ro")).unwrap();
    std::fs::write(root.join("rw/log"), "").unwrap();
    std::fs::write(root.join("ro/secret.txt"), "read-only").unwrap();

    // A name change in progress holds the lock: the append waits for it.
    let held = std::fs::File::open(&root).unwrap();
    held.lock().unwrap();
    let append = r.call(
        "file",
        json!({"op": "append", "path": "rw/log", "data": "X"}),
    );
    tokio::pin!(append);
    assert!(
        tokio::time::timeout(Duration::from_millis(400), &mut append)
            .await
            .is_err(),
        "the append went ahead while a name change held the lock"
    );
    // What that change did: `rw/log` is now a second name of the read-only
    // file (made before the grant was narrowed).
    std::fs::rename(root.join("rw/log"), root.join("rw/kept")).unwrap();
    std::fs::hard_link(root.join("ro/secret.txt"), root.join("rw/log")).unwrap();
    held.unlock().unwrap();
    let (seen, outcome) = append.await;
    assert!(seen.get("ok").is_some(), "{seen:#} / {outcome:#?}");
    assert_eq!(
        std::fs::read_to_string(root.join("rw/log")).unwrap(),
        "read-onlyX"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("ro/secret.txt")).unwrap(),
        "read-only"
    );

    // The plugin races itself: one call removes the last writable name of
    // a read-only file while another appends to it.
    const PAIRS: usize = 200;
    for i in 0..PAIRS {
        let secret = root.join(format!("ro/s{i}"));
        std::fs::write(&secret, "read-only").unwrap();
        std::fs::hard_link(&secret, root.join(format!("rw/l{i}"))).unwrap();
    }
    for i in 0..PAIRS {
        let path = format!("rw/l{i}");
        let _ = tokio::join!(
            r.call("file", op("remove", &path)),
            r.call("file", json!({"op": "append", "path": path, "data": "X"})),
        );
    }
    for i in 0..PAIRS {
        assert_eq!(
            std::fs::read_to_string(root.join(format!("ro/s{i}"))).unwrap(),
            "read-only",
            "ro/s{i} was written through its writable name"
        );
    }
}
