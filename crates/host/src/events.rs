//! Typed events of every hook point, and each point's rights: which fields a
//! plugin may change and whether it may block.
//!
//! One table ([`hook_points!`]) defines, per point, the event struct the
//! embedder passes, its WIT record, the export it calls, and per field whether
//! a plugin may change it. Everything else (conversion to WIT, the change
//! check, the export lookup) is derived from that table, so a point's rights
//! are written down exactly once.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};
use yoi_manifest::HookPoint;

use crate::bindings::yoi::plugin::types as wit;
use crate::sandbox::PluginState;

/// Largest text field a plugin may hand back in a change, in bytes.
pub const MAX_CHANGED_FIELD_BYTES: usize = 4 * 1024 * 1024;

/// What a guest handler answered, with the point's WIT event type.
pub enum GuestOutcome<W> {
    Continue,
    Change(W),
    Block(String),
}

type CallResult<W> = wasmtime::Result<Result<GuestOutcome<W>, String>>;

/// An event of one hook point: what [`Host::dispatch`](crate::Host::dispatch)
/// takes. Implemented for every event type of this crate, and only those.
pub trait Event: Point {
    /// The point this event belongs to.
    const POINT: HookPoint = <Self as Point>::POINT;
    /// Whether a plugin may block the event.
    const CAN_BLOCK: bool = <Self as Point>::CAN_BLOCK;
    /// The fields a plugin may change, by name.
    const CHANGEABLE: &'static [&'static str] = <Self as Point>::CHANGEABLE;
}

impl<T: Point> Event for T {}

/// The host side of an [`Event`]: its rules, conversion to WIT, the change
/// check and the export call. Public in name only (it is not reachable from
/// outside the crate), so the set of events stays closed.
pub trait Point: Clone + Send + Sync + Serialize + 'static {
    const POINT: HookPoint;
    const CAN_BLOCK: bool;
    const CHANGEABLE: &'static [&'static str];
    type Wit: Send + Sync + 'static;

    fn to_wit(&self) -> Self::Wit;

    /// The event with a guest's change applied and the names of the fields
    /// that changed, or why the change is refused.
    fn accept_change(&self, changed: Self::Wit) -> Result<(Self, Vec<&'static str>), String>;

    /// Calls the point's export on an instance. `guests` caches the
    /// instance's looked-up exports, so a warm instance looks each up once.
    fn call<'a>(
        store: &'a mut Store<PluginState>,
        instance: &'a Instance,
        exports: &'a HookExports,
        guests: &'a mut HookGuests,
        event: &'a Self::Wit,
    ) -> impl Future<Output = CallResult<Self::Wit>> + Send + 'a;
}

/// How a field crosses the boundary: its WIT form, and the check applied to
/// what a guest sends back. Values from the guest are untrusted: text is
/// size-capped and JSON must parse.
pub(crate) trait Field: Sized {
    type Wit;
    fn to_wit(&self) -> Self::Wit;
    fn from_wit(w: Self::Wit) -> Result<Self, String>;
    fn same(&self, other: &Self) -> bool;
}

fn capped(text: &str) -> Result<(), String> {
    if text.len() > MAX_CHANGED_FIELD_BYTES {
        return Err(format!(
            "is {} bytes; the limit is {MAX_CHANGED_FIELD_BYTES}",
            text.len()
        ));
    }
    Ok(())
}

impl Field for String {
    type Wit = String;
    fn to_wit(&self) -> String {
        self.clone()
    }
    fn from_wit(w: String) -> Result<Self, String> {
        capped(&w)?;
        Ok(w)
    }
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

/// JSON fields travel as text; the guest's text must parse. Equality is on
/// the parsed value, so re-serializing unchanged JSON is not a change.
impl Field for Value {
    type Wit = String;
    fn to_wit(&self) -> String {
        self.to_string()
    }
    fn from_wit(w: String) -> Result<Self, String> {
        capped(&w)?;
        serde_json::from_str(&w).map_err(|e| format!("is not valid JSON: {e}"))
    }
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

macro_rules! plain_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            type Wit = $t;
            fn to_wit(&self) -> $t {
                *self
            }
            fn from_wit(w: $t) -> Result<Self, String> {
                Ok(w)
            }
            fn same(&self, other: &Self) -> bool {
                self == other
            }
        }
    )*};
}
plain_field!(u32, u64, bool, Option<u32>);

