//! `yoi serve`: the registry over HTTP for automations and dashboards.
//! Every write answers `{ ok, error?, audit, record? }` with the audit
//! record it left (docs/operations.md, "The HTTP API").
//!
//! Security: it listens on loopback unless told otherwise; every API
//! request needs a bearer token from `<registry>/serve-tokens` (created on
//! first start, readable by its owner only; a file others can read is
//! refused), which also names the actor the audit log records; read-only
//! tokens cannot write. There are no cookies, so no cross-site request can
//! act with an operator's credentials. Connections, timeouts and `Host`
//! names are limited before routing ([`crate::listener`]); a body larger
//! than its route allows is refused from its `Content-Length`, before a
//! byte of it is read.

use crate::tokens::{TOKENS_FILE, random_token, same};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Notify, watch};
use yoi_host::Host;
use yoi_manifest::{Digest, Package};
use yoi_registry::{Answer, Marks, Operation, Registry, Window};

/// Largest operation body.
const MAX_OPERATION_BYTES: usize = 64 * 1024;
/// Largest package upload: the artifact limit in base64 (a third larger),
/// with room for the manifest or the archive around it.
const MAX_UPLOAD_BYTES: usize = yoi_manifest::MAX_ARTIFACT_BYTES as usize / 3 * 4 + 2 * 1024 * 1024;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// One line of a token file.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    access: Access,
    /// Who the token belongs to: the audit log's actor.
    pub(crate) actor: String,
    pub(crate) secret: String,
}

struct App {
    registry: Registry,
    /// Refusals of writes without a valid token: bounded.
    refusals: crate::refusals::Refusals,
    /// Time a request body may take to arrive.
    body_timeout: Duration,
    tokens: Vec<Token>,
    /// Folders `file://` artifact URLs may point into (canonical); empty:
    /// such URLs are refused.
    files_from: Vec<PathBuf>,
    /// Where the registry stands, for the change stream.
    marks: watch::Sender<Marks>,
    /// Wakes the marks watcher early after this server wrote.
    wrote: Notify,
    /// Snapshots already serialized.
    snapshots: SnapshotCache,
    /// Uploads waiting for their confirmation.
    previews: crate::preview::Previews,
    /// Where the registry is, for the doctor.
    location: yoi_registry::Location,
    home: PathBuf,
    /// What the page's header shows about this server.
    posture: Posture,
    /// Held while the doctor runs: one run at a time.
    doctor: std::sync::Mutex<()>,
}

/// How exposed this server and its registry are, for the page's header.
#[derive(Debug, Clone, serde::Serialize)]
struct Posture {
    /// `sqlite` (a registry folder) or `postgresql`.
    registry: &'static str,
    /// The registry's traffic crosses a network unencrypted (a PostgreSQL
    /// database on another machine: Yoi speaks no TLS to it).
    database_in_clear: bool,
    /// The server listens beyond loopback, in plain HTTP.
    exposed: bool,
    /// Folders `file://` artifacts may be read from.
    files_from: usize,
    /// `YOI_SAFE_MODE` is set where the server runs: hosts started from
    /// here boot with no plugin.
    safe_mode: bool,
}

/// What a snapshot was read at and asked for. Every write moves a mark
/// (state changes bump the change counter, each also appends an audit
/// record, deleted events are audited, and audit ids only grow), so equal
/// keys mean equal answers.
/// The contract's shape also says where each host stands, which changes
/// with time alone (a host falls silent without a write): its key carries
/// the heartbeat period it was built in.
type SnapshotKey = (Marks, Window, Window, Shape, i64);

/// The last few snapshots served, as JSON: dashboards polling an unchanged
/// registry cost one cheap read of its marks, not a read and serialization
/// of every version.
#[derive(Default)]
struct SnapshotCache {
    entries: std::sync::Mutex<std::collections::VecDeque<(SnapshotKey, Bytes)>>,
    /// Held while one is built, so a burst of requests after a change
    /// builds it once.
    building: std::sync::Mutex<()>,
    /// The versions' manifests, parsed once, for the contract's shape.
    manifests: crate::push::Manifests,
}

impl SnapshotCache {
    const KEPT: usize = 4;

