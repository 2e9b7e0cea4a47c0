//! A hostile MCP server on 127.0.0.1, speaking Streamable HTTP (JSON and
//! server-sent-event answers) by hand so it can break every rule a real
//! server keeps: answers too large or without end, answers after the time
//! limit, a list of 100,000 tools, schemas that are not JSON Schema, names
//! and descriptions with terminal escapes, a list that changes between
//! two calls.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// How the stand-in answers `tools/list`.
#[derive(Clone)]
pub enum Listing {
    /// These tools, in one page.
    Tools(Vec<Value>),
    /// `n` generated tools, `page` per page.
    Many { n: usize, page: usize },
    /// A body of `bytes` bytes.
    Oversized(usize),
}

/// A running stand-in; it stops with the test process.
pub struct StandIn {
    pub url: String,
    /// What `tools/list` answers; tests change it to change the list.
    pub listing: Arc<Mutex<Listing>>,
    /// How many `tools/list` and `tools/call` requests came.
    pub lists: Arc<AtomicUsize>,
    pub calls: Arc<AtomicUsize>,
    /// The `Authorization` headers received.
    pub auth: Arc<Mutex<Vec<String>>>,
}

/// A tool as a server lists it.
pub fn tool(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
    })
}

/// The usual tools: `echo` answers its text; `slow` answers after 1.5 s;
/// `huge` answers 8 MiB; `endless` streams pings without end; `ansi`
/// answers with terminal escapes; `fails` reports an error.
pub fn usual_tools() -> Vec<Value> {
    ["echo", "slow", "huge", "endless", "ansi", "fails"]
        .iter()
        .map(|n| tool(n, &format!("The {n} tool.")))
        .collect()
}

impl StandIn {
    pub fn start(listing: Listing) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stand_in = StandIn {
            url: format!("http://127.0.0.1:{port}/mcp"),
            listing: Arc::new(Mutex::new(listing)),
            lists: Arc::default(),
            calls: Arc::default(),
            auth: Arc::default(),
        };
        let (listing, lists, calls, auth) = (
            Arc::clone(&stand_in.listing),
            Arc::clone(&stand_in.lists),
            Arc::clone(&stand_in.calls),
            Arc::clone(&stand_in.auth),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (listing, lists, calls, auth) = (
                    Arc::clone(&listing),
                    Arc::clone(&lists),
                    Arc::clone(&calls),
                    Arc::clone(&auth),
                );
                std::thread::spawn(move || {
                    let _ = serve(stream, &listing, &lists, &calls, &auth);
                });
            }
        });
        stand_in
    }

    pub fn set(&self, listing: Listing) {
        *self.listing.lock().unwrap() = listing;
    }
}

fn serve(
    stream: TcpStream,
    listing: &Mutex<Listing>,
    lists: &AtomicUsize,
    calls: &AtomicUsize,
    auth: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let mut length = 0usize;
    let mut method_line = String::new();
    reader.read_line(&mut method_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("authorization:") {
            auth.lock().unwrap().push(line.trim_end().to_owned());
        }
    }
    if !method_line.starts_with("POST") {
        return write!(
            out,
            "HTTP/1.1 405 X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(id) = message.get("id").cloned() else {
        // A notification.
        return write!(
            out,
            "HTTP/1.1 202 X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    };
    let answer = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
    match message["method"].as_str().unwrap_or_default() {
        "initialize" => {
            let version = message["params"]["protocolVersion"].as_str().unwrap_or("2025-11-25");
            let body = answer(json!({
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": true}},
                "serverInfo": {"name": "hostile", "version": "1.0.0"},
            }));
            json_reply(&mut out, &body, &[("mcp-session-id", "hostile-1")])
        }
        "tools/list" => {
            lists.fetch_add(1, Ordering::SeqCst);
            let listing = listing.lock().unwrap().clone();
            match listing {
                Listing::Tools(tools) => json_reply(&mut out, &answer(json!({"tools": tools})), &[]),
                Listing::Many { n, page } => {
                    let start: usize = message["params"]["cursor"]
                        .as_str()
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0);
                    let end = (start + page).min(n);
                    let tools: Vec<Value> =
                        (start..end).map(|i| tool(&format!("t{i}"), "generated")).collect();
                    let mut result = json!({"tools": tools});
                    if end < n {
                        result["nextCursor"] = json!(end.to_string());
                    }
                    json_reply(&mut out, &answer(result), &[])
                }
                Listing::Oversized(bytes) => {
                    let filler = "x".repeat(bytes);
                    let body = answer(json!({"tools": [tool("big", &filler)]}));
                    json_reply(&mut out, &body, &[])
                }
            }
        }
        "tools/call" => {
            calls.fetch_add(1, Ordering::SeqCst);
            let name = message["params"]["name"].as_str().unwrap_or_default();
            let text = message["params"]["arguments"]["text"].as_str().unwrap_or_default();
            let content = |t: &str, error: bool| {
                answer(json!({"content": [{"type": "text", "text": t}], "isError": error}))
            };
            match name {
                "slow" => {
                    std::thread::sleep(Duration::from_millis(1500));
                    json_reply(&mut out, &content("late", false), &[])
                }
                "huge" => json_reply(&mut out, &content(&"y".repeat(8 << 20), false), &[]),
                "endless" => {
                    write!(
                        out,
                        "HTTP/1.1 200 X\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
                    )?;
                    loop {
                        out.write_all(b": ping\n\n")?;
                        out.flush()?;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                "ansi" => json_reply(
                    &mut out,
                    &content("\u{1b}[2J\u{1b}]0;pwned\u{7}clean\u{1b}[31m text", false),
                    &[],
                ),
                "fails" => json_reply(&mut out, &content("it broke", true), &[]),
                // Answered as a server-sent event, as servers may.
                _ => {
                    let event = content(&format!("echo: {text}"), false);
                    write!(
                        out,
                        "HTTP/1.1 200 X\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nevent: message\ndata: {event}\n\n"
                    )
                }
            }
        }
        _ => json_reply(
            &mut out,
            &json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no such method"}}).to_string(),
            &[],
        ),
    }
}

fn json_reply(out: &mut TcpStream, body: &str, headers: &[(&str, &str)]) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 200 X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body.as_bytes())
}
