//! Services (docs/services.md), end to end: the chat bridge against a
//! WebSocket gateway stand-in on loopback and signed webhooks through the
//! host's inbound listener; the service-manager probe for backpressure,
//! restarts, failure and refused commands.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use yoi_host::{Host, ServiceError, ServiceOutput, ServiceState, ServiceStatus};

use crate::gateway::{Gateway, Say, wait};
use crate::{altered_copy, builder, example};

const BRIDGE: &str = "example.chat-bridge";
const PROBE: &str = "example.services";
const SECRET: &str = "s3cret-webhook-key";

fn status(host: &Host, plugin: &str, service: &str) -> ServiceStatus {
    host.service(plugin, service)
        .unwrap_or_else(|| panic!("no service {plugin}/{service}: {:?}", host.services()))
}

fn wait_status(
    host: &Host,
    plugin: &str,
    service: &str,
    what: &str,
    want: impl Fn(&ServiceStatus) -> bool,
) -> ServiceStatus {
    wait(what, || host.service(plugin, service).filter(|s| want(s)))
}

/// The next output of `kind`, skipping others.
fn output(rx: &mpsc::Receiver<ServiceOutput>, kind: &str) -> ServiceOutput {
    output_of(rx, kind, None)
}

/// The next output of `kind` from `service` (any when `None`).
fn output_of(
    rx: &mpsc::Receiver<ServiceOutput>,
    kind: &str,
    service: Option<&str>,
) -> ServiceOutput {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let out = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no `{kind}` output in time"));
        if out.kind == kind && service.is_none_or(|s| s == out.service) {
            return out;
        }
    }
}

/// A host running the chat bridge against `gateway`, with an inbound
/// listener and the webhook secret.
fn bridge_host(gateway: &Gateway) -> (Host, tempfile::TempDir) {
    bridge_host_with(gateway, SECRET)
}

/// [`bridge_host`] with `secret` as the webhook secret.
fn bridge_host_with(gateway: &Gateway, secret: &str) -> (Host, tempfile::TempDir) {
    bridge_host_in(builder(), gateway, secret)
}

/// [`bridge_host_with`] on a host made from `builder`.
fn bridge_host_in(
    builder: yoi_host::HostBuilder,
    gateway: &Gateway,
    secret: &str,
) -> (Host, tempfile::TempDir) {
    let port = gateway.port;
    let dir = altered_copy("chat-bridge", |m| {
        m.replace("127.0.0.1:18460", &format!("127.0.0.1:{port}"))
    });
    let secrets: BTreeMap<String, String> =
        [("CHAT_WEBHOOK_SECRET".to_owned(), secret.to_owned())].into();
    let host = builder
        .secrets(secrets)
        .inbound_http("127.0.0.1:0".parse().expect("addr"))
        .build()
        .expect("host starts");
    host.load_with_grants(
        dir.path(),
        &[
            format!("websocket:ws://127.0.0.1:{port}"),
            "route:/hooks/chat".to_owned(),
            "secret:CHAT_WEBHOOK_SECRET".to_owned(),
        ],
    )
    .expect("the bridge loads");
    (host, dir)
}

/// [`bridge_host`], once its gateway connection is up.
fn connected_bridge(gateway: &Gateway) -> (Host, tempfile::TempDir) {
    let (host, dir) = bridge_host(gateway);
    gateway.wait_accepted(1);
    wait_status(&host, BRIDGE, "gateway", "connected", |s| s.connected);
    (host, dir)
}

/// Does `cut` and waits until the bridge says it lost its gateway and
/// reconnects.
fn lose(host: &Host, cut: impl FnOnce()) -> ServiceStatus {
    cut();
    wait_status(host, BRIDGE, "gateway", "the loss seen", |s| {
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("reconnecting"))
    })
}

fn probe_host(grants: &[&str]) -> Host {
    let host = builder().build().expect("host starts");
    host.load_with_grants(example("hostile/services"), grants)
        .expect("the probe loads");
    host
}

/// One HTTP/1.1 request to the host's listener; status and body.
fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let (status, answer) = exchange(addr, path, headers, body);
    (
        status,
        answer
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned(),
    )
}