    fn get(&self, key: &SnapshotKey) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, b)| b.clone())
    }

    fn put(&self, key: SnapshotKey, body: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(k, _)| (k.1, k.2, k.3) != (key.1, key.2, key.3));
        if entries.len() == Self::KEPT {
            entries.pop_front();
        }
        entries.push_back((key, body));
    }

    /// The snapshot's JSON for `audits` and `events` as the registry stands.
    fn serve(
        &self,
        registry: &Registry,
        (audits, events): (Window, Window),
        shape: Shape,
    ) -> Result<Bytes, yoi_registry::RegistryError> {
        let period = match shape {
            Shape::Plain => 0,
            Shape::Contract => {
                yoi_registry::now_ms() / i64::try_from(yoi_host::HEARTBEAT.as_millis()).unwrap_or(1)
            }
        };
        let key = (registry.marks()?, audits, events, shape, period);
        if let Some(body) = self.get(&key) {
            return Ok(body);
        }
        let _one = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(body) = self.get(&key) {
            return Ok(body);
        }
        // Read after the marks: if something was written in between, this
        // holds more than the key says, and the next request's key differs.
        let snapshot = registry.snapshot_page(audits, events)?;
        let body = match shape {
            Shape::Plain => serde_json::to_vec(&snapshot),
            Shape::Contract => serde_json::to_vec(&crate::push::ContractSnapshot::of(
                &snapshot,
                &self.manifests,
            )),
        };
        let body = Bytes::from(body.unwrap_or_default());
        self.put(key, body.clone());
        Ok(body)
    }
}

/// Reads the token file, creating it (owner-only) with one read-write
/// token for `operator` and one read-only token for `dashboard` when absent.
pub(crate) fn tokens(dir: &Path) -> Result<Vec<Token>> {
    tokens_at(&dir.join(TOKENS_FILE), true)
}

/// Reads a token file (`rw|ro ACTOR TOKEN` lines), refusing one others can
/// read; with `create`, a missing one is made first.
pub(crate) fn tokens_at(path: &Path, create: bool) -> Result<Vec<Token>> {
    let path = path.to_path_buf();
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(&path) {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "{} can be read by others (mode {mode:o}): anyone on this machine could take \
                 its tokens. Run `chmod 600 {}` (and replace the tokens if others may have \
                 read them), then start again",
                path.display(),
                path.display()
            );
        }
    }
    if create && !path.exists() {
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
        let mut file = file
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        writeln!(
            file,
            "# access actor token: one per line; `rw` may write, `ro` may only read.\n\
             rw operator {}\nro dashboard {}",
            random_token()?,
            random_token()?
        )?;
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let access = match parts.first() {
            Some(&"rw") => Access::Write,
            Some(&"ro") => Access::Read,
            _ => anyhow::bail!(
                "{}:{}: a line is `rw|ro ACTOR TOKEN`",
                path.display(),
                n + 1
            ),
        };
        let [_, actor, secret] = parts[..] else {
            anyhow::bail!(
                "{}:{}: a line is `rw|ro ACTOR TOKEN`",
                path.display(),
                n + 1
            );
        };
        if secret.len() < 32 {
            anyhow::bail!(
                "{}:{}: the token is shorter than 32 characters; use a long random one",
                path.display(),
                n + 1
            );
        }
        out.push(Token {
            access,
            actor: actor.to_owned(),
            secret: secret.to_owned(),
        });
    }
    Ok(out)
}

/// A JSON error answer with its status.
fn refuse(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "ok": false, "error": error }))).into_response()
}

impl App {
    /// The actor the audit log records: the token's, or, when the request
    /// names someone it acts for (an agent driving the page), `who via
    /// token-actor`, so the log keeps both.
    fn actor(&self, token: &Token, asked: Option<&str>) -> Result<String, String> {
        match asked {
            None => Ok(token.actor.clone()),
            Some(who) if who == token.actor => Ok(who.to_owned()),
            Some(who) => {
                let fine = !who.is_empty()
                    && who.len() <= 64
                    && who
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
                if fine {
                    Ok(format!("{who} via {}", token.actor))
                } else {
                    Err(format!(
                        "`actor` must be 1 to 64 letters, digits or `._@-`, not {who:?}"
                    ))
                }
            }
        }
    }

