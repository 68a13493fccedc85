// Shared by the customer widget and the agent console: tokens, the HTTP API,
// rendering. Plain ES module, served as is.
import { ChatClient } from '/assets/quickconnect/index.js';

/** The token: `#token=<jwt>` from the embedding site, else a development
 * token from the server when it runs in dev mode (kept in localStorage). */
export async function obtainToken(role, storageKey, { fresh = false } = {}) {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get('token')) return hash.get('token');
  if (!fresh) {
    const saved = localStorage.getItem(storageKey);
    if (saved && !expired(saved)) return saved;
  }
  const res = await fetch(`/dev/token?role=${role}`);
  if (!res.ok) throw new Error('This page needs a token: open it as …#token=<jwt> (the server is not in dev mode).');
  const { token } = await res.json();
  localStorage.setItem(storageKey, token);
  return token;
}

export function claims(token) {
  const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
}

function expired(token) {
  try {
    return claims(token).exp * 1000 < Date.now() + 60_000;
  } catch {
    return true;
  }
}

/** JSON over HTTP with the token; throws `{status, code, message}` on errors. */
export function api(getToken) {
  return async (method, path, body) => {
    const res = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${getToken()}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (res.status === 204) return null;
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw { status: res.status, code: data.code, message: data.message };
    return data;
  };
}

export function connect(path, getToken) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return new ChatClient({ url: `${scheme}://${location.host}${path}`, token: () => getToken(), apiBase: location.origin });
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

/** A message list that keeps messages in seq order and each id once. */
export class MessageList {
  constructor(container, me, names) {
    this.container = container;
    this.me = me;
    this.names = names;
    this.byId = new Map();
  }
  clear() {
    this.byId.clear();
    this.container.replaceChildren();
  }
  add(m) {
    if (this.byId.has(m.id)) return;
    const mine = m.sender_id === this.me;
    const time = new Date(m.created_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const receipt = el('span', { class: 'receipt', 'data-testid': 'receipt' }, m.read_at ? 'Read' : '');
    const node = el(
      'li',
      { class: mine ? 'msg mine' : 'msg theirs', 'data-seq': String(m.seq), 'data-id': m.id, 'data-testid': 'message' },
      el('span', { class: 'who' }, mine ? 'You' : this.names(m.sender_id)),
      el('p', { class: 'text' }, m.content),
      el('span', { class: 'meta' }, time, ' ', mine ? receipt : ''),
    );
    this.byId.set(m.id, { m, node, receipt });
    const after = [...this.container.children].find((c) => Number(c.dataset.seq) > m.seq);
    this.container.insertBefore(node, after ?? null);
    node.scrollIntoView({ block: 'end' });
  }
  /** The other side read my messages up to `upTo`. */
  readUpTo(upTo) {
    const limit = this.byId.get(upTo)?.m.seq;
    if (limit === undefined) return;
    for (const { m, receipt } of this.byId.values()) {
      if (m.sender_id === this.me && m.seq <= limit) receipt.textContent = 'Read';
    }
  }
  lastFromOthers() {
    let last = null;
    for (const { m } of this.byId.values()) if (m.sender_id !== this.me && (!last || m.seq > last.seq)) last = m;
    return last;
  }
}

export function statusText(status) {
  return { connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', closed: 'Offline' }[status];
}

/** Wires a composer: typing signals on input, Enter sends (Shift+Enter is a
 * new line), and a sent text clears the box. `conversationId()` is the
 * conversation currently shown, or null. */
export function bindComposer(client, form, input, conversationId) {
  input.addEventListener('input', () => {
    const id = conversationId();
    if (id) client.keyPressed(id);
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = conversationId();
    if (id && input.value.trim() && client.sendText(id, input.value) !== null) input.value = '';
  });
}

/** Read receipts: shortly after the other side's messages are shown (and
 * the page is visible), marks them read up to the newest. */
export function readReceipts(call, list, conversationId) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const id = conversationId();
      const last = list.lastFromOthers();
      if (id && last && !last.read_at && document.visibilityState === 'visible') {
        call('POST', `/conversations/${id}/read`, { up_to: last.id }).catch(() => {});
        last.read_at = new Date().toISOString();
      }
    }, 300);
  };
}
