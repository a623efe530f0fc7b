// Small DOM helpers shared by the views: element building, badges, times, commits.

// h('a.link', {href: '/x'}, 'text', child...) -> an element. Strings become text nodes,
// never HTML, so nothing from the API is parsed as markup.
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const SYNC = { Synced: 'ok', OutOfSync: 'warn', Unknown: 'unknown' };
const HEALTH = {
  Healthy: 'ok', Progressing: 'info', Degraded: 'bad', Suspended: 'muted', Missing: 'warn',
  Unknown: 'unknown',
};

export function syncBadge(s) {
  return h('span.badge', { class: SYNC[s] || 'unknown', 'data-sync': s || 'Unknown' }, s || 'Unknown');
}

export function healthBadge(s) {
  return h('span.badge', { class: HEALTH[s] || 'unknown', 'data-health': s || 'Unknown' },
    s || 'Unknown');
}

export function resultBadge(s) {
  const cls = /Succeeded|Promoted|UpToDate/.test(s) ? 'ok' : /Fail|Blocked|Conflict/.test(s) ? 'bad' : 'info';
  return h('span.badge', { class: cls }, s || '—');
}

export function shortCommit(c) {
  return c ? c.slice(0, 7) : '—';
}

export function commit(c) {
  return h('code.commit', { title: c || 'none' }, shortCommit(c));
}

// "12 s ago", "3 min ago", ... with the exact time as a tooltip.
export function ago(time) {
  if (!time) return h('span.muted', 'never');
  const t = typeof time === 'number' ? time : Date.parse(time);
  if (!Number.isFinite(t)) return h('span', String(time));
  return h('time', { datetime: new Date(t).toISOString(), title: new Date(t).toLocaleString(),
    dataset: { ago: String(t) } }, agoText(t));
}

export function agoText(t) {
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function duration(ms) {
  if (ms === undefined || ms === null || ms === '') return '—';
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
}

export function repoName(url) {
  const parts = String(url || '').replace(/\/+$/, '').replace(/\.git$/, '').split(/[/:]/);
  return parts[parts.length - 1] || url;
}

let toastTimer = null;
export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.className = 'toast show ' + kind;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; }, 6000);
}

// A modal question; resolves true when confirmed.
export function confirmDialog(title, text, ok = 'Confirm') {
  const dlg = document.getElementById('confirm-dialog');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = ok;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.returnValue = '';
    dlg.showModal();
  });
}

export function errorBox(e) {
  return h('p.error', { role: 'alert' }, e && e.message ? e.message : String(e));
}

export function tabs(items, current, hrefOf) {
  return h('nav.tabs', { 'aria-label': 'Sections' },
    items.map(([key, label]) => h('a', {
      href: hrefOf(key), 'data-link': true, 'aria-current': key === current ? 'page' : null,
      'data-tab': key,
    }, label)));
}
