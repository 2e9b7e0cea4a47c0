// The yoi-host package against the real example components, with the
// assertions of Yoi's own end-to-end tests (crates/host/tests/e2e). Run by
// `cargo xtask e2e` from a scratch project that installed the packed
// tarball, as a user would: YOI_EXAMPLES names the examples folder,
// YOI_BIN the `yoi` binary, YOI_CACHE a compile cache.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Host, YoiError, hookDeclarations } from 'yoi-host';

const examples = process.env.YOI_EXAMPLES;
assert.ok(examples, 'YOI_EXAMPLES names the examples folder (cargo xtask e2e sets it)');
const example = (name) => join(examples, name);

function builder() {
  const b = Host.builder();
  return process.env.YOI_CACHE ? b.compileCache(process.env.YOI_CACHE) : b;
}

function scratch() {
  return mkdtempSync(join(tmpdir(), 'yoi-node-'));
}

/** A package of the probe fixture with its own id, hooks and limits. */
function probe({ id = 'hostile.probe', priority = 200, timeoutMs = 200, fail = 'open', points } = {}) {
  const wasm = readFileSync(example('hostile/probe/probe.wasm'));
  const dir = scratch();
  writeFileSync(join(dir, 'probe.wasm'), wasm);
  const digest = createHash('sha256').update(wasm).digest('hex');
  const declared = points ?? ['tool.pre_exec', 'tool.post_exec'];
  let text =
    `[plugin]\nid = "${id}"\nversion = "0.1.0"\ncontract = "${Host.contract}"\n\n` +
    `[runtime]\nkind = "wasm-component"\nartifact = "probe.wasm"\ndigest = "sha256:${digest}"\n`;
  for (const point of declared) {
    text += `\n[[hooks]]\npoint = "${point}"\npriority = ${priority}\ntimeout_ms = ${timeoutMs}\nfail = "${fail}"\n`;
  }
  // The probe exports every point, so its package declares them all.
  const events = hookDeclarations().split('export interface HookEvents {')[1].split('}')[0];
  const all = [...events.matchAll(/'([a-z_.]+)':/g)].map((m) => m[1]);
  for (const point of all.filter((p) => !declared.includes(p))) {
    text += `\n[[hooks]]\npoint = "${point}"\npriority = ${priority}\ntimeout_ms = ${timeoutMs}\nfail = "open"\n`;
  }
  writeFileSync(join(dir, 'plugin.toml'), text);
  return dir;
}

/** A copy of an example package with its manifest edited. */
function alteredCopy(name, edit) {
  const src = example(name);
  const dir = scratch();
  for (const file of readdirSync(src)) {
    if (file.endsWith('.wasm') || file === 'plugin.toml') {
      copyFileSync(join(src, file), join(dir, file));
    }
  }
  const manifest = join(dir, 'plugin.toml');
  writeFileSync(manifest, edit(readFileSync(manifest, 'utf8')));
  return dir;
}

const statuses = (out) => out.receipts.map((r) => [r.plugin, r.status]);

/** A loopback HTTP server answering with `reply(req)`; `seen` keeps the requests. */
async function stub(reply) {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    reply(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, seen, close: () => server.close() };
}

test('a block stops the chain with its reason', async () => {
  const host = await builder().build();
  await host.load(probe());
  await host.load(example('guard'));
  const out = await host.dispatch('tool.pre_exec', { tool_name: 'fetch #probe:block', input: {} });
  assert.deepEqual(statuses(out), [['hostile.probe', 'blocked']]);
  assert.deepEqual(out.blocked, { plugin: 'hostile.probe', reason: 'probe blocked tool.pre_exec' });
  // The guard's own block, by its settings.
  const denied = await host.dispatch('tool.pre_exec', { tool_name: 'shell', input: { cmd: 'rm -rf /' } });
  assert.equal(denied.blocked.plugin, 'example.guard');
  assert.equal(denied.blocked.reason, 'tool `shell` is on the deny list');
  host.close();
});

