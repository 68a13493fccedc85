// Shared by the widget and the console: tokens, the connection, wording.
import { ApiError, ChatClient } from '../index.js';
/** The token: `#token=<jwt>` from the embedding site, else a development
 * token from the server when it runs in dev mode (kept in localStorage so a
 * reload keeps the identity). */
export async function obtainToken(role, storageKey) {
    const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
    if (fromHash)
        return fromHash;
    const saved = localStorage.getItem(storageKey);
    if (saved && !expired(saved))
        return saved;
    const res = await fetch(`/dev/token?role=${role}`);
    if (!res.ok)
        throw new Error('This page needs a token: open it as …#token=<jwt> (the server is not in dev mode).');
    const { token } = (await res.json());
    localStorage.setItem(storageKey, token);
    return token;
}
/** Whether the token came from the URL (so a 401 must not fetch a dev token). */
export const tokenFromHash = () => new URLSearchParams(location.hash.slice(1)).has('token');
export function claims(token) {
    const part = (token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
}
function expired(token) {
    try {
        return claims(token).exp * 1000 < Date.now() + 60_000;
    }
    catch {
        return true;
    }
}
/** A ChatClient for this page's origin. */
export function connect(path, getToken) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return new ChatClient({ url: `${scheme}://${location.host}${path}`, token: getToken, apiBase: location.origin });
}
export function statusText(status) {
    return { connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', closed: 'Offline' }[status];
}
export const PRESENCE_TEXT = { online: 'Online', away: 'Away', offline: 'Offline' };
/** Subs can be long (ULIDs): a short, still distinguishable label. */
export function shortId(id) {
    return id.length > 12 ? `${id.slice(0, 4)}…${id.slice(-4)}` : id;
}
export function timeText(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
export function errorText(e, fallback = 'Something went wrong.') {
    if (e instanceof ApiError)
        return e.status === 0 ? 'The server cannot be reached.' : e.message;
    return e instanceof Error ? e.message : fallback;
}
export const isUnauthorized = (e) => e instanceof ApiError && e.status === 401;
