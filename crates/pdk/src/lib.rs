//! Write Yoi plugins in plain Rust.
//!
//! A plugin is a type that implements [`Plugin`] for the hook points it
//! handles, plus one [`register!`] line that names those points. The PDK turns
//! that into a WebAssembly component that exports exactly those hooks of the
//! `yoi:plugin@0.1.0` contract; you never write ABI code.
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
//! Build it with `cargo build --target wasm32-wasip2 --release`; the output
//! `.wasm` file is the component.
//!
//! Each event runs in a fresh instance, so a plugin keeps no state between
//! events: handlers are associated functions, not methods.
#![deny(missing_docs)]

extern crate self as yoi_pdk;

mod error;
pub mod log;
mod outcome;
mod payload;

pub use error::Error;
pub use outcome::{HookResult, Outcome};
pub use payload::{ToolCall, ToolResult};

/// JSON support (`serde_json`), for reading and writing tool inputs.
pub use serde_json as json;

/// The version of the `yoi:plugin` WIT contract this PDK builds against.
/// A plugin's `plugin.toml` names it as `contract = "yoi:plugin@0.1.0"`.
pub const CONTRACT: &str = "yoi:plugin@0.1.0";

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
    /// `tool.pre_exec`: before a tool runs. May change `input` or block the call.
    fn tool_pre_exec(call: ToolCall) -> HookResult<ToolCall> {
        let _ = call;
        Ok(Outcome::Continue)
    }

    /// `tool.post_exec`: after a tool ran. May change `output`; may not block.
    fn tool_post_exec(result: ToolResult) -> HookResult<ToolResult> {
        let _ = result;
        Ok(Outcome::Continue)
    }
}

/// The names most plugins need: `use yoi_pdk::prelude::*;`.
pub mod prelude {
    pub use crate::{Error, HookResult, Outcome, Plugin, ToolCall, ToolResult};
    pub use crate::{json, log};
}

/// Exports a [`Plugin`] type for the listed hook points.
///
/// ```ignore
/// yoi_pdk::register!(MyPlugin => tool_pre_exec, tool_post_exec);
/// ```
///
/// List exactly the hooks declared in `plugin.toml`: the component exports
/// only these, and `yoi plugin check` compares the two. Use it once per crate.
#[macro_export]
macro_rules! register {
    ($plugin:ident => $($hook:ident),+ $(,)?) => {
        $( $crate::__register_hook!($hook, $plugin); )+
    };
    ($plugin:ident) => {
        ::core::compile_error!(
            "yoi_pdk::register! needs the hook points to export, for example: \
             yoi_pdk::register!(MyPlugin => tool_pre_exec);"
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __register_hook {
    (tool_pre_exec, $plugin:ident) => {
        $crate::__private::tool_pre_exec::export!($plugin with_types_in $crate::__private::tool_pre_exec);
    };
    (tool_post_exec, $plugin:ident) => {
        $crate::__private::tool_post_exec::export!($plugin with_types_in $crate::__private::tool_post_exec);
    };
    ($other:ident, $plugin:ident) => {
        ::core::compile_error!(::core::concat!(
            "yoi_pdk::register!: `", ::core::stringify!($other),
            "` is not a hook point of yoi:plugin@0.1.0; expected one of: tool_pre_exec, tool_post_exec"
        ));
    };
}

/// Generated bindings. Not part of the public API: they change with the
/// contract, and plugins reach them only through [`register!`].
#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    /// Shared types and host imports (`log`).
    #[allow(missing_docs)]
    pub mod base {
        wit_bindgen::generate!({
            path: "../../wit/0.1.0",
            inline: "package yoi:pdk@0.1.0;
                     world base {
                         import yoi:plugin/types@0.1.0;
                         import yoi:plugin/log@0.1.0;
                     }",
            world: "yoi:pdk/base@0.1.0",
            runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
            additional_derives: [PartialEq, Eq],
            generate_all,
        });
    }

    // One world per hook point, so a component exports only the hooks its
    // author registered. `with` reuses the shared types from `base`.
    macro_rules! hook_bindings {
        ($module:ident, $inline:literal, $world:literal, $default:literal) => {
            #[allow(missing_docs)]
            pub mod $module {
                wit_bindgen::generate!({
                    path: "../../wit/0.1.0",
                    inline: $inline,
                    world: $world,
                    with: { "yoi:plugin/types@0.1.0": crate::__private::base::yoi::plugin::types },
                    runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
                    pub_export_macro: true,
                    export_macro_name: "export",
                    default_bindings_module: $default,
                });
            }
        };
    }

    hook_bindings!(
        tool_pre_exec,
        "package yoi:pdk@0.1.0; world tool-pre-exec { export yoi:plugin/tool-pre-exec@0.1.0; }",
        "yoi:pdk/tool-pre-exec@0.1.0",
        "yoi_pdk::__private::tool_pre_exec"
    );
    hook_bindings!(
        tool_post_exec,
        "package yoi:pdk@0.1.0; world tool-post-exec { export yoi:plugin/tool-post-exec@0.1.0; }",
        "yoi:pdk/tool-post-exec@0.1.0",
        "yoi_pdk::__private::tool_post_exec"
    );

    use crate::{Plugin, ToolCall, ToolResult};
    use tool_post_exec::exports::yoi::plugin::tool_post_exec as post;
    use tool_pre_exec::exports::yoi::plugin::tool_pre_exec as pre;

    /// Adapts a [`Plugin`] method to a hook interface's generated `Guest` trait.
    macro_rules! guest_for_plugin {
        ($iface:ident, $method:ident, $event:ty) => {
            impl<P: Plugin> $iface::Guest for P {
                fn handle(event: $event) -> Result<$iface::Outcome, String> {
                    P::$method(event)
                        .map(|outcome| {
                            outcome.into_wit(
                                $iface::Outcome::Continue,
                                $iface::Outcome::Change,
                                $iface::Outcome::Block,
                            )
                        })
                        .map_err(|e| e.to_string())
                }
            }
        };
    }

    guest_for_plugin!(pre, tool_pre_exec, ToolCall);
    guest_for_plugin!(post, tool_post_exec, ToolResult);
}
