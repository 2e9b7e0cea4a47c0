//! Write Yoi plugins in plain Rust.
//!
//! A plugin is a type that implements [`Plugin`] for the hook points it
//! handles, plus one [`register!`] line that names those points. The PDK turns
//! that into a WebAssembly component that exports exactly those hooks of the
//! contract named by [`CONTRACT`]; you never write ABI code.
//!
//! ```no_run
//! use yoi_pdk::prelude::*;
//!
//! struct NoShell;
//!
//! impl Plugin for NoShell {
//!     fn tool_pre_exec(call: ToolCall) -> HookResult<ToolCall> {
//!         if call.tool_name == "shell" {
//!             return Ok(Outcome::block("shell access is disabled"));
//!         }
//!         Ok(Outcome::Continue)
//!     }
//! }
//!
//! yoi_pdk::register!(NoShell => tool_pre_exec);
//! ```
//!
//! A tool is a typed function, registered the same way (see [`tool`]):
//!
//! ```no_run
//! use yoi_pdk::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! struct Input {
//!     city: String,
//! }
//!
//! fn forecast(input: Input) -> Result<String, Error> {
//!     let r = http::get(&format!("https://api.example.com/v1/forecast?city={}", input.city))?;
//!     Ok(r.text()?.to_owned())
//! }
//!
//! yoi_pdk::register!(tools: forecast);
//! ```
//!
//! Host APIs are plain functions: [`http`], [`fs`], [`secrets`], [`log`].
//! Each returns `Result<_, Error>`; a call the operator did not grant
//! returns [`Error::Denied`] with the command that would allow it.
//!
//! Build it with `cargo build --target wasm32-wasip2 --release`; the output
//! `.wasm` file is the component.
//!
//! The host may run each event in a fresh instance or reuse a warm one, so a
//! plugin must not rely on state kept between events: handlers are
//! associated functions, not methods.
#![deny(missing_docs)]

extern crate self as yoi_pdk;

pub mod config;
mod context;
mod error;
pub mod fs;
mod host_hook;
pub mod http;
pub mod log;
pub mod observer;
mod outcome;
mod payload;
pub mod provider;
pub mod secrets;
pub mod service;
pub mod tool;

pub use context::{HookContext, context};
pub use error::Error;
pub use host_hook::HostEvent;
#[doc(hidden)]
pub use host_hook::{__handle as __host_hook, HostAnswer};
pub use outcome::{HookResult, Outcome};

/// JSON support (`serde_json`), for reading and writing tool inputs.
pub use serde_json as json;

