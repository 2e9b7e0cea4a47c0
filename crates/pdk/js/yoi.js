// Yoi's JavaScript PDK for the contract {{contract}}.
//
// `yoi plugin pack` writes this file beside a JavaScript plugin and refreshes
// it at every pack: do not edit it. A plugin is one ES module (`app.js` by
// default, importing this one as `./yoi.js`) exporting plain functions:
//
// - one per hook point it declares in plugin.toml, named after the point in
//   camelCase (`tool.pre_exec` -> `export function toolPreExec(call)`), taking
//   the event (fields in camelCase; 64-bit integers are BigInt) and returning
//   `CONTINUE`, `change(event)` or `block(reason)`;
// - one per tool it declares, named after the tool, called with the tool's
//   input object (already checked against its `input_schema`) and returning
//   the result as a string (anything else is sent as JSON).
//
// Host APIs are plain calls: `log`, `https`, `fs`, `secrets`, `config` and
// `context()`. A call the operator's grants do not allow throws `Denied`,
// whose `fix` is the exact `yoi grant` command. An exception a handler lets
// escape becomes the handler's error. See docs/authoring.md.

import * as wconfig from 'yoi:plugin/config@{{version}}';
import * as wcontext from 'yoi:plugin/context@{{version}}';
import * as wfs from 'yoi:plugin/fs@{{version}}';
import * as whttps from 'yoi:plugin/https@{{version}}';
import * as wlog from 'yoi:plugin/log@{{version}}';
import * as wsecrets from 'yoi:plugin/secrets@{{version}}';

export const CONTRACT = '{{contract}}';

// Outcomes -----------------------------------------------------------------

/** Go on with the event unchanged (returning `undefined` means the same). */
export const CONTINUE = Object.freeze({ tag: 'continue' });

/** Go on with `event` as changed; the host keeps only the fields the point lets a plugin change. */
export function change(event) {
  return { tag: 'change', val: event };
}

/** Stop the event (where the point allows it); `reason` is shown to whoever asked. */
export function block(reason) {
  return { tag: 'block', val: String(reason) };
}

// Errors -------------------------------------------------------------------

/** Base of every error the PDK throws. */
export class YoiError extends Error {}

/** A host API call (`https`, `fs`, `secrets`) failed; `kind` says how. */
const PREFIXES = {
  'not-found': 'not found',
  invalid: 'invalid request',
  'too-large': 'too large',
  timeout: 'timed out',
};

/** A host API call (`https`, `fs`, `secrets`) failed; `kind` says how and `detail` what happened. */
export class ApiError extends YoiError {
  constructor(kind, detail, message = PREFIXES[kind] ? `${PREFIXES[kind]}: ${detail}` : detail) {
    super(message);
    this.kind = kind;
    this.detail = detail;
  }
}

/**
 * The operator's grants do not allow the call; nothing was done. `capability`
 * (https, fs, secret), `target`, `reason`, and `fix`: what an operator runs to
 * allow it, e.g. `yoi grant acme.weather https:api.example.com`.
 */
export class Denied extends ApiError {
  constructor(denial) {
    super('denied', denial.reason, `permission denied: ${denial.reason} (${denial.fix})`);
    this.capability = denial.capability;
    this.target = denial.target;
    this.reason = denial.reason;
    this.fix = denial.fix;
  }
}

/** A setting could not be read (it is not declared in plugin.toml). */
export class ConfigError extends YoiError {}

function api(call) {
  try {
    return call();
  } catch (e) {
    const err = e && e.payload;
    if (!err || typeof err.tag !== 'string') throw e;
    if (err.tag === 'denied') throw new Denied(err.val);
    throw new ApiError(err.tag, String(err.val));
  }
}

const bytes = (data) =>
  typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data ?? []);
const text = (data) => new TextDecoder().decode(data);

// Host APIs ----------------------------------------------------------------

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

function write(level, message, fields = {}) {
  if (!LEVELS.includes(level)) {
    throw new YoiError(`unknown log level \`${level}\`; use ${LEVELS.join(', ')}`);
  }
  wlog.write(level, String(message), Object.entries(fields).map(([k, v]) => [k, String(v)]));
}

/** Log lines into the host's log, tagged with the plugin (no grant needed). */
export const log = {
  write,
  trace: (message, fields) => write('trace', message, fields),
  debug: (message, fields) => write('debug', message, fields),
  info: (message, fields) => write('info', message, fields),
  warn: (message, fields) => write('warn', message, fields),
  error: (message, fields) => write('error', message, fields),
};

/** An HTTP response: `status`, `headers` (lowercase names), `body` (Uint8Array), `url`. */
export class Response {
  constructor(r) {
    this.status = r.status;
    this.headers = r.headers;
    this.body = r.body;
    this.url = r.url;
  }
  /** The first header called `name` (any case), or undefined. */
  header(name) {
    const found = this.headers.find(([k]) => k === name.toLowerCase());
    return found && found[1];
  }
  text() {
    return text(this.body);
  }
  json() {
    return JSON.parse(this.text());
  }
}

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'];

