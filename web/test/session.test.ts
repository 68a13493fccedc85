import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expect } from './expect.js';
import { SessionExpiredError } from '../src/client.js';
import { Session, type SessionEnv, TokenError, isTokenShaped, parseToken } from '../src/pages/session.js';

const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const jwt = (payload: unknown, header: unknown = { alg: 'HS256', typ: 'JWT' }) =>
  `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}.c2lnbmF0dXJl`;

const NOW = 1_763_460_000_000;
const exp = (inSecs: number) => Math.floor(NOW / 1000) + inSecs;

describe('the JWT shape, checked before use', () => {
  it('a well-formed token gives its claims (also a sub outside ASCII)', () => {
    expect(parseToken(jwt({ sub: 'cust-1', role: 'client', exp: exp(60) }))).toEqual({ sub: 'cust-1', role: 'client', exp: exp(60) });
    expect(parseToken(jwt({ sub: 'Zoë ✓', role: 'guest', exp: 1 })).sub).toBe('Zoë ✓');
  });

  it('anything else is a TokenError with a message for the user, never a TypeError', () => {
    const bad = [
      '',
      'garbage',
      'a.b',
      'a.b.c.d',
      '..',
      'not base64!.eyJ9.sig',
      `${b64url('{}')}.${b64url('not json')}.sig`,
      `${b64url('{}')}.${b64url('null')}.sig`,
      `${b64url('{}')}.${b64url('[1,2]')}.sig`,
      `${b64url('[]')}.${b64url(JSON.stringify({ sub: 'a', role: 'client', exp: 1 }))}.sig`,
      jwt({ role: 'client', exp: 1 }),
      jwt({ sub: '', role: 'client', exp: 1 }),
      jwt({ sub: 7, role: 'client', exp: 1 }),
      jwt({ sub: 'a', exp: 1 }),
      jwt({ sub: 'a', role: 'admin', exp: 1 }),
      jwt({ sub: 'a', role: 'client' }),
      jwt({ sub: 'a', role: 'client', exp: '1' }),
      `${jwt({ sub: 'a', role: 'client', exp: 1 }).slice(0, -3)}*/+`,
    ];
    for (const token of bad) {
      assert.throws(() => parseToken(token), (e: unknown) => e instanceof TokenError && /not valid/.test(e.message), token);
      expect(isTokenShaped(token), token).toBe(false);
    }
  });
});

/** A page's surroundings: the fragment, storage, `/dev/token`, the clock. */
function env(opts: { hash?: string; saved?: string; dev?: 'on' | 'off' | 'ignores-sub' } = {}) {
  const store = new Map<string, string>();
  if (opts.saved) store.set('k', opts.saved);
  const asked: string[] = [];
  let minted = 0;
  const e: SessionEnv = {
    hash: () => opts.hash ?? '',
    storage: {
      getItem: (k) => store.get(k) ?? null,
      setItem: (k, v) => void store.set(k, v),
      removeItem: (k) => void store.delete(k),
    },
    now: () => NOW,
    fetch: async (url) => {
      asked.push(url);
      if ((opts.dev ?? 'on') === 'off') return { ok: false, status: 404, json: async () => ({}) };
      const q = new URL(url, 'http://x.test').searchParams;
      const sub = (opts.dev !== 'ignores-sub' && q.get('sub')) || `fresh-${++minted}`;
      return { ok: true, status: 200, json: async () => ({ token: jwt({ sub, role: q.get('role'), exp: exp(3600) }), user_id: sub }) };
    },
  };
  return { env: e, store, asked };
}

