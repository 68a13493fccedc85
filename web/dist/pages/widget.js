// The customer widget: open a conversation, chat, see the agent join, type,
// read and go online/away/offline, hear about a transfer, and stop when the
// conversation is closed (the transcript stays, with "Start a new chat").
// Texts sent while offline show as pending and go out on reconnect; refused
// ones show as failed with Retry. A refused token is renewed (dev mode: the
// same user again; embedded: asked of the host page) or the session ends.
// With `?embed=1` inside a frame it is the embeddable widget (embed.ts): the
// host page may hand it a token by postMessage.
import { Api, ApiError } from '../index.js';
import { actionOf, byId } from './dom.js';
import { MessageView, ReadMarker, submitOnEnter } from './messages.js';
import { EXPIRED_TEXT, Session, TokenError, connect, errorText, isExpired, isUnauthorized, statusText, } from './session.js';
const TOKEN_KEY = 'qc.customer.token';
const CONV_KEY = 'qc.customer.conversation';
/** Whose the remembered conversation is (another user's is not reloaded). */
const OWNER_KEY = 'qc.customer.conversation.owner';
const OFFLINE_TEXT = 'You are offline. Messages you send now will be delivered when the connection is back.';
const embedded = new URLSearchParams(location.search).get('embed') === '1' && window.parent !== window;
const ui = {
    status: byId('status', HTMLElement),
    offline: byId('offline', HTMLElement),
    start: byId('start', HTMLElement),
    startForm: byId('start-form', HTMLFormElement),
    subject: byId('subject', HTMLInputElement),
    conversation: byId('conversation', HTMLElement),
    agentLine: byId('agent-line', HTMLElement),
    agentStatus: byId('agent-status', HTMLElement),
    agentStatusText: byId('agent-status-text', HTMLElement),
    messages: byId('messages', HTMLOListElement),
    typing: byId('typing', HTMLElement),
    closed: byId('closed', HTMLElement),
    newChat: byId('new-chat', HTMLButtonElement),
    form: byId('send-form', HTMLFormElement),
    input: byId('input', HTMLTextAreaElement),
    send: byId('send', HTMLButtonElement),
    problem: byId('problem', HTMLElement),
};
const state = { conversation: null, agents: new Map(), ended: false, restoreAgain: false };
let ctx = null;
const STATUS_LINE = {
    online: 'Your agent is online',
    away: 'Your agent is away',
    offline: 'Your agent is offline',
};
const currentId = () => state.conversation?.id ?? null;
async function main() {
    if (embedded)
        document.body.classList.add('embedded');
    let session;
    try {
        const host = embedded ? await hostToken() : null;
        session = await Session.start({
            role: 'client',
            accept: ['client', 'guest'],
            storageKey: TOKEN_KEY,
            host: host ?? undefined,
            onIdentityChange: identityChanged,
        });
    }
    catch (e) {
        return cannotStart(e);
    }
    const me = session.sub;
    const api = new Api({ base: location.origin, token: () => session.token });
    const c = {
        session,
        me,
        api,
        client: connect('/chats/clients', session.tokenFor, { probeAuth: true }),
        view: new MessageView(ui.messages, me, () => 'Agent'),
        reads: new ReadMarker(api, me),
    };
    ctx = c;
    const { client, view, reads } = c;
    client.on('status', (s) => {
        if (state.ended)
            return;
        ui.status.textContent = statusText(s);
        // Kept in the page (an empty live region), so the change is announced.
        ui.offline.textContent = s === 'reconnecting' ? OFFLINE_TEXT : '';
        if (s === 'open' && state.restoreAgain)
            void restore(c);
    });
    client.on('expired', sessionOver);
    client.on('message', (m) => {
        if (m.conversation_id !== currentId())
            return;
        const t = client.timeline(m.conversation_id);
        view.added(t, m);
        reads.schedule(m.conversation_id, t);
    });
    client.on('outgoing', (o) => {
        if (o.conversationId === currentId())
            view.outgoing(o);
    });
    client.on('typing', (cid, who) => {
        if (cid === currentId())
            ui.typing.textContent = who.length ? 'Agent is typing…' : '';
    });
    client.on('assigned', (cid, _supportId, _previous, a) => {
        if (cid === currentId())
            assigned(a);
    });
    client.on('presence', (p) => {
        if (p.side !== 'agent')
            return;
        state.agents.set(p.user_id, p.status);
        renderAgentStatus();
    });
    client.on('read', (cid, reader, upTo) => {
        if (cid !== currentId() || reader === me)
            return;
        view.read(client.timeline(cid).markRead(upTo, (m) => m.sender_id === me));
    });
    client.on('closed', (cid) => {
        if (cid === currentId())
            setClosed();
    });
    ui.startForm.addEventListener('submit', (ev) => {
        ev.preventDefault();
        void startConversation(c);
    });
    ui.newChat.addEventListener('click', () => newChat(c));
    ui.input.addEventListener('input', () => {
        const id = currentId();
        if (id && !state.ended)
            client.keyPressed(id);
    });
    submitOnEnter(ui.form, ui.input);
    ui.form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const id = currentId();
        const text = ui.input.value;
        if (!id || state.ended || !text.trim())
            return;
        // Offline too: it shows as pending and goes out on reconnect.
        if (client.sendText(id, text) !== null)
            ui.input.value = '';
    });
    ui.messages.addEventListener('click', (ev) => {
        const action = actionOf(ev, ui.messages);
        const item = action?.closest('[data-client-msg-id]');
        const clientMsgId = item?.dataset.clientMsgId;
        if (!action || !clientMsgId)
            return;
        if (action.dataset.action === 'retry')
            client.retry(clientMsgId);
        else if (action.dataset.action === 'discard')
            client.discard(clientMsgId);
    });
    document.addEventListener('visibilitychange', () => {
        const id = currentId();
        if (id)
            reads.schedule(id, client.timeline(id));
    });
    await restore(c);
    if (!state.ended)
        client.connect();
}
/** An API call; on a 401 the token is renewed once and the call repeated
 * (`SessionExpiredError` when it cannot be). */
