//! The outbound WebSocket driver: the host's connection to a service's
//! granted endpoint. It resolves names through the same guard as `https`
//! (no loopback, private or link-local address unless the grant names the
//! IP, or `localhost`), connects with a time limit (TLS through rustls for
//! `wss://`), turns messages in into `frame` events (pausing its reads
//! while a `refuse` queue is full), sends the service's frames, pings on a
//! heartbeat, and reconnects with capped exponential backoff and jitter.
//! docs/services.md.

use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use yoi_manifest::Endpoint;

use crate::api::https::admit;
use crate::bindings::latest::exports::yoi::plugin::service as wit;
use crate::services::{Outgoing, Unit};
use crate::servicespec::ServiceState;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Starts `unit`'s connection on the drivers' runtime.
pub(crate) fn spawn(io: &tokio::runtime::Handle, unit: Arc<Unit>) {
    io.spawn(drive(unit));
}

/// Connects, pumps, and reconnects until the unit stops.
async fn drive(unit: Arc<Unit>) {
    let Some(endpoint) = unit.spec.websocket.clone() else {
        return;
    };
    let mut stop = unit.stop.subscribe();
    let mut attempt = 0u32;
    loop {
        if unit.is_stopping() {
            return;
        }
        let connected = tokio::select! {
            r = connect(&unit, &endpoint) => r,
            _ = stop.changed() => return,
        };
        let why = match connected {
            Ok(socket) => {
                attempt = 0;
                let id = unit.next_id();
                let (tx, rx) = mpsc::unbounded_channel();
                unit.connection_opened(id, tx);
                unit.connected.store(true, Ordering::Relaxed);
                if unit.state() == ServiceState::Degraded
                    && (unit.spec.http.is_none() || unit.route_active.load(Ordering::Relaxed))
                {
                    unit.set_state(ServiceState::Running, None);
                }
                tracing::info!(service = %unit.label(), connection = id, "connected {endpoint}");
                unit.push_owed(wit::Event::Opened(wit::Opened {
                    connection: id,
                    url: endpoint.to_string(),
                }));
                let why = pump(&unit, id, socket, rx, &mut stop).await;
                unit.connection_closed(id);
                unit.connected.store(false, Ordering::Relaxed);
                let stopping = unit.is_stopping();
                unit.push_owed(wit::Event::Closed(wit::Closed {
                    connection: id,
                    reason: why.clone(),
                    reconnecting: !stopping,
                }));
                if stopping {
                    return;
                }
                format!("the connection to {endpoint} closed: {why}")
            }
            Err(why) => format!("cannot connect {endpoint}: {why}"),
        };
        attempt = attempt.saturating_add(1);
        let wait = backoff(unit.spec.backoff_ms, unit.spec.max_backoff_ms, attempt);
        tracing::warn!(service = %unit.label(), "{why}; reconnecting in {} ms", wait.as_millis());
        unit.set_state(
            ServiceState::Degraded,
            Some(format!("{why}; reconnecting in {} ms", wait.as_millis())),
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The wait before reconnect attempt `attempt` (from 1): `base` doubled
/// per attempt up to `max`, then between half and all of it at random, so
/// many hosts that lost one gateway do not all come back at once.
pub(crate) fn backoff(base_ms: u32, max_ms: u32, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(20);
    let full = u64::from(base_ms)
        .saturating_mul(1 << doublings)
        .min(u64::from(max_ms))
        .max(1);
    let random = RandomState::new().hash_one(attempt);
    Duration::from_millis(full / 2 + random % (full / 2 + 1))
}

/// The TLS settings of `wss://` connections: the web's root certificates.
fn tls() -> Arc<rustls::ClientConfig> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(TLS.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|e| unreachable!("ring supports the default versions: {e}"));
        Arc::new(config)
    }))
}

