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
    /// Handlers of host-defined points (contract 0.6.0 and later).
    pub(crate) host_hooks: bool,
}

fn missing_export(point: HookPoint) -> wasmtime::Error {
    wasmtime::Error::msg(format!("the component has no export for {point}"))
}

/// One contract version's export caches: a struct of lookups and one of
/// loaded exports, with a field per hook point and `tools`, and for the
/// newest version the surfaces (provider, observer, service) too. Older
/// versions' surfaces are called by structure (`older_surface`): their
/// records are their own types, the same by structure as the newest's.
macro_rules! contract_exports {
    (newest, $v:ident, $contract:expr, [$(
        $(#[$doc:meta])*
        $event:ident = $variant:ident $name:literal since $since:tt, $wit:ident, $module:ident, block: $block:literal {
            $($fields:tt)*
        }
    )*]) => {
        contract_exports!(@module $v, $contract, [provider, observer, service, host_hooks], $($module = $variant),*);

        impl $v::Guests {
            async fn call_provider(
                &mut self,
                e: &$v::Exports,
                store: &mut Store<PluginState>,
                instance: &Instance,
                (name, request, sink): ProviderArgs<'_>,
            ) -> wasmtime::Result<Result<completions::Response, completions::ProviderError>> {
                surface_call!(e, self, store, instance, provider.call_complete(name, request, sink))
            }

            async fn call_observer(
                &mut self,
                e: &$v::Exports,
                store: &mut Store<PluginState>,
                instance: &Instance,
                batch: &observer::Batch,
            ) -> wasmtime::Result<Result<(), String>> {
                surface_call!(e, self, store, instance, observer.call_observe(batch))
            }

            async fn call_service(
                &mut self,
                e: &$v::Exports,
                store: &mut Store<PluginState>,
                instance: &Instance,
                call: &ServiceCall,
            ) -> wasmtime::Result<Result<Vec<service::Command>, String>> {
                match call {
                    ServiceCall::Start(info) => {
                        surface_call!(e, self, store, instance, service.call_start(info))
                    }
                    ServiceCall::Handle(name, event) => {
                        surface_call!(e, self, store, instance, service.call_handle(name, event))
                    }
                    ServiceCall::Stop(name) => {
                        let commands: wasmtime::Result<Vec<service::Command>> =
                            surface_call!(e, self, store, instance, service.call_stop(name));
                        commands.map(Ok)
                    }
                }
            }

            async fn call_host_hooks(
                &mut self,
                e: &$v::Exports,
                store: &mut Store<PluginState>,
                instance: &Instance,
                (point, event): (&str, &str),
            ) -> CallResult<String> {
                use crate::bindings::$v::exports::yoi::plugin::host_hooks as iface;
                let answer: Result<iface::Outcome, String> =
                    surface_call!(e, self, store, instance, host_hooks.call_handle(point, event))?;
                Ok(answer.map(host_outcome))
            }
        }
    };
    ($older:ident, $v:ident, $contract:expr, [$(
        $(#[$doc:meta])*
        $event:ident = $variant:ident $name:literal since $since:tt, $wit:ident, $module:ident, block: $block:literal {
            $($fields:tt)*
        }
    )*]) => {
        contract_exports!(@module $v, $contract, [], $($module = $variant),*);

        impl $v::Guests {
            async fn call_provider(
                &mut self,
                _: &$v::Exports,
                store: &mut Store<PluginState>,
                instance: &Instance,
                (name, request, sink): ProviderArgs<'_>,
            ) -> wasmtime::Result<Result<completions::Response, completions::ProviderError>> {
                let (answer,) = older_surface::<_, (Result<completions::Response, completions::ProviderError>,)>(
                    store, instance, $contract, ExportSurface::Provider, "complete", (name, request, sink),
                ).await?;
                Ok(answer)
            }

            async fn call_observer(
                &mut self,
                _: &$v::Exports,
                store: &mut Store<PluginState>,
                instance: &Instance,
                batch: &observer::Batch,
            ) -> wasmtime::Result<Result<(), String>> {
                let (answer,) = older_surface::<_, (Result<(), String>,)>(
                    store, instance, $contract, ExportSurface::Observer, "observe", (batch,),
                ).await?;
                Ok(answer)
            }

            async fn call_service(
                &mut self,
                _: &$v::Exports,
                store: &mut Store<PluginState>,
                instance: &Instance,
                call: &ServiceCall,
            ) -> wasmtime::Result<Result<Vec<service::Command>, String>> {
                let surface = ExportSurface::Service;
                match call {
                    ServiceCall::Start(info) => {
                        let (answer,) = older_surface::<_, (Result<Vec<service::Command>, String>,)>(
                            store, instance, $contract, surface, "start", (info,),
                        ).await?;
                        Ok(answer)
                    }
                    ServiceCall::Handle(name, event) => {
                        let (answer,) = older_surface::<_, (Result<Vec<service::Command>, String>,)>(
                            store, instance, $contract, surface, "handle", (name.as_str(), event),
                        ).await?;
                        Ok(answer)
                    }
                    ServiceCall::Stop(name) => {
                        let (commands,) = older_surface::<_, (Vec<service::Command>,)>(
                            store, instance, $contract, surface, "stop", (name.as_str(),),
                        ).await?;
                        Ok(Ok(commands))
                    }
                }
            }

            async fn call_host_hooks(
                &mut self,
                _: &$v::Exports,
                store: &mut Store<PluginState>,
                instance: &Instance,
                (point, event): (&str, &str),
            ) -> CallResult<String> {
                use crate::bindings::latest::exports::yoi::plugin::host_hooks as iface;
                let (answer,) = older_surface::<_, (Result<iface::Outcome, String>,)>(
                    store, instance, $contract, ExportSurface::HostHooks, "handle", (point, event),
                ).await?;
                Ok(answer.map(host_outcome))
            }
        }
    };
    (@module $v:ident, $contract:expr, [$($surface:ident),*], $($module:ident = $variant:ident),*) => {
        pub mod $v {
            use super::*;
            use crate::bindings::$v::exports::yoi::plugin as ex;

            #[derive(Default, Clone)]
            pub struct Exports {
                $( pub(super) $module: Option<ex::$module::GuestIndices>, )*
                pub(super) tools: Option<ex::tools::GuestIndices>,
                $( pub(super) $surface: Option<ex::$surface::GuestIndices>, )*
            }

            #[derive(Default)]
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
                            // `HookPoint` is not exhaustive outside its crate;
                            // every point of the table has its arm above.
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
                                    interface: $contract.interface(surface_named(stringify!($surface)).interface()),
                                    wanted: Wanted::Surface(surface_named(stringify!($surface))),
                                }
                            })?);
                        }
                    )*
                    surfaces.check_older(pre, $contract)?;
                    Ok(out)
                }
            }
        }
    };
}

