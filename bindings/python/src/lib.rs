//! The native half of the `yoi_host` Python package:
//! [`yoi_host::embedding`] for Python, through PyO3.
//!
//! Values cross as JSON text, errors as `NativeError` carrying an
//! `EmbedError` in JSON that `yoi_host/__init__.py` turns into a
//! `YoiError`. Plugins run with the GIL released: an awaitable call starts
//! on the caller's thread and answers at once if it finished there (no
//! waiting, no guest computing past an epoch tick), else settles on the
//! caller's event loop from Yoi's runtime; a blocking call waits without
//! holding the GIL. `yoi_host/__init__.py` is the API users
//! see (docs/embedding.md); nothing here is called directly.

use std::sync::Arc;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3_async_runtimes::TaskLocals;
use serde_json::Value;
use yoi_host::embedding::{EmbedError, JsonHost, Started, Streaming, start_here};
use yoi_host::{Chunk, ChunkSender};

create_exception!(_native, NativeError, PyException, "An EmbedError in JSON.");

/// An embedding error as the Python side reads it (`YoiError`).
fn refuse(e: EmbedError) -> PyErr {
    NativeError::new_err(serde_json::to_string(&e).unwrap_or_else(|_| e.to_string()))
}

/// A value the caller passed that is not JSON.
fn parse(what: &str, text: &str) -> PyResult<Value> {
    serde_json::from_str(text).map_err(|e| {
        refuse(EmbedError {
            code: "H0120".into(),
            message: format!("{what} is not JSON: {e}"),
            fix: "pass plain dicts, lists, strings and numbers (what json.dumps accepts)".into(),
        })
    })
}

fn parse_opt(what: &str, text: Option<String>) -> PyResult<Option<Value>> {
    text.map(|t| parse(what, &t)).transpose()
}

/// Yoi's runtime: the one pyo3-async-runtimes settles awaitables from.
fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `work` on Yoi's runtime without holding the GIL.
fn blocking<T: Send>(py: Python<'_>, work: impl Future<Output = T> + Send) -> T {
    py.detach(|| runtime().block_on(work))
}

/// `work`'s answer: a `str` when `work` finished on this thread at its
/// first poll, without the GIL ([`start_here`]: a guest computes at most
/// one epoch tick here), else an awaitable settled from Yoi's runtime.
/// `yoi_host/__init__.py` takes both alike.
fn answer<'py>(
    py: Python<'py>,
    work: impl Future<Output = Result<String, EmbedError>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>> {
    let started = py.detach(|| {
        let _runtime = runtime().enter();
        start_here(work)
    });
    match started {
        Started::Done(done) => Ok(PyString::new(py, &done.map_err(refuse)?).into_any()),
        Started::Running(rest) => {
            pyo3_async_runtimes::tokio::future_into_py(
                py,
                async move { rest.await.map_err(refuse) },
            )
        }
    }
}

/// The host, held by a `Host` of `yoi_host`.
#[pyclass(frozen)]
struct NativeHost {
    inner: Arc<JsonHost>,
}

fn text(v: &Value) -> String {
    v.to_string()
}

/// Builds a host off the GIL (booting from a registry compiles plugins).
fn build(options: Value) -> PyResult<NativeHost> {
    let _runtime = runtime().enter();
    let host = JsonHost::build(options).map_err(refuse)?;
    Ok(NativeHost {
        inner: Arc::new(host),
    })
}

#[pymethods]
impl NativeHost {
    /// Builds the host from the builder's options (JSON), blocking.
    #[staticmethod]
    fn build_blocking(py: Python<'_>, options: String) -> PyResult<NativeHost> {
        let options = parse("the host options", &options)?;
        py.detach(|| build(options))
    }

