//! A test fixture for the provider and observer surfaces; never ship it.
//!
//! The provider obeys `#probe:<command>` in the last message:
//! - `panic`: trap; `loop`: never return (the host's time limit stops it)
//! - `unavailable`, `rate`, `auth`: answer with that typed error
//! - `chunks:a|b|c`: stream the pieces, then answer with them joined
//! - `until-closed`: stream numbers until the embedder stops reading
//!
//! Without a command it answers `echo: <last message>`.
//!
//! The observer appends one JSON line per batch to `obs/observed.jsonl`:
//! how many observations, how many dropped before it, their kinds and
//! sequence numbers. The `spin` setting makes it slow, `fail` makes it trap.

use serde_json::json;
use yoi_pdk::Error;
use yoi_pdk::observer::{Batch, Event, Observer};
use yoi_pdk::provider::{
    self, Completion, FinishReason, Provider, RateLimit, Request, Sink, Usage,
};

struct Surfaces;

fn completion(model: &str, content: String) -> Completion {
    Completion {
        model: model.to_owned(),
        usage: Usage {
            input_tokens: 7,
            output_tokens: content.split_whitespace().count() as u64,
        },
        content,
        tool_calls: Vec::new(),
        finish_reason: FinishReason::Stop,
    }
}

impl Provider for Surfaces {
    fn complete(_name: &str, request: Request, sink: &Sink) -> Result<Completion, provider::Error> {
        let last = request
            .messages
            .last()
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let command = last.split("#probe:").nth(1).unwrap_or("").trim().to_owned();
        match command.as_str() {
            "panic" => panic!("the probe provider panicked on purpose"),
            "loop" => loop {
                std::hint::spin_loop();
            },
            "unavailable" => Err(provider::Error::Unavailable(
                "the probe is down on purpose".into(),
            )),
            "auth" => Err(provider::Error::Auth(
                "the probe refuses the key on purpose".into(),
            )),
            "rate" => Err(provider::Error::RateLimited(RateLimit {
                retry_after_ms: Some(1500),
                message: "slow down".into(),
            })),
            "until-closed" => {
                let mut n = 0u64;
                while sink.text(&format!("{n} ")) {
                    n += 1;
                    if n > 1_000_000 {
                        break;
                    }
                }
                Ok(completion(&request.model, format!("stopped after {n}")))
            }
            other => {
                if let Some(pieces) = other.strip_prefix("chunks:") {
                    let pieces: Vec<&str> = pieces.split('|').collect();
                    for piece in &pieces {
                        sink.text(piece);
                    }
                    Ok(completion(&request.model, pieces.concat()))
                } else {
                    Ok(completion(&request.model, format!("echo: {last}")))
                }
            }
        }
    }
}

impl Observer for Surfaces {
    fn observe(batch: Batch) -> Result<(), Error> {
        if yoi_pdk::config::get::<bool>("fail")?.unwrap_or(false) {
            panic!("the probe observer panicked on purpose");
        }
        let spin: u64 = yoi_pdk::config::get("spin")?.unwrap_or(0);
        let mut x = 0u64;
        for i in 0..spin {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        let kinds: Vec<&str> = batch
            .observations
            .iter()
            .map(|o| match &o.event {
                Event::Receipt(_) => "receipt",
                Event::ToolCall(_) => "tool_call",
                Event::ModelCall(_) => "model_call",
                Event::PermissionDenied(_) => "permission_denied",
                Event::AutoDisable(_) => "auto_disable",
                Event::Reload(_) => "reload",
                Event::Custom(_) => "custom",
            })
            .collect();
        let seqs: Vec<u64> = batch.observations.iter().map(|o| o.seq).collect();
        let line = json!({
            "n": batch.observations.len(),
            "dropped": batch.dropped,
            "kinds": kinds,
            "seqs": seqs,
        });
        yoi_pdk::fs::append("obs/observed.jsonl", format!("{line}\n").as_bytes())?;
        Ok(())
    }
}

yoi_pdk::register!(provider: Surfaces; observer: Surfaces);
