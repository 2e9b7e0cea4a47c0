//! A loaded plugin's exports, in the bindings of the contract version it was
//! built for: looked up once at load ([`Exports`]), loaded once per instance
//! ([`Guests`], kept with a warm instance), and the calls into them. This is
//! the only place that knows how a hook or tool export differs between
//! contract versions (each version's interfaces are its own).

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre, Resource};
use yoi_manifest::{ExportSurface, HookPoint};

use crate::bindings::Contract;
use crate::bindings::latest::exports::yoi::plugin::{observer, service};
use crate::bindings::latest::yoi::plugin::completions;
use crate::bindings::latest::yoi::plugin::types as wit;
use crate::hookevents::{GuestOutcome, Point};
use crate::sandbox::PluginState;

type CallResult<W> = wasmtime::Result<Result<GuestOutcome<W>, String>>;

/// What a manifest declares that needs an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wanted {
    Hook(HookPoint),
    Tools,
    Surface(ExportSurface),
}

/// Why a declared hook, tool, provider or observer has no export to run.
pub(crate) struct MissingExport {
    /// The interface's full name, e.g. `yoi:plugin/tool-pre-exec@0.2.0`.
    pub(crate) interface: String,
    /// What was declared.
    pub(crate) wanted: Wanted,
}

/// The exports beyond hooks and tools a manifest declares (contract 0.4.0
/// and later).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Surfaces {
    pub(crate) provider: bool,
    pub(crate) observer: bool,
    pub(crate) service: bool,
}

fn missing_export(point: HookPoint) -> wasmtime::Error {
    wasmtime::Error::msg(format!("the component has no export for {point}"))
}

/// The per-version export caches: one struct of lookups and one of loaded
/// exports per contract module, with a field per hook point and `tools`.
macro_rules! contract_exports {
    ($v:ident, $contract:expr, [$($surface:ident),*], $($module:ident = $variant:ident),*) => {
        pub mod $v {
            use super::*;
            use crate::bindings::$v::exports::yoi::plugin as ex;

            #[derive(Default, Clone)]
            pub struct Exports {
                $( pub(super) $module: Option<ex::$module::GuestIndices>, )*
                pub(super) tools: Option<ex::tools::GuestIndices>,
                $( pub(super) $surface: Option<ex::$surface::GuestIndices>, )*
            }

            // 0.4.0's observer is called by structure, not through its
            // loaded export (`call_observer`).
            #[derive(Default)]
            #[allow(dead_code)]
            pub struct Guests {
                $( pub(super) $module: Option<ex::$module::Guest>, )*
                pub(super) tools: Option<ex::tools::Guest>,
                $( pub(super) $surface: Option<ex::$surface::Guest>, )*
            }

            impl Exports {
                pub(super) fn resolve(
                    pre: &InstancePre<PluginState>,
                    points: &[HookPoint],
                    tools: bool,
                    surfaces: Surfaces,
                ) -> Result<Self, MissingExport> {
                    let mut out = Exports::default();
                    for point in points {
                        let missing = || MissingExport {
                            interface: $contract.interface(&point.wit_interface()),
                            wanted: Wanted::Hook(*point),
                        };
                        match point {
                            $( HookPoint::$variant => {
                                out.$module = Some(
                                    ex::$module::GuestIndices::new(pre).map_err(|_| missing())?,
                                );
                            } )*
                            _ => return Err(missing()),
                        }
                    }
                    if tools {
                        out.tools = Some(ex::tools::GuestIndices::new(pre).map_err(|_| {
                            MissingExport {
                                interface: $contract.interface("tools"),
                                wanted: Wanted::Tools,
                            }
                        })?);
                    }
                    $(
                        if surfaces.$surface {
                            out.$surface = Some(ex::$surface::GuestIndices::new(pre).map_err(|_| {
                                MissingExport {
                                    interface: $contract.interface(stringify!($surface)),
                                    wanted: Wanted::Surface(surface_named(stringify!($surface))),
                                }
                            })?);
                        }
                    )*
                    // Older contracts have no such exports at all.
                    for (declared, name, wanted) in [
                        (surfaces.provider, "provider", Wanted::Surface(ExportSurface::Provider)),
                        (surfaces.observer, "observer", Wanted::Surface(ExportSurface::Observer)),
                        (surfaces.service, "service", Wanted::Surface(ExportSurface::Service)),
                    ] {
                        if declared && ![$(stringify!($surface)),*].contains(&name) {
                            return Err(MissingExport { interface: $contract.interface(name), wanted });
                        }
                    }
                    Ok(out)
                }
            }
        }
    };
}