describe('the session', () => {
  it('a link token is used as it is; renewing it is impossible (the session is over)', async () => {
    const token = jwt({ sub: 'c1', role: 'client', exp: exp(3600) });
    const { env: e, asked } = env({ hash: `token=${token}` });
    const s = await Session.start({ role: 'client', storageKey: 'k', env: e });
    expect(s.origin).toBe('link');
    expect(s.sub).toBe('c1');
    expect(await s.tokenFor({ refused: false })).toBe(token);
    await assert.rejects(s.tokenFor({ refused: true }), SessionExpiredError);
    expect(asked).toEqual([]);
  });

  it('a malformed link token, or one for another role, is a clear TokenError', async () => {
    await assert.rejects(Session.start({ role: 'client', storageKey: 'k', env: env({ hash: 'token=abc' }).env }), TokenError);
    const agent = jwt({ sub: 'a', role: 'support', exp: exp(3600) });
    await assert.rejects(
      Session.start({ role: 'client', storageKey: 'k', env: env({ hash: `token=${agent}` }).env }),
      (e: unknown) => e instanceof TokenError && /agent console/.test(e.message),
    );
  });

  it('an expired link token says the session expired', async () => {
    const old = jwt({ sub: 'c1', role: 'client', exp: exp(-5) });
    await assert.rejects(Session.start({ role: 'client', storageKey: 'k', env: env({ hash: `token=${old}` }).env }), SessionExpiredError);
  });

  it('no token outside dev mode is a clear TokenError, not "Connecting…" forever', async () => {
    await assert.rejects(
      Session.start({ role: 'client', storageKey: 'k', env: env({ dev: 'off' }).env }),
      (e: unknown) => e instanceof TokenError && /No sign-in token/.test(e.message),
    );
  });

  it('dev mode: a refused token is minted again for the same user, and kept', async () => {
    const saved = jwt({ sub: 'dev-user', role: 'client', exp: exp(3600) });
    const { env: e, store, asked } = env({ saved });
    const s = await Session.start({ role: 'client', storageKey: 'k', env: e });
    expect(s.origin).toBe('dev');
    expect(asked).toEqual([]);
    const renewed = await s.tokenFor({ refused: true });
    expect(asked).toEqual(['/dev/token?role=client&sub=dev-user']);
    expect(parseToken(renewed).sub).toBe('dev-user');
    expect(store.get('k')).toBe(renewed);
  });

  it('dev mode: a saved token about to expire is renewed at start, for the same user', async () => {
    const saved = jwt({ sub: 'dev-user', role: 'guest', exp: exp(5) });
    const { env: e, asked } = env({ saved });
    const s = await Session.start({ role: 'client', accept: ['client', 'guest'], storageKey: 'k', env: e });
    expect(asked).toEqual(['/dev/token?role=guest&sub=dev-user']);
    expect(s.sub).toBe('dev-user');
  });

  it('dev mode: a server that mints another user is reported (the page starts over)', async () => {
    const saved = jwt({ sub: 'dev-user', role: 'client', exp: exp(3600) });
    const { env: e } = env({ saved, dev: 'ignores-sub' });
    const changed: string[] = [];
    const s = await Session.start({ role: 'client', storageKey: 'k', env: e, onIdentityChange: (x) => changed.push(x.sub) });
    await s.renew();
    expect(changed).toEqual(['fresh-1']);
  });

  it('dev mode: a server no longer in dev mode ends the session on renewal', async () => {
    const saved = jwt({ sub: 'dev-user', role: 'client', exp: exp(3600) });
    const s = await Session.start({ role: 'client', storageKey: 'k', env: env({ saved, dev: 'off' }).env });
    await assert.rejects(s.renew(), SessionExpiredError);
  });

  it('embedded: the host is asked again; a host with no token ends the session', async () => {
    const first = jwt({ sub: 'h1', role: 'client', exp: exp(3600) });
    const second = jwt({ sub: 'h1', role: 'client', exp: exp(7200) });
    const answers = [second, null];
    const s = await Session.start({
      role: 'client',
      storageKey: 'k',
      env: env().env,
      host: { token: first, renew: async () => answers.shift() ?? null },
    });
    expect(s.origin).toBe('host');
    expect(await s.tokenFor({ refused: true })).toBe(second);
    await assert.rejects(s.tokenFor({ refused: true }), SessionExpiredError);
  });

  it('renewals at the same time ask once', async () => {
    const saved = jwt({ sub: 'dev-user', role: 'client', exp: exp(3600) });
    const { env: e, asked } = env({ saved });
    const s = await Session.start({ role: 'client', storageKey: 'k', env: e });
    const [a, b] = await Promise.all([s.renew(), s.renew()]);
    expect(a).toBe(b);
    expect(asked).toHaveLength(1);
  });
});
