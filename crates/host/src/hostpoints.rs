//! Hook points the embedding host declares itself (contract 0.6.0;
//! docs/hooks.md, "Host-defined points"): the JSON event checked against
//! its declaration's schema and change rights (`hostpointspec`), and its
//! dispatch through the same chain as Yoi's own points, with the same
//! receipts, limits, fail modes and crash guard.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use wasmtime::Store;
use wasmtime::component::Instance;
use yoi_manifest::{Hook, HookPoint};

use crate::dispatch::{Chained, run_chain};
use crate::error::HostError;
use crate::exports::Guests;
use crate::hookevents::{GuestOutcome, HookContext, MAX_CHANGED_FIELD_BYTES};
use crate::host::Host;
use crate::hostpointspec::HostPointSpec;
use crate::receipt::Dispatch;
use crate::sandbox::PluginState;

/// An event of a host-defined point on its way through the chain.
#[derive(Clone, Serialize)]
pub(crate) struct HostEvent {
    #[serde(skip)]
    spec: Arc<HostPointSpec>,
    #[serde(flatten)]
    value: Map<String, Value>,
}

impl Chained for HostEvent {
    type Wit = String;

    fn point(&self) -> HookPoint {
        self.spec.point()
    }

    fn can_block(&self) -> bool {
        self.spec.may_block
    }

    fn time_limit(&self, hook: &Hook) -> Duration {
        if hook.timeout_written {
            Duration::from_millis(u64::from(hook.timeout_ms))
        } else {
            self.spec.timeout
        }
    }

    fn to_wit(&self) -> String {
        serde_json::to_string(&self.value).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The guest's whole event: bounded, parsed, compared field by field
    /// with the event it was given (each difference must be changeable),
    /// and checked against the schema again.
    fn accept_change(&self, changed: String) -> Result<(Self, Vec<&'static str>), String> {
        if changed.len() > MAX_CHANGED_FIELD_BYTES {
            return Err(format!(
                "the changed event is {} bytes; the limit is {MAX_CHANGED_FIELD_BYTES}",
                changed.len()
            ));
        }
        let value: Value = serde_json::from_str(&changed)
            .map_err(|e| format!("the changed event is not JSON: {e}"))?;
        let Value::Object(next) = value else {
            return Err("the changed event is not a JSON object".into());
        };
        let keys: BTreeSet<&String> = self.value.keys().chain(next.keys()).collect();
        let mut fields = Vec::new();
        for key in keys {
            if self.value.get(key) == next.get(key) {
                continue;
            }
            match self.spec.changeable.iter().find(|f| **f == key.as_str()) {
                Some(field) => fields.push(*field),
                None => {
                    let allowed = if self.spec.changeable.is_empty() {
                        "none".to_owned()
                    } else {
                        self.spec.changeable.join(", ")
                    };
                    return Err(format!(
                        "it changed `{}`, which {} does not let a plugin change (changeable: {allowed})",
                        key.escape_default(),
                        self.spec.point
                    ));
                }
            }
        }
        let next = Value::Object(next);
        self.spec.check(&next)?;
        let Value::Object(value) = next else {
            unreachable!("checked to be an object above");
        };
        Ok((
            HostEvent {
                spec: Arc::clone(&self.spec),
                value,
            },
            fields,
        ))
    }

    fn call<'a>(
        &'a self,
        store: &'a mut Store<PluginState>,
        instance: &'a Instance,
        guests: &'a mut Guests,
        event: &'a String,
    ) -> impl Future<Output = wasmtime::Result<Result<GuestOutcome<String>, String>>> + Send + 'a
    {
        guests.call_host_hooks(store, instance, (self.spec.point.as_str(), event))
    }
}

impl Host {
    /// The points this host declared ([`HostBuilder::host_point`](crate::HostBuilder::host_point),
    /// yoi.toml's `[[points]]`), by name.
    pub fn host_points(&self) -> Vec<HookPoint> {
        self.shared
            .options
            .host_points
            .iter()
            .map(|spec| spec.point())
            .collect()
    }

