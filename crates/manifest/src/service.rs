//! `[[services]]`: long-running plugin parts fed by the host's drivers (a
//! WebSocket endpoint, an inbound HTTP route, timers), with their queue,
//! time limit, backpressure and restart policy. docs/services.md.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::capability::{HostPattern, WebSocketPattern};

/// Longest WebSocket endpoint URL.
const MAX_ENDPOINT_BYTES: usize = 2048;

/// One `[[services]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Name, unique within the plugin: `[a-z][a-z0-9_-]{0,63}`.
    pub name: String,
    /// The WebSocket endpoint the host connects for it, if any.
    pub websocket: Option<Endpoint>,
    /// The inbound HTTP route the host answers for it, if any.
    pub http: Option<crate::capability::RoutePattern>,
    /// Most events waiting for it.
    pub queue: u32,
    /// Time limit of one event (and of `start` and `stop`), in
    /// milliseconds.
    pub timeout_ms: u32,
    /// What happens to an event that finds the queue full.
    pub backpressure: Backpressure,
    /// Whether the host starts it again after a trap or a failed start.
    pub restart: Restart,
    /// First wait before a restart, in milliseconds; it doubles after
    /// every failure in a row, up to `max_backoff_ms`.
    pub backoff_ms: u32,
    /// Longest wait before a restart, in milliseconds.
    pub max_backoff_ms: u32,
    /// Failures in a row after which the host gives up (`failed`).
    pub max_restarts: u32,
    /// HMAC signature the host checks on inbound requests, if any.
    pub signature: Option<Signature>,
}

impl Service {
    /// Default and bounds of `queue`.
    pub const QUEUE: (u32, std::ops::RangeInclusive<u32>) = (256, 1..=65_536);
    /// Default and bounds of `timeout_ms`.
    pub const TIMEOUT_MS: (u32, std::ops::RangeInclusive<u32>) = (1500, 1..=60_000);
    /// Default and bounds of `backoff_ms`.
    pub const BACKOFF_MS: (u32, std::ops::RangeInclusive<u32>) = (250, 10..=60_000);
    /// Default and bounds of `max_backoff_ms`.
    pub const MAX_BACKOFF_MS: (u32, std::ops::RangeInclusive<u32>) = (30_000, 100..=600_000);
    /// Default and bounds of `max_restarts`.
    pub const MAX_RESTARTS: (u32, std::ops::RangeInclusive<u32>) = (10, 0..=10_000);
}

/// What happens to an event that finds a service's queue full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backpressure {
    /// Refuse it: an inbound request is answered 503 with `Retry-After`,
    /// a WebSocket connection stops being read until there is room.
    #[default]
    Refuse,
    /// Drop the oldest waiting event to make room (and count it).
    DropOldest,
}

impl Backpressure {
    /// Every policy, as written in `plugin.toml`.
    pub const ALL: [Backpressure; 2] = [Backpressure::Refuse, Backpressure::DropOldest];

    /// The name in `plugin.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backpressure::Refuse => "refuse",
            Backpressure::DropOldest => "drop_oldest",
        }
    }
}

/// Whether a service is started again after it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// After a trap, a time-out or a failed start, with backoff.
    #[default]
    OnFailure,
    /// Never: the first failure leaves it `failed`.
    Never,
}

impl Restart {
    /// Every policy, as written in `plugin.toml`.
    pub const ALL: [Restart; 2] = [Restart::OnFailure, Restart::Never];

    /// The name in `plugin.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::OnFailure => "on_failure",
            Restart::Never => "never",
        }
    }
}

macro_rules! named {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                <$t>::ALL
                    .into_iter()
                    .find(|p| p.as_str() == s)
                    .ok_or_else(|| {
                        let all: Vec<_> = <$t>::ALL
                            .iter()
                            .map(|p| format!("`{}`", p.as_str()))
                            .collect();
                        format!("`{}` is not one of {}", s.escape_default(), all.join(", "))
                    })
            }
        }
    };
}
named!(Backpressure);
named!(Restart);

/// The HMAC-SHA256 signature of inbound requests: the host computes it
/// with the granted secret and compares it with the header, before the
/// service sees the request. Plain, it covers the raw body; with a
/// [`Timestamp`], it covers the time, the method, the path and query and
/// the body, and each signature is accepted once (docs/services.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// The `secrets` key holding the shared secret.
    pub secret: String,
    /// The header carrying the signature (lowercase).
    pub header: String,
    /// What comes before the hex digest in the header, e.g. `sha256=`.
    pub prefix: String,
    /// The signed timestamp, when the sender sends one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

/// A signed timestamp: `header` carries the Unix time in seconds at
/// which the request was signed, and the HMAC covers
/// `TIMESTAMP \n METHOD \n PATH[?QUERY] \n BODY`. A request signed more than
/// `max_age_s` seconds away from the host's clock is refused, and so is a
/// signature already accepted within that window (a replay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timestamp {
    /// The header carrying the timestamp (lowercase).
    pub header: String,
    /// How far from now a timestamp may be, in seconds.
    pub max_age_s: u32,
}

