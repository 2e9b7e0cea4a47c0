use std::fmt;
use std::str::FromStr;

/// The hook points: one row per point, in the order of the spec's table, and
/// every list of them in Yoi derives from it: here `HookPoint`, its names,
/// [`HookPoint::ALL`] and [`HookPoint::since`]; in `yoi-host` the event
/// types and their rights, the export lookups of every contract version and
/// JSON dispatch. A test checks it against the WIT, the manifest JSON
/// schema, the PDK and docs/hooks.md.
///
/// Per row: the event struct the embedder passes, the `HookPoint` variant,
/// the point's name, the contract version that brought it, its WIT record,
/// the WIT interface (as a Rust module name), whether a plugin may block it,
/// and per field `change` (a plugin may change it) or `fixed`.
/// `foreach_hook_point!(m)` calls `m!` with every row;
/// `foreach_hook_point!(m, [tokens])` puts `[tokens];` before them (the
/// contract table, for the export lookups of every version). Adding a point
/// is a row here, its WIT interface and the docs rows
/// (docs/architecture.md).
#[macro_export]
#[doc(hidden)]
macro_rules! foreach_hook_point {
    ($m:ident $(, $extra:tt)?) => {
        $m! {
            $($extra;)?
            /// `work_item.pre_create`: a work item about to be created. Plugins may
            /// change `title`, `payload` and `session_key`, or block (the item is not
            /// created).
            NewWorkItem = WorkItemPreCreate "work_item.pre_create" since(0, 1, 0), NewWorkItem, work_item_pre_create, block: true {
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
            CreatedWorkItem = WorkItemPostCreate "work_item.post_create" since(0, 1, 0), CreatedWorkItem, work_item_post_create, block: false {
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
            Prompt = RunPrePrompt "run.pre_prompt" since(0, 1, 0), Prompt, run_pre_prompt, block: false {
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
            ModelCall = ModelPreCall "model.pre_call" since(0, 1, 0), ModelCall, model_pre_call, block: true {
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
            ModelResponse = ModelPostCall "model.post_call" since(0, 1, 0), ModelResponse, model_post_call, block: false {
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
            /// model `Blocked::message` instead).
            ToolCall = ToolPreExec "tool.pre_exec" since(0, 1, 0), ToolCall, tool_pre_exec, block: true {
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
            ToolResult = ToolPostExec "tool.post_exec" since(0, 1, 0), ToolResult, tool_post_exec, block: false {
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
            PersistResult = ToolResultPersist "tool.result_persist" since(0, 1, 0), PersistResult, tool_result_persist, block: false {
                /// Name of the tool.
                fixed tool_name: String,
                /// Identifier of the call.
                fixed call_id: String,
                /// The result as it will be stored.
                change result: String,
            }

            /// `response.pre_deliver`: a response about to be delivered. Plugins may
            /// change `content`, or block (delivery is suppressed).
            Delivery = ResponsePreDeliver "response.pre_deliver" since(0, 1, 0), Delivery, response_pre_deliver, block: true {
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
            Delivered = ResponsePostDeliver "response.post_deliver" since(0, 1, 0), Delivered, response_post_deliver, block: false {
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
            Compaction = ContextPreCompact "context.pre_compact" since(0, 1, 0), Compaction, context_pre_compact, block: false {
                /// The messages to be compacted (a JSON array).
                fixed messages: Value,
            }

            /// `context.post_compact`: the conversation was compacted. Plugins may
            /// change `summary`; may not block.
            Compacted = ContextPostCompact "context.post_compact" since(0, 1, 0), Compacted, context_post_compact, block: false {
                /// The messages that were compacted (a JSON array).
                fixed messages: Value,
                /// The summary that replaces them.
                change summary: String,
            }

            /// `host.start`: the host started. Read-only.
            HostStart = HostStart "host.start" since(0, 1, 0), HostInfo, host_start, block: false {
                /// The embedding application's name.
                fixed name: String,
                /// Its version.
                fixed version: String,
                /// This running instance (a hostname, a pod name).
                fixed instance: String,
            }

            /// `host.stop`: the host is stopping. Read-only.
            HostStop = HostStop "host.stop" since(0, 1, 0), HostInfo, host_stop, block: false {
                /// The embedding application's name.
                fixed name: String,
                /// Its version.
                fixed version: String,
                /// This running instance.
                fixed instance: String,
            }
        }
    };
}

/// `HookPoint` from the table.
macro_rules! hook_points {
    ($(
        $(#[$doc:meta])*
        $event:ident = $variant:ident $name:literal since($major:literal, $minor:literal, $patch:literal),
        $wit:ident, $module:ident, block: $block:literal { $($fields:tt)* }
    )*) => {
        /// A hook point: a place in the host's run where plugins are called.
        ///
        /// These are all the points of the Yoi spec. A point exists from the
        /// contract version that brought it ([`HookPoint::since`]): a plugin
        /// built against an older contract cannot declare it.
        ///
        /// An embedding host may declare points of its own
        /// ([`HookPoint::Host`], contract 0.6.0), in a namespace Yoi's
        /// points never take.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum HookPoint {
            $( #[doc = concat!("`", $name, "`")] $variant, )*
            /// A point the embedding host declares itself, e.g. a build
            /// pipeline's `build.pre_compile`.
            Host(HostPoint),
        }

        impl HookPoint {
            /// Every point of Yoi's own, in the order of the spec's table.
            pub const ALL: [HookPoint; [$($name),*].len()] = [$(HookPoint::$variant),*];

            /// The name used in `plugin.toml`, e.g. `tool.pre_exec`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( HookPoint::$variant => $name, )*
                    HookPoint::Host(point) => point.as_str(),
                }
            }

            /// The contract version that brought this point (for a host's
            /// own point, the version that brought the `host-hooks` export).
            pub fn since(self) -> crate::ContractVersion {
                let (major, minor, patch) = match self {
                    $( HookPoint::$variant => ($major, $minor, $patch), )*
                    HookPoint::Host(_) => return crate::ExportSurface::HostHooks.since(),
                };
                crate::ContractVersion(semver::Version::new(major, minor, patch))
            }
        }
    };
}

foreach_hook_point!(hook_points);

impl HookPoint {
    /// The WIT interface name of this point, e.g. `tool-pre-exec`; for a
    /// host's own point, the one interface that handles them all.
    pub fn wit_interface(self) -> String {
        match self {
            HookPoint::Host(_) => crate::ExportSurface::HostHooks.interface().to_owned(),
            _ => self.as_str().replace(['.', '_'], "-"),
        }
    }

    /// The host-defined point, if this is one.
    pub fn host(self) -> Option<HostPoint> {
        match self {
            HookPoint::Host(point) => Some(point),
            _ => None,
        }
    }

    /// Whether a plugin built against `contract` can declare this point:
    /// the point came in that version or before it.
    pub fn in_contract(self, contract: &crate::ContractVersion) -> bool {
        self.since().0 <= contract.0
    }
}

impl fmt::Display for HookPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a name that is not a hook point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hook point `{0}`")]
pub struct UnknownHookPoint(pub String);

impl FromStr for HookPoint {
    type Err = UnknownHookPoint;

    /// One of Yoi's points by name, else a host-defined point (a valid
    /// name outside Yoi's namespaces).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(point) = HookPoint::ALL.into_iter().find(|p| p.as_str() == s) {
            return Ok(point);
        }
        HostPoint::new(s)
            .map(HookPoint::Host)
            .map_err(|_| UnknownHookPoint(s.to_owned()))
    }
}

/// The namespaces (a name's part before the first `.`) of Yoi's own hook
/// points, now and to come: a host-defined point may not use them, so a
/// later Yoi point never takes a name a host already uses. Every namespace
/// of [`HookPoint::ALL`] is here (a test checks).
pub const RESERVED_NAMESPACES: &[&str] = &[
    "work_item",
    "run",
    "model",
    "tool",
    "response",
    "context",
    "host",
    "yoi",
    "agent",
    "session",
    "prompt",
    "mcp",
    "skill",
    "plugin",
    "registry",
    "provider",
    "observer",
    "service",
    "memory",
];

/// A hook point an embedding host declares itself (contract 0.6.0): a name
/// like `build.pre_compile`, lowercase ASCII letters, digits and `_` in two
/// or more `.`-separated parts, each starting with a letter, at most
/// [`HostPoint::MAX_LEN`] bytes, outside [`RESERVED_NAMESPACES`].
///
/// It is `Copy` like the rest of [`HookPoint`]: each distinct name is kept
/// once for the life of the process, at most [`HostPoint::MAX_NAMES`] of
/// them (a host declares a handful; the cap bounds what hostile manifests
/// can make a long-running process keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPoint(&'static str);

/// Why a name is not a host-defined point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPointError {
    /// Not `namespace.name` in the allowed characters.
    #[error(
        "a host-defined point is written `namespace.name` (lowercase letters, digits and `_`, each part starting with a letter, e.g. `build.pre_compile`)"
    )]
    Syntax,
    /// Longer than [`HostPoint::MAX_LEN`].
    #[error("a host-defined point's name is at most {max} bytes; this one is {len}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// In a namespace of Yoi's own points.
    #[error("`{0}.` is a namespace of Yoi's own hook points; a host-defined point takes another")]
    Reserved(String),
    /// The process already keeps [`HostPoint::MAX_NAMES`] names.
    #[error("this process already knows {0} distinct host-defined point names, its limit")]
    TooMany(usize),
}

/// Every host-defined point name this process has seen, kept once.
static HOST_POINT_NAMES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

impl HostPoint {
    /// The longest name, in bytes.
    pub const MAX_LEN: usize = 64;
    /// The most distinct names a process keeps.
    pub const MAX_NAMES: usize = 4096;

    /// Checks `name` and returns its point.
    pub fn new(name: &str) -> Result<HostPoint, HostPointError> {
        if name.len() > Self::MAX_LEN {
            return Err(HostPointError::TooLong {
                len: name.len(),
                max: Self::MAX_LEN,
            });
        }
        let mut parts = name.split('.');
        let namespace = parts.next().unwrap_or_default();
        let part_ok = |p: &str| {
            p.starts_with(|c: char| c.is_ascii_lowercase())
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if !name.contains('.') || !name.split('.').all(part_ok) {
            return Err(HostPointError::Syntax);
        }
        if RESERVED_NAMESPACES.contains(&namespace) {
            return Err(HostPointError::Reserved(namespace.to_owned()));
        }
        let mut names = HOST_POINT_NAMES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(kept) = names.get(name) {
            return Ok(HostPoint(kept));
        }
        if names.len() >= Self::MAX_NAMES {
            return Err(HostPointError::TooMany(Self::MAX_NAMES));
        }
        let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.insert(kept);
        Ok(HostPoint(kept))
    }

    /// The name, e.g. `build.pre_compile`.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for HostPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl serde::Serialize for HookPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for HookPoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What happens to the event when a handler fails (times out, traps or errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// The chain goes on as if the handler had let the event through.
    #[default]
    Open,
    /// The chain stops; at points that may block, the event counts as blocked.
    Closed,
}

impl fmt::Display for FailMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailMode::Open => "open",
            FailMode::Closed => "closed",
        })
    }
}

