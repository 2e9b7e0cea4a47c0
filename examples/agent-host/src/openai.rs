//! A stand-in for an OpenAI-style chat completions service on
//! 127.0.0.1:18452, so the demo's `openai-compat` provider plugin streams a
//! real answer (server-sent events) that never leaves the machine. It
//! checks the bearer key and answers word by word.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use serde_json::{Value, json};

/// The address the provider plugin's manifest requests.
const ADDR: &str = "127.0.0.1:18452";

/// The key the demo grants the plugin, and the stand-in expects.
pub const KEY: &str = "demo-openai-key";

/// Starts the stand-in; returns the `base_url` setting for the plugin.
pub fn serve() -> Result<String, String> {
    let listener = TcpListener::bind(ADDR).map_err(|e| {
        format!("the demo's chat stand-in cannot listen on {ADDR}: {e} (is another demo running?)")
    })?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    Ok(format!("http://{ADDR}/v1"))
}

fn answer(mut stream: std::net::TcpStream) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut length = 0;
    let mut authorized = false;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line.trim_end() == format!("authorization: Bearer {KEY}")
            || line.trim_end() == format!("Authorization: Bearer {KEY}")
        {
            authorized = true;
        }
        line.clear();
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    if !authorized {
        let body = r#"{"error":{"message":"invalid API key"}}"#;
        let _ = write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    let model = request["model"].as_str().unwrap_or("local-chat").to_owned();
    let text = "Release 2.4: plugins can now serve models and observe the host. \
                Boot is faster, and every drop is counted.";
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
    );
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    for word in &words {
        let event = json!({"model": model, "choices": [{"index": 0, "delta": {"content": word}}]});
        if stream
            .write_all(format!("data: {event}\n\n").as_bytes())
            .is_err()
        {
            return;
        }
        let _ = stream.flush();
        std::thread::sleep(Duration::from_millis(15));
    }
    let prompt_tokens = request["messages"].as_array().map_or(0, |m| {
        m.iter()
            .map(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or("")
                    .split_whitespace()
                    .count()
            })
            .sum::<usize>()
    });
    let done = json!({"model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": words.len()}});
    let _ = stream.write_all(format!("data: {done}\n\ndata: [DONE]\n\n").as_bytes());
}
