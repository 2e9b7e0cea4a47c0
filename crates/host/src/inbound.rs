//! The inbound HTTP listener: one per host, on the address the embedder
//! sets (`HostBuilder::inbound_http`). Each request goes to the service
//! whose granted route covers its path (the longest route wins), within
//! the host's size and time limits; a signed route's HMAC is checked
//! before the service sees the request; the service's `respond` command is
//! the answer, or the host answers 504 when none comes in time. A full
//! `refuse` queue is answered 503 with `Retry-After`. docs/services.md.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, HeaderName, HeaderValue, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use yoi_manifest::Signature;

use crate::api::ApiFailure;
use crate::bindings::latest::exports::yoi::plugin::service as wit;
use crate::eventlog::event;
use crate::host::Shared;
use crate::services::{Reply, Unit};
use crate::settle::{self, Caller};

/// Most connections the listener serves at once; later ones wait in the
/// kernel's backlog.
const MAX_CONNECTIONS: usize = 256;
/// Most request headers kept for the service.
const MAX_HEADERS: usize = 100;
/// Longest path accepted.
const MAX_PATH: usize = 2048;

/// Whether this host has a listener.
pub(crate) fn listening(shared: &Shared) -> bool {
    shared.inbound.get().is_some()
}

/// Binds `addr` and serves it on the drivers' runtime; the bound address
/// (a port of 0 becomes the one the system chose).
pub(crate) fn start(shared: &Arc<Shared>, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let io = shared.services.io()?;
    let weak = Arc::downgrade(shared);
    let _ = shared.inbound.set(bound);
    io.spawn(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("the inbound HTTP listener on {bound} failed: {e}");
                return;
            }
        };
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("inbound HTTP accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            if weak.strong_count() == 0 {
                return;
            }
            let weak = weak.clone();
            let read_timeout = weak
                .upgrade()
                .map(|s| s.services.limits.read_timeout)
                .unwrap_or_default();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let weak = weak.clone();
                    async move { Ok::<_, Infallible>(handle(weak, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(read_timeout)
                    .max_buf_size(64 * 1024)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                drop(permit);
            });
        }
    });
    Ok(bound)
}

fn plain(status: u16, text: &str) -> Response<Full<Bytes>> {
    reply(Reply::text(status, text))
}

fn reply(r: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(r.body)));
    *response.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (name, value) in r.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}

/// Whether a path is one a route can answer: absolute, without empty, `.`
/// or `..` segments, and not too long. Segments are judged decoded, so
/// `%2e%2e` is `..` and `%2f` (a `/` hidden in a segment) is refused too:
/// a service behind the route sees no path its route does not cover.
fn clean_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    path.len() <= MAX_PATH
        && (rest.is_empty()
            || segments.iter().enumerate().all(|(i, s)| {
                let Some(decoded) = decode_segment(s) else {
                    return false;
                };
                // Only a trailing `/` leaves an empty segment.
                (!s.is_empty() || (i == last && i > 0))
                    && decoded != "."
                    && decoded != ".."
                    && !decoded.contains(['/', '\\', '\0'])
            }))
}

