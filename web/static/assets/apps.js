// Applications: every Application, filtered and paged on the server (limit/continue), with
// rows updated in place from the event stream.
import { api } from './api.js';
import { h, clear, syncBadge, healthBadge, commit, ago, duration, repoName, errorBox } from './ui.js';
import { onEvents } from './main.js';

const SYNCS = ['', 'Synced', 'OutOfSync', 'Unknown'];
const HEALTHS = ['', 'Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'];
const FILTERS = ['q', 'sync', 'health', 'branch'];

export function appsView(root, params) {
  const state = {
    q: params.get('q') || '', sync: params.get('sync') || '', health: params.get('health') || '',
    branch: params.get('branch') || '', limit: Number(params.get('limit')) || 100,
    cursor: params.get('continue') || '', prev: (params.get('prev') || '').split(',').filter(Boolean),
  };
  const rows = new Map(); // name -> <tr>
  const dirty = new Set();
  let flushTimer = null;
  let next = '';
  let loadSeq = 0;

  const search = h('input', { type: 'search', id: 'app-search', placeholder: 'Search name, repo, path  ( / )',
    'aria-label': 'Search Applications', value: state.q, 'data-search': true });
  const select = (id, label, values, value) => h('label.field', label,
    h('select', { id, onchange: (e) => apply({ [id.replace('filter-', '')]: e.target.value }) },
      values.map((v) => h('option', { value: v, selected: v === value }, v || 'any'))));
  const branch = h('input', { type: 'text', id: 'filter-branch', placeholder: 'branch', value: state.branch,
    'aria-label': 'Branch', size: 10 });
  const count = h('span.muted', { id: 'app-count' });
  const tbody = h('tbody');
  const prevBtn = h('button.ghost', { type: 'button', id: 'page-prev', onclick: () => page(-1) }, '← Previous');
  const nextBtn = h('button.ghost', { type: 'button', id: 'page-next', onclick: () => page(1) }, 'Next →');
  const status = h('div');

  let searchTimer = null;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => apply({ q: search.value.trim() }), 250);
  });
  branch.addEventListener('change', () => apply({ branch: branch.value.trim() }));

  clear(root,
    h('div.page-head', h('h1', 'Applications'), count),
    h('form.toolbar', { role: 'search', onsubmit: (e) => { e.preventDefault(); apply({ q: search.value.trim() }); } },
      search,
      select('filter-sync', 'Sync', SYNCS, state.sync),
      select('filter-health', 'Health', HEALTHS, state.health),
      h('label.field', 'Branch', branch)),
    status,
    h('div.table-wrap', h('table.apps', { id: 'apps-table' },
      h('thead', h('tr',
        h('th', 'Name'), h('th.opt', 'Repository'), h('th.opt-narrow', 'Branch'), h('th.opt', 'Path'),
        h('th', 'Applied / head'), h('th', 'Sync'), h('th', 'Health'),
        h('th.opt', 'Last reconcile'), h('th.opt', 'Last error'))),
      tbody)),
    h('div.pager', prevBtn, nextBtn));

  function query(cursor) {
    const p = new URLSearchParams();
    for (const k of FILTERS) if (state[k]) p.set(k, state[k]);
    p.set('limit', String(state.limit));
    if (cursor) p.set('continue', cursor);
    return p;
  }

  // Filters change: back to the first page, and the address says what is shown.
  function apply(change) {
    Object.assign(state, change, { cursor: '', prev: [] });
    syncAddress();
    load();
  }

  function syncAddress() {
    const p = query(state.cursor);
    p.delete('limit');
    if (state.limit !== 100) p.set('limit', String(state.limit));
    if (state.prev.length) p.set('prev', state.prev.join(','));
    const qs = p.toString();
    history.replaceState(null, '', '/' + (qs ? '?' + qs : ''));
  }

  function page(dir) {
    if (dir > 0 && next) {
      state.prev.push(state.cursor || '-');
      state.cursor = next;
    } else if (dir < 0 && state.prev.length) {
      const c = state.prev.pop();
      state.cursor = c === '-' ? '' : c;
    } else return;
    syncAddress();
    load();
  }

  function row(app) {
    const st = app.status || {}, spec = app.spec || {}, src = spec.source || {};
    const behind = st.headCommit && st.appliedCommit !== st.headCommit;
    const href = '/applications/' + encodeURIComponent(app.name);
    const tr = h('tr', {
      dataset: { app: app.name },
      class: [st.sync === 'OutOfSync' ? 'drifted' : '', st.lastError ? 'failed' : ''].join(' ').trim() || null,
    },
      h('td', h('a.name', { href, 'data-link': true }, app.name),
        spec.sync && spec.sync.suspend ? h('span.tag', 'suspended') : null),
      h('td.opt', { title: src.repo }, repoName(src.repo)),
      h('td.opt-narrow', src.branch || '—'),
      h('td.opt', src.path || '.'),
      h('td.commits', { class: behind ? 'behind' : null }, commit(st.appliedCommit),
        behind ? [' → ', commit(st.headCommit)] : null),
      h('td', syncBadge(st.sync)),
      h('td', healthBadge(st.health)),
      h('td.opt', ago(st.lastReconcile), h('span.muted', ' · ', duration(st.lastDurationMs))),
      h('td.opt.err', { title: st.lastError || null }, st.lastError || ''));
    rows.set(app.name, tr);
    return tr;
  }

  async function load() {
    const seq = ++loadSeq;
    clear(status);
    try {
      const data = await api('/applications?' + query(state.cursor));
      if (seq !== loadSeq) return;
      rows.clear();
      clear(tbody, data.items.map(row));
      if (!data.items.length)
        tbody.append(h('tr', h('td.empty', { colspan: 9 }, 'No Applications match.')));
      next = data.continue || '';
      nextBtn.disabled = !next;
      prevBtn.disabled = !state.prev.length;
      const pageNo = state.prev.length + 1;
      count.textContent = `${data.items.length} shown${pageNo > 1 || next ? ` · page ${pageNo}` : ''}`;
      root.dataset.loaded = 'true';
      performance.mark('plumb:list-rendered'); // bench/bench_dashboard.py reads it
    } catch (e) {
      if (seq === loadSeq) clear(status, errorBox(e));
    }
  }

  // Events name an Application: refetch its row (batched). A new Application on the first
  // page reloads the page.
  async function flush() {
    flushTimer = null;
    const names = [...dirty];
    dirty.clear();
    if (names.length > 20) return load();
    for (const name of names) {
      const p = query('');
      p.set('name', name);
      p.set('limit', '1');
      try {
        const data = await api('/applications?' + p);
        const old = rows.get(name);
        if (data.items.length && old) old.replaceWith(row(data.items[0]));
        else if (data.items.length && !state.cursor) load();
        else if (!data.items.length && old) { old.remove(); rows.delete(name); }
      } catch { /* the next event tries again */ }
    }
  }
  const off = onEvents((ev) => {
    if (!ev.app) return;
    dirty.add(ev.app);
    if (!flushTimer) flushTimer = setTimeout(flush, 150);
  });

  load();
  return { dispose() { off(); clearTimeout(flushTimer); clearTimeout(searchTimer); } };
}

