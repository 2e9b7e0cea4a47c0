//! The provider registry: the embedder's native model providers and the
//! providers of loaded plugins, routed by model name (native first, then
//! plugins in load order), with `model.pre_call` and `model.post_call`
//! around every completion and the embedder's fallback policy between
//! providers. docs/providers.md tells the whole story.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use wasmtime::Store;
use wasmtime::component::{Instance, Resource};
use yoi_manifest::{ModelPattern, PluginId};

use crate::bindings::latest::yoi::plugin::completions as wit;
use crate::dispatch::run_chain;
use crate::events::{CallContext, HookContext};
use crate::exports::Guests;
use crate::guard::crash_guard;
use crate::host::Host;
use crate::instances::{CallRecord, GuestCall, MAX_DETAIL, Run, invoke};
use crate::observe::ObservationEvent;
use crate::plugin::LoadedPlugin;
use crate::receipt::{Blocked, Denial, LogLine, Receipt, Status, clean};
use crate::sandbox::PluginState;
use crate::sink::record_denials;
use crate::{HostError, ModelCall, ModelResponse};

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
    fn new(tx: Option<mpsc::Sender<Chunk>>) -> ChunkSender {
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

    fn pushed(&self) -> u64 {
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
    name: String,
    models: Vec<ModelPattern>,
    timeout: Duration,
    run: Arc<ProviderFn>,
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

fn valid_native_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
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
    chunks: ChunkSender,
}

/// Which provider a route picks.
enum Target {
    Native(NativeProvider),
    Plugin(Arc<LoadedPlugin>, usize),
}

impl Target {
    fn route(&self) -> ProviderRoute {
        match self {
            Target::Native(n) => ProviderRoute {
                name: n.name.clone(),
                models: n.models.clone(),
                source: ProviderSource::Native,
            },
            Target::Plugin(p, i) => {
                let decl = &p.providers[*i];
                ProviderRoute {
                    name: format!("{}.{}", p.info.id, decl.name),
                    models: decl.models.clone(),
                    source: ProviderSource::Plugin {
                        id: p.info.id.clone(),
                        version: p.info.version.clone(),
                    },
                }
            }
        }
    }

    fn serves(&self, model: &str) -> bool {
        match self {
            Target::Native(n) => n.models.iter().any(|m| m.matches(model)),
            Target::Plugin(p, i) => p.providers[*i].serves(model),
        }
    }
}

/// Calling a plugin provider's export with a sink.
struct ProviderCall<'a> {
    name: &'a str,
    request: &'a wit::Request,
    chunks: ChunkSender,
}

impl GuestCall for ProviderCall<'_> {
    type Out = Result<wit::Response, wit::ProviderError>;

    async fn call(
        &self,
        store: &mut Store<PluginState>,
        instance: &Instance,
        plugin: &LoadedPlugin,
        guests: &mut Guests,
    ) -> wasmtime::Result<Result<Self::Out, String>> {
        let sink = store.data_mut().table().push(Sink {
            chunks: self.chunks.clone(),
        })?;
        let borrowed = Resource::<Sink>::new_borrow(sink.rep());
        let answer = plugin
            .exports
            .call_provider(store, instance, guests, (self.name, self.request, borrowed))
            .await?;
        store.data_mut().table().delete(sink)?;
        Ok(Ok(answer))
    }
}

impl Host {
    /// Registers a model provider of the embedding application. Native
    /// providers are tried before plugin providers, in registration order.
    pub fn register_provider(&self, provider: NativeProvider) -> Result<(), HostError> {
        let mut native = self
            .shared
            .providers
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if native.iter().any(|n| n.name == provider.name) {
            return Err(HostError::Provider {
                provider: provider.name,
                reason: "a native provider with this name is already registered".into(),
            });
        }
        native.push(provider);
        Ok(())
    }

    /// Every provider in routing order: native providers in registration
    /// order, then each loaded plugin's in load order and manifest order.
    pub fn providers(&self) -> Vec<ProviderRoute> {
        self.targets(None).iter().map(Target::route).collect()
    }

