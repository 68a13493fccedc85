import { Api, type Fetcher } from './api.js';
import { type Clock } from './clock.js';
import { type Assignment, type Conversation, type ErrorCode, type Message, type Presence } from './protocol.js';
import { Timeline } from './timeline.js';
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
export declare class SessionExpiredError extends Error {
    constructor(message?: string);
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
export declare const MAX_CONTENT_CHARS = 4096;
/** Whether the server would refuse this content with `invalid_content`:
 * empty after trimming, or more than 4,096 characters. */
export declare function invalidContent(content: string): boolean;
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
    onclose: ((ev: {
        code: number;
        reason?: string;
    }) => void) | null;
    onmessage: ((ev: {
        data: unknown;
    }) => void) | null;
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
    backoffMs?: {
        initial: number;
        max: number;
    };
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
export declare class ChatClient {
    private readonly options;
    private readonly clock;
    private readonly makeSocket;
    /** The HTTP API with this connection's current token (for history). */
    readonly api: Api;
    private readonly random;
    private readonly newId;
    private readonly backoff;
    private readonly handlers;
    private socket;
    private stopped;
    private attempt;
    private reconnectTimer;
    private currentToken;
    private statusValue;
    /** The server refused the current token (4001, or a 401). */
    private refused;
    private readonly ackTimeout;
    /** Per conversation: the messages delivered, each once, by seq. */
    private readonly timelines;
    /** Texts and notes sent and not yet stored (pending or failed), by
     * client_msg_id, in the order they were sent. */
    private readonly pending;
    private readonly closedConversations;
    private readonly typingSenders;
    private readonly typingDisplays;
    constructor(options: ChatClientOptions);
    on<K extends keyof ChatEvents>(event: K, handler: ChatEvents[K]): () => void;
    private emit;
    get status(): Status;
    private setStatus;
    /** Opens the connection; keeps it open until `close()`. */
    connect(): void;
    /** Closes for good (no reconnect). */
    close(): void;
    /** The token was refused and cannot be renewed: stop, and say so. */
    private expire;
    /** Follow a conversation: after every reconnect, what came after the
     * newest message seen is fetched. `history` is taken in without events
     * (render it from `timeline()`). */
    watch(conversationId: string, history?: readonly Message[]): void;
    /** The messages delivered so far for a conversation, in seq order (the
     * same objects the events carried). */
    timeline(conversationId: string): Timeline;
    /** Stop following a conversation (e.g. transferred away): no more
     * catch-up, its unsent texts and notes are dropped, typing is reset. */
    forget(conversationId: string): void;
    /** Marks a conversation closed (e.g. from `GET /conversations/{id}`). */
    markClosed(conversationId: string): void;
    canSend(conversationId: string): boolean;
    /** Sends a text with a fresh `client_msg_id` (returned). Queued while
     * disconnected and re-sent, with the same id, after a reconnect until the
     * server echoes it (an `outgoing` event says `pending`, then `sent`).
     * Content the server would refuse (empty, over 4,096 characters) is not
     * sent: it is `failed` at once. Returns null when the conversation is
     * closed. */
    sendText(conversationId: string, content: string): string | null;
    /** Agents: an internal note, never shown to the customer. Same delivery
     * guarantees as `sendText`. Sends no typing signal: call `keyPressed`
     * only while writing a reply (and `stopTyping` when switching to a note). */
    sendNote(conversationId: string, content: string): string | null;
    private queueSend;
    /** Sends a failed text or note again, with the same `client_msg_id` (so it
     * is stored at most once). False when there is no such failed text, its
     * conversation is closed, or its content would be refused again. */
    retry(clientMsgId: string): boolean;
    /** Gives up on a failed text or note (it is `dropped`). */
    discard(clientMsgId: string): boolean;
    /** The texts and notes of a conversation not yet stored (pending or
     * failed), in the order they were sent. */
    outgoing(conversationId: string): Outgoing[];
    /** Call on each key press in a conversation's input (§5.1 throttling). */
    keyPressed(conversationId: string): void;
    /** Ends our typing indicator now, if it is on (e.g. the agent switched the
     * composer to writing a note). */
    stopTyping(conversationId: string): void;
    /** The newest message this client holds for a conversation (the highest
     * seq, from history or delivered live; notes included for an agent). */
    lastMessage(conversationId: string): Message | undefined;
    /** Texts and notes waiting to be stored (failed ones not counted). */
    get pendingCount(): number;
    get failedCount(): number;
    private transmit;
    private report;
    private fail;
    /** Stored (`sent`) or given up (`dropped`): no longer ours to send. */
    private settle;
    private stopWaiting;
    /** The connection is gone: no answer will come for what was sent on it. */
    private notInFlight;
    private dropPending;
    /** They will never be stored (e.g. the conversation closed). */
    private failAll;
    /** The text an error frame is about. The error names the conversation
     * only (and `client_msg_id` when a server sends it): content is checked
     * as a frame is read, before earlier texts finish storing, so an
     * `invalid_*` answers the latest text in flight; storage answers in
     * order, so `unavailable` answers the oldest. */
    private failedBy;
    private sendFrame;
    private open;
    /** Whether a connection that never opened failed for its token: a 401
     * from the HTTP API means the server refuses it (a network error or any
     * other answer changes nothing). */
    private probeAuth;
    /** Catch up on every watched conversation, then re-send pending texts
     * (and those that timed out: their fate is unknown, and the same
     * `client_msg_id` makes a second send safe). */
    private afterConnect;
    private catchUp;
    private scheduleReconnect;
    /** Delivers a message once; returns whether it was new. */
    private accept;
    private display;
    private onFrame;
}
