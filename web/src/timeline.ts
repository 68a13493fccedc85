// One conversation's messages, each id once, in seq order. The ChatClient
// de-duplicates deliveries with it and the pages render from it, so there is
// a single copy of the ordering rules.

import type { Message } from './protocol.js';

export class Timeline {
  private readonly items: Message[] = [];
  private readonly byId = new Map<string, Message>();

  /** Inserts by seq and returns the index, or -1 when the id is already
   * there. Gaps in seq are normal (a customer never receives notes), so
   * nothing ever waits for a missing seq. */
  add(m: Message): number {
    if (this.byId.has(m.id)) return -1;
    this.byId.set(m.id, m);
    // Live messages almost always come last: search from the end.
    let i = this.items.length;
    while (i > 0 && this.items[i - 1].seq > m.seq) i--;
    this.items.splice(i, 0, m);
    return i;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): Message | undefined {
    return this.byId.get(id);
  }

  indexOf(id: string): number {
    const m = this.byId.get(id);
    return m ? this.items.indexOf(m) : -1;
  }

  /** In seq order. */
  get messages(): readonly Message[] {
    return this.items;
  }

  get size(): number {
    return this.items.length;
  }

  /** The message with the highest seq. */
  get last(): Message | undefined {
    return this.items[this.items.length - 1];
  }

  /** The newest message matching `pred`. */
  lastWhere(pred: (m: Message) => boolean): Message | undefined {
    for (let i = this.items.length - 1; i >= 0; i--) if (pred(this.items[i])) return this.items[i];
    return undefined;
  }

  /** Sets `read_at` on the messages matching `which` up to `upTo` (by seq)
   * that had none; returns them. An unknown `upTo` changes nothing. */
  markRead(upTo: string, which: (m: Message) => boolean, at: string = new Date().toISOString()): Message[] {
    const limit = this.byId.get(upTo)?.seq;
    if (limit === undefined) return [];
    const changed: Message[] = [];
    for (const m of this.items) {
      if (m.seq > limit) break;
      if (!m.read_at && which(m)) {
        m.read_at = at;
        changed.push(m);
      }
    }
    return changed;
  }
}
