// The HTTP API (docs/http-api.md), typed. Used by ChatClient for history
// catch-up and by the pages for everything that is not a live frame.
/** A refused request: `status` is the HTTP status (0 when the network failed),
 * `code` the API's error code (`already_assigned`, `unknown_agent`, …). */
export class ApiError extends Error {
    status;
    code;
    constructor(status, code, message) {
        super(message);
        this.status = status;
        this.code = code;
        this.name = 'ApiError';
    }
}
export class Api {
    options;
    fetcher;
    constructor(options) {
        this.options = options;
        this.fetcher = options.fetch ?? ((url, init) => fetch(url, init));
    }
    /** Customers: open a conversation. */
    createConversation(subject = null) {
        return this.call('POST', '/conversations', subject === null ? {} : { subject });
    }
    conversation(id) {
        return this.call('GET', `/conversations/${enc(id)}`);
    }
    /** Customers: their own; agents: assigned to them, or the queue. */
    conversations(q = {}) {
        return this.call('GET', `/conversations${query({ queue: q.queue ? 'true' : undefined, limit: q.limit, cursor: q.cursor })}`);
    }
    /** Agents: claim an unassigned conversation. */
    assign(id) {
        return this.call('POST', `/conversations/${enc(id)}/assign`);
    }
    /** The assigned agent hands the conversation to agent `to`, or back to the queue (`null`). */
    transfer(id, to) {
        return this.call('POST', `/conversations/${enc(id)}/transfer`, { to });
    }
    close(id) {
        return this.call('POST', `/conversations/${enc(id)}/close`);
    }
    /** Marks the other side's messages read up to `upTo` (a message id). */
    async markRead(id, upTo) {
        await this.call('POST', `/conversations/${enc(id)}/read`, { up_to: upTo });
    }
    /** A page of history, oldest first (agents get notes too). */
    messages(id, q = {}) {
        return this.call('GET', `/conversations/${enc(id)}/messages${query({ after: q.after, before: q.before, limit: q.limit })}`);
    }
    /** Agents: every agent with live presence and open conversations. */
    async agents() {
        return (await this.call('GET', '/agents')).items;
    }
    /** Agents: `away` or back `online`; answers the caller's entry. */
    setStatus(status) {
        return this.call('PUT', '/agents/me/status', { status });
    }
    async call(method, path, body) {
        const t = this.options.token;
        const token = typeof t === 'function' ? await t() : t;
        const headers = { Authorization: `Bearer ${token}` };
        if (body !== undefined)
            headers['Content-Type'] = 'application/json';
        let res;
        try {
            res = await this.fetcher(`${this.options.base}${path}`, {
                method,
                headers,
                body: body === undefined ? undefined : JSON.stringify(body),
            });
        }
        catch (e) {
            throw new ApiError(0, 'network', e instanceof Error ? e.message : 'network error');
        }
        if (res.status === 204)
            return undefined;
        const data = await res.json().catch(() => ({}));
        if (!res.ok) {
            const err = (typeof data === 'object' && data !== null ? data : {});
            throw new ApiError(res.status, typeof err.code === 'string' ? err.code : 'http_error', typeof err.message === 'string' ? err.message : `HTTP ${res.status}`);
        }
        return data;
    }
}
function enc(id) {
    return encodeURIComponent(id);
}
function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params))
        if (v !== undefined)
            q.set(k, String(v));
    const s = q.toString();
    return s ? `?${s}` : '';
}
