//! A plugin built for contract `yoi:plugin@0.5.0`, straight from its frozen
//! WIT with `wit-bindgen` (the PDK targets the newest contract). It stands
//! for every component built for 0.5.0: newer hosts keep loading and
//! running it, its `service` export called through 0.5.0's own interface
//! (docs/hooks.md, "Contract versions").
//!
//! Its service `echo` emits every message the embedding application sends
//! it back as an `echo` emission; its `tool.pre_exec` handler tags the
//! input with `"seen_by": "echo-v5"`.

wit_bindgen::generate!({
    path: "../../crates/pdk/wit/0.5.0",
    inline: "package example:echo-v5;
             world echo {
                 export yoi:plugin/tool-pre-exec@0.5.0;
                 export yoi:plugin/service@0.5.0;
             }",
    world: "example:echo-v5/echo",
    generate_all,
});

use exports::yoi::plugin::service::{Command, Emission, Event, Guest as Service, StartInfo};
use exports::yoi::plugin::tool_pre_exec::{Guest as Hook, Outcome};
use yoi::plugin::types::ToolCall;

struct Echo;

impl Service for Echo {
    fn start(info: StartInfo) -> Result<Vec<Command>, String> {
        Ok(vec![emit("started", &format!("\"{}\"", info.name))])
    }

    fn handle(_name: String, event: Event) -> Result<Vec<Command>, String> {
        Ok(match event {
            Event::Message(m) => vec![emit("echo", &m.data)],
            _ => Vec::new(),
        })
    }

    fn stop(_name: String) -> Vec<Command> {
        Vec::new()
    }
}

impl Hook for Echo {
    fn handle(mut event: ToolCall) -> Result<Outcome, String> {
        let Some(rest) = event.input.trim().strip_prefix('{') else {
            return Ok(Outcome::Continue);
        };
        let rest = rest.trim_start();
        let sep = if rest.starts_with('}') { "" } else { "," };
        event.input = format!("{{\"seen_by\":\"echo-v5\"{sep}{rest}");
        Ok(Outcome::Change(event))
    }
}

fn emit(kind: &str, data: &str) -> Command {
    Command::Emit(Emission {
        kind: kind.into(),
        data: data.into(),
    })
}

export!(Echo);
