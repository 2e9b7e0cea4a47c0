//! What hostile clients do to a real `yoi serve` on loopback: slow heads,
//! idle floods, bodies that never come, foreign `Host` names, and insecure
//! starts. Each test was written before the fix and failed without it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::{Server, send, serve_with};

fn addr(server: &Server) -> SocketAddr {
    server
        .url
        .strip_prefix("http://")
        .expect("http URL")
        .parse()
        .expect("socket address")
}

/// A connection from the loopback address `from` (127.0.0.0/8 is all this
/// machine), so tests can play several peers.
async fn connect_from(server: &Server, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    socket.connect(addr(server)).await.expect("connect")
}

/// Everything the server sends until it closes, or until `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()?;
    Some(String::from_utf8_lossy(&got).into_owned())
}

/// A raw request, and the answer's status line and body.
async fn raw(server: &Server, request: String) -> String {
    let mut stream = connect_from(server, [127, 0, 0, 1]).await;
    stream.write_all(request.as_bytes()).await.expect("write");
    read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer within 10 s")
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn serve_holds_against_slow_idle_and_oversized_clients() {
    let server = serve_with(&[
        "--header-timeout",
        "2s",
        "--body-timeout",
        "2s",
        "--max-connections",
        "40",
        "--max-connections-per-peer",
        "8",
    ]);
    let port = addr(&server).port();

    // A head sent one byte at a time is cut off at the header timeout.
    let mut slow = connect_from(&server, [127, 0, 0, 5]).await;
    let started = Instant::now();
    let mut closed = false;
    for byte in b"GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\n".iter().cycle() {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(300), slow.read(&mut probe)).await
        {
            closed = true;
            break;
        }
        if started.elapsed() > Duration::from_secs(8) {
            break;
        }
    }
    assert!(
        closed,
        "a head trickling in for {:?} is still connected",
        started.elapsed()
    );

    // One address opening many idle connections holds only its share; the
    // rest are answered 503 at once; the operator is served.
    let mut idle = Vec::new();
    let mut busy = 0;
    for _ in 0..30 {
        let mut s = connect_from(&server, [127, 0, 0, 2]).await;
        if let Some(answer) = read_until_closed(&mut s, Duration::from_millis(100)).await {
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            assert!(answer.contains("per address"), "{answer}");
            assert!(
                answer.to_ascii_lowercase().contains("retry-after: 1"),
                "{answer}"
            );
            busy += 1;
        } else {
            idle.push(s);
        }
    }
    assert_eq!((idle.len(), busy), (8, 22), "8 held, the rest refused");
    let asked = Instant::now();
    let (status, body) = send(&server, "/api/v1/whoami", Some(&server.ro), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(asked.elapsed() < Duration::from_secs(2));

    // Many addresses filling the server: a newcomer is told 503 at once
    // (not left waiting), and served once they go. The first address's
    // connections go first, so every held one is fresh: an idle one is cut
    // at the 2 s header timeout, which would free its slot mid-check on a
    // slow machine.
    drop(std::mem::take(&mut idle));
    tokio::time::sleep(Duration::from_millis(200)).await;
    for last in 10..20u8 {
        for _ in 0..8 {
            idle.push(connect_from(&server, [127, 0, 0, last]).await);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    let answer = raw(
        &server,
        format!("GET /api/v1/whoami HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("its limit"), "{answer}");
    assert!(asked.elapsed() < Duration::from_secs(2));
    drop(idle);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = send(&server, "/api/v1/whoami", Some(&server.ro), None).await;
    assert_eq!(status, 200, "{body}");

    // A body declared far larger than the route allows: 413 before it is
    // read, audited.
    let asked = Instant::now();
    let answer = raw(
        &server,
        format!(
            "POST /api/v1/operations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Authorization: Bearer {}\r\nConnection: close\r\nContent-Length: 100000000\r\n\r\n{{",
            server.rw
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("declared as 100000000 bytes"), "{answer}");
    assert!(answer.contains("\"audit\":{"), "{answer}");
    assert!(asked.elapsed() < Duration::from_secs(2));

    // A body that stops coming: 408 at the body timeout.
    let asked = Instant::now();
    let answer = raw(
        &server,
        format!(
            "POST /api/v1/operations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Authorization: Bearer {}\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{{\"op\"",
            server.rw
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("--body-timeout"), "{answer}");
    assert!(asked.elapsed() < Duration::from_secs(5));

    // DNS rebinding: a name other than the server's own is refused before
    // any route, with the fix; its own names are served.
    let answer = raw(
        &server,
        format!(
            "GET /api/v1/whoami HTTP/1.1\r\nHost: rebind.example:{port}\r\n\
             Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
            server.ro
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
    assert!(answer.contains("--allow-host"), "{answer}");
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let answer = raw(
            &server,
            format!(
                "GET /api/v1/whoami HTTP/1.1\r\nHost: {host}\r\n\
                 Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
                server.ro
            ),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{host}: {answer}");
    }
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn serve_refuses_a_token_file_others_can_read_and_warns_off_loopback() {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    let home = tempfile::tempdir().expect("home");
    // First start writes the token file, owner-only.
    drop(crate::support::serve_in(home.path(), &[]));
    let tokens = home.path().join("serve-tokens");
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(["--registry", home.path().to_str().expect("utf-8")])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .expect("yoi serve runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("can be read by others (mode 644)"), "{err}");
    assert!(err.contains("chmod 600"), "{err}");

    // Beyond loopback over plain HTTP: it starts, and says so loudly.
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(["--registry", home.path().to_str().expect("utf-8")])
        .args(["serve", "--listen", "0.0.0.0:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("yoi serve starts");
    let mut line = String::new();
    let stderr = child.stderr.take().expect("stderr");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut line).expect("read");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("warning: "), "{line}");
    assert!(
        line.contains("plain HTTP")
            && line.contains("--listen 127.0.0.1")
            && line.contains("--allow-host"),
        "{line}"
    );
}

/// Text from outside reaches the terminal escaped: a reason that would
/// erase the line and write a fake one is printed as visible escapes, and
/// JSON output stays JSON.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn stored_control_characters_never_reach_the_terminal() {
    use std::process::Command;
    let home = tempfile::tempdir().expect("home");
    let registry = yoi_registry::Registry::open(home.path()).expect("registry");
    let forged = "oops\r\u{1b}[K2026-01-01 admin activate acme.evil@1.0.0 ok\u{9b}31m";
    registry.refused("ops", "request", forged);
    drop(registry);
    let yoi = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_yoi"))
            .args(["--registry", home.path().to_str().expect("utf-8")])
            .args(args)
            .output()
            .expect("yoi runs")
    };
    let out = yoi(&["audit"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\r') && !text.contains('\u{9b}'),
        "{text:?}"
    );
    assert!(text.contains("oops\\u000d\\u001b[K2026"), "{text}");
    let out = yoi(&["audit", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\u{9b}'), "{text:?}");
    let line = text.lines().last().expect("a line");
    let record: serde_json::Value = serde_json::from_str(line).expect("still JSON");
    assert!(
        record["record"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains('\u{9b}')),
        "the JSON still carries the text: {record}"
    );
}

/// Writes without a valid token are refused visibly but cannot grow the
/// registry without bound: each address's first in a window is recorded,
/// the rest counted and recorded as one summary.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn unauthenticated_floods_leave_a_bounded_record() {
    let server = serve_with(&["--refusal-window", "2s"]);
    let port = addr(&server).port();
    let mut recorded = 0;
    for i in 0..200 {
        let (status, body) = send(&server, "/api/v1/packages", None, Some(b"x".to_vec())).await;
        assert_eq!(status, 401, "{body}");
        if body["audit"].is_object() {
            recorded += 1;
        } else {
            assert!(i > 0, "the first is recorded: {body}");
            assert!(
                body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("recorded as one summary")),
                "{body}"
            );
        }
    }
    assert_eq!(recorded, 1, "one record for one address");
    // Another address's first refusal is its own record.
    let mut other = connect_from(&server, [127, 0, 0, 7]).await;
    other
        .write_all(
            format!(
                "POST /api/v1/operations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
                 Connection: close\r\nContent-Length: 2\r\n\r\n{{}}"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    let answer = read_until_closed(&mut other, Duration::from_secs(5))
        .await
        .expect("an answer");
    assert!(answer.contains("\"audit\":{"), "{answer}");

    tokio::time::sleep(Duration::from_millis(2600)).await;
    let (_, snap) = send(
        &server,
        "/api/v1/snapshot?after=0&limit=1000",
        Some(&server.ro),
        None,
    )
    .await;
    let audits = snap["audits"].as_array().expect("audits");
    let unauthenticated: Vec<&serde_json::Value> = audits
        .iter()
        .filter(|a| a["actor"] == "unauthenticated")
        .collect();
    assert_eq!(unauthenticated.len(), 3, "{unauthenticated:#?}");
    let summary = unauthenticated
        .iter()
        .find(|a| a["action"] == "refusals_summarized")
        .expect("a summary");
    let reason = summary["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("199 more writes"), "{reason}");
    assert!(reason.contains("127.0.0.1 ×199"), "{reason}");
}

/// `yoi audit` prints every record to the end, past a page of 10,000, with
/// the audit log and the events merged in time order.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn audit_prints_every_record_in_time_order_past_a_page() {
    let home = tempfile::tempdir().expect("home");
    drop(yoi_registry::Registry::open(home.path()).expect("registry"));
    let mut db =
        rusqlite::Connection::open(home.path().join(yoi_registry::DATABASE_FILE)).expect("db");
    let tx = db.transaction().expect("tx");
    // 12,000 audit records at even times, 12,000 events at odd times.
    for i in 0..12_000i64 {
        tx.execute(
            "INSERT INTO audit (at, actor, action, outcome, reason) VALUES (?1, 'ops', 'x', 'ok', 'r')",
            [1_000_000 + 2 * i],
        )
        .expect("audit");
        tx.execute(
            "INSERT INTO events (at, kind, plugin, detail) VALUES (?1, 'k', 'p.q', '{}')",
            [1_000_001 + 2 * i],
        )
        .expect("event");
    }
    tx.commit().expect("commit");
    drop(db);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(["--registry", home.path().to_str().expect("utf-8")])
        .args(["audit", "--json"])
        .output()
        .expect("yoi audit");
    assert!(out.status.success());
    let times: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            v["record"]["at"].as_i64().expect("at")
        })
        .collect();
    assert_eq!(times.len(), 24_000, "every record");
    assert!(times.windows(2).all(|w| w[0] < w[1]), "in time order");
}

/// A core module of `count` functions, each nesting `depth` loops and
/// keeping `locals` locals live across all of them: small bytes, costly to
/// compile.
pub fn explosive_module(count: usize, depth: usize, locals: usize) -> Vec<u8> {
    let mut wat = String::from("(module");
    for _ in 0..count {
        wat.push_str(" (func (param i32)");
        wat.push_str(&format!(" (local {})", "i32 ".repeat(locals)));
        for k in 0..depth {
            wat.push_str(&format!(" (loop $l{k}"));
        }
        for j in 1..=locals {
            wat.push_str(&format!(
                " (local.set {j} (i32.add (local.get {j}) (local.get {})))",
                (j % locals) + 1
            ));
        }
        for k in (0..depth).rev() {
            wat.push_str(&format!(
                " (br_if $l{k} (local.get {}))) ",
                (k % locals) + 1
            ));
        }
        wat.push(')');
    }
    wat.push(')');
    wat::parse_str(&wat).expect("valid WAT")
}

/// `component` with `module` appended as one more core module: never
/// instantiated, but compiled with the rest.
pub fn with_extra_module(component: &[u8], module: &[u8]) -> Vec<u8> {
    let mut out = component.to_vec();
    out.push(0x01); // core module section
    let mut size = module.len() as u64;
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(module);
    out
}

/// Compiles `bytes` with `yoi __compile`; whether it compiled, and how long.
pub fn worker_compile(bytes: &[u8], memory: u64, seconds: u64) -> (bool, Duration, String) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_yoi"))
        .arg("__compile")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("worker");
    let t = Instant::now();
    let mut stdin = child.stdin.take().expect("stdin");
    let header = format!(
        "{{\"memory_limit\":67108864,\"memory_bytes\":{memory},\"cpu_seconds\":{seconds}}}\n"
    );
    // A worker that stops early (out of memory) closes its input: the
    // answer says why, not the pipe.
    let _ = stdin
        .write_all(header.as_bytes())
        .and_then(|()| stdin.write_all(bytes));
    drop(stdin);
    let out = child.wait_with_output().expect("done");
    (
        out.status.success(),
        t.elapsed(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The guard package with `module` added to its component (digest updated).
fn guard_with(module: &[u8]) -> tempfile::TempDir {
    let src = crate::support::example("guard");
    guard_package(&with_extra_module(
        &std::fs::read(src.join("guard.wasm")).expect("guard"),
        module,
    ))
}

/// The guard's manifest over `bytes` as its component (digest updated).
fn guard_package(bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("package");
    let src = crate::support::example("guard");
    std::fs::write(dir.path().join("guard.wasm"), bytes).expect("write");
    let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
    let old = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("digest"))
        .expect("digest line");
    let manifest = manifest.replace(
        old,
        &format!("digest = \"{}\"", yoi_manifest::Digest::of(bytes)),
    );
    std::fs::write(dir.path().join("plugin.toml"), manifest).expect("write");
    dir
}

/// Processes whose parent is this test process and that run `__compile`.
fn compile_children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok())
        .filter(|e| {
            let dir = e.path();
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1));
            let cmd = std::fs::read(dir.join("cmdline")).unwrap_or_default();
            ppid == Some(me.as_str()) && String::from_utf8_lossy(&cmd).contains("__compile")
        })
        .count()
}

/// A small component that is costly to compile: refused by the default
/// loop-locals limit before any compile; with that limit lifted, its
/// compile is stopped at the time limit (the worker killed, nothing left
/// running), again on every try, and other plugins still load.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_compile_bomb_is_refused_or_stopped_and_never_blocks_other_loads() {
    // 300 loops around 300 locals: 30 s to compile, in 2 KB of code. The
    // limits refuse it from its bytes, in `yoi plugin check` too.
    let bomb = guard_with(&explosive_module(1, 300, 300));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(["plugin", "check", bomb.path().to_str().expect("utf-8")])
        .env_remove("YOI_CACHE")
        .output()
        .expect("yoi plugin check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("E0411") && text.contains("loop-locals"),
        "{text}"
    );

    // Within the limits, sixteen such functions still cost seconds: the
    // time limit stops the compile, in a worker that is killed.
    let heavy = guard_with(&explosive_module(16, 200, 99));
    let size = std::fs::metadata(heavy.path().join("guard.wasm"))
        .expect("meta")
        .len();
    assert!(size < 200_000, "a small component: {size} bytes");
    let host = yoi_host::Host::builder()
        .compile_worker(env!("CARGO_BIN_EXE_yoi"), ["__compile"], 2 << 30)
        .compile_limits(yoi_host::CodeLimits::default(), Duration::from_secs(1))
        .build()
        .expect("host");
    for _ in 0..3 {
        let started = Instant::now();
        let err = host.load(heavy.path()).expect_err("too costly").to_string();
        assert!(err.contains("took longer than 1 s"), "{err}");
        assert!(err.contains("stopped and its memory freed"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(compile_children(), 0, "the worker was killed");
    }
    // Another plugin loads at once: nothing of the bomb's is still running.
    let info = host
        .load(crate::support::example("guard"))
        .expect("guard loads");
    assert_eq!(info.id.as_str(), "example.guard");
}

/// The worker holds itself to the memory it is given: the same component
/// compiles with room and stops without it, whatever the compiler wants.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_compile_worker_holds_itself_to_its_memory() {
    let guard = std::fs::read(crate::support::example("guard").join("guard.wasm")).expect("guard");
    let (ok, _, err) = worker_compile(&guard, 2 << 30, 60);
    assert!(ok, "{err}");
    let (ok, _, err) = worker_compile(&guard, 2 << 20, 60);
    assert!(!ok, "compiled within 2 MiB of address space: {err}");
}

/// Safe mode through its environment variable: a host started with
/// `YOI_SAFE_MODE=1` (or `true`) loads no plugin and says how back; `0`
/// changes nothing.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn safe_mode_by_environment_loads_no_plugin() {
    let guard = crate::support::example("guard");
    let run = |value: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_yoi"))
            .args(["plugin", "test", guard.to_str().expect("utf-8")])
            .args(["--hook", "tool.pre_exec", "--payload", "-"])
            .env("YOI_SAFE_MODE", value)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("yoi");
        std::io::Write::write_all(
            &mut child.stdin.take().expect("stdin"),
            br#"{"tool_name":"shell","input":{},"call_id":"c","turn":1}"#,
        )
        .ok();
        let out = child.wait_with_output().expect("done");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    for on in ["1", "true"] {
        let (code, text) = run(on);
        assert_eq!(code, Some(1), "{text}");
        assert!(text.contains("safe mode"), "{text}");
        assert!(text.contains("unset YOI_SAFE_MODE"), "{text}");
    }
    let (code, text) = run("0");
    assert!(text.contains("blocked"), "{code:?}: {text}");
}

/// A component whose import has the wrong type (here the guard with its
/// `wasi:cli/stdout` and `wasi:cli/stderr` imports' names swapped: valid,
/// allowed names, but each now expects the other's function) is refused at
/// publish, by the CLI and over HTTP, as every host would refuse it at
/// load: a registry never takes what no host can run.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_wrongly_typed_import_is_refused_at_publish_like_at_load() {
    let guard = std::fs::read(crate::support::example("guard").join("guard.wasm")).expect("guard");
    let (out, err) = (
        b"wasi:cli/stdout@".as_slice(),
        b"wasi:cli/stderr@".as_slice(),
    );
    let mut swapped = Vec::with_capacity(guard.len());
    let mut i = 0;
    while i < guard.len() {
        let rest = &guard[i..];
        if rest.starts_with(out) {
            swapped.extend_from_slice(err);
            i += out.len();
        } else if rest.starts_with(err) {
            swapped.extend_from_slice(out);
            i += err.len();
        } else {
            swapped.push(guard[i]);
            i += 1;
        }
    }
    assert_ne!(swapped, guard, "the guard imports both");
    let dir = guard_package(&swapped);
    let manifest = std::fs::read_to_string(dir.path().join("plugin.toml")).expect("manifest");
    let digest = yoi_manifest::Digest::of(&swapped);

    let server = serve_with(&[]);
    let yoi = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_yoi"))
            .args(["--registry", server.home.to_str().expect("utf-8")])
            .args(args)
            .output()
            .expect("yoi");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let pkg = dir.path().to_str().expect("utf-8");
    let (code, text) = yoi(&["plugin", "check", pkg]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("has the wrong type"), "{text}");
    let (code, text) = yoi(&["publish", pkg]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("would not load on a host"), "{text}");

    // Over HTTP, as a JSON package.
    use base64::Engine as _;
    let body = serde_json::json!({
        "manifest": manifest,
        "artifact_digest": digest.to_string(),
        "artifact": base64::engine::general_purpose::STANDARD.encode(&swapped),
    });
    let (status, answer) =
        crate::support::send_json(&server, "/api/v1/packages", &server.rw, &body).await;
    assert_ne!(status, 200, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("would not load on a host") && e.contains("wrong type")),
        "{answer}"
    );
    let (_, snap) = send(&server, "/api/v1/snapshot", Some(&server.ro), None).await;
    assert_eq!(
        snap["versions"],
        serde_json::json!([]),
        "nothing was published"
    );
}

/// Not a test: measures what the E0411 limits are set from (docs/
/// BENCHMARKS.md, "Compile bombs"). `SHAPES=200x100,300x300` nests that
/// many loops around that many locals; `FUNCTIONS=50000` adds a module of
/// that many empty functions.
#[test]
#[ignore = "a measurement: run by hand"]
fn measure_compile_costs() {
    let guard = std::fs::read(crate::support::example("guard").join("guard.wasm")).expect("guard");
    let shapes = std::env::var("SHAPES").unwrap_or_default();
    for shape in shapes.split(',').filter(|s| !s.is_empty()) {
        let (depth, locals) = shape.split_once('x').expect("DEPTHxLOCALS");
        let (depth, locals) = (depth.parse().expect("n"), locals.parse().expect("n"));
        let bytes = with_extra_module(&guard, &explosive_module(1, depth, locals));
        let (ok, took, err) = worker_compile(&bytes, 8 << 30, 600);
        println!("{depth} loops x {locals} locals: {took:?} (compiled: {ok}) {err}");
    }
    if let Ok(n) = std::env::var("FUNCTIONS") {
        let n: usize = n.parse().expect("n");
        let wat = format!("(module {})", "(func (result i32) i32.const 7)".repeat(n));
        let bytes = with_extra_module(&guard, &wat::parse_str(&wat).expect("wat"));
        let (ok, took, err) = worker_compile(&bytes, 8 << 30, 600);
        println!("{n} functions: {took:?} (compiled: {ok}) {err}");
    }
}
