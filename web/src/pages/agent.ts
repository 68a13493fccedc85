// The agent console: a live queue (one load, then events: no polling), my
// conversations with unread badges and previews, the team with presence,
// claiming, chatting, internal notes, transfers and closing. The state rules
// live in the library's Desk; this file renders it and does the I/O.

import {
  Api,
  ApiError,
  type Agent,
  type ChatClient,
  type Conversation,
  Desk,
  type DeskEffect,
  type DeskEvent,
  type Message,
} from '../index.js';
import { actionOf, byId, el, isVisible } from './dom.js';
import { MessageView, ReadMarker, submitOnEnter } from './messages.js';
import {
  PRESENCE_TEXT,
  claims,
  connect,
  errorText,
  isUnauthorized,
  obtainToken,
  shortId,
  statusText,
  timeText,
  tokenFromHash,
} from './session.js';

const TOKEN_KEY = 'qc.agent.token';
/** The transfer target meaning "back to the queue". */
const TO_QUEUE = '__queue__';

const ui = {
  me: byId('me', HTMLElement),
  presence: byId('presence-toggle', HTMLButtonElement),
  status: byId('status', HTMLElement),
  queue: byId('queue', HTMLUListElement),
  queueCount: byId('queue-count', HTMLElement),
  mine: byId('mine', HTMLUListElement),
  team: byId('team', HTMLUListElement),
  empty: byId('empty', HTMLElement),
  notice: byId('notice', HTMLElement),
  conversation: byId('conversation', HTMLElement),
  title: byId('conv-title', HTMLElement),
  customerStatus: byId('customer-status', HTMLElement),
  transferForm: byId('transfer-form', HTMLFormElement),
  transferTo: byId('transfer-to', HTMLSelectElement),
  transfer: byId('transfer', HTMLButtonElement),
  close: byId('close', HTMLButtonElement),
  messages: byId('messages', HTMLOListElement),
  typing: byId('typing', HTMLElement),
  closed: byId('closed', HTMLElement),
  form: byId('send-form', HTMLFormElement),
  modeReply: byId('mode-reply', HTMLButtonElement),
  modeNote: byId('mode-note', HTMLButtonElement),
  inputLabel: byId('input-label', HTMLElement),
  input: byId('input', HTMLTextAreaElement),
  send: byId('send', HTMLButtonElement),
  problem: byId('problem', HTMLElement),
};

type Mode = 'reply' | 'note';

interface ConsoleState {
  /** The conversation on screen. */
  current: string | null;
  mode: Mode;
  /** Bumped per (re)connect; an older snapshot that answers late is dropped. */
  syncGeneration: number;
}

interface Session {
  token: string;
  me: string;
  api: Api;
  client: ChatClient;
  desk: Desk;
  view: MessageView;
  reads: ReadMarker;
}

const state: ConsoleState = { current: null, mode: 'reply', syncGeneration: 0 };
let s: Session;

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
  s = {
    token,
    me,
    api,
    client: connect('/chats/supports', () => s.token),
    desk,
    view: new MessageView(ui.messages, me, (m) => (m.sender_id === currentConversation()?.client_id ? 'Customer' : `Agent ${shortId(m.sender_id)}`)),
    reads: new ReadMarker(api, me, (id) => {
      desk.markedRead(id);
      render();
    }),
  };
  ui.me.textContent = shortId(me);
  ui.me.title = me;
  ui.me.dataset.agentId = me;
  wireClient(s.client);
  wireControls();
  render();
  s.client.connect();
}

function wireClient(client: ChatClient): void {
  client.on('status', (st) => {
    ui.status.textContent = statusText(st);
    // Events missed while disconnected are recovered by a fresh snapshot.
    if (st === 'open') void sync();
  });
  client.on('created', (conversation) => act({ kind: 'created', conversation }));
  client.on('assigned', (_id, _to, _from, assignment) => {
    act({ kind: 'assigned', assignment });
    scheduleTeamRefresh();
  });
  client.on('closed', (conversationId) => {
    act({ kind: 'closed', conversationId });
    if (conversationId === state.current) setClosed(true);
    scheduleTeamRefresh();
  });
  const onMessage = (m: Message): void => {
    act({ kind: 'message', message: m });
    if (m.conversation_id !== state.current) return;
    const t = client.timeline(m.conversation_id);
    s.view.added(t, m);
    if (m.message_type === 'text' && m.sender_id !== s.me) s.reads.schedule(m.conversation_id, t);
  };
  client.on('message', onMessage);
  client.on('note', onMessage);
  client.on('read', (conversationId, readerId, upTo) => {
    act({ kind: 'read', conversationId, readerId });
    if (conversationId === state.current && readerId !== s.me) {
      s.view.read(client.timeline(conversationId).markRead(upTo, (m) => m.sender_id === s.me && m.message_type === 'text'));
    }
  });
  client.on('typing', (conversationId, who) => {
    if (conversationId === state.current) ui.typing.textContent = who.length ? 'Customer is typing…' : '';
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
  ui.presence.addEventListener('click', () => void togglePresence());
  ui.transferForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void transfer();
  });
  ui.close.addEventListener('click', () => void closeCurrent());
  ui.modeReply.addEventListener('click', () => setMode('reply'));
  ui.modeNote.addEventListener('click', () => setMode('note'));
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
    if (state.current && isVisible()) s.reads.schedule(state.current, s.client.timeline(state.current));
  });
}

