//! The registry: where it lives, its store and keys, and the audited write
//! every operation goes through: a change and its audit record in one
//! store transaction, so the log and the state never disagree; a refused
//! operation changes nothing and is audited with its reason. The
//! operations are `lifecycle` and `config`, the reads `queries`, the
//! stored components `artifacts`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use crate::backend::{Backend, Location};
use crate::blobs::Blobs;
use crate::model::now_ms;
use crate::sealed::ConfigKeys;
use yoi_manifest::Rollout;

use crate::error::RegistryError;
use crate::model::{AuditRecord, Change, Outcome, VersionRecord};
use crate::store::{Store, Tx};

/// The result of [`Registry::publish`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    /// The stored version.
    pub record: VersionRecord,
    /// `false` when the same version and digest were already published.
    pub created: bool,
}

/// An operation's outcome with the audit record it wrote: what
/// [`Registry::apply`] answers with. The record is `None` only when the
/// store could not be written at all, or the outcome is in doubt.
#[derive(Debug)]
pub(crate) struct Audited<T> {
    pub(crate) result: Result<T, RegistryError>,
    pub(crate) audit: Option<AuditRecord>,
}

impl<T> Audited<T> {
    /// A failure before anything was written (nothing to audit).
    pub(crate) fn failed(e: RegistryError) -> Self {
        Audited {
            result: Err(e),
            audit: None,
        }
    }

    /// Goes on from the operation's value (after its transaction), keeping
    /// its record.
    pub(crate) fn and_then<U>(self, f: impl FnOnce(T) -> Result<U, RegistryError>) -> Audited<U> {
        Audited {
            result: self.result.and_then(f),
            audit: self.audit,
        }
    }
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
    pub(crate) blobs: Option<Blobs>,
    pub(crate) root: PathBuf,
    pub(crate) subscribers: Arc<Mutex<Vec<Sender<Change>>>>,
    /// Whether the store is pushing other processes' changes.
    pub(crate) listening: Arc<AtomicBool>,
    /// The keys secret settings are sealed with, once read (or supplied).
    pub(crate) keys: Mutex<Option<ConfigKeys>>,
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
    ) -> Audited<R> {
        if let Err(why) = check_names(plugin, version) {
            return match self.record_refusal(actor, action, plugin, version, &why) {
                Ok(record) => Audited {
                    result: Err(RegistryError::Invalid(why)),
                    audit: Some(record),
                },
                Err(e) => Audited::failed(e),
            };
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
                self.notify(Change {
                    seq,
                    action: action.to_owned(),
                    plugin: plugin.map(str::to_owned),
                });
                Audited {
                    result: Ok(value),
                    audit: Some(written),
                }
            }
            // It may have been applied, audit record and all: recording a
            // refusal would say otherwise.
            Err(e @ RegistryError::InDoubt { .. }) => Audited::failed(e),
            Err(e) => {
                // The refusal is recorded even though nothing changed; if the
                // store itself is failing, the original error is what matters.
                let mut written = record(Outcome::Error, e.to_string());
                let audit = self
                    .store
                    .write(|tx| tx.append_audit(&written))
                    .ok()
                    .map(|id| {
                        written.id = id;
                        written
                    });
                Audited {
                    result: Err(e),
                    audit,
                }
            }
        }
    }

    pub(crate) fn notify(&self, change: Change) {
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
        Ok(record)
    }
}

/// Longest name quoted back in a refusal.
const MAX_QUOTED: usize = 80;

/// Checks that what an operation names is a plugin id and a version before
/// anything is looked up or stored: text from a client (a control
/// character, a NUL PostgreSQL cannot store) is refused the same on every
/// store, and quoted escaped.
pub(crate) fn check_names(plugin: Option<&str>, version: Option<&str>) -> Result<(), String> {
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
