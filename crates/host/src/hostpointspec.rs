//! The declaration of a hook point the embedding host defines itself
//! (contract 0.6.0): name, event schema, change and block rights, default
//! time limit. `hostpoints` runs such points.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use yoi_manifest::{Hook, HookPoint, HostPoint};

use crate::error::HostError;

/// Most fields a declaration may name as changeable.
const MAX_CHANGEABLE: usize = 64;
/// Longest changeable field name, in bytes.
const MAX_FIELD_NAME: usize = 64;

/// A hook point the embedding host declares: its name, the JSON Schema of
/// its event, the top-level fields a handler may change, whether a handler
/// may block, and the time limit of a handler whose manifest sets none.
///
/// ```
/// # fn demo() -> Result<(), yoi_host::HostError> {
/// use serde_json::json;
/// use yoi_host::{Host, HostPointSpec};
///
/// let compile = HostPointSpec::new(
///     "build.pre_compile",
///     json!({
///         "type": "object",
///         "required": ["target", "flags"],
///         "properties": {
///             "target": {"type": "string"},
///             "flags": {"type": "array", "items": {"type": "string"}},
///             "build_id": {"type": "string"}
///         }
///     }),
/// )?
/// .changeable(["flags", "build_id"])?
/// .may_block(true)
/// .default_timeout(std::time::Duration::from_millis(500));
/// let host = Host::builder().host_point(compile).build()?;
/// # let _ = host; Ok(()) }
/// ```
#[derive(Clone)]
pub struct HostPointSpec {
    pub(crate) point: HostPoint,
    pub(crate) schema: Value,
    pub(crate) validator: Arc<jsonschema::Validator>,
    pub(crate) changeable: Vec<&'static str>,
    pub(crate) may_block: bool,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for HostPointSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostPointSpec")
            .field("point", &self.point)
            .field("changeable", &self.changeable)
            .field("may_block", &self.may_block)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HostPointSpec {
    /// A point named `name` (`namespace.name`, outside Yoi's namespaces)
    /// whose events match `schema` (a JSON Schema of an object). Nothing is
    /// changeable, nothing may block, and handlers get 1,500 ms unless said
    /// otherwise.
    pub fn new(name: &str, schema: Value) -> Result<Self, HostError> {
        let refuse = |reason: String| HostError::HostPoint {
            point: name.to_owned(),
            reason,
        };
        let point = HostPoint::new(name).map_err(|e| refuse(e.to_string()))?;
        let validator = crate::tooldefs::compile(&schema).map_err(refuse)?;
        Ok(HostPointSpec {
            point,
            schema,
            validator: Arc::new(validator),
            changeable: Vec::new(),
            may_block: false,
            timeout: Duration::from_millis(u64::from(Hook::DEFAULT_TIMEOUT_MS)),
        })
    }

    /// The top-level fields of the event a handler may change (any other
    /// difference in a change refuses it).
    pub fn changeable<I, S>(mut self, fields: I) -> Result<Self, HostError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut names = Vec::new();
        for field in fields {
            let field = field.as_ref();
            if field.is_empty() || field.len() > MAX_FIELD_NAME {
                return Err(self.refused(format!(
                    "changeable field `{}` must be 1 to {MAX_FIELD_NAME} bytes",
                    field.escape_default()
                )));
            }
            let field = field_name(field);
            if !names.contains(&field) {
                names.push(field);
            }
        }
        if names.len() > MAX_CHANGEABLE {
            return Err(self.refused(format!(
                "{} changeable fields; the limit is {MAX_CHANGEABLE}",
                names.len()
            )));
        }
        self.changeable = names;
        Ok(self)
    }

    /// Whether a handler may block the event (default: no; a block is then
    /// a `rejected_change` receipt, as at Yoi's read-only points).
    pub fn may_block(mut self, may: bool) -> Self {
        self.may_block = may;
        self
    }

    /// The time limit of a handler whose `[[hooks]]` entry sets no
    /// `timeout_ms` (at most 30 s, like a manifest's).
    pub fn default_timeout(mut self, limit: Duration) -> Self {
        let max = Duration::from_millis(u64::from(Hook::MAX_TIMEOUT_MS));
        self.timeout = limit.clamp(Duration::from_millis(1), max);
        self
    }

    /// The point, e.g. `build.pre_compile`.
    pub fn point(&self) -> HookPoint {
        HookPoint::Host(self.point)
    }

    /// The JSON Schema of its event.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// The fields a handler may change.
    pub fn changeable_fields(&self) -> &[&'static str] {
        &self.changeable
    }

    /// Whether a handler may block.
    pub fn can_block(&self) -> bool {
        self.may_block
    }

    /// The default time limit of a handler.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn refused(&self, reason: String) -> HostError {
        HostError::HostPoint {
            point: self.point.to_string(),
            reason,
        }
    }

    /// Checks an event against the schema; the error lists what is wrong.
    pub(crate) fn check(&self, event: &Value) -> Result<(), String> {
        if !event.is_object() {
            return Err(format!("a {} event is a JSON object", self.point));
        }
        let errors = yoi_manifest::schema_errors(&self.validator, event);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the event does not match {}'s schema: {}",
                self.point,
                errors.join("; ")
            ))
        }
    }
}

/// Field names are kept once per process, like host point names: a
/// receipt lists changed fields as `&'static str`. The embedder declares
/// them (a handful); guests cannot add any, since a change to an
/// undeclared field is refused.
fn field_name(name: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(kept) = names.get(name) {
        return kept;
    }
    let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(kept);
    kept
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn declarations_are_checked() {
        let any = json!({"type": "object"});
        for bad in ["tool.pre_exec", "build", "Build.x"] {
            let err = HostPointSpec::new(bad, any.clone()).expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
        let err = HostPointSpec::new("build.x", json!({"type": 12})).expect_err("schema");
        assert!(err.to_string().contains("build.x"), "{err}");
        let too_many: Vec<String> = (0..=MAX_CHANGEABLE).map(|i| format!("f{i}")).collect();
        assert!(
            HostPointSpec::new("build.x", any.clone())
                .and_then(|s| s.changeable(too_many))
                .is_err()
        );
        assert!(
            HostPointSpec::new("build.x", any)
                .and_then(|s| s.changeable([""]))
                .is_err()
        );
    }
}
