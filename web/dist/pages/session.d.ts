import { ChatClient, type PresenceStatus, type Status, type TokenRequest } from '../index.js';
export { SessionExpiredError } from '../index.js';
export interface Claims {
    sub: string;
    role: string;
    exp: number;
}
export type Role = 'client' | 'guest' | 'support';
/** What a page says when the session is over and cannot be renewed. */
export declare const EXPIRED_TEXT = "Your session has expired. Sign in again.";
/** A token that cannot be used as it is (malformed, for another role, or
 * missing): its message is meant for the user. */
export declare class TokenError extends Error {
    constructor(message: string);
}
export declare const NO_TOKEN_TEXT = "No sign-in token was given, so the chat cannot start. Open the chat from the site you came from (the page needs \u2026#token=<jwt>: the server is not in dev mode).";
/** The claims of a JWT, after checking its shape: three base64url parts, a
 * JSON header and a JSON payload with a non-empty `sub`, a known `role`
 * and a numeric `exp`. The signature is the server's business. Throws a
 * `TokenError` (with a message for the user) otherwise. */
export declare function parseToken(token: string): Claims;
/** Whether a string has a JWT's shape (see `parseToken`). */
export declare function isTokenShaped(token: string): boolean;
/** The claims of a token (checked: see `parseToken`). */
export declare function claims(token: string): Claims;
/** What the session needs from the page (all of it injectable for tests). */
export interface SessionEnv {
    /** `location.hash` without the `#`. */
    hash(): string;
    storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
    fetch(url: string): Promise<{
        ok: boolean;
        status: number;
        json(): Promise<unknown>;
    }>;
    now(): number;
}
/** A token handed over by the page that embeds the chat (see embed.ts). */
export interface HostToken {
    token: string;
    /** Ask the host again; null: it has none (the session is over). */
    renew(): Promise<string | null>;
}
/** Where the token came from: the URL fragment, the dev server, the host page. */
export type TokenOrigin = 'link' | 'dev' | 'host';
export interface SessionOptions {
    /** The role a dev token is asked for. */
    role: Role;
    /** The roles this page accepts (default: `role` only). */
    accept?: readonly Role[];
    /** Where a dev token is kept across reloads. */
    storageKey: string;
    host?: HostToken;
    /** A renewed token names another user (a dev server that cannot mint for
     * a given `sub`, or the host signed someone else in). */
    onIdentityChange?: (session: Session) => void;
    env?: SessionEnv;
}
/** The page's sign-in: the token, where it came from, and how to renew it.
 * A link's token cannot be renewed (an expired one ends the session); a
 * dev token is minted again for the same user (`/dev/token?sub=`); a host's
 * token is asked for again. */
export declare class Session {
    private current;
    private parsed;
    readonly origin: TokenOrigin;
    private readonly opts;
    private readonly env;
    private renewing;
    private constructor();
    /** Finds the token: `#token=` in the URL, else the host page's (embedded),
     * else a development token (kept in storage so a reload keeps the user).
     * Throws `TokenError` (malformed, wrong role, none in a non-dev server)
     * or `SessionExpiredError` (a link's token that has expired). */
    static start(opts: SessionOptions): Promise<Session>;
    get token(): string;
    get claims(): Claims;
    get sub(): string;
    /** Whether the token expires within `ms` from now. */
    expiresWithin(ms: number): boolean;
    /** For `ChatClient`'s `token` option: the token, renewed first when the
     * server refused it or (unless it came from the link, which cannot be
     * renewed) it is about to expire. */
    readonly tokenFor: (req?: TokenRequest) => Promise<string>;
    /** A new token. `SessionExpiredError` when there is none to be had (a
     * link's token, a host that has none, a server no longer in dev mode);
     * another error (e.g. the server cannot be reached) may pass on a retry. */
    renew(notify?: boolean): Promise<string>;
    private fetchNew;
}
/** The token: `#token=<jwt>` from the embedding site, else a development
 * token from the server when it runs in dev mode (kept in localStorage so a
 * reload keeps the identity). Checked: a malformed token, one for another
 * role, or none at all outside dev mode throws a `TokenError` with a message
 * for the user; an expired link token a `SessionExpiredError`. */
export declare function obtainToken(role: Role, storageKey: string): Promise<string>;
/** Whether the token came from the URL (so a 401 must not fetch a dev token). */
export declare const tokenFromHash: () => boolean;
export interface ConnectOptions {
    /** See `ChatClientOptions.probeAuth`. */
    probeAuth?: boolean;
}
/** A ChatClient for this page's origin. `getToken` may be a `Session`'s
 * `tokenFor`, so refused tokens are renewed. */
export declare function connect(path: string, getToken: (req: TokenRequest) => string | Promise<string>, options?: ConnectOptions): ChatClient;
export declare function statusText(status: Status): string;
export declare const PRESENCE_TEXT: Record<PresenceStatus, string>;
/** Subs can be long (ULIDs): a short, still distinguishable label. */
export declare function shortId(id: string): string;
/** The time today, the date and time before today (see format.ts). */
export declare function timeText(iso: string): string;
export declare function errorText(e: unknown, fallback?: string): string;
export declare const isUnauthorized: (e: unknown) => boolean;
export declare const isExpired: (e: unknown) => boolean;
