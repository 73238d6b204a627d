import { constants } from 'node:fs';
import { lstat, open, readFile, realpath, stat, statfs } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import nodemailer from 'nodemailer';
import { isErrno } from '../core/fsutil.js';
import { Git, GitCommandError } from '../core/git.js';
import { loginAgainLine, loginNeeded, tokenSource } from '../core/oauth/token-source.js';
import { readTokenFile } from '../core/oauth/token-store.js';
import { OdooAccessError, OdooClient, OdooTimeoutError } from '../core/odoo/client.js';
import { remoteProblems } from '../core/status.js';
import { BRANCH, REMOTE } from '../core/vault-repo.js';
import { loadExecutorConfig } from './config.js';
import { approvalKeyPath, isInside } from './key.js';
import { localMailTokenFiles } from './mail-login.js';
import { loadLaptopOdooSettings, ODOO_SETTINGS_HINT } from './odoo-config.js';
import { parseEnvFile } from './service/env-file.js';
import { stateBase } from './state.js';
import { isLoopback, loadUiConfig } from './ui/config.js';

/**
 * `fte doctor`: what would stop the laptop's executor from working, one check at a time, each with a
 * verdict and, when not ok, what to do. Read-only (the one exception: a remote check fetches the remote's
 * newest commit into git's object store, touching no ref). Never prints a secret: every text passes
 * through `redact` with the secret values it knows (SMTP and IMAP passwords, the key, the page's token
 * and hash, the Odoo API keys (also read from ODOO_POST_API_KEY_FILE), passwords in remote URLs).
 */

export type CheckStatus = 'ok' | 'warn' | 'fail';
export type Check = { name: string; status: CheckStatus; verdict: string; fix?: string };

export type DoctorOptions = {
  vault: string;
  /** The env file the service reads; its settings override `env` (as in the service). */
  envFile: string;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  /** SMTP login, Odoo and git remote timeouts (default 10 s, 10 s and 15 s). */
  smtpTimeoutMs?: number;
  odooTimeoutMs?: number;
  gitTimeoutMs?: number;
};

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
/** A commit from the remote dated further in the future than this means a clock is off. */
export const CLOCK_SKEW_MS = 5 * 60_000;

const ok = (name: string, verdict: string): Check => ({ name, status: 'ok', verdict });
const warn = (name: string, verdict: string, fix?: string): Check => ({ name, status: 'warn', verdict, fix });
const fail = (name: string, verdict: string, fix?: string): Check => ({ name, status: 'fail', verdict, fix });

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
const mode = (m: number) => (m & 0o777).toString(8).padStart(4, '0');

/** `https://user:secret@host` → `https://user:***@host`, wherever a URL appears. */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*):([^/@\s]*)@/gi, '$1$2:***@');
}

/** Every known secret value replaced by `(hidden)`, and URL passwords by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) result = result.split(secret).join('(hidden)');
  }
  return redactUrls(result);
}

/** The env file: its mode, where it is; and the settings it holds (as the service would see them). */
async function checkEnvFile(
  path: string,
  vault: string,
): Promise<{ check: Check; values: Record<string, string> }> {
  const name = 'env file';
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    return {
      check: ok(
        name,
        `none at ${path}; settings come from this shell's environment (fte executor install makes one)`,
      ),
      values: {},
    };
  }
  if (!info.isFile()) return { check: fail(name, `${path} is not a regular file`), values: {} };
  if (await isInside(vault, path)) {
    return {
      check: fail(
        name,
        `${path} is inside the vault; it would sync to the cloud`,
        `move it outside the vault`,
      ),
      values: {},
    };
  }
  let values: Record<string, string> = {};
  let bad: number[] = [];
  try {
    ({ values, bad } = parseEnvFile(await readFile(path, 'utf8')));
  } catch (error) {
    return { check: fail(name, `${path} cannot be read: ${message(error)}`), values: {} };
  }
  if ((info.mode & 0o077) !== 0) {
    return {
      check: fail(
        name,
        `${path} has mode ${mode(info.mode)}: other users can read your SMTP password`,
        `chmod 600 ${path}`,
      ),
      values,
    };
  }
  if (bad.length > 0) {
    return {
      check: warn(
        name,
        `${path} line ${bad.join(', ')} is not KEY=value (ignored)`,
        'fix or comment out those lines',
      ),
      values,
    };
  }
  return { check: ok(name, `${path} (mode 0600, ${Object.keys(values).length} settings)`), values };
}

