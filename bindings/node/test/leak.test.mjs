// 100,000 dispatches through the guard from Node: the process's resident
// memory stays flat once warm (what a leak per call would not do). Warm
// instances keep the test fast in a debug build; what it watches is every
// call's crossing into the addon and back, which is the same either way.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { Host } from 'yoi-host';

const CALLS = 100_000;
const AT_ONCE = 32;

test('100,000 dispatches keep resident memory flat after warm-up', async () => {
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
  await batch(CALLS / 10);
  globalThis.gc?.();
  const warm = process.memoryUsage().rss;
  await batch(CALLS - CALLS / 10);
  globalThis.gc?.();
  const after = process.memoryUsage().rss;
  const growth = (after - warm) / (1024 * 1024);
  console.log(`rss warm ${(warm / 1048576).toFixed(1)} MiB, after ${CALLS} dispatches ${(after / 1048576).toFixed(1)} MiB (${growth.toFixed(1)} MiB)`);
  // A leak of 100 bytes a call would be 9 MiB here.
  assert.ok(growth < 8, `resident memory grew ${growth.toFixed(1)} MiB over ${CALLS * 0.9} dispatches`);
  host.close();
});
