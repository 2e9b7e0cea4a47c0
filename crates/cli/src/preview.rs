//! Install with a preview (`yoi serve`): a `.yoi` upload is opened and
//! checked like any package, then held under a short-lived token while the
//! operator reads what it asks for; confirming publishes exactly the bytes
//! that were previewed (docs/serve.md, "Installing from the page").
//!
//! A preview token is used once, expires after [`TTL`], and is bound to
//! the digest it showed: a confirmation naming another digest is refused
//! and spends the token. At most [`KEPT`] previews wait at once (the
//! oldest goes first), each in its own private temporary file, so uploads
//! that are never confirmed cannot fill memory.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use yoi_manifest::{Capability, Digest, Manifest, ManifestDiff, Package};
use yoi_registry::{Registry, State};

/// How long a preview can be confirmed.
pub(crate) const TTL: Duration = Duration::from_secs(10 * 60);
/// Previews waiting at once.
pub(crate) const KEPT: usize = 16;

/// One upload waiting for its confirmation.
struct Pending {
    token: String,
    digest: Digest,
    expires: Instant,
    archive: tempfile::NamedTempFile,
}

/// The uploads waiting for a confirmation.
#[derive(Default)]
pub(crate) struct Previews(Mutex<VecDeque<Pending>>);

/// Why a confirmation was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum Refused {
    #[error(
        "no preview has this token: it was used already, it expired ({} minutes), or more than {KEPT} \
         uploads came after it. Upload the package again to preview it",
        TTL.as_secs() / 60
    )]
    Unknown,
    #[error(
        "the preview showed {previewed}, not {given}: confirm the digest you were shown. The token is \
         spent; upload the package again"
    )]
    OtherDigest { previewed: String, given: String },
}

impl Previews {
    /// Keeps `bytes` (an archive whose artifact has `digest`) for a
    /// confirmation; returns its token.
    pub(crate) fn hold(&self, bytes: &[u8], digest: Digest) -> Result<String> {
        let mut archive = tempfile::Builder::new().suffix(".yoi").tempfile()?;
        archive.write_all(bytes)?;
        archive.flush()?;
        let token = crate::tokens::random_token()?;
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        pending.retain(|p| p.expires > now);
        while pending.len() >= KEPT {
            pending.pop_front();
        }
        pending.push_back(Pending {
            token: token.clone(),
            digest,
            expires: now + TTL,
            archive,
        });
        Ok(token)
    }

    /// The archive previewed under `token`, if `digest` is the one shown;
    /// the token is spent either way.
    pub(crate) fn take(
        &self,
        token: &str,
        digest: &str,
    ) -> Result<tempfile::NamedTempFile, Refused> {
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        pending.retain(|p| p.expires > now);
        let at = pending
            .iter()
            .position(|p| crate::tokens::same(&p.token, token))
            .ok_or(Refused::Unknown)?;
        let Some(p) = pending.remove(at) else {
            return Err(Refused::Unknown);
        };
        if p.digest.to_string() != digest {
            return Err(Refused::OtherDigest {
                previewed: p.digest.to_string(),
                given: digest.to_owned(),
            });
        }
        Ok(p.archive)
    }
}

/// A setting a version declares, as the preview lists it.
#[derive(Serialize)]
struct Declared {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    required: bool,
    secret: bool,
    description: Option<String>,
}

/// What an upload is and asks for.
#[derive(Serialize)]
pub(crate) struct Preview {
    token: String,
    /// When the token expires, ms since the Unix epoch.
    expires_at: i64,
    plugin: String,
    version: String,
    name: Option<String>,
    description: Option<String>,
    contract: String,
    digest: String,
    hooks: Vec<String>,
    tools: Vec<String>,
    providers: Vec<String>,
    services: Vec<String>,
    observations: Vec<String>,
    capabilities: Vec<String>,
    settings: Vec<Declared>,
    /// The active version it would replace when upgraded to, if any.
    active: Option<String>,
    /// `new` (no version of the plugin yet), `update` (a new version of a
    /// plugin there is), `republish` (the same version and digest: nothing
    /// would change) or `conflict` (the same version with another digest:
    /// publishing is refused, versions are immutable).
    kind: &'static str,
    /// What changes against the active version, when one runs.
    diff: Option<ManifestDiff>,
}