async function checkKey(env: NodeJS.ProcessEnv, vault: string, secrets: string[]): Promise<Check> {
  const name = 'approval key';
  const path = approvalKeyPath(env);
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await stat(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) return fail(name, `${path}: ${message(error)}`);
    return warn(
      name,
      `no key at ${path} yet`,
      'fte executor (or fte approve) creates one on first use; if you had one, set FTE_APPROVAL_KEY_FILE to it',
    );
  }
  if (await isInside(vault, path)) {
    return fail(
      name,
      `${path} is inside the vault; it would sync to the cloud`,
      'move it outside the vault and set FTE_APPROVAL_KEY_FILE',
    );
  }
  if (!info.isFile()) return fail(name, `${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    return fail(name, `${path} has mode ${mode(info.mode)}: other users can read it`, `chmod 600 ${path}`);
  }
  let text: string;
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      text = (await handle.readFile('utf8')).trim();
    } finally {
      await handle.close();
    }
  } catch (error) {
    return fail(name, `${path} cannot be read: ${message(error)}`);
  }
  if (text.length >= 4) secrets.push(text);
  if (!/^[0-9a-f]{64,}$/.test(text)) {
    return fail(
      name,
      `${path} is not a key (64 or more hex digits)`,
      'move it away; the executor makes a new one (drafts approved with the old key must be approved again)',
    );
  }
  return ok(name, `${path} (mode 0600, ${text.length / 2} bytes)`);
}

async function checkSmtp(env: NodeJS.ProcessEnv, vault: string, timeoutMs: number): Promise<Check> {
  const name = 'smtp';
  let config: Awaited<ReturnType<typeof loadExecutorConfig>>;
  try {
    config = await loadExecutorConfig(env, vault);
  } catch (error) {
    return fail(name, `a wrong setting: ${message(error)}`, 'fix it in the env file');
  }
  const smtp = config.smtp;
  if (!smtp) {
    return warn(
      name,
      `not configured${config.dryRun ? ' (DRY_RUN: emails are only logged)' : ': approved emails wait in Approved/'}`,
      'set SMTP_HOST, SMTP_FROM (and SMTP_USER, SMTP_PASSWORD) in the env file',
    );
  }
  const where = `${smtp.host}:${smtp.port}${smtp.secure ? ' (TLS)' : ''}`;
  let auth:
    | { user: string; pass: string }
    | { type: 'OAuth2'; user: string; accessToken: string }
    | undefined;
  if (smtp.auth && 'oauthTokenFile' in smtp.auth) {
    try {
      auth = {
        type: 'OAuth2',
        user: smtp.auth.user,
        accessToken: await tokenSource(smtp.auth.oauthTokenFile).accessToken(),
      };
    } catch (error) {
      return fail(name, message(error), 'run `fte mail login` again (docs/oauth.md)');
    }
  } else auth = smtp.auth;
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    auth,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      transport.verify(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${timeoutMs / 1000} s`)),
          timeoutMs + 2_000,
        );
      }),
    ]);
  } catch (error) {
    const answer = (error as { response?: unknown }).response;
    const text = typeof answer === 'string' && answer.trim() ? answer.trim() : message(error);
    const login = /^5\d\d|auth|login|credential/i.test(text) && smtp.auth;
    return fail(
      name,
      `${where}${smtp.auth ? ` as ${smtp.auth.user}` : ''}: ${text}`,
      login
        ? smtp.auth && 'oauthTokenFile' in smtp.auth
          ? 'run `fte mail login` again, or check SMTP_USER (docs/oauth.md)'
          : 'check SMTP_USER and SMTP_PASSWORD in the env file (many providers want an app password)'
        : 'check SMTP_HOST, SMTP_PORT and SMTP_SECURE, and that the server is reachable from here',
    );
  } finally {
    clearTimeout(timer);
    transport.close();
  }
  if (config.dryRun) return ok(name, `${where}: logged in (DRY_RUN is on: nothing is sent)`);
  return ok(
    name,
    `${where}: ${smtp.auth ? `logged in as ${smtp.auth.user}` : 'answers (no login configured)'}`,
  );
}

