//! The real agent CLIs (`@openai/codex` 0.171.0 and
//! `@anthropic-ai/claude-code` 2.1.332 from npm, installed by `cargo xtask
//! e2e`) with `yoi hook install`, each against a loopback stand-in for its
//! model API that scripts one shell call: the guard must stop the call in
//! the CLI itself, and the redact plugin must mask what the model reads of
//! its output.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{receipts, registry, run, run_with};

/// The model API a CLI speaks.
#[derive(Clone, Copy)]
enum Wire {
    /// OpenAI's Responses API (`POST /v1/responses`), as Codex uses it.
    Responses,
    /// Anthropic's Messages API (`POST /v1/messages`), as Claude Code uses
    /// it.
    Messages,
}

/// A model API stand-in on a loopback port: the first turn asks for the
/// shell tool with `command`; every later one (which carries the call's
/// output) answers "done". Every request body is kept.
struct Model {
    port: u16,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl Model {
    fn start(wire: Wire, command: &str) -> Model {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (kept, command) = (Arc::clone(&requests), command.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (kept, command) = (Arc::clone(&kept), command.clone());
                std::thread::spawn(move || serve(wire, stream, &kept, &command));
            }
        });
        Model { port, requests }
    }

    /// What the CLI sent back as the output of the scripted call.
    fn call_output(&self) -> Option<String> {
        let requests = self.requests.lock().expect("requests");
        let items = requests.iter().flat_map(|r| {
            let input = r["input"].as_array().cloned().unwrap_or_default();
            let messages = r["messages"].as_array().cloned().unwrap_or_default();
            let blocks = messages
                .into_iter()
                .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default());
            input.into_iter().chain(blocks)
        });
        for item in items {
            match item["type"].as_str() {
                Some("function_call_output") if item["call_id"] == "call_1" => {
                    return item["output"].as_str().map(str::to_owned);
                }
                Some("tool_result") if item["tool_use_id"] == "toolu_1" => {
                    return match &item["content"] {
                        Value::String(s) => Some(s.clone()),
                        Value::Array(parts) => Some(
                            parts
                                .iter()
                                .filter_map(|p| p["text"].as_str())
                                .collect::<String>(),
                        ),
                        _ => None,
                    };
                }
                _ => {}
            }
        }
        None
    }
}

/// The turn's events: a shell call, or the final "done".
fn turn(wire: Wire, request: &Value, command: &str) -> Vec<Value> {
    match wire {
        Wire::Responses => {
            let answered = request["input"]
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["type"] == "function_call_output"));
            let item = if answered {
                json!({"type": "message", "role": "assistant", "id": "msg_1",
                       "content": [{"type": "output_text", "text": "done"}]})
            } else {
                json!({"type": "function_call", "call_id": "call_1", "name": "exec_command",
                       "arguments": json!({"cmd": command}).to_string()})
            };
            let usage = json!({"input_tokens": 0, "input_tokens_details": null, "output_tokens": 0,
                               "output_tokens_details": null, "total_tokens": 0});
            vec![
                json!({"type": "response.created", "response": {"id": "resp_1"}}),
                json!({"type": "response.output_item.done", "item": item}),
                json!({"type": "response.completed", "response": {"id": "resp_1", "usage": usage}}),
            ]
        }
        Wire::Messages => {
            // Claude Code also asks for side tasks (a title, a summary)
            // without tools; only the agent's own turn gets the call.
            let agent_turn = request["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["name"] == "Bash"));
            let answered = request["messages"].as_array().is_some_and(|m| {
                m.iter().any(|m| {
                    m["content"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
                })
            });
            let usage = json!({"input_tokens": 1, "output_tokens": 1});
            let start = json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
                "role": "assistant", "model": request["model"], "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": usage}});
            let (block, delta, stop) = if agent_turn && !answered {
                (
                    json!({"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}),
                    json!({"type": "input_json_delta", "partial_json":
                        json!({"command": command, "description": "make the marker"}).to_string()}),
                    "tool_use",
                )
            } else {
                (
                    json!({"type": "text", "text": ""}),
                    json!({"type": "text_delta", "text": "done"}),
                    "end_turn",
                )
            };
            vec![
                start,
                json!({"type": "content_block_start", "index": 0, "content_block": block}),
                json!({"type": "content_block_delta", "index": 0, "delta": delta}),
                json!({"type": "content_block_stop", "index": 0}),
                json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                       "usage": {"output_tokens": 1}}),
                json!({"type": "message_stop"}),
            ]
        }
    }
}

fn serve(wire: Wire, stream: TcpStream, kept: &Mutex<Vec<Value>>, command: &str) {
    let mut reader = BufReader::new(&stream);
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let events = turn(wire, &request, command);
    kept.lock().expect("requests").push(request);
    let sse: String = events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")))
        .collect();
    let mut stream = &stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{sse}",
        sse.len()
    );
}

/// A CLI's binary `cargo xtask e2e` installed, named by `var`.
fn binary(var: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} names the CLI's binary: run with `cargo xtask e2e`, which installs it")
    }))
}

/// Runs `cmd` to its end, bounded in time; its stdout and stderr.
fn finish(mut cmd: Command, what: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} starts: {e}"));
    let until = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("the CLI").is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("{what} ran past 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("the CLI's output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed: {text}");
    text
}

/// `yoi hook install --for CLI` into `HOME` (and `CODEX_HOME`), with the
/// registry `home`.
fn install(cli: &str, dir: &Path, codex_home: &Path, home: &Path) {
    run_with(
        home,
        &[("CODEX_HOME", codex_home), ("HOME", dir)],
        &["hook", "install", "--for", cli],
    );
}

