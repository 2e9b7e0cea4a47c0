//! Plugin folders: discovery (read-only: manifests parsed, artifacts'
//! digests checked, components decoded and inspected, nothing
//! instantiated), loading them with the grants and settings of the host's
//! configuration, and reloading them when they change, by the same rules
//! as registry hot reload: the next snapshot is built off to the side, and a
//! package that cannot be loaded keeps its previous version running.
//! docs/configuration.md ("Development mode").

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use yoi_manifest::{Capability, Digest, HookPoint, Manifest, ObservationKind, Package, PluginId};

use crate::host::{Host, Shared, Snapshot};
use crate::hostconfig::{CapabilityCap, GrantSpec};
use crate::plugin::{Fingerprint, LoadedPlugin, Origin};
use crate::report::{Refusal, ReloadReport, log_report};

/// A package found in a plugin folder, as discovery reads it.
#[derive(Debug, Clone, Serialize)]
pub struct PackageInfo {
    /// Plugin id.
    pub id: PluginId,
    /// Version.
    pub version: semver::Version,
    /// The artifact's digest (verified).
    pub digest: Digest,
    /// The contract it targets.
    pub contract: String,
    /// Declared hooks.
    pub hooks: Vec<HookPoint>,
    /// Declared tools.
    pub tools: Vec<String>,
    /// Declared providers.
    pub providers: Vec<String>,
    /// Observation kinds it receives.
    pub observes: Vec<ObservationKind>,
    /// What it requests, `yoi grant` forms.
    pub requests: Vec<String>,
}

