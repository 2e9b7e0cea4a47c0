//! `yoi serve`: the registry over HTTP for automations and dashboards.
//! Every write answers `{ ok, error?, audit, record? }` with the audit
//! record it left (docs/operations.md, "The HTTP API").
//!
//! Security: it listens on loopback unless told otherwise; every request
//! needs a bearer token from `<registry>/serve-tokens` (created on first
//! start, readable by its owner only), which also names the actor the audit
//! log records; read-only tokens cannot write. There are no cookies, so no
//! cross-site request can act with an operator's credentials.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use yoi_host::Host;
use yoi_manifest::Package;
use yoi_registry::{Answer, Operation, Registry};

/// The token file in the registry folder.
pub(crate) const TOKENS_FILE: &str = "serve-tokens";
/// Largest operation body.
const MAX_OPERATION_BYTES: usize = 64 * 1024;
/// Largest package upload: the artifact limit, with room for the archive.
const MAX_PACKAGE_BYTES: usize = yoi_manifest::MAX_ARTIFACT_BYTES as usize + 2 * 1024 * 1024;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

#[derive(Debug, Clone)]
struct Token {
    access: Access,
    actor: String,
    secret: String,
}

struct App {
    registry: Registry,
    tokens: Vec<Token>,
}

/// Reads the token file, creating it (owner-only) with one read-write
/// token for `operator` and one read-only token for `dashboard` when absent.
fn tokens(dir: &Path) -> Result<Vec<Token>> {
    let path = dir.join(TOKENS_FILE);
    if !path.exists() {
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

fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?,
        &mut bytes,
    )?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Equal without an early exit, so a wrong token's time says nothing about
/// the right one.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// A JSON error answer with its status.
fn refuse(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "ok": false, "error": error }))).into_response()
}

impl App {
    /// The token the request carries, if it may do `need`.
    #[allow(clippy::result_large_err)]
    fn authorize(&self, headers: &HeaderMap, need: Access) -> Result<&Token, Response> {
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                refuse(
                    StatusCode::UNAUTHORIZED,
                    "send `Authorization: Bearer <token>` with a token from the registry's serve-tokens file",
                )
            })?;
        let token = self
            .tokens
            .iter()
            .find(|t| same(&t.secret, given))
            .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "the token is not in serve-tokens"))?;
        if need == Access::Write && token.access != Access::Write {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "this token may only read; writes need an `rw` token",
            ));
        }
        Ok(token)
    }
}

/// The HTTP status of an answer: its error code says what went wrong.
fn status_of(answer: &Answer) -> StatusCode {
    let Some(error) = &answer.error else {
        return StatusCode::OK;
    };
    match error.split_whitespace().next().unwrap_or_default() {
        "R0102" => StatusCode::NOT_FOUND,
        "R0106" | "R0108" | "R0109" | "R0110" => StatusCode::UNPROCESSABLE_ENTITY,
        code if code.starts_with("R03") => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::CONFLICT,
    }
}

fn answered(answer: Answer) -> Response {
    (status_of(&answer), axum::Json(answer)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default)]
    after: i64,
    #[serde(default = "page_size")]
    limit: usize,
}

fn page_size() -> usize {
    100
}

async fn snapshot(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(page): Query<Page>,
) -> Response {
    if let Err(refused) = app.authorize(&headers, Access::Read) {
        return refused;
    }
    let limit = page.limit.min(1000);
    match tokio::task::spawn_blocking(move || app.registry.snapshot_page(page.after, limit)).await {
        Ok(Ok(snap)) => axum::Json(snap).into_response(),
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn operate(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let actor = match app.authorize(&headers, Access::Write) {
        Ok(token) => token.actor.clone(),
        Err(refused) => return refused,
    };
    let parsed = serde_json::from_slice::<Operation>(&body);
    let answer = tokio::task::spawn_blocking(move || match parsed {
        Ok(op) => answered(app.registry.apply(&op, &actor)),
        // A request that does not parse is refused, and audited.
        Err(e) => {
            let why = format!("the operation is not valid JSON for this API: {e}");
            let answer = app.registry.refused(&actor, "request", &why);
            (StatusCode::BAD_REQUEST, axum::Json(answer)).into_response()
        }
    })
    .await;
    answer.unwrap_or_else(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

/// A `.yoi` archive as the raw body: opened with the same checks as
/// `yoi publish`, then published.
async fn publish(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let actor = match app.authorize(&headers, Access::Write) {
        Ok(token) => token.actor.clone(),
        Err(refused) => return refused,
    };
    let answer = tokio::task::spawn_blocking(move || -> Result<Answer> {
        let mut file = tempfile::Builder::new().suffix(".yoi").tempfile()?;
        file.write_all(&body)?;
        let compat = Host::compat();
        Ok(match Package::open_archive(file.path(), &compat) {
            Ok(package) => app
                .registry
                .answer(|r| r.publish(&package, &compat, &actor)),
            Err(e) => app.registry.refused(
                &actor,
                "publish",
                &format!("the uploaded package was refused: {e}"),
            ),
        })
    })
    .await;
    match answer {
        Ok(Ok(answer)) => answered(answer),
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `plugins.updated` whenever the registry's change counter moves, whoever
/// moved it (this server, the CLI, a host's crash guard): polled, so
/// changes from other processes arrive within a quarter of a second.
async fn changes(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(refused) = app.authorize(&headers, Access::Read) {
        return refused;
    }
    let start = app.registry.change_seq().unwrap_or(0);
    let stream = futures_util::stream::unfold((app, start), |(app, mut seen)| async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = app.registry.change_seq().unwrap_or(seen);
            if now != seen {
                seen = now;
                let event = Event::default()
                    .event("plugins.updated")
                    .data(json!({ "seq": now }).to_string());
                return Some((Ok::<_, std::convert::Infallible>(event), (app, seen)));
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

pub(crate) fn serve(dir: &Path, listen: SocketAddr) -> Result<ExitCode> {
    let registry = Registry::open(dir)
        .with_context(|| format!("opening the registry at {}", dir.display()))?;
    let tokens = tokens(dir)?;
    let app = Arc::new(App { registry, tokens });
    let router = Router::new()
        .route("/api/v1/snapshot", get(snapshot))
        .route(
            "/api/v1/operations",
            post(operate).layer(DefaultBodyLimit::max(MAX_OPERATION_BYTES)),
        )
        .route(
            "/api/v1/packages",
            post(publish).layer(DefaultBodyLimit::max(MAX_PACKAGE_BYTES)),
        )
        .route("/api/v1/changes", get(changes))
        .fallback(|| async {
            refuse(
                StatusCode::NOT_FOUND,
                "no such route; see docs/operations.md",
            )
        })
        .with_state(app);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        // Whoever started the server may stop reading its output: that must
        // not stop the server, so write errors are ignored.
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "listening on http://{addr}\ntokens: {}",
            token_path(dir).display()
        );
        let _ = out.flush();
        axum::serve(listener, router).await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn token_path(dir: &Path) -> PathBuf {
    dir.join(TOKENS_FILE)
}
