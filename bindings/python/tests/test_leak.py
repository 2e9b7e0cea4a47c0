"""100,000 dispatches through the guard from Python: the process's resident
memory stays flat once warm (what a leak per call would not do). Warm
instances keep the test fast in a debug build; what it watches is every
call's crossing into the extension and back, which is the same either way."""

from __future__ import annotations

import asyncio
import gc
import os
from pathlib import Path

from yoi_host import Host

CALLS = 100_000
AT_ONCE = 32


def rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


async def test_100000_dispatches_keep_resident_memory_flat_after_warm_up() -> None:
    b = Host.builder().reuse_instances(True)
    cache = os.environ.get("YOI_CACHE")
    host = await (b.compile_cache(cache) if cache else b).build()
    await host.load(os.path.join(os.environ["YOI_EXAMPLES"], "guard"))
    event = {"tool_name": "fetch", "input": {"url": "http://status.internal/billing"}, "call_id": "c", "turn": 1}

    async def batch(n: int) -> None:
        for _ in range(0, n, AT_ONCE):
            outs = await asyncio.gather(*(host.dispatch("tool.pre_exec", event) for _ in range(AT_ONCE)))
            for out in outs:
                assert out["data"]["input"]["url"] == "https://status.internal/billing"

    await batch(CALLS // 10)
    gc.collect()
    warm = rss_mib()
    await batch(CALLS - CALLS // 10)
    gc.collect()
    after = rss_mib()
    print(f"rss warm {warm:.1f} MiB, after {CALLS} dispatches {after:.1f} MiB ({after - warm:.1f} MiB)")
    # A leak of 100 bytes a call would be 9 MiB here.
    assert after - warm < 8, f"resident memory grew {after - warm:.1f} MiB"
    host.close()