/// A `host-hooks` answer as every hook's.
fn host_outcome(
    outcome: crate::bindings::latest::exports::yoi::plugin::host_hooks::Outcome,
) -> GuestOutcome<String> {
    use crate::bindings::latest::exports::yoi::plugin::host_hooks::Outcome;
    match outcome {
        Outcome::Continue => GuestOutcome::Continue,
        Outcome::Change(event) => GuestOutcome::Change(event),
        Outcome::Block(reason) => GuestOutcome::Block(reason),
    }
}

/// The arguments of a provider call.
type ProviderArgs<'a> = (
    &'a str,
    &'a completions::Request,
    Resource<crate::providerspec::Sink>,
);

/// Calls a surface export (provider, observer, service) of the newest
/// contract module, loading it on first use.
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

/// Calls a surface export of an older contract version by structure, with
/// the newest version's types: its own are the same records under another
/// name. Checked for the surface's presence at load (`Surfaces::check_older`)
/// and typed here, per call (older surfaces are rare; the newest's calls
/// are typed once per instance).
async fn older_surface<P, R>(
    store: &mut Store<PluginState>,
    instance: &Instance,
    contract: Contract,
    surface: ExportSurface,
    func: &str,
    params: P,
) -> wasmtime::Result<R>
where
    P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower + Send + Sync,
    R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift + Send + Sync + 'static,
{
    if !surface.in_contract(&contract.version()) {
        return Err(no_surface(surface.interface()));
    }
    let missing = || {
        wasmtime::format_err!(
            "the component exports no {} (`{func}`)",
            surface.interface()
        )
    };
    let iface = instance
        .get_export_index(&mut *store, None, &contract.interface(surface.interface()))
        .ok_or_else(missing)?;
    let index = instance
        .get_export_index(&mut *store, Some(&iface), func)
        .ok_or_else(missing)?;
    let typed = instance.get_typed_func::<P, R>(&mut *store, &index)?;
    typed.call_async(&mut *store, params).await
}