/// One `[[hooks]]` entry of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hook {
    /// Where the handler runs.
    pub point: HookPoint,
    /// Higher runs first. Default 0.
    pub priority: i32,
    /// Fail mode. Default `open`.
    pub fail: FailMode,
    /// Per-call time limit in milliseconds. Default 1500.
    pub timeout_ms: u32,
    /// Whether `timeout_ms` was written: where it was not, a host-defined
    /// point's own default applies instead.
    pub timeout_written: bool,
}

impl Hook {
    /// Default `timeout_ms`.
    pub const DEFAULT_TIMEOUT_MS: u32 = 1500;
    /// Largest `timeout_ms` a manifest may ask for.
    pub const MAX_TIMEOUT_MS: u32 = 30_000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_namespace_of_yois_points_is_reserved() {
        for point in HookPoint::ALL {
            let namespace = point.as_str().split('.').next().unwrap_or_default();
            assert!(RESERVED_NAMESPACES.contains(&namespace), "{point}");
            assert!(HostPoint::new(point.as_str()).is_err(), "{point}");
        }
    }

    #[test]
    fn host_points_parse_outside_yois_namespaces_only() {
        let p: HookPoint = "build.pre_compile".parse().expect("a host point");
        assert_eq!(p.host().map(HostPoint::as_str), Some("build.pre_compile"));
        assert_eq!(p.wit_interface(), "host-hooks");
        assert_eq!(p, "build.pre_compile".parse().expect("the same point"));
        assert_eq!(
            "tool.pre_exec".parse::<HookPoint>().ok(),
            Some(HookPoint::ToolPreExec)
        );
        // A typo of one of Yoi's points is no host point.
        assert!("tool.pre_exek".parse::<HookPoint>().is_err());
        assert_eq!(
            HostPoint::new("tool.pre_exek"),
            Err(HostPointError::Reserved("tool".into()))
        );
        for bad in [
            "build",
            "Build.pre",
            "build.",
            ".pre",
            "build..pre",
            "build.pre-compile",
            "build.9lives",
            "build.pre compile",
            "build/pre",
            "bu\u{0130}ld.pre",
            "",
        ] {
            assert_eq!(HostPoint::new(bad), Err(HostPointError::Syntax), "{bad:?}");
        }
        let long = format!("build.{}", "a".repeat(HostPoint::MAX_LEN));
        assert!(matches!(
            HostPoint::new(&long),
            Err(HostPointError::TooLong { .. })
        ));
        assert!(HostPoint::new("a.b.c_1").is_ok());
    }
}