    /// The token the request carries, if it is one of ours.
    fn token(&self, headers: &HeaderMap) -> Option<&Token> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        self.tokens.iter().find(|t| same(&t.secret, given))
    }

    /// The token the request carries, if it may do `need`; otherwise the
    /// status and the reason.
    fn authorize(
        &self,
        headers: &HeaderMap,
        need: Access,
    ) -> Result<&Token, (StatusCode, &'static str)> {
        if !headers.contains_key(header::AUTHORIZATION) {
            return Err((
                StatusCode::UNAUTHORIZED,
                "send `Authorization: Bearer <token>` with a token from the registry's serve-tokens file",
            ));
        }
        let token = self
            .token(headers)
            .ok_or((StatusCode::UNAUTHORIZED, "the token is not in serve-tokens"))?;
        if need == Access::Write && token.access != Access::Write {
            return Err((
                StatusCode::FORBIDDEN,
                "this token may only read; writes need an `rw` token",
            ));
        }
        Ok(token)
    }

    /// [`App::authorize`] for reads, which are not audited.
    #[allow(clippy::result_large_err)]
    fn reader(&self, headers: &HeaderMap) -> Result<&Token, Response> {
        self.authorize(headers, Access::Read)
            .map_err(|(status, why)| refuse(status, why))
    }
}

/// The HTTP status of an answer: its error code says what went wrong.
fn status_of(answer: &Answer) -> StatusCode {
    answer.error.as_deref().map_or(StatusCode::OK, status_for)
}

/// The HTTP status of a registry error, by its code.
fn status_for(error: &str) -> StatusCode {
    match error.split_whitespace().next().unwrap_or_default() {
        "R0102" | "R0115" => StatusCode::NOT_FOUND,
        "R0106" | "R0108" | "R0109" | "R0110" | "R0112" | "R0113" => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        // The database is down or too busy: try again later.
        "R0310" | "R0312" => StatusCode::SERVICE_UNAVAILABLE,
        code if code.starts_with("R03") => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::CONFLICT,
    }
}

fn answered(answer: Answer) -> Response {
    (status_of(&answer), axum::Json(answer)).into_response()
}

/// A request refused before it became an operation (bad JSON, an unknown
/// field, a bad `actor`): 400, and audited as `action`.
fn bad_request(app: &App, actor: &str, action: &str, why: &str) -> Response {
    let answer = app.registry.refused(actor, action, why);
    (StatusCode::BAD_REQUEST, axum::Json(answer)).into_response()
}

/// The snapshot's query: a cursor per log, or none for the newest records.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    events_after: Option<i64>,
    #[serde(default = "page_size")]
    limit: usize,
    /// `contract`: the push contract's shape ([`crate::push`]).
    #[serde(default)]
    shape: Shape,
}

/// Which shape a snapshot is served in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Shape {
    /// The registry's own (docs/operations.md).
    #[default]
    Plain,
    /// The push contract's (docs/serve.md, "Scripts in the page").
    Contract,
}

/// Records per log in one snapshot unless asked otherwise.
pub(crate) fn page_size() -> usize {
    100
}

/// The most records per log one snapshot carries.
pub(crate) const MAX_PAGE: usize = 1000;

/// The windows a snapshot query asks for; `yoi snapshot` uses the same, so
/// the CLI prints exactly what the API answers.
pub(crate) fn windows(
    after: Option<i64>,
    events_after: Option<i64>,
    limit: usize,
) -> (Window, Window) {
    let limit = limit.min(MAX_PAGE);
    (
        Window::from_cursor(after, limit),
        Window::from_cursor(events_after, limit),
    )
}

