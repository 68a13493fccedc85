// Test doubles: a manual clock and a scripted WebSocket/fetch.
import type { Clock, TimerId } from '../src/clock.js';
import type { Fetcher, SocketLike } from '../src/client.js';
import type { Conversation, Message } from '../src/protocol.js';

export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(id: TimerId): void {
    this.timers.delete(id as number);
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
  get pendingTimers(): number {
    return this.timers.size;
  }
}

export class FakeSocket implements SocketLike {
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.readyState = 3;
  }
  // server side
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

export function sockets(): { factory: (url: string, p: string[]) => FakeSocket; all: FakeSocket[] } {
  const all: FakeSocket[] = [];
  return {
    all,
    factory: (url, p) => {
      const s = new FakeSocket(url, p);
      all.push(s);
      return s;
    },
  };
}

/** A fetch that serves history pages from a list of messages. */
export function historyFetch(messages: () => Array<{ id: string; seq: number }>): Fetcher & { calls: string[] } {
  const calls: string[] = [];
  const f = async (url: string) => {
    calls.push(url);
    const u = new URL(url);
    const after = u.searchParams.get('after');
    const limit = Number(u.searchParams.get('limit') ?? 50);
    const all = messages();
    const start = after ? all.findIndex((m) => m.id === after) + 1 : Math.max(0, all.length - limit);
    const items = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return {
      ok: true,
      status: 200,
      json: async () => ({ items, next_cursor: after && more ? items[items.length - 1].id : null }),
    };
  };
  return Object.assign(f, { calls });
}

export function message(seq: number, over: Partial<Message> = {}): Message {
  return {
    id: `01MSG${String(seq).padStart(21, '0')}`,
    conversation_id: 'C1',
    sender_id: 'agent',
    message_type: 'text',
    content: `m${seq}`,
    created_at: '2025-11-18T10:30:00.000Z',
    read_at: null,
    seq,
    client_msg_id: null,
    ...over,
  };
}

export function conversation(id: string, over: Partial<Conversation> = {}): Conversation {
  return {
    id,
    client_id: 'cust',
    support_id: null,
    status: 'open',
    subject: `about ${id}`,
    created_at: '2025-11-18T10:30:00.000Z',
    closed_at: null,
    last_message: null,
    unread_count: 0,
    ...over,
  };
}

export const flush = () => new Promise((r) => setTimeout(r, 0));