test('a change is seen by the next handler', async () => {
  const host = await builder().build();
  await host.load(probe());
  await host.load(example('redact'));
  // The probe (priority 200) writes a password into the output; redact
  // (50) sees it and masks it.
  const out = await host.dispatch('tool.post_exec', {
    tool_name: 'read',
    output: 'x #probe:set:output=password=hunter2',
  });
  assert.equal(out.blocked, null);
  assert.equal(out.data.output, 'password=****');
  assert.deepEqual(
    out.receipts.map((r) => [r.plugin, r.status, r.changed]),
    [
      ['hostile.probe', 'ok', ['output']],
      ['example.redact', 'ok', ['output']],
    ],
  );
  host.close();
});

test('a change outside the point rights and a host call outside the grants are refused', async () => {
  const host = await builder().build();
  await host.load(probe());
  const out = await host.dispatch('tool.pre_exec', { tool_name: 'x #probe:set:tool_name=y', input: {} });
  assert.equal(out.data.tool_name, 'x #probe:set:tool_name=y', 'the change was ignored');
  assert.equal(out.receipts[0].status, 'rejected_change');
  assert.match(out.receipts[0].detail, /tool\.pre_exec lets a plugin change only `input`, but it changed `tool_name`/);

  const secret = await host.dispatch('tool.pre_exec', { tool_name: 'x #probe:secret:API_KEY', input: {} });
  const [denial] = secret.receipts[0].denials;
  assert.equal(denial.capability, 'secret');
  assert.equal(denial.target, 'API_KEY');
  assert.match(denial.fix, /yoi grant hostile\.probe secret:API_KEY/);
  host.close();
});

test('a fail-closed handler that runs out of time blocks the event', async () => {
  const host = await builder().build();
  await host.load(probe({ fail: 'closed', timeoutMs: 100 }));
  const started = Date.now();
  const out = await host.dispatch('tool.pre_exec', { tool_name: 'fetch #probe:loop', input: {} });
  assert.deepEqual(statuses(out), [['hostile.probe', 'timeout']]);
  assert.equal(out.blocked.plugin, 'hostile.probe');
  assert.match(out.blocked.reason, /fail-closed/);
  assert.ok(Date.now() - started < 5000, 'stopped at its time limit, not waited for');
  host.close();
});

test('a tool runs with its grant and is refused without it', async () => {
  const weather = await stub((req, res) => {
    if (req.url.startsWith('/v1/today?city=S%C3%A3o%20Paulo')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"conditions": "light rain", "temperature_c": 7.4, "wind_kmh": 18.0}');
    } else {
      res.writeHead(404).end();
    }
  });
  const pkg = alteredCopy('weather', (t) => t.replace('http://127.0.0.1:18451', weather.origin));
  const host = await builder()
    .secrets({ WEATHER_API_URL: weather.origin, WEATHER_API_KEY: 'k-123' })
    .build();
  await host.load(pkg, [`https:${weather.origin}`, 'secret:WEATHER_API_URL', 'secret:WEATHER_API_KEY']);
  assert.ok(host.tools().some((t) => t.name === 'example.weather.forecast'));
  const out = await host.callTool('example.weather.forecast', { city: 'São Paulo' }, { callId: 'c1' });
  assert.equal(out.status, 'ok', JSON.stringify(out));
  assert.deepEqual(JSON.parse(out.output), { city: 'São Paulo', summary: 'light rain, 7 °C, wind 18 km/h' });
  assert.equal(weather.seen[0].headers.authorization, 'Bearer k-123');
  host.close();

  const bare = await builder().secrets({ WEATHER_API_URL: weather.origin }).build();
  await bare.load(pkg, ['secret:WEATHER_API_URL']);
  const refused = await bare.callTool('example.weather.forecast', { city: 'Oslo' });
  assert.equal(refused.status, 'error', JSON.stringify(refused));
  assert.match(refused.output, /permission denied/);
  assert.ok(refused.run.denials.some((d) => d.capability === 'https'), JSON.stringify(refused.run.denials));
  bare.close();
  weather.close();
});

