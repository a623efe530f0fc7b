// The dashboard's shell: routing (History API; the server answers index.html for every
// non-API path), the token dialog, and the one event stream every view listens to.
import { auth, setToken, checkToken, watchEvents, onUnauthorized, firstAnswer, ApiError } from './api.js';
import { agoText, toast } from './ui.js';
import { appsView } from './apps.js';
import { appView } from './app.js';
import { envsView } from './envs.js';
import { driftView } from './drift.js';

const main = document.getElementById('main');
const listeners = new Set();
let current = null; // {dispose?, onEvent?}
let stopStream = null;

export function onEvents(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  route();
}

function route() {
  performance.mark('plumb:route');
  if (current && current.dispose) current.dispose();
  const url = new URL(location.href);
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let nav = 'apps';
  if (parts[0] === 'applications' && parts[1]) {
    current = appView(main, parts[1], parts[2] || 'resources', url.searchParams);
  } else if (parts[0] === 'environments') {
    nav = 'envs';
    current = envsView(main, url.searchParams);
  } else if (parts[0] === 'drift') {
    nav = 'drift';
    current = driftView(main);
  } else {
    current = appsView(main, url.searchParams);
  }
  for (const a of document.querySelectorAll('[data-nav]'))
    a.setAttribute('aria-current', a.dataset.nav === nav ? 'page' : 'false');
}

// Links with data-link navigate inside the page; modified clicks open new tabs as usual.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);

// "/" focuses the page's search box, as on most dashboards.
document.addEventListener('keydown', (e) => {
  if (e.key !== '/' || /INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) return;
  const search = document.querySelector('[data-search]');
  if (search) {
    e.preventDefault();
    search.focus();
  }
});

// Relative times tick without re-rendering the views.
setInterval(() => {
  for (const t of document.querySelectorAll('time[data-ago]')) t.textContent = agoText(Number(t.dataset.ago));
}, 5000);

// --- the token ------------------------------------------------------------------------

const dialog = document.getElementById('login-dialog');
const input = document.getElementById('token-input');
const errorEl = document.getElementById('login-error');
let pending = null; // {resolve, reject} of the open askToken()

// Opens the token dialog; resolves with the role once a valid token is entered, rejects when
// cancelled.
export function askToken(reason) {
  document.getElementById('login-reason').textContent =
    reason || "Enter the operator's token to continue.";
  errorEl.hidden = true;
  input.value = '';
  if (!dialog.open) dialog.showModal();
  input.focus();
  return new Promise((resolve, reject) => {
    if (pending) pending.reject(new Error('replaced'));
    pending = { resolve, reject };
  });
}

document.getElementById('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const token = input.value.trim();
  if (!token) return;
  try {
    const role = await checkToken(token);
    if (!role) {
      errorEl.textContent = 'This token is not valid for this operator.';
      errorEl.hidden = false;
      return;
    }
    setToken(token, role);
    dialog.close();
    updateWho();
    restartStream();
    const p = pending;
    pending = null;
    if (p) p.resolve(role);
  } catch (err) {
    errorEl.textContent = err.message;
    errorEl.hidden = false;
  }
});

function cancelLogin() {
  if (dialog.open) dialog.close();
  const p = pending;
  pending = null;
  if (p) p.reject(new Error('cancelled'));
}
document.getElementById('login-cancel').addEventListener('click', cancelLogin);
dialog.addEventListener('cancel', (e) => {
  e.preventDefault();
  cancelLogin();
});

document.getElementById('login-button').addEventListener('click', () => {
  if (auth.token) {
    setToken('', '');
    if (stopStream) stopStream(); // it still sends the old token
    stopStream = null;
    updateWho();
    toast('Logged out of this session.');
    start();
  } else {
    askToken('Enter a token to act (sync, rollback, promote, ...).').then(() => route(), () => {});
  }
});

function updateWho() {
  const who = document.getElementById('who');
  const button = document.getElementById('login-button');
  if (auth.token) {
    who.textContent = auth.role === 'admin' ? 'admin' : 'read-only token';
    button.textContent = 'Log out';
  } else {
    who.textContent = auth.anonymousRead ? 'read-only (anonymous)' : '';
    button.textContent = 'Log in';
  }
}

// Runs an action that needs the admin token: asks for one first when there is none, and
// again when the operator refuses the one we have.
export async function withAdmin(what, fn) {
  if (!auth.token || auth.role !== 'admin') {
    try {
      const role = await askToken(`${what} needs the admin token.`);
      if (role !== 'admin') {
        toast('A read-only token cannot ' + what.toLowerCase() + '.', 'bad');
        return null;
      }
    } catch {
      return null;
    }
  }
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setToken('', '');
      updateWho();
    }
    toast(e.message, 'bad');
    return null;
  }
}

function restartStream() {
  if (stopStream) stopStream();
  const live = document.getElementById('live');
  stopStream = watchEvents(
    (ev) => { for (const fn of listeners) fn(ev); },
    (up) => {
      live.textContent = up ? 'live' : 'offline';
      live.classList.toggle('up', up);
    });
}

// Reads need a token unless the operator runs with --anonymous-read. The first view's own
// request finds out (no separate check first: one round trip less before anything shows);
// a 401 asks for the token once, however many reads were refused, and they are tried again.
let asking = null;
function needToken() {
  if (!asking) {
    setToken('', '');
    updateWho();
    asking = askToken('This operator needs a token to view anything.').then(
      () => { asking = null; },
      (e) => {
        asking = null;
        main.textContent = 'A token is needed to view this operator. Use "Log in" above.';
        throw e;
      });
  }
  return asking;
}

function start() {
  updateWho();
  route();
  // The event stream starts once the first view has its data, not before it.
  firstAnswer.then(() => setTimeout(() => {
    updateWho();
    if (auth.token || auth.anonymousRead) restartStream();
  }, 0));
}

onUnauthorized(needToken);
start();
