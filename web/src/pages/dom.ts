// Tiny DOM helpers for the pages. User content only ever goes in as text
// (`textContent` / text nodes), never as HTML.

import { linkSegments } from './format.js';

export type Child = Node | string | null | false;

/** `<tag attrs…>children</tag>`; attribute values and string children are text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== false) node.append(c);
  return node;
}

/** The element with this id, checked to be of the expected kind. */
export function byId<T extends HTMLElement>(id: string, kind: { new (): T; prototype: T }): T {
  const node = document.getElementById(id);
  if (!(node instanceof kind)) throw new Error(`the page has no #${id}`);
  return node;
}

/** The nearest `[data-action]` element around a click target, within `root`. */
export function actionOf(ev: Event, root: HTMLElement): HTMLElement | null {
  const target = ev.target;
  if (!(target instanceof Element)) return null;
  const node = target.closest<HTMLElement>('[data-action]');
  return node && root.contains(node) ? node : null;
}

export const isVisible = (): boolean => document.visibilityState === 'visible';

/** A text as nodes: plain pieces as text nodes, http(s) URLs as links that
 * open in a new tab without giving it this page (`rel=noopener noreferrer`).
 * Built with DOM calls only: the text is never parsed as HTML. */
export function linkified(text: string): Node[] {
  return linkSegments(text).map((s) => {
    if (s.kind === 'text') return document.createTextNode(s.text);
    const a = document.createElement('a');
    a.href = s.href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.textContent = s.text;
    return a;
  });
}
