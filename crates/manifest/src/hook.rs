use std::fmt;
use std::str::FromStr;

/// The hook points: one row each, in the order of the spec's table, with
/// the contract version that brought it. `HookPoint`, its names and
/// [`HookPoint::ALL`] are derived from this table and nothing else; the
/// host's own table (`points` in `yoi-host`) is checked against it.
macro_rules! hook_points {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, since ($major:literal, $minor:literal, $patch:literal); )*) => {
        /// A hook point: a place in the host's run where plugins are called.
        ///
        /// These are all the points of the Yoi spec. A point exists from the
        /// contract version that brought it ([`HookPoint::since`]): a plugin
        /// built against an older contract cannot declare it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum HookPoint {
            $( $(#[$doc])* $variant, )*
        }

        impl HookPoint {
            /// Every hook point, in the order of the spec's table.
            pub const ALL: [HookPoint; [$($name),*].len()] = [$(HookPoint::$variant),*];

            /// The name used in `plugin.toml`, e.g. `tool.pre_exec`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( HookPoint::$variant => $name, )*
                }
            }

            /// The contract version that brought this point.
            pub fn since(self) -> crate::ContractVersion {
                let (major, minor, patch) = match self {
                    $( HookPoint::$variant => ($major, $minor, $patch), )*
                };
                crate::ContractVersion(semver::Version::new(major, minor, patch))
            }
        }
    };
}

hook_points! {
    /// `work_item.pre_create`
    WorkItemPreCreate = "work_item.pre_create", since (0, 1, 0);
    /// `work_item.post_create`
    WorkItemPostCreate = "work_item.post_create", since (0, 1, 0);
    /// `run.pre_prompt`
    RunPrePrompt = "run.pre_prompt", since (0, 1, 0);
    /// `model.pre_call`
    ModelPreCall = "model.pre_call", since (0, 1, 0);
    /// `model.post_call`
    ModelPostCall = "model.post_call", since (0, 1, 0);
    /// `tool.pre_exec`
    ToolPreExec = "tool.pre_exec", since (0, 1, 0);
    /// `tool.post_exec`
    ToolPostExec = "tool.post_exec", since (0, 1, 0);
    /// `tool.result_persist`
    ToolResultPersist = "tool.result_persist", since (0, 1, 0);
    /// `response.pre_deliver`
    ResponsePreDeliver = "response.pre_deliver", since (0, 1, 0);
    /// `response.post_deliver`
    ResponsePostDeliver = "response.post_deliver", since (0, 1, 0);
    /// `context.pre_compact`
    ContextPreCompact = "context.pre_compact", since (0, 1, 0);
    /// `context.post_compact`
    ContextPostCompact = "context.post_compact", since (0, 1, 0);
    /// `host.start`
    HostStart = "host.start", since (0, 1, 0);
    /// `host.stop`
    HostStop = "host.stop", since (0, 1, 0);
}

impl HookPoint {
    /// The WIT interface name of this point, e.g. `tool-pre-exec`.
    pub fn wit_interface(self) -> String {
        self.as_str().replace(['.', '_'], "-")
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
