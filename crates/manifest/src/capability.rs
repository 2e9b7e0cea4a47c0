//! `[capabilities]`: what a plugin requests. Nothing here is granted; the
//! operator grants all or part of it, and the host enforces the grant.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use serde::Serialize;

/// A URL scheme an `https` capability may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `https://` (the default).
    Https,
    /// `http://`: only when written explicitly.
    Http,
}

impl Scheme {
    /// The default port of the scheme.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

/// The host part of an `https` capability.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostPattern {
    /// Exactly this host name (lowercase, no trailing dot).
    Exact(String),
    /// `*.suffix`: any subdomain of `suffix`, never `suffix` itself.
    Subdomains(String),
    /// An IP literal, which must be named explicitly.
    Ip(IpAddr),
}

/// One `https` capability: scheme, host pattern and optional port, e.g.
/// `api.example.com`, `*.example.com:8443`, `http://127.0.0.1:8080`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HttpsPattern {
    /// Scheme (default `https`).
    pub scheme: Scheme,
    /// Host pattern.
    pub host: HostPattern,
    /// Port; `None` means the scheme's default port only.
    pub port: Option<u16>,
}

impl HttpsPattern {
    /// Whether a request to `scheme://host:port` falls under this pattern.
    /// `host` is compared case-insensitively and without a trailing dot.
    pub fn matches(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        if scheme != self.scheme || port != self.port.unwrap_or(self.scheme.default_port()) {
            return false;
        }
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        match &self.host {
            HostPattern::Exact(name) => host == *name,
            HostPattern::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            HostPattern::Ip(ip) => {
                let literal = host.trim_start_matches('[').trim_end_matches(']');
                literal.parse::<IpAddr>().is_ok_and(|h| h == *ip)
            }
        }
    }
}

impl fmt::Display for HttpsPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            HostPattern::Exact(h) => f.write_str(h)?,
            HostPattern::Subdomains(h) => write!(f, "*.{h}")?,
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            HostPattern::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl Serialize for HttpsPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

impl FromStr for HttpsPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = match text.split_once("://") {
            Some(("https", rest)) => (Scheme::Https, rest),
            Some(("http", rest)) => (Scheme::Http, rest),
            Some((other, _)) => {
                return Err(format!(
                    "scheme `{}` is not allowed; only https:// (the default) and http://",
                    other.escape_default()
                ));
            }
            None => (Scheme::Https, text),
        };
        if rest.contains('@') {
            return Err("contains `@`: user names and passwords are not allowed".into());
        }
        if let Some(c) = rest.chars().find(|c| matches!(c, '/' | '?' | '#')) {
            return Err(format!("contains `{c}`: name a host, not a URL path"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or("has `[` without a closing `]`")?;
            let ip: Ipv6Addr = addr
                .parse()
                .map_err(|_| format!("`{addr}` is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or("has text after `]` that is not `:port`")?,
                ),
            };
            (HostPattern::Ip(IpAddr::V6(ip)), port)
        } else {
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
            if host.is_empty() {
                return Err("names no host".into());
            }
            let pattern = if let Ok(ip) = host.parse::<IpAddr>() {
                HostPattern::Ip(ip)
            } else if let Some(suffix) = host.strip_prefix("*.") {
                if suffix.parse::<IpAddr>().is_ok() {
                    return Err("a wildcard cannot cover an IP address".into());
                }
                if !suffix.contains('.') {
                    return Err(
                        "covers a whole top-level domain; name a registered domain like `*.example.com`"
                            .into(),
                    );
                }
                HostPattern::Subdomains(suffix.to_owned())
            } else if host.contains('*') {
                return Err(
                    "`*` may only stand as the whole first label, as in `*.example.com`".into(),
                );
            } else {
                HostPattern::Exact(host.clone())
            };
            let name = match &pattern {
                HostPattern::Exact(h) | HostPattern::Subdomains(h) => Some(h),
                HostPattern::Ip(_) => None,
            };
            if let Some(name) = name
                && (name.len() > 253 || !name.split('.').all(valid_label))
            {
                return Err(format!(
                    "`{}` is not a valid host name (letters, digits and `-` in dot-separated labels)",
                    name.escape_default()
                ));
            }
            (pattern, port)
        };
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(format!(
                        "port `{}` is not a number from 1 to 65535",
                        p.escape_default()
                    ));
                }
            },
        };
        Ok(HttpsPattern { scheme, host, port })
    }
}

