"""Yoi's Python PDK for the contract {{contract}}.

`yoi plugin pack` writes this file beside a Python plugin and refreshes it at
every pack: do not edit it. A plugin is one module (`app.py` by default)
holding plain functions:

- one per hook point it declares in plugin.toml, named after the point
  (`tool.pre_exec` -> `def tool_pre_exec(call)`), taking the typed event and
  returning `yoi.CONTINUE`, `yoi.change(event)` or `yoi.block(reason)`;
- one per tool it declares, named after the tool, called with the tool's
  input (already checked against its `input_schema`) as keyword arguments
  and returning the result as text (anything else is sent as JSON).

Host APIs are plain calls: `yoi.log`, `yoi.https`, `yoi.fs`, `yoi.secrets`,
`yoi.config` and `yoi.context()`. A call the operator's grants do not allow
raises `yoi.Denied`, whose `fix` is the exact `yoi grant` command. An
exception a handler lets escape becomes the handler's error (its receipt
says `error`; `fail = "closed"` blocks the event). See docs/authoring.md.
"""

import json as _json

from componentize_py_types import Err as _Err
from wit_world.imports import config as _config
from wit_world.imports import context as _context
from wit_world.imports import fs as _fs
from wit_world.imports import https as _https
from wit_world.imports import log as _log
from wit_world.imports import secrets as _secrets
from wit_world.imports import types as _types
from wit_world.imports.types import (  # noqa: F401  (the typed events)
{{event_types}}
)

CONTRACT = "{{contract}}"


# Outcomes ------------------------------------------------------------------


class Outcome:
    """What a hook handler decided: `CONTINUE`, `change(event)` or `block(reason)`."""


class _Continue(Outcome):
    def __repr__(self):
        return "yoi.CONTINUE"


class _Change(Outcome):
    def __init__(self, event):
        self.event = event

    def __repr__(self):
        return f"yoi.change({self.event!r})"


class _Block(Outcome):
    def __init__(self, reason):
        self.reason = str(reason)

    def __repr__(self):
        return f"yoi.block({self.reason!r})"


CONTINUE = _Continue()
"""Go on with the event unchanged (returning `None` means the same)."""


def change(event):
    """Go on with `event` as changed; the host keeps only the fields the point lets a plugin change."""
    return _Change(event)


def block(reason):
    """Stop the event (where the point allows it); `reason` is shown to whoever asked."""
    return _Block(reason)


# Errors --------------------------------------------------------------------


class YoiError(Exception):
    """Base of every error the PDK raises."""


class ApiError(YoiError):
    """A host API call (`https`, `fs`, `secrets`) failed; `kind` says how and
    `message` says what happened."""

    kind = "failed"
    prefix = None

    def __init__(self, message):
        super().__init__(f"{self.prefix}: {message}" if self.prefix else message)
        self.message = message


class Denied(ApiError):
    """The operator's grants do not allow the call; nothing was done.

    `capability` (https, fs, secret), `target`, `reason`, and `fix`: what an
    operator runs to allow it, e.g. `yoi grant acme.weather https:api.example.com`.
    """

    kind = "denied"
    prefix = "permission denied"

    def __init__(self, denial):
        super().__init__(f"{denial.reason} ({denial.fix})")
        self.capability = denial.capability
        self.target = denial.target
        self.reason = denial.reason
        self.fix = denial.fix
        self.message = denial.reason


class NotFound(ApiError):
    """The file, folder or secret does not exist."""

    kind = "not-found"
    prefix = "not found"


class Invalid(ApiError):
    """The request is malformed (a bad URL, header or path)."""

    kind = "invalid"
    prefix = "invalid request"


class TooLarge(ApiError):
    """A size limit was reached."""

    kind = "too-large"
    prefix = "too large"


class Timeout(ApiError):
    """The host's time limit for the call was reached."""

    kind = "timeout"
    prefix = "timed out"


class Failed(ApiError):
    """A connection or I/O failure."""

    kind = "failed"


class ConfigError(YoiError):
    """A setting could not be read (it is not declared in plugin.toml)."""


