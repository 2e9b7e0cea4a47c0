//! `yoi serve`: every write answered with its audit record, JSON packages
//! and hostile uploads, previews, upgrade plans and the doctor over HTTP.

use super::*;

/// The HTTP API on a real process: tokens, publish, activate, snapshot,
/// every refusal audited, and the change stream.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn serve_answers_every_write_with_its_audit_record() {
    let server = serve();
    let work = tempfile::tempdir().expect("temp");
    let op = |json: serde_json::Value| Some(json.to_string().into_bytes());

    // Tokens: none, unknown, read-only.
    let (status, body) = send(&server, "/api/v1/snapshot", None, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = send(&server, "/api/v1/snapshot", Some(&"0".repeat(64)), None).await;
    assert_eq!(status, 401);
    let (status, body) = send(&server, "/api/v1/snapshot", Some(&server.ro), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["versions"], serde_json::json!([]));
    let activate =
        serde_json::json!({"op": "activate", "plugin": "example.guard", "version": "0.1.0"});
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.ro),
        op(activate.clone()),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // Refused writes are audited like any failed write: the read-only
    // token's actor, and a write without a valid token as `unauthenticated`
    // (the first from an address in a window; the rest are summarized,
    // see hostile::unauthenticated_floods_leave_a_bounded_record).
    assert_eq!(body["audit"]["actor"], "dashboard", "{body}");
    assert_eq!(body["audit"]["outcome"], "error", "{body}");
    for (token, recorded) in [(None, true), (Some("0".repeat(64)), false)] {
        let (status, body) = send(
            &server,
            "/api/v1/packages",
            token.as_deref(),
            Some(b"anything".to_vec()),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        if recorded {
            assert_eq!(body["audit"]["actor"], "unauthenticated", "{body}");
            assert_eq!(body["audit"]["action"], "publish", "{body}");
        } else {
            assert!(body["audit"].is_null(), "{body}");
        }
    }

    // The change stream, opened before the writes.
    let client = reqwest::Client::new();
    let mut stream = client
        .get(format!("{}/api/v1/changes", server.url))
        .bearer_auth(&server.ro)
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status().as_u16(), 200);

    // Publish a .yoi, then activate it.
    let (status, body) = send(
        &server,
        "/api/v1/packages",
        Some(&server.rw),
        Some(guard_archive(work.path())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["audit"]["action"], "publish");
    assert_eq!(body["audit"]["actor"], "operator");
    assert_eq!(body["record"]["record"]["state"], "published");
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.rw),
        op(activate.clone()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["record"]["state"], "active");
    assert_eq!(body["audit"]["outcome"], "ok");

    // First where the registry stood when the stream opened, then the
    // change, which the server announces as soon as it wrote it.
    let hello = next_event(&mut stream).await;
    assert!(hello.starts_with("event: marks\n"), "{hello}");
    let update = next_event(&mut stream).await;
    assert!(update.starts_with("event: plugins.updated\n"), "{update}");
    let marks: serde_json::Value =
        serde_json::from_str(update.split("data: ").nth(1).expect("data").trim()).expect("JSON");
    assert!(
        marks["seq"].as_i64() > Some(0) && marks["audit"].as_i64() > Some(0),
        "{marks}"
    );
    // A change by another process (here the CLI) arrives within a second.
    for args in [
        &["disable", "example.guard", "--reason", "by the CLI"][..],
        &["enable", "example.guard"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
            .arg("--registry")
            .arg(&server.home)
            .args(args)
            .output()
            .expect("yoi runs");
        assert!(out.status.success(), "{}", text(&out));
        let heard = tokio::time::timeout(Duration::from_secs(1), next_event(&mut stream))
            .await
            .expect("another process's change is announced within a second");
        assert!(heard.starts_with("event: plugins.updated\n"), "{heard}");
        // The snapshot served next holds the change (not a copy kept from
        // before it).
        let (_, snap) = send(&server, "/api/v1/snapshot", Some(&server.ro), None).await;
        let disabled = snap["disabled"].get("example.guard").is_some();
        assert_eq!(disabled, args[0] == "disable", "{args:?}: {snap}");
    }

    // Refusals: each answered with its status and its audit record.
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.rw),
        op(serde_json::json!({"op": "rollback", "plugin": "example.guard", "version": "9.9.9"})),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["audit"]["outcome"], "error");
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.rw),
        Some(b"{not json".to_vec()),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["audit"]["action"], "request");
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.rw),
        op(serde_json::json!({"op": "activate", "plugin": "example.guard", "version": "0.1.0", "force": true})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("force")),
        "{body}"
    );
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.rw),
        Some(vec![b' '; 200 * 1024]),
    )
    .await;
    assert_eq!(
        status, 413,
        "an oversized body is refused before it is read"
    );
    assert_eq!(body["audit"]["outcome"], "error", "{body}");
    assert!(
        body["audit"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("limit of 65536 bytes")),
        "{body}"
    );
    let (status, body) = send(
        &server,
        "/api/v1/packages",
        Some(&server.rw),
        Some(b"not an archive".to_vec()),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["audit"]["action"], "publish");
    let (status, body) = send(&server, "/api/v1/nothing", Some(&server.rw), None).await;
    assert_eq!(status, 404, "{body}");

    // Two writers at once: both answered and audited, one consistent state.
    let deactivate =
        serde_json::json!({"op": "deactivate", "plugin": "example.guard", "version": "0.1.0"});
    let (a, b) = tokio::join!(
        send(
            &server,
            "/api/v1/operations",
            Some(&server.rw),
            op(deactivate.clone())
        ),
        send(
            &server,
            "/api/v1/operations",
            Some(&server.rw),
            op(deactivate.clone())
        ),
    );
    let oks = [&a, &b]
        .iter()
        .filter(|(_, body)| body["ok"] == true)
        .count();
    assert_eq!(oks, 1, "{a:?} {b:?}");
    assert!(a.1["audit"]["id"] != b.1["audit"]["id"]);
    let (_, snap) = send(
        &server,
        "/api/v1/snapshot?limit=1000",
        Some(&server.ro),
        None,
    )
    .await;
    assert_eq!(snap["active_versions"], serde_json::json!({}));
    let audits = snap["audits"].as_array().expect("audits");
    assert_eq!(
        audits
            .iter()
            .filter(|a| a["action"] == "deactivate")
            .count(),
        2,
        "both writers are in the audit log"
    );
    // What the CLI reads is what the API serves.
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args([
            "--registry",
            server.home.to_str().expect("utf-8"),
            "snapshot",
            "--json",
            "--limit",
            "1000",
        ])
        .output()
        .expect("yoi snapshot");
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(cli, snap);
}