function request(method, url, { headers = [], body, timeoutMs } = {}) {
  const m = String(method).toLowerCase();
  if (!METHODS.includes(m)) {
    throw new ApiError('invalid', `unknown method \`${method}\`; use ${METHODS.join(', ')}`);
  }
  const list = Array.isArray(headers) ? headers : Object.entries(headers);
  return new Response(
    api(() =>
      whttps.send({
        method: m,
        url: String(url),
        headers: list.map(([k, v]) => [String(k), String(v)]),
        body: bytes(body),
        timeoutMs,
      }),
    ),
  );
}

/** Requests made by the host to granted hosts only (`https:HOST` grants). */
export const https = {
  request,
  get: (url, options) => request('get', url, options),
  post: (url, body, options = {}) => request('post', url, { ...options, body }),
  postJson: (url, value, options = {}) => {
    const headers = Array.isArray(options.headers)
      ? options.headers
      : Object.entries(options.headers ?? {});
    return request('post', url, {
      ...options,
      headers: [...headers, ['content-type', 'application/json']],
      body: JSON.stringify(value),
    });
  },
};

/** Files under the plugin's data root, within its `fs:PATH:MODE` grants. */
export const fs = {
  read: (path) => api(() => wfs.read(path)),
  readText: (path) => text(api(() => wfs.read(path))),
  write: (path, data) => api(() => wfs.write(path, bytes(data))),
  append: (path, data) => api(() => wfs.append(path, bytes(data))),
  listDir: (path) => api(() => wfs.listDir(path)),
  stat: (path) => api(() => wfs.stat(path)),
  createDir: (path) => api(() => wfs.createDir(path)),
  remove: (path) => api(() => wfs.remove(path)),
  rename: (from, to) => api(() => wfs.rename(from, to)),
};

/** Secrets the host holds; only granted keys (`secret:KEY`). */
export const secrets = {
  get: (key) => api(() => wsecrets.get(key)),
};

/** The plugin's settings (plugin.toml `[config]`), as the operator set them. */
export const config = {
  /** The setting's value (parsed JSON), or `fallback` when it has none. */
  get(key, fallback = undefined) {
    let value;
    try {
      value = wconfig.get(key);
    } catch (e) {
      throw new ConfigError(
        `\`${key}\` is not a setting of this plugin; declare it under [config] in plugin.toml`,
      );
    }
    return value === undefined ? fallback : JSON.parse(value);
  },
  /** Every setting that has a value, as an object. */
  all: () => JSON.parse(wconfig.all()),
};

/** Who and what the running call is about: `point`, `pluginId`, `workItemId`, `runId`, ... */
export function context() {
  return wcontext.current();
}

// The glue `yoi plugin pack` generates calls --------------------------------

function describe(e) {
  if (e instanceof YoiError) return e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

function fn(plugin, source, name, what) {
  const f = plugin[name];
  if (typeof f !== 'function') {
    throw new Error(
      `${source} exports no function \`${name}\` for ${what} declared in plugin.toml: add \`export function ${name}(...)\` to ${source}`,
    );
  }
  return f;
}

/** The export object of one hook point: calls `plugin[name](event)`. */
export function __hook(plugin, source, point, name) {
  const f = fn(plugin, source, name, `the hook \`${point}\``);
  return {
    handle(event) {
      let out;
      try {
        out = f(event);
      } catch (e) {
        throw describe(e);
      }
      if (out === undefined || out === null) return CONTINUE;
      if (out.tag === 'continue' || out.tag === 'block' || out.tag === 'change') return out;
      throw `${name} returned ${JSON.stringify(out)}; return CONTINUE, change(event) or block(reason)`;
    },
  };
}

/**
 * The `host-hooks` export object (contract 0.6.0): calls
 * `plugin[name](point, event)` for the points the host declares, with the
 * event as an object; a change is the whole event, as an object.
 */
export function __hostHooks(plugin, source, name) {
  const f = fn(plugin, source, name, 'the host-defined hook points');
  return {
    handle(point, event) {
      let out;
      try {
        out = f(point, JSON.parse(event));
      } catch (e) {
        throw describe(e);
      }
      if (out === undefined || out === null) return CONTINUE;
      if (out.tag === 'change') {
        const changed = JSON.stringify(out.val);
        if (typeof changed !== 'string') throw `${name} changed the event to something that is not JSON`;
        return { tag: 'change', val: changed };
      }
      if (out.tag === 'continue' || out.tag === 'block') return out;
      throw `${name} returned ${JSON.stringify(out)}; return CONTINUE, change(event) or block(reason)`;
    },
  };
}

/** The `tools` export object: calls `plugin[name](input)`. */
export function __tools(plugin, source, names) {
  const functions = new Map(names.map((n) => [n, fn(plugin, source, n, `the tool \`${n}\``)]));
  return {
    invoke(call) {
      const f = functions.get(call.name);
      if (!f) throw `no tool \`${call.name}\` in this plugin`;
      let out;
      try {
        out = f(JSON.parse(call.input));
      } catch (e) {
        throw describe(e);
      }
      if (out === undefined || out === null) return '';
      return typeof out === 'string' ? out : JSON.stringify(out);
    },
  };
}
