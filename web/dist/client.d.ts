import { type Clock } from './clock.js';
import { type Message } from './protocol.js';
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
export type Fetcher = (url: string, init: {
    headers: Record<string, string>;
}) => Promise<{
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
    private readonly fetcher;
    private readonly apiBase;
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
    /** Per conversation: ids delivered, the newest delivered (by seq). */
    private readonly seen;
    private readonly newest;
    /** Texts sent and not yet echoed back, by client_msg_id. */
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
    /** Follow a conversation: after every reconnect, what came after
     * `lastMessageId` (or after the newest message seen) is fetched. */
    watch(conversationId: string, history?: Message[]): void;
    /** Marks a conversation closed (e.g. from `GET /conversations/{id}`). */
    markClosed(conversationId: string): void;
    canSend(conversationId: string): boolean;
    /** Sends a text with a fresh `client_msg_id` (returned). Queued while
     * disconnected and re-sent, with the same id, after a reconnect until the
     * server echoes it. Returns null when the conversation is closed. */
    sendText(conversationId: string, content: string): string | null;
    /** Call on each key press in a conversation's input (§5.1 throttling). */
    keyPressed(conversationId: string): void;
    /** Messages delivered so far for a conversation, by seq. */
    lastMessage(conversationId: string): Message | undefined;
    get pendingCount(): number;
    private transmitText;
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
