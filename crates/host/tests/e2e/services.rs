//! Services (docs/services.md), end to end: the chat bridge against a
//! WebSocket gateway stand-in on loopback and signed webhooks through the
//! host's inbound listener; the service-manager probe for backpressure,
//! restarts, failure and refused commands.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use yoi_host::{Host, ServiceError, ServiceOutput, ServiceState, ServiceStatus};

use crate::{altered_copy, builder, example};

const BRIDGE: &str = "example.chat-bridge";
const PROBE: &str = "example.services";
const SECRET: &str = "s3cret-webhook-key";

/// What the gateway stand-in tells its current connection.
enum Say {
    Text(String),
    /// Drop the TCP connection without a close frame.
    Vanish,
}

/// A chat gateway on 127.0.0.1: accepts WebSocket connections, keeps what
/// it receives, and says what the test tells it.
pub struct Gateway {
    pub port: u16,
    pub received: Arc<Mutex<Vec<String>>>,
    /// Close frames received, by code.
    pub closes: Arc<Mutex<Vec<u16>>>,
    pub accepted: Arc<AtomicUsize>,
    current: Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<Say>>>>,
}

impl Gateway {
    pub fn start() -> Gateway {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let closes = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let current = Arc::new(Mutex::new(None));
        let (r, c, a, cur) = (
            Arc::clone(&received),
            Arc::clone(&closes),
            Arc::clone(&accepted),
            Arc::clone(&current),
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                        continue;
                    };
                    a.fetch_add(1, Ordering::SeqCst);
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                    *cur.lock().unwrap() = Some(tx);
                    let (r, c) = (Arc::clone(&r), Arc::clone(&c));
                    tokio::spawn(async move {
                        let (mut sink, mut stream) = ws.split();
                        loop {
                            tokio::select! {
                                m = stream.next() => match m {
                                    Some(Ok(Message::Text(t))) => r.lock().unwrap().push(t.to_string()),
                                    Some(Ok(Message::Close(f))) => {
                                        c.lock().unwrap().push(f.map_or(1005, |f| u16::from(f.code)));
                                        return;
                                    }
                                    Some(Ok(_)) => {}
                                    _ => return,
                                },
                                say = rx.recv() => match say {
                                    Some(Say::Text(t)) => {
                                        if sink.send(Message::text(t)).await.is_err() {
                                            return;
                                        }
                                    }
                                    Some(Say::Vanish) | None => return,
                                },
                            }
                        }
                    });
                }
            });
        });
        Gateway {
            port,
            received,
            closes,
            accepted,
            current,
        }
    }

    fn say(&self, say: Say) {
        let tx = self.current.lock().unwrap().clone().expect("a connection");
        tx.send(say).ok().expect("the connection is open");
    }

    pub fn send(&self, text: &str) {
        self.say(Say::Text(text.to_owned()));
    }

    /// Waits for a received frame that satisfies `want`.
    pub fn wait_for(&self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        wait(what, || {
            self.received
                .lock()
                .unwrap()
                .iter()
                .filter_map(|t| serde_json::from_str::<Value>(t).ok())
                .find(|v| want(v))
        })
    }
}

/// Polls `f` every 5 ms until it gives something, for at most 10 s.
pub fn wait<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

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
    wait(what, || {
        host.service(plugin, service).filter(|s| want(s))
    })
}

/// The next output of `kind`, skipping others.
fn output(rx: &mpsc::Receiver<ServiceOutput>, kind: &str) -> ServiceOutput {
    output_of(rx, kind, None)
}

