// The agent console's logic that needs no browser: wording (waiting times,
// the tab title, names and previews), the tabs' keys, the keyed list plan
// that keeps nodes (and so the focus) in place, and the queue previews.
import { describe, it } from 'node:test';
import { expect } from './expect.js';
import {
  announcement,
  conversationName,
  durationText,
  openLabel,
  previewDelay,
  previewText,
  snippet,
  tabTarget,
  titleText,
  waitingText,
} from '../src/pages/console_format.js';
import { type ListHost, applyKeyed, neighbourKey, planKeyed } from '../src/pages/keyed.js';
import { QueueAnnouncer, QueuePreviews } from '../src/pages/console_queue.js';
import type { Conversation } from '../src/protocol.js';
import { FakeClock, conversation, flush, message } from './fake.js';

const ME = 'alice';
const MIN = 60_000;

describe('console wording', () => {
  it('the tab title leads with the unread count', () => {
    expect(titleText(0)).toBe('Quick Connect — Agent');
    expect(titleText(3)).toBe('(3) Quick Connect — Agent');
    expect(titleText(250)).toBe('(99+) Quick Connect — Agent');
  });

  it('waiting times: under a minute, minutes, hours and minutes, days and hours', () => {
    expect(durationText(0)).toBe('under 1 min');
    expect(durationText(59_999)).toBe('under 1 min');
    expect(durationText(MIN)).toBe('1 min');
    expect(durationText(3 * MIN + 59_000)).toBe('3 min');
    expect(durationText(59 * MIN)).toBe('59 min');
    expect(durationText(60 * MIN)).toBe('1 h');
    expect(durationText(65 * MIN)).toBe('1 h 5 min');
    expect(durationText(24 * 60 * MIN)).toBe('1 d');
    expect(durationText(51 * 60 * MIN)).toBe('2 d 3 h');
  });

  it('a start in the future (clock skew) or an unreadable one counts as now', () => {
    const t = Date.parse('2025-11-18T10:30:00.000Z');
    expect(waitingText('2025-11-18T10:30:00.000Z', t + 3 * MIN)).toBe('3 min');
    expect(waitingText('2025-11-18T10:31:00.000Z', t)).toBe('under 1 min');
    expect(waitingText('not a date', t)).toBe('under 1 min');
  });

  it('snippets are one line, cut with an ellipsis', () => {
    expect(snippet('  Hello\n\n  there  ')).toBe('Hello there');
    expect(snippet('abcdefghij', 5)).toBe('abcd…');
    expect(snippet('abcde', 5)).toBe('abcde');
  });

  it('previews say whose the last message is', () => {
    const c = (m: Partial<Conversation['last_message']> | null) =>
      conversation('C1', { last_message: m === null ? null : message(1, { sender_id: 'cust', ...m }) });
    expect(previewText(c(null), ME)).toBeNull();
    expect(previewText(c({ content: 'My order never arrived' }), ME)).toBe('My order never arrived');
    expect(previewText(c({ sender_id: ME, content: 'On it' }), ME)).toBe('You: On it');
    expect(previewText(c({ sender_id: ME, message_type: 'note', content: 'Refund ok' }), ME)).toBe('Note: Refund ok');
  });

  it('a conversation is named by its subject, else what the customer wrote, else the customer', () => {
    expect(conversationName(conversation('C1', { subject: 'Order 42' }), ME)).toBe('Order 42');
    const wrote = conversation('C1', { subject: null, client_id: 'carol', last_message: message(1, { sender_id: 'carol', content: 'Where is\nmy parcel?' }) });
    expect(conversationName(wrote, ME)).toBe('customer carol: Where is my parcel?');
    expect(conversationName(conversation('C1', { subject: '  ', client_id: 'carol' }), ME)).toBe('customer carol');
    // A long sub is shortened as everywhere on the page.
    expect(conversationName(conversation('C1', { subject: null, client_id: '01KAAWW5V95WFFDERJZCTDE2QQ' }), ME)).toBe('customer 01KA…E2QQ');
  });

  it('the Open button names the conversation, its unread count and whether it is closed', () => {
    expect(openLabel(conversation('C1', { subject: 'Order 42' }), ME)).toBe('Open conversation with Order 42');
    expect(openLabel(conversation('C1', { subject: 'Order 42', unread_count: 2 }), ME)).toBe('Open conversation with Order 42, 2 unread');
    expect(openLabel(conversation('C1', { subject: 'Order 42', status: 'closed' }), ME)).toBe('Open conversation with Order 42, closed');
  });

  it('new queue items are announced with their subject or first message', () => {
    expect(announcement(conversation('C1', { subject: 'Order 42' }), ME)).toBe('New chat waiting: Order 42');
    const wrote = conversation('C1', { subject: null, last_message: message(1, { sender_id: 'cust', content: 'Hello?' }) });
    expect(announcement(wrote, ME)).toBe('New chat waiting: Hello?');
    expect(announcement(conversation('C1', { subject: null, client_id: 'carol' }), ME)).toBe('New chat waiting: customer carol, no message yet');
    expect(announcement(conversation('C1', { subject: 'Order 42' }), ME, true)).toBe('Back in the queue: Order 42');
  });
});

