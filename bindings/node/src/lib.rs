//! The native half of the `yoi-host` npm package: [`yoi_host::embedding`]
//! for Node.js, through napi-rs.
//!
//! Values cross as JSON text (one `JSON.parse` on each side is cheaper
//! than building objects property by property through Node-API), errors
//! as an `EmbedError` in JSON that `index.js` turns into a `YoiError`.
//! A call that runs plugins starts on Node's thread and finishes there if
//! it can at once (no waiting, no guest computing past an epoch tick);
//! anything longer is a promise settled from Yoi's runtime, so Node's
//! event loop never waits on a plugin for more than a tick. `index.js` is
//! the API users see (docs/embedding.md); nothing here is called directly.

use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Either, FnArgs, Function, Promise, PromiseRaw};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{Env, Status};
use napi_derive::napi;
use serde_json::Value;
use tokio::sync::watch;
use yoi_host::embedding::{EmbedError, JsonHost, Started, Streaming, start_here};
use yoi_host::{Chunk, ChunkSender};

/// A JavaScript callback taking JSON text and answering a promise of JSON
/// text. Weak: a registered tool does not keep Node running.
type Callback = ThreadsafeFunction<String, Promise<String>, String, Status, false, true>;

/// An embedding error as the JavaScript side reads it (`YoiError`).
fn refuse(e: EmbedError) -> napi::Error {
    let body = serde_json::to_string(&e).unwrap_or_else(|_| e.to_string());
    napi::Error::new(Status::GenericFailure, format!("YOI{body}"))
}

/// A value the caller passed that is not JSON.
fn parse(what: &str, text: &str) -> napi::Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        refuse(EmbedError {
            code: "H0120".into(),
            message: format!("{what} is not JSON: {e}"),
            fix: "pass a plain object (what JSON.stringify accepts)".into(),
        })
    })
}

fn parse_opt(what: &str, text: Option<String>) -> napi::Result<Option<Value>> {
    text.map(|t| parse(what, &t)).transpose()
}

/// A cancellation the JavaScript side triggers from an `AbortSignal`.
#[napi]
pub struct Cancel {
    tx: watch::Sender<bool>,
}

#[napi]
impl Cancel {
    /// A cancellation not yet triggered.
    #[napi(constructor)]
    pub fn new() -> Cancel {
        Cancel {
            tx: watch::channel(false).0,
        }
    }

    /// Gives up the call: its promise rejects with an `AbortError` and the
    /// work stops at its next await (a plugin's run is stopped with it).
    #[napi]
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

/// Runs `work` unless the cancellation fires first.
async fn cancellable<T>(
    cancel: Option<watch::Receiver<bool>>,
    work: impl Future<Output = napi::Result<T>>,
) -> napi::Result<T> {
    let Some(mut cancel) = cancel else {
        return work.await;
    };
    tokio::select! {
        out = work => out,
        _ = cancel.wait_for(|c| *c) => Err(napi::Error::new(Status::Cancelled, "ABORTED")),
    }
}

/// `work`'s JSON answer: the text itself when `work` finished on this
/// thread at its first poll ([`start_here`]: a guest computes at most one
/// epoch tick here), else a promise settled from Yoi's runtime.
/// `index.js` awaits both alike.
fn answer<'env>(
    env: &'env Env,
    cancel: Option<&Cancel>,
    work: impl Future<Output = Result<String, EmbedError>> + Send + 'static,
) -> napi::Result<Either<String, PromiseRaw<'env, String>>> {
    match napi::bindgen_prelude::within_runtime_if_available(|| start_here(work)) {
        Started::Done(done) => done.map(Either::A).map_err(refuse),
        Started::Running(rest) => settle(env, cancel, rest).map(Either::B),
    }
}

/// A promise of `work`'s JSON answer, settled from Yoi's runtime (given up
/// when `cancel` fires).
fn settle<'env>(
    env: &'env Env,
    cancel: Option<&Cancel>,
    work: impl Future<Output = Result<String, EmbedError>> + Send + 'static,
) -> napi::Result<PromiseRaw<'env, String>> {
    let cancel = cancel.map(|c| c.tx.subscribe());
    env.spawn_future(cancellable(
        cancel,
        async move { work.await.map_err(refuse) },
    ))
}

/// The host, held by a `Host` of `index.js`.
#[napi]
pub struct NativeHost {
    inner: Arc<JsonHost>,
}

fn text(v: &Value) -> String {
    v.to_string()
}

