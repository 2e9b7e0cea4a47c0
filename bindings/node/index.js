'use strict';
// The yoi-host package: Yoi's plugin host embedded in a Node.js app
// (docs/embedding.md). Everything that runs plugins is async and runs on
// Yoi's own threads, so the event loop never waits on a plugin; values
// cross to the native half as JSON text.

const native = loadNative();

/** The native module built for this platform (`yoi-host.linux-x64-gnu.node`). */
function loadNative() {
  const { platform, arch } = process;
  const glibc = platform === 'linux' && process.report.getReport().header.glibcVersionRuntime;
  const abi = platform === 'linux' ? (glibc ? '-gnu' : '-musl') : '';
  const file = `./yoi-host.${platform}-${arch}${abi}.node`;
  try {
    return require(file);
  } catch (err) {
    throw new Error(
      `yoi-host has no native module for ${platform}-${arch}${abi} (${file}): ${err.message}\n` +
        '  fix: install a yoi-host package built on this platform (cargo xtask packages)',
    );
  }
}

/** A refusal by Yoi: a stable `code`, the message and the `fix`. */
class YoiError extends Error {
  constructor({ code, message, fix }) {
    super(`${code} ${message}\n  fix: ${fix}`);
    this.name = 'YoiError';
    this.code = code;
    this.detail = message;
    this.fix = fix;
  }
}

/** The error a native call failed with, as the caller should see it. */
function translate(err, signal) {
  const text = err && typeof err.message === 'string' ? err.message : '';
  if (text.startsWith('YOI{')) {
    return new YoiError(JSON.parse(text.slice(3)));
  }
  if (text === 'ABORTED') {
    return signal && signal.reason !== undefined
      ? signal.reason
      : new DOMException('The operation was aborted.', 'AbortError');
  }
  return err;
}

/** Runs a synchronous native call, translating its error. */
function sync(call) {
  try {
    return call();
  } catch (err) {
    throw translate(err);
  }
}

/**
 * Runs an async native call with an optional AbortSignal. The native call
 * answers its JSON text at once when it finished on this thread, or a
 * promise of it. On abort the promise rejects at once, and the call stops
 * at its next await: the handlers after the running one do not run (a
 * running plugin is stopped at its own time limit).
 */
