//! Grant enforcement of the host APIs (`https`, `fs`, `secrets`) on a real
//! component: the `hostile/reach` fixture hands its tool input straight to
//! the host APIs and reports what it got back as JSON.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use yoi_host::{Host, HostBuilder, ToolOutcome, ToolRequest, ToolStatus};

use crate::stub::{Reply, Stub};
use crate::{altered_copy, builder};

/// A host with the reach fixture loaded: `https` lists what its manifest
/// requests besides `api.example.com`, `grants` what the operator grants.
pub struct Reach {
    pub host: Host,
    pub data: tempfile::TempDir,
    _pkg: tempfile::TempDir,
}

pub fn reach(
    https: &[&str],
    grants: &[&str],
    configure: impl FnOnce(HostBuilder) -> HostBuilder,
) -> Reach {
    let requested: Vec<String> = std::iter::once("\"api.example.com\"".to_owned())
        .chain(https.iter().map(|h| format!("\"{h}\"")))
        .collect();
    let pkg = altered_copy("hostile/reach", |t| {
        t.replace(
            "https = [\"api.example.com\"]",
            &format!("https = [{}]", requested.join(", ")),
        )
    });
    let data = tempfile::tempdir().expect("temp dir");
    let host = configure(builder().data_dir(data.path()))
        .build()
        .expect("host starts");
    host.load_with_grants(pkg.path(), grants)
        .expect("reach loads (run `cargo xtask build-examples` first)");
    Reach {
        host,
        data,
        _pkg: pkg,
    }
}

/// A reach host that requests and is granted `origin` for https.
pub fn reach_origin(origin: &str, configure: impl FnOnce(HostBuilder) -> HostBuilder) -> Reach {
    reach(&[origin], &[&format!("https:{origin}")], configure)
}

impl Reach {
    /// Calls a reach tool; returns what the guest saw and the outcome.
    pub async fn call(&self, tool: &str, input: Value) -> (Value, ToolOutcome) {
        call_tool(&self.host, &format!("hostile.reach.{tool}"), input).await
    }

    pub fn root(&self) -> std::path::PathBuf {
        self.data.path().join("hostile.reach")
    }
}

pub async fn call_tool(host: &Host, name: &str, input: Value) -> (Value, ToolOutcome) {
    let outcome = host
        .call_tool(ToolRequest {
            name: name.into(),
            input,
            call_id: "c1".into(),
            turn: 0,
        })
        .await;
    let seen = serde_json::from_str(&outcome.output).unwrap_or(Value::Null);
    (seen, outcome)
}

/// Asserts the guest got a typed denial for `capability`, that the host
/// recorded it on the tool run, and returns the guest's view of it.
#[track_caller]
pub fn assert_denied(seen: &Value, outcome: &ToolOutcome, capability: &str) -> String {
    assert_eq!(seen["error"], "denied", "{seen:#} / {outcome:#?}");
    assert_eq!(seen["capability"], capability, "{seen:#}");
    let run = outcome.run.as_ref().expect("the tool ran");
    assert_eq!(run.denials.len(), 1, "{:#?}", run.denials);
    assert_eq!(run.denials[0].capability, capability);
    assert!(
        run.logs
            .iter()
            .any(|l| l.message.contains("permission denied")
                && l.message.contains(&run.denials[0].fix)),
        "the denial is logged with its fix: {:#?}",
        run.logs
    );
    seen["reason"].as_str().unwrap_or_default().to_owned()
}

fn port_grant(stub: &Stub) -> String {
    format!("http://127.0.0.1:{}", stub.port)
}

