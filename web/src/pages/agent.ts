// The agent console: a live queue (one load, then events: no polling), my
// conversations under Open / Closed tabs with unread badges and previews,
// the team with presence, claiming, chatting, internal notes, transfers and
// closing. The state rules live in the library's Desk. This file makes the
// session and wires the events and controls; console_actions does what they
// ask, console_context holds the state and renders it, and the lists are
// updated in place (console_queue, console_sidebar) so the focus stays put.

import { Api, type ChatClient, Desk, type Message } from '../index.js';
import {
  TOKEN_KEY,
  act,
  authorName,
  claim,
  closeCurrent,
  joinedQueue,
  open,
  scheduleTeamRefresh,
  setMode,
  showList,
  sync,
  togglePresence,
  transfer,
} from './console_actions.js';
import { Alerts, Announcer } from './console_alerts.js';
import { begin, inView, narrow, problem, render, s, setViewing, state, ui, who } from './console_context.js';
import { snippet } from './console_format.js';
import { Pane } from './console_pane.js';
import { QueueAnnouncer, QueuePreviews, QueueView } from './console_queue.js';
import { MineView, Tabs, TeamView } from './console_sidebar.js';
import { actionOf, byId, isVisible } from './dom.js';
import { MessageView, ReadMarker, submitOnEnter } from './messages.js';
import { claims, connect, errorText, obtainToken, shortId, statusText } from './session.js';

/** How often the queue's waiting times are brought up to date. */
const TICK_MS = 15_000;

async function main(): Promise<void> {
  let token: string;
  try {
    token = await obtainToken('support', TOKEN_KEY);
  } catch (e) {
    return problem(errorText(e));
  }
  const me = claims(token).sub;
  const api = new Api({ base: location.origin, token: () => s.token });
  const desk = new Desk(me);
  const tabs = new Tabs(
    [byId('mine-tab-open', HTMLButtonElement), byId('mine-tab-closed', HTMLButtonElement)],
    [byId('mine-panel-open', HTMLElement), byId('mine-panel-closed', HTMLElement)],
  );
  const say = new Announcer(ui.announcer);
  const announcer = new QueueAnnouncer((text) => say.say(text), me);
  begin({
    token,
    me,
    api,
    client: connect('/chats/supports', () => s.token),
    desk,
    view: new MessageView(ui.messages, me, (m) => authorName(m.sender_id)),
    reads: new ReadMarker(api, me, (id) => {
      desk.markedRead(id);
      render();
    }),
    pane: new Pane(),
    queue: new QueueView(ui.queue, ui.queueCount, ui.queueEmpty, me, () => ui.queueTitle),
    previews: new QueuePreviews({
      fetch: (id) => api.conversation(id),
      queued: (id) => desk.queuedConversation(id),
      looked: (id, c, attempt) => {
        if (c && desk.refreshQueued(c)) render();
        announcer.looked(id, desk.queuedConversation(id), attempt);
      },
    }),
    announcer,
    mine: new MineView(
      {
        open: byId('mine-open', HTMLUListElement),
        closed: byId('mine-closed', HTMLUListElement),
        openEmpty: byId('mine-open-empty', HTMLElement),
        closedEmpty: byId('mine-closed-empty', HTMLElement),
        openCount: byId('mine-open-count', HTMLElement),
        closedCount: byId('mine-closed-count', HTMLElement),
        tabs,
      },
      me,
      () => state.current,
    ),
    tabs,
    team: new TeamView(ui.team, ui.teamEmpty, me),
    // A notification clicked: its conversation, or the queue.
    alerts: new Alerts(ui.alerts, (id) => (id && desk.mineConversation(id) ? void open(id) : showList(true)), problem),
  });
  ui.me.textContent = shortId(me);
  ui.me.title = me;
  ui.me.dataset.agentId = me;
  wireClient(s.client);
  wireControls();
  render();
  setInterval(() => s.queue.tick(), TICK_MS);
  s.client.connect();
}

