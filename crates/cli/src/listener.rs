//! The HTTP listener of `yoi serve`: what a client must do before a
//! request reaches a route. Connections are capped in total and per peer
//! address (over the cap: 503 with `Retry-After`, then the socket is
//! closed, so a flood never holds the server's files); a request head must
//! arrive within the header timeout, and an idle keep-alive connection is
//! closed after it too; a `Host` the server does not answer to is refused
//! before routing (DNS rebinding). docs/serve.md, "Limits".

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The address a request came from, in every request's extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub IpAddr);

/// What a client may hold and how long it may take.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Connections open at once, from everyone.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_per_peer: usize,
    /// Time for a request head to arrive, and for an idle connection to
    /// send its next one.
    pub header_timeout: Duration,
    /// Time for a request body to arrive.
    pub body_timeout: Duration,
    /// `Host` values requests may carry (lowercase `name` or `name:port`);
    /// empty: any.
    pub hosts: Vec<String>,
}

/// Largest request head kept in memory.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Busy answers being written at once; past that, an over-cap connection
/// is closed without one.
const MAX_BUSY_ANSWERS: usize = 64;

impl Limits {
    /// The `Host` values a server listening on `addr` answers to, besides
    /// `extra`: on a loopback address its own address and `localhost`
    /// (with the port), so a page on another site that resolves its own
    /// name to 127.0.0.1 is refused; elsewhere only `extra`, or any when
    /// `extra` is empty.
    pub(crate) fn hosts_for(addr: SocketAddr, extra: &[String]) -> Vec<String> {
        let mut hosts: Vec<String> = extra.iter().map(|h| h.to_ascii_lowercase()).collect();
        if addr.ip().is_loopback() {
            let port = addr.port();
            hosts.push(format!("localhost:{port}"));
            hosts.push(match addr {
                SocketAddr::V4(v4) => format!("{}:{port}", v4.ip()),
                SocketAddr::V6(v6) => format!("[{}]:{port}", v6.ip()),
            });
        }
        hosts
    }

    /// Whether a request's `Host` is one this server answers to.
    fn host_allowed(&self, host: Option<&str>) -> bool {
        if self.hosts.is_empty() {
            return true;
        }
        let Some(host) = host else {
            return false;
        };
        let host = host.trim().to_ascii_lowercase();
        self.hosts
            .iter()
            .any(|h| *h == host || (!h.contains(':') && host.split(':').next() == Some(h)))
    }
}

/// Open connections, in total and per peer address.
#[derive(Default)]
struct Open {
    total: usize,
    by_peer: HashMap<IpAddr, usize>,
}

/// One admitted connection; its slot is given back when it is dropped.
struct Slot {
    open: Arc<Mutex<Open>>,
    peer: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total -= 1;
        if let Some(n) = open.by_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                open.by_peer.remove(&self.peer);
            }
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy)]
enum Full {
    Server,
    Peer,
}

fn admit(open: &Arc<Mutex<Open>>, peer: IpAddr, limits: &Limits) -> Result<Slot, Full> {
    let mut state = open.lock().unwrap_or_else(|e| e.into_inner());
    if state.total >= limits.max_connections {
        return Err(Full::Server);
    }
    let mine = state.by_peer.entry(peer).or_default();
    if *mine >= limits.max_per_peer {
        return Err(Full::Peer);
    }
    *mine += 1;
    state.total += 1;
    Ok(Slot {
        open: open.clone(),
        peer,
    })
}

