import { describe, it } from 'node:test';
import { expect } from './expect.js';
import { Desk, type DeskEvent } from '../src/desk.js';
import type { Agent, Assignment } from '../src/protocol.js';
import { conversation, message } from './fake.js';

const ME = 'alice';

function loaded(over: { queue?: string[]; mine?: string[]; agents?: Agent[] } = {}) {
  const desk = new Desk(ME);
  desk.beginSync();
  const effects = desk.endSync({
    queue: (over.queue ?? []).map((id) => conversation(id)),
    mine: (over.mine ?? []).map((id) => conversation(id, { support_id: ME })),
    agents: over.agents ?? [agent(ME), agent('bob')],
  });
  expect(effects).toEqual([]);
  return desk;
}

const agent = (id: string, status: Agent['status'] = 'online', open = 0): Agent => ({ id, status, open_conversations: open });
const assigned = (conversation_id: string, support_id: string | null, previous_support_id: string | null): DeskEvent => ({
  kind: 'assigned',
  assignment: { conversation_id, support_id, previous_support_id } satisfies Assignment,
});
const text = (conversationId: string, seq: number, sender = 'cust') =>
  ({ kind: 'message', message: message(seq, { conversation_id: conversationId, sender_id: sender }) }) as const;
const ids = (list: Array<{ id: string }>) => list.map((c) => c.id);

describe('Desk: the queue is kept exact by events alone', () => {
  it('fills on conversation_created and empties when a colleague claims it', () => {
    const desk = loaded({ queue: ['Q1'] });
    desk.apply({ kind: 'created', conversation: conversation('Q2', { created_at: '2025-11-18T10:31:00.000Z' }) });
    expect(ids(desk.queue)).toEqual(['Q1', 'Q2']);
    expect(desk.apply(assigned('Q1', 'bob', null))).toEqual([]);
    expect(ids(desk.queue)).toEqual(['Q2']);
    expect(ids(desk.mine)).toEqual([]);
  });

  it('oldest first; a conversation created already assigned (auto routing) never queues', () => {
    const desk = loaded();
    desk.apply({ kind: 'created', conversation: conversation('B', { created_at: '2025-11-18T10:32:00.000Z' }) });
    desk.apply({ kind: 'created', conversation: conversation('A', { created_at: '2025-11-18T10:31:00.000Z' }) });
    desk.apply({ kind: 'created', conversation: conversation('C', { support_id: 'bob' }) });
    expect(ids(desk.queue)).toEqual(['A', 'B']);
  });

  it('closed while queued leaves the queue', () => {
    const desk = loaded({ queue: ['Q1'] });
    desk.apply({ kind: 'closed', conversationId: 'Q1' });
    expect(desk.queue).toEqual([]);
  });

  it('my own claim moves it to mine; the event that follows changes nothing', () => {
    const desk = loaded({ queue: ['Q1'] });
    desk.claimed(conversation('Q1', { support_id: ME }));
    expect(desk.apply(assigned('Q1', ME, null))).toEqual([]);
    expect(ids(desk.queue)).toEqual([]);
    expect(ids(desk.mine)).toEqual(['Q1']);
  });
});

