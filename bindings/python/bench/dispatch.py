"""``dispatch`` from Python: per-call latency (p50, p99) of ``tool.pre_exec``
through the guard, warm (reused instances) and fresh (per-event
isolation), awaited one after another and blocking; then throughput of
``dispatch_blocking`` from one and two threads on one host, warm and fresh (the GIL is
released while plugins run). Run by ``cargo xtask bench`` in a scratch
environment with the release wheel; prints one JSON line per figure."""

import asyncio
import json
import os
import threading
import time

from yoi_host import Host

GUARD = os.path.join(os.environ["YOI_EXAMPLES"], "guard")
# The event of crates/host/benches (support::guard_event).
EVENT = {"tool_name": "fetch", "input": {"url": "https://api.example.com/v1/reports/2026-11?format=json&limit=50", "headers": {"accept": "application/json"}, "timeout_s": 10}, "call_id": "call-0001", "turn": 3}
CALLS = int(os.environ.get("YOI_BENCH_CALLS", "20000"))


def host(reuse: bool) -> Host:
    h = Host.builder().reuse_instances(reuse).build_blocking()
    h.load_blocking(GUARD)
    return h


def report(name: str, times: list) -> None:
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * len(times)))]  # noqa: E731
    print(json.dumps({"bench": f"python/{name}", "calls": len(times), "p50_us": q(0.5), "p99_us": q(0.99)}))


async def awaited(name: str, h: Host) -> None:
    for _ in range(2000):
        await h.dispatch("tool.pre_exec", EVENT)
    times = []
    for _ in range(CALLS):
        t = time.perf_counter_ns()
        await h.dispatch("tool.pre_exec", EVENT)
        times.append((time.perf_counter_ns() - t) / 1000)
    report(name, times)


def blocking(name: str, h: Host) -> None:
    for _ in range(2000):
        h.dispatch_blocking("tool.pre_exec", EVENT)
    times = []
    for _ in range(CALLS):
        t = time.perf_counter_ns()
        h.dispatch_blocking("tool.pre_exec", EVENT)
        times.append((time.perf_counter_ns() - t) / 1000)
    report(name, times)


def threads(name: str, h: Host, n: int) -> None:
    def loop() -> None:
        for _ in range(CALLS):
            h.dispatch_blocking("tool.pre_exec", EVENT)

    started = time.perf_counter()
    workers = [threading.Thread(target=loop) for _ in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - started
    print(json.dumps({"bench": f"python/{name}_threads_{n}", "calls": CALLS * n, "calls_per_s": round(CALLS * n / seconds)}))


def main() -> None:
    warm, fresh = host(True), host(False)
    asyncio.run(awaited("warm", warm))
    asyncio.run(awaited("fresh", fresh))
    blocking("warm_blocking", warm)
    blocking("fresh_blocking", fresh)
    for name, h in (("warm", warm), ("fresh", fresh)):
        for n in (1, 2):
            threads(name, h, n)


main()
