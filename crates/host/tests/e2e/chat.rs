//! An OpenAI-style chat completions stand-in on 127.0.0.1, for the
//! provider tests and the provider benchmark (`benches/surfaces.rs`
//! includes this file): it records each request and answers with whole
//! JSON or server-sent events, paced.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Accepts connections on `listener`, each on a thread of its own: reads
/// the request's head (its lines, up to the blank one) and hands it to
/// `handle` with a reader positioned at the body and the stream to answer
/// on. The loop ends with the test process.
pub fn accept(
    listener: TcpListener,
    handle: impl Fn(String, BufReader<std::net::TcpStream>, std::net::TcpStream) + Send + Sync + 'static,
) {
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let handle = Arc::clone(&handle);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                handle(head, reader, stream);
            });
        }
    });
}

/// What the chat stand-in answers.
#[derive(Clone)]
pub enum ChatReply {
    /// Server-sent events (each a `data:` line), one every `gap`, then
    /// `data: [DONE]`.
    Stream { events: Vec<String>, gap: Duration },
    /// A whole response.
    Whole {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
}

impl ChatReply {
    /// `text` as the service would answer `request`: streamed when it asks
    /// for a stream, else whole.
    pub fn text(request: &ChatRequest, text: &str) -> ChatReply {
        let model = request.body["model"].as_str().unwrap_or("m").to_owned();
        if request.body["stream"] == true {
            ChatReply::Stream {
                events: vec![
                    serde_json::json!({"model": model, "choices": [{"index": 0, "delta": {"content": text}}]}).to_string(),
                    serde_json::json!({"model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                       "usage": {"prompt_tokens": 5, "completion_tokens": 1}}).to_string(),
                ],
                gap: Duration::ZERO,
            }
        } else {
            ChatReply::Whole {
                status: 200,
                headers: Vec::new(),
                body: serde_json::json!({"model": model,
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 1}}).to_string(),
            }
        }
    }
}

/// A request the chat stand-in received.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    pub path: String,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
}

/// An OpenAI-style chat completions stand-in on 127.0.0.1: it records each
/// request (path, bearer token, JSON body) and answers what `route` says.
pub struct ChatStub {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<ChatRequest>>>,
}

impl ChatStub {
    pub fn start(route: impl Fn(&ChatRequest) -> ChatReply + Send + Sync + 'static) -> ChatStub {
        use std::io::Read;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        accept(listener, move |head, mut reader, mut stream| {
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
            };
            let length: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let request = ChatRequest {
                path: head.split_whitespace().nth(1).unwrap_or("/").to_owned(),
                authorization: header("authorization"),
                body: serde_json::from_slice(&body).unwrap_or_default(),
            };
            log.lock().unwrap().push(request.clone());
            match route(&request) {
                ChatReply::Whole {
                    status,
                    headers,
                    body,
                } => {
                    let mut out = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        body.len()
                    );
                    for (k, v) in headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&body);
                    let _ = stream.write_all(out.as_bytes());
                }
                ChatReply::Stream { events, gap } => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
                    );
                    for event in events.iter().map(String::as_str).chain(["[DONE]"]) {
                        let _ = stream.write_all(format!("data: {event}\n\n").as_bytes());
                        let _ = stream.flush();
                        std::thread::sleep(gap);
                    }
                }
            }
        });
        ChatStub { port, seen }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
}
