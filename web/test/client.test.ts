import { describe, it } from 'node:test';
import { expect } from './expect.js';
import { ChatClient } from '../src/client.js';
import type { Message } from '../src/protocol.js';
import { FakeClock, conversation, flush, historyFetch, message, sockets } from './fake.js';

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

describe('internal notes', () => {
  it('note frames are surfaced as notes (the note event), never as messages, and kept in seq order', async () => {
    const { s, client, got } = setup();
    const notes: Message[] = [];
    client.on('note', (m) => notes.push(m));
    client.connect();
    await flush();
    s.all[0].open();
    s.all[0].receive({ type: 'text', sub_type: '', timestamp: 't', payload: message(1) });
    s.all[0].receive({ type: 'note', sub_type: '', timestamp: 't', payload: message(2, { message_type: 'note', content: 'refund ok' }) });
    s.all[0].receive({ type: 'note', sub_type: '', timestamp: 't', payload: message(2, { message_type: 'note', content: 'refund ok' }) });
    expect(got.map((m) => m.seq)).toEqual([1]);
    expect(notes.map((m) => m.content)).toEqual(['refund ok']);
    expect(client.timeline('C1').messages.map((m) => m.seq)).toEqual([1, 2]);
  });

  it('notes in history (agents) come out as note events on catch-up', async () => {
    const store = [message(1), message(2, { message_type: 'note' })];
    const { clock, s, client, got } = setup({ history: () => store });
    const notes: Message[] = [];
    client.on('note', (m) => notes.push(m));
    client.watch('C1', [store[0]]);
    client.connect();
    await flush();
    s.all[0].drop();
    clock.advance(1000);
    await flush();
    s.all[1].open();
    for (let i = 0; i < 5; i++) await flush();
    expect(got).toHaveLength(0);
    expect(notes.map((m) => m.seq)).toEqual([2]);
  });

  it('sendNote sends a note frame with a client_msg_id and never any typing signal', async () => {
    const { clock, s, client } = setup();
    client.connect();
    await flush();
    s.all[0].open();
    const id = client.sendNote('C1', 'Refund approved by finance');
    clock.advance(10_000);
    expect(s.all[0].sent).toEqual([{ type: 'note', conversation_id: 'C1', content: 'Refund approved by finance', client_msg_id: id }]);
  });

  it('an unacknowledged note is re-sent as a note, with the same id, after a reconnect', async () => {
    const { clock, s, client } = setup();
    client.connect();
    await flush();
    s.all[0].open();
    const id = client.sendNote('C1', 'n');
    s.all[0].drop();
    clock.advance(1000);
    await flush();
    s.all[1].open();
    for (let i = 0; i < 5; i++) await flush();
    expect(s.all[1].sent).toEqual([{ type: 'note', conversation_id: 'C1', content: 'n', client_msg_id: id }]);
    s.all[1].receive({ type: 'note', sub_type: '', timestamp: 't', payload: message(1, { message_type: 'note', client_msg_id: id }) });
    expect(client.pendingCount).toBe(0);
  });

  it('switching to a note ends a reply in progress at once (typing_stopped), and nothing more follows', async () => {
    const { clock, s, client } = setup();
    client.connect();
    await flush();
    s.all[0].open();
    client.keyPressed('C1');
    client.stopTyping('C1');
    expect(s.all[0].sent).toEqual([
      { type: 'system', sub_type: 'typing_started', conversation_id: 'C1' },
      { type: 'system', sub_type: 'typing_stopped', conversation_id: 'C1' },
    ]);
    client.sendNote('C1', 'n');
    clock.advance(5000);
    client.stopTyping('C1'); // not typing: no frame
    expect(s.all[0].sent.filter((f) => (f as { type: string }).type === 'system')).toHaveLength(2);
  });

  it("a note does not hide the customer's typing indicator (only their text does)", async () => {
    const { s, client } = setup();
    const typing: string[][] = [];
    client.on('typing', (_c, who) => typing.push(who));
    client.connect();
    await flush();
    s.all[0].open();
    s.all[0].receive({ type: 'system', sub_type: 'typing_started', timestamp: 't', payload: { conversation_id: 'C1', sender_id: 'cust' } });
    s.all[0].receive({ type: 'note', sub_type: '', timestamp: 't', payload: message(1, { message_type: 'note', sender_id: 'agent' }) });
    expect(typing).toEqual([['cust']]);
  });
});

