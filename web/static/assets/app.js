// One Application: status, actions (sync, refresh, suspend/resume, rollback), drift, and
// tabs for resources (table and tree), diff (unified and side by side), history, events
// and processes (replicas, restarts, log tail).
import { api, apiText } from './api.js';
import {
  h, clear, syncBadge, healthBadge, resultBadge, commit, ago, duration, errorBox, toast,
  confirmDialog, tabs,
} from './ui.js';
import { renderUnified, renderSideBySide } from './diff.js';
import { onEvents, withAdmin } from './main.js';

const TABS = [['resources', 'Resources'], ['diff', 'Diff'], ['history', 'History'],
  ['events', 'Events'], ['processes', 'Processes']];
const DRIFT_REASONS = new Set(['DriftDetected', 'DriftHealed', 'ScaledByHand']);
const RUNNABLE = new Set(['Process', 'Job']);

export function appView(root, name, tab, params) {
  const base = '/applications/' + encodeURIComponent(name);
  if (!TABS.some(([k]) => k === tab)) tab = 'resources';
  const head = h('div');
  const drift = h('div');
  const body = h('div.tab-body', { id: 'tab-body' });
  let app = null;
  let events = [];
  let reloadTimer = null;
  let disposed = false;

  clear(root,
    h('p.crumbs', h('a', { href: '/', 'data-link': true }, 'Applications'), ' / ', name),
    head, drift,
    tabs(TABS, tab, (k) => `${base}/${k}`),
    body);

  async function loadApp() {
    try {
      app = await api('/applications/' + encodeURIComponent(name));
      renderHead();
    } catch (e) {
      clear(head, errorBox(e));
    }
  }

  async function loadEvents() {
    try {
      const data = await api(`/applications/${encodeURIComponent(name)}/events?tail=5000&limit=5000`);
      events = data.items;
    } catch { events = []; }
    renderDrift();
  }

  function renderHead() {
    const st = app.status, spec = app.spec, src = spec.source;
    const suspended = spec.sync.suspend;
    const action = (label, id, fn, cls = '') =>
      h('button', { type: 'button', id, class: cls || null, onclick: fn }, label);
    clear(head,
      h('div.page-head',
        h('h1', { id: 'app-name' }, name),
        h('span', { id: 'app-sync' }, syncBadge(st.sync)), h('span', { id: 'app-health' }, healthBadge(st.health)),
        suspended ? h('span.tag', { id: 'app-suspended' }, 'suspended') : null,
        h('span.spacer'),
        h('div.actions',
          action('Sync', 'action-sync', sync),
          action('Refresh', 'action-refresh', refresh, 'ghost'),
          suspended ? action('Resume', 'action-resume', () => setSuspended(false), 'ghost')
            : action('Suspend', 'action-suspend', () => setSuspended(true), 'ghost'))),
      h('dl.facts',
        fact('Repository', h('span.wrap', src.repo)),
        fact('Branch', src.branch), fact('Path', src.path || '.'),
        fact('Applied', commit(st.appliedCommit)),
        fact('Head', h('span', { class: st.appliedCommit !== st.headCommit ? 'behind' : null }, commit(st.headCommit))),
        fact('Last reconcile', [ago(st.lastReconcile), ' · ', duration(st.lastDurationMs)]),
        fact('Stages', stages(st.lastStagesMs)),
        fact('Sync policy', [spec.sync.auto ? 'auto' : 'manual', spec.sync.selfHeal ? ', self-heal' : '',
          spec.sync.prune ? ', prune' : '', ' · every ', spec.sync.interval]),
        st.healthMessage ? fact('Health', st.healthMessage) : null),
      st.lastError ? h('p.error', { id: 'app-error', role: 'alert' }, st.lastError) : null,
      (st.conditions || []).length ? h('ul.conditions', st.conditions.map((c) =>
        h('li', h('strong', c.type), ': ', c.message))) : null);
    if (tab === 'resources' || tab === 'processes') renderTab();
    renderDrift();
    performance.mark('plumb:app-rendered'); // bench/bench_dashboard.py reads it
  }

  function fact(label, value) {
    return [h('dt', label), h('dd', value)];
  }

  function stages(s) {
    if (!s) return '—';
    return Object.entries(s).filter(([, v]) => v).map(([k, v]) => `${k} ${duration(v)}`).join(' · ') || '—';
  }

  // What drifted on the host, and what self-heal did about it.
  function renderDrift() {
    if (!app) return;
    const recent = events.filter((e) => DRIFT_REASONS.has(e.reason)).slice(-6).reverse();
    const outOfSync = app.status.sync === 'OutOfSync';
    if (!outOfSync && !recent.length) return clear(drift);
    clear(drift, h('section.drift', { id: 'drift', class: outOfSync ? 'active' : null, 'aria-label': 'Drift' },
      h('h2', !outOfSync ? 'Drift history'
        : app.status.appliedCommit !== app.status.headCommit ? 'Out of sync: git has changes not applied yet'
          : 'Drift: the live state was changed outside git'),
      outOfSync ? h('p', 'See the ', h('a', { href: `${base}/diff`, 'data-link': true }, 'diff'),
        app.spec.sync.selfHeal ? '; self-heal will put git back.' : '; self-heal is off: sync to put git back.') : null,
      recent.length ? h('ul.drift-events', recent.map((e) => h('li',
        h('span.badge', { class: e.reason === 'DriftHealed' ? 'ok' : 'warn' }, e.reason), ' ',
        ago(e.time), ' ', e.message))) : null));
  }

  async function renderTab() {
    if (tab === 'resources') return renderResources();
    if (tab === 'diff') return renderDiff();
    if (tab === 'history') return renderHistory();
    if (tab === 'events') return renderEvents();
    if (tab === 'processes') return renderProcesses();
  }

  function renderResources() {
    if (!app) return;
    const view = params.get('view') === 'tree' ? 'tree' : 'table';
    const res = app.status.resources || [];
    const toggle = h('div.toggle', { role: 'group', 'aria-label': 'Show resources as' },
      ['table', 'tree'].map((v) => h('a', {
        href: `${base}/resources${v === 'tree' ? '?view=tree' : ''}`, 'data-link': true,
        'aria-pressed': String(v === view), id: 'view-' + v,
      }, v === 'table' ? 'Table' : 'Tree')));
    if (!res.length) return clear(body, toggle, h('p.muted', 'No resources.'));
    if (view === 'table') {
      clear(body, toggle, h('div.table-wrap', h('table', { id: 'resources-table' },
        h('thead', h('tr', h('th', 'Kind'), h('th.opt', 'Namespace'), h('th', 'Name'), h('th', 'Sync'),
          h('th', 'Health'), h('th', 'Message'), h('th.opt', 'Origin'))),
        h('tbody', res.map((r) => h('tr', { dataset: { resource: `${r.kind}/${r.name}` } },
          h('td', r.kind), h('td.opt', r.namespace || ''), h('td', r.name), h('td', syncBadge(r.sync)),
          h('td', healthBadge(r.health)), h('td', r.message || ''), h('td.opt.muted', r.origin || '')))))));
    } else {
      // Application -> namespace -> kind -> resource.
      const byNs = new Map();
      for (const r of res) {
        const ns = r.namespace || 'default';
        if (!byNs.has(ns)) byNs.set(ns, new Map());
        const kinds = byNs.get(ns);
        if (!kinds.has(r.kind)) kinds.set(r.kind, []);
        kinds.get(r.kind).push(r);
      }
      const leaf = (r) => h('li', { role: 'treeitem' },
        h('span.node.leaf', r.name, ' ', syncBadge(r.sync), ' ', healthBadge(r.health),
          r.message ? h('span.muted', ' ', r.message) : null));
      const kindNode = ([kind, list]) => h('li', { role: 'treeitem' },
        h('span.node', kind, h('span.muted', ` (${list.length})`)),
        h('ul', { role: 'group' }, list.map(leaf)));
      const nsNode = ([ns, kinds]) => h('li', { role: 'treeitem' },
        h('span.node', 'namespace ', h('strong', ns)),
        h('ul', { role: 'group' }, [...kinds].map(kindNode)));
      clear(body, toggle, h('ul.tree', { id: 'resources-tree', role: 'tree' },
        h('li', { role: 'treeitem', 'aria-expanded': 'true' },
          h('span.node.root', name, ' ', syncBadge(app.status.sync), ' ', healthBadge(app.status.health)),
          h('ul', { role: 'group' }, [...byNs].map(nsNode)))));
    }
  }

  async function renderDiff() {
    const mode = params.get('mode') === 'split' ? 'split' : 'unified';
    clear(body, h('p.muted', 'Comparing git with the live state…'));
    let d;
    try {
      d = await api(`/applications/${encodeURIComponent(name)}/diff`);
    } catch (e) {
      return clear(body, errorBox(e));
    }
    const toggle = h('div.toggle', { role: 'group', 'aria-label': 'Diff layout' },
      [['unified', 'Unified'], ['split', 'Side by side']].map(([v, label]) => h('a', {
        href: `${base}/diff${v === 'split' ? '?mode=split' : ''}`, 'data-link': true,
        'aria-pressed': String(v === mode), id: 'diff-' + v,
      }, label)));
    const items = (d.items || []).filter((i) => i.action && i.action !== 'none');
    clear(body,
      h('p', { id: 'diff-summary' }, d.drift ? h('strong', 'Out of sync') : 'In sync: the live state matches git',
        ' at ', commit(d.revision)),
      items.length ? h('ul.changes', { id: 'diff-items' }, items.map((i) => h('li',
        h('span.badge', { class: i.action === 'delete' ? 'bad' : i.action === 'create' ? 'ok' : 'warn' }, i.action),
        ' ', `${i.kind}/${i.name}`))) : null,
      d.diff ? [toggle, mode === 'split' ? renderSideBySide(d.diff) : renderUnified(d.diff)]
        : h('p.muted', 'No difference.'));
  }

  async function renderHistory() {
    let rows;
    try {
      rows = (await api(`/applications/${encodeURIComponent(name)}/history?limit=100`)).items;
    } catch (e) {
      return clear(body, errorBox(e));
    }
    if (!rows.length) return clear(body, h('p.muted', 'No reconciles recorded yet.'));
    const applied = app && app.status.appliedCommit;
    clear(body, h('div.table-wrap', h('table', { id: 'history-table' },
      h('thead', h('tr', h('th', '#'), h('th', 'Commit'), h('th', 'When'), h('th.opt', 'Took'),
        h('th', 'Trigger'), h('th', 'Result'), h('th.opt', 'Changes'), h('th', 'Commit message'), h('th', ''))),
      h('tbody', rows.map((r) => h('tr', { dataset: { history: r.id } },
        h('td', String(r.id)), h('td', commit(r.revision)), h('td', ago(r.startedAt)),
        h('td.opt', duration(r.durationMs)), h('td', r.trigger, r.initiator ? h('span.muted', ' by ', r.initiator) : null),
        h('td', resultBadge(r.result), r.message ? h('div.muted.small', r.message) : null),
        h('td.opt', changes(r.changes)),
        h('td', r.commitMessage ? h('span', { title: r.commitMessage }, r.commitMessage.split('\n')[0]) : '',
          r.commitAuthor ? h('div.muted.small', r.commitAuthor) : null),
        h('td', r.revision && r.result === 'Succeeded' && r.revision !== applied
          ? h('button.ghost.small', { type: 'button', 'data-rollback': r.revision, onclick: () => rollback(r) }, 'Roll back to this')
          : null)))))));
  }

  function changes(c) {
    if (!c) return '';
    if (typeof c === 'string') return c;
    if (Array.isArray(c)) return c.map((x) => `${x.change || x.action || ''} ${x.kind}/${x.name}`).join(', ');
    return Object.entries(c).filter(([, v]) => v).map(([k, v]) => `${v} ${k}`).join(', ');
  }

  async function renderEvents() {
    await loadEvents();
    const list = events.slice().reverse();
    if (!list.length) return clear(body, h('p.muted', 'No events.'));
    clear(body, h('div.table-wrap', h('table', { id: 'events-table' },
      h('thead', h('tr', h('th', 'When'), h('th', 'Type'), h('th', 'Reason'), h('th', 'Message'))),
      h('tbody', list.map(eventRow)))));
  }

  function eventRow(e) {
    return h('tr', { class: e.type === 'Warning' ? 'warning' : null, dataset: { event: e.id } },
      h('td', ago(e.time)), h('td', e.type), h('td', e.reason), h('td', e.message));
  }

  // Each Process and Job: its replicas now (state, ready, restarts, from the operator's
  // supervisor) and the tail of its log.
  async function renderProcesses() {
    if (!app) return;
    const procs = (app.status.resources || []).filter((r) => RUNNABLE.has(r.kind));
    if (!procs.length) return clear(body, h('p.muted', 'This Application runs no Process or Job.'));
    const enc = encodeURIComponent(name);
    const live = new Map();
    let liveError = null;
    try {
      for (const p of (await api(`/applications/${enc}/processes`)).items) live.set(`${p.kind}/${p.name}`, p);
    } catch (e) {
      liveError = e;
    }
    if (disposed) return;
    const cards = procs.map((r) => {
      const log = h('pre.log', { 'aria-label': `Log of ${r.kind} ${r.name}`, tabindex: 0 }, 'Loading the log…');
      apiText(`/applications/${enc}/logs?kind=${r.kind}&name=${encodeURIComponent(r.name)}&tail=50`)
        .then((t) => { log.textContent = t || '(no output yet)'; log.scrollTop = log.scrollHeight; },
          (e) => { log.textContent = e.message; });
      const p = live.get(`${r.kind}/${r.name}`);
      return h('section.card', { dataset: { process: r.name } },
        h('h3', r.kind, ' ', r.name, ' ', healthBadge(r.health), ' ', syncBadge(r.sync)),
        h('p', { class: 'replicas' }, p
          ? `${p.readyReplicas}/${p.replicas} ready · ${p.restarts} restart${p.restarts === 1 ? '' : 's'}`
          : liveError ? liveError.message : 'Not started yet.', r.message ? h('span.muted', ' · ', r.message) : null),
        p && p.replicaStatus.length ? replicaTable(r, p) : null,
        log);
    });
    clear(body, cards);
  }

  function replicaTable(r, p) {
    return h('div.table-wrap', h('table.replicas', { 'aria-label': `Replicas of ${r.kind} ${r.name}` },
      h('thead', h('tr', h('th', 'Replica'), h('th', 'State'), h('th', 'Ready'), h('th', 'Restarts'),
        h('th.opt', 'PID'), h('th.opt', 'Started'), h('th', 'Last exit'))),
      h('tbody', p.replicaStatus.map((x) => h('tr', { dataset: { replica: x.name } },
        h('td', x.name), h('td', x.state), h('td', x.ready ? 'yes' : 'no'),
        h('td', { class: x.restarts ? 'restarts warn' : 'restarts' }, String(x.restarts)),
        h('td.opt', x.pid ? String(x.pid) : '—'), h('td.opt', x.startedAt ? ago(x.startedAt) : '—'),
        h('td.muted', x.lastExit || '—'))))));
  }

  // --- actions ------------------------------------------------------------------------

  async function sync() {
    const r = await withAdmin('Sync', () => api(`/applications/${encodeURIComponent(name)}/sync`,
      { method: 'POST', body: { dryRun: false } }));
    if (!r) return;
    const changed = (r.changes || []).filter((c) => c.change !== 'unchanged');
    toast(`Sync ${r.result}: ${changed.length} change(s)${r.message ? ' · ' + r.message : ''}`,
      r.result === 'Succeeded' ? 'ok' : 'bad');
    refreshAll();
  }

  async function refresh() {
    const r = await withAdmin('Refresh', () => api(`/applications/${encodeURIComponent(name)}/refresh`, { method: 'POST' }));
    if (r) toast('Refresh queued.');
  }

  async function setSuspended(suspend) {
    const verb = suspend ? 'suspend' : 'resume';
    const r = await withAdmin(suspend ? 'Suspend' : 'Resume',
      () => api(`/applications/${encodeURIComponent(name)}/${verb}`, { method: 'POST' }));
    if (r) {
      toast(suspend ? 'Suspended: the operator stops reconciling it.' : 'Resumed.');
      loadApp();
    }
  }

  async function rollback(row) {
    const ok = await confirmDialog('Roll back',
      `Write a commit on ${app.spec.source.branch} that makes ${app.spec.source.path || '.'} as it was at ` +
      `${row.revision.slice(0, 7)}?`, 'Roll back');
    if (!ok) return;
    const r = await withAdmin('Rollback', () => api(`/applications/${encodeURIComponent(name)}/rollback`,
      { method: 'POST', body: { revision: row.revision } }));
    if (r) toast(`Rollback committed as ${r.commit.slice(0, 7)}.`, 'ok');
  }

  function refreshAll() {
    loadApp();
    loadEvents();
    if (tab !== 'resources' && tab !== 'processes') renderTab();
  }

  const off = onEvents((ev) => {
    if (ev.app !== name) return;
    events.push(ev);
    if (tab === 'events') {
      const tb = document.querySelector('#events-table tbody');
      if (tb) tb.prepend(eventRow(ev));
      else renderEvents();
    }
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => {
      if (disposed) return;
      loadApp();
      renderDrift();
      if (tab === 'diff' || tab === 'history') renderTab();
    }, 200);
  });

  const first = loadApp();
  first.then(() => { if (tab !== 'resources' && tab !== 'processes' && tab !== 'events') renderTab(); });
  if (tab === 'events') renderEvents();
  else first.then(loadEvents); // the drift banner's history: after the first render, not beside it
  return { dispose() { disposed = true; off(); clearTimeout(reloadTimer); } };
}
