//! A test fixture for the service manager; never ship it.
//!
//! Every service takes messages (`Host::send_to_service`):
//! - `spin` `{"iters": N}`: loop N times (guests have no clock): slow
//! - `trap`: panic, which traps the instance
//! - `echo` `{...}`: emit `echo` with the same data
//! - `count`: emit `count` with how many events this instance handled
//! - `fetch` `{"url": U}`: fetch U; the answer or the refusal is emitted
//!   as `fetched` or `refused`
//!
//! `doomed` fails every start; `silent` never answers an inbound request.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use yoi_pdk::Error;
use yoi_pdk::http;
use yoi_pdk::service::{Command, Event, Service, StartInfo};

struct Probe;

/// Events this instance handled: a restart starts again from 0.
static HANDLED: AtomicU64 = AtomicU64::new(0);

impl Service for Probe {
    fn start(info: StartInfo) -> Result<Vec<Command>, Error> {
        if info.name == "doomed" {
            return Err(Error::new(format!(
                "doomed never starts (restart {})",
                info.restarts
            )));
        }
        Ok(vec![Command::emit(
            "started",
            &json!({ "service": info.name, "restarts": info.restarts }),
        )?])
    }

    fn handle(service: &str, event: Event) -> Result<Vec<Command>, Error> {
        let handled = HANDLED.fetch_add(1, Ordering::Relaxed) + 1;
        match event {
            Event::Message(m) => {
                let data: Value = yoi_pdk::json::from_str(&m.data)?;
                match m.kind.as_str() {
                    "spin" => {
                        let iters = data["iters"].as_u64().unwrap_or(0);
                        let mut x = 0u64;
                        for i in 0..iters {
                            x = std::hint::black_box(x.wrapping_add(i));
                        }
                        Ok(vec![])
                    }
                    "trap" => panic!("{service} traps on purpose"),
                    "echo" => Ok(vec![Command::emit("echo", &data)?]),
                    "count" => Ok(vec![Command::emit(
                        "count",
                        &json!({ "service": service, "handled": handled }),
                    )?]),
                    "fetch" => {
                        let url = data["url"].as_str().unwrap_or_default();
                        Ok(vec![Command::fetch("probe", http::Request::get(url))])
                    }
                    other => Err(Error::new(format!("unknown message `{other}`"))),
                }
            }
            Event::Fetched(f) => {
                let tag = f.tag.clone();
                match f.response() {
                    Ok(r) => Ok(vec![Command::emit(
                        "fetched",
                        &json!({ "tag": tag, "status": r.status }),
                    )?]),
                    Err(e) => Ok(vec![Command::emit(
                        "fetched",
                        &json!({ "tag": tag, "error": e.to_string() }),
                    )?]),
                }
            }
            Event::Refused(r) => {
                let error = r.error();
                let fix = match &error {
                    Error::Denied { fix, .. } => fix.clone(),
                    _ => String::new(),
                };
                Ok(vec![Command::emit(
                    "refused",
                    &json!({ "command": r.command, "error": error.to_string(), "fix": fix }),
                )?])
            }
            _ => Ok(vec![]),
        }
    }
}

yoi_pdk::register!(service: Probe);
