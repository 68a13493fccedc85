// What the agent console does: load and re-load the desk, apply events and
// their effects, and the agent's actions (claim, open, transfer, close,
// presence, the composer's mode, back to the list).
import { ApiError } from '../index.js';
import { previewText } from './console_format.js';
import { currentConversation, inView, notice, problem, render, s, setView, state, ui } from './console_context.js';
import { errorText, isUnauthorized, shortId, tokenFromHash } from './session.js';
export const TOKEN_KEY = 'qc.agent.token';
/** The queue, mine and the team, after every (re)connect. Events that come
 * meanwhile are held by the desk and replayed on the snapshot. */
export async function sync() {
    const generation = ++state.syncGeneration;
    s.desk.beginSync();
    try {
        const [queue, mine, agents] = await Promise.all([
            s.api.conversations({ queue: true, limit: 200 }),
            s.api.conversations({ limit: 200 }),
            s.api.agents().catch(() => []), // the team list is a nicety; the desk works without it
        ]);
        if (generation !== state.syncGeneration)
            return;
        run(s.desk.endSync({ queue: queue.items, mine: mine.items, agents }));
        document.body.dataset.ready = 'true';
    }
    catch (e) {
        if (generation !== state.syncGeneration)
            return;
        run(s.desk.abortSync());
        if (isUnauthorized(e))
            return reloadWithFreshToken();
        if (s.client.status === 'open')
            problem(errorText(e));
    }
    render();
}
export function act(e) {
    run(s.desk.apply(e));
    render();
}
function run(effects) {
    for (const e of effects) {
        const id = e.conversationId;
        switch (e.kind) {
            case 'fetch-mine':
                // Transferred to me: it joins my list (its history loads when opened).
                s.api.conversation(id).then((c) => s.desk.fetched(c) && render(), () => s.desk.fetchFailed(id));
                break;
            case 'fetch-queued':
                // Handed back to the queue by a colleague: new in the queue here.
                s.api.conversation(id).then((c) => {
                    if (!s.desk.queued(c))
                        return;
                    render();
                    const q = s.desk.queuedConversation(id);
                    if (q)
                        joinedQueue(q, true);
                }, () => s.desk.fetchFailed(id));
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
/** A conversation joined the queue live: look for its text, say so, alert. */
export function joinedQueue(c, backToQueue) {
    if (!c.last_message)
        s.previews.joined(c.id);
    s.announcer.joined(c, backToQueue);
    s.alerts.newChat(c.subject?.trim() || previewText(c, s.me) || `customer ${shortId(c.client_id)}`, c.id);
}
let teamTimer = null;
/** Fresh open-conversation counts after assignments change (presence keeps
 * the statuses live; counts of others' closes have no event, hence this). */
export function scheduleTeamRefresh() {
    if (teamTimer !== null)
        return;
    teamTimer = setTimeout(() => {
        teamTimer = null;
        const since = s.desk.teamClock;
        s.api.agents().then((agents) => {
            s.desk.refreshTeam(agents, since);
            render();
        }, () => { });
    }, 500);
}
/** The lists (on a narrow screen, instead of the conversation); with
 * `focus`, the focus goes to the conversation's item, or to the queue. */
export function showList(focus) {
    setView('list');
    if (!focus)
        return;
    const id = state.current;
    const tab = id === null ? null : s.mine.tabOf(id);
    if (id !== null && tab !== null) {
        if (s.tabs.index !== tab)
            s.tabs.select(tab);
        s.mine.button(id)?.focus();
    }
    else {
        ui.queueTitle.focus();
    }
}
export async function claim(id) {
    try {
        const c = await s.api.assign(id);
        s.desk.claimed(c);
        render();
        await open(c.id);
    }
    catch (e) {
        problem(e instanceof ApiError && e.code === 'already_assigned' ? 'Another agent took that one.' : errorText(e));
    }
}
export async function open(id) {
    const c = s.desk.mineConversation(id);
    if (!c)
        return;
    if (state.current !== id)
        setMode('reply');
    state.current = id;
    setView('conversation', false);
    const tab = c.status === 'closed' ? 1 : 0;
    if (s.tabs.index !== tab)
        s.tabs.select(tab);
    ui.notice.hidden = true;
    ui.title.textContent = c.subject?.trim() || `Conversation with customer ${shortId(c.client_id)}`;
    ui.typing.textContent = '';
    ui.empty.hidden = true;
    ui.conversation.hidden = false;
    s.view.clear();
    s.pane.setClosed(c.status === 'closed');
    if (c.status === 'closed')
        s.client.markClosed(id);
    // Opening it reads it: the badge goes at once, the read is posted below.
    // (Opened while out of sight, the tab hidden: that waits until it is seen.)
    const hadUnread = c.unread_count > 0;
    if (inView())
        s.desk.markedRead(id);
    render();
    try {
        const page = await s.api.messages(id, { limit: 200 });
        if (state.current !== id)
            return;
        s.client.watch(id, page.items);
    }
    catch (e) {
        if (state.current !== id)
            return;
        problem(errorText(e, 'Could not load the conversation.'));
        s.client.watch(id);
    }
    const t = s.client.timeline(id);
    s.view.show(t);
    s.view.showOutgoing(s.client.outgoing(id));
    s.reads.schedule(id, t, hadUnread);
    if (!ui.input.disabled)
        ui.input.focus();
}
export function hideConversation() {
    if (state.current)
        s.client.stopTyping(state.current);
    state.current = null;
    setView('list');
    s.reads.cancel();
    s.view.clear();
    ui.conversation.hidden = true;
    ui.empty.hidden = false;
    render();
}
export async function transfer(to) {
    const id = state.current;
    if (!id)
        return;
    try {
        const c = await s.api.transfer(id, to);
        // The event follows; applying the answer now is the same change.
        act({ kind: 'assigned', assignment: { conversation_id: id, support_id: c.support_id, previous_support_id: s.me } });
        scheduleTeamRefresh();
    }
    catch (e) {
        problem(e instanceof ApiError && e.code === 'unknown_agent' ? 'The server does not know that agent.' : errorText(e));
    }
}
export async function closeCurrent() {
    const id = state.current;
    if (!id)
        return;
    try {
        await s.api.close(id);
        act({ kind: 'closed', conversationId: id });
        if (id === state.current)
            s.pane.setClosed(true);
    }
    catch (e) {
        problem(errorText(e));
    }
}
export async function togglePresence() {
    const next = s.desk.myStatus === 'away' ? 'online' : 'away';
    s.pane.presenceBusy(true);
    try {
        s.desk.setAgent(await s.api.setStatus(next));
    }
    catch (e) {
        problem(errorText(e));
    }
    finally {
        s.pane.presenceBusy(false);
        render();
    }
}
export function setMode(mode) {
    // Leaving reply mode mid-sentence: end the customer's "typing…" now.
    if (mode === 'note' && state.current)
        s.client.stopTyping(state.current);
    state.mode = mode;
    s.pane.setMode(mode);
}
/** The name the message list gives a message's author (not mine). */
export function authorName(senderId) {
    return senderId === currentConversation()?.client_id ? 'Customer' : `Agent ${shortId(senderId)}`;
}
export function reloadWithFreshToken() {
    if (tokenFromHash())
        return problem('The token was refused: open the console with a valid one.');
    localStorage.removeItem(TOKEN_KEY);
    location.reload();
}