/// One HTTP/1.1 request to the host's listener; status and the whole
/// answer, head and body.
fn exchange(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15))).ok();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// The headers a sender holding `secret` adds to `POST path` with `body`
/// at Unix time `at`: the time, and the HMAC over it, the method, the path
/// and the body (the chat bridge's timestamped signature).
fn signed_at(secret: &str, at: i64, path: &str, body: &str) -> Vec<(&'static str, String)> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let at = at.to_string();
    let bytes = yoi_manifest::Timestamp::signed_bytes(&at, "POST", path, body.as_bytes());
    let tag = hex::encode(ring::hmac::sign(&key, &bytes).as_ref());
    vec![
        ("x-signature-timestamp", at),
        ("x-signature-256", format!("sha256={tag}")),
    ]
}

/// [`signed_at`] now.
fn signed(secret: &str, path: &str, body: &str) -> Vec<(&'static str, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    signed_at(secret, now, path, body)
}

/// Headers as [`post`] takes them.
fn refs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_frame_in_becomes_a_work_item_and_the_answer_goes_back_as_a_frame() {
    let gateway = Gateway::start();
    let (host, _dir) = bridge_host(&gateway);
    let outputs = host.service_outputs();
    gateway.wait_accepted(1);
    let s = wait_status(&host, BRIDGE, "gateway", "running", |s| {
        s.state == ServiceState::Running && s.connected
    });
    assert_eq!(
        s.websocket.as_deref(),
        Some(format!("ws://127.0.0.1:{}/gateway", gateway.port).as_str())
    );

    let frames = gateway.frames();
    gateway.send(r#"{"type":"message","id":"m1","channel":"general","user":"ana","text":"Is the build green?"}"#);
    let first = frames
        .recv_timeout(Duration::from_secs(10))
        .expect("a frame back");
    assert_eq!(
        first, r#"{"id":"m1","type":"ack"}"#,
        "the first frame back is the ack"
    );
    let item = output(&outputs, "work_item");
    assert_eq!(item.plugin.as_str(), BRIDGE);
    assert_eq!(item.service, "gateway");
    assert_eq!(item.data["session_key"], "chat:general");
    assert_eq!(item.data["payload"]["text"], "Is the build green?");
    gateway.wait_for("the ack", |v| v["type"] == "ack" && v["id"] == "m1");

    host.send_to_service(
        BRIDGE,
        "gateway",
        "deliver",
        json!({ "channel": "general", "text": "Yes, all green.", "reply_to": "m1" }),
    )
    .expect("the bridge takes it");
    let reply = gateway.wait_for("the reply", |v| v["type"] == "reply");
    assert_eq!(
        reply,
        json!({ "type": "reply", "channel": "general", "text": "Yes, all green.", "reply_to": "m1" })
    );

    let s = status(&host, BRIDGE, "gateway");
    assert_eq!(
        (s.processed >= 3, s.errors, s.refused_commands),
        (true, 0, 0),
        "{s:?}"
    );
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_driver_reconnects_when_the_gateway_drops_the_connection() {
    let gateway = Gateway::start();
    let (host, _dir) = connected_bridge(&gateway);
    let s = lose(&host, || gateway.say(Say::Vanish));
    assert!(
        s.last_error
            .unwrap()
            .contains(&format!("ws://127.0.0.1:{}/gateway", gateway.port))
    );
    // An answer delivered while the gateway is away waits for it.
    host.send_to_service(
        BRIDGE,
        "gateway",
        "deliver",
        json!({ "channel": "ops", "text": "queued" }),
    )
    .expect("taken");

    gateway.wait_accepted(2);
    wait_status(&host, BRIDGE, "gateway", "running again", |s| {
        s.connected && s.state == ServiceState::Running
    });
    gateway.wait_for("the waiting reply", |v| {
        v["type"] == "reply" && v["text"] == "queued"
    });
    gateway.send(r#"{"type":"message","id":"m2","channel":"ops","user":"bo","text":"back?"}"#);
    gateway.wait_for("the ack on the new connection", |v| {
        v["type"] == "ack" && v["id"] == "m2"
    });
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_webhook_with_a_bad_signature_is_refused_before_the_plugin_runs() {
    let gateway = Gateway::start();
    let (host, _dir) = bridge_host(&gateway);
    let outputs = host.service_outputs();
    let addr = host.inbound_addr().expect("a listener");
    wait_status(&host, BRIDGE, "webhook", "running", |s| {
        s.state == ServiceState::Running
    });
    let body = r#"{"channel":"alerts","user":"ci","text":"deploy failed"}"#;

    let (code, text) = post(addr, "/hooks/chat", &[], body);
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("no `x-signature-256` header"), "{text}");
    let forged = signed(
        SECRET,
        "/hooks/chat",
        r#"{"channel":"alerts","user":"ci","text":"something else"}"#,
    );
    let (code, _) = post(addr, "/hooks/chat", &refs(&forged), body);
    assert_eq!(code, 401);
    let s = status(&host, BRIDGE, "webhook");
    assert_eq!(
        (s.bad_signatures, s.processed),
        (2, 0),
        "the service never saw them: {s:?}"
    );

    let good = signed(SECRET, "/hooks/chat", body);
    let (code, text) = post(addr, "/hooks/chat", &refs(&good), body);
    assert_eq!((code, text.trim()), (202, r#"{"accepted":true}"#));
    let item = output(&outputs, "work_item");
    assert_eq!(
        (item.service.as_str(), item.data["source"].as_str()),
        ("webhook", Some("chat-webhook"))
    );
    assert_eq!(status(&host, BRIDGE, "webhook").processed, 1);

    let (code, _) = post(addr, "/hooks/elsewhere", &[], body);
    assert_eq!(code, 404, "no service answers an ungranted path");
    let (code, _) = post(addr, "/hooks/chat/../admin", &[], body);
    assert_eq!(code, 400);
    let (code, _) = post(addr, "/hooks/chat/%2e%2e/admin", &[], body);
    assert_eq!(code, 400, "dot segments are judged decoded");

    // The timestamped signature covers the time, the path and the body,
    // and is accepted once: a captured request cannot be sent again, nor
    // aimed at another path, nor kept for later.
    let (code, text) = post(addr, "/hooks/chat", &refs(&good), body);
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("replayed"), "{text}");
    let (code, text) = post(addr, "/hooks/chat/other", &refs(&good), body);
    assert_eq!(code, 401, "{text}");
    assert!(
        text.contains("does not match the timestamp, method, path"),
        "{text}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let stale = signed_at(SECRET, now - 400, "/hooks/chat", body);
    let (code, text) = post(addr, "/hooks/chat", &refs(&stale), body);
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("at most 300 s are accepted"), "{text}");
    let no_time: Vec<(&str, &str)> = refs(&good)
        .into_iter()
        .filter(|(k, _)| *k != "x-signature-timestamp")
        .collect();
    let (code, text) = post(addr, "/hooks/chat", &no_time, body);
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("no `x-signature-timestamp` header"), "{text}");
    assert_eq!(
        status(&host, BRIDGE, "webhook").processed,
        1,
        "none reached it"
    );
}

/// Unsigned requests are refused and counted one by one, but recorded at
/// most once a while: a flood from anyone who can reach the route does not
/// grow the registry one event each.
#[cfg(feature = "registry")]
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_flood_of_unsigned_webhooks_leaves_a_bounded_record() {
    let gateway = Gateway::start();
    let (_reg_dir, registry) = crate::registry();
    let (host, _dir) = bridge_host_in(
        builder().registry(std::sync::Arc::clone(&registry)),
        &gateway,
        SECRET,
    );
    let addr = host.inbound_addr().expect("a listener");
    wait_status(&host, BRIDGE, "webhook", "running", |s| {
        s.state == ServiceState::Running
    });
    for _ in 0..300 {
        let (code, _) = post(addr, "/hooks/chat", &[], "{}");
        assert_eq!(code, 401);
    }
    assert_eq!(status(&host, BRIDGE, "webhook").bad_signatures, 300);
    host.flush_events();
    let refused: Vec<_> = registry
        .events(Some(BRIDGE), 0, 10_000)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "service_signature_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{refused:#?}");
}

/// An empty signing secret is no secret: anyone can compute an HMAC with
/// the empty key. The host refuses to check with it (503, with the fix),
/// as for a missing one.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn an_empty_signing_secret_is_treated_as_missing() {
    let gateway = Gateway::start();
    let (host, _dir) = bridge_host_with(&gateway, "");
    let addr = host.inbound_addr().expect("a listener");
    wait_status(&host, BRIDGE, "webhook", "running", |s| {
        s.state == ServiceState::Running
    });
    let body = r#"{"channel":"alerts","user":"ci","text":"forged"}"#;
    let (code, text) = post(
        addr,
        "/hooks/chat",
        &refs(&signed("", "/hooks/chat", body)),
        body,
    );
    assert_eq!(code, 503, "{text}");
    let s = status(&host, BRIDGE, "webhook");
    assert_eq!(s.processed, 0, "{s:?}");
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("is set but empty")),
        "{s:?}"
    );
}