/// The preview of `package`, held under `token`.
pub(crate) fn describe(registry: &Registry, package: &Package, token: String) -> Result<Preview> {
    let m = package.manifest();
    let digest = Digest::of(package.artifact());
    let versions = registry.versions(m.plugin.id.as_str())?;
    let same = versions.iter().find(|v| v.version == m.plugin.version);
    let kind = match same {
        Some(v) if v.digest == digest => "republish",
        Some(_) => "conflict",
        None if versions.is_empty() => "new",
        None => "update",
    };
    let active = versions.iter().find(|v| v.state == State::Active);
    let diff = active
        .and_then(|a| Manifest::parse(&a.manifest).ok())
        .map(|from| ManifestDiff::between(Some(&from), m));
    let all = ManifestDiff::between(None, m);
    Ok(Preview {
        token,
        expires_at: yoi_registry::now_ms() + i64::try_from(TTL.as_millis()).unwrap_or(0),
        plugin: m.plugin.id.to_string(),
        version: m.plugin.version.to_string(),
        name: m.plugin.name.clone(),
        description: m.plugin.description.clone(),
        contract: m.plugin.contract.to_string(),
        digest: digest.to_string(),
        hooks: all.hooks.added,
        tools: all.tools.added,
        providers: all.providers.added,
        services: all.services.added,
        observations: all.observations.added,
        capabilities: Capability::requested_by(m)
            .iter()
            .map(|c| c.to_string())
            .collect(),
        settings: m
            .config
            .iter()
            .map(|s| Declared {
                name: s.name.clone(),
                kind: s.kind.to_string(),
                required: s.required,
                secret: s.secret,
                description: s.description.clone(),
            })
            .collect(),
        active: active.map(|a| a.version.to_string()),
        kind,
        diff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        Digest::of(&[n])
    }

    #[test]
    fn a_token_is_used_once_and_bound_to_its_digest() {
        let previews = Previews::default();
        let token = previews.hold(b"archive", digest(1)).expect("held");
        let other = digest(2).to_string();
        assert!(matches!(
            previews.take(&token, &other),
            Err(Refused::OtherDigest { .. })
        ));
        // The wrong digest spent it.
        assert_eq!(
            previews.take(&token, &digest(1).to_string()).err(),
            Some(Refused::Unknown)
        );
        let token = previews.hold(b"archive", digest(1)).expect("held");
        let file = previews
            .take(&token, &digest(1).to_string())
            .expect("taken");
        assert_eq!(std::fs::read(file.path()).expect("read"), b"archive");
        assert_eq!(
            previews.take(&token, &digest(1).to_string()).err(),
            Some(Refused::Unknown),
            "used once"
        );
    }

    #[test]
    fn at_most_kept_previews_wait_and_the_oldest_goes_first() {
        let previews = Previews::default();
        let first = previews.hold(b"a", digest(1)).expect("held");
        let mut last = String::new();
        for _ in 0..KEPT {
            last = previews.hold(b"b", digest(1)).expect("held");
        }
        assert_eq!(
            previews.take(&first, &digest(1).to_string()).err(),
            Some(Refused::Unknown)
        );
        assert!(previews.take(&last, &digest(1).to_string()).is_ok());
    }

    #[test]
    fn an_expired_preview_cannot_be_confirmed() {
        let previews = Previews::default();
        let token = previews.hold(b"a", digest(1)).expect("held");
        previews.0.lock().expect("lock")[0].expires = Instant::now();
        assert_eq!(
            previews.take(&token, &digest(1).to_string()).err(),
            Some(Refused::Unknown)
        );
    }
}
