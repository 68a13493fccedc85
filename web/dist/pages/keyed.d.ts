/** How to turn the list `current` into `next` (keys unique in each). */
export interface KeyedPlan {
    /** Keys whose nodes leave. */
    remove: string[];
    /** Applied in this order, after the removals: put `key`'s node (new, or
     * moved) just before `before`'s node (null: at the end). Nodes not named
     * here stay where they are. */
    place: Array<{
        key: string;
        before: string | null;
    }>;
}
/** The fewest moves (the nodes of a longest run already in order stay);
 * `pinned` (e.g. the item holding the focus) is among those that stay when
 * it is kept at all, since moving a focused node drops its focus. */
export declare function planKeyed(current: readonly string[], next: readonly string[], pinned?: string | null): KeyedPlan;
/** The part of a parent node the plan needs (a DOM element, or a test fake). */
export interface ListHost<N> {
    insertBefore(node: N, child: N | null): unknown;
    removeChild(child: N): unknown;
}
/** Applies `plan` to `host`, whose keyed children are `nodes` (updated:
 * removed keys are deleted, new ones made by `make`). */
export declare function applyKeyed<N>(host: ListHost<N>, nodes: Map<string, N>, plan: KeyedPlan, make: (key: string) => N): void;
/** The key that comes after `key` in `before` and is still in `after`
 * (else the one before it): where the focus goes when its item leaves. */
export declare function neighbourKey(before: readonly string[], after: readonly string[], key: string): string | null;
/** One item's nodes: `root` is the list item, `focus` what takes the focus. */
export interface ItemView {
    root: HTMLElement;
    focus: HTMLElement;
}
export interface KeyedListSpec<T, V extends ItemView> {
    key(item: T): string;
    create(item: T): V;
    /** Brings an existing view up to date: only text and attributes that
     * differ are written. Also called right after `create`. */
    update(view: V, item: T): void;
    /** Where the focus goes when its item left and no neighbour is left. */
    fallbackFocus?(): HTMLElement | null;
}
/** A `<ul>` / `<ol>` mirroring a list of items by key, in place. */
export declare class KeyedList<T, V extends ItemView> {
    private readonly list;
    private readonly spec;
    private readonly views;
    private order;
    constructor(list: HTMLElement, spec: KeyedListSpec<T, V>);
    update(items: readonly T[]): void;
    view(key: string): V | undefined;
    get all(): IterableIterator<V>;
    get size(): number;
    private keyOf;
}
/** Sets a node's text by changing its one text node (no node replaced). */
export declare function setText(node: Node, text: string): void;
/** Sets (or, for null, removes) an attribute only when it differs. */
export declare function setAttr(node: Element, name: string, value: string | null): void;