#[napi]
impl NativeHost {
    /// Builds the host from the builder's options (JSON) on a blocking
    /// thread of Yoi's runtime: with a registry it boots from it (which
    /// compiles plugins) before the promise settles.
    #[napi]
    pub fn build<'env>(
        env: &'env Env,
        options: String,
    ) -> napi::Result<PromiseRaw<'env, NativeHost>> {
        let options = parse("the host options", &options)?;
        env.spawn_future(async move {
            let host = tokio::task::spawn_blocking(move || JsonHost::build(options))
                .await
                .map_err(|e| napi::Error::from_reason(e.to_string()))?
                .map_err(refuse)?;
            Ok(NativeHost {
                inner: Arc::new(host),
            })
        })
    }

    /// Loads a package folder with grants.
    #[napi]
    pub fn load<'env>(
        &self,
        env: &'env Env,
        dir: String,
        grants: Vec<String>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let host = Arc::clone(&self.inner);
        settle(env, None, async move {
            host.load(dir.into(), grants).await.map(|v| text(&v))
        })
    }

    /// Sets a loaded plugin's settings (a JSON object).
    #[napi]
    pub fn configure(&self, plugin: String, values: String) -> napi::Result<()> {
        let values = parse("the settings", &values)?;
        self.inner.configure(&plugin, values).map_err(refuse)
    }

    /// Loads a manifest and component from memory with grants.
    #[napi]
    pub fn load_bytes<'env>(
        &self,
        env: &'env Env,
        manifest: String,
        component: Buffer,
        grants: Vec<String>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let host = Arc::clone(&self.inner);
        let component = component.to_vec();
        settle(env, None, async move {
            host.load_bytes(manifest, component, grants)
                .await
                .map(|v| text(&v))
        })
    }

    /// Unloads a plugin; whether it was loaded.
    #[napi]
    pub fn unload(&self, plugin: String) -> bool {
        self.inner.host().unload(&plugin)
    }

    /// The loaded plugins (JSON).
    #[napi]
    pub fn plugins(&self) -> String {
        text(&self.inner.plugins())
    }

    /// Runs a hook point.
    #[napi]
    pub fn dispatch<'env>(
        &self,
        env: &'env Env,
        point: String,
        event: String,
        context: Option<String>,
        cancel: Option<&Cancel>,
    ) -> napi::Result<Either<String, PromiseRaw<'env, String>>> {
        let context = parse_opt("the hook context", context)?;
        let host = Arc::clone(&self.inner);
        answer(env, cancel, async move {
            host.dispatch_text(&point, &event, context).await
        })
    }

    /// Calls a tool through its hooks.
    #[napi]
    pub fn call_tool<'env>(
        &self,
        env: &'env Env,
        request: String,
        context: Option<String>,
        cancel: Option<&Cancel>,
    ) -> napi::Result<Either<String, PromiseRaw<'env, String>>> {
        let request = parse("the tool request", &request)?;
        let context = parse_opt("the hook context", context)?;
        let host = Arc::clone(&self.inner);
        answer(env, cancel, async move {
            host.call_tool(request, context).await.map(|v| text(&v))
        })
    }

    /// The tools a model may be offered (JSON).
    #[napi]
    pub fn tools(&self, subject: Option<String>) -> String {
        text(&self.inner.tools(subject.as_deref()))
    }

    /// One completion.
    #[napi]
    pub fn complete<'env>(
        &self,
        env: &'env Env,
        request: String,
        context: Option<String>,
        cancel: Option<&Cancel>,
    ) -> napi::Result<Either<String, PromiseRaw<'env, String>>> {
        let request = parse("the completion request", &request)?;
        let context = parse_opt("the hook context", context)?;
        let host = Arc::clone(&self.inner);
        answer(env, cancel, async move {
            host.complete(request, context).await.map(|v| text(&v))
        })
    }

    /// Starts a streamed completion.
    #[napi]
    pub fn complete_streaming(
        &self,
        request: String,
        context: Option<String>,
    ) -> napi::Result<NativeStream> {
        let request = parse("the completion request", &request)?;
        let context = parse_opt("the hook context", context)?;
        let host = Arc::clone(&self.inner);
        let stream = napi::bindgen_prelude::within_runtime_if_available(|| {
            host.complete_streaming(request, context)
        })
        .map_err(refuse)?;
        Ok(NativeStream {
            inner: Arc::new(stream),
        })
    }

    /// Registers a tool of the application: `run(inputJson)` answers a
    /// promise of `{"ok": output}` or `{"error": message}` in JSON.
    #[napi]
    pub fn register_tool(
        &self,
        name: String,
        description: String,
        input_schema: String,
        run: Function<'_, String, Promise<String>>,
    ) -> napi::Result<()> {
        let schema = parse("the input schema", &input_schema)?;
        let run: Arc<Callback> = Arc::new(
            run.build_threadsafe_function()
                .weak::<true>()
                .callee_handled::<false>()
                .build()?,
        );
        self.inner
            .register_tool(&name, &description, schema, move |input| {
                let run = Arc::clone(&run);
                async move { call(&run, input.to_string()).await }
            })
            .map_err(refuse)
    }

    /// Registers a model provider of the application: `run(requestJson,
    /// chunks)` answers a promise of `{"ok": completion}` or `{"error":
    /// message}` in JSON, sending streamed chunks through `chunks`.
    #[napi]
    pub fn register_provider(
        &self,
        name: String,
        models: Vec<String>,
        run: Function<'_, FnArgs<(String, ChunkSink)>, Promise<String>>,
    ) -> napi::Result<()> {
        let run: Arc<ProviderCallback> = Arc::new(
            run.build_threadsafe_function()
                .weak::<true>()
                .callee_handled::<false>()
                .build()?,
        );
        self.inner
            .register_provider(&name, &models, move |request, chunks| {
                let run = Arc::clone(&run);
                async move {
                    let reply = run
                        .call_async_catch((request.to_string(), ChunkSink { chunks }).into())
                        .await
                        .map_err(|e| e.reason.clone())?
                        .await
                        .map_err(|e| e.reason.clone())?;
                    serde_json::from_str(&reply).map_err(|e| e.to_string())
                }
            })
            .map_err(refuse)
    }

    /// Hands an observation of the application's own to the observers.
    #[napi]
    pub fn observe(&self, name: String, data: String) -> napi::Result<()> {
        let data = parse("the observation", &data)?;
        self.inner.observe(&name, data);
        Ok(())
    }

    /// Reloads from the registry now (JSON report).
    #[napi]
    pub fn reload(&self) -> napi::Result<String> {
        napi::bindgen_prelude::within_runtime_if_available(|| self.inner.reload())
            .map(|v| text(&v))
            .map_err(refuse)
    }

    /// Stops following the registry and writes queued receipts.
    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}

