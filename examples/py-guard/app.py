"""Guard, in Python: stops tools on a deny list and upgrades plain-HTTP URLs
in tool input to HTTPS before the tool runs (`tool.pre_exec`). The deny list
is the `deny` setting in plugin.toml's [config]."""

import json

import yoi


def tool_pre_exec(call: yoi.ToolCall):
    if call.tool_name in yoi.config.get("deny", []):
        yoi.log.warn(f"refused tool `{call.tool_name}`")
        return yoi.block(f"tool `{call.tool_name}` is on the deny list")
    data = json.loads(call.input)
    url = data.get("url") if isinstance(data, dict) else None
    if isinstance(url, str) and url.startswith("http://"):
        data["url"] = "https://" + url[len("http://"):]
        call.input = json.dumps(data)
        yoi.log.info("rewrote input.url from http:// to https://")
        return yoi.change(call)
    return yoi.CONTINUE
