use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// `tool.pre_exec` payload: a tool call the model asked for, not yet run.
///
/// Fields: `tool_name`, `input` (a JSON document as text), `call_id`, `turn`.
/// Only `input` may be changed.
pub use crate::__private::base::yoi::plugin::types::ToolCall;

/// `tool.post_exec` payload: a tool call that has run.
///
/// Fields: `tool_name`, `input` (JSON text), `output`, `duration_ms`, `turn`.
/// Only `output` may be changed.
pub use crate::__private::base::yoi::plugin::types::ToolResult;

impl ToolCall {
    /// Parses `input` into your own type (or `serde_json::Value`).
    pub fn parse_input<T: DeserializeOwned>(&self) -> Result<T, Error> {
        parse_json(&self.input, "tool input")
    }

    /// Replaces `input` with `value` serialized as JSON.
    pub fn set_input<T: Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.input = serde_json::to_string(value)?;
        Ok(())
    }
}

impl ToolResult {
    /// Parses `input` into your own type (or `serde_json::Value`).
    pub fn parse_input<T: DeserializeOwned>(&self) -> Result<T, Error> {
        parse_json(&self.input, "tool input")
    }
}

fn parse_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::new(format!("{what} is not the expected JSON: {e}")))
}