function wireClient(client: ChatClient): void {
  client.on('status', (st) => {
    ui.status.textContent = statusText(st);
    // Events missed while disconnected are recovered by a fresh snapshot.
    if (st === 'open') void sync();
  });
  client.on('created', (conversation) => {
    act({ kind: 'created', conversation });
    const c = s.desk.queuedConversation(conversation.id);
    if (c) joinedQueue(c, false);
  });
  client.on('assigned', (_id, _to, _from, assignment) => {
    act({ kind: 'assigned', assignment });
    scheduleTeamRefresh();
  });
  client.on('closed', (conversationId) => {
    act({ kind: 'closed', conversationId });
    if (conversationId === state.current) s.pane.setClosed(true);
    scheduleTeamRefresh();
  });
  const onMessage = (m: Message): void => {
    const id = m.conversation_id;
    const before = s.desk.mineConversation(id)?.unread_count ?? 0;
    act({ kind: 'message', message: m });
    // Unread now (not in view, or the tab hidden): the optional alert.
    const c = s.desk.mineConversation(id);
    if (c && c.unread_count > before) s.alerts.newMessage(`Message from ${who(c)}`, snippet(m.content, 120), id);
    if (id !== state.current) return;
    const t = client.timeline(id);
    s.view.added(t, m);
    if (m.message_type === 'text' && m.sender_id !== s.me && inView()) s.reads.schedule(id, t);
  };
  client.on('message', onMessage);
  client.on('note', onMessage);
  // My texts and notes not stored yet (pending), or refused (failed, with Retry).
  client.on('outgoing', (o) => {
    if (o.conversationId === state.current) s.view.outgoing(o);
  });
  client.on('read', (conversationId, readerId, upTo) => {
    act({ kind: 'read', conversationId, readerId });
    if (conversationId === state.current && readerId !== s.me) {
      s.view.read(client.timeline(conversationId).markRead(upTo, (m) => m.sender_id === s.me && m.message_type === 'text'));
    }
  });
  client.on('typing', (conversationId, typing) => {
    if (conversationId === state.current) ui.typing.textContent = typing.length ? 'Customer is typing…' : '';
  });
  client.on('presence', (presence) => act({ kind: 'presence', presence }));
  client.on('error', (code, message) => {
    if (code !== 'rate_limited') problem(message);
  });
}

function wireControls(): void {
  ui.queue.addEventListener('click', (ev) => {
    const a = actionOf(ev, ui.queue);
    if (a?.dataset.action === 'claim' && a.dataset.id) void claim(a.dataset.id);
  });
  ui.mine.addEventListener('click', (ev) => {
    const a = actionOf(ev, ui.mine);
    if (a?.dataset.action === 'open' && a.dataset.id) void open(a.dataset.id);
  });
  s.pane.wire({
    togglePresence: () => void togglePresence(),
    transfer: (to) => void transfer(to),
    close: () => void closeCurrent(),
    mode: setMode,
  });
  ui.back.addEventListener('click', () => showList(true));
  ui.messages.addEventListener('click', (ev) => {
    const action = actionOf(ev, ui.messages);
    const clientMsgId = action?.closest<HTMLElement>('[data-client-msg-id]')?.dataset.clientMsgId;
    if (!action || !clientMsgId) return;
    if (action.dataset.action === 'retry') s.client.retry(clientMsgId);
    else if (action.dataset.action === 'discard') s.client.discard(clientMsgId);
  });
  ui.input.addEventListener('input', () => {
    // Typing is for replies only: a note is none of the customer's business.
    if (state.current && state.mode === 'reply') s.client.keyPressed(state.current);
  });
  submitOnEnter(ui.form, ui.input);
  ui.form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = state.current;
    const content = ui.input.value;
    if (!id || !content.trim()) return;
    const sent = state.mode === 'note' ? s.client.sendNote(id, content) : s.client.sendText(id, content);
    if (sent !== null) ui.input.value = '';
  });
  document.addEventListener('visibilitychange', () => {
    setViewing();
    if (isVisible()) s.queue.tick();
  });
  narrow.addEventListener('change', () => setViewing());
}

void main().catch((e: unknown) => problem(errorText(e)));
