// Shared by the widget and the console: tokens (checked before use, renewed
// when the server refuses them), the connection, wording.

import { ApiError, ChatClient, type PresenceStatus, SessionExpiredError, type Status, type TokenRequest } from '../index.js';
import { formatTimestamp } from './format.js';

export { SessionExpiredError } from '../index.js';

export interface Claims {
  sub: string;
  role: string;
  exp: number;
}

export type Role = 'client' | 'guest' | 'support';
const ROLES: readonly string[] = ['guest', 'client', 'support'];

/** What a page says when the session is over and cannot be renewed. */
export const EXPIRED_TEXT = 'Your session has expired. Sign in again.';

/** A token that cannot be used as it is (malformed, for another role, or
 * missing): its message is meant for the user. */
export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

const MALFORMED =
  'The sign-in token is not valid (it is not a JWT with sub, role and exp), so the chat cannot start. Open the chat again from the site you came from.';
export const NO_TOKEN_TEXT =
  'No sign-in token was given, so the chat cannot start. Open the chat from the site you came from (the page needs …#token=<jwt>: the server is not in dev mode).';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function decodePart(part: string): unknown {
  if (!BASE64URL.test(part) || part.length % 4 === 1) throw new TokenError(MALFORMED);
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64.padEnd(b64.length + ((4 - (b64.length % 4)) % 4), '='));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new TokenError(MALFORMED);
  }
}

/** The claims of a JWT, after checking its shape: three base64url parts, a
 * JSON header and a JSON payload with a non-empty `sub`, a known `role`
 * and a numeric `exp`. The signature is the server's business. Throws a
 * `TokenError` (with a message for the user) otherwise. */
export function parseToken(token: string): Claims {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || parts.some((p) => p === '')) throw new TokenError(MALFORMED);
  const header = decodePart(parts[0]);
  const payload = decodePart(parts[1]);
  if (!BASE64URL.test(parts[2])) throw new TokenError(MALFORMED);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new TokenError(MALFORMED);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new TokenError(MALFORMED);
  const { sub, role, exp } = payload as Record<string, unknown>;
  if (typeof sub !== 'string' || sub === '' || typeof role !== 'string' || !ROLES.includes(role)) throw new TokenError(MALFORMED);
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new TokenError(MALFORMED);
  return { sub, role, exp };
}

/** Whether a string has a JWT's shape (see `parseToken`). */
export function isTokenShaped(token: string): boolean {
  try {
    parseToken(token);
    return true;
  } catch {
    return false;
  }
}

/** The claims of a token (checked: see `parseToken`). */
export function claims(token: string): Claims {
  return parseToken(token.trim());
}

/** What the session needs from the page (all of it injectable for tests). */
export interface SessionEnv {
  /** `location.hash` without the `#`. */
  hash(): string;
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  fetch(url: string): Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;
  now(): number;
}

const browserEnv = (): SessionEnv => ({
  hash: () => location.hash.slice(1),
  storage: localStorage,
  fetch: (url) => fetch(url, { cache: 'no-store' }),
  now: () => Date.now(),
});

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

/** A token not used when it has less than this left. */
const MARGIN_MS = 10_000;

const ROLE_NAMES: Record<string, string> = { guest: 'a guest', client: 'a customer', support: 'an agent' };

/** The page's sign-in: the token, where it came from, and how to renew it.
 * A link's token cannot be renewed (an expired one ends the session); a
 * dev token is minted again for the same user (`/dev/token?sub=`); a host's
 * token is asked for again. */
export class Session {
  private renewing: Promise<string> | null = null;

  private constructor(
    private current: string,
    private parsed: Claims,
    readonly origin: TokenOrigin,
    private readonly opts: SessionOptions,
    private readonly env: SessionEnv,
  ) {}

  /** Finds the token: `#token=` in the URL, else the host page's (embedded),
   * else a development token (kept in storage so a reload keeps the user).
   * Throws `TokenError` (malformed, wrong role, none in a non-dev server)
   * or `SessionExpiredError` (a link's token that has expired). */
  static async start(opts: SessionOptions): Promise<Session> {
    const env = opts.env ?? browserEnv();
    const fromHash = new URLSearchParams(env.hash()).get('token');
    if (fromHash !== null) {
      const s = new Session(fromHash.trim(), check(fromHash, opts), 'link', opts, env);
      if (s.expiresWithin(0)) throw new SessionExpiredError(EXPIRED_TEXT);
      return s;
    }
    if (opts.host) {
      const s = new Session(opts.host.token.trim(), check(opts.host.token, opts), 'host', opts, env);
      if (s.expiresWithin(MARGIN_MS)) await s.renew();
      return s;
    }
    const saved = env.storage.getItem(opts.storageKey);
    let savedClaims: Claims | null = null;
    try {
      savedClaims = saved ? check(saved, opts) : null;
    } catch {
      env.storage.removeItem(opts.storageKey);
    }
    if (saved && savedClaims) {
      const s = new Session(saved, savedClaims, 'dev', opts, env);
      if (!s.expiresWithin(MARGIN_MS)) return s;
      try {
        await s.renew(false);
        return s;
      } catch (e) {
        if (!(e instanceof SessionExpiredError)) throw e;
        throw new TokenError(NO_TOKEN_TEXT);
      }
    }
    const { token } = await mintDev(env, opts.role, null);
    const s = new Session(token, check(token, opts), 'dev', opts, env);
    env.storage.setItem(opts.storageKey, token);
    return s;
  }

  get token(): string {
    return this.current;
  }

  get claims(): Claims {
    return this.parsed;
  }

  get sub(): string {
    return this.parsed.sub;
  }

