// The message list of both pages, rendered from the library's Timeline (the
// one copy of the ordering and de-duplication rules), and read receipts.
// Consecutive messages of one sender are grouped, timestamps say the date
// when it is not today, links are made clickable (http and https only, as
// DOM nodes), and texts not yet stored show after them as pending or failed.
import { el, isVisible, linkified } from './dom.js';
import { continuesGroup, formatTimestamp, fullTimestamp } from './format.js';
/** Why a text was not sent, in words. */
export const FAIL_TEXT = {
    invalid_content: 'empty or too long',
    invalid_message: 'refused by the server',
    invalid_json: 'refused by the server',
    unavailable: 'the server could not store it',
    rate_limited: 'too many messages at once',
    timeout: 'no answer from the server',
    conversation_closed: 'the conversation is closed',
    conversation_not_found: 'the conversation is not available',
};
export class MessageView {
    list;
    me;
    who;
    receipts = new Map();
    /** Texts sent and not yet stored, by client_msg_id, after the messages. */
    outgoingNodes = new Map();
    constructor(list, me, 
    /** Who wrote it, for a message not mine. */
    who) {
        this.list = list;
        this.me = me;
        this.who = who;
    }
    clear() {
        this.receipts.clear();
        this.outgoingNodes.clear();
        this.list.replaceChildren();
    }
    /** Renders the whole timeline (texts pending or failed stay after it). */
    show(t) {
        this.receipts.clear();
        const nodes = t.messages.map((m, i) => this.node(m, t.messages[i - 1]));
        this.list.replaceChildren(...nodes, ...this.outgoingNodes.values());
        this.scrollToEnd();
    }
    /** `m` was just added to `t` (the timeline on screen): insert it in place. */
    added(t, m) {
        const i = t.indexOf(m.id);
        // The list mirrors the timeline; if it ever does not, redraw it whole.
        if (i < 0 || this.list.children.length - this.outgoingNodes.size !== t.size - 1)
            return this.show(t);
        const node = this.node(m, t.messages[i - 1]);
        this.list.insertBefore(node, this.list.children[i] ?? null);
        // The one after it may join (or leave) its group.
        const next = t.messages[i + 1];
        const nextNode = this.list.children[i + 1];
        if (next && nextNode instanceof HTMLElement && nextNode.dataset.id === next.id) {
            nextNode.classList.toggle('grouped', continuesGroup(m, next));
        }
        this.scrollToEnd();
    }
    /** A text of ours changed state: pending and failed ones show (in the
     * order sent) after the messages, with Retry on a failed one; a stored
     * or dropped one goes (the stored message shows in its place). */
    outgoing(o) {
        const old = this.outgoingNodes.get(o.clientMsgId);
        if (o.state === 'sent' || o.state === 'dropped') {
            old?.remove();
            this.outgoingNodes.delete(o.clientMsgId);
            return;
        }
        const node = this.outgoingNode(o);
        if (old) {
            old.replaceWith(node);
        }
        else {
            this.list.append(node);
            this.scrollToEnd();
        }
        this.outgoingNodes.set(o.clientMsgId, node);
    }
    /** Shows these (a conversation's `client.outgoing(id)`) after the messages,
     * instead of any shown before. */
    showOutgoing(list) {
        for (const node of this.outgoingNodes.values())
            node.remove();
        this.outgoingNodes.clear();
        for (const o of list)
            this.outgoing(o);
    }
    outgoingNode(o) {
        const failed = o.state === 'failed';
        const status = failed
            ? el('span', { class: 'meta send-state', 'data-testid': 'send-state' }, `Not sent: ${FAIL_TEXT[o.reason ?? 'timeout'] ?? 'refused'}. `, o.reason === 'conversation_closed' || o.reason === 'invalid_content'
                ? null
                : el('button', { type: 'button', class: 'retry', 'data-action': 'retry', 'data-testid': 'retry' }, 'Retry'), ' ', el('button', { type: 'button', class: 'discard', 'data-action': 'discard', 'data-testid': 'discard' }, 'Discard'))
            : el('span', { class: 'meta send-state', 'data-testid': 'send-state' }, 'Sending…');
        return el('li', {
            class: `msg mine outgoing ${failed ? 'failed' : 'pending'}${o.kind === 'note' ? ' note' : ''}`,
            'data-testid': failed ? 'failed' : 'pending',
            'data-client-msg-id': o.clientMsgId,
            'aria-label': failed ? 'Not sent' : 'Sending',
        }, el('span', { class: 'who' }, o.kind === 'note' ? 'Internal note · You' : 'You'), el('p', { class: 'text' }, ...linkified(o.content)), status);
    }
    /** Keeps the newest in view: the list scrolls when it is the scroller
     * (the widget), else the page does. */
    scrollToEnd() {
        const list = this.list;
        if (list.scrollHeight > list.clientHeight + 1) {
            list.scrollTop = list.scrollHeight;
        }
        else {
            list.lastElementChild?.scrollIntoView({ block: 'nearest' });
        }
    }
    /** These messages of mine were read by the other side. */
    read(changed) {
        for (const m of changed) {
            const r = this.receipts.get(m.id);
            if (r)
                r.textContent = 'Read';
        }
    }
    node(m, prev) {
        const mine = m.sender_id === this.me;
        const who = mine ? 'You' : this.who(m);
        const grouped = continuesGroup(prev, m) ? ' grouped' : '';
        const time = el('time', { datetime: m.created_at, title: fullTimestamp(m.created_at) }, formatTimestamp(m.created_at));
        if (m.message_type === 'note') {
            // Internal: visibly different, and labelled so for screen readers too.
            return el('li', { class: `msg note${grouped}`, 'data-testid': 'note', 'data-id': m.id, 'data-seq': String(m.seq) }, el('span', { class: 'who' }, el('span', { class: 'note-label' }, 'Internal note'), ` · ${who}`), el('p', { class: 'text' }, ...linkified(m.content)), el('span', { class: 'meta' }, time));
        }
        let receipt = null;
        if (mine) {
            receipt = el('span', { class: 'receipt', 'data-testid': 'receipt' }, m.read_at ? 'Read' : '');
            this.receipts.set(m.id, receipt);
        }
        return el('li', { class: `${mine ? 'msg mine' : 'msg theirs'}${grouped}`, 'data-testid': 'message', 'data-id': m.id, 'data-seq': String(m.seq) }, el('span', { class: 'who' }, who), el('p', { class: 'text' }, ...linkified(m.content)), el('span', { class: 'meta' }, time, ' ', receipt));
    }
}
/** Read receipts: shortly after the other side's texts are shown (and the
 * page is visible), marks them read up to the newest one. */
export class ReadMarker {
    api;
    me;
    marked;
    timer = null;
    constructor(api, me, 
    /** Called once the read is sent (e.g. to clear an unread badge). */
    marked = () => { }) {
        this.api = api;
        this.me = me;
        this.marked = marked;
    }
    /** `force`: post even when the newest text already shows `read_at` (the
     * server still counts it unread for this reader). */
    schedule(conversationId, t, force = false) {
        if (this.timer !== null)
            clearTimeout(this.timer);
        this.timer = setTimeout(() => {
            this.timer = null;
            if (!isVisible())
                return;
            const last = t.lastWhere((m) => m.message_type === 'text' && m.sender_id !== this.me);
            if (!last || (last.read_at && !force))
                return;
            t.markRead(last.id, (m) => m.message_type === 'text' && m.sender_id !== this.me);
            this.api.markRead(conversationId, last.id).then(() => this.marked(conversationId), () => { });
        }, 300);
    }
    cancel() {
        if (this.timer !== null)
            clearTimeout(this.timer);
        this.timer = null;
    }
}
/** Enter sends (Shift+Enter is a new line). */
export function submitOnEnter(form, input) {
    input.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
            ev.preventDefault();
            form.requestSubmit();
        }
    });
}
