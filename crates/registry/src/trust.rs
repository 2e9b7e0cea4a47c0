//! The trust policy: which keys may sign which plugins, and where a
//! trusted signature is required (docs/distribution.md, "Trust").
//!
//! One policy is checked at three points: publish, activation (the policy
//! may have changed since publish) and every host load. [`TrustPolicy::check`]
//! is that one check; the callers differ only in the scope they ask about.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use yoi_manifest::{Digest, PackageSignature, PublicKey, Scope};

use crate::error::TrustCode;

/// A key the operator trusts to sign plugins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// The operator's name for it (`yoi trust add NAME`).
    pub name: String,
    /// Its id: the sha256 of its SubjectPublicKeyInfo, as signatures name it.
    pub key_id: String,
    /// The public key, PEM.
    pub public_key: String,
    /// Where its signatures count: `all`, or one scope.
    pub scope: Scope,
    /// The plugin ids it may sign: exact ids, or prefixes ending in `*`.
    pub plugins: Vec<String>,
    /// When it was added, milliseconds since the Unix epoch.
    pub added_at: i64,
    /// Who added it.
    pub added_by: String,
}

impl TrustedKey {
    /// Whether this key may sign `plugin`.
    pub fn may_sign(&self, plugin: &str) -> bool {
        self.plugins.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => plugin.starts_with(prefix),
            None => p == plugin,
        })
    }

    /// Whether its signatures count in `scope` (`None`: at publish, where
    /// every key counts).
    fn counts_in(&self, scope: Option<Scope>) -> bool {
        scope.is_none_or(|s| self.scope == Scope::All || self.scope == s)
    }
}

/// The registry's trust policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustPolicy {
    /// Trusted keys, by name.
    pub keys: Vec<TrustedKey>,
    /// Scopes that require a trusted signature (`all`: every scope, and
    /// publish).
    pub required: Vec<Scope>,
}

/// Where a policy is checked; it decides which requirement and which keys
/// apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// Publishing: the `all` requirement applies; any key may vouch.
    Publish,
    /// Activating, or a host loading, a version on a scope: that scope's
    /// requirement (or `all`'s), and keys trusted there.
    Scope(Scope),
}

impl Checkpoint {
    fn scope(self) -> Option<Scope> {
        match self {
            Checkpoint::Publish => None,
            Checkpoint::Scope(s) => Some(s),
        }
    }
}

/// Who signed a version, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signer {
    /// No signature.
    Unsigned,
    /// A valid signature by a trusted key allowed to sign the plugin.
    Trusted {
        /// The key's name in the policy.
        name: String,
        /// The key's id.
        key_id: String,
    },
    /// A valid-looking signature by a key the policy does not trust for
    /// this plugin (allowed only where no signature is required).
    Untrusted {
        /// The key's id.
        key_id: String,
    },
    /// A signature the policy refuses wherever it is checked: malformed,
    /// over another package, forged or expired.
    Invalid {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Unsigned => f.write_str("unsigned"),
            Signer::Trusted { name, key_id } => write!(f, "{name} ({})", short(key_id)),
            Signer::Untrusted { key_id } => write!(f, "untrusted key {}", short(key_id)),
            Signer::Invalid { reason } => write!(f, "invalid signature: {reason}"),
        }
    }
}

/// The first 16 hex digits of a key id, as shown to people.
pub fn short(key_id: &str) -> &str {
    key_id.get(..16).unwrap_or(key_id)
}

/// A refused trust check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRefusal {
    /// The code.
    pub code: TrustCode,
    /// What is wrong.
    pub why: String,
    /// How to fix it.
    pub fix: String,
}

impl TrustPolicy {
    /// Whether `checkpoint` requires a trusted signature.
    pub fn requires(&self, checkpoint: Checkpoint) -> bool {
        self.required.contains(&Scope::All)
            || checkpoint
                .scope()
                .is_some_and(|s| self.required.contains(&s))
    }

