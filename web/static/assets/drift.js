// Drift: the Applications whose live state differs from git now, what differs, and the
// recent drift events (what changed on the host, what self-heal did).
import { api } from './api.js';
import { h, clear, syncBadge, healthBadge, ago, errorBox } from './ui.js';
import { onEvents } from './main.js';

const REASONS = new Set(['DriftDetected', 'DriftHealed', 'ScaledByHand']);

export function driftView(root) {
  const now = h('div', { id: 'drifted' });
  const recent = h('div', { id: 'drift-events' });
  let timer = null;
  clear(root, h('div.page-head', h('h1', 'Drift')),
    h('h2', 'Out of sync now'), now,
    h('h2', 'Recent drift and self-heal'), recent);

  async function load() {
    try {
      const apps = (await api('/applications?sync=OutOfSync&limit=50')).items;
      const diffs = await Promise.all(apps.map((a) =>
        api(`/applications/${encodeURIComponent(a.name)}/diff`).catch(() => null)));
      clear(now, apps.length ? h('ul.drift-list', apps.map((a, i) => h('li.drifted', { dataset: { app: a.name } },
        h('a', { href: `/applications/${encodeURIComponent(a.name)}/diff`, 'data-link': true }, a.name), ' ',
        syncBadge(a.status.sync), ' ', healthBadge(a.status.health),
        a.spec.sync.selfHeal ? h('span.muted', ' self-heal on') : h('span.tag', 'self-heal off'),
        diffs[i] ? h('ul', (diffs[i].items || []).filter((x) => x.action && x.action !== 'none').map((x) =>
          h('li', h('span.badge.warn', x.action), ' ', `${x.kind}/${x.name}`))) : null)))
        : h('p.muted', 'Every Application matches git.'));
      const ev = (await api('/events?tail=5000&limit=5000')).items.filter((e) => REASONS.has(e.reason)).reverse();
      clear(recent, ev.length ? h('div.table-wrap', h('table', h('thead', h('tr', h('th', 'When'),
        h('th', 'Application'), h('th', 'What'), h('th', 'Message'))),
        h('tbody', ev.slice(0, 100).map((e) => h('tr', h('td', ago(e.time)),
          h('td', h('a', { href: '/applications/' + encodeURIComponent(e.app), 'data-link': true }, e.app)),
          h('td', h('span.badge', { class: e.reason === 'DriftHealed' ? 'ok' : 'warn' }, e.reason)),
          h('td', e.message))))))
        : h('p.muted', 'No drift recorded recently.'));
    } catch (e) {
      clear(now, errorBox(e));
    }
  }

  const off = onEvents((ev) => {
    if (!REASONS.has(ev.reason) && !/Sync/.test(ev.reason)) return;
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  });
  load();
  return { dispose() { off(); clearTimeout(timer); } };
}
