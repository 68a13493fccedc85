// The customer widget: open a conversation, chat, see the agent typing and
// reading, and stop when the conversation is closed.
import { MessageList, api, bindComposer, claims, connect, obtainToken, readReceipts, statusText } from '/assets/common.js';

const $ = (id) => document.getElementById(id);
const CONV_KEY = 'qc.customer.conversation';
let token;
let conversation = null;
let list;
let markRead = () => {};

async function main() {
  try {
    token = await obtainToken('client', 'qc.customer.token');
  } catch (e) {
    return problem(e.message);
  }
  const me = claims(token).sub;
  const call = api(() => token);
  list = new MessageList($('messages'), me, () => 'Agent');
  markRead = readReceipts(call, list, () => conversation?.id);
  const client = connect('/chats/clients', () => token);
  client.on('status', (s) => ($('status').textContent = statusText(s)));
  client.on('message', (m) => {
    if (m.conversation_id !== conversation?.id) return;
    list.add(m);
    markRead();
  });
  client.on('typing', (cid, who) => {
    if (cid === conversation?.id) $('typing').textContent = who.length ? 'Agent is typing…' : '';
  });
  client.on('assigned', (cid) => cid === conversation?.id && ($('agent-line').textContent = 'An agent joined the chat.'));
  client.on('read', (cid, reader, upTo) => cid === conversation?.id && reader !== me && list.readUpTo(upTo));
  client.on('closed', (cid) => cid === conversation?.id && setClosed());

  const saved = localStorage.getItem(CONV_KEY);
  if (saved) {
    try {
      conversation = await call('GET', `/conversations/${saved}`);
    } catch (e) {
      if (e.status === 401) return reloadWithFreshToken();
      conversation = null;
    }
  }
  if (conversation) await show(call, client);
  else $('start').hidden = false;

  $('start-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      conversation = await call('POST', '/conversations', { subject: $('subject').value || null });
    } catch (e) {
      return problem(e.message ?? 'Could not start a conversation.');
    }
    localStorage.setItem(CONV_KEY, conversation.id);
    $('start').hidden = true;
    await show(call, client);
    $('input').focus();
  });
  bindComposer(client, $('send-form'), $('input'), () => conversation?.id ?? null);
  client.connect();
}

async function show(call, client) {
  const page = await call('GET', `/conversations/${conversation.id}/messages?limit=200`);
  client.watch(conversation.id, page.items);
  list.clear();
  for (const m of page.items) list.add(m);
  $('conversation').hidden = false;
  if (conversation.support_id) $('agent-line').textContent = 'An agent joined the chat.';
  if (conversation.status === 'closed') {
    client.markClosed(conversation.id);
    setClosed();
  }
  markRead();
}

function setClosed() {
  $('closed').hidden = false;
  $('input').disabled = true;
  $('send').disabled = true;
  $('typing').textContent = '';
  localStorage.removeItem(CONV_KEY);
}

function problem(text) {
  $('problem').textContent = text;
  $('problem').hidden = false;
}

async function reloadWithFreshToken() {
  localStorage.removeItem('qc.customer.token');
  localStorage.removeItem(CONV_KEY);
  location.reload();
}

main();
