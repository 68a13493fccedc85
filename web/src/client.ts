// A Quick Connect Chat connection that survives the network: it reconnects
// with exponential backoff and jitter, catches up on missed messages through
// history (`?after=`), delivers each message once (de-duplicated by id, kept
// in seq order in a Timeline per conversation), and retries unacknowledged
// texts and notes with their `client_msg_id` so a retry is never stored twice.
// It also keeps the state of every text it sends (pending until the server
// echoes it, failed when it cannot be stored) and tells when the server
// refused the token (closed with 4001, or a 401), so a page can renew it.

import { Api, ApiError, type Fetcher } from './api.js';
import { type Clock, type TimerId, systemClock } from './clock.js';
import {
  type Assignment,
  type ClientFrame,
  type Conversation,
  type ErrorCode,
  type Message,
  type Presence,
  type ServerFrame,
  SUBPROTOCOL,
} from './protocol.js';
import { Timeline } from './timeline.js';
import { TypingDisplay, TypingSender } from './typing.js';
import { CLOSE_CODES } from './wire.js';

export type { Fetcher } from './api.js';

export type Status = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What the token function is told when it is called (on every connect). */
export interface TokenRequest {
  /** The server refused the last token: it closed the connection with 4001
   * (token expired), or answered 401. Return a new token, or throw
   * `SessionExpiredError` when there is none to be had: the client then
   * stops (status `closed`) and emits `expired`. */
  refused: boolean;
}

/** Thrown by a token function when the session cannot be renewed (the user
 * must sign in again): the client stops reconnecting and emits `expired`. */
export class SessionExpiredError extends Error {
  constructor(message = 'Your session has expired. Sign in again.') {
    super(message);
    this.name = 'SessionExpiredError';
  }
}

/** Why a text could not be sent: the server's error code for it, or
 * `timeout` (no answer while connected; re-sent after the next reconnect). */
export type FailReason = ErrorCode | 'timeout';

/** `pending`: not yet stored (queued while offline, or waiting for the
 * server's echo); `failed`: cannot be stored as it is (see `reason`), only
 * `retry` sends it again; `sent`: stored (the `message` event carries it, or
 * carried it earlier); `dropped`: forgotten or discarded, never to be sent. */
export type OutgoingState = 'pending' | 'failed' | 'sent' | 'dropped';

/** A text or note this client sent, as it stands now. */
export interface Outgoing {
  clientMsgId: string;
  conversationId: string;
  kind: 'text' | 'note';
  content: string;
  state: OutgoingState;
  /** For `failed`. */
  reason?: FailReason;
}

/** Most Unicode scalar values in a text (CONTRACT §3). */
export const MAX_CONTENT_CHARS = 4096;

/** Whether the server would refuse this content with `invalid_content`:
 * empty after trimming, or more than 4,096 characters. */
export function invalidContent(content: string): boolean {
  return content.trim() === '' || [...content].length > MAX_CONTENT_CHARS;
}

