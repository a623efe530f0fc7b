// Environments: for each repository, its environments side by side; for a pair (from ->
// to), the commits ahead and behind, the promotion gate and the promote action.
import { api } from './api.js';
import { h, clear, syncBadge, healthBadge, resultBadge, commit, repoName, errorBox, toast, confirmDialog } from './ui.js';
import { renderUnified } from './diff.js';
import { onEvents, withAdmin } from './main.js';

// The usual order of environments, for picking a default pair.
const ORDER = ['dev', 'development', 'test', 'qa', 'staging', 'stage', 'preprod', 'production', 'prod'];

function rank(env) {
  const i = ORDER.findIndex((o) => env.app === o || env.branch === o || env.app.endsWith('-' + o));
  return i < 0 ? ORDER.length : i;
}

export function envsView(root, params) {
  const container = h('div');
  let items = [];
  let timer = null;
  let report = null; // the last promotion's answer, kept across re-renders: {from, to, r}
  clear(root, h('div.page-head', h('h1', 'Environments')), container);

  async function load() {
    try {
      items = (await api('/environments')).items;
    } catch (e) {
      return clear(container, errorBox(e));
    }
    render();
  }

  function render() {
    const byRepo = new Map();
    for (const e of items) {
      if (!byRepo.has(e.repo)) byRepo.set(e.repo, []);
      byRepo.get(e.repo).push(e);
    }
    if (!byRepo.size) return clear(container, h('p.muted', 'No environments.'));
    clear(container, [...byRepo].map(([repo, envs]) => repoSection(repo, envs)));
  }

  function repoSection(repo, envs) {
    envs = envs.slice().sort((a, b) => rank(a) - rank(b) || a.app.localeCompare(b.app));
    const names = envs.map((e) => e.app);
    // Default pair: the first two environments with a well-known name (staging ->
    // production), else the first two.
    const known = envs.filter((e) => rank(e) < ORDER.length).map((e) => e.app);
    const [from0, to0] = known.length >= 2 ? known : names;
    const from = params.get('from') && names.includes(params.get('from')) ? params.get('from') : from0;
    const to = params.get('to') && names.includes(params.get('to')) ? params.get('to') : (to0 || from0);
    const pair = h('div.pair');
    const pick = (id, value) => h('select', { id, onchange: () => showPair() },
      names.map((n) => h('option', { value: n, selected: n === value }, n)));
    const fromSel = pick('promote-from', from), toSel = pick('promote-to', to);
    function showPair() {
      params.set('from', fromSel.value);
      params.set('to', toSel.value);
      history.replaceState(null, '', '/environments?' + params);
      renderPair(pair, envs, fromSel.value, toSel.value);
    }
    const section = h('section.repo', { dataset: { repo } },
      h('h2', repoName(repo), h('span.muted.small', ' ', repo)),
      h('div.envs', envs.map((e) => h('article.env', { dataset: { env: e.app } },
        h('h3', h('a', { href: '/applications/' + encodeURIComponent(e.app), 'data-link': true }, e.app)),
        h('p.muted', e.branch, ' · ', e.path || '.'),
        h('p', syncBadge(e.sync), ' ', healthBadge(e.health)),
        h('p', 'head ', commit(e.headCommit), ' · applied ', commit(e.appliedCommit)),
        e.lastError ? h('p.error', e.lastError) : null))),
      envs.length > 1 ? [h('div.toolbar', h('label.field', 'Promote', fromSel), h('label.field', 'to', toSel)), pair] : null);
    if (envs.length > 1) renderPair(pair, envs, from, to);
    return section;
  }

  async function renderPair(el, envs, from, to) {
    if (from === to) return clear(el, h('p.muted', 'Pick two different environments.'));
    clear(el, h('p.muted', 'Comparing…'));
    let d;
    try {
      d = await api(`/environments/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    } catch (e) {
      return clear(el, errorBox(e));
    }
    const src = envs.find((e) => e.app === from);
    // The gate as the operator will check it: staging runs its head, Synced and Healthy.
    const gate = [
      [src.appliedCommit && src.appliedCommit === d.fromCommit, `${from} runs ${d.fromCommit.slice(0, 7)}`],
      [src.sync === 'Synced', `${from} is ${src.sync}`],
      [src.health === 'Healthy', `${from} is ${src.health}`],
    ];
    const passed = gate.every(([ok]) => ok);
    const promoteBtn = h('button', { type: 'button', id: 'action-promote', disabled: d.ahead === 0 },
      `Promote ${from} → ${to}`);
    promoteBtn.addEventListener('click', () => promote(from, to, d, passed));
    const r = report && report.from === from && report.to === to ? report.r : null;
    clear(el,
      h('div.compare', { id: 'env-compare' },
        r ? h('div', { id: 'promotion-report' }, h('p', 'Promotion ', resultBadge(r.result), ' ',
          r.outcome || '', ' ', r.newHead ? ['→ ', commit(r.newHead)] : null,
          r.message ? h('span.muted', ' ', r.message) : null)) : null,
        h('p', { id: 'ahead-behind' }, h('strong', `${from} is ${d.ahead} commit(s) ahead`),
          `, ${d.behind} behind ${to}.`),
        d.aheadCommits && d.aheadCommits.length ? h('ul.commits', d.aheadCommits.map((c) =>
          h('li', commit(c.commit), ' ', c.summary, h('span.muted', ' — ', c.author)))) : null,
        h('div.gate', { id: 'gate', class: passed ? 'ok' : 'bad' },
          h('strong', passed ? 'Gate open' : 'Gate closed'),
          h('ul', gate.map(([ok, text]) => h('li', { class: ok ? 'ok' : 'bad' }, ok ? '✓ ' : '✗ ', text)))),
        h('div.actions', promoteBtn),
        d.diff ? h('details', h('summary', `What the promotion brings (${d.summary || 'diff'})`),
          renderUnified(d.diff)) : null));
  }

  async function promote(from, to, d, passed) {
    let force = false;
    if (!passed) {
      force = await confirmDialog('Gate closed', `${from} is not Synced and Healthy at its head. ` +
        'Promote anyway (--force, recorded in the merge commit)?', 'Force promote');
      if (!force) return;
    }
    const r = await withAdmin('Promote', () => api('/promotions',
      { method: 'POST', body: { from, to, force } }));
    if (!r) return;
    toast(`${r.result}${r.message ? ': ' + r.message : ''}`, r.result === 'Promoted' || r.result === 'UpToDate' ? 'ok' : 'bad');
    report = { from, to, r };
    load();
  }

  const off = onEvents((ev) => {
    if (!items.some((e) => e.app === ev.app)) return;
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  });
  load();
  return { dispose() { off(); clearTimeout(timer); } };
}