/**
 * The laptop's Odoo (ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_POST_API_KEY or _FILE): the server answers as
 * Odoo (its version, the protocol used) and the posting key signs in (a read: nothing is changed). The
 * key read from its file is added to `secrets`. Not configured: ok, the Odoo approvals wait.
 */
async function checkOdoo(env: NodeJS.ProcessEnv, secrets: string[], timeoutMs: number): Promise<Check> {
  const name = 'odoo';
  let settings: ReturnType<typeof loadLaptopOdooSettings>;
  try {
    settings = loadLaptopOdooSettings(env);
  } catch (error) {
    return fail(name, `a wrong setting: ${message(error)}`, `fix it in the env file (${ODOO_SETTINGS_HINT})`);
  }
  if (!settings) {
    return ok(
      name,
      `not configured: post_invoice and register_payment approvals wait in Approved/ (to enable them, ${ODOO_SETTINGS_HINT})`,
    );
  }
  if (settings.apiKey) secrets.push(settings.apiKey);
  const where = `${settings.url} database ${settings.database}${settings.login ? ` as ${settings.login}` : ''}`;
  try {
    const client = await OdooClient.connect({
      ...settings,
      timeoutMs: Math.min(settings.timeoutMs, timeoutMs),
      readRetries: 0,
    });
    const { version } = await client.version();
    // A read with the key: JSON-RPC signs in (common.authenticate) first; JSON-2 sends the bearer key.
    await client.call('res.users', 'context_get', undefined);
    return ok(
      name,
      `${where}: Odoo ${version} over ${client.protocol === 'json2' ? 'JSON-2' : 'JSON-RPC'}, the key signs in (post_invoice and register_payment enabled)`,
    );
  } catch (error) {
    const text = message(error).split('\n')[0]!;
    if (error instanceof OdooAccessError) {
      return fail(
        name,
        `${where}: the key does not sign in: ${text}`,
        'check ODOO_LOGIN and ODOO_POST_API_KEY (or the file): an API key of that Odoo user (Preferences → Account Security → New API Key), one that may post and pay; and ODOO_DB',
      );
    }
    if (error instanceof OdooTimeoutError) {
      return fail(name, `${where}: ${text}`, 'check ODOO_URL and that Odoo is reachable from here');
    }
    return fail(
      name,
      `${where}: ${text}`,
      /cannot reach/.test(text)
        ? 'check ODOO_URL and that Odoo is running and reachable from here'
        : 'check that ODOO_URL is the address of Odoo itself (its /web/version answers JSON), and ODOO_DB',
    );
  }
}

/** Each OAuth token file this machine uses: readable, 0600, and not refused at its last refresh. */
async function checkMailLogin(env: NodeJS.ProcessEnv): Promise<Check[]> {
  const checks: Check[] = [];
  for (const file of localMailTokenFiles(env)) {
    const name = 'mail sign-in';
    let token: Awaited<ReturnType<typeof readTokenFile>>;
    try {
      token = await readTokenFile(file);
    } catch (error) {
      checks.push(fail(name, message(error), 'run `fte mail login` (docs/oauth.md)'));
      continue;
    }
    const needed = await loginNeeded(file);
    if (needed) {
      checks.push(fail(name, needed.message, 'run `fte mail login` again'));
      continue;
    }
    const mode = (await stat(file)).mode & 0o777;
    if (mode & 0o077) {
      checks.push(
        warn(name, `${file} is readable by others (mode ${mode.toString(8)})`, `chmod 600 ${file}`),
      );
      continue;
    }
    const expired = Date.parse(token.expires_at) <= Date.now();
    if (expired && !token.refresh_token) {
      checks.push(
        fail(
          name,
          loginAgainLine(token.user, 'the access token expired and there is no refresh token'),
          'run `fte mail login` again',
        ),
      );
      continue;
    }
    checks.push(
      ok(
        name,
        `${token.user} (${token.provider}; scopes ${token.scopes.join(' ')}): ${expired ? 'refreshed on next use' : `access token valid until ${token.expires_at}`}`,
      ),
    );
  }
  return checks;
}