describe('seq gaps (a customer never sees notes)', () => {
  it('a gap does not stall delivery and asks the server for nothing', async () => {
    const { s, client, got, fetch } = setup();
    client.watch('C1');
    client.connect();
    await flush();
    s.all[0].open();
    for (let i = 0; i < 5; i++) await flush();
    const before = fetch.calls.length;
    for (const seq of [1, 2, 5, 6, 9]) s.all[0].receive({ type: 'text', sub_type: '', timestamp: 't', payload: message(seq) });
    for (let i = 0; i < 5; i++) await flush();
    expect(got.map((m) => m.seq)).toEqual([1, 2, 5, 6, 9]);
    expect(fetch.calls.length).toBe(before);
    expect(client.lastMessage('C1')?.seq).toBe(9);
  });

  it('catch-up after a reconnect starts after the newest message seen, whatever the gaps', async () => {
    const store = [message(1), message(4), message(7)];
    const { clock, s, client, got, fetch } = setup({ history: () => store });
    client.watch('C1', store.slice(0, 2));
    client.connect();
    await flush();
    s.all[0].drop();
    clock.advance(1000);
    await flush();
    s.all[1].open();
    for (let i = 0; i < 5; i++) await flush();
    expect(fetch.calls.at(-1)?.includes(`after=${message(4).id}`)).toBe(true);
    expect(got.map((m) => m.seq)).toEqual([7]);
  });
});

describe('desk events', () => {
  it('conversation_created, conversation_assigned (with previous_support_id) and presence come out typed', async () => {
    const { s, client } = setup();
    const created: string[] = [];
    const assigned: Array<[string, string | null, string | null]> = [];
    const presence: string[] = [];
    client.on('created', (c) => created.push(c.id));
    client.on('assigned', (c, to, from) => assigned.push([c, to, from]));
    client.on('presence', (p) => presence.push(`${p.side}:${p.user_id}:${p.status}`));
    client.connect();
    await flush();
    s.all[0].open();
    s.all[0].receive({ type: 'system', sub_type: 'conversation_created', timestamp: 't', payload: conversation('C9') });
    s.all[0].receive({ type: 'system', sub_type: 'conversation_assigned', timestamp: 't', payload: { conversation_id: 'C9', support_id: 'bob', previous_support_id: 'alice' } });
    s.all[0].receive({ type: 'system', sub_type: 'conversation_assigned', timestamp: 't', payload: { conversation_id: 'C9', support_id: null, previous_support_id: 'bob' } });
    s.all[0].receive({ type: 'system', sub_type: 'presence', timestamp: 't', payload: { user_id: 'bob', side: 'agent', status: 'away' } });
    expect(created).toEqual(['C9']);
    expect(assigned).toEqual([
      ['C9', 'bob', 'alice'],
      ['C9', null, 'bob'],
    ]);
    expect(presence).toEqual(['agent:bob:away']);
  });

  it('forget() stops catch-up for a conversation that was transferred away and drops its unsent texts', async () => {
    const { clock, s, client, fetch } = setup();
    client.watch('C1');
    client.connect();
    await flush();
    s.all[0].drop();
    client.sendText('C1', 'lost cause');
    client.forget('C1');
    const before = fetch.calls.length;
    clock.advance(1000);
    await flush();
    s.all[1].open();
    for (let i = 0; i < 5; i++) await flush();
    expect(fetch.calls.length).toBe(before);
    expect(s.all[1].sent).toEqual([]);
  });

  it('a conversation_not_found error stops retrying its pending texts', async () => {
    const { s, client } = setup();
    client.connect();
    await flush();
    s.all[0].open();
    client.sendText('C1', 'x');
    s.all[0].receive({ type: 'system', sub_type: 'error', timestamp: 't', payload: { code: 'conversation_not_found', message: 'no', conversation_id: 'C1' } });
    expect(client.pendingCount).toBe(0);
  });
});
