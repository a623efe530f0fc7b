// The operator's HTTP API (docs/api.md), the token kept for this tab's session, and the
// event stream read with fetch (EventSource cannot send the Authorization header).

const TOKEN_KEY = 'plumb.token';

export const auth = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  role: sessionStorage.getItem(TOKEN_KEY + '.role') || '', // admin | read-only | ''
  anonymousRead: false,
};

export function setToken(token, role) {
  auth.token = token;
  auth.role = role;
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(TOKEN_KEY + '.role', role);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(TOKEN_KEY + '.role');
  }
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

function headers(extra = {}, token = auth.token) {
  const h = { Accept: 'application/json', ...extra };
  if (token) h.Authorization = 'Bearer ' + token;
  return h;
}

// There is no separate token check before the first view: the view's own first request is
// it. A read refused for want of a token (401) calls the handler main.js sets, which asks
// for one and resolves once there is a new token, and the read is tried again with it.
let unauthorized = null;
export function onUnauthorized(fn) {
  unauthorized = fn;
}

// Resolves at the first read the operator answers (the event stream starts then, after
// the first view has its data, instead of competing with it).
let answer = null;
export const firstAnswer = new Promise((resolve) => { answer = resolve; });

// GET (or POST with `body`) under /api/v1; resolves to the parsed JSON, rejects with ApiError.
export async function api(path, { method = 'GET', body, signal, token } = {}) {
  const init = { method, signal, cache: 'no-store', headers: headers({}, token ?? auth.token) };
  if (method !== 'GET') {
    init.headers['Content-Type'] = 'application/json';
    init.headers['X-Plumb-User'] = 'dashboard';
    init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch('/api/v1' + path, init);
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (res.status === 401 && method === 'GET' && token === undefined && unauthorized) {
    await unauthorized(); // rejects when the user gives no token
    return api(path, { method, signal });
  }
  if (!res.ok) throw new ApiError(res.status, data);
  if (method === 'GET') {
    if (!auth.token) auth.anonymousRead = true;
    answer();
  }
  return data;
}

export async function apiText(path, { signal } = {}) {
  const res = await fetch('/api/v1' + path, { signal, cache: 'no-store', headers: headers() });
  const text = await res.text();
  if (!res.ok) {
    let body = null;
    try { body = JSON.parse(text); } catch { body = { error: text }; }
    throw new ApiError(res.status, body);
  }
  return text;
}

// What a token may do: 'admin', 'read-only', or '' (not valid). A change is tried on an
// Application that cannot exist: the token is checked before the name, so an admin token
// gets 404 and nothing changes.
export async function checkToken(token) {
  try {
    await api('/applications/-/refresh', { method: 'POST', token });
    return 'admin';
  } catch (e) {
    if (e.status === 403) return 'read-only';
    if (e.status === 401) return '';
    if (e instanceof ApiError) return 'admin'; // past the token check: 404 for the name
    throw e;
  }
}

// Follows GET /api/v1/events?watch=true: calls onEvent(event) for each new event and
// onState(true|false) as the connection comes and goes; reconnects with back-off, resuming
// after the last id seen. Returns a function that stops it.
export function watchEvents(onEvent, onState) {
  let stopped = false;
  let controller = null;
  let lastId = null;
  (async () => {
    let delay = 500;
    while (!stopped) {
      controller = new AbortController();
      try {
        const q = lastId === null ? '' : '&after=' + lastId;
        const res = await fetch('/api/v1/events?watch=true' + q, {
          headers: headers({ Accept: 'text/event-stream' }),
          signal: controller.signal,
          cache: 'no-store',
        });
        if (!res.ok) throw new ApiError(res.status, null);
        onState(true);
        delay = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) lastId = Number(line.slice(4));
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data) {
              try { onEvent(JSON.parse(data)); } catch (e) { console.error(e); }
            }
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      onState(false);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
  })();
  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
