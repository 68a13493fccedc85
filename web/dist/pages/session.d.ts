import { ChatClient, type PresenceStatus, type Status } from '../index.js';
export interface Claims {
    sub: string;
    role: string;
    exp: number;
}
/** The token: `#token=<jwt>` from the embedding site, else a development
 * token from the server when it runs in dev mode (kept in localStorage so a
 * reload keeps the identity). */
export declare function obtainToken(role: 'client' | 'guest' | 'support', storageKey: string): Promise<string>;
/** Whether the token came from the URL (so a 401 must not fetch a dev token). */
export declare const tokenFromHash: () => boolean;
export declare function claims(token: string): Claims;
/** A ChatClient for this page's origin. */
export declare function connect(path: string, getToken: () => string): ChatClient;
export declare function statusText(status: Status): string;
export declare const PRESENCE_TEXT: Record<PresenceStatus, string>;
/** Subs can be long (ULIDs): a short, still distinguishable label. */
export declare function shortId(id: string): string;
export declare function timeText(iso: string): string;
export declare function errorText(e: unknown, fallback?: string): string;
export declare const isUnauthorized: (e: unknown) => boolean;
