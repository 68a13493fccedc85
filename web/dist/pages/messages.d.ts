import type { Api, Message, Timeline } from '../index.js';
export declare class MessageView {
    private readonly list;
    private readonly me;
    /** Who wrote it, for a message not mine. */
    private readonly who;
    private readonly receipts;
    constructor(list: HTMLOListElement, me: string, 
    /** Who wrote it, for a message not mine. */
    who: (m: Message) => string);
    clear(): void;
    /** Renders the whole timeline. */
    show(t: Timeline): void;
    /** `m` was just added to `t` (the timeline on screen): insert it in place. */
    added(t: Timeline, m: Message): void;
    /** These messages of mine were read by the other side. */
    read(changed: readonly Message[]): void;
    private node;
}
/** Read receipts: shortly after the other side's texts are shown (and the
 * page is visible), marks them read up to the newest one. */
export declare class ReadMarker {
    private readonly api;
    private readonly me;
    /** Called once the read is sent (e.g. to clear an unread badge). */
    private readonly marked;
    private timer;
    constructor(api: Api, me: string, 
    /** Called once the read is sent (e.g. to clear an unread badge). */
    marked?: (conversationId: string) => void);
    /** `force`: post even when the newest text already shows `read_at` (the
     * server still counts it unread for this reader). */
    schedule(conversationId: string, t: Timeline, force?: boolean): void;
    cancel(): void;
}
/** Enter sends (Shift+Enter is a new line). */
export declare function submitOnEnter(form: HTMLFormElement, input: HTMLTextAreaElement): void;