function cancellable(signal, start) {
  if (signal && signal.aborted) {
    return Promise.reject(translate(new Error('ABORTED'), signal));
  }
  const cancel = signal ? new native.Cancel() : undefined;
  let started;
  try {
    started = start(cancel);
  } catch (err) {
    return Promise.reject(translate(err, signal));
  }
  if (typeof started === 'string') {
    // Finished on this thread: still let the event loop turn once (timers,
    // I/O), as a call that waited would, so a loop of calls starves nothing.
    return new Promise((resolve) => setImmediate(() => resolve(JSON.parse(started))));
  }
  if (!signal) {
    return started.then(JSON.parse, (err) => {
      throw translate(err);
    });
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      cancel.cancel();
      reject(translate(new Error('ABORTED'), signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    started.then(
      (text) => {
        signal.removeEventListener('abort', onAbort);
        resolve(JSON.parse(text));
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(translate(err, signal));
      },
    );
  });
}

/** JSON text of a hook context, or undefined for none. */
function contextText(context) {
  return context === undefined || context === null ? undefined : JSON.stringify(context);
}

/**
 * Collects a host's options: each method sets the `yoi.toml` field of the
 * same meaning (docs/configuration.md), then `build()` or
 * `bootFromRegistry()` starts the host.
 */
class HostBuilder {
  #options = { config: {} };

  #set(section, key, value) {
    const config = this.#options.config;
    config[section] = config[section] || {};
    config[section][key] = value;
    return this;
  }

  /** The host's name in receipts and `yoi hosts`. */
  name(name) {
    return this.#set('host', 'name', name);
  }
  /** Memory cap per plugin instance, in MiB. */
  memoryLimitMb(mb) {
    return this.#set('limits', 'memory_mb', mb);
  }
  /** Time budget of one hook chain, in milliseconds. */
  chainBudgetMs(ms) {
    return this.#set('limits', 'chain_budget_ms', ms);
  }
  /** Time limit of one tool call, in milliseconds. */
  toolTimeoutMs(ms) {
    return this.#set('limits', 'tool_timeout_ms', ms);
  }
  /** Plugin calls at once: in the whole host, and per plugin. */
  concurrency(host, perPlugin) {
    this.#set('limits', 'max_calls', host);
    return this.#set('limits', 'max_calls_per_plugin', perPlugin);
  }
  /** How long a call waits for a free slot before it is `busy`, in ms. */
  queueWaitMs(ms) {
    return this.#set('limits', 'queue_wait_ms', ms);
  }
  /** Keep warm instances between events instead of a fresh one each. */
  reuseInstances(reuse) {
    return this.#set('limits', 'reuse_instances', reuse);
  }
  /** The capabilities this host may grant at all (`yoi grant` forms). */
  capabilities({ allow = [], deny = [] } = {}) {
    this.#set('capabilities', 'allow', allow);
    return this.#set('capabilities', 'deny', deny);
  }
  /** Failures within a window (seconds) that disable a plugin. */
  crashGuard(failures, windowS) {
    this.#set('crash_guard', 'failures', failures);
    return this.#set('crash_guard', 'window_s', windowS);
  }
  /** Where compiled plugins are cached across restarts. */
  compileCache(dir) {
    return this.#set('host', 'cache', dir);
  }
  /** The folder the `fs` API's grants are relative to. */
  dataDir(dir) {
    return this.#set('host', 'data', dir);
  }
  /** Package folders to load at start (and follow, with `hotReload`). */
  pluginFolders(folders, hotReload = false) {
    this.#set('plugins', 'folders', folders);
    return this.#set('host', 'hot_reload', hotReload);
  }
  /** Grants for a folder plugin (`{https: [...], fs: {...}, secrets: [...]}`). */
  grant(plugin, grants) {
    return this.#set('grants', plugin, grants);
  }
  /** Setting values for a folder plugin. */
  settings(plugin, values) {
    return this.#set('settings', plugin, values);
  }
  /** A `yoi.toml` to start from; the other options are laid over it. */
  configFile(path) {
    this.#options.config_file = path;
    return this;
  }
  /** The registry scope of this host: `all`, `beta`, `canary`, `internal`. */
  scope(scope) {
    this.#options.scope = scope;
    return this;
  }
  /** Secret values plugins granted `secret:KEY` may read, by key. */
  secrets(values) {
    this.#options.secrets = { ...this.#options.secrets, ...values };
    return this;
  }
  /** Secrets not given with `secrets()` come from `process.env[prefix + KEY]`. */
  secretsFromEnv(prefix) {
    this.#options.secrets_env_prefix = prefix;
    return this;
  }
  /** Start with no plugin loaded. */
  safeMode(on = true) {
    this.#options.safe_mode = on;
    return this;
  }

  /** Builds the host. */
  async build() {
    return this.#start({ ...this.#options });
  }

  /**
   * Builds the host from a registry (a folder or a `postgres://` URL): it
   * loads the active versions now and follows changes, checking every
   * `followMs` (0: never) for changes made by other processes.
   */
  async bootFromRegistry(location, { home, followMs } = {}) {
    return this.#start({ ...this.#options, registry: location, home, follow_ms: followMs });
  }

  async #start(options) {
    const text = JSON.stringify(options);
    const inner = await native.NativeHost.build(text).catch((err) => {
      throw translate(err);
    });
    return new Host(inner);
  }
}

/** A streamed completion: iterate its chunks, then read its outcome. */
class CompletionStream {
  #inner;
  #ended = false;

  constructor(inner) {
    this.#inner = inner;
  }

  async *[Symbol.asyncIterator]() {
    try {
      for (;;) {
        const chunk = await this.#inner.next();
        if (chunk === null) {
          this.#ended = true;
          return;
        }
        yield JSON.parse(chunk);
      }
    } finally {
      if (!this.#ended) {
        // The caller stopped reading: the provider is told to stop.
        await this.#inner.cancel();
      }
    }
  }

  /** The completion's outcome (its receipts, provider and answer). */
  async outcome() {
    return JSON.parse(await this.#inner.outcome().catch((err) => Promise.reject(translate(err))));
  }
}

/** Yoi's plugin host. */
class Host {
  #inner;

  /** @internal Use `Host.builder()`. */
  constructor(inner) {
    if (!(inner instanceof native.NativeHost)) {
      throw new TypeError('use Host.builder() to make a Host');
    }
    this.#inner = inner;
  }

  /** A builder with Yoi's defaults. */
  static builder() {
    return new HostBuilder();
  }

  /** The WIT contract this host implements. */
  static get contract() {
    return native.contract();
  }

