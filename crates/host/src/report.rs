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
