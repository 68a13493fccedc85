// The agent console: the queue, claiming, chatting, closing.
import { MessageList, api, bindComposer, claims, connect, el, obtainToken, readReceipts, statusText } from '/assets/common.js';

const $ = (id) => document.getElementById(id);
let token;
let call;
let client;
let me;
let current = null;
let list;
let markRead = () => {};

async function main() {
  try {
    token = await obtainToken('support', 'qc.agent.token');
  } catch (e) {
    return problem(e.message);
  }
  me = claims(token).sub;
  call = api(() => token);
  list = new MessageList($('messages'), me, () => 'Customer');
  markRead = readReceipts(call, list, () => current?.id);
  client = connect('/chats/supports', () => token);
  client.on('status', (s) => ($('status').textContent = statusText(s)));
  client.on('message', (m) => {
    if (m.conversation_id === current?.id) {
      list.add(m);
      markRead();
    }
  });
  client.on('typing', (cid, who) => {
    if (cid === current?.id) $('typing').textContent = who.length ? 'Customer is typing…' : '';
  });
  client.on('read', (cid, reader, upTo) => cid === current?.id && reader !== me && list.readUpTo(upTo));
  client.on('assigned', () => refresh());
  client.on('closed', (cid) => {
    if (cid === current?.id) setClosed(true);
    refresh();
  });
  bindComposer(client, $('send-form'), $('input'), () => current?.id ?? null);
  $('close').addEventListener('click', async () => {
    if (!current) return;
    try {
      await call('POST', `/conversations/${current.id}/close`);
    } catch (e) {
      problem(e.message);
    }
  });
  client.connect();
  await refresh();
  // The queue has no live event for new conversations: poll it.
  setInterval(refresh, 3000);
}

async function refresh() {
  try {
    const [queue, mine] = await Promise.all([
      call('GET', '/conversations?queue=true&limit=50'),
      call('GET', '/conversations?limit=50'),
    ]);
    render($('queue'), queue.items, true);
    render($('mine'), mine.items, false);
  } catch (e) {
    if (e.status === 401 && !location.hash.includes('token=')) {
      localStorage.removeItem('qc.agent.token');
      location.reload();
    }
  }
}

function render(container, items, claimable) {
  container.replaceChildren(
    ...items.map((c) =>
      el(
        'li',
        { class: c.id === current?.id ? 'conv active' : 'conv', 'data-id': c.id },
        el('span', { class: 'subject' }, c.subject ?? '(no subject)'),
        el('span', { class: 'when' }, new Date(c.created_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })),
        claimable
          ? el('button', { type: 'button', onclick: () => claim(c) }, 'Claim')
          : el('button', { type: 'button', onclick: () => open(c) }, c.status === 'closed' ? 'View' : 'Open'),
      ),
    ),
  );
  if (!items.length) container.append(el('li', { class: 'empty' }, claimable ? 'Nobody waiting.' : 'None yet.'));
}

async function claim(c) {
  try {
    await open(await call('POST', `/conversations/${c.id}/assign`));
  } catch (e) {
    problem(e.code === 'already_assigned' ? 'Another agent took that one.' : e.message);
  }
  refresh();
}

async function open(c) {
  current = c;
  $('conv-title').textContent = c.subject ?? 'Conversation';
  const page = await call('GET', `/conversations/${c.id}/messages?limit=200`);
  client.watch(c.id, page.items);
  list.clear();
  for (const m of page.items) list.add(m);
  $('typing').textContent = '';
  $('conversation').hidden = false;
  setClosed(c.status === 'closed');
  if (c.status === 'closed') client.markClosed(c.id);
  markRead();
  $('input').focus();
  refresh();
}

function setClosed(closed) {
  $('closed').hidden = !closed;
  $('input').disabled = closed;
  $('send').disabled = closed;
  $('close').disabled = closed;
}

function problem(text) {
  $('problem').textContent = text;
  $('problem').hidden = false;
  setTimeout(() => ($('problem').hidden = true), 5000);
}

main();