type VaultFacts = { git: Git; root: string } | undefined;

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function checkVault(
  vault: string,
  gitTimeoutMs: number,
  now: Date,
): Promise<{ check: Check; facts: VaultFacts }> {
  const name = 'vault';
  const root = resolve(vault);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory())
    return { check: fail(name, `${root} does not exist`, 'fte init or git clone it'), facts: undefined };
  const gitDir = join(root, '.git');
  if (!(await lstat(gitDir).catch(() => undefined))?.isDirectory()) {
    return {
      check: fail(name, `${root} is not a git clone (no .git folder)`, `fte init ${root} --remote <url>`),
      facts: undefined,
    };
  }
  const git = new Git(root, { timeoutMs: gitTimeoutMs });
  try {
    const top = (await git.run(['rev-parse', '--show-toplevel'])).trim();
    if ((await realpath(top)) !== (await realpath(root))) {
      return {
        check: fail(name, `${root} is not the top of its git work tree (${top} is)`),
        facts: undefined,
      };
    }
  } catch (error) {
    return {
      check: fail(name, `${root} is not a usable git work tree: ${message(error)}`),
      facts: undefined,
    };
  }
  const facts = { git, root };
  for (const [file, what, fix] of [
    ['rebase-merge', 'a rebase', 'git rebase --abort'],
    ['rebase-apply', 'a rebase', 'git rebase --abort'],
    ['MERGE_HEAD', 'a merge', 'git merge --abort'],
    ['CHERRY_PICK_HEAD', 'a cherry-pick', 'git cherry-pick --abort'],
    ['REVERT_HEAD', 'a revert', 'git revert --abort'],
  ] as const) {
    if (await exists(join(gitDir, file))) {
      return {
        check: fail(
          name,
          `${what} is in progress in ${root}; the sync cannot go on until it is finished or aborted`,
          `stop the executor, then: git -C ${root} status; ${fix.replace('git ', `git -C ${root} `)} (your commits stay)`,
        ),
        facts,
      };
    }
  }
  const lock = await stat(join(gitDir, 'index.lock')).catch(() => undefined);
  if (lock) {
    const ageMs = now.getTime() - lock.mtimeMs;
    if (ageMs > 60_000) {
      return {
        check: fail(
          name,
          `a stale ${join(gitDir, 'index.lock')} (${Math.round(ageMs / 60_000)} min old) blocks every commit`,
          `if no git or fte process works on this vault: rm ${join(gitDir, 'index.lock')}`,
        ),
        facts,
      };
    }
    return {
      check: warn(
        name,
        `${join(gitDir, 'index.lock')} exists (a git command is running now?)`,
        'run fte doctor again in a minute',
      ),
      facts,
    };
  }
  let branch: string;
  try {
    branch = (await git.run(['symbolic-ref', '-q', '--short', 'HEAD'])).trim();
  } catch {
    return {
      check: fail(
        name,
        `HEAD is detached in ${root}; fte syncs the ${BRANCH} branch`,
        `git -C ${root} switch ${BRANCH}`,
      ),
      facts,
    };
  }
  if (branch !== BRANCH) {
    return {
      check: fail(
        name,
        `${root} is on the branch ${branch}; fte syncs ${BRANCH}`,
        `git -C ${root} switch ${BRANCH}`,
      ),
      facts,
    };
  }
  return { check: ok(name, `${root}: a git clone on ${BRANCH}, no rebase or merge in progress`), facts };
}

