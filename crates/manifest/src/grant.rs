//! Capabilities as operators write them (`yoi grant acme.weather https:api.example.com`)
//! and the rule that a grant can only narrow a request. What a package
//! requests and what an operator may grant it are facts about the package,
//! so every layer (registry, host, CLI) reads them from here.

use std::fmt;
use std::str::FromStr;

use crate::capability::{RoutePattern, WebSocketPattern};
use crate::{FsMode, HostPattern, HttpsPattern, Manifest, Scheme, relative_path, valid_secret_key};

/// A capability string that cannot be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a capability: {why}")]
pub struct CapabilityError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub why: String,
}

/// One capability: `https:HOST[:PORT]` (or `https:http://HOST:PORT`),
/// `fs:PATH:ro|rw`, `secret:KEY`, `websocket:HOST[:PORT]` (or
/// `websocket:ws://HOST:PORT`) or `route:/PATH`. Logging is not a capability: every
/// plugin may log, capped, cleaned and tagged with its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Calls to hosts matching the pattern.
    Https(HttpsPattern),
    /// Files under a path of the plugin's data root.
    Fs {
        /// Relative path (`.` is the whole root).
        path: String,
        /// Mode.
        mode: FsMode,
    },
    /// One secret.
    Secret(String),
    /// Outbound WebSocket connections to endpoints matching the pattern
    /// (services).
    WebSocket(WebSocketPattern),
    /// Inbound HTTP requests on a route of the host's listener (services).
    Route(RoutePattern),
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Https(p) => {
                let text = p.to_string();
                let short = match p.scheme {
                    Scheme::Https => text.trim_start_matches("https://").to_owned(),
                    Scheme::Http => text,
                };
                write!(f, "https:{short}")
            }
            Capability::Fs { path, mode } => {
                let mode = if *mode == FsMode::Ro { "ro" } else { "rw" };
                write!(f, "fs:{path}:{mode}")
            }
            Capability::Secret(key) => write!(f, "secret:{key}"),
            Capability::WebSocket(p) => {
                let text = p.to_string();
                match p.0.scheme {
                    Scheme::Https => write!(f, "websocket:{}", text.trim_start_matches("wss://")),
                    Scheme::Http => write!(f, "websocket:{text}"),
                }
            }
            Capability::Route(r) => write!(f, "route:{r}"),
        }
    }
}

impl FromStr for Capability {
    type Err = CapabilityError;

    fn from_str(text: &str) -> Result<Self, CapabilityError> {
        let bad = |why: String| CapabilityError {
            text: text.to_owned(),
            why,
        };
        if text == "log" {
            return Err(bad(
                "logging needs no grant: every plugin may log (capped, cleaned and tagged with its id); leave `log` out".into(),
            ));
        }
        let (kind, rest) = text
            .split_once(':')
            .ok_or_else(|| bad("it has no `kind:` prefix".into()))?;
        match kind {
            "https" => rest.parse().map(Capability::Https).map_err(bad),
            "fs" => {
                let (path, mode) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| bad("an fs capability ends with `:ro` or `:rw`".into()))?;
                let mode = match mode {
                    "ro" => FsMode::Ro,
                    "rw" => FsMode::Rw,
                    other => return Err(bad(format!("mode `{other}` is neither ro nor rw"))),
                };
                let path = relative_path(path).map_err(|why| bad(format!("path {why}")))?;
                Ok(Capability::Fs { path, mode })
            }
            "secret" if valid_secret_key(rest) => Ok(Capability::Secret(rest.to_owned())),
            "secret" => Err(bad(format!("`{rest}` is not a valid secret key"))),
            "websocket" => rest.parse().map(Capability::WebSocket).map_err(bad),
            "route" => rest
                .parse()
                .map(Capability::Route)
                .map_err(|why| bad(format!("route {why}"))),
            other => Err(bad(format!("unknown kind `{other}`"))),
        }
    }
}

/// Written and read in `yoi grant` form, as the CLI and the HTTP API show it.
impl serde::Serialize for Capability {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Capability {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Capability {
    /// Parses grants written in `yoi grant` form, all or nothing.
    pub fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Capability>, CapabilityError> {
        texts.iter().map(|t| t.as_ref().parse()).collect()
    }