async fn snapshot(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(refused) = app.reader(&headers) {
        return refused;
    }
    let Query(page) = match page {
        Ok(page) => page,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!(
                    "{e}; the query takes `after`, `events_after`, `limit` and `shape` (`plain` or `contract`)"
                ),
            );
        }
    };
    let windows = windows(page.after, page.events_after, page.limit);
    let shape = page.shape;
    match tokio::task::spawn_blocking(move || app.snapshots.serve(&app.registry, windows, shape))
        .await
    {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The query of an upgrade plan.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Candidate {
    plugin: String,
    version: String,
}

/// What activating a candidate would change and what it still needs
/// (`yoi upgrade --json`); reads only.
async fn upgrade_plan(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    query: Result<Query<Candidate>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(refused) = app.reader(&headers) {
        return refused;
    }
    let Query(c) = match query {
        Ok(q) => q,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("{e}; the query is `plugin=ID&version=VERSION`"),
            );
        }
    };
    let version = match semver::Version::parse(&c.version) {
        Ok(v) => v,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("`{}` is not a semver version: {e}", c.version),
            );
        }
    };
    let plan =
        tokio::task::spawn_blocking(move || app.registry.upgrade_plan(&c.plugin, &version)).await;
    match plan {
        Ok(Ok(plan)) => axum::Json(plan).into_response(),
        Ok(Err(e)) => {
            let error = e.to_string();
            refuse(status_for(&error), &error)
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// What `yoi doctor` finds, for any token; one run at a time.
async fn doctor(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(refused) = app.reader(&headers) {
        return refused;
    }
    let report = tokio::task::spawn_blocking(move || {
        let Ok(_one) = app.doctor.try_lock() else {
            return None;
        };
        Some(crate::doctor::examine(&app.location, &app.home, None))
    })
    .await;
    match report {
        Ok(Some(report)) => axum::Json(report).into_response(),
        Ok(None) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the doctor is running for another request (one run at a time): try again in a moment",
        ),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Who the token belongs to and what it may do: the page shows it.
async fn whoami(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match app.reader(&headers) {
        Ok(token) => axum::Json(json!({
            "actor": token.actor,
            "access": if token.access == Access::Write { "rw" } else { "ro" },
            "posture": app.posture,
        }))
        .into_response(),
        Err(refused) => refused,
    }
}

/// The actor the audit log names for a request with no valid token.
const UNAUTHENTICATED: &str = "unauthenticated";

/// Admits a write: the token must be `rw`, and the body must fit `limit`.
/// The token is checked before a byte of the body is read. Every refusal
/// is answered with its audit record, like any other failed write.
async fn admit(
    app: &Arc<App>,
    (headers, peer): (&HeaderMap, crate::listener::Peer),
    body: axum::body::Body,
    action: &'static str,
    limit: usize,
) -> Result<(Token, Bytes), Response> {
    let audited = |actor: String, status: StatusCode, why: String| {
        let app = app.clone();
        async move {
            let answer =
                tokio::task::spawn_blocking(move || app.registry.refused(&actor, action, &why))
                    .await;
            match answer {
                Ok(answer) => (status, axum::Json(answer)).into_response(),
                Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            }
        }
    };
    let token = match app.authorize(headers, Access::Write) {
        Ok(token) => token.clone(),
        Err((status, why)) => {
            let actor = match status {
                // A read-only token is known: its actor tried to write.
                StatusCode::FORBIDDEN => app
                    .token(headers)
                    .map_or(UNAUTHENTICATED.to_owned(), |t| t.actor.clone()),
                _ => UNAUTHENTICATED.to_owned(),
            };
            // Anyone can send these: past each address's first in a window
            // they are counted, and recorded as one summary.
            if actor == UNAUTHENTICATED
                && app.refusals.decide(peer.0, yoi_registry::now_ms())
                    == crate::refusals::Decision::Count
            {
                let why = format!(
                    "{why} (repeated refusals from your address are counted and recorded as one \
                     summary, not one by one; docs/serve.md)"
                );
                let answer = json!({ "ok": false, "error": why, "audit": null });
                return Err((status, axum::Json(answer)).into_response());
            }
            return Err(audited(actor, status, why.to_owned()).await);
        }
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let why = format!(
            "the body is declared as {} bytes, larger than this route's limit of {limit} bytes",
            declared.unwrap_or_default()
        );
        return Err(audited(token.actor.clone(), StatusCode::PAYLOAD_TOO_LARGE, why).await);
    }
    let read = tokio::time::timeout(app.body_timeout, axum::body::to_bytes(body, limit)).await;
    let Ok(read) = read else {
        let why = format!(
            "the body did not arrive within {} s (--body-timeout)",
            app.body_timeout.as_secs_f64()
        );
        return Err(audited(token.actor.clone(), StatusCode::REQUEST_TIMEOUT, why).await);
    };
    match read {
        Ok(bytes) => Ok((token, bytes)),
        Err(e) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            let (status, why) = if too_big {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than this route's limit of {limit} bytes"),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    format!("the body could not be read: {e}"),
                )
            };
            Err(audited(token.actor.clone(), status, why).await)
        }
    }
}

/// A JSON body as `T`, with the actor the audit log records for it; or the
/// request's refusal (400, audited as `action`). `shape` says what `T`
/// looks like when it does not parse.
#[allow(clippy::result_large_err)]
fn parse_as<T: serde::de::DeserializeOwned>(
    app: &App,
    token: &Token,
    action: &str,
    body: &[u8],
    shape: &str,
) -> Result<(T, String), Response> {
    let refuse = |actor: &str, why: &str| bad_request(app, actor, action, why);
    let mut value = serde_json::from_slice::<serde_json::Value>(body)
        .map_err(|e| refuse(&token.actor, &format!("the body is not JSON: {e}")))?;
    let actor = take_actor(&mut value)
        .and_then(|asked| app.actor(token, asked.as_deref()))
        .map_err(|why| refuse(&token.actor, &why))?;
    let parsed =
        serde_json::from_value::<T>(value).map_err(|e| refuse(&actor, &format!("{shape}: {e}")))?;
    Ok((parsed, actor))
}

/// Splits the optional `actor` off a JSON object body.
fn take_actor(value: &mut serde_json::Value) -> Result<Option<String>, String> {
    match value.as_object_mut().and_then(|o| o.remove("actor")) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`actor` must be a string, not {other}")),
    }
}

