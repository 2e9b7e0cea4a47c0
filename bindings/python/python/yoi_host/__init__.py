"""Yoi's WebAssembly plugin host embedded in a Python app (docs/embedding.md).

Everything that runs plugins comes in two forms: a coroutine
(``await host.dispatch(...)``), settled on your event loop while Yoi's own
threads run the plugins, and a ``*_blocking`` twin for code without an event
loop. Either way the GIL is released while plugins run. Events are dicts
with the field names of Yoi's JSON events; ``yoi_host.hooks`` has one
``TypedDict`` per hook point, generated from Yoi's hook table.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from . import _native
from .hooks import *  # noqa: F401,F403 (the event types are part of the API)
from .hooks import HookPointName, Json

__all__ = [
    "Host",
    "HostBuilder",
    "CompletionStream",
    "Chunks",
    "YoiError",
    "HookContext",
    "Dispatch",
    "Receipt",
    "hook_declarations",
]

E = TypeVar("E", bound=Mapping[str, Any])

if TYPE_CHECKING:
    from typing import Generic, TypedDict

    class HookContext(TypedDict, total=False):
        """The ids an event belongs to; ``subject`` decides partial rollouts."""

        work_item_id: Optional[str]
        run_id: Optional[str]
        agent_id: Optional[str]
        session_id: Optional[str]
        subject: Optional[str]

    class Receipt(TypedDict):
        """The record of one handler's run."""

        plugin: str
        version: str
        point: str
        status: str
        changed: List[str]
        detail: Optional[str]
        duration: float
        logs: List[Dict[str, Any]]
        denials: List[Dict[str, Any]]

    class Blocked(TypedDict):
        plugin: str
        reason: str

    class Dispatch(TypedDict, Generic[E]):
        """A dispatch's answer: the event as the handlers left it, who
        blocked it, one receipt per handler."""

        data: E
        blocked: Optional[Blocked]
        receipts: List[Receipt]

else:
    HookContext = dict
    Receipt = dict
    Blocked = dict

    class Dispatch(dict):
        def __class_getitem__(cls, item: Any) -> Any:
            return cls


class YoiError(Exception):
    """A refusal by Yoi: a bad manifest, a refused grant, an unknown point.

    ``code`` is stable (``E…`` a package's diagnostics, ``R…`` the
    registry's, ``H…`` the host's: docs/diagnostics.md); ``fix`` says what
    to do about it.
    """

    def __init__(self, code: str, detail: str, fix: str) -> None:
        super().__init__(f"{code} {detail}\n  fix: {fix}")
        self.code = code
        self.detail = detail
        self.fix = fix


def _translate(err: BaseException) -> BaseException:
    if isinstance(err, _native.NativeError):
        body = json.loads(str(err))
        return YoiError(body["code"], body["message"], body["fix"])
    return err


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _context(context: Optional[Mapping[str, Any]]) -> Optional[str]:
    return None if context is None else _json(context)


async def _awaited(call: Callable[[], Union[str, Awaitable[str]]]) -> Any:
    # A call that finished on this thread answers its text at once; the
    # event loop still turns once, as for a call that waited, so a loop of
    # calls starves no other task.
    try:
        answer = call()
        if isinstance(answer, str):
            await asyncio.sleep(0)
        else:
            answer = await answer
        return json.loads(answer)
    except _native.NativeError as err:
        raise _translate(err) from None


def _blocking(call: Callable[[], str]) -> Any:
    try:
        return json.loads(call())
    except _native.NativeError as err:
        raise _translate(err) from None


