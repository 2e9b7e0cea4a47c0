//! `https`: outbound requests through the host's own client, to granted
//! hosts only.
//!
//! Every hop (the first request and each redirect) is matched against the
//! grants before it is sent. Host names are resolved by [`GuardedResolver`],
//! which refuses names that lead to loopback, private or link-local
//! addresses, so a granted name cannot be pointed at the inside network
//! (DNS rebinding): the addresses it checks are the ones the client connects
//! to. Such addresses are reachable only through a grant that names the IP
//! itself (`http://127.0.0.1:8080`) or `localhost` for loopback.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, Url};
use yoi_manifest::Capability;
use yoi_manifest::{HostPattern, HttpsPattern, Scheme};

use crate::api::{ApiFailure, PluginApi};
use crate::bindings::latest::yoi::plugin::https as wit;

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;
/// Most request headers a plugin may set.
const MAX_HEADERS: usize = 64;
/// Largest request header value.
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Longest URL accepted.
const MAX_URL_BYTES: usize = 8 * 1024;
/// Headers the host sets itself; a plugin setting them could smuggle a
/// request to another virtual host or desynchronize the connection.
const HOST_OWNED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
];

/// Whether `ip` is a public unicast address. Loopback, private, link-local,
/// shared (CGNAT), documentation, benchmarking, reserved, multicast and
/// unspecified addresses are not, nor IPv6 forms that embed them.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(s[..6] == [0; 6] // ::, ::1 and IPv4-compatible addresses
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 (embeds IPv4)
                || s[0] == 0x2002 // 6to4 (embeds IPv4)
                || (s[0] == 0x0100 && s[1..4] == [0; 3])) // discard
        }
    }
}

/// A host name that resolved to an address the grant does not cover.
#[derive(Debug)]
pub(crate) struct PrivateAddress {
    host: String,
    ip: IpAddr,
}