#[cfg(feature = "https")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_granted_request_succeeds_and_redirects_are_rechecked() {
    let other = Stub::start(|_| Reply::ok("you should never see this"));
    let other_url = other.url("/");
    let stub = Stub::start(move |path| match path {
        "/hello" => Reply::ok("hello from the stub"),
        "/hop" => Reply::redirect("/hello"),
        "/away" => Reply::redirect(&other_url),
        "/evil" => Reply::redirect("https://evil.example.net/steal"),
        _ => Reply {
            status: 404,
            ..Reply::default()
        },
    });
    let grant = port_grant(&stub);
    let r = reach_origin(&grant, |b| b);

    let (seen, _) = r.call("fetch", json!({"url": stub.url("/hello")})).await;
    assert_eq!(seen["ok"]["status"], 200, "{seen:#}");
    assert_eq!(seen["ok"]["body"], "hello from the stub");

    // A redirect to the same granted origin is followed.
    let (seen, _) = r.call("fetch", json!({"url": stub.url("/hop")})).await;
    assert_eq!(seen["ok"]["body"], "hello from the stub", "{seen:#}");
    assert_eq!(seen["ok"]["url"], stub.url("/hello"));

    // A redirect to another port, or another host, is refused at that hop.
    for path in ["/away", "/evil"] {
        let (seen, outcome) = r.call("fetch", json!({"url": stub.url(path)})).await;
        let reason = assert_denied(&seen, &outcome, "https");
        assert!(reason.contains("redirected from"), "{reason}");
    }
    assert!(
        other.seen.lock().unwrap().is_empty(),
        "the other server was never contacted"
    );
}

#[cfg(feature = "https")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn hosts_schemes_and_ip_forms_outside_the_grant_are_refused() {
    let stub = Stub::start(|_| Reply::ok("reached"));
    let port = stub.port;
    // The grant names 127.0.0.1 over https only.
    let https_only = format!("127.0.0.1:{port}");
    let r = reach_origin(&https_only, |b| b);

    let cases = [
        format!("http://127.0.0.1:{port}/"), // http:// to an https-only grant
        "https://evil.example.net/".to_owned(), // a host not granted
        "https://api.example.com.evil.net/".to_owned(),
        format!("http://localhost:{port}/"), // localhost, not granted
        format!("http://2130706433:{port}/"), // 127.0.0.1 as one number
        format!("http://0x7f.1:{port}/"),    // 127.0.0.1 in hex, short form
        format!("http://127.1:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "https://user:pw@api.example.com/".to_owned(), // user info
        "ftp://api.example.com/".to_owned(),           // another scheme
    ];
    for url in &cases {
        let (seen, outcome) = r.call("fetch", json!({"url": url})).await;
        assert_denied(&seen, &outcome, "https");
    }
    assert!(
        stub.seen.lock().unwrap().is_empty(),
        "nothing reached the server"
    );

    // The fix names the exact grant, or says the manifest must ask first.
    let (seen, _) = r
        .call(
            "fetch",
            json!({"url": "https://api.example.com/x?key=secret"}),
        )
        .await;
    assert_eq!(
        seen["fix"],
        "to allow it, run `yoi grant hostile.reach https:api.example.com`"
    );
    assert_eq!(
        seen["target"], "https://api.example.com/x",
        "queries are not recorded"
    );
    let (seen, _) = r
        .call("fetch", json!({"url": "https://evil.example.net/"}))
        .await;
    assert!(
        seen["fix"]
            .as_str()
            .unwrap()
            .contains("does not request `https:evil.example.net`"),
        "{seen:#}"
    );
}

#[cfg(feature = "https")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn granted_names_that_resolve_to_private_addresses_are_refused() {
    // `localhost` granted by name may reach loopback: the operator named it.
    let stub = Stub::start(|_| Reply::ok("local"));
    let by_name = format!("http://localhost:{}", stub.port);
    let r = reach_origin(&by_name, |b| b);
    let (seen, _) = r.call("fetch", json!({"url": format!("{by_name}/")})).await;
    assert_eq!(seen["ok"]["body"], "local", "{seen:#}");

    // Any other granted name that resolves to a private address is refused
    // after resolution (DNS rebinding). `ip6-localhost` is such a name where
    // /etc/hosts defines it, as Debian's does.
    let resolves = tokio::net::lookup_host(("ip6-localhost", 80)).await.is_ok();
    if resolves {
        let name = format!("http://ip6-localhost:{}", stub.port);
        let r = reach_origin(&name, |b| b);
        let (seen, outcome) = r.call("fetch", json!({"url": format!("{name}/")})).await;
        let reason = assert_denied(&seen, &outcome, "https");
        assert!(reason.contains("not a public address"), "{reason}");
    } else {
        eprintln!("skipped the ip6-localhost case: the name does not resolve here");
    }
}