class HostBuilder:
    """Collects a host's options: each method sets the ``yoi.toml`` field of
    the same meaning (docs/configuration.md); ``build()`` or
    ``boot_from_registry()`` starts the host."""

    def __init__(self) -> None:
        self._options: Dict[str, Any] = {"config": {}}

    def _set(self, section: str, key: str, value: Any) -> "HostBuilder":
        self._options["config"].setdefault(section, {})[key] = value
        return self

    def name(self, name: str) -> "HostBuilder":
        """The host's name in receipts and ``yoi hosts``."""
        return self._set("host", "name", name)

    def memory_limit_mb(self, mb: int) -> "HostBuilder":
        """Memory cap per plugin instance, in MiB."""
        return self._set("limits", "memory_mb", mb)

    def chain_budget_ms(self, ms: int) -> "HostBuilder":
        """Time budget of one hook chain, in milliseconds."""
        return self._set("limits", "chain_budget_ms", ms)

    def tool_timeout_ms(self, ms: int) -> "HostBuilder":
        """Time limit of one tool call, in milliseconds."""
        return self._set("limits", "tool_timeout_ms", ms)

    def concurrency(self, host: int, per_plugin: int) -> "HostBuilder":
        """Plugin calls at once: in the whole host, and per plugin."""
        self._set("limits", "max_calls", host)
        return self._set("limits", "max_calls_per_plugin", per_plugin)

    def queue_wait_ms(self, ms: int) -> "HostBuilder":
        """How long a call waits for a free slot before it is ``busy``."""
        return self._set("limits", "queue_wait_ms", ms)

    def reuse_instances(self, reuse: bool) -> "HostBuilder":
        """Keep warm instances between events instead of a fresh one each."""
        return self._set("limits", "reuse_instances", reuse)

    def capabilities(
        self, allow: Sequence[str] = (), deny: Sequence[str] = ()
    ) -> "HostBuilder":
        """The capabilities this host may grant at all (``yoi grant`` forms)."""
        self._set("capabilities", "allow", list(allow))
        return self._set("capabilities", "deny", list(deny))

    def crash_guard(self, failures: int, window_s: int) -> "HostBuilder":
        """Failures within a window (seconds) that disable a plugin."""
        self._set("crash_guard", "failures", failures)
        return self._set("crash_guard", "window_s", window_s)

    def compile_cache(self, path: str) -> "HostBuilder":
        """Where compiled plugins are cached across restarts."""
        return self._set("host", "cache", str(path))

    def data_dir(self, path: str) -> "HostBuilder":
        """The folder the ``fs`` API's grants are relative to."""
        return self._set("host", "data", str(path))

    def plugin_folders(
        self, folders: Sequence[str], hot_reload: bool = False
    ) -> "HostBuilder":
        """Package folders to load at start (and follow, with ``hot_reload``)."""
        self._set("plugins", "folders", [str(f) for f in folders])
        return self._set("host", "hot_reload", hot_reload)

    def grant(self, plugin: str, grants: Mapping[str, Any]) -> "HostBuilder":
        """Grants for a folder plugin (``{"https": [...], "secrets": [...]}``)."""
        return self._set("grants", plugin, dict(grants))

    def settings(self, plugin: str, values: Mapping[str, Json]) -> "HostBuilder":
        """Setting values for a folder plugin."""
        return self._set("settings", plugin, dict(values))

    def config_file(self, path: str) -> "HostBuilder":
        """A ``yoi.toml`` to start from; the other options are laid over it."""
        self._options["config_file"] = str(path)
        return self

    def scope(self, scope: str) -> "HostBuilder":
        """The registry scope of this host: all, beta, canary, internal."""
        self._options["scope"] = scope
        return self

    def secrets(self, values: Mapping[str, str]) -> "HostBuilder":
        """Secret values plugins granted ``secret:KEY`` may read, by key."""
        self._options.setdefault("secrets", {}).update(values)
        return self

    def secrets_from_env(self, prefix: str) -> "HostBuilder":
        """Secrets not given with ``secrets()`` come from ``os.environ[prefix + KEY]``."""
        self._options["secrets_env_prefix"] = prefix
        return self

    def safe_mode(self, on: bool = True) -> "HostBuilder":
        """Start with no plugin loaded."""
        self._options["safe_mode"] = on
        return self

    async def build(self) -> "Host":
        """Builds the host (off the event loop)."""
        try:
            return Host(await _native.NativeHost.build(_json(self._options)))
        except _native.NativeError as err:
            raise _translate(err) from None

    def build_blocking(self) -> "Host":
        """Builds the host, blocking."""
        try:
            return Host(_native.NativeHost.build_blocking(_json(self._options)))
        except _native.NativeError as err:
            raise _translate(err) from None

    def _registry(
        self, location: str, home: Optional[str], follow_ms: Optional[int]
    ) -> "HostBuilder":
        self._options.update(
            registry=str(location),
            home=None if home is None else str(home),
            follow_ms=follow_ms,
        )
        return self

    async def boot_from_registry(
        self, location: str, home: Optional[str] = None, follow_ms: Optional[int] = None
    ) -> "Host":
        """Builds the host from a registry (a folder or a ``postgres://`` URL):
        it loads the active versions now and follows changes, looking for
        other processes' every ``follow_ms`` (0: never)."""
        return await self._registry(location, home, follow_ms).build()

    def boot_from_registry_blocking(
        self, location: str, home: Optional[str] = None, follow_ms: Optional[int] = None
    ) -> "Host":
        """``boot_from_registry``, blocking."""
        return self._registry(location, home, follow_ms).build_blocking()