/// Serves `router` on `listener` within `limits` until the process ends.
pub(crate) async fn run(listener: TcpListener, router: Router, limits: Limits) {
    let limits = Arc::new(limits);
    let open = Arc::new(Mutex::new(Open::default()));
    let busy = Arc::new(tokio::sync::Semaphore::new(MAX_BUSY_ANSWERS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of files or memory for a moment: the connections
                // being closed give them back.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let slot = match admit(&open, peer.ip(), &limits) {
            Ok(slot) => slot,
            Err(full) => {
                if let Ok(permit) = busy.clone().try_acquire_owned() {
                    let limits = limits.clone();
                    tokio::spawn(async move {
                        answer_busy(stream, full, &limits).await;
                        drop(permit);
                    });
                }
                continue;
            }
        };
        let router = router.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let checked = limits.clone();
            let routes = TowerToHyperService::new(router);
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let routes = routes.clone();
                let limits = checked.clone();
                req.extensions_mut().insert(Peer(peer.ip()));
                async move {
                    let host = req
                        .headers()
                        .get(header::HOST)
                        .and_then(|v| v.to_str().ok())
                        .or_else(|| req.uri().authority().map(|a| a.as_str()));
                    if !limits.host_allowed(host) {
                        return Ok(misdirected(host));
                    }
                    hyper::service::Service::call(&routes, req).await
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
}

/// 421 for a `Host` this server does not answer to, with the fix.
fn misdirected(host: Option<&str>) -> Response<axum::body::Body> {
    let why = format!(
        "this server does not answer to the host {:?}: use the address it listens on, \
         or start it with `--allow-host NAME` for a name that reaches it",
        crate::terminal::safe(host.unwrap_or("(none)"))
    );
    let body = serde_json::json!({ "ok": false, "error": why }).to_string();
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = StatusCode::MISDIRECTED_REQUEST;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Answers an over-cap connection 503 and closes it. What the client sent
/// is read (a little, briefly) after the answer, so closing does not reset
/// the connection before the client reads it.
async fn answer_busy(mut stream: TcpStream, full: Full, limits: &Limits) {
    let why = match full {
        Full::Server => format!(
            "the server has {} connections open, its limit; try again shortly",
            limits.max_connections
        ),
        Full::Peer => format!(
            "your address has {} connections open, the limit per address; close some or try again shortly",
            limits.max_per_peer
        ),
    };
    let body = serde_json::json!({ "ok": false, "error": why }).to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    if tokio::time::timeout(Duration::from_secs(1), write)
        .await
        .is_err()
    {
        return;
    }
    let mut sink = [0u8; 4096];
    let drain = async {
        let mut read = 0;
        while read < MAX_HEAD_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(hosts: Vec<String>) -> Limits {
        Limits {
            max_connections: 2,
            max_per_peer: 1,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            hosts,
        }
    }

    #[test]
    fn a_loopback_server_answers_only_to_its_own_names() {
        let addr: SocketAddr = "127.0.0.1:7878".parse().expect("addr");
        let l = limits(Limits::hosts_for(addr, &["yoi.internal".into()]));
        for ok in [
            "127.0.0.1:7878",
            "localhost:7878",
            "LOCALHOST:7878",
            "yoi.internal",
            "yoi.internal:443",
        ] {
            assert!(l.host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            None,
            Some("evil.example:7878"),
            Some("localhost:7879"),
            Some("127.0.0.1"),
            Some("127.0.0.1.nip.io:7878"),
        ] {
            assert!(!l.host_allowed(bad), "{bad:?}");
        }
        let v6: SocketAddr = "[::1]:80".parse().expect("addr");
        assert!(limits(Limits::hosts_for(v6, &[])).host_allowed(Some("[::1]:80")));
        let any: SocketAddr = "0.0.0.0:80".parse().expect("addr");
        assert!(limits(Limits::hosts_for(any, &[])).host_allowed(Some("anything")));
    }

    #[test]
    fn slots_are_capped_in_total_and_per_peer_and_given_back() {
        let l = limits(vec![]);
        let open = Arc::new(Mutex::new(Open::default()));
        let a: IpAddr = "127.0.0.2".parse().expect("ip");
        let b: IpAddr = "127.0.0.3".parse().expect("ip");
        let c: IpAddr = "127.0.0.4".parse().expect("ip");
        let first = admit(&open, a, &l).expect("first");
        assert!(matches!(admit(&open, a, &l), Err(Full::Peer)));
        let second = admit(&open, b, &l).expect("second");
        assert!(matches!(admit(&open, c, &l), Err(Full::Server)));
        drop(first);
        drop(second);
        let again = admit(&open, a, &l).expect("given back");
        drop(again);
        let state = open.lock().expect("lock");
        assert_eq!(state.total, 0);
        assert!(state.by_peer.is_empty());
    }
}