    /// Builds the host from the builder's options (JSON): an awaitable.
    #[staticmethod]
    fn build(py: Python<'_>, options: String) -> PyResult<Bound<'_, PyAny>> {
        let options = parse("the host options", &options)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            tokio::task::spawn_blocking(move || build(options))
                .await
                .map_err(|e| NativeError::new_err(e.to_string()))?
        })
    }

    /// Loads a package folder with grants: an awaitable of JSON.
    fn load<'py>(
        &self,
        py: Python<'py>,
        dir: String,
        grants: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let host = Arc::clone(&self.inner);
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            host.load(dir.into(), grants)
                .await
                .map(|v| text(&v))
                .map_err(refuse)
        })
    }

    /// Loads a package folder with grants, blocking.
    fn load_blocking(&self, py: Python<'_>, dir: String, grants: Vec<String>) -> PyResult<String> {
        let host = Arc::clone(&self.inner);
        blocking(py, async move { host.load(dir.into(), grants).await })
            .map(|v| text(&v))
            .map_err(refuse)
    }

    /// Loads a manifest and component from memory with grants, blocking.
    fn load_bytes_blocking(
        &self,
        py: Python<'_>,
        manifest: String,
        component: Vec<u8>,
        grants: Vec<String>,
    ) -> PyResult<String> {
        let host = Arc::clone(&self.inner);
        blocking(py, async move {
            host.load_bytes(manifest, component, grants).await
        })
        .map(|v| text(&v))
        .map_err(refuse)
    }

    /// Sets a loaded plugin's settings (a JSON object).
    fn configure(&self, plugin: String, values: String) -> PyResult<()> {
        let values = parse("the settings", &values)?;
        self.inner.configure(&plugin, values).map_err(refuse)
    }

    /// Unloads a plugin; whether it was loaded.
    fn unload(&self, plugin: String) -> bool {
        self.inner.host().unload(&plugin)
    }

    /// The loaded plugins (JSON).
    fn plugins(&self) -> String {
        text(&self.inner.plugins())
    }

    /// Runs a hook point: an awaitable of JSON.
    #[pyo3(signature = (point, event, context=None))]
    fn dispatch<'py>(
        &self,
        py: Python<'py>,
        point: String,
        event: String,
        context: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let context = parse_opt("the hook context", context)?;
        let host = Arc::clone(&self.inner);
        answer(py, async move {
            host.dispatch_text(&point, &event, context).await
        })
    }

    /// Runs a hook point, blocking without the GIL.
    #[pyo3(signature = (point, event, context=None))]
    fn dispatch_blocking(
        &self,
        py: Python<'_>,
        point: String,
        event: String,
        context: Option<String>,
    ) -> PyResult<String> {
        let context = parse_opt("the hook context", context)?;
        let host = Arc::clone(&self.inner);
        blocking(py, async move {
            host.dispatch_text(&point, &event, context).await
        })
        .map_err(refuse)
    }

    /// Calls a tool through its hooks: an awaitable of JSON.
    #[pyo3(signature = (request, context=None))]
    fn call_tool<'py>(
        &self,
        py: Python<'py>,
        request: String,
        context: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = parse("the tool request", &request)?;
        let context = parse_opt("the hook context", context)?;
        let host = Arc::clone(&self.inner);
        answer(py, async move {
            host.call_tool(request, context).await.map(|v| text(&v))
        })
    }

    /// Calls a tool, blocking without the GIL.
    #[pyo3(signature = (request, context=None))]
    fn call_tool_blocking(
        &self,
        py: Python<'_>,
        request: String,
        context: Option<String>,
    ) -> PyResult<String> {
        let request = parse("the tool request", &request)?;
        let context = parse_opt("the hook context", context)?;
        let host = Arc::clone(&self.inner);
        blocking(py, async move { host.call_tool(request, context).await })
            .map(|v| text(&v))
            .map_err(refuse)
    }

    /// The tools a model may be offered (JSON).
    #[pyo3(signature = (subject=None))]
    fn tools(&self, subject: Option<String>) -> String {
        text(&self.inner.tools(subject.as_deref()))
    }

    /// One completion: an awaitable of JSON.
    #[pyo3(signature = (request, context=None))]
    fn complete<'py>(
        &self,
        py: Python<'py>,
        request: String,
        context: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = parse("the completion request", &request)?;
        let context = parse_opt("the hook context", context)?;
        let host = Arc::clone(&self.inner);
        answer(py, async move {
            host.complete(request, context).await.map(|v| text(&v))
        })
    }

    /// One completion, blocking without the GIL.
    #[pyo3(signature = (request, context=None))]
    fn complete_blocking(
        &self,
        py: Python<'_>,
        request: String,
        context: Option<String>,
    ) -> PyResult<String> {
        let request = parse("the completion request", &request)?;
        let context = parse_opt("the hook context", context)?;
        let host = Arc::clone(&self.inner);
        blocking(py, async move { host.complete(request, context).await })
            .map(|v| text(&v))
            .map_err(refuse)
    }

    /// Starts a streamed completion.
    #[pyo3(signature = (request, context=None))]
    fn complete_streaming(
        &self,
        request: String,
        context: Option<String>,
    ) -> PyResult<NativeStream> {
        let request = parse("the completion request", &request)?;
        let context = parse_opt("the hook context", context)?;
        let _runtime = runtime().enter();
        let stream = self
            .inner
            .complete_streaming(request, context)
            .map_err(refuse)?;
        Ok(NativeStream {
            inner: Arc::new(stream),
        })
    }

    /// Registers a tool of the application. `run(input_json)` answers JSON
    /// text `{"ok": output}` or `{"error": message}`: directly, or as an
    /// awaitable when `is_async` (then it runs on the event loop that was
    /// running at registration).
    fn register_tool(
        &self,
        py: Python<'_>,
        name: String,
        description: String,
        input_schema: String,
        run: Py<PyAny>,
        is_async: bool,
    ) -> PyResult<()> {
        let schema = parse("the input schema", &input_schema)?;
        let callback = Arc::new(Callback::new(py, run, is_async)?);
        self.inner
            .register_tool(&name, &description, schema, move |input| {
                let callback = Arc::clone(&callback);
                async move { callback.call(input.to_string(), None).await }
            })
            .map_err(refuse)
    }

    /// Registers a model provider of the application. `run(request_json,
    /// chunks)` answers JSON text `{"ok": completion}` or `{"error":
    /// message}`, directly or as an awaitable (as for tools).
    fn register_provider(
        &self,
        py: Python<'_>,
        name: String,
        models: Vec<String>,
        run: Py<PyAny>,
        is_async: bool,
    ) -> PyResult<()> {
        let callback = Arc::new(Callback::new(py, run, is_async)?);
        self.inner
            .register_provider(&name, &models, move |request, chunks| {
                let callback = Arc::clone(&callback);
                async move {
                    let sink = ChunkSink { chunks };
                    callback.call(request.to_string(), Some(sink)).await
                }
            })
            .map_err(refuse)
    }

    /// Hands an observation of the application's own to the observers.
    fn observe(&self, name: String, data: String) -> PyResult<()> {
        let data = parse("the observation", &data)?;
        self.inner.observe(&name, data);
        Ok(())
    }

    /// Reloads from the registry now (JSON report), blocking.
    fn reload(&self, py: Python<'_>) -> PyResult<String> {
        let inner = Arc::clone(&self.inner);
        py.detach(move || {
            let _runtime = runtime().enter();
            inner.reload()
        })
        .map(|v| text(&v))
        .map_err(refuse)
    }

    /// Stops following the registry and writes queued receipts.
    fn close(&self, py: Python<'_>) {
        let inner = Arc::clone(&self.inner);
        py.detach(move || inner.close());
    }
}

