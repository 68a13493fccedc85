// Parses and validates an AsyncAPI document with @asyncapi/parser; exits 1 on
// any error-level diagnostic, and prints what it found so CI shows it.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';

const path = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(path, 'utf8'), { source: path });
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics) {
  const level = ['error', 'warning', 'info', 'hint'][d.severity] ?? d.severity;
  console.log(`${level}: ${d.message} at ${d.path.join('.')}`);
}
if (!document || errors.length > 0) {
  console.error(`asyncapi: ${path} is INVALID (${errors.length} errors)`);
  process.exit(1);
}
const channels = document.channels().all().map((c) => c.address());
const messages = document.allMessages().all().length;
console.log(`asyncapi: ${path} is valid AsyncAPI ${document.version()}: channels ${channels.join(', ')}; ${messages} messages`);
