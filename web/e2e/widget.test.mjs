// The customer widget in headless Chromium against the real server (issue
// 13): sessions that survive a restart or an expiring token, texts pending
// while offline then delivered once, the phone layout, clear messages for a
// bad or missing token, and the embeddable widget on another origin. Waits
// are on DOM conditions; the only fixed wait checks that nothing more
// happens (no reconnect after the session ended).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Server, browser } from './harness.mjs';

let chromium;
before(async () => {
  chromium = await browser();
});
after(async () => {
  await chromium?.close();
});

let counter = 0;
const unique = (name) => `${name}-${++counter}-${process.pid}`;

const subOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()).sub;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` (async) until it is truthy. */
async function until(check, what, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A fresh browser context on `url`; collects page errors and the
 * WebSockets it opens (failed attempts included). `seed`: localStorage
 * entries set on the server's origin before the page's scripts run. */
async function open(url, { viewport = { width: 420, height: 760 }, mobile = false, seed } = {}) {
  const ctx = await chromium.newContext({ viewport, isMobile: mobile, hasTouch: mobile });
  if (seed) {
    await ctx.addInitScript(
      ({ origin, entries }) => {
        try {
          if (location.origin !== origin) return;
          for (const [k, v] of Object.entries(entries)) if (localStorage.getItem(k) === null) localStorage.setItem(k, v);
        } catch {}
      },
      { origin: new URL(url).origin, entries: seed },
    );
  }
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws));
  await page.goto(url);
  return { page, ctx, errors, sockets, close: () => ctx.close() };
}

/** Texts of the stored messages on screen (pending and failed ones are not). */
const shown = (root) => root.locator('#messages [data-testid=message] .text').allTextContents();

async function startChat(root, subject) {
  await root.locator('#start').waitFor({ state: 'visible' });
  await root.locator('#subject').fill(subject);
  await root.locator('#start-form button').click();
  await root.locator('#conversation').waitFor({ state: 'visible' });
}

/** Sends a text and waits until it shows as stored. */
async function send(root, text) {
  await root.locator('#input').fill(text);
  await root.locator('#input').press('Enter');
  await root.locator('#messages [data-testid=message] .text').filter({ hasText: text }).first().waitFor({ timeout: 20_000 });
}

const conversationOf = (page) => page.evaluate(() => localStorage.getItem('qc.customer.conversation'));
const tokenOf = (page) => page.evaluate(() => localStorage.getItem('qc.customer.token'));

async function history(server, conversationId, token) {
  const res = await fetch(`${server.base}/conversations/${conversationId}/messages?limit=200`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 200, 'history is readable');
  return (await res.json()).items.map((m) => m.content);
}

async function claim(server, conversationId, agentToken) {
  const res = await fetch(`${server.base}/conversations/${conversationId}/assign`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${agentToken}` },
  });
  assert.equal(res.status, 200, 'the agent claims it');
}

