export type TimerId = unknown;
export interface Clock {
    now(): number;
    setTimeout(fn: () => void, ms: number): TimerId;
    clearTimeout(id: TimerId): void;
}
export declare const systemClock: Clock;
