"""A small Python agent loop that embeds Yoi with the ``yoi_host`` package:
the agent-loop hook points where a runner calls them, the guard, redact and
policy plugins, two tools of the app's own and a scripted model.
``cargo xtask demo`` runs it; docs/embedding.md explains it.

    python agent.py ../guard ../redact ../policy
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Union

from yoi_host import Dispatch, Host, HookContext, Receipt
from yoi_host.hooks import (
    Compacted,
    Compaction,
    CreatedWorkItem,
    Delivered,
    Delivery,
    HostStart,
    HostStop,
    ModelCall,
    ModelResponse,
    NewWorkItem,
    Prompt,
)


@dataclass
class ToolTurn:
    tool: str
    input: Dict[str, Any]


@dataclass
class Answer:
    text: str


Turn = Union[ToolTurn, Answer]


@dataclass
class Script:
    title: str
    request: str
    model: str
    turns: List[Turn] = field(default_factory=list)


SCRIPTS = [
    Script(
        "   Check the billing service   ",
        "Is billing healthy? Clean up the temp files too.",
        "large-2",
        [
            ToolTurn("fetch", {"url": "http://status.internal/billing"}),
            ToolTurn("shell", {"cmd": "rm -rf /tmp/*"}),
            Answer("Billing is up (200). The shell tool is not allowed. Its config uses password=hunter2, rotate it."),
        ],
    ),
    Script("  ", "(an item without a title)", "large-2"),
    Script("Draft the release notes", "Write release notes for 2.4.", "huge-9", [Answer("never reached")]),
]


def show_receipts(receipts: List[Receipt], points: bool = False) -> None:
    for r in receipts:
        if r["status"] == "ok":
            what = "let it through" if not r["changed"] else "changed " + ", ".join(r["changed"])
        elif r["status"] == "blocked":
            what = f"BLOCKED: {r['detail'] or ''}"
        else:
            what = f"{r['status']}: {r['detail'] or ''}"
        where = f" {r['point']}" if points else ""
        print(f"      {r['plugin']}@{r['version']}{where}: {what} ({r['duration']:.2f} ms)")


def show(point: str, out: Mapping[str, Any]) -> None:
    print(f"  [{point}]")
    if not out["receipts"]:
        print("      (no plugin handles this point)")
    show_receipts(out["receipts"])


async def run_item(host: Host, n: int, script: Script) -> None:
    print(f"\n== work item {n}: {json.dumps(script.title)}")
    draft: Dispatch[NewWorkItem] = await host.dispatch(
        "work_item.pre_create",
        NewWorkItem(
            title=script.title,
            payload={"request": script.request},
            session_key=f"session-{n}",
            source="chat",
            instance="py-agent",
        ),
    )
    show("work_item.pre_create", draft)
    blocked = draft["blocked"]
    if blocked is not None:
        print(f"  -> not created: blocked by plugin {blocked['plugin']}: {blocked['reason']}")
        return
    item = draft["data"]
    item_id = f"wi-{n}"
    created = CreatedWorkItem(
        id=item_id,
        title=item.get("title", ""),
        payload=item.get("payload"),
        session_key=item.get("session_key", ""),
        source=item.get("source", ""),
    )
    show("work_item.post_create", await host.dispatch("work_item.post_create", created))
    print(f"  -> created {item_id}: {json.dumps(item.get('title'))}")

    context = HookContext(
        work_item_id=item_id, agent_id="ops", session_id=item.get("session_key"), subject=item.get("session_key")
    )
    prompt: Dispatch[Prompt] = await host.dispatch(
        "run.pre_prompt",
        Prompt(system_prompt="You are the ops assistant.", user_message=script.request, agent_id="ops", work_item_id=item_id),
        context,
    )
    show("run.pre_prompt", prompt)

    messages: List[Any] = [
        {"role": "system", "content": prompt["data"].get("system_prompt")},
        {"role": "user", "content": prompt["data"].get("user_message")},
    ]
    tools = [{"name": t["name"], "description": t["description"], "input_schema": t["input_schema"]} for t in host.tools()]
    answer = ""
    for turn, step in enumerate(script.turns):
        call: Dispatch[ModelCall] = await host.dispatch(
            "model.pre_call",
            ModelCall(model=script.model, temperature=0.2, max_tokens=4096, messages=messages, tools=tools, turn=turn),
            context,
        )
        show("model.pre_call", call)
        stopped = call["blocked"]
        if stopped is not None:
            print(f"  -> model call skipped, the run ends: {stopped['reason']}")
            return
        model = call["data"].get("model", script.model)
        print(f"  -> calling {model} with max_tokens {call['data'].get('max_tokens')}")
        response: Dict[str, Any] = (
            {"tool_call": {"name": step.tool, "input": step.input}} if isinstance(step, ToolTurn) else {"content": step.text}
        )
        post = await host.dispatch(
            "model.post_call",
            ModelResponse(
                response=response, model=model, turn=turn, duration_ms=420, input_tokens=900, output_tokens=120, cost_usd=0.062
            ),
            context,
        )
        show("model.post_call", post)
        messages.append({"role": "assistant", "content": response})
        if isinstance(step, Answer):
            answer = step.text
            break
        print(f"  [tool {step.tool} {json.dumps(step.input)}]")
        outcome = await host.call_tool(step.tool, step.input, call_id=f"call-{turn}", turn=turn, context=context)
        show_receipts(outcome["receipts"], points=True)
        status = "" if outcome["status"] == "ok" else f" [{outcome['status']}]"
        print(f"  -> the model sees{status}: {json.dumps(outcome['output'])}")
        messages.append({"role": "tool", "content": outcome["persisted"]})

    show("context.pre_compact", await host.dispatch("context.pre_compact", Compaction(messages=messages), context))
    compacted = await host.dispatch(
        "context.post_compact",
        Compacted(messages=messages, summary=f"{len(messages)} messages about {json.dumps(item.get('title'))}"),
        context,
    )
    show("context.post_compact", compacted)

    deliver: Dispatch[Delivery] = await host.dispatch(
        "response.pre_deliver",
        Delivery(content=answer, channel="chat", work_item_id=item_id, mode="final"),
        context,
    )
    show("response.pre_deliver", deliver)
    suppressed = deliver["blocked"]
    if suppressed is not None:
        print(f"  -> delivery suppressed: {suppressed['reason']}")
        return
    content = deliver["data"].get("content", "")
    print(f"  -> delivered: {json.dumps(content)}")
    show(
        "response.post_deliver",
        await host.dispatch("response.post_deliver", Delivered(content=content, channel="chat", ok=True, detail="sent"), context),
    )


async def main(dirs: List[str]) -> None:
    host = await Host.builder().name("py-agent").memory_limit_mb(64).chain_budget_ms(2000).build()
    for folder in dirs:
        plugin = await host.load(folder)
        print(f"loaded {plugin['id']}@{plugin['version']} ({len(plugin['hooks'])} hooks)")

    # The app's own tools: `fetch` leaks a secret on purpose, so the redact
    # plugin has something to do; `shell` is on the guard's deny list.
    async def fetch(args: Dict[str, Any]) -> str:
        return f"GET {args['url']} -> 200\nservice: billing\nconfig: api_key=sk-live-9f8e7d6c5b4a3210 password=hunter2"

    async def shell(args: Dict[str, Any]) -> str:
        return f"ran {args['cmd']}"

    host.register_tool(
        "fetch",
        "Fetches a URL from the internal network.",
        {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
        fetch,
    )
    host.register_tool(
        "shell",
        "Runs a shell command.",
        {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
        shell,
    )
    show("host.start", await host.dispatch("host.start", HostStart(name="py-agent", version="0.1.0", instance="py-agent-1")))
    for n, script in enumerate(SCRIPTS, start=1):
        await run_item(host, n, script)
    show("host.stop", await host.dispatch("host.stop", HostStop(name="py-agent", version="0.1.0", instance="py-agent-1")))
    host.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
