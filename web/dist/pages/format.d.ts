/** Consecutive messages of one sender this close together are one group. */
export declare const GROUP_WINDOW_MS: number;
export interface TimeFormatOptions {
    /** "Now", to tell today from the past (default: the current time). */
    now?: Date | number;
    /** BCP 47 locale(s); default: the browser's. */
    locale?: string | string[];
    /** IANA time zone; default: the browser's. */
    timeZone?: string;
}
/** The calendar day of `d` in the time zone, as `YYYY-MM-DD`. */
export declare function dayKey(d: Date, timeZone?: string): string;
/** A message's time as shown: `10:30` today, `17 Nov, 10:30` earlier this
 * year, `17 Nov 2024, 10:30` before (in the locale's words and order).
 * An unreadable timestamp gives ''. */
export declare function formatTimestamp(iso: string, opts?: TimeFormatOptions): string;
/** The full date and time, e.g. for a `title` (tooltip). */
export declare function fullTimestamp(iso: string, opts?: Omit<TimeFormatOptions, 'now'>): string;
/** The fields grouping looks at (a Message has them). */
export interface Groupable {
    sender_id: string;
    message_type: string;
    created_at: string;
}
/** Whether `m` continues the group of `prev` (the message just before it):
 * the same sender, the same kind (a note never joins a text), at most
 * `GROUP_WINDOW_MS` later, on the same day. */
export declare function continuesGroup(prev: Groupable | undefined, m: Groupable, timeZone?: string): boolean;
/** A piece of a text: plain, or a link to an http(s) URL. */
export type TextSegment = {
    kind: 'text';
    text: string;
} | {
    kind: 'link';
    text: string;
    href: string;
};
/** The link a URL in a text may become: only http and https, with a host,
 * and no user name or password (`https://bank.test@evil.test` misleads). */
export declare function safeHref(text: string): string | null;
/** Splits a text into plain pieces and links, in order; joined, their
 * `text`s give back the text exactly. Only http(s) URLs become links. */
export declare function linkSegments(text: string): TextSegment[];
