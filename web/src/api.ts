// The HTTP API (docs/http-api.md), typed. Used by ChatClient for history
// catch-up and by the pages for everything that is not a live frame.

import type { Agent, Conversation, Message, Page, PresenceStatus } from './protocol.js';

export interface FetchInit {
  method?: string;
  headers: Record<string, string>;
  body?: string;
}

/** The part of `fetch` used here (the browser's and node's fit). */
export type Fetcher = (
  url: string,
  init: FetchInit,
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

export type TokenSource = string | (() => string | Promise<string>);

export interface ApiOptions {
  /** e.g. `https://chat.example.com` (no trailing slash). */
  base: string;
  token: TokenSource;
  fetch?: Fetcher;
}

/** A refused request: `status` is the HTTP status (0 when the network failed),
 * `code` the API's error code (`already_assigned`, `unknown_agent`, …). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
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

export class Api {
  private readonly fetcher: Fetcher;

  constructor(private readonly options: ApiOptions) {
    this.fetcher = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** Customers: open a conversation. */
  createConversation(subject: string | null = null): Promise<Conversation> {
    return this.call('POST', '/conversations', subject === null ? {} : { subject });
  }

  conversation(id: string): Promise<Conversation> {
    return this.call('GET', `/conversations/${enc(id)}`);
  }

  /** Customers: their own; agents: assigned to them, or the queue. */
  conversations(q: ListQuery = {}): Promise<Page<Conversation>> {
    return this.call('GET', `/conversations${query({ queue: q.queue ? 'true' : undefined, limit: q.limit, cursor: q.cursor })}`);
  }

  /** Agents: claim an unassigned conversation. */
  assign(id: string): Promise<Conversation> {
    return this.call('POST', `/conversations/${enc(id)}/assign`);
  }

  /** The assigned agent hands the conversation to agent `to`, or back to the queue (`null`). */
  transfer(id: string, to: string | null): Promise<Conversation> {
    return this.call('POST', `/conversations/${enc(id)}/transfer`, { to });
  }

  close(id: string): Promise<Conversation> {
    return this.call('POST', `/conversations/${enc(id)}/close`);
  }

  /** Marks the other side's messages read up to `upTo` (a message id). */
  async markRead(id: string, upTo: string): Promise<void> {
    await this.call('POST', `/conversations/${enc(id)}/read`, { up_to: upTo });
  }

  /** A page of history, oldest first (agents get notes too). */
  messages(id: string, q: HistoryQuery = {}): Promise<Page<Message>> {
    return this.call('GET', `/conversations/${enc(id)}/messages${query({ after: q.after, before: q.before, limit: q.limit })}`);
  }

  /** Agents: every agent with live presence and open conversations. */
  async agents(): Promise<Agent[]> {
    return (await this.call<{ items: Agent[] }>('GET', '/agents')).items;
  }

  /** Agents: `away` or back `online`; answers the caller's entry. */
  setStatus(status: Exclude<PresenceStatus, 'offline'>): Promise<Agent> {
    return this.call('PUT', '/agents/me/status', { status });
  }

  private async call<T>(method: string, path: string, body?: object): Promise<T> {
    const t = this.options.token;
    const token = typeof t === 'function' ? await t() : t;
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Awaited<ReturnType<Fetcher>>;
    try {
      res = await this.fetcher(`${this.options.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'network', e instanceof Error ? e.message : 'network error');
    }
    if (res.status === 204) return undefined as T;
    const data: unknown = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = (typeof data === 'object' && data !== null ? data : {}) as { code?: unknown; message?: unknown };
      throw new ApiError(
        res.status,
        typeof err.code === 'string' ? err.code : 'http_error',
        typeof err.message === 'string' ? err.message : `HTTP ${res.status}`,
      );
    }
    return data as T;
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