/// Calls a surface export (provider, observer, service) of one contract
/// module, loading it on first use.
macro_rules! surface_call {
    ($e:ident, $g:ident, $store:ident, $instance:ident, $surface:ident.$method:ident($($arg:expr),*)) => {{
        let guest = match &mut $g.$surface {
            Some(guest) => guest,
            slot => {
                let indices = $e.$surface.as_ref().ok_or_else(|| {
                    wasmtime::format_err!(concat!("the component exports no ", stringify!($surface)))
                })?;
                slot.insert(indices.load(&mut *$store, $instance)?)
            }
        };
        guest.$method(&mut *$store, $($arg),*).await
    }};
}

/// Calls a hook export of one contract module, loading it on first use.
macro_rules! hook_call {
    ($v:ident, $module:ident, $point:expr, $e:ident, $g:ident, $store:ident, $instance:ident, ($($arg:expr),*)) => {{
        use crate::bindings::$v::exports::yoi::plugin::$module as iface;
        let guest = match &mut $g.$module {
            Some(guest) => guest,
            slot => {
                let indices = $e.$module.as_ref().ok_or_else(|| missing_export($point))?;
                slot.insert(indices.load(&mut *$store, $instance)?)
            }
        };
        let answer = guest.call_handle(&mut *$store, $($arg),*).await?;
        Ok(answer.map(|outcome| match outcome {
            iface::Outcome::Continue => GuestOutcome::Continue,
            iface::Outcome::Change(e) => GuestOutcome::Change(e),
            iface::Outcome::Block(r) => GuestOutcome::Block(r),
        }))
    }};
}

/// Calls the tools export of one contract module.
macro_rules! tool_call {
    ($v:ident, $e:ident, $g:ident, $store:ident, $instance:ident, $call:ident) => {{
        use crate::bindings::$v::exports::yoi::plugin::tools as iface;
        let guest = match &mut $g.tools {
            Some(guest) => guest,
            slot => {
                let indices = $e
                    .tools
                    .as_ref()
                    .ok_or_else(|| wasmtime::format_err!("the component exports no tools"))?;
                slot.insert(indices.load(&mut *$store, $instance)?)
            }
        };
        let invocation = iface::Invocation {
            name: $call.name.clone(),
            input: $call.input.clone(),
            call_id: $call.call_id.clone(),
        };
        guest.call_invoke(&mut *$store, &invocation).await
    }};
}

/// A tool call as every contract version spells it.
#[derive(Debug, Clone)]
pub(crate) struct ToolInvocation {
    pub(crate) name: String,
    pub(crate) input: String,
    pub(crate) call_id: String,
}

/// The hook export of one point, in every contract version: implemented
/// for each event type by the table in `points`. Public in name only, like
/// [`Point`].
pub trait Exported: Point {
    fn call<'a>(
        store: &'a mut Store<PluginState>,
        instance: &'a Instance,
        guests: &'a mut Guests,
        event: &'a Self::Wit,
    ) -> impl Future<Output = CallResult<Self::Wit>> + Send + 'a;
}

