// The agent console as a support team keeps it open all day, in headless
// Chromium against the real server: the keyboard focus stays where it is
// while the lists change, unread conversations show in the items and the
// tab title, queue items say what the customer wrote and how long they
// have waited, closed conversations go under the Closed tab, and on a phone
// the composer stays in view. Every wait is on a DOM condition; the waiting
// times are moved on with Playwright's clock, never by sleeping.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Server, browser } from './harness.mjs';

const secret = 'e2e-console-secret-e2e-console-secret-0123';
const TITLE = 'Quick Connect — Agent';

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
const openItem = (id) => `#mine-open [data-testid=my-conversation][data-conversation-id="${id}"]`;
const closedItem = (id) => `#mine-closed [data-testid=my-conversation][data-conversation-id="${id}"]`;

/** A page with a token in the fragment; `clock`: Playwright's clock is
 * installed first (time flows as usual until a test moves it on). */
async function openPage(path, token, viewport, { clock = false } = {}) {
  const ctx = await chromium.newContext({ viewport });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => assert.fail(`page error on ${path}: ${e.message}`));
  if (clock) await page.clock.install();
  await page.goto(`${server.base}${path}#token=${token}`);
  return { page, ctx, close: () => ctx.close() };
}

/** An agent console for a new agent, loaded (its initial snapshot applied). */
async function agentConsole(name, { viewport = { width: 1200, height: 760 }, clock = false } = {}) {
  const sub = unique(name);
  const token = server.token('support', sub);
  const p = await openPage('/agent', token, viewport, { clock });
  await p.page.locator('body[data-ready=true]').waitFor();
  return { ...p, sub, token };
}

async function customerWidget(name) {
  const sub = unique(name);
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

async function say(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

async function claimFromQueue(agent, id) {
  await agent.page.locator(queueItem(id)).getByRole('button', { name: /^Claim/ }).click();
  await agent.page.locator(myItem(id)).waitFor({ state: 'attached' });
  await agent.page.locator('#conversation').waitFor({ state: 'visible' });
}

async function openMine(agent, id) {
  await agent.page.locator(`${myItem(id)} [data-action=open]`).click();
  await agent.page.locator(`${myItem(id)}.active`).waitFor({ state: 'attached' });
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

/** A customer (no page) opens a conversation through the API. */
async function apiConversation(subject) {
  const token = server.token('client', unique('customer'));
  return api(token, 'POST', '/conversations', subject === undefined ? {} : { subject });
}

/** Whether `handle` (an element) is still in the page and has the focus. */
const stillFocused = (page, handle) => page.evaluate((el) => el.isConnected && document.activeElement === el, handle);

/** The focused element's data-action and data-id. */
const focused = (page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return { action: el?.getAttribute('data-action') ?? null, id: el?.getAttribute('data-id') ?? null };
  });

const waitForTitle = (page, title) => page.waitForFunction((t) => document.title === t, title);

/** Pretends the tab went to the background (or came back): what a switch of
 * tabs does to `document.visibilityState`, and its event. */
async function setTabVisible(page, visible) {
  await page.evaluate((v) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (v ? 'visible' : 'hidden') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => !v });
    document.dispatchEvent(new Event('visibilitychange'));
  }, visible);
}

async function closeAll(...pages) {
  await Promise.all(pages.map((p) => p?.close().catch(() => {})));
}