/// A write route's frame: admits the request (the token before a byte of
/// the body, the size, the time it takes), runs `write` off the executor
/// with the admitted token and body, and wakes the change watcher. An
/// error of `write` that is not an answer is a 500 with its reason.
async fn write_route<F>(
    app: Arc<App>,
    (headers, peer): (&HeaderMap, crate::listener::Peer),
    body: axum::body::Body,
    (action, limit): (&'static str, usize),
    write: F,
) -> Response
where
    F: FnOnce(&App, Token, Bytes) -> Result<Response> + Send + 'static,
{
    let (token, body) = match admit(&app, (headers, peer), body, action, limit).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let app2 = app.clone();
    let answer = tokio::task::spawn_blocking(move || write(&app2, token, body)).await;
    app.wrote.notify_one();
    match answer {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn operate(
    State(app): State<Arc<App>>,
    axum::Extension(peer): axum::Extension<crate::listener::Peer>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let limits = ("request", MAX_OPERATION_BYTES);
    write_route(app, (&headers, peer), body, limits, |app, token, body| {
        let shape = "the operation is not valid JSON for this API";
        Ok(
            match parse_as::<Operation>(app, &token, "request", &body, shape) {
                Ok((op, actor)) => answered(app.registry.apply(&op, &actor)),
                Err(refused) => refused,
            },
        )
    })
    .await
}

/// A package given as JSON: the manifest (plugin.toml's text, or the same
/// as a JSON object), the artifact's digest (optional: the manifest pins
/// one too), and the artifact as base64 or as a `file://` URL inside a
/// folder the server allows. The push contract's names, `artifactDigest`
/// and `artifactUrl`, mean the same; one field given under both names is
/// refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonPackage {
    manifest: serde_json::Value,
    #[serde(default, alias = "artifactDigest")]
    artifact_digest: Option<String>,
    #[serde(default, alias = "artifactUrl")]
    artifact: Option<String>,
}

/// What a JSON package looks like, for its refusals.
const JSON_PACKAGE: &str = "a JSON package is { manifest, artifact_digest (or artifactDigest), \
     artifact (or artifactUrl), actor? }, each field under one name";

impl App {
    /// The manifest text and artifact bytes of a JSON package, or why not.
    fn unpack(&self, pkg: JsonPackage) -> Result<(String, Vec<u8>), String> {
        let manifest = match pkg.manifest {
            serde_json::Value::String(text) => text,
            value @ serde_json::Value::Object(_) => toml::to_string(&value)
                .map_err(|e| format!("`manifest` cannot be written as plugin.toml: {e}"))?,
            other => {
                return Err(format!(
                    "`manifest` must be plugin.toml's text or a JSON object, not {other}"
                ));
            }
        };
        let Some(given) = pkg.artifact else {
            return Err(
                "the package has no artifact: Yoi stores and inspects the component itself, so \
                 send its bytes as `artifact` (base64) or name them with `artifactUrl` \
                 (a file:// URL inside a --files-from folder)"
                    .into(),
            );
        };
        let claimed = pkg
            .artifact_digest
            .map(|d| d.parse::<Digest>())
            .transpose()
            .map_err(|e| format!("`artifact_digest`: {e}"))?;
        let artifact = self.artifact(&given)?;
        // Without a claim here, the manifest's own `runtime.digest` is
        // checked against the bytes when the package is opened.
        let actual = Digest::of(&artifact);
        if let Some(claimed) = claimed
            && actual != claimed
        {
            return Err(format!(
                "`artifact_digest` is {claimed} but the artifact's bytes hash to {actual}: \
                 send the digest of the bytes you send"
            ));
        }
        Ok((manifest, artifact))
    }

    /// The artifact's bytes: base64, or a `file://` URL that must land (links
    /// followed) inside a `--files-from` folder. Other schemes are refused.
    fn artifact(&self, given: &str) -> Result<Vec<u8>, String> {
        // A URL has a scheme before `:`; base64 never holds a `:`.
        let Some((scheme, _)) = given.split_once(':') else {
            return base64::engine::general_purpose::STANDARD
                .decode(given.trim())
                .map_err(|e| format!("`artifact` is neither base64 nor a file:// URL: {e}"));
        };
        if !scheme.eq_ignore_ascii_case("file") {
            return Err(format!(
                "`artifact` uses the scheme `{scheme}:`; only base64 bytes and file:// URLs are accepted"
            ));
        }
        if self.files_from.is_empty() {
            return Err(
                "file:// artifacts are off on this server: start `yoi serve --files-from DIR` \
                 to allow files inside DIR, or send the artifact as base64"
                    .into(),
            );
        }
        let path = url::Url::parse(given)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .ok_or_else(|| format!("`{given}` is not a file:// URL of a local path"))?;
        let mut why = String::new();
        for root in &self.files_from {
            match yoi_manifest::read_artifact_in(root, &path) {
                Ok(bytes) => return Ok(bytes),
                Err(d) if d.code == yoi_manifest::Code::ArtifactPath => {}
                Err(d) => return Err(format!("{} {}", d.code.as_str(), d.message)),
            }
            why = format!(
                "`{}` is not inside a folder given with --files-from (links are followed only within it)",
                path.display()
            );
        }
        Err(why)
    }
}

/// Publishes a package: a `.yoi` archive as the raw body, opened with the
/// same checks as `yoi publish`, or a JSON package (`Content-Type:
/// application/json`, see [`JsonPackage`]).
async fn publish(
    State(app): State<Arc<App>>,
    axum::Extension(peer): axum::Extension<crate::listener::Peer>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let limits = ("publish", MAX_UPLOAD_BYTES);
    write_route(
        app,
        (&headers, peer),
        body,
        limits,
        move |app, token, body| {
            if !json {
                let mut file = tempfile::Builder::new().suffix(".yoi").tempfile()?;
                file.write_all(&body)?;
                return Ok(publish_archive(app, file.path(), &token.actor));
            }
            let parsed = parse_as::<JsonPackage>(app, &token, "publish", &body, JSON_PACKAGE);
            let (pkg, actor) = match parsed {
                Ok(parsed) => parsed,
                Err(refused) => return Ok(refused),
            };
            let opened = app.unpack(pkg).and_then(|(manifest, artifact)| {
                Package::from_bytes("upload", &manifest, artifact, &Host::compat())
                    .map_err(|e| e.to_string())
            });
            Ok(answered(crate::admission::publish(
                &app.registry,
                opened,
                "the uploaded package",
                &actor,
            )))
        },
    )
    .await
}

/// Publishes the `.yoi` archive at `path` with `yoi publish`'s checks, as
/// `actor`; refusals are audited.
fn publish_archive(app: &App, path: &Path, actor: &str) -> Response {
    let opened = Package::open_archive(path, &Host::compat()).map_err(|e| e.to_string());
    answered(crate::admission::publish(
        &app.registry,
        opened,
        "the uploaded package",
        actor,
    ))
}

/// Opens a `.yoi` upload with the checks `yoi publish` makes before the
/// compile, and holds it under a preview token: answers what it is and
/// asks for ([`crate::preview`]). Nothing is published; a package that
/// does not open is refused and audited.
async fn preview(
    State(app): State<Arc<App>>,
    axum::Extension(peer): axum::Extension<crate::listener::Peer>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let limits = ("preview", MAX_UPLOAD_BYTES);
    write_route(app, (&headers, peer), body, limits, |app, token, body| {
        let mut file = tempfile::Builder::new().suffix(".yoi").tempfile()?;
        file.write_all(&body)?;
        let package = match Package::open_archive(file.path(), &Host::compat()) {
            Ok(package) => package,
            Err(e) => {
                let why = format!("the uploaded package cannot be previewed: {e}");
                return Ok(answered(app.registry.refused(
                    &token.actor,
                    "preview",
                    &why,
                )));
            }
        };
        let digest = Digest::of(package.artifact());
        let held = app.previews.hold(&body, digest)?;
        let preview = crate::preview::describe(&app.registry, &package, held)?;
        Ok(axum::Json(json!({ "ok": true, "record": preview })).into_response())
    })
    .await
}

/// The confirmation of a preview: its token and the digest it showed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirmation {
    token: String,
    digest: String,
}

/// Publishes what a preview showed: the token (once, before it expires)
/// and the digest it showed must match.
async fn confirm_preview(
    State(app): State<Arc<App>>,
    axum::Extension(peer): axum::Extension<crate::listener::Peer>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let limits = ("publish", MAX_OPERATION_BYTES);
    write_route(app, (&headers, peer), body, limits, |app, token, body| {
        let shape = "a confirmation is { token, digest, actor? }: the preview's token and the digest it showed";
        let (c, actor) = match parse_as::<Confirmation>(app, &token, "publish", &body, shape) {
            Ok(parsed) => parsed,
            Err(refused) => return Ok(refused),
        };
        Ok(match app.previews.take(&c.token, &c.digest) {
            Ok(archive) => publish_archive(app, archive.path(), &actor),
            Err(why) => {
                let status = match why {
                    crate::preview::Refused::Unknown => StatusCode::NOT_FOUND,
                    crate::preview::Refused::OtherDigest { .. } => StatusCode::CONFLICT,
                };
                let answer = app.registry.refused(&actor, "publish", &why.to_string());
                (status, axum::Json(answer)).into_response()
            }
        })
    })
    .await
}

/// Watches the registry's marks: after each write through this server at
/// once, otherwise every quarter second, so changes from other processes
/// (the CLI, a host's crash guard) arrive within that. One watcher serves
/// every subscriber.
async fn watch_marks(app: Arc<App>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = app.wrote.notified() => {}
        }
        let registry = app.clone();
        if let Ok(Ok(now)) = tokio::task::spawn_blocking(move || registry.registry.marks()).await {
            app.marks.send_if_modified(|marks| {
                let moved = *marks != now;
                *marks = now;
                moved
            });
        }
    }
}