/// A package as JSON: the manifest and the artifact as base64 or as a
/// file:// URL. The URL is not trusted: only files inside a folder the
/// operator named with --files-from, links followed, regular files only.
/// Every refusal is answered with its reason and is in the audit log.
#[tokio::test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
async fn serve_takes_json_packages_and_refuses_hostile_artifacts() {
    use base64::Engine as _;
    use support::{send_json, serve_with};
    let allowed = tempfile::tempdir().expect("allowed folder");
    let outside = tempfile::tempdir().expect("outside folder");
    let artifact = std::fs::read(example("guard").join("guard.wasm")).expect("artifact");
    let digest = yoi_manifest::Digest::of(&artifact).to_string();
    std::fs::write(allowed.path().join("guard.wasm"), &artifact).expect("copy");
    std::fs::write(outside.path().join("guard.wasm"), &artifact).expect("copy");
    std::os::unix::fs::symlink(
        outside.path().join("guard.wasm"),
        allowed.path().join("link.wasm"),
    )
    .expect("link");
    mkfifo(&allowed.path().join("fifo.wasm"));
    let manifest = |version: &str| -> String {
        std::fs::read_to_string(example("guard").join("plugin.toml"))
            .expect("manifest")
            .replacen(
                "version = \"0.1.0\"",
                &format!("version = \"{version}\""),
                1,
            )
    };
    let url = |path: &Path| format!("file://{}", path.display());
    let server = serve_with(&["--files-from", allowed.path().to_str().expect("utf-8")]);
    let packages = "/api/v1/packages";

    // Base64, with the manifest as text.
    let b64 = base64::engine::general_purpose::STANDARD.encode(&artifact);
    let pkg = serde_json::json!({"manifest": manifest("1.0.0"), "artifact_digest": digest, "artifact": b64});
    let (status, body) = send_json(&server, packages, &server.rw, &pkg).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["record"]["record"]["version"], "1.0.0");
    // A file inside the allowed folder, with the manifest as a JSON object
    // and an actor the token acts for.
    let table: toml::Table = toml::from_str(&manifest("1.1.0")).expect("TOML");
    let pkg = serde_json::json!({
        "manifest": table, "artifact_digest": digest,
        "artifact": url(&allowed.path().join("guard.wasm")), "actor": "build-7",
    });
    let (status, body) = send_json(&server, packages, &server.rw, &pkg).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["audit"]["actor"], "build-7 via operator");

    // Hostile artifacts: each refused, with the reason, and audited.
    let outside_file = outside.path().join("guard.wasm");
    let escape = allowed
        .path()
        .join("../")
        .join(outside.path().file_name().expect("name"))
        .join("guard.wasm");
    let cases: Vec<(String, &str)> = vec![
        (
            url(&outside_file),
            "not inside a folder given with --files-from",
        ),
        (url(&escape), "not inside a folder given with --files-from"),
        (
            url(&allowed.path().join("link.wasm")),
            "not inside a folder given with --files-from",
        ),
        (url(&allowed.path().join("fifo.wasm")), "not a regular file"),
        (url(&allowed.path().join("missing.wasm")), "does not exist"),
        (
            "file://example.com/etc/passwd".into(),
            "not a file:// URL of a local path",
        ),
        ("https://example.com/guard.wasm".into(), "scheme `https:`"),
        ("data:application/wasm;base64,AAAA".into(), "scheme `data:`"),
        (
            "%%% not base64 %%%".into(),
            "neither base64 nor a file:// URL",
        ),
    ];
    for (i, (artifact, why)) in cases.iter().enumerate() {
        let pkg = serde_json::json!({
            "manifest": manifest(&format!("2.0.{i}")), "artifact_digest": digest, "artifact": artifact,
        });
        let (status, body) = send_json(&server, packages, &server.rw, &pkg).await;
        assert_eq!(status, 422, "{artifact}: {body}");
        let error = body["error"].as_str().expect("error");
        assert!(error.contains(why), "{artifact}: {error}");
        assert_eq!(body["audit"]["action"], "publish", "{body}");
        assert_eq!(body["audit"]["outcome"], "error", "{body}");
        assert!(
            body["audit"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains(why))
        );
    }
    // A digest that is not the bytes', and a manifest that pins another.
    let other = format!("sha256:{}", "0".repeat(64));
    let pkg = serde_json::json!({"manifest": manifest("3.0.0"), "artifact_digest": other, "artifact": b64});
    let (status, body) = send_json(&server, packages, &server.rw, &pkg).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("hash to")),
        "{body}"
    );
    let pinned = manifest("3.0.1").replace(&digest, &other);
    let pkg = serde_json::json!({"manifest": pinned, "artifact_digest": digest, "artifact": b64});
    let (status, body) = send_json(&server, packages, &server.rw, &pkg).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("E0")),
        "coded: {body}"
    );
    // Malformed requests: 400, audited.
    for (bad, why) in [
        (
            serde_json::json!({"manifest": "x", "artifact_digest": digest, "artifact": b64, "extra": 1}),
            "unknown field",
        ),
        (
            serde_json::json!({"manifest": 7, "artifact_digest": digest, "artifact": b64}),
            "plugin.toml's text or a JSON object",
        ),
        (
            serde_json::json!({"manifest": "x", "artifact_digest": digest, "artifact": b64, "actor": "a b"}),
            "`actor`",
        ),
        (serde_json::json!([1, 2]), "a JSON package is"),
        // One field under the push contract's name and Yoi's own.
        (
            serde_json::json!({"manifest": "x", "artifact_digest": digest, "artifactDigest": digest, "artifact": b64}),
            "duplicate field",
        ),
        (
            serde_json::json!({"manifest": "x", "artifactUrl": b64, "artifact": b64}),
            "each field under one name",
        ),
    ] {
        let (status, body) = send_json(&server, packages, &server.rw, &bad).await;
        let expected = if why.contains("plugin.toml") {
            422
        } else {
            400
        };
        assert_eq!(status, expected, "{bad}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(why)),
            "{bad}: {body}"
        );
        assert_eq!(body["audit"]["outcome"], "error", "{body}");
    }
    // The push contract's names: the manifest as an object, the file by
    // `artifactUrl`, the digest by `artifactDigest`, or no digest (the
    // manifest pins one); no artifact at all is refused with the fix.
    let table: toml::Table = toml::from_str(&manifest("4.0.0")).expect("TOML");
    let contract = serde_json::json!({
        "manifest": table, "artifactDigest": digest,
        "artifactUrl": url(&allowed.path().join("guard.wasm")),
    });
    let (status, body) = send_json(&server, packages, &server.rw, &contract).await;
    assert_eq!(status, 200, "{body}");
    let table: toml::Table = toml::from_str(&manifest("4.0.1")).expect("TOML");
    let undigested = serde_json::json!({"manifest": table, "artifactUrl": url(&allowed.path().join("guard.wasm"))});
    let (status, body) = send_json(&server, packages, &server.rw, &undigested).await;
    assert_eq!(status, 200, "{body}");
    let bare = serde_json::json!({"manifest": manifest("4.0.2")});
    let (status, body) = send_json(&server, packages, &server.rw, &bare).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("no artifact") && e.contains("artifactUrl")),
        "{body}"
    );
    // The snapshot in the contract's shape, Yoi's fields beside.
    let (status, snap) = support::send(
        &server,
        "/api/v1/snapshot?shape=contract",
        Some(&server.ro),
        None,
    )
    .await;
    assert_eq!(status, 200, "{snap}");
    let v = snap["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["version"] == "4.0.0"))
        .expect("4.0.0 in the snapshot");
    assert_eq!(v["pluginId"], "example.guard", "{v}");
    assert_eq!(v["state"], "published");
    assert_eq!(
        v["rollout"],
        serde_json::json!({"scope": "all", "rolloutPct": 100})
    );
    assert_eq!(
        v["manifest"]["plugin"]["version"], "4.0.0",
        "an object: {v}"
    );
    assert!(
        v["manifestText"]
            .as_str()
            .is_some_and(|t| t.contains("[plugin]"))
    );
    assert_eq!(v["digest"], serde_json::json!(digest));
    for key in ["publishedAt", "publishedBy", "updatedAt"] {
        assert!(v.get(key).is_some(), "{key}: {v}");
    }
    assert!(snap["activeVersions"].is_object(), "{snap}");
    assert!(snap["audits"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(snap.get("grants").is_some() && snap.get("hosts").is_some());
    let (status, plain) = support::send(
        &server,
        "/api/v1/snapshot?shape=odd",
        Some(&server.ro),
        None,
    )
    .await;
    assert_eq!(status, 400, "{plain}");

    // Read-only tokens cannot publish.
    let (status, _) = send_json(&server, packages, &server.ro, &pkg).await;
    assert_eq!(status, 403);

    // Without --files-from, file:// artifacts are off, with the fix.
    let plain = support::serve();
    let pkg = serde_json::json!({
        "manifest": manifest("1.0.0"), "artifact_digest": digest,
        "artifact": url(&allowed.path().join("guard.wasm")),
    });
    let (status, body) = send_json(&plain, packages, &plain.rw, &pkg).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("--files-from")),
        "{body}"
    );
}

