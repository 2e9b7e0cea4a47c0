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

    /// Sends the request and waits for the whole response.
    pub fn send(self) -> Result<Response, Error> {
        let request = wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            timeout_ms: self
                .timeout
                .map(|t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX)),
        };
        let r = wit::send(&request)?;
        Ok(Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
            url: r.url,
        })
    }
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
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
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
