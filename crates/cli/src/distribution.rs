//! `yoi keygen`, `yoi sign`, `yoi push`, `yoi publish oci://`,
//! `yoi outdated` and `yoi trust`: packages signed by their authors,
//! carried by OCI registries, and checked against the registry's trust
//! policy (docs/distribution.md).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::json;
use yoi_manifest::{
    ArchiveError, Manifest, ManifestDiff, PublicKey, SIGNATURE_FILE, Scope, SigningKey,
};
use yoi_registry::{CapabilityLine, NewTrustedKey, State, TrustPolicy, short};

use crate::ctx::{Ctx, print_json, time};
use crate::oci::{Credentials, Remote, block_on};
use crate::usage::UsageError;

/// Largest key file read.
const MAX_KEY_BYTES: u64 = 64 * 1024;

fn read_key_file(path: &Path) -> Result<String> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("reading the key {}", path.display()))?;
    if meta.len() > MAX_KEY_BYTES {
        bail!(
            "{} is not a key: it is {} bytes",
            path.display(),
            meta.len()
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("reading the key {}", path.display()))
}

/// `yoi keygen NAME`: `NAME.key` (0600) and `NAME.pub` in the current
/// folder; never over existing files.
pub(crate) fn keygen(name: &str) -> Result<ExitCode> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(UsageError(format!(
            "`{name}` is not a key name: use letters, digits, `.`, `_` or `-` (it names NAME.key and NAME.pub)"
        ))
        .into());
    }
    let key = SigningKey::generate()?;
    let private = PathBuf::from(format!("{name}.key"));
    let public = PathBuf::from(format!("{name}.pub"));
    for file in [&private, &public] {
        if file.exists() {
            bail!(
                "{} already exists; Yoi never overwrites a key\n  fix: choose another NAME, or move the old pair away",
                file.display()
            );
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&private)
        .with_context(|| format!("creating {}", private.display()))?;
    file.write_all(key.to_pem().as_bytes())?;
    file.sync_all()?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&public)
        .and_then(|mut f| f.write_all(key.public().to_pem().as_bytes()))
        .with_context(|| format!("writing {}", public.display()))?;
    outln!(
        "wrote {} (private, mode 0600: keep it secret) and {} (public)\n  key id: {}\n  next: yoi sign PACKAGE --key {}; operators trust it with `yoi trust add {name} {}`",
        private.display(),
        public.display(),
        key.public().key_id(),
        private.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn opened(
    path: &Path,
    result: Result<yoi_manifest::Package, ArchiveError>,
) -> Result<yoi_manifest::Package> {
    result.map_err(|e| match e {
        ArchiveError::Package(d) => anyhow!(
            "{}\n{} has problems: fix them first",
            d.render(false),
            path.display()
        ),
        e => anyhow!("{e}"),
    })
}

/// `yoi sign PACKAGE --key KEY`: writes the signature into the folder
/// (`plugin.sigstore.json`) or the `.yoi` archive.
pub(crate) fn sign(path: &Path, key: &Path, expires_in_days: Option<u64>) -> Result<ExitCode> {
    let key = SigningKey::from_pem(&read_key_file(key)?).map_err(|e| {
        anyhow!(
            "{} {e}\n  fix: give the NAME.key `yoi keygen` wrote",
            key.display()
        )
    })?;
    // A signature the package already carries is ignored: signing
    // replaces it.
    let package = opened(
        path,
        crate::plugin::open_package(&crate::plugin::package_dir(path), false),
    )?;
    let m = package.manifest();
    let signature = package.sign(
        &key,
        expires_in_days.map(|d| Duration::from_secs(d * 86_400)),
    );
    let (id, version) = (m.plugin.id.to_string(), m.plugin.version.to_string());
    let dir = crate::plugin::package_dir(path);
    let target = if dir.is_file() {
        let signed = package
            .with_signature(signature.clone())
            .map_err(|d| anyhow!("{}", d.render(false)))?;
        signed
            .write_archive(&dir)
            .with_context(|| format!("writing {}", dir.display()))?;
        dir.display().to_string()
    } else {
        let file = dir.join(SIGNATURE_FILE);
        let tmp = tempfile::NamedTempFile::new_in(&dir)?;
        std::fs::write(tmp.path(), signature.text())?;
        tmp.persist(&file).map_err(|e| e.error)?;
        file.display().to_string()
    };
    outln!(
        "signed {id}@{version} with key {} -> {target}{}",
        short(signature.key_id()),
        signature
            .statement()
            .expires_at
            .as_ref()
            .map(|at| format!(" (valid until {at})"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// `yoi push PACKAGE oci://…`.
pub(crate) fn push(path: &Path, reference: &str, credentials: &Credentials) -> Result<ExitCode> {
    let package = opened(
        path,
        crate::plugin::open_package(&crate::plugin::package_dir(path), true),
    )?;
    let remote = Remote::new(reference, credentials, &[])?;
    let digest = block_on(remote.push(&package))?;
    let m = package.manifest();
    outln!(
        "pushed {}@{} to {reference} ({digest}){}",
        m.plugin.id,
        m.plugin.version,
        match package.signature() {
            Some(s) => format!(", signed by key {}", short(s.key_id())),
            None => ", unsigned".into(),
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The signer of a stored version as the current policy sees it, at
/// publish (any scope's key counts).
pub(crate) fn signer_of(policy: &TrustPolicy, v: &yoi_registry::VersionRecord) -> String {
    policy.signer_of(v).to_string()
}

impl Ctx {
    /// `yoi publish oci://…`: pulls, checks and publishes, keeping the
    /// reference and the digest it resolved to.
    pub(crate) fn publish_oci(
        &self,
        reference: &str,
        credentials: &Credentials,
        allow_redirect: &[String],
    ) -> Result<ExitCode> {
        let registry = self.open()?;
        let pulled = Remote::new(reference, credentials, allow_redirect)
            .and_then(|remote| block_on(remote.pull()));
        let pulled = match pulled {
            Ok(p) => p,
            Err(e) => {
                // Refused before the registry saw a package: audited too.
                let answer =
                    crate::admission::refuse(&registry, &self.actor, reference, &e.to_string());
                if answer.audit.is_none() {
                    errln!("warning: the refusal could not be recorded in the audit log");
                }
                return Err(e);
            }
        };
        outln!("pulled {reference} ({})", pulled.source.digest);
        self.publish_package(&registry, &pulled.package, reference, Some(&pulled.source))
    }

    /// `yoi outdated`: newer tags of active plugins that came from an OCI
    /// registry, each with what it changes.
    pub(crate) fn outdated(&self, json: bool, credentials: &Credentials) -> Result<ExitCode> {
        let registry = self.open()?;
        let snapshot = registry.snapshot()?;
        let mut rows = Vec::new();
        for active in snapshot
            .versions
            .iter()
            .filter(|v| v.state == State::Active)
        {
            let Some(source) = &active.provenance.source else {
                continue;
            };
            let remote = Remote::new(&source.reference, credentials, &[])?;
            let tags = block_on(remote.tags())
                .with_context(|| format!("listing the tags of {}", source.reference))?;
            let mut newer: Vec<(semver::Version, String)> = tags
                .iter()
                .filter_map(|t| {
                    semver::Version::parse(t.strip_prefix('v').unwrap_or(t))
                        .ok()
                        .map(|v| (v, t.clone()))
                })
                .filter(|(v, _)| *v > active.version)
                .collect();
            newer.sort();
            let from = Manifest::parse(&active.manifest).ok();
            let decisions = registry.grants(active.plugin.as_str())?;
            for (version, tag) in newer {
                let (text, digest) = block_on(remote.manifest_text(&tag))?;
                let Ok(to) = Manifest::parse(&text) else {
                    rows.push(json!({
                        "plugin": active.plugin, "active": active.version.to_string(),
                        "version": version.to_string(), "reference": remote.with_tag(&tag),
                        "digest": digest, "error": "its plugin.toml is not valid",
                    }));
                    continue;
                };
                let diff = ManifestDiff::between(from.as_ref(), &to);
                let lines = CapabilityLine::all(&diff.capabilities, &decisions);
                rows.push(json!({
                    "plugin": active.plugin,
                    "active": active.version.to_string(),
                    "version": version.to_string(),
                    "reference": remote.with_tag(&tag),
                    "digest": digest,
                    "capabilities": lines,
                    "diff": diff,
                    "text": crate::upgrade::render_changes(&lines, &diff, &version.to_string()),
                }));
            }
        }
        if json {
            return print_json(&rows);
        }
        if rows.is_empty() {
            outln!("every active plugin from an OCI registry is at its newest version");
        }
        for row in &rows {
            outln!(
                "{} {} -> {}  {} ({})",
                row["plugin"].as_str().unwrap_or_default(),
                row["active"].as_str().unwrap_or_default(),
                row["version"].as_str().unwrap_or_default(),
                row["reference"].as_str().unwrap_or_default(),
                row["digest"].as_str().unwrap_or_default()
            );
            if let Some(error) = row["error"].as_str() {
                outln!("  {error}");
            }
            if let Some(text) = row["text"].as_str() {
                for line in text.lines().filter(|l| !l.is_empty()) {
                    outln!("  {line}");
                }
            }
            outln!(
                "  next: yoi publish {} && yoi upgrade {} {}",
                row["reference"].as_str().unwrap_or_default(),
                row["plugin"].as_str().unwrap_or_default(),
                row["version"].as_str().unwrap_or_default()
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `yoi trust add NAME PUBKEY`.
    pub(crate) fn trust_add(
        &self,
        name: &str,
        public_key: &Path,
        scope: &str,
        plugins: &[String],
    ) -> Result<ExitCode> {
        let scope: Scope = scope.parse().map_err(UsageError)?;
        let pem = read_key_file(public_key)?;
        // Checked here too, to name the file in the message.
        PublicKey::from_pem(&pem).map_err(|e| {
            anyhow!(
                "{} {e}\n  fix: give the NAME.pub `yoi keygen` wrote",
                public_key.display()
            )
        })?;
        let key = self.open()?.trust_add(
            &NewTrustedKey {
                name: name.to_owned(),
                public_key: pem,
                scope,
                plugins: plugins.to_vec(),
            },
            &self.actor,
        )?;
        outln!(
            "trusted {} ({}) to sign {} in scope {}",
            key.name,
            short(&key.key_id),
            key.plugins.join(", "),
            key.scope
        );
        Ok(ExitCode::SUCCESS)
    }

    /// `yoi trust remove NAME`.
    pub(crate) fn trust_remove(&self, name: &str) -> Result<ExitCode> {
        let key = self.open()?.trust_remove(name, &self.actor)?;
        outln!("no longer trusts {} ({})", key.name, short(&key.key_id));
        Ok(ExitCode::SUCCESS)
    }

    /// `yoi trust require [--scope S] [--off]`.
    pub(crate) fn trust_require(&self, scope: &str, off: bool) -> Result<ExitCode> {
        let scope: Scope = scope.parse().map_err(UsageError)?;
        self.open()?.trust_require(scope, !off, &self.actor)?;
        if off {
            outln!("scope {scope} no longer requires a signature");
        } else {
            let checked = if scope == Scope::All {
                "publish and every activation refuse"
            } else {
                "activations there refuse"
            };
            outln!(
                "scope {scope} requires a trusted signature: {checked} versions without one, and hosts stop running them at their next load"
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `yoi trust list`.
    pub(crate) fn trust_list(&self, json: bool) -> Result<ExitCode> {
        let registry = self.open()?;
        let policy = registry.trust_policy()?;
        if json {
            return print_json(&policy);
        }
        let required: Vec<String> = policy.required.iter().map(|s| s.to_string()).collect();
        outln!(
            "signatures required in: {}",
            if required.is_empty() {
                "no scope (`yoi trust require` to require them)".to_owned()
            } else {
                required.join(", ")
            }
        );
        if policy.keys.is_empty() {
            outln!("no trusted keys (`yoi trust add NAME KEY.pub`)");
        }
        for k in &policy.keys {
            outln!(
                "{:<20} {}  scope {:<8} signs {}  (added {} by {})",
                k.name,
                short(&k.key_id),
                k.scope.to_string(),
                k.plugins.join(", "),
                time(k.added_at),
                k.added_by
            );
        }
        let snapshot = registry.snapshot()?;
        let signed: Vec<_> = snapshot
            .versions
            .iter()
            .filter(|v| v.state == State::Active)
            .map(|v| format!("  {}@{}: {}", v.plugin, v.version, signer_of(&policy, v)))
            .collect();
        if !signed.is_empty() {
            outln!("active versions:\n{}", signed.join("\n"));
        }
        Ok(ExitCode::SUCCESS)
    }
}
