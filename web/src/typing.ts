// The seed document's §5 typing rules, one class per side.

import type { Clock, TimerId } from './clock.js';
import type { ClientSubType } from './wire.js';

/** §5.1: `typing_started` at most once per 5 s while keys are pressed,
 * `typing_stopped` after 1 s without a key, and a reset after a stop. */
export class TypingSender {
  static readonly THROTTLE_MS = 5000;
  static readonly IDLE_MS = 1000;

  private lastStartedAt: number | null = null;
  private idleTimer: TimerId | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly send: (subType: ClientSubType) => void,
  ) {}

  /** Call on every key press in the input. */
  keyPressed(): void {
    const now = this.clock.now();
    if (this.lastStartedAt === null || now - this.lastStartedAt > TypingSender.THROTTLE_MS) {
      this.send('typing_started');
      this.lastStartedAt = now;
    }
    if (this.idleTimer !== null) this.clock.clearTimeout(this.idleTimer);
    this.idleTimer = this.clock.setTimeout(() => {
      this.idleTimer = null;
      this.send('typing_stopped');
      this.lastStartedAt = null;
    }, TypingSender.IDLE_MS);
  }

  /** The user sent the message: the server stops the indicator on our
   * behalf, so only local state is reset (no extra frame). */
  messageSent(): void {
    this.reset();
  }

  /** Ends the indicator now: `typing_stopped` if `typing_started` was
   * sent (e.g. the composer switched to an internal note), then a reset. */
  stop(): void {
    const wasTyping = this.isTyping;
    this.reset();
    if (wasTyping) this.send('typing_stopped');
  }

  /** Forget everything (conversation closed, page hidden, …). */
  reset(): void {
    if (this.idleTimer !== null) this.clock.clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.lastStartedAt = null;
  }

  get isTyping(): boolean {
    return this.lastStartedAt !== null;
  }
}

/** §5.2: who is typing, per sender: shown on `typing_started` for 6 s
 * (refreshed by each new one), hidden at once on `typing_stopped` or when
 * that sender's message arrives. */
export class TypingDisplay {
  static readonly SHOW_MS = 6000;

  private readonly timers = new Map<string, TimerId>();

  constructor(
    private readonly clock: Clock,
    private readonly onChange: (typing: string[]) => void,
  ) {}

  started(senderId: string): void {
    const existing = this.timers.get(senderId);
    const wasShown = existing !== undefined;
    if (wasShown) this.clock.clearTimeout(existing);
    this.timers.set(
      senderId,
      this.clock.setTimeout(() => {
        this.timers.delete(senderId);
        this.onChange(this.typing);
      }, TypingDisplay.SHOW_MS),
    );
    if (!wasShown) this.onChange(this.typing);
  }

  stopped(senderId: string): void {
    const existing = this.timers.get(senderId);
    if (existing === undefined) return;
    this.clock.clearTimeout(existing);
    this.timers.delete(senderId);
    this.onChange(this.typing);
  }

  /** A message from the sender ends its indicator. */
  messageFrom(senderId: string): void {
    this.stopped(senderId);
  }

  clear(): void {
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    const had = this.timers.size > 0;
    this.timers.clear();
    if (had) this.onChange([]);
  }

  get typing(): string[] {
    return [...this.timers.keys()];
  }
}
