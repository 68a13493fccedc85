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