class Chunks:
    """What a provider of the application streams through."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink

    @property
    def streaming(self) -> bool:
        """Whether the caller reads a stream."""
        return bool(self._sink.streaming)

    async def text(self, text: str) -> bool:
        """Sends text; ``False`` once the reader stopped (stop generating)."""
        return bool(await self._sink.text_async(str(text)))

    def text_blocking(self, text: str) -> bool:
        """Sends text from a plain (not async) provider function."""
        return bool(self._sink.text(str(text)))


class CompletionStream:
    """A streamed completion: iterate its chunks (``async for``, or ``for`` in
    blocking code), then read ``outcome()``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._ended = False

    async def __aiter__(self) -> AsyncIterator[Dict[str, Any]]:
        try:
            while True:
                chunk = await self._inner.next()
                if chunk is None:
                    self._ended = True
                    return
                yield json.loads(chunk)
        finally:
            if not self._ended:
                # The caller stopped reading: the provider is told to stop.
                await self._inner.cancel()

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        while True:
            chunk = self._inner.next_blocking()
            if chunk is None:
                self._ended = True
                return
            yield json.loads(chunk)

    async def outcome(self) -> Dict[str, Any]:
        """The completion's outcome (its receipts, provider and answer)."""
        return await _awaited(self._inner.outcome)  # type: ignore[no-any-return]

    def outcome_blocking(self) -> Dict[str, Any]:
        """``outcome()``, blocking."""
        return _blocking(self._inner.outcome_blocking)  # type: ignore[no-any-return]


def _answer_text(out: Any) -> str:
    return out if isinstance(out, str) else _json(out)


def _callback(
    run: Callable[..., Any],
    arguments: Callable[..., Tuple[Any, ...]],
    reply: Callable[[Tuple[Any, ...], Any], str],
) -> Tuple[Callable[..., Any], bool]:
    """The function the native side calls for ``run`` (and whether it is a
    coroutine function): it turns the native arguments into ``run``'s with
    ``arguments``, and ``run``'s result into JSON text with ``reply``; what
    ``run`` raises becomes ``{"error": ...}``."""

    def failed(err: BaseException) -> str:
        return _json({"error": str(err) or type(err).__name__})

    if inspect.iscoroutinefunction(run):

        async def call(*native: Any) -> str:
            try:
                args = arguments(*native)
                return reply(args, await run(*args))
            except Exception as err:  # the model reads it
                return failed(err)

        return call, True

    def call_sync(*native: Any) -> str:
        try:
            args = arguments(*native)
            return reply(args, run(*args))
        except Exception as err:  # the model reads it
            return failed(err)

    return call_sync, False


