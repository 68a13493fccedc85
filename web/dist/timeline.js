// One conversation's messages, each id once, in seq order. The ChatClient
// de-duplicates deliveries with it and the pages render from it, so there is
// a single copy of the ordering rules.
export class Timeline {
    items = [];
    byId = new Map();
    /** Inserts by seq and returns the index, or -1 when the id is already
     * there. Gaps in seq are normal (a customer never receives notes), so
     * nothing ever waits for a missing seq. */
    add(m) {
        if (this.byId.has(m.id))
            return -1;
        this.byId.set(m.id, m);
        // Live messages almost always come last: search from the end.
        let i = this.items.length;
        while (i > 0 && this.items[i - 1].seq > m.seq)
            i--;
        this.items.splice(i, 0, m);
        return i;
    }
    has(id) {
        return this.byId.has(id);
    }
    get(id) {
        return this.byId.get(id);
    }
    indexOf(id) {
        const m = this.byId.get(id);
        return m ? this.items.indexOf(m) : -1;
    }
    /** In seq order. */
    get messages() {
        return this.items;
    }
    get size() {
        return this.items.length;
    }
    /** The message with the highest seq. */
    get last() {
        return this.items[this.items.length - 1];
    }
    /** The newest message matching `pred`. */
    lastWhere(pred) {
        for (let i = this.items.length - 1; i >= 0; i--)
            if (pred(this.items[i]))
                return this.items[i];
        return undefined;
    }
    /** Sets `read_at` on the messages matching `which` up to `upTo` (by seq)
     * that had none; returns them. An unknown `upTo` changes nothing. */
    markRead(upTo, which, at = new Date().toISOString()) {
        const limit = this.byId.get(upTo)?.seq;
        if (limit === undefined)
            return [];
        const changed = [];
        for (const m of this.items) {
            if (m.seq > limit)
                break;
            if (!m.read_at && which(m)) {
                m.read_at = at;
                changed.push(m);
            }
        }
        return changed;
    }
}
