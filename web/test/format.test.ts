import { describe, it } from 'node:test';
import { expect } from './expect.js';
import { continuesGroup, dayKey, formatTimestamp, linkSegments, safeHref } from '../src/pages/format.js';

const utc = { locale: 'en-GB', timeZone: 'UTC' };
const now = Date.parse('2025-11-18T15:00:00Z');

describe('timestamps', () => {
  it('today: the time only', () => {
    expect(formatTimestamp('2025-11-18T10:30:00Z', { ...utc, now })).toBe('10:30');
    expect(formatTimestamp('2025-11-18T00:00:00Z', { ...utc, now })).toBe('00:00');
  });

  it('before today: the date and the time; another year: with the year', () => {
    expect(formatTimestamp('2025-11-17T23:59:00Z', { ...utc, now })).toBe('17 Nov, 23:59');
    expect(formatTimestamp('2024-11-18T10:30:00Z', { ...utc, now })).toBe('18 Nov 2024, 10:30');
  });

  it('"today" is the day in the reader\'s time zone', () => {
    // 02:00 UTC on the 18th is still the 17th in New York (UTC-5).
    const ny = { locale: 'en-GB', timeZone: 'America/New_York' };
    expect(dayKey(new Date('2025-11-18T02:00:00Z'), ny.timeZone)).toBe('2025-11-17');
    expect(formatTimestamp('2025-11-18T02:00:00Z', { ...ny, now })).toBe('17 Nov, 21:00');
    expect(formatTimestamp('2025-11-18T14:00:00Z', { ...ny, now })).toBe('09:00');
  });

  it('an unreadable timestamp shows nothing', () => {
    expect(formatTimestamp('not a date', { ...utc, now })).toBe('');
  });
});

describe('grouping', () => {
  const m = (sender_id: string, created_at: string, message_type = 'text') => ({ sender_id, created_at, message_type });

  it('the same sender within 5 minutes continues the group', () => {
    expect(continuesGroup(m('a', '2025-11-18T10:00:00Z'), m('a', '2025-11-18T10:05:00Z'), 'UTC')).toBe(true);
  });

  it('another sender, a longer pause, another kind, another day, or no message before start a new one', () => {
    expect(continuesGroup(undefined, m('a', '2025-11-18T10:00:00Z'), 'UTC')).toBe(false);
    expect(continuesGroup(m('a', '2025-11-18T10:00:00Z'), m('b', '2025-11-18T10:01:00Z'), 'UTC')).toBe(false);
    expect(continuesGroup(m('a', '2025-11-18T10:00:00Z'), m('a', '2025-11-18T10:05:01Z'), 'UTC')).toBe(false);
    expect(continuesGroup(m('a', '2025-11-18T10:00:00Z'), m('a', '2025-11-18T10:01:00Z', 'note'), 'UTC')).toBe(false);
    expect(continuesGroup(m('a', '2025-11-18T23:58:00Z'), m('a', '2025-11-19T00:01:00Z'), 'UTC')).toBe(false);
    // Out of order (a later seq with an earlier time) is not a continuation.
    expect(continuesGroup(m('a', '2025-11-18T10:05:00Z'), m('a', '2025-11-18T10:00:00Z'), 'UTC')).toBe(false);
  });
});

describe('links', () => {
  const joined = (text: string) => linkSegments(text).map((s) => s.text).join('');

  it('plain text is one plain segment; the empty text none', () => {
    expect(linkSegments('hello there')).toEqual([{ kind: 'text', text: 'hello there' }]);
    expect(linkSegments('')).toEqual([]);
  });

  it('http and https URLs become links, the rest stays text, and nothing is lost', () => {
    const text = 'See https://example.com/a?b=1&c=2#d and http://x.test, please.';
    expect(linkSegments(text)).toEqual([
      { kind: 'text', text: 'See ' },
      { kind: 'link', text: 'https://example.com/a?b=1&c=2#d', href: 'https://example.com/a?b=1&c=2#d' },
      { kind: 'text', text: ' and ' },
      { kind: 'link', text: 'http://x.test', href: 'http://x.test/' },
      { kind: 'text', text: ', please.' },
    ]);
    expect(joined(text)).toBe(text);
  });

  it('never makes a link of another scheme', () => {
    for (const text of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(document.cookie)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'ftp://example.com/x',
      'xhttps://example.com',
      'mailto:a@b.test',
    ]) {
      expect(linkSegments(text).every((s) => s.kind === 'text'), text).toBe(true);
      expect(joined(text)).toBe(text);
    }
  });

  it('a javascript: URL hidden after http:// text is not a link either', () => {
    const segs = linkSegments('http://javascript:alert(1)');
    for (const s of segs) if (s.kind === 'link') expect(s.href.startsWith('http://')).toBe(true);
  });

  it('markup in a URL stays out of it (it ends at < > " \' and white space)', () => {
    const text = 'https://a.test/"><img src=x onerror=alert(1)>';
    const links = linkSegments(text).filter((s) => s.kind === 'link');
    expect(links).toEqual([{ kind: 'link', text: 'https://a.test/', href: 'https://a.test/' }]);
    expect(joined(text)).toBe(text);
  });

  it('trailing punctuation and an unmatched closing bracket belong to the sentence', () => {
    expect(linkSegments('(see https://a.test/x)')).toEqual([
      { kind: 'text', text: '(see ' },
      { kind: 'link', text: 'https://a.test/x', href: 'https://a.test/x' },
      { kind: 'text', text: ')' },
    ]);
    const wiki = linkSegments('https://en.wikipedia.org/wiki/Foo_(bar).');
    expect(wiki[0]).toEqual({
      kind: 'link',
      text: 'https://en.wikipedia.org/wiki/Foo_(bar)',
      href: 'https://en.wikipedia.org/wiki/Foo_(bar)',
    });
    expect(wiki[1]).toEqual({ kind: 'text', text: '.' });
  });

  it('a URL with a user name or password is not a link (it misleads about the host)', () => {
    expect(safeHref('https://bank.test@evil.test/')).toBeNull();
    expect(safeHref('https://u:p@evil.test/')).toBeNull();
    expect(linkSegments('https://bank.test@evil.test/login').every((s) => s.kind === 'text')).toBe(true);
  });

  it('several links side by side, and on lines of their own', () => {
    const text = 'https://a.test https://b.test\nhttps://c.test';
    expect(linkSegments(text).filter((s) => s.kind === 'link').map((s) => s.text)).toEqual([
      'https://a.test',
      'https://b.test',
      'https://c.test',
    ]);
    expect(joined(text)).toBe(text);
  });
});
