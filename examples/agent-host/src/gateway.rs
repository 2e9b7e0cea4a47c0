//! A stand-in chat gateway on 127.0.0.1:18460, so the demo's `chat-bridge`
//! service has a real WebSocket to bridge: when the host connects, a user
//! asks a question; the gateway keeps every frame the bridge sends back.
//! Also the sender of the chat service's signed webhooks.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The address the chat-bridge manifest's endpoint names.
const ADDR: &str = "127.0.0.1:18460";

/// The webhook secret the demo's host holds and the chat service signs with.
pub const SECRET: &str = "demo-webhook-secret";

/// Frames the bridge sent, as JSON.
pub type Received = Arc<Mutex<Vec<Value>>>;

/// Starts the gateway; the first connection gets one user message.
pub async fn serve() -> Result<Received, String> {
    let listener = tokio::net::TcpListener::bind(ADDR).await.map_err(|e| {
        format!("the demo's chat gateway cannot listen on {ADDR}: {e} (is another demo running?)")
    })?;
    let received: Received = Arc::default();
    let seen = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(socket) = tokio_tungstenite::accept_async(tcp).await else {
                continue;
            };
            let (mut sink, mut stream) = socket.split();
            let question = json!({
                "type": "message", "id": "c-1", "channel": "ops", "user": "ana",
                "text": "Is billing healthy?"
            });
            if sink
                .send(Message::text(question.to_string()))
                .await
                .is_err()
            {
                continue;
            }
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                while let Some(Ok(m)) = stream.next().await {
                    if let Message::Text(t) = m
                        && let Ok(v) = serde_json::from_str::<Value>(&t)
                    {
                        seen.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                    }
                }
            });
        }
    });
    Ok(received)
}

/// Waits up to five seconds for a frame of `kind`.
pub async fn frame(received: &Received, kind: &str) -> Option<Value> {
    for _ in 0..250 {
        let found = received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|v| v["type"] == kind)
            .cloned();
        if found.is_some() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// The signature headers of `POST path` with `body`, signed with `secret`
/// now: `x-signature-timestamp` (Unix seconds) and `x-signature-256:
/// sha256=<hex HMAC-SHA256>` over the timestamp, the method, the path and
/// the body, as the chat bridge's manifest asks.
pub fn sign(secret: &str, path: &str, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let signed = yoi_manifest::Timestamp::signed_bytes(&at, "POST", path, body.as_bytes());
    format!(
        "x-signature-timestamp: {at}\r\nx-signature-256: sha256={}\r\n",
        hex::encode(ring::hmac::sign(&key, &signed).as_ref())
    )
}

/// POSTs a webhook to the host's listener with the `signature` headers
/// from [`sign`]; the status line and body.
pub fn post(addr: std::net::SocketAddr, path: &str, signature: Option<&str>, body: &str) -> String {
    let run = || -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(15)))?;
        let sig = signature.unwrap_or_default();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nhost: demo\r\nconnection: close\r\ncontent-type: application/json\r\n{sig}content-length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        let status = answer.lines().next().unwrap_or_default().to_owned();
        let body = answer
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .trim()
            .to_owned();
        Ok(format!("{status} {body}"))
    };
    run().unwrap_or_else(|e| format!("failed: {e}"))
}
