// A Quick Connect Chat connection that survives the network: it reconnects
// with exponential backoff and jitter, catches up on missed messages through
// history (`?after=`), delivers each message once (de-duplicated by id, kept
// in seq order in a Timeline per conversation), and retries unacknowledged
// texts and notes with their `client_msg_id` so a retry is never stored twice.
// It also keeps the state of every text it sends (pending until the server
// echoes it, failed when it cannot be stored) and tells when the server
// refused the token (closed with 4001, or a 401), so a page can renew it.
import { Api, ApiError } from './api.js';
import { systemClock } from './clock.js';
import { SUBPROTOCOL, } from './protocol.js';
import { Timeline } from './timeline.js';
import { TypingDisplay, TypingSender } from './typing.js';
import { CLOSE_CODES } from './wire.js';
/** Thrown by a token function when the session cannot be renewed (the user
 * must sign in again): the client stops reconnecting and emits `expired`. */
export class SessionExpiredError extends Error {
    constructor(message = 'Your session has expired. Sign in again.') {
        super(message);
        this.name = 'SessionExpiredError';
    }
}
/** Most Unicode scalar values in a text (CONTRACT §3). */
export const MAX_CONTENT_CHARS = 4096;
/** Whether the server would refuse this content with `invalid_content`:
 * empty after trimming, or more than 4,096 characters. */