  /** Loads a package folder with `grants` (`yoi grant` forms, within its request). */
  async load(dir, grants = []) {
    return JSON.parse(
      await this.#inner.load(String(dir), grants).catch((err) => Promise.reject(translate(err))),
    );
  }

  /** Sets a loaded plugin's settings (checked against its `[config]`). */
  configure(plugin, values) {
    sync(() => this.#inner.configure(plugin, JSON.stringify(values)));
  }

  /** Loads a manifest and component held in memory, with grants. */
  async loadBytes(manifest, component, grants = []) {
    const bytes = Buffer.isBuffer(component) ? component : Buffer.from(component);
    return JSON.parse(
      await this.#inner.loadBytes(manifest, bytes, grants).catch((err) => Promise.reject(translate(err))),
    );
  }

  /** Unloads a plugin; whether it was loaded. */
  unload(plugin) {
    return this.#inner.unload(plugin);
  }

  /** The loaded plugins. */
  plugins() {
    return JSON.parse(this.#inner.plugins());
  }

  /**
   * Runs hook point `point` with `event` (its fields, as in
   * docs/hooks.md): `{ data, blocked, receipts }`. A plugin's failure is
   * in its receipt, never thrown.
   */
  dispatch(point, event = {}, context, { signal } = {}) {
    const text = JSON.stringify(event);
    return cancellable(signal, (cancel) =>
      this.#inner.dispatch(point, text, contextText(context), cancel),
    );
  }

  /** Calls a tool through its hooks: `{ name, status, output, persisted, ... }`. */
  callTool(name, input = {}, { callId = '', turn = 0, context, signal } = {}) {
    const request = JSON.stringify({ name, input, call_id: callId, turn });
    return cancellable(signal, (cancel) =>
      this.#inner.callTool(request, contextText(context), cancel),
    );
  }

  /** The tools a model may be offered (for `subject`, when given). */
  tools(subject) {
    return JSON.parse(this.#inner.tools(subject));
  }

  /** One completion through the model hooks and the providers. */
  complete(request, context, { signal } = {}) {
    const text = JSON.stringify(request);
    return cancellable(signal, (cancel) => this.#inner.complete(text, contextText(context), cancel));
  }

  /** A streamed completion: `for await (const chunk of stream)`, then `stream.outcome()`. */
  completeStreaming(request, context) {
    return new CompletionStream(
      sync(() => this.#inner.completeStreaming(JSON.stringify(request), contextText(context))),
    );
  }

  /**
   * Registers a tool of the application. `run(input)` answers the output
   * (a string, or a value sent as JSON); what it throws is the error the
   * model reads.
   */
  registerTool({ name, description, inputSchema }, run) {
    const call = async (inputText) => {
      try {
        const out = await run(JSON.parse(inputText));
        return JSON.stringify({ ok: typeof out === 'string' ? out : JSON.stringify(out) });
      } catch (err) {
        return JSON.stringify({ error: String((err && err.message) || err) });
      }
    };
    sync(() => this.#inner.registerTool(name, description, JSON.stringify(inputSchema), call));
  }

  /**
   * Registers a model provider of the application for `models` (names,
   * or prefixes ending in `*`). `run(request, chunks)` answers the
   * completion (`{ content, tool_calls?, finish_reason?, usage? }`) and may
   * stream text first with `await chunks.text('...')`.
   */
  registerProvider({ name, models }, run) {
    const call = async (requestText, sink) => {
      try {
        const request = JSON.parse(requestText);
        const chunks = {
          streaming: sink.streaming(),
          text: (text) => sink.text(String(text)),
        };
        const done = await run(request, chunks);
        return JSON.stringify({
          ok: {
            model: request.model,
            tool_calls: [],
            finish_reason: 'stop',
            usage: { input_tokens: 0, output_tokens: 0 },
            ...done,
          },
        });
      } catch (err) {
        return JSON.stringify({ error: String((err && err.message) || err) });
      }
    };
    sync(() => this.#inner.registerProvider(name, models, call));
  }

  /** Hands an observation of the application's own to observer plugins. */
  observe(name, data = null) {
    sync(() => this.#inner.observe(name, JSON.stringify(data)));
  }

  /** Reloads from the registry now: what changed. */
  reload() {
    return JSON.parse(sync(() => this.#inner.reload()));
  }

  /** Stops following the registry and writes the receipts still queued. */
  close() {
    this.#inner.close();
  }
}

module.exports = {
  Host,
  HostBuilder,
  CompletionStream,
  YoiError,
  hookDeclarations: native.hookDeclarations,
};
