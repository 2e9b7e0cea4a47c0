//! `yoi mcp` as a real process, spoken to in raw JSON-RPC over stdio and
//! Streamable HTTP: both protocol revisions, every way a call ends, tool
//! changes reaching clients, and hostile clients. (The official Python
//! client and the conformance suite run from `cargo xtask e2e`.)

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Process, example, listening_url, token_in};

mod clients;
mod gateway;

/// The newest revision with `initialize`, and the stateless one.
const STATEFUL: &str = "2025-11-25";
const STATELESS: &str = "2026-07-28";

/// A folder with a yoi.toml serving notes, weather (no https grant), the
/// guard (denying `example.notes.list_notes`) and redact, plus the Python
/// notes plugin.
pub struct Plugins {
    pub dir: tempfile::TempDir,
    pub dirs: Vec<PathBuf>,
}

impl Plugins {
    pub fn new() -> Plugins {
        Plugins::with(&[
            "notes", "weather", "guard", "redact", "py-notes", "js-notes",
        ])
    }

    /// The named examples, and the grants and settings above.
    pub fn with(examples: &[&str]) -> Plugins {
        Plugins::configured(examples, &[], "")
    }

    /// [`Plugins::with`], with more capabilities allowed and more TOML
    /// (grants for other plugins as `[grants."ID"]`-free `"ID" = [...]`
    /// lines come first in `extra`, then whole tables).
    pub fn configured(examples: &[&str], allow: &[&str], extra: &str) -> Plugins {
        let dir = tempfile::tempdir().expect("temp dir");
        // The compile cache of the whole run when there is one: a Python
        // component is compiled once, not once per test.
        let cache = std::env::var("YOI_CACHE")
            .map(|c| format!("cache = {c:?}\n"))
            .unwrap_or_default();
        let allow: Vec<String> = std::iter::once("fs:.:rw")
            .chain(allow.iter().copied())
            .map(|a| format!("{a:?}"))
            .collect();
        std::fs::write(
            dir.path().join("yoi.toml"),
            format!(
                r#"[host]
{cache}data = "data"
hot_reload = true

[capabilities]
allow = [{}]

[grants]
"example.notes" = "requested"
"example.guard" = []
"example.redact" = []
"example.weather" = []
"example.py-notes" = "requested"
"example.js-notes" = "requested"
{extra}

[settings."example.guard"]
deny = ["example.notes.list_notes"]
"#,
                allow.join(", ")
            ),
        )
        .expect("yoi.toml");
        Plugins {
            dirs: examples.iter().map(|n| example(n)).collect(),
            dir,
        }
    }

    /// `yoi --registry <here> mcp DIR... --config yoi.toml`'s arguments.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--registry".to_owned(),
            self.dir.path().join("registry").display().to_string(),
            "mcp".to_owned(),
        ];
        args.extend(self.dirs.iter().map(|d| d.display().to_string()));
        args.push("--config".to_owned());
        args.push(self.config().display().to_string());
        args
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("yoi.toml")
    }
}

/// `yoi mcp` on stdio; messages read on a thread so a test never hangs on
/// a silent server.
pub struct StdioServer {
    _process: Process,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Notifications seen while waiting for answers.
    pub notifications: Vec<Value>,
}

impl StdioServer {
    pub fn start(args: &[String]) -> StdioServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("yoi mcp starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        StdioServer {
            _process: Process(child),
            stdin,
            lines,
            notifications: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write");
        stdin.flush().expect("flush");
    }

    pub fn send(&mut self, message: Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.send_raw(line.as_bytes());
    }

    /// The next message, parsed: every stdout line must be JSON-RPC.
    pub fn next(&mut self, within: Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(within).ok()?;
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout carries only protocol messages, got {line:?}: {e}"));
        assert_eq!(value["jsonrpc"], "2.0", "{value}");
        Some(value)
    }

    /// Sends a request and returns its answer, keeping notifications.
    pub fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.answer(id)
    }

    pub fn answer(&mut self, id: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .next(left)
                .unwrap_or_else(|| panic!("no answer to request {id}"));
            if message["id"] == json!(id) {
                return message;
            }
            self.notifications.push(message);
        }
    }

    pub fn initialize(&mut self, client: &str) -> Value {
        let answer = self.request(0, "initialize", initialize_params(client));
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        answer
    }
}

