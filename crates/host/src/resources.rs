//! The host side of the contract's resources, as the bindings name them
//! (`with` in `bindings`): their state only, so the bindings and the host
//! APIs that implement them (`api`) both depend on this, and not on each
//! other. Their methods are the APIs' (`api::https` reads a body).

#[cfg(feature = "https")]
use std::time::Duration;

#[cfg(feature = "https")]
use url::Url;

/// The body of a response opened with `https.open`, read as it arrives:
/// the host side of the `incoming-body` resource.
#[cfg(feature = "https")]
pub struct IncomingBody {
    pub(crate) response: reqwest::Response,
    pub(crate) url: Url,
    /// Bytes received but not yet handed out (from `offset`).
    pub(crate) pending: Vec<u8>,
    pub(crate) offset: usize,
    /// Bytes received so far, against `max`.
    pub(crate) read: usize,
    pub(crate) max: usize,
    /// Longest wait for more bytes.
    pub(crate) idle: Duration,
}

/// Never made without the `https` feature: `open` fails before there is a
/// body.
#[cfg(not(feature = "https"))]
pub struct IncomingBody {}
