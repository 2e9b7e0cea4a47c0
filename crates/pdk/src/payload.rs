use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// `work_item.pre_create` payload: `title`, `payload` (JSON text), `session_key`, `source`, `instance`. May change `title`, `payload`, `session_key`.
pub use crate::__private::base::yoi::plugin::types::NewWorkItem;

/// `work_item.post_create` payload: `id`, `title`, `payload` (JSON text), `session_key`, `source`. Read-only.
pub use crate::__private::base::yoi::plugin::types::CreatedWorkItem;

/// `run.pre_prompt` payload: `system_prompt`, `user_message`, `agent_id`, `work_item_id`. May change `system_prompt` and `user_message`.
pub use crate::__private::base::yoi::plugin::types::Prompt;

/// `model.pre_call` payload: `model`, `temperature`, `max_tokens`, `messages` (JSON text), `tools` (JSON text), `turn`. May change `model`, `temperature`, `max_tokens`.
pub use crate::__private::base::yoi::plugin::types::ModelCall;

/// `model.post_call` payload: `response` (JSON text), `model`, `turn`, `duration_ms`, `input_tokens`, `output_tokens`, `cost_usd`. Read-only.
pub use crate::__private::base::yoi::plugin::types::ModelResponse;

/// `tool.pre_exec` payload: `tool_name`, `input` (JSON text), `call_id`, `turn`. May change `input`.
pub use crate::__private::base::yoi::plugin::types::ToolCall;

/// `tool.post_exec` payload: `tool_name`, `input` (JSON text), `output`, `duration_ms`, `turn`. May change `output`.
pub use crate::__private::base::yoi::plugin::types::ToolResult;

/// `tool.result_persist` payload: `tool_name`, `call_id`, `result`. May change `result`.
pub use crate::__private::base::yoi::plugin::types::PersistResult;

/// `response.pre_deliver` payload: `content`, `channel`, `work_item_id`, `mode`. May change `content`.
pub use crate::__private::base::yoi::plugin::types::Delivery;

/// How a response is delivered: `Streaming` (a chunk) or `Final`.
pub use crate::__private::base::yoi::plugin::types::DeliveryMode;

/// `response.post_deliver` payload: `content`, `channel`, `ok`, `detail`. Read-only.
pub use crate::__private::base::yoi::plugin::types::Delivered;

/// `context.pre_compact` payload: `messages` (JSON text). Read-only.
pub use crate::__private::base::yoi::plugin::types::Compaction;

/// `context.post_compact` payload: `messages` (JSON text), `summary`. May change `summary`.
pub use crate::__private::base::yoi::plugin::types::Compacted;

/// `host.start` and `host.stop` payload: `name`, `version`, `instance`. Read-only.
pub use crate::__private::base::yoi::plugin::types::HostInfo;

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
