import type { Conversation, Desk } from '../index.js';
export type Mode = 'reply' | 'note';
export interface PaneActions {
    togglePresence(): void;
    /** To an agent, or back to the queue (null). */
    transfer(to: string | null): void;
    close(): void;
    mode(mode: Mode): void;
}
export declare class Pane {
    private readonly ui;
    /** The colleagues the transfer list was last built from. */
    private transferKey;
    private current;
    wire(actions: PaneActions): void;
    render(desk: Desk, c: Conversation | undefined): void;
    /** The options are rebuilt only when the colleagues change, so an open
     * list is not pulled from under the agent's pointer. */
    private renderTransfer;
    presenceBusy(busy: boolean): void;
    setMode(mode: Mode): void;
    setClosed(closed: boolean): void;
}
