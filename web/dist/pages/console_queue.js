// The console's queue: items updated in place (keyed by conversation id),
// each with its subject, the customer's text and how long it has waited;
// the waiting times tick as text only. Agents get no live texts for queued
// conversations, so one that has no message yet is looked at now and then
// (`QueuePreviews`), and a new one is announced once its text is known.
import { systemClock } from '../index.js';
import { announcement, conversationName, previewDelay, previewText, waitingText } from './console_format.js';
import { el } from './dom.js';
import { KeyedList, setAttr, setText } from './keyed.js';
import { timeText } from './session.js';
export class QueueView {
    count;
    empty;
    me;
    now;
    items;
    constructor(list, count, empty, me, fallbackFocus, now = () => Date.now()) {
        this.count = count;
        this.empty = empty;
        this.me = me;
        this.now = now;
        this.items = new KeyedList(list, {
            key: (c) => c.id,
            create: (c) => this.create(c),
            update: (v, c) => this.update(v, c),
            fallbackFocus,
        });
    }
    render(queue) {
        this.items.update(queue);
        setText(this.count, queue.length ? String(queue.length) : '');
        if (this.empty.hidden !== queue.length > 0)
            this.empty.hidden = queue.length > 0;
    }
    /** The waiting times, now: text nodes only. */
    tick() {
        const now = this.now();
        for (const v of this.items.all) {
            const w = waitingText(v.since, now);
            if (v.wait.data !== w)
                v.wait.data = w;
            if (v.nameWait.data !== w)
                v.nameWait.data = w;
        }
    }
    create(c) {
        const wait = document.createTextNode('');
        const nameWait = document.createTextNode('');
        const name = document.createTextNode('');
        const subject = el('span', { class: 'subject', 'data-testid': 'queue-subject' });
        const preview = el('span', { class: 'preview', 'data-testid': 'last-message' });
        const focus = el('button', { type: 'button', class: 'claim', 'data-action': 'claim', 'data-id': c.id }, 'Claim', 
        // The name says which one: "Claim conversation with …, waiting 3 min".
        el('span', { class: 'visually-hidden' }, ' conversation with ', name, ', waiting ', nameWait));
        const root = el('li', { class: 'conv queue-item', 'data-testid': 'queue-item', 'data-conversation-id': c.id }, subject, preview, el('span', { class: 'when', 'data-testid': 'waiting', title: `Waiting since ${timeText(c.created_at)}` }, 'waiting ', wait), focus);
        return { root, focus, subject, preview, wait, nameWait, name, since: c.created_at };
    }
    update(v, c) {
        const subject = c.subject?.trim() ? c.subject : '';
        setText(v.subject, subject);
        if (v.subject.hidden !== !subject)
            v.subject.hidden = !subject;
        const text = previewText(c, this.me);
        setText(v.preview, text ?? 'No message yet');
        v.root.classList.toggle('no-subject', !subject);
        v.root.classList.toggle('no-message', text === null);
        setAttr(v.preview, 'title', text);
        const name = conversationName(c, this.me);
        if (v.name.data !== name)
            v.name.data = name;
        v.since = c.created_at;
        const w = waitingText(c.created_at, this.now());
        if (v.wait.data !== w)
            v.wait.data = w;
        if (v.nameWait.data !== w)
            v.nameWait.data = w;
    }
}
/** Looks at queued conversations that have no message yet until they have
 * one (or leave the queue): soon and then less often for one that came in
 * live, once a minute for one that was already waiting. Looks are spaced
 * (`spacingMs`) so a long queue never bursts into the HTTP rate limit. */
export class QueuePreviews {
    host;
    clock;
    spacingMs;
    tracked = new Map();
    due = [];
    pumpTimer = null;
    constructor(host, clock = systemClock, spacingMs = 300) {
        this.host = host;
        this.clock = clock;
        this.spacingMs = spacingMs;
    }
    /** It just joined the queue, live: look soon. */
    joined(id) {
        this.untrack(id);
        this.track(id, true);
    }
    /** Follows the queue: tracks the ones with no message, drops the rest. */
    follow(queue) {
        const byId = new Map(queue.map((c) => [c.id, c]));
        for (const id of [...this.tracked.keys()]) {
            const c = byId.get(id);
            if (!c || c.last_message)
                this.untrack(id);
        }
        for (const c of queue)
            if (!c.last_message && !this.tracked.has(c.id))
                this.track(c.id, false);
    }
    get watching() {
        return [...this.tracked.keys()];
    }
    track(id, live) {
        const t = { attempt: 0, live, timer: null };
        this.tracked.set(id, t);
        this.schedule(id, t);
    }
    untrack(id) {
        const t = this.tracked.get(id);
        if (t?.timer != null)
            this.clock.clearTimeout(t.timer);
        this.tracked.delete(id);
        const i = this.due.indexOf(id);
        if (i >= 0)
            this.due.splice(i, 1);
    }
    schedule(id, t) {
        t.timer = this.clock.setTimeout(() => {
            t.timer = null;
            if (this.tracked.get(id) !== t)
                return;
            this.due.push(id);
            this.pump();
        }, previewDelay(t.attempt, t.live));
    }
    pump() {
        if (this.pumpTimer !== null)
            return;
        const id = this.due.shift();
        if (id === undefined)
            return;
        this.look(id);
        this.pumpTimer = this.clock.setTimeout(() => {
            this.pumpTimer = null;
            this.pump();
        }, this.spacingMs);
    }
    look(id) {
        const t = this.tracked.get(id);
        const c = this.host.queued(id);
        if (!t || !c || c.last_message)
            return this.untrack(id);
        const attempt = t.attempt;
        const done = (got) => {
            this.host.looked(id, got, attempt);
            if (this.tracked.get(id) !== t)
                return;
            const now = this.host.queued(id);
            if (!now || now.last_message || (got !== null && (got.status !== 'open' || got.support_id !== null)))
                return this.untrack(id);
            t.attempt = attempt + 1;
            this.schedule(id, t);
        };
        this.host.fetch(id).then(done, () => done(null));
    }
}
/** Announces new queue items politely, each once: at once when it has a
 * subject or a text, else when a look finds its text, or after the second
 * look in vain (a few seconds). */
export class QueueAnnouncer {
    say;
    me;
    pending = new Map();
    constructor(say, me) {
        this.say = say;
        this.me = me;
    }
    joined(c, backToQueue = false) {
        if (c.subject?.trim() || c.last_message)
            return this.say(announcement(c, this.me, backToQueue));
        this.pending.set(c.id, backToQueue);
    }
    looked(id, c, attempt) {
        const back = this.pending.get(id);
        if (back === undefined)
            return;
        if (!c) {
            this.pending.delete(id);
            return;
        }
        if (c.last_message || attempt >= 1) {
            this.pending.delete(id);
            this.say(announcement(c, this.me, back));
        }
    }
    /** Forget the ones that left the queue unannounced. */
    follow(queue) {
        if (this.pending.size === 0)
            return;
        const ids = new Set(queue.map((c) => c.id));
        for (const id of [...this.pending.keys()])
            if (!ids.has(id))
                this.pending.delete(id);
    }
}