async function authed(c, call) {
    try {
        return await call();
    }
    catch (e) {
        if (!isUnauthorized(e))
            throw e;
        await c.session.renew();
        return call();
    }
}
/** Reloads the remembered conversation (also a closed one: its transcript
 * stays until "Start a new chat"), else offers to start one. */
async function restore(c) {
    state.restoreAgain = false;
    if (state.conversation)
        return;
    const saved = localStorage.getItem(CONV_KEY);
    const owner = localStorage.getItem(OWNER_KEY);
    if (!saved || (owner !== null && owner !== c.me)) {
        forgetSaved();
        ui.start.hidden = false;
        return;
    }
    let conversation;
    try {
        conversation = await authed(c, () => c.api.conversation(saved));
    }
    catch (e) {
        if (isExpired(e))
            return sessionOver();
        if (e instanceof ApiError && e.status === 0) {
            state.restoreAgain = true;
            return problem('The server cannot be reached. Trying again…');
        }
        forgetSaved(); // gone, or not ours
        ui.start.hidden = false;
        return;
    }
    if (state.conversation)
        return;
    hideProblem();
    state.conversation = conversation;
    await show(c);
}
async function startConversation(c) {
    if (state.ended)
        return;
    let conversation;
    try {
        conversation = await authed(c, () => c.api.createConversation(ui.subject.value.trim() || null));
    }
    catch (e) {
        if (isExpired(e))
            return sessionOver();
        return problem(errorText(e, 'Could not start a conversation.'));
    }
    hideProblem();
    localStorage.setItem(CONV_KEY, conversation.id);
    localStorage.setItem(OWNER_KEY, c.me);
    state.conversation = conversation;
    await show(c);
    ui.input.focus();
}
async function show(c) {
    const conversation = state.conversation;
    if (!conversation)
        return;
    ui.start.hidden = true;
    ui.conversation.hidden = false;
    ui.closed.hidden = true;
    ui.newChat.hidden = true;
    ui.input.disabled = state.ended;
    ui.send.disabled = state.ended;
    try {
        const page = await authed(c, () => c.api.messages(conversation.id, { limit: 200 }));
        c.client.watch(conversation.id, page.items);
    }
    catch (e) {
        if (isExpired(e))
            sessionOver();
        else
            problem(errorText(e, 'Could not load the conversation.'));
        c.client.watch(conversation.id);
    }
    if (currentId() !== conversation.id)
        return; // "Start a new chat" meanwhile
    const t = c.client.timeline(conversation.id);
    c.view.show(t);
    c.view.showOutgoing(c.client.outgoing(conversation.id));
    ui.agentLine.textContent = conversation.support_id ? 'An agent joined the chat.' : 'Waiting for an agent…';
    renderAgentStatus();
    if (conversation.status === 'closed') {
        c.client.markClosed(conversation.id);
        setClosed();
    }
    c.reads.schedule(conversation.id, t);
}
/** After a close: the transcript stays; the customer may start again. */
function newChat(c) {
    const old = currentId();
    if (old)
        c.client.forget(old);
    state.conversation = null;
    forgetSaved();
    c.reads.cancel();
    c.view.clear();
    ui.conversation.hidden = true;
    ui.closed.hidden = true;
    ui.newChat.hidden = true;
    ui.input.disabled = false;
    ui.send.disabled = false;
    ui.input.value = '';
    ui.typing.textContent = '';
    ui.agentLine.textContent = 'Waiting for an agent…';
    renderAgentStatus();
    hideProblem();
    ui.subject.value = '';
    ui.start.hidden = false;
    ui.subject.focus();
}
/** A claim, a transfer to another agent, or a hand-back to the queue. */
function assigned(a) {
    const c = state.conversation;
    if (!c)
        return;
    const previous = a.previous_support_id ?? c.support_id;
    state.conversation = { ...c, support_id: a.support_id };
    if (a.support_id === null) {
        ui.agentLine.textContent = 'Waiting for another agent…';
    }
    else if (previous !== null && previous !== a.support_id) {
        ui.agentLine.textContent = 'You are now chatting with another agent.';
        // The server sends the new agent's presence right after this.
    }
    else {
        ui.agentLine.textContent = 'An agent joined the chat.';
    }
    ui.typing.textContent = '';
    renderAgentStatus();
}
function renderAgentStatus() {
    const agent = state.conversation?.support_id ?? null;
    const status = agent === null ? undefined : state.agents.get(agent);
    ui.agentStatus.hidden = status === undefined;
    ui.agentStatus.dataset.status = status ?? '';
    ui.agentStatusText.textContent = status ? STATUS_LINE[status] : '';
}
function setClosed() {
    ui.closed.hidden = false;
    ui.input.disabled = true;
    ui.send.disabled = true;
    ui.typing.textContent = '';
    ui.newChat.hidden = false;
}
function forgetSaved() {
    localStorage.removeItem(CONV_KEY);
    localStorage.removeItem(OWNER_KEY);
}
/** The token was refused and cannot be renewed: say so, stop. */
function sessionOver() {
    state.ended = true;
    ctx?.client.close();
    ui.offline.textContent = '';
    ui.status.textContent = 'Signed out';
    ui.input.disabled = true;
    ui.send.disabled = true;
    ui.typing.textContent = '';
    problem(EXPIRED_TEXT);
}
/** No usable token at all (malformed, for an agent, none outside dev mode,
 * expired): a clear message instead of "Connecting…". */
