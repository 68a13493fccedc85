// ChatClient: the state of every text sent (pending, failed, sent), Retry,
// and the token refused (4001, a 401) renewed or ending the session.
import { describe, it } from 'node:test';
import { expect } from './expect.js';
import { ChatClient, type Outgoing, SessionExpiredError, type TokenRequest } from '../src/client.js';
import type { Fetcher } from '../src/api.js';
import { FakeClock, flush, historyFetch, message, sockets } from './fake.js';

function setup(opts: { token?: string | ((r: TokenRequest) => string | Promise<string>); fetch?: Fetcher; probeAuth?: boolean } = {}) {
  const clock = new FakeClock();
  const s = sockets();
  let n = 0;
  const client = new ChatClient({
    url: 'ws://chat.test/chats/clients',
    token: opts.token ?? 'T0KEN',
    clock,
    socket: s.factory,
    fetch: opts.fetch ?? historyFetch(() => []),
    random: () => 0.5,
    newId: () => `cmid-${++n}`,
    probeAuth: opts.probeAuth,
  });
  const events: Outgoing[] = [];
  client.on('outgoing', (o) => events.push(o));
  const states = () => events.map((o) => `${o.clientMsgId}:${o.state}${o.reason ? `(${o.reason})` : ''}`);
  return { clock, s, client, events, states };
}

const textFrame = (seq: number, clientMsgId: string, content = `m${seq}`) => ({
  type: 'text',
  sub_type: '',
  timestamp: 't',
  payload: message(seq, { sender_id: 'cust', client_msg_id: clientMsgId, content }),
});
const errorFrame = (code: string, conversationId = 'C1') => ({
  type: 'system',
  sub_type: 'error',
  timestamp: 't',
  payload: { code, message: code, conversation_id: conversationId },
});

async function connected(client: ChatClient, s: ReturnType<typeof sockets>, i = 0) {
  client.connect();
  await flush();
  s.all[i].open();
  await flush();
}

describe('pending texts', () => {
  it('a text sent while offline is pending, sent once with its client_msg_id on reconnect, then sent', async () => {
    const { clock, s, client, states } = setup();
    client.watch('C1');
    client.connect();
    await flush();
    s.all[0].drop();
    const id = client.sendText('C1', 'offline')!;
    expect(client.outgoing('C1')).toEqual([{ clientMsgId: id, conversationId: 'C1', kind: 'text', content: 'offline', state: 'pending' }]);
    expect(client.pendingCount).toBe(1);
    clock.advance(1000);
    await flush();
    s.all[1].open();
    for (let i = 0; i < 5; i++) await flush();
    expect(s.all[1].sent).toEqual([{ type: 'text', conversation_id: 'C1', content: 'offline', client_msg_id: id }]);
    s.all[1].receive(textFrame(1, id, 'offline'));
    expect(states()).toEqual([`${id}:pending`, `${id}:sent`]);
    expect(client.outgoing('C1')).toEqual([]);
    expect(client.timeline('C1').messages.map((m) => m.content)).toEqual(['offline']);
  });

  it('the message event comes before the sent state (the page never shows neither)', async () => {
    const { s, client } = setup();
    const order: string[] = [];
    client.on('message', () => order.push('message'));
    client.on('outgoing', (o) => order.push(o.state));
    await connected(client, s);
    const id = client.sendText('C1', 'hi')!;
    s.all[0].receive(textFrame(1, id, 'hi'));
    expect(order).toEqual(['pending', 'message', 'sent']);
  });

  it('an echo of a message already in the timeline (a retry of a stored text) still settles it', async () => {
    const { s, client, states } = setup();
    await connected(client, s);
    const id = client.sendText('C1', 'x')!;
    client.watch('C1', [message(1, { client_msg_id: 'other' })]);
    s.all[0].receive(textFrame(1, id, 'x')); // same message id as the one watched
    expect(states().at(-1)).toBe(`${id}:sent`);
  });
});

