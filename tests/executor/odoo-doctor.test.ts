import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Check, runDoctor } from '../../executor/doctor.js';
import { odooKeys, odooUsers } from '../odoo/keys.js';
import { type OdooTestServer, startOdooServer } from '../odoo/server.js';
import {
  type CliResult,
  onCleanup,
  runCli,
  smtpEnv,
  smtpServer,
  tempDir,
  testKey,
  type World,
  world,
} from './helpers.js';

/**
 * `fte doctor`'s odoo check and the executor's start-up line about the Odoo actions, against the test
 * Odoo server over HTTP (both protocols), a closed port and an HTTP server that is not Odoo. The posting
 * key is never printed.
 */

const KEYS = odooKeys();
const WRONG_KEY = `wrong${randomBytes(16).toString('hex')}`;

async function odooServer(version: string): Promise<OdooTestServer> {
  const users = odooUsers(KEYS);
  const server = await startOdooServer({ version, users });
  onCleanup(() => server.close());
  return server;
}

type Setup = { w: World; env: NodeJS.ProcessEnv; envFile: string };

/** A laptop whose other checks pass: a real remote and clone, a key, a real SMTP server, an env file. */
async function laptop(odoo: Record<string, string>): Promise<Setup> {
  const w = await world();
  await testKey(w.keyFile);
  const smtp = await smtpServer();
  const home = join(w.root, 'home');
  await mkdir(home, { recursive: true });
  const envFile = join(w.root, 'config', 'executor.env');
  await mkdir(join(envFile, '..'), { recursive: true, mode: 0o700 });
  await writeFile(envFile, '', { mode: 0o600 });
  const env = smtpEnv(smtp.port, w.keyFile, { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), ...odoo });
  return { w, env, envFile };
}

const odooEnv = (url: string, key = KEYS.laptop, extra: Record<string, string> = {}) => ({
  ODOO_URL: url,
  ODOO_DB: 'odoo',
  ODOO_LOGIN: 'laptop',
  ODOO_POST_API_KEY: key,
  ODOO_TIMEOUT_MS: '5000',
  ...extra,
});

async function odooCheck(s: Setup): Promise<Check> {
  const checks = await runDoctor({
    vault: s.w.local.dir,
    envFile: s.envFile,
    env: s.env,
    odooTimeoutMs: 5_000,
  });
  const check = checks.find((c) => c.name === 'odoo');
  if (!check) throw new Error(`no odoo check in ${checks.map((c) => c.name).join(', ')}`);
  for (const c of checks) expect(JSON.stringify(c)).not.toContain(s.env.ODOO_POST_API_KEY ?? '\u0000');
  return check;
}

function expectNoKey(run: CliResult): void {
  for (const key of [...Object.values(KEYS), WRONG_KEY]) {
    expect(run.stdout).not.toContain(key);
    expect(run.stderr).not.toContain(key);
  }
}

/** A plain web server (not Odoo): HTML for everything. */
async function notOdoo(): Promise<string> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('<html><body><h1>Not Found</h1></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An address where nothing listens (a port just closed). */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

describe.each([
  { version: '19.0', protocol: 'JSON-2' },
  { version: '17.0', protocol: 'JSON-RPC' },
])('fte doctor: odoo (Odoo $version)', ({ version, protocol }) => {
  it('ok: the version, the protocol and that the posting key signs in; the key is never printed', async () => {
    const server = await odooServer(version);
    const s = await laptop(odooEnv(server.url));
    const run = await runCli(['doctor', '--vault', s.w.local.dir, '--env-path', s.envFile], s.env);
    const line = run.stdout.split('\n').find((l) => l.slice(6).startsWith('odoo: '));
    expect(line).toBe(
      `ok    odoo: ${server.url} database odoo as laptop: Odoo ${version} over ${protocol}, the key signs in (post_invoice and register_payment enabled)`,
    );
    expect(run.code, run.stdout).toBe(0);
    expectNoKey(run);
  });

  it('a wrong key: FAIL, with what to check; the key (from ODOO_POST_API_KEY_FILE) is not printed', async () => {
    const server = await odooServer(version);
    const keyFile = join(await tempDir('fte-odoo-key-'), 'odoo-key');
    await writeFile(keyFile, `${WRONG_KEY}\n`, { mode: 0o600 });
    const { ODOO_POST_API_KEY: _, ...settings } = odooEnv(server.url);
    const s = await laptop({ ...settings, ODOO_POST_API_KEY_FILE: keyFile });
    const check = await odooCheck(s);
    expect(check.status).toBe('fail');
    expect(check.verdict).toMatch(
      new RegExp(`^${server.url} database odoo as laptop: the key does not sign in: `),
    );
    expect(check.fix).toMatch(/check ODOO_LOGIN and ODOO_POST_API_KEY \(or the file\)/);
    expect(JSON.stringify(check)).not.toContain(WRONG_KEY);

    const run = await runCli(['doctor', '--vault', s.w.local.dir, '--env-path', s.envFile], s.env);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL {2}odoo: .*the key does not sign in/m);
    expectNoKey(run);
  });
});

describe('fte doctor: odoo, when it cannot work', () => {
  it('an unreachable server: FAIL, check ODOO_URL', async () => {
    const url = await closedPort();
    const check = await odooCheck(await laptop(odooEnv(url)));
    expect(check).toMatchObject({ status: 'fail', verdict: expect.stringMatching(/cannot reach/) });
    expect(check.fix).toBe('check ODOO_URL and that Odoo is running and reachable from here');
  });

  it('an HTTP server that is not Odoo: FAIL, ODOO_URL must be Odoo itself', async () => {
    const url = await notOdoo();
    const check = await odooCheck(await laptop(odooEnv(url)));
    expect(check.status).toBe('fail');
    expect(check.verdict).toMatch(new RegExp(`^${url} database odoo as laptop: Odoo .*HTTP 404`));
    expect(check.fix).toMatch(/ODOO_URL is the address of Odoo itself/);
  });

  it('a key without ODOO_URL: FAIL, a wrong setting', async () => {
    const check = await odooCheck(await laptop({ ODOO_POST_API_KEY: KEYS.laptop }));
    expect(check).toMatchObject({
      status: 'fail',
      verdict: 'a wrong setting: ODOO_POST_API_KEY is set but ODOO_URL is not: set both, or neither',
    });
  });

  it('not configured: ok, the Odoo approvals wait', async () => {
    const check = await odooCheck(await laptop({}));
    expect(check.status).toBe('ok');
    expect(check.verdict).toMatch(
      /^not configured: post_invoice and register_payment approvals wait in Approved\//,
    );
  });
});

describe("the executor's start-up line", () => {
  it('says where the Odoo actions post and pay (url, database, login, never the key), or that they are off', async () => {
    const server = await odooServer('19.0');
    const s = await laptop(odooEnv(server.url));
    const on = await runCli(['executor', '--once', '--vault', s.w.local.dir], s.env);
    expect(on.code, on.stderr).toBe(0);
    expect(on.stderr).toContain(
      `"msg":"Odoo actions enabled (post_invoice, register_payment): ${server.url} database odoo as laptop; payments up to 1000 each, 3 an hour"`,
    );
    expectNoKey(on);

    const off = await runCli(['executor', '--once', '--vault', s.w.local.dir], {
      ...s.env,
      ODOO_URL: '',
      ODOO_POST_API_KEY: '',
    });
    expect(off.code, off.stderr).toBe(0);
    expect(off.stderr).toContain(
      '"msg":"Odoo actions off (no ODOO_URL): post_invoice and register_payment approvals wait in Approved/"',
    );
  });
});
