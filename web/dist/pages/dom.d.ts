export type Child = Node | string | null | false;
/** `<tag attrs…>children</tag>`; attribute values and string children are text. */
export declare function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string | undefined>, ...children: Child[]): HTMLElementTagNameMap[K];
/** The element with this id, checked to be of the expected kind. */
export declare function byId<T extends HTMLElement>(id: string, kind: {
    new (): T;
    prototype: T;
}): T;
/** The nearest `[data-action]` element around a click target, within `root`. */
export declare function actionOf(ev: Event, root: HTMLElement): HTMLElement | null;
export declare const isVisible: () => boolean;
/** A text as nodes: plain pieces as text nodes, http(s) URLs as links that
 * open in a new tab without giving it this page (`rel=noopener noreferrer`).
 * Built with DOM calls only: the text is never parsed as HTML. */
export declare function linkified(text: string): Node[];
