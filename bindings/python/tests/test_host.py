"""The yoi_host package against the real example components, with the
assertions of Yoi's own end-to-end tests (crates/host/tests/e2e). Run by
``cargo xtask e2e`` in a scratch virtual environment that installed the
built wheel, as a user would: YOI_EXAMPLES names the examples folder,
YOI_BIN the ``yoi`` binary, YOI_CACHE a compile cache."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

import yoi_host
from yoi_host import Host, HostBuilder, YoiError

EXAMPLES = Path(os.environ["YOI_EXAMPLES"])


def example(name: str) -> str:
    return str(EXAMPLES / name)


def builder() -> HostBuilder:
    b = Host.builder()
    cache = os.environ.get("YOI_CACHE")
    return b.compile_cache(cache) if cache else b


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="yoi-py-"))


def probe(
    plugin: str = "hostile.probe",
    priority: int = 200,
    timeout_ms: int = 200,
    fail: str = "open",
    points: Optional[List[str]] = None,
) -> str:
    """A package of the probe fixture with its own id, hooks and limits."""
    wasm = (EXAMPLES / "hostile/probe/probe.wasm").read_bytes()
    folder = scratch()
    (folder / "probe.wasm").write_bytes(wasm)
    declared = points or ["tool.pre_exec", "tool.post_exec"]
    text = (
        f'[plugin]\nid = "{plugin}"\nversion = "0.1.0"\ncontract = "{Host.contract}"\n\n'
        f'[runtime]\nkind = "wasm-component"\nartifact = "probe.wasm"\n'
        f'digest = "sha256:{hashlib.sha256(wasm).hexdigest()}"\n'
    )
    # The probe exports every point, so its package declares them all.
    for point in yoi_host.hooks.EVENTS:
        mode = fail if point in declared else "open"
        text += (
            f'\n[[hooks]]\npoint = "{point}"\npriority = {priority}\n'
            f'timeout_ms = {timeout_ms}\nfail = "{mode}"\n'
        )
    (folder / "plugin.toml").write_text(text)
    return str(folder)


def altered_copy(name: str, edit: Callable[[str], str]) -> str:
    src = EXAMPLES / name
    folder = scratch()
    for file in src.iterdir():
        if file.suffix == ".wasm" or file.name == "plugin.toml":
            shutil.copy(file, folder / file.name)
    manifest = folder / "plugin.toml"
    manifest.write_text(edit(manifest.read_text()))
    return str(folder)


def statuses(out: Dict[str, Any]) -> List[List[str]]:
    return [[r["plugin"], r["status"]] for r in out["receipts"]]


class Stub:
    """A loopback HTTP server answering with ``reply(handler)``."""

    def __init__(self, reply: Callable[[http.server.BaseHTTPRequestHandler], None]) -> None:
        self.seen: List[Dict[str, str]] = []
        seen = self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                reply(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                self.rfile.read(length)
                self.do_GET()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


async def test_a_block_stops_the_chain_with_its_reason() -> None:
    host = await builder().build()
    await host.load(probe())
    await host.load(example("guard"))
    out = await host.dispatch("tool.pre_exec", {"tool_name": "fetch #probe:block", "input": {}})
    assert statuses(out) == [["hostile.probe", "blocked"]]
    assert out["blocked"] == {"plugin": "hostile.probe", "reason": "probe blocked tool.pre_exec"}
    denied = await host.dispatch("tool.pre_exec", {"tool_name": "shell", "input": {"cmd": "rm -rf /"}})
    assert denied["blocked"] == {"plugin": "example.guard", "reason": "tool `shell` is on the deny list"}
    host.close()


async def test_a_change_is_seen_by_the_next_handler() -> None:
    host = await builder().build()
    await host.load(probe())
    await host.load(example("redact"))
    # The probe (priority 200) writes a password into the output; redact
    # (50) sees it and masks it.
    out = await host.dispatch(
        "tool.post_exec", {"tool_name": "read", "output": "x #probe:set:output=password=hunter2"}
    )
    assert out["blocked"] is None
    assert out["data"]["output"] == "password=****"
    assert [[r["plugin"], r["status"], r["changed"]] for r in out["receipts"]] == [
        ["hostile.probe", "ok", ["output"]],
        ["example.redact", "ok", ["output"]],
    ]
    host.close()


async def test_changes_outside_the_rights_and_calls_outside_the_grants_are_refused() -> None:
    host = await builder().build()
    await host.load(probe())
    out = await host.dispatch("tool.pre_exec", {"tool_name": "x #probe:set:tool_name=y", "input": {}})
    assert out["data"]["tool_name"] == "x #probe:set:tool_name=y"
    assert out["receipts"][0]["status"] == "rejected_change"
    assert re.search(
        r"tool\.pre_exec lets a plugin change only `input`, but it changed `tool_name`",
        out["receipts"][0]["detail"],
    )
    secret = await host.dispatch("tool.pre_exec", {"tool_name": "x #probe:secret:API_KEY"})
    denial = secret["receipts"][0]["denials"][0]
    assert (denial["capability"], denial["target"]) == ("secret", "API_KEY")
    assert "yoi grant hostile.probe secret:API_KEY" in denial["fix"]
    host.close()


async def test_a_fail_closed_handler_that_runs_out_of_time_blocks_the_event() -> None:
    host = await builder().build()
    await host.load(probe(fail="closed", timeout_ms=100))
    started = time.monotonic()
    out = await host.dispatch("tool.pre_exec", {"tool_name": "fetch #probe:loop"})
    assert statuses(out) == [["hostile.probe", "timeout"]]
    assert out["blocked"]["plugin"] == "hostile.probe"
    assert "fail-closed" in out["blocked"]["reason"]
    assert time.monotonic() - started < 5
    host.close()


async def test_a_tool_runs_with_its_grant_and_is_refused_without_it() -> None:
    def reply(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/v1/today?city=S%C3%A3o%20Paulo"):
            body = b'{"conditions": "light rain", "temperature_c": 7.4, "wind_kmh": 18.0}'
            h.send_response(200)
            h.send_header("content-type", "application/json")
        else:
            body = b""
            h.send_response(404)
        h.send_header("content-length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    weather = Stub(reply)
    pkg = altered_copy("weather", lambda t: t.replace("http://127.0.0.1:18451", weather.origin))
    host = await builder().secrets({"WEATHER_API_URL": weather.origin, "WEATHER_API_KEY": "k-123"}).build()
    await host.load(pkg, [f"https:{weather.origin}", "secret:WEATHER_API_URL", "secret:WEATHER_API_KEY"])
    assert any(t["name"] == "example.weather.forecast" for t in host.tools())
    out = await host.call_tool("example.weather.forecast", {"city": "São Paulo"}, call_id="c1")
    assert out["status"] == "ok", out
    assert json.loads(out["output"]) == {"city": "São Paulo", "summary": "light rain, 7 °C, wind 18 km/h"}
    assert weather.seen[0]["authorization"] == "Bearer k-123"
    host.close()

    bare = builder().secrets({"WEATHER_API_URL": weather.origin}).build_blocking()
    bare.load_blocking(pkg, ["secret:WEATHER_API_URL"])
    refused = bare.call_tool_blocking("example.weather.forecast", {"city": "Oslo"})
    assert refused["status"] == "error", refused
    assert "permission denied" in refused["output"]
    assert any(d["capability"] == "https" for d in refused["run"]["denials"]), refused["run"]["denials"]
    bare.close()
    weather.close()


def delta(text: str) -> str:
    return json.dumps(
        {"model": "large-2-0613", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    )


async def test_a_streamed_completion_through_openai_compat_from_a_loopback_stand_in() -> None:
    def reply(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("connection", "close")
        h.end_headers()
        events = [
            delta("Oslo "),
            delta("is "),
            delta("rainy."),
            json.dumps(
                {
                    "model": "large-2-0613",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 31, "completion_tokens": 4},
                }
            ),
            "[DONE]",
        ]
        for event in events:
            h.wfile.write(f"data: {event}\n\n".encode())
            h.wfile.flush()
            time.sleep(0.05)
        h.close_connection = True

    chat = Stub(reply)
    pkg = altered_copy(
        "openai-compat",
        lambda m: m.replace('id = "example.openai-compat"', 'id = "acme.chat"')
        .replace('models = ["gpt-*", "o1*", "o3*", "local-*"]', 'models = ["large-*"]')
        .replace('https = ["api.openai.com", "http://127.0.0.1:18452"]', f'https = ["{chat.origin}"]'),
    )
    host = await builder().secrets({"OPENAI_API_KEY": "sk-test"}).build()
    await host.load(example("policy"))
    await host.load(pkg, [f"https:{chat.origin}", "secret:OPENAI_API_KEY"])
    host.configure("acme.chat", {"base_url": chat.origin})
    stream = host.complete_streaming(
        {
            "model": "large-2",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Weather in Oslo?"},
            ],
            "max_tokens": 4096,
        }
    )
    chunks = [chunk async for chunk in stream]
    assert chunks == [{"text": "Oslo "}, {"text": "is "}, {"text": "rainy."}]
    outcome = await stream.outcome()
    assert outcome["completion"]["content"] == "Oslo is rainy."
    assert outcome["completion"]["usage"] == {"input_tokens": 31, "output_tokens": 4, "cost_usd": 0}
    assert outcome["provider"] == "acme.chat.chat"
    assert [[r["plugin"], r["point"]] for r in outcome["receipts"]] == [
        ["example.policy", "model.pre_call"],
        ["example.policy", "model.post_call"],
    ]
    host.close()
    chat.close()


async def test_hot_reload_while_calls_are_in_flight_loses_no_call() -> None:
    registry = scratch()

    def run(*args: str) -> None:
        subprocess.run([os.environ["YOI_BIN"], "--registry", str(registry), *args], check=True, capture_output=True)

    run("publish", example("redact"))
    run("activate", "example.redact@0.1.0")
    v2 = altered_copy("redact", lambda t: t.replace('version = "0.1.0"', 'version = "0.2.0"'))
    host = await builder().boot_from_registry(str(registry), follow_ms=20)
    assert host.plugins()[0]["version"] == "0.1.0"

    stop = False
    calls = 0
    versions = set()

    async def worker() -> None:
        nonlocal calls
        while not stop:
            out = await host.dispatch("tool.post_exec", {"tool_name": "read", "output": "password=hunter2"})
            assert len(out["receipts"]) == 1, out["receipts"]
            assert out["receipts"][0]["status"] == "ok"
            assert out["data"]["output"] == "password=****"
            versions.add(out["receipts"][0]["version"])
            calls += 1

    async def running(version: str) -> None:
        for _ in range(600):
            plugins = host.plugins()
            if plugins and plugins[0]["version"] == version:
                await asyncio.sleep(0.1)
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the host did not reload to {version}")

    workers = [asyncio.ensure_future(worker()) for _ in range(4)]
    try:
        await asyncio.sleep(0.1)
        await asyncio.to_thread(run, "publish", v2)
        await asyncio.to_thread(run, "activate", "example.redact@0.2.0")
        await running("0.2.0")
        await asyncio.to_thread(run, "rollback", "example.redact@0.1.0")
        await running("0.1.0")
    finally:
        stop = True
        await asyncio.gather(*workers)
    assert calls > 20, calls
    assert sorted(versions) == ["0.1.0", "0.2.0"]
    host.close()


async def test_a_cancelled_call_stops() -> None:
    host = await builder().build()
    await host.load(probe(timeout_ms=30000))
    started = time.monotonic()
    task = asyncio.ensure_future(host.dispatch("tool.pre_exec", {"tool_name": "x #probe:loop"}))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 5
    out = await host.dispatch("tool.pre_exec", {"tool_name": "x"})
    assert out["receipts"][0]["status"] == "ok"
    host.close()


async def test_errors_carry_the_code_and_the_fix() -> None:
    host = await builder().build()
    with pytest.raises(YoiError) as unknown:
        await host.dispatch("tool.pre_exex", {})
    assert unknown.value.code == "H0119"
    assert "tool.pre_exec" in unknown.value.fix
    with pytest.raises(YoiError) as payload:
        await host.dispatch("tool.pre_exec", {"tool": "x"})
    assert payload.value.code == "H0110"
    bad = altered_copy("guard", lambda t: re.sub(r'digest = "sha256:[0-9a-f]+"', 'digest = "sha256:XYZ"', t))
    with pytest.raises(YoiError) as manifest:
        await host.load(bad)
    assert manifest.value.code == "E0103"
    assert "digest-format" in manifest.value.detail
    with pytest.raises(YoiError) as grant:
        await host.load(example("guard"), ["https:evil.example"])
    assert grant.value.code == "H0111"
    with pytest.raises(YoiError) as option:
        Host.builder().memory_limit_mb("lots").build_blocking()  # type: ignore[arg-type]
    assert option.value.code == "H0114"
    host.close()


async def test_tools_and_providers_of_the_application_run_through_the_hooks() -> None:
    host = await builder().build()
    await host.load(example("redact"))

    async def fetch(args: Dict[str, Any]) -> str:
        return f"GET {args['url']} -> 200\napi_key=sk-live-9f8e7d6c5b4a3210"

    def broken(_: Dict[str, Any]) -> str:
        raise RuntimeError("disk on fire")

    host.register_tool(
        "fetch",
        "Fetches a URL.",
        {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
        fetch,
    )
    host.register_tool("broken", "Fails.", {"type": "object"}, broken)
    out = await host.call_tool("fetch", {"url": "https://x"})
    assert out["status"] == "ok"
    assert out["output"] == "GET https://x -> 200\napi_key=sk-****"
    assert (await host.call_tool("fetch", {"link": 1}))["status"] == "invalid_input"
    failed = await host.call_tool("broken", {})
    assert failed["status"] == "error"
    assert "disk on fire" in failed["output"]

    async def echo(request: Dict[str, Any], chunks: yoi_host.Chunks) -> Dict[str, Any]:
        last = request["messages"][-1]["content"]
        for word in last.split(" "):
            await chunks.text(word + " ")
        return {"content": last, "usage": {"input_tokens": 3, "output_tokens": 3}}

    host.register_provider("echo", ["echo-*"], echo)
    done = await host.complete({"model": "echo-1", "messages": [{"role": "user", "content": "hello there"}]})
    assert done["completion"]["content"] == "hello there"
    assert done["provider"] == "echo"
    stream = host.complete_streaming({"model": "echo-1", "messages": [{"role": "user", "content": "a b c"}]})
    assert [c["text"] async for c in stream] == ["a ", "b ", "c "]
    missing = await host.complete({"model": "nobody", "messages": []})
    assert "no provider serves model `nobody`" in missing["error"]["message"]
    host.observe("app.started", {"pid": os.getpid()})
    host.close()


def test_the_blocking_api_needs_no_event_loop() -> None:
    with builder().build_blocking() as host:
        host.load_blocking(example("guard"))
        out = host.dispatch_blocking(
            "tool.pre_exec", {"tool_name": "fetch", "input": {"url": "http://a.example/"}}
        )
        assert out["data"]["input"]["url"] == "https://a.example/"


def test_the_shipped_declarations_are_the_ones_this_build_generates() -> None:
    shipped = Path(yoi_host.hooks.__file__).read_text()
    assert shipped == yoi_host.hook_declarations()
    assert "class ToolCall(TypedDict, total=False):" in shipped
