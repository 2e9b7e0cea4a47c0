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

mod error;
pub mod fs;
pub mod http;
pub mod log;
mod outcome;
mod payload;
pub mod secrets;
pub mod tool;

pub use error::Error;
pub use outcome::{HookResult, Outcome};
pub use payload::{
    Compacted, Compaction, CreatedWorkItem, Delivered, Delivery, DeliveryMode, HostInfo, ModelCall,
    ModelResponse, NewWorkItem, PersistResult, Prompt, ToolCall, ToolResult,
};

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
    /// `work_item.pre_create`: before a work item is created. May change `title`, `payload`, `session_key`; may block (the item is not created).
    fn work_item_pre_create(event: NewWorkItem) -> HookResult<NewWorkItem> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `work_item.post_create`: after a work item was created. Read-only: may not change or block.
    fn work_item_post_create(event: CreatedWorkItem) -> HookResult<CreatedWorkItem> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `run.pre_prompt`: before an agent run's first model call. May change `system_prompt` and `user_message`; may not block.
    fn run_pre_prompt(event: Prompt) -> HookResult<Prompt> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `model.pre_call`: before a model call. May change `model`, `temperature`, `max_tokens`; may block (the call is skipped and the agent loop ends).
    fn model_pre_call(event: ModelCall) -> HookResult<ModelCall> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `model.post_call`: after a model call. Read-only.
    fn model_post_call(event: ModelResponse) -> HookResult<ModelResponse> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `tool.pre_exec`: before a tool runs. May change `input`; may block the call (the model is told which plugin blocked it and why).
    fn tool_pre_exec(event: ToolCall) -> HookResult<ToolCall> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `tool.post_exec`: after a tool ran. May change `output`; may not block.
    fn tool_post_exec(event: ToolResult) -> HookResult<ToolResult> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `tool.result_persist`: before a tool result is stored in the history. May change `result`; may not block.
    fn tool_result_persist(event: PersistResult) -> HookResult<PersistResult> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `response.pre_deliver`: before a response is delivered. May change `content`; may block (delivery is suppressed).
    fn response_pre_deliver(event: Delivery) -> HookResult<Delivery> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `response.post_deliver`: after a response was delivered (or failed). Read-only.
    fn response_post_deliver(event: Delivered) -> HookResult<Delivered> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `context.pre_compact`: before the conversation is compacted. Read-only.
    fn context_pre_compact(event: Compaction) -> HookResult<Compaction> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `context.post_compact`: after the conversation was compacted. May change `summary`; may not block.
    fn context_post_compact(event: Compacted) -> HookResult<Compacted> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `host.start`: once when the host starts. Read-only.
    fn host_start(event: HostInfo) -> HookResult<HostInfo> {
        let _ = event;
        Ok(Outcome::Continue)
    }

    /// `host.stop`: once when the host stops. Read-only.
    fn host_stop(event: HostInfo) -> HookResult<HostInfo> {
        let _ = event;
        Ok(Outcome::Continue)
    }
}

/// The names most plugins need: `use yoi_pdk::prelude::*;`.
pub mod prelude {
    pub use crate::tool::Json;
    pub use crate::{
        Compacted, Compaction, CreatedWorkItem, Delivered, Delivery, DeliveryMode, HostInfo,
        ModelCall, ModelResponse, NewWorkItem, PersistResult, Prompt, ToolCall, ToolResult,
    };
    pub use crate::{Error, HookResult, Outcome, Plugin};
    pub use crate::{fs, http, json, log, secrets};
}

