// Lists updated in place, keyed by id: a node that stays is never removed
// or re-created, so a focused button keeps its focus (and a screen reader
// its place) while the list around it changes. The plan is a pure function
// (unit-tested); `KeyedList` applies it to the DOM.
/** The fewest moves (the nodes of a longest run already in order stay);
 * `pinned` (e.g. the item holding the focus) is among those that stay when
 * it is kept at all, since moving a focused node drops its focus. */
export function planKeyed(current, next, pinned = null) {
    const wanted = new Set(next);
    const remove = current.filter((k) => !wanted.has(k));
    const rank = new Map();
    for (const k of current)
        if (wanted.has(k) && !rank.has(k))
            rank.set(k, rank.size);
    const kept = next.filter((k) => rank.has(k));
    const ranks = kept.map((k) => rank.get(k));
    const stay = new Set(staying(ranks, kept.indexOf(pinned ?? '')).map((i) => kept[i]));
    const place = [];
    let before = null;
    for (let i = next.length - 1; i >= 0; i--) {
        const key = next[i];
        if (!stay.has(key))
            place.push({ key, before });
        before = key;
    }
    return { remove, place };
}
/** Indices of a longest increasing run of `values`, through index `pin`
 * when `pin >= 0`. */
function staying(values, pin) {
    if (pin < 0)
        return longestIncreasing(values, values.map((_, i) => i));
    const v = values[pin];
    const left = values.map((_, i) => i).filter((i) => i < pin && values[i] < v);
    const right = values.map((_, i) => i).filter((i) => i > pin && values[i] > v);
    return [...longestIncreasing(values, left), pin, ...longestIncreasing(values, right)];
}
/** Longest strictly increasing subsequence of `values` restricted to
 * `indices` (ascending): its indices. O(n log n). */
function longestIncreasing(values, indices) {
    const tails = []; // tails[l]: index ending the best run of length l + 1
    const prev = new Map();
    for (const i of indices) {
        let lo = 0;
        let hi = tails.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (values[tails[mid]] < values[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo > 0)
            prev.set(i, tails[lo - 1]);
        tails[lo] = i;
    }
    const run = [];
    let i = tails[tails.length - 1];
    while (i !== undefined) {
        run.push(i);
        i = prev.get(i);
    }
    return run.reverse();
}
/** Applies `plan` to `host`, whose keyed children are `nodes` (updated:
 * removed keys are deleted, new ones made by `make`). */
export function applyKeyed(host, nodes, plan, make) {
    for (const key of plan.remove) {
        const node = nodes.get(key);
        if (node !== undefined)
            host.removeChild(node);
        nodes.delete(key);
    }
    for (const { key, before } of plan.place) {
        let node = nodes.get(key);
        if (node === undefined) {
            node = make(key);
            nodes.set(key, node);
        }
        host.insertBefore(node, before === null ? null : (nodes.get(before) ?? null));
    }
}
/** The key that comes after `key` in `before` and is still in `after`
 * (else the one before it): where the focus goes when its item leaves. */
export function neighbourKey(before, after, key) {
    const still = new Set(after);
    const i = before.indexOf(key);
    if (i < 0)
        return after[0] ?? null;
    for (let j = i + 1; j < before.length; j++)
        if (still.has(before[j]))
            return before[j];
    for (let j = i - 1; j >= 0; j--)
        if (still.has(before[j]))
            return before[j];
    return null;
}
/** A `<ul>` / `<ol>` mirroring a list of items by key, in place. */
export class KeyedList {
    list;
    spec;
    views = new Map();
    order = [];
    constructor(list, spec) {
        this.list = list;
        this.spec = spec;
    }
    update(items) {
        const keys = items.map((item) => this.spec.key(item));
        const active = document.activeElement;
        const focusedKey = active instanceof Node && this.list.contains(active) ? this.keyOf(active) : null;
        for (const item of items) {
            const key = this.spec.key(item);
            let view = this.views.get(key);
            if (!view) {
                view = this.spec.create(item);
                this.views.set(key, view);
            }
            this.spec.update(view, item);
        }
        const nodes = new Map([...this.views].map(([key, view]) => [key, view.root]));
        const plan = planKeyed(this.order, keys, focusedKey);
        applyKeyed(this.list, nodes, plan, (key) => this.views.get(key).root);
        for (const key of plan.remove)
            this.views.delete(key);
        const before = this.order;
        this.order = keys;
        if (focusedKey !== null && !this.list.contains(document.activeElement)) {
            // Its item left (or, against the plan, moved): keep the keyboard near.
            const still = this.views.get(focusedKey);
            const next = still ?? this.views.get(neighbourKey(before, keys, focusedKey) ?? '');
            const target = next?.focus ?? this.spec.fallbackFocus?.() ?? null;
            target?.focus();
        }
    }
    view(key) {
        return this.views.get(key);
    }
    get all() {
        return this.views.values();
    }
    get size() {
        return this.order.length;
    }
    keyOf(node) {
        for (const [key, view] of this.views)
            if (view.root.contains(node))
                return key;
        return null;
    }
}
/** Sets a node's text by changing its one text node (no node replaced). */
export function setText(node, text) {
    const first = node.firstChild;
    if (first instanceof Text && first === node.lastChild) {
        if (first.data !== text)
            first.data = text;
    }
    else if (node.textContent !== text) {
        node.textContent = text;
    }
}
/** Sets (or, for null, removes) an attribute only when it differs. */
export function setAttr(node, name, value) {
    if (value === null) {
        if (node.hasAttribute(name))
            node.removeAttribute(name);
    }
    else if (node.getAttribute(name) !== value) {
        node.setAttribute(name, value);
    }
}