class _Closed:
    """What a closed ``Host`` holds: every call says so."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("this Host is closed; build another with Host.builder()")


class Host:
    """Yoi's plugin host. Make one with ``Host.builder()``."""

    def __init__(self, inner: Any) -> None:
        if not isinstance(inner, (_native.NativeHost, _Closed)):
            raise TypeError("use Host.builder() to make a Host")
        self._inner = inner

    @staticmethod
    def builder() -> HostBuilder:
        """A builder with Yoi's defaults."""
        return HostBuilder()

    contract: str = _native.contract()
    """The WIT contract this host implements."""

    async def load(self, path: str, grants: Sequence[str] = ()) -> Dict[str, Any]:
        """Loads a package folder with ``grants`` (``yoi grant`` forms)."""
        return await _awaited(lambda: self._inner.load(str(path), list(grants)))  # type: ignore[no-any-return]

    def load_blocking(self, path: str, grants: Sequence[str] = ()) -> Dict[str, Any]:
        """``load``, blocking."""
        return _blocking(lambda: self._inner.load_blocking(str(path), list(grants)))  # type: ignore[no-any-return]

    async def load_bytes(
        self, manifest: str, component: bytes, grants: Sequence[str] = ()
    ) -> Dict[str, Any]:
        """Loads a manifest and component held in memory, with grants."""
        return await asyncio.get_running_loop().run_in_executor(
            None, self.load_bytes_blocking, manifest, component, grants
        )

    def load_bytes_blocking(
        self, manifest: str, component: bytes, grants: Sequence[str] = ()
    ) -> Dict[str, Any]:
        """``load_bytes``, blocking."""
        return _blocking(  # type: ignore[no-any-return]
            lambda: self._inner.load_bytes_blocking(manifest, bytes(component), list(grants))
        )

    def configure(self, plugin: str, values: Mapping[str, Json]) -> None:
        """Sets a loaded plugin's settings (checked against its ``[config]``)."""
        try:
            self._inner.configure(plugin, _json(dict(values)))
        except _native.NativeError as err:
            raise _translate(err) from None

    def unload(self, plugin: str) -> bool:
        """Unloads a plugin; whether it was loaded."""
        return bool(self._inner.unload(plugin))

    def plugins(self) -> List[Dict[str, Any]]:
        """The loaded plugins."""
        return json.loads(self._inner.plugins())  # type: ignore[no-any-return]

    async def dispatch(
        self,
        point: Union[HookPointName, str],
        event: Optional[E] = None,
        context: Optional[Mapping[str, Any]] = None,
    ) -> "Dispatch[E]":
        """Runs hook point ``point`` with ``event`` (its fields, as in
        docs/hooks.md): ``{"data", "blocked", "receipts"}``. A plugin's
        failure is in its receipt, never raised."""
        text = _json({} if event is None else event)
        return await _awaited(  # type: ignore[no-any-return]
            lambda: self._inner.dispatch(point, text, _context(context))
        )

    def dispatch_blocking(
        self,
        point: Union[HookPointName, str],
        event: Optional[E] = None,
        context: Optional[Mapping[str, Any]] = None,
    ) -> "Dispatch[E]":
        """``dispatch``, blocking (the GIL is released while plugins run)."""
        text = _json({} if event is None else event)
        return _blocking(  # type: ignore[no-any-return]
            lambda: self._inner.dispatch_blocking(point, text, _context(context))
        )

    @staticmethod
    def _tool_request(name: str, input: Any, call_id: str, turn: int) -> str:
        return _json(
            {"name": name, "input": {} if input is None else input, "call_id": call_id, "turn": turn}
        )

    async def call_tool(
        self,
        name: str,
        input: Optional[Json] = None,
        *,
        call_id: str = "",
        turn: int = 0,
        context: Optional[Mapping[str, Any]] = None,
    ) -> Dict[str, Any]:
        """Calls a tool through its hooks: ``{"status", "output", "persisted", ...}``."""
        request = self._tool_request(name, input, call_id, turn)
        return await _awaited(  # type: ignore[no-any-return]
            lambda: self._inner.call_tool(request, _context(context))
        )

    def call_tool_blocking(
        self,
        name: str,
        input: Optional[Json] = None,
        *,
        call_id: str = "",
        turn: int = 0,
        context: Optional[Mapping[str, Any]] = None,
    ) -> Dict[str, Any]:
        """``call_tool``, blocking."""
        request = self._tool_request(name, input, call_id, turn)
        return _blocking(  # type: ignore[no-any-return]
            lambda: self._inner.call_tool_blocking(request, _context(context))
        )

    def tools(self, subject: Optional[str] = None) -> List[Dict[str, Any]]:
        """The tools a model may be offered (for ``subject``, when given)."""
        return json.loads(self._inner.tools(subject))  # type: ignore[no-any-return]

    async def complete(
        self, request: Mapping[str, Any], context: Optional[Mapping[str, Any]] = None
    ) -> Dict[str, Any]:
        """One completion through the model hooks and the providers."""
        text = _json(request)
        return await _awaited(  # type: ignore[no-any-return]
            lambda: self._inner.complete(text, _context(context))
        )

    def complete_blocking(
        self, request: Mapping[str, Any], context: Optional[Mapping[str, Any]] = None
    ) -> Dict[str, Any]:
        """``complete``, blocking."""
        text = _json(request)
        return _blocking(  # type: ignore[no-any-return]
            lambda: self._inner.complete_blocking(text, _context(context))
        )

    def complete_streaming(
        self, request: Mapping[str, Any], context: Optional[Mapping[str, Any]] = None
    ) -> CompletionStream:
        """A streamed completion: ``async for chunk in stream``, then
        ``await stream.outcome()``."""
        try:
            return CompletionStream(
                self._inner.complete_streaming(_json(request), _context(context))
            )
        except _native.NativeError as err:
            raise _translate(err) from None

    def register_tool(
        self,
        name: str,
        description: str,
        input_schema: Mapping[str, Any],
        run: Callable[[Any], Any],
    ) -> None:
        """Registers a tool of the application. ``run(input)`` (a plain or an
        ``async`` function) answers the output: a string, or a value sent as
        JSON; what it raises is the error the model reads. Register an async
        function from inside your event loop: it runs there."""
        call, is_async = _callback(
            run,
            lambda text: (json.loads(text),),
            lambda _, out: _json({"ok": _answer_text(out)}),
        )
        try:
            self._inner.register_tool(name, description, _json(input_schema), call, is_async)
        except _native.NativeError as err:
            raise _translate(err) from None

    def register_provider(
        self,
        name: str,
        models: Sequence[str],
        run: Callable[[Dict[str, Any], Chunks], Any],
    ) -> None:
        """Registers a model provider of the application for ``models``
        (names, or prefixes ending in ``*``). ``run(request, chunks)`` answers
        the completion (``{"content", "tool_calls"?, "finish_reason"?,
        "usage"?}``) and may stream text first: ``await chunks.text(...)``
        (``chunks.text_blocking(...)`` from a plain function)."""

        def completion(args: Tuple[Any, ...], done: Mapping[str, Any]) -> str:
            answer = {
                "model": args[0].get("model", ""),
                "tool_calls": [],
                "finish_reason": "stop",
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
            answer.update(done)
            return _json({"ok": answer})

        call, is_async = _callback(
            run, lambda text, sink: (json.loads(text), Chunks(sink)), completion
        )
        try:
            self._inner.register_provider(name, list(models), call, is_async)
        except _native.NativeError as err:
            raise _translate(err) from None

    def observe(self, name: str, data: Json = None) -> None:
        """Hands an observation of the application's own to observer plugins."""
        self._inner.observe(name, _json(data))

    def reload(self) -> Dict[str, Any]:
        """Reloads from the registry now: what changed."""
        return _blocking(self._inner.reload)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stops following the registry, writes the receipts still queued and
        releases the host now (its plugins, threads and the functions
        registered with it), not at interpreter exit."""
        inner, self._inner = self._inner, _Closed()
        inner.close()
        del inner

    def __enter__(self) -> "Host":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def hook_declarations() -> str:
    """``hooks.py``'s text, generated from this build's hook table."""
    return str(_native.hook_declarations())
