import { describe, it } from 'node:test';
import { expect } from './expect.js';
import { Timeline } from '../src/timeline.js';
import { message } from './fake.js';

describe('Timeline: each id once, in seq order', () => {
  it('inserts by seq wherever a message arrives and tells where', () => {
    const t = new Timeline();
    expect(t.add(message(2))).toBe(0);
    expect(t.add(message(5))).toBe(1);
    expect(t.add(message(1))).toBe(0);
    expect(t.add(message(3))).toBe(2);
    expect(t.messages.map((m) => m.seq)).toEqual([1, 2, 3, 5]);
    expect(t.last?.seq).toBe(5);
    expect(t.indexOf(message(3).id)).toBe(2);
  });

  it('a second copy of an id is refused (-1) and changes nothing', () => {
    const t = new Timeline();
    t.add(message(1));
    expect(t.add(message(1, { content: 'other' }))).toBe(-1);
    expect(t.size).toBe(1);
    expect(t.get(message(1).id)?.content).toBe('m1');
  });

  it('gaps are fine: nothing waits for a missing seq', () => {
    const t = new Timeline();
    for (const seq of [1, 4, 9]) t.add(message(seq));
    expect(t.messages.map((m) => m.seq)).toEqual([1, 4, 9]);
  });

  it('markRead sets read_at up to a message (by seq) on the chosen ones only, once', () => {
    const t = new Timeline();
    t.add(message(1, { sender_id: 'me' }));
    t.add(message(2, { sender_id: 'them' }));
    t.add(message(3, { sender_id: 'me' }));
    t.add(message(4, { sender_id: 'me' }));
    const changed = t.markRead(message(3).id, (m) => m.sender_id === 'me', 'T');
    expect(changed.map((m) => m.seq)).toEqual([1, 3]);
    expect(t.get(message(4).id)?.read_at).toBeNull();
    expect(t.markRead(message(3).id, (m) => m.sender_id === 'me', 'T')).toEqual([]);
    expect(t.markRead('unknown', () => true)).toEqual([]);
  });

  it('lastWhere finds the newest match', () => {
    const t = new Timeline();
    t.add(message(1, { sender_id: 'a' }));
    t.add(message(2, { sender_id: 'b' }));
    t.add(message(3, { sender_id: 'a', message_type: 'note' }));
    expect(t.lastWhere((m) => m.sender_id === 'a' && m.message_type === 'text')?.seq).toBe(1);
    expect(t.lastWhere((m) => m.sender_id === 'z')).toBe(undefined);
  });
});
