import type { Agent, Conversation, Message, Page, PresenceStatus } from './protocol.js';
export interface FetchInit {
    method?: string;
    headers: Record<string, string>;
    body?: string;
}
/** The part of `fetch` used here (the browser's and node's fit). */
export type Fetcher = (url: string, init: FetchInit) => Promise<{
    ok: boolean;
    status: number;
    json(): Promise<unknown>;
}>;
export type TokenSource = string | (() => string | Promise<string>);
export interface ApiOptions {
    /** e.g. `https://chat.example.com` (no trailing slash). */
    base: string;
    token: TokenSource;
    fetch?: Fetcher;
}
/** A refused request: `status` is the HTTP status (0 when the network failed),
 * `code` the API's error code (`already_assigned`, `unknown_agent`, …). */
export declare class ApiError extends Error {
    readonly status: number;
    readonly code: string;
    constructor(status: number, code: string, message: string);
}
export interface HistoryQuery {
    after?: string;
    before?: string;
    limit?: number;
}
export interface ListQuery {
    /** Agents: the open, unassigned conversations, oldest first. */
    queue?: boolean;
    limit?: number;
    cursor?: string;
}
export declare class Api {
    private readonly options;
    private readonly fetcher;
    constructor(options: ApiOptions);
    /** Customers: open a conversation. */
    createConversation(subject?: string | null): Promise<Conversation>;
    conversation(id: string): Promise<Conversation>;
    /** Customers: their own; agents: assigned to them, or the queue. */
    conversations(q?: ListQuery): Promise<Page<Conversation>>;
    /** Agents: claim an unassigned conversation. */
    assign(id: string): Promise<Conversation>;
    /** The assigned agent hands the conversation to agent `to`, or back to the queue (`null`). */
    transfer(id: string, to: string | null): Promise<Conversation>;
    close(id: string): Promise<Conversation>;
    /** Marks the other side's messages read up to `upTo` (a message id). */
    markRead(id: string, upTo: string): Promise<void>;
    /** A page of history, oldest first (agents get notes too). */
    messages(id: string, q?: HistoryQuery): Promise<Page<Message>>;
    /** Agents: every agent with live presence and open conversations. */
    agents(): Promise<Agent[]>;
    /** Agents: `away` or back `online`; answers the caller's entry. */
    setStatus(status: Exclude<PresenceStatus, 'offline'>): Promise<Agent>;
    private call;
}