/// The change stream: first `marks` (where the registry stands now), then
/// `plugins.updated` with the new marks whenever the registry's state, its
/// audit log or its runtime events move.
async fn changes(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(refused) = app.reader(&headers) {
        return refused;
    }
    let mut rx = app.marks.subscribe();
    let first = *rx.borrow_and_update();
    let hello = Event::default()
        .event("marks")
        .data(json!(first).to_string());
    let updates = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let now = *rx.borrow_and_update();
        let event = Event::default()
            .event("plugins.updated")
            .data(json!(now).to_string());
        Some((event, rx))
    });
    let stream = futures_util::StreamExt::map(
        futures_util::StreamExt::chain(futures_util::stream::iter([hello]), updates),
        Ok::<_, std::convert::Infallible>,
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The page and its assets, in the binary: no CDN, nothing fetched from
/// elsewhere, and a policy that lets the page load only its own script.
fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, kind)], body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// What `yoi serve` is started with.
pub(crate) struct Options {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Folders `file://` artifacts may come from.
    pub files_from: Vec<PathBuf>,
    /// Connections, timeouts, and the `Host` names besides the listen
    /// address.
    pub limits: crate::listener::Limits,
    /// How often refusals of writes without a valid token are summarized.
    pub refusal_window: Duration,
}

