// The yoi-host package's API (docs/embedding.md). Each hook point's event
// type comes from hooks.d.ts, generated from Yoi's hook table.

import type { BlockingPoint, ChangeableFields, HookEvents, HookPointName, Json } from './hooks';

export type { BlockingPoint, ChangeableFields, HookEvents, HookPointName, Json } from './hooks';
export * from './hooks';

/** A refusal by Yoi: a bad manifest, a refused grant, an unknown point. */
export declare class YoiError extends Error {
  /** `E…` (a package's diagnostics), `R…` (the registry), `H…` (the host): docs/diagnostics.md. */
  readonly code: string;
  /** What is wrong. */
  readonly detail: string;
  /** What to do about it. */
  readonly fix: string;
}

/** The ids an event belongs to: plugins read them; `subject` decides partial rollouts. */
export interface HookContext {
  work_item_id?: string | null;
  run_id?: string | null;
  agent_id?: string | null;
  session_id?: string | null;
  subject?: string | null;
}

/** How one handler's run ended. */
export type Status = 'ok' | 'blocked' | 'timeout' | 'error' | 'rejected_change' | 'busy';

/** A host API call the plugin's grants refused. */
export interface Denial {
  capability: string;
  target: string;
  reason: string;
  granted: string[];
  fix: string;
}

/** One line a plugin logged. */
export interface LogLine {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: [string, string][];
}

/** The record of one handler's run. */
export interface Receipt {
  plugin: string;
  version: string;
  point: string;
  status: Status;
  /** Fields the handler changed (and the host kept). */
  changed: string[];
  /** The block reason, error or rejection, in words. */
  detail: string | null;
  /** Wall time in milliseconds, instantiation included. */
  duration: number;
  logs: LogLine[];
  denials: Denial[];
}

/** Who stopped an event, and why. */
export interface Blocked {
  plugin: string;
  reason: string;
}

/** A dispatch's answer: the event as the handlers left it, who blocked it, a receipt per handler. */
export interface Dispatch<E> {
  data: E;
  blocked: Blocked | null;
  receipts: Receipt[];
}

/** Cancellation of one call. */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface ToolCallOptions extends CallOptions {
  callId?: string;
  turn?: number;
  context?: HookContext;
}

/** Who implements a tool. */
export type ToolSource =
  | { kind: 'native' }
  | { kind: 'plugin'; id: string; version: string }
  | { kind: 'mcp'; server: string; unsandboxed: boolean };

export interface ToolSpec {
  name: string;
  description: string;
  input_schema: Json;
  source: ToolSource;
}

export type ToolStatus =
  | 'ok'
  | 'unknown_tool'
  | 'invalid_input'
  | 'blocked'
  | 'error'
  | 'timeout'
  | 'busy';

/** A plugin tool's run. */
export interface ToolRun {
  plugin: string;
  version: string;
  status: Status;
  detail: string | null;
  duration: number;
  logs: LogLine[];
  denials: Denial[];
}

/** A tool call's answer. */
export interface ToolOutcome {
  name: string;
  status: ToolStatus;
  /** What the model reads. */
  output: string;
  /** What the history keeps (after `tool.result_persist`). */
  persisted: string;
  blocked: Blocked | null;
  run: ToolRun | null;
  remote: Json | null;
  receipts: Receipt[];
}

export interface ModelToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface Message {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content?: string;
  tool_calls?: ModelToolCall[];
  tool_call_id?: string;
}

