// A unified diff (as the API returns it, secret values already masked) shown unified or
// side by side.
import { h } from './ui.js';

// Lines of a unified diff as rows: {kind: 'file'|'hunk'|'ctx'|'del'|'add', text}.
export function parseUnified(text) {
  const rows = [];
  for (const line of String(text || '').split('\n')) {
    if (line.startsWith('diff ') || line.startsWith('--- ') || line.startsWith('+++ ') ||
        line.startsWith('index ') || line.startsWith('new file') || line.startsWith('deleted file')) {
      rows.push({ kind: 'file', text: line });
    } else if (line.startsWith('@@')) rows.push({ kind: 'hunk', text: line });
    else if (line.startsWith('+')) rows.push({ kind: 'add', text: line.slice(1) });
    else if (line.startsWith('-')) rows.push({ kind: 'del', text: line.slice(1) });
    else if (line.startsWith(' ')) rows.push({ kind: 'ctx', text: line.slice(1) });
    else if (line !== '') rows.push({ kind: 'file', text: line });
  }
  return rows;
}

// Pairs the rows into [left, right] cells: a run of deletions sits beside the run of
// additions that follows it.
export function sideBySide(rows) {
  const out = [];
  for (let i = 0; i < rows.length;) {
    const r = rows[i];
    if (r.kind === 'del' || r.kind === 'add') {
      const dels = [], adds = [];
      while (i < rows.length && rows[i].kind === 'del') dels.push(rows[i++]);
      while (i < rows.length && rows[i].kind === 'add') adds.push(rows[i++]);
      for (let k = 0; k < Math.max(dels.length, adds.length); k++)
        out.push({ kind: 'change', left: dels[k] || null, right: adds[k] || null });
    } else {
      out.push({ kind: r.kind, left: r, right: r });
      i++;
    }
  }
  return out;
}

const SIGN = { add: '+', del: '-', ctx: ' ' };

export function renderUnified(text) {
  const rows = parseUnified(text);
  return h('div.diff.unified', { role: 'region', 'aria-label': 'Unified diff', tabindex: 0 },
    h('table', h('tbody', rows.map((r) => h('tr', { class: r.kind },
      h('td.sign', SIGN[r.kind] || ''), h('td.code', r.text))))));
}

export function renderSideBySide(text) {
  const pairs = sideBySide(parseUnified(text));
  const cell = (r, side) => {
    if (!r) return [h('td.sign.empty'), h('td.code.empty')];
    const kind = r.kind === 'ctx' ? 'ctx' : r.kind;
    return [h('td.sign', { class: kind }, SIGN[kind] || ''), h('td.code', { class: kind }, r.text)];
  };
  return h('div.diff.split', { role: 'region', 'aria-label': 'Side-by-side diff', tabindex: 0 },
    h('table',
      h('thead', h('tr', h('th', { colspan: 2 }, 'live'), h('th', { colspan: 2 }, 'git'))),
      h('tbody', pairs.map((p) => {
        if (p.kind === 'file' || p.kind === 'hunk')
          return h('tr', { class: p.kind }, h('td.code', { colspan: 4 }, p.left.text));
        return h('tr', cell(p.left, 'left'), cell(p.right, 'right'));
      }))));
}