  /** Whether the token expires within `ms` from now. */
  expiresWithin(ms: number): boolean {
    return this.parsed.exp * 1000 < this.env.now() + ms;
  }

  /** For `ChatClient`'s `token` option: the token, renewed first when the
   * server refused it or (unless it came from the link, which cannot be
   * renewed) it is about to expire. */
  readonly tokenFor = async (req?: TokenRequest): Promise<string> => {
    if (req?.refused || (this.origin !== 'link' && this.expiresWithin(MARGIN_MS))) await this.renew();
    return this.current;
  };

  /** A new token. `SessionExpiredError` when there is none to be had (a
   * link's token, a host that has none, a server no longer in dev mode);
   * another error (e.g. the server cannot be reached) may pass on a retry. */
  renew(notify = true): Promise<string> {
    this.renewing ??= this.fetchNew(notify).finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private async fetchNew(notify: boolean): Promise<string> {
    let token: string;
    if (this.origin === 'link') throw new SessionExpiredError(EXPIRED_TEXT);
    if (this.origin === 'host') {
      const t = await this.opts.host?.renew();
      if (!t) throw new SessionExpiredError(EXPIRED_TEXT);
      token = t;
    } else {
      const role = (this.opts.accept ?? [this.opts.role]).includes(this.parsed.role as Role) ? (this.parsed.role as Role) : this.opts.role;
      token = (await mintDev(this.env, role, this.parsed.sub)).token;
    }
    let next: Claims;
    try {
      next = check(token, this.opts);
    } catch {
      throw new SessionExpiredError(EXPIRED_TEXT);
    }
    const changed = next.sub !== this.parsed.sub;
    this.current = token.trim();
    this.parsed = next;
    if (this.origin === 'dev') this.env.storage.setItem(this.opts.storageKey, this.current);
    if (changed && notify) this.opts.onIdentityChange?.(this);
    return this.current;
  }
}

/** The claims of a token this page may use. */
function check(token: string, opts: SessionOptions): Claims {
  const c = parseToken(token);
  const accept: readonly string[] = opts.accept ?? [opts.role];
  if (!accept.includes(c.role)) {
    throw new TokenError(
      `This sign-in token is for ${ROLE_NAMES[c.role] ?? c.role}, not ${ROLE_NAMES[opts.role]}: ` +
        (c.role === 'support' ? 'open the agent console instead.' : 'open the customer chat instead.'),
    );
  }
  return c;
}

/** `GET /dev/token`, for `sub` when given (the same user again). A 404 means
 * the server is not in dev mode. */
async function mintDev(env: SessionEnv, role: Role, sub: string | null): Promise<{ token: string }> {
  const q = new URLSearchParams({ role });
  if (sub !== null) q.set('sub', sub);
  let res: Awaited<ReturnType<SessionEnv['fetch']>>;
  try {
    res = await env.fetch(`/dev/token?${q}`);
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  if (res.status === 404) {
    if (sub !== null) throw new SessionExpiredError(EXPIRED_TEXT);
    throw new TokenError(NO_TOKEN_TEXT);
  }
  if (!res.ok) throw new ApiError(res.status, 'http_error', `The server could not sign you in (HTTP ${res.status}).`);
  const body = (await res.json().catch(() => ({}))) as { token?: unknown };
  if (typeof body.token !== 'string') throw new ApiError(res.status, 'http_error', 'The server sent no token.');
  return { token: body.token };
}

/** The token: `#token=<jwt>` from the embedding site, else a development
 * token from the server when it runs in dev mode (kept in localStorage so a
 * reload keeps the identity). Checked: a malformed token, one for another
 * role, or none at all outside dev mode throws a `TokenError` with a message
 * for the user; an expired link token a `SessionExpiredError`. */
export async function obtainToken(role: Role, storageKey: string): Promise<string> {
  return (await Session.start({ role, storageKey })).token;
}

/** Whether the token came from the URL (so a 401 must not fetch a dev token). */
export const tokenFromHash = (): boolean => new URLSearchParams(location.hash.slice(1)).has('token');

export interface ConnectOptions {
  /** See `ChatClientOptions.probeAuth`. */
  probeAuth?: boolean;
}

/** A ChatClient for this page's origin. `getToken` may be a `Session`'s
 * `tokenFor`, so refused tokens are renewed. */
export function connect(
  path: string,
  getToken: (req: TokenRequest) => string | Promise<string>,
  options: ConnectOptions = {},
): ChatClient {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return new ChatClient({
    url: `${scheme}://${location.host}${path}`,
    token: getToken,
    apiBase: location.origin,
    probeAuth: options.probeAuth,
  });
}

export function statusText(status: Status): string {
  return { connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', closed: 'Offline' }[status];
}

export const PRESENCE_TEXT: Record<PresenceStatus, string> = { online: 'Online', away: 'Away', offline: 'Offline' };

/** Subs can be long (ULIDs): a short, still distinguishable label. */
export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 4)}…${id.slice(-4)}` : id;
}

/** The time today, the date and time before today (see format.ts). */
export function timeText(iso: string): string {
  return formatTimestamp(iso);
}

export function errorText(e: unknown, fallback = 'Something went wrong.'): string {
  if (e instanceof SessionExpiredError) return EXPIRED_TEXT;
  if (e instanceof ApiError) return e.status === 0 ? 'The server cannot be reached.' : e.message;
  return e instanceof Error ? e.message : fallback;
}

export const isUnauthorized = (e: unknown): boolean => e instanceof ApiError && e.status === 401;

export const isExpired = (e: unknown): boolean =>
  e instanceof SessionExpiredError || (e instanceof Error && e.name === 'SessionExpiredError');