// ---- state ----------------------------------------------------------------

/** The queue, mine and the team, after every (re)connect. Events that come
 * meanwhile are held by the desk and replayed on the snapshot. */
async function sync(): Promise<void> {
  const generation = ++state.syncGeneration;
  s.desk.beginSync();
  try {
    const [queue, mine, agents] = await Promise.all([
      s.api.conversations({ queue: true, limit: 200 }),
      s.api.conversations({ limit: 200 }),
      s.api.agents().catch((): Agent[] => []), // the team list is a nicety; the desk works without it
    ]);
    if (generation !== state.syncGeneration) return;
    run(s.desk.endSync({ queue: queue.items, mine: mine.items, agents }));
    document.body.dataset.ready = 'true';
  } catch (e) {
    if (generation !== state.syncGeneration) return;
    run(s.desk.abortSync());
    if (isUnauthorized(e)) return reloadWithFreshToken();
    if (s.client.status === 'open') problem(errorText(e));
  }
  render();
}

function act(e: DeskEvent): void {
  run(s.desk.apply(e));
  render();
}

function run(effects: readonly DeskEffect[]): void {
  for (const e of effects) {
    const id = e.conversationId;
    switch (e.kind) {
      case 'fetch-mine':
        // Transferred to me: it joins my list (its history loads when opened).
        s.api.conversation(id).then(
          (c) => s.desk.fetched(c) && render(),
          () => s.desk.fetchFailed(id),
        );
        break;
      case 'fetch-queued':
        s.api.conversation(id).then(
          (c) => s.desk.queued(c) && render(),
          () => s.desk.fetchFailed(id),
        );
        break;
      case 'left':
        s.client.forget(id);
        if (state.current === id) {
          hideConversation();
          notice('That conversation was handed over: it is no longer yours.');
        }
        break;
    }
  }
}

let teamTimer: ReturnType<typeof setTimeout> | null = null;

/** Fresh open-conversation counts after assignments change (presence keeps
 * the statuses live; counts of others' closes have no event, hence this). */
function scheduleTeamRefresh(): void {
  if (teamTimer !== null) return;
  teamTimer = setTimeout(() => {
    teamTimer = null;
    const since = s.desk.teamClock;
    s.api.agents().then(
      (agents) => {
        s.desk.refreshTeam(agents, since);
        render();
      },
      () => {},
    );
  }, 500);
}

const currentConversation = (): Conversation | undefined =>
  state.current === null ? undefined : s.desk.mineConversation(state.current);

function setViewing(): void {
  s.desk.viewing = isVisible() ? state.current : null;
}

// ---- actions --------------------------------------------------------------

async function claim(id: string): Promise<void> {
  try {
    const c = await s.api.assign(id);
    s.desk.claimed(c);
    render();
    await open(c.id);
  } catch (e) {
    problem(e instanceof ApiError && e.code === 'already_assigned' ? 'Another agent took that one.' : errorText(e));
  }
}

async function open(id: string): Promise<void> {
  const c = s.desk.mineConversation(id);
  if (!c) return;
  if (state.current !== id) setMode('reply');
  state.current = id;
  setViewing();
  ui.notice.hidden = true;
  ui.title.textContent = c.subject ?? 'Conversation';
  ui.typing.textContent = '';
  ui.empty.hidden = true;
  ui.conversation.hidden = false;
  s.view.clear();
  setClosed(c.status === 'closed');
  if (c.status === 'closed') s.client.markClosed(id);
  // Opening it reads it: the badge goes at once, the read is posted below.
  const hadUnread = c.unread_count > 0;
  s.desk.markedRead(id);
  render();
  try {
    const page = await s.api.messages(id, { limit: 200 });
    if (state.current !== id) return;
    s.client.watch(id, page.items);
  } catch (e) {
    if (state.current !== id) return;
    problem(errorText(e, 'Could not load the conversation.'));
    s.client.watch(id);
  }
  const t = s.client.timeline(id);
  s.view.show(t);
  s.reads.schedule(id, t, hadUnread);
  if (!ui.input.disabled) ui.input.focus();
}