macro_rules! define_exports {
    ($(
        $(#[$doc:meta])*
        $event:ident = $variant:ident, $wit:ident, $module:ident, block: $block:literal {
            $($fields:tt)*
        }
    )*) => {
        contract_exports!(v0_1, Contract::V0_1, [], $($module = $variant),*);
        contract_exports!(v0_2, Contract::V0_2, [], $($module = $variant),*);
        contract_exports!(v0_3, Contract::V0_3, [], $($module = $variant),*);
        contract_exports!(v0_4, Contract::V0_4, [provider, observer], $($module = $variant),*);
        contract_exports!(v0_5, Contract::V0_5, [provider, observer, service], $($module = $variant),*);

        $(
            impl Exported for crate::hookevents::$event {
                async fn call(
                    store: &mut Store<PluginState>,
                    instance: &Instance,
                    guests: &mut Guests,
                    event: &wit::$wit,
                ) -> CallResult<wit::$wit> {
                    let point = <Self as Point>::POINT;
                    match guests {
                        Guests::V0_1(e, g) => {
                            hook_call!(v0_1, $module, point, e, g, store, instance, (event))
                        }
                        Guests::V0_2(e, g) => {
                            hook_call!(v0_2, $module, point, e, g, store, instance, (event))
                        }
                        Guests::V0_3(e, g) => {
                            hook_call!(v0_3, $module, point, e, g, store, instance, (event))
                        }
                        Guests::V0_4(e, g) => {
                            hook_call!(v0_4, $module, point, e, g, store, instance, (event))
                        }
                        Guests::V0_5(e, g) => {
                            hook_call!(v0_5, $module, point, e, g, store, instance, (event))
                        }
                    }
                }
            }
        )*
    };
}

foreach_hook_point!(define_exports);

/// The export lookups of one plugin, in its contract version.
#[derive(Clone)]
pub enum Exports {
    V0_1(Arc<v0_1::Exports>),
    V0_2(Arc<v0_2::Exports>),
    V0_3(Arc<v0_3::Exports>),
    V0_4(Arc<v0_4::Exports>),
    V0_5(Arc<v0_5::Exports>),
}

/// The exports of one instance, loaded on first use, beside the lookups
/// of the same contract version: one enum, so every call matches one
/// version and the compiler checks that every match has every version.
pub enum Guests {
    V0_1(Arc<v0_1::Exports>, v0_1::Guests),
    V0_2(Arc<v0_2::Exports>, v0_2::Guests),
    V0_3(Arc<v0_3::Exports>, v0_3::Guests),
    V0_4(Arc<v0_4::Exports>, v0_4::Guests),
    V0_5(Arc<v0_5::Exports>, v0_5::Guests),
}

impl Exports {
    /// Looks up the exports of the declared hook points (and tools) in a
    /// component built for `contract`.
    pub(crate) fn resolve(
        contract: Contract,
        pre: &InstancePre<PluginState>,
        points: &[HookPoint],
        tools: bool,
        surfaces: Surfaces,
    ) -> Result<Exports, MissingExport> {
        let (p, t, s) = (points, tools, surfaces);
        Ok(match contract {
            Contract::V0_1 => Exports::V0_1(Arc::new(v0_1::Exports::resolve(pre, p, t, s)?)),
            Contract::V0_2 => Exports::V0_2(Arc::new(v0_2::Exports::resolve(pre, p, t, s)?)),
            Contract::V0_3 => Exports::V0_3(Arc::new(v0_3::Exports::resolve(pre, p, t, s)?)),
            Contract::V0_4 => Exports::V0_4(Arc::new(v0_4::Exports::resolve(pre, p, t, s)?)),
            Contract::V0_5 => Exports::V0_5(Arc::new(v0_5::Exports::resolve(pre, p, t, s)?)),
        })
    }

    /// Empty export caches for a new instance of this plugin.
    pub(crate) fn guests(&self) -> Guests {
        match self {
            Exports::V0_1(e) => Guests::V0_1(Arc::clone(e), v0_1::Guests::default()),
            Exports::V0_2(e) => Guests::V0_2(Arc::clone(e), v0_2::Guests::default()),
            Exports::V0_3(e) => Guests::V0_3(Arc::clone(e), v0_3::Guests::default()),
            Exports::V0_4(e) => Guests::V0_4(Arc::clone(e), v0_4::Guests::default()),
            Exports::V0_5(e) => Guests::V0_5(Arc::clone(e), v0_5::Guests::default()),
        }
    }
}

impl Guests {
    /// Calls the plugin's tools export.
    pub(crate) async fn call_tool(
        &mut self,
        store: &mut Store<PluginState>,
        instance: &Instance,
        call: &ToolInvocation,
    ) -> wasmtime::Result<Result<String, String>> {
        match self {
            Guests::V0_1(e, g) => tool_call!(v0_1, e, g, store, instance, call),
            Guests::V0_2(e, g) => tool_call!(v0_2, e, g, store, instance, call),
            Guests::V0_3(e, g) => tool_call!(v0_3, e, g, store, instance, call),
            Guests::V0_4(e, g) => tool_call!(v0_4, e, g, store, instance, call),
            Guests::V0_5(e, g) => tool_call!(v0_5, e, g, store, instance, call),
        }
    }

    /// Calls the plugin's provider export (contract 0.4.0 and later).
    pub(crate) async fn call_provider(
        &mut self,
        store: &mut Store<PluginState>,
        instance: &Instance,
        (name, request, sink): (
            &str,
            &completions::Request,
            Resource<crate::providerspec::Sink>,
        ),
    ) -> wasmtime::Result<Result<completions::Response, completions::ProviderError>> {
        match self {
            Guests::V0_1(..) | Guests::V0_2(..) | Guests::V0_3(..) => Err(no_surface("provider")),
            Guests::V0_4(e, g) => {
                surface_call!(
                    e,
                    g,
                    store,
                    instance,
                    provider.call_complete(name, request, sink)
                )
            }
            Guests::V0_5(e, g) => {
                surface_call!(
                    e,
                    g,
                    store,
                    instance,
                    provider.call_complete(name, request, sink)
                )
            }
        }
    }

    /// Calls the plugin's observer export (contract 0.4.0 and later).
    pub(crate) async fn call_observer(
        &mut self,
        store: &mut Store<PluginState>,
        instance: &Instance,
        batch: &observer::Batch,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Guests::V0_1(..) | Guests::V0_2(..) | Guests::V0_3(..) => Err(no_surface("observer")),
            // 0.4.0's observer records are its own types, the same by
            // structure: the export is called with the newest ones.
            Guests::V0_4(..) => {
                let missing = || wasmtime::format_err!("the component exports no observer");
                let iface = instance
                    .get_export_index(&mut *store, None, &Contract::V0_4.interface("observer"))
                    .ok_or_else(missing)?;
                let observe = instance
                    .get_export_index(&mut *store, Some(&iface), "observe")
                    .ok_or_else(missing)?;
                let func = instance.get_typed_func::<(&observer::Batch,), (Result<(), String>,)>(
                    &mut *store,
                    &observe,
                )?;
                let (answer,) = func.call_async(&mut *store, (batch,)).await?;
                Ok(answer)
            }
            Guests::V0_5(e, g) => {
                surface_call!(e, g, store, instance, observer.call_observe(batch))
            }
        }
    }

    /// Calls the plugin's service export (contract 0.5.0 and later).
    pub(crate) async fn call_service(
        &mut self,
        store: &mut Store<PluginState>,
        instance: &Instance,
        call: &ServiceCall,
    ) -> wasmtime::Result<Result<Vec<service::Command>, String>> {
        let (e, g) = match self {
            Guests::V0_1(..) | Guests::V0_2(..) | Guests::V0_3(..) | Guests::V0_4(..) => {
                return Err(no_surface("service"));
            }
            Guests::V0_5(e, g) => (e, g),
        };
        match call {
            ServiceCall::Start(info) => {
                surface_call!(e, g, store, instance, service.call_start(info))
            }
            ServiceCall::Handle(name, event) => {
                surface_call!(e, g, store, instance, service.call_handle(name, event))
            }
            ServiceCall::Stop(name) => {
                let commands: wasmtime::Result<Vec<service::Command>> =
                    surface_call!(e, g, store, instance, service.call_stop(name));
                commands.map(Ok)
            }
        }
    }
}

/// A call into a service export.
pub(crate) enum ServiceCall {
    Start(service::StartInfo),
    Handle(String, service::Event),
    Stop(String),
}

fn no_surface(name: &str) -> wasmtime::Error {
    wasmtime::format_err!("the component's contract has no {name} export")
}

/// The surface a `contract_exports!` field stands for.
fn surface_named(name: &str) -> ExportSurface {
    [
        ExportSurface::Provider,
        ExportSurface::Observer,
        ExportSurface::Service,
    ]
    .into_iter()
    .find(|s| s.interface() == name)
    .unwrap_or_else(|| unreachable!("`{name}` is a surface of the table"))
}
