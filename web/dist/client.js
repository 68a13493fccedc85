// A Quick Connect Chat connection that survives the network: it reconnects
// with exponential backoff and jitter, catches up on missed messages through
// history (`?after=`), delivers each message once (de-duplicated by id), and
// retries unacknowledged texts with their `client_msg_id` so a retry is never
// stored twice.
import { systemClock } from './clock.js';
import { CloseCode, SUBPROTOCOL } from './protocol.js';
import { TypingDisplay, TypingSender } from './typing.js';
const OPEN = 1;
export class ChatClient {
    options;
    clock;
    makeSocket;
    fetcher;
    apiBase;
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
    /** Per conversation: ids delivered, the newest delivered (by seq). */
    seen = new Map();
    newest = new Map();
    /** Texts sent and not yet echoed back, by client_msg_id. */
    pending = new Map();
    closedConversations = new Set();
    typingSenders = new Map();
    typingDisplays = new Map();
    constructor(options) {
        this.options = options;
        this.clock = options.clock ?? systemClock;
        this.makeSocket =
            options.socket ?? ((url, protocols) => new WebSocket(url, protocols));
        this.fetcher = options.fetch ?? ((url, init) => fetch(url, init));
        this.apiBase = options.apiBase ?? options.url.replace(/^ws/, 'http').replace(/\/chats\/.*$/, '');
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
        this.socket?.close(CloseCode.Normal, 'bye');
        this.socket = null;
        for (const s of this.typingSenders.values())
            s.reset();
        this.setStatus('closed');
    }
    /** Follow a conversation: after every reconnect, what came after
     * `lastMessageId` (or after the newest message seen) is fetched. */
    watch(conversationId, history = []) {
        if (!this.seen.has(conversationId))
            this.seen.set(conversationId, new Set());
        for (const m of history)
            this.accept(m, false);
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
        if (!this.canSend(conversationId))
            return null;
        const clientMsgId = this.newId();
        this.pending.set(clientMsgId, { conversationId, content, clientMsgId });
        this.transmitText(this.pending.get(clientMsgId));
        this.typingSenders.get(conversationId)?.messageSent();
        return clientMsgId;
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
    /** Messages delivered so far for a conversation, by seq. */
    lastMessage(conversationId) {
        return this.newest.get(conversationId);
    }
    get pendingCount() {
        return this.pending.size;
    }
    transmitText(p) {
        this.sendFrame({ type: 'text', conversation_id: p.conversationId, content: p.content, client_msg_id: p.clientMsgId });
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
        for (const conversationId of this.seen.keys()) {
            await this.catchUp(conversationId);
        }
        for (const p of this.pending.values())
            this.transmitText(p);
    }
    async catchUp(conversationId) {
        let after = this.newest.get(conversationId)?.id;
        for (;;) {
            const query = after ? `?after=${after}&limit=200` : '?limit=200';
            let page;
            try {
                const res = await this.fetcher(`${this.apiBase}/conversations/${conversationId}/messages${query}`, {
                    headers: { Authorization: `Bearer ${this.currentToken}` },
                });
                if (!res.ok)
                    return;
                page = (await res.json());
            }
            catch {
                return; // the live connection still works; the next reconnect retries
            }
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
        let ids = this.seen.get(m.conversation_id);
        if (!ids) {
            ids = new Set();
            this.seen.set(m.conversation_id, ids);
        }
        if (m.client_msg_id)
            this.pending.delete(m.client_msg_id);
        if (ids.has(m.id))
            return false;
        ids.add(m.id);
        const newest = this.newest.get(m.conversation_id);
        if (!newest || m.seq > newest.seq)
            this.newest.set(m.conversation_id, m);
        this.typingDisplays.get(m.conversation_id)?.messageFrom(m.sender_id);
        if (emit)
            this.emit('message', m);
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
        if (frame.type === 'text') {
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
            case 'conversation_assigned':
                this.emit('assigned', frame.payload.conversation_id, frame.payload.support_id);
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
                    for (const [id, p] of this.pending)
                        if (p.conversationId === conversation_id)
                            this.pending.delete(id);
                }
                this.emit('error', code, message, conversation_id);
                break;
            }
        }
    }
}