describe('tabs: arrow keys wrap, Home and End go to the ends', () => {
  it('moves between tabs', () => {
    expect(tabTarget('ArrowRight', 0, 2)).toBe(1);
    expect(tabTarget('ArrowRight', 1, 2)).toBe(0);
    expect(tabTarget('ArrowLeft', 0, 2)).toBe(1);
    expect(tabTarget('ArrowDown', 0, 3)).toBe(1);
    expect(tabTarget('ArrowUp', 0, 3)).toBe(2);
    expect(tabTarget('Home', 2, 3)).toBe(0);
    expect(tabTarget('End', 0, 3)).toBe(2);
    expect(tabTarget('Enter', 0, 3)).toBeNull();
    expect(tabTarget('a', 0, 3)).toBeNull();
  });
});

/** A parent node as an array, counting what is done to it. */
class FakeList implements ListHost<string> {
  moves = 0;
  constructor(public children: string[]) {}
  insertBefore(node: string, child: string | null): void {
    const at = this.children.indexOf(node);
    if (at >= 0) {
      this.children.splice(at, 1);
      this.moves++;
    }
    const i = child === null ? this.children.length : this.children.indexOf(child);
    if (i < 0) throw new Error(`no child ${child}`);
    this.children.splice(i, 0, node);
  }
  removeChild(node: string): void {
    const at = this.children.indexOf(node);
    if (at < 0) throw new Error(`no child ${node}`);
    this.children.splice(at, 1);
  }
}

function reconcile(current: string[], next: string[], pinned: string | null = null) {
  const host = new FakeList([...current]);
  const nodes = new Map(current.map((k) => [k, k]));
  const plan = planKeyed(current, next, pinned);
  const made: string[] = [];
  applyKeyed(host, nodes, plan, (k) => {
    made.push(k);
    return k;
  });
  return { host, plan, made, nodes };
}

describe('keyed lists: nodes stay, only what changed is touched', () => {
  it('appending, inserting and removing move no existing node', () => {
    const append = reconcile(['A', 'B'], ['A', 'B', 'C']);
    expect(append.host.children).toEqual(['A', 'B', 'C']);
    expect(append.plan.place).toEqual([{ key: 'C', before: null }]);
    expect(append.made).toEqual(['C']);
    expect(append.host.moves).toBe(0);

    const insert = reconcile(['A', 'C'], ['N', 'A', 'B', 'C']);
    expect(insert.host.children).toEqual(['N', 'A', 'B', 'C']);
    expect(insert.host.moves).toBe(0);

    const remove = reconcile(['A', 'B', 'C'], ['A', 'C']);
    expect(remove.plan).toEqual({ remove: ['B'], place: [] });
    expect(remove.host.children).toEqual(['A', 'C']);
    expect([...remove.nodes.keys()]).toEqual(['A', 'C']);
  });

  it('an unchanged list is not touched at all', () => {
    expect(planKeyed(['A', 'B', 'C'], ['A', 'B', 'C'])).toEqual({ remove: [], place: [] });
  });

  it('a reorder moves as few nodes as it can', () => {
    const r = reconcile(['A', 'B', 'C', 'D'], ['B', 'C', 'D', 'A']);
    expect(r.host.children).toEqual(['B', 'C', 'D', 'A']);
    expect(r.host.moves).toBe(1);
  });

  it('the pinned (focused) node never moves, even when moving it would be cheaper', () => {
    const r = reconcile(['A', 'B', 'C', 'D'], ['B', 'C', 'D', 'A'], 'A');
    expect(r.host.children).toEqual(['B', 'C', 'D', 'A']);
    expect(r.plan.place.some((p) => p.key === 'A')).toBe(false);
    expect(r.host.moves).toBe(3);
  });

  it('any change comes out right, and the pinned node stays (random lists)', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 500; round++) {
      const pool = Array.from({ length: 10 }, (_, i) => `K${i}`);
      const pick = () => pool.filter(() => rand(3) > 0).sort(() => rand(3) - 1);
      const current = pick();
      const next = pick();
      const pinned = current.length && rand(2) ? current[rand(current.length)] : null;
      const r = reconcile(current, next, pinned);
      expect(r.host.children, `${current} → ${next}`).toEqual(next);
      if (pinned !== null && next.includes(pinned)) {
        expect(r.plan.place.some((p) => p.key === pinned), `${pinned} moved: ${current} → ${next}`).toBe(false);
      }
    }
  });

  it('when the focused item leaves, the focus goes to the next one (else the one before)', () => {
    expect(neighbourKey(['A', 'B', 'C'], ['A', 'C'], 'B')).toBe('C');
    expect(neighbourKey(['A', 'B', 'C'], ['A', 'B'], 'C')).toBe('B');
    expect(neighbourKey(['A', 'B', 'C'], ['A'], 'B')).toBe('A');
    expect(neighbourKey(['A'], [], 'A')).toBeNull();
  });
});

