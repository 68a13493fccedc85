// The agent desk in headless Chromium against the real server: the live
// queue, transfers, internal notes, unread badges and presence. Every wait
// is on a DOM condition; nothing sleeps for a fixed time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Server, browser, texts } from './harness.mjs';

const secret = 'e2e-desk-secret-e2e-desk-secret-0123456789';

let chromium;
let server;
before(async () => {
  chromium = await browser();
  server = await Server.start({ secret });
});
after(async () => {
  await server?.stop();
  await chromium?.close();
});

// Fresh users per test: the server (and its queue) is shared by the tests.
let counter = 0;
const unique = (name) => `${name}-${++counter}-${process.pid}`;

const queueItem = (id) => `#queue [data-testid=queue-item][data-conversation-id="${id}"]`;
const myItem = (id) => `#mine [data-testid=my-conversation][data-conversation-id="${id}"]`;
const teamMember = (sub, status) => `#team [data-testid=team-member][data-agent-id="${sub}"][data-status=${status}]`;

/** A page with a token in the fragment; `frames` collects what its WebSockets send. */
async function openPage(path, token, viewport) {
  const ctx = await chromium.newContext({ viewport });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => assert.fail(`page error on ${path}: ${e.message}`));
  const frames = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => frames.push(String(f.payload))));
  await page.goto(`${server.base}${path}#token=${token}`);
  return { page, ctx, frames, close: () => ctx.close() };
}

/** An agent console for `sub`, loaded (its initial snapshot applied). */
async function agentConsole(sub) {
  const token = server.token('support', sub);
  const p = await openPage('/agent', token, { width: 1200, height: 760 });
  await p.page.locator('body[data-ready=true]').waitFor();
  return { ...p, sub, token };
}

async function customerWidget(sub) {
  const token = server.token('client', sub);
  const p = await openPage('/', token, { width: 420, height: 760 });
  await p.page.locator('#start').waitFor({ state: 'visible' });
  return { ...p, sub, token };
}

/** The customer opens a conversation from the widget; returns its id. */
async function startChat(customer, subject) {
  await customer.page.fill('#subject', subject);
  await customer.page.click('#start-form button');
  await customer.page.locator('#conversation').waitFor({ state: 'visible' });
  const id = await customer.page.evaluate(() => localStorage.getItem('qc.customer.conversation'));
  assert.ok(id, 'the widget remembers its conversation');
  return id;
}

async function claimFromQueue(agent, id) {
  await agent.page.locator(queueItem(id)).getByRole('button', { name: 'Claim' }).click();
  await agent.page.locator(myItem(id)).waitFor();
  await agent.page.locator('#conversation').waitFor({ state: 'visible' });
}

async function openMine(agent, id) {
  await agent.page.locator(`${myItem(id)} [data-action=open]`).click();
  await agent.page.locator(`${myItem(id)}.active`).waitFor();
}

