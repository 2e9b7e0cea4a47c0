//! Typed events of the hook points this host dispatches, and each point's
//! rights: which fields a plugin may change and whether it may block.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::Instance;
use yoi_manifest::HookPoint;

use crate::bindings::exports::yoi::plugin::{tool_post_exec as post, tool_pre_exec as pre};
use crate::bindings::yoi::plugin::types as wit;
use crate::plugin::HookExports;
use crate::sandbox::PluginState;

/// Largest text field a plugin may hand back in a change, in bytes.
pub const MAX_CHANGED_FIELD_BYTES: usize = 4 * 1024 * 1024;

/// `tool.pre_exec`: a tool call the model asked for, before it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// Name of the tool as the model sees it.
    pub tool_name: String,
    /// The tool's input. Plugins may change it.
    pub input: Value,
    /// Identifier of this call, unique within the run.
    #[serde(default)]
    pub call_id: String,
    /// The model turn (from 0) that asked for the call.
    #[serde(default)]
    pub turn: u32,
}

/// `tool.post_exec`: a tool call that has run, with its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolResult {
    /// Name of the tool as the model sees it.
    pub tool_name: String,
    /// The input the tool ran with.
    pub input: Value,
    /// What the tool returned, as the model will see it. Plugins may change it.
    pub output: String,
    /// How long the tool took, in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// The model turn (from 0) that asked for the call.
    #[serde(default)]
    pub turn: u32,
}

/// What a guest handler answered, with the point's WIT event type.
pub(crate) enum GuestOutcome<W> {
    Continue,
    Change(W),
    Block(String),
}

type CallResult<W> = wasmtime::Result<Result<GuestOutcome<W>, String>>;

/// A hook point's event type and rules.
pub(crate) trait Point: Clone + Send + Sync + 'static {
    const POINT: HookPoint;
    const CAN_BLOCK: bool;
    type Wit: Send + Sync + 'static;

    fn to_wit(&self) -> Self::Wit;

    /// The event with a guest's change applied and the names of the fields
    /// that changed, or why the change is refused.
    fn accept_change(&self, changed: Self::Wit) -> Result<(Self, Vec<&'static str>), String>;

    /// Calls the point's export on an instance.
    fn call<'a>(
        store: &'a mut Store<PluginState>,
        instance: &'a Instance,
        exports: &'a HookExports,
        event: Self::Wit,
    ) -> impl Future<Output = CallResult<Self::Wit>> + Send + 'a;
}

/// Loads a point's export from an instance, calls `handle`, and maps the
/// point's own outcome type to [`GuestOutcome`].
macro_rules! call_export {
    ($store:ident, $instance:ident, $indices:expr, $iface:ident, $event:ident) => {{
        let indices = $indices
            .as_ref()
            .ok_or_else(|| missing_export(Self::POINT))?;
        let guest = indices.load(&mut *$store, $instance)?;
        let answer = guest.call_handle(&mut *$store, &$event).await?;
        Ok(answer.map(|outcome| match outcome {
            $iface::Outcome::Continue => GuestOutcome::Continue,
            $iface::Outcome::Change(e) => GuestOutcome::Change(e),
            $iface::Outcome::Block(r) => GuestOutcome::Block(r),
        }))
    }};
}

fn missing_export(point: HookPoint) -> wasmtime::Error {
    wasmtime::Error::msg(format!("the component has no export for {point}"))
}

/// Refuses a change that touches fields the point does not allow.
fn refuse_fixed(point: HookPoint, allowed: &str, touched: &[&str]) -> Result<(), String> {
    if touched.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{point} lets a plugin change only `{allowed}`, but it changed `{}`",
        touched.join("`, `")
    ))
}

fn checked_json(field: &str, text: &str) -> Result<Value, String> {
    if text.len() > MAX_CHANGED_FIELD_BYTES {
        return Err(format!(
            "changed `{field}` is {} bytes; the limit is {MAX_CHANGED_FIELD_BYTES}",
            text.len()
        ));
    }
    serde_json::from_str(text).map_err(|e| format!("changed `{field}` is not valid JSON: {e}"))
}

impl Point for ToolCall {
    const POINT: HookPoint = HookPoint::ToolPreExec;
    const CAN_BLOCK: bool = true;
    type Wit = wit::ToolCall;

    fn to_wit(&self) -> wit::ToolCall {
        wit::ToolCall {
            tool_name: self.tool_name.clone(),
            input: self.input.to_string(),
            call_id: self.call_id.clone(),
            turn: self.turn,
        }
    }