/// Exports a [`Plugin`] type for the listed hook points, and tool
/// functions as the plugin's tools.
///
/// ```ignore
/// yoi_pdk::register!(MyPlugin => tool_pre_exec, tool_post_exec);
/// yoi_pdk::register!(tools: forecast, alerts);
/// yoi_pdk::register!(MyPlugin => tool_pre_exec; tools: forecast);
/// ```
///
/// List exactly the hooks and tools declared in `plugin.toml`: the
/// component exports only these, and `yoi plugin check` compares the two. A
/// tool's function name is its `[[tools]] name`, so name tools with `_`
/// rather than `-`. Use it once per crate.
#[macro_export]
macro_rules! register {
    (tools: $($tool:ident),+ $(,)?) => {
        $crate::__register_tools!($($tool),+);
    };
    ($plugin:ident => $($hook:ident),+ ; tools: $($tool:ident),+ $(,)?) => {
        $( $crate::__register_hook!($hook, $plugin); )+
        $crate::__register_tools!($($tool),+);
    };
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
    (work_item_pre_create, $plugin:ident) => {
        $crate::__private::work_item_pre_create::export!($plugin with_types_in $crate::__private::work_item_pre_create);
    };
    (work_item_post_create, $plugin:ident) => {
        $crate::__private::work_item_post_create::export!($plugin with_types_in $crate::__private::work_item_post_create);
    };
    (run_pre_prompt, $plugin:ident) => {
        $crate::__private::run_pre_prompt::export!($plugin with_types_in $crate::__private::run_pre_prompt);
    };
    (model_pre_call, $plugin:ident) => {
        $crate::__private::model_pre_call::export!($plugin with_types_in $crate::__private::model_pre_call);
    };
    (model_post_call, $plugin:ident) => {
        $crate::__private::model_post_call::export!($plugin with_types_in $crate::__private::model_post_call);
    };
    (tool_pre_exec, $plugin:ident) => {
        $crate::__private::tool_pre_exec::export!($plugin with_types_in $crate::__private::tool_pre_exec);
    };
    (tool_post_exec, $plugin:ident) => {
        $crate::__private::tool_post_exec::export!($plugin with_types_in $crate::__private::tool_post_exec);
    };
    (tool_result_persist, $plugin:ident) => {
        $crate::__private::tool_result_persist::export!($plugin with_types_in $crate::__private::tool_result_persist);
    };
    (response_pre_deliver, $plugin:ident) => {
        $crate::__private::response_pre_deliver::export!($plugin with_types_in $crate::__private::response_pre_deliver);
    };
    (response_post_deliver, $plugin:ident) => {
        $crate::__private::response_post_deliver::export!($plugin with_types_in $crate::__private::response_post_deliver);
    };
    (context_pre_compact, $plugin:ident) => {
        $crate::__private::context_pre_compact::export!($plugin with_types_in $crate::__private::context_pre_compact);
    };
    (context_post_compact, $plugin:ident) => {
        $crate::__private::context_post_compact::export!($plugin with_types_in $crate::__private::context_post_compact);
    };
    (host_start, $plugin:ident) => {
        $crate::__private::host_start::export!($plugin with_types_in $crate::__private::host_start);
    };
    (host_stop, $plugin:ident) => {
        $crate::__private::host_stop::export!($plugin with_types_in $crate::__private::host_stop);
    };
    ($other:ident, $plugin:ident) => {
        ::core::compile_error!(::core::concat!(
            "yoi_pdk::register!: `", ::core::stringify!($other),
            "` is not a hook point of yoi:plugin@0.1.0; expected one of: work_item_pre_create, work_item_post_create, run_pre_prompt, model_pre_call, model_post_call, tool_pre_exec, tool_post_exec, tool_result_persist, response_pre_deliver, response_post_deliver, context_pre_compact, context_post_compact, host_start, host_stop"
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
            additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
            generate_all,
        });
    }

    /// The grant-gated host APIs (`https`, `fs`, `secrets`). A component
    /// imports only those its code calls.
    #[allow(missing_docs)]
    pub mod host_api {
        wit_bindgen::generate!({
            path: "../../wit/0.1.0",
            inline: "package yoi:pdk@0.1.0;
                     world host-api {
                         import yoi:plugin/https@0.1.0;
                         import yoi:plugin/fs@0.1.0;
                         import yoi:plugin/secrets@0.1.0;
                     }",
            world: "yoi:pdk/host-api@0.1.0",
            with: {
                "yoi:plugin/types@0.1.0": crate::__private::base::yoi::plugin::types,
                "yoi:plugin/https@0.1.0": generate,
                "yoi:plugin/fs@0.1.0": generate,
                "yoi:plugin/secrets@0.1.0": generate,
            },
            runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
            additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
        });
    }

    /// The `tools` export.
    #[allow(missing_docs)]
    pub mod tools {
        wit_bindgen::generate!({
            path: "../../wit/0.1.0",
            inline: "package yoi:pdk@0.1.0; world tools { export yoi:plugin/tools@0.1.0; }",
            world: "yoi:pdk/tools@0.1.0",
            runtime_path: "::yoi_pdk::__private::wit_bindgen::rt",
            pub_export_macro: true,
            export_macro_name: "export",
            default_bindings_module: "yoi_pdk::__private::tools",
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
        work_item_pre_create,
        "package yoi:pdk@0.1.0; world work-item-pre-create { export yoi:plugin/work-item-pre-create@0.1.0; }",
        "yoi:pdk/work-item-pre-create@0.1.0",
        "yoi_pdk::__private::work_item_pre_create"
    );
    hook_bindings!(
        work_item_post_create,
        "package yoi:pdk@0.1.0; world work-item-post-create { export yoi:plugin/work-item-post-create@0.1.0; }",
        "yoi:pdk/work-item-post-create@0.1.0",
        "yoi_pdk::__private::work_item_post_create"
    );
    hook_bindings!(
        run_pre_prompt,
        "package yoi:pdk@0.1.0; world run-pre-prompt { export yoi:plugin/run-pre-prompt@0.1.0; }",
        "yoi:pdk/run-pre-prompt@0.1.0",
        "yoi_pdk::__private::run_pre_prompt"
    );
    hook_bindings!(
        model_pre_call,
        "package yoi:pdk@0.1.0; world model-pre-call { export yoi:plugin/model-pre-call@0.1.0; }",
        "yoi:pdk/model-pre-call@0.1.0",
        "yoi_pdk::__private::model_pre_call"
    );
    hook_bindings!(
        model_post_call,
        "package yoi:pdk@0.1.0; world model-post-call { export yoi:plugin/model-post-call@0.1.0; }",
        "yoi:pdk/model-post-call@0.1.0",
        "yoi_pdk::__private::model_post_call"
    );
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
    hook_bindings!(
        tool_result_persist,
        "package yoi:pdk@0.1.0; world tool-result-persist { export yoi:plugin/tool-result-persist@0.1.0; }",
        "yoi:pdk/tool-result-persist@0.1.0",
        "yoi_pdk::__private::tool_result_persist"
    );
    hook_bindings!(
        response_pre_deliver,
        "package yoi:pdk@0.1.0; world response-pre-deliver { export yoi:plugin/response-pre-deliver@0.1.0; }",
        "yoi:pdk/response-pre-deliver@0.1.0",
        "yoi_pdk::__private::response_pre_deliver"
    );
    hook_bindings!(
        response_post_deliver,
        "package yoi:pdk@0.1.0; world response-post-deliver { export yoi:plugin/response-post-deliver@0.1.0; }",
        "yoi:pdk/response-post-deliver@0.1.0",
        "yoi_pdk::__private::response_post_deliver"
    );
    hook_bindings!(
        context_pre_compact,
        "package yoi:pdk@0.1.0; world context-pre-compact { export yoi:plugin/context-pre-compact@0.1.0; }",
        "yoi:pdk/context-pre-compact@0.1.0",
        "yoi_pdk::__private::context_pre_compact"
    );
    hook_bindings!(
        context_post_compact,
        "package yoi:pdk@0.1.0; world context-post-compact { export yoi:plugin/context-post-compact@0.1.0; }",
        "yoi:pdk/context-post-compact@0.1.0",
        "yoi_pdk::__private::context_post_compact"
    );
    hook_bindings!(
        host_start,
        "package yoi:pdk@0.1.0; world host-start { export yoi:plugin/host-start@0.1.0; }",
        "yoi:pdk/host-start@0.1.0",
        "yoi_pdk::__private::host_start"
    );
    hook_bindings!(
        host_stop,
        "package yoi:pdk@0.1.0; world host-stop { export yoi:plugin/host-stop@0.1.0; }",
        "yoi:pdk/host-stop@0.1.0",
        "yoi_pdk::__private::host_stop"
    );

    use crate::Plugin;
    use crate::payload::*;

    /// Adapts a [`Plugin`] method to a hook interface's generated `Guest` trait.
    macro_rules! guest_for_plugin {
        ($($iface:ident)::+, $method:ident, $event:ty) => {
            impl<P: Plugin> $($iface)::+::Guest for P {
                fn handle(event: $event) -> Result<$($iface)::+::Outcome, String> {
                    P::$method(event)
                        .map(|outcome| {
                            outcome.into_wit(
                                $($iface)::+::Outcome::Continue,
                                $($iface)::+::Outcome::Change,
                                $($iface)::+::Outcome::Block,
                            )
                        })
                        .map_err(|e| e.to_string())
                }
            }
        };
    }

    guest_for_plugin!(
        work_item_pre_create::exports::yoi::plugin::work_item_pre_create,
        work_item_pre_create,
        NewWorkItem
    );
    guest_for_plugin!(
        work_item_post_create::exports::yoi::plugin::work_item_post_create,
        work_item_post_create,
        CreatedWorkItem
    );
    guest_for_plugin!(
        run_pre_prompt::exports::yoi::plugin::run_pre_prompt,
        run_pre_prompt,
        Prompt
    );
    guest_for_plugin!(
        model_pre_call::exports::yoi::plugin::model_pre_call,
        model_pre_call,
        ModelCall
    );
    guest_for_plugin!(
        model_post_call::exports::yoi::plugin::model_post_call,
        model_post_call,
        ModelResponse
    );
    guest_for_plugin!(
        tool_pre_exec::exports::yoi::plugin::tool_pre_exec,
        tool_pre_exec,
        ToolCall
    );
    guest_for_plugin!(
        tool_post_exec::exports::yoi::plugin::tool_post_exec,
        tool_post_exec,
        ToolResult
    );
    guest_for_plugin!(
        tool_result_persist::exports::yoi::plugin::tool_result_persist,
        tool_result_persist,
        PersistResult
    );
    guest_for_plugin!(
        response_pre_deliver::exports::yoi::plugin::response_pre_deliver,
        response_pre_deliver,
        Delivery
    );
    guest_for_plugin!(
        response_post_deliver::exports::yoi::plugin::response_post_deliver,
        response_post_deliver,
        Delivered
    );
    guest_for_plugin!(
        context_pre_compact::exports::yoi::plugin::context_pre_compact,
        context_pre_compact,
        Compaction
    );
    guest_for_plugin!(
        context_post_compact::exports::yoi::plugin::context_post_compact,
        context_post_compact,
        Compacted
    );
    guest_for_plugin!(
        host_start::exports::yoi::plugin::host_start,
        host_start,
        HostInfo
    );
    guest_for_plugin!(
        host_stop::exports::yoi::plugin::host_stop,
        host_stop,
        HostInfo
    );
}
