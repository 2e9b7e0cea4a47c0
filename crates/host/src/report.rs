//! What a boot or reload from the registry did, for the embedder and
//! operators.

use serde::Serialize;

use crate::plugin::PluginInfo;

/// What a boot or reload from the registry did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadReport {
    /// Plugins loaded (compiled or taken from the compile cache) by this
    /// reload.
    pub loaded: Vec<PluginInfo>,
    /// Plugins kept as they were (same version and digest).
    pub kept: Vec<String>,
    /// Plugins unloaded (deactivated, disabled, or activated for another scope).
    pub unloaded: Vec<String>,
    /// Versions that could not be loaded, and why. Other plugins are not
    /// affected.
    pub refused: Vec<Refusal>,
    /// `true` when the host is in safe mode and loaded nothing.
    pub safe_mode: bool,
    /// The registry change counter the new snapshot reflects.
    pub change_seq: i64,
}

/// A version the host would not load.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    /// Plugin id.
    pub plugin: String,
    /// Version.
    pub version: String,
    /// What is wrong, with the fix.
    pub reason: String,
    /// The version still running instead, if one was loaded before.
    pub kept_previous: Option<String>,
}

/// Logs what a reload did, one line per plugin.
pub(crate) fn log_report(report: &ReloadReport) {
    for p in &report.loaded {
        tracing::info!(plugin = %p.id, version = %p.version, cache = ?p.cache, "plugin loaded");
    }
    for id in &report.unloaded {
        tracing::info!(plugin = %id, "plugin unloaded");
    }
    for r in &report.refused {
        tracing::error!(plugin = %r.plugin, version = %r.version, "plugin refused: {}", r.reason);
    }
}
