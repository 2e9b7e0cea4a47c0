"""Drives `yoi mcp` with the official MCP Python SDK (`mcp` from PyPI).

Run by the end-to-end tests (tests/mcp/clients.rs) as

    python3 client.py stdio|http legacy|auto

with YOI_MCP_COMMAND (a JSON list: the server's command line) for stdio, or
YOI_MCP_URL and YOI_MCP_TOKEN for HTTP. `legacy` speaks 2025-11-25
(initialize, a session); `auto` discovers and speaks 2026-07-28. Each step
prints one JSON line; after `listening` it waits for the tool list to
change (the test activates a plugin then), lists again, and ends.
"""

import json
import os
import sys

import anyio
import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def say(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def text_of(result):
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def call(client, name, arguments):
    result = await client.call_tool(name, arguments)
    say("call", name=name, is_error=bool(result.is_error), text=text_of(result))


async def main():
    transport, mode = sys.argv[1], sys.argv[2]
    if transport == "stdio":
        command = json.loads(os.environ["YOI_MCP_COMMAND"])
        server = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    else:
        headers = {"Authorization": "Bearer " + os.environ["YOI_MCP_TOKEN"]}
        server = streamable_http_client(
            os.environ["YOI_MCP_URL"], http_client=create_mcp_http_client(headers=headers)
        )

    changed = anyio.Event()

    async def on_message(message):
        root = getattr(message, "root", message)
        if isinstance(root, types.ToolListChangedNotification):
            changed.set()

    async with Client(
        server,
        mode=mode,
        cache=None,
        message_handler=on_message,
        client_info=types.Implementation(name="python-sdk-e2e", version="1.0.0"),
        read_timeout_seconds=60,
    ) as client:
        say("connected", protocol=client.protocol_version, server=client.server_info.name)

        listed = await client.list_tools()
        say(
            "tools",
            names=[t.name for t in listed.tools],
            annotations={
                t.name: t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations else None
                for t in listed.tools
            },
        )
        await call(client, "example.notes.add_note", {"title": "py", "text": "key sk-abcdefghijklmnop"})
        await call(client, "example.notes.read_note", {"title": "py"})
        await call(client, "example.py-notes.add_note", {"title": "py", "text": "from python"})
        await call(client, "example.js-notes.add_note", {"title": "js", "text": "from python, to javascript"})
        await call(client, "example.notes.list_notes", {})

        if mode == "legacy":
            say("listening")
            with anyio.fail_after(30):
                await changed.wait()
        else:
            async with client.listen(tools_list_changed=True) as subscription:
                say("listening")
                with anyio.fail_after(30):
                    async for _event in subscription:
                        break
        say("changed")
        listed = await client.list_tools()
        say("tools-after", names=[t.name for t in listed.tools])
        await call(client, "example.weather.forecast", {"city": "Oslo"})


anyio.run(main)
