//! Lifecycle operations. Each runs in one store transaction together with
//! its audit record, so the log and the state never disagree; a refused
//! operation changes nothing and is audited with its reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use semver::Version;
use yoi_manifest::{Compat, Digest, Package};

use crate::backend::{Backend, Location};
use crate::blobs::Blobs;
use crate::config_rules::check_config;
use crate::model::{manifest_of, now_ms};
use crate::sealed::ConfigKeys;
use yoi_manifest::{Capability, Rollout, Scope, applies};

use crate::error::RegistryError;
use crate::model::{
    AuditRecord, CapabilityLine, Change, Deployment, EventRecord, EventTotals, GrantRecord,
    HostRecord, Marks, Outcome, Pruned, Snapshot, State, UpgradePlan, VersionRecord, Window,
};
use crate::store::{Store, Tx};

/// The result of [`Registry::publish`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    /// The stored version.
    pub record: VersionRecord,
    /// `false` when the same version and digest were already published.
    pub created: bool,
}

thread_local! {
    /// The audit record the last operation on this thread wrote. Operations
    /// run synchronously on the caller's thread, so this is exactly the
    /// record of the operation [`Registry::answer`] just ran.
    static LAST_AUDIT: std::cell::RefCell<Option<AuditRecord>> =
        const { std::cell::RefCell::new(None) };
}

/// Keeps the audit record an operation just wrote, for its answer.
fn wrote(record: AuditRecord) {
    LAST_AUDIT.with(|last| *last.borrow_mut() = Some(record));
}

/// The audit record the last operation on this thread wrote, taken.
pub(crate) fn take_audit() -> Option<AuditRecord> {
    LAST_AUDIT.with(|last| last.borrow_mut().take())
}

/// How to activate a version.
#[derive(Debug, Clone)]
pub struct Activation {
    /// Who is acting.
    pub actor: String,
    /// Which hosts and which share of subjects.
    pub rollout: Rollout,
}

impl Activation {
    /// Activation for everyone, by `actor`.
    pub fn by(actor: impl Into<String>) -> Self {
        Activation {
            actor: actor.into(),
            rollout: Rollout::default(),
        }
    }
}

/// The plugin registry: the system of record for versions, activation,
/// grants and the audit log.
///
/// ```no_run
/// # fn demo(package: &yoi_manifest::Package, compat: &yoi_manifest::Compat) -> Result<(), yoi_registry::RegistryError> {
/// use yoi_registry::{Activation, Registry};
///
/// let registry = Registry::open("/var/lib/yoi".as_ref())?;
/// let record = registry.publish(package, compat, "ci")?.record;
/// registry.grant(record.plugin.as_str(), &["https:api.example.com".to_owned()], true, "alice")?;
/// registry.activate(record.plugin.as_str(), &record.version, &Activation::by("alice"))?;
/// # Ok(()) }
/// ```
pub struct Registry<S: Store = Backend> {
    pub(crate) store: S,
    /// The artifact files, for a store that keeps them beside it; `None`
    /// when they live in the database (`Store::artifacts_in_database`).
    blobs: Option<Blobs>,
    root: PathBuf,
    subscribers: Arc<Mutex<Vec<Sender<Change>>>>,
    /// Whether the store is pushing other processes' changes.
    listening: Arc<AtomicBool>,
    /// The keys secret settings are sealed with, once read (or supplied).
    keys: Mutex<Option<ConfigKeys>>,
}

impl Registry<Backend> {
    /// Opens (creating if needed) the registry in the folder `root`.
    pub fn open(root: &Path) -> Result<Self, RegistryError> {
        Self::open_at(&Location::Folder(root.to_path_buf()), root)
    }

    /// Opens (creating if needed) the registry at `location`: a folder, or
    /// a PostgreSQL database shared by a fleet. `home` is the local folder
    /// for what a shared database does not hold: the key that seals secret
    /// settings (docs/fleet.md). A folder registry is its own home.
    pub fn open_at(location: &Location, home: &Path) -> Result<Self, RegistryError> {
        Self::open_with(location, home, true)
    }

    /// Like [`Registry::open_at`], without the integrity check a database
    /// file gets at open: for processes that live for one event (`yoi
    /// hook`), which cannot pay a read of the whole database each time.
    /// Damage is still refused, when a damaged page is read.
    pub fn open_for_one_event(location: &Location, home: &Path) -> Result<Self, RegistryError> {
        Self::open_with(location, home, false)
    }

    fn open_with(location: &Location, home: &Path, check: bool) -> Result<Self, RegistryError> {
        let root = match location {
            Location::Folder(dir) => dir.as_path(),
            Location::Postgres(_) => home,
        };
        Self::with_store(root, Backend::open(location, check)?)
    }
}

fn wrong_state(r: &VersionRecord, why: impl Into<String>) -> RegistryError {
    RegistryError::WrongState {
        plugin: r.plugin.to_string(),
        version: r.version.to_string(),
        state: r.state.as_str(),
        why: why.into(),
    }
}

fn find(tx: &mut dyn Tx, plugin: &str, version: &Version) -> Result<VersionRecord, RegistryError> {
    tx.version(plugin, version)?
        .ok_or_else(|| RegistryError::NotFound {
            plugin: plugin.to_owned(),
            version: version.to_string(),
        })
}

fn active_of(tx: &mut dyn Tx, plugin: &str) -> Result<Option<VersionRecord>, RegistryError> {
    tx.active(plugin)
}

/// Drops what the registry keeps per plugin once it has no version left.
fn forget_plugin(tx: &mut dyn Tx, plugin: &str) -> Result<(), RegistryError> {
    for g in tx.grants(Some(plugin))? {
        tx.delete_grant(plugin, &g.capability.to_string())?;
    }
    tx.set_disabled(plugin, None)?;
    crate::config_rules::forget_config(tx, plugin)
}