#[cfg(feature = "https")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn slow_and_large_responses_are_bounded_without_blocking_others() {
    let stub = Stub::start(|path| match path {
        "/slow" => Reply {
            delay: Duration::from_secs(3),
            ..Reply::ok("late")
        },
        "/big" => Reply::ok(&"x".repeat(300_000)),
        _ => Reply::ok("fast"),
    });
    let grant = port_grant(&stub);
    let r = reach_origin(&grant, |b| {
        b.https_limits(Duration::from_millis(400), 1024, 100_000)
    });

    let (seen, _) = r.call("fetch", json!({"url": stub.url("/big")})).await;
    assert_eq!(seen["error"], "too_large", "{seen:#}");

    // The plugin's own time limit is the host's at most.
    let t0 = Instant::now();
    let (seen, _) = r.call("fetch", json!({"url": stub.url("/slow")})).await;
    assert_eq!(seen["error"], "timeout", "{seen:#}");
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t0.elapsed()
    );

    // A request body past the limit never leaves.
    let (seen, _) = r
        .call(
            "fetch",
            json!({"url": stub.url("/post"), "method": "POST", "body": "y".repeat(2000)}),
        )
        .await;
    assert_eq!(seen["error"], "too_large", "{seen:#}");

    // While one call waits on a slow server, another plugin call runs.
    let slow = r.call("fetch", json!({"url": stub.url("/slow")}));
    let fast = async {
        let t0 = Instant::now();
        let (seen, _) = r.call("fetch", json!({"url": stub.url("/fast")})).await;
        (seen, t0.elapsed())
    };
    let ((slow_seen, _), (fast_seen, fast_took)) = tokio::join!(slow, fast);
    assert_eq!(fast_seen["ok"]["body"], "fast");
    assert!(fast_took < Duration::from_millis(350), "{fast_took:?}");
    assert_eq!(slow_seen["error"], "timeout");
}

/// `https.open` (a body read as it arrives) goes through the same checks
/// as `send`, and its own bounds hold: size counted across pieces, a
/// stalled body times out, at most 4 bodies open per instance.
#[cfg(feature = "https")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn streamed_responses_are_granted_and_bounded_like_whole_ones() {
    let other = Stub::start(|_| Reply::ok("you should never see this"));
    let elsewhere = other.url("/");
    let stub = Stub::start(move |path| match path {
        "/big" => Reply::ok(&"x".repeat(300_000)),
        "/away" => Reply::redirect(&elsewhere),
        "/stall" => Reply {
            delay: Duration::from_secs(3),
            ..Reply::ok("late")
        },
        _ => Reply::ok("streamed body"),
    });
    let grant = port_grant(&stub);
    let r = reach_origin(&grant, |b| {
        b.https_limits(Duration::from_millis(400), 1024, 100_000)
    });
    let (seen, _) = r
        .call("fetch", json!({"url": stub.url("/ok"), "stream": true}))
        .await;
    assert_eq!(seen["ok"]["body"], "streamed body", "{seen:#}");

    let (seen, outcome) = r
        .call("fetch", json!({"url": stub.url("/away"), "stream": true}))
        .await;
    let reason = assert_denied(&seen, &outcome, "https");
    assert!(reason.contains("redirected from"), "{reason}");

    let (seen, outcome) = r
        .call(
            "fetch",
            json!({"url": "http://127.0.0.2:9/", "stream": true}),
        )
        .await;
    assert_denied(&seen, &outcome, "https");

    // The response size limit holds for streamed bodies too.
    let (seen, _) = r
        .call("fetch", json!({"url": stub.url("/big"), "stream": true}))
        .await;
    assert_eq!(seen["error"], "too_large", "{seen:#}");

    let t0 = Instant::now();
    let (seen, _) = r
        .call("fetch", json!({"url": stub.url("/stall"), "stream": true}))
        .await;
    assert_eq!(seen["error"], "timeout", "{seen:#}");
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t0.elapsed()
    );

    // Four bodies open at once is the most; the fifth is refused.
    let (seen, _) = r
        .call(
            "fetch",
            json!({"url": stub.url("/ok"), "stream": true, "hold": 3}),
        )
        .await;
    assert_eq!(seen["ok"]["held"], 3, "{seen:#}");
    let (seen, _) = r
        .call(
            "fetch",
            json!({"url": stub.url("/ok"), "stream": true, "hold": 4}),
        )
        .await;
    assert_eq!(seen["error"], "failed", "{seen:#}");
    assert!(
        seen["message"]
            .as_str()
            .unwrap_or_default()
            .contains("responses are open already"),
        "{seen:#}"
    );
    // Every call still works: bodies held to the end of a call were
    // released with its instance.
    let (seen, _) = r
        .call("fetch", json!({"url": stub.url("/ok"), "stream": true}))
        .await;
    assert_eq!(seen["ok"]["body"], "streamed body", "{seen:#}");
}

