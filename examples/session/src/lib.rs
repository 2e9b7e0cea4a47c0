//! Per-agent policy from the hook context (contract 0.2.0): the `intern`
//! agent may not run `deploy`, and every other call is stamped with the
//! agent and session it came from, so later handlers and the tool see them.
//! Its `whoami` tool answers with the context a tool call runs in.

use yoi_pdk::prelude::*;

struct SessionPolicy;

impl Plugin for SessionPolicy {
    fn tool_pre_exec(mut call: ToolCall) -> HookResult<ToolCall> {
        let ctx = context();
        if ctx.agent_id.as_deref() == Some("intern") && call.tool_name == "deploy" {
            return Ok(Outcome::block("the intern agent may not deploy"));
        }
        let mut input: json::Value = call.parse_input()?;
        if let Some(fields) = input.as_object_mut() {
            fields.insert("agent".into(), ctx.agent_id.into());
            fields.insert("session".into(), ctx.session_id.into());
            fields.insert("point".into(), ctx.point.into());
            fields.insert("plugin".into(), ctx.plugin_id.into());
        }
        call.set_input(&input)?;
        Ok(Outcome::change(call))
    }
}

#[derive(serde::Deserialize)]
struct Nothing {}

/// The context of this very tool call, as JSON.
fn whoami(_: Nothing) -> Result<Json<json::Value>, Error> {
    let ctx = context();
    Ok(Json(json::json!({
        "point": ctx.point,
        "plugin": ctx.plugin_id,
        "work_item": ctx.work_item_id,
        "run": ctx.run_id,
        "agent": ctx.agent_id,
        "session": ctx.session_id,
        "subject": ctx.subject,
    })))
}

yoi_pdk::register!(SessionPolicy => tool_pre_exec; tools: whoami);