    /// The providers [`Host::complete`] tries for `model`, in order (for
    /// `subject`, when plugins are on a partial rollout).
    pub fn providers_for(&self, model: &str, subject: Option<&str>) -> Vec<ProviderRoute> {
        self.targets(subject)
            .iter()
            .filter(|t| t.serves(model))
            .map(Target::route)
            .collect()
    }

    fn targets(&self, subject: Option<&str>) -> Vec<Target> {
        let mut out: Vec<Target> = self
            .shared
            .providers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .map(Target::Native)
            .collect();
        let snapshot = self.shared.snapshot.load();
        for plugin in &snapshot.plugins {
            if plugin.applies(subject, self.shared.settings.scope) {
                out.extend(
                    (0..plugin.providers.len()).map(|i| Target::Plugin(Arc::clone(plugin), i)),
                );
            }
        }
        out
    }

    /// Asks a model for a completion: runs `model.pre_call` (which may
    /// change the model, temperature and token limit, or block the call),
    /// the providers of the model in routing order until one answers (the
    /// host's [`Fallback`] policy says when to try the next), and
    /// `model.post_call` with the answer and its usage. Never fails: every
    /// way a call can end is in the outcome.
    pub async fn complete(&self, request: CompletionRequest) -> CompletionOutcome {
        self.complete_in(&HookContext::default(), request).await
    }

    /// [`Host::complete`] with the ids the embedder knows for the call (as
    /// in [`Host::dispatch_in`]).
    pub async fn complete_in(
        &self,
        context: &HookContext,
        request: CompletionRequest,
    ) -> CompletionOutcome {
        self.run_completion(context, request, ChunkSender::new(None))
            .await
    }

    /// [`Host::complete_in`], streaming: the provider's chunks reach
    /// `chunks` in order while it answers (the call waits while the
    /// channel is full). Dropping the receiver tells the provider to stop.
    pub async fn complete_streaming(
        &self,
        context: &HookContext,
        request: CompletionRequest,
        chunks: mpsc::Sender<Chunk>,
    ) -> CompletionOutcome {
        self.run_completion(context, request, ChunkSender::new(Some(chunks)))
            .await
    }

