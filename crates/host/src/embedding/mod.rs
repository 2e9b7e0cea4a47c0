//! The host in JSON terms: what the Node and Python packages wrap
//! (docs/embedding.md).
//!
//! Every value crosses as JSON with the field names of Yoi's JSON events
//! and answers (`Host::dispatch_json` takes the same events), and every
//! error as an [`EmbedError`]: a stable code, the message and the fix. A
//! binding only moves strings, bytes and callbacks across its language's
//! boundary; what the calls mean is decided here, once for every language.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

mod declarations;

pub use declarations::{python_declarations, typescript_declarations};

use crate::{
    Chunk, ChunkSender, Completion, CompletionOutcome, CompletionRequest, HookContext, HookPoint,
    Host, HostConfig, HostError, NativeProvider, NativeTool, ProviderError,
};

/// How many streamed chunks wait for the reader before the provider waits.
const STREAM_BUFFER: usize = 64;

/// A call begun on the caller's thread by [`start_here`].
pub enum Started<F: Future> {
    /// It finished there: its answer.
    Done(F::Output),
    /// It is waiting (on a host call, a queue, a timer) or its guest used
    /// up an epoch tick: finish it on Yoi's runtime.
    Running(Pin<Box<F>>),
}

/// Polls `work` once on the calling thread, which must be inside a Tokio
/// runtime's context (`Runtime::enter`).
///
/// A dispatch that neither waits nor computes for a whole epoch tick (5
/// ms), which is most of them, then finishes where it began: no hand-off
/// to a worker thread and back, which costs an event loop tens of
/// microseconds. Everything else comes back as [`Started::Running`], at
/// most one tick later (a guest yields at every tick: docs/embedding.md,
/// "Where calls run").
pub fn start_here<F: Future>(work: F) -> Started<F> {
    let mut work = Box::pin(work);
    // Nothing waits on this first poll: `Running` is polled again at once
    // by whoever takes it, with its own waker.
    let mut cx = Context::from_waker(Waker::noop());
    match work.as_mut().poll(&mut cx) {
        Poll::Ready(answer) => Started::Done(answer),
        Poll::Pending => Started::Running(work),
    }
}

/// A refusal of the embedding API: the language's exception carries these
/// three fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code} {message}")]
pub struct EmbedError {
    /// A stable code: `E…` for a package's diagnostics (docs/diagnostics.md),
    /// `R…` for the registry's, `H…` for the host's.
    pub code: String,
    /// What is wrong, naming the plugin, field or point.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl From<HostError> for EmbedError {
    fn from(e: HostError) -> EmbedError {
        let code = e.code().to_owned();
        let text = e.to_string();
        // Host errors end with `\n  fix: …` where they have one fix; a
        // package's diagnostics carry a fix each, kept in the message.
        let (message, fix) = match text.rsplit_once("\n  fix: ") {
            Some((message, fix)) if !matches!(e, HostError::Package { .. }) => {
                (message.to_owned(), fix.to_owned())
            }
            _ => (text, e.fix().to_owned()),
        };
        EmbedError { code, message, fix }
    }
}

/// What a binding's `Host.builder()` collects. Unknown keys are refused,
/// so a misspelt option is an error, not a silent default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedOptions {
    /// `yoi.toml`'s sections as JSON (`{"limits": {"memory_mb": 64}}`),
    /// laid over `config_file`'s (docs/configuration.md).
    pub config: Map<String, Value>,
    /// A `yoi.toml` to start from; relative paths in it are relative to
    /// its folder.
    pub config_file: Option<PathBuf>,
    /// Boot from this registry (a folder, or a `postgres://` URL) and
    /// follow its changes.
    pub registry: Option<String>,
    /// The local Yoi folder beside a PostgreSQL registry (its settings
    /// key); a folder registry is its own.
    pub home: Option<PathBuf>,
    /// The registry scope this host belongs to (`all`, `beta`, `canary`,
    /// `internal`).
    pub scope: Option<String>,
    /// How often to look for other processes' registry changes, in
    /// milliseconds (default 2000); 0 boots without following.
    pub follow_ms: Option<u64>,
    /// Start with no plugin loaded.
    pub safe_mode: Option<bool>,
    /// Secret values plugins granted `secret:KEY` may read, by key.
    pub secrets: std::collections::BTreeMap<String, String>,
    /// Where secrets not in `secrets` are read from the environment: key
    /// `K` from `<prefix>K`.
    pub secrets_env_prefix: Option<String>,
}

