// The rest of the console's sidebar: my conversations under an Open and a
// Closed tab (each a list updated in place, with previews and unread
// badges), the tabs' keyboard, and the team with presence.

import type { Agent, Conversation } from '../index.js';
import { openLabel, previewText, tabTarget } from './console_format.js';
import { el } from './dom.js';
import { type ItemView, KeyedList, setAttr, setText } from './keyed.js';
import { PRESENCE_TEXT, shortId } from './session.js';

interface MineItem extends ItemView {
  focus: HTMLButtonElement;
  subject: HTMLElement;
  preview: HTMLElement;
  badge: HTMLElement | null;
}

export interface MineElements {
  open: HTMLElement;
  closed: HTMLElement;
  openEmpty: HTMLElement;
  closedEmpty: HTMLElement;
  openCount: HTMLElement;
  closedCount: HTMLElement;
  tabs: Tabs;
}

/** My conversations: open ones under the Open tab, closed ones under Closed. */
export class MineView {
  private readonly open: KeyedList<Conversation, MineItem>;
  private readonly closed: KeyedList<Conversation, MineItem>;

  constructor(
    private readonly ui: MineElements,
    private readonly me: string,
    /** The conversation on screen. */
    private readonly current: () => string | null,
  ) {
    const spec = (which: 'open' | 'closed') => ({
      key: (c: Conversation) => c.id,
      create: (c: Conversation) => this.create(c),
      update: (v: MineItem, c: Conversation) => this.update(v, c),
      fallbackFocus: () => ui.tabs.tab(which === 'open' ? 0 : 1),
    });
    this.open = new KeyedList(ui.open, spec('open'));
    this.closed = new KeyedList(ui.closed, spec('closed'));
  }

  render(open: readonly Conversation[], closed: readonly Conversation[]): void {
    // The open list first: an item moving to Closed leaves it before it is
    // made again there (its ids stay unique).
    this.open.update(open);
    this.closed.update(closed);
    setText(this.ui.openCount, open.length ? String(open.length) : '');
    setText(this.ui.closedCount, closed.length ? String(closed.length) : '');
    setHidden(this.ui.openEmpty, open.length > 0);
    setHidden(this.ui.closedEmpty, closed.length > 0);
  }

  /** The Open button of a conversation of mine, when listed. */
  button(id: string): HTMLButtonElement | undefined {
    return (this.open.view(id) ?? this.closed.view(id))?.focus;
  }

  /** Which tab lists it. */
  tabOf(id: string): 0 | 1 | null {
    return this.open.view(id) ? 0 : this.closed.view(id) ? 1 : null;
  }

  private create(c: Conversation): MineItem {
    const subject = el('span', { class: 'subject' });
    const preview = el('span', { class: 'preview', 'data-testid': 'last-message', id: `mine-preview-${c.id}` });
    const focus = el(
      'button',
      { type: 'button', class: 'conv-open', 'data-action': 'open', 'data-id': c.id, 'aria-describedby': preview.id },
      subject,
      preview,
    );
    const root = el('li', { class: 'conv mine-item', 'data-testid': 'my-conversation', 'data-conversation-id': c.id }, focus);
    return { root, focus, subject, preview, badge: null };
  }

  private update(v: MineItem, c: Conversation): void {
    const active = c.id === this.current();
    v.root.classList.toggle('active', active);
    v.root.classList.toggle('closed', c.status === 'closed');
    v.root.classList.toggle('unread', c.unread_count > 0);
    setAttr(v.root, 'data-status', c.status);
    setAttr(v.root, 'data-unread', String(c.unread_count));
    setAttr(v.focus, 'aria-current', active ? 'true' : null);
    setAttr(v.focus, 'aria-label', openLabel(c, this.me));
    const subject = c.subject?.trim() ? c.subject : '';
    setText(v.subject, subject);
    setHidden(v.subject, !subject);
    v.root.classList.toggle('no-subject', !subject);
    const text = previewText(c, this.me);
    setText(v.preview, text ?? 'No messages yet');
    v.root.classList.toggle('no-message', text === null);
    if (c.unread_count > 0) {
      // The count is in the button's name; the badge is for the eyes.
      v.badge ??= v.root.appendChild(el('span', { class: 'badge', 'data-testid': 'unread-badge', 'aria-hidden': 'true' }));
      setText(v.badge, String(c.unread_count));
    } else if (v.badge) {
      v.badge.remove();
      v.badge = null;
    }
  }
}

/** A tablist: click or arrow keys (wrapping; Home, End) select a tab and
 * show its panel; only the selected tab is in the Tab order. */
export class Tabs {
  private selected = 0;

  constructor(
    private readonly tabs: readonly HTMLButtonElement[],
    private readonly panels: readonly HTMLElement[],
  ) {
    tabs.forEach((tab, i) => {
      tab.addEventListener('click', () => this.select(i));
      tab.addEventListener('keydown', (ev) => {
        const to = tabTarget(ev.key, i, tabs.length);
        if (to === null) return;
        ev.preventDefault();
        this.select(to, true);
      });
    });
    this.select(0);
  }

  get index(): number {
    return this.selected;
  }

  tab(i: number): HTMLButtonElement | null {
    return this.tabs[i] ?? null;
  }

  select(index: number, focus = false): void {
    this.selected = index;
    this.tabs.forEach((tab, i) => {
      setAttr(tab, 'aria-selected', String(i === index));
      setAttr(tab, 'tabindex', i === index ? '0' : '-1');
      setHidden(this.panels[i], i !== index);
    });
    if (focus) this.tabs[index]?.focus();
  }
}

interface MemberItem extends ItemView {
  name: HTMLElement;
  status: HTMLElement;
  load: HTMLElement;
}

/** The team, online first: updated in place like the other lists. */
export class TeamView {
  private readonly members: KeyedList<Agent, MemberItem>;

  constructor(
    list: HTMLElement,
    private readonly empty: HTMLElement,
    private readonly me: string,
  ) {
    this.members = new KeyedList(list, {
      key: (a) => a.id,
      create: (a) => this.create(a),
      update: (v, a) => this.update(v, a),
    });
  }

  render(team: readonly Agent[]): void {
    this.members.update(team);
    setHidden(this.empty, team.length > 0);
  }

  private create(a: Agent): MemberItem {
    const name = el('span', { class: 'name', title: a.id }, a.id === this.me ? `${shortId(a.id)} (you)` : shortId(a.id));
    const status = el('span', { class: 'member-status' });
    const load = el('span', { class: 'load' });
    const root = el(
      'li',
      { class: 'member', 'data-testid': 'team-member', 'data-agent-id': a.id },
      el('span', { class: 'dot', 'aria-hidden': 'true' }),
      name,
      status,
      load,
    );
    return { root, focus: root, name, status, load };
  }

  private update(v: MemberItem, a: Agent): void {
    setAttr(v.root, 'class', `member ${a.status}`);
    setAttr(v.root, 'data-status', a.status);
    setText(v.status, PRESENCE_TEXT[a.status]);
    setText(v.load, `${a.open_conversations} open`);
  }
}

export function setHidden(node: HTMLElement, hidden: boolean): void {
  if (node.hidden !== hidden) node.hidden = hidden;
}
