// A Quick Connect Chat connection that survives the network: it reconnects
// with exponential backoff and jitter, catches up on missed messages through
// history (`?after=`), delivers each message once (de-duplicated by id), and
// retries unacknowledged texts with their `client_msg_id` so a retry is never
// stored twice.

import { type Clock, type TimerId, systemClock } from './clock.js';
import { CloseCode, type Message, type ServerFrame, SUBPROTOCOL } from './protocol.js';
import { TypingDisplay, TypingSender } from './typing.js';

export type Status = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ChatEvents {
  /** A text message, once per id, in the order received. */
  message: (m: Message) => void;
  /** Who (other than you) is typing in a conversation now. */
  typing: (conversationId: string, senderIds: string[]) => void;
  assigned: (conversationId: string, supportId: string) => void;
  /** The conversation closed: sending is disabled from now on. */
  closed: (conversationId: string, closedBy: string) => void;
  read: (conversationId: string, readerId: string, upTo: string) => void;
  /** A frame of ours was refused (see docs/protocol.md for codes). */
  error: (code: string, message: string, conversationId?: string) => void;
  status: (status: Status) => void;
}

/** The minimal WebSocket surface the client uses (the browser's fits). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string, protocols: string[]) => SocketLike;
export type Fetcher = (url: string, init: { headers: Record<string, string> }) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

export interface ChatClientOptions {
  /** e.g. `wss://chat.example.com/chats/clients`. */
  url: string;
  /** The JWT, or a function returning a fresh one (called on every connect). */
  token: string | (() => string | Promise<string>);
  /** HTTP base for history catch-up, e.g. `https://chat.example.com`; by default derived from `url`. */
  apiBase?: string;
  clock?: Clock;
  socket?: SocketFactory;
  fetch?: Fetcher;
  /** Backoff: first delay and cap, in ms (default 500 and 30 000). */
  backoffMs?: { initial: number; max: number };
  random?: () => number;
  newId?: () => string;
}

const OPEN = 1;

interface PendingText {
  conversationId: string;
  content: string;
  clientMsgId: string;
}

export class ChatClient {
  private readonly clock: Clock;
  private readonly makeSocket: SocketFactory;
  private readonly fetcher: Fetcher;
  private readonly apiBase: string;
  private readonly random: () => number;
  private readonly newId: () => string;
  private readonly backoff: { initial: number; max: number };
  private readonly handlers: { [K in keyof ChatEvents]?: Array<ChatEvents[K]> } = {};

  private socket: SocketLike | null = null;
  private stopped = true;
  private attempt = 0;
  private reconnectTimer: TimerId | null = null;
  private currentToken = '';
  private statusValue: Status = 'closed';

  /** Per conversation: ids delivered, the newest delivered (by seq). */
  private readonly seen = new Map<string, Set<string>>();
  private readonly newest = new Map<string, Message>();
  /** Texts sent and not yet echoed back, by client_msg_id. */
  private readonly pending = new Map<string, PendingText>();
  private readonly closedConversations = new Set<string>();
  private readonly typingSenders = new Map<string, TypingSender>();
  private readonly typingDisplays = new Map<string, TypingDisplay>();