/// Install with a preview over the API: an upload is opened and described
/// without being published; its token is used once, expires, and is bound
/// to the digest it showed; refusals are audited.
#[tokio::test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
async fn a_previewed_upload_is_published_only_by_its_token_and_digest() {
    use support::send_json;
    let server = serve();
    let dir = tempfile::tempdir().expect("temp");
    let archive = guard_archive(dir.path());
    let digest = yoi_manifest::Package::open(&example("guard"), &yoi_host::Host::compat())
        .map(|p| yoi_manifest::Digest::of(p.artifact()).to_string())
        .expect("guard");
    let preview = |token: String| {
        let archive = archive.clone();
        let server = &server;
        async move { send(server, "/api/v1/previews", Some(&token), Some(archive)).await }
    };
    let snapshot_versions = |server: &support::Server| {
        yoi_registry::Registry::open(&server.home)
            .expect("registry")
            .snapshot()
            .expect("snapshot")
            .versions
            .len()
    };

    // The preview: what it is and asks for, nothing published.
    let (status, body) = preview(server.rw.clone()).await;
    assert_eq!(status, 200, "{body}");
    let p = &body["record"];
    assert_eq!(p["plugin"], "example.guard");
    assert_eq!(p["version"], "0.1.0");
    assert_eq!(p["kind"], "new");
    assert_eq!(p["digest"], serde_json::json!(digest));
    assert_eq!(p["hooks"], serde_json::json!(["tool.pre_exec"]));
    assert_eq!(p["settings"][0]["name"], "deny");
    assert!(
        p["contract"]
            .as_str()
            .is_some_and(|c| c.starts_with("yoi:plugin@"))
    );
    assert!(p["expires_at"].as_i64() > Some(0));
    assert_eq!(snapshot_versions(&server), 0, "a preview publishes nothing");
    let token = p["token"].as_str().expect("token").to_owned();

    // Another digest: refused, audited, and the token is spent.
    let other = format!("sha256:{}", "0".repeat(64));
    let confirm = "/api/v1/previews/publish";
    let (status, body) = send_json(
        &server,
        confirm,
        &server.rw,
        &serde_json::json!({"token": token, "digest": other}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("the preview showed")),
        "{body}"
    );
    assert_eq!(body["audit"]["action"], "publish");
    assert_eq!(body["audit"]["outcome"], "error");
    let (status, body) = send_json(
        &server,
        confirm,
        &server.rw,
        &serde_json::json!({"token": token, "digest": digest}),
    )
    .await;
    assert_eq!(status, 404, "spent: {body}");
    assert_eq!(snapshot_versions(&server), 0);

    // A fresh preview, confirmed with its digest: published, once.
    let (_, body) = preview(server.rw.clone()).await;
    let token = body["record"]["token"].as_str().expect("token").to_owned();
    let yes = serde_json::json!({"token": token, "digest": digest, "actor": "page"});
    let (status, body) = send_json(&server, confirm, &server.rw, &yes).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["audit"]["action"], "publish");
    assert_eq!(body["audit"]["actor"], "page via operator");
    assert_eq!(snapshot_versions(&server), 1);
    let (status, _) = send_json(&server, confirm, &server.rw, &yes).await;
    assert_eq!(status, 404, "used once");
    // The same upload again is described as what it would be.
    let (_, body) = preview(server.rw.clone()).await;
    assert_eq!(body["record"]["kind"], "republish", "{body}");

    // Read-only tokens preview nothing; garbage is refused and audited.
    let (status, _) = preview(server.ro.clone()).await;
    assert_eq!(status, 403);
    let (status, body) = send(
        &server,
        "/api/v1/previews",
        Some(&server.rw),
        Some(b"not an archive".to_vec()),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot be previewed")),
        "{body}"
    );
    assert_eq!(body["audit"]["action"], "preview");
}