function hideConversation(): void {
  if (state.current) s.client.stopTyping(state.current);
  state.current = null;
  setViewing();
  s.reads.cancel();
  s.view.clear();
  ui.conversation.hidden = true;
  ui.empty.hidden = false;
  render();
}

async function transfer(): Promise<void> {
  const id = state.current;
  const choice = ui.transferTo.value;
  if (!id || !choice) return;
  const to = choice === TO_QUEUE ? null : choice;
  try {
    const c = await s.api.transfer(id, to);
    // The event follows; applying the answer now is the same change.
    act({ kind: 'assigned', assignment: { conversation_id: id, support_id: c.support_id, previous_support_id: s.me } });
    scheduleTeamRefresh();
  } catch (e) {
    problem(e instanceof ApiError && e.code === 'unknown_agent' ? 'The server does not know that agent.' : errorText(e));
  }
}

async function closeCurrent(): Promise<void> {
  const id = state.current;
  if (!id) return;
  try {
    await s.api.close(id);
    act({ kind: 'closed', conversationId: id });
    if (id === state.current) setClosed(true);
  } catch (e) {
    problem(errorText(e));
  }
}

async function togglePresence(): Promise<void> {
  const next = s.desk.myStatus === 'away' ? 'online' : 'away';
  ui.presence.disabled = true;
  try {
    s.desk.setAgent(await s.api.setStatus(next));
  } catch (e) {
    problem(errorText(e));
  } finally {
    ui.presence.disabled = false;
    render();
  }
}

function setMode(mode: Mode): void {
  // Leaving reply mode mid-sentence: end the customer's "typing…" now.
  if (mode === 'note' && state.current) s.client.stopTyping(state.current);
  state.mode = mode;
  const note = mode === 'note';
  ui.form.classList.toggle('note-mode', note);
  ui.form.dataset.mode = mode;
  ui.modeReply.setAttribute('aria-pressed', String(!note));
  ui.modeNote.setAttribute('aria-pressed', String(note));
  ui.inputLabel.textContent = note ? 'Internal note' : 'Reply';
  ui.input.placeholder = note ? 'Internal note: only agents see it…' : 'Type a reply…';
  ui.send.textContent = note ? 'Add note' : 'Send';
}

function setClosed(closed: boolean): void {
  ui.closed.hidden = !closed;
  ui.input.disabled = closed;
  ui.send.disabled = closed;
  ui.close.disabled = closed;
  ui.modeReply.disabled = closed;
  ui.modeNote.disabled = closed;
  if (closed) ui.typing.textContent = '';
  renderTransfer();
}

// ---- rendering ------------------------------------------------------------

function render(): void {
  renderQueue();
  renderMine();
  renderTeam();
  renderTransfer();
  renderPresence();
  renderCustomerStatus();
  const unread = s.desk.unreadTotal;
  document.title = unread ? `(${unread}) Agent console` : 'Quick Connect Chat: agent console';
}

function renderQueue(): void {
  const items = s.desk.queue;
  ui.queueCount.textContent = items.length ? String(items.length) : '';
  keepFocus(ui.queue, () =>
    ui.queue.replaceChildren(
      ...items.map((c) =>
        el(
          'li',
          { class: 'conv', 'data-testid': 'queue-item', 'data-conversation-id': c.id },
          el('span', { class: 'subject' }, c.subject ?? '(no subject)'),
          el('span', { class: 'when' }, `waiting since ${timeText(c.created_at)}`),
          el('button', { type: 'button', 'data-action': 'claim', 'data-id': c.id }, 'Claim'),
        ),
      ),
      ...(items.length ? [] : [el('li', { class: 'empty' }, 'Nobody waiting.')]),
    ),
  );
}

