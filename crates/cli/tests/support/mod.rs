//! What the `yoi` binary's end-to-end tests (and its load benchmark) share:
//! the example packages and a real `yoi serve` process on a loopback port.
#![allow(dead_code)] // each test target uses part of it

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// An example package's folder.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// A child process, killed when dropped.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real `yoi serve` on a loopback port, killed when dropped.
pub struct Server {
    _process: Process,
    /// Kept open for the server's life.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
    pub url: String,
    pub rw: String,
    pub ro: String,
    _home: Option<tempfile::TempDir>,
    pub home: PathBuf,
}

pub fn serve() -> Server {
    serve_with(&[])
}

/// `yoi serve` on a fresh registry with `extra` arguments.
pub fn serve_with(extra: &[&str]) -> Server {
    let home = tempfile::tempdir().expect("registry folder");
    let mut server = serve_in(home.path(), extra);
    server._home = Some(home);
    server
}

/// `yoi serve` on the registry in `home` with `extra` arguments.
pub fn serve_in(home: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(["--registry", home.to_str().expect("utf-8")])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("yoi serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let process = Process(child);
    let mut out = std::io::BufReader::new(stdout);
    let url = listening_url(&mut out);
    let tokens = std::fs::read_to_string(home.join("serve-tokens")).expect("token file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.join("serve-tokens"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the owner's only");
    }
    let token = |access: &str| token_in(&tokens, access).expect("a token");
    Server {
        _process: process,
        _stdout: out,
        url,
        rw: token("rw"),
        ro: token("ro"),
        home: home.to_path_buf(),
        _home: None,
    }
}

/// The URL a server prints first: `listening on URL`.
pub fn listening_url(out: &mut std::io::BufReader<std::process::ChildStdout>) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    out.read_line(&mut line).expect("the address line");
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned()
}

/// The first `access` (`rw` or `ro`) token of a token file's text.
pub fn token_in(tokens: &str, access: &str) -> Option<String> {
    tokens
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{access} ")))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_owned)
}

pub fn guard_archive(dir: &Path) -> Vec<u8> {
    let package = yoi_manifest::Package::open(&example("guard"), &yoi_host::Host::compat())
        .expect("guard opens");
    let out = dir.join("guard.yoi");
    package.write_archive(&out).expect("archive");
    std::fs::read(out).expect("read archive")
}

/// The next server-sent event on `stream` (its lines, without the blank
/// line that ends it), skipping keep-alive comments.
pub async fn next_event(stream: &mut reqwest::Response) -> String {
    let mut buffer = String::new();
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let block = buffer[..end].to_owned();
            buffer.drain(..end + 2);
            if block.lines().any(|l| l.starts_with("event:")) {
                assert!(buffer.is_empty(), "one event per chunk: {buffer}");
                return block;
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
            .await
            .expect("an event arrives (the server polls four times a second)")
            .expect("chunk")
            .expect("data");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

pub async fn send(
    server: &Server,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, serde_json::Value) {
    send_as(server, path, token, body, None).await
}

/// A JSON body to `path` with `token`.
pub async fn send_json(
    server: &Server,
    path: &str,
    token: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let bytes = body.to_string().into_bytes();
    send_as(
        server,
        path,
        Some(token),
        Some(bytes),
        Some("application/json"),
    )
    .await
}

async fn send_as(
    server: &Server,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    content_type: Option<&str>,
) -> (u16, serde_json::Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", server.url);
    let mut request = match &body {
        Some(_) => client.post(&url),
        None => client.get(&url),
    };
    if let Some(kind) = content_type {
        request = request.header("content-type", kind);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}
