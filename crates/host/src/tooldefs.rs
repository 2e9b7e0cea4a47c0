//! What a tool is before the tool registry (`tools`) lists or calls it: a
//! tool a plugin declares, a tool the embedder implements, and their input
//! schemas, compiled once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use yoi_manifest::{PluginId, Tool};

/// Compiles a tool's input schema. `jsonschema` is built without remote
/// references, so a schema can never make the host fetch anything.
pub(crate) fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    yoi_manifest::check_input_schema(schema)?;
    jsonschema::validator_for(schema).map_err(|e| format!("its input schema does not compile: {e}"))
}

/// Checks `input` against a compiled schema; the error lists what is wrong.
pub(crate) fn validate(validator: &jsonschema::Validator, input: &Value) -> Result<(), String> {
    let errors = yoi_manifest::schema_errors(validator, input);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the input does not match the tool's schema: {}",
            errors.join("; ")
        ))
    }
}

/// A tool a plugin declares, with its compiled schema.
#[derive(Clone)]
pub(crate) struct PluginTool {
    /// The name in plugin.toml.
    pub(crate) name: String,
    /// `<plugin id>.<name>`.
    pub(crate) qualified: String,
    pub(crate) description: String,
    pub(crate) schema: Value,
    pub(crate) validator: Arc<jsonschema::Validator>,
}

impl PluginTool {
    pub(crate) fn new(plugin: &PluginId, tool: &Tool, schema: &Value) -> Result<Self, String> {
        Ok(PluginTool {
            name: tool.name.clone(),
            qualified: format!("{plugin}.{}", tool.name),
            description: tool.description.clone(),
            schema: schema.clone(),
            validator: Arc::new(compile(schema)?),
        })
    }
}

/// The future a native tool returns: the result text, or an error text
/// (both shown to the model).
pub type NativeFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

type NativeRun = Arc<dyn Fn(Value) -> NativeFuture + Send + Sync>;

/// A tool the embedding application implements itself, listed and called
/// beside plugin tools.
///
/// ```
/// use serde_json::json;
/// let clock = yoi_host::NativeTool::new(
///     "clock",
///     "The current time, as an RFC 3339 string.",
///     json!({"type": "object", "properties": {}}),
///     |_input| async { Ok("2026-11-22T10:00:00Z".to_owned()) },
/// );
/// # let _ = clock;
/// ```
#[derive(Clone)]
pub struct NativeTool {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) schema: Value,
    pub(crate) run: NativeRun,
}

impl NativeTool {
    /// A native tool: `[A-Za-z0-9_-]{1,64}` name, a description for the
    /// model, a JSON Schema (object root) for its input, and the function
    /// that runs it.
    pub fn new<F, Fut>(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
        run: F,
    ) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        NativeTool {
            name: name.into(),
            description: description.into(),
            schema: input_schema,
            run: Arc::new(move |input| Box::pin(run(input))),
        }
    }
}

/// A registered native tool with its compiled schema.
pub(crate) struct NativeEntry {
    pub(crate) tool: NativeTool,
    pub(crate) validator: jsonschema::Validator,
}

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    /// The tool ran and returned a result.
    Ok,
    /// No tool by that name is available (to this subject).
    UnknownTool,
    /// The input did not match the tool's schema; the tool did not run.
    InvalidInput,
    /// A `tool.pre_exec` handler blocked the call; the tool did not run.
    Blocked,
    /// The tool returned an error, trapped, or failed to start.
    Error,
    /// The tool ran out of time and was stopped.
    Timeout,
    /// The tool did not run: the host had no free slot for it in time.
    Busy,
}

impl ToolStatus {
    /// Its name, as in JSON: `ok`, `unknown_tool`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ToolStatus::Ok => "ok",
            ToolStatus::UnknownTool => "unknown_tool",
            ToolStatus::InvalidInput => "invalid_input",
            ToolStatus::Blocked => "blocked",
            ToolStatus::Error => "error",
            ToolStatus::Timeout => "timeout",
            ToolStatus::Busy => "busy",
        }
    }
}

/// Whether `name` is a valid name of a native tool or provider: 1 to 64
/// letters, digits, `_` or `-` (a `.` is reserved for plugins').
pub(crate) fn valid_native_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
