//! Operating a registry from the command line: the lifecycle from publish
//! to clear, settings, the doctor, services and observers as recorded,
//! `yoi dev`, and upgrades.

use super::*;

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn operator_flow_publish_grant_activate_rollback_audit_clear() {
    let home = tempfile::tempdir().expect("registry folder");
    let run = operator(home.path());
    let guard = example("guard");
    let guard = guard.to_str().expect("utf-8");

    let out = run(&["publish", guard]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("published example.guard@0.1.0"),
        "{}",
        text(&out)
    );
    let again = run(&["publish", guard]);
    assert!(
        text(&again).contains("already published"),
        "{}",
        text(&again)
    );

    // Logging needs no grant; asking for one says so.
    let refused = run(&["grant", "example.guard", "log"]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused).contains("logging needs no grant"),
        "{}",
        text(&refused)
    );

    // A refused publish is in the audit log, with its reason.
    let broken = tempfile::tempdir().expect("broken package");
    std::fs::copy(
        example("guard").join("guard.wasm"),
        broken.path().join("guard.wasm"),
    )
    .expect("copy");
    let manifest = std::fs::read_to_string(example("guard").join("plugin.toml")).expect("manifest");
    std::fs::write(
        broken.path().join("plugin.toml"),
        manifest.replace("digest = \"sha256:", "digest = \"sha256:0"),
    )
    .expect("write");
    let out = run(&["publish", broken.path().to_str().expect("utf-8")]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let audit = text(&run(&["audit"]));
    assert!(
        audit.contains("publish") && audit.contains("was refused: E01"),
        "{audit}"
    );
    let out = run(&[
        "activate",
        "example.guard@0.1.0",
        "--scope",
        "canary",
        "--rollout",
        "25",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A second version: same component, newer manifest version.
    let v2 = tempfile::tempdir().expect("v2 package");
    let src = example("guard");
    std::fs::copy(src.join("guard.wasm"), v2.path().join("guard.wasm")).expect("copy");
    let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
    std::fs::write(
        v2.path().join("plugin.toml"),
        manifest.replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1),
    )
    .expect("write");
    assert_eq!(
        run(&["publish", v2.path().to_str().expect("utf-8")])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["activate", "example.guard@0.2.0"]).status.code(),
        Some(0)
    );
    let out = run(&["rollback", "example.guard@0.1.0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let show = run(&["show", "example.guard", "--json"]);
    let show: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show JSON");
    let states: Vec<(&str, &str)> = show["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap_or(""),
                v["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(states, vec![("0.1.0", "active"), ("0.2.0", "rolled_back")]);
    assert_eq!(
        show["versions"][0]["rollout"]["percent"], 100,
        "rollback keeps the rolled-back rollout"
    );

    let list = run(&["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("list JSON");
    assert_eq!(list[0]["active"], "0.1.0");

    let audit = run(&["audit", "example.guard", "--json"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let actions: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["record"]["action"].as_str().unwrap_or(""),
                l["record"]["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("publish", "ok"),
            ("publish", "ok"),
            ("grant", "error"),
            ("activate", "ok"),
            ("publish", "ok"),
            ("activate", "ok"),
            ("rollback", "ok"),
        ]
    );
    assert!(lines.iter().all(|l| l["record"]["actor"] == "ops-test"));

    // The snapshot pages through the audit log.
    let out = run(&["snapshot", "--json", "--after", "0", "--limit", "3"]);
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).expect("snapshot JSON");
    assert_eq!(snap["audits"].as_array().map(Vec::len), Some(3));
    assert_eq!(snap["active_versions"]["example.guard"], "0.1.0");
    let next = snap["audits_next"].as_i64().expect("a next page");
    let out = run(&["snapshot", "--json", "--after", &next.to_string()]);
    let rest: serde_json::Value = serde_json::from_slice(&out.stdout).expect("snapshot JSON");
    let all = run(&["snapshot", "--json", "--limit", "1000"]);
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).expect("snapshot JSON");
    let count = |v: &serde_json::Value| v["audits"].as_array().map_or(0, Vec::len);
    assert!(count(&rest) > 0);
    assert_eq!(3 + count(&rest), count(&all), "{rest:#}");
    assert!(rest["audits_next"].is_null());
    assert_eq!(rest["seq"], snap["seq"]);
    // Without a cursor: the newest records, as a dashboard wants them.
    let out = run(&["snapshot", "--json", "--limit", "2"]);
    let newest: serde_json::Value = serde_json::from_slice(&out.stdout).expect("snapshot JSON");
    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v["audits"]
            .as_array()
            .expect("audits")
            .iter()
            .filter_map(|a| a["id"].as_i64())
            .collect()
    };
    assert_eq!(ids(&newest), ids(&all)[ids(&all).len() - 2..]);
    assert!(newest["audits_next"].is_null());

    // Removing: never the active version, and not with a malformed target.
    let out = run(&["remove", "example.guard@0.1.0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("R0111 example.guard@0.1.0 is active"),
        "{}",
        text(&out)
    );
    let out = run(&["remove", "example.guard"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("ID@VERSION"), "{}", text(&out));
    let out = run(&["remove", "example.guard", "--all"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one version is active: {}",
        text(&out)
    );
    let out = run(&["remove", "example.guard@0.2.0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("removed example.guard@0.2.0"),
        "{}",
        text(&out)
    );
    let show = run(&["show", "example.guard", "--json"]);
    let show: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show JSON");
    assert_eq!(show["versions"].as_array().map(Vec::len), Some(1));

    let out = run(&["prune", "--events-older-than", "soon"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("e.g. 30d"), "{}", text(&out));
    let out = run(&["prune", "--events-older-than", "30d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).starts_with("pruned 0 events and 0 unreferenced artifacts"),
        "{}",
        text(&out)
    );

    assert_eq!(run(&["clear"]).status.code(), Some(2), "clear needs --yes");
    assert_eq!(run(&["clear", "--yes"]).status.code(), Some(0));
    let list = run(&["list", "--json"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]");
}

/// `yoi doctor` on a registry that goes wrong in each way it can: a grant
/// that outlived the request it was made for, an active version this build
/// cannot run, a tampered artifact, a damaged database. Each is reported
/// with its code and fix, and the exit code says whether anything is wrong.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn doctor_finds_what_breaks_a_registry() {
    let home = tempfile::tempdir().expect("registry folder");
    let run = operator(home.path());
    let ok = |args: &[&str]| {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "yoi {args:?}: {}", text(&out));
    };
    let example_path = |name: &str| example(name).to_str().expect("utf-8").to_owned();

    // An empty folder is healthy: nothing was published.
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("no registry at"), "{}", text(&out));

    ok(&["publish", &example_path("guard")]);
    ok(&["activate", "example.guard@0.1.0"]);
    ok(&["publish", &example_path("weather")]);
    ok(&[
        "grant",
        "example.weather",
        "https:api.weather.example",
        "https:http://127.0.0.1:18451",
        "secret:WEATHER_API_KEY",
        "secret:WEATHER_API_URL",
    ]);
    ok(&["activate", "example.weather@0.1.0"]);
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).trim_end().ends_with("healthy"), "{}", text(&out));

    // 0.2.0 no longer asks for the local stand-in; the grant for it stays.
    let narrower = tempfile::tempdir().expect("package");
    for file in ["weather.wasm", "plugin.toml"] {
        std::fs::copy(example("weather").join(file), narrower.path().join(file)).expect("copy");
    }
    let manifest = narrower.path().join("plugin.toml");
    let text_before = std::fs::read_to_string(&manifest).expect("manifest");
    let changed = text_before
        .replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1)
        .replace(
            "https = [\"api.weather.example\", \"http://127.0.0.1:18451\"]",
            "https = [\"api.weather.example\"]",
        );
    assert_ne!(changed, text_before);
    std::fs::write(&manifest, changed).expect("write");
    ok(&["publish", narrower.path().to_str().expect("utf-8")]);
    ok(&["activate", "example.weather@0.2.0"]);

    // An active version built for a contract this build does not serve
    // (published through the library with another host's compatibility).
    {
        let registry = yoi_registry::Registry::open(home.path()).expect("registry");
        let other_host = yoi_manifest::Compat {
            contracts: vec!["yoi:plugin@0.9.0".parse().expect("contract")],
            ..yoi_host::Host::compat()
        };
        let component = wat::parse_str(
            "(component (core module) (instance $i) \
             (export \"yoi:plugin/tool-pre-exec@0.9.0\" (instance $i)))",
        )
        .expect("component");
        let text = format!(
            "[plugin]\nid = \"acme.future\"\nversion = \"1.0.0\"\ncontract = \"yoi:plugin@0.9.0\"\n\n\
             [runtime]\nkind = \"wasm-component\"\nartifact = \"f.wasm\"\ndigest = \"{}\"\n\n\
             [[hooks]]\npoint = \"tool.pre_exec\"\n",
            yoi_manifest::Digest::of(&component)
        );
        let package = yoi_manifest::Package::from_bytes("future", &text, component, &other_host)
            .expect("the other host accepts it");
        registry
            .publish(&package, &other_host, "ops-test")
            .expect("publish");
        registry
            .activate(
                "acme.future",
                &semver::Version::new(1, 0, 0),
                &yoi_registry::Activation::by("ops-test"),
            )
            .expect("activate");
    }

    // And guard's stored artifact is altered.
    let snapshot = run(&["show", "example.guard", "--json"]);
    let show: serde_json::Value = serde_json::from_slice(&snapshot.stdout).expect("show JSON");
    let digest = show["versions"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let blob = home
        .path()
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::write(&blob, b"not the component").expect("tamper");

    let out = run(&["doctor"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("error[R0105] example.weather: the grant `https:http://127.0.0.1:18451` is wider than what example.weather@0.2.0 requests"), "{all}");
    assert!(
        all.contains("fix: `yoi revoke example.weather https:http://127.0.0.1:18451`"),
        "{all}"
    );
    assert!(all.contains("error[R0203] acme.future@1.0.0:"), "{all}");
    assert!(all.contains("yoi:plugin@0.9.0"), "{all}");
    assert!(all.contains("error[R0201] example.guard@0.1.0:"), "{all}");
    assert!(all.contains("3 problem(s)"), "{all}");

    let out = run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["healthy"], false);
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "problem")
        .map(|f| f["code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(codes.len(), 3, "{codes:?}");
    for code in ["R0105", "R0201", "R0203"] {
        assert!(codes.contains(&code), "{codes:?}");
    }
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["fix"].is_string())
    );

    // A token file others can read.
    let tokens = home.path().join("serve-tokens");
    std::fs::write(&tokens, format!("rw operator {}\n", "a".repeat(64))).expect("tokens");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let all = text(&run(&["doctor"]));
        assert!(all.contains("error[R0308]"), "{all}");
        assert!(all.contains("chmod 600"), "{all}");
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let all = text(&run(&["doctor"]));
        assert!(
            !all.contains("R0308") && all.contains("readable by its owner only"),
            "{all}"
        );
    }

    // A damaged database: nothing else can be checked, and it says how back.
    let db = home.path().join(yoi_registry::DATABASE_FILE);
    let mut bytes = std::fs::read(&db).expect("db");
    bytes[4096..8192].fill(0xa5);
    std::fs::write(&db, bytes).expect("damage");
    let out = run(&["doctor"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("error[R0304]"), "{all}");
    assert!(all.contains("fix:"), "{all}");
}

/// `yoi config`: values checked at set time against the active version,
/// shown by scope with secrets masked, a secret never in the audit log or
/// the database file, and the same through the HTTP API.
#[tokio::test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
async fn config_values_are_checked_scoped_and_secrets_stay_sealed() {
    const SECRET: &str = "sk-e2e-secret-0042";
    let home = tempfile::tempdir().expect("registry");
    let run = operator(home.path());
    // The guard package (it declares the setting `deny`).
    let pkg = tempfile::tempdir().expect("package");
    std::fs::copy(
        example("guard").join("guard.wasm"),
        pkg.path().join("guard.wasm"),
    )
    .expect("copy");
    // The guard declares `deny`; a secret setting is added.
    let manifest = std::fs::read_to_string(example("guard").join("plugin.toml")).expect("read")
        + "\n[config.api_key]\ntype = \"string\"\nsecret = true\n";
    std::fs::write(pkg.path().join("plugin.toml"), manifest).expect("write");
    let dir = pkg.path().to_str().expect("utf-8");
    let out = run(&["publish", dir]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["activate", "example.guard@0.1.0"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = run(&["config", "set", "example.guard", "deny", r#"["rm","dd"]"#]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&[
        "config",
        "set",
        "example.guard",
        "deny",
        r#"["rm"]"#,
        "--scope",
        "canary",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["config", "set", "example.guard", "api_key", SECRET]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(SECRET), "{}", text(&out));
    // Refused at set time with the schema's reason, exit 1.
    let out = run(&["config", "set", "example.guard", "deny", "[1]"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("R0113"), "{}", text(&out));
    assert!(
        text(&out).contains("1 is not of type \"string\""),
        "{}",
        text(&out)
    );
    let out = run(&[
        "config",
        "set",
        "example.guard",
        "deny",
        "[]",
        "--scope",
        "moon",
    ]);
    assert_eq!(out.status.code(), Some(2), "a usage error: {}", text(&out));

    let out = run(&["config", "show", "example.guard"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("deny  (list, default [\"shell\",\"delete_file\"])"),
        "{shown}"
    );
    assert!(shown.contains("all: [\"rm\",\"dd\"]"), "{shown}");
    assert!(shown.contains("canary: [\"rm\"]"), "{shown}");
    assert!(shown.contains("all: •••••• (secret)"), "{shown}");
    let out = run(&["config", "show", "example.guard", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["settings"][0]["name"], "deny");
    assert_eq!(json["values"].as_array().map(Vec::len), Some(3));

    // The secret is nowhere to be read: not in show, the audit log, the
    // snapshot, or any file of the registry folder.
    for args in [
        &["config", "show", "example.guard", "--json"][..],
        &["audit", "example.guard", "--json"][..],
        &["snapshot", "--json", "--after", "0", "--limit", "1000"][..],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains(SECRET), "{args:?} shows the secret");
    }
    for entry in std::fs::read_dir(home.path()).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
            assert!(!found, "the secret is readable in {}", path.display());
        }
    }

    // `yoi doctor` checks the key that seals the secrets.
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("secret settings of 1 plugins open"),
        "{}",
        text(&out)
    );
    let key = home.path().join("config.key");
    let saved = std::fs::read(&key).expect("key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = run(&["doctor"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("error[R0309]"), "{}", text(&out));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    std::fs::remove_file(&key).expect("lose the key");
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("error[R0305]"), "{}", text(&out));
    std::fs::write(&key, saved).expect("restore the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    // A secret given in a file or on standard input (never an argument
    // `ps` shows), for the canary scope; `doctor` opens every scope's, so a
    // canary value that no longer opens is found while `all`'s still does.
    let file = pkg.path().join("canary-key.txt");
    std::fs::write(&file, "sk-canary-from-file-7\n").expect("write");
    let file_arg = file.to_str().expect("utf-8");
    let out = run(&[
        "config",
        "set",
        "example.guard",
        "api_key",
        "--from-file",
        file_arg,
        "--scope",
        "canary",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = yoi(
        &[
            "--registry",
            home.path().to_str().expect("utf-8"),
            "config",
            "set",
            "example.guard",
            "api_key",
            "-",
            "--scope",
            "beta",
        ],
        Some("sk-beta-from-stdin-8\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let db = rusqlite::Connection::open(home.path().join(yoi_registry::DATABASE_FILE)).expect("db");
    db.execute(
        "UPDATE config SET value = (SELECT value FROM config WHERE scope = 'all' AND key = 'api_key') \
         WHERE scope = 'canary' AND key = 'api_key'",
        [],
    )
    .expect("swap the canary's sealed value");
    drop(db);
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("error[R0305]"), "{}", text(&out));
    let out = run(&[
        "config",
        "unset",
        "example.guard",
        "api_key",
        "--scope",
        "canary",
    ]);
    assert!(out.status.success(), "{}", text(&out));

    // `yoi plugin test` takes values from --config and --config-file.
    let payload = pkg.path().join("call.json");
    std::fs::write(
        &payload,
        r#"{"tool_name":"curl","input":"{}","call_id":"c1","turn":1}"#,
    )
    .expect("payload");
    let test = |extra: &[&str]| {
        let mut args = vec!["plugin", "test", dir, "--hook", "tool.pre_exec"];
        args.extend(["--payload", payload.to_str().expect("utf-8")]);
        args.extend_from_slice(extra);
        yoi(&args, None)
    };
    let out = test(&[]);
    assert!(
        text(&out).contains(": ok in"),
        "the default lets curl through: {}",
        text(&out)
    );
    let out = test(&["--config", r#"deny=["curl"]"#]);
    assert!(
        text(&out).contains("tool `curl` is on the deny list"),
        "{}",
        text(&out)
    );
    let file = pkg.path().join("settings.toml");
    std::fs::write(&file, "deny = [\"curl\"]\n").expect("settings file");
    let out = test(&["--config-file", file.to_str().expect("utf-8")]);
    assert!(
        text(&out).contains("tool `curl` is on the deny list"),
        "{}",
        text(&out)
    );
    for (bad, why) in [
        ("deny=curl", "written as JSON"),
        (
            "denny=[]",
            "`denny` is not a setting of example.guard; it declares: deny",
        ),
        ("deny", "is not KEY=VALUE"),
    ] {
        let out = test(&["--config", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
        assert!(text(&out).contains(why), "{bad}: {}", text(&out));
    }

    // The same through the HTTP API.
    let server = support::serve_in(home.path(), &[]);
    let ops = "/api/v1/operations";
    let set = serde_json::json!({"op": "config_set", "plugin": "example.guard", "key": "deny", "value": ["curl"]});
    let (status, body) = support::send_json(&server, ops, &server.rw, &set).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["record"]["value"], serde_json::json!(["curl"]));
    let bad = serde_json::json!({"op": "config_set", "plugin": "example.guard", "key": "deny", "value": "curl"});
    let (status, body) = support::send_json(&server, ops, &server.rw, &bad).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["audit"]["outcome"], "error");
    let unknown = serde_json::json!({"op": "config_unset", "plugin": "example.guard", "key": "deny", "scope": "beta"});
    let (status, body) = support::send_json(&server, ops, &server.rw, &unknown).await;
    assert_eq!(status, 404, "{body}");
    let (_, snap) = send(&server, "/api/v1/snapshot", Some(&server.ro), None).await;
    let config = snap["config"].as_array().expect("config in the snapshot");
    let secret = config
        .iter()
        .find(|c| c["key"] == "api_key")
        .expect("api_key");
    assert_eq!(
        (secret["secret"].clone(), secret["value"].clone()),
        (true.into(), serde_json::Value::Null)
    );
    assert!(!snap.to_string().contains(SECRET));
}

/// An observer that falls behind: the host drops its oldest observations,
/// records how many in the registry's events, and `yoi show` says so.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn show_counts_what_a_slow_observer_dropped() {
    let home = tempfile::tempdir().expect("registry folder");
    let run = operator(home.path());
    let surfaces = example("hostile/surfaces");
    let data = tempfile::tempdir().expect("data");
    let host = operate_and_boot(
        home.path(),
        &[
            &["publish", surfaces.to_str().expect("utf-8")],
            &["grant", "example.surfaces", "fs:obs:rw"],
            &["config", "set", "example.surfaces", "spin", "40000000"],
            &["activate", "example.surfaces@0.1.0"],
        ],
        yoi_host::Host::builder().data_dir(data.path()),
    );
    for i in 0..200 {
        host.observe("tick", serde_json::json!({ "i": i }));
    }
    let started = std::time::Instant::now();
    while !host.observers()[0].idle() {
        assert!(started.elapsed().as_secs() < 20, "{:?}", host.observers());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    host.flush_events();
    let dropped = host.observers()[0].dropped;
    assert!(dropped > 100, "{:?}", host.observers());

    let out = run(&["show", "example.surfaces"]);
    let shown = text(&out);
    assert!(
        shown.contains("observer of receipt, tool_call, model_call")
            && shown.contains("provider example.surfaces.probe serves probe-*")
            && shown.contains(&format!("dropped {dropped} observations (queue full)")),
        "{shown}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&run(&["show", "example.surfaces", "--json"]).stdout).expect("json");
    assert_eq!(json["observer"]["dropped"], dropped);
    assert_eq!(json["providers"][0]["name"], "probe");
}

/// A host runs the services probe from the registry; its `flaky` service
/// traps and is restarted, its `doomed` one fails: `yoi service list` and
/// `show` say so from what the host recorded.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn service_show_says_a_trapping_service_was_restarted() {
    let home = tempfile::tempdir().expect("registry folder");
    let run = operator(home.path());
    let probe = example("hostile/services");
    let host = operate_and_boot(
        home.path(),
        &[
            &["publish", probe.to_str().expect("utf-8")],
            &[
                "grant",
                "example.services",
                "https:http://127.0.0.1:18471",
                "route:/probe",
                "--deny",
            ],
            &["activate", "example.services@0.1.0"],
        ],
        yoi_host::Host::builder(),
    );
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !done() {
            assert!(
                started.elapsed().as_secs() < 20,
                "{what}: {:?}",
                host.services()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let state = |name: &str| host.service("example.services", name).map(|s| s.state);
    until("flaky runs", &|| {
        state("flaky") == Some(yoi_host::ServiceState::Running)
    });
    host.send_to_service("example.services", "flaky", "trap", serde_json::json!({}))
        .expect("taken");
    until("flaky restarted", &|| {
        host.service("example.services", "flaky")
            .is_some_and(|s| s.restarts == 1 && s.state == yoi_host::ServiceState::Running)
    });
    until("doomed failed", &|| {
        state("doomed") == Some(yoi_host::ServiceState::Failed)
    });
    host.flush_events();

    let out = run(&["service", "show", "example.services/flaky"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("state:            running")
            && shown.contains("restarts:         1")
            && shown.contains("errors:           1")
            && shown.contains("last error:       trapped")
            && shown.contains("restarting in 50 ms"),
        "{shown}"
    );
    let out = run(&["service", "list", "example.services"]);
    let listed = text(&out);
    println!("{listed}\n{shown}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("example.services/doomed") && l.contains(" failed ")),
        "{listed}"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &run(&["service", "show", "example.services/doomed", "--json"]).stdout,
    )
    .expect("json");
    assert_eq!(
        (json["state"].as_str(), json["restarts"].as_u64()),
        (Some("failed"), Some(2))
    );
    assert!(
        json["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("gave up")
    );

    let shown = text(&run(&["show", "example.services"]));
    assert!(
        shown.contains("service flaky (timers and messages; queue 256, refuse; `yoi service show example.services/flaky`)")
            && shown.contains("service silent (route /probe/silent; queue 1, refuse;"),
        "{shown}"
    );
    let snapshot: serde_json::Value =
        serde_json::from_slice(&run(&["snapshot", "--json"]).stdout).expect("snapshot");
    let services: Vec<(&str, &str)> = snapshot["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|e| {
            (
                e["detail"]["service"].as_str().unwrap_or_default(),
                e["detail"]["state"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(services.contains(&("doomed", "failed")), "{services:?}");
    assert!(services.contains(&("flaky", "running")), "{services:?}");
    let out = run(&["service", "show", "example.services/nothing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("recorded services: "), "{}", text(&out));
    let out = run(&["service", "show", "no-slash"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `yoi dev` loads a plugin folder with yoi.toml's grants, picks up an
/// edited package within a second, and keeps the old version running when
/// the new one is broken.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn dev_mode_reloads_an_edited_package_and_keeps_the_old_one_when_broken() {
    use std::time::{Duration, Instant};
    let work = tempfile::tempdir().expect("temp dir");
    let pkg = work.path().join("plugins/guard");
    std::fs::create_dir_all(&pkg).expect("folder");
    for file in ["plugin.toml", "guard.wasm"] {
        std::fs::copy(example("guard").join(file), pkg.join(file)).expect("copy");
    }
    std::fs::write(
        work.path().join("yoi.toml"),
        "[plugins]\nfolders = [\"plugins\"]\n",
    )
    .expect("yoi.toml");
    let mut dev = Dev::start(work.path());
    let first = dev.next("reload", Duration::from_secs(60));
    assert_eq!(
        first["report"]["loaded"][0]["id"], "example.guard",
        "{first}"
    );
    assert!(dev.blocks("shell"));
    assert!(!dev.blocks("rm"));

    // The author edits the package: its deny list's default.
    let manifest = std::fs::read_to_string(pkg.join("plugin.toml")).expect("manifest");
    let edited = manifest.replace(
        "default = [\"shell\", \"delete_file\"]",
        "default = [\"rm\"]",
    );
    assert_ne!(edited, manifest);
    let t0 = Instant::now();
    std::fs::write(pkg.join("plugin.toml"), &edited).expect("edit");
    let reload = dev.next("reload", Duration::from_secs(5));
    let took = t0.elapsed();
    assert_eq!(
        reload["report"]["loaded"][0]["id"], "example.guard",
        "{reload}"
    );
    assert!(took < Duration::from_secs(1), "picked up in {took:?}");
    assert!(dev.blocks("rm"));
    assert!(!dev.blocks("shell"));

    // A broken edit: the running version stays, and the reason is printed.
    std::fs::write(
        pkg.join("plugin.toml"),
        edited.replace("[runtime]", "[runtime"),
    )
    .expect("break");
    let refused = dev.next("reload", Duration::from_secs(5));
    let why = &refused["report"]["refused"][0];
    assert_eq!(why["kept_previous"], "0.1.0", "{refused}");
    assert!(
        why["reason"].as_str().unwrap_or_default().contains("E0001"),
        "{refused}"
    );
    assert!(dev.blocks("rm"), "the previous version keeps running");

    // A wrong digest is refused the same way; fixing it loads it.
    std::fs::write(pkg.join("guard.wasm"), b"\0asm not really").expect("corrupt");
    std::fs::write(pkg.join("plugin.toml"), &edited).expect("fix the manifest");
    let refused = dev.next("reload", Duration::from_secs(5));
    assert!(
        refused["report"]["refused"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("E0302"),
        "{refused}"
    );
    assert!(dev.blocks("rm"));
    std::fs::copy(example("guard").join("guard.wasm"), pkg.join("guard.wasm")).expect("restore");
    let fixed = dev.next("reload", Duration::from_secs(5));
    assert!(
        fixed["report"]["kept"]
            .as_array()
            .is_some_and(|k| k.contains(&serde_json::json!("example.guard"))),
        "the same package as running: kept, {fixed}"
    );
    dev.send("quit");
}

/// `yoi upgrade`: the difference against the active version, refusals that
/// change nothing (a required setting without a value, undecided
/// capabilities, no confirmation), then each decision and the activation
/// on the active version's scope and rollout, every step audited.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn upgrade_shows_the_difference_and_changes_nothing_until_it_can_run() {
    let home = tempfile::tempdir().expect("registry folder");
    let run = operator(home.path());
    let guard = example("guard");
    let out = run(&["publish", guard.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(&[
        "activate",
        "example.guard@0.1.0",
        "--scope",
        "canary",
        "--rollout",
        "30",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // 0.2.0 asks for the network and a required setting, and retypes none.
    let pkg = tempfile::tempdir().expect("package");
    std::fs::copy(guard.join("guard.wasm"), pkg.path().join("guard.wasm")).expect("copy");
    let manifest = std::fs::read_to_string(guard.join("plugin.toml"))
        .expect("manifest")
        .replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1)
        + "\n[config.region]\ntype = \"string\"\nrequired = true\n\n\
           [capabilities]\nhttps = [\"api.example.com\"]\nsecrets = [\"api_key\"]\n";
    std::fs::write(pkg.path().join("plugin.toml"), manifest).expect("write");
    let out = run(&["publish", pkg.path().to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let audits = |home: &Path| {
        yoi_registry::Registry::open(home)
            .expect("registry")
            .snapshot()
            .expect("snapshot")
            .audits
            .len()
    };
    let before = audits(home.path());

    // The plan, as JSON, changes nothing.
    let out = run(&["upgrade", "example.guard", "0.2.0", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(plan["from"], "0.1.0");
    assert_eq!(plan["rollout"]["scope"], "canary");
    assert_eq!(
        plan["undecided"],
        serde_json::json!(["https:api.example.com", "secret:api_key"])
    );
    assert_eq!(
        plan["diff"]["settings"]["newly_required"],
        serde_json::json!(["region"])
    );

    // A required setting without a value: the diff, the fix, no change.
    let out = run(&[
        "upgrade",
        "example.guard",
        "0.2.0",
        "--yes",
        "--grant-added",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let said = text(&out);
    assert!(
        said.contains("upgrade example.guard 0.1.0 -> 0.2.0 (scope canary, 30%"),
        "{said}"
    );
    assert!(said.contains("+ https:api.example.com"), "{said}");
    assert!(
        said.contains("not decided: a grant or a denial is needed"),
        "{said}"
    );
    assert!(said.contains("! region is required by 0.2.0"), "{said}");
    assert!(
        said.contains("yoi config set example.guard region VALUE"),
        "{said}"
    );
    assert_eq!(audits(home.path()), before, "nothing changed: {said}");

    // The fix works while 0.1.0 runs: the setting is 0.2.0's.
    let out = run(&["config", "set", "example.guard", "region", "eu"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = audits(home.path());
    // Undecided capabilities, no terminal to ask on: refused, the fix named.
    let out = run(&["upgrade", "example.guard@0.2.0", "--yes"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("--grant-added or --deny-added"),
        "{}",
        text(&out)
    );
    // Decided, but not confirmed.
    let out = run(&["upgrade", "example.guard", "0.2.0", "--deny-added"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).contains("--yes` to confirm"), "{}", text(&out));
    assert_eq!(audits(home.path()), before, "nothing changed");

    // Confirmed: one grant each, then the activation on canary at 30 %.
    let out = run(&[
        "upgrade",
        "example.guard",
        "0.2.0",
        "--yes",
        "--grant-added",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("granted https:api.example.com"), "{said}");
    assert!(said.contains("granted secret:api_key"), "{said}");
    assert!(
        said.contains("activated example.guard@0.2.0 (scope canary, 30%); 0.1.0 is now inactive"),
        "{said}"
    );
    let snapshot = yoi_registry::Registry::open(home.path())
        .expect("registry")
        .snapshot()
        .expect("snapshot");
    let actions: Vec<&str> = snapshot.audits[before..]
        .iter()
        .map(|a| a.action.as_str())
        .collect();
    assert_eq!(
        actions,
        ["grant", "grant", "activate"],
        "each its own decision"
    );
    assert!(
        snapshot.audits[before..]
            .iter()
            .all(|a| a.actor == "ops-test")
    );
    // Again: nothing to do.
    let out = run(&["upgrade", "example.guard", "0.2.0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("active version already"),
        "{}",
        text(&out)
    );
}