/// Refuses to run a version whose requested capabilities lack a decision.
/// The capabilities `r` requests that no decision covers yet: activation
/// needs one (a grant within it, or its denial) for each.
fn undecided(tx: &mut dyn Tx, r: &VersionRecord) -> Result<Vec<Capability>, RegistryError> {
    let decisions = tx.grants(Some(r.plugin.as_str()))?;
    Ok(Capability::requested_by(&manifest_of(r)?)
        .into_iter()
        .filter(|req| {
            !decisions.iter().any(|g| {
                if g.granted {
                    g.capability.within(req)
                } else {
                    g.capability == *req
                }
            })
        })
        .collect())
}

fn check_grants(tx: &mut dyn Tx, r: &VersionRecord) -> Result<(), RegistryError> {
    let missing: Vec<String> = undecided(tx, r)?.iter().map(|c| c.to_string()).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(RegistryError::GrantsMissing {
            plugin: r.plugin.to_string(),
            version: r.version.to_string(),
            missing,
        })
    }
}

fn check_enabled(tx: &mut dyn Tx, plugin: &str) -> Result<(), RegistryError> {
    match tx.disabled(Some(plugin))?.into_iter().next() {
        Some((plugin, reason)) => Err(RegistryError::Disabled { plugin, reason }),
        None => Ok(()),
    }
}

fn describe(rollout: Rollout) -> String {
    format!("scope {} at {}%", rollout.scope, rollout.percent)
}

impl<S: Store> Registry<S> {
    /// A registry over `store`, with its local files (artifacts, when the
    /// store keeps them in files; the config key) under `root`.
    pub fn with_store(root: &Path, store: S) -> Result<Self, RegistryError> {
        Ok(Registry {
            blobs: if store.artifacts_in_database() {
                None
            } else {
                Some(Blobs::open(root)?)
            },
            store,
            root: root.to_path_buf(),
            subscribers: Arc::new(Mutex::new(Vec::new())),
            listening: Arc::new(AtomicBool::new(false)),
            keys: Mutex::new(None),
        })
    }

    /// Seals secret settings with `keys` (from the embedder's own secret
    /// store) instead of the registry folder's `config.key`.
    pub fn with_config_keys(self, keys: ConfigKeys) -> Self {
        self.set_keys(keys);
        self
    }

    pub(crate) fn set_keys(&self, keys: ConfigKeys) {
        *self.keys.lock().unwrap_or_else(|p| p.into_inner()) = Some(keys);
    }

    /// The keys secret settings are sealed with: supplied, or read from
    /// the key file, which `create` makes when there is none.
    pub(crate) fn config_keys(&self, create: bool) -> Result<ConfigKeys, RegistryError> {
        let mut cached = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(keys) = cached.as_ref() {
            return Ok(keys.clone());
        }
        let keys = match ConfigKeys::read(&self.root)? {
            Some(keys) => keys,
            None if create => ConfigKeys::read_or_create(&self.root)?,
            None => {
                return Err(RegistryError::ConfigKey(format!(
                    "{} does not exist",
                    self.root.join(crate::sealed::CONFIG_KEY_FILE).display()
                )));
            }
        };
        *cached = Some(keys.clone());
        Ok(keys)
    }

