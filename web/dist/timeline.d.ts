import type { Message } from './protocol.js';
export declare class Timeline {
    private readonly items;
    private readonly byId;
    /** Inserts by seq and returns the index, or -1 when the id is already
     * there. Gaps in seq are normal (a customer never receives notes), so
     * nothing ever waits for a missing seq. */
    add(m: Message): number;
    has(id: string): boolean;
    get(id: string): Message | undefined;
    indexOf(id: string): number;
    /** In seq order. */
    get messages(): readonly Message[];
    get size(): number;
    /** The message with the highest seq. */
    get last(): Message | undefined;
    /** The newest message matching `pred`. */
    lastWhere(pred: (m: Message) => boolean): Message | undefined;
    /** Sets `read_at` on the messages matching `which` up to `upTo` (by seq)
     * that had none; returns them. An unknown `upTo` changes nothing. */
    markRead(upTo: string, which: (m: Message) => boolean, at?: string): Message[];
}