/** A page served from another origin (another port) than the chat server. */
async function hostPage(html) {
  const srv = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${srv.address().port}/`, close: () => new Promise((r) => srv.close(r)) };
}

const embedSnippet = (server, tokenAttr) =>
  `<script src="${server.base}/assets/quickconnect/embed.js" data-server="${server.base}"${tokenAttr ? ` data-token="${tokenAttr}"` : ''} async></script>`;

describe('widget in dev mode', () => {
  let server;
  before(async () => {
    // Leeway 0: a token is refused (4001) exactly at its exp.
    server = await Server.start({ env: { QC_JWT_LEEWAY_SECS: '0' } });
  });
  after(async () => {
    await server?.stop();
  });

  test('a dev-mode restart mid-chat ends with the widget chatting again under the same identity', async () => {
    const w = await open(`${server.base}/`);
    const { page } = w;
    await startChat(page, 'Restart in dev mode');
    const token = await tokenOf(page);
    const sub = subOf(token);
    const conversation = await conversationOf(page);
    await send(page, 'before the restart');

    await server.restart();
    await until(() => w.sockets.length >= 2, 'a new connection');
    await page.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    await send(page, 'after the restart');

    const now = await tokenOf(page);
    assert.equal(subOf(now), sub, 'the same user');
    assert.equal(await conversationOf(page), conversation, 'the same conversation');
    assert.deepEqual(await history(server, conversation, now), ['before the restart', 'after the restart']);
    assert.deepEqual(await shown(page), ['before the restart', 'after the restart']);

    // A reload keeps the user and reloads the transcript.
    await page.reload();
    await page.locator('#messages [data-testid=message] .text', { hasText: 'after the restart' }).waitFor();
    assert.deepEqual(await shown(page), ['before the restart', 'after the restart']);
    assert.equal(subOf(await tokenOf(page)), sub);
    assert.deepEqual(w.errors, []);
    await w.close();
  });

  test('a dev-mode restart mid-chat ends with the widget and the console chatting again, both under the same identities', async () => {
    const w = await open(`${server.base}/`);
    const a = await open(`${server.base}/agent`, { viewport: { width: 1280, height: 800 } });
    const customer = w.page;
    const agent = a.page;
    await agent.locator('body[data-ready=true]').waitFor();
    const agentId = await agent.locator('#me').getAttribute('data-agent-id');
    assert.ok(agentId, 'the console knows its agent');
    await startChat(customer, 'Restart with both pages');
    const conversation = await conversationOf(customer);
    await agent.locator(`#queue [data-conversation-id="${conversation}"]`).getByRole('button', { name: /^Claim/ }).click();
    await agent.locator(`#mine [data-conversation-id="${conversation}"].active`).waitFor();
    await send(customer, 'before the restart');
    await agent.locator('#messages .text', { hasText: 'before the restart' }).waitFor();

    await server.restart();
    await customer.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    await agent.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    // The console's agent still holds the conversation: its answer is stored
    // and reaches the customer.
    await agent.locator('#input').fill('after the restart, from the agent');
    await agent.locator('#input').press('Enter');
    await customer.locator('#messages .text', { hasText: 'after the restart, from the agent' }).waitFor({ timeout: 20_000 });
    await send(customer, 'after the restart');
    await agent.locator('#messages .text', { hasText: 'after the restart' }).last().waitFor();

    assert.equal(await agent.locator('#me').getAttribute('data-agent-id'), agentId, 'the same agent');
    const token = await tokenOf(customer);
    const texts = await history(server, conversation, token);
    assert.deepEqual(texts, ['before the restart', 'after the restart, from the agent', 'after the restart'], 'nothing lost or doubled');
    assert.deepEqual(w.errors, []);
    assert.deepEqual(a.errors, []);
    await a.close();
    await w.close();
  });

  test('dev mode: a token that expires mid-chat (close 4001) is minted again for the same user, and the chat goes on', async () => {
    // Needs `GET /dev/token?role=…&sub=…` to mint for that sub.
    const sub = unique('dev-expiry');
    const short = server.devToken('client', sub, 20);
    const w = await open(`${server.base}/`, { seed: { 'qc.customer.token': short } });
    const { page } = w;
    await startChat(page, 'Token expiry in dev mode');
    assert.equal(await tokenOf(page), short, 'the seeded token is used');
    const conversation = await conversationOf(page);
    await send(page, 'before the expiry');

    // At exp the server closes with 4001; the widget gets a new token.
    await page.waitForFunction((old) => localStorage.getItem('qc.customer.token') !== old, short, { timeout: 45_000 });
    await page.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    const renewed = await tokenOf(page);
    assert.equal(subOf(renewed), sub, 'renewed for the same user');
    await send(page, 'after the expiry');
    assert.equal(await conversationOf(page), conversation);
    assert.deepEqual(await history(server, conversation, renewed), ['before the expiry', 'after the expiry']);
    assert.equal(await page.locator('#problem').isVisible(), false, 'no error shown');
    assert.deepEqual(w.errors, []);
    await w.close();
  });

  test('the embed snippet without data-token signs in as the widget does in dev mode', async () => {
    const host = await hostPage(`<!doctype html><title>Shop</title><h1>Shop</h1>${embedSnippet(server, null)}`);
    const w = await open(host.url);
    await w.page.getByRole('button', { name: 'Open chat' }).click();
    const chat = w.page.frameLocator('iframe[data-testid=quickconnect-frame]');
    await startChat(chat, 'Embedded in dev mode');
    await send(chat, 'hello from a dev embed');
    assert.deepEqual(w.errors, []);
    await w.close();
    await host.close();
  });
});

