import { type Conversation, type DeskEvent } from '../index.js';
import type { Mode } from './console_pane.js';
export declare const TOKEN_KEY = "qc.agent.token";
/** The queue, mine and the team, after every (re)connect. Events that come
 * meanwhile are held by the desk and replayed on the snapshot. */
export declare function sync(): Promise<void>;
export declare function act(e: DeskEvent): void;
/** A conversation joined the queue live: look for its text, say so, alert. */
export declare function joinedQueue(c: Conversation, backToQueue: boolean): void;
/** Fresh open-conversation counts after assignments change (presence keeps
 * the statuses live; counts of others' closes have no event, hence this). */
export declare function scheduleTeamRefresh(): void;
/** The lists (on a narrow screen, instead of the conversation); with
 * `focus`, the focus goes to the conversation's item, or to the queue. */
export declare function showList(focus: boolean): void;
export declare function claim(id: string): Promise<void>;
export declare function open(id: string): Promise<void>;
export declare function hideConversation(): void;
export declare function transfer(to: string | null): Promise<void>;
export declare function closeCurrent(): Promise<void>;
export declare function togglePresence(): Promise<void>;
export declare function setMode(mode: Mode): void;
/** The name the message list gives a message's author (not mine). */
export declare function authorName(senderId: string): string;
export declare function reloadWithFreshToken(): void;
