// How both pages show messages, without the DOM (so it is unit-tested):
// timestamps (the time today, the date and time before), grouping of
// consecutive messages from one sender, and the safe links in a text.
/** Consecutive messages of one sender this close together are one group. */
export const GROUP_WINDOW_MS = 5 * 60_000;
/** The calendar day of `d` in the time zone, as `YYYY-MM-DD`. */
export function dayKey(d, timeZone) {
    const parts = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', timeZone }).formatToParts(d);
    const get = (type) => parts.find((p) => p.type === type)?.value ?? '';
    return `${get('year')}-${get('month')}-${get('day')}`;
}
/** A message's time as shown: `10:30` today, `17 Nov, 10:30` earlier this
 * year, `17 Nov 2024, 10:30` before (in the locale's words and order).
 * An unreadable timestamp gives ''. */
export function formatTimestamp(iso, opts = {}) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime()))
        return '';
    const now = new Date(opts.now ?? Date.now());
    const { locale, timeZone } = opts;
    const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', timeZone }).format(d);
    const day = dayKey(d, timeZone);
    const today = dayKey(now, timeZone);
    if (day === today)
        return time;
    const sameYear = day.slice(0, 4) === today.slice(0, 4);
    const date = new Intl.DateTimeFormat(locale, {
        day: 'numeric',
        month: 'short',
        year: sameYear ? undefined : 'numeric',
        timeZone,
    }).format(d);
    return `${date}, ${time}`;
}
/** The full date and time, e.g. for a `title` (tooltip). */
export function fullTimestamp(iso, opts = {}) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime()))
        return '';
    return new Intl.DateTimeFormat(opts.locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: opts.timeZone }).format(d);
}
/** Whether `m` continues the group of `prev` (the message just before it):
 * the same sender, the same kind (a note never joins a text), at most
 * `GROUP_WINDOW_MS` later, on the same day. */
export function continuesGroup(prev, m, timeZone) {
    if (!prev || prev.sender_id !== m.sender_id || prev.message_type !== m.message_type)
        return false;
    const a = new Date(prev.created_at);
    const b = new Date(m.created_at);
    const gap = b.getTime() - a.getTime();
    if (!(gap >= 0 && gap <= GROUP_WINDOW_MS))
        return false;
    return dayKey(a, timeZone) === dayKey(b, timeZone);
}
// A URL starts with http:// or https:// not glued to a word before it, and
// runs to the next white space or character that cannot be in one.
const URL_CANDIDATE = /\bhttps?:\/\/[^\s<>"'`\u00a0]+/giu;
const TRAILING = /[.,;:!?*'"\u2019\u201d]$/u;
const CLOSERS = { ')': '(', ']': '[', '}': '{' };
/** Trailing punctuation belongs to the sentence, not the URL, and so does
 * a closing bracket that opens nowhere in it: `(see https://x.test/a)`. */
function trimUrl(candidate) {
    let url = candidate;
    for (;;) {
        const last = url.slice(-1);
        if (TRAILING.test(last)) {
            url = url.slice(0, -1);
            continue;
        }
        const opener = CLOSERS[last];
        if (opener && url.split(opener).length - 1 < url.split(last).length - 1) {
            url = url.slice(0, -1);
            continue;
        }
        return url;
    }
}
/** The link a URL in a text may become: only http and https, with a host,
 * and no user name or password (`https://bank.test@evil.test` misleads). */
export function safeHref(text) {
    let u;
    try {
        u = new URL(text);
    }
    catch {
        return null;
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname || u.username || u.password)
        return null;
    return u.href;
}
/** Splits a text into plain pieces and links, in order; joined, their
 * `text`s give back the text exactly. Only http(s) URLs become links. */
export function linkSegments(text) {
    const out = [];
    const plain = (t) => {
        if (!t)
            return;
        const last = out[out.length - 1];
        if (last && last.kind === 'text')
            last.text += t;
        else
            out.push({ kind: 'text', text: t });
    };
    let at = 0;
    for (const match of text.matchAll(URL_CANDIDATE)) {
        const start = match.index ?? 0;
        const url = trimUrl(match[0]);
        const href = safeHref(url);
        if (!href)
            continue;
        plain(text.slice(at, start));
        out.push({ kind: 'link', text: url, href });
        at = start + url.length;
    }
    plain(text.slice(at));
    return out;
}
