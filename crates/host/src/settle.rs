//! The end of every guest call: its status feeds the crash guard of the
//! surface it ran for ([`guard`]), and its denials are recorded and told to
//! the observers ([`denied`]). Which surfaces do what is structure here, not a
//! comment at each call site: services restart instead of being guarded,
//! and an observer's own denials are not told to observers (it would
//! observe itself).

use std::sync::Arc;

use yoi_manifest::HookPoint;

use crate::eventlog::record_denials;
use crate::host::Shared;
use crate::observers::ObservationEvent;
use crate::plugin::{LoadedPlugin, Surface};
use crate::receipt::{Denial, Status};

/// What a guest call ran for.
#[derive(Clone, Copy)]
pub(crate) enum Caller<'a> {
    /// A hook point's handler.
    Hook(HookPoint),
    /// One of the plugin's tools (its qualified name for the records).
    Tool(&'a str, &'a str),
    /// Its model provider, by the name it serves.
    Provider(&'a str),
    /// Its observer.
    Observer,
    /// One of its services (or a command or signature check of one).
    Service,
}

impl Caller<'_> {
    /// The crash guard's surface, when failures of this caller count.
    fn guarded(self) -> Option<Surface<'static>> {
        match self {
            Caller::Hook(point) => Some(Surface::Hook(point)),
            // A tool's surface is per tool name; built at the call site.
            Caller::Tool(..) => None,
            Caller::Provider(_) => Some(Surface::Provider),
            Caller::Observer => Some(Surface::Observer),
            // A failing service restarts with backoff (`serviceworker`).
            Caller::Service => None,
        }
    }

    /// Whether observers hear of this caller's denials.
    fn denials_observed(self) -> bool {
        !matches!(self, Caller::Observer)
    }

    /// What the call was doing, in a denial's record.
    fn during(self) -> String {
        match self {
            Caller::Hook(point) => point.as_str().to_owned(),
            Caller::Tool(_, qualified) => qualified.to_owned(),
            Caller::Provider(name) => format!("provider {name}"),
            Caller::Observer => "observer".to_owned(),
            Caller::Service => "service".to_owned(),
        }
    }
}

/// Feeds the crash guard of `caller`'s surface with a finished call's
/// `status` (which may add to `detail`); callers whose failures are not
/// guarded pass through.
pub(crate) fn guard(
    shared: &Shared,
    plugin: &Arc<LoadedPlugin>,
    caller: Caller<'_>,
    status: Status,
    detail: &mut Option<String>,
) {
    let surface = match caller {
        Caller::Tool(name, _) => Some(Surface::Tool(name)),
        other => other.guarded(),
    };
    if let Some(surface) = surface {
        crate::guard::crash_guard(shared, plugin, surface, status, detail);
    }
}

/// Records `denials` of `plugin` made for `caller` and tells observers of
/// them where they listen.
pub(crate) fn denied(
    shared: &Shared,
    plugin: &LoadedPlugin,
    caller: Caller<'_>,
    denials: &[Denial],
    subject: Option<&str>,
) {
    // Most calls have no denial: no record, no allocation.
    if denials.is_empty() {
        return;
    }
    record_denials(
        shared.sink.as_ref(),
        &plugin.info,
        denials,
        subject,
        &caller.during(),
    );
    if caller.denials_observed() {
        observe_denials(shared, &plugin.info, denials);
    }
}

/// Hands each denial to the observers of `permission_denied`.
fn observe_denials(
    shared: &Shared,
    plugin: &crate::plugin::PluginInfo,
    denials: &[crate::receipt::Denial],
) {
    for d in denials {
        shared
            .observers
            .emit(|| ObservationEvent::PermissionDenied {
                plugin: plugin.id.clone(),
                capability: d.capability.clone(),
                target: d.target.clone(),
            });
    }
}