_API_ERRORS = {
    _types.ApiError_NotFound: NotFound,
    _types.ApiError_Invalid: Invalid,
    _types.ApiError_TooLarge: TooLarge,
    _types.ApiError_Timeout: Timeout,
    _types.ApiError_Failed: Failed,
}


def _api(call, *args):
    """Runs a host call, turning its `api-error` into a typed exception."""
    try:
        return call(*args)
    except _Err as e:
        err = e.value
        if isinstance(err, _types.ApiError_Denied):
            raise Denied(err.value) from None
        raise _API_ERRORS.get(type(err), Failed)(str(err.value)) from None


# Host APIs -----------------------------------------------------------------


class log:
    """Log lines into the host's log, tagged with the plugin (no grant needed)."""

    @staticmethod
    def write(level, message, **fields):
        """Writes `message` at `level` ("trace", "debug", "info", "warn", "error")."""
        lvl = getattr(_log.Level, str(level).upper(), None)
        if lvl is None:
            raise ValueError(f"unknown log level {level!r}; use trace, debug, info, warn or error")
        _log.write(lvl, str(message), [(str(k), str(v)) for k, v in fields.items()])

    @staticmethod
    def trace(message, **fields):
        log.write("trace", message, **fields)

    @staticmethod
    def debug(message, **fields):
        log.write("debug", message, **fields)

    @staticmethod
    def info(message, **fields):
        log.write("info", message, **fields)

    @staticmethod
    def warn(message, **fields):
        log.write("warn", message, **fields)

    @staticmethod
    def error(message, **fields):
        log.write("error", message, **fields)


class Response:
    """An HTTP response: `status`, `headers` (lowercase names), `body` (bytes), `url`."""

    def __init__(self, r):
        self.status = r.status
        self.headers = list(r.headers)
        self.body = bytes(r.body)
        self.url = r.url

    def header(self, name):
        """The first header called `name` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def text(self):
        """The body as UTF-8 text."""
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body parsed as JSON."""
        return _json.loads(self.body)


class https:
    """Requests made by the host to granted hosts only (`https:HOST` grants)."""

    @staticmethod
    def request(method, url, headers=(), body=b"", timeout_ms=None):
        """Sends a request and returns the whole `Response`; raises `Denied` when not granted."""
        m = getattr(_https.Method, str(method).upper(), None)
        if m is None:
            raise Invalid(f"unknown method {method!r}; use get, head, post, put, patch or delete")
        if isinstance(body, str):
            body = body.encode("utf-8")
        req = _https.Request(
            method=m,
            url=str(url),
            headers=[(str(k), str(v)) for k, v in (headers.items() if isinstance(headers, dict) else headers)],
            body=bytes(body),
            timeout_ms=timeout_ms,
        )
        return Response(_api(_https.send, req))

    @staticmethod
    def get(url, headers=(), timeout_ms=None):
        return https.request("get", url, headers, b"", timeout_ms)

    @staticmethod
    def post(url, body=b"", headers=(), timeout_ms=None):
        return https.request("post", url, headers, body, timeout_ms)

    @staticmethod
    def post_json(url, value, headers=(), timeout_ms=None):
        """POSTs `value` as JSON."""
        h = list(headers.items() if isinstance(headers, dict) else headers)
        h.append(("content-type", "application/json"))
        return https.request("post", url, h, _json.dumps(value), timeout_ms)


class fs:
    """Files under the plugin's data root, within its `fs:PATH:MODE` grants."""

    Entry = _fs.Entry
    EntryKind = _fs.EntryKind

    @staticmethod
    def read(path):
        """The file's bytes."""
        return bytes(_api(_fs.read, path))

    @staticmethod
    def read_text(path):
        """The file as UTF-8 text."""
        return fs.read(path).decode("utf-8", errors="replace")

    @staticmethod
    def write(path, data):
        """Creates or replaces a file (text is written as UTF-8)."""
        _api(_fs.write, path, data.encode("utf-8") if isinstance(data, str) else bytes(data))

    @staticmethod
    def append(path, data):
        _api(_fs.append, path, data.encode("utf-8") if isinstance(data, str) else bytes(data))

    @staticmethod
    def list_dir(path):
        """The folder's entries (`name`, `kind`, `size`), sorted by name."""
        return _api(_fs.list_dir, path)

    @staticmethod
    def stat(path):
        return _api(_fs.stat, path)

    @staticmethod
    def create_dir(path):
        _api(_fs.create_dir, path)

    @staticmethod
    def remove(path):
        _api(_fs.remove, path)

    @staticmethod
    def rename(source, target):
        _api(_fs.rename, source, target)


