//! Typed events of every hook point, and each point's rights: which fields a
//! plugin may change and whether it may block. The structs, their WIT form
//! and the change check are derived from the table in `points`, so a
//! point's rights are written down exactly once.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use yoi_manifest::HookPoint;

use crate::bindings::latest::yoi::plugin::context::HookContext as WitContext;
use crate::bindings::latest::yoi::plugin::types as wit;

/// Largest text field a plugin may hand back in a change, in bytes.
pub const MAX_CHANGED_FIELD_BYTES: usize = 4 * 1024 * 1024;

/// Who and what an event is about: the ids the embedder knows, each
/// optional. Plugins of contract 0.2.0 and later can read it (with the point
/// and their own plugin id) during every call of the event, hook handlers
/// and tools alike, and cannot change it; it lets a plugin apply per-agent
/// or per-session policy. `subject` also decides partial rollouts
/// ([`Host::dispatch_for`](crate::Host::dispatch_for)).
///
/// ```
/// let ctx = yoi_host::HookContext {
///     agent_id: Some("support-bot".into()),
///     session_id: Some("s-42".into()),
///     ..Default::default()
/// };
/// assert!(ctx.subject.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HookContext {
    /// The work item the event belongs to.
    pub work_item_id: Option<String>,
    /// The job or agent run the event belongs to.
    pub run_id: Option<String>,
    /// The agent running.
    pub agent_id: Option<String>,
    /// The session (conversation, channel thread) the event belongs to.
    pub session_id: Option<String>,
    /// The subject rollout decisions use: a user, a session, a work item.
    /// Without one, plugins on a partial rollout do not run.
    pub subject: Option<String>,
}

impl HookContext {
    /// A context with only a rollout subject.
    pub fn for_subject(subject: impl Into<String>) -> Self {
        HookContext {
            subject: Some(subject.into()),
            ..HookContext::default()
        }
    }

    /// The WIT record a plugin reads (`context.current`).
    pub(crate) fn to_wit(&self, point: Option<HookPoint>, plugin: &str) -> WitContext {
        WitContext {
            point: point.map(|p| p.as_str().to_owned()),
            plugin_id: plugin.to_owned(),
            work_item_id: self.work_item_id.clone(),
            run_id: self.run_id.clone(),
            agent_id: self.agent_id.clone(),
            session_id: self.session_id.clone(),
            subject: self.subject.clone(),
        }
    }
}

/// The context of one guest call: the embedder's ids for the event (shared
/// by every call of a dispatch; `None` when it has none) and the point
/// running, `None` for a tool.
#[derive(Clone)]
pub(crate) struct CallContext {
    pub(crate) point: Option<HookPoint>,
    pub(crate) ids: Option<std::sync::Arc<HookContext>>,
}

impl CallContext {
    /// The context of calls of `point` (`None`: a tool) for `ids`. Nothing
    /// is allocated for an empty context, the common case.
    pub(crate) fn new(point: Option<HookPoint>, ids: &HookContext) -> Self {
        let empty = ids.work_item_id.is_none()
            && ids.run_id.is_none()
            && ids.agent_id.is_none()
            && ids.session_id.is_none()
            && ids.subject.is_none();
        let ids = (!empty).then(|| std::sync::Arc::new(ids.clone()));
        CallContext { point, ids }
    }

    /// The WIT record a plugin reads.
    pub(crate) fn to_wit(&self, plugin: &str) -> WitContext {
        match &self.ids {
            Some(ids) => ids.to_wit(self.point, plugin),
            None => HookContext::default().to_wit(self.point, plugin),
        }
    }
}

/// What a guest handler answered, with the point's WIT event type.
pub enum GuestOutcome<W> {
    Continue,
    Change(W),
    Block(String),
}

/// The host side of an [`Event`]: its rules, conversion to WIT and the
/// change check (the export call is in `exports`). Public in name only (it is not reachable from
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

    /// What the observers hear when the embedder dispatches this event
    /// itself, if anything (`model.post_call`: the model call it reports).
    fn observation(&self) -> Option<crate::observers::ObservationEvent>;
}

/// A row's observation, by its event type: only `ModelResponse` has one.
macro_rules! observation_of {
    ($self:ident, ModelResponse) => {
        Some(crate::observers::ObservationEvent::ModelCall {
            model: $self.model.clone(),
            provider: None,
            input_tokens: $self.input_tokens,
            output_tokens: $self.output_tokens,
            cost_usd: $self.cost_usd,
            duration: std::time::Duration::from_millis($self.duration_ms),
        })
    };
    ($self:ident, $other:ident) => {
        None
    };
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
        // Twice as fast as `Display`, which writes through a formatter; a
        // `Value` always serializes (its keys are strings).
        serde_json::to_string(self).unwrap_or_default()
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

/// What the host knows about one hook point, from the table of points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointInfo {
    /// The point.
    pub point: HookPoint,
    /// The event type an embedder passes (`ToolCall`, `HostStart`).
    pub event: &'static str,
    /// The event's fields, in order.
    pub fields: &'static [&'static str],
    /// Each field's type as the table writes it in Rust (`String`,
    /// `Option<f64>`, `Value` for any JSON), in the order of `fields`:
    /// what the Node and Python packages' declarations are generated from.
    pub types: &'static [&'static str],
    /// Each field's documentation, in the order of `fields`.
    pub docs: &'static [&'static str],
    /// The point's documentation.
    pub doc: &'static str,
    /// Its event record as the WIT and the PDK name it (`ToolCall`,
    /// `HostInfo`): the type a PDK handler takes.
    pub record: &'static str,
    /// Whether a plugin may block the event.
    pub can_block: bool,
    /// The fields a plugin may change.
    pub changeable: &'static [&'static str],
    /// An event with every field empty, as JSON (`Host::dispatch_json`
    /// takes this shape).
    pub empty_event: Value,
}

/// The event types of the table's rows (`points`).
macro_rules! define_events {
    ($(
        $(#[$doc:meta])*
        $event:ident = $variant:ident $name:literal since $since:tt, $wit:ident, $module:ident, block: $block:literal {
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

                fn observation(&self) -> Option<crate::observers::ObservationEvent> {
                    observation_of!(self, $event)
                }
            }
        )*

        /// Every hook point this host runs, in the order of the table of
        /// points, with its event record and rights.
        pub fn hook_points() -> Vec<PointInfo> {
            vec![$(
                PointInfo {
                    point: HookPoint::$variant,
                    event: stringify!($event),
                    fields: &[$(stringify!($field)),*],
                    types: &[$(stringify!($ty)),*],
                    docs: &[$(concat!($(stringify!($fdoc)),*)),*],
                    doc: concat!($(stringify!($doc)),*),
                    record: stringify!($wit),
                    can_block: $block,
                    changeable: <$event as Point>::CHANGEABLE,
                    empty_event: serde_json::to_value($event::default()).unwrap_or_default(),
                },
            )*]
        }
    };
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

yoi_manifest::foreach_hook_point!(define_events);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
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