/** The remote: configured, reachable; and the newest commit's date (for the clock check). */
async function checkRemote(facts: NonNullable<VaultFacts>): Promise<{ check: Check; tip?: string }> {
  const name = 'remote';
  const { git, root } = facts;
  let url: string;
  try {
    url = (await git.run(['remote', 'get-url', REMOTE])).trim();
  } catch {
    return {
      check: warn(
        name,
        `no ${REMOTE} remote: this vault lives only here and the cloud never sees your decisions`,
        `git -C ${root} remote add ${REMOTE} <url>`,
      ),
    };
  }
  let listed: string;
  try {
    listed = await git.run(['ls-remote', '--heads', REMOTE, `refs/heads/${BRANCH}`]);
  } catch (error) {
    const why =
      error instanceof GitCommandError
        ? error.timedOut
          ? `no answer within ${git.timeoutMs / 1000} s`
          : error.stderr.trim().split('\n').slice(-2).join(' | ')
        : message(error);
    return {
      check: fail(
        name,
        `${url} cannot be reached: ${why}`,
        `check the network, the URL (git -C ${root} remote -v) and your git credentials; the executor keeps working offline and syncs when the remote is back`,
      ),
    };
  }
  const tip = /^([0-9a-f]{40,64})\s/m.exec(listed)?.[1];
  if (!tip)
    return { check: warn(name, `${url} answers but has no ${BRANCH} branch yet`, 'fte sync pushes it') };
  return { check: ok(name, `${url} answers (${BRANCH} at ${tip.slice(0, 12)})`), tip };
}

async function checkSyncProblems(root: string, now: Date): Promise<Check> {
  const name = 'sync';
  const problems = await remoteProblems(root, now);
  if (problems.lines.length === 0) return ok(name, 'no remote problem recorded by the last syncs');
  const text = problems.lines.join('; ');
  if (problems.refused) {
    return fail(
      name,
      text,
      'fte status shows it; the executor stays on its last good commit until the remote is fixed',
    );
  }
  return warn(name, text, 'fte status shows it');
}

/** The remote's newest commit dated in our future: this clock (or the cloud's) is off. */
async function checkClock(facts: NonNullable<VaultFacts>, tip: string, now: Date): Promise<Check> {
  const name = 'clock';
  const { git } = facts;
  if (!(await git.succeeds(['cat-file', '-e', `${tip}^{commit}`]))) {
    try {
      // The objects only: an empty refmap and no FETCH_HEAD leave every ref as the sync left it.
      await git.run([
        'fetch',
        '--quiet',
        '--no-tags',
        '--no-write-fetch-head',
        '--refmap=',
        REMOTE,
        `refs/heads/${BRANCH}`,
      ]);
    } catch (error) {
      return warn(
        name,
        `not checked: the remote's newest commit could not be fetched (${message(error).split('\n')[0]})`,
      );
    }
  }
  let seconds: number;
  try {
    seconds = Number((await git.run(['log', '-1', '--format=%ct', tip])).trim());
  } catch {
    return warn(name, "not checked: the remote's newest commit is not here");
  }
  const aheadMs = seconds * 1000 - now.getTime();
  if (aheadMs > CLOCK_SKEW_MS) {
    return warn(
      name,
      `the remote's newest commit is dated ${Math.round(aheadMs / 60_000)} min in this machine's future: a clock is off`,
      'turn on network time (timedatectl set-ntp true, or System Settings > Date & Time); approvals expire by these clocks',
    );
  }
  return ok(name, `the remote's newest commit is ${describeAge(-aheadMs)} old`);
}

function describeAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