impl PackageInfo {
    fn of(manifest: &Manifest) -> PackageInfo {
        PackageInfo {
            id: manifest.plugin.id.clone(),
            version: manifest.plugin.version.clone(),
            digest: manifest.runtime.digest,
            contract: manifest.plugin.contract.to_string(),
            hooks: manifest.hooks.iter().map(|h| h.point).collect(),
            tools: manifest.tools.iter().map(|t| t.name.clone()).collect(),
            providers: manifest.providers.iter().map(|p| p.name.clone()).collect(),
            observes: manifest
                .observer
                .as_ref()
                .map_or_else(Vec::new, |o| o.kinds.clone()),
            requests: Capability::requested_by(manifest)
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

/// One package folder and what discovery made of it.
#[derive(Debug, Clone, Serialize)]
pub struct Discovered {
    /// The package folder.
    pub dir: PathBuf,
    /// The package, or every problem found, rendered.
    pub package: Result<PackageInfo, String>,
}

/// The package folders under `folders`: a folder holding `plugin.toml` is
/// one; otherwise each of its subfolders that holds one is, in name order.
fn package_dirs(folders: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, String)>> {
    let mut out = Vec::new();
    for folder in folders {
        if folder.join(yoi_manifest::MANIFEST_FILE).is_file() {
            out.push(Ok(folder.clone()));
            continue;
        }
        match std::fs::read_dir(folder) {
            Ok(entries) => {
                let mut dirs: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.join(yoi_manifest::MANIFEST_FILE).is_file())
                    .collect();
                dirs.sort();
                out.extend(dirs.into_iter().map(Ok));
            }
            Err(e) => out.push(Err((
                folder.clone(),
                format!("the plugin folder cannot be read: {e}"),
            ))),
        }
    }
    out
}

/// Opens every package under `folders`: the full checks of
/// [`Package::open`], nothing run.
fn open_all(folders: &[PathBuf]) -> Vec<(PathBuf, Result<Package, String>)> {
    package_dirs(folders)
        .into_iter()
        .map(|dir| match dir {
            Ok(dir) => {
                let package = Package::open(&dir, &Host::compat()).map_err(|d| d.to_string());
                (dir, package)
            }
            Err((dir, why)) => (dir, Err(why)),
        })
        .collect()
}

/// Lists the packages under `folders` without running anything: each
/// manifest is parsed and checked, each artifact read and its digest
/// verified, each component decoded and its imports and exports compared
/// with the manifest and this host's contracts. No component is compiled
/// or instantiated, so no guest code runs (a start function that would
/// trap is listed like any other).
pub fn discover(folders: &[PathBuf]) -> Vec<Discovered> {
    open_all(folders)
        .into_iter()
        .map(|(dir, package)| Discovered {
            dir,
            package: package.map(|p| PackageInfo::of(p.manifest())),
        })
        .collect()
}

/// The grants `manifest`'s plugin gets from the configuration: what
/// `[grants]` names for it (`"requested"`: everything it requests), each
/// within its request and within the host's capability list.
fn grants_for(
    manifest: &Manifest,
    spec: Option<&GrantSpec>,
    cap: Option<&CapabilityCap>,
) -> Result<Vec<Capability>, String> {
    let requested = Capability::requested_by(manifest);
    let allowed = |c: &Capability| cap.is_none_or(|cap| cap.refuses(c).is_none());
    match spec {
        None => Ok(Vec::new()),
        Some(GrantSpec::Keyword(_)) => Ok(requested.into_iter().filter(allowed).collect()),
        Some(GrantSpec::List(list)) => {
            let mut out = Vec::new();
            for text in list {
                let grant: Capability = text.parse().map_err(|e| format!("grant `{text}`: {e}"))?;
                if !requested.iter().any(|r| grant.within(r)) {
                    return Err(format!(
                        "grant `{text}` is not within what plugin.toml requests; a grant can only narrow a request (add it to [capabilities] in plugin.toml)"
                    ));
                }
                if let Some(why) = cap.and_then(|cap| cap.refuses(&grant)) {
                    return Err(format!("grant `{text}`: {why}"));
                }
                out.push(grant);
            }
            Ok(out)
        }
    }
}

impl Host {
    /// Lists the packages in the host's configured plugin folders, read-only
    /// (see [`discover`]).
    pub fn discover(&self) -> Vec<Discovered> {
        self.shared
            .options
            .folders
            .as_ref()
            .map_or_else(Vec::new, |f| discover(&f.folders))
    }

    /// Makes the loaded folder plugins match the configured plugin folders
    /// (`[plugins] folders` in yoi.toml): loads new packages and changed
    /// ones (a new digest or plugin.toml), unloads those whose folder is
    /// gone, keeps the rest. A package that cannot be loaded is refused
    /// alone and its previous version keeps running; the new set is swapped
    /// in at once.
    pub fn reload_folders(&self) -> ReloadReport {
        self.shared.reload_folders()
    }
}

impl Host {
    /// Loads the folders at build, adds the report to the boot report, and
    /// starts watching them when hot reload is on.
    pub(crate) fn boot_folders(&self) -> Result<(), crate::HostError> {
        let report = self.shared.reload_folders();
        log_report(&report);
        {
            let mut boot = self.shared.boot.lock().unwrap_or_else(|p| p.into_inner());
            match boot.as_mut() {
                Some(b) => {
                    b.loaded.extend(report.loaded);
                    b.kept.extend(report.kept);
                    b.unloaded.extend(report.unloaded);
                    b.refused.extend(report.refused);
                }
                None => *boot = Some(report),
            }
        }
        #[cfg(feature = "watch")]
        if self
            .shared
            .options
            .folders
            .as_ref()
            .is_some_and(|f| f.hot_reload && !f.folders.is_empty())
        {
            let weak = Arc::downgrade(&self.shared);
            let watcher = self.watch_folders(move |report| {
                if let Some(shared) = weak.upgrade() {
                    shared.announce(&report);
                }
            })?;
            *self
                .shared
                .folder_watcher
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(Box::new(watcher));
        }
        Ok(())
    }

    /// The report of every reload from now on, in order: of the plugin
    /// folders (hot reload), and from the registry while [`Host::watch`]
    /// follows it.
    pub fn reloads(&self) -> std::sync::mpsc::Receiver<ReloadReport> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.shared
            .reload_subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        rx
    }
}

impl Shared {
    /// Logs a reload's report and hands it to [`Host::reloads`]' receivers.
    #[cfg_attr(not(any(feature = "watch", feature = "registry")), allow(dead_code))]
    pub(crate) fn announce(&self, report: &ReloadReport) {
        log_report(report);
        self.reload_subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|tx| tx.send(report.clone()).is_ok());
    }