/// Floats compare by bits, so a NaN sent out and echoed back is not a change.
impl Field for f64 {
    type Wit = f64;
    fn to_wit(&self) -> f64 {
        *self
    }
    fn from_wit(w: f64) -> Result<Self, String> {
        Ok(w)
    }
    fn same(&self, other: &Self) -> bool {
        self.to_bits() == other.to_bits()
    }
}

impl Field for Option<f64> {
    type Wit = Option<f64>;
    fn to_wit(&self) -> Option<f64> {
        *self
    }
    fn from_wit(w: Option<f64>) -> Result<Self, String> {
        Ok(w)
    }
    fn same(&self, other: &Self) -> bool {
        self.map(f64::to_bits) == other.map(f64::to_bits)
    }
}

/// How a response is being delivered (`response.pre_deliver`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// A chunk of a streamed response.
    Streaming,
    /// The whole, final response.
    #[default]
    Final,
}

impl Field for DeliveryMode {
    type Wit = wit::DeliveryMode;
    fn to_wit(&self) -> wit::DeliveryMode {
        match self {
            DeliveryMode::Streaming => wit::DeliveryMode::Streaming,
            DeliveryMode::Final => wit::DeliveryMode::Final,
        }
    }
    fn from_wit(w: wit::DeliveryMode) -> Result<Self, String> {
        Ok(match w {
            wit::DeliveryMode::Streaming => DeliveryMode::Streaming,
            wit::DeliveryMode::Final => DeliveryMode::Final,
        })
    }
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

/// Checks one field of a guest's change against the point's rights.
macro_rules! check_field {
    (fixed, $field:ident, $old:ident, $c:ident, $next:ident, $touched:ident, $changed:ident) => {
        match Field::from_wit($c.$field) {
            Ok(v) if Field::same(&v, &$old.$field) => {}
            _ => $touched.push(stringify!($field)),
        }
    };
    (change, $field:ident, $old:ident, $c:ident, $next:ident, $touched:ident, $changed:ident) => {
        let v = Field::from_wit($c.$field)
            .map_err(|e| format!("changed `{}` {e}", stringify!($field)))?;
        if !Field::same(&v, &$old.$field) {
            $next.$field = v;
            $changed.push(stringify!($field));
        }
    };
}

macro_rules! changeable {
    (fixed, $field:ident) => {
        None
    };
    (change, $field:ident) => {
        Some(stringify!($field))
    };
}

/// The table of hook points. Per point: the event struct, its `HookPoint`,
/// its WIT record, the export module, whether it may block, and per field
/// `change` (a plugin may change it) or `fixed`.
macro_rules! hook_points {
    ($(
        $(#[$doc:meta])*
        $event:ident = $variant:ident, $wit:ident, $module:ident, block: $block:literal {
            $( $(#[$fdoc:meta])* $right:ident $field:ident: $ty:ty, )*
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
            #[serde(default, deny_unknown_fields)]
            pub struct $event {
                $( $(#[$fdoc])* pub $field: $ty, )*
            }

            impl Point for $event {
                const POINT: HookPoint = HookPoint::$variant;
                const CAN_BLOCK: bool = $block;
                const CHANGEABLE: &'static [&'static str] = {
                    const ALL: &[Option<&str>] = &[$(changeable!($right, $field)),*];
                    const N: usize = {
                        let mut n = 0;
                        let mut i = 0;
                        while i < ALL.len() {
                            if ALL[i].is_some() { n += 1; }
                            i += 1;
                        }
                        n
                    };
                    const OUT: [&str; N] = {
                        let mut out = [""; N];
                        let mut n = 0;
                        let mut i = 0;
                        while i < ALL.len() {
                            if let Some(f) = ALL[i] { out[n] = f; n += 1; }
                            i += 1;
                        }
                        out
                    };
                    &OUT
                };
                type Wit = wit::$wit;

                fn to_wit(&self) -> wit::$wit {
                    wit::$wit { $( $field: Field::to_wit(&self.$field), )* }
                }

                #[allow(unused_mut)]
                fn accept_change(&self, c: wit::$wit) -> Result<(Self, Vec<&'static str>), String> {
                    let mut next = self.clone();
                    let mut touched: Vec<&'static str> = Vec::new();
                    let mut changed: Vec<&'static str> = Vec::new();
                    $( check_field!($right, $field, self, c, next, touched, changed); )*
                    refuse_fixed(<Self as Point>::POINT, <Self as Point>::CHANGEABLE, &touched)?;
                    Ok((next, changed))
                }

                async fn call(
                    store: &mut Store<PluginState>,
                    instance: &Instance,
                    exports: &HookExports,
                    guests: &mut HookGuests,
                    event: &wit::$wit,
                ) -> CallResult<wit::$wit> {
                    use crate::bindings::exports::yoi::plugin::$module as iface;
                    let guest = match &mut guests.$module {
                        Some(guest) => guest,
                        slot => {
                            let indices = exports
                                .$module
                                .as_ref()
                                .ok_or_else(|| missing_export(<Self as Point>::POINT))?;
                            slot.insert(indices.load(&mut *store, instance)?)
                        }
                    };
                    let answer = guest.call_handle(&mut *store, event).await?;
                    Ok(answer.map(|outcome| match outcome {
                        iface::Outcome::Continue => GuestOutcome::Continue,
                        iface::Outcome::Change(e) => GuestOutcome::Change(e),
                        iface::Outcome::Block(r) => GuestOutcome::Block(r),
                    }))
                }
            }
        )*

        /// The exports of one instance, looked up on first use.
        #[derive(Default)]
        pub struct HookGuests {
            $( $module: Option<crate::bindings::exports::yoi::plugin::$module::Guest>, )*
            /// The `tools` export, for tool plugins.
            pub(crate) tools: Option<crate::bindings::exports::yoi::plugin::tools::Guest>,
        }

        /// Export lookups of a plugin's hook interfaces, resolved once at load.
        #[derive(Default, Clone)]
        pub struct HookExports {
            $( $module: Option<crate::bindings::exports::yoi::plugin::$module::GuestIndices>, )*
        }

        impl HookExports {
            /// Resolves the export of `point`; `Err` when the component lacks it.
            pub(crate) fn resolve(
                &mut self,
                point: HookPoint,
                pre: &InstancePre<PluginState>,
            ) -> wasmtime::Result<()> {
                match point {
                    $( HookPoint::$variant => {
                        self.$module = Some(
                            crate::bindings::exports::yoi::plugin::$module::GuestIndices::new(pre)?,
                        );
                    } )*
                    other => return Err(missing_export(other)),
                }
                Ok(())
            }
        }

        /// Runs `point` with a JSON event: for tools that take payloads from
        /// files (`yoi plugin test`). The result's data is JSON again.
        pub(crate) async fn dispatch_json(
            host: &crate::Host,
            subject: Option<&str>,
            point: HookPoint,
            payload: Value,
        ) -> Result<crate::Dispatch<Value>, String> {
            match point {
                $( HookPoint::$variant => {
                    let event: $event = serde_json::from_value(payload).map_err(|e| {
                        format!("the payload is not a valid {} event: {e}", HookPoint::$variant)
                    })?;
                    let out = crate::dispatch::run_chain(host, subject, event).await;
                    Ok(out.map_data(|d| serde_json::to_value(d).unwrap_or(Value::Null)))
                } )*
                other => Err(format!("{other} is not a hook point this host runs")),
            }
        }
    };
}

fn missing_export(point: HookPoint) -> wasmtime::Error {
    wasmtime::Error::msg(format!("the component has no export for {point}"))
}

/// Refuses a change that touches fields the point does not allow.
fn refuse_fixed(point: HookPoint, allowed: &[&str], touched: &[&str]) -> Result<(), String> {
    if touched.is_empty() {
        return Ok(());
    }
    let may = if allowed.is_empty() {
        "no field".to_owned()
    } else {
        format!("only `{}`", allowed.join("`, `"))
    };
    Err(format!(
        "{point} lets a plugin change {may}, but it changed `{}`",
        touched.join("`, `")
    ))
}

hook_points! {
    /// `work_item.pre_create`: a work item about to be created. Plugins may
    /// change `title`, `payload` and `session_key`, or block (the item is not
    /// created).
    NewWorkItem = WorkItemPreCreate, NewWorkItem, work_item_pre_create, block: true {
        /// Title.
        change title: String,
        /// The item's payload.
        change payload: Value,
        /// The session the item belongs to.
        change session_key: String,
        /// Where the item came from (a channel, a schedule, an API client).
        fixed source: String,
        /// The host instance creating it.
        fixed instance: String,
    }

    /// `work_item.post_create`: a work item that was created. Read-only.
    CreatedWorkItem = WorkItemPostCreate, CreatedWorkItem, work_item_post_create, block: false {
        /// The new item's id.
        fixed id: String,
        /// Title.
        fixed title: String,
        /// Payload.
        fixed payload: Value,
        /// Session key.
        fixed session_key: String,
        /// Where the item came from.
        fixed source: String,
    }

    /// `run.pre_prompt`: an agent run's prompt before the first model call.
    /// Plugins may change `system_prompt` and `user_message`; may not block.
    Prompt = RunPrePrompt, Prompt, run_pre_prompt, block: false {
        /// The system prompt.
        change system_prompt: String,
        /// The user's message.
        change user_message: String,
        /// The agent running.
        fixed agent_id: String,
        /// The work item the run is for.
        fixed work_item_id: String,
    }

    /// `model.pre_call`: a model call about to be made. Plugins may change
    /// `model`, `temperature` and `max_tokens`, or block (the call is skipped
    /// and the agent loop ends).
    ModelCall = ModelPreCall, ModelCall, model_pre_call, block: true {
        /// Model name.
        change model: String,
        /// Sampling temperature, if set.
        change temperature: Option<f64>,
        /// Most tokens to generate, if set.
        change max_tokens: Option<u32>,
        /// The conversation so far (a JSON array of messages).
        fixed messages: Value,
        /// The tools offered to the model (a JSON array).
        fixed tools: Value,
        /// The model turn, counting from 0.
        fixed turn: u32,
    }

    /// `model.post_call`: what a model call returned. Read-only.
    ModelResponse = ModelPostCall, ModelResponse, model_post_call, block: false {
        /// The provider's response message.
        fixed response: Value,
        /// Model name.
        fixed model: String,
        /// The model turn, counting from 0.
        fixed turn: u32,
        /// How long the call took, in milliseconds.
        fixed duration_ms: u64,
        /// Prompt tokens used.
        fixed input_tokens: u64,
        /// Completion tokens used.
        fixed output_tokens: u64,
        /// Cost in US dollars.
        fixed cost_usd: f64,
    }

    /// `tool.pre_exec`: a tool call the model asked for, before it runs.
    /// Plugins may change `input`, or block (do not run the tool; give the
    /// model [`Blocked::message`](crate::Blocked::message) instead).
    ToolCall = ToolPreExec, ToolCall, tool_pre_exec, block: true {
        /// Name of the tool as the model sees it.
        fixed tool_name: String,
        /// The tool's input.
        change input: Value,
        /// Identifier of this call, unique within the run.
        fixed call_id: String,
        /// The model turn (from 0) that asked for the call.
        fixed turn: u32,
    }

    /// `tool.post_exec`: a tool call that has run, with its result. Plugins
    /// may change `output`; may not block.
    ToolResult = ToolPostExec, ToolResult, tool_post_exec, block: false {
        /// Name of the tool as the model sees it.
        fixed tool_name: String,
        /// The input the tool ran with.
        fixed input: Value,
        /// What the tool returned, as the model will see it.
        change output: String,
        /// How long the tool took, in milliseconds.
        fixed duration_ms: u64,
        /// The model turn (from 0) that asked for the call.
        fixed turn: u32,
    }

    /// `tool.result_persist`: a tool result about to be stored in the
    /// history. Plugins may change `result`; may not block.
    PersistResult = ToolResultPersist, PersistResult, tool_result_persist, block: false {
        /// Name of the tool.
        fixed tool_name: String,
        /// Identifier of the call.
        fixed call_id: String,
        /// The result as it will be stored.
        change result: String,
    }

    /// `response.pre_deliver`: a response about to be delivered. Plugins may
    /// change `content`, or block (delivery is suppressed).
    Delivery = ResponsePreDeliver, Delivery, response_pre_deliver, block: true {
        /// The content.
        change content: String,
        /// Where it goes.
        fixed channel: String,
        /// The work item it answers.
        fixed work_item_id: String,
        /// Streaming chunk or final response.
        fixed mode: DeliveryMode,
    }

    /// `response.post_deliver`: a response that was delivered, or failed to
    /// be. Read-only.
    Delivered = ResponsePostDeliver, Delivered, response_post_deliver, block: false {
        /// The content that was sent.
        fixed content: String,
        /// Where it went.
        fixed channel: String,
        /// Whether delivery succeeded.
        fixed ok: bool,
        /// The channel's answer or error, in words.
        fixed detail: String,
    }

    /// `context.pre_compact`: the conversation is about to be compacted.
    /// Read-only.
    Compaction = ContextPreCompact, Compaction, context_pre_compact, block: false {
        /// The messages to be compacted (a JSON array).
        fixed messages: Value,
    }

    /// `context.post_compact`: the conversation was compacted. Plugins may
    /// change `summary`; may not block.
    Compacted = ContextPostCompact, Compacted, context_post_compact, block: false {
        /// The messages that were compacted (a JSON array).
        fixed messages: Value,
        /// The summary that replaces them.
        change summary: String,
    }

    /// `host.start`: the host started. Read-only.
    HostStart = HostStart, HostInfo, host_start, block: false {
        /// The embedding application's name.
        fixed name: String,
        /// Its version.
        fixed version: String,
        /// This running instance (a hostname, a pod name).
        fixed instance: String,
    }

    /// `host.stop`: the host is stopping. Read-only.
    HostStop = HostStop, HostInfo, host_stop, block: false {
        /// The embedding application's name.
        fixed name: String,
        /// Its version.
        fixed version: String,
        /// This running instance.
        fixed instance: String,
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
        assert!(
            err.contains("only `input`, but it changed `tool_name`, `turn`"),
            "{err}"
        );

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

    #[test]
    fn read_only_points_refuse_every_change_and_say_so() {
        let e = ModelResponse {
            cost_usd: f64::NAN,
            ..ModelResponse::default()
        };
        // Echoing the event back (NaN included) is not a change.
        assert_eq!(e.accept_change(e.to_wit()).unwrap().1, Vec::<&str>::new());
        let mut w = e.to_wit();
        w.model = "other".into();
        let err = e.accept_change(w).unwrap_err();
        assert!(err.contains("lets a plugin change no field"), "{err}");
        assert!(<ModelResponse as Event>::CHANGEABLE.is_empty());
    }

    #[test]
    fn changeable_lists_follow_the_table() {
        assert_eq!(
            <NewWorkItem as Event>::CHANGEABLE,
            ["title", "payload", "session_key"]
        );
        assert_eq!(
            <ModelCall as Event>::CHANGEABLE,
            ["model", "temperature", "max_tokens"]
        );
        assert_eq!(<Compacted as Event>::CHANGEABLE, ["summary"]);
        const { assert!(<NewWorkItem as Event>::CAN_BLOCK && !<Prompt as Event>::CAN_BLOCK) };
    }

    #[test]
    fn oversized_changes_are_refused() {
        let e = PersistResult::default();
        let mut w = e.to_wit();
        w.result = "x".repeat(MAX_CHANGED_FIELD_BYTES + 1);
        assert!(e.accept_change(w).unwrap_err().contains("the limit is"));
    }
}
