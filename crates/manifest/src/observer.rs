//! `[observer]`: the host observations a plugin receives, and how its queue
//! is bounded.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Runs `$m!` with every observation kind: variant, name in `plugin.toml`
/// and what it reports. The one list every other list derives from (the
/// host's observations, the docs table, the JSON schema test).
#[macro_export]
macro_rules! foreach_observation_kind {
    ($m:ident) => {
        $m! {
            Receipt = "receipt", "a hook handler ran: plugin, version, point, status, duration";
            ToolCall = "tool_call", "a tool ran (native or plugin): name, who implements it, status, duration";
            ModelCall = "model_call", "a model call finished: model, provider, tokens in and out, cost, duration";
            PermissionDenied = "permission_denied", "a plugin's host call was refused by its grants: plugin, capability, target";
            AutoDisable = "auto_disable", "the crash guard disabled a plugin: plugin, version, failures";
            Reload = "reload", "the host swapped its snapshot: what loaded and what was refused";
            Custom = "custom", "the embedding application's own observation (Host::observe), or a service's (emit): kind and JSON data";
        }
    };
}

macro_rules! define_kinds {
    ($( $variant:ident = $name:literal, $what:literal; )*) => {
        /// A kind of observation an observer can ask for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ObservationKind {
            $( #[doc = $what] $variant, )*
        }

        impl ObservationKind {
            /// Every kind, in the order of the docs.
            pub const ALL: &'static [ObservationKind] = &[$(ObservationKind::$variant),*];

            /// The name in `plugin.toml`, e.g. `model_call`.
            pub fn as_str(self) -> &'static str {
                match self { $( ObservationKind::$variant => $name, )* }
            }

            /// What an observation of this kind reports.
            pub fn describe(self) -> &'static str {
                match self { $( ObservationKind::$variant => $what, )* }
            }
        }
    };
}

foreach_observation_kind!(define_kinds);

impl ObservationKind {
    /// This kind's bit in a set of kinds.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for ObservationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObservationKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObservationKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("`{}` is not an observation kind", s.escape_default()))
    }
}

impl Serialize for ObservationKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The `[observer]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observer {
    /// The kinds it receives, in file order, each once.
    pub kinds: Vec<ObservationKind>,
    /// Most observations waiting for it; past this the oldest are dropped
    /// (and counted).
    pub queue: u32,
    /// Most observations per batch.
    pub batch: u32,
    /// Time limit of one batch, in milliseconds.
    pub timeout_ms: u32,
}

impl Observer {
    /// Default and bounds of `queue`.
    pub const QUEUE: (u32, std::ops::RangeInclusive<u32>) = (1024, 1..=65_536);
    /// Default and bounds of `batch`.
    pub const BATCH: (u32, std::ops::RangeInclusive<u32>) = (64, 1..=1024);
    /// Default and bounds of `timeout_ms`.
    pub const TIMEOUT_MS: (u32, std::ops::RangeInclusive<u32>) = (1500, 1..=60_000);

    /// Whether it receives `kind`.
    pub fn wants(&self, kind: ObservationKind) -> bool {
        self.kinds.contains(&kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_from_their_names_and_have_distinct_bits() {
        let mut bits = 0;
        for kind in ObservationKind::ALL {
            assert_eq!(kind.as_str().parse::<ObservationKind>(), Ok(*kind));
            assert_eq!(bits & kind.bit(), 0);
            bits |= kind.bit();
        }
        assert!("model-call".parse::<ObservationKind>().is_err());
    }
}