describe('the agent console, all day', () => {
  test('a: keyboard focus stays on a focused Claim or Open button while the queue and my list change', async () => {
    const alice = await agentConsole('alice', { clock: true });
    try {
      const page = alice.page;
      const earlier = await apiConversation('Claimed by a colleague');
      const mine = await apiConversation('Focus stays here');
      await page.locator(queueItem(mine.id)).waitFor();
      await page.locator(queueItem(earlier.id)).waitFor();

      const claim = page.locator(`${queueItem(mine.id)} [data-action=claim]`);
      await claim.focus();
      const claimNode = await claim.elementHandle();
      assert.deepEqual(await focused(page), { action: 'claim', id: mine.id });

      // Another customer opens a conversation: the queue grows around the focus.
      const later = await apiConversation('Another customer');
      await page.locator(queueItem(later.id)).waitFor();
      assert.equal(await stillFocused(page, claimNode), true, 'focus kept after a conversation joined the queue');

      // A colleague claims the one before it: the queue shrinks around the focus.
      const bob = server.token('support', unique('bob'));
      await api(bob, 'POST', `/conversations/${earlier.id}/assign`);
      await page.locator(queueItem(earlier.id)).waitFor({ state: 'detached' });
      assert.equal(await stillFocused(page, claimNode), true, 'focus kept after a colleague claimed another one');

      // The waiting times tick (text only): still the same, focused node.
      await page.clock.fastForward('03:00');
      await page.locator(`${queueItem(mine.id)} [data-testid=waiting]`, { hasText: /[34] min/ }).waitFor();
      assert.equal(await stillFocused(page, claimNode), true, 'focus kept while the waiting times ticked');

      // Claimed from the keyboard: it is mine and open.
      await page.keyboard.press('Enter');
      await page.locator(`${openItem(mine.id)}.active`).waitFor();

      // Focus its Open button; conversations join my list and the queue changes.
      const openButton = page.locator(`${openItem(mine.id)} [data-action=open]`);
      await openButton.focus();
      const openNode = await openButton.elementHandle();
      const another = await apiConversation('Claimed by Alice elsewhere');
      await page.locator(queueItem(another.id)).waitFor();
      assert.equal(await stillFocused(page, openNode), true, 'focus kept while the queue grew');
      await api(alice.token, 'POST', `/conversations/${another.id}/assign`); // e.g. from her other tab
      await page.locator(openItem(another.id)).waitFor();
      await page.locator(queueItem(another.id)).waitFor({ state: 'detached' });
      assert.equal(await stillFocused(page, openNode), true, 'focus kept while my list grew');
      await api(bob, 'POST', `/conversations/${later.id}/assign`);
      await page.locator(queueItem(later.id)).waitFor({ state: 'detached' });
      assert.equal(await stillFocused(page, openNode), true, 'focus kept while the queue emptied');
      assert.deepEqual(await focused(page), { action: 'open', id: mine.id });
    } finally {
      await closeAll(alice);
    }
  });

  test('b: an unread badge and the tab title count appear for a conversation not in view, and clear when it is opened', async () => {
    const alice = await agentConsole('alice');
    const dave = await customerWidget('dave');
    const erin = await customerWidget('erin');
    try {
      const page = alice.page;
      const first = await startChat(dave, 'First conversation');
      await claimFromQueue(alice, first);
      const second = await startChat(erin, 'Second conversation');
      await claimFromQueue(alice, second);
      await openMine(alice, first);
      assert.equal(await page.title(), TITLE);

      await say(erin.page, 'Are you there?');
      const badge = page.locator(`${myItem(second)} [data-testid=unread-badge]`);
      await badge.filter({ hasText: /^1$/ }).waitFor();
      await waitForTitle(page, `(1) ${TITLE}`);
      // The Open button's name says so too.
      await page.getByRole('button', { name: 'Open conversation with Second conversation, 1 unread' }).waitFor();
      await say(erin.page, 'Hello?');
      await badge.filter({ hasText: /^2$/ }).waitFor();
      await waitForTitle(page, `(2) ${TITLE}`);

      await openMine(alice, second);
      await badge.waitFor({ state: 'detached' });
      await waitForTitle(page, TITLE);
      // The read of those two reached the server (Erin sees them read) before the tab goes.
      await erin.page.locator('.msg.mine [data-testid=receipt]', { hasText: 'Read' }).nth(1).waitFor();

      // A text into the open conversation while the tab is hidden counts in
      // the title (and is not marked read) until the tab is visible again.
      await setTabVisible(page, false);
      await say(erin.page, 'Still there?');
      await waitForTitle(page, `(1) ${TITLE}`);
      await page.locator('#messages .text', { hasText: 'Still there?' }).waitFor({ state: 'attached' });
      const listed = await api(alice.token, 'GET', '/conversations');
      assert.equal(listed.items.find((c) => c.id === second).unread_count, 1, 'no read is posted while the tab is hidden');
      await setTabVisible(page, true);
      await waitForTitle(page, TITLE);
      await badge.waitFor({ state: 'detached' });
      // The read reached the server: Erin sees her third text read.
      await erin.page.locator('.msg.mine [data-testid=receipt]', { hasText: 'Read' }).nth(2).waitFor();
    } finally {
      await closeAll(alice, dave, erin);
    }
  });

  test("c: queue items show the customer's first message and how long they have waited", async () => {
    // One customer wrote before the console was opened (no subject)…
    const early = await customerWidget('frank');
    const earlyId = await startChat(early, '');
    await say(early.page, 'My parcel never arrived');
    await early.page.locator('#messages .text', { hasText: 'My parcel never arrived' }).waitFor();
    const alice = await agentConsole('alice', { clock: true });
    const late = await customerWidget('gina');
    try {
      const page = alice.page;
      const item = page.locator(queueItem(earlyId));
      await item.locator('[data-testid=last-message]', { hasText: 'My parcel never arrived' }).waitFor();
      assert.doesNotMatch(await item.textContent(), /no subject/);
      assert.match(await item.locator('[data-testid=waiting]').textContent(), /^waiting (under 1 min|\d+ min)$/);
      await item.getByRole('button', { name: /^Claim conversation with customer .*: My parcel never arrived, waiting (under 1 min|\d+ min)$/ }).waitFor();

      // …another writes while it is open: a subject, and then the first text.
      const lateId = await startChat(late, 'Invoice address');
      const lateItem = page.locator(queueItem(lateId));
      await lateItem.locator('[data-testid=queue-subject]', { hasText: 'Invoice address' }).waitFor();
      await page.locator('#queue-announcer', { hasText: 'New chat waiting: Invoice address' }).waitFor({ state: 'attached' });
      await say(late.page, 'Please change the address on invoice 1881');
      await late.page.locator('#messages .text', { hasText: 'invoice 1881' }).waitFor();
      // Agents get no live texts for the queue: the console looks it up soon after.
      await lateItem.locator('[data-testid=last-message]', { hasText: 'Please change the address on invoice 1881' }).waitFor({ timeout: 30_000 });
      await lateItem.getByRole('button', { name: /^Claim conversation with Invoice address, waiting/ }).waitFor();

      // Three minutes later both say so, without a reload.
      await page.clock.fastForward('03:00');
      await item.locator('[data-testid=waiting]', { hasText: /^waiting [34] min$/ }).waitFor();
      await lateItem.locator('[data-testid=waiting]', { hasText: /^waiting [34] min$/ }).waitFor();
      await lateItem.getByRole('button', { name: /waiting [34] min$/ }).waitFor();
    } finally {
      await closeAll(alice, early, late);
    }
  });

  test('d: closed conversations move to the Closed tab, and the tabs work from the keyboard', async () => {
    const alice = await agentConsole('alice');
    const hana = await customerWidget('hana');
    const ivan = await customerWidget('ivan');
    try {
      const page = alice.page;
      const byAgent = await startChat(hana, 'Closed by the agent');
      await claimFromQueue(alice, byAgent);
      const byCustomer = await startChat(ivan, 'Closed by the customer');
      await claimFromQueue(alice, byCustomer);
      await page.locator(openItem(byAgent)).waitFor();
      await page.locator(openItem(byCustomer)).waitFor();

      // The agent closes the one on screen: it moves under Closed.
      await openMine(alice, byAgent);
      await page.click('#close');
      await page.locator(openItem(byAgent)).waitFor({ state: 'detached' });
      await page.locator(closedItem(byAgent)).waitFor({ state: 'attached' });
      assert.equal(await page.locator(closedItem(byAgent)).getAttribute('data-status'), 'closed');
      await page.locator('#mine-closed-count', { hasText: /^1$/ }).waitFor();

      // The customer closes the other: it moves too, live.
      await api(ivan.token, 'POST', `/conversations/${byCustomer}/close`);
      await page.locator(openItem(byCustomer)).waitFor({ state: 'detached' });
      await page.locator(closedItem(byCustomer)).waitFor({ state: 'attached' });
      await page.locator('#mine-open-empty').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#mine-panel-closed').isVisible(), false, 'the Closed tab is not selected yet');

      // Arrow keys move between the tabs (and select them).
      await page.locator('#mine-tab-open').focus();
      await page.keyboard.press('ArrowRight');
      await page.locator('#mine-tab-closed[aria-selected=true]').waitFor();
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'mine-tab-closed');
      assert.equal(await page.locator('#mine-tab-open').getAttribute('aria-selected'), 'false');
      assert.equal(await page.locator('#mine-tab-closed').getAttribute('tabindex'), '0');
      assert.equal(await page.locator('#mine-tab-open').getAttribute('tabindex'), '-1');
      await page.locator('#mine-panel-closed').waitFor({ state: 'visible' });
      await page.locator('#mine-panel-open').waitFor({ state: 'hidden' });
      await page.locator(`${closedItem(byAgent)} [data-action=open]`).waitFor({ state: 'visible' });
      await page.locator(`${closedItem(byCustomer)} [data-action=open]`).waitFor({ state: 'visible' });
      assert.deepEqual(
        await page.getByRole('tablist').getByRole('tab').evaluateAll((tabs) => tabs.map((t) => t.getAttribute('aria-controls'))),
        ['mine-panel-open', 'mine-panel-closed'],
      );

      // A closed conversation opens from there, read-only.
      await page.locator(`${closedItem(byCustomer)} [data-action=open]`).click();
      await page.locator(`${closedItem(byCustomer)}.active`).waitFor();
      await page.locator('#closed').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#input').isDisabled(), true);

      // Back with the arrow (it wraps), and Home / End.
      await page.locator('#mine-tab-closed').focus();
      await page.keyboard.press('ArrowRight');
      await page.locator('#mine-tab-open[aria-selected=true]').waitFor();
      await page.keyboard.press('End');
      await page.locator('#mine-tab-closed[aria-selected=true]').waitFor();
      await page.keyboard.press('Home');
      await page.locator('#mine-tab-open[aria-selected=true]').waitFor();
      await page.locator('#mine-panel-open').waitFor({ state: 'visible' });
    } finally {
      await closeAll(alice, hana, ivan);
    }
  });

  test('e: on a 390×844 phone the list and the conversation switch, and the composer stays in view after 50 messages', async () => {
    const viewport = { width: 390, height: 844 };
    const alice = await agentConsole('alice', { viewport });
    const jo = await customerWidget('jo');
    try {
      const page = alice.page;
      const id = await startChat(jo, 'On the phone');
      await page.locator(queueItem(id)).waitFor();
      assert.equal(await page.locator('#conversation').isVisible(), false);
      await claimFromQueue(alice, id);
      await page.locator('nav.sidebar').waitFor({ state: 'hidden' });

      const all = page.locator('#messages [data-testid=message]');
      for (let i = 0; i < 50; i++) {
        // Mostly the agent, now and then the customer; each waits for the last.
        if (i % 5 === 0) await say(jo.page, `Customer line ${i + 1}`);
        else await say(page, `Agent line ${i + 1}`);
        await all.nth(i).waitFor({ state: 'attached' });
      }
      assert.equal(await all.count(), 50);

      const inViewport = async (selector) => {
        const box = await page.locator(selector).boundingBox();
        assert.ok(box, `${selector} is shown`);
        assert.ok(box.y >= 0 && box.y + box.height <= viewport.height + 0.5, `${selector} is in view: ${JSON.stringify(box)}`);
        assert.ok(box.x >= 0 && box.x + box.width <= viewport.width + 0.5, `${selector} fits across: ${JSON.stringify(box)}`);
        return box;
      };
      const header = await inViewport('header.bar');
      assert.ok(header.y <= 0.5, 'the header is at the top');
      await inViewport('#input');
      await inViewport('#send');
      await inViewport('#mode-note');
      const page_ = await page.evaluate(() => ({
        height: document.scrollingElement.scrollHeight,
        width: document.scrollingElement.scrollWidth,
        y: window.scrollY,
      }));
      assert.ok(page_.height <= viewport.height + 1 && page_.width <= viewport.width + 1 && page_.y === 0, `the page itself does not scroll: ${JSON.stringify(page_)}`);

      // Only the message list scrolls, and it shows the newest message.
      const list = await page.evaluate(() => {
        const m = document.getElementById('messages');
        return { scrollHeight: m.scrollHeight, clientHeight: m.clientHeight };
      });
      assert.ok(list.scrollHeight > list.clientHeight, `the list scrolls: ${JSON.stringify(list)}`);
      const listBox = await page.locator('#messages').boundingBox();
      const lastBox = await all.last().boundingBox();
      assert.ok(lastBox.y + lastBox.height <= listBox.y + listBox.height + 1 && lastBox.y >= listBox.y - 1, 'the newest message is in view');

      // One more, typed: still in view.
      await say(page, 'And one more');
      await all.nth(50).waitFor();
      await inViewport('#input');
      await inViewport('#send');

      // Back to the list: the conversation gives way; a text meanwhile is unread there.
      await page.click('#back-to-list');
      await page.locator('nav.sidebar').waitFor({ state: 'visible' });
      await page.locator('#conversation').waitFor({ state: 'hidden' });
      assert.deepEqual(await focused(page), { action: 'open', id }, 'the focus goes to the conversation in the list');
      await say(jo.page, 'Are you still there?');
      await page.locator(`${myItem(id)} [data-testid=unread-badge]`, { hasText: /^1$/ }).waitFor();
      await waitForTitle(page, `(1) ${TITLE}`);
      await page.locator(`${myItem(id)} [data-action=open]`).click();
      await page.locator('#conversation').waitFor({ state: 'visible' });
      await page.locator('nav.sidebar').waitFor({ state: 'hidden' });
      await page.locator(`${myItem(id)} [data-testid=unread-badge]`).waitFor({ state: 'detached' });
      await waitForTitle(page, TITLE);
      await inViewport('#input');
    } finally {
      await closeAll(alice, jo);
    }
  });
});