/// One `websocket` capability: an endpoint a service may connect to, as a
/// host pattern like `https`'s, over `wss://` (the default) or, written out,
/// `ws://`: `gateway.example.com`, `*.example.com:8443`,
/// `ws://127.0.0.1:9000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WebSocketPattern(pub HttpsPattern);

impl WebSocketPattern {
    /// Whether a connection to `secure`? `wss` : `ws` `://host:port` falls
    /// under this pattern.
    pub fn matches(&self, secure: bool, host: &str, port: u16) -> bool {
        let scheme = if secure { Scheme::Https } else { Scheme::Http };
        self.0.matches(scheme, host, port)
    }
}

impl FromStr for WebSocketPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let as_https = match text.split_once("://") {
            Some(("wss", rest)) => format!("https://{rest}"),
            Some(("ws", rest)) => format!("http://{rest}"),
            Some((other, _)) => {
                return Err(format!(
                    "scheme `{}` is not allowed; only wss:// (the default) and ws://",
                    other.escape_default()
                ));
            }
            None => format!("https://{text}"),
        };
        as_https.parse().map(WebSocketPattern)
    }
}

impl fmt::Display for WebSocketPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        match self.0.scheme {
            Scheme::Https => write!(f, "wss://{}", text.trim_start_matches("https://")),
            Scheme::Http => write!(f, "ws://{}", text.trim_start_matches("http://")),
        }
    }
}

impl Serialize for WebSocketPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Longest inbound route.
const MAX_ROUTE_BYTES: usize = 256;

/// One `routes` capability: a path on the host's inbound HTTP listener
/// that a service may answer, with everything below it: `/hooks/acme`
/// covers `/hooks/acme` and `/hooks/acme/github`, not `/hooks/acme2`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoutePattern(String);

impl RoutePattern {
    /// The route as written (normalized: no trailing `/`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a request for `path` falls under this route.
    pub fn matches(&self, path: &str) -> bool {
        path == self.0
            || path
                .strip_prefix(self.0.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl FromStr for RoutePattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err("must start with `/`, e.g. `/hooks/acme`".into());
        };
        if text.len() > MAX_ROUTE_BYTES {
            return Err(format!(
                "is {} bytes long; the limit is {MAX_ROUTE_BYTES}",
                text.len()
            ));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Err("is the whole listener; name a path under it, e.g. `/hooks/acme`".into());
        }
        for segment in rest.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(format!(
                    "has an empty, `.` or `..` segment in `{}`",
                    text.escape_default()
                ));
            }
            if let Some(c) = segment
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')))
            {
                return Err(format!(
                    "contains `{}`; use letters, digits, `-`, `_`, `.` and `~` between `/`",
                    c.escape_default()
                ));
            }
        }
        Ok(RoutePattern(format!("/{rest}")))
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RoutePattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Access mode of an `fs` capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsMode {
    /// Read only.
    Ro,
    /// Read and write.
    Rw,
}

/// One `fs` capability: a path inside the plugin's data root and a mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FsAccess {
    /// Relative path inside the host-chosen data root, `/`-separated, no
    /// `..`; `.` is the whole root.
    pub path: String,
    /// Mode.
    pub mode: FsMode,
}

/// Normalizes a relative path: `/`-separated, no empty or `.` parts, no
/// `..`, not absolute. `.` alone (or an empty result) means the root.
pub fn relative_path(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("is empty; write `.` for the whole data root".into());
    }
    if text.contains('\\') || text.contains('\0') {
        return Err("contains a backslash or NUL; use `/` between folders".into());
    }
    if text.starts_with('/') || (text.len() >= 2 && text.as_bytes()[1] == b':') {
        return Err("is absolute; it must be relative".into());
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("contains `..`, which could leave the allowed folder".into()),
            p => parts.push(p),
        }
    }
    Ok(if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    })
}

/// Whether `key` is a valid secret key: `[A-Za-z_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_secret_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The capabilities a plugin requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Hosts the plugin may call through Yoi's `https` API.
    pub https: Vec<HttpsPattern>,
    /// Paths inside its data root and their modes.
    pub fs: Vec<FsAccess>,
    /// Secret keys it may read.
    pub secrets: Vec<String>,
    /// WebSocket endpoints its services may connect to.
    pub websocket: Vec<WebSocketPattern>,
    /// Inbound HTTP routes its services may answer.
    pub routes: Vec<RoutePattern>,
    /// Whether it logs (default `true`).
    pub log: bool,
}

