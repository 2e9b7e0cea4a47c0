//! A plugin built for contract `yoi:plugin@0.1.0`, straight from its frozen
//! WIT with `wit-bindgen` (the PDK targets the newest contract). It stands
//! for every component built before 0.2.0: hosts keep loading and running
//! it unchanged, next to newer plugins (docs/hooks.md, "Contract
//! versions").
//!
//! At `tool.pre_exec` it tags the input with `"checked_by": "legacy"`;
//! handlers after it see the tag.

wit_bindgen::generate!({
    path: "../../crates/pdk/wit/0.1.0",
    inline: "package example:legacy;
             world legacy {
                 import yoi:plugin/log@0.1.0;
                 export yoi:plugin/tool-pre-exec@0.1.0;
             }",
    world: "example:legacy/legacy",
    generate_all,
});

use exports::yoi::plugin::tool_pre_exec::{Guest, Outcome};
use yoi::plugin::types::ToolCall;

struct Legacy;

impl Guest for Legacy {
    fn handle(mut event: ToolCall) -> Result<Outcome, String> {
        yoi::plugin::log::write(
            yoi::plugin::log::Level::Info,
            "tagging the call",
            &[("tool".into(), event.tool_name.clone())],
        );
        let Some(rest) = event.input.trim().strip_prefix('{') else {
            return Ok(Outcome::Continue);
        };
        let rest = rest.trim_start();
        let sep = if rest.starts_with('}') { "" } else { "," };
        event.input = format!("{{\"checked_by\":\"legacy\"{sep}{rest}");
        Ok(Outcome::Change(event))
    }
}

export!(Legacy);