function renderMine(): void {
  const items = s.desk.mine;
  keepFocus(ui.mine, () =>
    ui.mine.replaceChildren(
      ...items.map((c) => {
        const classes = ['conv', 'mine-item'];
        if (c.id === state.current) classes.push('active');
        if (c.status === 'closed') classes.push('closed');
        return el(
          'li',
          {
            class: classes.join(' '),
            'data-testid': 'my-conversation',
            'data-conversation-id': c.id,
            'data-status': c.status,
            'data-unread': String(c.unread_count),
          },
          el(
            'button',
            {
              type: 'button',
              class: 'conv-open',
              'data-action': 'open',
              'data-id': c.id,
              'aria-current': c.id === state.current ? 'true' : undefined,
            },
            el('span', { class: 'subject' }, c.subject ?? '(no subject)'),
            el('span', { class: 'preview', 'data-testid': 'last-message' }, preview(c)),
            c.status === 'closed' && el('span', { class: 'tag' }, 'closed'),
          ),
          c.unread_count > 0 &&
            el(
              'span',
              { class: 'badge', 'data-testid': 'unread-badge', 'aria-label': `${c.unread_count} unread` },
              String(c.unread_count),
            ),
        );
      }),
      ...(items.length ? [] : [el('li', { class: 'empty' }, 'None yet.')]),
    ),
  );
}

function preview(c: Conversation): string {
  const m = c.last_message;
  if (!m) return 'No messages yet';
  const who = m.message_type === 'note' ? 'Note: ' : m.sender_id === s.me ? 'You: ' : '';
  return `${who}${m.content}`;
}

function renderTeam(): void {
  const team = s.desk.team;
  ui.team.replaceChildren(
    ...team.map((a) =>
      el(
        'li',
        { class: `member ${a.status}`, 'data-testid': 'team-member', 'data-agent-id': a.id, 'data-status': a.status },
        el('span', { class: 'dot', 'aria-hidden': 'true' }),
        el('span', { class: 'name', title: a.id }, a.id === s.me ? `${shortId(a.id)} (you)` : shortId(a.id)),
        el('span', { class: 'member-status' }, PRESENCE_TEXT[a.status]),
        el('span', { class: 'load' }, `${a.open_conversations} open`),
      ),
    ),
    ...(team.length ? [] : [el('li', { class: 'empty' }, 'No one yet.')]),
  );
}

function renderTransfer(): void {
  const c = currentConversation();
  const chosen = ui.transferTo.value;
  const options = [
    el('option', { value: '' }, 'Choose…'),
    el('option', { value: TO_QUEUE }, 'Back to the queue'),
    ...s.desk.colleagues.map((a) =>
      el('option', { value: a.id, 'data-status': a.status }, `${shortId(a.id)} (${PRESENCE_TEXT[a.status].toLowerCase()}, ${a.open_conversations} open)`),
    ),
  ];
  ui.transferTo.replaceChildren(...options);
  // Keep the choice across re-renders (presence changes while choosing).
  if (options.some((o) => o.value === chosen)) ui.transferTo.value = chosen;
  const usable = c !== undefined && c.status === 'open';
  ui.transferTo.disabled = !usable;
  ui.transfer.disabled = !usable;
}

function renderPresence(): void {
  const mine = s.desk.myStatus;
  ui.presence.dataset.status = mine;
  ui.presence.setAttribute('aria-pressed', String(mine === 'away'));
  ui.presence.textContent = mine === 'away' ? 'Away: set online' : 'Online: set away';
}

function renderCustomerStatus(): void {
  const c = currentConversation();
  const status = c ? s.desk.customerStatus(c.client_id) : undefined;
  ui.customerStatus.hidden = status === undefined;
  ui.customerStatus.dataset.status = status ?? '';
  ui.customerStatus.textContent = status ? `Customer ${PRESENCE_TEXT[status].toLowerCase()}` : '';
}

/** Re-rendering a list must not throw the keyboard focus away. */
function keepFocus(container: HTMLElement, rerender: () => void): void {
  const focused = document.activeElement;
  const action = focused instanceof HTMLElement && container.contains(focused) ? focused.dataset : undefined;
  const key = action?.action && action.id ? [action.action, action.id] : null;
  rerender();
  if (key) container.querySelector<HTMLElement>(`[data-action="${key[0]}"][data-id="${CSS.escape(key[1])}"]`)?.focus();
}

function notice(text: string): void {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
}

let problemTimer: ReturnType<typeof setTimeout> | null = null;

function problem(text: string): void {
  ui.problem.textContent = text;
  ui.problem.hidden = false;
  if (problemTimer !== null) clearTimeout(problemTimer);
  problemTimer = setTimeout(() => (ui.problem.hidden = true), 5000);
}

function reloadWithFreshToken(): void {
  if (tokenFromHash()) return problem('The token was refused: open the console with a valid one.');
  localStorage.removeItem(TOKEN_KEY);
  location.reload();
}

void main().catch((e: unknown) => problem(errorText(e)));
