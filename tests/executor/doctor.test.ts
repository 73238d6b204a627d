import { chmod, mkdir, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { redact } from '../../executor/doctor.js';
import { type CliResult, runCli, smtpEnv, smtpServer, testKey, type World, world } from './helpers.js';

const USER = 'owner@example.com';
const PASSWORD = 'correct horse battery staple';
const WRONG = 'wrong-password-1234';
const TOKEN = `${'t'.repeat(16)}secret-token-value-0123456789`;
const KEY_HEX = 'ab'.repeat(32);

type Setup = { w: World; env: NodeJS.ProcessEnv; envFile: string };

/**
 * A good laptop: a real bare remote and clone, a 0600 key, a real SMTP server on loopback that requires a
 * login, the login in a 0600 env file outside the vault (the rest of the settings in the environment).
 */
async function goodSetup(password = PASSWORD): Promise<Setup> {
  const w = await world();
  await testKey(w.keyFile);
  const smtp = await smtpServer({ auth: { user: USER, pass: PASSWORD } });
  const home = join(w.root, 'home');
  await mkdir(home, { recursive: true });
  const envFile = join(w.root, 'config', 'executor.env');
  await mkdir(join(envFile, '..'), { recursive: true, mode: 0o700 });
  await writeFile(envFile, `SMTP_USER=${USER}\nSMTP_PASSWORD="${password}"\n`, { mode: 0o600 });
  const env = smtpEnv(smtp.port, w.keyFile, { HOME: home, XDG_CONFIG_HOME: join(home, '.config') });
  return { w, env, envFile };
}

const doctor = (s: Setup, extra: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<CliResult> =>
  runCli(['doctor', '--vault', s.w.local.dir, '--env-path', s.envFile, ...args], { ...s.env, ...extra });

/** The output line of a check (`ok    name: …`), and the advice under it when there is one. */
function line(run: CliResult, name: string): string {
  const found = run.stdout.split('\n').find((l) => l.slice(6).startsWith(`${name}: `));
  if (!found) throw new Error(`no line for ${name} in:\n${run.stdout}`);
  return found;
}

function advice(run: CliResult, name: string): string | undefined {
  const lines = run.stdout.split('\n');
  const next = lines[lines.indexOf(line(run, name)) + 1];
  return next?.startsWith('      → ') ? next.slice(8) : undefined;
}

function expectNoSecret(run: CliResult): void {
  for (const secret of [PASSWORD, WRONG, TOKEN, KEY_HEX]) {
    expect(run.stdout).not.toContain(secret);
    expect(run.stderr).not.toContain(secret);
  }
}

const CHECKS = [
  'env file',
  'approval key',
  'smtp',
  'odoo',
  'vault',
  'remote',
  'sync',
  'clock',
  'disk',
  'page',
];

describe('fte doctor', () => {
  it('says ok on every line for a good setup (real SMTP login, real remote) and exits 0', async () => {
    const s = await goodSetup();
    const run = await doctor(s);
    expect(run.stderr).toBe('');
    const lines = run.stdout.trim().split('\n');
    expect(lines.map((l) => l.slice(6, l.indexOf(':')))).toEqual(CHECKS);
    for (const l of lines) expect(l).toMatch(/^ok {4}[a-z ]+: /);
    expect(line(run, 'smtp')).toContain(`logged in as ${USER}`);
    expect(line(run, 'remote')).toContain(s.w.remote);
    expect(line(run, 'page')).toContain('127.0.0.1:7420 (loopback only)');
    expect(run.code).toBe(0);
    expectNoSecret(run);

    const json = await doctor(s, {}, ['--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      ok: boolean;
      checks: Array<{ name: string; status: string }>;
    };
    expect(parsed.ok).toBe(true);
    expect(parsed.checks.map((c) => c.status)).toEqual(CHECKS.map(() => 'ok'));
    expectNoSecret(json);
  });

  it('FAILs smtp on a wrong password with the server answer, and never prints the password', async () => {
    const s = await goodSetup(WRONG);
    const run = await doctor(s);
    expect(run.code).toBe(1);
    expect(line(run, 'smtp')).toMatch(/^FAIL {2}smtp: 127\.0\.0\.1:\d+ as owner@example\.com: .*535/);
    expect(line(run, 'smtp')).toContain('Invalid username or password');
    expect(advice(run, 'smtp')).toContain('SMTP_USER and SMTP_PASSWORD');
    expect(line(run, 'approval key')).toMatch(/^ok/);
    expectNoSecret(run);

    const json = await doctor(s, {}, ['--json']);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as { ok: boolean }).ok).toBe(false);
    expectNoSecret(json);
  });

  it('FAILs the key at mode 0644 and says chmod 600 <path>', async () => {
    const s = await goodSetup();
    await chmod(s.w.keyFile, 0o644);
    const run = await doctor(s);
    expect(run.code).toBe(1);
    expect(line(run, 'approval key')).toBe(
      `FAIL  approval key: ${s.w.keyFile} has mode 0644: other users can read it`,
    );
    expect(advice(run, 'approval key')).toBe(`chmod 600 ${s.w.keyFile}`);
    expectNoSecret(run);
  });

  it('FAILs the remote when it is gone', async () => {
    const s = await goodSetup();
    await rename(s.w.remote, `${s.w.remote}.moved`);
    const run = await doctor(s);
    expect(run.code).toBe(1);
    expect(line(run, 'remote')).toMatch(/^FAIL {2}remote: .*remote\.git cannot be reached: /);
    expect(advice(run, 'remote')).toContain('remote -v');
    // The other checks still run and stay ok.
    expect(line(run, 'smtp')).toMatch(/^ok/);
    expect(line(run, 'vault')).toMatch(/^ok/);
  });

  it('FAILs the page on a non-loopback bind without a password, with the reason the executor would give', async () => {
    const s = await goodSetup();
    const run = await doctor(s, { FTE_UI_BIND: '0.0.0.0' });
    expect(run.code).toBe(1);
    expect(line(run, 'page')).toBe(
      'FAIL  page: the status page would listen on 0.0.0.0, which is not loopback, without a password: set FTE_UI_PASSWORD_HASH (fte ui hash-password) or FTE_UI_TOKEN, or bind to 127.0.0.1',
    );

    const withToken = await doctor(s, { FTE_UI_BIND: '0.0.0.0', FTE_UI_TOKEN: TOKEN });
    expect(withToken.code).toBe(0);
    expect(line(withToken, 'page')).toMatch(/^ok {4}page: http:\/\/0\.0\.0\.0:7420 with a token; note: /);
    expectNoSecret(withToken);

    const badHash = await doctor(s, { FTE_UI_PASSWORD_HASH: '$2b$12$short' });
    expect(badHash.code).toBe(1);
    expect(line(badHash, 'page')).toMatch(
      /^FAIL {2}page: invalid status page setting FTE_UI_PASSWORD_HASH: /,
    );
    expect(badHash.stdout).not.toContain('$2b$12$short');
  });

  it('FAILs an env file readable by others, and the vault on a stale index.lock', async () => {
    const s = await goodSetup();
    await chmod(s.envFile, 0o640);
    const lock = join(s.w.local.dir, '.git', 'index.lock');
    await writeFile(lock, '');
    const old = new Date(Date.now() - 10 * 60_000);
    await utimes(lock, old, old);
    const run = await doctor(s);
    expect(run.code).toBe(1);
    expect(line(run, 'env file')).toBe(
      `FAIL  env file: ${s.envFile} has mode 0640: other users can read your SMTP password`,
    );
    expect(advice(run, 'env file')).toBe(`chmod 600 ${s.envFile}`);
    expect(line(run, 'vault')).toMatch(/^FAIL {2}vault: a stale .*index\.lock \(10 min old\)/);
    expect(advice(run, 'vault')).toContain(`rm ${lock}`);
    expectNoSecret(run);
  });

  it('hides known secrets and URL passwords in any text it prints', () => {
    expect(redact(`https://me:hunter2secret@git.example.com/v.git said ${TOKEN}`, [TOKEN])).toBe(
      'https://me:***@git.example.com/v.git said (hidden)',
    );
  });
});
