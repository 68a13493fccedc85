// The agent desk's state: the queue, "my conversations" (with unread counts
// and last-message previews) and the team, kept exact by live events after
// one initial load, with no polling. DOM-free, so every rule is unit-tested;
// the agent console renders it.
const STATUS_RANK = { online: 0, away: 1, offline: 2 };
export class Desk {
    me;
    queueById = new Map();
    mineById = new Map();
    agentsById = new Map();
    customers = new Map();
    /** Assigned to me, being fetched: messages that came meanwhile. */
    awaitingMine = new Map();
    /** Back in the queue, being fetched. */
    awaitingQueue = new Set();
    /** While a snapshot is loading, events wait here and are replayed on it. */
    buffer = null;
    /** Bumped by each presence event, so a team refresh cannot undo a newer one. */
    presenceClock = 0;
    presenceAt = new Map();
    /** The conversation the agent is looking at (page visible), or null: its
     * texts are read as they come, so they do not count as unread. */
    viewing = null;
    constructor(me) {
        this.me = me;
    }
    // ---- loading ------------------------------------------------------------
    /** Call before requesting a snapshot (on every (re)connect): events that
     * arrive until `endSync` are held and replayed on top of the snapshot.
     * The events are idempotent against a snapshot that already holds them. */
    beginSync() {
        this.buffer ??= [];
    }
    get syncing() {
        return this.buffer !== null;
    }
    endSync(s) {
        const events = this.buffer ?? [];
        this.buffer = null;
        const effects = [];
        const before = [...this.mineById.keys()];
        this.queueById.clear();
        for (const c of s.queue)
            if (c.status === 'open' && c.support_id === null)
                this.queueById.set(c.id, normalize(c));
        this.mineById.clear();
        for (const c of s.mine)
            if (c.support_id === this.me)
                this.mineById.set(c.id, normalize(c));
        this.awaitingMine.clear();
        this.awaitingQueue.clear();
        this.agentsById.clear();
        for (const a of s.agents)
            this.agentsById.set(a.id, { ...a });
        // Transferred away while we were disconnected.
        for (const id of before)
            if (!this.mineById.has(id))
                effects.push({ kind: 'left', conversationId: id });
        for (const e of events)
            effects.push(...this.apply(e));
        return effects;
    }
    /** The snapshot failed: apply the held events to what we have. */
    abortSync() {
        const events = this.buffer ?? [];
        this.buffer = null;
        return events.flatMap((e) => this.apply(e));
    }
    /** A later `GET /agents` (for fresh open_conversations counts), requested
     * when `teamClock` was `since`: statuses from newer presence events win. */
    refreshTeam(agents, since) {
        const next = new Map();
        for (const a of agents) {
            const known = this.agentsById.get(a.id);
            const newer = known !== undefined && (this.presenceAt.get(a.id) ?? 0) > since;
            next.set(a.id, { ...a, status: newer ? known.status : a.status });
        }
        // Someone announced by presence but missing from an older answer stays.
        for (const [id, a] of this.agentsById)
            if (!next.has(id))
                next.set(id, a);
        this.agentsById.clear();
        for (const [id, a] of next)
            this.agentsById.set(id, a);
    }
    get teamClock() {
        return this.presenceClock;
    }
    // ---- events -------------------------------------------------------------
    apply(e) {
        if (this.buffer) {
            this.buffer.push(e);
            return [];
        }
        switch (e.kind) {
            case 'created':
                this.created(e.conversation);
                return [];
            case 'assigned':
                return this.assigned(e.assignment);
            case 'closed':
                this.closed(e.conversationId);
                return [];
            case 'message':
                this.message(e.message);
                return [];
            case 'read':
                if (e.readerId === this.me)
                    this.markedRead(e.conversationId);
                return [];
            case 'presence':
                this.presence(e.presence);
                return [];
        }
    }
    /** My own claim succeeded (the `POST …/assign` answer). */
    claimed(c) {
        this.awaitingMine.delete(c.id);
        this.queueById.delete(c.id);
        if (c.support_id === this.me)
            this.mineById.set(c.id, normalize(c));
    }
    /** The answer to a `fetch-mine` effect; ignored when the conversation
     * left us meanwhile. Returns whether it was added. */
    fetched(c) {
        const held = this.awaitingMine.get(c.id);
        if (held === undefined)
            return false;
        this.awaitingMine.delete(c.id);
        if (c.support_id !== this.me)
            return false;
        this.queueById.delete(c.id);
        this.mineById.set(c.id, normalize(c));
        for (const m of held)
            this.message(m);
        return true;
    }
    /** The answer to a `fetch-queued` effect; ignored when it was claimed or
     * closed meanwhile. */
    queued(c) {
        if (!this.awaitingQueue.delete(c.id))
            return false;
        if (c.status !== 'open' || c.support_id !== null)
            return false;
        this.queueById.set(c.id, normalize(c));
        return true;
    }
    /** A fresher copy of a queued conversation, fetched for its preview
     * (agents get no live texts for the queue). Taken only while it is still
     * queued here, still open and unassigned, and newer than what is held.
     * Returns whether it changed. */
    refreshQueued(c) {
        const known = this.queueById.get(c.id);
        if (!known || c.status !== 'open' || c.support_id !== null)
            return false;
        const fresh = normalize(c);
        const seq = (x) => x.last_message?.seq ?? 0;
        if (seq(fresh) <= seq(known) && fresh.subject === known.subject)
            return false;
        this.queueById.set(c.id, seq(fresh) < seq(known) ? { ...fresh, last_message: known.last_message } : fresh);
        return true;
    }
    /** A fetch for an effect failed (e.g. 404: gone again): forget it. */
    fetchFailed(conversationId) {
        this.awaitingMine.delete(conversationId);
        this.awaitingQueue.delete(conversationId);
    }
    /** I marked it read (or another tab of mine did): no badge. */
    markedRead(conversationId) {
        const c = this.mineById.get(conversationId);
        if (c && c.unread_count !== 0)
            this.mineById.set(conversationId, { ...c, unread_count: 0 });
    }
    /** My own status from `PUT /agents/me/status`. */
    setAgent(a) {
        this.agentsById.set(a.id, { ...a });
        this.presenceAt.set(a.id, ++this.presenceClock);
    }
    created(c) {
        if (c.status === 'open' && c.support_id === null && !this.mineById.has(c.id))
            this.queueById.set(c.id, normalize(c));
    }
    assigned(a) {
        const id = a.conversation_id;
        const effects = [];
        if (a.support_id !== null) {
            this.queueById.delete(id);
            this.awaitingQueue.delete(id);
        }
        else if (!this.queueById.has(id)) {
            const mine = this.mineById.get(id);
            if (mine) {
                this.queueById.set(id, { ...mine, support_id: null, unread_count: 0 });
            }
            else if (!this.awaitingQueue.has(id)) {
                this.awaitingQueue.add(id);
                effects.push({ kind: 'fetch-queued', conversationId: id });
            }
        }
        if (a.support_id === this.me) {
            if (!this.mineById.has(id) && !this.awaitingMine.has(id)) {
                this.awaitingMine.set(id, []);
                effects.push({ kind: 'fetch-mine', conversationId: id });
            }
        }
        else if (this.mineById.has(id) || this.awaitingMine.has(id)) {
            const wasListed = this.mineById.delete(id);
            this.awaitingMine.delete(id);
            if (wasListed)
                effects.push({ kind: 'left', conversationId: id });
        }
        return effects;
    }
    closed(id) {
        this.queueById.delete(id);
        this.awaitingQueue.delete(id);
        const c = this.mineById.get(id);
        if (c && c.status !== 'closed')
            this.mineById.set(id, { ...c, status: 'closed' });
    }
    message(m) {
        const id = m.conversation_id;
        const c = this.mineById.get(id);
        if (!c) {
            this.awaitingMine.get(id)?.push(m);
            return;
        }
        // Already reflected in last_message / unread_count (a snapshot taken
        // after it, or a catch-up replay): counting it again would double it.
        if (c.last_message && m.seq <= c.last_message.seq)
            return;
        const fromCustomer = m.message_type === 'text' && m.sender_id === c.client_id && m.sender_id !== this.me;
        const unread = fromCustomer && this.viewing !== id ? c.unread_count + 1 : c.unread_count;
        this.mineById.set(id, { ...c, last_message: m, unread_count: unread });
    }
    presence(p) {
        if (p.side === 'customer') {
            this.customers.set(p.user_id, p.status);
            return;
        }
        this.presenceAt.set(p.user_id, ++this.presenceClock);
        const a = this.agentsById.get(p.user_id);
        this.agentsById.set(p.user_id, a ? { ...a, status: p.status } : { id: p.user_id, status: p.status, open_conversations: 0 });
    }
    // ---- views --------------------------------------------------------------
    /** Open, unassigned conversations, oldest first (who waited longest). */
    get queue() {
        return [...this.queueById.values()].sort((a, b) => cmp(a.created_at, b.created_at) || cmp(a.id, b.id));
    }
    /** Mine: open ones first, then newest first. */
    get mine() {
        return [...this.mineById.values()].sort((a, b) => Number(a.status === 'closed') - Number(b.status === 'closed') ||
            cmp(b.created_at, a.created_at) ||
            cmp(b.id, a.id));
    }
    /** Mine and open, newest first (the console's "Open" tab). */
    get mineOpen() {
        return this.mine.filter((c) => c.status === 'open');
    }
    /** Mine and closed, newest first (the console's "Closed" tab). */
    get mineClosed() {
        return this.mine.filter((c) => c.status === 'closed');
    }
    /** Every agent: online first, then away, then offline; me among them. */
    get team() {
        return [...this.agentsById.values()].sort((a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status] || cmp(a.id, b.id));
    }
    /** Who I can hand a conversation to (everyone but me). */
    get colleagues() {
        return this.team.filter((a) => a.id !== this.me);
    }
    /** My own status (online until the server says otherwise). */
    get myStatus() {
        return this.agentsById.get(this.me)?.status ?? 'online';
    }
    mineConversation(id) {
        return this.mineById.get(id);
    }
    queuedConversation(id) {
        return this.queueById.get(id);
    }
    /** A customer's status, when a presence event told us. */
    customerStatus(clientId) {
        return this.customers.get(clientId);
    }
    get unreadTotal() {
        let n = 0;
        for (const c of this.mineById.values())
            n += c.unread_count;
        return n;
    }
}
/** Fields an older server may not send yet. */
function normalize(c) {
    return { ...c, last_message: c.last_message ?? null, unread_count: c.unread_count ?? 0 };
}
function cmp(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
