// The message list of both pages, rendered from the library's Timeline (the
// one copy of the ordering and de-duplication rules), and read receipts.

import type { Api, Message, Timeline } from '../index.js';
import { el, isVisible } from './dom.js';
import { timeText } from './session.js';

export class MessageView {
  private readonly receipts = new Map<string, HTMLElement>();

  constructor(
    private readonly list: HTMLOListElement,
    private readonly me: string,
    /** Who wrote it, for a message not mine. */
    private readonly who: (m: Message) => string,
  ) {}

  clear(): void {
    this.receipts.clear();
    this.list.replaceChildren();
  }

  /** Renders the whole timeline. */
  show(t: Timeline): void {
    this.receipts.clear();
    this.list.replaceChildren(...t.messages.map((m) => this.node(m)));
    this.list.lastElementChild?.scrollIntoView({ block: 'end' });
  }

  /** `m` was just added to `t` (the timeline on screen): insert it in place. */
  added(t: Timeline, m: Message): void {
    const i = t.indexOf(m.id);
    // The list mirrors the timeline; if it ever does not, redraw it whole.
    if (i < 0 || this.list.children.length !== t.size - 1) return this.show(t);
    const node = this.node(m);
    this.list.insertBefore(node, this.list.children[i] ?? null);
    node.scrollIntoView({ block: 'end' });
  }

  /** These messages of mine were read by the other side. */
  read(changed: readonly Message[]): void {
    for (const m of changed) {
      const r = this.receipts.get(m.id);
      if (r) r.textContent = 'Read';
    }
  }

  private node(m: Message): HTMLLIElement {
    const mine = m.sender_id === this.me;
    const who = mine ? 'You' : this.who(m);
    const time = el('time', { datetime: m.created_at }, timeText(m.created_at));
    if (m.message_type === 'note') {
      // Internal: visibly different, and labelled so for screen readers too.
      return el(
        'li',
        { class: 'msg note', 'data-testid': 'note', 'data-id': m.id, 'data-seq': String(m.seq) },
        el('span', { class: 'who' }, el('span', { class: 'note-label' }, 'Internal note'), ` · ${who}`),
        el('p', { class: 'text' }, m.content),
        el('span', { class: 'meta' }, time),
      );
    }
    let receipt: HTMLElement | null = null;
    if (mine) {
      receipt = el('span', { class: 'receipt', 'data-testid': 'receipt' }, m.read_at ? 'Read' : '');
      this.receipts.set(m.id, receipt);
    }
    return el(
      'li',
      { class: mine ? 'msg mine' : 'msg theirs', 'data-testid': 'message', 'data-id': m.id, 'data-seq': String(m.seq) },
      el('span', { class: 'who' }, who),
      el('p', { class: 'text' }, m.content),
      el('span', { class: 'meta' }, time, ' ', receipt),
    );
  }
}

/** Read receipts: shortly after the other side's texts are shown (and the
 * page is visible), marks them read up to the newest one. */
export class ReadMarker {
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly api: Api,
    private readonly me: string,
    /** Called once the read is sent (e.g. to clear an unread badge). */
    private readonly marked: (conversationId: string) => void = () => {},
  ) {}

  /** `force`: post even when the newest text already shows `read_at` (the
   * server still counts it unread for this reader). */
  schedule(conversationId: string, t: Timeline, force = false): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!isVisible()) return;
      const last = t.lastWhere((m) => m.message_type === 'text' && m.sender_id !== this.me);
      if (!last || (last.read_at && !force)) return;
      t.markRead(last.id, (m) => m.message_type === 'text' && m.sender_id !== this.me);
      this.api.markRead(conversationId, last.id).then(
        () => this.marked(conversationId),
        () => {}, // a lost receipt is harmless; the next text retries
      );
    }, 300);
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** Enter sends (Shift+Enter is a new line). */
export function submitOnEnter(form: HTMLFormElement, input: HTMLTextAreaElement): void {
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
}