describe('queue previews: agents get no live texts for the queue, so one with no message is looked at', () => {
  function setup(queue: Conversation[]) {
    const clock = new FakeClock();
    const held = new Map(queue.map((c) => [c.id, c]));
    const fetched: string[] = [];
    const looks: Array<[string, number]> = [];
    let answer = (id: string): Conversation => held.get(id) as Conversation;
    const previews = new QueuePreviews(
      {
        fetch: async (id) => {
          fetched.push(id);
          return answer(id);
        },
        queued: (id) => held.get(id),
        looked: (id, c, attempt) => {
          looks.push([id, attempt]);
          if (c && held.has(id)) held.set(id, c);
        },
      },
      clock,
      300,
    );
    return { clock, held, fetched, looks, previews, setAnswer: (f: typeof answer) => (answer = f) };
  }

  it('one that came in live is looked at soon, then less often, until its text is there', async () => {
    const t = setup([conversation('Q1', { subject: null })]);
    t.previews.joined('Q1');
    t.clock.advance(1_499);
    expect(t.fetched).toEqual([]);
    t.clock.advance(1);
    expect(t.fetched).toEqual(['Q1']);
    await flush();
    expect(t.looks).toEqual([['Q1', 0]]);
    t.clock.advance(3_999);
    expect(t.fetched).toHaveLength(1);
    t.clock.advance(1);
    expect(t.fetched).toHaveLength(2);
    await flush();
    // The customer wrote: the next look finds it, and that is the last one.
    t.setAnswer((id) => conversation(id, { subject: null, last_message: message(1, { conversation_id: id, sender_id: 'cust', content: 'Hi' }) }));
    t.clock.advance(10_000);
    expect(t.fetched).toHaveLength(3);
    await flush();
    expect(t.held.get('Q1')?.last_message?.content).toBe('Hi');
    t.clock.advance(10 * MIN);
    expect(t.fetched).toHaveLength(3);
    expect(t.previews.watching).toEqual([]);
  });

  it('ones already waiting are looked at once a minute; ones with a message never; looks are spaced', async () => {
    const t = setup([
      conversation('Q1', { subject: null }),
      conversation('Q2', { subject: null }),
      conversation('Q3', { last_message: message(1, { conversation_id: 'Q3' }) }),
    ]);
    t.previews.follow([...t.held.values()]);
    expect(t.previews.watching).toEqual(['Q1', 'Q2']);
    t.clock.advance(MIN);
    expect(t.fetched).toEqual(['Q1']);
    t.clock.advance(299);
    expect(t.fetched).toEqual(['Q1']);
    t.clock.advance(1);
    expect(t.fetched).toEqual(['Q1', 'Q2']);
    await flush();
    t.clock.advance(MIN);
    expect(t.fetched).toEqual(['Q1', 'Q2', 'Q1']);
  });

  it('one that leaves the queue is no longer looked at', async () => {
    const t = setup([conversation('Q1', { subject: null })]);
    t.previews.joined('Q1');
    t.held.delete('Q1');
    t.previews.follow([]);
    t.clock.advance(10 * MIN);
    expect(t.fetched).toEqual([]);
  });

  it('one claimed meanwhile (the answer says so) stops the looks', async () => {
    const t = setup([conversation('Q1', { subject: null })]);
    t.setAnswer((id) => conversation(id, { subject: null, support_id: 'bob' }));
    t.previews.joined('Q1');
    t.clock.advance(1_500);
    await flush();
    t.clock.advance(10 * MIN);
    expect(t.fetched).toEqual(['Q1']);
  });
});

describe('queue announcements', () => {
  it('at once with a subject; else when its text is found, or after the second look in vain', () => {
    const said: string[] = [];
    const a = new QueueAnnouncer((t) => said.push(t), ME);
    a.joined(conversation('Q1', { subject: 'Order 42' }));
    expect(said).toEqual(['New chat waiting: Order 42']);

    const bare = conversation('Q2', { subject: null, client_id: 'carol' });
    a.joined(bare);
    a.looked('Q2', bare, 0);
    expect(said).toHaveLength(1);
    a.looked('Q2', { ...bare, last_message: message(1, { conversation_id: 'Q2', sender_id: 'carol', content: 'Hello?' }) }, 1);
    expect(said.at(-1)).toBe('New chat waiting: Hello?');
    a.looked('Q2', bare, 2);
    expect(said).toHaveLength(2); // once

    const silent = conversation('Q3', { subject: null, client_id: 'dave' });
    a.joined(silent);
    a.looked('Q3', silent, 0);
    a.looked('Q3', silent, 1);
    expect(said.at(-1)).toBe('New chat waiting: customer dave, no message yet');

    const gone = conversation('Q4', { subject: null });
    a.joined(gone);
    a.follow([]);
    a.looked('Q4', gone, 1);
    expect(said).toHaveLength(3);
  });

  it('the first looks come in time for it', () => {
    expect(previewDelay(0, true)).toBe(1_500);
    expect(previewDelay(1, true)).toBe(4_000);
    expect(previewDelay(0, false)).toBe(MIN);
    expect(previewDelay(99, true)).toBe(MIN);
  });
});