export function invalidContent(content) {
    return content.trim() === '' || [...content].length > MAX_CONTENT_CHARS;
}
const OPEN = 1;
export class ChatClient {
    options;
    clock;
    makeSocket;
    /** The HTTP API with this connection's current token (for history). */
    api;
    random;
    newId;
    backoff;
    handlers = {};
    socket = null;
    stopped = true;
    attempt = 0;
    reconnectTimer = null;
    currentToken = '';
    statusValue = 'closed';
    /** The server refused the current token (4001, or a 401). */
    refused = false;
    ackTimeout;
    /** Per conversation: the messages delivered, each once, by seq. */
    timelines = new Map();
    /** Texts and notes sent and not yet stored (pending or failed), by
     * client_msg_id, in the order they were sent. */
    pending = new Map();
    closedConversations = new Set();
    typingSenders = new Map();
    typingDisplays = new Map();
    constructor(options) {
        this.options = options;
        this.clock = options.clock ?? systemClock;
        this.makeSocket =
            options.socket ?? ((url, protocols) => new WebSocket(url, protocols));
        this.api = new Api({
            base: options.apiBase ?? options.url.replace(/^ws/, 'http').replace(/\/chats\/.*$/, ''),
            token: () => this.currentToken,
            fetch: options.fetch,
        });
        this.random = options.random ?? Math.random;
        this.newId = options.newId ?? (() => globalThis.crypto.randomUUID());
        this.backoff = options.backoffMs ?? { initial: 500, max: 30_000 };
        this.ackTimeout = options.ackTimeoutMs ?? 10_000;
    }
    on(event, handler) {
        const list = (this.handlers[event] ??= []);
        list.push(handler);
        return () => {
            const i = list.indexOf(handler);
            if (i >= 0)
                list.splice(i, 1);
        };
    }
    emit(event, ...args) {
        for (const h of this.handlers[event] ?? [])
            h(...args);
    }
    get status() {
        return this.statusValue;
    }
    setStatus(s) {
        if (s !== this.statusValue) {
            this.statusValue = s;
            this.emit('status', s);
        }
    }
    /** Opens the connection; keeps it open until `close()`. */
    connect() {
        this.stopped = false;
        void this.open();
    }
    /** Closes for good (no reconnect). */
    close() {
        this.stopped = true;
        if (this.reconnectTimer !== null)
            this.clock.clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        this.socket?.close(CLOSE_CODES.normal, 'bye');
        this.socket = null;
        this.notInFlight();
        for (const s of this.typingSenders.values())
            s.reset();
        this.setStatus('closed');
    }
    /** The token was refused and cannot be renewed: stop, and say so. */
    expire() {
        this.close();
        this.emit('expired');
    }
    /** Follow a conversation: after every reconnect, what came after the
     * newest message seen is fetched. `history` is taken in without events
     * (render it from `timeline()`). */
    watch(conversationId, history = []) {
        this.timeline(conversationId);
        for (const m of history)
            this.accept(m, false);
    }
    /** The messages delivered so far for a conversation, in seq order (the
     * same objects the events carried). */
    timeline(conversationId) {
        let t = this.timelines.get(conversationId);
        if (!t) {
            t = new Timeline();
            this.timelines.set(conversationId, t);
        }
        return t;
    }
    /** Stop following a conversation (e.g. transferred away): no more
     * catch-up, its unsent texts and notes are dropped, typing is reset. */
    forget(conversationId) {
        this.timelines.delete(conversationId);
        this.dropPending(conversationId);
        this.typingSenders.get(conversationId)?.reset();
        this.typingSenders.delete(conversationId);
        this.typingDisplays.get(conversationId)?.clear();
        this.typingDisplays.delete(conversationId);
    }
    /** Marks a conversation closed (e.g. from `GET /conversations/{id}`). */
    markClosed(conversationId) {
        this.closedConversations.add(conversationId);
        this.typingSenders.get(conversationId)?.reset();
    }
    canSend(conversationId) {
        return !this.closedConversations.has(conversationId);
    }
    /** Sends a text with a fresh `client_msg_id` (returned). Queued while
     * disconnected and re-sent, with the same id, after a reconnect until the
     * server echoes it (an `outgoing` event says `pending`, then `sent`).
     * Content the server would refuse (empty, over 4,096 characters) is not
     * sent: it is `failed` at once. Returns null when the conversation is
     * closed. */
    sendText(conversationId, content) {
        const clientMsgId = this.queueSend('text', conversationId, content);
        // The server ends our typing indicator when the text is stored.
        if (clientMsgId !== null)
            this.typingSenders.get(conversationId)?.messageSent();
        return clientMsgId;
    }
    /** Agents: an internal note, never shown to the customer. Same delivery
     * guarantees as `sendText`. Sends no typing signal: call `keyPressed`
     * only while writing a reply (and `stopTyping` when switching to a note). */
    sendNote(conversationId, content) {
        return this.queueSend('note', conversationId, content);
    }
    queueSend(kind, conversationId, content) {
        if (!this.canSend(conversationId))
            return null;
        const p = {
            kind,
            conversationId,
            content,
            clientMsgId: this.newId(),
            state: 'pending',
            inFlight: false,
            ackTimer: null,
        };
        this.pending.set(p.clientMsgId, p);
        if (invalidContent(content)) {
            this.fail(p, 'invalid_content');
        }
        else {
            this.report(p);
            this.transmit(p);
        }
        return p.clientMsgId;
    }
    /** Sends a failed text or note again, with the same `client_msg_id` (so it
     * is stored at most once). False when there is no such failed text, its
     * conversation is closed, or its content would be refused again. */
    retry(clientMsgId) {
        const p = this.pending.get(clientMsgId);
        if (!p || p.state !== 'failed' || !this.canSend(p.conversationId))
            return false;
        if (invalidContent(p.content)) {
            this.report(p);
            return false;
        }
        p.state = 'pending';
        p.reason = undefined;
        this.report(p);
        this.transmit(p);
        return true;
    }
    /** Gives up on a failed text or note (it is `dropped`). */
    discard(clientMsgId) {
        const p = this.pending.get(clientMsgId);
        if (!p || p.state !== 'failed')
            return false;
        this.settle(p, 'dropped');
        return true;
    }
    /** The texts and notes of a conversation not yet stored (pending or
     * failed), in the order they were sent. */
    outgoing(conversationId) {
        return [...this.pending.values()].filter((p) => p.conversationId === conversationId).map(snapshot);
    }
    /** Call on each key press in a conversation's input (§5.1 throttling). */
    keyPressed(conversationId) {
        if (!this.canSend(conversationId))
            return;
        let sender = this.typingSenders.get(conversationId);
        if (!sender) {
            sender = new TypingSender(this.clock, (sub_type) => this.sendFrame({ type: 'system', sub_type, conversation_id: conversationId }));
            this.typingSenders.set(conversationId, sender);
        }
        sender.keyPressed();
    }
    /** Ends our typing indicator now, if it is on (e.g. the agent switched the
     * composer to writing a note). */
    stopTyping(conversationId) {
        this.typingSenders.get(conversationId)?.stop();
    }
    /** The newest message this client holds for a conversation (the highest
     * seq, from history or delivered live; notes included for an agent). */
    lastMessage(conversationId) {
        return this.timelines.get(conversationId)?.last;
    }
    /** Texts and notes waiting to be stored (failed ones not counted). */
    get pendingCount() {
        let n = 0;
        for (const p of this.pending.values())
            if (p.state === 'pending')
                n++;
        return n;
    }
    get failedCount() {
        return this.pending.size - this.pendingCount;
    }
    transmit(p) {
        const sent = this.sendFrame({
            type: p.kind,
            conversation_id: p.conversationId,
            content: p.content,
            client_msg_id: p.clientMsgId,
        });
        if (!sent)
            return;
        p.inFlight = true;
        if (p.ackTimer !== null)
            this.clock.clearTimeout(p.ackTimer);
        p.ackTimer = null;
        if (this.ackTimeout > 0) {
            p.ackTimer = this.clock.setTimeout(() => {
                p.ackTimer = null;
                if (this.pending.get(p.clientMsgId) === p && p.state === 'pending')
                    this.fail(p, 'timeout');
            }, this.ackTimeout);
        }
    }
    report(p) {
        this.emit('outgoing', snapshot(p));
    }
    fail(p, reason) {
        this.stopWaiting(p);
        p.state = 'failed';
        p.reason = reason;
        this.report(p);
    }
    /** Stored (`sent`) or given up (`dropped`): no longer ours to send. */
    settle(p, state) {
        this.stopWaiting(p);
        this.pending.delete(p.clientMsgId);
        this.emit('outgoing', { ...snapshot(p), state, reason: undefined });
    }
    stopWaiting(p) {
        if (p.ackTimer !== null)
            this.clock.clearTimeout(p.ackTimer);
        p.ackTimer = null;
        p.inFlight = false;
    }
    /** The connection is gone: no answer will come for what was sent on it. */
    notInFlight() {
        for (const p of this.pending.values())
            this.stopWaiting(p);
    }
    dropPending(conversationId) {
        for (const p of [...this.pending.values()])
            if (p.conversationId === conversationId)
                this.settle(p, 'dropped');
    }
    /** They will never be stored (e.g. the conversation closed). */
    failAll(conversationId, reason) {
        for (const p of this.pending.values())
            if (p.conversationId === conversationId)
                this.fail(p, reason);
    }
    /** The text an error frame is about. The error names the conversation
     * only (and `client_msg_id` when a server sends it): content is checked
     * as a frame is read, before earlier texts finish storing, so an
     * `invalid_*` answers the latest text in flight; storage answers in
     * order, so `unavailable` answers the oldest. */
    failedBy(code, conversationId, clientMsgId) {
        if (typeof clientMsgId === 'string')
            return this.pending.get(clientMsgId);
        const inFlight = [...this.pending.values()].filter((p) => p.conversationId === conversationId && p.state === 'pending' && p.inFlight);
        return code === 'unavailable' ? inFlight[0] : inFlight.at(-1);
    }
    sendFrame(frame) {
        if (this.socket && this.socket.readyState === OPEN) {
            this.socket.send(JSON.stringify(frame));
            return true;
        }
        return false;
    }
    async open() {
        if (this.stopped)
            return;
        this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
        const refused = this.refused;
        try {
            const t = this.options.token;
            if (typeof t === 'function')
                this.currentToken = await t({ refused });
            else if (refused)
                throw new SessionExpiredError();
            else
                this.currentToken = t;
        }
        catch (e) {
            if (this.stopped)
                return;
            if (e instanceof SessionExpiredError || (e instanceof Error && e.name === 'SessionExpiredError')) {
                this.expire();
                return;
            }
            this.scheduleReconnect();
            return;
        }
        if (this.stopped)
            return;
        this.refused = false;
        const socket = this.makeSocket(this.options.url, [SUBPROTOCOL, `bearer.${this.currentToken}`]);
        this.socket = socket;
        let opened = false;
        socket.onopen = () => {
            if (this.socket !== socket)
                return;
            opened = true;
            this.attempt = 0;
            this.setStatus('open');
            void this.afterConnect();
        };
        socket.onmessage = (ev) => {
            if (this.socket !== socket)
                return;
            if (typeof ev.data === 'string')
                this.onFrame(ev.data);
        };
        socket.onclose = (ev) => {
            if (this.socket !== socket)
                return;
            this.socket = null;
            this.notInFlight();
            for (const d of this.typingDisplays.values())
                d.clear();
            for (const s of this.typingSenders.values())
                s.reset();
            if (ev?.code === CLOSE_CODES.token_expired)
                this.refused = true;
            if (!opened && this.options.probeAuth) {
                this.setStatus('reconnecting');
                void this.probeAuth().then(() => this.scheduleReconnect());
                return;
            }
            this.scheduleReconnect();
        };
        socket.onerror = () => {
            /* followed by onclose */
        };
    }
    /** Whether a connection that never opened failed for its token: a 401
     * from the HTTP API means the server refuses it (a network error or any
     * other answer changes nothing). */
    async probeAuth() {
        try {
            await this.api.conversations({ limit: 1 });
        }
        catch (e) {
            if (e instanceof ApiError && e.status === 401)
                this.refused = true;
        }
    }
    /** Catch up on every watched conversation, then re-send pending texts
     * (and those that timed out: their fate is unknown, and the same
     * `client_msg_id` makes a second send safe). */
    async afterConnect() {
        const socket = this.socket;
        for (const conversationId of [...this.timelines.keys()]) {
            await this.catchUp(conversationId);
        }
        if (this.socket !== socket || socket === null)
            return; // dropped meanwhile: the next connect does it
        for (const p of [...this.pending.values()]) {
            if (p.state === 'failed' && p.reason === 'timeout' && this.canSend(p.conversationId)) {
                p.state = 'pending';
                p.reason = undefined;
                this.report(p);
            }
            if (p.state === 'pending' && !p.inFlight)
                this.transmit(p);
        }
    }
    async catchUp(conversationId) {
        // After the newest seen, whatever its seq: the server pages by id, so a
        // gap (notes a customer never sees) is never waited for or asked about.
        let after = this.timelines.get(conversationId)?.last?.id;
        for (;;) {
            let page;
            try {
                page = await this.api.messages(conversationId, { after, limit: 200 });
            }
            catch (e) {
                // The token was refused: the next connect asks for a new one.
                if (e instanceof ApiError && e.status === 401)
                    this.refused = true;
                return; // refused (e.g. no longer ours) or offline: the next reconnect retries
            }
            if (!this.timelines.has(conversationId))
                return; // forgotten meanwhile
            for (const m of page.items)
                this.accept(m, true);
            // Without a cursor the page holds the latest messages: done.
            if (!after || !page.next_cursor)
                return;
            after = page.next_cursor;
        }
    }
    scheduleReconnect() {
        if (this.stopped)
            return;
        this.setStatus('reconnecting');
        const exp = Math.min(this.backoff.max, this.backoff.initial * 2 ** this.attempt);
        // "Equal jitter": half fixed, half random, so clients spread out.
        const delay = exp / 2 + this.random() * (exp / 2);
        this.attempt += 1;
        this.reconnectTimer = this.clock.setTimeout(() => {
            this.reconnectTimer = null;
            void this.open();
        }, delay);
    }
    /** Delivers a message once; returns whether it was new. */
    accept(m, emit) {
        const mine = m.client_msg_id ? this.pending.get(m.client_msg_id) : undefined;
        const isNew = this.timeline(m.conversation_id).add(m) >= 0;
        if (isNew) {
            const note = m.message_type === 'note';
            // A text ends its sender's typing indicator; a note is not the customer's business.
            if (!note)
                this.typingDisplays.get(m.conversation_id)?.messageFrom(m.sender_id);
            if (emit) {
                if (note)
                    this.emit('note', m);
                else
                    this.emit('message', m);
            }
        }
        // After the message event, so a page shows the stored text before it
        // takes the pending one away.
        if (mine && mine.conversationId === m.conversation_id)
            this.settle(mine, 'sent');
        return isNew;
    }
    display(conversationId) {
        let d = this.typingDisplays.get(conversationId);
        if (!d) {
            d = new TypingDisplay(this.clock, (typing) => this.emit('typing', conversationId, typing));
            this.typingDisplays.set(conversationId, d);
        }
        return d;
    }
    onFrame(raw) {
        let frame;
        try {
            frame = JSON.parse(raw);
        }
        catch {
            return;
        }
        if (frame.type === 'text' || frame.type === 'note') {
            this.accept(frame.payload, true);
            return;
        }
        switch (frame.sub_type) {
            case 'typing_started':
                this.display(frame.payload.conversation_id).started(frame.payload.sender_id);
                break;
            case 'typing_stopped':
                this.display(frame.payload.conversation_id).stopped(frame.payload.sender_id);
                break;
            case 'conversation_created':
                this.emit('created', frame.payload);
                break;
            case 'conversation_assigned': {
                const a = frame.payload;
                this.emit('assigned', a.conversation_id, a.support_id ?? null, a.previous_support_id ?? null, a);
                break;
            }
            case 'presence':
                this.emit('presence', frame.payload);
                break;
            case 'conversation_closed':
                this.markClosed(frame.payload.conversation_id);
                // Texts not stored by now never will be.
                this.failAll(frame.payload.conversation_id, 'conversation_closed');
                this.display(frame.payload.conversation_id).clear();
                this.emit('closed', frame.payload.conversation_id, frame.payload.closed_by);
                break;
            case 'messages_read':
                this.emit('read', frame.payload.conversation_id, frame.payload.reader_id, frame.payload.up_to);
                break;
            case 'error': {
                const { code, message, conversation_id } = frame.payload;
                if (code === 'conversation_closed' && conversation_id) {
                    this.markClosed(conversation_id);
                    // Texts to a closed conversation will never be stored: stop retrying them.
                    this.failAll(conversation_id, code);
                }
                else if (code === 'conversation_not_found' && conversation_id) {
                    // Not (or no longer, after a transfer) ours: a retry cannot succeed.
                    this.failAll(conversation_id, code);
                }
                else if ((code === 'invalid_content' || code === 'invalid_message' || code === 'unavailable') && conversation_id) {
                    const p = this.failedBy(code, conversation_id, frame.payload.client_msg_id);
                    if (p)
                        this.fail(p, code);
                }
                this.emit('error', code, message, conversation_id);
                break;
            }
        }
    }
}
function snapshot(p) {
    const o = {
        clientMsgId: p.clientMsgId,
        conversationId: p.conversationId,
        kind: p.kind,
        content: p.content,
        state: p.state,
    };
    if (p.reason !== undefined)
        o.reason = p.reason;
    return o;
}