/// The secrets a binding's host reads: its map first, then the
/// environment under its prefix.
struct Secrets {
    values: std::collections::BTreeMap<String, String>,
    env: Option<crate::EnvSecrets>,
}

impl crate::SecretSource for Secrets {
    fn get(&self, key: &str) -> Option<String> {
        self.values
            .get(key)
            .cloned()
            .or_else(|| self.env.as_ref().and_then(|e| e.get(key)))
    }
}

/// What follows the registry for a host booted from one.
#[cfg(feature = "registry")]
type Follower = crate::Watcher;
/// Without the `registry` feature nothing follows a registry.
#[cfg(not(feature = "registry"))]
type Follower = ();

/// A [`Host`] driven in JSON, with the registry follower it owns.
pub struct JsonHost {
    host: Host,
    watcher: Mutex<Option<Follower>>,
}

/// Deep-merges `over` into `base`: objects key by key, anything else
/// replaced.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// A refusal of a value the caller gave.
fn input(what: &str, reason: impl std::fmt::Display) -> EmbedError {
    EmbedError::from(HostError::Input {
        what: what.to_owned(),
        reason: reason.to_string(),
    })
}

/// Parses one of the caller's JSON values into `T`.
fn parse<T: serde::de::DeserializeOwned>(what: &str, value: Value) -> Result<T, EmbedError> {
    serde_json::from_value(value).map_err(|e| input(what, e))
}

/// The hook context a caller gave (`null` or absent: none).
fn context(value: Option<Value>) -> Result<HookContext, EmbedError> {
    match value {
        None | Some(Value::Null) => Ok(HookContext::default()),
        Some(value) => parse("context", value),
    }
}

/// A binding callback's answer: `{"ok": value}`, or `{"error": message}`
/// as the error.
fn answer(mut reply: Value) -> Result<Value, String> {
    if let Some(ok) = reply.get_mut("ok") {
        return Ok(ok.take());
    }
    Err(reply
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("the application's function gave no answer")
        .to_owned())
}

/// Any answer as JSON (the host's answers always serialize).
/// A hook point by its name, or H0119 naming the closest.
fn hook_point(name: &str) -> Result<HookPoint, EmbedError> {
    name.parse::<HookPoint>().map_err(|_| {
        EmbedError::from(HostError::UnknownPoint {
            name: name.to_owned(),
        })
    })
}

fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A completion's outcome with `completion` or `error` in place of Rust's
/// `result`.
fn outcome_json(outcome: &CompletionOutcome) -> Value {
    let mut out = json(outcome);
    if let Some(object) = out.as_object_mut() {
        object.remove("result");
        match &outcome.result {
            Ok(done) => object.insert("completion".into(), json(done)),
            Err(e) => object.insert(
                "error".into(),
                serde_json::json!({ "message": e.to_string(), "detail": json(e) }),
            ),
        };
    }
    out
}

impl JsonHost {
    /// Builds a host from a binding's options: `config_file`, then
    /// `config` over it, then the registry to boot from.
    pub fn build(options: Value) -> Result<JsonHost, EmbedError> {
        let options: EmbedOptions = parse("host options", options)?;
        let (mut merged, base) = match &options.config_file {
            Some(file) => {
                let text = HostConfig::load(file)
                    .and_then(|_| {
                        std::fs::read_to_string(file).map_err(|e| HostError::HostConfig {
                            file: file.clone(),
                            reason: e.to_string(),
                        })
                    })
                    .map_err(EmbedError::from)?;
                let value: Value = toml::from_str(&text).map_err(|e| input("config_file", e))?;
                let base = file
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf();
                (value, base)
            }
            None => (Value::Object(Map::new()), PathBuf::from(".")),
        };
        merge(&mut merged, Value::Object(options.config.clone()));
        let config = HostConfig::from_json(merged, base).map_err(|reason| {
            EmbedError::from(HostError::HostConfig {
                file: PathBuf::from("(builder options)"),
                reason,
            })
        })?;
        let mut builder = Host::builder().apply(&config);
        // As in Rust: a host without a yoi.toml has no capability list of
        // its own (the grants are the embedder's alone); with one, or with
        // `capabilities` among the options, it has the list they give.
        if options.config_file.is_none() && !options.config.contains_key("capabilities") {
            builder.options.cap = None;
        }
        if let Some(scope) = &options.scope {
            let scope = scope
                .parse::<crate::Scope>()
                .map_err(|e| input("scope", e))?;
            builder = builder.scope(scope);
        }
        if let Some(on) = options.safe_mode {
            builder = builder.safe_mode(on);
        }
        if !options.secrets.is_empty() || options.secrets_env_prefix.is_some() {
            builder = builder.secrets(Secrets {
                values: options.secrets.clone(),
                env: options
                    .secrets_env_prefix
                    .clone()
                    .map(crate::EnvSecrets::new),
            });
        }
        let Some(location) = &options.registry else {
            return Ok(JsonHost {
                host: builder.build()?,
                watcher: Mutex::new(None),
            });
        };
        Self::boot(builder, location, &options)
    }

