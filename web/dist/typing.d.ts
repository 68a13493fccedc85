import type { Clock } from './clock.js';
import type { ClientSubType } from './wire.js';
/** §5.1: `typing_started` at most once per 5 s while keys are pressed,
 * `typing_stopped` after 1 s without a key, and a reset after a stop. */
export declare class TypingSender {
    private readonly clock;
    private readonly send;
    static readonly THROTTLE_MS = 5000;
    static readonly IDLE_MS = 1000;
    private lastStartedAt;
    private idleTimer;
    constructor(clock: Clock, send: (subType: ClientSubType) => void);
    /** Call on every key press in the input. */
    keyPressed(): void;
    /** The user sent the message: the server stops the indicator on our
     * behalf, so only local state is reset (no extra frame). */
    messageSent(): void;
    /** Ends the indicator now: `typing_stopped` if `typing_started` was
     * sent (e.g. the composer switched to an internal note), then a reset. */
    stop(): void;
    /** Forget everything (conversation closed, page hidden, …). */
    reset(): void;
    get isTyping(): boolean;
}
/** §5.2: who is typing, per sender: shown on `typing_started` for 6 s
 * (refreshed by each new one), hidden at once on `typing_stopped` or when
 * that sender's message arrives. */
export declare class TypingDisplay {
    private readonly clock;
    private readonly onChange;
    static readonly SHOW_MS = 6000;
    private readonly timers;
    constructor(clock: Clock, onChange: (typing: string[]) => void);
    started(senderId: string): void;
    stopped(senderId: string): void;
    /** A message from the sender ends its indicator. */
    messageFrom(senderId: string): void;
    clear(): void;
    get typing(): string[];
}
