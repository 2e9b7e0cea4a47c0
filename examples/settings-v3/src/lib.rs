//! A plugin built for contract `yoi:plugin@0.3.0`, straight from its frozen
//! WIT with `wit-bindgen`: the first contract with settings. It stands for
//! every component built against 0.3.0: the newest host keeps loading and
//! running it, with the operator's settings (docs/hooks.md, "Contract
//! versions").
//!
//! At `tool.pre_exec` it blocks the tools named in its `deny` setting.

wit_bindgen::generate!({
    path: "../../crates/pdk/wit/0.3.0",
    inline: "package example:settings-v3;
             world settings-v3 {
                 import yoi:plugin/config@0.3.0;
                 export yoi:plugin/tool-pre-exec@0.3.0;
             }",
    world: "example:settings-v3/settings-v3",
    generate_all,
});

use exports::yoi::plugin::tool_pre_exec::{Guest, Outcome};
use yoi::plugin::types::ToolCall;

struct SettingsV3;

impl Guest for SettingsV3 {
    fn handle(event: ToolCall) -> Result<Outcome, String> {
        let deny = yoi::plugin::config::get("deny")
            .map_err(|e| format!("cannot read `deny`: {e:?}"))?
            .unwrap_or_else(|| "[]".into());
        // A JSON list of strings, read without a JSON library: the quoted
        // name is in it.
        if deny.contains(&format!("\"{}\"", event.tool_name)) {
            return Ok(Outcome::Block(format!(
                "tool `{}` is denied by settings (contract 0.3.0)",
                event.tool_name
            )));
        }
        Ok(Outcome::Continue)
    }
}

export!(SettingsV3);