impl fmt::Display for PrivateAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` resolves to {}, which is not a public address",
            self.host, self.ip
        )
    }
}

impl StdError for PrivateAddress {}

/// Checks resolved addresses: every one must be public, or loopback for a
/// granted `localhost`. One bad address refuses the name, so a name cannot
/// mix a public address with an internal one.
pub(crate) fn admit(
    host: &str,
    addrs: &[SocketAddr],
    loopback_ok: bool,
) -> Result<(), PrivateAddress> {
    for addr in addrs {
        let ip = addr.ip().to_canonical();
        if !(is_public(ip) || loopback_ok && ip.is_loopback()) {
            return Err(PrivateAddress {
                host: host.to_owned(),
                ip,
            });
        }
    }
    Ok(())
}

/// Resolves host names and refuses any that lead to a non-public address,
/// except loopback for a granted `localhost`. The client connects to the
/// addresses checked here, so a second lookup cannot change the answer.
pub(crate) struct GuardedResolver {
    loopback_names: Vec<String>,
}

impl GuardedResolver {
    /// A resolver that lets `loopback_names` (a granted or written-out
    /// `localhost`) resolve to loopback, and every name only to public
    /// addresses otherwise.
    pub(crate) fn new(loopback_names: Vec<String>) -> Self {
        GuardedResolver { loopback_names }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let loopback_ok = self.loopback_names.contains(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            admit(&host, &addrs, loopback_ok)
                .map_err(|e| Box::new(e) as Box<dyn StdError + Send + Sync>)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The URL without user info, query and fragment, for messages and records
/// (any of them may carry a credential).
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    // Only fails for URLs without a host, which have no user info anyway.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// [`shown`] for a URL as text (a `Location` header, say).
pub(crate) fn shown_text(url: &str) -> String {
    Url::parse(url).map_or_else(
        |_| "a relative or malformed location".to_owned(),
        |u| shown(&u),
    )
}

/// The grant that would allow exactly this URL's scheme, host and port.
fn exact_grant(scheme: Scheme, host: &url::Host<&str>, port: u16) -> Capability {
    let host = match host {
        url::Host::Domain(d) => HostPattern::Exact(d.trim_end_matches('.').to_owned()),
        url::Host::Ipv4(ip) => HostPattern::Ip(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => HostPattern::Ip(IpAddr::V6(*ip)),
    };
    let port = (port != scheme.default_port()).then_some(port);
    Capability::Https(HttpsPattern { scheme, host, port })
}

/// A plugin's HTTP client, built on first use: a client whose resolver
/// knows this plugin's grants.
#[derive(Default)]
pub(crate) struct HttpState {
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl PluginApi {
    fn client(&self) -> Result<&reqwest::Client, ApiFailure> {
        self.http
            .client
            .get_or_init(|| {
                let loopback_names = self
                    .grants
                    .https
                    .iter()
                    .filter_map(|p| match &p.host {
                        HostPattern::Exact(h) if h == "localhost" => Some(h.clone()),
                        _ => None,
                    })
                    .collect();
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .dns_resolver(Arc::new(GuardedResolver::new(loopback_names)))
                    .connect_timeout(self.settings.limits.http_timeout)
                    .user_agent(format!("yoi-plugin ({})", self.plugin))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| ApiFailure::Failed(format!("cannot start the HTTP client: {e}")))
    }

    /// Refuses a URL its grants do not cover. `from` is the URL that
    /// redirected here, if any.
    fn check_url(&self, url: &Url, from: Option<&Url>) -> Result<(), ApiFailure> {
        let target = shown(url);
        let via = from.map_or(String::new(), |f| {
            format!(" (redirected from {})", shown(f))
        });
        let scheme = match url.scheme() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => {
                return Err(self.deny(
                    "https",
                    target,
                    format!(
                        "scheme `{other}` is not allowed{via}; only https:// and granted http://"
                    ),
                    None,
                ));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(self.deny(
                "https",
                target,
                format!("URLs with a user name or password are refused{via}; send credentials in a header"),
                None,
            ));
        }
        let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
            return Err(ApiFailure::Invalid(format!("`{target}` names no host")));
        };
        let host_str = url.host_str().unwrap_or_default();
        if self
            .grants
            .https
            .iter()
            .any(|p| p.matches(scheme, host_str, port))
        {
            return Ok(());
        }
        let what = match host {
            url::Host::Domain(_) => "host",
            _ => "IP address (IP addresses must be granted by number)",
        };
        Err(self.deny(
            "https",
            target,
            format!(
                "{what} `{host_str}` on port {port} over {} is not granted{via}",
                url.scheme()
            ),
            Some(exact_grant(scheme, &host, port)),
        ))
    }

    /// Turns a client error into the guest's error; a resolver refusal is a
    /// denial like any other.
    fn send_error(&self, url: &Url, err: reqwest::Error) -> ApiFailure {
        let mut source: Option<&(dyn StdError + 'static)> = Some(&err);
        while let Some(e) = source {
            if let Some(private) = e.downcast_ref::<PrivateAddress>() {
                let port = url.port_or_known_default().unwrap_or(443);
                let scheme = if url.scheme() == "http" {
                    Scheme::Http
                } else {
                    Scheme::Https
                };
                let host = match private.ip {
                    IpAddr::V4(ip) => url::Host::Ipv4(ip),
                    IpAddr::V6(ip) => url::Host::Ipv6(ip),
                };
                return self.deny(
                    "https",
                    shown(url),
                    format!("{private}; only a grant naming that IP reaches it"),
                    Some(exact_grant(scheme, &host, port)),
                );
            }
            source = e.source();
        }
        if err.is_timeout() {
            return ApiFailure::Timeout(format!("{} did not answer in time", shown(url)));
        }
        // The client's own text would repeat the URL with its query.
        let err = err.without_url();
        let mut why = err.to_string();
        let mut source = err.source();
        while let Some(e) = source {
            why = format!("{why}: {e}");
            source = e.source();
        }
        ApiFailure::Failed(format!("request to {} failed: {why}", shown(url)))
    }

    /// Checks a plugin's request and turns it into the client's terms:
    /// method, URL, headers, body and time limit.
    fn prepare(&self, req: wit::Request) -> Result<Prepared, ApiFailure> {
        let limits = &self.settings.limits;
        if req.url.len() > MAX_URL_BYTES {
            return Err(ApiFailure::Invalid(format!(
                "the URL is {} bytes; the limit is {MAX_URL_BYTES}",
                req.url.len()
            )));
        }
        let url = Url::parse(&req.url).map_err(|e| {
            ApiFailure::Invalid(format!(
                "`{}` is not an absolute URL: {e}",
                req.url
                    .chars()
                    .take(200)
                    .collect::<String>()
                    .escape_default()
            ))
        })?;
        if req.body.len() > limits.http_request_bytes {
            return Err(ApiFailure::TooLarge(format!(
                "the request body is {} bytes; the limit is {}",
                req.body.len(),
                limits.http_request_bytes
            )));
        }
        let headers = request_headers(&req.headers)?;
        let method = match req.method {
            wit::Method::Get => Method::GET,
            wit::Method::Head => Method::HEAD,
            wit::Method::Post => Method::POST,
            wit::Method::Put => Method::PUT,
            wit::Method::Patch => Method::PATCH,
            wit::Method::Delete => Method::DELETE,
        };
        let timeout = req.timeout_ms.map_or(limits.http_timeout, |ms| {
            Duration::from_millis(u64::from(ms)).min(limits.http_timeout)
        });
        Ok(Prepared {
            method,
            url,
            headers,
            body: req.body,
            timeout,
        })
    }

    /// `https.send`: the whole exchange, bounded in size and time.
    pub(crate) async fn send(&self, req: wit::Request) -> Result<wit::Response, ApiFailure> {
        let p = self.prepare(req)?;
        let shown_url = shown(&p.url);
        let exchange = async {
            let (url, response) = self.follow(p.method, p.url, p.headers, p.body).await?;
            self.read_response(url, response).await
        };
        tokio::time::timeout(p.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(ApiFailure::Timeout(format!(
                    "{shown_url} took longer than {} ms",
                    p.timeout.as_millis()
                )))
            })
    }

    /// `https.open`: the same checks and redirects as `send`, answered once
    /// the headers arrive. The time limit covers the headers, and then each
    /// wait for more of the body; the body's size counts as `send`'s does.
    pub(crate) async fn open(
        &self,
        req: wit::Request,
    ) -> Result<(wit::ResponseHead, IncomingBody), ApiFailure> {
        let p = self.prepare(req)?;
        let shown_url = shown(&p.url);
        let timeout = p.timeout;
        let (url, response) =
            tokio::time::timeout(timeout, self.follow(p.method, p.url, p.headers, p.body))
                .await
                .unwrap_or_else(|_| {
                    Err(ApiFailure::Timeout(format!(
                        "{shown_url} did not answer within {} ms",
                        timeout.as_millis()
                    )))
                })?;
        let max = self.settings.limits.http_response_bytes;
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_large(&url, max));
        }
        let head = wit::ResponseHead {
            status: response.status().as_u16(),
            headers: response_headers(&response),
            url: shown(&url),
        };
        Ok((
            head,
            IncomingBody {
                response,
                url,
                pending: Vec::new(),
                offset: 0,
                read: 0,
                max,
                idle: timeout,
            },
        ))
    }

    async fn follow(
        &self,
        mut method: Method,
        mut url: Url,
        mut headers: HeaderMap,
        mut body: Vec<u8>,
    ) -> Result<(Url, reqwest::Response), ApiFailure> {
        let client = self.client()?;
        let mut from: Option<Url> = None;
        for hop in 0..=MAX_REDIRECTS {
            self.check_url(&url, from.as_ref())?;
            let mut request = client
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if !body.is_empty() {
                request = request.body(body.clone());
            }
            let response = request.send().await.map_err(|e| self.send_error(&url, e))?;
            let status = response.status();
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned);
            if let (true, Some(location)) = (status.is_redirection(), location) {
                if hop == MAX_REDIRECTS {
                    return Err(ApiFailure::Failed(format!(
                        "{} redirected more than {MAX_REDIRECTS} times",
                        shown(&url)
                    )));
                }
                let next = url.join(&location).map_err(|e| {
                    ApiFailure::Failed(format!("{} redirected to an invalid URL: {e}", shown(&url)))
                })?;
                let code = status.as_u16();
                if (code == 303 && method != Method::HEAD)
                    || (matches!(code, 301 | 302) && method == Method::POST)
                {
                    method = Method::GET;
                    body.clear();
                }
                if next.host_str() != url.host_str()
                    || next.port_or_known_default() != url.port_or_known_default()
                {
                    // Credentials meant for one host never travel to another.
                    headers.remove(AUTHORIZATION);
                    headers.remove(COOKIE);
                }
                from = Some(std::mem::replace(&mut url, next));
                continue;
            }
            return Ok((url, response));
        }
        Err(ApiFailure::Failed("too many redirects".into()))
    }

    async fn read_response(
        &self,
        url: Url,
        mut response: reqwest::Response,
    ) -> Result<wit::Response, ApiFailure> {
        let max = self.settings.limits.http_response_bytes;
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_large(&url, max));
        }
        let status = response.status().as_u16();
        let headers = response_headers(&response);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.send_error(&url, e))?
        {
            if body.len() + chunk.len() > max {
                return Err(too_large(&url, max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(wit::Response {
            status,
            headers,
            body,
            url: shown(&url),
        })
    }
}

/// A request checked and converted by [`PluginApi::prepare`].
struct Prepared {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Vec<u8>,
    timeout: Duration,
}

fn too_large(url: &Url, max: usize) -> ApiFailure {
    ApiFailure::TooLarge(format!(
        "the response from {} is larger than {max} bytes",
        shown(url)
    ))
}

fn response_headers(response: &reqwest::Response) -> Vec<(String, String)> {
    response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Largest piece one `incoming-body.read` returns, whatever the guest asks.
const MAX_READ: usize = 64 * 1024;

pub use crate::resources::IncomingBody;

impl IncomingBody {
    /// The next bytes, at most `max` (and [`MAX_READ`]); `None` at the end.
    pub(crate) async fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, ApiFailure> {
        let want = (max as usize).clamp(1, MAX_READ);
        if self.offset >= self.pending.len() {
            let next = tokio::time::timeout(self.idle, self.response.chunk())
                .await
                .map_err(|_| {
                    ApiFailure::Timeout(format!(
                        "{} sent nothing for {} ms",
                        shown(&self.url),
                        self.idle.as_millis()
                    ))
                })?
                .map_err(|e| {
                    ApiFailure::Failed(format!(
                        "reading the response from {} failed: {}",
                        shown(&self.url),
                        e.without_url()
                    ))
                })?;
            let Some(chunk) = next else {
                return Ok(None);
            };
            self.read += chunk.len();
            if self.read > self.max {
                return Err(too_large(&self.url, self.max));
            }
            self.pending = chunk.to_vec();
            self.offset = 0;
        }
        let end = (self.offset + want).min(self.pending.len());
        let out = self.pending[self.offset..end].to_vec();
        self.offset = end;
        Ok(Some(out))
    }
}

/// Checks and converts the plugin's request headers.
fn request_headers(list: &[(String, String)]) -> Result<HeaderMap, ApiFailure> {
    if list.len() > MAX_HEADERS {
        return Err(ApiFailure::Invalid(format!(
            "{} headers; at most {MAX_HEADERS}",
            list.len()
        )));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in list {
        let shown: String = name
            .chars()
            .take(64)
            .flat_map(char::escape_default)
            .collect();
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ApiFailure::Invalid(format!("`{shown}` is not a valid header name")))?;
        if HOST_OWNED_HEADERS.contains(&header.as_str()) {
            return Err(ApiFailure::Invalid(format!(
                "header `{header}` is set by the host; remove it from the request"
            )));
        }
        if value.len() > MAX_HEADER_BYTES {
            return Err(ApiFailure::Invalid(format!(
                "header `{header}` is longer than {MAX_HEADER_BYTES} bytes"
            )));
        }
        let value = HeaderValue::from_str(value).map_err(|_| {
            ApiFailure::Invalid(format!(
                "header `{header}` has a value with control characters"
            ))
        })?;
        headers.append(header, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "fd00::1",
            "fe80::1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn a_name_with_any_internal_address_is_refused() {
        let addr = |s: &str| SocketAddr::new(s.parse().unwrap(), 443);
        let public = addr("93.184.216.34");
        assert!(admit("a.example", &[public], false).is_ok());
        let err = admit("a.example", &[public, addr("10.0.0.8")], false).unwrap_err();
        assert_eq!(err.ip.to_string(), "10.0.0.8");
        assert!(err.to_string().contains("not a public address"));
        assert!(admit("localhost", &[addr("127.0.0.1"), addr("::1")], true).is_ok());
        assert!(admit("localhost", &[addr("192.168.0.1")], true).is_err());
        assert!(admit("x", &[addr("::ffff:127.0.0.1")], false).is_err());
    }

    #[test]
    fn host_owned_and_malformed_headers_are_refused() {
        assert!(request_headers(&[("accept".into(), "application/json".into())]).is_ok());
        for (k, v) in [
            ("Host", "internal"),
            ("transfer-encoding", "chunked"),
            ("bad name", "x"),
            ("x-a", "line\r\nbreak"),
        ] {
            assert!(
                matches!(
                    request_headers(&[(k.into(), v.into())]),
                    Err(ApiFailure::Invalid(_))
                ),
                "{k}"
            );
        }
    }
}
