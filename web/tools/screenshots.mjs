// Writes the docs' screenshots: docs/screenshots/agent-desk.png and
// widget-desk.png (desktop), agent-phone.png and widget-phone.png (390×844),
// and embed-launcher.png (the embed snippet on a shop page of another
// origin, the chat open in its frame). Run by hand (not a test: `node --test
// e2e/` never picks up this directory):
//
//   cd web && node tools/screenshots.mjs        # needs target/debug/quickconnect (or QC_BIN)
//
// It starts the server through the e2e harness and sets up a realistic desk:
// a few customers, one conversation with an internal note, an unread one, one
// waiting in the queue, and colleagues to transfer to (one of them away).
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { Server, browser } from '../e2e/harness.mjs';

const OUT = new URL('../../docs/screenshots/', import.meta.url).pathname;
const secret = 'screenshots-secret-screenshots-secret-0123';

const server = await Server.start({ secret });
const chromium = await browser();
try {
  mkdirSync(OUT, { recursive: true });

  async function open(path, role, sub, viewport) {
    const ctx = await chromium.newContext({ viewport, deviceScaleFactor: 1 });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => {
      console.error(`page error on ${path}: ${e.message}`);
      process.exitCode = 1;
    });
    await page.goto(`${server.base}${path}#token=${server.token(role, sub)}`);
    return page;
  }
  const agent = async (sub) => {
    const page = await open('/agent', 'support', sub, { width: 1280, height: 800 });
    await page.locator('body[data-ready=true]').waitFor();
    return page;
  };
  const customer = (sub) => open('/', 'client', sub, { width: 420, height: 720 });
  const say = async (page, text) => {
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
    await page.locator('#messages .text', { hasText: text }).last().waitFor();
  };
  async function startChat(page, subject) {
    await page.fill('#subject', subject);
    await page.click('#start-form button');
    await page.locator('#conversation').waitFor({ state: 'visible' });
    return page.evaluate(() => localStorage.getItem('qc.customer.conversation'));
  }
  async function claim(page, id) {
    await page.locator(`#queue [data-conversation-id="${id}"]`).getByRole('button', { name: 'Claim' }).click();
    await page.locator(`#mine [data-conversation-id="${id}"].active`).waitFor();
  }

  // The team: Alice (whose desk we show), Bob online, Dana away.
  const alice = await agent('alice');
  await agent('bob');
  const dana = await agent('dana');
  await dana.click('#presence-toggle');
  await dana.locator('#presence-toggle[data-status=away]').waitFor();

  // Marta's conversation, with a note: the one on screen.
  const marta = await customer('marta');
  const damaged = await startChat(marta, 'Order 42 arrived damaged');
  await claim(alice, damaged);
  await say(marta, 'Hi! My parcel arrived with a broken lid.');
  await alice.locator('#messages .text', { hasText: 'broken lid' }).waitFor();
  await say(alice, 'Sorry to hear that! Could you send me a photo of the box?');
  await alice.click('#mode-note');
  await say(alice, 'Under warranty: eligible for a free replacement (checked with finance).');
  await alice.click('#mode-reply');
  await say(marta, 'Sure, one moment.');

  // Tom's conversation: unread while Alice is on Marta's.
  const tom = await customer('tom');
  const invoice = await startChat(tom, 'Change the invoice address');
  await claim(alice, invoice);
  await alice.locator(`#mine [data-conversation-id="${damaged}"] [data-action=open]`).click();
  await alice.locator(`#mine [data-conversation-id="${damaged}"].active`).waitFor();
  await say(tom, 'Can I change the address on invoice #1881?');
  await alice.locator(`#mine [data-conversation-id="${invoice}"] [data-testid=unread-badge]`).waitFor();

  // Lea is waiting in the queue.
  const lea = await customer('lea');
  const waiting = await startChat(lea, 'Question about delivery times');
  await alice.locator(`#queue [data-conversation-id="${waiting}"]`).waitFor();

  // Alice is about to hand Marta's conversation to Bob.
  await alice.locator('#transfer-to option[value="bob"]').waitFor({ state: 'attached' });
  await alice.selectOption('#transfer-to', 'bob');
  await alice.fill('#input', 'Thanks! I will');
  await marta.locator('#agent-status[data-status=online]').waitFor();
  await marta.locator('#messages .text', { hasText: 'photo of the box' }).waitFor();

  await alice.screenshot({ path: `${OUT}agent-desk.png` });
  await marta.screenshot({ path: `${OUT}widget-desk.png` });

  // Phones: Marta's chat after a longer exchange, and Alice's list.
  const phone = { width: 390, height: 844 };
  const martaPhone = marta;
  await martaPhone.setViewportSize(phone);
  for (const line of ['Here it is: https://example.com/photos/box-42.jpg', 'The lid is cracked on the left side.']) {
    await say(martaPhone, line);
  }
  await martaPhone.screenshot({ path: `${OUT}widget-phone.png` });
  const alicePhone = alice;
  await alicePhone.setViewportSize(phone);
  await alicePhone.screenshot({ path: `${OUT}agent-phone.png` });

  // The embed snippet on a shop's page (another origin), the chat open.
  const shopToken = server.token('client', 'shopper');
  const shop = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example shop</title>
<script>window.getChatToken = () => Promise.resolve(${JSON.stringify(shopToken)});</script></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem; background: #f6f4ef">
<h1>Example shop</h1><p>Garden chairs, tables and parasols.</p>
<script src="${server.base}/assets/quickconnect/embed.js" data-server="${server.base}" data-token="getChatToken" async></script>
</body></html>`);
  });
  await new Promise((r) => shop.listen(0, '127.0.0.1', r));
  const shopCtx = await chromium.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const shopPage = await shopCtx.newPage();
  await shopPage.goto(`http://127.0.0.1:${shop.address().port}/`);
  await shopPage.getByRole('button', { name: 'Open chat' }).click();
  const framed = shopPage.frameLocator('iframe[data-testid=quickconnect-frame]');
  await framed.locator('#subject').waitFor();
  await framed.locator('#subject').fill('Delivery to Lisbon?');
  await framed.locator('#start-form button').click();
  await framed.locator('#conversation').waitFor({ state: 'visible' });
  await framed.locator('#input').fill('Hello! Do you deliver garden chairs to Lisbon?');
  await framed.locator('#input').press('Enter');
  await framed.locator('#messages .text', { hasText: 'Lisbon' }).waitFor();
  await shopPage.screenshot({ path: `${OUT}embed-launcher.png` });
  shop.close();
  console.log(`wrote the screenshots to ${OUT}`);
} finally {
  await chromium.close();
  await server.stop();
}
