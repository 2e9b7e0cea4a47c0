//! The trust policy's changes: `yoi trust add|remove|require`, each
//! audited (docs/distribution.md, "Trust"). The policy itself and its one
//! check are in `trust`.

use yoi_manifest::{PublicKey, Scope};

use crate::error::RegistryError;
use crate::model::now_ms;
use crate::registry::{Audited, Registry};
use crate::store::Store as _;
use crate::trust::{TrustPolicy, TrustedKey, short};

/// What `yoi trust add` asks for.
#[derive(Debug, Clone)]
pub struct NewTrustedKey {
    /// The operator's name for the key.
    pub name: String,
    /// The public key, PEM.
    pub public_key: String,
    /// Where its signatures count.
    pub scope: Scope,
    /// The plugin ids it may sign (exact, or prefixes ending in `*`).
    pub plugins: Vec<String>,
}

fn key_problem(why: String, fix: &str) -> RegistryError {
    RegistryError::TrustKey {
        why,
        fix: fix.into(),
    }
}

fn valid_pattern(p: &str) -> bool {
    let body = p.strip_suffix('*').unwrap_or(p);
    (p == "*" || !body.is_empty())
        && body.len() <= 64
        && body
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

impl Registry {
    /// The trust policy.
    pub fn trust_policy(&self) -> Result<TrustPolicy, RegistryError> {
        self.store.read(|tx| tx.trust_policy())
    }

    /// Trusts a key to sign the plugins it names, in a scope (audited as
    /// `trust_add`).
    pub fn trust_add(&self, key: &NewTrustedKey, actor: &str) -> Result<TrustedKey, RegistryError> {
        self.trust_add_audited(key, actor).result
    }

    pub(crate) fn trust_add_audited(
        &self,
        key: &NewTrustedKey,
        actor: &str,
    ) -> Audited<TrustedKey> {
        self.audited(actor, "trust_add", None, None, |tx| {
            let name_ok = !key.name.is_empty()
                && key.name.len() <= 64
                && key
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !name_ok {
                return Err(key_problem(
                    format!("`{}` is not a key name", key.name),
                    "name it with 1 to 64 letters, digits, `.`, `_` or `-`, e.g. `acme-release`",
                ));
            }
            let public = PublicKey::from_pem(&key.public_key).map_err(|e| {
                key_problem(
                    format!("the public key {e}"),
                    "give the `.pub` file `yoi keygen` wrote (a PEM `PUBLIC KEY`)",
                )
            })?;
            let plugins = if key.plugins.is_empty() {
                vec!["*".to_owned()]
            } else {
                key.plugins.clone()
            };
            if let Some(bad) = plugins.iter().find(|p| !valid_pattern(p)) {
                return Err(key_problem(
                    format!("`{bad}` is not a plugin pattern"),
                    "write plugin ids (`acme.redact`) or prefixes ending in `*` (`acme.*`), comma-separated",
                ));
            }
            let mut policy = tx.trust_policy()?;
            let key_id = public.key_id();
            if let Some(same) = policy
                .keys
                .iter()
                .find(|k| k.name == key.name || (k.key_id == key_id && k.scope == key.scope))
            {
                return Err(key_problem(
                    format!(
                        "key `{}` ({}, scope {}) is already trusted",
                        same.name,
                        short(&same.key_id),
                        same.scope
                    ),
                    "`yoi trust remove NAME` first to change it",
                ));
            }
            let added = TrustedKey {
                name: key.name.clone(),
                key_id,
                public_key: public.to_pem(),
                scope: key.scope,
                plugins,
                added_at: now_ms(),
                added_by: actor.to_owned(),
            };
            policy.keys.push(added.clone());
            tx.put_trust_policy(&policy)?;
            let reason = format!(
                "trusted key {} ({}) to sign {} in scope {}",
                added.name,
                short(&added.key_id),
                added.plugins.join(", "),
                added.scope
            );
            Ok((added, reason))
        })
    }

    /// Stops trusting a key (audited as `trust_remove`). Versions it
    /// signed are refused where a signature is required, at the next
    /// activation or host load.
    pub fn trust_remove(&self, name: &str, actor: &str) -> Result<TrustedKey, RegistryError> {
        self.trust_remove_audited(name, actor).result
    }

    pub(crate) fn trust_remove_audited(&self, name: &str, actor: &str) -> Audited<TrustedKey> {
        self.audited(actor, "trust_remove", None, None, |tx| {
            let mut policy = tx.trust_policy()?;
            let Some(at) = policy.keys.iter().position(|k| k.name == name) else {
                return Err(key_problem(
                    format!("no trusted key is named `{name}`"),
                    "`yoi trust list` shows the names",
                ));
            };
            let removed = policy.keys.remove(at);
            tx.put_trust_policy(&policy)?;
            let reason = format!(
                "no longer trusts key {} ({})",
                removed.name,
                short(&removed.key_id)
            );
            Ok((removed, reason))
        })
    }

    /// Requires (or stops requiring) a trusted signature in `scope`
    /// (audited as `trust_require`). `all` covers every scope and publish.
    pub fn trust_require(
        &self,
        scope: Scope,
        on: bool,
        actor: &str,
    ) -> Result<TrustPolicy, RegistryError> {
        self.trust_require_audited(scope, on, actor).result
    }

    pub(crate) fn trust_require_audited(
        &self,
        scope: Scope,
        on: bool,
        actor: &str,
    ) -> Audited<TrustPolicy> {
        self.audited(actor, "trust_require", None, None, |tx| {
            let mut policy = tx.trust_policy()?;
            policy.required.retain(|s| *s != scope);
            if on {
                policy.required.push(scope);
                policy.required.sort_by_key(|s| s.as_str());
            }
            tx.put_trust_policy(&policy)?;
            let reason = if on {
                format!("scope {scope} requires a trusted signature")
            } else {
                format!("scope {scope} no longer requires a signature")
            };
            Ok((policy, reason))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_ids_or_prefixes() {
        for good in ["*", "acme.*", "acme.redact", "a-b_c.*"] {
            assert!(valid_pattern(good), "{good}");
        }
        for bad in ["", "ACME", "acme/*", "*.x", "a b"] {
            assert!(!valid_pattern(bad), "{bad}");
        }
    }
}
