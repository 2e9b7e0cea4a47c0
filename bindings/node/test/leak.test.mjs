// 200,000 dispatches through the guard from Node: the process's memory
// stays flat once warm (what a leak per call would not do). Warm
// instances keep the test fast in a debug build; what it watches is every
// call's crossing into the addon and back, which is the same either way.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { Host } from 'yoi-host';

const CALLS = 200_000;
const WARM = 25_000;
const AT_ONCE = 32;

test('200,000 dispatches keep memory flat after warm-up', async () => {
  const b = Host.builder().reuseInstances(true);
  const host = await (process.env.YOI_CACHE ? b.compileCache(process.env.YOI_CACHE) : b).build();
  await host.load(join(process.env.YOI_EXAMPLES, 'guard'));
  const event = { tool_name: 'fetch', input: { url: 'http://status.internal/billing' }, call_id: 'c', turn: 1 };
  const batch = async (n) => {
    for (let done = 0; done < n; done += AT_ONCE) {
      const outs = await Promise.all(
        Array.from({ length: AT_ONCE }, () => host.dispatch('tool.pre_exec', event)),
      );
      for (const out of outs) {
        assert.equal(out.data.input.url, 'https://status.internal/billing');
      }
    }
  };
  await batch(WARM);
  // Resident memory outside V8's heap: V8 grows its young generation with
  // the allocation rate (heapTotal steps of 4-8 MiB), which is V8 sizing
  // itself, not memory the addon keeps; the heap in use is checked apart.
  const native = () => {
    globalThis.gc?.();
    const m = process.memoryUsage();
    return { outside: m.rss - m.heapTotal, used: m.heapUsed, rss: m.rss };
  };
  const warm = native();
  await batch(CALLS - WARM);
  const after = native();
  const mib = (bytes) => bytes / (1024 * 1024);
  const growth = mib(after.outside - warm.outside);
  const heap = mib(after.used - warm.used);
  console.log(
    `rss warm ${mib(warm.rss).toFixed(1)} MiB, after ${CALLS} dispatches ${mib(after.rss).toFixed(1)} MiB; ` +
      `outside V8's heap ${growth.toFixed(1)} MiB, V8 heap in use ${heap.toFixed(1)} MiB`,
  );
  // A leak of 100 bytes a call would be 16.7 MiB here; the allocator's
  // arenas of Yoi's threads (calls that finish there) move a few MiB.
  assert.ok(growth < 8, `memory outside V8's heap grew ${growth.toFixed(1)} MiB over ${CALLS - WARM} dispatches`);
  assert.ok(heap < 4, `V8's heap in use grew ${heap.toFixed(1)} MiB over ${CALLS - WARM} dispatches`);
  host.close();
});
