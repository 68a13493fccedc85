// A Quick Connect Chat connection that survives the network: it reconnects
// with exponential backoff and jitter, catches up on missed messages through
// history (`?after=`), delivers each message once (de-duplicated by id, kept
// in seq order in a Timeline per conversation), and retries unacknowledged
// texts and notes with their `client_msg_id` so a retry is never stored twice.
import { Api } from './api.js';
import { systemClock } from './clock.js';
import { SUBPROTOCOL, } from './protocol.js';
import { Timeline } from './timeline.js';
import { TypingDisplay, TypingSender } from './typing.js';
import { CLOSE_CODES } from './wire.js';
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
    /** Per conversation: the messages delivered, each once, by seq. */
    timelines = new Map();
    /** Texts and notes sent and not yet echoed back, by client_msg_id. */
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
        for (const s of this.typingSenders.values())
            s.reset();
        this.setStatus('closed');
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
     * server echoes it. Returns null when the conversation is closed. */
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
        const p = { kind, conversationId, content, clientMsgId: this.newId() };
        this.pending.set(p.clientMsgId, p);
        this.transmit(p);
        return p.clientMsgId;
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
    get pendingCount() {
        return this.pending.size;
    }
    transmit(p) {
        this.sendFrame({ type: p.kind, conversation_id: p.conversationId, content: p.content, client_msg_id: p.clientMsgId });
    }
    dropPending(conversationId) {
        for (const [id, p] of this.pending)
            if (p.conversationId === conversationId)
                this.pending.delete(id);
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
        try {
            const t = this.options.token;
            this.currentToken = typeof t === 'function' ? await t() : t;
        }
        catch {
            this.scheduleReconnect();
            return;
        }
        if (this.stopped)
            return;
        const socket = this.makeSocket(this.options.url, [SUBPROTOCOL, `bearer.${this.currentToken}`]);
        this.socket = socket;
        socket.onopen = () => {
            if (this.socket !== socket)
                return;
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
        socket.onclose = () => {
            if (this.socket !== socket)
                return;
            this.socket = null;
            for (const d of this.typingDisplays.values())
                d.clear();
            for (const s of this.typingSenders.values())
                s.reset();
            this.scheduleReconnect();
        };
        socket.onerror = () => {
            /* followed by onclose */
        };
    }
    /** Catch up on every watched conversation, then re-send pending texts. */
    async afterConnect() {
        for (const conversationId of [...this.timelines.keys()]) {
            await this.catchUp(conversationId);
        }
        for (const p of this.pending.values())
            this.transmit(p);
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
            catch {
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
        if (m.client_msg_id)
            this.pending.delete(m.client_msg_id);
        if (this.timeline(m.conversation_id).add(m) < 0)
            return false;
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
        return true;
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
                    this.dropPending(conversation_id);
                }
                else if (code === 'conversation_not_found' && conversation_id) {
                    // Not (or no longer, after a transfer) ours: a retry cannot succeed.
                    this.dropPending(conversation_id);
                }
                this.emit('error', code, message, conversation_id);
                break;
            }
        }
    }
}
