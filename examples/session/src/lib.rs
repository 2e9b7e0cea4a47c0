//! Per-agent policy from the hook context, built for contract
//! `yoi:plugin@0.2.0` straight from its frozen WIT with `wit-bindgen` (the
//! PDK targets the newest contract): it stands for the components built
//! for 0.2.0, which hosts keep running unchanged (docs/hooks.md, "Contract
//! versions"). The `intern` agent may not run `deploy`, and every other
//! call is stamped with the agent and session it came from, so later
//! handlers and the tool see them. Its `whoami` tool answers with the
//! context a tool call runs in.

wit_bindgen::generate!({
    path: "../../crates/pdk/wit/0.2.0",
    inline: "package example:session;
             world session {
                 import yoi:plugin/context@0.2.0;
                 export yoi:plugin/tool-pre-exec@0.2.0;
                 export yoi:plugin/tools@0.2.0;
             }",
    world: "example:session/session",
    generate_all,
});

use exports::yoi::plugin::tool_pre_exec::{self, Outcome};
use exports::yoi::plugin::tools::{self, Invocation};
use serde_json::{Value, json};
use yoi::plugin::context::current;
use yoi::plugin::types::ToolCall;

struct SessionPolicy;

impl tool_pre_exec::Guest for SessionPolicy {
    fn handle(mut call: ToolCall) -> Result<Outcome, String> {
        let ctx = current();
        if ctx.agent_id.as_deref() == Some("intern") && call.tool_name == "deploy" {
            return Ok(Outcome::Block("the intern agent may not deploy".into()));
        }
        let mut input: Value = serde_json::from_str(&call.input)
            .map_err(|e| format!("tool input is not JSON: {e}"))?;
        if let Some(fields) = input.as_object_mut() {
            fields.insert("agent".into(), ctx.agent_id.into());
            fields.insert("session".into(), ctx.session_id.into());
            fields.insert("point".into(), ctx.point.into());
            fields.insert("plugin".into(), ctx.plugin_id.into());
        }
        call.input = input.to_string();
        Ok(Outcome::Change(call))
    }
}

impl tools::Guest for SessionPolicy {
    /// `whoami`: the context of this very tool call, as JSON.
    fn invoke(call: Invocation) -> Result<String, String> {
        if call.name != "whoami" {
            return Err(format!("no tool `{}`", call.name));
        }
        let ctx = current();
        Ok(json!({
            "point": ctx.point,
            "plugin": ctx.plugin_id,
            "work_item": ctx.work_item_id,
            "run": ctx.run_id,
            "agent": ctx.agent_id,
            "session": ctx.session_id,
            "subject": ctx.subject,
        })
        .to_string())
    }
}

export!(SessionPolicy);
