//! Deterministic rollout: which hosts (scope) and which share of subjects
//! (percentage) an active version reaches, and the one rule that decides
//! whether it applies to a subject. The registry answers with it and every
//! host dispatches with it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Who an active version applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every host.
    All,
    /// Hosts running as `beta`.
    Beta,
    /// Hosts running as `canary`.
    Canary,
    /// Hosts running as `internal`.
    Internal,
}

impl Scope {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Beta => "beta",
            Scope::Canary => "canary",
            Scope::Internal => "internal",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "all" => Scope::All,
            "beta" => Scope::Beta,
            "canary" => Scope::Canary,
            "internal" => Scope::Internal,
            other => {
                return Err(format!(
                    "unknown scope `{other}`; use all, beta, canary or internal"
                ));
            }
        })
    }
}

/// Which part of the audience an active version reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rollout {
    /// Which hosts.
    pub scope: Scope,
    /// Which share of subjects, 0–100.
    pub percent: u8,
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            scope: Scope::All,
            percent: 100,
        }
    }
}

/// The subject's bucket for a plugin, 0–99: a hash of (plugin id, subject),
/// so the same subject always lands in the same bucket for that plugin, and
/// different plugins split the audience independently.
pub fn bucket(plugin: &str, subject: &str) -> u8 {
    let mut h = Sha256::new();
    h.update(plugin.as_bytes());
    h.update([0]);
    h.update(subject.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    // < 100, so the cast cannot truncate.
    (u64::from_be_bytes(first) % 100) as u8
}

impl Rollout {
    /// Whether `plugin` on this rollout runs for `subject` on a host of
    /// scope `host_scope`: the scope must be `all` or the host's; at 100 %
    /// every event applies; below, only events with a subject whose bucket
    /// is below the percentage (an event without a subject reaches only
    /// plugins on a full rollout).
    pub fn applies(self, plugin: &str, subject: Option<&str>, host_scope: Scope) -> bool {
        if self.scope != Scope::All && self.scope != host_scope {
            return false;
        }
        match subject {
            _ if self.percent >= 100 => true,
            Some(subject) => bucket(plugin, subject) < self.percent,
            None => false,
        }
    }
}

/// [`Rollout::applies`] for a subject.
pub fn applies(plugin: &str, subject: &str, rollout: Rollout, host_scope: Scope) -> bool {
    rollout.applies(plugin, Some(subject), host_scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(scope: Scope, percent: u8) -> Rollout {
        Rollout { scope, percent }
    }

    #[test]
    fn same_subject_same_answer_and_shares_are_close_to_the_percentage() {
        assert_eq!(bucket("p", "user-1"), bucket("p", "user-1"));
        let hits = (0..10_000)
            .filter(|i| {
                applies(
                    "acme.x",
                    &format!("user-{i}"),
                    r(Scope::All, 30),
                    Scope::Beta,
                )
            })
            .count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
        assert!(applies("p", "s", r(Scope::All, 100), Scope::Canary));
        assert!(!applies("p", "s", r(Scope::All, 0), Scope::Canary));
    }

    #[test]
    fn scope_must_match_unless_all() {
        assert!(applies("p", "s", r(Scope::Canary, 100), Scope::Canary));
        assert!(!applies("p", "s", r(Scope::Canary, 100), Scope::Beta));
    }

    #[test]
    fn without_a_subject_only_full_rollouts_apply() {
        assert!(r(Scope::All, 100).applies("p", None, Scope::Beta));
        assert!(!r(Scope::All, 99).applies("p", None, Scope::All));
        assert!(!r(Scope::Canary, 100).applies("p", None, Scope::Beta));
    }

    #[test]
    fn growing_the_percentage_keeps_everyone_already_in() {
        for i in 0..500 {
            let s = format!("s{i}");
            if applies("p", &s, r(Scope::All, 20), Scope::All) {
                assert!(applies("p", &s, r(Scope::All, 50), Scope::All));
            }
        }
    }
}