/// A path segment with its `%XX` escapes decoded; `None` when an escape is
/// malformed or the result is not UTF-8.
fn decode_segment(segment: &str) -> Option<String> {
    if !segment.contains('%') {
        return Some(segment.to_owned());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn handle(weak: Weak<Shared>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(shared) = weak.upgrade() else {
        return plain(503, "the host is shutting down");
    };
    let path = req.uri().path().to_owned();
    if !clean_path(&path) {
        return plain(
            400,
            "the path has empty, `.` or `..` segments, or is too long",
        );
    }
    let Some(unit) = shared.services.route(&path) else {
        return plain(404, &format!("no service answers {path}"));
    };
    if unit.is_stopping() || unit.state().is_final() {
        return plain(503, "the service is not running");
    }
    let limits = &unit.limits;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.request_bytes as u64) {
        return plain(
            413,
            &format!("the body may have {} bytes", limits.request_bytes),
        );
    }
    let method = req.method().as_str().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .take(MAX_HEADERS)
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = Limited::new(req.into_body(), limits.request_bytes).collect();
    let body = match tokio::time::timeout(limits.read_timeout, body).await {
        Err(_) => return plain(408, "the body did not arrive in time"),
        Ok(Err(_)) => {
            return plain(
                413,
                &format!("the body may have {} bytes", limits.request_bytes),
            );
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    if let Some(signature) = &unit.spec.signature
        && let Err(refusal) = verify(
            &shared,
            &unit,
            signature,
            (&method, &path, &query),
            &headers,
            &body,
        )
        .await
    {
        return refusal;
    }
    let id = unit.next_id();
    let answer = unit.await_answer(id);
    let request = wit::Event::Request(wit::InboundRequest {
        id,
        method,
        path,
        query,
        headers,
        body: body.to_vec(),
    });
    if unit.offer(request).is_err() {
        unit.forget(id);
        let mut refused = plain(503, "the service is busy; try again later");
        refused
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return refused;
    }
    match tokio::time::timeout(limits.answer_timeout, answer).await {
        Ok(Ok(r)) => reply(r),
        _ => {
            unit.forget(id);
            plain(
                504,
                &format!(
                    "the service did not answer within {} ms",
                    limits.answer_timeout.as_millis()
                ),
            )
        }
    }
}

/// Checks the request's HMAC-SHA256 signature with the granted secret.
/// A missing or wrong signature is the sender's (401); a secret the
/// operator did not grant or set is the host's (503), with the fix.
async fn verify(
    shared: &Shared,
    unit: &Arc<Unit>,
    signature: &Signature,
    (method, path, query): (&str, &str, &str),
    headers: &[(String, String)],
    body: &Bytes,
) -> Result<(), Response<Full<Bytes>>> {
    let api = &unit.plugin.api;
    let source = match api.secret_source(&signature.secret) {
        Ok(source) => source,
        Err(failure) => return Err(unverifiable(shared, unit, failure)),
    };
    let key = signature.secret.clone();
    let secret = tokio::task::spawn_blocking(move || crate::api::fetch_secret(&*source, &key))
        .await
        .unwrap_or_else(|e| Err(ApiFailure::Failed(format!("the secret source failed: {e}"))));
    let secret = match secret {
        // An empty key signs anything anyone can compute: no secret at all.
        Ok(s) if s.is_empty() => {
            return Err(unverifiable(
                shared,
                unit,
                ApiFailure::Failed(format!(
                    "the signature secret `{}` is set but empty; set it to a long random value in the host's secret source",
                    signature.secret
                )),
            ));
        }
        Ok(s) => s,
        Err(failure) => return Err(unverifiable(shared, unit, failure)),
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    };
    let given = header(&signature.header);
    let tag = given
        .and_then(|v| v.strip_prefix(signature.prefix.as_str()))
        .and_then(|hex_digest| hex::decode(hex_digest.trim()).ok());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let why = match (&signature.timestamp, &tag) {
        (_, None) if given.is_none() => format!("the request has no `{}` header", signature.header),
        (_, None) => format!(
            "the `{}` header is not `{}HEX`",
            signature.header, signature.prefix
        ),
        (None, Some(tag)) => match ring::hmac::verify(&key, body, tag) {
            Ok(()) => return Ok(()),
            Err(_) => format!("the `{}` header does not match the body", signature.header),
        },
        (Some(stamp), Some(tag)) => {
            match timestamped(stamp, header(&stamp.header), (method, path, query), body) {
                Err(why) => why,
                Ok(signed) => match ring::hmac::verify(&key, &signed.bytes, tag) {
                    Err(_) => format!(
                        "the `{}` header does not match the timestamp, method, path and body",
                        signature.header
                    ),
                    // A valid signature is accepted once in its window.
                    Ok(()) if unit.first_use(tag, signed.at, stamp.max_age_s) => return Ok(()),
                    Ok(()) => "the signature was already accepted: a replayed request".into(),
                },
            }
        }
    };
    unit.bad_signatures.fetch_add(1, Ordering::Relaxed);
    // Counted always (the status's `bad_signatures`); recorded at most once
    // a while, with how many since, so unsigned floods stay bounded.
    if let Some(refused) = unit.signature_record_due() {
        tracing::warn!(service = %unit.label(), refused, "inbound requests refused: {why}");
        unit.note_error(format!("an inbound request was refused: {why}"));
        if let Some(sink) = &shared.sink {
            sink.send(event(
                "service_signature_refused",
                &unit.plugin.info.id,
                &unit.plugin.info.version,
                serde_json::json!({ "service": unit.spec.name, "reason": why, "refused": refused }),
            ));
        }
    }
    Err(plain(401, &format!("signature refused: {why}")))
}

/// What a timestamped signature covers, and when it was made.
struct Signed {
    at: i64,
    bytes: Vec<u8>,
}

/// The bytes a timestamped signature must cover, once the timestamp is
/// known to be a Unix time within the window; or why not.
fn timestamped(
    stamp: &yoi_manifest::Timestamp,
    given: Option<&str>,
    (method, path, query): (&str, &str, &str),
    body: &[u8],
) -> Result<Signed, String> {
    let Some(text) = given else {
        return Err(format!("the request has no `{}` header", stamp.header));
    };
    let at: i64 = text.trim().parse().map_err(|_| {
        format!(
            "the `{}` header is not a Unix time in seconds",
            stamp.header
        )
    })?;
    let now = crate::eventlog::now_ms() / 1000;
    let off = now.saturating_sub(at).saturating_abs();
    if off > i64::from(stamp.max_age_s) {
        return Err(format!(
            "the request was signed {off} s away from this host's clock; at most {} s are accepted",
            stamp.max_age_s
        ));
    }
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    Ok(Signed {
        at,
        bytes: yoi_manifest::Timestamp::signed_bytes(text.trim(), method, &target, body),
    })
}

/// A signature the host cannot check: the secret is not granted or not
/// set. Recorded like any denial, with the fix.
fn unverifiable(shared: &Shared, unit: &Unit, failure: ApiFailure) -> Response<Full<Bytes>> {
    use crate::bindings::latest::yoi::plugin::types::ApiError;
    let (error, denial) = failure.into_wit();
    let why = match (&denial, error) {
        (Some(d), _) => {
            settle::denied(
                shared,
                &unit.plugin,
                Caller::Service,
                std::slice::from_ref(d),
                None,
            );
            format!("the signature secret is refused: {}; {}", d.reason, d.fix)
        }
        (None, ApiError::Failed(why)) => why,
        (None, _) => format!(
            "the signature secret `{}` is not set on this host; {}",
            unit.spec
                .signature
                .as_ref()
                .map_or("", |s| s.secret.as_str()),
            "set it in the host's secret source"
        ),
    };
    tracing::warn!(service = %unit.label(), "{why}");
    unit.note_error(why);
    plain(503, "the service cannot check signatures now")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_paths_reach_a_route() {
        for ok in [
            "/",
            "/hooks/acme",
            "/hooks/acme/github",
            "/a.b/~c",
            "/hooks/a%20b",
            "/hooks/...",
        ] {
            assert!(clean_path(ok), "{ok}");
        }
        for bad in [
            "hooks",
            "//hooks",
            "/hooks//acme",
            "/hooks/../admin",
            "/hooks/./x",
            "/x/..",
            "/hooks/%2e%2e/admin",
            "/hooks/%2E%2e",
            "/hooks/.%2e/admin",
            "/hooks/%2e",
            "/hooks/a%2fb",
            "/hooks/a%5cb",
            "/hooks/a%00",
            "/hooks/%zz",
            "/hooks/%e",
        ] {
            assert!(!clean_path(bad), "{bad}");
        }
        assert!(!clean_path(&format!("/{}", "a".repeat(MAX_PATH))));
    }
}
