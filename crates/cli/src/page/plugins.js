// The /ops/plugins page: the registry's versions, grants, audit log and
// runtime events, re-rendered live from the change stream, with buttons for
// the lifecycle and `window.yoi` for scripts driving the page
// (docs/serve.md). Everything goes through the same HTTP API as any client:
// a bearer token, no cookies.
(() => {
  'use strict';

  const API = '/api/v1';
  const TOKEN_KEY = 'yoi.token';
  const SHOWN = 50; // audit records and events shown
  const SCOPES = ['all', 'beta', 'canary', 'internal'];
  const PLUGIN_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
  const VERSION = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$/;

  let token = null;
  let access = null;
  let whoPosture = null;
  let current = null;
  let refreshing = null;
  let again = false;

  const $ = (id) => document.getElementById(id);

  // Builds an element; text always goes in as text, never as markup, so
  // nothing a plugin or a client wrote (ids, reasons) can become script.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      // CSSOM, not a style attribute: the page's policy refuses those.
      else if (k === 'style') el.style.cssText = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const fail = (error) => ({ ok: false, error });

  function when(ms) {
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return `${s}s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }

  // ---- the API ---------------------------------------------------------

  // One call to the API. Resolves to the server's answer, or to
  // { ok: false, error } when there is none to read; never rejects.
  async function request(method, path, body, type) {
    if (!token) return fail('not signed in: open the page with #token=TOKEN or sign in with a token from serve-tokens');
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = type || 'application/json';
    const raw = body instanceof ArrayBuffer || body instanceof Uint8Array || typeof body === 'string';
    let res;
    try {
      res = await fetch(API + path, {
        method, headers, cache: 'no-store',
        body: body === undefined ? undefined : (raw ? body : JSON.stringify(body)),
      });
    } catch (e) {
      return fail(`the server cannot be reached: ${e.message || e}`);
    }
    let answer;
    try {
      answer = await res.json();
    } catch (e) {
      return fail(`the server answered ${res.status} without JSON`);
    }
    if (answer && typeof answer === 'object' && !('ok' in answer) && res.ok) {
      return { ok: true, record: answer };
    }
    return answer;
  }

  function operation(op, actor) {
    if (actor !== undefined && actor !== null) {
      if (typeof actor !== 'string' || !actor) return Promise.resolve(fail('`actor` must be a non-empty string'));
      op.actor = actor;
    }
    return request('POST', '/operations', op);
  }

  function checkTarget(id, version) {
    if (typeof id !== 'string' || !PLUGIN_ID.test(id)) {
      return `the plugin id must be a string like "acme.guard" (lowercase letters, digits, ".", "_", "-"), not ${JSON.stringify(id)}`;
    }
    if (typeof version !== 'string' || !VERSION.test(version)) {
      return `the version must be a semver string like "1.2.0", not ${JSON.stringify(version)}`;
    }
    return null;
  }

  function base64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }

  // Each function resolves to { ok, error?, audit, record? }; malformed
  // input is refused the same way, never thrown.
  const yoi = {
    async publishPlugin(pkg, actor) {
      try {
        if (!pkg || typeof pkg !== 'object') {
          return fail('publishPlugin(pkg): pkg must be { manifest, artifactDigest?, artifactUrl? }');
        }
        // The push contract's names and Yoi's own mean the same; one field
        // under both is refused rather than guessed.
        const names = { artifactDigest: 'artifact_digest', artifactUrl: 'artifact' };
        const extra = Object.keys(pkg).filter((k) => !['manifest', 'artifact_digest', 'artifact', ...Object.keys(names)].includes(k));
        if (extra.length) return fail(`publishPlugin(pkg): unknown field ${extra.map((k) => `\`${k}\``).join(', ')}; a package is { manifest, artifactDigest?, artifactUrl? }`);
        for (const [contract, own] of Object.entries(names)) {
          if (pkg[contract] !== undefined && pkg[own] !== undefined) {
            return fail(`publishPlugin(pkg): \`${contract}\` and \`${own}\` are the same field: give one of them`);
          }
        }
        const { manifest } = pkg;
        const digest = pkg.artifactDigest !== undefined ? pkg.artifactDigest : pkg.artifact_digest;
        let artifact = pkg.artifactUrl !== undefined ? pkg.artifactUrl : pkg.artifact;
        if (typeof manifest !== 'string' && (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest))) {
          return fail('publishPlugin(pkg): `manifest` must be plugin.toml\'s text or an object');
        }
        if (digest !== undefined && (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest))) {
          return fail('publishPlugin(pkg): `artifactDigest` must be "sha256:" and 64 lowercase hex digits');
        }
        if (artifact instanceof ArrayBuffer) artifact = new Uint8Array(artifact);
        if (artifact instanceof Uint8Array) artifact = base64(artifact);
        if (typeof artifact !== 'string' || !artifact) {
          return fail('publishPlugin(pkg): `artifactUrl` must be a file:// URL (or `artifact` base64 text or bytes): Yoi stores and inspects the component itself');
        }
        const who = actor === undefined ? 'agent' : actor;
        if (who !== null && (typeof who !== 'string' || !who)) return fail('`actor` must be a non-empty string');
        const body = { manifest, artifact };
        if (digest !== undefined) body.artifact_digest = digest;
        if (who !== null) body.actor = who;
        return await request('POST', '/packages', body);
      } catch (e) {
        return fail(String((e && e.message) || e));
      }
    },

    async activatePlugin(id, version, options) {
      try {
        const wrong = checkTarget(id, version);
        if (wrong) return fail(wrong);
        if (options !== undefined && (options === null || typeof options !== 'object')) {
          return fail('activatePlugin: options must be { actor?, scope?, rolloutPct? }');
        }
        const { actor = 'agent', scope = 'all', rolloutPct = 100, ...rest } = options || {};
        if (Object.keys(rest).length) return fail(`activatePlugin: unknown option ${Object.keys(rest).map((k) => `\`${k}\``).join(', ')}`);
        if (!SCOPES.includes(scope)) return fail(`activatePlugin: scope must be one of ${SCOPES.join(', ')}, not ${JSON.stringify(scope)}`);
        if (!Number.isInteger(rolloutPct) || rolloutPct < 0 || rolloutPct > 100) {
          return fail(`activatePlugin: rolloutPct must be a whole number from 0 to 100, not ${JSON.stringify(rolloutPct)}`);
        }
        return await operation({ op: 'activate', plugin: id, version, scope, rollout_pct: rolloutPct }, actor);
      } catch (e) {
        return fail(String((e && e.message) || e));
      }
    },

    async deactivatePlugin(id, version, actor = 'agent') {
      const wrong = checkTarget(id, version);
      return wrong ? fail(wrong) : operation({ op: 'deactivate', plugin: id, version }, actor);
    },

    async rollbackPlugin(id, version, actor = 'agent') {
      const wrong = checkTarget(id, version);
      return wrong ? fail(wrong) : operation({ op: 'rollback', plugin: id, version }, actor);
    },

    // The snapshot itself, in the contract's shape: { versions,
    // activeVersions, audits, ... }; { ok: false, error } when it cannot
    // be read.
    async getPluginSnapshot() {
      const answer = await request('GET', `/snapshot?shape=contract&limit=${SHOWN}`);
      return answer.ok && answer.record ? answer.record : answer;
    },

    // Wipes the registry, as the contract has it: no second question (the
    // page's own button asks). `actor` may be given as a string or as
    // { actor }.
    async clearPluginRegistry(options) {
      const actor = typeof options === 'string' ? options : (options && options.actor);
      return operation({ op: 'clear', confirm: true }, actor === undefined ? 'agent' : actor);
    },
  };
  Object.freeze(yoi);
  Object.defineProperty(window, 'yoi', { value: yoi, enumerable: true });

  // ---- live updates ----------------------------------------------------

  function setLive(on, text) {
    const pill = $('live');
    pill.className = `pill ${on ? 'on' : 'off'}`;
    pill.textContent = text || (on ? 'live' : 'reconnecting');
  }

  // Reads the server-sent events stream with fetch, because EventSource
  // cannot send the Authorization header.
  async function follow() {
    for (;;) {
      try {
        const res = await fetch(`${API}/changes`, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
        if (res.status === 401) { signOut('the token was refused'); return; }
        if (!res.ok || !res.body) throw new Error(`status ${res.status}`);
        setLive(true);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let name = 'message';
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) name = line.slice(6).trim();
            }
            if (name === 'marks' || name === 'plugins.updated') refresh();
          }
        }
      } catch (e) {
        // reconnect below
      }
      setLive(false);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  // Fetches and renders the snapshot; concurrent calls coalesce into one
  // more fetch after the running one.
  async function refresh() {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      do {
        again = false;
        const answer = await request('GET', `/snapshot?shape=contract&limit=${SHOWN}`);
        if (answer.ok && answer.record) {
          current = answer.record;
          render(current);
          // Bubbles from the document to the window, so a listener on
          // either hears it (the contract listens on window).
          document.dispatchEvent(new CustomEvent('yoi:plugins:updated', { detail: current, bubbles: true }));
        } else if (answer.error) {
          show('Could not read the registry', answer);
        }
      } while (again);
      refreshing = null;
    })();
    return refreshing;
  }

  // ---- rendering -------------------------------------------------------

  function rollout(v) {
    return v.rollout ? `${v.rollout.rolloutPct}%` : '';
  }

  function render(snap) {
    $('seq').textContent = `change ${snap.seq}`;
    const byPlugin = new Map();
    for (const v of snap.versions) {
      if (!byPlugin.has(v.pluginId)) byPlugin.set(v.pluginId, []);
      byPlugin.get(v.pluginId).push(v);
    }
    const plugins = [...byPlugin.keys()].sort();
    const disabled = snap.disabled || {};
    const activeCount = Object.keys(snap.activeVersions).length;
    const failures = snap.audits.filter((a) => a.outcome === 'error').length;

    $('summary').replaceChildren(
      h('div', { class: 'figure' }, h('b', {}, plugins.length), h('span', {}, 'plugins')),
      h('div', { class: 'figure' }, h('b', {}, activeCount), h('span', {}, 'active')),
      h('div', { class: 'figure' }, h('b', {}, snap.versions.length), h('span', {}, 'versions')),
      h('div', { class: 'figure' }, h('b', {}, Object.keys(disabled).length), h('span', {}, 'disabled')),
      h('div', { class: 'figure' }, h('b', {}, failures), h('span', {}, `refusals in the last ${snap.audits.length} audit records`)),
    );

    // Where each plugin runs: one card per plugin, with what its version
    // contributes and, when it is disabled, why.
    $('active').replaceChildren(...(plugins.length ? plugins.map((id) => {
      const versions = byPlugin.get(id);
      const active = versions.find((v) => v.state === 'active');
      const why = disabled[id];
      const cls = why ? 'disabled' : active ? 'active' : 'idle';
      return h('div', { class: `card ${cls}`, 'data-plugin': id },
        h('h3', {}, id),
        active
          ? [h('div', { class: 'where' }, h('b', {}, active.version), ` on ${active.rollout.scope} hosts, ${active.rollout.rolloutPct}% of subjects`),
            h('div', { class: 'bar' }, h('i', { style: `width:${active.rollout.rolloutPct}%` }))]
          : h('div', { class: 'where' }, 'not active'),
        why ? banner(snap, id, why) : null,
        timeline(snap, id),
        h('div', {},
          why ? null : actionButton('disable', id, null, 'Disable…'),
          active ? null : actionButton('remove_all', id, null, 'Remove all…')),
        contributions(active || versions[versions.length - 1]).map(([what, names]) =>
          h('div', { class: 'gives', 'data-gives': what }, h('span', { class: 'muted' }, `${what}: `), names.map((n) => h('code', {}, n)))),
        h('div', { class: 'muted' }, `${versions.length} version${versions.length === 1 ? '' : 's'}`));
    }) : [h('div', { class: 'empty' }, 'No plugins published yet: `yoi publish PACKAGE`, or POST a package to /api/v1/packages.')]));

    // The version table, grouped by plugin, newest first.
    const rows = [];
    for (const id of plugins) {
      const versions = [...byPlugin.get(id)].sort((a, b) => b.seq - a.seq);
      const active = versions.find((v) => v.state === 'active');
      versions.forEach((v, i) => {
        const actions = [];
        if (v.state === 'active') actions.push(actionButton('deactivate', id, v.version, 'Deactivate'));
        else actions.push(actionButton('activate', id, v.version, 'Activate'));
        if (v.state !== 'active' && (!active || v.seq > active.seq)) {
          actions.push(actionButton('upgrade', id, v.version, active ? 'Upgrade…' : 'Review…'));
        }
        if (active && v.state !== 'active' && v.seq < active.seq) {
          actions.push(actionButton('rollback', id, v.version, 'Roll back to this'));
        }
        if (v.state !== 'active') actions.push(actionButton('remove', id, v.version, 'Remove'));
        rows.push(h('tr', {
          class: [v.state === 'active' ? 'is-active' : '', i === 0 ? 'first-of-plugin' : ''].join(' ').trim() || null,
          'data-plugin': id, 'data-version': v.version, 'data-state': v.state,
        },
        h('td', { class: 'mono' }, i === 0 ? id : ''),
        h('td', { class: 'mono' }, v.version),
        h('td', {}, h('span', { class: `state ${v.state}` }, v.state.replace('_', ' '))),
        h('td', {}, v.state === 'active' ? v.rollout.scope : ''),
        h('td', {}, v.state === 'active' ? rollout(v) : ''),
        h('td', { class: 'mono', title: v.digest }, v.digest.slice(7, 19)),
        h('td', { class: v.signer === 'unsigned' ? 'muted' : null, title: v.source ? `from ${v.source.reference} (${v.source.digest})` : null }, v.signer || 'unsigned'),
        h('td', {}, v.publishedBy),
        h('td', { title: when(v.publishedAt) }, ago(v.publishedAt)),
        h('td', {}, actions)));
      });
    }
    $('versions').tBodies[0].replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 10, class: 'empty' }, 'no versions'))]));

    // Grants: what each plugin's running (else newest) version asks for,
    // the decision on each, and the buttons that change it; then decisions
    // on what it no longer asks for.
    $('grants').replaceChildren(...(plugins.length ? plugins.map((id) => {
      const versions = byPlugin.get(id);
      const v = versions.find((x) => x.state === 'active') || versions[versions.length - 1];
      const asked = new Set((v.requests || []).map((r) => r.capability));
      const rows = (v.requests || []).map((r) => {
        const buttons = [];
        if (r.decision !== 'granted') buttons.push(actionButton('grant', id, null, 'Grant', r.capability));
        if (r.decision === 'undecided' || r.decision === 'partly') buttons.push(actionButton('deny', id, null, 'Deny', r.capability));
        if (r.decision === 'granted' || r.decision === 'denied') buttons.push(actionButton('revoke', id, null, 'Revoke', r.capability));
        if (r.decision === 'partly') buttons.push(actionButton('revoke', id, null, 'Revoke', r.granted.join(', ')));
        const label = r.decision === 'partly' ? `granted in part: ${r.granted.join(', ')}` : r.decision;
        return h('div', { class: 'request', 'data-capability': r.capability, 'data-decision': r.decision },
          h('code', {}, r.capability),
          h('span', { class: `state ${r.decision === 'partly' ? 'granted' : r.decision === 'undecided' ? 'published' : r.decision}` }, label),
          buttons);
      });
      const stale = snap.grants.filter((g) => g.plugin === id && !asked.has(g.capability) &&
        !(v.requests || []).some((r) => r.granted.includes(g.capability)));
      return h('div', { class: 'grants', 'data-plugin': id },
        h('b', {}, id), h('span', { class: 'muted' }, `${v.version} asks for`),
        rows.length ? rows : h('div', { class: 'muted' }, 'nothing: it needs no grant'),
        stale.map((g) => h('div', { class: 'request', 'data-capability': g.capability },
          h('code', {}, g.capability),
          h('span', { class: 'muted' }, `${g.granted ? 'granted' : 'denied'}; ${v.version} does not ask for it`),
          actionButton('revoke', id, null, 'Revoke', g.capability))));
    }) : [h('div', { class: 'empty' }, 'No plugins, so no capability decisions yet.')]));

    // Hosts and services, as hosts last reported them.
    $('hosts').tBodies[0].replaceChildren(...((snap.hosts || []).length ? snap.hosts.map((x) => h('tr', {
      class: x.state === 'current' ? null : 'failed', 'data-host': x.name,
    },
    h('td', { class: 'mono' }, x.name),
    h('td', {}, x.scope),
    h('td', {}, h('span', { class: `state ${x.state === 'current' ? 'ok' : 'error'}` }, x.state)),
    h('td', { title: when(x.last_seen) }, ago(x.last_seen)),
    h('td', { class: 'sandbox' }, sandbox(x.posture)),
    h('td', { class: 'mono' }, x.contract),
    h('td', { class: 'mono' }, x.engine),
    h('td', { class: 'mono' }, x.loaded.map((l) => `${l.plugin}@${l.version}`).join(', ') || '—'))) :
      [h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No host has reported yet: `yoi host` runs one.'))]));
    posture(whoPosture, snap.hosts || []);
    $('mcp-servers').tBodies[0].replaceChildren(...((snap.mcpServers || []).length ? snap.mcpServers.map((m) => {
      const changes = m.waiting || [];
      const held = changes.filter((c) => c.change !== 'added');
      const served = m.pinned.tools.filter((t) => !held.some((c) => c.name === t.name));
      const stdio = m.endpoint.transport === 'stdio';
      return h('tr', { class: changes.length ? 'failed' : null, 'data-mcp-server': m.name },
        h('td', { class: 'mono' }, m.name),
        h('td', { class: 'mono' }, stdio ? `stdio: ${m.endpoint.command} ${m.endpoint.args.join(' ')}` : m.endpoint.url,
          stdio ? h('span', { class: 'state error', title: 'a local process: it runs outside every sandbox' }, ' unsandboxed') : null),
        h('td', { class: 'mono' }, served.map((t) => `${m.name}.${t.name}`).join(', ') || '—'),
        h('td', {}, changes.length ? changes.map((c) => h('div', { class: 'mono' },
          `${c.change === 'added' ? '+' : c.change === 'removed' ? '-' : '~'} ${c.name}${c.fields && c.fields.length ? ` (${c.fields.join(', ')})` : ''}`)) : '—'),
        h('td', { class: 'mono', title: m.pinned.digest }, `${m.pinned.digest.slice(0, 19)}…`),
        h('td', {},
          m.pending ? actionButton('mcp_approve', m.name, null, 'Approve', m.pending.digest) : null,
          actionButton('mcp_remove', m.name, null, 'Remove')));
    }) : [h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No MCP server declared: `yoi mcp-server add NAME URL` adds one.'))]));
    $('services').tBodies[0].replaceChildren(...((snap.services || []).length ? snap.services.map((e) => {
      const d = e.detail || {};
      return h('tr', { class: d.last_error ? 'failed' : null, 'data-service': `${e.plugin}/${d.service}` },
        h('td', { class: 'mono' }, e.plugin),
        h('td', { class: 'mono' }, d.service),
        h('td', {}, h('span', { class: `state ${d.state === 'running' ? 'ok' : 'error'}` }, d.state)),
        h('td', {}, `${d.queued}/${d.capacity}`),
        h('td', {}, d.processed),
        h('td', {}, d.errors),
        h('td', {}, d.restarts),
        h('td', { class: 'reason' }, d.last_error || ''));
    }) : [h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No service has reported.'))]));

    // Settings: a form per plugin from its running (else newest) version's
    // `[config]`, with the values set per scope; a secret's value never
    // reaches the page.
    renderSettings(snap, plugins, byPlugin);

    // The audit log, newest first.
    const audits = [...snap.audits].reverse();
    $('audits').tBodies[0].replaceChildren(...(audits.length ? audits.map((a) => h('tr', { class: a.outcome === 'error' ? 'failed' : null, 'data-audit': a.id },
      h('td', { class: 'mono' }, a.id),
      h('td', { title: when(a.at) }, ago(a.at)),
      h('td', {}, a.actor),
      h('td', {}, a.action),
      h('td', { class: 'mono' }, a.plugin ? `${a.plugin}${a.version ? `@${a.version}` : ''}` : ''),
      h('td', {}, h('span', { class: `state ${a.outcome}` }, a.outcome)),
      h('td', { class: 'reason' }, a.reason))) : [h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'empty'))]));

    renderEvents();
  }

  // The settings forms. What an operator is typing survives the redraw a
  // change elsewhere causes.
  function renderSettings(snap, plugins, byPlugin) {
    const kept = new Map();
    for (const el of $('settings').querySelectorAll('[data-input]')) kept.set(el.dataset.input, el.value);
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.input : null;
    const forms = plugins.map((id) => {
      const versions = byPlugin.get(id);
      const v = versions.find((x) => x.state === 'active') || versions[versions.length - 1];
      const declared = (v.manifest && typeof v.manifest.config === 'object' && v.manifest.config) || {};
      const values = (snap.config || []).filter((c) => c.plugin === id);
      const names = Object.keys(declared);
      const undeclared = values.filter((c) => !names.includes(c.key));
      if (!names.length && !values.length) return null;
      return h('div', { class: 'grants', 'data-plugin': id },
        h('b', {}, id), h('span', { class: 'muted' }, `settings of ${v.version}`),
        names.map((key) => settingForm(id, key, declared[key], values.filter((c) => c.key === key))),
        undeclared.map((c) => h('div', { class: 'request' }, valueChip(c),
          h('span', { class: 'muted' }, `not a setting of ${v.version}: kept, not given to it`),
          actionButton('unset', id, null, 'Unset', `${c.key}@${c.scope}`))));
    }).filter(Boolean);
    $('settings').replaceChildren(...(forms.length ? forms : [h('div', { class: 'empty' }, 'No plugin declares settings.')]));
    for (const el of $('settings').querySelectorAll('[data-input]')) {
      if (kept.has(el.dataset.input)) el.value = kept.get(el.dataset.input);
      if (focused && el.dataset.input === focused) el.focus();
    }
  }

  function valueChip(c) {
    return h('span', {
      class: 'setting', 'data-key': c.key, 'data-scope': c.scope,
      title: `set by ${c.set_by}, ${when(c.set_at)}`,
    },
    c.scope === 'all' ? null : h('span', { class: 'state published' }, c.scope),
    h('code', {}, c.key), ' = ',
    c.secret ? h('span', { class: 'muted' }, '•••••• secret') : h('code', {}, JSON.stringify(c.value)));
  }

  // One setting: what it is, its values by scope, and a form that sets one.
  function settingForm(id, key, decl, values) {
    const type = decl.type || 'string';
    const field = `${id}/${key}`;
    let input;
    if (decl.secret) {
      input = h('input', { type: 'password', autocomplete: 'new-password', 'data-input': field, placeholder: values.length ? 'a new value replaces it' : 'the secret', 'aria-label': key });
    } else if (type === 'boolean') {
      input = h('select', { 'data-input': field, 'aria-label': key }, h('option', {}, 'true'), h('option', {}, 'false'));
    } else if (type === 'list' || type === 'object') {
      input = h('textarea', { rows: 2, 'data-input': field, placeholder: type === 'list' ? '["a", "b"]' : '{"key": "value"}', 'aria-label': key });
    } else {
      input = h('input', { type: 'text', inputmode: type === 'string' ? null : 'decimal', 'data-input': field, 'aria-label': key });
    }
    const scope = h('select', { 'data-input': `${field}#scope`, 'aria-label': `${key} scope` }, SCOPES.map((sc) => h('option', {}, sc)));
    const set = h('button', {
      type: 'submit', disabled: access !== 'rw' ? true : null,
      title: access !== 'rw' ? 'this token may only read' : null,
    }, decl.secret && values.length ? 'Replace' : 'Set');
    const form = h('form', {
      class: 'setting-form', 'data-key': key,
      onsubmit: async (ev) => {
        ev.preventDefault();
        const answer = await operation({ op: 'config_set', plugin: id, key, scope: scope.value, value: typed(type, decl.secret, input.value) });
        show(`Set ${key} of ${id}${scope.value === 'all' ? '' : ` for ${scope.value} hosts`}`, answer);
        if (answer.ok) input.value = '';
      },
    }, input, scope, set);
    return h('div', { class: 'request setting-row', 'data-key': key },
      h('code', {}, key),
      h('span', { class: 'state published' }, type),
      decl.required ? h('span', { class: 'state rolled_back' }, 'required') : null,
      decl.secret ? h('span', { class: 'state inactive' }, 'secret: write only') : null,
      decl.description ? h('span', { class: 'muted' }, decl.description) : null,
      decl.default !== undefined ? h('span', { class: 'muted' }, `default ${JSON.stringify(decl.default)}`) : null,
      h('div', { class: 'values' }, values.map((c) => [valueChip(c),
        actionButton('unset', id, null, 'Unset', `${c.key}@${c.scope}`)])),
      form);
  }

  // A typed value as the API takes it. Text that is not of the setting's
  // type is sent as text, so the server's check (the CLI's) says why.
  function typed(type, secret, text) {
    if (secret || type === 'string') return text;
    if (type === 'boolean') return text === 'true';
    if (type === 'integer' || type === 'number') {
      const n = Number(text.trim());
      return text.trim() !== '' && Number.isFinite(n) ? n : text;
    }
    try { return JSON.parse(text); } catch (e) { return text; }
  }

  // What a version contributes, from its manifest.
  function contributions(v) {
    const m = (v && typeof v.manifest === 'object' && v.manifest) || {};
    const names = (xs, f) => (Array.isArray(xs) ? xs.map(f).filter((x) => typeof x === 'string') : []);
    return [
      ['hooks', names(m.hooks, (x) => x.point)],
      ['tools', names(m.tools, (x) => x.name)],
      ['providers', names(m.providers, (x) => x.name)],
      ['services', names(m.services, (x) => x.name)],
      ['observes', names(m.observer && m.observer.kinds, (x) => x)],
    ].filter(([, xs]) => xs.length);
  }

  // The plugin's recent receipts (among the events the page holds),
  // oldest first, one mark each: point, status and duration on hover.
  function timeline(snap, id) {
    const receipts = (snap.events || []).filter((e) => e.plugin === id && e.kind === 'receipt').slice(-30);
    if (!receipts.length) return null;
    return h('div', { class: 'timeline', 'data-timeline': id, title: 'recent receipts, oldest first' },
      receipts.map((e) => {
        const d = e.detail || {};
        const ms = typeof d.duration_ms === 'number' ? `, ${d.duration_ms.toFixed(1)} ms` : '';
        return h('i', { class: d.status || 'ok', 'data-status': d.status, title: `${d.point || 'tool'}: ${d.status}${ms}, ${when(e.at)}` });
      }));
  }

  // How a host runs plugins, as it reported.
  function sandbox(p) {
    if (!p) return h('span', { class: 'muted' }, 'not reported');
    if (p.safe_mode) return h('span', { class: 'state error' }, 'safe mode: no plugin loaded');
    const secs = (ms) => `${ms % 1000 ? (ms / 1000).toFixed(1) : ms / 1000} s`;
    return [
      `${p.memory_mib} MiB, ${secs(p.tool_timeout_ms)} a tool call, ${secs(p.chain_budget_ms)} a chain, ${p.max_calls} calls at once`,
      h('div', { class: 'muted' }, [p.fresh_instances ? 'a fresh instance per event' : 'instances reused between events',
        p.capability_cap ? 'grants capped by its capability list' : null].filter(Boolean).join('; ')),
      (p.points || []).length ? h('div', { class: 'muted points' }, `its own hook points: ${p.points.join(', ')}`) : null,
    ];
  }

  // The header's badge: how exposed this server and its registry are, and
  // any host that runs without its plugins or without per-event isolation.
  function posture(p, hosts) {
    if (!p) return;
    const warnings = [];
    for (const x of hosts || []) {
      if (x.state === 'silent' || !x.posture) continue;
      if (x.posture.safe_mode) warnings.push(`host ${x.name} is in safe mode: it loads no plugin`);
      else if (!x.posture.fresh_instances) warnings.push(`host ${x.name} reuses instances between events`);
    }
    if (p.database_in_clear) warnings.push('registry database reached unencrypted over the network');
    if (p.exposed) warnings.push('listening beyond loopback in plain HTTP');
    if (p.safe_mode) warnings.push('safe mode: hosts started here load no plugin');
    const facts = [`${p.registry === 'postgresql' ? 'PostgreSQL' : 'SQLite'} registry`,
      p.exposed ? 'exposed' : 'loopback only',
      p.files_from ? `file:// from ${p.files_from} folder${p.files_from === 1 ? '' : 's'}` : 'no file:// uploads'];
    const badge = $('posture');
    badge.hidden = false;
    badge.className = `pill ${warnings.length ? 'warn' : 'calm'}`;
    badge.textContent = warnings.length ? `⚠ ${warnings[0]}` : facts.slice(0, 2).join(' · ');
    badge.title = [...warnings, ...facts, 'plugins run sandboxed on their hosts: no WASI files, sockets or environment; only granted host calls'].join('\n');
  }

  // The doctor's findings, each with its fix.
  async function runDoctor() {
    const out = $('doctor-report');
    out.replaceChildren(h('div', { class: 'muted' }, 'running…'));
    const answer = await request('GET', '/doctor');
    if (!answer.ok) { out.replaceChildren(h('div', { class: 'bad' }, answer.error)); return; }
    const r = answer.record;
    out.replaceChildren(h('div', { 'data-healthy': String(r.healthy) },
      h('div', {}, h('span', { class: `state ${r.healthy ? 'ok' : 'error'}` }, r.healthy ? 'healthy' : 'problems'), ` ${r.registry}`),
      r.checked.map((c) => h('div', { class: 'muted' }, `✓ ${c}`)),
      r.findings.map((f) => h('div', { class: 'finding', 'data-code': f.code },
        h('span', { class: `state ${f.severity === 'problem' ? 'error' : 'published'}` }, f.code),
        f.subject ? ` ${f.subject}: ` : ' ', f.message,
        f.fix ? h('div', { class: 'fix' }, `fix: ${f.fix}`) : null))));
  }

  // A disabled plugin's banner: when and by whom (the crash guard names
  // its host), why, its last failing receipts, and Enable.
  function banner(snap, id, why) {
    const auto = [...snap.audits].reverse().find((a) => a.plugin === id && a.action === 'auto_disable');
    const by = [...snap.audits].reverse().find((a) => a.plugin === id && a.action === 'disable');
    const fails = [...(snap.events || [])].reverse()
      .filter((e) => e.plugin === id && e.kind === 'receipt' && e.detail && e.detail.status !== 'ok')
      .slice(0, 3);
    const who = auto ? `by the crash guard on ${auto.actor}, ${ago(auto.at)}`
      : by ? `by ${by.actor}, ${ago(by.at)}` : '';
    return h('div', { class: 'banner', 'data-disabled': id },
      h('b', {}, 'Disabled'), who ? ` ${who}` : '', `: ${why}`,
      fails.length ? h('ul', {}, fails.map((e) => {
        // The first line of what went wrong: a trap's backtrace is in the
        // events table below.
        const line = describe(e).split('\n')[0];
        return h('li', { title: describe(e) }, `${ago(e.at)}: ${line.length > 140 ? `${line.slice(0, 140)}…` : line}`);
      })) : null,
      actionButton('enable', id, null, 'Enable'));
  }

  function problem(e) {
    return e.kind !== 'receipt' || (e.detail && e.detail.status !== 'ok');
  }

  function describe(e) {
    const d = e.detail || {};
    if (e.kind === 'receipt') {
      return `${d.point || 'tool'}: ${d.status}${d.detail ? ` (${d.detail})` : ''}` +
        (typeof d.duration_ms === 'number' ? `, ${d.duration_ms.toFixed(1)} ms` : '');
    }
    if (e.kind === 'permission_denied') {
      return `${d.capability || 'capability'} ${d.target ? `to ${d.target} ` : ''}denied${d.reason ? `: ${d.reason}` : ''}${d.fix ? ` (fix: ${d.fix})` : ''}`;
    }
    const text = JSON.stringify(d);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  }

  function renderEvents() {
    if (!current) return;
    const only = $('problems-only').checked;
    const events = [...(current.events || [])].reverse().filter((e) => !only || problem(e));
    $('events').tBodies[0].replaceChildren(...(events.length ? events.map((e) => h('tr', { class: problem(e) ? 'failed' : null, 'data-event': e.id },
      h('td', { class: 'mono' }, e.id),
      h('td', { title: when(e.at) }, ago(e.at)),
      h('td', {}, e.kind.replace('_', ' ')),
      h('td', { class: 'mono' }, `${e.plugin}${e.version ? `@${e.version}` : ''}`),
      h('td', { class: 'reason' }, describe(e)))) :
      [h('tr', {}, h('td', { colspan: 5, class: 'empty' }, only ? 'no problems reported by hosts' : 'no events'))]));
  }

  // ---- actions ---------------------------------------------------------

  // What a capability lets a plugin do, in words, for the grant dialogs.
  function effect(cap) {
    const [kind, ...rest] = cap.split(':');
    const what = rest.join(':');
    switch (kind) {
      case 'https': return `It may send HTTPS requests to ${what} through Yoi's https API (redirects are checked again).`;
      case 'fs': {
        const mode = what.slice(what.lastIndexOf(':') + 1);
        const path = what.slice(0, what.lastIndexOf(':'));
        return mode === 'rw'
          ? `It may read and write files under ${path} in its data folder.`
          : `It may read files under ${path} in its data folder.`;
      }
      case 'secret': return `It may read the secret ${what}.`;
      case 'websocket': return `Its services may connect to ${what}.`;
      case 'route': return `Its services may answer inbound HTTP requests on ${what}.`;
      default: return `It may use ${cap}.`;
    }
  }

  // Every button's question, explanation and operation, by action.
  const ACTIONS = {
    activate: {
      words: (id, v) => [`Activate ${id} ${v}?`, 'The active version of this plugin, if any, becomes inactive. Hosts pick the change up at once.'],
      op: (id, v) => ({
        op: 'activate', plugin: id, version: v,
        scope: $('confirm-scope').value, rollout_pct: Number($('confirm-rollout').value),
      }),
    },
    deactivate: {
      words: (id, v) => [`Deactivate ${id} ${v}?`, 'No version of this plugin will run until one is activated again.'],
      op: (id, v) => ({ op: 'deactivate', plugin: id, version: v }),
    },
    rollback: {
      words: (id, v) => [`Roll back ${id} to ${v}?`, 'The active version is marked rolled back and this one runs instead.'],
      op: (id, v) => ({ op: 'rollback', plugin: id, version: v }),
    },
    enable: {
      words: (id) => [`Enable ${id}?`, 'It was disabled; enabling lets its active version run again.'],
      op: (id) => ({ op: 'enable', plugin: id }),
    },
    remove: {
      words: (id, v) => [`Remove ${id} ${v}?`, 'The version is deleted, and its artifact too when no other version refers to it. This cannot be undone; the audit log keeps the record. When it is the last version, the plugin\'s grants and settings go with it.'],
      op: (id, v) => ({ op: 'remove', plugin: id, version: v }),
    },
    grant: {
      words: (id, v, cap) => [`Grant ${cap} to ${id}?`, `${effect(cap)} Hosts apply the grant at once; it stays until revoked.`],
      op: (id, v, cap) => ({ op: 'grant', plugin: id, capabilities: [cap] }),
    },
    deny: {
      words: (id, v, cap) => [`Deny ${cap} to ${id}?`, 'The decision is recorded: the plugin may run, and each of its calls that needs this capability is refused (and reported).'],
      op: (id, v, cap) => ({ op: 'deny', plugin: id, capabilities: [cap] }),
    },
    revoke: {
      words: (id, v, cap) => [`Revoke the decision on ${cap} from ${id}?`, 'A grant ends at once on every host. Without a decision, a version that asks for it cannot be activated again until someone grants or denies it.'],
      op: (id, v, cap) => ({ op: 'revoke', plugin: id, capabilities: cap.split(', ') }),
    },
    unset: {
      words: (id, v, at) => {
        const [key, scope] = at.split('@');
        return [`Unset ${key} of ${id}${scope === 'all' ? '' : ` for ${scope} hosts`}?`, 'The value is removed; the plugin gets the value of `all` (for a scope), else its default. A required setting without a value stops the next activation.'];
      },
      op: (id, v, at) => {
        const [key, scope] = at.split('@');
        return { op: 'config_unset', plugin: id, key, scope };
      },
    },
    disable: {
      words: (id) => [`Disable ${id}?`, 'Hosts unload it at their next reload, and no version of it can be activated or rolled back to until it is enabled again.'],
      field: { label: 'why (for the audit log)', type: 'text', value: '' },
      op: (id, v, x, why) => (why.trim() ? { op: 'disable', plugin: id, reason: why.trim() } : 'say why it is disabled: the audit log and the page show it'),
    },
    remove_all: {
      words: (id) => [`Remove every version of ${id}?`, 'Every version, its artifacts (those no other version refers to), its grants, its disabled flag and its setting values are deleted. This cannot be undone; the audit log keeps the record.'],
      op: (id) => ({ op: 'remove', plugin: id }),
    },
    prune: {
      words: () => ['Prune the registry?', 'Runtime events older than the age below are deleted, and so is every stored artifact no version refers to. The audit log keeps what was deleted.'],
      field: { label: 'events older than (days; empty keeps them all)', type: 'number', value: '30' },
      op: (id, v, x, days) => {
        const n = Number(days);
        if (days.trim() === '') return { op: 'prune' };
        return Number.isFinite(n) && n >= 0 ? { op: 'prune', events_older_than_secs: Math.round(n * 86400) } : 'the age must be a number of days';
      },
    },
    forget_hosts: {
      words: () => ['Forget silent hosts?', 'Hosts that have not reported for the time below leave the hosts table; one that reports again comes back.'],
      field: { label: 'silent for (hours)', type: 'number', value: '24' },
      op: (id, v, x, hours) => {
        const n = Number(hours);
        return hours.trim() !== '' && Number.isFinite(n) && n >= 0 ? { op: 'forget_hosts', silent_for_secs: Math.round(n * 3600) } : 'the time must be a number of hours';
      },
    },
    mcp_approve: {
      words: (name, v, digest) => [`Approve the changed tools of ${name}?`, `The list the server shows now (${digest}) is pinned: its changed and added tools are served to every host's agents. \`yoi mcp-server show ${name}\` prints the difference in full.`],
      op: (name, v, digest) => ({ op: 'mcp_server_approve', name, digest }),
    },
    mcp_remove: {
      words: (name) => [`Remove the MCP server ${name}?`, 'Hosts stop serving its tools at their next reload. Its pinned list is forgotten; adding it again pins the list the server shows then.'],
      op: (name) => ({ op: 'mcp_server_remove', name }),
    },
    rotate_key: {
      words: () => ['Rotate the settings key?', 'Every secret setting value is sealed again with a new key; the old key is kept only until that is done. Hosts read the values with the new key at once.'],
      op: () => ({ op: 'config_rotate_key' }),
    },
    clear: {
      words: () => ['Clear the registry?', 'Every version, grant, setting value, flag, runtime event and stored artifact is wiped; only the audit log is kept. Nothing runs afterwards. This cannot be undone.'],
      field: { label: 'type clear to mean it', type: 'text', value: '' },
      op: (id, v, x, typed) => (typed === 'clear' ? { op: 'clear', confirm: true } : 'nothing was cleared: type clear to mean it'),
    },
  };

  function actionButton(action, id, version, label, extra) {
    return h('button', {
      type: 'button', 'data-action': action, 'data-plugin': id, 'data-version': version,
      'data-capability': extra,
      disabled: access !== 'rw' ? true : null,
      title: access !== 'rw' ? 'this token may only read' : null,
      onclick: () => (action === 'upgrade' ? review(id, version) : confirmThen(action, id, version, extra)),
    }, label);
  }

  function confirmThen(action, id, version, extra) {
    const dialog = $('confirm');
    const { words, op, field } = ACTIONS[action];
    const [title, text] = words(id, version, extra);
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-activation').hidden = action !== 'activate';
    $('confirm-field').hidden = !field;
    if (field) {
      $('confirm-field-label').textContent = field.label;
      $('confirm-field-input').type = field.type;
      $('confirm-field-input').value = field.value;
    }
    $('confirm-scope').value = 'all';
    $('confirm-rollout').value = '100';
    dialog.returnValue = '';
    dialog.onclose = async () => {
      if (dialog.returnValue !== 'yes') return;
      const asked = op(id, version, extra, $('confirm-field-input').value);
      // A string is why the form cannot be sent: nothing changed.
      show(title.replace(/\?$/, ''), typeof asked === 'string' ? fail(asked) : await operation(asked));
    };
    dialog.showModal();
  }

  // ---- installing -----------------------------------------------------

  // A .yoi file the operator chose: uploaded for a preview (nothing is
  // published), shown, and published only when confirmed, by the
  // preview's token and the digest it showed.
  async function install(file) {
    if (!file) return;
    const bytes = await file.arrayBuffer();
    const answer = await request('POST', '/previews', bytes, 'application/octet-stream');
    if (!answer.ok) { show(`Preview ${file.name}`, answer); return; }
    const p = answer.record;
    const dialog = $('preview');
    $('preview-title').textContent = `Install ${p.plugin} ${p.version}?`;
    $('preview-kind').textContent = {
      new: 'A new plugin: no version of it is in the registry yet.',
      update: p.active ? `An update: ${p.active} runs now. Publishing does not activate it; Upgrade… shows what it changes and switches.` : 'A new version of a plugin in the registry (none runs now).',
      republish: 'This version is published already with the same digest: nothing would change.',
      conflict: 'This version is published already with another digest.',
    }[p.kind] || p.kind;
    const facts = [
      ['name', p.name], ['description', p.description], ['contract', p.contract], ['digest', p.digest],
      ['hook points', p.hooks.join(', ')], ['tools', p.tools.join(', ')], ['providers', p.providers.join(', ')],
      ['services', p.services.join(', ')], ['observes', p.observations.join(', ')],
    ].filter(([, v]) => v);
    const diff = p.diff && p.diff.capabilities;
    $('preview-body').replaceChildren(h('div', {},
      h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      h('h4', {}, 'Capabilities it asks for'),
      p.capabilities.length ? p.capabilities.map((cap) => h('div', { class: `change${diff && diff.added.some((c) => c === cap) ? ' added' : ''}`, 'data-capability': cap },
        `${diff && diff.added.includes(cap) ? '+ ' : ''}${cap}`, h('div', { class: 'muted' }, effect(cap))))
        : h('div', { class: 'muted' }, 'none: it needs no grant'),
      diff && diff.removed.length ? diff.removed.map((cap) => h('div', { class: 'change removed' }, `− ${cap} (${p.active} asks for it; this version does not)`)) : null,
      p.settings.length ? [h('h4', {}, 'Settings it declares'), p.settings.map((st) => h('div', { class: 'change' },
        `${st.name}: ${st.type}${st.required ? ', required' : ''}${st.secret ? ', secret' : ''}`,
        st.description ? h('span', { class: 'muted' }, ` — ${st.description}`) : null))] : null,
      h('p', { class: 'muted' }, `Publishing stores it and checks it as yoi publish does; it does not run, and nothing is granted, until it is activated. This preview expires ${when(p.expires_at)}.`)));
    const blocked = p.kind === 'conflict' ? `Versions are immutable: ${p.plugin} ${p.version} cannot be published again with another artifact. Give this build a new version.` : '';
    $('preview-blocked').textContent = blocked;
    $('preview-yes').disabled = Boolean(blocked) || access !== 'rw';
    dialog.returnValue = '';
    dialog.onclose = async () => {
      $('install-file').value = '';
      if (dialog.returnValue !== 'yes') return;
      show(`Publish ${p.plugin} ${p.version}`, await request('POST', '/previews/publish', { token: p.token, digest: p.digest }));
    };
    dialog.showModal();
  }

  // The upgrade view: the candidate against the active version, as
  // `yoi upgrade` shows it; confirming decides on each capability nobody
  // decided on (each its own audited write), then activates it with the
  // active version's scope and rollout.
  async function review(id, version) {
    const plan = await request('GET', `/upgrade?plugin=${encodeURIComponent(id)}&version=${encodeURIComponent(version)}`);
    if (!plan.ok) { show(`Upgrade ${id} to ${version}`, plan); return; }
    const p = plan.record;
    const dialog = $('upgrade');
    $('upgrade-title').textContent = p.from ? `Upgrade ${id} ${p.from} → ${version}?` : `Activate ${id} ${version}?`;
    $('upgrade-where').textContent = `on ${p.rollout.scope} hosts, ${p.rollout.percent}% of subjects${p.from ? `, as ${p.from} runs` : ''}`;
    const decide = [];
    const lines = p.capabilities.map((c) => {
      const cap = c.capability;
      let today = c.decision;
      if (c.decision === 'partly') today = `granted in part: ${c.granted.join(', ')}`;
      if (c.decision === 'undecided') today = 'not decided';
      const row = h('div', { class: `change ${c.change}`, 'data-capability': cap },
        `${c.change === 'added' ? '+' : c.change === 'removed' ? '−' : ' '} ${cap} `,
        h('span', { class: 'muted' }, c.change === 'removed' ? `(${today}; no longer asked for)` : `(${today})`));
      if (p.undecided.includes(cap)) {
        const box = h('input', { type: 'checkbox', 'data-grant': cap });
        decide.push([cap, box]);
        row.append(h('label', {}, box, 'grant (unticked: deny)'), h('div', { class: 'muted' }, effect(cap)));
      }
      return row;
    });
    const d = p.diff;
    const others = [['hook points', d.hooks], ['tools', d.tools], ['providers', d.providers], ['services', d.services], ['observations', d.observations]]
      .filter(([, c]) => c.added.length || c.removed.length)
      .map(([what, c]) => h('div', { class: 'change' }, `${what}: `,
        c.added.map((x) => h('span', { class: 'change added' }, `+${x} `)),
        c.removed.map((x) => h('span', { class: 'change removed' }, `−${x} `)),
        c.unchanged.length ? h('span', { class: 'muted' }, `(kept: ${c.unchanged.join(', ')})`) : null));
    const s = d.settings;
    const settings = [
      ...s.added.map((n) => h('div', { class: 'change added' }, `+ ${n}`)),
      ...s.removed.map((n) => h('div', { class: 'change removed' }, `− ${n} (values kept, not given to ${version})`)),
      ...s.newly_required.map((n) => h('div', { class: 'change' }, `! ${n} is required by ${version}`)),
      ...s.changed_type.map((c) => h('div', { class: 'change' }, `~ ${c.name}: ${c.from} → ${c.to}`)),
    ];
    $('upgrade-body').replaceChildren(h('div', {},
      h('h4', {}, 'Capabilities'), lines.length ? lines : h('div', { class: 'muted' }, 'none requested'),
      others.length ? [h('h4', {}, 'What it adds and removes'), others] : null,
      settings.length ? [h('h4', {}, 'Settings'), settings] : null));
    const blocked = p.disabled ? `${id} is disabled (${p.disabled}): enable it first.`
      : p.settings ? `It cannot run with the stored settings; nothing will change until these are fixed:\n${p.settings}` : '';
    $('upgrade-blocked').textContent = blocked;
    $('upgrade-yes').disabled = Boolean(blocked) || access !== 'rw';
    dialog.returnValue = '';
    dialog.onclose = async () => {
      if (dialog.returnValue !== 'yes') return;
      for (const [cap, box] of decide) {
        const answer = await operation({ op: box.checked ? 'grant' : 'deny', plugin: id, capabilities: [cap] });
        if (!answer.ok) { show(`${box.checked ? 'Grant' : 'Deny'} ${cap}`, answer); return; }
      }
      const answer = await operation({ op: 'activate', plugin: id, version, scope: p.rollout.scope, rollout_pct: p.rollout.percent });
      show(`Upgrade ${id} to ${version}`, answer);
    };
    dialog.showModal();
  }

  // Shows a call's answer: what happened and the audit record it left.
  function show(what, answer) {
    const box = $('answer');
    box.hidden = false;
    box.className = answer.ok ? 'ok' : 'failed';
    $('answer-title').textContent = `${answer.ok ? '✓' : '✗'} ${what}`;
    $('answer-error').textContent = answer.error || '';
    // What took effect but deserves a look (a point no host declares).
    $('answer-warnings').textContent = (answer.warnings || []).map((w) => `⚠ ${w}`).join('\n');
    const a = answer.audit;
    $('answer-audit').textContent = a ? `audit #${a.id}: ${a.actor} ${a.action} ${a.outcome}\n${a.reason}` : '';
  }

  // ---- signing in ------------------------------------------------------

  function signOut(why) {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    $('app').hidden = true;
    $('signin').hidden = false;
    $('signin-error').textContent = why || '';
    setLive(false, 'signed out');
  }

  async function start() {
    const who = await request('GET', '/whoami');
    if (!who.ok) { signOut(who.error); return; }
    access = who.record.access;
    $('who').textContent = `${who.record.actor} · ${access === 'rw' ? 'may act' : 'read only'}`;
    for (const b of $('maintenance').querySelectorAll('button')) b.disabled = access !== 'rw';
    whoPosture = who.record.posture;
    posture(whoPosture, current ? current.hosts : []);
    $('install-file').disabled = access !== 'rw';
    $('signin').hidden = true;
    $('app').hidden = false;
    await refresh();
    follow();
  }

  document.addEventListener('DOMContentLoaded', () => {
    // A token in the fragment never reaches the server or its logs; it is
    // moved to this tab's storage and taken off the address bar.
    const hash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (hash) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(hash[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
    token = sessionStorage.getItem(TOKEN_KEY);
    $('signin').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const given = $('token-input').value.trim();
      if (!given) return;
      sessionStorage.setItem(TOKEN_KEY, given);
      token = given;
      $('token-input').value = '';
      start();
    });
    $('answer-close').addEventListener('click', () => { $('answer').hidden = true; });
    $('problems-only').addEventListener('change', renderEvents);
    for (const [button, action] of [['prune', 'prune'], ['forget-hosts', 'forget_hosts'], ['rotate-key', 'rotate_key'], ['clear', 'clear']]) {
      $(button).addEventListener('click', () => confirmThen(action));
    }
    $('doctor-run').addEventListener('click', runDoctor);
    $('install-file').addEventListener('change', (ev) => install(ev.target.files[0]));
    const zone = $('install');
    zone.addEventListener('dragover', (ev) => { ev.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (ev) => {
      ev.preventDefault();
      zone.classList.remove('over');
      if (access === 'rw') install(ev.dataTransfer.files[0]);
    });
    if (token) start(); else signOut();
  });
})();
