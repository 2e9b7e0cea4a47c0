// The /ops/plugins page: the registry's versions, grants, audit log and
// runtime events, re-rendered live from the change stream, with buttons for
// the lifecycle and `window.yoi` for scripts driving the page
// (docs/ops.md). Everything goes through the same HTTP API as any client:
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
    for (const c of children.flat()) {
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
    let res;
    try {
      res = await fetch(API + path, {
        method, headers, cache: 'no-store',
        body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
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

    // Where each plugin runs: one card per plugin.
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
        why ? [h('div', { class: 'why' }, `disabled: ${why}`), actionButton('enable', id, null, 'Enable')] : null,
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
        if (active && v.state !== 'active' && v.seq < active.seq) {
          actions.push(actionButton('rollback', id, v.version, 'Roll back to this'));
        }
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
        h('td', {}, v.publishedBy),
        h('td', { title: when(v.publishedAt) }, ago(v.publishedAt)),
        h('td', {}, actions)));
      });
    }
    $('versions').tBodies[0].replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 9, class: 'empty' }, 'no versions'))]));

    // Grants per plugin.
    const grants = new Map();
    for (const g of snap.grants) {
      if (!grants.has(g.plugin)) grants.set(g.plugin, []);
      grants.get(g.plugin).push(g);
    }
    $('grants').replaceChildren(...(grants.size ? [...grants.keys()].sort().map((id) =>
      h('div', { class: 'grants', 'data-plugin': id }, h('b', {}, id),
        grants.get(id).map((g) => h('span', {
          class: `state ${g.granted ? 'granted' : 'denied'}`,
          title: `${g.granted ? 'granted' : 'denied'} by ${g.by}, ${when(g.at)}`,
        }, `${g.granted ? '✓' : '✗'} ${g.capability}`)))) :
      [h('div', { class: 'empty' }, 'No capability decisions yet: plugins run with nothing granted.')]));

    // Setting values per plugin; a secret's value never reaches the page.
    const settings = new Map();
    for (const c of snap.config || []) {
      if (!settings.has(c.plugin)) settings.set(c.plugin, []);
      settings.get(c.plugin).push(c);
    }
    $('settings').replaceChildren(...(settings.size ? [...settings.keys()].sort().map((id) =>
      h('div', { class: 'grants', 'data-plugin': id }, h('b', {}, id),
        settings.get(id).map((c) => h('span', {
          class: 'setting', 'data-key': c.key, 'data-scope': c.scope,
          title: `set by ${c.set_by}, ${when(c.set_at)}`,
        },
        c.scope === 'all' ? null : h('span', { class: 'state published' }, c.scope),
        h('code', {}, c.key), ' = ',
        c.secret ? h('span', { class: 'muted' }, '•••••• secret') : h('code', {}, JSON.stringify(c.value)))))) :
      [h('div', { class: 'empty' }, 'No setting values: plugins run with their defaults.')]));

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

  const WORDS = {
    activate: (id, v) => [`Activate ${id} ${v}?`, 'The active version of this plugin, if any, becomes inactive. Hosts pick the change up at once.'],
    deactivate: (id, v) => [`Deactivate ${id} ${v}?`, 'No version of this plugin will run until one is activated again.'],
    rollback: (id, v) => [`Roll back ${id} to ${v}?`, 'The active version is marked rolled back and this one runs instead.'],
    enable: (id) => [`Enable ${id}?`, 'It was disabled; enabling lets its active version run again.'],
  };

  function actionButton(action, id, version, label) {
    return h('button', {
      type: 'button', 'data-action': action, 'data-plugin': id, 'data-version': version,
      disabled: access !== 'rw' ? true : null,
      title: access !== 'rw' ? 'this token may only read' : null,
      onclick: () => confirmThen(action, id, version),
    }, label);
  }

  function confirmThen(action, id, version) {
    const dialog = $('confirm');
    const [title, text] = WORDS[action](id, version);
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-activation').hidden = action !== 'activate';
    $('confirm-scope').value = 'all';
    $('confirm-rollout').value = '100';
    dialog.returnValue = '';
    dialog.onclose = async () => {
      if (dialog.returnValue !== 'yes') return;
      let answer;
      if (action === 'activate') {
        answer = await operation({
          op: 'activate', plugin: id, version,
          scope: $('confirm-scope').value,
          rollout_pct: Number($('confirm-rollout').value),
        });
      } else if (action === 'enable') {
        answer = await operation({ op: 'enable', plugin: id });
      } else {
        answer = await operation({ op: action, plugin: id, version });
      }
      show(title.replace(/\?$/, ''), answer);
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
    if (token) start(); else signOut();
  });
})();
