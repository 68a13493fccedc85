// Starts the real quickconnect binary and Debian's Chromium for the browser tests.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BIN = process.env.QC_BIN ?? new URL('../../target/debug/quickconnect', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A server process; `secret` undefined means dev mode. `env`: more
 * settings for the process (e.g. `{ QC_JWT_LEEWAY_SECS: '0' }`). */
export class Server {
  constructor({ secret, port, dir, env } = {}) {
    this.secret = secret;
    this.port = port;
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'qc-e2e-'));
    this.env = env ?? {};
    this.base = `http://127.0.0.1:${port}`;
  }

  get databaseUrl() {
    return `sqlite://${join(this.dir, 'e2e.db')}?mode=rwc`;
  }

  static async start(opts = {}) {
    const s = new Server({ ...opts, port: opts.port ?? (await freePort()) });
    await s.start();
    return s;
  }

  async start() {
    const env = {
      ...process.env,
      QC_BIND: `127.0.0.1:${this.port}`,
      QC_DATABASE_URL: this.databaseUrl,
      QC_LOG: 'warn',
      ...this.env,
    };
    delete env.QC_JWT_SECRET;
    if (this.secret) env.QC_JWT_SECRET = this.secret;
    this.proc = spawn(BIN, ['serve'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`${this.base}/healthz`)).ok) return;
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server did not start (${BIN})`);
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }

  /** Kills the process and starts it again on the same port and database
   * (in dev mode the kept secret, and so every dev token, survives). */
  async restart() {
    await this.stop();
    await this.start();
  }

  /** A token signed with the server's secret; `ttl` in seconds (negative:
   * already expired). */
  token(role, sub, ttl) {
    const args = ['token', '--role', role, '--sub', sub];
    if (ttl !== undefined) args.push(`--ttl=${ttl}`); // `=`: a negative value is not a flag
    return execFileSync(BIN, args, {
      env: { ...process.env, QC_JWT_SECRET: this.secret },
    })
      .toString()
      .trim();
  }

  /** Dev mode: a token signed with the secret the dev server keeps beside
   * its database (as `GET /dev/token` would mint it, for any `sub` and
   * lifetime). */
  devToken(role, sub, ttl = 3600) {
    const env = { ...process.env, QC_DATABASE_URL: this.databaseUrl, QC_LOG: 'warn' };
    delete env.QC_JWT_SECRET;
    delete env.QC_JWT_PUBLIC_KEY_FILE;
    return execFileSync(BIN, ['token', '--role', role, '--sub', sub, `--ttl=${ttl}`], { env })
      .toString()
      .trim();
  }
}

export async function browser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Texts of the messages on a page, in display order. */
export async function texts(page) {
  return page.locator('#messages [data-testid=message] .text').allTextContents();
}
