//! Test fixture: tools that hand their input straight to the host APIs and
//! report the typed result as JSON (`{"ok": ...}` or `{"error": kind, ...}`),
//! so tests can check both what the host refused and what the guest saw.

use serde::Deserialize;
use yoi_pdk::json::{Value, json};
use yoi_pdk::prelude::*;

#[derive(Deserialize)]
struct Fetch {
    url: String,
    method: Option<String>,
    body: Option<String>,
    timeout_ms: Option<u64>,
    /// Read the body as it arrives (`https.open`), counting the pieces.
    stream: Option<bool>,
    /// With `stream`: open this many responses first and keep them open.
    hold: Option<u32>,
}

#[derive(Deserialize)]
struct File {
    op: String,
    path: String,
    to: Option<String>,
    data: Option<String>,
}

#[derive(Deserialize)]
struct Secret {
    key: String,
}

/// The guest's view of a result.
fn report(result: Result<Value, Error>) -> Result<Json<Value>, Error> {
    Ok(Json(match result {
        Ok(value) => json!({ "ok": value }),
        Err(Error::Denied {
            capability,
            target,
            reason,
            fix,
        }) => json!({
            "error": "denied", "capability": capability, "target": target,
            "reason": reason, "fix": fix,
        }),
        Err(e) => {
            let kind = match &e {
                Error::NotFound(_) => "not_found",
                Error::Invalid(_) => "invalid",
                Error::TooLarge(_) => "too_large",
                Error::Timeout(_) => "timeout",
                Error::Failed(_) => "failed",
                _ => "other",
            };
            json!({ "error": kind, "message": e.message() })
        }
    }))
}

fn fetch(input: Fetch) -> Result<Json<Value>, Error> {
    let method = match input.method.as_deref().unwrap_or("GET") {
        "GET" => http::Method::Get,
        "POST" => http::Method::Post,
        "HEAD" => http::Method::Head,
        other => return Err(Error::new(format!("unsupported method {other}"))),
    };
    let mut request = http::Request::new(method, input.url);
    if let Some(body) = input.body {
        request = request.body(body);
    }
    if let Some(ms) = input.timeout_ms {
        request = request.timeout(std::time::Duration::from_millis(ms));
    }
    if input.stream == Some(true) {
        let mut held = Vec::new();
        for _ in 0..input.hold.unwrap_or(0) {
            match request.clone().open() {
                Ok(open) => held.push(open),
                Err(e) => return report(Err(e)),
            }
        }
        return report(request.open().and_then(|mut open| {
            let mut pieces = 0;
            let mut body = Vec::new();
            while let Some(bytes) = open.read()? {
                pieces += 1;
                body.extend_from_slice(&bytes);
            }
            Ok(json!({
                "status": open.status,
                "url": open.url,
                "pieces": pieces,
                "body": String::from_utf8_lossy(&body),
                "held": held.len(),
            }))
        }));
    }
    report(request.send().map(|r| {
        json!({
            "status": r.status,
            "url": r.url,
            "body": String::from_utf8_lossy(&r.body),
        })
    }))
}

fn file(input: File) -> Result<Json<Value>, Error> {
    let path = input.path.as_str();
    let to = input.to.as_deref().unwrap_or_default();
    let data = input.data.as_deref().unwrap_or_default();
    let result = match input.op.as_str() {
        "read" => fs::read_to_string(path).map(Value::from),
        "write" => fs::write(path, data).map(|()| Value::Null),
        "append" => fs::append(path, data).map(|()| Value::Null),
        "list" => fs::list_dir(path)
            .map(|entries| entries.into_iter().map(|e| Value::from(e.name)).collect()),
        "stat" => fs::stat(path)
            .map(|e| json!({"name": e.name, "size": e.size, "kind": kind_name(e.kind)})),
        "mkdir" => fs::create_dir(path).map(|()| Value::Null),
        "remove" => fs::remove(path).map(|()| Value::Null),
        "rename" => fs::rename(path, to).map(|()| Value::Null),
        "symlink" => fs::symlink(to, path).map(|()| Value::Null),
        "hardlink" => fs::hard_link(to, path).map(|()| Value::Null),
        other => return Err(Error::new(format!("unknown op {other}"))),
    };
    report(result)
}

fn kind_name(kind: fs::EntryKind) -> &'static str {
    match kind {
        fs::EntryKind::File => "file",
        fs::EntryKind::Directory => "directory",
        fs::EntryKind::Symlink => "symlink",
        fs::EntryKind::Other => "other",
    }
}

fn secret(input: Secret) -> Result<Json<Value>, Error> {
    report(secrets::get(&input.key).map(Value::from))
}

#[derive(Deserialize)]
struct Crash {}

/// Traps on purpose, for the crash guard's tests.
fn crash(_: Crash) -> Result<String, Error> {
    panic!("reach crashed on purpose")
}

yoi_pdk::register!(tools: fetch, file, secret, crash);
