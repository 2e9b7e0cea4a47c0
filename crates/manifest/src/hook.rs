use std::fmt;
use std::str::FromStr;

/// A hook point: a place in the host's run where plugins are called.
///
/// These are all the points of the Yoi spec. A host may support only some of
/// them in a given contract version; the host says so when it loads a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HookPoint {
    /// `work_item.pre_create`
    WorkItemPreCreate,
    /// `work_item.post_create`
    WorkItemPostCreate,
    /// `run.pre_prompt`
    RunPrePrompt,
    /// `model.pre_call`
    ModelPreCall,
    /// `model.post_call`
    ModelPostCall,
    /// `tool.pre_exec`
    ToolPreExec,
    /// `tool.post_exec`
    ToolPostExec,
    /// `tool.result_persist`
    ToolResultPersist,
    /// `response.pre_deliver`
    ResponsePreDeliver,
    /// `response.post_deliver`
    ResponsePostDeliver,
    /// `context.pre_compact`
    ContextPreCompact,
    /// `context.post_compact`
    ContextPostCompact,
    /// `host.start`
    HostStart,
    /// `host.stop`
    HostStop,
}

impl HookPoint {
    /// Every hook point, in the order of the spec's table.
    pub const ALL: [HookPoint; 14] = [
        HookPoint::WorkItemPreCreate,
        HookPoint::WorkItemPostCreate,
        HookPoint::RunPrePrompt,
        HookPoint::ModelPreCall,
        HookPoint::ModelPostCall,
        HookPoint::ToolPreExec,
        HookPoint::ToolPostExec,
        HookPoint::ToolResultPersist,
        HookPoint::ResponsePreDeliver,
        HookPoint::ResponsePostDeliver,
        HookPoint::ContextPreCompact,
        HookPoint::ContextPostCompact,
        HookPoint::HostStart,
        HookPoint::HostStop,
    ];

    /// The name used in `plugin.toml`, e.g. `tool.pre_exec`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookPoint::WorkItemPreCreate => "work_item.pre_create",
            HookPoint::WorkItemPostCreate => "work_item.post_create",
            HookPoint::RunPrePrompt => "run.pre_prompt",
            HookPoint::ModelPreCall => "model.pre_call",
            HookPoint::ModelPostCall => "model.post_call",
            HookPoint::ToolPreExec => "tool.pre_exec",
            HookPoint::ToolPostExec => "tool.post_exec",
            HookPoint::ToolResultPersist => "tool.result_persist",
            HookPoint::ResponsePreDeliver => "response.pre_deliver",
            HookPoint::ResponsePostDeliver => "response.post_deliver",
            HookPoint::ContextPreCompact => "context.pre_compact",
            HookPoint::ContextPostCompact => "context.post_compact",
            HookPoint::HostStart => "host.start",
            HookPoint::HostStop => "host.stop",
        }
    }

    /// The WIT interface name of this point, e.g. `tool-pre-exec`.
    pub fn wit_interface(self) -> String {
        self.as_str().replace(['.', '_'], "-")
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

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HookPoint::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownHookPoint(s.to_owned()))
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
}

impl Hook {
    /// Default `timeout_ms`.
    pub const DEFAULT_TIMEOUT_MS: u32 = 1500;
    /// Largest `timeout_ms` a manifest may ask for.
    pub const MAX_TIMEOUT_MS: u32 = 30_000;
}
