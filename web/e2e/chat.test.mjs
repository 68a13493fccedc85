// The customer widget and the agent console in headless Chromium against the
// real server: chatting both ways, typing indicators, closing, restarts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Server, browser, texts } from './harness.mjs';

const SHOTS = process.env.QC_SCREENSHOTS; // a directory: write the docs' screenshots

let chromium;
before(async () => {
  chromium = await browser();
});
after(async () => {
  await chromium?.close();
});

async function pages(server, { customerHash = '', agentHash = '' } = {}) {
  const customerCtx = await chromium.newContext({ viewport: { width: 420, height: 760 } });
  const agentCtx = await chromium.newContext({ viewport: { width: 1100, height: 720 } });
  const customer = await customerCtx.newPage();
  const agent = await agentCtx.newPage();
  for (const p of [customer, agent]) p.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
  await customer.goto(`${server.base}/${customerHash}`);
  await agent.goto(`${server.base}/agent${agentHash}`);
  return { customer, agent, close: () => Promise.all([customerCtx.close(), agentCtx.close()]) };
}

/** Customer opens a conversation; the agent claims it from the queue. */
async function startChat(customer, agent, subject) {
  await customer.fill('#subject', subject);
  await customer.click('#start-form button');
  await customer.locator('#conversation').waitFor({ state: 'visible' });
  assert.equal(await customer.locator('#start').isVisible(), false, 'the start form goes away');
  const row = agent.locator('#queue li', { hasText: subject });
  await row.waitFor({ timeout: 10_000 });
  await row.getByRole('button', { name: 'Claim' }).click();
  await agent.locator('#conversation').waitFor({ state: 'visible' });
  await customer.locator('#agent-line', { hasText: 'An agent joined' }).waitFor();
}

describe('in dev mode, with nothing but the server', () => {
  let server;
  before(async () => {
    server = await Server.start();
  });
  after(async () => {
    await server.stop();
  });

  test('a customer and an agent chat both ways and see read receipts', async () => {
    const { customer, agent, close } = await pages(server);
    await startChat(customer, agent, 'Order 42 is late');
    await customer.fill('#input', 'Hello, I need help with my order.');
    await customer.press('#input', 'Enter');
    await agent.locator('#messages .text', { hasText: 'Hello, I need help' }).waitFor();
    await agent.fill('#input', 'Sure! What is the order number?');
    await agent.click('#send');
    await customer.locator('#messages .text', { hasText: 'order number' }).waitFor();
    // The agent had the conversation open: the customer's message shows as read.
    await customer.locator('.msg.mine [data-testid=receipt]', { hasText: 'Read' }).waitFor({ timeout: 5_000 });
    assert.deepEqual(await texts(customer), ['Hello, I need help with my order.', 'Sure! What is the order number?']);
    assert.deepEqual(await texts(agent), await texts(customer));
    if (SHOTS) {
      await customer.screenshot({ path: `${SHOTS}/widget.png` });
      await agent.screenshot({ path: `${SHOTS}/agent.png` });
    }
    await close();
  });

  test('the typing indicator shows while typing, hides 1 s after the last key, and at once when the message arrives', async () => {
    const { customer, agent, close } = await pages(server);
    await startChat(customer, agent, 'Typing check');
    const indicator = agent.locator('#typing');
    await customer.locator('#input').pressSequentially('Where is', { delay: 60 });
    await indicator.filter({ hasText: 'Customer is typing' }).waitFor({ timeout: 3_000 });
    const stoppedAt = Date.now();
    await indicator.filter({ hasText: /^$/ }).waitFor({ timeout: 3_000 });
    const hiddenAfter = Date.now() - stoppedAt;
    assert.ok(hiddenAfter >= 600 && hiddenAfter < 2_500, `hidden after ${hiddenAfter} ms (idle rule is 1 s)`);

    await customer.locator('#input').pressSequentially(' my parcel?', { delay: 30 });
    await indicator.filter({ hasText: 'Customer is typing' }).waitFor({ timeout: 3_000 });
    await customer.press('#input', 'Enter');
    await agent.locator('#messages .text', { hasText: 'Where is my parcel?' }).waitFor();
    // Well before the 1 s idle rule could have fired:
    assert.equal(await indicator.textContent(), '');
    await close();
  });

  test("the customer's input is disabled when the agent closes the conversation", async () => {
    const { customer, agent, close } = await pages(server);
    await startChat(customer, agent, 'Close me');
    await agent.click('#close');
    await customer.locator('#closed').waitFor({ state: 'visible' });
    assert.equal(await customer.locator('#input').isDisabled(), true);
    assert.equal(await customer.locator('#send').isDisabled(), true);
    assert.equal(await agent.locator('#input').isDisabled(), true);
    await close();
  });
});

describe('a server restart mid-conversation', () => {
  const secret = 'e2e-secret-e2e-secret-e2e-secret-0123456789';
  let server;
  before(async () => {
    server = await Server.start({ secret });
  });
  after(async () => {
    await server.stop();
  });

  test('ends with no lost and no doubled message on either screen', async () => {
    const customerToken = server.token('client', 'e2e-customer');
    const agentToken = server.token('support', 'e2e-agent');
    const { customer, agent, close } = await pages(server, {
      customerHash: `#token=${customerToken}`,
      agentHash: `#token=${agentToken}`,
    });
    await startChat(customer, agent, 'Restart');
    await customer.fill('#input', 'one');
    await customer.press('#input', 'Enter');
    await agent.locator('#messages .text', { hasText: 'one' }).waitFor();

    await server.stop();
    await customer.locator('#status', { hasText: 'Reconnecting' }).waitFor();
    // Sent while the server is down: queued, then retried with its client_msg_id.
    await customer.fill('#input', 'two (sent while offline)');
    await customer.press('#input', 'Enter');
    await server.start();

    await agent.fill('#input', 'three');
    await agent.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    await agent.click('#send');
    // Who reconnects first decides whether "two" or "three" is stored first;
    // either way each is stored once and both screens show the server's order.
    for (const page of [customer, agent]) {
      await page.locator('#messages .text', { hasText: 'three' }).waitFor({ timeout: 20_000 });
      await page.locator('#messages .text', { hasText: 'two (sent while offline)' }).waitFor({ timeout: 20_000 });
    }
    const conv = await customer.evaluate(() => localStorage.getItem('qc.customer.conversation'));
    const res = await fetch(`${server.base}/conversations/${conv}/messages`, { headers: { Authorization: `Bearer ${customerToken}` } });
    const stored = (await res.json()).items.map((m) => m.content);
    assert.deepEqual([...stored].sort(), ['one', 'three', 'two (sent while offline)'], 'each stored exactly once');
    assert.equal(stored[0], 'one');
    for (const page of [customer, agent]) {
      assert.deepEqual(await texts(page), stored, 'no lost or doubled message, in seq order');
    }
    await close();
  });
});