test('a streamed completion through openai-compat from a loopback stand-in', async () => {
  const delta = (text) =>
    JSON.stringify({ model: 'large-2-0613', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });
  const chat = await stub(async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const event of [
      delta('Oslo '),
      delta('is '),
      delta('rainy.'),
      JSON.stringify({
        model: 'large-2-0613',
        choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
        usage: { prompt_tokens: 31, completion_tokens: 4 },
      }),
    ]) {
      res.write(`data: ${event}\n\n`);
      await sleep(50);
    }
    res.end('data: [DONE]\n\n');
  });
  const pkg = alteredCopy('openai-compat', (m) =>
    m
      .replace('id = "example.openai-compat"', 'id = "acme.chat"')
      .replace('models = ["gpt-*", "o1*", "o3*", "local-*"]', 'models = ["large-*"]')
      .replace('https = ["api.openai.com", "http://127.0.0.1:18452"]', `https = ["${chat.origin}"]`),
  );
  const host = await builder().secrets({ OPENAI_API_KEY: 'sk-test' }).build();
  // Policy caps max_tokens at 1024 in model.pre_call, around the provider.
  await host.load(example('policy'));
  await host.load(pkg, [`https:${chat.origin}`, 'secret:OPENAI_API_KEY']);
  host.configure('acme.chat', { base_url: chat.origin });

  const stream = host.completeStreaming({
    model: 'large-2',
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Weather in Oslo?' },
    ],
    max_tokens: 4096,
  });
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  assert.deepEqual(chunks, [{ text: 'Oslo ' }, { text: 'is ' }, { text: 'rainy.' }]);
  const outcome = await stream.outcome();
  assert.equal(outcome.completion.content, 'Oslo is rainy.');
  assert.equal(outcome.completion.model, 'large-2-0613');
  assert.deepEqual(outcome.completion.usage, { input_tokens: 31, output_tokens: 4, cost_usd: 0 });
  assert.equal(outcome.provider, 'acme.chat.chat');
  assert.deepEqual(
    outcome.receipts.map((r) => [r.plugin, r.point]),
    [
      ['example.policy', 'model.pre_call'],
      ['example.policy', 'model.post_call'],
    ],
  );
  host.close();
  chat.close();
});

test('hot reload while calls are in flight loses no call', async () => {
  const yoi = process.env.YOI_BIN;
  assert.ok(yoi, 'YOI_BIN names the yoi binary');
  const registry = scratch();
  const run = (...args) => execFileSync(yoi, ['--registry', registry, ...args], { stdio: 'pipe' });
  run('publish', example('redact'));
  run('activate', 'example.redact@0.1.0');
  const v2 = alteredCopy('redact', (t) => t.replace('version = "0.1.0"', 'version = "0.2.0"'));
  const host = await builder().bootFromRegistry(registry, { followMs: 20 });
  assert.equal(host.plugins()[0].version, '0.1.0');

  let stop = false;
  let calls = 0;
  const versions = new Set();
  const worker = async () => {
    while (!stop) {
      const out = await host.dispatch('tool.post_exec', { tool_name: 'read', output: 'password=hunter2' });
      // Every call ran on a whole snapshot: exactly one redact, which did its job.
      assert.equal(out.receipts.length, 1, JSON.stringify(out.receipts));
      assert.equal(out.receipts[0].status, 'ok');
      assert.equal(out.data.output, 'password=****');
      versions.add(out.receipts[0].version);
      calls += 1;
    }
  };
  const workers = [worker(), worker(), worker(), worker()];
  const running = async (version) => {
    for (let i = 0; i < 600; i += 1) {
      if (host.plugins()[0]?.version === version) {
        await sleep(100);
        return;
      }
      await sleep(50);
    }
    throw new Error(`the host did not reload to ${version}`);
  };
  try {
    await sleep(100);
    run('publish', v2);
    run('activate', 'example.redact@0.2.0');
    await running('0.2.0');
    run('rollback', 'example.redact@0.1.0');
    await running('0.1.0');
  } finally {
    stop = true;
    await Promise.all(workers);
  }
  assert.ok(calls > 20, `${calls} calls`);
  assert.deepEqual([...versions].sort(), ['0.1.0', '0.2.0']);
  host.close();
});

