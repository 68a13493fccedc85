// A Quick Connect Chat webhook receiver (Node.js 20, built-in modules only).
//
//     QC_WEBHOOK_SECRET=<the server's secret> node receiver.mjs
//
// Verifies each POST's QC-Signature, drops repeated deliveries by event id and
// prints every new event on stdout as one compact JSON line. Environment:
// QC_WEBHOOK_SECRET (required), PORT (8080; 0 picks a free one), HOST
// (127.0.0.1), QC_WEBHOOK_TOLERANCE_SECS (300). See docs/integrations.md.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";

/**
 * True when `header` (the QC-Signature value) signs `rawBody` with `secret`.
 *
 * The header is "t=<unix seconds>,v1=<hex>[,v1=<hex>...]": v1 is the hex
 * HMAC-SHA256, keyed with the secret, of "<t>." followed by the body. Accepts
 * when t is within `toleranceSecs` seconds of `now` and any one v1 matches
 * (several may be sent while a secret is being rotated). `rawBody` must be the
 * request body exactly as received (a Buffer), never JSON parsed and
 * serialized again.
 */
export function verifySignature(secret, header, rawBody, toleranceSecs = 300, now = Math.floor(Date.now() / 1000)) {
  if (typeof header !== "string" || header === "") return false;
  let t = null;
  const candidates = [];
  for (const part of header.split(",")) {
    const pair = part.trim(), eq = pair.indexOf("=");
    const key = pair.slice(0, eq), value = pair.slice(eq + 1);
    if (eq < 0 || (key === "t" && t !== null)) return false; // not key=value, or a second t
    if (key === "t") t = value;
    else if (key === "v1") candidates.push(value);
  }
  if (t === null || !/^[0-9]+$/.test(t) || candidates.length === 0) return false;
  if (Math.abs(now - Number(t)) > toleranceSecs) return false; // a replay, or a wrong clock
  const expected = Buffer.from(createHmac("sha256", secret).update(`${t}.`).update(rawBody).digest("hex"));
  return candidates.some((c) => {
    const given = Buffer.from(c);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const MAX_BODY = 1024 * 1024; // bytes
const SEEN_MAX = 10_000; // event ids remembered for deduplication

function main() {
  const fail = (message) => {
    console.error(`receiver: ${message}`);
    process.exit(2);
  };
  const secret = process.env.QC_WEBHOOK_SECRET;
  if (!secret) fail("QC_WEBHOOK_SECRET is required (the same value as the server's)");
  const tolerance = Number(process.env.QC_WEBHOOK_TOLERANCE_SECS || 300);
  const port = Number(process.env.PORT || 8080);
  if (!Number.isInteger(tolerance) || !Number.isInteger(port)) {
    fail("PORT and QC_WEBHOOK_TOLERANCE_SECS must be integers");
  }
  const seen = new Set(); // insertion-ordered: the first one is the oldest

  const server = createServer((req, res) => {
    const reply = (status, body, reason, close = false) => {
      if (reason) console.error(`receiver: ${status}: ${reason}`);
      res.writeHead(status, { "content-type": "application/json", ...(close && { connection: "close" }) });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "POST") return reply(405, { error: "method not allowed" });
    const tooLarge = () => reply(413, { error: "body over 1 MiB" }, "body over 1 MiB refused", true);
    if (Number(req.headers["content-length"]) > MAX_BODY) return tooLarge();
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
      else if (!res.headersSent) tooLarge();
    });
    req.on("end", () => {
      if (size > MAX_BODY) return;
      const body = Buffer.concat(chunks); // the raw bytes: what the signature covers
      const header = req.headers["qc-signature"];
      if (!verifySignature(secret, header, body, tolerance)) {
        const why = header === undefined ? "no QC-Signature header"
          : `QC-Signature ${JSON.stringify(header)} does not verify at ${Math.floor(Date.now() / 1000)} ` +
            `(malformed, t more than ${tolerance} s away, or no v1 matches)`;
        return reply(401, { error: "invalid signature" }, why);
      }
      let event;
      try {
        event = JSON.parse(body.toString("utf8")); // only now, once the bytes are known to be ours
        if (typeof event?.id !== "string") throw new Error("no id");
      } catch {
        return reply(400, { error: "not a JSON event" }, "signed body is not a JSON event");
      }
      if (!seen.has(event.id)) { // at-least-once delivery: a repeat is acknowledged, not shown
        seen.add(event.id);
        if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value);
        process.stdout.write(JSON.stringify(event) + "\n");
      }
      reply(200, { ok: true });
    });
  });

  for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
  server.listen(port, process.env.HOST || "127.0.0.1", () => {
    process.stdout.write(`{"listening": ${server.address().port}}\n`);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