/// A second plugin granted a route another service owns does not take
/// it: its claim is refused with the owner named and recorded, the owner
/// keeps answering (signatures still checked), and the loser unloading
/// leaves the owner's route alone.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_route_has_one_owner_and_a_second_claim_is_refused_with_the_owner_named() {
    let gateway = Gateway::start();
    let (host, _dir) = bridge_host(&gateway);
    let addr = host.inbound_addr().expect("a listener");
    wait_status(&host, BRIDGE, "webhook", "running", |s| {
        s.state == ServiceState::Running
    });
    let thief = altered_copy("hostile/services", |m| {
        m.replace("id = \"example.services\"", "id = \"example.thief\"")
            .replace("http = \"/probe/silent\"", "http = \"/hooks/chat\"")
            .replace("routes = [\"/probe\"]", "routes = [\"/hooks\"]")
    });
    host.load_with_grants(thief.path(), &["route:/hooks/chat"])
        .expect("the second plugin loads");
    let s = wait_status(&host, "example.thief", "silent", "refused its route", |s| {
        s.state == ServiceState::Degraded && s.last_error.is_some()
    });
    let why = s.last_error.unwrap_or_default();
    assert!(
        why.contains("already answered by example.chat-bridge/webhook"),
        "{why}"
    );
    assert!(why.contains("deactivate example.chat-bridge"), "{why}");
    let body = r#"{"channel":"alerts","user":"ci","text":"x"}"#;
    let (code, text) = post(addr, "/hooks/chat", &[], body);
    assert_eq!(code, 401, "the owner still checks signatures: {text}");

    assert!(host.unload("example.thief"));
    let (code, text) = post(addr, "/hooks/chat", &[], body);
    assert_eq!(code, 401, "the owner still answers: {text}");
    let s = status(&host, BRIDGE, "webhook");
    assert_eq!(s.state, ServiceState::Running, "{s:?}");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn an_ungranted_endpoint_or_route_is_never_reached_and_says_the_fix() {
    let gateway = Gateway::start();
    let port = gateway.port;
    let dir = altered_copy("chat-bridge", |m| {
        m.replace("127.0.0.1:18460", &format!("127.0.0.1:{port}"))
    });
    let host = builder()
        .inbound_http("127.0.0.1:0".parse().expect("addr"))
        .build()
        .expect("host");
    host.load(dir.path()).expect("loads without grants");
    let s = wait_status(&host, BRIDGE, "gateway", "degraded", |s| {
        s.state == ServiceState::Degraded && s.last_error.is_some()
    });
    let why = s.last_error.unwrap();
    assert!(
        why.contains(&format!(
            "run `yoi grant example.chat-bridge websocket:ws://127.0.0.1:{port}`"
        )),
        "{why}"
    );
    let s = wait_status(&host, BRIDGE, "webhook", "degraded", |s| {
        s.last_error.is_some()
    });
    assert!(
        s.last_error
            .unwrap()
            .contains("yoi grant example.chat-bridge route:/hooks/chat")
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        gateway.accepted.load(Ordering::SeqCst),
        0,
        "nothing connected"
    );
    let (code, _) = post(
        host.inbound_addr().expect("listener"),
        "/hooks/chat",
        &[],
        "{}",
    );
    assert_eq!(code, 404);
}