describe('Desk: transfers', () => {
  it('transferred away from me: it leaves my list and the page is told', () => {
    const desk = loaded({ mine: ['M1', 'M2'] });
    expect(desk.apply(assigned('M1', 'bob', ME))).toEqual([{ kind: 'left', conversationId: 'M1' }]);
    expect(ids(desk.mine)).toEqual(['M2']);
    expect(desk.queue).toEqual([]);
  });

  it('transferred to me: fetched, then listed, with the messages that came meanwhile', () => {
    const desk = loaded();
    expect(desk.apply(assigned('T1', ME, 'bob'))).toEqual([{ kind: 'fetch-mine', conversationId: 'T1' }]);
    expect(desk.apply(assigned('T1', ME, 'bob'))).toEqual([]); // already being fetched
    desk.apply(text('T1', 3));
    expect(desk.fetched(conversation('T1', { support_id: ME, last_message: message(2, { conversation_id: 'T1' }), unread_count: 1 }))).toBe(true);
    const [c] = desk.mine;
    expect(c.last_message?.seq).toBe(3);
    expect(c.unread_count).toBe(2);
  });

  it('a fetch answered after the conversation left again is ignored', () => {
    const desk = loaded();
    desk.apply(assigned('T1', ME, 'bob'));
    expect(desk.apply(assigned('T1', 'carl', ME))).toEqual([]);
    expect(desk.fetched(conversation('T1', { support_id: ME }))).toBe(false);
    expect(desk.mine).toEqual([]);
  });

  it('handed back to the queue by me: out of mine, into the queue', () => {
    const desk = loaded({ mine: ['M1'] });
    expect(desk.apply(assigned('M1', null, ME))).toEqual([{ kind: 'left', conversationId: 'M1' }]);
    expect(ids(desk.queue)).toEqual(['M1']);
    expect(desk.queue[0].support_id).toBeNull();
  });

  it("handed back by a colleague: fetched for the queue, unless it is claimed first", () => {
    const desk = loaded();
    expect(desk.apply(assigned('X', null, 'bob'))).toEqual([{ kind: 'fetch-queued', conversationId: 'X' }]);
    expect(desk.queued(conversation('X'))).toBe(true);
    expect(ids(desk.queue)).toEqual(['X']);

    desk.apply(assigned('Y', null, 'bob'));
    desk.apply(assigned('Y', 'carl', null));
    expect(desk.queued(conversation('Y'))).toBe(false);
    expect(ids(desk.queue)).toEqual(['X']);
  });
});

describe('Desk: unread badges and last-message previews', () => {
  it("counts the customer's texts, not mine, not notes; every one updates the preview", () => {
    const desk = loaded({ mine: ['M1'] });
    desk.apply(text('M1', 1));
    desk.apply(text('M1', 2));
    desk.apply(text('M1', 3, ME));
    desk.apply({ kind: 'message', message: message(4, { conversation_id: 'M1', sender_id: ME, message_type: 'note', content: 'n' }) });
    const [c] = desk.mine;
    expect(c.unread_count).toBe(2);
    expect(c.last_message?.content).toBe('n');
    expect(desk.unreadTotal).toBe(2);
  });

  it('the conversation being viewed gets no badge', () => {
    const desk = loaded({ mine: ['M1', 'M2'] });
    desk.viewing = 'M1';
    desk.apply(text('M1', 1));
    desk.apply(text('M2', 1));
    expect(desk.mineConversation('M1')?.unread_count).toBe(0);
    expect(desk.mineConversation('M2')?.unread_count).toBe(1);
  });

  it('reading clears it: my own read (any tab of mine), or markedRead', () => {
    const desk = loaded({ mine: ['M1', 'M2'] });
    desk.apply(text('M1', 1));
    desk.apply(text('M2', 1));
    desk.apply({ kind: 'read', conversationId: 'M1', readerId: 'cust' });
    expect(desk.mineConversation('M1')?.unread_count).toBe(1);
    desk.apply({ kind: 'read', conversationId: 'M1', readerId: ME });
    desk.markedRead('M2');
    expect(desk.unreadTotal).toBe(0);
  });

  it('a message already reflected in last_message is not counted twice (catch-up replays)', () => {
    const desk = new Desk(ME);
    desk.beginSync();
    desk.endSync({ queue: [], mine: [conversation('M1', { support_id: ME, last_message: message(5, { conversation_id: 'M1' }), unread_count: 3 })], agents: [] });
    desk.apply(text('M1', 4));
    desk.apply(text('M1', 5));
    expect(desk.mineConversation('M1')?.unread_count).toBe(3);
    desk.apply(text('M1', 6));
    expect(desk.mineConversation('M1')?.unread_count).toBe(4);
  });
});

describe('Desk: (re)sync', () => {
  it('events during a snapshot load are replayed on it, idempotently', () => {
    const desk = loaded({ mine: ['M1'] });
    desk.beginSync();
    expect(desk.apply({ kind: 'created', conversation: conversation('Q9') })).toEqual([]);
    desk.apply(text('M1', 7));
    desk.apply(assigned('Q8', 'bob', null));
    expect(desk.queue).toEqual([]); // held
    const effects = desk.endSync({
      queue: [conversation('Q8'), conversation('Q9')], // the snapshot predates the claim of Q8
      mine: [conversation('M1', { support_id: ME, last_message: message(7, { conversation_id: 'M1' }), unread_count: 1 })],
      agents: [],
    });
    expect(effects).toEqual([]);
    expect(ids(desk.queue)).toEqual(['Q9']);
    expect(desk.mineConversation('M1')?.unread_count).toBe(1); // 7 was in the snapshot already
  });

  it('a conversation gone from the new snapshot (transferred while offline) is reported as left', () => {
    const desk = loaded({ mine: ['M1', 'M2'] });
    desk.beginSync();
    expect(desk.endSync({ queue: [], mine: [conversation('M2', { support_id: ME })], agents: [] })).toEqual([
      { kind: 'left', conversationId: 'M1' },
    ]);
  });

  it('a failed snapshot applies the held events to what was there', () => {
    const desk = loaded({ queue: ['Q1'] });
    desk.beginSync();
    desk.apply(assigned('Q1', 'bob', null));
    desk.abortSync();
    expect(desk.queue).toEqual([]);
    expect(desk.syncing).toBe(false);
  });
});

