import { describe, it } from 'node:test';
import { expect } from './expect.js';
import { TypingDisplay, TypingSender } from '../src/typing.js';
import { FakeClock } from './fake.js';

function sender() {
  const clock = new FakeClock();
  const sent: Array<[number, string]> = [];
  const s = new TypingSender(clock, (sub) => sent.push([clock.now(), sub]));
  return { clock, sent, s };
}

describe('§5.1 sending: typing_started at most once per 5 s, typing_stopped after 1 s idle', () => {
  it('sends typing_started on the first key only while keys keep coming', () => {
    const { clock, sent, s } = sender();
    s.keyPressed();
    for (let i = 0; i < 10; i++) {
      clock.advance(300);
      s.keyPressed();
    }
    expect(sent).toEqual([[0, 'typing_started']]);
  });

  it('a key at 4.9 s sends nothing, a key at 5.1 s sends typing_started again', () => {
    const { clock, sent, s } = sender();
    s.keyPressed(); // t=0
    // keep typing (gaps < 1 s) up to 4.9 s
    for (const t of [800, 1600, 2400, 3200, 4000, 4900]) {
      clock.advance(t - clock.now());
      s.keyPressed();
    }
    expect(sent.map((e) => e[1])).toEqual(['typing_started']);
    clock.advance(5100 - clock.now());
    s.keyPressed();
    expect(sent).toEqual([
      [0, 'typing_started'],
      [5100, 'typing_started'],
    ]);
  });

  it('exactly 5 s later is not "more than 5000 ms": no second start', () => {
    const { clock, sent, s } = sender();
    s.keyPressed();
    for (let t = 900; t <= 5000; t += 900) {
      clock.advance(900);
      s.keyPressed();
    }
    clock.advance(5000 - clock.now());
    s.keyPressed();
    expect(sent.filter((e) => e[1] === 'typing_started')).toHaveLength(1);
  });

  it('typing_stopped 1 s after the last key, not before', () => {
    const { clock, sent, s } = sender();
    s.keyPressed();
    clock.advance(700);
    s.keyPressed(); // re-arms the idle timer
    clock.advance(999);
    expect(sent.map((e) => e[1])).toEqual(['typing_started']);
    clock.advance(1);
    expect(sent).toEqual([
      [0, 'typing_started'],
      [1700, 'typing_stopped'],
    ]);
    expect(s.isTyping).toBe(false);
  });

  it('after a stop the throttle resets: the next key starts at once', () => {
    const { clock, sent, s } = sender();
    s.keyPressed();
    clock.advance(1000); // stopped at 1 s
    clock.advance(500);
    s.keyPressed(); // 1.5 s: well within 5 s of the last start, but reset
    expect(sent.map((e) => e[1])).toEqual(['typing_started', 'typing_stopped', 'typing_started']);
  });

  it('sending the message resets without an extra frame (the server stops it)', () => {
    const { clock, sent, s } = sender();
    s.keyPressed();
    s.messageSent();
    clock.advance(5000);
    expect(sent.map((e) => e[1])).toEqual(['typing_started']);
    s.keyPressed();
    expect(sent.map((e) => e[1])).toEqual(['typing_started', 'typing_started']);
  });
});

describe('§5.2 receiving: 6 s per sender, refreshed, hidden on stop or message', () => {
  function display() {
    const clock = new FakeClock();
    const changes: string[][] = [];
    const d = new TypingDisplay(clock, (t) => changes.push(t));
    return { clock, changes, d };
  }

  it('shows on typing_started and hides after 6 s without a new signal', () => {
    const { clock, changes, d } = display();
    d.started('X');
    expect(d.typing).toEqual(['X']);
    clock.advance(5999);
    expect(d.typing).toEqual(['X']);
    clock.advance(1);
    expect(d.typing).toEqual([]);
    expect(changes).toEqual([['X'], []]);
  });

  it('a typing_started while shown refreshes the 6 s window', () => {
    const { clock, d } = display();
    d.started('X');
    clock.advance(5000);
    d.started('X');
    clock.advance(5000); // 10 s after the first, 5 s after the second
    expect(d.typing).toEqual(['X']);
    clock.advance(1000);
    expect(d.typing).toEqual([]);
  });

  it('typing_stopped hides at once and cancels the timer', () => {
    const { clock, changes, d } = display();
    d.started('X');
    clock.advance(100);
    d.stopped('X');
    expect(d.typing).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
    expect(changes).toEqual([['X'], []]);
  });

  it("the sender's message hides the indicator at once", () => {
    const { d } = display();
    d.started('X');
    d.messageFrom('X');
    expect(d.typing).toEqual([]);
  });

  it('senders are independent', () => {
    const { clock, d } = display();
    d.started('X');
    clock.advance(3000);
    d.started('Y');
    clock.advance(3000);
    expect(d.typing).toEqual(['Y']);
    d.stopped('Z'); // unknown: no change
    expect(d.typing).toEqual(['Y']);
  });
});
