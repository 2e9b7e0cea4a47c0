use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, ToolCall, ToolResult};

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
