// A small TypeScript agent loop that embeds Yoi with the `yoi-host`
// package: the agent-loop hook points where a runner calls them, the
// guard, redact and policy plugins, two tools of the app's own and a
// scripted model. `cargo xtask demo` runs it; docs/embedding.md explains it.
//
//   node agent.js ../guard ../redact ../policy

import { Host, type Dispatch, type Json, type Receipt } from 'yoi-host';

/** What the scripted model does on a turn. */
type Turn = { tool: string; input: { [key: string]: Json } } | { answer: string };

interface Script {
  title: string;
  request: string;
  model: string;
  turns: Turn[];
}

const scripts: Script[] = [
  {
    title: '   Check the billing service   ',
    request: 'Is billing healthy? Clean up the temp files too.',
    model: 'large-2',
    turns: [
      { tool: 'fetch', input: { url: 'http://status.internal/billing' } },
      { tool: 'shell', input: { cmd: 'rm -rf /tmp/*' } },
      { answer: 'Billing is up (200). The shell tool is not allowed. Its config uses password=hunter2, rotate it.' },
    ],
  },
  { title: '  ', request: '(an item without a title)', model: 'large-2', turns: [] },
  { title: 'Draft the release notes', request: 'Write release notes for 2.4.', model: 'huge-9', turns: [{ answer: 'never reached' }] },
];

function show(point: string, out: Dispatch<unknown>): void {
  console.log(`  [${point}]`);
  if (out.receipts.length === 0) {
    console.log('      (no plugin handles this point)');
  }
  showReceipts(out.receipts);
}

function showReceipts(receipts: Receipt[], points = false): void {
  for (const r of receipts) {
    const what =
      r.status === 'ok'
        ? r.changed.length === 0
          ? 'let it through'
          : `changed ${r.changed.join(', ')}`
        : r.status === 'blocked'
          ? `BLOCKED: ${r.detail ?? ''}`
          : `${r.status}: ${r.detail ?? ''}`;
    const where = points ? ` ${r.point}` : '';
    console.log(`      ${r.plugin}@${r.version}${where}: ${what} (${r.duration.toFixed(2)} ms)`);
  }
}

async function runItem(host: Host, n: number, script: Script): Promise<void> {
  console.log(`\n== work item ${n}: ${JSON.stringify(script.title)}`);
  const draft = await host.dispatch('work_item.pre_create', {
    title: script.title,
    payload: { request: script.request },
    session_key: `session-${n}`,
    source: 'chat',
    instance: 'ts-agent',
  });
  show('work_item.pre_create', draft);
  if (draft.blocked) {
    console.log(`  -> not created: blocked by plugin ${draft.blocked.plugin}: ${draft.blocked.reason}`);
    return;
  }
  const item = draft.data;
  const id = `wi-${n}`;
  show(
    'work_item.post_create',
    await host.dispatch('work_item.post_create', {
      id,
      title: item.title,
      payload: item.payload,
      session_key: item.session_key,
      source: item.source,
    }),
  );
  console.log(`  -> created ${id}: ${JSON.stringify(item.title)}`);

  const context = { work_item_id: id, agent_id: 'ops', session_id: item.session_key, subject: item.session_key };
  const prompt = await host.dispatch(
    'run.pre_prompt',
    { system_prompt: 'You are the ops assistant.', user_message: script.request, agent_id: 'ops', work_item_id: id },
    context,
  );
  show('run.pre_prompt', prompt);

  const messages: Json[] = [
    { role: 'system', content: prompt.data.system_prompt },
    { role: 'user', content: prompt.data.user_message },
  ];
  const tools = host.tools().map((t) => ({ name: t.name, description: t.description, input_schema: t.input_schema }));
  let answer = '';
  for (const [turn, step] of script.turns.entries()) {
    const call = await host.dispatch(
      'model.pre_call',
      { model: script.model, temperature: 0.2, max_tokens: 4096, messages, tools, turn },
      context,
    );
    show('model.pre_call', call);
    if (call.blocked) {
      console.log(`  -> model call skipped, the run ends: ${call.blocked.reason}`);
      return;
    }
    console.log(`  -> calling ${call.data.model} with max_tokens ${call.data.max_tokens}`);
    const response: Json = 'tool' in step ? { tool_call: { name: step.tool, input: step.input } } : { content: step.answer };
    show(
      'model.post_call',
      await host.dispatch(
        'model.post_call',
        { response, model: call.data.model, turn, duration_ms: 420, input_tokens: 900, output_tokens: 120, cost_usd: 0.062 },
        context,
      ),
    );
    messages.push({ role: 'assistant', content: response });
    if ('answer' in step) {
      answer = step.answer;
      break;
    }
    console.log(`  [tool ${step.tool} ${JSON.stringify(step.input)}]`);
    const outcome = await host.callTool(step.tool, step.input, { callId: `call-${turn}`, turn, context });
    showReceipts(outcome.receipts, true);
    console.log(`  -> the model sees${outcome.status === 'ok' ? '' : ` [${outcome.status}]`}: ${JSON.stringify(outcome.output)}`);
    messages.push({ role: 'tool', content: outcome.persisted });
  }

  show('context.pre_compact', await host.dispatch('context.pre_compact', { messages }, context));
  const compacted = await host.dispatch(
    'context.post_compact',
    { messages, summary: `${messages.length} messages about ${JSON.stringify(item.title)}` },
    context,
  );
  show('context.post_compact', compacted);

  const deliver = await host.dispatch(
    'response.pre_deliver',
    { content: answer, channel: 'chat', work_item_id: id, mode: 'final' },
    context,
  );
  show('response.pre_deliver', deliver);
  if (deliver.blocked) {
    console.log(`  -> delivery suppressed: ${deliver.blocked.reason}`);
    return;
  }
  console.log(`  -> delivered: ${JSON.stringify(deliver.data.content)}`);
  show(
    'response.post_deliver',
    await host.dispatch('response.post_deliver', { content: deliver.data.content, channel: 'chat', ok: true, detail: 'sent' }, context),
  );
}

async function main(): Promise<void> {
  const dirs = process.argv.slice(2);
  const host = await Host.builder().name('ts-agent').memoryLimitMb(64).chainBudgetMs(2000).build();
  for (const dir of dirs) {
    const plugin = await host.load(dir);
    console.log(`loaded ${plugin.id}@${plugin.version} (${plugin.hooks.length} hooks)`);
  }
  // The app's own tools: `fetch` leaks a secret on purpose, so the redact
  // plugin has something to do; `shell` is on the guard's deny list.
  host.registerTool(
    {
      name: 'fetch',
      description: 'Fetches a URL from the internal network.',
      inputSchema: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] },
    },
    async (input: { url: string }) =>
      `GET ${input.url} -> 200\nservice: billing\nconfig: api_key=sk-live-9f8e7d6c5b4a3210 password=hunter2`,
  );
  host.registerTool(
    {
      name: 'shell',
      description: 'Runs a shell command.',
      inputSchema: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] },
    },
    async (input: { cmd: string }) => `ran ${input.cmd}`,
  );
  show('host.start', await host.dispatch('host.start', { name: 'ts-agent', version: '0.1.0', instance: 'ts-agent-1' }));
  for (const [i, script] of scripts.entries()) {
    await runItem(host, i + 1, script);
  }
  show('host.stop', await host.dispatch('host.stop', { name: 'ts-agent', version: '0.1.0', instance: 'ts-agent-1' }));
  host.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
