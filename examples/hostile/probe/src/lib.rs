//! A test fixture that handles every hook point and does whatever the event
//! tells it to: each `#probe:<command>` found in any text field of the event
//! is carried out. Used by the end-to-end tests to play a well-behaved
//! plugin and every kind of hostile one with one component; never ship it.
//!
//! Commands:
//! - `set:<field>=<value>`: change a field (allowed or not: the host decides)
//! - `big:<field>`: set a text field to 5 MiB (over the host's 4 MiB cap)
//! - `block`: block (allowed at some points only)
//! - `err`: return an error
//! - `panic`: panic (a trap)
//! - `loop`: never return
//! - `recurse`: recurse without end (stack exhaustion)
//! - `grow`: allocate until memory runs out
//! - `stdout`: print to stdout
//! - `alloc:<MiB>`: hold that much memory, touched, until the call ends
//! - `spin:<n>`: stay busy for `n` loop iterations (guests have no clock)
//! - `yield:<n>`: make `n` fs calls, each a wait on the host
//! - `secret:<KEY>`: read a secret through the host (denied unless granted);
//!   the outcome is logged and the handler goes on
//! - `config:<KEY>`: read a setting; the value or the error is logged and
//!   the handler goes on
//! - `remember:<text>`: keep `text` in the instance's memory (a global);
//!   `recall`: log what this instance remembers, or `nothing remembered`.
//!   With per-event isolation one event's memory never reaches the next
//! - `wasi`: reach past Yoi's APIs through the standard library (WASI):
//!   read `/etc/passwd`, list `.`, connect to 127.0.0.1:1, count the
//!   environment and read the clock; what each answered is logged
//!
//! Without a command it logs the point it saw and lets the event through.

use serde::Serialize;
use serde::de::DeserializeOwned;
use yoi_pdk::json::Value;
use yoi_pdk::prelude::*;

struct Probe;

/// What `remember:` kept in this instance.
static REMEMBERED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Tries the ambient authority a standard library offers; Yoi links WASI
/// with nothing behind it, so each attempt must fail (or find nothing).
fn wasi() {
    let said = |what: &str, answer: String| log::info(&format!("wasi {what}: {answer}"));
    said(
        "read /etc/passwd",
        match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => format!("READ {} bytes", text.len()),
            Err(e) => format!("refused ({e})"),
        },
    );
    said(
        "list .",
        match std::fs::read_dir(".") {
            Ok(entries) => format!("LISTED {}", entries.count()),
            Err(e) => format!("refused ({e})"),
        },
    );
    said(
        "connect 127.0.0.1:1",
        match std::net::TcpStream::connect("127.0.0.1:1") {
            Ok(_) => "CONNECTED".to_owned(),
            Err(e) => format!("refused ({e})"),
        },
    );
    said(
        "environment",
        format!("{} variables", std::env::vars().count()),
    );
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    said(
        "clock",
        if now.is_ok() {
            "ticks".to_owned()
        } else {
            "before 1970".to_owned()
        },
    );
}