/// Records, at the end of each window, the refusals that were counted
/// rather than recorded one by one.
async fn summarize_refusals(app: Arc<App>) {
    loop {
        tokio::time::sleep(app.refusals.window()).await;
        let Some(text) = app.refusals.close_window() else {
            continue;
        };
        let writer = app.clone();
        let _ = tokio::task::spawn_blocking(move || {
            writer
                .registry
                .refused(UNAUTHENTICATED, "refusals_summarized", &text)
        })
        .await;
        app.wrote.notify_one();
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ops/plugins") }))
        .route(
            "/ops/plugins",
            get(|| async {
                asset(
                    include_str!("page/plugins.html"),
                    "text/html; charset=utf-8",
                )
            }),
        )
        .route(
            "/ops/plugins.js",
            get(|| async {
                asset(
                    include_str!("page/plugins.js"),
                    "text/javascript; charset=utf-8",
                )
            }),
        )
        .route(
            "/ops/plugins.css",
            get(|| async { asset(include_str!("page/plugins.css"), "text/css; charset=utf-8") }),
        )
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/upgrade", get(upgrade_plan))
        .route("/api/v1/doctor", get(doctor))
        .route("/api/v1/operations", post(operate))
        .route("/api/v1/packages", post(publish))
        .route("/api/v1/previews", post(preview))
        .route("/api/v1/previews/publish", post(confirm_preview))
        .route("/api/v1/changes", get(changes))
        .fallback(|| async { refuse(StatusCode::NOT_FOUND, "no such route; see docs/serve.md") })
        .with_state(app)
}

pub(crate) fn serve(
    location: &yoi_registry::Location,
    home: &Path,
    options: Options,
) -> Result<ExitCode> {
    let registry = Registry::open_at(location, home)
        .with_context(|| format!("opening the registry at {location}"))?;
    let tokens = tokens(home)?;
    let mut files_from = Vec::new();
    for folder in &options.files_from {
        files_from.push(
            folder
                .canonicalize()
                .with_context(|| format!("--files-from {}: no such folder", folder.display()))?,
        );
    }
    let marks = registry.marks()?;
    let app = Arc::new(App {
        registry,
        refusals: crate::refusals::Refusals::new(options.refusal_window),
        body_timeout: options.limits.body_timeout,
        tokens,
        files_from,
        marks: watch::Sender::new(marks),
        wrote: Notify::new(),
        snapshots: SnapshotCache::default(),
        previews: crate::preview::Previews::default(),
        posture: Posture {
            registry: match location {
                yoi_registry::Location::Folder(_) => "sqlite",
                yoi_registry::Location::Postgres(_) => "postgresql",
            },
            database_in_clear: location.in_clear_over_network(),
            exposed: !options.listen.ip().is_loopback(),
            files_from: options.files_from.len(),
            safe_mode: yoi_host::safe_mode_from_env(),
        },
        location: location.clone(),
        home: home.to_path_buf(),
        doctor: std::sync::Mutex::new(()),
    });
    let router = router(app.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("listening on {}", options.listen))?;
        let addr = listener.local_addr()?;
        let mut limits = options.limits;
        limits.hosts = crate::listener::Limits::hosts_for(addr, &limits.hosts);
        tokio::spawn(summarize_refusals(app.clone()));
        tokio::spawn(watch_marks(app));
        // Whoever started the server may stop reading its output: that must
        // not stop the server, so write errors are ignored.
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "listening on http://{addr}\npage: http://{addr}/ops/plugins (sign in with a token)\ntokens: {}",
            token_path(home).display()
        );
        let _ = out.flush();
        if !addr.ip().is_loopback() {
            errln!(
                "warning: yoi serve listens on {addr}, beyond this machine, over plain HTTP: \
                 tokens and packages cross the network unencrypted. Listen on loopback \
                 (--listen 127.0.0.1:PORT) behind a TLS proxy instead, and name the proxy's \
                 host with --allow-host (docs/serve.md)"
            );
        }
        crate::listener::run(listener, router, limits).await;
        Ok(ExitCode::SUCCESS)
    })
}

pub(crate) fn token_path(dir: &Path) -> PathBuf {
    dir.join(TOKENS_FILE)
}