impl Capabilities {
    /// What a manifest without `[capabilities]` requests: logging only.
    pub fn none() -> Self {
        Capabilities {
            log: true,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> HttpsPattern {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let w = p("*.example.com");
        assert!(w.matches(Scheme::Https, "api.example.com", 443));
        assert!(w.matches(Scheme::Https, "a.b.example.com", 443));
        assert!(w.matches(Scheme::Https, "API.Example.COM.", 443));
        assert!(!w.matches(Scheme::Https, "example.com", 443));
        assert!(!w.matches(Scheme::Https, "evilexample.com", 443));
        assert!(!w.matches(Scheme::Http, "api.example.com", 80));
        assert!(!w.matches(Scheme::Https, "api.example.com", 8443));
    }

    #[test]
    fn ports_schemes_and_ips_are_explicit() {
        assert!(p("http://127.0.0.1:8080").matches(Scheme::Http, "127.0.0.1", 8080));
        assert!(!p("127.0.0.1").matches(Scheme::Https, "127.0.0.2", 443));
        assert!(p("[::1]:9000").matches(Scheme::Https, "[::1]", 9000));
        assert!(p("Api.Example.com.:8443").matches(Scheme::Https, "api.example.com", 8443));
        assert_eq!(p("Api.Example.com.").to_string(), "https://api.example.com");
    }

    #[test]
    fn bad_patterns_say_why() {
        for (bad, why) in [
            ("ftp://x.com", "scheme"),
            ("user@x.com", "`@`"),
            ("x.com/path", "path"),
            ("*.com", "top-level"),
            ("a.*.com", "first label"),
            ("*.10.0.0.1", "IP"),
            ("x.com:0", "port"),
            ("x.com:99999", "port"),
            ("-x.com", "host name"),
            ("", "no host"),
            ("[::1", "`]`"),
            ("ex ample.com", "host name"),
        ] {
            let err = bad.parse::<HttpsPattern>().unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn relative_paths_stay_inside() {
        assert_eq!(relative_path("cache/./x/").unwrap(), "cache/x");
        assert_eq!(relative_path(".").unwrap(), ".");
        for bad in ["", "/etc", "a/../../b", "..", "a\\b", "C:/x"] {
            assert!(relative_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_keys_follow_the_rule() {
        assert!(valid_secret_key("OPENAI_API_KEY"));
        assert!(valid_secret_key("db.password-2"));
        assert!(!valid_secret_key("2FA"));
        assert!(!valid_secret_key("with space"));
        assert!(!valid_secret_key(""));
    }

    #[test]
    fn websocket_patterns_are_https_patterns_over_wss_or_ws() {
        let w = |t: &str| t.parse::<WebSocketPattern>();
        assert_eq!(
            w("gateway.example.com").unwrap().to_string(),
            "wss://gateway.example.com"
        );
        assert_eq!(
            w("ws://127.0.0.1:9000").unwrap().to_string(),
            "ws://127.0.0.1:9000"
        );
        assert!(
            w("wss://*.example.com:8443")
                .unwrap()
                .matches(true, "a.example.com", 8443)
        );
        assert!(
            !w("gateway.example.com")
                .unwrap()
                .matches(false, "gateway.example.com", 443)
        );
        assert!(w("https://x.example.com").is_err());
        assert!(w("wss://x.example.com/path").is_err());
    }

    #[test]
    fn routes_cover_themselves_and_what_is_below() {
        let r = |t: &str| t.parse::<RoutePattern>();
        let acme = r("/hooks/acme/").unwrap();
        assert_eq!(acme.as_str(), "/hooks/acme");
        assert!(acme.matches("/hooks/acme") && acme.matches("/hooks/acme/github"));
        assert!(!acme.matches("/hooks/acme2") && !acme.matches("/hooks"));
        for bad in ["", "hooks", "/", "//x", "/a/../b", "/a b", "/a?x=1", "/é"] {
            assert!(r(bad).is_err(), "{bad:?}");
        }
        assert!(r(&format!("/{}", "a".repeat(300))).is_err());
    }

    proptest::proptest! {
        #[test]
        fn a_parsed_route_reads_back_the_same(text in "/[a-z0-9./_~-]{0,40}") {
            if let Ok(route) = text.parse::<RoutePattern>() {
                proptest::prop_assert_eq!(route.to_string().parse::<RoutePattern>(), Ok(route.clone()));
                proptest::prop_assert!(route.matches(route.as_str()));
            }
        }
    }
}
