//! Model providers' data: what a completion asks and answers, the
//! embedder's native providers, the fallback policy, and the chunk sink a
//! plugin provider streams into. The registry that routes between them is
//! `providers`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use yoi_manifest::{ModelPattern, PluginId};

use crate::HostError;
use crate::receipt::{Blocked, Denial, LogLine, Receipt, Status};
use crate::tooldefs::valid_native_name;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// A tool's result.
    Tool,
}

/// A tool call a model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelToolCall {
    /// The model's id for the call.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// Its arguments, a JSON object as text (as the model wrote it).
    pub arguments: String,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    #[serde(default)]
    pub content: String,
    /// Tool calls of an assistant message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ModelToolCall>,
    /// For a tool message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message of `role` with `content` and nothing else.
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A tool a model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its input.
    pub input_schema: Value,
}

/// What [`Host::complete`] asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// The model; `model.pre_call` handlers may change it, and it decides
    /// the route.
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// The tools the model may call.
    #[serde(default)]
    pub tools: Vec<ToolDefinition>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Most tokens to generate.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Sequences that end the answer.
    #[serde(default)]
    pub stop: Vec<String>,
    /// The agent loop's turn, for the model hooks.
    #[serde(default)]
    pub turn: u32,
}

/// Why a model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished, or met a stop sequence.
    Stop,
    /// It reached `max_tokens`.
    Length,
    /// It asks for tool calls.
    ToolCalls,
    /// The service withheld content.
    ContentFilter,
    /// Anything else.
    Other,
}

/// Tokens (and money) a call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cost in US dollars, when the provider knows it (plugin providers
    /// report tokens only: 0).
    #[serde(default)]
    pub cost_usd: f64,
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The model that answered, as the service names it.
    pub model: String,
    /// The answer's text.
    pub content: String,
    /// The tool calls it asks for.
    #[serde(default)]
    pub tool_calls: Vec<ModelToolCall>,
    /// Why it stopped.
    pub finish_reason: FinishReason,
    /// What it used.
    pub usage: Usage,
}

/// A piece of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chunk {
    /// Text, in order.
    Text(String),
    /// A tool call, complete.
    ToolCall(ModelToolCall),
}

