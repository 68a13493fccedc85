// The agent console's wording, as pure functions (no DOM), so they are
// unit-tested: waiting times, the tab title, how a conversation is named
// and previewed, the tabs' arrow keys, and when a queue preview is fetched.
import { shortId } from './session.js';
export const BASE_TITLE = 'Quick Connect — Agent';
/** The tab title: the unread count first, so it shows in a narrow tab. */
export function titleText(unread) {
    return unread > 0 ? `(${unread > 99 ? '99+' : unread}) ${BASE_TITLE}` : BASE_TITLE;
}
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** How long, from `sinceIso` to `nowMs`, in words short enough for a list:
 * "under 1 min", "3 min", "1 h 5 min", "2 d 3 h". A start in the future
 * (clocks differ a little) counts as now. */
export function waitingText(sinceIso, nowMs) {
    const since = Date.parse(sinceIso);
    return durationText(Number.isNaN(since) ? 0 : nowMs - since);
}
export function durationText(ms) {
    if (!(ms >= MINUTE))
        return 'under 1 min';
    if (ms < HOUR)
        return `${Math.floor(ms / MINUTE)} min`;
    if (ms < DAY) {
        const h = Math.floor(ms / HOUR);
        const m = Math.floor((ms % HOUR) / MINUTE);
        return m ? `${h} h ${m} min` : `${h} h`;
    }
    const d = Math.floor(ms / DAY);
    const h = Math.floor((ms % DAY) / HOUR);
    return h ? `${d} d ${h} h` : `${d} d`;
}
/** One line of at most `max` characters: whitespace collapsed, an ellipsis
 * when cut. */
export function snippet(text, max = 80) {
    const line = text.replace(/\s+/g, ' ').trim();
    if (line.length <= max)
        return line;
    return `${[...line].slice(0, max - 1).join('').trimEnd()}…`;
}
/** The last message as a list shows it (`Note:` for an internal note, `You:`
 * for my own), or null when there is none yet. */
export function previewText(c, me) {
    const m = c.last_message;
    if (!m)
        return null;
    const who = m.message_type === 'note' ? 'Note: ' : m.sender_id === me ? 'You: ' : '';
    return `${who}${m.content}`;
}
/** What a screen reader calls the conversation: its subject, else what the
 * customer wrote, else the customer. */
export function conversationName(c, me) {
    if (c.subject?.trim())
        return snippet(c.subject, 60);
    const m = c.last_message;
    if (m && m.message_type === 'text' && m.sender_id !== me)
        return `customer ${shortId(c.client_id)}: ${snippet(m.content, 60)}`;
    return `customer ${shortId(c.client_id)}`;
}
/** The Open button's accessible name. */
export function openLabel(c, me) {
    const parts = [`Open conversation with ${conversationName(c, me)}`];
    if (c.unread_count > 0)
        parts.push(`${c.unread_count} unread`);
    if (c.status === 'closed')
        parts.push('closed');
    return parts.join(', ');
}
/** What the polite live region says when a conversation joins the queue. */
export function announcement(c, me, backToQueue = false) {
    const what = c.subject?.trim() ? c.subject : previewText(c, me);
    const head = backToQueue ? 'Back in the queue' : 'New chat waiting';
    return what ? `${head}: ${snippet(what, 100)}` : `${head}: customer ${shortId(c.client_id)}, no message yet`;
}
/** The tab a key moves to in a tablist of `count` tabs (arrows wrap,
 * Home/End go to the ends), or null for a key the tabs do not handle. */
export function tabTarget(key, index, count) {
    if (count <= 0)
        return null;
    switch (key) {
        case 'ArrowRight':
        case 'ArrowDown':
            return (index + 1) % count;
        case 'ArrowLeft':
        case 'ArrowUp':
            return (index - 1 + count) % count;
        case 'Home':
            return 0;
        case 'End':
            return count - 1;
        default:
            return null;
    }
}
/** Delays (ms) between looks at a queued conversation that has no message
 * yet: agents get no live texts for the queue, so its preview is fetched
 * (`GET /conversations/{id}`). Soon after it was created, then less and less
 * often; one already waiting when the console loaded, only now and then. */
const LIVE_DELAYS = [1_500, 4_000, 10_000, 20_000, 40_000];
const SLOW_DELAY = 60_000;
export function previewDelay(attempt, live) {
    return live && attempt < LIVE_DELAYS.length ? LIVE_DELAYS[attempt] : SLOW_DELAY;
}