async function say(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

async function api(token, method, path, body) {
  const res = await fetch(`${server.base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(res.ok, `${method} ${path}: ${res.status}`);
  return res.status === 204 ? null : res.json();
}

async function closeAll(...pages) {
  await Promise.all(pages.map((p) => p?.close().catch(() => {})));
}

describe('the agent desk', () => {
  test('a: the queue fills and empties without a reload or polling when a customer opens and a colleague claims', async () => {
    const alice = await agentConsole(unique('alice'));
    try {
      // A reload would lose this mark; a poll would show up as a request.
      await alice.page.evaluate(() => {
        window.qcNoReload = true;
      });
      const listings = [];
      alice.page.on('request', (r) => {
        if (r.method() === 'GET' && new URL(r.url()).pathname === '/conversations') listings.push(r.url());
      });

      const customerToken = server.token('client', unique('carol'));
      const created = await api(customerToken, 'POST', '/conversations', { subject: 'Queue fills live' });
      const item = alice.page.locator(queueItem(created.id));
      await item.waitFor();
      assert.match(await item.textContent(), /Queue fills live/);

      const bobToken = server.token('support', unique('bob'));
      await api(bobToken, 'POST', `/conversations/${created.id}/assign`);
      await item.waitFor({ state: 'detached' });
      assert.equal(await alice.page.locator(myItem(created.id)).count(), 0, "a colleague's claim is not mine");

      assert.equal(await alice.page.evaluate(() => window.qcNoReload), true, 'the page was not reloaded');
      assert.deepEqual(listings, [], 'no listing was requested after the initial load');
    } finally {
      await closeAll(alice);
    }
  });

  test('b: a transfer moves the conversation from one console to the other live, and back to the queue', async () => {
    const alice = await agentConsole(unique('alice'));
    const bob = await agentConsole(unique('bob'));
    const customer = await customerWidget(unique('carol'));
    try {
      const id = await startChat(customer, 'Please transfer me');
      await claimFromQueue(alice, id);
      await customer.page.locator('#agent-line', { hasText: 'An agent joined' }).waitFor();

      await alice.page.locator(`#transfer-to option[value="${bob.sub}"]`).waitFor({ state: 'attached' });
      await alice.page.selectOption('#transfer-to', bob.sub);
      await alice.page.click('#transfer');
      await alice.page.locator(myItem(id)).waitFor({ state: 'detached' });
      await alice.page.locator('#conversation').waitFor({ state: 'hidden' });
      await bob.page.locator(myItem(id)).waitFor();
      await customer.page.locator('#agent-line', { hasText: 'You are now chatting with another agent' }).waitFor();

      // Bob now holds it: he answers and the customer gets it.
      await openMine(bob, id);
      await say(bob.page, 'Bob here, happy to help.');
      await customer.page.locator('#messages .text', { hasText: 'Bob here' }).waitFor();

      // Back to the queue: it shows up in Alice's queue, live.
      await bob.page.selectOption('#transfer-to', '__queue__');
      await bob.page.click('#transfer');
      await bob.page.locator(myItem(id)).waitFor({ state: 'detached' });
      await alice.page.locator(queueItem(id)).waitFor();
      await customer.page.locator('#agent-line', { hasText: 'Waiting for another agent' }).waitFor();
    } finally {
      await closeAll(alice, bob, customer);
    }
  });

  test("c: a note written before a transfer shows in the new agent's console and never on the customer's screen", async () => {
    const alice = await agentConsole(unique('alice'));
    const bob = await agentConsole(unique('bob'));
    const customer = await customerWidget(unique('carol'));
    try {
      const id = await startChat(customer, 'Damaged parcel');
      await claimFromQueue(alice, id);
      await say(customer.page, 'My parcel arrived damaged.');
      await alice.page.locator('#messages .text', { hasText: 'arrived damaged' }).waitFor();

      // Note mode: typed key by key, so a typing signal would have been sent by now if any were.
      await alice.page.click('#mode-note');
      const mark = alice.frames.length;
      await alice.page.locator('#input').pressSequentially('Refund approved by finance', { delay: 25 });
      await alice.page.press('#input', 'Enter');
      const note = alice.page.locator('#messages [data-testid=note]', { hasText: 'Refund approved by finance' });
      await note.waitFor();
      assert.match(await note.textContent(), /Internal note/);
      const sent = alice.frames.slice(mark).map((f) => JSON.parse(f));
      assert.deepEqual(
        sent.map((f) => f.type),
        ['note'],
        `in note mode only the note is sent, no typing: ${JSON.stringify(sent)}`,
      );

      // A reply after the note: once the customer has it, the note would have come before it.
      await alice.page.click('#mode-reply');
      await say(alice.page, 'We will send a replacement.');
      await customer.page.locator('#messages .text', { hasText: 'replacement' }).waitFor();
      assert.deepEqual(await texts(customer.page), ['My parcel arrived damaged.', 'We will send a replacement.']);
      assert.ok(!(await customer.page.locator('body').textContent()).includes('Refund approved'), 'the note is not on the customer screen');

      await alice.page.locator(`#transfer-to option[value="${bob.sub}"]`).waitFor({ state: 'attached' });
      await alice.page.selectOption('#transfer-to', bob.sub);
      await alice.page.click('#transfer');
      await bob.page.locator(myItem(id)).waitFor();
      await openMine(bob, id);
      const bobsNote = bob.page.locator('#messages [data-testid=note]', { hasText: 'Refund approved by finance' });
      await bobsNote.waitFor();
      assert.match(await bobsNote.textContent(), /Internal note/);
      assert.deepEqual(await texts(bob.page), ['My parcel arrived damaged.', 'We will send a replacement.']);

      // Nor in the customer's history (after a reload, or through the API).
      await customer.page.reload();
      await customer.page.locator('#messages .text', { hasText: 'replacement' }).waitFor();
      assert.ok(!(await customer.page.locator('body').textContent()).includes('Refund approved'));
      const history = await api(customer.token, 'GET', `/conversations/${id}/messages`);
      assert.deepEqual(
        history.items.map((m) => m.message_type),
        ['text', 'text'],
      );
    } finally {
      await closeAll(alice, bob, customer);
    }
  });

  test('d: an unread badge appears while another conversation is open and clears when the agent opens it', async () => {
    const alice = await agentConsole(unique('alice'));
    const dave = await customerWidget(unique('dave'));
    const erin = await customerWidget(unique('erin'));
    try {
      const first = await startChat(dave, 'First conversation');
      await claimFromQueue(alice, first);
      const second = await startChat(erin, 'Second conversation');
      await claimFromQueue(alice, second);
      await openMine(alice, first);

      await say(erin.page, 'Are you there?');
      const badge = alice.page.locator(`${myItem(second)} [data-testid=unread-badge]`);
      await badge.filter({ hasText: /^1$/ }).waitFor();
      await alice.page.locator(`${myItem(second)} [data-testid=last-message]`, { hasText: 'Are you there?' }).waitFor();
      await say(erin.page, 'Hello?');
      await badge.filter({ hasText: /^2$/ }).waitFor();

      // The open conversation gets its preview updated, never a badge.
      await say(dave.page, 'Still here.');
      await alice.page.locator(`${myItem(first)} [data-testid=last-message]`, { hasText: 'Still here.' }).waitFor();
      assert.equal(await alice.page.locator(`${myItem(first)} [data-testid=unread-badge]`).count(), 0);

      await openMine(alice, second);
      await badge.waitFor({ state: 'detached' });
      await alice.page.locator('#messages .text', { hasText: 'Hello?' }).waitFor();
      // The read reached the server: Erin sees both texts read, and the count is 0 there too.
      await erin.page.locator('.msg.mine [data-testid=receipt]', { hasText: 'Read' }).nth(1).waitFor();
      const mine = await api(alice.token, 'GET', '/conversations');
      assert.equal(mine.items.find((c) => c.id === second).unread_count, 0);
    } finally {
      await closeAll(alice, dave, erin);
    }
  });

  test('e: the widget shows the agent online, away, and offline once their last connection closes', async () => {
    const alice = await agentConsole(unique('alice'));
    const bob = await agentConsole(unique('bob'));
    const customer = await customerWidget(unique('carol'));
    let aliceOpen = true;
    try {
      const id = await startChat(customer, 'Are you online?');
      await claimFromQueue(alice, id);
      const status = (s) => customer.page.locator(`#agent-status[data-status=${s}]`);
      await status('online').waitFor();
      assert.match(await status('online').textContent(), /online/i);
      await bob.page.locator(teamMember(alice.sub, 'online')).waitFor();

      // The presence toggle: the customer and the team follow.
      await alice.page.click('#presence-toggle');
      await alice.page.locator('#presence-toggle[data-status=away]').waitFor();
      await status('away').waitFor();
      await bob.page.locator(teamMember(alice.sub, 'away')).waitFor();
      await alice.page.click('#presence-toggle');
      await status('online').waitFor();
      await bob.page.locator(teamMember(alice.sub, 'online')).waitFor();

      // Alice's only page closes: offline after the server's short grace.
      await alice.close();
      aliceOpen = false;
      await status('offline').waitFor({ timeout: 20_000 });
      assert.match(await status('offline').textContent(), /offline/i);
      await bob.page.locator(teamMember(alice.sub, 'offline')).waitFor({ timeout: 20_000 });
    } finally {
      await closeAll(aliceOpen ? alice : null, bob, customer);
    }
  });
});