  constructor(private readonly options: ChatClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.makeSocket =
      options.socket ?? ((url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike);
    this.fetcher = options.fetch ?? ((url, init) => fetch(url, init));
    this.apiBase = options.apiBase ?? options.url.replace(/^ws/, 'http').replace(/\/chats\/.*$/, '');
    this.random = options.random ?? Math.random;
    this.newId = options.newId ?? (() => globalThis.crypto.randomUUID());
    this.backoff = options.backoffMs ?? { initial: 500, max: 30_000 };
  }

  on<K extends keyof ChatEvents>(event: K, handler: ChatEvents[K]): () => void {
    const list = (this.handlers[event] ??= []) as Array<ChatEvents[K]>;
    list.push(handler);
    return () => {
      const i = list.indexOf(handler);
      if (i >= 0) list.splice(i, 1);
    };
  }

  private emit<K extends keyof ChatEvents>(event: K, ...args: Parameters<ChatEvents[K]>): void {
    for (const h of this.handlers[event] ?? []) (h as (...a: unknown[]) => void)(...args);
  }

  get status(): Status {
    return this.statusValue;
  }

  private setStatus(s: Status): void {
    if (s !== this.statusValue) {
      this.statusValue = s;
      this.emit('status', s);
    }
  }

  /** Opens the connection; keeps it open until `close()`. */
  connect(): void {
    this.stopped = false;
    void this.open();
  }

  /** Closes for good (no reconnect). */
  close(): void {
    this.stopped = true;
    if (this.reconnectTimer !== null) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.socket?.close(CloseCode.Normal, 'bye');
    this.socket = null;
    for (const s of this.typingSenders.values()) s.reset();
    this.setStatus('closed');
  }

  /** Follow a conversation: after every reconnect, what came after
   * `lastMessageId` (or after the newest message seen) is fetched. */
  watch(conversationId: string, history: Message[] = []): void {
    if (!this.seen.has(conversationId)) this.seen.set(conversationId, new Set());
    for (const m of history) this.accept(m, false);
  }

  /** Marks a conversation closed (e.g. from `GET /conversations/{id}`). */
  markClosed(conversationId: string): void {
    this.closedConversations.add(conversationId);
    this.typingSenders.get(conversationId)?.reset();
  }

  canSend(conversationId: string): boolean {
    return !this.closedConversations.has(conversationId);
  }

  /** Sends a text with a fresh `client_msg_id` (returned). Queued while
   * disconnected and re-sent, with the same id, after a reconnect until the
   * server echoes it. Returns null when the conversation is closed. */
  sendText(conversationId: string, content: string): string | null {
    if (!this.canSend(conversationId)) return null;
    const clientMsgId = this.newId();
    this.pending.set(clientMsgId, { conversationId, content, clientMsgId });
    this.transmitText(this.pending.get(clientMsgId)!);
    this.typingSenders.get(conversationId)?.messageSent();
    return clientMsgId;
  }

  /** Call on each key press in a conversation's input (§5.1 throttling). */
  keyPressed(conversationId: string): void {
    if (!this.canSend(conversationId)) return;
    let sender = this.typingSenders.get(conversationId);
    if (!sender) {
      sender = new TypingSender(this.clock, (sub_type) =>
        this.sendFrame({ type: 'system', sub_type, conversation_id: conversationId }),
      );
      this.typingSenders.set(conversationId, sender);
    }
    sender.keyPressed();
  }

  /** Messages delivered so far for a conversation, by seq. */
  lastMessage(conversationId: string): Message | undefined {
    return this.newest.get(conversationId);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private transmitText(p: PendingText): void {
    this.sendFrame({ type: 'text', conversation_id: p.conversationId, content: p.content, client_msg_id: p.clientMsgId });
  }

  private sendFrame(frame: object): boolean {
    if (this.socket && this.socket.readyState === OPEN) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    try {
      const t = this.options.token;
      this.currentToken = typeof t === 'function' ? await t() : t;
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const socket = this.makeSocket(this.options.url, [SUBPROTOCOL, `bearer.${this.currentToken}`]);
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.setStatus('open');
      void this.afterConnect();
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      if (typeof ev.data === 'string') this.onFrame(ev.data);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      for (const d of this.typingDisplays.values()) d.clear();
      for (const s of this.typingSenders.values()) s.reset();
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      /* followed by onclose */
    };
  }

  /** Catch up on every watched conversation, then re-send pending texts. */
  private async afterConnect(): Promise<void> {
    for (const conversationId of this.seen.keys()) {
      await this.catchUp(conversationId);
    }
    for (const p of this.pending.values()) this.transmitText(p);
  }

  private async catchUp(conversationId: string): Promise<void> {
    let after = this.newest.get(conversationId)?.id;
    for (;;) {
      const query = after ? `?after=${after}&limit=200` : '?limit=200';
      let page: { items: Message[]; next_cursor: string | null };
      try {
        const res = await this.fetcher(`${this.apiBase}/conversations/${conversationId}/messages${query}`, {
          headers: { Authorization: `Bearer ${this.currentToken}` },
        });
        if (!res.ok) return;
        page = (await res.json()) as typeof page;
      } catch {
        return; // the live connection still works; the next reconnect retries
      }
      for (const m of page.items) this.accept(m, true);
      // Without a cursor the page holds the latest messages: done.
      if (!after || !page.next_cursor) return;
      after = page.next_cursor;
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
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
  private accept(m: Message, emit: boolean): boolean {
    let ids = this.seen.get(m.conversation_id);
    if (!ids) {
      ids = new Set();
      this.seen.set(m.conversation_id, ids);
    }
    if (m.client_msg_id) this.pending.delete(m.client_msg_id);
    if (ids.has(m.id)) return false;
    ids.add(m.id);
    const newest = this.newest.get(m.conversation_id);
    if (!newest || m.seq > newest.seq) this.newest.set(m.conversation_id, m);
    this.typingDisplays.get(m.conversation_id)?.messageFrom(m.sender_id);
    if (emit) this.emit('message', m);
    return true;
  }

  private display(conversationId: string): TypingDisplay {
    let d = this.typingDisplays.get(conversationId);
    if (!d) {
      d = new TypingDisplay(this.clock, (typing) => this.emit('typing', conversationId, typing));
      this.typingDisplays.set(conversationId, d);
    }
    return d;
  }

  private onFrame(raw: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(raw) as ServerFrame;
    } catch {
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
          for (const [id, p] of this.pending) if (p.conversationId === conversation_id) this.pending.delete(id);
        }
        this.emit('error', code, message, conversation_id);
        break;
      }
    }
  }
}