describe('failed texts and Retry', () => {
  it('content the server would refuse fails at once and is never sent', async () => {
    const { s, client, states } = setup();
    await connected(client, s);
    const empty = client.sendText('C1', '   ')!;
    const long = client.sendText('C1', 'é'.repeat(4097))!;
    const max = client.sendText('C1', '😀'.repeat(4096))!; // 4096 scalar values is fine
    expect(states()).toEqual([`${empty}:failed(invalid_content)`, `${long}:failed(invalid_content)`, `${max}:pending`]);
    expect(s.all[0].sent).toHaveLength(1);
    expect(client.retry(empty)).toBe(false);
    expect(client.failedCount).toBe(2);
  });

  it('an invalid_content error fails the latest text in flight; Retry sends it again with the same id', async () => {
    const { s, client, states } = setup();
    await connected(client, s);
    const a = client.sendText('C1', 'a')!;
    const b = client.sendText('C1', 'b')!;
    s.all[0].receive(errorFrame('invalid_content'));
    expect(states().at(-1)).toBe(`${b}:failed(invalid_content)`);
    expect(client.outgoing('C1').map((o) => o.state)).toEqual(['pending', 'failed']);
    expect(client.retry(b)).toBe(true);
    expect(s.all[0].sent.at(-1)).toEqual({ type: 'text', conversation_id: 'C1', content: 'b', client_msg_id: b });
    expect(states().at(-1)).toBe(`${b}:pending`);
    s.all[0].receive(textFrame(1, a, 'a'));
    s.all[0].receive(textFrame(2, b, 'b'));
    expect(client.outgoing('C1')).toEqual([]);
  });

  it('unavailable (storage failed) fails the oldest text in flight', async () => {
    const { s, client, states } = setup();
    await connected(client, s);
    const a = client.sendText('C1', 'a')!;
    client.sendText('C1', 'b');
    s.all[0].receive(errorFrame('unavailable'));
    expect(states().at(-1)).toBe(`${a}:failed(unavailable)`);
  });

  it('an error that names the client_msg_id fails that text', async () => {
    const { s, client, states } = setup();
    await connected(client, s);
    const a = client.sendText('C1', 'a')!;
    client.sendText('C1', 'b');
    s.all[0].receive({ type: 'system', sub_type: 'error', timestamp: 't', payload: { code: 'invalid_content', message: 'x', conversation_id: 'C1', client_msg_id: a } });
    expect(states().at(-1)).toBe(`${a}:failed(invalid_content)`);
  });

  it('no answer while connected: failed (timeout) after 10 s; an echo after that still makes it sent', async () => {
    const { clock, s, client, states } = setup();
    await connected(client, s);
    const a = client.sendText('C1', 'a')!;
    clock.advance(9_999);
    expect(states()).toEqual([`${a}:pending`]);
    clock.advance(1);
    expect(states().at(-1)).toBe(`${a}:failed(timeout)`);
    s.all[0].receive(textFrame(1, a, 'a'));
    expect(states().at(-1)).toBe(`${a}:sent`);
  });

  it('a timed-out text goes out again, as pending, after the next reconnect; one refused by the server does not', async () => {
    const { clock, s, client, states } = setup();
    await connected(client, s);
    const a = client.sendText('C1', 'a')!;
    clock.advance(10_000);
    const b = client.sendText('C1', 'b')!;
    s.all[0].receive(errorFrame('invalid_content'));
    expect(client.failedCount).toBe(2);
    s.all[0].drop();
    clock.advance(1000);
    await flush();
    s.all[1].open();
    for (let i = 0; i < 5; i++) await flush();
    expect(s.all[1].sent).toEqual([{ type: 'text', conversation_id: 'C1', content: 'a', client_msg_id: a }]);
    expect(states().filter((x) => x.startsWith(b)).at(-1)).toBe(`${b}:failed(invalid_content)`);
  });

  it('a dropped connection stops the answer timer (the text stays pending for the reconnect)', async () => {
    const { clock, s, client, states } = setup();
    await connected(client, s);
    const a = client.sendText('C1', 'a')!;
    s.all[0].drop();
    clock.advance(9_000);
    await flush();
    clock.advance(20_000);
    expect(states()).toEqual([`${a}:pending`]);
  });

  it('texts to a closed conversation fail (no Retry can help); discard drops a failed one', async () => {
    const { s, client, states } = setup();
    await connected(client, s);
    const a = client.sendText('C1', 'a')!;
    s.all[0].receive({ type: 'system', sub_type: 'conversation_closed', timestamp: 't', payload: { conversation_id: 'C1', closed_by: 'agent' } });
    expect(states().at(-1)).toBe(`${a}:failed(conversation_closed)`);
    expect(client.retry(a)).toBe(false);
    expect(client.discard(a)).toBe(true);
    expect(states().at(-1)).toBe(`${a}:dropped`);
    expect(client.outgoing('C1')).toEqual([]);
  });
});