test('a caller that gives up cancels the call', async () => {
  const host = await builder().build();
  await host.load(probe({ timeoutMs: 30000 }));
  const controller = new AbortController();
  const started = Date.now();
  const call = host.dispatch('tool.pre_exec', { tool_name: 'x #probe:loop' }, null, { signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(call, { name: 'AbortError' });
  assert.ok(Date.now() - started < 5000, 'rejected when aborted, not at the time limit');
  // The host goes on.
  const out = await host.dispatch('tool.pre_exec', { tool_name: 'x' });
  assert.equal(out.receipts[0].status, 'ok');
  host.close();
});

test('errors carry the code and the fix', async () => {
  const host = await builder().build();
  await assert.rejects(host.dispatch('tool.pre_exex', {}), (err) => {
    assert.ok(err instanceof YoiError);
    assert.equal(err.code, 'H0119');
    assert.match(err.fix, /tool\.pre_exec/);
    return true;
  });
  await assert.rejects(host.dispatch('tool.pre_exec', { tool: 'x' }), { code: 'H0110' });
  // A bad manifest: every diagnostic, the first one's code.
  const bad = alteredCopy('guard', (t) => t.replace(/digest = "sha256:[0-9a-f]+"/, 'digest = "sha256:XYZ"'));
  await assert.rejects(host.load(bad), (err) => {
    assert.equal(err.code, 'E0103');
    assert.match(err.detail, /digest-format/);
    return true;
  });
  // A grant wider than the request.
  await assert.rejects(host.load(example('guard'), ['https:evil.example']), (err) => {
    assert.equal(err.code, 'H0111');
    assert.match(err.message, /https:evil\.example/);
    return true;
  });
  await assert.rejects(Host.builder().memoryLimitMb('lots').build(), { code: 'H0114' });
  host.close();
});

test('tools and providers of the application run through the hooks', async () => {
  const host = await builder().build();
  await host.load(example('redact'));
  host.registerTool(
    {
      name: 'fetch',
      description: 'Fetches a URL.',
      inputSchema: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] },
    },
    async ({ url }) => `GET ${url} -> 200\napi_key=sk-live-9f8e7d6c5b4a3210`,
  );
  host.registerTool({ name: 'broken', description: 'Fails.', inputSchema: { type: 'object' } }, () => {
    throw new Error('disk on fire');
  });
  const out = await host.callTool('fetch', { url: 'https://x' });
  assert.equal(out.status, 'ok');
  assert.equal(out.output, 'GET https://x -> 200\napi_key=sk-****');
  const invalid = await host.callTool('fetch', { link: 1 });
  assert.equal(invalid.status, 'invalid_input');
  const broken = await host.callTool('broken', {});
  assert.equal(broken.status, 'error');
  assert.match(broken.output, /disk on fire/);

  host.registerProvider({ name: 'echo', models: ['echo-*'] }, async (request, chunks) => {
    const last = request.messages[request.messages.length - 1].content;
    for (const word of last.split(' ')) {
      await chunks.text(`${word} `);
    }
    return { content: last, usage: { input_tokens: 3, output_tokens: 3 } };
  });
  const done = await host.complete({ model: 'echo-1', messages: [{ role: 'user', content: 'hello there' }] });
  assert.equal(done.completion.content, 'hello there');
  assert.equal(done.provider, 'echo');
  const stream = host.completeStreaming({ model: 'echo-1', messages: [{ role: 'user', content: 'a b c' }] });
  const got = [];
  for await (const chunk of stream) got.push(chunk.text);
  assert.deepEqual(got, ['a ', 'b ', 'c ']);
  const missing = await host.complete({ model: 'nobody', messages: [] });
  assert.match(missing.error.message, /no provider serves model `nobody`/);
  host.observe('app.started', { pid: process.pid });
  host.close();
});

test('the shipped declarations are the ones this build generates', () => {
  const shipped = readFileSync(new URL('../node_modules/yoi-host/hooks.d.ts', import.meta.url), 'utf8');
  assert.equal(shipped, hookDeclarations());
  assert.match(shipped, /export interface ToolCall \{/);
});
