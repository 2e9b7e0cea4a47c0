use yoi_pdk::prelude::*;

struct NoShell;

impl Plugin for NoShell {
    fn tool_pre_exec(call: ToolCall) -> HookResult<ToolCall> {
        if call.tool_name == "shell" {
            return Ok(Outcome::block("shell access is disabled"));
        }
        Ok(Outcome::Continue)
    }
}

yoi_pdk::register!(NoShell => tool_pre_exec);