/// The `params` of a 2025-11-25 `initialize` from `client`.
pub fn initialize_params(client: &str) -> Value {
    json!({
        "protocolVersion": STATEFUL,
        "capabilities": {},
        "clientInfo": {"name": client, "version": "1.0.0"}
    })
}

/// The `_meta` a 2026-07-28 request carries.
pub fn stateless_meta(client: &str) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientInfo": {"name": client, "version": "1.0.0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

fn tool_text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a text result: {answer:#}"))
        .to_owned()
}

fn is_error(answer: &Value) -> bool {
    answer["result"]["isError"] == json!(true)
}

fn call(server: &mut StdioServer, id: u64, name: &str, arguments: Value) -> Value {
    server.request(
        id,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
}

fn names(list: &Value) -> Vec<String> {
    list["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("a tool list: {list:#}"))
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

fn tool<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} listed: {list:#}"))
}

fn serve_folders(plugins: &Plugins, extra: &[&str]) -> StdioServer {
    let mut args = plugins.args();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    StdioServer::start(&args)
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn stdio_serves_both_revisions_through_the_hook_chain() {
    let plugins = Plugins::new();
    let mut server = serve_folders(&plugins, &[]);

    // 2025-11-25: initialize, then list and call.
    let init = server.initialize("e2e-client");
    assert_eq!(init["result"]["protocolVersion"], STATEFUL, "{init:#}");
    assert_eq!(init["result"]["serverInfo"]["name"], "yoi");
    assert_eq!(
        init["result"]["capabilities"]["tools"]["listChanged"], true,
        "{init:#}"
    );
    let list = server.request(1, "tools/list", json!({}));
    let listed = names(&list);
    for expected in [
        "example.notes.add_note",
        "example.notes.list_notes",
        "example.weather.forecast",
        "example.py-notes.add_note",
        "example.js-notes.add_note",
    ] {
        assert!(
            listed.iter().any(|n| n == expected),
            "{expected} in {listed:?}"
        );
    }
    // The Python and JavaScript tools run like the Rust one.
    for (id, language) in [(10, "py"), (11, "js")] {
        let name = format!("example.{language}-notes.add_note");
        let added = call(&mut server, id, &name, json!({"title": "t", "text": "x"}));
        assert!(!is_error(&added), "{added:#}");
        assert!(tool_text(&added).contains("saved"), "{added:#}");
    }
    let notes = tool(&list, "example.notes.add_note");
    assert_eq!(
        notes["annotations"]["readOnlyHint"], false,
        "fs rw: {notes:#}"
    );
    assert_eq!(notes["annotations"]["openWorldHint"], false);
    assert_eq!(notes["inputSchema"]["type"], "object");
    let weather = tool(&list, "example.weather.forecast");
    assert_eq!(weather["annotations"]["readOnlyHint"], true, "{weather:#}");

    // A call runs the tool; redact masks its output on the way back.
    let added = call(
        &mut server,
        2,
        "example.notes.add_note",
        json!({"title": "keys", "text": "the key is sk-abcdefghijklmnopqrstuv"}),
    );
    assert!(!is_error(&added), "{added:#}");
    let read = call(
        &mut server,
        3,
        "example.notes.read_note",
        json!({"title": "keys"}),
    );
    assert!(!is_error(&read), "{read:#}");
    let text = tool_text(&read);
    assert!(
        !text.contains("sk-abcdefghijklmnopqrstuv"),
        "redacted: {text}"
    );
    assert!(text.contains("the key is"), "{text}");

    // The guard blocks; the reason reaches the model.
    let blocked = call(&mut server, 4, "example.notes.list_notes", json!({}));
    assert!(is_error(&blocked), "{blocked:#}");
    let text = tool_text(&blocked);
    assert!(text.contains("blocked by plugin example.guard"), "{text}");

    // Invalid input is a tool error the model can fix, not a protocol error.
    let invalid = call(
        &mut server,
        5,
        "example.notes.add_note",
        json!({"title": 7}),
    );
    assert!(is_error(&invalid), "{invalid:#}");

    // A refused host call names the fix.
    let denied = call(
        &mut server,
        6,
        "example.weather.forecast",
        json!({"city": "Oslo"}),
    );
    let text = tool_text(&denied);
    assert!(text.contains("yoi grant example.weather"), "{denied:#}");

    // An unknown tool is a protocol error.
    let unknown = call(&mut server, 7, "example.nothing.here", json!({}));
    assert_eq!(unknown["error"]["code"], -32602, "{unknown:#}");

    // 2026-07-28 on the same connection's server: discover, then stateless
    // requests carrying their `_meta`.
    let mut stateless = serve_folders(&plugins, &[]);
    let discover = stateless.request(
        1,
        "server/discover",
        json!({"_meta": stateless_meta("stateless-client")}),
    );
    let versions = discover["result"]["supportedVersions"]
        .as_array()
        .unwrap_or_else(|| panic!("{discover:#}"));
    assert!(versions.contains(&json!(STATELESS)), "{discover:#}");
    assert!(versions.contains(&json!(STATEFUL)), "{discover:#}");
    let list = stateless.request(
        2,
        "tools/list",
        json!({"_meta": stateless_meta("stateless-client")}),
    );
    assert!(
        names(&list).contains(&"example.notes.add_note".to_owned()),
        "{list:#}"
    );
    let answer = stateless.request(
        3,
        "tools/call",
        json!({
            "_meta": stateless_meta("stateless-client"),
            "name": "example.notes.list_notes",
            "arguments": {}
        }),
    );
    assert!(is_error(&answer), "{answer:#}");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn stdio_survives_garbage_oversized_lines_and_unknown_methods() {
    let plugins = Plugins::new();
    let mut server = serve_folders(&plugins, &["--max-message-bytes", "65536"]);
    server.initialize("hostile");
    server.send_raw(b"this is not json\n");
    server.send_raw(b"{\"jsonrpc\": \"2.0\", \"id\": \n");
    // An oversized line is dropped; the next message is answered.
    let mut big = vec![b'x'; 1024 * 1024];
    big.push(b'\n');
    server.send_raw(&big);
    let unknown = server.request(10, "no/such/method", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown:#}");
    // A subject longer than any rollout needs is refused, not cut.
    let long = server.request(
        12,
        "tools/list",
        json!({"_meta": {"dev.yoi/subject": "s".repeat(300)}}),
    );
    assert_eq!(long["error"]["code"], -32602, "{long:#}");
    assert!(
        long["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("300 bytes")),
        "{long:#}"
    );
    let list = server.request(11, "tools/list", json!({}));
    assert!(!names(&list).is_empty(), "{list:#}");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_new_plugin_is_announced_and_listed() {
    // Weather arrives later in a folder of packages that starts empty.
    let mut plugins = Plugins::with(&["notes"]);
    let more = plugins.dir.path().join("more");
    std::fs::create_dir_all(&more).expect("mkdir");
    plugins.dirs.push(more.clone());
    let mut server = serve_folders(&plugins, &[]);
    server.initialize("watcher");
    let before = names(&server.request(1, "tools/list", json!({})));
    assert!(!before.contains(&"example.weather.forecast".to_owned()));

    copy_dir(&example("weather"), &more.join("weather"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .notifications
        .iter()
        .any(|n| n["method"] == "notifications/tools/list_changed")
    {
        assert!(Instant::now() < deadline, "no list_changed");
        if let Some(n) = server.next(Duration::from_millis(200)) {
            server.notifications.push(n);
        }
    }
    let after = names(&server.request(2, "tools/list", json!({})));
    assert!(
        after.contains(&"example.weather.forecast".to_owned()),
        "{after:?}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if path.is_dir() {
            continue;
        }
        std::fs::copy(&path, to.join(entry.file_name())).expect("copy");
    }
}

/// `yoi mcp --http 127.0.0.1:0` over `plugins`; killed when dropped.
pub struct HttpServer {
    _process: Process,
    _stdout: BufReader<std::process::ChildStdout>,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// An `rw` token of the registry folder's serve-tokens.
    pub token: String,
}

pub fn serve_http(plugins: &Plugins, extra: &[&str]) -> HttpServer {
    let mut args = plugins.args();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    spawn_http(&args, &plugins.dir.path().join("registry"))
}

/// `yoi ARGS --http 127.0.0.1:0`, its token from `registry`'s serve-tokens.
pub fn spawn_http(args: &[String], registry: &Path) -> HttpServer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(args)
        .args(["--http", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("yoi mcp --http starts");
    let stdout = child.stdout.take().expect("stdout");
    let process = Process(child);
    let mut out = BufReader::new(stdout);
    let url = listening_url(&mut out);
    let tokens = std::fs::read_to_string(registry.join("serve-tokens")).unwrap_or_default();
    let token = token_in(&tokens, "rw").unwrap_or_default();
    HttpServer {
        _process: process,
        _stdout: out,
        url,
        token,
    }
}

/// A POST to the endpoint; `session` and `version` become the
/// `Mcp-Session-Id` and `MCP-Protocol-Version` headers.
pub struct Post<'a> {
    pub token: Option<&'a str>,
    pub session: Option<&'a str>,
    pub version: Option<&'a str>,
    pub origin: Option<&'a str>,
}

impl HttpServer {
    pub fn post<'a>(&'a self) -> Post<'a> {
        Post {
            token: Some(&self.token),
            session: None,
            version: None,
            origin: None,
        }
    }

    pub async fn send(&self, how: &Post<'_>, body: Value) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream");
        if let Some(token) = how.token {
            request = request.bearer_auth(token);
        }
        if let Some(session) = how.session {
            request = request.header("Mcp-Session-Id", session);
        }
        if let Some(version) = how.version {
            request = request.header("MCP-Protocol-Version", version);
        }
        if let Some(origin) = how.origin {
            request = request.header("Origin", origin);
        }
        if let Some(method) = body["method"].as_str() {
            request = request.header("Mcp-Method", method);
        }
        if let Some(name) = body["params"]["name"].as_str() {
            request = request.header("Mcp-Name", name);
        }
        request
            .body(body.to_string())
            .send()
            .await
            .expect("the server answers")
    }

    /// Sends `body` and returns the JSON-RPC answer, which must come.
    pub async fn ask(&self, how: &Post<'_>, body: Value) -> Value {
        answer_of(self.send(how, body).await).await
    }
}

/// The JSON-RPC answer in a response, JSON or a server-sent-event stream.
pub async fn answer_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let is_sse = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = response.text().await.expect("body");
    assert!(status.is_success(), "{status}: {text}");
    if !is_sse {
        return serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    }
    text.split("\n\n")
        .filter_map(|event| {
            let data: String = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            serde_json::from_str::<Value>(&data).ok()
        })
        .find(|m| m.get("id").is_some())
        .unwrap_or_else(|| panic!("no answer in {text}"))
}

fn rpc(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn http_serves_sessions_and_stateless_calls_to_token_holders_only() {
    let plugins = Plugins::new();
    let server = serve_http(&plugins, &[]);
    assert_eq!(server.token.len(), 64, "serve-tokens was made");
    let init = rpc(1, "initialize", initialize_params("http-client"));

    // No token, a wrong one: 401 with the scheme to use.
    for token in [None, Some("not-a-token-of-ours-0123456789abcdef")] {
        let how = Post {
            token,
            ..server.post()
        };
        let refused = server.send(&how, init.clone()).await;
        assert_eq!(refused.status(), 401);
        assert!(
            refused.headers()["www-authenticate"]
                .to_str()
                .expect("ascii")
                .starts_with("Bearer"),
        );
    }
    // A web page's request: 403, token or not.
    let how = Post {
        origin: Some("https://evil.example"),
        ..server.post()
    };
    assert_eq!(server.send(&how, init.clone()).await.status(), 403);

    // 2025-11-25: a session.
    let response = server.send(&server.post(), init).await;
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let answer = answer_of(response).await;
    assert_eq!(answer["result"]["protocolVersion"], STATEFUL, "{answer:#}");
    let how = Post {
        session: Some(&session),
        version: Some(STATEFUL),
        ..server.post()
    };
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(server.send(&how, initialized).await.status(), 202);
    let list = server.ask(&how, rpc(2, "tools/list", json!({}))).await;
    assert!(
        names(&list).contains(&"example.notes.add_note".to_owned()),
        "{list:#}"
    );
    let blocked = server
        .ask(
            &how,
            rpc(
                3,
                "tools/call",
                json!({"name": "example.notes.list_notes", "arguments": {}}),
            ),
        )
        .await;
    assert!(is_error(&blocked), "{blocked:#}");
    assert!(tool_text(&blocked).contains("blocked by plugin example.guard"));

    // 2026-07-28: no session, `_meta` on each request.
    let how = Post {
        version: Some(STATELESS),
        ..server.post()
    };
    let discover = server
        .ask(
            &how,
            rpc(4, "server/discover", json!({"_meta": stateless_meta("s")})),
        )
        .await;
    assert!(
        discover["result"]["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.contains(&json!(STATELESS))),
        "{discover:#}"
    );
    let added = server
        .ask(
            &how,
            rpc(
                5,
                "tools/call",
                json!({
                    "_meta": stateless_meta("s"),
                    "name": "example.notes.add_note",
                    "arguments": {"title": "http", "text": "over http"}
                }),
            ),
        )
        .await;
    assert!(!is_error(&added), "{added:#}");
    assert!(
        plugins.dir.path().join("data/example.notes/notes").is_dir(),
        "the note landed in the plugin's data root"
    );
}

/// The fenced blocks of `lang` in docs/mcp.md.
fn doc_blocks(lang: &str) -> Vec<String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/mcp.md"))
            .expect("docs/mcp.md");
    let fence = format!("```{lang}\n");
    doc.split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or_default().to_owned())
        .collect()
}

/// Runs a stdio server entry's command (with `yoi` this build's binary, on
/// a fresh registry) and checks it answers `initialize`.
fn run_stdio_entry(command: &str, args: &[String]) {
    assert_eq!(command, "yoi", "the snippet starts yoi");
    let home = tempfile::tempdir().expect("registry");
    let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(args)
        .env("YOI_HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the snippet's command runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let init = rpc(1, "initialize", initialize_params("docs"));
    writeln!(stdin, "{init}").expect("write");
    drop(stdin);
    let out = child
        .wait_with_output()
        .expect("it stops when stdin closes");
    assert!(out.status.success(), "{:?}", out.status);
    let answer: Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap_or_default())
            .expect("a JSON-RPC answer");
    assert_eq!(answer["result"]["serverInfo"]["name"], "yoi", "{answer:#}");
}

/// Checks an HTTP entry against a real `yoi mcp --http`: the URL's path is
/// `/mcp` on loopback, and the token, sent as the entry sends it, is taken.
async fn check_http_entry(url: &str, bearer: &dyn Fn(&str) -> String) {
    let parsed = reqwest::Url::parse(url).expect("the snippet's URL parses");
    assert_eq!(parsed.path(), "/mcp");
    assert_eq!(parsed.host_str(), Some("127.0.0.1"));
    let plugins = Plugins::with(&[]);
    let server = serve_http(&plugins, &[]);
    let header = bearer(&server.token);
    let response = reqwest::Client::new()
        .post(&server.url)
        .header("Authorization", header)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(rpc(1, "initialize", initialize_params("docs")).to_string())
        .send()
        .await
        .expect("answered");
    let answer = answer_of(response).await;
    assert_eq!(answer["result"]["serverInfo"]["name"], "yoi", "{answer:#}");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_client_snippets_in_the_docs_parse_and_run() {
    let json_blocks = doc_blocks("json");
    let toml_blocks = doc_blocks("toml");
    assert_eq!(
        (json_blocks.len(), toml_blocks.len()),
        (2, 2),
        "Claude Code and Codex, stdio and HTTP"
    );
    for block in &json_blocks {
        let config: Value = serde_json::from_str(block).unwrap_or_else(|e| panic!("{e}: {block}"));
        let entry = &config["mcpServers"]["yoi"];
        if let Some(command) = entry["command"].as_str() {
            let args: Vec<String> = entry["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| a.as_str().expect("text").to_owned())
                .collect();
            run_stdio_entry(command, &args);
        } else {
            assert_eq!(entry["type"], "http", "{block}");
            let header = entry["headers"]["Authorization"]
                .as_str()
                .expect("a header")
                .to_owned();
            assert!(header.contains("${YOI_MCP_TOKEN}"), "{header}");
            check_http_entry(entry["url"].as_str().expect("url"), &|token: &str| {
                header.replace("${YOI_MCP_TOKEN}", token)
            })
            .await;
        }
    }
    for block in &toml_blocks {
        let config: toml::Table = block.parse().unwrap_or_else(|e| panic!("{e}: {block}"));
        let entry = &config["mcp_servers"]["yoi"];
        if let Some(command) = entry.get("command").and_then(|c| c.as_str()) {
            let args: Vec<String> = entry["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| a.as_str().expect("text").to_owned())
                .collect();
            run_stdio_entry(command, &args);
        } else {
            assert_eq!(
                entry["bearer_token_env_var"].as_str(),
                Some("YOI_MCP_TOKEN")
            );
            check_http_entry(entry["url"].as_str().expect("url"), &|token: &str| {
                format!("Bearer {token}")
            })
            .await;
        }
    }
}

/// A copy of the reach fixture whose manifest requests `origin` for https.
fn reach_requesting(into: &Path, origin: &str) -> PathBuf {
    let dir = into.join("reach");
    copy_dir(&example("hostile/reach"), &dir);
    let manifest = dir.join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        text.replace(
            "https = [\"api.example.com\"]",
            &format!("https = [\"api.example.com\", {origin:?}]"),
        ),
    )
    .expect("manifest");
    dir
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn http_holds_against_garbage_huge_bodies_floods_and_dropped_clients() {
    // A server that takes connections and never answers: a call to it
    // runs until the client goes away.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = format!("http://{}", silent.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().take(64) {
            held.push(stream);
        }
    });
    let grant = format!("https:{origin}");
    let mut plugins = Plugins::configured(
        &["notes"],
        &[&grant],
        &format!(
            "\"hostile.reach\" = [{grant:?}]\n\n[limits]\nmax_calls = 8\nmax_calls_per_plugin = 4\nqueue_wait_ms = 100\n"
        ),
    );
    let reach = reach_requesting(plugins.dir.path(), &origin);
    plugins.dirs.push(reach);
    let server = serve_http(
        &plugins,
        &[
            "--max-connections",
            "2000",
            "--max-connections-per-peer",
            "2000",
        ],
    );
    let how = Post {
        version: Some(STATELESS),
        ..server.post()
    };
    let still_up = || async {
        let list = server
            .ask(
                &how,
                rpc(99, "tools/list", json!({"_meta": stateless_meta("after")})),
            )
            .await;
        assert!(
            names(&list).contains(&"example.notes.add_note".to_owned()),
            "{list:#}"
        );
    };

    // Garbage framing: not JSON, not JSON-RPC.
    for body in [
        "this is not json",
        "{\"jsonrpc\": \"2.0\", \"id\":",
        "[1, 2, 3]",
        "{}",
    ] {
        let response = reqwest::Client::new()
            .post(&server.url)
            .bearer_auth(&server.token)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", STATELESS)
            .body(body)
            .send()
            .await
            .expect("answered");
        assert!(
            response.status().is_client_error(),
            "{body}: {}",
            response.status()
        );
    }
    still_up().await;

    // A 100 MB message: refused (413, or the connection closed once the
    // limit was passed), never read whole.
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"example.notes.add_note\",\"arguments\":{{\"title\":\"x\",\"text\":\"{}\"}}}}}}",
        "a".repeat(100 * 1024 * 1024)
    );
    let started = Instant::now();
    let sent = reqwest::Client::new()
        .post(&server.url)
        .bearer_auth(&server.token)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", STATELESS)
        .body(huge)
        .send()
        .await;
    if let Ok(response) = sent {
        assert_eq!(response.status(), 413);
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    still_up().await;

    // A client that sends and never reads: 500 pipelined calls on one
    // connection, none of the answers read. Only its own connection waits.
    let mut greedy = std::net::TcpStream::connect(
        server
            .url
            .trim_start_matches("http://")
            .trim_end_matches("/mcp"),
    )
    .expect("connect");
    let host = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let mut pipelined = Vec::new();
    for i in 0..500u64 {
        let body = rpc(
            5000 + i,
            "tools/list",
            json!({"_meta": stateless_meta("greedy")}),
        )
        .to_string();
        pipelined.extend_from_slice(
            format!(
                "POST /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: {STATELESS}\r\nMcp-Method: tools/list\r\nContent-Length: {}\r\n\r\n{body}",
                server.token,
                body.len()
            )
            .as_bytes(),
        );
    }
    greedy
        .set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    // The server may stop taking bytes once its answers back up: that is
    // the point, so a write that times out is fine.
    let _ = greedy.write_all(&pipelined);
    still_up().await;
    drop(greedy);

    // A client that goes away mid-call.
    let hanging = rpc(
        7,
        "tools/call",
        json!({
            "_meta": stateless_meta("leaver"),
            "name": "hostile.reach.fetch",
            "arguments": {"url": format!("{origin}/slow"), "timeout_ms": 5000}
        }),
    );
    let call = server.send(&how, hanging);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), call)
            .await
            .is_err(),
        "the call to a silent server was still running"
    );
    still_up().await;

    // 1,000 calls at once: each answered, with the result or `busy`; none
    // hangs.
    let calls = (0..1000u64).map(|i| {
        let origin = &origin;
        let how = &how;
        let server = &server;
        async move {
            let body = rpc(
                1000 + i,
                "tools/call",
                json!({
                    "_meta": stateless_meta("flood"),
                    "name": "hostile.reach.fetch",
                    "arguments": {"url": format!("{origin}/n{i}"), "timeout_ms": 200}
                }),
            );
            let response = server.send(how, body).await;
            let status = response.status();
            if status == 503 {
                return "refused";
            }
            let answer = answer_of(response).await;
            let text = tool_text(&answer);
            // A full host is `busy` (docs/hooks.md): said, not waited on.
            if is_error(&answer) && text.contains("not run:") {
                "busy"
            } else {
                "answered"
            }
        }
    });
    let outcomes = tokio::time::timeout(
        Duration::from_secs(120),
        futures_util::future::join_all(calls),
    )
    .await
    .expect("every call of the flood is answered");
    let count = |what: &str| outcomes.iter().filter(|o| **o == what).count();
    eprintln!(
        "flood: {} answered, {} busy, {} refused",
        count("answered"),
        count("busy"),
        count("refused")
    );
    assert!(count("answered") > 0 && count("busy") > 0, "{outcomes:?}");
    assert_eq!(count("refused"), 0);
    still_up().await;
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn serving_without_tokens_is_for_loopback_only() {
    let home = tempfile::tempdir().expect("registry");
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .arg("--registry")
        .arg(home.path())
        .args(["mcp", "--http", "0.0.0.0:0", "--no-token"])
        .stdin(Stdio::null())
        .output()
        .expect("yoi runs");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("--no-token") && text.contains("only on loopback"),
        "{text}"
    );
    // A token file nobody made is named, not created.
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .arg("--registry")
        .arg(home.path())
        .args(["mcp", "--http", "127.0.0.1:0", "--token-file"])
        .arg(home.path().join("missing"))
        .stdin(Stdio::null())
        .output()
        .expect("yoi runs");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!home.path().join("missing").exists());
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn sessions_are_bounded_and_a_closed_one_makes_room() {
    let plugins = Plugins::with(&["notes"]);
    let server = serve_http(&plugins, &[]);
    let init = rpc(1, "initialize", initialize_params("hoarder"));
    // 1,024 sessions, the most kept (sent in batches of 32, within the
    // connections one address may hold).
    let how = server.post();
    let mut sessions = Vec::new();
    for _ in 0..32 {
        let batch = (0..32).map(|_| server.send(&how, init.clone()));
        for response in futures_util::future::join_all(batch).await {
            assert!(response.status().is_success(), "{}", response.status());
            sessions.push(
                response.headers()["mcp-session-id"]
                    .to_str()
                    .expect("ascii")
                    .to_owned(),
            );
        }
    }
    let refused = server.send(&server.post(), init.clone()).await;
    assert!(refused.status().is_server_error(), "{}", refused.status());
    let why = refused.text().await.expect("body");
    assert!(why.contains("sessions are open"), "{why}");

    // Ending one makes room for the next.
    let closed = reqwest::Client::new()
        .delete(&server.url)
        .bearer_auth(&server.token)
        .header("Mcp-Session-Id", &sessions[0])
        .header("MCP-Protocol-Version", STATEFUL)
        .send()
        .await
        .expect("answered");
    assert!(closed.status().is_success(), "{}", closed.status());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = server.send(&server.post(), init.clone()).await;
        if response.status().is_success() {
            break;
        }
        assert!(Instant::now() < deadline, "no room after a session ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
