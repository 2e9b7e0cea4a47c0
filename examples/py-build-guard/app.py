"""Build guard in Python: handles `build.pre_compile`, a point the host
declares itself (contract 0.6.0). The event is a dict; a change is the
whole event, of which the host lets only `flags` and `build_id` differ."""

import yoi

FORBIDDEN = ("--insecure", "-fno-stack-protector")


def host_hook(point, event):
    if point != "build.pre_compile":
        return yoi.CONTINUE
    for flag in event["flags"]:
        if flag in FORBIDDEN:
            return yoi.block(f"{flag} is not allowed in builds of {event['target']} (Python)")
    if "build_id" in event:
        return yoi.CONTINUE
    yoi.log.info("stamping the build", target=event["target"])
    return yoi.change({**event, "build_id": "py-" + event["target"]})