    pub(crate) fn reload_folders(&self) -> ReloadReport {
        let mut report = ReloadReport {
            loaded: Vec::new(),
            kept: Vec::new(),
            unloaded: Vec::new(),
            refused: Vec::new(),
            safe_mode: self.safe_mode,
            change_seq: 0,
        };
        let Some(settings) = self.options.folders.as_ref() else {
            return report;
        };
        if self.safe_mode {
            return report;
        }
        // Read and checked before the lock: discovery never blocks dispatch
        // or another reload.
        let opened = open_all(&settings.folders);
        let _update = self.update.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.snapshot.load_full();
        report.change_seq = current.change_seq.unwrap_or(0);
        let mut plugins: Vec<Arc<LoadedPlugin>> = current.plugins.clone();
        let mut known = self
            .folder_plugins
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut seen: Vec<PathBuf> = Vec::new();
        for (dir, package) in opened {
            seen.push(dir.clone());
            let previous = known.get(&dir).cloned();
            let kept = previous.as_ref().and_then(|p| {
                plugins
                    .iter()
                    .find(|x| x.info.id == p.id)
                    .map(|x| x.info.version.to_string())
            });
            let package = match package {
                Ok(p) => p,
                Err(why) => {
                    refuse(
                        &mut report,
                        (previous.as_ref(), kept.clone()),
                        &dir,
                        None,
                        why,
                    );
                    continue;
                }
            };
            let manifest = package.manifest();
            let fingerprint = Fingerprint::of(&package);
            let loaded = plugins.iter().position(|p| p.info.id == fingerprint.id);
            if previous.as_ref() == Some(&fingerprint) && loaded.is_some() {
                report.kept.push(fingerprint.id.to_string());
                continue;
            }
            let elsewhere = known
                .iter()
                .find(|(d, f)| f.id == fingerprint.id && **d != dir)
                .map(|(d, _)| d.clone());
            let ours = previous.as_ref().is_some_and(|p| p.id == fingerprint.id);
            let conflict = match (elsewhere.filter(|d| d.exists()), loaded) {
                (Some(other), _) => Some(format!(
                    "{} also holds plugin {}; one plugin comes from one folder",
                    other.display(),
                    fingerprint.id
                )),
                (None, Some(i)) if !ours || plugins[i].info.origin != Origin::Local => {
                    Some(format!(
                        "plugin {} is already loaded from elsewhere (the registry, or Host::load)",
                        fingerprint.id
                    ))
                }
                _ => None,
            };
            let id = fingerprint.id.as_str().to_owned();
            let grants = match conflict {
                Some(why) => Err(why),
                None => grants_for(
                    manifest,
                    settings.grants.get(&id),
                    self.options.cap.as_ref(),
                ),
            };
            let grants = match grants {
                Ok(g) => g,
                Err(why) => {
                    refuse(
                        &mut report,
                        (previous.as_ref(), kept.clone()),
                        &dir,
                        Some(manifest),
                        why,
                    );
                    continue;
                }
            };
            let values = settings.values.get(&id).cloned().unwrap_or_default();
            let (version, manifest_id) =
                (manifest.plugin.version.clone(), manifest.plugin.id.clone());
            match LoadedPlugin::load(
                &self.engine,
                &self.linker,
                package,
                self.load_options(Origin::Local, None, grants, values),
            ) {
                Ok(plugin) => {
                    let plugin = Arc::new(plugin);
                    report.loaded.push(plugin.info.clone());
                    // This replaces this folder's own plugin (another
                    // folder's of the same id was refused above), and the
                    // one it held before if the id changed.
                    let old_id = previous.as_ref().map(|p| p.id.clone());
                    plugins.retain(|p| p.info.id != manifest_id || p.info.origin != Origin::Local);
                    if let Some(old) = old_id.filter(|o| *o != manifest_id) {
                        plugins.retain(|p| !(p.info.id == old && p.info.origin == Origin::Local));
                        report.unloaded.push(old.to_string());
                    }
                    plugins.push(plugin);
                    known.insert(dir, fingerprint);
                }
                Err(e) => report.refused.push(Refusal {
                    plugin: manifest_id.to_string(),
                    version: version.to_string(),
                    reason: format!("{}: {e}", dir.display()),
                    kept_previous: kept,
                }),
            }
        }
        // A folder that is gone takes its plugin with it.
        let gone: Vec<(PathBuf, Fingerprint)> = known
            .iter()
            .filter(|(dir, _)| !seen.contains(dir))
            .map(|(d, f)| (d.clone(), f.clone()))
            .collect();
        for (dir, fingerprint) in gone {
            known.remove(&dir);
            plugins.retain(|p| !(p.info.id == fingerprint.id && p.info.origin == Origin::Local));
            report.unloaded.push(fingerprint.id.to_string());
        }
        drop(known);
        self.publish(Snapshot::new(plugins, current.change_seq));
        self.observe_reload(&report);
        report
    }
}