impl Surfaces {
    /// For a version older than the newest: each declared surface the
    /// version has is exported (its calls go by structure), and none it
    /// lacks is declared.
    fn check_older(
        self,
        pre: &InstancePre<PluginState>,
        contract: Contract,
    ) -> Result<(), MissingExport> {
        if Some(contract) == Contract::ALL.last().copied() {
            return Ok(());
        }
        for (declared, surface) in [
            (self.provider, ExportSurface::Provider),
            (self.observer, ExportSurface::Observer),
            (self.service, ExportSurface::Service),
            (self.host_hooks, ExportSurface::HostHooks),
        ] {
            let interface = contract.interface(surface.interface());
            let exported = pre.component().get_export_index(None, &interface).is_some();
            if declared && !(surface.in_contract(&contract.version()) && exported) {
                return Err(MissingExport {
                    interface,
                    wanted: Wanted::Surface(surface),
                });
            }
        }
        Ok(())
    }
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

/// `Exported` for one hook point, with an arm per contract version.
macro_rules! exported_point {
    ($event:ident, $wit:ident, $module:ident, [$(
        $variant:ident $v:ident ($major:literal, $minor:literal, $patch:literal) $path:literal
        host_apis($apis:ident) exports($($surface:ident),*) $doc:literal;
    )*]) => {
        impl Exported for crate::hookevents::$event {
            async fn call(
                store: &mut Store<PluginState>,
                instance: &Instance,
                guests: &mut Guests,
                event: &wit::$wit,
            ) -> CallResult<wit::$wit> {
                let point = <Self as Point>::POINT;
                match guests {
                    $( Guests::$variant(e, g) => {
                        hook_call!($v, $module, point, e, g, store, instance, (event))
                    } )*
                }
            }
        }
    };
}

/// Every contract module's export caches, and `Exported` for every point.
macro_rules! per_contract {
    ([$(
        $variant:ident $v:ident ($major:literal, $minor:literal, $patch:literal) $path:literal
        host_apis($apis:ident) exports($($surface:ident),*) $doc:literal;
    )*], $points:tt) => {
        $( contract_exports!($apis, $v, Contract::$variant, $points); )*
    };
}

macro_rules! per_point {
    ([$(
        $(#[$doc:meta])*
        $event:ident = $variant:ident $name:literal since $since:tt, $wit:ident, $module:ident, block: $block:literal {
            $($fields:tt)*
        }
    )*], $contracts:tt) => {
        $( exported_point!($event, $wit, $module, $contracts); )*
    };
}

/// The per-version enums and their calls, from the contract table.
macro_rules! define_exports {
    ($(
        $variant:ident $v:ident ($major:literal, $minor:literal, $patch:literal) $path:literal
        host_apis($apis:ident) exports($($surface:ident),*) $doc:literal;
    )*) => {
        /// The export lookups of one plugin, in its contract version.
        #[derive(Clone)]
        pub enum Exports {
            $( $variant(Arc<$v::Exports>), )*
        }

        /// The exports of one instance, loaded on first use, beside the
        /// lookups of the same contract version: one enum, so every call
        /// matches one version, and every match is generated from the
        /// contract table.
        pub enum Guests {
            $( $variant(Arc<$v::Exports>, $v::Guests), )*
        }

        impl Exports {
            /// Looks up the exports of the declared hook points (and tools)
            /// in a component built for `contract`.
            pub(crate) fn resolve(
                contract: Contract,
                pre: &InstancePre<PluginState>,
                points: &[HookPoint],
                tools: bool,
                surfaces: Surfaces,
            ) -> Result<Exports, MissingExport> {
                Ok(match contract {
                    $( Contract::$variant => Exports::$variant(Arc::new(
                        $v::Exports::resolve(pre, points, tools, surfaces)?,
                    )), )*
                })
            }

            /// Empty export caches for a new instance of this plugin.
            pub(crate) fn guests(&self) -> Guests {
                match self {
                    $( Exports::$variant(e) => {
                        Guests::$variant(Arc::clone(e), $v::Guests::default())
                    } )*
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
                    $( Guests::$variant(e, g) => tool_call!($v, e, g, store, instance, call), )*
                }
            }

            /// Calls the plugin's provider export (contract 0.4.0 and later).
            pub(crate) async fn call_provider(
                &mut self,
                store: &mut Store<PluginState>,
                instance: &Instance,
                args: ProviderArgs<'_>,
            ) -> wasmtime::Result<Result<completions::Response, completions::ProviderError>> {
                match self {
                    $( Guests::$variant(e, g) => g.call_provider(e, store, instance, args).await, )*
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
                    $( Guests::$variant(e, g) => g.call_observer(e, store, instance, batch).await, )*
                }
            }

            /// Calls the plugin's service export (contract 0.5.0 and later).
            pub(crate) async fn call_service(
                &mut self,
                store: &mut Store<PluginState>,
                instance: &Instance,
                call: &ServiceCall,
            ) -> wasmtime::Result<Result<Vec<service::Command>, String>> {
                match self {
                    $( Guests::$variant(e, g) => g.call_service(e, store, instance, call).await, )*
                }
            }

            /// Calls the plugin's `host-hooks` export (contract 0.6.0 and
            /// later) with an event of the host-defined point `point`, as
            /// JSON.
            pub(crate) async fn call_host_hooks(
                &mut self,
                store: &mut Store<PluginState>,
                instance: &Instance,
                args: (&str, &str),
            ) -> CallResult<String> {
                match self {
                    $( Guests::$variant(e, g) => g.call_host_hooks(e, store, instance, args).await, )*
                }
            }
        }
    };
}

/// The contract table as one token tree, for the hook table's expansion.
macro_rules! with_contracts {
    ($($rows:tt)*) => {
        yoi_manifest::foreach_hook_point!(with_points, [$($rows)*]);
    };
}

/// Both tables, each as one token tree for the other's expansion.
macro_rules! with_points {
    ($contracts:tt; $($points:tt)*) => {
        per_contract!($contracts, [$($points)*]);
        per_point!([$($points)*], $contracts);
    };
}

yoi_manifest::foreach_contract!(define_exports);
yoi_manifest::foreach_contract!(with_contracts);

/// A call into a service export.
pub(crate) enum ServiceCall {
    Start(service::StartInfo),
    Handle(String, service::Event),
    Stop(String),
}

fn no_surface(name: &str) -> wasmtime::Error {
    wasmtime::format_err!("the component's contract has no {name} export")
}

/// The surface a `contract_exports!` field stands for, by its table name.
fn surface_named(name: &str) -> ExportSurface {
    ExportSurface::ALL
        .into_iter()
        .find(|s| s.key() == name)
        .unwrap_or_else(|| unreachable!("`{name}` is a surface of the table"))
}