#[cfg(feature = "https")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_call_waiting_on_the_network_is_stopped_at_its_time_limit() {
    let stub = Stub::start(|_| Reply {
        delay: Duration::from_secs(5),
        ..Reply::ok("late")
    });
    let grant = port_grant(&stub);
    let r = reach_origin(&grant, |b| b.tool_timeout(Duration::from_millis(300)));
    let t0 = Instant::now();
    let (_, outcome) = r.call("fetch", json!({"url": stub.url("/")})).await;
    assert_eq!(outcome.status, ToolStatus::Timeout, "{outcome:#?}");
    assert!(
        outcome.output.contains("waiting on the host"),
        "{}",
        outcome.output
    );
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    // The instance that was cut off is not reused: the next call works.
    let (_, outcome) = r.call("secret", json!({"key": "GRANTED_KEY"})).await;
    assert_eq!(outcome.status, ToolStatus::Ok, "{outcome:#?}");
}

fn write_outside(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("secret.txt"), "outside").unwrap();
}

#[cfg(feature = "fs")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn fs_stays_inside_the_grant_whatever_the_path_or_link() {
    let r = reach(&[], &["fs:notes:rw"], |b| b);
    let root = r.root();
    let outside = r.data.path().join("outside");
    write_outside(&outside);
    std::fs::create_dir_all(root.join("notes")).unwrap();
    std::fs::create_dir_all(root.join("private")).unwrap();
    std::fs::write(root.join("private/key.txt"), "private").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        // Links made by someone else: absolute, climbing, to a sibling
        // folder that is not granted, and the trailing-slash chain.
        symlink(&outside, root.join("notes/abs")).unwrap();
        symlink("../../outside", root.join("notes/up")).unwrap();
        symlink("../private/key.txt", root.join("notes/sibling")).unwrap();
        symlink("evil/", root.join("notes/link1")).unwrap();
        symlink(&outside, root.join("notes/evil")).unwrap();
    }

    let (seen, _) = r
        .call(
            "file",
            json!({"op": "write", "path": "notes/a.md", "data": "hi"}),
        )
        .await;
    assert_eq!(seen, json!({"ok": null}));
    let (seen, _) = r
        .call("file", json!({"op": "read", "path": "notes/a.md"}))
        .await;
    assert_eq!(seen["ok"], "hi");

    let escapes = [
        ("read", "../outside/secret.txt"),
        ("read", "notes/../../outside/secret.txt"),
        ("read", "/etc/passwd"),
        ("read", "private/key.txt"),
        ("read", "notes/abs/secret.txt"),
        ("read", "notes/up/secret.txt"),
        ("read", "notes/sibling"),
        ("read", "notes/link1/secret.txt"),
        ("read", "notes/link1/secret.txt/"),
        ("write", "notes/abs/secret.txt"),
        ("write", "notes/link1/new.txt"),
        ("write", "notes/link1/"),
        ("list", "notes/up"),
        ("list", "notes/link1/"),
        ("mkdir", "notes/evil/made"),
    ];
    for (op, path) in escapes {
        let (seen, outcome) = r
            .call("file", json!({"op": op, "path": path, "data": "x"}))
            .await;
        assert_eq!(seen["error"], "denied", "{op} {path}: {seen:#}");
        assert_eq!(
            outcome.run.as_ref().unwrap().denials.len(),
            1,
            "{op} {path}"
        );
    }

    // Links the plugin makes must land inside a grant, and links inside
    // work, however their text gets there.
    for target in [
        "../../outside",
        "/etc",
        "../private",
        "../../hostile.reach/notes",
    ] {
        let (seen, _) = r
            .call(
                "file",
                json!({"op": "symlink", "path": "notes/mine", "to": target}),
            )
            .await;
        assert_eq!(seen["error"], "denied", "{target}: {seen:#}");
    }
    for (alias, target) in [("notes/alias", "a.md"), ("notes/round", "../notes/a.md")] {
        let (seen, _) = r
            .call(
                "file",
                json!({"op": "symlink", "path": alias, "to": target}),
            )
            .await;
        assert_eq!(seen, json!({"ok": null}), "{target}");
        let (seen, _) = r.call("file", json!({"op": "read", "path": alias})).await;
        assert_eq!(seen["ok"], "hi");
    }

    // Nothing outside changed, and nothing was pulled in.
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "outside"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_to_string(root.join("private/key.txt")).unwrap(),
        "private"
    );
}

