import type { Api, FailReason, Message, Outgoing, Timeline } from '../index.js';
/** Why a text was not sent, in words. */
export declare const FAIL_TEXT: Record<FailReason, string>;
export declare class MessageView {
    private readonly list;
    private readonly me;
    /** Who wrote it, for a message not mine. */
    private readonly who;
    private readonly receipts;
    /** Texts sent and not yet stored, by client_msg_id, after the messages. */
    private readonly outgoingNodes;
    constructor(list: HTMLOListElement, me: string, 
    /** Who wrote it, for a message not mine. */
    who: (m: Message) => string);
    clear(): void;
    /** Renders the whole timeline (texts pending or failed stay after it). */
    show(t: Timeline): void;
    /** `m` was just added to `t` (the timeline on screen): insert it in place. */
    added(t: Timeline, m: Message): void;
    /** A text of ours changed state: pending and failed ones show (in the
     * order sent) after the messages, with Retry on a failed one; a stored
     * or dropped one goes (the stored message shows in its place). */
    outgoing(o: Outgoing): void;
    /** Shows these (a conversation's `client.outgoing(id)`) after the messages,
     * instead of any shown before. */
    showOutgoing(list: readonly Outgoing[]): void;
    private outgoingNode;
    /** Keeps the newest in view: the list scrolls when it is the scroller
     * (the widget), else the page does. */
    private scrollToEnd;
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
