//! A loaded plugin's exports, in the bindings of the contract version it was
//! built for: looked up once at load ([`Exports`]), loaded once per instance
//! ([`Guests`], kept with a warm instance), and the calls into them. This is
//! the only place that knows how a hook or tool export differs between
//! contract versions (each version's interfaces are its own).

use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};
use yoi_manifest::HookPoint;

use crate::bindings::Contract;
use crate::bindings::latest::yoi::plugin::types as wit;
use crate::events::{GuestOutcome, Point};
use crate::sandbox::PluginState;

type CallResult<W> = wasmtime::Result<Result<GuestOutcome<W>, String>>;

/// Why a declared hook or tool has no export to run.
pub(crate) struct MissingExport {
    /// The interface's full name, e.g. `yoi:plugin/tool-pre-exec@0.2.0`.
    pub(crate) interface: String,
    /// The point, or `None` for the tools interface.
    pub(crate) point: Option<HookPoint>,
}

fn missing_export(point: HookPoint) -> wasmtime::Error {
    wasmtime::Error::msg(format!("the component has no export for {point}"))
}

/// The per-version export caches: one struct of lookups and one of loaded
/// exports per contract module, with a field per hook point and `tools`.
macro_rules! contract_exports {
    ($v:ident, $contract:expr, $($module:ident = $variant:ident),*) => {
        pub mod $v {
            use super::*;
            use crate::bindings::$v::exports::yoi::plugin as ex;

            #[derive(Default, Clone)]
            pub struct Exports {
                $( pub(super) $module: Option<ex::$module::GuestIndices>, )*
                pub(super) tools: Option<ex::tools::GuestIndices>,
            }

            #[derive(Default)]
            pub struct Guests {
                $( pub(super) $module: Option<ex::$module::Guest>, )*
                pub(super) tools: Option<ex::tools::Guest>,
            }

            impl Exports {
                pub(super) fn resolve(
                    pre: &InstancePre<PluginState>,
                    points: &[HookPoint],
                    tools: bool,
                ) -> Result<Self, MissingExport> {
                    let mut out = Exports::default();
                    for point in points {
                        let missing = || MissingExport {
                            interface: $contract.interface(&point.wit_interface()),
                            point: Some(*point),
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
                                point: None,
                            }
                        })?);
                    }
                    Ok(out)
                }
            }
        }
    };
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
        exports: &'a Exports,
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
        contract_exports!(v0_1, Contract::V0_1, $($module = $variant),*);
        contract_exports!(v0_2, Contract::V0_2, $($module = $variant),*);
        contract_exports!(v0_3, Contract::V0_3, $($module = $variant),*);

        $(
            impl Exported for crate::events::$event {
                async fn call(
                    store: &mut Store<PluginState>,
                    instance: &Instance,
                    exports: &Exports,
                    guests: &mut Guests,
                    event: &wit::$wit,
                ) -> CallResult<wit::$wit> {
                    let point = <Self as Point>::POINT;
                    match (exports, guests) {
                        (Exports::V0_1(e), Guests::V0_1(g)) => {
                            hook_call!(v0_1, $module, point, e, g, store, instance, (event))
                        }
                        (Exports::V0_2(e), Guests::V0_2(g)) => {
                            hook_call!(v0_2, $module, point, e, g, store, instance, (event))
                        }
                        (Exports::V0_3(e), Guests::V0_3(g)) => {
                            hook_call!(v0_3, $module, point, e, g, store, instance, (event))
                        }
                        _ => Err(mixed_versions()),
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
    V0_1(v0_1::Exports),
    V0_2(v0_2::Exports),
    V0_3(v0_3::Exports),
}

/// The exports of one instance, loaded on first use.
pub enum Guests {
    V0_1(v0_1::Guests),
    V0_2(v0_2::Guests),
    V0_3(v0_3::Guests),
}

fn mixed_versions() -> wasmtime::Error {
    wasmtime::Error::msg("an instance's exports were looked up for another contract version")
}

impl Exports {
    /// Looks up the exports of the declared hook points (and tools) in a
    /// component built for `contract`.
    pub(crate) fn resolve(
        contract: Contract,
        pre: &InstancePre<PluginState>,
        points: &[HookPoint],
        tools: bool,
    ) -> Result<Exports, MissingExport> {
        Ok(match contract {
            Contract::V0_1 => Exports::V0_1(v0_1::Exports::resolve(pre, points, tools)?),
            Contract::V0_2 => Exports::V0_2(v0_2::Exports::resolve(pre, points, tools)?),
            Contract::V0_3 => Exports::V0_3(v0_3::Exports::resolve(pre, points, tools)?),
        })
    }

    /// Empty export caches for a new instance of this plugin.
    pub(crate) fn guests(&self) -> Guests {
        match self {
            Exports::V0_1(_) => Guests::V0_1(v0_1::Guests::default()),
            Exports::V0_2(_) => Guests::V0_2(v0_2::Guests::default()),
            Exports::V0_3(_) => Guests::V0_3(v0_3::Guests::default()),
        }
    }

    /// Calls the plugin's tools export.
    pub(crate) async fn call_tool(
        &self,
        store: &mut Store<PluginState>,
        instance: &Instance,
        guests: &mut Guests,
        call: &ToolInvocation,
    ) -> wasmtime::Result<Result<String, String>> {
        match (self, guests) {
            (Exports::V0_1(e), Guests::V0_1(g)) => tool_call!(v0_1, e, g, store, instance, call),
            (Exports::V0_2(e), Guests::V0_2(g)) => tool_call!(v0_2, e, g, store, instance, call),
            (Exports::V0_3(e), Guests::V0_3(g)) => tool_call!(v0_3, e, g, store, instance, call),
            _ => Err(mixed_versions()),
        }
    }
}