/// The hook points of the contract, derived from the WIT the PDK ships
/// (`build.rs` reads it): the [`Plugin`] trait, the payload types, the
/// bindings of each point and the names `register!` accepts.
macro_rules! contract {
    (
        version: $version:literal,
        path: $path:literal,
        contract: $contract:literal,
        base: $base_inline:literal, $base_world:literal,
        host_api: $api_inline:literal, $api_world:literal,
        tools: $tools_inline:literal, $tools_world:literal,
        provider: $provider_inline:literal, $provider_world:literal,
        observer: $observer_inline:literal, $observer_world:literal,
        service: $service_inline:literal, $service_world:literal,
        host_hooks: $host_hooks_inline:literal, $host_hooks_world:literal,
        types: $types:literal,
        log: $log:literal,
        https: $https:literal,
        hooks: [ $( $module:ident: $event:ident, $doc:literal, $inline:literal, $world:literal, $default:literal; )* ],
        events: [ $( $unique:ident ),* ],
    ) => {
        /// The `yoi:plugin` WIT contract this PDK builds plugins for. A
        /// plugin's `plugin.toml` names it: `contract = "yoi:plugin@<version>"`
        /// (`yoi plugin new` writes it).
        pub const CONTRACT: &str = $contract;

        pub use crate::__private::base::yoi::plugin::types::{$($unique,)* DeliveryMode};

        /// The names most plugins need: `use yoi_pdk::prelude::*;`.
        pub mod prelude {
            pub use crate::tool::Json;
            pub use crate::{$($unique,)* DeliveryMode, HookContext, HostEvent};
            pub use crate::{Error, HookResult, Outcome, Plugin};
            pub use crate::{config, context, fs, http, json, log, observer, provider, secrets, service};
        }

        /// The hook handlers a plugin can implement.
        ///
        /// Every method has a default that lets the event through unchanged, so a
        /// plugin implements only the points it cares about and lists them in
        /// [`register!`]. The method names are the hook points of `plugin.toml` with
        /// `.` written as `_` (`tool.pre_exec` → `tool_pre_exec`).
        ///
        /// Returning `Err` reports a failure of the handler: the host records it in
        /// the receipt and applies the hook's `fail` mode (`open` lets the chain go on,
        /// `closed` blocks the event).
        pub trait Plugin {
            $(
                #[doc = $doc]
                ///
                /// The default lets the event through unchanged.
                fn $module(event: $event) -> HookResult<$event> {
                    let _ = event;
                    Ok(Outcome::Continue)
                }
            )*

            /// A hook point the embedding host declares itself (contract
            /// 0.6.0), e.g. `build.pre_compile`: `event.point` names it. A
            /// change is the whole event, of which only the fields the host
            /// declared changeable may differ; a block counts where the host
            /// lets the point be blocked. Register it as `host_hooks`
            /// (see [`HostEvent`]).
            ///
            /// The default lets the event through unchanged.
            fn host_hook(event: HostEvent) -> HookResult<json::Value> {
                let _ = event;
                Ok(Outcome::Continue)
            }
        }

        #[doc(hidden)]
        pub mod __private {
            pub use wit_bindgen;

            /// The names `register!` accepts: one per hook point, and
            /// `host_hooks` for the points the host declares.
            #[allow(non_camel_case_types, missing_docs)]
            pub enum Hook {
                $( $module, )*
                host_hooks,
            }

            #[allow(missing_docs)]
            pub mod host_hooks {
                wit_bindgen::generate!({
                    path: $path,
                    inline: $host_hooks_inline,
                    world: $host_hooks_world,
                    runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
                    pub_export_macro: true,
                    export_macro_name: "export",
                    default_bindings_module: "yoi_pdk::__private::host_hooks",
                });
            }

            impl<P: crate::Plugin> host_hooks::exports::yoi::plugin::host_hooks::Guest for P {
                fn handle(
                    point: String,
                    event: String,
                ) -> Result<host_hooks::exports::yoi::plugin::host_hooks::Outcome, String> {
                    use host_hooks::exports::yoi::plugin::host_hooks::Outcome as O;
                    crate::__host_hook::<P>(point, event).map(|answer| match answer {
                        crate::HostAnswer::Continue => O::Continue,
                        crate::HostAnswer::Change(event) => O::Change(event),
                        crate::HostAnswer::Block(reason) => O::Block(reason),
                    })
                }
            }

            #[allow(missing_docs)]
            pub mod base {
                wit_bindgen::generate!({
                    path: $path,
                    inline: $base_inline,
                    world: $base_world,
                    runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
                    additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
                    generate_all,
                });
            }

            #[allow(missing_docs)]
            pub mod host_api {
                wit_bindgen::generate!({
                    path: $path,
                    inline: $api_inline,
                    world: $api_world,
                    with: {
                        $types: crate::__private::base::yoi::plugin::types,
                    },
                    generate_all,
                    runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
                    additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
                });
            }

            #[allow(missing_docs)]
            pub mod tools {
                wit_bindgen::generate!({
                    path: $path,
                    inline: $tools_inline,
                    world: $tools_world,
                    runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
                    pub_export_macro: true,
                    export_macro_name: "export",
                    default_bindings_module: "yoi_pdk::__private::tools",
                });
            }

            #[allow(missing_docs)]
            pub mod provider {
                wit_bindgen::generate!({
                    path: $path,
                    inline: $provider_inline,
                    world: $provider_world,
                    runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
                    additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
                    generate_all,
                    pub_export_macro: true,
                    export_macro_name: "export",
                    default_bindings_module: "yoi_pdk::__private::provider",
                });
            }

            #[allow(missing_docs)]
            pub mod observer {
                wit_bindgen::generate!({
                    path: $path,
                    inline: $observer_inline,
                    world: $observer_world,
                    runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
                    additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
                    pub_export_macro: true,
                    export_macro_name: "export",
                    default_bindings_module: "yoi_pdk::__private::observer",
                });
            }

            #[allow(missing_docs)]
            pub mod service {
                wit_bindgen::generate!({
                    path: $path,
                    inline: $service_inline,
                    world: $service_world,
                    with: {
                        $types: crate::__private::base::yoi::plugin::types,
                        $log: crate::__private::base::yoi::plugin::log,
                        $https: crate::__private::host_api::yoi::plugin::https,
                    },
                    runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
                    additional_derives: [PartialEq],
                    pub_export_macro: true,
                    export_macro_name: "export",
                    default_bindings_module: "yoi_pdk::__private::service",
                });
            }

            // One world per hook point, so a component exports only the
            // hooks its author registered. `with` reuses the shared types.
            $(
                #[allow(missing_docs)]
                pub mod $module {
                    wit_bindgen::generate!({
                        path: $path,
                        inline: $inline,
                        world: $world,
                        with: { $types: crate::__private::base::yoi::plugin::types },
                        runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
                        pub_export_macro: true,
                        export_macro_name: "export",
                        default_bindings_module: $default,
                    });
                }

                impl<P: crate::Plugin> $module::exports::yoi::plugin::$module::Guest for P {
                    fn handle(
                        event: crate::$event,
                    ) -> Result<$module::exports::yoi::plugin::$module::Outcome, String> {
                        use $module::exports::yoi::plugin::$module::Outcome as O;
                        P::$module(event)
                            .map(|outcome| outcome.into_wit(O::Continue, O::Change, O::Block))
                            .map_err(|e| e.to_string())
                    }
                }
            )*
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/contract.rs"));

/// Exports a [`Plugin`] type for the listed hook points, tool functions as
/// the plugin's tools, a [`provider::Provider`], an
/// [`observer::Observer`] and a [`service::Service`], in any combination
/// (separated by `;`, in this order).
///
/// ```ignore
/// yoi_pdk::register!(MyPlugin => tool_pre_exec, tool_post_exec);
/// yoi_pdk::register!(tools: forecast, alerts);
/// yoi_pdk::register!(MyPlugin => tool_pre_exec; tools: forecast);
/// yoi_pdk::register!(provider: OpenAi);
/// yoi_pdk::register!(MyPlugin => run_pre_prompt; observer: Meter);
/// yoi_pdk::register!(MyPlugin => response_post_deliver; service: Bridge);
/// yoi_pdk::register!(MyPlugin => host_hooks); // the host's own points
/// ```
///
/// List exactly what `plugin.toml` declares (`[[hooks]]`, `[[tools]]`,
/// `[[providers]]`, `[observer]`, `[[services]]`): the component exports only these, and
/// `yoi plugin check` compares the two. A tool's function name is its
/// `[[tools]] name`, so name tools with `_` rather than `-`. Use it once
/// per crate.
#[macro_export]
macro_rules! register {
    ($plugin:ident => $($hook:ident),+ $(,)? $(; $($rest:tt)*)?) => {
        $( $crate::__register_hook!($hook, $plugin); )+
        $crate::__register_rest!($($($rest)*)?);
    };
    ($plugin:ident) => {
        ::core::compile_error!(
            "yoi_pdk::register! needs the hook points to export, for example: \
             yoi_pdk::register!(MyPlugin => tool_pre_exec);"
        );
    };
    ($($rest:tt)*) => {
        $crate::__register_rest!($($rest)*);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __register_rest {
    () => {};
    (tools: $($tool:ident),+ $(,)? $(; $($rest:tt)*)?) => {
        $crate::__register_tools!($($tool),+);
        $crate::__register_rest!($($($rest)*)?);
    };
    (provider: $provider:ident $(; $($rest:tt)*)?) => {
        $crate::__private::provider::export!($provider with_types_in $crate::__private::provider);
        $crate::__register_rest!($($($rest)*)?);
    };
    (observer: $observer:ident $(; $($rest:tt)*)?) => {
        $crate::__private::observer::export!($observer with_types_in $crate::__private::observer);
        $crate::__register_rest!($($($rest)*)?);
    };
    (service: $service:ident $(; $($rest:tt)*)?) => {
        $crate::__private::service::export!($service with_types_in $crate::__private::service);
        $crate::__register_rest!($($($rest)*)?);
    };
    ($($other:tt)*) => {
        ::core::compile_error!(
            "yoi_pdk::register! takes `Plugin => hooks`, then `tools: f, g`, `provider: Type`, \
             `observer: Type` and `service: Type`, separated by `;`"
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __register_tools {
    ($($tool:ident),+) => {
        #[doc(hidden)]
        pub struct __YoiTools;

        impl $crate::__private::tools::exports::yoi::plugin::tools::Guest for __YoiTools {
            fn invoke(
                call: $crate::__private::tools::exports::yoi::plugin::tools::Invocation,
            ) -> ::core::result::Result<::std::string::String, ::std::string::String> {
                match call.name.as_str() {
                    $( ::core::stringify!($tool) => $crate::tool::__run(::core::stringify!($tool), $tool, &call.input), )+
                    other => ::core::result::Result::Err(::std::format!(
                        "this plugin has no tool `{other}`; its tools are: {}",
                        [$( ::core::stringify!($tool) ),+].join(", ")
                    )),
                }
            }
        }

        $crate::__private::tools::export!(__YoiTools with_types_in $crate::__private::tools);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __register_hook {
    ($hook:ident, $plugin:ident) => {
        // An unknown name fails here first, with the closest hook point.
        const _: $crate::__private::Hook = $crate::__private::Hook::$hook;
        $crate::__private::$hook::export!($plugin with_types_in $crate::__private::$hook);
    };
}
