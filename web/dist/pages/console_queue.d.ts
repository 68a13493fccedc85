import { type Clock, type Conversation } from '../index.js';
export declare class QueueView {
    private readonly count;
    private readonly empty;
    private readonly me;
    private readonly now;
    private readonly items;
    constructor(list: HTMLElement, count: HTMLElement, empty: HTMLElement, me: string, fallbackFocus: () => HTMLElement | null, now?: () => number);
    render(queue: readonly Conversation[]): void;
    /** The waiting times, now: text nodes only. */
    tick(): void;
    private create;
    private update;
}
/** What `QueuePreviews` needs from the page. */
export interface PreviewHost {
    /** `GET /conversations/{id}`. */
    fetch(id: string): Promise<Conversation>;
    /** The conversation as the queue holds it now (undefined: not queued). */
    queued(id: string): Conversation | undefined;
    /** A look ended (`c` null when it failed): hand `c` to the desk. */
    looked(id: string, c: Conversation | null, attempt: number): void;
}
/** Looks at queued conversations that have no message yet until they have
 * one (or leave the queue): soon and then less often for one that came in
 * live, once a minute for one that was already waiting. Looks are spaced
 * (`spacingMs`) so a long queue never bursts into the HTTP rate limit. */
export declare class QueuePreviews {
    private readonly host;
    private readonly clock;
    private readonly spacingMs;
    private readonly tracked;
    private readonly due;
    private pumpTimer;
    constructor(host: PreviewHost, clock?: Clock, spacingMs?: number);
    /** It just joined the queue, live: look soon. */
    joined(id: string): void;
    /** Follows the queue: tracks the ones with no message, drops the rest. */
    follow(queue: readonly Conversation[]): void;
    get watching(): string[];
    private track;
    private untrack;
    private schedule;
    private pump;
    private look;
}
/** Announces new queue items politely, each once: at once when it has a
 * subject or a text, else when a look finds its text, or after the second
 * look in vain (a few seconds). */
export declare class QueueAnnouncer {
    private readonly say;
    private readonly me;
    private readonly pending;
    constructor(say: (text: string) => void, me: string);
    joined(c: Conversation, backToQueue?: boolean): void;
    looked(id: string, c: Conversation | undefined, attempt: number): void;
    /** Forget the ones that left the queue unannounced. */
    follow(queue: readonly Conversation[]): void;
}