#[cfg(feature = "fs")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn read_only_grants_refuse_every_write() {
    let r = reach(&[], &["fs:docs:ro", "fs:scratch:rw"], |b| b);
    let root = r.root();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/guide.md"), "read me").unwrap();

    let (seen, _) = r
        .call("file", json!({"op": "read", "path": "docs/guide.md"}))
        .await;
    assert_eq!(seen["ok"], "read me");
    let (seen, _) = r.call("file", json!({"op": "list", "path": "docs"})).await;
    assert_eq!(seen["ok"], json!(["guide.md"]));

    let writes = [
        json!({"op": "write", "path": "docs/guide.md", "data": ""}),
        json!({"op": "append", "path": "docs/guide.md", "data": "x"}),
        json!({"op": "write", "path": "docs/new.md", "data": "x"}),
        json!({"op": "mkdir", "path": "docs/sub"}),
        json!({"op": "remove", "path": "docs/guide.md"}),
        json!({"op": "rename", "path": "docs/guide.md", "to": "scratch/guide.md"}),
        json!({"op": "rename", "path": "scratch/x.md", "to": "docs/x.md"}),
        json!({"op": "symlink", "path": "docs/l", "to": "guide.md"}),
        json!({"op": "hardlink", "path": "scratch/g.md", "to": "docs/guide.md"}),
        json!({"op": "hardlink", "path": "docs/g.md", "to": "scratch/x.md"}),
    ];
    std::fs::create_dir_all(root.join("scratch")).unwrap();
    std::fs::write(root.join("scratch/x.md"), "x").unwrap();
    for input in writes {
        let (seen, outcome) = r.call("file", input.clone()).await;
        let reason = assert_denied(&seen, &outcome, "fs");
        assert!(reason.contains("read-only"), "{input}: {reason}");
        assert!(
            seen["fix"].as_str().unwrap().contains("fs:docs:rw"),
            "{seen:#}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(root.join("docs/guide.md")).unwrap(),
        "read me"
    );
    assert_eq!(std::fs::read_dir(root.join("docs")).unwrap().count(), 1);

    // A path under no grant at all.
    let (seen, outcome) = r
        .call("file", json!({"op": "read", "path": "other/x"}))
        .await;
    assert_denied(&seen, &outcome, "fs");
    assert!(
        seen["fix"]
            .as_str()
            .unwrap()
            .contains("yoi grant hostile.reach fs:other:ro"),
        "{seen:#}"
    );
}

