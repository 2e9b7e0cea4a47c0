//! Outbound HTTP(S) through the host: only to hosts the operator granted
//! (`https = ["api.example.com"]` in plugin.toml, then `yoi grant`).
//!
//! The host makes the request: it checks the URL (and every redirect)
//! against the grants, refuses private addresses, and bounds sizes and time.
//! A refused call returns [`Error::Denied`](crate::Error::Denied).
//!
//! ```no_run
//! use yoi_pdk::http;
//!
//! # fn demo() -> Result<(), yoi_pdk::Error> {
//! let forecast: yoi_pdk::json::Value =
//!     http::get("https://api.example.com/v1/forecast?city=Oslo")?.json()?;
//! let created = http::Request::post("https://api.example.com/v1/notes")
//!     .json(&yoi_pdk::json::json!({"text": "hi"}))?
//!     .header("authorization", "Bearer ...")
//!     .send()?;
//! # let _ = (forecast, created); Ok(()) }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::host_api::yoi::plugin::https as wit;
use crate::Error;

/// The request method.
pub use wit::Method;

/// A request, built with [`Request::get`], [`Request::post`] or
/// [`Request::new`], then [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
}

impl Request {
    /// A request with this method and URL.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value)?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Asks for a shorter time limit than the host's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub(crate) fn into_wit(self) -> wit::Request {
        wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            timeout_ms: self
                .timeout
                .map(|t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX)),
        }
    }

    /// Sends the request and returns as soon as the response's headers
    /// arrive; read the body as it comes with [`Streaming::read`] or, for
    /// server-sent events, [`Streaming::events`]. The same grants and
    /// limits as [`Request::send`]; the time limit applies to the headers
    /// and then to each wait for more of the body.
    pub fn open(self) -> Result<Streaming, Error> {
        let (head, body) = wit::open(&self.into_wit())?;
        Ok(Streaming {
            status: head.status,
            headers: head.headers,
            url: head.url,
            body,
            buffer: Vec::new(),
            done: false,
        })
    }

    /// Sends the request and waits for the whole response.
    pub fn send(self) -> Result<Response, Error> {
        let r = wit::send(&self.into_wit())?;
        Ok(Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
            url: r.url,
        })
    }
}

/// The first header called `name` (case-insensitive).
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Headers with lowercase names, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The URL that answered, after redirects (without query).
    pub url: String,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|_| Error::new(format!("the response from {} is not UTF-8 text", self.url)))
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::new(format!(
                "the response from {} is not the expected JSON: {e}",
                self.url
            ))
        })
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    Request::get(url).send()
}

/// `POST url` with a JSON body.
pub fn post_json<T: Serialize + ?Sized>(url: &str, body: &T) -> Result<Response, Error> {
    Request::post(url).json(body)?.send()
}

/// Most bytes asked of the host per read.
const READ_SIZE: u32 = 16 * 1024;

/// Longest line of a server-sent event stream kept; longer ones are an
/// error rather than unbounded memory.
const MAX_LINE: usize = 1024 * 1024;

/// A response whose body is read as it arrives ([`Request::open`]).
pub struct Streaming {
    /// HTTP status code.
    pub status: u16,
    /// Headers with lowercase names, in order.
    pub headers: Vec<(String, String)>,
    /// The URL that answered, after redirects (without query).
    pub url: String,
    body: wit::IncomingBody,
    buffer: Vec<u8>,
    done: bool,
}

impl Streaming {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The next bytes of the body as soon as any arrive; `None` at the end.
    pub fn read(&mut self) -> Result<Option<Vec<u8>>, Error> {
        if !self.buffer.is_empty() {
            return Ok(Some(std::mem::take(&mut self.buffer)));
        }
        if self.done {
            return Ok(None);
        }
        let next = self.body.read(READ_SIZE)?;
        self.done = next.is_none();
        Ok(next)
    }

    /// The rest of the body, whole (an error body, for instance).
    pub fn read_to_end(&mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        while let Some(bytes) = self.read()? {
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }

    /// The next line of the body, without its line ending; `None` at the
    /// end.
    pub fn line(&mut self) -> Result<Option<String>, Error> {
        loop {
            if let Some(at) = self.buffer.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buffer.drain(..=at).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return String::from_utf8(line).map(Some).map_err(|_| {
                    Error::new(format!("{} sent a line that is not UTF-8", self.url))
                });
            }
            if self.buffer.len() > MAX_LINE {
                return Err(Error::TooLarge(format!(
                    "{} sent a line longer than {MAX_LINE} bytes",
                    self.url
                )));
            }
            if self.done {
                if self.buffer.is_empty() {
                    return Ok(None);
                }
                let rest = std::mem::take(&mut self.buffer);
                return String::from_utf8(rest).map(Some).map_err(|_| {
                    Error::new(format!("{} sent a line that is not UTF-8", self.url))
                });
            }
            match self.body.read(READ_SIZE)? {
                Some(bytes) => self.buffer.extend_from_slice(&bytes),
                None => self.done = true,
            }
        }
    }

    /// The body as server-sent events (`text/event-stream`), each as soon
    /// as its blank line arrives.
    pub fn events(&mut self) -> Events<'_> {
        Events { stream: self }
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerEvent {
    /// Its `event:` field, if it had one.
    pub event: Option<String>,
    /// Its `data:` lines, joined with `\n`.
    pub data: String,
    /// Its `id:` field, if it had one.
    pub id: Option<String>,
}

/// The events of a [`Streaming`] body, read as they arrive.
pub struct Events<'a> {
    stream: &'a mut Streaming,
}

impl Iterator for Events<'_> {
    type Item = Result<ServerEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut event = ServerEvent::default();
        let mut fields = false;
        loop {
            let line = match self.stream.line() {
                Ok(Some(line)) => line,
                Ok(None) => return fields.then_some(Ok(event)),
                Err(e) => return Some(Err(e)),
            };
            if line.is_empty() {
                if fields {
                    return Some(Ok(event));
                }
                continue;
            }
            if line.starts_with(':') {
                continue; // a comment, e.g. a keep-alive
            }
            let (name, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            fields = true;
            match name {
                "data" => {
                    if !event.data.is_empty() {
                        event.data.push('\n');
                    }
                    event.data.push_str(value);
                }
                "event" => event.event = Some(value.to_owned()),
                "id" => event.id = Some(value.to_owned()),
                _ => {}
            }
        }
    }
}
