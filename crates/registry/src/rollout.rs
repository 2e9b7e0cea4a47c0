//! Deterministic rollout: whether an active version applies to a subject.

use sha2::{Digest, Sha256};

use crate::model::{Rollout, Scope};

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

/// Whether a version with `rollout` applies to `subject` on a host of scope
/// `host_scope`: the scope must be `all` or the host's, and the subject's
/// bucket must be below the percentage.
pub fn applies(plugin: &str, subject: &str, rollout: Rollout, host_scope: Scope) -> bool {
    (rollout.scope == Scope::All || rollout.scope == host_scope)
        && bucket(plugin, subject) < rollout.percent
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
    fn growing_the_percentage_keeps_everyone_already_in() {
        for i in 0..500 {
            let s = format!("s{i}");
            if applies("p", &s, r(Scope::All, 20), Scope::All) {
                assert!(applies("p", &s, r(Scope::All, 50), Scope::All));
            }
        }
    }
}
