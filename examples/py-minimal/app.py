import yoi


def tool_pre_exec(call: yoi.ToolCall):
    if call.tool_name == "shell":
        return yoi.block("shell access is disabled")
    return yoi.CONTINUE
