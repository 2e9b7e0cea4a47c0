//! A provider and an observer built for contract `yoi:plugin@0.4.0`
//! straight from its frozen WIT with `wit-bindgen` (the PDK targets the
//! newest contract): it stands for the components built for 0.4.0, which
//! hosts keep running unchanged (docs/hooks.md, "Contract versions"). It
//! calls every 0.4.0 host API a provider leans on: `config`, `context`,
//! `log`, `https.open` with its `incoming-body`, the `sink`, and `fs`.
//!
//! The provider `relay` reads `<base_url>/words` as it arrives and pushes
//! each piece as a chunk; the observer appends one line per batch to
//! `relay/seen.log`.

wit_bindgen::generate!({
    path: "../../crates/pdk/wit/0.4.0",
    inline: "package example:relay;
             world relay {
                 import yoi:plugin/log@0.4.0;
                 import yoi:plugin/context@0.4.0;
                 import yoi:plugin/config@0.4.0;
                 import yoi:plugin/https@0.4.0;
                 import yoi:plugin/fs@0.4.0;
                 export yoi:plugin/provider@0.4.0;
                 export yoi:plugin/observer@0.4.0;
             }",
    world: "example:relay/relay",
    generate_all,
});

use exports::yoi::plugin::observer::{self, Batch};
use exports::yoi::plugin::provider;
use yoi::plugin::completions::{
    Chunk, FinishReason, ProviderError, Request, Response, Sink, Usage,
};
use yoi::plugin::https::{self, Method};
use yoi::plugin::log::{Level, write};
use yoi::plugin::{config, context, fs};

struct Relay;

impl provider::Guest for Relay {
    fn complete(_name: String, request: Request, sink: &Sink) -> Result<Response, ProviderError> {
        let base = config::get("base_url")
            .map_err(|e| ProviderError::Other(format!("{e:?}")))?
            .unwrap_or_default();
        let (head, body) = https::open(&https::Request {
            method: Method::Get,
            url: format!("{}/words", base.trim_matches('"')),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: Some(5000),
        })
        .map_err(|e| ProviderError::Unavailable(format!("{e:?}")))?;
        if head.status != 200 {
            return Err(ProviderError::Unavailable(format!(
                "status {}",
                head.status
            )));
        }
        let mut content = String::new();
        while let Some(piece) = body
            .read(64)
            .map_err(|e| ProviderError::Unavailable(format!("{e:?}")))?
        {
            let text = String::from_utf8_lossy(&piece).into_owned();
            content.push_str(&text);
            if request.stream && !sink.push(&Chunk::Text(text)) {
                break;
            }
        }
        let agent = context::current().agent_id.unwrap_or_default();
        write(Level::Info, "relayed", &[("agent".into(), agent)]);
        Ok(Response {
            model: request.model,
            usage: Usage {
                input_tokens: 1,
                output_tokens: content.split_whitespace().count() as u64,
            },
            content,
            tool_calls: Vec::new(),
            finish_reason: FinishReason::Stop,
        })
    }
}

impl observer::Guest for Relay {
    fn observe(batch: Batch) -> Result<(), String> {
        let line = format!("{} {}\n", batch.observations.len(), batch.dropped);
        fs::append("relay/seen.log", line.as_bytes()).map_err(|e| format!("{e:?}"))
    }
}

export!(Relay);
