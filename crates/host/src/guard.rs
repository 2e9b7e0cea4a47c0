//! The crash guard: a plugin that keeps failing is unloaded and, if it came
//! from the registry, disabled there (docs/hooks.md, "Crash guard").

use std::sync::Arc;

use crate::host::Shared;
use crate::instances::reason_of;
#[cfg(feature = "registry")]
use crate::plugin::Origin;
use crate::plugin::{LoadedPlugin, Surface};
use crate::receipt::Status;

/// Counts failures on every surface (hook points, tools, the provider, the
/// observer); a success resets only its own surface's count. When a
/// plugin's failures within the window reach the limit, it is unloaded
/// and, if it came from the registry, disabled there. `Busy` is the host's
/// limit, not the plugin's failure, and counts for nothing.
pub(crate) fn crash_guard(
    shared: &Shared,
    plugin: &Arc<LoadedPlugin>,
    surface: Surface<'_>,
    status: Status,
    detail: &mut Option<String>,
) {
    let limit = shared.options.guard_failures;
    if limit == 0 {
        return;
    }
    match status {
        Status::Ok | Status::Blocked => plugin.record_success(&surface),
        Status::RejectedChange | Status::Busy => {}
        Status::Timeout | Status::Error => {
            let window = shared.options.guard_window;
            let n = plugin.record_failure(&surface, window);
            if n < limit as usize || !shared.remove(plugin.info.id.as_str(), Some(plugin)) {
                return;
            }
            let reason = format!(
                "{n} failures within {} s (crash guard); last: {}",
                window.as_secs(),
                detail.as_deref().map_or("unknown", reason_of)
            );
            tracing::error!(plugin = %plugin.info.id, version = %plugin.info.version, "plugin unloaded: {reason}");
            shared
                .observers
                .emit(|| crate::observers::ObservationEvent::AutoDisable {
                    plugin: plugin.info.id.clone(),
                    version: plugin.info.version.clone(),
                    failures: u32::try_from(n).unwrap_or(u32::MAX),
                });
            let mut note = format!(
                "crash guard: {n} failures within {} s; the plugin was unloaded",
                window.as_secs()
            );
            if let Some(more) = disable_in_registry(shared, plugin, reason) {
                note.push_str(&more);
            }
            let detail = detail.get_or_insert_with(String::new);
            detail.push_str(&format!(" ({note})"));
        }
    }
}

/// Disables a registry plugin in the registry (off the dispatch path); says
/// so for the receipt.
#[cfg(feature = "registry")]
fn disable_in_registry(shared: &Shared, plugin: &LoadedPlugin, reason: String) -> Option<String> {
    let registry = match (&plugin.info.origin, &shared.options.registry) {
        (Origin::Registry, Some(registry)) => Arc::clone(registry),
        _ => return None,
    };
    // A registry write may wait on another process's lock: it runs off the
    // dispatch path, never inside the caller's time.
    let (id, host) = (plugin.info.id.to_string(), shared.options.name.clone());
    let disable = move || {
        if let Err(e) = registry.auto_disable(&id, &reason, &host) {
            tracing::error!(plugin = %id, error = %e, "could not disable the plugin in the registry");
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(disable)),
        Err(_) => disable(),
    }
    Some(format!(
        " and is being disabled in the registry; `yoi enable {}` re-enables it",
        plugin.info.id
    ))
}

/// Without a registry, an unloaded plugin has nowhere to be disabled.
#[cfg(not(feature = "registry"))]
fn disable_in_registry(_: &Shared, _: &LoadedPlugin, _: String) -> Option<String> {
    None
}
