import type { Agent, Conversation } from '../index.js';
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
export declare class MineView {
    private readonly ui;
    private readonly me;
    /** The conversation on screen. */
    private readonly current;
    private readonly open;
    private readonly closed;
    constructor(ui: MineElements, me: string, 
    /** The conversation on screen. */
    current: () => string | null);
    render(open: readonly Conversation[], closed: readonly Conversation[]): void;
    /** The Open button of a conversation of mine, when listed. */
    button(id: string): HTMLButtonElement | undefined;
    /** Which tab lists it. */
    tabOf(id: string): 0 | 1 | null;
    private create;
    private update;
}
/** A tablist: click or arrow keys (wrapping; Home, End) select a tab and
 * show its panel; only the selected tab is in the Tab order. */
export declare class Tabs {
    private readonly tabs;
    private readonly panels;
    private selected;
    constructor(tabs: readonly HTMLButtonElement[], panels: readonly HTMLElement[]);
    get index(): number;
    tab(i: number): HTMLButtonElement | null;
    select(index: number, focus?: boolean): void;
}
/** The team, online first: updated in place like the other lists. */
export declare class TeamView {
    private readonly empty;
    private readonly me;
    private readonly members;
    constructor(list: HTMLElement, empty: HTMLElement, me: string);
    render(team: readonly Agent[]): void;
    private create;
    private update;
}
export declare function setHidden(node: HTMLElement, hidden: boolean): void;