describe('a refused token', () => {
  it('a 4001 close calls the token function again with refused: true, and connects with the new token', async () => {
    const asked: boolean[] = [];
    const { clock, s, client } = setup({
      token: (r) => {
        asked.push(r.refused);
        return r.refused ? 'NEW' : 'OLD';
      },
    });
    await connected(client, s);
    s.all[0].drop(4001);
    clock.advance(1000);
    await flush();
    expect(asked).toEqual([false, true]);
    expect(s.all[1].protocols).toEqual(['quickconnect.v1', 'bearer.NEW']);
    s.all[1].drop(1006);
    clock.advance(1000);
    await flush();
    expect(asked).toEqual([false, true, false]);
  });

  it('a token function that throws SessionExpiredError stops the client: expired, closed, no more attempts', async () => {
    const { clock, s, client } = setup({
      token: (r) => {
        if (r.refused) throw new SessionExpiredError();
        return 'OLD';
      },
    });
    let expired = 0;
    client.on('expired', () => expired++);
    await connected(client, s);
    s.all[0].drop(4001);
    clock.advance(1000);
    await flush();
    expect(expired).toBe(1);
    expect(client.status).toBe('closed');
    clock.advance(120_000);
    await flush();
    expect(s.all).toHaveLength(1);
  });

  it('a fixed token closed with 4001 cannot be renewed: expired', async () => {
    const { clock, s, client } = setup();
    let expired = 0;
    client.on('expired', () => expired++);
    await connected(client, s);
    s.all[0].drop(4001);
    clock.advance(1000);
    await flush();
    expect(expired).toBe(1);
    expect(s.all).toHaveLength(1);
  });

  it('another error from the token function (e.g. offline) is retried with backoff', async () => {
    let fail = true;
    const { clock, s, client } = setup({
      token: () => {
        if (fail) throw new Error('offline');
        return 'T';
      },
    });
    client.connect();
    await flush();
    expect(s.all).toHaveLength(0);
    fail = false;
    clock.advance(1000);
    await flush();
    expect(s.all).toHaveLength(1);
  });

  it('with probeAuth, a connection that never opened asks the API; a 401 counts as refused', async () => {
    const calls: string[] = [];
    const fetch: Fetcher = async (url) => {
      calls.push(url);
      return { ok: false, status: 401, json: async () => ({ code: 'unauthorized', message: 'no' }) };
    };
    const asked: boolean[] = [];
    const { clock, s, client } = setup({ fetch, probeAuth: true, token: (r) => (asked.push(r.refused), 'T') });
    client.connect();
    await flush();
    s.all[0].drop(1006); // a refused upgrade looks like this in a browser
    for (let i = 0; i < 3; i++) await flush();
    expect(calls).toEqual(['http://chat.test/conversations?limit=1']);
    clock.advance(1000);
    await flush();
    expect(asked).toEqual([false, true]);
  });

  it('with probeAuth, a server that cannot be reached is not a refusal', async () => {
    const fetch: Fetcher = async () => {
      throw new Error('ECONNREFUSED');
    };
    const asked: boolean[] = [];
    const { clock, s, client } = setup({ fetch, probeAuth: true, token: (r) => (asked.push(r.refused), 'T') });
    client.connect();
    await flush();
    s.all[0].drop(1006);
    for (let i = 0; i < 3; i++) await flush();
    clock.advance(1000);
    await flush();
    expect(asked).toEqual([false, false]);
  });
});