/// A provider callback: two arguments, the request's JSON and the sink.
type ProviderCallback = ThreadsafeFunction<
    FnArgs<(String, ChunkSink)>,
    Promise<String>,
    FnArgs<(String, ChunkSink)>,
    Status,
    false,
    true,
>;

/// Calls a JavaScript callback and reads its JSON answer; a throw or a
/// rejection is the callback's error.
async fn call(run: &Callback, arg: String) -> Result<Value, String> {
    let answer = run
        .call_async_catch(arg)
        .await
        .map_err(|e| e.reason.clone())?
        .await
        .map_err(|e| e.reason.clone())?;
    serde_json::from_str(&answer).map_err(|e| e.to_string())
}

/// Where a provider of the application sends its streamed chunks.
#[napi]
#[derive(Clone)]
pub struct ChunkSink {
    chunks: ChunkSender,
}

#[napi]
impl ChunkSink {
    /// Sends text; resolves `false` once the reader stopped (stop
    /// generating).
    #[napi]
    pub fn text<'env>(&self, env: &'env Env, text: String) -> napi::Result<PromiseRaw<'env, bool>> {
        let chunks = self.chunks.clone();
        env.spawn_future(async move { Ok(chunks.send(Chunk::Text(text)).await) })
    }

    /// Whether anyone reads the chunks (the call was made streaming).
    #[napi]
    pub fn streaming(&self) -> bool {
        self.chunks.streaming()
    }
}

/// A streamed completion, read by `index.js`'s async iterator.
#[napi]
pub struct NativeStream {
    inner: Arc<Streaming>,
}

#[napi]
impl NativeStream {
    /// The next chunk in JSON, or `null` at the end.
    #[napi]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<String>>> {
        let inner = Arc::clone(&self.inner);
        env.spawn_future(async move { Ok(inner.next().await.map(|c| text(&c))) })
    }

    /// Stops reading; the provider is told to stop.
    #[napi]
    pub fn cancel<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = Arc::clone(&self.inner);
        env.spawn_future(async move {
            inner.cancel().await;
            Ok(())
        })
    }

    /// The outcome in JSON, once the stream ended.
    #[napi]
    pub fn outcome<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let inner = Arc::clone(&self.inner);
        env.spawn_future(async move { inner.outcome().await.map(|v| text(&v)).map_err(refuse) })
    }
}

/// The TypeScript declarations of every hook point's event, generated
/// from the hook table of this build (`hooks.d.ts` in the package is this
/// text).
#[napi]
pub fn hook_declarations() -> String {
    yoi_host::embedding::typescript_declarations()
}

/// The contract this build implements.
#[napi]
pub fn contract() -> String {
    yoi_host::CONTRACT.to_owned()
}