describe('Desk: the team', () => {
  it('presence events update statuses live and add agents not seen before', () => {
    const desk = loaded({ agents: [agent(ME), agent('bob')] });
    desk.apply({ kind: 'presence', presence: { user_id: 'bob', side: 'agent', status: 'away' } });
    desk.apply({ kind: 'presence', presence: { user_id: 'dora', side: 'agent', status: 'online' } });
    desk.apply({ kind: 'presence', presence: { user_id: 'cust', side: 'customer', status: 'offline' } });
    expect(desk.team.map((a) => `${a.id}:${a.status}`)).toEqual(['alice:online', 'dora:online', 'bob:away']);
    expect(ids(desk.colleagues)).toEqual(['dora', 'bob']);
    expect(desk.customerStatus('cust')).toBe('offline');
  });

  it('a refresh for counts does not undo a newer presence event', () => {
    const desk = loaded({ agents: [agent(ME), agent('bob')] });
    const since = desk.teamClock;
    desk.apply({ kind: 'presence', presence: { user_id: 'bob', side: 'agent', status: 'offline' } });
    desk.refreshTeam([agent(ME, 'online', 2), agent('bob', 'online', 1)], since);
    expect(desk.team.map((a) => `${a.id}:${a.status}:${a.open_conversations}`)).toEqual(['alice:online:2', 'bob:offline:1']);
  });

  it('my status follows PUT /agents/me/status', () => {
    const desk = loaded();
    expect(desk.myStatus).toBe('online');
    desk.setAgent(agent(ME, 'away'));
    expect(desk.myStatus).toBe('away');
  });
});

describe('Desk: what the console shows besides', () => {
  it('a queued conversation takes a fresher copy (its preview), only while still queued', () => {
    const desk = loaded({ queue: ['Q1'] });
    const withText = conversation('Q1', { last_message: message(1, { conversation_id: 'Q1', sender_id: 'cust', content: 'Hi' }) });
    expect(desk.refreshQueued(withText)).toBe(true);
    expect(desk.queuedConversation('Q1')?.last_message?.content).toBe('Hi');
    expect(desk.refreshQueued(withText)).toBe(false); // nothing new
    expect(desk.refreshQueued(conversation('Q1'))).toBe(false); // older: kept
    expect(desk.queuedConversation('Q1')?.last_message?.content).toBe('Hi');
    expect(desk.refreshQueued(conversation('Q1', { support_id: 'bob', last_message: message(2, { conversation_id: 'Q1' }) }))).toBe(false);
    expect(desk.refreshQueued(conversation('Q9', { last_message: message(1) }))).toBe(false);
    expect(desk.queuedConversation('Q9')).toBe(undefined);
  });

  it('mine splits into open and closed (the Open and Closed tabs)', () => {
    const desk = loaded({ mine: ['M1', 'M2'] });
    desk.apply({ kind: 'closed', conversationId: 'M1' });
    expect(ids(desk.mineOpen)).toEqual(['M2']);
    expect(ids(desk.mineClosed)).toEqual(['M1']);
  });

  it('a text into the open conversation counts as unread while it is not in view (the tab hidden)', () => {
    const desk = loaded({ mine: ['M1'] });
    desk.viewing = 'M1';
    desk.apply(text('M1', 1));
    expect(desk.unreadTotal).toBe(0);
    desk.viewing = null; // the tab was hidden
    desk.apply(text('M1', 2));
    expect(desk.unreadTotal).toBe(1);
    desk.viewing = 'M1';
    desk.markedRead('M1');
    expect(desk.unreadTotal).toBe(0);
  });
});