describe('widget with a signing secret', () => {
  const secret = 'e2e-widget-secret-e2e-widget-secret-0123456789';
  let server;
  before(async () => {
    server = await Server.start({
      secret,
      // Leeway 0 for the expiry test; no rate limits for the 50 messages.
      env: { QC_JWT_LEEWAY_SECS: '0', QC_WS_RATE_PER_SEC: '0', QC_USER_RATE_PER_SEC: '0', QC_HTTP_RATE_PER_SEC: '0' },
    });
  });
  after(async () => {
    await server?.stop();
  });

  test('a text typed while the server is down shows as pending, then is delivered once', async () => {
    const token = server.token('client', unique('pending'));
    const w = await open(`${server.base}/#token=${token}`);
    const { page } = w;
    await startChat(page, 'Pending texts');
    const conversation = await conversationOf(page);
    await send(page, 'one');

    await server.stop();
    await page.locator('[data-testid=offline-banner]', { hasText: 'offline' }).waitFor();
    await page.locator('#input').fill('typed while offline');
    await page.locator('#input').press('Enter');
    const pending = page.locator('#messages [data-testid=pending]', { hasText: 'typed while offline' });
    await pending.waitFor();
    assert.equal(await page.inputValue('#input'), '', 'the composer is cleared');
    assert.equal(await page.locator('#input').isEnabled(), true, 'and stays usable');
    assert.deepEqual(await shown(page), ['one'], 'not shown as stored');

    await server.start();
    await page.locator('#messages [data-testid=message] .text', { hasText: 'typed while offline' }).waitFor({ timeout: 20_000 });
    await pending.waitFor({ state: 'detached' });
    await page.locator('[data-testid=offline-banner]').waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#messages [data-testid=failed]').count(), 0);
    const stored = await history(server, conversation, token);
    assert.deepEqual(stored, ['one', 'typed while offline'], 'stored once');
    assert.deepEqual(await shown(page), stored, 'shown once');
    assert.deepEqual(w.errors, []);
    await w.close();
  });

  test('on a 390×844 phone the composer stays in view after 50 messages, and only the message list scrolls', async () => {
    const token = server.token('client', unique('phone'));
    const w = await open(`${server.base}/#token=${token}`, { viewport: { width: 390, height: 844 }, mobile: true });
    const { page } = w;
    await startChat(page, 'Fifty messages');
    for (let i = 1; i <= 50; i++) {
      await page.locator('#input').fill(`message ${i} https://example.com/${i}`);
      await page.locator('#input').press('Enter');
    }
    await page.locator('#messages [data-testid=message]').nth(49).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('#messages [data-testid=pending]').count(), 0);

    const inView = async (selector) => {
      const box = await page.locator(selector).boundingBox();
      assert.ok(box, `${selector} is shown`);
      assert.ok(box.y >= 0 && box.y + box.height <= 844 + 0.5, `${selector} in view: ${JSON.stringify(box)}`);
    };
    for (const s of ['#send-form', '#input', '#send', '.chat > header']) await inView(s);
    const layout = () =>
      page.evaluate(() => {
        const list = document.getElementById('messages');
        const doc = document.scrollingElement;
        return {
          listScrolls: list.scrollHeight > list.clientHeight,
          pageScrolls: doc.scrollHeight > doc.clientHeight + 1,
          atEnd: list.scrollTop + list.clientHeight >= list.scrollHeight - 2,
          scrollY: window.scrollY,
        };
      });
    const l = await layout();
    assert.equal(l.listScrolls, true, 'the list scrolls');
    assert.equal(l.pageScrolls, false, 'the page does not');
    assert.equal(l.atEnd, true, 'the newest message is in view');
    assert.equal(l.scrollY, 0);

    // Scrolled back to the first message, the composer has not moved.
    await page.evaluate(() => (document.getElementById('messages').scrollTop = 0));
    for (const s of ['#send-form', '.chat > header']) await inView(s);
    // Links are real links, safely opened.
    const link = page.locator('#messages [data-testid=message] .text a').first();
    assert.equal(await link.getAttribute('href'), 'https://example.com/1');
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
    // And it still sends.
    await send(page, 'number 51');
    await inView('#send-form');
    assert.deepEqual(w.errors, []);
    await w.close();
  });

  test('a malformed token shows a clear message, and nothing tries to connect', async () => {
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    for (const bad of ['not-a-jwt', 'aaa.bbb.ccc', `${b64({ alg: 'HS256' })}.${b64({ sub: 'x' })}.c2ln`, '%E0%A4%A']) {
      const w = await open(`${server.base}/#token=${bad}`);
      await w.page.locator('#problem', { hasText: 'sign-in token is not valid' }).waitFor();
      assert.equal(await w.page.locator('#status').textContent(), 'Not connected', bad);
      assert.equal(await w.page.locator('#start').isVisible(), false);
      assert.equal(w.sockets.length, 0, bad);
      assert.deepEqual(w.errors, [], `no uncaught error for ${bad}`);
      await w.close();
    }
  });

  test('no token outside dev mode says so instead of "Connecting…" forever', async () => {
    const w = await open(`${server.base}/`);
    await w.page.locator('#problem', { hasText: 'No sign-in token' }).waitFor();
    assert.equal(await w.page.locator('#status').textContent(), 'Not connected');
    assert.equal(w.sockets.length, 0);
    assert.deepEqual(w.errors, []);
    await w.close();
  });

  test('an expired token in the link says the session expired', async () => {
    const w = await open(`${server.base}/#token=${server.token('client', unique('expired'), -120)}`);
    await w.page.locator('#problem', { hasText: 'Your session has expired. Sign in again.' }).waitFor();
    assert.equal(w.sockets.length, 0);
    assert.deepEqual(w.errors, []);
    await w.close();
  });

  test('a link token that expires mid-chat (close 4001): "Your session has expired", and no more reconnecting', async () => {
    const token = server.token('client', unique('link-expiry'), 15);
    const w = await open(`${server.base}/#token=${token}`);
    const { page } = w;
    await startChat(page, 'Link token expiry');
    await send(page, 'before the expiry');
    await page.locator('#problem', { hasText: 'Your session has expired. Sign in again.' }).waitFor({ timeout: 40_000 });
    assert.equal(await page.locator('#status').textContent(), 'Signed out');
    assert.equal(await page.locator('#input').isDisabled(), true);
    const attempts = w.sockets.length;
    await sleep(3_000); // the first reconnect would come within 0.5 s
    assert.equal(w.sockets.length, attempts, 'no reconnect after the session ended');
    assert.deepEqual(w.errors, []);
    await w.close();
  });

  test('the embed snippet on a page of another origin opens a working chat', async () => {
    const sub = unique('embedded');
    const token = server.token('client', sub);
    const host = await hostPage(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example shop</title>
<script>
  window.tokenCalls = 0;
  window.getChatToken = () => {
    window.tokenCalls += 1;
    return new Promise((resolve) => setTimeout(() => resolve(${JSON.stringify(token)}), 50));
  };
</script></head>
<body><h1>Example shop</h1>
${embedSnippet(server, 'getChatToken')}
</body></html>`);
    const w = await open(host.url, { viewport: { width: 1200, height: 800 } });
    const { page } = w;
    assert.notEqual(new URL(host.url).origin, new URL(server.base).origin, 'another origin');

    const launcher = page.getByRole('button', { name: 'Open chat' });
    await launcher.waitFor();
    const box = await launcher.boundingBox();
    assert.ok(box.x + box.width > 1100 && box.y + box.height > 700, `bottom right: ${JSON.stringify(box)}`);
    assert.equal(await page.locator('iframe').count(), 0, 'the frame loads on first open');
    await launcher.click();
    assert.equal(await page.getByRole('button', { name: 'Close chat' }).getAttribute('aria-expanded'), 'true');

    const frameEl = page.locator('iframe[data-testid=quickconnect-frame]');
    assert.equal(await frameEl.getAttribute('src'), `${server.base}/?embed=1`, 'no token in the URL');
    const chat = page.frameLocator('iframe[data-testid=quickconnect-frame]');
    await startChat(chat, 'From the shop');
    assert.match((await chat.locator('body').getAttribute('class')) ?? '', /\bembedded\b/, 'embed mode');
    await send(chat, 'hello from the shop');
    assert.ok((await page.evaluate(() => window.tokenCalls)) >= 1, "the host's token function was asked");

    const frame = page.frames().find((f) => f.url().startsWith(`${server.base}/`));
    const conversation = await frame.evaluate(() => localStorage.getItem('qc.customer.conversation'));
    const res = await fetch(`${server.base}/conversations/${conversation}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal((await res.json()).client_id, sub, "the conversation is the host's user's");
    // The conversation is live: an agent's claim reaches the frame.
    await claim(server, conversation, server.token('support', unique('agent')));
    await chat.locator('#agent-line', { hasText: 'An agent joined' }).waitFor();
    assert.deepEqual(await history(server, conversation, token), ['hello from the shop']);

    await page.getByRole('button', { name: 'Close chat' }).click();
    await frameEl.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Open chat' }).click();
    await frameEl.waitFor({ state: 'visible' });
    assert.deepEqual(await shown(chat), ['hello from the shop'], 'the chat is still there');
    assert.deepEqual(w.errors, []);
    await w.close();
    await host.close();
  });

  test('after the agent closes, the transcript stays (also after a reload) and "Start a new chat" starts over', async () => {
    const token = server.token('client', unique('closed'));
    const w = await open(`${server.base}/#token=${token}`);
    const { page } = w;
    await startChat(page, 'Close and start again');
    const conversation = await conversationOf(page);
    await send(page, 'first chat');
    const agent = server.token('support', unique('closer'));
    await claim(server, conversation, agent);
    const res = await fetch(`${server.base}/conversations/${conversation}/close`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${agent}` },
    });
    assert.equal(res.status, 200);
    await page.locator('#closed').waitFor({ state: 'visible' });
    await page.locator('[data-testid=new-chat]').waitFor({ state: 'visible' });
    assert.deepEqual(await shown(page), ['first chat']);

    await page.reload();
    await page.locator('#closed').waitFor({ state: 'visible' });
    assert.deepEqual(await shown(page), ['first chat'], 'the transcript is reloaded');
    assert.equal(await page.locator('#input').isDisabled(), true);

    await page.locator('[data-testid=new-chat]').click();
    await page.locator('#start').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#conversation').isVisible(), false);
    await startChat(page, 'Second chat');
    assert.notEqual(await conversationOf(page), conversation);
    await send(page, 'second chat');
    assert.deepEqual(await shown(page), ['second chat']);
    assert.deepEqual(w.errors, []);
    await w.close();
  });
});