/// A Python callable of the application, called from Yoi's runtime.
struct Callback {
    run: Py<PyAny>,
    /// The event loop of an async callable.
    locals: Option<TaskLocals>,
}

impl Callback {
    fn new(py: Python<'_>, run: Py<PyAny>, is_async: bool) -> PyResult<Callback> {
        let locals = if is_async {
            Some(
                pyo3_async_runtimes::tokio::get_current_locals(py).map_err(|_| {
                    refuse(EmbedError {
                        code: "H0120".into(),
                        message: "an async function was registered outside a running event loop"
                            .into(),
                        fix: "register it from inside `async def` code (asyncio.run(main())), or register a plain function".into(),
                    })
                })?,
            )
        } else {
            None
        };
        Ok(Callback { run, locals })
    }

    /// Calls it with `arg` (and the chunk sink of a provider) and reads
    /// its JSON answer; an exception is its error.
    async fn call(&self, arg: String, sink: Option<ChunkSink>) -> Result<Value, String> {
        let shown = |e: PyErr| Python::attach(|py| e.value(py).to_string());
        let answer: String = match &self.locals {
            Some(locals) => {
                let awaitable = Python::attach(|py| {
                    let run = self.run.bind(py);
                    let coroutine = match sink {
                        Some(sink) => run.call1((arg, sink))?,
                        None => run.call1((arg,))?,
                    };
                    pyo3_async_runtimes::into_future_with_locals(locals, coroutine)
                })
                .map_err(shown)?;
                let out = awaitable.await.map_err(shown)?;
                Python::attach(|py| out.extract::<String>(py)).map_err(shown)?
            }
            None => {
                let run = Python::attach(|py| self.run.clone_ref(py));
                // A plain function may block: it runs on a blocking thread.
                tokio::task::spawn_blocking(move || {
                    Python::attach(|py| {
                        let run = run.bind(py);
                        let out = match sink {
                            Some(sink) => run.call1((arg, sink))?,
                            None => run.call1((arg,))?,
                        };
                        out.extract::<String>()
                    })
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(shown)?
            }
        };
        serde_json::from_str(&answer).map_err(|e| e.to_string())
    }
}

/// Where a provider of the application sends its streamed chunks.
#[pyclass(frozen)]
#[derive(Clone)]
struct ChunkSink {
    chunks: ChunkSender,
}

#[pymethods]
impl ChunkSink {
    /// Sends text, blocking without the GIL; `False` once the reader
    /// stopped (stop generating).
    fn text(&self, py: Python<'_>, text: String) -> bool {
        let chunks = self.chunks.clone();
        blocking(py, async move { chunks.send(Chunk::Text(text)).await })
    }

    /// Sends text: an awaitable of whether the reader still reads.
    fn text_async<'py>(&self, py: Python<'py>, text: String) -> PyResult<Bound<'py, PyAny>> {
        let chunks = self.chunks.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            Ok(chunks.send(Chunk::Text(text)).await)
        })
    }

    /// Whether anyone reads the chunks (the call was made streaming).
    #[getter]
    fn streaming(&self) -> bool {
        self.chunks.streaming()
    }
}

