use std::fmt;

use crate::__private::base::yoi::plugin::types::ApiError;

/// Everything that can go wrong in a plugin, as one enum to `match` on.
///
/// Host API calls ([`crate::http`], [`crate::fs`], [`crate::secrets`]) return
/// the variants the host reports; [`Error::new`] makes the plugin's own
/// failure. When a handler or tool returns an `Err`, its text ends up in the
/// receipt the host records (and, for tools, in what the model sees), so say
/// what went wrong in words an operator understands.
///
/// ```no_run
/// use yoi_pdk::{Error, http};
///
/// match http::get("https://api.example.com/v1/status") {
///     Ok(response) => yoi_pdk::log::info(&format!("status {}", response.status)),
///     Err(Error::Denied { fix, .. }) => yoi_pdk::log::warn(&format!("not granted: {fix}")),
///     Err(other) => yoi_pdk::log::error(&other.to_string()),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The operator's grants do not allow this call; nothing was done. The
    /// host recorded a `permission_denied` event.
    Denied {
        /// `https`, `fs` or `secret`.
        capability: String,
        /// What was refused: a URL, a path, a secret key.
        target: String,
        /// Why.
        reason: String,
        /// What an operator runs to allow it.
        fix: String,
    },
    /// The file, folder or secret does not exist.
    NotFound(String),
    /// The request was malformed (a bad URL, header or path).
    Invalid(String),
    /// A size limit was reached.
    TooLarge(String),
    /// The host's time limit for the call was reached.
    Timeout(String),
    /// Any other host-side failure (a connection, an I/O error).
    Failed(String),
    /// A setting is not declared under `[config]` in plugin.toml, or its
    /// value does not fit the type the plugin reads it as.
    Config(String),
    /// The plugin's own failure, made with [`Error::new`].
    Plugin(String),
}

impl Error {
    /// The plugin's own error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Error::Plugin(message.into())
    }

    /// The message without the kind: the reason of a denial, else the text.
    pub fn message(&self) -> &str {
        match self {
            Error::Denied { reason, .. } => reason,
            Error::NotFound(m)
            | Error::Invalid(m)
            | Error::TooLarge(m)
            | Error::Timeout(m)
            | Error::Failed(m)
            | Error::Config(m)
            | Error::Plugin(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Denied { reason, fix, .. } => write!(f, "permission denied: {reason} ({fix})"),
            Error::NotFound(m) => write!(f, "not found: {m}"),
            Error::Invalid(m) => write!(f, "invalid request: {m}"),
            Error::TooLarge(m) => write!(f, "too large: {m}"),
            Error::Timeout(m) => write!(f, "timed out: {m}"),
            Error::Config(m) => write!(f, "configuration: {m}"),
            Error::Failed(m) | Error::Plugin(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Self::new(format!("invalid JSON: {err}"))
    }
}

impl From<ApiError> for Error {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Denied(d) => Error::Denied {
                capability: d.capability,
                target: d.target,
                reason: d.reason,
                fix: d.fix,
            },
            ApiError::NotFound(m) => Error::NotFound(m),
            ApiError::Invalid(m) => Error::Invalid(m),
            ApiError::TooLarge(m) => Error::TooLarge(m),
            ApiError::Timeout(m) => Error::Timeout(m),
            ApiError::Failed(m) => Error::Failed(m),
        }
    }
}
