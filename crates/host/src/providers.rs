//! The provider registry: the embedder's native model providers and the
//! providers of loaded plugins (their data in `providerspec`), routed by model name (native first, then
//! plugins in load order), with `model.pre_call` and `model.post_call`
//! around every completion and the embedder's fallback policy between
//! providers. docs/providers.md tells the whole story.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;
use wasmtime::Store;
use wasmtime::component::{Instance, Resource};

use crate::api::completions::tool_call_from_wit;
use crate::bindings::latest::yoi::plugin::completions as wit;
use crate::dispatch::run_chain;
use crate::exports::Guests;
use crate::hookevents::{CallContext, HookContext};
use crate::host::Host;
use crate::instances::{CallRecord, GuestCall, MAX_DETAIL, Run, invoke};
use crate::observers::ObservationEvent;
use crate::plugin::LoadedPlugin;
use crate::providerspec::{
    Attempt, Chunk, ChunkSender, Completion, CompletionError, CompletionOutcome, CompletionRequest,
    FinishReason, ModelToolCall, NativeProvider, ProviderError, ProviderRoute, ProviderSource,
    Role, Sink, Usage,
};
use crate::receipt::{Status, clean};
use crate::sandbox::PluginState;
use crate::settle::{self, Caller};
use crate::{HostError, ModelCall, ModelResponse};

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
        guests: &mut Guests,
    ) -> wasmtime::Result<Result<Self::Out, String>> {
        let sink = store.data_mut().table().push(Sink {
            chunks: self.chunks.clone(),
        })?;
        let borrowed = Resource::<Sink>::new_borrow(sink.rep());
        let answer = guests
            .call_provider(store, instance, (self.name, self.request, borrowed))
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
            if plugin.applies(subject, self.shared.options.scope) {
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
        let fallback = self.shared.options.fallback;
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
        let (run, record) = invoke(shared, plugin, (limit, limit), &call, &call_context).await;
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
        let caller = Caller::Provider(&decl.name);
        settle::guard(shared, plugin, caller, status, &mut detail);
        settle::denied(
            shared,
            plugin,
            caller,
            &record.denials,
            context.subject.as_deref(),
        );
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