/// Codex's folder: the stand-in as its model provider, nothing else
/// reached, and `yoi hook` installed for the registry `home`.
fn codex_folder(dir: &Path, model: &Model, home: &Path) -> PathBuf {
    let codex_home = dir.join("codex");
    std::fs::create_dir_all(&codex_home).expect("CODEX_HOME");
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"stand-in\"\nmodel_provider = \"stand-in\"\ncheck_for_update_on_startup = false\n\n\
             [analytics]\nenabled = false\n\n\
             [model_providers.stand-in]\nname = \"stand-in\"\nbase_url = \"http://127.0.0.1:{}/v1\"\nwire_api = \"responses\"\n",
            model.port
        ),
    )
    .expect("config.toml");
    install("codex", dir, &codex_home, home);
    codex_home
}

/// `codex exec` with one prompt, in `work`, bounded in time. Hooks from
/// `hooks.json` need a trust review in Codex; `--dangerously-bypass-hook-trust`
/// is that review for a test.
fn codex_exec(codex_home: &Path, dir: &Path, work: &Path) -> String {
    let mut cmd = Command::new(binary("YOI_CODEX"));
    cmd.env("CODEX_HOME", codex_home)
        .env("HOME", dir)
        .env_remove("OPENAI_API_KEY")
        .current_dir(work)
        .args([
            "exec",
            "--dangerously-bypass-hook-trust",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "make the marker file",
        ]);
    finish(cmd, "codex exec")
}

/// `claude -p` with one prompt, in `work`, Bash allowed without asking,
/// every request to the stand-in and nothing else sent anywhere.
fn claude_print(model: &Model, dir: &Path, work: &Path) -> String {
    let mut cmd = Command::new(binary("YOI_CLAUDE_CODE"));
    cmd.env("HOME", dir)
        .env(
            "ANTHROPIC_BASE_URL",
            format!("http://127.0.0.1:{}", model.port),
        )
        .env("ANTHROPIC_API_KEY", "sk-ant-stand-in")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .current_dir(work)
        .args(["-p", "make the marker file", "--allowedTools", "Bash"]);
    finish(cmd, "claude -p")
}

#[test]
#[ignore = "needs the example components and Codex: run with `cargo xtask e2e`"]
fn the_real_codex_cli_is_stopped_by_the_guard_and_masked_by_redact() {
    let home = registry();
    let dir = tempfile::tempdir().expect("folder");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work");
    let marker = work.join("marker");

    // The guard denies Bash: Codex refuses the call, the model reads why.
    let model = Model::start(Wire::Responses, &format!("touch {}", marker.display()));
    let codex_home = codex_folder(dir.path(), &model, home.path());
    let log = codex_exec(&codex_home, dir.path(), &work);
    assert!(!marker.exists(), "the command ran: {log}");
    let output = model.call_output().expect("Codex sent the call's output");
    assert!(
        output.contains("blocked by plugin example.guard: tool `Bash` is on the deny list"),
        "{output}\n{log}"
    );
    let guard = receipts(home.path(), "example.guard");
    assert!(
        guard
            .iter()
            .any(|r| r["point"] == "tool.pre_exec" && r["status"] == "blocked"),
        "{guard:?}"
    );

    // Bash allowed: the command runs, and the model reads its output with
    // the secret masked.
    run(
        home.path(),
        &["config", "set", "example.guard", "deny", "[]"],
    );
    let model = Model::start(
        Wire::Responses,
        &format!(
            "echo token sk-abcdefghijklmnop1234; touch {}",
            marker.display()
        ),
    );
    let codex_home = codex_folder(dir.path(), &model, home.path());
    let log = codex_exec(&codex_home, dir.path(), &work);
    assert!(marker.exists(), "the command did not run: {log}");
    let output = model.call_output().expect("Codex sent the call's output");
    assert_eq!(output, "token sk-****\n", "{log}");
}

#[test]
#[ignore = "needs the example components and Claude Code: run with `cargo xtask e2e`"]
fn the_real_claude_code_cli_is_stopped_by_the_guard_and_masked_by_redact() {
    let home = registry();
    let dir = tempfile::tempdir().expect("folder");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work");
    let marker = work.join("marker");
    install(
        "claude-code",
        dir.path(),
        &dir.path().join("codex"),
        home.path(),
    );

    // The guard denies Bash: Claude Code refuses the call, the model reads
    // why.
    let model = Model::start(Wire::Messages, &format!("touch {}", marker.display()));
    let log = claude_print(&model, dir.path(), &work);
    assert!(!marker.exists(), "the command ran: {log}");
    let output = model
        .call_output()
        .expect("Claude Code sent the call's result");
    assert!(
        output.contains("blocked by plugin example.guard: tool `Bash` is on the deny list"),
        "{output}\n{log}"
    );

    // Bash allowed: the command runs, and the model reads its output with
    // the secret masked (`updatedToolOutput`).
    run(
        home.path(),
        &["config", "set", "example.guard", "deny", "[]"],
    );
    let model = Model::start(
        Wire::Messages,
        &format!(
            "echo token sk-abcdefghijklmnop1234; touch {}",
            marker.display()
        ),
    );
    let log = claude_print(&model, dir.path(), &work);
    assert!(marker.exists(), "the command did not run: {log}");
    let output = model
        .call_output()
        .expect("Claude Code sent the call's result");
    assert_eq!(output, "token sk-****", "{log}");
    let redact = receipts(home.path(), "example.redact");
    assert!(
        redact
            .iter()
            .any(|r| r["point"] == "tool.post_exec" && r["changed"] == json!(["output"])),
        "{redact:?}"
    );
}