    /// Runs a point this host declared with `event` (a JSON object matching
    /// the declaration's schema) through the plugins that handle it.
    ///
    /// Fails only when the point is not declared or the event does not
    /// match the schema; a handler's failure is in its receipt, as at Yoi's
    /// own points. A change outside the declared fields, or one that no
    /// longer matches the schema, is a `rejected_change` receipt and is
    /// ignored.
    pub async fn dispatch_point(
        &self,
        context: &HookContext,
        point: &str,
        event: Value,
    ) -> Result<Dispatch<Value>, HostError> {
        let spec = self.declared(point)?;
        spec.check(&event).map_err(|reason| HostError::HostPoint {
            point: point.to_owned(),
            reason,
        })?;
        let Value::Object(value) = event else {
            unreachable!("checked to be an object above");
        };
        let out = run_chain(self, context, HostEvent { spec, value }).await;
        Ok(out.map_data(|e| Value::Object(e.value)))
    }

    fn declared(&self, point: &str) -> Result<Arc<HostPointSpec>, HostError> {
        let options = &self.shared.options;
        options
            .host_points
            .iter()
            .find(|spec| spec.point.as_str() == point)
            .cloned()
            .ok_or_else(|| {
                let declared: Vec<&str> = options
                    .host_points
                    .iter()
                    .map(|s| s.point.as_str())
                    .collect();
                HostError::HostPoint {
                    point: point.to_owned(),
                    reason: format!(
                        "this host does not declare it (it declares: {})",
                        if declared.is_empty() {
                            "none".to_owned()
                        } else {
                            declared.join(", ")
                        }
                    ),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Arc<HostPointSpec> {
        let schema = json!({
            "type": "object",
            "required": ["target", "flags"],
            "properties": {
                "target": {"type": "string"},
                "flags": {"type": "array", "items": {"type": "string"}},
                "build_id": {"type": "string"}
            }
        });
        Arc::new(
            HostPointSpec::new("build.pre_compile", schema)
                .and_then(|s| s.changeable(["flags", "build_id"]))
                .expect("a valid declaration"),
        )
    }

    fn event(value: Value) -> HostEvent {
        let Value::Object(value) = value else {
            panic!("an object")
        };
        HostEvent {
            spec: spec(),
            value,
        }
    }

    #[test]
    fn the_declaration_times_a_handler_whose_manifest_does_not() {
        let e = event(json!({"target": "app", "flags": []}));
        let mut hook = yoi_manifest::Hook {
            point: e.point(),
            priority: 0,
            fail: yoi_manifest::FailMode::Open,
            timeout_ms: 200,
            timeout_written: true,
        };
        assert_eq!(e.time_limit(&hook), Duration::from_millis(200));
        hook.timeout_written = false;
        assert_eq!(e.time_limit(&hook), e.spec.timeout);
    }

    #[test]
    fn a_change_to_a_declared_field_is_kept() {
        let e = event(json!({"target": "app", "flags": ["-O2"]}));
        let (next, fields) = e
            .accept_change(r#"{"target": "app", "flags": ["-O2"], "build_id": "b-1"}"#.into())
            .expect("allowed");
        assert_eq!(fields, ["build_id"]);
        assert_eq!(next.value["build_id"], "b-1");
    }

    #[test]
    fn changes_outside_the_rights_or_the_schema_are_refused() {
        let e = event(json!({"target": "app", "flags": []}));
        let cases = [
            (r#"{"target": "other", "flags": []}"#, "changed `target`"),
            (r#"{"flags": []}"#, "changed `target`"),
            (
                r#"{"target": "app", "flags": [], "extra": 1}"#,
                "changed `extra`",
            ),
            (
                r#"{"target": "app", "flags": [1]}"#,
                "does not match build.pre_compile's schema",
            ),
            ("[1, 2]", "not a JSON object"),
            ("{\"target\": ", "not JSON"),
        ];
        for (changed, expected) in cases {
            let why = e.accept_change(changed.into()).err().expect(changed);
            assert!(why.contains(expected), "{changed}: {why}");
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(e.accept_change(deep).is_err());
        let huge = format!(
            "{{\"target\": \"app\", \"flags\": [], \"build_id\": \"{}\"}}",
            "x".repeat(MAX_CHANGED_FIELD_BYTES)
        );
        let why = e.accept_change(huge).err().expect("too large");
        assert!(why.contains("the limit is"), "{why}");
    }
}