    /// Everything a manifest requests.
    pub fn requested_by(manifest: &Manifest) -> Vec<Capability> {
        let caps = &manifest.capabilities;
        let mut out: Vec<Capability> = caps.https.iter().cloned().map(Capability::Https).collect();
        out.extend(caps.fs.iter().map(|f| Capability::Fs {
            path: f.path.clone(),
            mode: f.mode,
        }));
        out.extend(caps.secrets.iter().cloned().map(Capability::Secret));
        out.extend(caps.websocket.iter().cloned().map(Capability::WebSocket));
        out.extend(caps.routes.iter().cloned().map(Capability::Route));
        out
    }

    /// Whether `self`, as a grant, stays within the request `request`.
    pub fn within(&self, request: &Capability) -> bool {
        match (self, request) {
            (Capability::Https(g), Capability::Https(r)) => host_within(g, r),
            (Capability::WebSocket(g), Capability::WebSocket(r)) => host_within(&g.0, &r.0),
            (Capability::Route(g), Capability::Route(r)) => r.matches(g.as_str()),
            (Capability::Fs { path: gp, mode: gm }, Capability::Fs { path: rp, mode: rm }) => {
                let inside = rp == "." || gp == rp || gp.starts_with(&format!("{rp}/"));
                inside && (*gm == FsMode::Ro || *rm == FsMode::Rw)
            }
            (Capability::Secret(g), Capability::Secret(r)) => g == r,
            _ => false,
        }
    }
}

/// Whether the host pattern `g` stays within `r`: the same scheme and port,
/// and a host `r` covers.
fn host_within(g: &HttpsPattern, r: &HttpsPattern) -> bool {
    let port = |p: &HttpsPattern| p.port.unwrap_or(p.scheme.default_port());
    g.scheme == r.scheme
        && port(g) == port(r)
        && match (&g.host, &r.host) {
            (HostPattern::Exact(g), HostPattern::Exact(r)) => g == r,
            (HostPattern::Ip(g), HostPattern::Ip(r)) => g == r,
            (HostPattern::Exact(g), HostPattern::Subdomains(r)) => g.ends_with(&format!(".{r}")),
            (HostPattern::Subdomains(g), HostPattern::Subdomains(r)) => {
                g == r || g.ends_with(&format!(".{r}"))
            }
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Capability {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_prints_the_cli_forms() {
        for s in [
            "https:api.example.com",
            "https:*.example.com:8443",
            "https:http://127.0.0.1:8080",
            "fs:cache/x:ro",
            "fs:.:rw",
            "secret:WEATHER_KEY",
            "websocket:gateway.example.com",
            "websocket:ws://127.0.0.1:9000",
            "route:/hooks/acme",
        ] {
            assert_eq!(c(s).to_string(), s);
        }
        for bad in [
            "https:",
            "fs:cache",
            "fs:../x:ro",
            "fs:a:rx",
            "secret:9x",
            "net:x",
            "shell",
            "log",
        ] {
            assert!(bad.parse::<Capability>().is_err(), "{bad}");
        }
    }

    #[test]
    fn service_grants_narrow_like_https_and_paths() {
        assert!(c("websocket:a.example.com").within(&c("websocket:*.example.com")));
        assert!(!c("websocket:ws://a.example.com:443").within(&c("websocket:*.example.com")));
        assert!(!c("websocket:a.example.com").within(&c("https:*.example.com")));
        assert!(c("route:/hooks/acme/github").within(&c("route:/hooks/acme")));
        assert!(!c("route:/hooks").within(&c("route:/hooks/acme")));
        assert!(!c("route:/hooks/acme2").within(&c("route:/hooks/acme")));
        assert!("route:hooks".parse::<Capability>().is_err());
    }

    #[test]
    fn grants_may_only_narrow() {
        assert!(c("https:api.example.com").within(&c("https:*.example.com")));
        assert!(c("https:*.eu.example.com").within(&c("https:*.example.com")));
        assert!(c("https:*.example.com").within(&c("https:*.example.com")));
        assert!(!c("https:example.com").within(&c("https:*.example.com")));
        assert!(!c("https:*.example.com").within(&c("https:api.example.com")));
        assert!(!c("https:api.example.com:8443").within(&c("https:*.example.com")));
        assert!(!c("https:http://api.example.com").within(&c("https:*.example.com")));
        assert!(c("fs:cache/a:ro").within(&c("fs:cache:rw")));
        assert!(c("fs:cache:ro").within(&c("fs:.:ro")));
        assert!(!c("fs:cache:rw").within(&c("fs:cache:ro")));
        assert!(!c("fs:cachex:ro").within(&c("fs:cache:ro")));
        assert!(!c("secret:A").within(&c("secret:B")));
        let err = "log".parse::<Capability>().unwrap_err().to_string();
        assert!(err.contains("logging needs no grant"), "{err}");
    }
}