    /// Who signed `version`, as this policy sees it at publish (any
    /// scope's key counts): what the page, the snapshot and `yoi trust
    /// list` show.
    pub fn signer_of(&self, version: &crate::VersionRecord) -> Signer {
        self.examine(
            version.plugin.as_str(),
            &version.manifest,
            &version.digest,
            version.provenance.signature.as_deref(),
            Checkpoint::Publish,
            false,
        )
        .unwrap_or_else(|refusal| Signer::Invalid {
            reason: refusal.why,
        })
    }

    /// The one trust check. `signature` is the bundle's text as stored;
    /// `also_required` is a cap from outside the registry (a host's
    /// `yoi.toml`). A signature that is present must be well formed, over
    /// this manifest and artifact, verify and be unexpired, whatever the
    /// requirement; a trusted signer is needed only where one is required.
    pub fn check(
        &self,
        plugin: &str,
        manifest_text: &str,
        artifact: &Digest,
        signature: Option<&str>,
        checkpoint: Checkpoint,
        also_required: bool,
    ) -> Result<Signer, TrustRefusal> {
        let required = also_required || self.requires(checkpoint);
        self.examine(
            plugin,
            manifest_text,
            artifact,
            signature,
            checkpoint,
            required,
        )
    }

    /// [`TrustPolicy::check`] with the requirement decided.
    fn examine(
        &self,
        plugin: &str,
        manifest_text: &str,
        artifact: &Digest,
        signature: Option<&str>,
        checkpoint: Checkpoint,
        required: bool,
    ) -> Result<Signer, TrustRefusal> {
        let where_ = match checkpoint.scope() {
            None => "publishing".to_owned(),
            Some(s) => format!("scope {s}"),
        };
        let Some(text) = signature else {
            if !required {
                return Ok(Signer::Unsigned);
            }
            return Err(TrustRefusal {
                code: TrustCode::Unsigned,
                why: format!("{plugin} is not signed, and {where_} requires a trusted signature"),
                fix: "sign the package (`yoi sign PACKAGE --key KEY`) with a key in `yoi trust list`, and publish it again".into(),
            });
        };
        let invalid = |why: String| TrustRefusal {
            code: TrustCode::Invalid,
            why,
            fix: "ask the author for a package signed again (`yoi sign`); do not run this one"
                .into(),
        };
        let parsed = PackageSignature::parse(text).map_err(|e| invalid(e.to_string()))?;
        parsed
            .covers(manifest_text, artifact)
            .map_err(|e| invalid(e.to_string()))?;
        let key_id = parsed.key_id().to_owned();
        let known: Vec<&TrustedKey> = self.keys.iter().filter(|k| k.key_id == key_id).collect();
        if let Some(key) = known.first() {
            let public = PublicKey::from_pem(&key.public_key)
                .map_err(|e| invalid(format!("trusted key `{}` {e}", key.name)))?;
            parsed
                .verify(&public, SystemTime::now())
                .map_err(|e| invalid(e.to_string()))?;
        }
        let allowed = known
            .iter()
            .find(|k| k.may_sign(plugin) && k.counts_in(checkpoint.scope()));
        match allowed {
            Some(key) => Ok(Signer::Trusted {
                name: key.name.clone(),
                key_id,
            }),
            None if !required => Ok(Signer::Untrusted { key_id }),
            None => {
                let why = match known.first() {
                    None => format!(
                        "{plugin} is signed by key {}, which is not trusted",
                        short(&key_id)
                    ),
                    Some(k) => format!(
                        "{plugin} is signed by `{}`, which may sign only {} in scope {}",
                        k.name,
                        k.plugins.join(", "),
                        k.scope
                    ),
                };
                Err(TrustRefusal {
                    code: TrustCode::Untrusted,
                    why: format!("{why}; {where_} requires a trusted signature"),
                    fix: "if you trust the author, `yoi trust add NAME KEY.pub --plugins ID` (with `--scope` where it should count); otherwise do not run it".into(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yoi_manifest::SigningKey;

    const MANIFEST: &str = "[plugin]\nid = \"acme.x\"\n";

    fn key(name: &str, k: &SigningKey, scope: Scope, plugins: &[&str]) -> TrustedKey {
        TrustedKey {
            name: name.into(),
            key_id: k.public().key_id(),
            public_key: k.public().to_pem(),
            scope,
            plugins: plugins.iter().map(|p| p.to_string()).collect(),
            added_at: 0,
            added_by: "t".into(),
        }
    }

    fn sign(k: &SigningKey) -> String {
        PackageSignature::sign(
            MANIFEST,
            "x.wasm",
            &Digest::of(b"w"),
            "acme.x",
            "1.0.0",
            k,
            None,
        )
        .text()
        .to_owned()
    }

    #[test]
    fn requirement_keys_scopes_and_patterns_decide() {
        let author = SigningKey::generate().expect("key");
        let stranger = SigningKey::generate().expect("key");
        let digest = Digest::of(b"w");
        let mut policy = TrustPolicy {
            keys: vec![key("acme", &author, Scope::Canary, &["acme.*"])],
            required: vec![],
        };
        let check = |p: &TrustPolicy, sig: Option<&str>, at: Checkpoint| {
            p.check("acme.x", MANIFEST, &digest, sig, at, false)
        };
        // Nothing required: unsigned and unknown keys pass, and say so.
        assert_eq!(
            check(&policy, None, Checkpoint::Publish),
            Ok(Signer::Unsigned)
        );
        assert!(matches!(
            check(&policy, Some(&sign(&stranger)), Checkpoint::Publish),
            Ok(Signer::Untrusted { .. })
        ));
        // Required on canary: the key counts there, not on beta.
        policy.required.push(Scope::Canary);
        let signed = sign(&author);
        assert!(matches!(
            check(&policy, Some(&signed), Checkpoint::Scope(Scope::Canary)),
            Ok(Signer::Trusted { ref name, .. }) if name == "acme"
        ));
        assert_eq!(
            check(&policy, None, Checkpoint::Scope(Scope::Canary)).map_err(|r| r.code),
            Err(TrustCode::Unsigned)
        );
        assert_eq!(
            check(
                &policy,
                Some(&sign(&stranger)),
                Checkpoint::Scope(Scope::Canary)
            )
            .map_err(|r| r.code),
            Err(TrustCode::Untrusted)
        );
        policy.required.push(Scope::Beta);
        assert_eq!(
            check(&policy, Some(&signed), Checkpoint::Scope(Scope::Beta)).map_err(|r| r.code),
            Err(TrustCode::Untrusted)
        );
        // A key limited to other plugins does not vouch for this one.
        policy.keys = vec![key("acme", &author, Scope::All, &["other.*", "acme.y"])];
        let refused =
            check(&policy, Some(&signed), Checkpoint::Scope(Scope::Canary)).expect_err("pattern");
        assert_eq!(refused.code, TrustCode::Untrusted);
        assert!(
            refused.why.contains("may sign only other.*, acme.y"),
            "{}",
            refused.why
        );
        // A signature over another artifact is refused even where nothing
        // is required.
        let open = TrustPolicy::default();
        assert_eq!(
            open.check(
                "acme.x",
                MANIFEST,
                &Digest::of(b"other"),
                Some(&signed),
                Checkpoint::Publish,
                false
            )
            .map_err(|r| r.code),
            Err(TrustCode::Invalid)
        );
        // The host's cap requires what the registry does not.
        assert_eq!(
            open.check("acme.x", MANIFEST, &digest, None, Checkpoint::Publish, true)
                .map_err(|r| r.code),
            Err(TrustCode::Unsigned)
        );
    }

    #[test]
    fn a_forged_signature_with_a_trusted_key_id_is_invalid() {
        let author = SigningKey::generate().expect("key");
        let forger = SigningKey::generate().expect("key");
        let forged = sign(&forger).replace(&forger.public().key_id(), &author.public().key_id());
        let policy = TrustPolicy {
            keys: vec![key("acme", &author, Scope::All, &["*"])],
            required: vec![Scope::All],
        };
        let refused = policy
            .check(
                "acme.x",
                MANIFEST,
                &Digest::of(b"w"),
                Some(&forged),
                Checkpoint::Publish,
                false,
            )
            .expect_err("forged");
        assert_eq!(refused.code, TrustCode::Invalid);
        assert!(refused.why.contains("does not verify"), "{}", refused.why);
    }
}
