import { describe, it } from 'node:test';
import { expect } from './expect.js';
import { ChatClient } from '../src/client.js';
import type { Message } from '../src/protocol.js';
import { FakeClock, flush, historyFetch, message, sockets } from './fake.js';

function setup(opts: { history?: () => Message[]; random?: number } = {}) {
  const clock = new FakeClock();
  const s = sockets();
  const store: Message[] = [];
  const fetch = historyFetch(opts.history ?? (() => store));
  let n = 0;
  const client = new ChatClient({
    url: 'ws://chat.test/chats/clients',
    token: 'T0KEN',
    clock,
    socket: s.factory,
    fetch,
    random: () => opts.random ?? 0.5,
    newId: () => `cmid-${++n}`,
  });
  const got: Message[] = [];
  client.on('message', (m) => got.push(m));
  return { clock, s, client, got, fetch, store };
}

describe('connecting', () => {
  it('offers quickconnect.v1 and the token as bearer.<jwt>', () => {
    const { s, client } = setup();
    client.connect();
    expect(s.all[0].protocols).toEqual(['quickconnect.v1', 'bearer.T0KEN']);
    expect(s.all[0].url).toBe('ws://chat.test/chats/clients');
  });
});

describe('reconnect with exponential backoff and jitter', () => {
  it('waits 0.5 s, 1 s, 2 s … (×0.5–1 jitter), capped, and resets after success', async () => {
    const { clock, s, client } = setup({ random: 1 });
    const statuses: string[] = [];
    client.on('status', (st) => statuses.push(st));
    client.connect();
    await flush();
    s.all[0].drop();
    const expected = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000];
    for (const [i, delay] of expected.entries()) {
      clock.advance(delay - 1);
      await flush();
      expect(s.all.length, `attempt ${i}`).toBe(i + 1);
      clock.advance(1);
      await flush();
      expect(s.all.length).toBe(i + 2);
      if (i < expected.length - 1) s.all[i + 1].drop();
    }
    s.all[s.all.length - 1].open();
    await flush();
    expect(client.status).toBe('open');
    s.all[s.all.length - 1].drop();
    clock.advance(500); // back to the first delay
    await flush();
    expect(s.all.length).toBe(expected.length + 2);
    expect(statuses[0]).toBe('connecting');
    expect(statuses[1]).toBe('reconnecting');
    expect(statuses.at(-2)).toBe('open');
    expect(statuses.at(-1)).toBe('reconnecting');
  });

  it('jitter spreads the delay between half and all of the step', async () => {
    const { clock, s, client } = setup({ random: 0 });
    client.connect();
    await flush();
    s.all[0].drop();
    clock.advance(249);
    await flush();
    expect(s.all.length).toBe(1);
    clock.advance(1); // 500 × 0.5
    await flush();
    expect(s.all.length).toBe(2);
  });

  it('close() stops for good', async () => {
    const { clock, s, client } = setup();
    client.connect();
    await flush();
    s.all[0].open();
    client.close();
    clock.advance(60_000);
    await flush();
    expect(s.all.length).toBe(1);
    expect(client.status).toBe('closed');
  });
});

describe('catch-up and de-duplication', () => {
  it('after a reconnect fetches what came after the last message seen, page by page, once each', async () => {
    const store: Message[] = [];
    for (let i = 1; i <= 3; i++) store.push(message(i));
    const { clock, s, client, got, fetch } = setup({ history: () => store });
    client.watch('C1', store.slice());
    client.connect();
    await flush();
    s.all[0].open();
    await flush();
    s.all[0].receive({ type: 'text', sub_type: '', timestamp: 't', payload: message(4) });
    store.push(message(4));
    s.all[0].drop();
    for (let i = 5; i <= 450; i++) store.push(message(i)); // missed while away
    clock.advance(1000);
    await flush();
    s.all[1].open();
    for (let i = 0; i < 10; i++) await flush();
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 447 }, (_, i) => i + 4));
    expect(fetch.calls.some((u) => u.includes(`after=${message(4).id}`))).toBe(true);
    expect(fetch.calls.every((u) => !u.includes('T0KEN'))).toBe(true);
    // A late live duplicate is ignored.
    s.all[1].receive({ type: 'text', sub_type: '', timestamp: 't', payload: message(450) });
    expect(got.length).toBe(447);
  });

  it('the same message live twice is delivered once', async () => {
    const { s, client, got } = setup();
    client.connect();
    await flush();
    s.all[0].open();
    const f = { type: 'text', sub_type: '', timestamp: 't', payload: message(1) };
    s.all[0].receive(f);
    s.all[0].receive(f);
    expect(got).toHaveLength(1);
  });
});

