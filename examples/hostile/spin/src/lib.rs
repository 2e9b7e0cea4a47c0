//! A hostile test plugin: its `tool.pre_exec` handler never returns. The host
//! must stop it at its time limit. Used by the end-to-end tests; never ship it.

use yoi_pdk::prelude::*;

struct Spin;

impl Plugin for Spin {
    fn tool_pre_exec(call: ToolCall) -> HookResult<ToolCall> {
        let mut n = call.turn;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

yoi_pdk::register!(Spin => tool_pre_exec);