class secrets:
    """Secrets the host holds; only granted keys (`secret:KEY`)."""

    @staticmethod
    def get(key):
        return _api(_secrets.get, key)


class config:
    """The plugin's settings (plugin.toml `[config]`), as the operator set them."""

    @staticmethod
    def get(key, default=None):
        """The setting's value (parsed JSON), or `default` when it has none."""
        try:
            text = _config.get(key)
        except _Err as e:
            raise ConfigError(
                f"`{e.value.value}` is not a setting of this plugin; declare it under [config] in plugin.toml"
            ) from None
        return default if text is None else _json.loads(text)

    @staticmethod
    def all():
        """Every setting that has a value, as a dict."""
        return _json.loads(_config.all())


def context():
    """Who and what the running call is about: `point`, `plugin_id`, `work_item_id`, `run_id`, ..."""
    return _context.current()


# The glue `yoi plugin pack` generates calls ---------------------------------


def _describe(e):
    if isinstance(e, YoiError):
        return str(e)
    return f"{type(e).__name__}: {e}"


def _function(module, source, name, what):
    fn = getattr(module, name, None)
    if not callable(fn):
        raise TypeError(
            f"{source} has no function `{name}` for {what} declared in plugin.toml: add `def {name}(...)` to {source}"
        )
    return fn


def _hook(module, source, point, function, exports):
    """The export class for one hook point: calls `module.<function>(event)`."""
    fn = _function(module, source, function, f"the hook `{point}`")

    class Hook:
        def handle(self, event):
            try:
                out = fn(event)
            except Exception as e:  # the handler's error, not a trap
                raise _Err(_describe(e)) from None
            if out is None or isinstance(out, _Continue):
                return exports.Outcome_Continue()
            if isinstance(out, _Change):
                return exports.Outcome_Change(out.event)
            if isinstance(out, _Block):
                return exports.Outcome_Block(out.reason)
            raise _Err(
                f"{function} returned {out!r}; return yoi.CONTINUE, yoi.change(event) or yoi.block(reason)"
            )

    return Hook


def _host_hooks(module, source, function, exports):
    """The `host-hooks` export class (contract 0.6.0): calls
    `module.<function>(point, event)` for the points the host declares, with
    the event as a dict; a change is the whole event, as a dict."""
    fn = _function(module, source, function, "the host-defined hook points")

    class HostHooks:
        def handle(self, point, event):
            try:
                out = fn(point, _json.loads(event))
            except Exception as e:  # the handler's error, not a trap
                raise _Err(_describe(e)) from None
            if out is None or isinstance(out, _Continue):
                return exports.Outcome_Continue()
            if isinstance(out, _Change):
                try:
                    changed = _json.dumps(out.event)
                except (TypeError, ValueError) as e:
                    raise _Err(f"{function} changed the event to something that is not JSON: {e}") from None
                return exports.Outcome_Change(changed)
            if isinstance(out, _Block):
                return exports.Outcome_Block(out.reason)
            raise _Err(
                f"{function} returned {out!r}; return yoi.CONTINUE, yoi.change(event) or yoi.block(reason)"
            )

    return HostHooks


def _tools(module, source, names):
    """The `tools` export class: calls `module.<name>(**input)`."""
    functions = {name: _function(module, source, name, f"the tool `{name}`") for name in names}

    class Tools:
        def invoke(self, call):
            fn = functions.get(call.name)
            if fn is None:
                raise _Err(f"no tool `{call.name}` in this plugin")
            try:
                value = _json.loads(call.input)
                out = fn(**value) if isinstance(value, dict) else fn(value)
            except Exception as e:
                raise _Err(_describe(e)) from None
            if out is None:
                return ""
            return out if isinstance(out, str) else _json.dumps(out)

    return Tools
