// The rest of the console's sidebar: my conversations under an Open and a
// Closed tab (each a list updated in place, with previews and unread
// badges), the tabs' keyboard, and the team with presence.
import { openLabel, previewText, tabTarget } from './console_format.js';
import { el } from './dom.js';
import { KeyedList, setAttr, setText } from './keyed.js';
import { PRESENCE_TEXT, shortId } from './session.js';
/** My conversations: open ones under the Open tab, closed ones under Closed. */
export class MineView {
    ui;
    me;
    current;
    open;
    closed;
    constructor(ui, me, 
    /** The conversation on screen. */
    current) {
        this.ui = ui;
        this.me = me;
        this.current = current;
        const spec = (which) => ({
            key: (c) => c.id,
            create: (c) => this.create(c),
            update: (v, c) => this.update(v, c),
            fallbackFocus: () => ui.tabs.tab(which === 'open' ? 0 : 1),
        });
        this.open = new KeyedList(ui.open, spec('open'));
        this.closed = new KeyedList(ui.closed, spec('closed'));
    }
    render(open, closed) {
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
    button(id) {
        return (this.open.view(id) ?? this.closed.view(id))?.focus;
    }
    /** Which tab lists it. */
    tabOf(id) {
        return this.open.view(id) ? 0 : this.closed.view(id) ? 1 : null;
    }
    create(c) {
        const subject = el('span', { class: 'subject' });
        const preview = el('span', { class: 'preview', 'data-testid': 'last-message', id: `mine-preview-${c.id}` });
        const focus = el('button', { type: 'button', class: 'conv-open', 'data-action': 'open', 'data-id': c.id, 'aria-describedby': preview.id }, subject, preview);
        const root = el('li', { class: 'conv mine-item', 'data-testid': 'my-conversation', 'data-conversation-id': c.id }, focus);
        return { root, focus, subject, preview, badge: null };
    }
    update(v, c) {
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
        }
        else if (v.badge) {
            v.badge.remove();
            v.badge = null;
        }
    }
}
/** A tablist: click or arrow keys (wrapping; Home, End) select a tab and
 * show its panel; only the selected tab is in the Tab order. */
export class Tabs {
    tabs;
    panels;
    selected = 0;
    constructor(tabs, panels) {
        this.tabs = tabs;
        this.panels = panels;
        tabs.forEach((tab, i) => {
            tab.addEventListener('click', () => this.select(i));
            tab.addEventListener('keydown', (ev) => {
                const to = tabTarget(ev.key, i, tabs.length);
                if (to === null)
                    return;
                ev.preventDefault();
                this.select(to, true);
            });
        });
        this.select(0);
    }
    get index() {
        return this.selected;
    }
    tab(i) {
        return this.tabs[i] ?? null;
    }
    select(index, focus = false) {
        this.selected = index;
        this.tabs.forEach((tab, i) => {
            setAttr(tab, 'aria-selected', String(i === index));
            setAttr(tab, 'tabindex', i === index ? '0' : '-1');
            setHidden(this.panels[i], i !== index);
        });
        if (focus)
            this.tabs[index]?.focus();
    }
}
/** The team, online first: updated in place like the other lists. */
export class TeamView {
    empty;
    me;
    members;
    constructor(list, empty, me) {
        this.empty = empty;
        this.me = me;
        this.members = new KeyedList(list, {
            key: (a) => a.id,
            create: (a) => this.create(a),
            update: (v, a) => this.update(v, a),
        });
    }
    render(team) {
        this.members.update(team);
        setHidden(this.empty, team.length > 0);
    }
    create(a) {
        const name = el('span', { class: 'name', title: a.id }, a.id === this.me ? `${shortId(a.id)} (you)` : shortId(a.id));
        const status = el('span', { class: 'member-status' });
        const load = el('span', { class: 'load' });
        const root = el('li', { class: 'member', 'data-testid': 'team-member', 'data-agent-id': a.id }, el('span', { class: 'dot', 'aria-hidden': 'true' }), name, status, load);
        return { root, focus: root, name, status, load };
    }
    update(v, a) {
        setAttr(v.root, 'class', `member ${a.status}`);
        setAttr(v.root, 'data-status', a.status);
        setText(v.status, PRESENCE_TEXT[a.status]);
        setText(v.load, `${a.open_conversations} open`);
    }
}
export function setHidden(node, hidden) {
    if (node.hidden !== hidden)
        node.hidden = hidden;
}
