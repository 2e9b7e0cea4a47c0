//! Hook points the embedding host declares itself (contract 0.6.0), such as
//! a build pipeline's `build.pre_compile`: one [`crate::Plugin::host_hook`]
//! method handles them all, registered as `host_hooks`.
//!
//! ```
//! use yoi_pdk::prelude::*;
//!
//! #[derive(serde::Deserialize, serde::Serialize)]
//! struct Build {
//!     target: String,
//!     flags: Vec<String>,
//!     build_id: Option<String>,
//! }
//!
//! struct BuildGuard;
//!
//! impl Plugin for BuildGuard {
//!     fn host_hook(event: HostEvent) -> HookResult<json::Value> {
//!         if event.point != "build.pre_compile" {
//!             return Ok(Outcome::Continue);
//!         }
//!         let mut build: Build = event.parse()?;
//!         if build.flags.iter().any(|f| f == "--insecure") {
//!             return Ok(Outcome::block("--insecure is not allowed"));
//!         }
//!         build.build_id = Some("b-1".into());
//!         Outcome::change_to(&build)
//!     }
//! }
//!
//! yoi_pdk::register!(BuildGuard => host_hooks);
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, HookResult, Outcome};

/// An event of a hook point the host declares: which point, and its event
/// as the host's JSON (matching the schema the host declared).
#[derive(Debug, Clone, PartialEq)]
pub struct HostEvent {
    /// The point, e.g. `build.pre_compile`.
    pub point: String,
    /// The event.
    pub data: serde_json::Value,
}

impl HostEvent {
    /// The event as a type of your choosing.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_value(self.data.clone())
            .map_err(|e| Error::Invalid(format!("the {} event does not fit: {e}", self.point)))
    }
}

impl Outcome<serde_json::Value> {
    /// Lets the event through as `event`, a value of your type: the whole
    /// event, of which only the fields the host declared changeable may
    /// differ.
    pub fn change_to<T: Serialize>(event: &T) -> HookResult<serde_json::Value> {
        serde_json::to_value(event)
            .map(Outcome::Change)
            .map_err(|e| Error::new(format!("the changed event is not JSON: {e}")))
    }
}

/// The `host-hooks` export of a [`crate::Plugin`]: the event decoded, the
/// answer encoded.
#[doc(hidden)]
pub fn __handle<P: crate::Plugin>(point: String, event: String) -> Result<HostAnswer, String> {
    let data = serde_json::from_str(&event)
        .map_err(|e| format!("the host sent a {point} event that is not JSON: {e}"))?;
    match P::host_hook(HostEvent { point, data }) {
        Ok(Outcome::Continue) => Ok(HostAnswer::Continue),
        Ok(Outcome::Change(value)) => serde_json::to_string(&value)
            .map(HostAnswer::Change)
            .map_err(|e| format!("the changed event is not JSON: {e}")),
        Ok(Outcome::Block(reason)) => Ok(HostAnswer::Block(reason)),
        Err(e) => Err(e.to_string()),
    }
}

/// What [`__handle`] answers, before it becomes the WIT outcome.
#[doc(hidden)]
pub enum HostAnswer {
    /// Unchanged.
    Continue,
    /// The whole changed event, as JSON.
    Change(String),
    /// Stopped, with the reason.
    Block(String),
}
