import type { Agent, Assignment, Conversation, Message, Presence, PresenceStatus } from './protocol.js';
/** What the desk reacts to (the ChatClient's events, one shape). */
export type DeskEvent = {
    kind: 'created';
    conversation: Conversation;
} | {
    kind: 'assigned';
    assignment: Assignment;
} | {
    kind: 'closed';
    conversationId: string;
} | {
    kind: 'message';
    message: Message;
} | {
    kind: 'read';
    conversationId: string;
    readerId: string;
} | {
    kind: 'presence';
    presence: Presence;
};
/** What the page must do after an event (the desk does no I/O). */
export type DeskEffect = 
/** Assigned to me (a transfer, or a claim from another tab): `GET
 * /conversations/{id}`, then `fetched()`. */
{
    kind: 'fetch-mine';
    conversationId: string;
}
/** Back in the queue and not known here: `GET` it, then `queued()`. */
 | {
    kind: 'fetch-queued';
    conversationId: string;
}
/** No longer mine (transferred away): close it if it is on screen. */
 | {
    kind: 'left';
    conversationId: string;
};
export interface DeskSnapshot {
    /** `GET /conversations?queue=true`. */
    queue: readonly Conversation[];
    /** `GET /conversations`. */
    mine: readonly Conversation[];
    /** `GET /agents`. */
    agents: readonly Agent[];
}
export declare class Desk {
    readonly me: string;
    private readonly queueById;
    private readonly mineById;
    private readonly agentsById;
    private readonly customers;
    /** Assigned to me, being fetched: messages that came meanwhile. */
    private readonly awaitingMine;
    /** Back in the queue, being fetched. */
    private readonly awaitingQueue;
    /** While a snapshot is loading, events wait here and are replayed on it. */
    private buffer;
    /** Bumped by each presence event, so a team refresh cannot undo a newer one. */
    private presenceClock;
    private readonly presenceAt;
    /** The conversation the agent is looking at (page visible), or null: its
     * texts are read as they come, so they do not count as unread. */
    viewing: string | null;
    constructor(me: string);
    /** Call before requesting a snapshot (on every (re)connect): events that
     * arrive until `endSync` are held and replayed on top of the snapshot.
     * The events are idempotent against a snapshot that already holds them. */
    beginSync(): void;
    get syncing(): boolean;
    endSync(s: DeskSnapshot): DeskEffect[];
    /** The snapshot failed: apply the held events to what we have. */
    abortSync(): DeskEffect[];
    /** A later `GET /agents` (for fresh open_conversations counts), requested
     * when `teamClock` was `since`: statuses from newer presence events win. */
    refreshTeam(agents: readonly Agent[], since: number): void;
    get teamClock(): number;
    apply(e: DeskEvent): DeskEffect[];
    /** My own claim succeeded (the `POST …/assign` answer). */
    claimed(c: Conversation): void;
    /** The answer to a `fetch-mine` effect; ignored when the conversation
     * left us meanwhile. Returns whether it was added. */
    fetched(c: Conversation): boolean;
    /** The answer to a `fetch-queued` effect; ignored when it was claimed or
     * closed meanwhile. */
    queued(c: Conversation): boolean;
    /** A fresher copy of a queued conversation, fetched for its preview
     * (agents get no live texts for the queue). Taken only while it is still
     * queued here, still open and unassigned, and newer than what is held.
     * Returns whether it changed. */
    refreshQueued(c: Conversation): boolean;
    /** A fetch for an effect failed (e.g. 404: gone again): forget it. */
    fetchFailed(conversationId: string): void;
    /** I marked it read (or another tab of mine did): no badge. */
    markedRead(conversationId: string): void;
    /** My own status from `PUT /agents/me/status`. */
    setAgent(a: Agent): void;
    private created;
    private assigned;
    private closed;
    private message;
    private presence;
    /** Open, unassigned conversations, oldest first (who waited longest). */
    get queue(): Conversation[];
    /** Mine: open ones first, then newest first. */
    get mine(): Conversation[];
    /** Mine and open, newest first (the console's "Open" tab). */
    get mineOpen(): Conversation[];
    /** Mine and closed, newest first (the console's "Closed" tab). */
    get mineClosed(): Conversation[];
    /** Every agent: online first, then away, then offline; me among them. */
    get team(): Agent[];
    /** Who I can hand a conversation to (everyone but me). */
    get colleagues(): Agent[];
    /** My own status (online until the server says otherwise). */
    get myStatus(): PresenceStatus;
    mineConversation(id: string): Conversation | undefined;
    queuedConversation(id: string): Conversation | undefined;
    /** A customer's status, when a presence event told us. */
    customerStatus(clientId: string): PresenceStatus | undefined;
    get unreadTotal(): number;
}
