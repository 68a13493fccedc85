import type { Conversation } from '../index.js';
export declare const BASE_TITLE = "Quick Connect \u2014 Agent";
/** The tab title: the unread count first, so it shows in a narrow tab. */
export declare function titleText(unread: number): string;
/** How long, from `sinceIso` to `nowMs`, in words short enough for a list:
 * "under 1 min", "3 min", "1 h 5 min", "2 d 3 h". A start in the future
 * (clocks differ a little) counts as now. */
export declare function waitingText(sinceIso: string, nowMs: number): string;
export declare function durationText(ms: number): string;
/** One line of at most `max` characters: whitespace collapsed, an ellipsis
 * when cut. */
export declare function snippet(text: string, max?: number): string;
/** The last message as a list shows it (`Note:` for an internal note, `You:`
 * for my own), or null when there is none yet. */
export declare function previewText(c: Conversation, me: string): string | null;
/** What a screen reader calls the conversation: its subject, else what the
 * customer wrote, else the customer. */
export declare function conversationName(c: Conversation, me: string): string;
/** The Open button's accessible name. */
export declare function openLabel(c: Conversation, me: string): string;
/** What the polite live region says when a conversation joins the queue. */
export declare function announcement(c: Conversation, me: string, backToQueue?: boolean): string;
/** The tab a key moves to in a tablist of `count` tabs (arrows wrap,
 * Home/End go to the ends), or null for a key the tabs do not handle. */
export declare function tabTarget(key: string, index: number, count: number): number | null;
export declare function previewDelay(attempt: number, live: boolean): number;