    #[cfg(feature = "registry")]
    fn boot(
        builder: crate::HostBuilder,
        location: &str,
        options: &EmbedOptions,
    ) -> Result<JsonHost, EmbedError> {
        let location = crate::Location::parse(location);
        let home = match (&location, &options.home) {
            (_, Some(home)) => home.clone(),
            (crate::Location::Folder(dir), None) => dir.clone(),
            (_, None) => std::env::var_os("YOI_HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
                .ok_or_else(|| {
                    input(
                        "home",
                        "a PostgreSQL registry needs the local Yoi folder beside it (its settings key): give `home`, or set YOI_HOME",
                    )
                })?,
        };
        let registry = crate::Registry::open_at(&location, &home)
            .map_err(|e| EmbedError::from(HostError::Registry(e)))?;
        let host = builder.registry(Arc::new(registry)).build()?;
        let watcher = match options.follow_ms.unwrap_or(2000) {
            0 => None,
            ms => Some(host.watch(std::time::Duration::from_millis(ms))?),
        };
        Ok(JsonHost {
            host,
            watcher: Mutex::new(watcher),
        })
    }

    #[cfg(not(feature = "registry"))]
    fn boot(_: crate::HostBuilder, _: &str, _: &EmbedOptions) -> Result<JsonHost, EmbedError> {
        Err(HostError::NoRegistry.into())
    }

    /// The host itself, for what needs no JSON.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Loads a package folder with `grants` (`yoi grant` form, each
    /// within the manifest's request); the compile runs on a blocking
    /// thread. Answers the plugin's [`crate::PluginInfo`].
    pub async fn load(&self, dir: PathBuf, grants: Vec<String>) -> Result<Value, EmbedError> {
        let host = self.host.clone();
        let info = tokio::task::spawn_blocking(move || host.load_with_grants(dir, &grants))
            .await
            .map_err(|e| EmbedError::from(HostError::Runtime(e.to_string())))??;
        Ok(json(&info))
    }

    /// Loads a manifest and component held in memory with `grants`
    /// (`yoi grant` form, each within the manifest's request).
    pub async fn load_bytes(
        &self,
        manifest: String,
        component: Vec<u8>,
        grants: Vec<String>,
    ) -> Result<Value, EmbedError> {
        let host = self.host.clone();
        let info =
            tokio::task::spawn_blocking(move || host.load_bytes(&manifest, component, &grants))
                .await
                .map_err(|e| EmbedError::from(HostError::Runtime(e.to_string())))??;
        Ok(json(&info))
    }

    /// Sets a loaded plugin's settings (checked against its manifest's
    /// `[config]`), for its next calls.
    pub fn configure(&self, plugin: &str, values: Value) -> Result<(), EmbedError> {
        let Value::Object(values) = values else {
            return Err(input(
                "settings",
                "give an object of setting names and values",
            ));
        };
        self.host.configure(plugin, values)?;
        Ok(())
    }

    /// Every loaded plugin.
    pub fn plugins(&self) -> Value {
        json(&self.host.plugins())
    }

    /// Runs the hook point named `point` with `event` (the point's fields)
    /// and the caller's hook context: `{data, blocked, receipts}`. A
    /// plugin's failure is in its receipt; only a point that does not
    /// exist or an event that is not one of its events is an error.
    pub async fn dispatch(
        &self,
        point: &str,
        event: Value,
        hook_context: Option<Value>,
    ) -> Result<Value, EmbedError> {
        let point = hook_point(point)?;
        let hook_context = context(hook_context)?;
        let out = self
            .host
            .dispatch_json_in(&hook_context, point, event)
            .await?;
        Ok(json(&out))
    }

    /// [`JsonHost::dispatch`] from the event's JSON text to the answer's:
    /// one parse and one write, the fastest way in from another language.
    pub async fn dispatch_text(
        &self,
        point: &str,
        event: &str,
        hook_context: Option<Value>,
    ) -> Result<String, EmbedError> {
        let point = hook_point(point)?;
        let hook_context = context(hook_context)?;
        Ok(self
            .host
            .dispatch_text_in(&hook_context, point, event)
            .await?)
    }

    /// Calls a tool (`{name, input, call_id?, turn?}`) through its hooks.
    pub async fn call_tool(
        &self,
        request: Value,
        hook_context: Option<Value>,
    ) -> Result<Value, EmbedError> {
        let request = parse("tool request", request)?;
        let hook_context = context(hook_context)?;
        Ok(json(&self.host.call_tool_in(&hook_context, request).await))
    }

    /// The tools a model may be offered (for `subject`, when given).
    pub fn tools(&self, subject: Option<&str>) -> Value {
        match subject {
            Some(subject) => json(&self.host.tools_for(subject)),
            None => json(&self.host.tools()),
        }
    }

    /// One completion through the model hooks and the providers.
    pub async fn complete(
        &self,
        request: Value,
        hook_context: Option<Value>,
    ) -> Result<Value, EmbedError> {
        let request: CompletionRequest = parse("completion request", request)?;
        let hook_context = context(hook_context)?;
        Ok(outcome_json(
            &self.host.complete_in(&hook_context, request).await,
        ))
    }

    /// Starts a streamed completion; must be called inside a Tokio
    /// runtime. Read it with [`Streaming::next`], then
    /// [`Streaming::outcome`].
    pub fn complete_streaming(
        &self,
        request: Value,
        hook_context: Option<Value>,
    ) -> Result<Streaming, EmbedError> {
        let request: CompletionRequest = parse("completion request", request)?;
        let hook_context = context(hook_context)?;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let host = self.host.clone();
        let task = tokio::spawn(async move {
            outcome_json(&host.complete_streaming(&hook_context, request, tx).await)
        });
        Ok(Streaming {
            chunks: tokio::sync::Mutex::new(rx),
            task: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// Registers the application's own tool. `run` gets the input and
    /// answers what the binding's callback answered: `{"ok": output}` (a
    /// string, or any JSON sent as its text) or `{"error": message}` (what
    /// the model reads); `Err` when the callback could not be called.
    pub fn register_tool<F, Fut>(
        &self,
        name: &str,
        description: &str,
        input_schema: Value,
        run: F,
    ) -> Result<(), EmbedError>
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        let run = Arc::new(run);
        let tool = NativeTool::new(name, description, input_schema, move |input| {
            let run = Arc::clone(&run);
            async move {
                match answer(run(input).await?)? {
                    Value::String(text) => Ok(text),
                    other => Ok(other.to_string()),
                }
            }
        });
        self.host.register_tool(tool)?;
        Ok(())
    }

    /// Registers the application's own model provider for `models`
    /// (names, or prefixes ending in `*`): `run` gets the request as JSON
    /// and a [`ChunkSender`] for streamed chunks, and answers what the
    /// binding's callback answered: `{"ok": completion}` (`{model, content,
    /// tool_calls, finish_reason, usage}`) or `{"error": message}`.
    pub fn register_provider<F, Fut>(
        &self,
        name: &str,
        models: &[String],
        run: F,
    ) -> Result<(), EmbedError>
    where
        F: Fn(Value, ChunkSender) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        let run = Arc::new(run);
        let models: Vec<&str> = models.iter().map(String::as_str).collect();
        let provider = NativeProvider::new(name, &models, move |request, chunks| {
            let run = Arc::clone(&run);
            async move {
                let done = run(json(&request), chunks)
                    .await
                    .and_then(answer)
                    .map_err(ProviderError::Other)?;
                serde_json::from_value::<Completion>(done).map_err(|e| {
                    ProviderError::Other(format!(
                        "the provider's answer is not a completion ({{model, content, tool_calls, finish_reason, usage}}): {e}"
                    ))
                })
            }
        })?;
        self.host.register_provider(provider)?;
        Ok(())
    }

    /// Hands the application's own observation to the observers.
    pub fn observe(&self, name: &str, data: Value) {
        self.host.observe(name, data);
    }

    /// Reloads from the registry now: what changed.
    #[cfg(feature = "registry")]
    pub fn reload(&self) -> Result<Value, EmbedError> {
        Ok(json(&self.host.reload()?))
    }

    /// Stops following the registry and writes the receipts still queued.
    pub fn close(&self) {
        {
            // Dropped here: the follower stops before the flush.
            let _stopped: Option<Follower> = self
                .watcher
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
        }
        self.host.flush_events();
    }
}

/// A streamed completion in progress.
pub struct Streaming {
    chunks: tokio::sync::Mutex<mpsc::Receiver<Chunk>>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<Value>>>,
}

impl Streaming {
    /// The next chunk (`{"text": …}` or `{"tool_call": …}`), or `None`
    /// once the provider is done.
    pub async fn next(&self) -> Option<Value> {
        self.chunks.lock().await.recv().await.map(|c| json(&c))
    }

    /// Tells the provider to stop: no chunk is read any more.
    pub async fn cancel(&self) {
        self.chunks.lock().await.close();
    }

    /// The outcome, once the stream ended (a second call answers `null`).
    pub async fn outcome(&self) -> Result<Value, EmbedError> {
        let Some(task) = self.task.lock().await.take() else {
            return Ok(Value::Null);
        };
        // Chunks nobody reads would hold the provider up.
        self.chunks.lock().await.close();
        task.await
            .map_err(|e| EmbedError::from(HostError::Runtime(e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusal `result` must be.
    fn refused<T>(result: Result<T, EmbedError>) -> EmbedError {
        match result {
            Ok(_) => panic!("accepted, not refused"),
            Err(e) => e,
        }
    }

    #[test]
    fn options_merge_key_by_key() {
        let mut base =
            serde_json::json!({"limits": {"memory_mb": 8, "max_calls": 2}, "host": {"name": "a"}});
        merge(
            &mut base,
            serde_json::json!({"limits": {"memory_mb": 64}, "crash_guard": {"failures": 3}}),
        );
        assert_eq!(
            base,
            serde_json::json!({"limits": {"memory_mb": 64, "max_calls": 2}, "host": {"name": "a"}, "crash_guard": {"failures": 3}})
        );
    }

    #[test]
    fn a_misspelt_option_is_refused_with_the_field() {
        let err = refused(JsonHost::build(serde_json::json!({"confg": {}})));
        assert_eq!(err.code, "H0120");
        assert!(err.message.contains("confg"), "{err:?}");
        let err = refused(JsonHost::build(
            serde_json::json!({"config": {"limits": {"memory_mb": "x"}}}),
        ));
        assert_eq!(err.code, "H0114", "{err:?}");
    }

    #[tokio::test]
    async fn an_unknown_point_names_the_closest_one() {
        let host = JsonHost::build(serde_json::json!({})).expect("host");
        let err = refused(
            host.dispatch("tool.pre_exex", serde_json::json!({}), None)
                .await,
        );
        assert_eq!(err.code, "H0119");
        assert!(err.fix.contains("tool.pre_exec"), "{err:?}");
        let err = refused(
            host.dispatch("tool.pre_exec", serde_json::json!({"tool": "x"}), None)
                .await,
        );
        assert_eq!(err.code, "H0110", "{err:?}");
        let err = refused(
            host.dispatch(
                "tool.pre_exec",
                serde_json::json!({}),
                Some(serde_json::json!({"sesion_id": "s"})),
            )
            .await,
        );
        assert_eq!(err.code, "H0120", "{err:?}");
        let ok = host
            .dispatch("tool.pre_exec", serde_json::json!({"tool_name": "x"}), None)
            .await
            .expect("dispatched");
        assert_eq!(ok["data"]["tool_name"], "x");
        assert_eq!(ok["blocked"], Value::Null);
        assert_eq!(ok["receipts"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn the_text_path_refuses_and_answers_as_the_json_one() {
        let host = JsonHost::build(serde_json::json!({})).expect("host");
        let err = refused(host.dispatch_text("tool.pre_exex", "{}", None).await);
        assert_eq!(err.code, "H0119");
        for bad in [r#"{"tool": "x"}"#, "not json", "", r#"{"tool_name": 7}"#] {
            let err = refused(host.dispatch_text("tool.pre_exec", bad, None).await);
            assert_eq!(err.code, "H0110", "{bad:?}: {err:?}");
            assert!(err.message.contains("tool.pre_exec"), "{err:?}");
        }
        let err = refused(host.dispatch_text("host.start", "[1,", None).await);
        assert_eq!(err.code, "H0110", "{err:?}");
        for (point, event) in [
            (
                "tool.pre_exec",
                serde_json::json!({"tool_name": "x", "input": {"a": [1, "é"]}}),
            ),
            (
                "run.pre_prompt",
                serde_json::json!({"system_prompt": "s", "user_message": "u"}),
            ),
            ("host.start", serde_json::json!({})),
        ] {
            let text = host
                .dispatch_text(point, &event.to_string(), None)
                .await
                .expect("dispatched");
            let value = host.dispatch(point, event, None).await.expect("dispatched");
            let parsed: Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(parsed, value, "{point}");
        }
    }
}