export interface ChatEvents {
  /** A text message, once per id, in the order received. */
  message: (m: Message) => void;
  /** An internal note (agents only), once per id, in the order received. */
  note: (m: Message) => void;
  /** Who (other than you) is typing in a conversation now. */
  typing: (conversationId: string, senderIds: string[]) => void;
  /** A conversation was opened: agents (the queue grew) and its owner. */
  created: (conversation: Conversation) => void;
  /** Claimed (`previousSupportId` null), transferred, or handed back to the
   * queue (`supportId` null). */
  assigned: (conversationId: string, supportId: string | null, previousSupportId: string | null, a: Assignment) => void;
  /** Someone went online, away or offline. */
  presence: (p: Presence) => void;
  /** The conversation closed: sending is disabled from now on. */
  closed: (conversationId: string, closedBy: string) => void;
  read: (conversationId: string, readerId: string, upTo: string) => void;
  /** A frame of ours was refused (see docs/protocol.md for codes). */
  error: (code: ErrorCode, message: string, conversationId?: string) => void;
  status: (status: Status) => void;
  /** A text or note of ours changed state (pending, failed, sent, dropped). */
  outgoing: (o: Outgoing) => void;
  /** The token was refused and could not be renewed: the client stopped. */
  expired: () => void;
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

export interface ChatClientOptions {
  /** e.g. `wss://chat.example.com/chats/clients`. */
  url: string;
  /** The JWT, or a function returning a fresh one (called on every connect,
   * told whether the server refused the last one). A fixed token that is
   * refused stops the client (`expired`). */
  token: string | ((req: TokenRequest) => string | Promise<string>);
  /** HTTP base for history catch-up, e.g. `https://chat.example.com`; by default derived from `url`. */
  apiBase?: string;
  clock?: Clock;
  socket?: SocketFactory;
  fetch?: Fetcher;
  /** Backoff: first delay and cap, in ms (default 500 and 30 000). */
  backoffMs?: { initial: number; max: number };
  random?: () => number;
  newId?: () => string;
  /** A text sent on an open connection with no echo within this many ms is
   * `failed` with reason `timeout` (default 10 000; 0: never). */
  ackTimeoutMs?: number;
  /** When a connection fails before it opens, ask the HTTP API whether the
   * token is still good (`GET /conversations?limit=1`): a 401 counts as the
   * token refused (a browser does not show a WebSocket upgrade's 401).
   * Default false. */
  probeAuth?: boolean;
}

const OPEN = 1;

/** A text or note sent and not yet stored (pending), or refused (failed). */
interface PendingText {
  kind: 'text' | 'note';
  conversationId: string;
  content: string;
  clientMsgId: string;
  state: 'pending' | 'failed';
  reason?: FailReason;
  /** Sent on the current connection (so an answer may still come). */
  inFlight: boolean;
  ackTimer: TimerId | null;
}

export class ChatClient {
  private readonly clock: Clock;
  private readonly makeSocket: SocketFactory;
  /** The HTTP API with this connection's current token (for history). */
  readonly api: Api;
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
  /** The server refused the current token (4001, or a 401). */
  private refused = false;
  private readonly ackTimeout: number;

  /** Per conversation: the messages delivered, each once, by seq. */
  private readonly timelines = new Map<string, Timeline>();
  /** Texts and notes sent and not yet stored (pending or failed), by
   * client_msg_id, in the order they were sent. */
  private readonly pending = new Map<string, PendingText>();
  private readonly closedConversations = new Set<string>();
  private readonly typingSenders = new Map<string, TypingSender>();
  private readonly typingDisplays = new Map<string, TypingDisplay>();

