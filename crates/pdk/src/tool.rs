//! Tools: typed functions the model can call.
//!
//! A tool is a function from a serde input type to a result; register it
//! with [`register!`](crate::register) (`tools: ...`) and declare it in
//! plugin.toml (`[[tools]]`, same name, with its input schema). The host
//! checks the input against the schema before the function runs; the PDK
//! then deserializes it into your type.
//!
//! ```no_run
//! use serde::Deserialize;
//! use yoi_pdk::prelude::*;
//!
//! #[derive(Deserialize)]
//! struct Input {
//!     city: String,
//! }
//!
//! fn forecast(input: Input) -> Result<String, Error> {
//!     Ok(format!("sunny in {}", input.city))
//! }
//!
//! yoi_pdk::register!(tools: forecast);
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// What a tool function may return: text, or JSON.
pub trait Output {
    /// The text the model sees.
    fn into_output(self) -> Result<String, Error>;
}

impl Output for String {
    fn into_output(self) -> Result<String, Error> {
        Ok(self)
    }
}

impl Output for &str {
    fn into_output(self) -> Result<String, Error> {
        Ok(self.to_owned())
    }
}

impl Output for serde_json::Value {
    fn into_output(self) -> Result<String, Error> {
        Ok(self.to_string())
    }
}

/// Returns any serializable value as JSON text: `Ok(Json(report))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> Output for Json<T> {
    fn into_output(self) -> Result<String, Error> {
        Ok(serde_json::to_string(&self.0)?)
    }
}

/// Runs a tool function on JSON input. Used by [`register!`](crate::register).
#[doc(hidden)]
pub fn __run<I, O, F>(name: &str, f: F, input: &str) -> Result<String, String>
where
    I: DeserializeOwned,
    O: Output,
    F: FnOnce(I) -> Result<O, Error>,
{
    let input: I = serde_json::from_str(input)
        .map_err(|e| format!("the input of tool `{name}` does not fit its type: {e}"))?;
    f(input)
        .and_then(Output::into_output)
        .map_err(|e| e.to_string())
}