/// Records a package that was not loaded; the version running before (if
/// any) goes on running.
fn refuse(
    report: &mut ReloadReport,
    (previous, kept): (Option<&Fingerprint>, Option<String>),
    dir: &Path,
    manifest: Option<&Manifest>,
    why: String,
) {
    let (plugin, version) = match (manifest, previous) {
        (Some(m), _) => (m.plugin.id.to_string(), m.plugin.version.to_string()),
        (None, Some(p)) => (p.id.to_string(), String::new()),
        (None, None) => (dir.display().to_string(), String::new()),
    };
    report.refused.push(Refusal {
        plugin,
        version,
        reason: format!("{}: {why}", dir.display()),
        kept_previous: kept,
    });
}

#[cfg(feature = "watch")]
mod watch {
    use std::sync::mpsc::{RecvTimeoutError, channel};
    use std::time::Duration;

    use notify::{RecursiveMode, Watcher as _};

    use crate::error::HostError;
    use crate::host::Host;
    use crate::report::ReloadReport;

    /// Events closer together than this are one change: an editor's save
    /// or a build writes several files.
    const SETTLE: Duration = Duration::from_millis(100);

    /// Watches the plugin folders while it lives; see
    /// [`Host::watch_folders`].
    pub struct FolderWatcher {
        _watcher: notify::RecommendedWatcher,
    }

    impl std::fmt::Debug for FolderWatcher {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("FolderWatcher")
        }
    }

    impl Host {
        /// Reloads the configured plugin folders whenever something in them
        /// changes (after the changes settle for 100 ms), and hands each
        /// reload's report to `on_reload`. Stops when the returned
        /// [`FolderWatcher`] is dropped.
        pub fn watch_folders(
            &self,
            on_reload: impl Fn(ReloadReport) + Send + 'static,
        ) -> Result<FolderWatcher, HostError> {
            let folders = self
                .shared
                .options
                .folders
                .as_ref()
                .map(|f| f.folders.clone())
                .unwrap_or_default();
            let (tx, rx) = channel();
            let mut watcher = notify::recommended_watcher(move |event| {
                let _ = tx.send(event);
            })
            .map_err(|e| HostError::Engine(format!("cannot watch the plugin folders: {e}")))?;
            for folder in &folders {
                watcher
                    .watch(folder, RecursiveMode::Recursive)
                    .map_err(|e| {
                        HostError::Engine(format!("cannot watch {}: {e}", folder.display()))
                    })?;
            }
            let weak = std::sync::Arc::downgrade(&self.shared);
            std::thread::Builder::new()
                .name("yoi-folders".into())
                .spawn(move || {
                    // Ends when the watcher (the sender's owner) is dropped.
                    while rx.recv().is_ok() {
                        loop {
                            match rx.recv_timeout(SETTLE) {
                                Ok(_) => continue,
                                Err(RecvTimeoutError::Timeout) => break,
                                Err(RecvTimeoutError::Disconnected) => return,
                            }
                        }
                        let Some(shared) = weak.upgrade() else { return };
                        on_reload(shared.reload_folders());
                    }
                })
                .map_err(|e| HostError::Engine(format!("cannot start the watch thread: {e}")))?;
            Ok(FolderWatcher { _watcher: watcher })
        }
    }
}

#[cfg(feature = "watch")]
pub use watch::FolderWatcher;
