import type { Api, ChatClient, Conversation, Desk } from '../index.js';
import type { Alerts } from './console_alerts.js';
import type { Mode, Pane } from './console_pane.js';
import type { QueueAnnouncer, QueuePreviews, QueueView } from './console_queue.js';
import type { MineView, Tabs, TeamView } from './console_sidebar.js';
import type { MessageView, ReadMarker } from './messages.js';
export declare const ui: {
    console: HTMLElement;
    me: HTMLElement;
    status: HTMLElement;
    alerts: HTMLButtonElement;
    queueTitle: HTMLElement;
    queue: HTMLUListElement;
    queueCount: HTMLElement;
    queueEmpty: HTMLElement;
    announcer: HTMLElement;
    mine: HTMLElement;
    team: HTMLUListElement;
    teamEmpty: HTMLElement;
    empty: HTMLElement;
    notice: HTMLElement;
    conversation: HTMLElement;
    back: HTMLButtonElement;
    backUnread: HTMLElement;
    title: HTMLElement;
    messages: HTMLOListElement;
    typing: HTMLElement;
    form: HTMLFormElement;
    input: HTMLTextAreaElement;
    problem: HTMLElement;
};
/** On a narrow screen one column shows: the lists, or the conversation. */
export type View = 'list' | 'conversation';
export declare const narrow: MediaQueryList;
export interface ConsoleState {
    /** The conversation on screen. */
    current: string | null;
    mode: Mode;
    view: View;
    /** Bumped per (re)connect; an older snapshot that answers late is dropped. */
    syncGeneration: number;
}
export interface Session {
    token: string;
    me: string;
    api: Api;
    client: ChatClient;
    desk: Desk;
    view: MessageView;
    reads: ReadMarker;
    pane: Pane;
    queue: QueueView;
    previews: QueuePreviews;
    announcer: QueueAnnouncer;
    mine: MineView;
    tabs: Tabs;
    team: TeamView;
    alerts: Alerts;
}
export declare const state: ConsoleState;
/** The session, once `begin` has run (agent.ts does, before anything else). */
export declare let s: Session;
export declare function begin(session: Session): void;
export declare const currentConversation: () => Conversation | undefined;
/** What a notification calls a conversation. */
export declare const who: (c: Conversation) => string;
/** Whether the agent sees the open conversation: the tab is visible and, on
 * a narrow screen, the conversation (not the list) is showing. */
export declare const inView: () => boolean;
/** Tells the desk what is in view (its texts are not unread). Coming back
 * into view (the tab shown again, back from the list), what came meanwhile
 * is read: the badge and the title count go, the read is posted. */
export declare function setViewing(catchUp?: boolean): void;
export declare function setView(view: View, catchUp?: boolean): void;
/** Everything from the desk's state; each list is updated in place. */
export declare function render(): void;
export declare function notice(text: string): void;
export declare function problem(text: string): void;