#[cfg(feature = "fs")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_quota_counts_every_byte_the_plugin_keeps() {
    let r = reach(&[], &["fs:.:rw"], |b| b.fs_quota(1000));
    let write = |path: &str, n: usize| json!({"op": "write", "path": path, "data": "z".repeat(n)});
    assert_eq!(r.call("file", write("a", 600)).await.0, json!({"ok": null}));
    let (seen, outcome) = r.call("file", write("b", 600)).await;
    let reason = assert_denied(&seen, &outcome, "fs");
    assert!(
        reason.contains("quota of 1000 bytes") || reason.contains("quota is 1000 bytes"),
        "{reason}"
    );
    assert!(
        !r.root().join("b").exists(),
        "the refused write left nothing"
    );
    // Replacing a file counts the difference; removing frees it.
    assert_eq!(r.call("file", write("a", 100)).await.0, json!({"ok": null}));
    assert_eq!(r.call("file", write("b", 800)).await.0, json!({"ok": null}));
    let (seen, _) = r
        .call(
            "file",
            json!({"op": "append", "path": "b", "data": "z".repeat(200)}),
        )
        .await;
    assert_eq!(seen["error"], "denied");
    assert_eq!(
        r.call("file", json!({"op": "remove", "path": "a"})).await.0,
        json!({"ok": null})
    );
    let (seen, _) = r
        .call(
            "file",
            json!({"op": "append", "path": "b", "data": "z".repeat(150)}),
        )
        .await;
    assert_eq!(seen, json!({"ok": null}));
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn secrets_outside_the_grant_are_refused() {
    let secrets: std::collections::HashMap<String, String> = [
        ("GRANTED_KEY".to_owned(), "s3cr3t".to_owned()),
        ("OTHER_KEY".to_owned(), "other".to_owned()),
    ]
    .into();
    let r = reach(&[], &["secret:GRANTED_KEY"], |b| b.secrets(secrets));
    let (seen, _) = r.call("secret", json!({"key": "GRANTED_KEY"})).await;
    assert_eq!(seen["ok"], "s3cr3t");
    let (seen, outcome) = r.call("secret", json!({"key": "OTHER_KEY"})).await;
    assert_denied(&seen, &outcome, "secret");
    assert_eq!(
        seen["fix"],
        "to allow it, run `yoi grant hostile.reach secret:OTHER_KEY`"
    );
    assert!(
        !outcome.output.contains("other\""),
        "the value never reaches the guest"
    );
    let (seen, _) = r.call("secret", json!({"key": "NOT_REQUESTED"})).await;
    assert_eq!(seen["error"], "denied");
    let (seen, _) = r.call("secret", json!({"key": "bad key!"})).await;
    assert_eq!(seen["error"], "invalid");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn grants_wider_than_the_request_are_refused_at_load() {
    let data = tempfile::tempdir().unwrap();
    let host = builder().data_dir(data.path()).build().unwrap();
    let dir = crate::example("hostile/reach");
    for bad in [
        "https:evil.example.net",
        "secret:NOT_REQUESTED",
        "fs:..:rw",
        "net:x",
    ] {
        let err = host.load_with_grants(&dir, &[bad]).unwrap_err().to_string();
        assert!(err.contains(bad) || err.contains("refused"), "{bad}: {err}");
    }
    assert!(host.plugins().is_empty());
}

/// A host's capability list (yoi.toml's `[capabilities]`) caps the grants
/// the registry holds: a registry grant the list does not allow is not
/// given on that host, and the plugin's call that needed it is denied;
/// the same registry without a list gives it.
#[cfg(all(feature = "registry", feature = "fs"))]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_hosts_capability_list_caps_the_registrys_grants() {
    let (_reg_dir, registry) = crate::registry();
    crate::publish_and_activate(
        &registry,
        &crate::example("hostile/reach"),
        &yoi_registry::Activation::by("ops"),
    );
    let config_dir = tempfile::tempdir().expect("config dir");
    let file = config_dir.path().join("yoi.toml");
    std::fs::write(&file, "[capabilities]\nallow = [\"secret:GRANTED_KEY\"]\n").expect("yoi.toml");
    let config = yoi_host::HostConfig::load(&file).expect("yoi.toml parses");
    let list = |on: bool| {
        let data = tempfile::tempdir().expect("data");
        let mut b = builder()
            .registry(std::sync::Arc::clone(&registry))
            .data_dir(data.path());
        if on {
            b = b.apply(&config);
        }
        (b.build().expect("host boots"), data)
    };
    let (open, _d1) = list(false);
    let (seen, out) = call_tool(
        &open,
        "hostile.reach.file",
        json!({"op": "list", "path": "."}),
    )
    .await;
    assert!(
        seen.get("error").is_none(),
        "granted without a list: {seen:#} {out:#?}"
    );

    let (capped, _d2) = list(true);
    let (seen, out) = call_tool(
        &capped,
        "hostile.reach.file",
        json!({"op": "list", "path": "."}),
    )
    .await;
    assert_denied(&seen, &out, "fs");
}