/// The page's reads: an upgrade plan, the doctor's report, the server's
/// posture; each for any token, refused without one, bad queries answered
/// with what is wrong.
#[tokio::test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
async fn serve_answers_upgrade_plans_the_doctor_and_its_posture() {
    let server = serve();
    let dir = tempfile::tempdir().expect("temp");
    let (status, body) = send(
        &server,
        "/api/v1/packages",
        Some(&server.rw),
        Some(guard_archive(dir.path())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let plan = "/api/v1/upgrade?plugin=example.guard&version=0.1.0";
    let (status, body) = send(&server, plan, Some(&server.ro), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["from"],
        serde_json::Value::Null,
        "nothing runs: {body}"
    );
    assert_eq!(body["to"]["version"], "0.1.0");
    assert_eq!(
        body["diff"]["hooks"]["added"],
        serde_json::json!(["tool.pre_exec"])
    );
    for (query, status_wanted, why) in [
        ("plugin=example.guard&version=9.9.9", 404, "9.9.9"),
        (
            "plugin=example.guard&version=latest",
            400,
            "not a semver version",
        ),
        ("plugin=example.guard", 400, "plugin=ID&version=VERSION"),
    ] {
        let (status, body) = send(
            &server,
            &format!("/api/v1/upgrade?{query}"),
            Some(&server.ro),
            None,
        )
        .await;
        assert_eq!(status, status_wanted, "{query}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(why)),
            "{query}: {body}"
        );
    }
    let (status, _) = send(&server, plan, None, None).await;
    assert_eq!(status, 401);

    let (status, report) = send(&server, "/api/v1/doctor", Some(&server.ro), None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["healthy"], true, "{report}");
    assert!(report["checked"].as_array().is_some_and(|c| !c.is_empty()));
    let (status, _) = send(&server, "/api/v1/doctor", None, None).await;
    assert_eq!(status, 401);

    let (status, who) = send(&server, "/api/v1/whoami", Some(&server.ro), None).await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(
        who["posture"],
        serde_json::json!({"registry": "sqlite", "database_in_clear": false, "exposed": false, "files_from": 0, "safe_mode": false})
    );
}