/// The next output of `kind` from `service` (any when `None`).
fn output_of(rx: &mpsc::Receiver<ServiceOutput>, kind: &str, service: Option<&str>) -> ServiceOutput {
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
    let port = gateway.port;
    let dir = altered_copy("chat-bridge", |m| {
        m.replace("127.0.0.1:18460", &format!("127.0.0.1:{port}"))
    });
    let secrets: BTreeMap<String, String> =
        [("CHAT_WEBHOOK_SECRET".to_owned(), SECRET.to_owned())].into();
    let host = builder()
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

fn probe_host(grants: &[&str]) -> Host {
    let host = builder().build().expect("host starts");
    host.load_with_grants(example("hostile/services"), grants)
        .expect("the probe loads");
    host
}

/// One HTTP/1.1 request to the host's listener; status and body.
fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
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
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

fn sign(body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    format!("sha256={}", hex::encode(ring::hmac::sign(&key, body.as_bytes()).as_ref()))
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_frame_in_becomes_a_work_item_and_the_answer_goes_back_as_a_frame() {
    let gateway = Gateway::start();
    let (host, _dir) = bridge_host(&gateway);
    let outputs = host.service_outputs();
    wait("the connection", || (gateway.accepted.load(Ordering::SeqCst) == 1).then_some(()));
    let s = wait_status(&host, BRIDGE, "gateway", "running", |s| {
        s.state == ServiceState::Running && s.connected
    });
    assert_eq!(s.websocket.as_deref(), Some(format!("ws://127.0.0.1:{}/gateway", gateway.port).as_str()));

    gateway.send(r#"{"type":"message","id":"m1","channel":"general","user":"ana","text":"Is the build green?"}"#);
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
    assert_eq!(reply, json!({ "type": "reply", "channel": "general", "text": "Yes, all green.", "reply_to": "m1" }));

    let s = status(&host, BRIDGE, "gateway");
    assert_eq!((s.processed >= 3, s.errors, s.refused_commands), (true, 0, 0), "{s:?}");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_driver_reconnects_when_the_gateway_drops_the_connection() {
    let gateway = Gateway::start();
    let (host, _dir) = bridge_host(&gateway);
    wait("the connection", || (gateway.accepted.load(Ordering::SeqCst) == 1).then_some(()));
    wait_status(&host, BRIDGE, "gateway", "connected", |s| s.connected);

    gateway.say(Say::Vanish);
    let s = wait_status(&host, BRIDGE, "gateway", "the loss seen", |s| {
        s.last_error.as_deref().is_some_and(|e| e.contains("reconnecting"))
    });
    assert!(s.last_error.unwrap().contains(&format!("ws://127.0.0.1:{}/gateway", gateway.port)));
    // An answer delivered while the gateway is away waits for it.
    host.send_to_service(BRIDGE, "gateway", "deliver", json!({ "channel": "ops", "text": "queued" }))
        .expect("taken");

    wait("the reconnection", || (gateway.accepted.load(Ordering::SeqCst) == 2).then_some(()));
    wait_status(&host, BRIDGE, "gateway", "running again", |s| {
        s.connected && s.state == ServiceState::Running
    });
    gateway.wait_for("the waiting reply", |v| v["type"] == "reply" && v["text"] == "queued");
    gateway.send(r#"{"type":"message","id":"m2","channel":"ops","user":"bo","text":"back?"}"#);
    gateway.wait_for("the ack on the new connection", |v| v["type"] == "ack" && v["id"] == "m2");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_webhook_with_a_bad_signature_is_refused_before_the_plugin_runs() {
    let gateway = Gateway::start();
    let (host, _dir) = bridge_host(&gateway);
    let outputs = host.service_outputs();
    let addr = host.inbound_addr().expect("a listener");
    wait_status(&host, BRIDGE, "webhook", "running", |s| s.state == ServiceState::Running);
    let body = r#"{"channel":"alerts","user":"ci","text":"deploy failed"}"#;

    let (code, text) = post(addr, "/hooks/chat", &[], body);
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("no `x-signature-256` header"), "{text}");
    let forged = sign(r#"{"channel":"alerts","user":"ci","text":"something else"}"#);
    let (code, _) = post(addr, "/hooks/chat", &[("x-signature-256", &forged)], body);
    assert_eq!(code, 401);
    let s = status(&host, BRIDGE, "webhook");
    assert_eq!((s.bad_signatures, s.processed), (2, 0), "the service never saw them: {s:?}");

    let (code, text) = post(addr, "/hooks/chat", &[("x-signature-256", &sign(body))], body);
    assert_eq!((code, text.trim()), (202, r#"{"accepted":true}"#));
    let item = output(&outputs, "work_item");
    assert_eq!((item.service.as_str(), item.data["source"].as_str()), ("webhook", Some("chat-webhook")));
    assert_eq!(status(&host, BRIDGE, "webhook").processed, 1);

    let (code, _) = post(addr, "/hooks/elsewhere", &[], body);
    assert_eq!(code, 404, "no service answers an ungranted path");
    let (code, _) = post(addr, "/hooks/chat/../admin", &[], body);
    assert_eq!(code, 400);
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
        why.contains(&format!("run `yoi grant example.chat-bridge websocket:ws://127.0.0.1:{port}`")),
        "{why}"
    );
    let s = wait_status(&host, BRIDGE, "webhook", "degraded", |s| s.last_error.is_some());
    assert!(s.last_error.unwrap().contains("yoi grant example.chat-bridge route:/hooks/chat"));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(gateway.accepted.load(Ordering::SeqCst), 0, "nothing connected");
    let (code, _) = post(host.inbound_addr().expect("listener"), "/hooks/chat", &[], "{}");
    assert_eq!(code, 404);
}

/// Sends `spin` and waits until the service is busy with it.
fn keep_busy(host: &Host, service: &str) {
    host.send_to_service(PROBE, service, "spin", json!({ "iters": 1_500_000_000u64 }))
        .expect("taken");
    wait_status(host, PROBE, service, "busy", |s| s.queued == 0 && s.processed == 0);
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_slow_service_drops_its_oldest_events_and_counts_them() {
    let host = probe_host(&[]);
    wait_status(&host, PROBE, "slow", "running", |s| s.state == ServiceState::Running);
    keep_busy(&host, "slow");
    for i in 0..10 {
        host.send_to_service(PROBE, "slow", "echo", json!({ "n": i }))
            .expect("drop_oldest never refuses");
    }
    let s = status(&host, PROBE, "slow");
    assert_eq!((s.queued, s.dropped, s.refused), (4, 6, 0), "{s:?}");
    let outputs = host.service_outputs();
    let s = wait_status(&host, PROBE, "slow", "the queue drained", |s| s.processed == 5);
    assert_eq!((s.dropped, s.errors), (6, 0));
    // The four newest were kept, in order.
    let kept: Vec<Value> = (0..4).map(|_| output(&outputs, "echo").data["n"].clone()).collect();
    assert_eq!(kept, [json!(6), json!(7), json!(8), json!(9)]);
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_slow_service_under_refuse_turns_events_away_and_counts_them() {
    let host = probe_host(&[]);
    wait_status(&host, PROBE, "strict", "running", |s| s.state == ServiceState::Running);
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
    let s = wait_status(&host, PROBE, "strict", "the queue drained", |s| s.processed == 5);
    assert_eq!((s.refused, s.dropped), (6, 0), "{s:?}");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_trapping_service_restarts_with_backoff_in_a_fresh_instance() {
    let host = probe_host(&[]);
    let outputs = host.service_outputs();
    wait_status(&host, PROBE, "flaky", "running", |s| s.state == ServiceState::Running);
    host.send_to_service(PROBE, "flaky", "count", json!({})).expect("taken");
    assert_eq!(output(&outputs, "count").data["handled"], 1);

    let before = Instant::now();
    host.send_to_service(PROBE, "flaky", "trap", json!({})).expect("taken");
    let started = output_of(&outputs, "started", Some("flaky"));
    assert_eq!(started.data, json!({ "service": "flaky", "restarts": 1 }));
    assert!(before.elapsed() >= Duration::from_millis(50), "the backoff was waited");
    let s = wait_status(&host, PROBE, "flaky", "running again", |s| s.state == ServiceState::Running);
    assert_eq!((s.restarts, s.errors), (1, 1));
    let why = s.last_error.expect("the trap is kept");
    assert!(why.contains("trapped") && why.contains("restarting in 50 ms"), "{why}");
    // Nothing of the old instance survived.
    host.send_to_service(PROBE, "flaky", "count", json!({})).expect("taken");
    assert_eq!(output(&outputs, "count").data["handled"], 1);
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_service_that_never_starts_fails_after_its_restarts() {
    let host = probe_host(&[]);
    let s = wait_status(&host, PROBE, "doomed", "failed", |s| s.state == ServiceState::Failed);
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

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_command_to_an_ungranted_endpoint_is_refused_with_the_fix() {
    let stub = crate::stub::Stub::start(|_| crate::stub::Reply::ok("pong"));
    let stub_url = stub.url("/ping");
    let host = probe_host(&[]);
    let outputs = host.service_outputs();
    wait_status(&host, PROBE, "fetcher", "running", |s| s.state == ServiceState::Running);
    host.send_to_service(PROBE, "fetcher", "fetch", json!({ "url": "https://api.example.com/v1" }))
        .expect("taken");
    let refused = output(&outputs, "refused");
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
    host.send_to_service(PROBE, "fetcher", "fetch", json!({ "url": stub_url })).expect("taken");
    let refused = output(&outputs, "refused");
    let fix = refused.data["fix"].as_str().expect("a fix");
    assert!(fix.contains(&format!("yoi grant {PROBE} https:http://127.0.0.1:{}", stub.port)), "{fix}");
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
    host.load_with_grants(dir.path(), &[format!("https:http://127.0.0.1:{}", stub.port)])
        .expect("loads");
    let outputs = host.service_outputs();
    wait_status(&host, PROBE, "fetcher", "running", |s| s.state == ServiceState::Running);
    host.send_to_service(PROBE, "fetcher", "fetch", json!({ "url": stub.url("/ping") }))
        .expect("taken");
    assert_eq!(output(&outputs, "fetched").data, json!({ "tag": "probe", "status": 200 }));
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn unloading_stops_the_service_and_closes_its_connection() {
    let gateway = Gateway::start();
    let (host, _dir) = bridge_host(&gateway);
    wait_status(&host, BRIDGE, "gateway", "connected", |s| s.connected);
    assert!(host.unload(BRIDGE));
    let s = wait_status(&host, BRIDGE, "gateway", "stopped", |s| s.state == ServiceState::Stopped);
    assert!(!s.connected);
    wait("the close frame", || {
        gateway.closes.lock().unwrap().first().copied().filter(|c| *c == 1001)
    });
    let e = host
        .send_to_service(BRIDGE, "gateway", "deliver", json!({}))
        .expect_err("stopped");
    assert!(e.to_string().contains("is stopped"), "{e}");
    let (code, _) = post(host.inbound_addr().expect("listener"), "/hooks/chat", &[], "{}");
    assert_eq!(code, 404, "the route went with it");
}