    async fn run_completion(
        &self,
        context: &HookContext,
        mut request: CompletionRequest,
        chunks: ChunkSender,
    ) -> CompletionOutcome {
        let subject = context.subject.as_deref();
        let pre = run_chain(
            self,
            context,
            ModelCall {
                model: request.model.clone(),
                temperature: request.temperature,
                max_tokens: request.max_tokens,
                messages: serde_json::to_value(&request.messages).unwrap_or(Value::Null),
                tools: serde_json::to_value(&request.tools).unwrap_or(Value::Null),
                turn: request.turn,
            },
        )
        .await;
        let mut outcome = CompletionOutcome {
            model: pre.data.model.clone(),
            result: Err(CompletionError::NoProvider {
                model: pre.data.model.clone(),
                known: String::new(),
            }),
            provider: None,
            attempts: Vec::new(),
            receipts: pre.receipts,
        };
        if let Some(blocked) = pre.blocked {
            outcome.result = Err(CompletionError::Blocked(blocked));
            return outcome;
        }
        request.model = pre.data.model;
        request.temperature = pre.data.temperature;
        request.max_tokens = pre.data.max_tokens;

        let targets: Vec<Target> = self
            .targets(subject)
            .into_iter()
            .filter(|t| t.serves(&request.model))
            .collect();
        if targets.is_empty() {
            let known: Vec<String> = self
                .providers()
                .iter()
                .map(|r| {
                    let models: Vec<String> = r.models.iter().map(ToString::to_string).collect();
                    format!("{} ({})", r.name, models.join(", "))
                })
                .collect();
            outcome.result = Err(CompletionError::NoProvider {
                model: request.model.clone(),
                known: if known.is_empty() {
                    "none registered".into()
                } else {
                    known.join("; ")
                },
            });
            return outcome;
        }

        let started = Instant::now();
        let fallback = self.shared.settings.fallback;
        let mut wit_request = None;
        let mut answer = None;
        for target in &targets {
            let route = target.route();
            let before = chunks.pushed();
            let t0 = Instant::now();
            let (status, result, record) = match target {
                Target::Native(n) => {
                    let run = (n.run)(request.clone(), chunks.clone());
                    let (status, result) = match tokio::time::timeout(n.timeout, run).await {
                        Ok(result) => (Status::Ok, result),
                        Err(_) => (
                            Status::Timeout,
                            Err(ProviderError::Unavailable(format!(
                                "no answer within {} ms",
                                n.timeout.as_millis()
                            ))),
                        ),
                    };
                    (status, result, CallRecord::default())
                }
                Target::Plugin(plugin, i) => {
                    let wit_request =
                        wit_request.get_or_insert_with(|| to_wit(&request, chunks.streaming()));
                    self.run_plugin_provider(plugin, *i, wit_request, &chunks, context)
                        .await
                }
            };
            let streamed = chunks.pushed() - before;
            let attempt = Attempt {
                provider: route.name.clone(),
                source: route.source.clone(),
                status,
                error: result.as_ref().err().cloned(),
                chunks: streamed,
                duration: t0.elapsed(),
                logs: record.logs,
                denials: record.denials,
            };
            outcome.attempts.push(attempt);
            match result {
                Ok(completion) => {
                    answer = Some((route.name, completion));
                    break;
                }
                Err(error) => {
                    let next = streamed == 0
                        && match (status, &error) {
                            (Status::Error | Status::Timeout | Status::Busy, _) => {
                                fallback.on_failure
                            }
                            (_, ProviderError::Unavailable(_)) => fallback.on_unavailable,
                            (_, ProviderError::RateLimited { .. }) => fallback.on_rate_limited,
                            _ => false,
                        };
                    outcome.result = Err(CompletionError::Provider {
                        provider: route.name,
                        error,
                    });
                    if !next {
                        break;
                    }
                }
            }
        }
        let Some((provider, completion)) = answer else {
            return outcome;
        };
        let duration = started.elapsed();
        let post = run_chain(
            self,
            context,
            ModelResponse {
                response: serde_json::to_value(&completion).unwrap_or(Value::Null),
                model: completion.model.clone(),
                turn: request.turn,
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                input_tokens: completion.usage.input_tokens,
                output_tokens: completion.usage.output_tokens,
                cost_usd: completion.usage.cost_usd,
            },
        )
        .await;
        self.shared.observers.emit(|| ObservationEvent::ModelCall {
            model: completion.model.clone(),
            provider: Some(provider.clone()),
            input_tokens: completion.usage.input_tokens,
            output_tokens: completion.usage.output_tokens,
            cost_usd: completion.usage.cost_usd,
            duration,
        });
        outcome.receipts.extend(post.receipts);
        outcome.provider = Some(provider);
        outcome.result = Ok(completion);
        outcome
    }

    /// One plugin provider's attempt: its time limit, the crash guard, its
    /// denials recorded. A trap or timeout is the provider being
    /// unavailable, to the caller.
    async fn run_plugin_provider(
        &self,
        plugin: &Arc<LoadedPlugin>,
        index: usize,
        request: &wit::Request,
        chunks: &ChunkSender,
        context: &HookContext,
    ) -> (Status, Result<Completion, ProviderError>, CallRecord) {
        let shared = &*self.shared;
        let decl = &plugin.providers[index];
        let limit = Duration::from_millis(u64::from(decl.timeout_ms));
        let call = ProviderCall {
            name: &decl.name,
            request,
            chunks: chunks.clone(),
        };
        let call_context = CallContext::new(None, context);
        let (run, record) = invoke(shared, plugin, limit, &call, &call_context).await;
        let (status, result) = match run {
            Run::Answer(Ok(response)) => (Status::Ok, Ok(from_wit(response))),
            // A provider's typed error is an answer, not a crash.
            Run::Answer(Err(error)) => (Status::Ok, Err(provider_error(error))),
            Run::GuestError(message) => (
                Status::Error,
                Err(ProviderError::Unavailable(clean(&message, MAX_DETAIL))),
            ),
            Run::Failed(status, why) => (status, Err(ProviderError::Unavailable(why))),
        };
        let mut detail = match &result {
            Err(ProviderError::Unavailable(why)) if status != Status::Ok => Some(why.clone()),
            _ => None,
        };
        crash_guard(shared, plugin, status, &mut detail);
        if !record.denials.is_empty() {
            record_denials(
                shared.sink.as_ref(),
                &plugin.info,
                &record.denials,
                context.subject.as_deref(),
                &format!("provider {}", decl.name),
            );
            crate::observe::observe_denials(shared, &plugin.info, &record.denials);
        }
        let result = match (result, detail) {
            (Err(ProviderError::Unavailable(_)), Some(detail)) => {
                Err(ProviderError::Unavailable(detail))
            }
            (result, _) => result,
        };
        (status, result, record)
    }
}

