// The customer widget: open a conversation, chat, see the agent join, type,
// read and go online/away/offline, hear about a transfer, and stop when the
// conversation is closed.
import { Api } from '../index.js';
import { byId } from './dom.js';
import { MessageView, ReadMarker, submitOnEnter } from './messages.js';
import { claims, connect, errorText, isUnauthorized, obtainToken, statusText, tokenFromHash } from './session.js';
const TOKEN_KEY = 'qc.customer.token';
const CONV_KEY = 'qc.customer.conversation';
const ui = {
    status: byId('status', HTMLElement),
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
    form: byId('send-form', HTMLFormElement),
    input: byId('input', HTMLTextAreaElement),
    send: byId('send', HTMLButtonElement),
    problem: byId('problem', HTMLElement),
};
const state = { conversation: null, agents: new Map() };
const STATUS_LINE = {
    online: 'Your agent is online',
    away: 'Your agent is away',
    offline: 'Your agent is offline',
};
async function main() {
    let token;
    try {
        token = await obtainToken('client', TOKEN_KEY);
    }
    catch (e) {
        return problem(errorText(e));
    }
    const me = claims(token).sub;
    const api = new Api({ base: location.origin, token: () => token });
    const view = new MessageView(ui.messages, me, () => 'Agent');
    const reads = new ReadMarker(api, me);
    const client = connect('/chats/clients', () => token);
    const currentId = () => state.conversation?.id ?? null;
    client.on('status', (s) => (ui.status.textContent = statusText(s)));
    client.on('message', (m) => {
        if (m.conversation_id !== currentId())
            return;
        const t = client.timeline(m.conversation_id);
        view.added(t, m);
        reads.schedule(m.conversation_id, t);
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
    const saved = localStorage.getItem(CONV_KEY);
    if (saved) {
        try {
            state.conversation = await api.conversation(saved);
        }
        catch (e) {
            if (isUnauthorized(e))
                return reloadWithFreshToken();
            state.conversation = null;
        }
    }
    if (state.conversation) {
        await show(api, client, view, reads);
    }
    else {
        ui.start.hidden = false;
    }
    ui.startForm.addEventListener('submit', (ev) => {
        ev.preventDefault();
        void (async () => {
            try {
                state.conversation = await api.createConversation(ui.subject.value.trim() || null);
            }
            catch (e) {
                return problem(errorText(e, 'Could not start a conversation.'));
            }
            localStorage.setItem(CONV_KEY, state.conversation.id);
            ui.start.hidden = true;
            await show(api, client, view, reads);
            ui.input.focus();
        })();
    });
    ui.input.addEventListener('input', () => {
        const id = currentId();
        if (id)
            client.keyPressed(id);
    });
    submitOnEnter(ui.form, ui.input);
    ui.form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const id = currentId();
        if (id && ui.input.value.trim() && client.sendText(id, ui.input.value) !== null)
            ui.input.value = '';
    });
    document.addEventListener('visibilitychange', () => {
        const id = currentId();
        if (id)
            reads.schedule(id, client.timeline(id));
    });
    client.connect();
}
async function show(api, client, view, reads) {
    const c = state.conversation;
    if (!c)
        return;
    try {
        const page = await api.messages(c.id, { limit: 200 });
        client.watch(c.id, page.items);
    }
    catch (e) {
        problem(errorText(e, 'Could not load the conversation.'));
        client.watch(c.id);
    }
    const t = client.timeline(c.id);
    view.show(t);
    ui.conversation.hidden = false;
    ui.agentLine.textContent = c.support_id ? 'An agent joined the chat.' : 'Waiting for an agent…';
    renderAgentStatus();
    if (c.status === 'closed') {
        client.markClosed(c.id);
        setClosed();
    }
    reads.schedule(c.id, t);
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
    localStorage.removeItem(CONV_KEY);
}
function problem(text) {
    ui.problem.textContent = text;
    ui.problem.hidden = false;
}
function reloadWithFreshToken() {
    // A token given in the URL would be refused again: say so instead of looping.
    if (tokenFromHash())
        return problem('Your session has expired. Please reopen the chat.');
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(CONV_KEY);
    location.reload();
}
void main().catch((e) => problem(errorText(e)));