    fn accept_change(&self, c: wit::ToolCall) -> Result<(Self, Vec<&'static str>), String> {
        let mut touched = Vec::new();
        if c.tool_name != self.tool_name {
            touched.push("tool_name");
        }
        if c.call_id != self.call_id {
            touched.push("call_id");
        }
        if c.turn != self.turn {
            touched.push("turn");
        }
        refuse_fixed(Self::POINT, "input", &touched)?;
        let input = checked_json("input", &c.input)?;
        let mut next = self.clone();
        let mut changed = Vec::new();
        if input != self.input {
            next.input = input;
            changed.push("input");
        }
        Ok((next, changed))
    }

    async fn call(
        store: &mut Store<PluginState>,
        instance: &Instance,
        exports: &HookExports,
        event: wit::ToolCall,
    ) -> CallResult<wit::ToolCall> {
        call_export!(store, instance, exports.tool_pre_exec, pre, event)
    }
}

impl Point for ToolResult {
    const POINT: HookPoint = HookPoint::ToolPostExec;
    const CAN_BLOCK: bool = false;
    type Wit = wit::ToolResult;

    fn to_wit(&self) -> wit::ToolResult {
        wit::ToolResult {
            tool_name: self.tool_name.clone(),
            input: self.input.to_string(),
            output: self.output.clone(),
            duration_ms: self.duration_ms,
            turn: self.turn,
        }
    }

    fn accept_change(&self, c: wit::ToolResult) -> Result<(Self, Vec<&'static str>), String> {
        let mut touched = Vec::new();
        if c.tool_name != self.tool_name {
            touched.push("tool_name");
        }
        // Compare as JSON: the guest may re-serialize the input differently.
        if serde_json::from_str::<Value>(&c.input).ok().as_ref() != Some(&self.input) {
            touched.push("input");
        }
        if c.duration_ms != self.duration_ms {
            touched.push("duration_ms");
        }
        if c.turn != self.turn {
            touched.push("turn");
        }
        refuse_fixed(Self::POINT, "output", &touched)?;
        if c.output.len() > MAX_CHANGED_FIELD_BYTES {
            return Err(format!(
                "changed `output` is {} bytes; the limit is {MAX_CHANGED_FIELD_BYTES}",
                c.output.len()
            ));
        }
        let mut next = self.clone();
        let mut changed = Vec::new();
        if c.output != self.output {
            next.output = c.output;
            changed.push("output");
        }
        Ok((next, changed))
    }

    async fn call(
        store: &mut Store<PluginState>,
        instance: &Instance,
        exports: &HookExports,
        event: wit::ToolResult,
    ) -> CallResult<wit::ToolResult> {
        call_export!(store, instance, exports.tool_post_exec, post, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call() -> ToolCall {
        ToolCall {
            tool_name: "fetch".into(),
            input: json!({"url": "http://a"}),
            call_id: "c1".into(),
            turn: 2,
        }
    }

    #[test]
    fn pre_exec_accepts_input_changes_only() {
        let mut w = call().to_wit();
        w.input = r#"{"url":"https://a"}"#.into();
        let (next, changed) = call().accept_change(w).unwrap();
        assert_eq!(next.input, json!({"url": "https://a"}));
        assert_eq!(changed, vec!["input"]);

        let mut w = call().to_wit();
        w.tool_name = "shell".into();
        w.turn = 9;
        let err = call().accept_change(w).unwrap_err();
        assert!(err.contains("`tool_name`, `turn`"), "{err}");

        let mut w = call().to_wit();
        w.input = "{not json".into();
        assert!(
            call()
                .accept_change(w)
                .unwrap_err()
                .contains("not valid JSON")
        );
    }

    #[test]
    fn post_exec_accepts_output_changes_and_reformatted_input() {
        let r = ToolResult {
            tool_name: "fetch".into(),
            input: json!({"a": 1, "b": 2}),
            output: "x".into(),
            duration_ms: 5,
            turn: 0,
        };
        let mut w = r.to_wit();
        w.input = r#"{ "b": 2, "a": 1 }"#.into();
        w.output = "y".into();
        let (next, changed) = r.accept_change(w).unwrap();
        assert_eq!((next.output.as_str(), changed), ("y", vec!["output"]));

        let mut w = r.to_wit();
        w.duration_ms = 0;
        assert!(r.accept_change(w).unwrap_err().contains("`duration_ms`"));
    }
}