fn to_wit(request: &CompletionRequest, stream: bool) -> wit::Request {
    wit::Request {
        model: request.model.clone(),
        messages: request
            .messages
            .iter()
            .map(|m| wit::Message {
                role: match m.role {
                    Role::System => wit::Role::System,
                    Role::User => wit::Role::User,
                    Role::Assistant => wit::Role::Assistant,
                    Role::Tool => wit::Role::Tool,
                },
                content: m.content.clone(),
                tool_calls: m.tool_calls.iter().map(tool_call_to_wit).collect(),
                tool_call_id: m.tool_call_id.clone(),
            })
            .collect(),
        tools: request
            .tools
            .iter()
            .map(|t| wit::ToolDefinition {
                name: t.name.clone(),
                description: t.description.clone(),
                input_schema: t.input_schema.to_string(),
            })
            .collect(),
        temperature: request.temperature,
        max_tokens: request.max_tokens,
        stop: request.stop.clone(),
        stream,
    }
}

fn tool_call_to_wit(c: &ModelToolCall) -> wit::ToolCall {
    wit::ToolCall {
        id: c.id.clone(),
        name: c.name.clone(),
        arguments: c.arguments.clone(),
    }
}

fn tool_call_from_wit(c: wit::ToolCall) -> ModelToolCall {
    ModelToolCall {
        id: clean(&c.id, 256),
        name: clean(&c.name, 256),
        arguments: c.arguments,
    }
}

fn from_wit(r: wit::Response) -> Completion {
    Completion {
        model: clean(&r.model, 256),
        content: r.content,
        tool_calls: r.tool_calls.into_iter().map(tool_call_from_wit).collect(),
        finish_reason: match r.finish_reason {
            wit::FinishReason::Stop => FinishReason::Stop,
            wit::FinishReason::Length => FinishReason::Length,
            wit::FinishReason::ToolCalls => FinishReason::ToolCalls,
            wit::FinishReason::ContentFilter => FinishReason::ContentFilter,
            wit::FinishReason::Other => FinishReason::Other,
        },
        usage: Usage {
            input_tokens: r.usage.input_tokens,
            output_tokens: r.usage.output_tokens,
            cost_usd: 0.0,
        },
    }
}

fn provider_error(e: wit::ProviderError) -> ProviderError {
    let c = |m: String| clean(&m, MAX_DETAIL);
    match e {
        wit::ProviderError::RateLimited(r) => ProviderError::RateLimited {
            retry_after_ms: r.retry_after_ms,
            message: c(r.message),
        },
        wit::ProviderError::Auth(m) => ProviderError::Auth(c(m)),
        wit::ProviderError::BadRequest(m) => ProviderError::BadRequest(c(m)),
        wit::ProviderError::Unavailable(m) => ProviderError::Unavailable(c(m)),
        wit::ProviderError::Other(m) => ProviderError::Other(c(m)),
    }
}

impl wit::Host for PluginState {}

impl wit::HostSink for PluginState {
    async fn push(&mut self, sink: Resource<Sink>, chunk: wit::Chunk) -> bool {
        let Ok(sink) = self.table().get(&sink) else {
            return false;
        };
        let chunks = sink.chunks.clone();
        let chunk = match chunk {
            wit::Chunk::Text(text) => Chunk::Text(text),
            wit::Chunk::ToolCall(call) => Chunk::ToolCall(tool_call_from_wit(call)),
        };
        chunks.send(chunk).await
    }

    async fn drop(&mut self, sink: Resource<Sink>) -> wasmtime::Result<()> {
        // The host deletes the sink after the call; a guest cannot own one.
        if sink.owned() {
            self.table().delete(sink)?;
        }
        Ok(())
    }
}
