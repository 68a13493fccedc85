import { Api, type Fetcher } from './api.js';
import { type Clock } from './clock.js';
import { type Assignment, type Conversation, type ErrorCode, type Message, type Presence } from './protocol.js';
import { Timeline } from './timeline.js';
export type { Fetcher } from './api.js';
export type Status = 'connecting' | 'open' | 'reconnecting' | 'closed';
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
    /** The JWT, or a function returning a fresh one (called on every connect). */
    token: string | (() => string | Promise<string>);
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
    /** Per conversation: the messages delivered, each once, by seq. */
    private readonly timelines;
    /** Texts and notes sent and not yet echoed back, by client_msg_id. */
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
     * server echoes it. Returns null when the conversation is closed. */
    sendText(conversationId: string, content: string): string | null;
    /** Agents: an internal note, never shown to the customer. Same delivery
     * guarantees as `sendText`. Sends no typing signal: call `keyPressed`
     * only while writing a reply (and `stopTyping` when switching to a note). */
    sendNote(conversationId: string, content: string): string | null;
    private queueSend;
    /** Call on each key press in a conversation's input (§5.1 throttling). */
    keyPressed(conversationId: string): void;
    /** Ends our typing indicator now, if it is on (e.g. the agent switched the
     * composer to writing a note). */
    stopTyping(conversationId: string): void;
    /** The newest message this client holds for a conversation (the highest
     * seq, from history or delivered live; notes included for an agent). */
    lastMessage(conversationId: string): Message | undefined;
    get pendingCount(): number;
    private transmit;
    private dropPending;
    private sendFrame;
    private open;
    /** Catch up on every watched conversation, then re-send pending texts. */
    private afterConnect;
    private catchUp;
    private scheduleReconnect;
    /** Delivers a message once; returns whether it was new. */
    private accept;
    private display;
    private onFrame;
}