/// Sends `spin` and waits until the service is busy with it.
fn keep_busy(host: &Host, service: &str) {
    let before = status(host, PROBE, service).processed;
    host.send_to_service(PROBE, service, "spin", json!({ "iters": 1_500_000_000u64 }))
        .expect("taken");
    wait_status(host, PROBE, service, "busy", |s| {
        s.queued == 0 && s.processed == before
    });
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_slow_service_drops_its_oldest_events_and_counts_them() {
    let host = probe_host(&[]);
    wait_status(&host, PROBE, "slow", "running", |s| {
        s.state == ServiceState::Running
    });
    keep_busy(&host, "slow");
    for i in 0..10 {
        host.send_to_service(PROBE, "slow", "echo", json!({ "n": i }))
            .expect("drop_oldest never refuses");
    }
    let s = status(&host, PROBE, "slow");
    assert_eq!((s.queued, s.dropped, s.refused), (4, 6, 0), "{s:?}");
    let outputs = host.service_outputs();
    let s = wait_status(&host, PROBE, "slow", "the queue drained", |s| {
        s.processed == 5
    });
    assert_eq!((s.dropped, s.errors), (6, 0));
    // The four newest were kept, in order.
    let kept: Vec<Value> = (0..4)
        .map(|_| output(&outputs, "echo").data["n"].clone())
        .collect();
    assert_eq!(kept, [json!(6), json!(7), json!(8), json!(9)]);
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_slow_service_under_refuse_turns_events_away_and_counts_them() {
    let host = probe_host(&[]);
    wait_status(&host, PROBE, "strict", "running", |s| {
        s.state == ServiceState::Running
    });
    keep_busy(&host, "strict");
    let mut refused = 0;
    for i in 0..10 {
        match host.send_to_service(PROBE, "strict", "echo", json!({ "n": i })) {
            Ok(()) => {}
            Err(ServiceError::QueueFull { capacity, .. }) => {
                assert_eq!(capacity, 4);
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(refused, 6);
    let s = wait_status(&host, PROBE, "strict", "the queue drained", |s| {
        s.processed == 5
    });
    assert_eq!((s.refused, s.dropped), (6, 0), "{s:?}");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_trapping_service_restarts_with_backoff_in_a_fresh_instance() {
    let host = probe_host(&[]);
    let outputs = host.service_outputs();
    wait_status(&host, PROBE, "flaky", "running", |s| {
        s.state == ServiceState::Running
    });
    host.send_to_service(PROBE, "flaky", "count", json!({}))
        .expect("taken");
    assert_eq!(output(&outputs, "count").data["handled"], 1);

    let before = Instant::now();
    host.send_to_service(PROBE, "flaky", "trap", json!({}))
        .expect("taken");
    let started = output_of(&outputs, "started", Some("flaky"));
    assert_eq!(started.data, json!({ "service": "flaky", "restarts": 1 }));
    assert!(
        before.elapsed() >= Duration::from_millis(50),
        "the backoff was waited"
    );
    let s = wait_status(&host, PROBE, "flaky", "running again", |s| {
        s.state == ServiceState::Running
    });
    assert_eq!((s.restarts, s.errors), (1, 1));
    let why = s.last_error.expect("the trap is kept");
    assert!(
        why.contains("trapped") && why.contains("restarting in 50 ms"),
        "{why}"
    );
    // Nothing of the old instance survived.
    host.send_to_service(PROBE, "flaky", "count", json!({}))
        .expect("taken");
    assert_eq!(output(&outputs, "count").data["handled"], 1);
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_service_that_never_starts_fails_after_its_restarts() {
    let host = probe_host(&[]);
    let s = wait_status(&host, PROBE, "doomed", "failed", |s| {
        s.state == ServiceState::Failed
    });
    assert_eq!(s.restarts, 2, "{s:?}");
    let why = s.last_error.expect("why");
    assert!(
        why.contains("doomed never starts (restart 2)")
            && why.contains("gave up after 3 failures in a row; max_restarts = 2"),
        "{why}"
    );
    let e = host
        .send_to_service(PROBE, "doomed", "echo", json!({}))
        .expect_err("a failed service takes nothing");
    assert!(e.to_string().contains("is failed"), "{e}");
}

/// Tells the probe's `fetcher` to fetch `url`, once it runs.
fn fetch(host: &Host, url: &str) {
    wait_status(host, PROBE, "fetcher", "running", |s| {
        s.state == ServiceState::Running
    });
    host.send_to_service(PROBE, "fetcher", "fetch", json!({ "url": url }))
        .expect("taken");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_command_to_an_ungranted_endpoint_is_refused_with_the_fix() {
    let stub = crate::stub::Stub::start(|_| crate::stub::Reply::ok("pong"));
    let stub_url = stub.url("/ping");
    let host = probe_host(&[]);
    let outputs = host.service_outputs();
    fetch(&host, "https://api.example.com/v1");
    let refused = output_of(&outputs, "refused", Some("fetcher"));
    assert_eq!(refused.data["command"], "fetch");
    let fix = refused.data["fix"].as_str().expect("a fix");
    assert!(
        fix.contains("does not request `https:api.example.com`"),
        "not requested, so the manifest comes first: {fix}"
    );
    let s = status(&host, PROBE, "fetcher");
    assert_eq!(s.refused_commands, 1);
    assert!(s.last_error.unwrap().starts_with("fetch refused:"));
    assert!(stub.seen.lock().unwrap().is_empty());

    // Requested but not granted: the exact `yoi grant`.
    host.send_to_service(PROBE, "fetcher", "fetch", json!({ "url": stub_url }))
        .expect("taken");
    let refused = output_of(&outputs, "refused", Some("fetcher"));
    let fix = refused.data["fix"].as_str().expect("a fix");
    assert!(
        fix.contains(&format!(
            "yoi grant {PROBE} https:http://127.0.0.1:{}",
            stub.port
        )),
        "{fix}"
    );
    assert!(stub.seen.lock().unwrap().is_empty(), "nothing was sent");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_granted_fetch_answers_as_an_event() {
    let stub = crate::stub::Stub::start(|_| crate::stub::Reply::ok("pong"));
    let dir = altered_copy("hostile/services", |m| {
        m.replace("127.0.0.1:18471", &format!("127.0.0.1:{}", stub.port))
    });
    let host = builder().build().expect("host");
    host.load_with_grants(
        dir.path(),
        &[format!("https:http://127.0.0.1:{}", stub.port)],
    )
    .expect("loads");
    let outputs = host.service_outputs();
    fetch(&host, &stub.url("/ping"));
    assert_eq!(
        output(&outputs, "fetched").data,
        json!({ "tag": "probe", "status": 200 })
    );
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn unloading_stops_the_service_and_closes_its_connection() {
    let gateway = Gateway::start();
    let (host, _dir) = bridge_host(&gateway);
    wait_status(&host, BRIDGE, "gateway", "connected", |s| s.connected);
    assert!(host.unload(BRIDGE));
    let s = wait_status(&host, BRIDGE, "gateway", "stopped", |s| {
        s.state == ServiceState::Stopped
    });
    assert!(!s.connected);
    wait("the close frame", || {
        gateway
            .closes
            .lock()
            .unwrap()
            .first()
            .copied()
            .filter(|c| *c == 1001)
    });
    let e = host
        .send_to_service(BRIDGE, "gateway", "deliver", json!({}))
        .expect_err("stopped");
    assert!(e.to_string().contains("is stopped"), "{e}");
    let (code, _) = post(
        host.inbound_addr().expect("listener"),
        "/hooks/chat",
        &[],
        "{}",
    );
    assert_eq!(code, 404, "the route went with it");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_listener_bounds_requests_and_answers_for_a_silent_or_busy_service() {
    let host = builder()
        .inbound_http("127.0.0.1:0".parse().expect("addr"))
        .service_answer_timeout(Duration::from_millis(300))
        .build()
        .expect("host");
    host.load_with_grants(example("hostile/services"), &["route:/probe"])
        .expect("loads");
    let addr = host.inbound_addr().expect("listener");
    wait_status(&host, PROBE, "silent", "running", |s| {
        s.state == ServiceState::Running
    });

    let started = Instant::now();
    let (code, text) = post(addr, "/probe/silent", &[], "{}");
    assert_eq!(code, 504, "{text}");
    assert!(text.contains("did not answer within 300 ms"), "{text}");
    assert!(started.elapsed() >= Duration::from_millis(300));

    let big = "x".repeat(1024 * 1024 + 1);
    let (code, _) = post(addr, "/probe/silent/upload", &[], &big);
    assert_eq!(code, 413);

    // Busy with one event and one waiting (queue = 1): the next is refused.
    keep_busy(&host, "silent");
    let waiting = std::thread::spawn(move || post(addr, "/probe/silent", &[], "{}").0);
    wait_status(&host, PROBE, "silent", "one waiting", |s| s.queued == 1);
    let (code, text) = exchange(addr, "/probe/silent", &[], "{}");
    assert_eq!(code, 503, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    assert_eq!(waiting.join().expect("the waiting request"), 504);
    let s = status(&host, PROBE, "silent");
    assert_eq!((s.refused, s.dropped), (1, 0), "{s:?}");
}

/// Deactivating in the registry: the host's next snapshot has no bridge,
/// so its services stop and its connection closes (`1001`).
#[cfg(feature = "registry")]
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn deactivating_stops_the_service_and_closes_its_connections() {
    let gateway = Gateway::start();
    let port = gateway.port;
    let dir = altered_copy("chat-bridge", |m| {
        m.replace("127.0.0.1:18460", &format!("127.0.0.1:{port}"))
    });
    let (_home, registry) = crate::registry();
    let package =
        crate::publish_and_activate(&registry, dir.path(), &yoi_registry::Activation::by("ops"));
    let host = builder()
        .registry(std::sync::Arc::clone(&registry))
        .inbound_http("127.0.0.1:0".parse().expect("addr"))
        .build()
        .expect("host boots");
    wait_status(&host, BRIDGE, "gateway", "connected", |s| s.connected);
    registry
        .deactivate(BRIDGE, &package.manifest().plugin.version, "ops")
        .expect("deactivate");
    host.reload().expect("reload");
    for service in ["gateway", "webhook"] {
        wait_status(&host, BRIDGE, service, "stopped", |s| {
            s.state == ServiceState::Stopped
        });
    }
    wait("the close frame", || {
        gateway
            .closes
            .lock()
            .unwrap()
            .first()
            .copied()
            .filter(|c| *c == 1001)
    });
    host.flush_events();
    let recorded = registry
        .latest_events("service_status", Some(BRIDGE), "service")
        .expect("events");
    let states: Vec<&str> = recorded
        .iter()
        .filter_map(|e| e.detail["state"].as_str())
        .collect();
    assert_eq!(
        states,
        ["stopped", "stopped"],
        "what the host recorded last"
    );
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn shutting_down_drains_every_service_within_the_deadline() {
    let gateway = Gateway::start();
    let (host, _dir) = bridge_host(&gateway);
    wait_status(&host, BRIDGE, "gateway", "connected", |s| s.connected);
    let started = Instant::now();
    host.shutdown_services(Duration::from_secs(5));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let states: Vec<ServiceState> = host.services().iter().map(|s| s.state).collect();
    assert_eq!(states, [ServiceState::Stopped, ServiceState::Stopped]);
    wait("the close frame", || {
        gateway.closes.lock().unwrap().first().copied()
    });
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn an_event_that_runs_past_its_time_is_stopped_inside_wasm() {
    let host = probe_host(&[]);
    wait_status(&host, PROBE, "flaky", "running", |s| {
        s.state == ServiceState::Running
    });
    let started = Instant::now();
    host.send_to_service(PROBE, "flaky", "spin", json!({ "iters": u64::MAX }))
        .expect("taken");
    let s = wait_status(&host, PROBE, "flaky", "the restart", |s| s.restarts == 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped near 1.5 s"
    );
    let why = s.last_error.expect("why");
    assert!(
        why.contains("stopped after its time limit of 1500 ms"),
        "{why}"
    );
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_frame_over_the_limit_ends_the_connection_and_the_driver_reconnects() {
    let gateway = Gateway::start();
    let (host, _dir) = connected_bridge(&gateway);
    let s = lose(&host, || gateway.send(&"x".repeat(1024 * 1024 + 1)));
    let why = s.last_error.unwrap_or_default();
    assert!(why.contains("too long") || why.contains("limit"), "{why}");
    gateway.wait_accepted(2);
    assert_eq!(status(&host, BRIDGE, "gateway").errors, 0);
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_peer_that_hangs_is_found_by_the_heartbeat() {
    let gateway = Gateway::start();
    let port = gateway.port;
    let dir = altered_copy("chat-bridge", |m| {
        m.replace("127.0.0.1:18460", &format!("127.0.0.1:{port}"))
    });
    let host = builder()
        .service_heartbeat(Duration::from_millis(200))
        .build()
        .expect("host");
    host.load_with_grants(dir.path(), &[format!("websocket:ws://127.0.0.1:{port}")])
        .expect("loads");
    gateway.wait_accepted(1);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        gateway.accepted.load(Ordering::SeqCst),
        1,
        "a live peer answers the pings"
    );
    gateway.say(Say::Hang);
    let s = wait_status(&host, BRIDGE, "gateway", "the hang seen", |s| {
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("heartbeat"))
    });
    assert!(
        s.last_error
            .unwrap_or_default()
            .contains("nothing from the peer for 400 ms")
    );
    gateway.wait_accepted(2);
}