function cannotStart(e) {
    state.ended = true;
    ui.status.textContent = 'Not connected';
    problem(isExpired(e) ? EXPIRED_TEXT : errorText(e, 'The chat cannot start.'));
}
/** A renewed token names another user (a dev server that mints only fresh
 * users, or the host signed in someone else): start over as them. */
function identityChanged() {
    forgetSaved();
    location.reload();
}
function problem(text) {
    ui.problem.textContent = text;
    ui.problem.hidden = false;
}
function hideProblem() {
    ui.problem.hidden = true;
    ui.problem.textContent = '';
}
/** The embedding page's origin: only its messages are taken, and only it
 * is written to when known. */
const PARENT_ORIGIN = (() => {
    const ancestors = location.ancestorOrigins;
    if (ancestors && ancestors.length > 0)
        return ancestors[0];
    try {
        return document.referrer ? new URL(document.referrer).origin : null;
    }
    catch {
        return null;
    }
})();
const hostWaiters = [];
function onHostMessage(ev) {
    if (!embedded || ev.source !== window.parent)
        return;
    if (PARENT_ORIGIN !== null && ev.origin !== PARENT_ORIGIN)
        return;
    const data = ev.data;
    if (typeof data !== 'object' || data === null)
        return;
    const m = data;
    if (m.source !== 'quickconnect' || m.type !== 'token')
        return;
    const answer = {
        token: typeof m.token === 'string' && m.token !== '' ? m.token : null,
        error: typeof m.error === 'string' ? m.error : null,
    };
    for (const w of hostWaiters.splice(0))
        w(answer);
}
/** Asks the host page (embed.js) for a token; null when nobody answers. */
function askHost(type, timeoutMs) {
    return new Promise((resolve) => {
        const waiter = (a) => {
            clearTimeout(timer);
            resolve(a);
        };
        const timer = setTimeout(() => {
            const i = hostWaiters.indexOf(waiter);
            if (i >= 0)
                hostWaiters.splice(i, 1);
            resolve(null);
        }, timeoutMs);
        hostWaiters.push(waiter);
        // Carries no secret, so it may go out before the parent's origin is known.
        window.parent.postMessage({ source: 'quickconnect', type }, PARENT_ORIGIN ?? '*');
    });
}
/** The host's token, or null: the host has none (no `data-token`) or no
 * embed script answered, and the widget signs in as usual (dev mode). */
async function hostToken() {
    window.addEventListener('message', onHostMessage);
    const first = await askHost('ready', 10_000);
    if (first?.error)
        throw new TokenError(`The website could not sign you in to the chat (${first.error}).`);
    if (!first?.token)
        return null;
    return {
        token: first.token,
        renew: async () => (await askHost('token-request', 15_000))?.token ?? null,
    };
}
void main().catch((e) => problem(errorText(e)));
