// The agent console's shared parts: its elements, its state, the session
// (connection, desk and views, made once by agent.ts), and what follows from
// the state: what is in view, the narrow screen's one column, rendering.
import { titleText } from './console_format.js';
import { byId, isVisible } from './dom.js';
import { setAttr, setText } from './keyed.js';
import { shortId } from './session.js';
export const ui = {
    console: byId('console', HTMLElement),
    me: byId('me', HTMLElement),
    status: byId('status', HTMLElement),
    alerts: byId('alerts-toggle', HTMLButtonElement),
    queueTitle: byId('queue-title', HTMLElement),
    queue: byId('queue', HTMLUListElement),
    queueCount: byId('queue-count', HTMLElement),
    queueEmpty: byId('queue-empty', HTMLElement),
    announcer: byId('queue-announcer', HTMLElement),
    mine: byId('mine', HTMLElement),
    team: byId('team', HTMLUListElement),
    teamEmpty: byId('team-empty', HTMLElement),
    empty: byId('empty', HTMLElement),
    notice: byId('notice', HTMLElement),
    conversation: byId('conversation', HTMLElement),
    back: byId('back-to-list', HTMLButtonElement),
    backUnread: byId('back-unread', HTMLElement),
    title: byId('conv-title', HTMLElement),
    messages: byId('messages', HTMLOListElement),
    typing: byId('typing', HTMLElement),
    form: byId('send-form', HTMLFormElement),
    input: byId('input', HTMLTextAreaElement),
    problem: byId('problem', HTMLElement),
};
export const narrow = matchMedia('(max-width: 40rem)');
export const state = { current: null, mode: 'reply', view: 'list', syncGeneration: 0 };
/** The session, once `begin` has run (agent.ts does, before anything else). */
export let s;
export function begin(session) {
    s = session;
}
export const currentConversation = () => state.current === null ? undefined : s.desk.mineConversation(state.current);
/** What a notification calls a conversation. */
export const who = (c) => c.subject?.trim() || `customer ${shortId(c.client_id)}`;
/** Whether the agent sees the open conversation: the tab is visible and, on
 * a narrow screen, the conversation (not the list) is showing. */
export const inView = () => state.current !== null && isVisible() && (!narrow.matches || state.view === 'conversation');
/** Tells the desk what is in view (its texts are not unread). Coming back
 * into view (the tab shown again, back from the list), what came meanwhile
 * is read: the badge and the title count go, the read is posted. */
export function setViewing(catchUp = true) {
    const before = s.desk.viewing;
    s.desk.viewing = inView() ? state.current : null;
    const id = s.desk.viewing;
    if (!catchUp || id === null || id === before)
        return;
    const hadUnread = (s.desk.mineConversation(id)?.unread_count ?? 0) > 0;
    s.desk.markedRead(id);
    s.reads.schedule(id, s.client.timeline(id), hadUnread);
    render();
}
export function setView(view, catchUp = true) {
    state.view = view;
    ui.console.dataset.view = view;
    setViewing(catchUp);
    // Shown again (a narrow screen): at the newest message.
    if (view === 'conversation')
        ui.messages.scrollTop = ui.messages.scrollHeight;
}
/** Everything from the desk's state; each list is updated in place. */
export function render() {
    const queue = s.desk.queue;
    s.queue.render(queue);
    s.previews.follow(queue);
    s.announcer.follow(queue);
    s.mine.render(s.desk.mineOpen, s.desk.mineClosed);
    s.team.render(s.desk.team);
    const c = currentConversation();
    s.pane.render(s.desk, c);
    const unread = s.desk.unreadTotal;
    const elsewhere = unread - (c?.unread_count ?? 0);
    setText(ui.backUnread, elsewhere > 0 ? String(elsewhere) : '');
    setAttr(ui.back, 'aria-label', elsewhere > 0 ? `Back to list, ${elsewhere} unread` : null);
    const title = titleText(unread);
    if (document.title !== title)
        document.title = title;
}
export function notice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = false;
}
let problemTimer = null;
export function problem(text) {
    ui.problem.textContent = text;
    ui.problem.hidden = false;
    if (problemTimer !== null)
        clearTimeout(problemTimer);
    problemTimer = setTimeout(() => (ui.problem.hidden = true), 5000);
}