/** The nearest existing folder at or above `path`. */
async function nearestExisting(path: string): Promise<string> {
  let current = resolve(path);
  for (;;) {
    if (await exists(current)) return current;
    const parent = dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}

const size = (bytes: number) =>
  bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / MiB)} MiB`;

async function checkDisk(vault: string, env: NodeJS.ProcessEnv): Promise<Check> {
  const name = 'disk';
  const places = [
    ['vault', resolve(vault)],
    ['state', stateBase(env)],
  ] as const;
  const found: string[] = [];
  let worst: Check | undefined;
  for (const [what, path] of places) {
    const at = await nearestExisting(path);
    let free: number;
    try {
      const fs = await statfs(at);
      free = fs.bavail * fs.bsize;
    } catch (error) {
      return warn(name, `not checked: ${at}: ${message(error)}`);
    }
    found.push(`${what} ${size(free)} free`);
    const fix = `free some space on the disk of ${at}`;
    if (free < 100 * MiB) worst = fail(name, `only ${size(free)} free for the ${what} (${at})`, fix);
    else if (free < GiB && worst?.status !== 'fail')
      worst = warn(name, `only ${size(free)} free for the ${what} (${at})`, fix);
  }
  return worst ?? ok(name, found.join(', '));
}

function checkPage(env: NodeJS.ProcessEnv): Check {
  const name = 'page';
  try {
    const config = loadUiConfig(env);
    if (!config.enabled) return ok(name, 'off (FTE_UI=0)');
    const where = `http://${config.bind.includes(':') ? `[${config.bind}]` : config.bind}:${config.port}`;
    if (isLoopback(config.bind)) return ok(name, `${where} (loopback only)`);
    return ok(
      name,
      `${where} with ${config.passwordHash ? 'a password' : 'a token'}; note: other machines can reach it, so keep it on a trusted network or behind a tunnel`,
    );
  } catch (error) {
    return fail(name, message(error), 'set it in the env file');
  }
}

/** Runs every check, in order. */
export async function runDoctor(options: DoctorOptions): Promise<Check[]> {
  const now = options.now ?? (() => new Date());
  const vault = resolve(options.vault);
  const checks: Check[] = [];
  const envCheck = await checkEnvFile(options.envFile, vault);
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env), ...envCheck.values };
  const secrets = [
    'SMTP_PASSWORD',
    'IMAP_PASSWORD',
    'FTE_UI_TOKEN',
    'FTE_UI_PASSWORD_HASH',
    'FTE_VAULT_TOKEN',
    'ODOO_POST_API_KEY',
    'ODOO_API_KEY',
  ]
    .map((k) => env[k]?.trim())
    .filter((v): v is string => typeof v === 'string' && v.length > 0);
  checks.push(envCheck.check);
  checks.push(await checkKey(env, vault, secrets));
  checks.push(await checkSmtp(env, vault, options.smtpTimeoutMs ?? 10_000));
  checks.push(...(await checkMailLogin(env)));
  checks.push(await checkOdoo(env, secrets, options.odooTimeoutMs ?? 10_000));
  const { check: vaultCheck, facts } = await checkVault(vault, options.gitTimeoutMs ?? 15_000, now());
  checks.push(vaultCheck);
  if (facts) {
    const remote = await checkRemote(facts);
    checks.push(remote.check);
    checks.push(await checkSyncProblems(facts.root, now()));
    if (remote.tip) checks.push(await checkClock(facts, remote.tip, now()));
  }
  checks.push(await checkDisk(vault, env));
  checks.push(checkPage(env));
  return checks.map((c) => ({
    ...c,
    verdict: redact(c.verdict, secrets),
    ...(c.fix === undefined ? {} : { fix: redact(c.fix, secrets) }),
  }));
}

/** `ok    name: verdict` and, when not ok, `      → fix`. */
export function formatChecks(checks: readonly Check[]): string {
  const label = { ok: 'ok', warn: 'warn', fail: 'FAIL' } as const;
  return checks
    .map((c) => {
      const line = `${label[c.status].padEnd(4)}  ${c.name}: ${c.verdict}`;
      return c.fix && c.status !== 'ok' ? `${line}\n      → ${c.fix}` : line;
    })
    .join('\n');
}