/// Resolves (guarded), connects and shakes hands, within the host's time.
async fn connect(unit: &Unit, endpoint: &Endpoint) -> Result<Socket, String> {
    let limit = unit.limits.connect_timeout;
    let addrs: Vec<SocketAddr> = match endpoint.host.parse::<IpAddr>() {
        // An IP is granted by number: it is what the operator allowed.
        Ok(ip) => vec![SocketAddr::new(ip, endpoint.port)],
        Err(_) => {
            let lookup = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port));
            let addrs: Vec<SocketAddr> = tokio::time::timeout(limit, lookup)
                .await
                .map_err(|_| "the name did not resolve in time".to_owned())?
                .map_err(|e| format!("the name did not resolve: {e}"))?
                .collect();
            admit(&endpoint.host, &addrs, endpoint.host == "localhost").map_err(|e| {
                format!("{e}; only a grant naming that IP reaches it (`websocket:ws://IP:PORT`)")
            })?;
            addrs
        }
    };
    let tcp = tokio::time::timeout(limit, TcpStream::connect(&addrs[..]))
        .await
        .map_err(|_| format!("no connection within {} ms", limit.as_millis()))?
        .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let config = WebSocketConfig::default()
        .max_message_size(Some(unit.limits.frame_bytes))
        .max_frame_size(Some(unit.limits.frame_bytes));
    let connector = if endpoint.secure {
        Connector::Rustls(tls())
    } else {
        Connector::Plain
    };
    let handshake = tokio_tungstenite::client_async_tls_with_config(
        endpoint.to_string(),
        tcp,
        Some(config),
        Some(connector),
    );
    let (socket, _) = tokio::time::timeout(limit, handshake)
        .await
        .map_err(|_| format!("no handshake within {} ms", limit.as_millis()))?
        .map_err(|e| e.to_string())?;
    Ok(socket)
}

/// Moves messages both ways until the connection ends; says why.
async fn pump(
    unit: &Unit,
    id: u64,
    socket: Socket,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> String {
    let (mut sink, mut stream) = socket.split();
    let beat = unit.limits.heartbeat;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
    let mut last_seen = tokio::time::Instant::now();
    loop {
        tokio::select! {
            message = stream.next() => {
                last_seen = tokio::time::Instant::now();
                let payload = match message {
                    None => return "the peer closed the connection".into(),
                    Some(Err(e)) => return e.to_string(),
                    Some(Ok(Message::Text(text))) => wit::Payload::Text(text.to_string()),
                    Some(Ok(Message::Binary(bytes))) => wit::Payload::Binary(bytes.to_vec()),
                    Some(Ok(Message::Close(frame))) => {
                        return match frame {
                            Some(f) => format!("the peer closed it ({} {})", u16::from(f.code), f.reason),
                            None => "the peer closed it".into(),
                        };
                    }
                    // Pongs answer the heartbeat; a ping's pong goes out
                    // with the next write, flushed here.
                    Some(Ok(_)) => {
                        if let Err(e) = sink.flush().await {
                            return e.to_string();
                        }
                        continue;
                    }
                };
                let frame = wit::Event::Frame(wit::Frame { connection: id, payload });
                if !unit.offer_waiting(frame).await {
                    let _ = sink.send(close(CloseCode::Away, "the service stopped")).await;
                    return "the service stopped".into();
                }
            }
            out = outgoing.recv() => match out {
                Some(Outgoing::Frame(wit::Payload::Text(t))) => {
                    if let Err(e) = sink.send(Message::text(t)).await {
                        return e.to_string();
                    }
                }
                Some(Outgoing::Frame(wit::Payload::Binary(b))) => {
                    if let Err(e) = sink.send(Message::binary(b)).await {
                        return e.to_string();
                    }
                }
                Some(Outgoing::Close(code, reason)) => {
                    let _ = sink.send(close(CloseCode::from(code), &reason)).await;
                    return format!("the service closed it ({code} {reason})");
                }
                None => return "closed".into(),
            },
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > beat * 2 {
                    return format!("nothing from the peer for {} ms (heartbeat)", (beat * 2).as_millis());
                }
                if let Err(e) = sink.send(Message::Ping(Bytes::new())).await {
                    return e.to_string();
                }
            }
            _ = stop.changed() => {
                let _ = sink.send(close(CloseCode::Away, "the service stopped")).await;
                return "the service stopped".into();
            }
        }
    }
}

fn close(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        for attempt in 1..12 {
            let full = (100u64 << (attempt - 1)).min(2000);
            let wait = backoff(100, 2000, attempt).as_millis() as u64;
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempt}: {wait} of {full}"
            );
        }
        assert!(backoff(100, 2000, u32::MAX).as_millis() <= 2000);
    }
}