impl Signature {
    /// The header when the manifest does not say.
    pub const DEFAULT_HEADER: &'static str = "x-signature-256";
    /// The prefix when the manifest does not say.
    pub const DEFAULT_PREFIX: &'static str = "sha256=";
}

impl Timestamp {
    /// The window when the manifest does not say, in seconds.
    pub const DEFAULT_MAX_AGE_S: u32 = 300;
    /// The widest window, in seconds.
    pub const MAX_AGE_S: std::ops::RangeInclusive<u32> = 1..=3600;

    /// What the HMAC covers for a request with this timestamp.
    pub fn signed_bytes(at: &str, method: &str, path_and_query: &str, body: &[u8]) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(at.len() + method.len() + path_and_query.len() + body.len() + 3);
        for part in [at.as_bytes(), method.as_bytes(), path_and_query.as_bytes()] {
            out.extend_from_slice(part);
            out.push(b'\n');
        }
        out.extend_from_slice(body);
        out
    }
}

/// A WebSocket endpoint: `wss://host[:port]/path` (or `ws://`, written
/// out). The host name is exact: no wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// `wss://` (true) or `ws://`.
    pub secure: bool,
    /// Host name (lowercase) or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port (the scheme's default when not written).
    pub port: u16,
    /// Path and query, from `/`.
    pub path: String,
}

impl Endpoint {
    /// Whether a `websocket` capability covers this endpoint.
    pub fn within(&self, pattern: &WebSocketPattern) -> bool {
        pattern.matches(self.secure, &self.host, self.port)
    }

    /// The exact `websocket` capability that covers this endpoint.
    pub fn capability(&self) -> WebSocketPattern {
        let scheme = if self.secure { "wss" } else { "ws" };
        let default = if self.secure { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let port = if self.port == default {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        format!("{scheme}://{host}{port}")
            .parse()
            .unwrap_or_else(|e| unreachable!("an endpoint's host is a valid pattern: {e}"))
    }
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.len() > MAX_ENDPOINT_BYTES {
            return Err(format!(
                "is {} bytes long; the limit is {MAX_ENDPOINT_BYTES}",
                text.len()
            ));
        }
        let secure = match text.split_once("://") {
            Some(("wss", _)) => true,
            Some(("ws", _)) => false,
            _ => return Err("must start with `wss://` (or `ws://`)".into()),
        };
        let rest = &text[if secure { 6 } else { 5 }..];
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if let Some(c) = path
            .chars()
            .find(|c| c.is_ascii_whitespace() || c.is_ascii_control() || !c.is_ascii() || *c == '#')
        {
            return Err(format!("has `{}` in its path", c.escape_default()));
        }
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        let scheme = if secure { "wss" } else { "ws" };
        let pattern: WebSocketPattern = format!("{scheme}://{authority}").parse()?;
        let host = match &pattern.0.host {
            HostPattern::Exact(h) => h.clone(),
            HostPattern::Ip(ip) => ip.to_string(),
            HostPattern::Subdomains(_) => {
                return Err("names a wildcard host; an endpoint names one host".into());
            }
        };
        let port = pattern.0.port.unwrap_or(pattern.0.scheme.default_port());
        Ok(Endpoint {
            secure,
            host,
            port,
            path,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cap = self.capability().to_string();
        write!(f, "{cap}{}", self.path)
    }
}

impl Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_read_back_and_name_their_grant() {
        let e: Endpoint = "wss://gateway.example.com/v1/socket?x=1".parse().unwrap();
        assert_eq!(
            (e.secure, e.host.as_str(), e.port, e.path.as_str()),
            (true, "gateway.example.com", 443, "/v1/socket?x=1")
        );
        assert_eq!(e.to_string(), "wss://gateway.example.com/v1/socket?x=1");
        assert_eq!(e.capability().to_string(), "wss://gateway.example.com");
        let e: Endpoint = "ws://127.0.0.1:18460".parse().unwrap();
        assert_eq!(e.to_string(), "ws://127.0.0.1:18460/");
        assert!(e.within(&"ws://127.0.0.1:18460".parse().unwrap()));
        assert!(!e.within(&"wss://127.0.0.1:18460".parse().unwrap()));
        let e: Endpoint = "ws://[::1]:9/x".parse().unwrap();
        assert_eq!(e.to_string(), "ws://[::1]:9/x");
    }

    #[test]
    fn bad_endpoints_say_why() {
        for (text, why) in [
            ("https://a.example.com", "must start with `wss://`"),
            ("gateway.example.com", "must start with `wss://`"),
            ("wss://*.example.com/x", "wildcard"),
            ("wss://user@a.example.com/", "`@`"),
            ("wss://a.example.com/a b", "in its path"),
            ("wss://a.example.com/#frag", "in its path"),
        ] {
            let e = text.parse::<Endpoint>().unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn policies_read_back() {
        for p in Backpressure::ALL {
            assert_eq!(p.as_str().parse::<Backpressure>(), Ok(p));
        }
        for p in Restart::ALL {
            assert_eq!(p.as_str().parse::<Restart>(), Ok(p));
        }
        let e = "drop-oldest".parse::<Backpressure>().unwrap_err();
        assert!(e.contains("`drop_oldest`"), "{e}");
    }
}
