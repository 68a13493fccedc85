/** A polite live region: each line is added (so quick ones are all read)
 * and removed a little later. */
export declare class Announcer {
    private readonly region;
    private readonly keepMs;
    constructor(region: HTMLElement, keepMs?: number);
    say(text: string): void;
}
export declare class Alerts {
    private readonly button;
    /** A notification was clicked: show that conversation (or the queue). */
    private readonly activate;
    private readonly problem;
    private on;
    private audio;
    private lastBeep;
    constructor(button: HTMLButtonElement, 
    /** A notification was clicked: show that conversation (or the queue). */
    activate: (conversationId: string | null) => void, problem: (text: string) => void);
    get enabled(): boolean;
    /** A customer is waiting in the queue. */
    newChat(body: string, conversationId: string): void;
    /** A text the agent has not seen yet. */
    newMessage(title: string, body: string, conversationId: string): void;
    private toggle;
    private render;
    private alert;
    private audioContext;
    /** A short, soft two-tone beep; no audio file. */
    private beep;
}