export interface CompletionRequest {
  model: string;
  messages: Message[];
  tools?: { name: string; description: string; input_schema: Json }[];
  temperature?: number | null;
  max_tokens?: number | null;
  stop?: string[];
  turn?: number;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cost_usd?: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'other';

export interface Completion {
  model: string;
  content: string;
  tool_calls: ModelToolCall[];
  finish_reason: FinishReason;
  usage: Usage;
}

/** A completion's answer: `completion`, or `error` when there is none. */
export interface CompletionOutcome {
  model: string;
  completion?: Completion;
  error?: { message: string; detail: Json };
  provider: string | null;
  attempts: Json[];
  receipts: Receipt[];
}

/** A piece of a streamed answer. */
export type Chunk = { text: string } | { tool_call: ModelToolCall };

export declare class CompletionStream implements AsyncIterable<Chunk> {
  [Symbol.asyncIterator](): AsyncIterator<Chunk>;
  /** The completion's outcome, once the stream ended. */
  outcome(): Promise<CompletionOutcome>;
}

/** What a provider of the application streams through. */
export interface Chunks {
  /** Whether the caller reads a stream. */
  readonly streaming: boolean;
  /** Sends text; `false` once the reader stopped (stop generating). */
  text(text: string): Promise<boolean>;
}

export interface PluginInfo {
  id: string;
  version: string;
  digest: string;
  hooks: { point: string; priority: number; fail: 'open' | 'closed'; timeout_ms: number }[];
  origin: 'local' | 'registry';
  rollout: Json | null;
  grants: Json[];
  cache: Json;
  tools: string[];
  providers: string[];
  observes: string[];
  services: string[];
}

export declare class HostBuilder {
  name(name: string): this;
  memoryLimitMb(mb: number): this;
  chainBudgetMs(ms: number): this;
  toolTimeoutMs(ms: number): this;
  concurrency(host: number, perPlugin: number): this;
  queueWaitMs(ms: number): this;
  reuseInstances(reuse: boolean): this;
  capabilities(cap: { allow?: string[]; deny?: string[] }): this;
  crashGuard(failures: number, windowS: number): this;
  compileCache(dir: string): this;
  dataDir(dir: string): this;
  pluginFolders(folders: string[], hotReload?: boolean): this;
  grant(plugin: string, grants: { https?: string[]; fs?: Record<string, 'ro' | 'rw'>; secrets?: string[] }): this;
  settings(plugin: string, values: Record<string, Json>): this;
  configFile(path: string): this;
  scope(scope: 'all' | 'beta' | 'canary' | 'internal'): this;
  secrets(values: Record<string, string>): this;
  secretsFromEnv(prefix: string): this;
  safeMode(on?: boolean): this;
  build(): Promise<Host>;
  bootFromRegistry(location: string, options?: { home?: string; followMs?: number }): Promise<Host>;
}

export declare class Host {
  private constructor();
  static builder(): HostBuilder;
  static readonly contract: string;
  load(dir: string, grants?: string[]): Promise<PluginInfo>;
  configure(plugin: string, values: Record<string, Json>): void;
  loadBytes(manifest: string, component: Uint8Array, grants?: string[]): Promise<PluginInfo>;
  unload(plugin: string): boolean;
  plugins(): PluginInfo[];
  /** One of Yoi's points, typed by its event. */
  dispatch<P extends HookPointName>(
    point: P,
    event?: Partial<HookEvents[P]>,
    context?: HookContext | null,
    options?: CallOptions,
  ): Promise<Dispatch<HookEvents[P]>>;
  /** A point the host declared itself (`yoi.toml` `[[points]]`). */
  dispatch(
    point: string,
    event?: Record<string, Json>,
    context?: HookContext | null,
    options?: CallOptions,
  ): Promise<Dispatch<Record<string, Json>>>;
  callTool(name: string, input?: Json, options?: ToolCallOptions): Promise<ToolOutcome>;
  tools(subject?: string): ToolSpec[];
  complete(request: CompletionRequest, context?: HookContext | null, options?: CallOptions): Promise<CompletionOutcome>;
  completeStreaming(request: CompletionRequest, context?: HookContext | null): CompletionStream;
  registerTool(
    tool: { name: string; description: string; inputSchema: Json },
    run: (input: any) => string | Json | Promise<string | Json>,
  ): void;
  registerProvider(
    provider: { name: string; models: string[] },
    run: (request: CompletionRequest, chunks: Chunks) => Promise<Partial<Completion> & { content: string }>,
  ): void;
  observe(name: string, data?: Json): void;
  reload(): Json;
  close(): void;
}

/** hooks.d.ts's text, generated from this build's hook table. */
export declare function hookDeclarations(): string;
