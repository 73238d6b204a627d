import { onCleanup, runCli, smtpEnv, type World } from '../executor/helpers.js';
import { type Run, startFte } from '../helpers/cli.js';

export type RunningExecutor = {
  url: string;
  output: () => { stdout: string; stderr: string };
  stop: () => Promise<Run>;
};

/**
 * `fte executor` as the owner runs it (a daemon with its status page on a free loopback port), against
 * the world's local clone and the given SMTP port; stopped with SIGTERM at the end of the test.
 */
export async function executorWithPage(
  w: World,
  smtpPort: number,
  extra: Record<string, string> = {},
  args: string[] = [],
): Promise<RunningExecutor> {
  const env = smtpEnv(smtpPort, w.keyFile, { FTE_LOG_LEVEL: 'warn', ...extra });
  const run = startFte(
    ['executor', '--vault', w.local.dir, '--interval', '1', '--ui-port', '0', ...args],
    env,
  );
  let stopped: Promise<Run> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      run.child.kill('SIGTERM');
      return run.done;
    })();
    return stopped;
  };
  onCleanup(async () => {
    await stop();
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /^status page: (http:\/\/\S+)$/m.exec(run.output().stdout);
    if (match?.[1]) return { url: match[1], output: run.output, stop };
    if (run.child.exitCode !== null || Date.now() > deadline) {
      const { stdout, stderr } = run.output();
      throw new Error(`the executor did not print its status page address:\n${stdout}\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A browser-like API client: keeps the session cookie, sends the CSRF token it was given. */
export class PageClient {
  cookie = '';
  csrf = '';

  constructor(readonly base: string) {}

  async request(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: unknown; headers: Headers }> {
    const res = await fetch(new URL(path, this.base), {
      method,
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0] ?? '';
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json, headers: res.headers };
  }

  /** GET /api/session, keeping the cookie and the CSRF token. */
  async session(): Promise<Record<string, unknown>> {
    const { json } = await this.request('GET', '/api/session');
    const info = json as Record<string, unknown>;
    this.csrf = String(info.csrf ?? '');
    return info;
  }

  get(path: string) {
    return this.request('GET', path);
  }

  post(path: string, body: unknown, withCsrf = true) {
    return this.request('POST', path, body, withCsrf ? { 'x-csrf-token': this.csrf } : {});
  }
}

export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `fte approve <id>`, then an executor pass killed right after its intent: the send is Uncertain. */
export async function uncertainSend(w: World, smtpPort: number, id: string): Promise<void> {
  const env = smtpEnv(smtpPort, w.keyFile);
  const approve = await runCli(['approve', id, '--vault', w.local.dir], env);
  if (approve.code !== 0) throw new Error(`fte approve ${id} failed: ${approve.stderr}`);
  const crashed = await runCli(['executor', '--vault', w.local.dir, '--once'], {
    ...env,
    FTE_TEST_CRASH_AFTER_INTENT: '1',
  });
  if (crashed.signal !== 'SIGKILL')
    throw new Error(`the executor was not killed after its intent: ${crashed.stderr}`);
}
