// `dispatch` from Node: per-call latency (p50, p99) of `tool.pre_exec`
// through the guard, warm (reused instances) and fresh (per-event
// isolation), awaited one after another; then throughput from one and two
// worker threads, each with its own host. Run by `cargo xtask bench` from
// a scratch project that installed the release package; prints one JSON
// line per figure for docs/BENCHMARKS.md.

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';

import { Host } from 'yoi-host';

const guard = join(process.env.YOI_EXAMPLES, 'guard');
// The event of crates/host/benches (support::guard_event): ~200 bytes the
// guard lets through unchanged.
const event = { tool_name: 'fetch', input: { url: 'https://api.example.com/v1/reports/2026-11?format=json&limit=50', headers: { accept: 'application/json' }, timeout_s: 10 }, call_id: 'call-0001', turn: 3 };

async function host(reuse) {
  const h = await Host.builder().reuseInstances(reuse).build();
  await h.load(guard);
  return h;
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function latency(name, h, calls) {
  for (let i = 0; i < 2000; i += 1) await h.dispatch('tool.pre_exec', event);
  const times = new Float64Array(calls);
  for (let i = 0; i < calls; i += 1) {
    const t = process.hrtime.bigint();
    await h.dispatch('tool.pre_exec', event);
    times[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  times.sort();
  console.log(JSON.stringify({ bench: `node/${name}`, calls, p50_us: quantile(times, 0.5), p99_us: quantile(times, 0.99) }));
}

async function loop(calls) {
  const h = await host(true);
  for (let i = 0; i < 2000; i += 1) await h.dispatch('tool.pre_exec', event);
  const t = process.hrtime.bigint();
  for (let i = 0; i < calls; i += 1) await h.dispatch('tool.pre_exec', event);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

if (isMainThread) {
  const calls = Number(process.env.YOI_BENCH_CALLS ?? 20000);
  await latency('warm', await host(true), calls);
  await latency('fresh', await host(false), calls);
  for (const workers of [1, 2]) {
    const each = calls;
    const t = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: workers }, () =>
        new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: each });
          w.on('message', resolve);
          w.on('error', reject);
        }),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    console.log(JSON.stringify({ bench: `node/workers_${workers}`, calls: each * workers, calls_per_s: Math.round((each * workers) / seconds) }));
  }
  process.exit(0);
} else {
  parentPort.postMessage(await loop(workerData));
}