  constructor(private readonly options: ChatClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.makeSocket =
      options.socket ?? ((url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike);
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
    this.socket?.close(CLOSE_CODES.normal, 'bye');
    this.socket = null;
    this.notInFlight();
    for (const s of this.typingSenders.values()) s.reset();
    this.setStatus('closed');
  }

  /** The token was refused and cannot be renewed: stop, and say so. */
  private expire(): void {
    this.close();
    this.emit('expired');
  }

  /** Follow a conversation: after every reconnect, what came after the
   * newest message seen is fetched. `history` is taken in without events
   * (render it from `timeline()`). */
  watch(conversationId: string, history: readonly Message[] = []): void {
    this.timeline(conversationId);
    for (const m of history) this.accept(m, false);
  }

  /** The messages delivered so far for a conversation, in seq order (the
   * same objects the events carried). */
  timeline(conversationId: string): Timeline {
    let t = this.timelines.get(conversationId);
    if (!t) {
      t = new Timeline();
      this.timelines.set(conversationId, t);
    }
    return t;
  }

  /** Stop following a conversation (e.g. transferred away): no more
   * catch-up, its unsent texts and notes are dropped, typing is reset. */
  forget(conversationId: string): void {
    this.timelines.delete(conversationId);
    this.dropPending(conversationId);
    this.typingSenders.get(conversationId)?.reset();
    this.typingSenders.delete(conversationId);
    this.typingDisplays.get(conversationId)?.clear();
    this.typingDisplays.delete(conversationId);
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
   * server echoes it (an `outgoing` event says `pending`, then `sent`).
   * Content the server would refuse (empty, over 4,096 characters) is not
   * sent: it is `failed` at once. Returns null when the conversation is
   * closed. */
  sendText(conversationId: string, content: string): string | null {
    const clientMsgId = this.queueSend('text', conversationId, content);
    // The server ends our typing indicator when the text is stored.
    if (clientMsgId !== null) this.typingSenders.get(conversationId)?.messageSent();
    return clientMsgId;
  }

  /** Agents: an internal note, never shown to the customer. Same delivery
   * guarantees as `sendText`. Sends no typing signal: call `keyPressed`
   * only while writing a reply (and `stopTyping` when switching to a note). */
  sendNote(conversationId: string, content: string): string | null {
    return this.queueSend('note', conversationId, content);
  }

  private queueSend(kind: PendingText['kind'], conversationId: string, content: string): string | null {
    if (!this.canSend(conversationId)) return null;
    const p: PendingText = {
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
    } else {
      this.report(p);
      this.transmit(p);
    }
    return p.clientMsgId;
  }

  /** Sends a failed text or note again, with the same `client_msg_id` (so it
   * is stored at most once). False when there is no such failed text, its
   * conversation is closed, or its content would be refused again. */
  retry(clientMsgId: string): boolean {
    const p = this.pending.get(clientMsgId);
    if (!p || p.state !== 'failed' || !this.canSend(p.conversationId)) return false;
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
  discard(clientMsgId: string): boolean {
    const p = this.pending.get(clientMsgId);
    if (!p || p.state !== 'failed') return false;
    this.settle(p, 'dropped');
    return true;
  }

  /** The texts and notes of a conversation not yet stored (pending or
   * failed), in the order they were sent. */
  outgoing(conversationId: string): Outgoing[] {
    return [...this.pending.values()].filter((p) => p.conversationId === conversationId).map(snapshot);
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

  /** Ends our typing indicator now, if it is on (e.g. the agent switched the
   * composer to writing a note). */
  stopTyping(conversationId: string): void {
    this.typingSenders.get(conversationId)?.stop();
  }

  /** The newest message this client holds for a conversation (the highest
   * seq, from history or delivered live; notes included for an agent). */
  lastMessage(conversationId: string): Message | undefined {
    return this.timelines.get(conversationId)?.last;
  }

  /** Texts and notes waiting to be stored (failed ones not counted). */
  get pendingCount(): number {
    let n = 0;
    for (const p of this.pending.values()) if (p.state === 'pending') n++;
    return n;
  }

  get failedCount(): number {
    return this.pending.size - this.pendingCount;
  }

  private transmit(p: PendingText): void {
    const sent = this.sendFrame({
      type: p.kind,
      conversation_id: p.conversationId,
      content: p.content,
      client_msg_id: p.clientMsgId,
    });
    if (!sent) return;
    p.inFlight = true;
    if (p.ackTimer !== null) this.clock.clearTimeout(p.ackTimer);
    p.ackTimer = null;
    if (this.ackTimeout > 0) {
      p.ackTimer = this.clock.setTimeout(() => {
        p.ackTimer = null;
        if (this.pending.get(p.clientMsgId) === p && p.state === 'pending') this.fail(p, 'timeout');
      }, this.ackTimeout);
    }
  }

  private report(p: PendingText): void {
    this.emit('outgoing', snapshot(p));
  }

  private fail(p: PendingText, reason: FailReason): void {
    this.stopWaiting(p);
    p.state = 'failed';
    p.reason = reason;
    this.report(p);
  }

  /** Stored (`sent`) or given up (`dropped`): no longer ours to send. */
  private settle(p: PendingText, state: 'sent' | 'dropped'): void {
    this.stopWaiting(p);
    this.pending.delete(p.clientMsgId);
    this.emit('outgoing', { ...snapshot(p), state, reason: undefined });
  }

  private stopWaiting(p: PendingText): void {
    if (p.ackTimer !== null) this.clock.clearTimeout(p.ackTimer);
    p.ackTimer = null;
    p.inFlight = false;
  }

  /** The connection is gone: no answer will come for what was sent on it. */
  private notInFlight(): void {
    for (const p of this.pending.values()) this.stopWaiting(p);
  }

  private dropPending(conversationId: string): void {
    for (const p of [...this.pending.values()]) if (p.conversationId === conversationId) this.settle(p, 'dropped');
  }

  /** They will never be stored (e.g. the conversation closed). */
  private failAll(conversationId: string, reason: FailReason): void {
    for (const p of this.pending.values()) if (p.conversationId === conversationId) this.fail(p, reason);
  }

  /** The text an error frame is about. The error names the conversation
   * only (and `client_msg_id` when a server sends it): content is checked
   * as a frame is read, before earlier texts finish storing, so an
   * `invalid_*` answers the latest text in flight; storage answers in
   * order, so `unavailable` answers the oldest. */
  private failedBy(code: ErrorCode, conversationId: string, clientMsgId: unknown): PendingText | undefined {
    if (typeof clientMsgId === 'string') return this.pending.get(clientMsgId);
    const inFlight = [...this.pending.values()].filter(
      (p) => p.conversationId === conversationId && p.state === 'pending' && p.inFlight,
    );
    return code === 'unavailable' ? inFlight[0] : inFlight.at(-1);
  }

  private sendFrame(frame: ClientFrame): boolean {
    if (this.socket && this.socket.readyState === OPEN) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const refused = this.refused;
    try {
      const t = this.options.token;
      if (typeof t === 'function') this.currentToken = await t({ refused });
      else if (refused) throw new SessionExpiredError();
      else this.currentToken = t;
    } catch (e) {
      if (this.stopped) return;
      if (e instanceof SessionExpiredError || (e instanceof Error && e.name === 'SessionExpiredError')) {
        this.expire();
        return;
      }
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    this.refused = false;
    const socket = this.makeSocket(this.options.url, [SUBPROTOCOL, `bearer.${this.currentToken}`]);
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this.attempt = 0;
      this.setStatus('open');
      void this.afterConnect();
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      if (typeof ev.data === 'string') this.onFrame(ev.data);
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.notInFlight();
      for (const d of this.typingDisplays.values()) d.clear();
      for (const s of this.typingSenders.values()) s.reset();
      if (ev?.code === CLOSE_CODES.token_expired) this.refused = true;
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
  private async probeAuth(): Promise<void> {
    try {
      await this.api.conversations({ limit: 1 });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.refused = true;
    }
  }

  /** Catch up on every watched conversation, then re-send pending texts
   * (and those that timed out: their fate is unknown, and the same
   * `client_msg_id` makes a second send safe). */
  private async afterConnect(): Promise<void> {
    const socket = this.socket;
    for (const conversationId of [...this.timelines.keys()]) {
      await this.catchUp(conversationId);
    }
    if (this.socket !== socket || socket === null) return; // dropped meanwhile: the next connect does it
    for (const p of [...this.pending.values()]) {
      if (p.state === 'failed' && p.reason === 'timeout' && this.canSend(p.conversationId)) {
        p.state = 'pending';
        p.reason = undefined;
        this.report(p);
      }
      if (p.state === 'pending' && !p.inFlight) this.transmit(p);
    }
  }

  private async catchUp(conversationId: string): Promise<void> {
    // After the newest seen, whatever its seq: the server pages by id, so a
    // gap (notes a customer never sees) is never waited for or asked about.
    let after = this.timelines.get(conversationId)?.last?.id;
    for (;;) {
      let page: { items: Message[]; next_cursor: string | null };
      try {
        page = await this.api.messages(conversationId, { after, limit: 200 });
      } catch (e) {
        // The token was refused: the next connect asks for a new one.
        if (e instanceof ApiError && e.status === 401) this.refused = true;
        return; // refused (e.g. no longer ours) or offline: the next reconnect retries
      }
      if (!this.timelines.has(conversationId)) return; // forgotten meanwhile
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
    const mine = m.client_msg_id ? this.pending.get(m.client_msg_id) : undefined;
    const isNew = this.timeline(m.conversation_id).add(m) >= 0;
    if (isNew) {
      const note = m.message_type === 'note';
      // A text ends its sender's typing indicator; a note is not the customer's business.
      if (!note) this.typingDisplays.get(m.conversation_id)?.messageFrom(m.sender_id);
      if (emit) {
        if (note) this.emit('note', m);
        else this.emit('message', m);
      }
    }
    // After the message event, so a page shows the stored text before it
    // takes the pending one away.
    if (mine && mine.conversationId === m.conversation_id) this.settle(mine, 'sent');
    return isNew;
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
        } else if (code === 'conversation_not_found' && conversation_id) {
          // Not (or no longer, after a transfer) ours: a retry cannot succeed.
          this.failAll(conversation_id, code);
        } else if ((code === 'invalid_content' || code === 'invalid_message' || code === 'unavailable') && conversation_id) {
          const p = this.failedBy(code, conversation_id, (frame.payload as { client_msg_id?: unknown }).client_msg_id);
          if (p) this.fail(p, code);
        }
        this.emit('error', code, message, conversation_id);
        break;
      }
    }
  }
}

function snapshot(p: PendingText): Outgoing {
  const o: Outgoing = {
    clientMsgId: p.clientMsgId,
    conversationId: p.conversationId,
    kind: p.kind,
    content: p.content,
    state: p.state,
  };
  if (p.reason !== undefined) o.reason = p.reason;
  return o;
}