/// Why a provider did not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "kind", content = "message")]
pub enum ProviderError {
    /// Too many calls; try again after `retry_after`, if the service said.
    #[error("rate limited{}: {message}", retry_after_ms.map(|ms| format!(" (retry after {ms} ms)")).unwrap_or_default())]
    RateLimited {
        /// When to try again, in milliseconds.
        retry_after_ms: Option<u64>,
        /// The service's words.
        message: String,
    },
    /// The credentials were refused.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The request is malformed or not supported.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The service cannot answer now; another provider of the model may.
    /// A plugin provider that trapped, ran out of time or could not run
    /// (the host's limit) is reported as this too.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Where streamed chunks go: the embedder's end of a
/// [`Host::complete_streaming`] call, handed to native providers.
#[derive(Clone)]
pub struct ChunkSender {
    tx: Option<mpsc::Sender<Chunk>>,
    pushed: Arc<AtomicU64>,
}

impl ChunkSender {
    pub(crate) fn new(tx: Option<mpsc::Sender<Chunk>>) -> ChunkSender {
        ChunkSender {
            tx,
            pushed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Whether anyone reads the chunks (the call was made streaming).
    pub fn streaming(&self) -> bool {
        self.tx.is_some()
    }

    /// Hands one chunk to the embedder, waiting while its buffer is full.
    /// `false` when the embedder stopped reading: stop generating. Without
    /// a reader the chunk is dropped and the answer is `true`.
    pub async fn send(&self, chunk: Chunk) -> bool {
        let Some(tx) = &self.tx else { return true };
        let sent = tx.send(chunk).await.is_ok();
        if sent {
            self.pushed.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    pub(crate) fn pushed(&self) -> u64 {
        self.pushed.load(Ordering::Relaxed)
    }
}

/// The future a native provider returns.
pub type ProviderFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Completion, ProviderError>> + Send>>;

type ProviderFn = dyn Fn(CompletionRequest, ChunkSender) -> ProviderFuture + Send + Sync;

/// A model provider of the embedding application.
///
/// ```
/// use yoi_host::{Completion, FinishReason, NativeProvider, Usage};
///
/// let echo = NativeProvider::new("echo", &["echo-*"], |request, _chunks| async move {
///     let last = request.messages.last().map(|m| m.content.clone()).unwrap_or_default();
///     Ok(Completion {
///         model: request.model,
///         content: last,
///         tool_calls: Vec::new(),
///         finish_reason: FinishReason::Stop,
///         usage: Usage::default(),
///     })
/// })
/// .expect("valid patterns");
/// assert_eq!(echo.name(), "echo");
/// ```
#[derive(Clone)]
pub struct NativeProvider {
    pub(crate) name: String,
    pub(crate) models: Vec<ModelPattern>,
    pub(crate) timeout: Duration,
    pub(crate) run: Arc<ProviderFn>,
}

impl NativeProvider {
    /// A provider `name` serving `models` (names, or prefixes ending in
    /// `*`, as in plugin.toml), answering with `run`. Its time limit is a
    /// minute ([`NativeProvider::timeout`]).
    pub fn new<F, Fut>(name: &str, models: &[&str], run: F) -> Result<NativeProvider, HostError>
    where
        F: Fn(CompletionRequest, ChunkSender) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Completion, ProviderError>> + Send + 'static,
    {
        let refuse = |reason: String| HostError::Provider {
            provider: name.to_owned(),
            reason,
        };
        if !valid_native_name(name) {
            return Err(refuse(
                "native provider names are 1 to 64 letters, digits, `_` or `-` (a `.` is reserved for plugin providers)".into(),
            ));
        }
        let models = models
            .iter()
            .map(|m| ModelPattern::parse(m).map_err(|why| refuse(format!("model `{m}` {why}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if models.is_empty() {
            return Err(refuse("it serves no model".into()));
        }
        Ok(NativeProvider {
            name: name.to_owned(),
            models,
            timeout: Duration::from_millis(u64::from(yoi_manifest::Provider::DEFAULT_TIMEOUT_MS)),
            run: Arc::new(move |request, chunks| Box::pin(run(request, chunks))),
        })
    }

    /// Sets the time limit of one completion.
    pub fn timeout(mut self, timeout: Duration) -> NativeProvider {
        self.timeout = timeout;
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Who implements a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ProviderSource {
    /// The embedding application ([`Host::register_provider`]).
    Native,
    /// A loaded plugin.
    Plugin {
        /// Plugin id.
        id: PluginId,
        /// Plugin version.
        version: Version,
    },
}

/// A provider in routing order, as [`Host::providers`] lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderRoute {
    /// `name` for native providers, `<plugin id>.<name>` for plugin ones.
    pub name: String,
    /// The models it serves.
    pub models: Vec<ModelPattern>,
    /// Who implements it.
    pub source: ProviderSource,
}

/// When [`Host::complete`] tries the next provider of the model after one
/// failed. A provider that already streamed chunks is never replaced: the
/// embedder has shown part of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fallback {
    /// After [`ProviderError::Unavailable`] (default: yes).
    pub on_unavailable: bool,
    /// After a plugin provider trapped or ran out of time (default: yes).
    pub on_failure: bool,
    /// After [`ProviderError::RateLimited`] (default: no; the embedder may
    /// prefer to wait `retry_after`).
    pub on_rate_limited: bool,
}

impl Default for Fallback {
    fn default() -> Self {
        Fallback {
            on_unavailable: true,
            on_failure: true,
            on_rate_limited: false,
        }
    }
}

impl Fallback {
    /// Never fall back: the first provider's answer is final.
    pub const NEVER: Fallback = Fallback {
        on_unavailable: false,
        on_failure: false,
        on_rate_limited: false,
    };
}

/// How one provider's attempt ended.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// The provider, as [`ProviderRoute::name`].
    pub provider: String,
    /// Who implements it.
    pub source: ProviderSource,
    /// How the call ended: `ok` when the provider answered (with a
    /// completion or a [`ProviderError`]); `error` (a trap), `timeout` or
    /// `busy` (the host's limit) when it could not.
    pub status: Status,
    /// Its error, when it did not answer.
    pub error: Option<ProviderError>,
    /// Chunks it streamed.
    pub chunks: u64,
    /// Wall time of the attempt.
    #[serde(serialize_with = "crate::receipt::millis")]
    pub duration: Duration,
    /// What a plugin provider logged.
    pub logs: Vec<LogLine>,
    /// Host API calls its grants refused.
    pub denials: Vec<Denial>,
}

/// Why a completion has no answer.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CompletionError {
    /// A `model.pre_call` handler blocked the call; no provider ran.
    #[error("{}", .0.message())]
    Blocked(Blocked),
    /// No provider serves the model.
    #[error("no provider serves model `{model}`; providers: {known}")]
    NoProvider {
        /// The model asked for (after `model.pre_call`).
        model: String,
        /// The providers there are, with their models.
        known: String,
    },
    /// The last provider tried failed with this.
    #[error("{provider}: {error}")]
    Provider {
        /// The provider.
        provider: String,
        /// Its error.
        error: ProviderError,
    },
}

/// The answer of [`Host::complete`].
#[derive(Debug, Clone, Serialize)]
pub struct CompletionOutcome {
    /// The model called, after `model.pre_call`.
    pub model: String,
    /// The answer, or why there is none.
    pub result: Result<Completion, CompletionError>,
    /// The provider that answered.
    pub provider: Option<String>,
    /// Each provider tried, in order.
    pub attempts: Vec<Attempt>,
    /// Receipts of `model.pre_call` and `model.post_call`, in order.
    pub receipts: Vec<Receipt>,
}

/// The host side of a `completions.sink`: where a plugin provider's chunks
/// go during one call.
pub struct Sink {
    pub(crate) chunks: ChunkSender,
}