    /// The registry folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Runs a change and its audit record in one transaction; on failure
    /// records the refusal in a transaction of its own.
    pub(crate) fn audited<R>(
        &self,
        actor: &str,
        action: &str,
        plugin: Option<&str>,
        version: Option<&str>,
        mut op: impl FnMut(&mut dyn Tx) -> Result<(R, String), RegistryError>,
    ) -> Result<R, RegistryError> {
        if let Err(why) = check_names(plugin, version) {
            self.record_refusal(actor, action, plugin, version, &why)?;
            return Err(RegistryError::Invalid(why));
        }
        let record = |outcome, reason: String| AuditRecord {
            id: 0,
            at: now_ms(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            plugin: plugin.map(str::to_owned),
            version: version.map(str::to_owned),
            outcome,
            reason,
        };
        let result = self.store.write(|tx| {
            let (value, reason) = op(tx)?;
            let mut written = record(Outcome::Ok, reason);
            written.id = tx.append_audit(&written)?;
            Ok((value, tx.bump_change()?, written))
        });
        match result {
            Ok((value, seq, written)) => {
                wrote(written);
                self.notify(Change {
                    seq,
                    action: action.to_owned(),
                    plugin: plugin.map(str::to_owned),
                });
                Ok(value)
            }
            // It may have been applied, audit record and all: recording a
            // refusal would say otherwise.
            Err(e @ RegistryError::InDoubt { .. }) => Err(e),
            Err(e) => {
                // The refusal is recorded even though nothing changed; if the
                // store itself is failing, the original error is what matters.
                let mut written = record(Outcome::Error, e.to_string());
                if let Ok(id) = self.store.write(|tx| tx.append_audit(&written)) {
                    written.id = id;
                    wrote(written);
                }
                Err(e)
            }
        }
    }

    /// [`Registry::audited`] for an operation on one existing version.
    fn on_version<R>(
        &self,
        actor: &str,
        action: &str,
        plugin: &str,
        version: &Version,
        mut op: impl FnMut(&mut dyn Tx, VersionRecord) -> Result<(R, String), RegistryError>,
    ) -> Result<R, RegistryError> {
        let v = version.to_string();
        self.audited(actor, action, Some(plugin), Some(&v), |tx| {
            let target = find(tx, plugin, version)?;
            op(tx, target)
        })
    }

    fn notify(&self, change: Change) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| s.send(change.clone()).is_ok());
    }

    /// Notifications of every change made through this `Registry` value,
    /// and, on a store that pushes changes (PostgreSQL), of every change
    /// any process commits (`action` `"changed"`, with the counter; a
    /// reconnection after an outage sends one too, so a listener that
    /// compares counters catches up). Otherwise other processes' changes
    /// show in [`Registry::change_seq`].
    pub fn subscribe(&self) -> Receiver<Change> {
        let (tx, rx) = channel();
        self.subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        if !self.listening.swap(true, Ordering::SeqCst) {
            let subscribers = Arc::downgrade(&self.subscribers);
            let listening = Arc::clone(&self.listening);
            let wake = Arc::new(move |seq: i64| {
                let Some(subs) = subscribers.upgrade() else {
                    return false;
                };
                let mut subs = subs.lock().unwrap_or_else(|p| p.into_inner());
                if seq >= 0 {
                    let change = Change {
                        seq,
                        action: "changed".to_owned(),
                        plugin: None,
                    };
                    subs.retain(|s| s.send(change.clone()).is_ok());
                }
                // The last subscriber gone: stop; the next one starts again.
                let keep = !subs.is_empty();
                if !keep {
                    listening.store(false, Ordering::SeqCst);
                }
                keep
            });
            if let Err(e) = self.store.listen(wake) {
                self.listening.store(false, Ordering::SeqCst);
                eprintln!("yoi: warning: changes will be noticed by polling only: {e}");
            }
        }
        rx
    }

    /// A counter that grows with every change, from any process: poll it to
    /// notice changes cheaply.
    pub fn change_seq(&self) -> Result<i64, RegistryError> {
        self.store.read(|tx| tx.change_seq())
    }

    /// Records an operation refused before it reached the registry (a
    /// request that does not parse, a missing confirmation), so the audit
    /// log holds every attempt; returns the record written.
    pub fn record_refusal(
        &self,
        actor: &str,
        action: &str,
        plugin: Option<&str>,
        version: Option<&str>,
        reason: &str,
    ) -> Result<AuditRecord, RegistryError> {
        // Names that are not a plugin id or a version are not stored as
        // one: they are kept, escaped, in the reason.
        let (plugin, version, reason) = match check_names(plugin, version) {
            Ok(()) => (plugin, version, reason.to_owned()),
            Err(why) if why == reason => (None, None, why),
            Err(why) => (None, None, format!("{reason} ({why})")),
        };
        let mut record = AuditRecord {
            id: 0,
            at: now_ms(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            plugin: plugin.map(str::to_owned),
            version: version.map(str::to_owned),
            outcome: Outcome::Error,
            reason,
        };
        record.id = self.store.write(|tx| tx.append_audit(&record))?;
        wrote(record.clone());
        Ok(record)
    }

    /// Stores a package as a new version in state `published`, after the
    /// checks every publish runs, whoever builds the [`Package`]: the
    /// artifact's bytes must match the manifest's digest, and the component
    /// is inspected against the manifest and `compat` (the contract, allowed
    /// imports, declared hooks and tools, code limits). Hosts booting from
    /// the registry rely on that inspection. Publishing the same (id,
    /// version) with the same digest again changes nothing; with another
    /// digest it is refused. Every attempt is audited.
    pub fn publish(
        &self,
        package: &Package,
        compat: &Compat,
        actor: &str,
    ) -> Result<Published, RegistryError> {
        let m = package.manifest();
        let plugin = m.plugin.id.as_str();
        let version = m.plugin.version.to_string();
        let digest = m.runtime.digest;
        self.audited(actor, "publish", Some(plugin), Some(&version), |tx| {
            check_package(package, compat)?;
            if let Some(existing) = tx.version(plugin, &m.plugin.version)? {
                if existing.digest == digest {
                    let done = Published {
                        record: existing,
                        created: false,
                    };
                    return Ok((
                        done,
                        "already published with the same digest; nothing changed".into(),
                    ));
                }
                return Err(RegistryError::VersionImmutable {
                    plugin: plugin.to_owned(),
                    version: version.clone(),
                    existing: existing.digest.to_string(),
                    attempted: digest.to_string(),
                });
            }
            // A host booting from the registry has only plugin.toml and the
            // artifact, so a schema kept in another file would be lost.
            for tool in &m.tools {
                if let yoi_manifest::InputSchema::File(file) = &tool.input_schema {
                    return Err(RegistryError::SchemaFile {
                        plugin: plugin.to_owned(),
                        version: version.clone(),
                        tool: tool.name.clone(),
                        file: file.clone(),
                    });
                }
            }
            // The blob goes first: a record never points at a missing blob,
            // and a blob without a record is harmless.
            self.put_artifact(tx, &digest.to_string(), package.artifact())?;
            let now = now_ms();
            let mut record = VersionRecord {
                plugin: m.plugin.id.clone(),
                version: m.plugin.version.clone(),
                digest,
                manifest: package.manifest_text().to_owned(),
                state: State::Published,
                rollout: Rollout::default(),
                published_at: now,
                published_by: actor.to_owned(),
                updated_at: now,
                seq: 0,
            };
            record.seq = tx.insert_version(&record)?;
            Ok((
                Published {
                    record,
                    created: true,
                },
                format!("published with digest {digest}"),
            ))
        })
    }

    /// Makes a version the active one of its plugin. The previously active
    /// version becomes `inactive`. Every capability the version requests must
    /// have an operator decision (see [`Registry::grant`]).
    pub fn activate(
        &self,
        plugin: &str,
        version: &Version,
        how: &Activation,
    ) -> Result<VersionRecord, RegistryError> {
        let keys = self.config_keys(false).ok();
        self.on_version(&how.actor, "activate", plugin, version, |tx, mut target| {
            if how.rollout.percent > 100 {
                return Err(RegistryError::Invalid(format!(
                    "rollout {}% is out of range; use 0 to 100",
                    how.rollout.percent
                )));
            }
            check_enabled(tx, plugin)?;
            check_grants(tx, &target)?;
            check_config(tx, keys.as_ref(), &target, how.rollout.scope)?;
            let now = now_ms();
            let mut reason = format!("active for {}", describe(how.rollout));
            if let Some(mut previous) = active_of(tx, plugin)?
                && previous.version != target.version
            {
                previous.state = State::Inactive;
                previous.updated_at = now;
                tx.update_version(&previous)?;
                reason.push_str(&format!("; {} is now inactive", previous.version));
            }
            target.state = State::Active;
            target.rollout = how.rollout;
            target.updated_at = now;
            tx.update_version(&target)?;
            Ok((target, reason))
        })
    }

    /// Stops the active version; the plugin then has no active version.
    pub fn deactivate(
        &self,
        plugin: &str,
        version: &Version,
        actor: &str,
    ) -> Result<VersionRecord, RegistryError> {
        self.on_version(actor, "deactivate", plugin, version, |tx, mut target| {
            if target.state != State::Active {
                return Err(wrong_state(
                    &target,
                    "only the active version can be deactivated",
                ));
            }
            target.state = State::Inactive;
            target.updated_at = now_ms();
            tx.update_version(&target)?;
            Ok((
                target,
                "deactivated; the plugin has no active version".into(),
            ))
        })
    }

    /// Returns to `version`, published before the active one: the active
    /// version becomes `rolled_back` and `version` active with its rollout.
    pub fn rollback(
        &self,
        plugin: &str,
        version: &Version,
        actor: &str,
    ) -> Result<VersionRecord, RegistryError> {
        let keys = self.config_keys(false).ok();
        self.on_version(actor, "rollback", plugin, version, |tx, mut target| {
            let Some(mut current) = active_of(tx, plugin)? else {
                return Err(wrong_state(
                    &target,
                    format!("{plugin} has no active version to roll back from; use `yoi activate {plugin}@{version}`"),
                ));
            };
            if current.version == target.version {
                return Err(wrong_state(&target, "it is the active version already"));
            }
            if target.seq > current.seq {
                return Err(wrong_state(
                    &target,
                    format!(
                        "it was published after the active version {}; rollback returns to an earlier version (use `yoi activate` to move forward)",
                        current.version
                    ),
                ));
            }
            check_enabled(tx, plugin)?;
            check_grants(tx, &target)?;
            check_config(tx, keys.as_ref(), &target, current.rollout.scope)?;
            let now = now_ms();
            current.state = State::RolledBack;
            current.updated_at = now;
            tx.update_version(&current)?;
            target.state = State::Active;
            target.rollout = current.rollout;
            target.updated_at = now;
            tx.update_version(&target)?;
            Ok((target, format!("rolled back from {}", current.version)))
        })
    }

    /// Records the operator's decisions on capabilities of `plugin`: grants
    /// (`granted = true`), which must lie within what some published version
    /// requests, or denials, which must name a requested capability exactly.
    pub fn grant(
        &self,
        plugin: &str,
        capabilities: &[String],
        granted: bool,
        actor: &str,
    ) -> Result<Vec<Capability>, RegistryError> {
        let action = if granted { "grant" } else { "deny" };
        self.audited(actor, action, Some(plugin), None, |tx| {
            let mut requested = Vec::new();
            let mut plugin_id = None;
            for r in tx.versions(Some(plugin))? {
                plugin_id.get_or_insert_with(|| r.plugin.clone());
                for cap in Capability::requested_by(&manifest_of(&r)?) {
                    if !requested.contains(&cap) {
                        requested.push(cap);
                    }
                }
            }
            let names =
                |list: &[Capability]| list.iter().map(|c| c.to_string()).collect::<Vec<_>>();
            let mut done = Vec::new();
            for text in capabilities {
                let cap: Capability = text.parse()?;
                let ok = if granted {
                    requested.iter().any(|r| cap.within(r))
                } else {
                    requested.contains(&cap)
                };
                if !ok {
                    return Err(RegistryError::GrantNotRequested {
                        plugin: plugin.to_owned(),
                        capability: cap.to_string(),
                        why: if requested.is_empty() {
                            "no published version of it requests anything (or it is not published)"
                                .into()
                        } else {
                            "no published version requests it or anything that contains it".into()
                        },
                        requested: names(&requested),
                    });
                }
                // A capability was found within a request, so a version
                // (and with it the plugin's id) exists.
                let Some(id) = &plugin_id else { continue };
                tx.put_grant(&GrantRecord {
                    plugin: id.clone(),
                    capability: cap.clone(),
                    granted,
                    by: actor.to_owned(),
                    at: now_ms(),
                })?;
                done.push(cap);
            }
            let verb = if granted { "granted" } else { "denied" };
            Ok((done.clone(), format!("{verb} {}", names(&done).join(", "))))
        })
    }

    /// Removes decisions on capabilities of `plugin`.
    pub fn revoke(
        &self,
        plugin: &str,
        capabilities: &[String],
        actor: &str,
    ) -> Result<(), RegistryError> {
        self.audited(actor, "revoke", Some(plugin), None, |tx| {
            let mut done = Vec::new();
            for text in capabilities {
                let cap = text.parse::<Capability>()?.to_string();
                if !tx.delete_grant(plugin, &cap)? {
                    return Err(RegistryError::Invalid(format!(
                        "{plugin} has no grant or denial for `{cap}`; `yoi show {plugin}` lists its grants"
                    )));
                }
                done.push(cap);
            }
            Ok(((), format!("revoked {}", done.join(", "))))
        })
    }

    /// Disables a plugin: it cannot be activated (or rolled back to) until
    /// enabled again. Hosts stop running it at their next reload.
    pub fn disable(&self, plugin: &str, reason: &str, actor: &str) -> Result<(), RegistryError> {
        self.set_disabled(
            actor,
            "disable",
            plugin,
            reason,
            format!("disabled: {reason}"),
        )
    }

    /// Disables a plugin on behalf of a host whose crash guard tripped. The
    /// audit entry has action `auto_disable`; re-enabling it is an operator's
    /// decision (`yoi enable`).
    pub fn auto_disable(
        &self,
        plugin: &str,
        reason: &str,
        host: &str,
    ) -> Result<(), RegistryError> {
        let done = format!("disabled by the crash guard: {reason}");
        self.set_disabled(host, "auto_disable", plugin, reason, done)
    }

    /// The one way a plugin becomes disabled, audited as `action`.
    fn set_disabled(
        &self,
        actor: &str,
        action: &str,
        plugin: &str,
        reason: &str,
        done: String,
    ) -> Result<(), RegistryError> {
        self.audited(actor, action, Some(plugin), None, |tx| {
            if tx.versions(Some(plugin))?.is_empty() {
                return Err(RegistryError::Invalid(format!(
                    "plugin {plugin} is not published"
                )));
            }
            tx.set_disabled(plugin, Some(reason))?;
            Ok(((), done.clone()))
        })
    }

    /// Enables a disabled plugin.
    pub fn enable(&self, plugin: &str, actor: &str) -> Result<(), RegistryError> {
        self.audited(actor, "enable", Some(plugin), None, |tx| {
            if tx.disabled(Some(plugin))?.is_empty() {
                return Err(RegistryError::Invalid(format!(
                    "plugin {plugin} is not disabled"
                )));
            }
            tx.set_disabled(plugin, None)?;
            Ok(((), "enabled".into()))
        })
    }

    /// Removes a version that is not active (`R0111` otherwise), audited as
    /// `remove`. Its artifact is deleted when no other version refers to it.
    /// The plugin's grants and disabled flag stay while other versions
    /// remain.
    pub fn remove(
        &self,
        plugin: &str,
        version: &Version,
        actor: &str,
    ) -> Result<VersionRecord, RegistryError> {
        let removed = self.on_version(actor, "remove", plugin, version, |tx, record| {
            if record.state == State::Active {
                return Err(RegistryError::RemoveActive {
                    plugin: plugin.to_owned(),
                    version: version.to_string(),
                });
            }
            tx.delete_version(plugin, version)?;
            let reason = if tx.versions(Some(plugin))?.is_empty() {
                forget_plugin(tx, plugin)?;
                "removed; it was the plugin's last version, so its grants went with it"
            } else {
                "removed"
            };
            Ok((record, reason.to_owned()))
        })?;
        self.collect_blob(&removed.digest)?;
        Ok(removed)
    }

    /// Removes every version of a plugin, none of which may be active
    /// (`R0111`), with its grants and disabled flag; audited as `remove`.
    /// Artifacts no other plugin refers to are deleted.
    pub fn remove_all(
        &self,
        plugin: &str,
        actor: &str,
    ) -> Result<Vec<VersionRecord>, RegistryError> {
        let removed = self.audited(actor, "remove", Some(plugin), None, |tx| {
            let versions = tx.versions(Some(plugin))?;
            if versions.is_empty() {
                return Err(RegistryError::NotFound {
                    plugin: plugin.to_owned(),
                    version: "*".into(),
                });
            }
            if let Some(active) = versions.iter().find(|v| v.state == State::Active) {
                return Err(RegistryError::RemoveActive {
                    plugin: plugin.to_owned(),
                    version: active.version.to_string(),
                });
            }
            for v in &versions {
                tx.delete_version(plugin, &v.version)?;
            }
            forget_plugin(tx, plugin)?;
            let n = versions.len();
            Ok((
                versions,
                format!("removed all {n} versions, its grants and flags"),
            ))
        })?;
        for v in &removed {
            self.collect_blob(&v.digest)?;
        }
        Ok(removed)
    }

    /// Deletes runtime events recorded more than `older_than` ago (when
    /// given) and every stored artifact no version refers to (left by
    /// removals, or by a publish interrupted between storing the artifact
    /// and its record). Audited as `prune`.
    pub fn prune(
        &self,
        older_than: Option<std::time::Duration>,
        actor: &str,
    ) -> Result<Pruned, RegistryError> {
        self.audited(actor, "prune", None, None, |tx| {
            let events = match older_than {
                Some(age) => {
                    let age = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
                    tx.delete_events_before(now_ms().saturating_sub(age))?
                }
                None => 0,
            };
            // Under the write lock: a publish stores its artifact inside its
            // own write transaction, so it cannot interleave with this.
            let in_use = tx.digests_in_use()?;
            let mut pruned = Pruned {
                events,
                ..Pruned::default()
            };
            for (digest, _) in self.artifact_sizes(tx)? {
                if !in_use.contains(&digest) {
                    pruned.bytes += self.delete_artifact(tx, &digest)?;
                    pruned.blobs += 1;
                }
            }
            let reason = format!(
                "deleted {} events and {} unreferenced artifacts ({} bytes)",
                pruned.events, pruned.blobs, pruned.bytes
            );
            Ok((pruned, reason))
        })
    }

    /// Deletes runtime events older than `older_than`: the retention a host
    /// applies to the events table as it writes to it. Audited (as
    /// `expire_events`, by `actor`) only when something was deleted, and it
    /// is not a change hosts reload for.
    pub fn expire_events(
        &self,
        older_than: std::time::Duration,
        actor: &str,
    ) -> Result<u64, RegistryError> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        self.store.write(|tx| {
            let n = tx.delete_events_before(now_ms().saturating_sub(age))?;
            if n > 0 {
                tx.append_audit(&AuditRecord {
                    id: 0,
                    at: now_ms(),
                    actor: actor.to_owned(),
                    action: "expire_events".into(),
                    plugin: None,
                    version: None,
                    outcome: Outcome::Ok,
                    reason: format!(
                        "deleted {n} events older than {} s (the host's retention)",
                        older_than.as_secs()
                    ),
                })?;
            }
            Ok(n)
        })
    }

    /// Deletes one artifact if no version refers to it, under the write
    /// lock (see `prune`).
    fn collect_blob(&self, digest: &Digest) -> Result<(), RegistryError> {
        let digest = digest.to_string();
        self.store.write(|tx| {
            if !tx.digests_in_use()?.contains(&digest) {
                self.delete_artifact(tx, &digest)?;
            }
            Ok(())
        })
    }

    /// Wipes versions, grants, flags, events and stored artifacts. The audit
    /// log is kept, and records the wipe before it happens.
    pub fn clear(&self, actor: &str) -> Result<(), RegistryError> {
        self.audited(actor, "clear", None, None, |tx| {
            let n = tx.versions(None)?.len();
            tx.clear()?;
            Ok(((), format!("cleared {n} versions")))
        })?;
        match &self.blobs {
            Some(files) => files.clear(),
            // Cleared with the records, in the same transaction.
            None => Ok(()),
        }
    }

    /// Everything, at one instant: every audit record and every event.
    pub fn snapshot(&self) -> Result<Snapshot, RegistryError> {
        self.snapshot_page(Window::ALL, Window::ALL)
    }

    /// [`Registry::snapshot`] with a window of the audit log and one of the
    /// runtime events, each with the cursor of its next page
    /// (`audits_next`, `events_next`). Everything else is whole.
    pub fn snapshot_page(&self, audits: Window, events: Window) -> Result<Snapshot, RegistryError> {
        self.store.read(|tx| {
            let versions = tx.versions(None)?;
            let active_versions = versions
                .iter()
                .filter(|v| v.state == State::Active)
                .map(|v| (v.plugin.to_string(), v.version.clone()))
                .collect();
            let audit_page = tx.audits(None, audits)?;
            let event_page = tx.events(None, events)?;
            Ok(Snapshot {
                active_versions,
                versions,
                grants: tx.grants(None)?,
                disabled: tx.disabled(None)?.into_iter().collect(),
                config: tx.config(None)?,
                audits_next: audits.next(audit_page.iter().map(|a| a.id)),
                audits: audit_page,
                events_next: events.next(event_page.iter().map(|e| e.id)),
                events: event_page,
                services: tx.latest_events("service_status", None, "service")?,
                hosts: tx.hosts()?,
                change_seq: tx.change_seq()?,
            })
        })
    }

    /// The change counter and the newest audit and event ids: cheap to
    /// poll, and each moves when its part of the registry is written, by
    /// this process or any other.
    pub fn marks(&self) -> Result<Marks, RegistryError> {
        self.store.read(|tx| tx.marks())
    }

    /// What hosts should run now, without the audit log: active versions of
    /// enabled plugins, their grants and setting values, the disabled set,
    /// in one read.
    pub fn deployment(&self) -> Result<Deployment, RegistryError> {
        self.store.read(|tx| {
            let disabled: BTreeMap<String, String> = tx.disabled(None)?.into_iter().collect();
            let active: Vec<VersionRecord> = tx
                .versions(None)?
                .into_iter()
                .filter(|v| v.state == State::Active && !disabled.contains_key(v.plugin.as_str()))
                .collect();
            let grants = tx
                .grants(None)?
                .into_iter()
                .filter(|g| active.iter().any(|v| v.plugin == g.plugin))
                .collect();
            let config = tx
                .config(None)?
                .into_iter()
                .filter(|c| active.iter().any(|v| v.plugin == c.plugin))
                .collect();
            Ok(Deployment {
                active,
                grants,
                disabled,
                config,
                change_seq: tx.change_seq()?,
            })
        })
    }

    /// Records (or renews) a host's report of itself: what it runs, and
    /// that it is alive. Not a change: hosts do not reload for it, and it
    /// is not audited.
    pub fn register_host(&self, host: &HostRecord) -> Result<(), RegistryError> {
        if host.name.is_empty() || host.name.len() > 253 || host.name.chars().any(char::is_control)
        {
            return Err(RegistryError::Invalid(format!(
                "`{}` is not a host name: use 1-253 printable characters (e.g. the machine's hostname)",
                host.name.escape_debug()
            )));
        }
        self.store.log(|tx| {
            // A heartbeat alone is not news for dashboards following the marks.
            let news = tx
                .hosts()?
                .into_iter()
                .find(|h| h.name == host.name)
                .is_none_or(|h| {
                    HostRecord {
                        last_seen: host.last_seen,
                        ..h
                    } != *host
                });
            tx.put_host(host)?;
            if news {
                tx.bump_hosts()?;
            }
            Ok(())
        })
    }

    /// Forgets hosts that have not reported for `silent_for` (replaced,
    /// scaled down, renamed): they leave `yoi hosts`, and come back with
    /// their next report if they were only cut off. Audited; returns how
    /// many.
    pub fn forget_hosts(
        &self,
        silent_for: std::time::Duration,
        actor: &str,
    ) -> Result<u64, RegistryError> {
        let age = i64::try_from(silent_for.as_millis()).unwrap_or(i64::MAX);
        self.audited(actor, "forget_hosts", None, None, |tx| {
            let n = tx.delete_hosts_seen_before(now_ms().saturating_sub(age))?;
            if n > 0 {
                tx.bump_hosts()?;
            }
            Ok((
                n,
                format!("forgot {n} hosts silent for {}s", silent_for.as_secs()),
            ))
        })
    }

    /// Every host that reported itself, by name, with what it runs.
    pub fn hosts(&self) -> Result<Vec<HostRecord>, RegistryError> {
        self.store.read(|tx| tx.hosts())
    }

    /// The host-defined hook points (contract 0.6.0) a version handles that
    /// no host reporting to this registry declares: its handlers there
    /// would never run, so activating it warns (docs/hooks.md,
    /// "Host-defined points").
    pub fn undeclared_points(&self, record: &VersionRecord) -> Result<Vec<String>, RegistryError> {
        let manifest = manifest_of(record)?;
        let wanted: Vec<&'static str> = manifest
            .hooks
            .iter()
            .filter_map(|h| h.point.host())
            .map(|p| p.as_str())
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let hosts = self.hosts()?;
        let declared: std::collections::BTreeSet<&str> = hosts
            .iter()
            .filter_map(|h| h.posture.as_ref())
            .flat_map(|p| p.points.iter().map(String::as_str))
            .collect();
        Ok(wanted
            .into_iter()
            .filter(|p| !declared.contains(p))
            .map(str::to_owned)
            .collect())
    }

    /// The versions of one plugin, in publish order.
    pub fn versions(&self, plugin: &str) -> Result<Vec<VersionRecord>, RegistryError> {
        self.store.read(|tx| tx.versions(Some(plugin)))
    }

    /// What activating `version` of `plugin` would change and what it
    /// still needs, read without changing anything (`yoi upgrade`, the
    /// page's upgrade view; docs/operations.md, "Upgrading"). The
    /// candidate takes the active version's scope and rollout.
    pub fn upgrade_plan(
        &self,
        plugin: &str,
        version: &Version,
    ) -> Result<UpgradePlan, RegistryError> {
        let keys = self.config_keys(false).ok();
        self.store.read(|tx| {
            let target = find(tx, plugin, version)?;
            let active = active_of(tx, plugin)?;
            let rollout = active.as_ref().map(|a| a.rollout).unwrap_or_default();
            let from = active.as_ref().map(manifest_of).transpose()?;
            let diff = yoi_manifest::ManifestDiff::between(from.as_ref(), &manifest_of(&target)?);
            let settings = match check_config(tx, keys.as_ref(), &target, rollout.scope) {
                Ok(()) => None,
                Err(RegistryError::ConfigIncompatible { problems, .. }) => Some(problems),
                Err(e) => return Err(e),
            };
            let decisions = tx.grants(Some(plugin))?;
            let c = &diff.capabilities;
            let capabilities = [
                ("added", &c.added),
                ("removed", &c.removed),
                ("unchanged", &c.unchanged),
            ]
            .into_iter()
            .flat_map(|(change, caps)| caps.iter().map(move |cap| (change, cap)))
            .map(|(change, cap)| CapabilityLine::of(cap, change, &decisions))
            .collect();
            Ok(UpgradePlan {
                from: active.map(|a| a.version),
                rollout,
                diff,
                decisions,
                capabilities,
                undecided: undecided(tx, &target)?,
                settings,
                disabled: tx
                    .disabled(Some(plugin))?
                    .into_iter()
                    .next()
                    .map(|(_, why)| why),
                to: target,
            })
        })
    }

    /// The active version of a plugin.
    pub fn active(&self, plugin: &str) -> Result<Option<VersionRecord>, RegistryError> {
        self.store.read(|tx| active_of(tx, plugin))
    }

    /// Decisions on a plugin's capabilities.
    pub fn grants(&self, plugin: &str) -> Result<Vec<GrantRecord>, RegistryError> {
        self.store.read(|tx| tx.grants(Some(plugin)))
    }

    /// Audit records after the cursor `after` (0 for the start).
    pub fn audits(
        &self,
        plugin: Option<&str>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, RegistryError> {
        self.store
            .read(|tx| tx.audits(plugin, Window::After { after, limit }))
    }

    /// Records runtime events (receipts, denials) in one transaction.
    pub fn record_events(&self, events: &[EventRecord]) -> Result<i64, RegistryError> {
        self.store.log(|tx| tx.append_events(events))
    }

    /// Runtime events after the cursor `after` (0 for the start).
    pub fn events(
        &self,
        plugin: Option<&str>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, RegistryError> {
        self.store
            .read(|tx| tx.events(plugin, Window::After { after, limit }))
    }

    /// How many runtime events of `kind` `plugin` has (within the
    /// retention), the sum of their detail's numeric `field`, and when the
    /// last one was: e.g. the observations an observer dropped
    /// (`observer_dropped`, `dropped`).
    pub fn event_totals(
        &self,
        plugin: &str,
        kind: &str,
        field: &str,
    ) -> Result<EventTotals, RegistryError> {
        self.store.read(|tx| tx.event_totals(plugin, kind, field))
    }

    /// The newest runtime event of `kind` for each plugin and value of its
    /// detail's `field` (of `plugin`, or of all): e.g. each service's last
    /// recorded status (`service_status`, `service`).
    pub fn latest_events(
        &self,
        kind: &str,
        plugin: Option<&str>,
        field: &str,
    ) -> Result<Vec<EventRecord>, RegistryError> {
        self.store.read(|tx| tx.latest_events(kind, plugin, field))
    }

    /// A stored artifact, its digest verified.
    pub fn artifact(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        self.verified_artifact(&digest.to_string())
    }

    fn verified_artifact(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let bytes = self.unverified_artifact(digest)?;
        crate::blobs::verify(digest, &bytes)?;
        Ok(bytes)
    }

    /// An artifact's bytes as stored, for a caller that hashes them itself.
    fn unverified_artifact(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        match &self.blobs {
            Some(files) => files.read_unverified(digest),
            None => {
                crate::blobs::parse(digest)?;
                self.store.read(|tx| tx.artifact(digest))?.ok_or_else(|| {
                    RegistryError::MissingBlob {
                        digest: digest.to_owned(),
                        place: "the registry database".into(),
                    }
                })
            }
        }
    }

    /// Stores an artifact with the operation `tx` belongs to: a file
    /// written under the store's write lock, or a row in the same
    /// transaction (so a concurrent prune can never delete it between the
    /// two).
    fn put_artifact(
        &self,
        tx: &mut dyn Tx,
        digest: &str,
        bytes: &[u8],
    ) -> Result<(), RegistryError> {
        match &self.blobs {
            Some(files) => files.put(digest, bytes),
            None => {
                crate::blobs::verify(digest, bytes)?;
                tx.put_artifact(digest, bytes)
            }
        }
    }

    fn artifact_sizes(&self, tx: &mut dyn Tx) -> Result<Vec<(String, u64)>, RegistryError> {
        match &self.blobs {
            Some(files) => files.list(),
            None => tx.artifact_sizes(),
        }
    }

    fn delete_artifact(&self, tx: &mut dyn Tx, digest: &str) -> Result<u64, RegistryError> {
        match &self.blobs {
            Some(files) => files.remove(digest),
            None => tx.delete_artifact(digest),
        }
    }

    /// A stored version as a [`Package`] a host can load: the artifact read
    /// back and its digest verified (`R0201`, `R0202`), the stored manifest
    /// checked against `compat` (`R0203`). The component itself is not
    /// inspected again: publish did that, and the digest proves these are
    /// the bytes it inspected.
    pub fn open_package(
        &self,
        record: &VersionRecord,
        compat: &Compat,
    ) -> Result<Package, RegistryError> {
        let digest = record.digest.to_string();
        // Hashed once, by the package check below.
        let artifact = self.unverified_artifact(&digest)?;
        let name = format!("{}@{}", record.plugin, record.version);
        Package::from_published(&name, &record.manifest, artifact, compat).map_err(|d| {
            if d.has(yoi_manifest::Code::DigestMismatch) {
                // The stored bytes changed: say so as every blob read does
                // (the error path reads and hashes them again).
                return match self.verified_artifact(&digest) {
                    Err(e) => e,
                    Ok(_) => RegistryError::StoredPackage {
                        plugin: record.plugin.to_string(),
                        version: record.version.to_string(),
                        detail: d.to_string(),
                    },
                };
            }
            RegistryError::StoredPackage {
                plugin: record.plugin.to_string(),
                version: record.version.to_string(),
                detail: d.to_string(),
            }
        })
    }

    /// Whether the active version of `plugin` applies to `subject` on a
    /// host of scope `host_scope`: deterministic for a given plugin,
    /// subject and rollout.
    pub fn applies(
        &self,
        plugin: &str,
        subject: &str,
        host_scope: Scope,
    ) -> Result<bool, RegistryError> {
        Ok(self
            .active(plugin)?
            .is_some_and(|v| applies(plugin, subject, v.rollout, host_scope)))
    }

    /// Checks the registry's invariants: at most one active version per
    /// plugin, and every version's artifact present and matching its digest.
    /// Returns the problems found (empty when consistent).
    pub fn verify(&self) -> Result<Vec<String>, RegistryError> {
        let snapshot = self.snapshot()?;
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeMap::new();
        for v in &snapshot.versions {
            if v.state == State::Active
                && seen.insert(v.plugin.clone(), v.version.clone()).is_some()
            {
                problems.push(format!("{} has more than one active version", v.plugin));
            }
            if let Err(e) = self.verified_artifact(&v.digest.to_string()) {
                problems.push(format!("{}@{}: {e}", v.plugin, v.version));
            }
            if let Err(e) = manifest_of(v) {
                problems.push(e.to_string());
            }
        }
        Ok(problems)
    }
}

/// The checks every publish runs on a package, whoever built it.
fn check_package(package: &Package, compat: &Compat) -> Result<(), RegistryError> {
    // The digest was verified when the package was opened (a `Package`
    // cannot be changed afterwards). Opened against the registry's own
    // support, it was inspected then: once per publish. Opened against
    // another host's, compatibility and the component are checked against
    // the registry's.
    if package.inspected_against() == Some(compat) {
        return Ok(());
    }
    let m = package.manifest();
    let mut problems = Vec::new();
    let found = m
        .compatibility(compat)
        .into_iter()
        .chain(yoi_manifest::inspect(m, package.artifact(), compat));
    for d in found {
        problems.push(format!(
            "{} {}: {}",
            d.code.as_str(),
            d.code.name(),
            d.message
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(RegistryError::PackageRejected {
        plugin: m.plugin.id.to_string(),
        version: m.plugin.version.to_string(),
        problems: problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// Longest name quoted back in a refusal.
const MAX_QUOTED: usize = 80;

/// Checks that what an operation names is a plugin id and a version before
/// anything is looked up or stored: text from a client (a control
/// character, a NUL PostgreSQL cannot store) is refused the same on every
/// store, and quoted escaped.
fn check_names(plugin: Option<&str>, version: Option<&str>) -> Result<(), String> {
    let quoted = |text: &str| {
        let cut: String = text.chars().take(MAX_QUOTED).collect();
        let more = if cut.len() < text.len() { "…" } else { "" };
        format!("{cut:?}{more}")
    };
    if let Some(p) = plugin
        && let Err(e) = yoi_manifest::PluginId::new(p)
    {
        return Err(format!("{} is not a plugin id: {e}", quoted(p)));
    }
    if let Some(v) = version
        && semver::Version::parse(v).is_err()
    {
        return Err(format!(
            "{} is not a version: write a semantic version such as 1.2.0",
            quoted(v)
        ));
    }
    Ok(())
}