/// A streamed completion, read by `yoi_host`'s async iterator.
#[pyclass(frozen)]
struct NativeStream {
    inner: Arc<Streaming>,
}

#[pymethods]
impl NativeStream {
    /// The next chunk in JSON, or `None` at the end: an awaitable.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            Ok(inner.next().await.map(|c| text(&c)))
        })
    }

    /// The next chunk, blocking.
    fn next_blocking(&self, py: Python<'_>) -> Option<String> {
        let inner = Arc::clone(&self.inner);
        blocking(py, async move { inner.next().await }).map(|c| text(&c))
    }

    /// Stops reading; the provider is told to stop.
    fn cancel<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            inner.cancel().await;
            Ok(())
        })
    }

    /// The outcome in JSON, once the stream ended: an awaitable.
    fn outcome<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            inner.outcome().await.map(|v| text(&v)).map_err(refuse)
        })
    }

    /// The outcome, blocking.
    fn outcome_blocking(&self, py: Python<'_>) -> PyResult<String> {
        let inner = Arc::clone(&self.inner);
        blocking(py, async move { inner.outcome().await })
            .map(|v| text(&v))
            .map_err(refuse)
    }
}

/// `hooks.py`'s text, generated from this build's hook table.
#[pyfunction]
fn hook_declarations() -> String {
    yoi_host::embedding::python_declarations()
}

/// The contract this build implements.
#[pyfunction]
fn contract() -> &'static str {
    yoi_host::CONTRACT
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeHost>()?;
    m.add_class::<NativeStream>()?;
    m.add_class::<ChunkSink>()?;
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add_function(wrap_pyfunction!(hook_declarations, m)?)?;
    m.add_function(wrap_pyfunction!(contract, m)?)?;
    Ok(())
}