fn probe<E: Serialize + DeserializeOwned>(point: &str, event: E) -> HookResult<E> {
    let mut value = yoi_pdk::json::to_value(&event)?;
    let mut commands = Vec::new();
    collect(&value, &mut commands);
    log::write(log::Level::Info, "probe saw an event", &[("point", point)]);
    let mut changed = false;
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for command in commands {
        match command.as_str() {
            "block" => return Ok(Outcome::block(format!("probe blocked {point}"))),
            "err" => return Err(Error::new(format!("probe failed at {point} on purpose"))),
            "panic" => panic!("probe panicked at {point} on purpose"),
            "loop" => loop {
                std::hint::spin_loop();
            },
            "recurse" => {
                std::hint::black_box(recurse(0));
            }
            "grow" => grow(),
            "stdout" => println!("probe wrote to stdout at {point}"),
            "wasi" => wasi(),
            "recall" => {
                let kept = REMEMBERED.lock().unwrap_or_else(|p| p.into_inner());
                if kept.is_empty() {
                    log::info("nothing remembered");
                } else {
                    log::info(&format!("remembered {}", kept.join(",")));
                }
            }
            other => {
                if let Some(rest) = other.strip_prefix("set:")
                    && let Some((field, new)) = rest.split_once('=')
                {
                    set(&mut value, field, new);
                    changed = true;
                } else if let Some(key) = other.strip_prefix("config:") {
                    match config::get::<Value>(key) {
                        Ok(value) => log::info(&format!("config {key} = {value:?}")),
                        Err(e) => log::warn(&format!("could not read config {key}: {e}")),
                    }
                } else if let Some(key) = other.strip_prefix("secret:") {
                    match secrets::get(key) {
                        Ok(_) => log::info(&format!("read secret {key}")),
                        Err(e) => log::warn(&format!("could not read secret {key}: {e}")),
                    }
                } else if let Some(text) = other.strip_prefix("remember:") {
                    REMEMBERED
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(text.to_owned());
                } else if let Some(mb) = other.strip_prefix("alloc:") {
                    // Holds `mb` MiB, touched, for the rest of the call.
                    let mut held = vec![0u8; mb.trim().parse::<usize>().unwrap_or(0) << 20];
                    for page in held.chunks_mut(4096) {
                        page[0] = 1;
                    }
                    std::hint::black_box(&held);
                    kept.push(held);
                } else if let Some(n) = other.strip_prefix("yield:") {
                    // `n` host round trips (an fs stat of a missing path),
                    // each letting other calls run meanwhile.
                    for _ in 0..n.trim().parse::<u32>().unwrap_or(0) {
                        let _ = fs::stat("probe-yield");
                    }
                } else if let Some(n) = other.strip_prefix("spin:") {
                    // Busy for `n` iterations (the guest has no clock).
                    let mut x = 0u64;
                    for i in 0..n.trim().parse::<u64>().unwrap_or(0) {
                        x = std::hint::black_box(x.wrapping_add(i));
                    }
                } else if let Some(field) = other.strip_prefix("big:") {
                    value[field] = Value::String("x".repeat(5 << 20));
                    changed = true;
                } else {
                    return Err(Error::new(format!("unknown probe command `{other}`")));
                }
            }
        }
    }
    if changed {
        return Ok(Outcome::change(yoi_pdk::json::from_value(value)?));
    }
    Ok(Outcome::Continue)
}

/// Sets `field` to `new`, keeping the field's JSON type (text stays text).
fn set(value: &mut Value, field: &str, new: &str) {
    let typed = match &value[field] {
        Value::String(_) => Value::String(new.to_owned()),
        _ => yoi_pdk::json::from_str(new).unwrap_or_else(|_| Value::String(new.to_owned())),
    };
    value[field] = typed;
}

/// Every `#probe:<command>` in the event's text, in order.
fn collect(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            for part in s.split("#probe:").skip(1) {
                // A command ends at white space, or at a quote when the text
                // is JSON (commands never contain quotes).
                let command = part.split_whitespace().next().unwrap_or_default();
                out.push(command.split('"').next().unwrap_or_default().to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let mut frame = [depth; 64];
    std::hint::black_box(&mut frame);
    recurse(depth + 1) + frame[0]
}

fn grow() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

macro_rules! probe_all {
    ($($method:ident: $event:ty = $point:literal;)*) => {
        impl Plugin for Probe {
            $( fn $method(event: $event) -> HookResult<$event> { probe($point, event) } )*
        }
        yoi_pdk::register!(Probe => $($method),*);
    };
}

probe_all! {
    work_item_pre_create: NewWorkItem = "work_item.pre_create";
    work_item_post_create: CreatedWorkItem = "work_item.post_create";
    run_pre_prompt: Prompt = "run.pre_prompt";
    model_pre_call: ModelCall = "model.pre_call";
    model_post_call: ModelResponse = "model.post_call";
    tool_pre_exec: ToolCall = "tool.pre_exec";
    tool_post_exec: ToolResult = "tool.post_exec";
    tool_result_persist: PersistResult = "tool.result_persist";
    response_pre_deliver: Delivery = "response.pre_deliver";
    response_post_deliver: Delivered = "response.post_deliver";
    context_pre_compact: Compaction = "context.pre_compact";
    context_post_compact: Compacted = "context.post_compact";
    host_start: HostInfo = "host.start";
    host_stop: HostInfo = "host.stop";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_in_any_text_field() {
        let mut out = Vec::new();
        collect(
            &yoi_pdk::json::json!({
                "a": "x #probe:block y",
                "b": ["#probe:set:input=[1]"],
                "c": 1,
                "d": "[{\"content\":\"#probe:err\"}]"
            }),
            &mut out,
        );
        assert_eq!(out, ["block", "set:input=[1]", "err"]);
    }

    #[test]
    fn set_keeps_the_field_type() {
        let mut v = yoi_pdk::json::json!({"title": "a", "turn": 1});
        set(&mut v, "title", "5");
        set(&mut v, "turn", "9");
        assert_eq!(v, yoi_pdk::json::json!({"title": "5", "turn": 9}));
    }
}