describe('client_msg_id: retries are never doubled', () => {
  it('every text carries a fresh client_msg_id; unacknowledged ones are re-sent with the same id after a reconnect', async () => {
    const { clock, s, client } = setup();
    client.watch('C1');
    client.connect();
    await flush();
    s.all[0].open();
    await flush();
    const a = client.sendText('C1', 'hello');
    const b = client.sendText('C1', 'second');
    expect(a).not.toBe(b);
    expect(s.all[0].sent).toEqual([
      { type: 'text', conversation_id: 'C1', content: 'hello', client_msg_id: a },
      { type: 'text', conversation_id: 'C1', content: 'second', client_msg_id: b },
    ]);
    // 'hello' is echoed (stored); 'second' is lost with the connection.
    s.all[0].receive({ type: 'text', sub_type: '', timestamp: 't', payload: message(1, { client_msg_id: a, content: 'hello' }) });
    expect(client.pendingCount).toBe(1);
    s.all[0].drop();
    clock.advance(1000);
    await flush();
    s.all[1].open();
    for (let i = 0; i < 5; i++) await flush();
    expect(s.all[1].sent).toEqual([{ type: 'text', conversation_id: 'C1', content: 'second', client_msg_id: b }]);
  });

  it('a text sent while disconnected goes out after the reconnect', async () => {
    const { clock, s, client } = setup();
    client.connect();
    await flush();
    s.all[0].drop();
    const id = client.sendText('C1', 'offline');
    clock.advance(1000);
    await flush();
    s.all[1].open();
    for (let i = 0; i < 5; i++) await flush();
    expect(s.all[1].sent).toEqual([{ type: 'text', conversation_id: 'C1', content: 'offline', client_msg_id: id }]);
  });
});

describe('closed conversations disable sending', () => {
  it('after conversation_closed nothing more is sent, typing included', async () => {
    const { s, client } = setup();
    const closed: string[] = [];
    client.on('closed', (c) => closed.push(c));
    client.connect();
    await flush();
    s.all[0].open();
    s.all[0].receive({ type: 'system', sub_type: 'conversation_closed', timestamp: 't', payload: { conversation_id: 'C1', closed_by: 'agent' } });
    expect(closed).toEqual(['C1']);
    expect(client.canSend('C1')).toBe(false);
    expect(client.sendText('C1', 'late')).toBeNull();
    client.keyPressed('C1');
    expect(s.all[0].sent).toEqual([]);
    expect(client.canSend('C2')).toBe(true);
  });

  it('a conversation_closed error stops retrying its pending texts', async () => {
    const { s, client } = setup();
    client.connect();
    await flush();
    s.all[0].open();
    client.sendText('C1', 'x');
    s.all[0].receive({ type: 'system', sub_type: 'error', timestamp: 't', payload: { code: 'conversation_closed', message: 'closed', conversation_id: 'C1' } });
    expect(client.pendingCount).toBe(0);
    expect(client.canSend('C1')).toBe(false);
  });
});

describe('typing through the client', () => {
  it('throttles outgoing typing and shows incoming typing until the message arrives', async () => {
    const { clock, s, client } = setup();
    const typing: string[][] = [];
    client.on('typing', (_c, who) => typing.push(who));
    client.connect();
    await flush();
    s.all[0].open();
    client.keyPressed('C1');
    clock.advance(100);
    client.keyPressed('C1');
    expect(s.all[0].sent).toEqual([{ type: 'system', sub_type: 'typing_started', conversation_id: 'C1' }]);
    clock.advance(1000);
    expect(s.all[0].sent.at(-1)).toEqual({ type: 'system', sub_type: 'typing_stopped', conversation_id: 'C1' });

    s.all[0].receive({ type: 'system', sub_type: 'typing_started', timestamp: 't', payload: { conversation_id: 'C1', sender_id: 'agent' } });
    expect(typing.at(-1)).toEqual(['agent']);
    s.all[0].receive({ type: 'text', sub_type: '', timestamp: 't', payload: message(1, { sender_id: 'agent' }) });
    expect(typing.at(-1)).toEqual([]);
  });
});
