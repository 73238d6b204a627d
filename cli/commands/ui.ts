import { spawn } from 'node:child_process';
import { ConfigError } from '../../core/config.js';
import { loadUiConfig } from '../../executor/ui/config.js';
import { hashPassword } from '../../executor/ui/sessions.js';

/** `fte ui`: the running executor's status page, checked first, then opened in the browser. */
export async function open(opts: { print?: boolean }): Promise<void> {
  const config = loadUiConfig(process.env);
  const host = config.bind === '0.0.0.0' || config.bind === '::' ? '127.0.0.1' : config.bind;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.port}/`;
  const answer = await fetch(new URL('api/session', url), { signal: AbortSignal.timeout(3_000) }).catch(
    () => undefined,
  );
  if (!answer?.ok) {
    throw new ConfigError(
      `no status page answers at ${url}: is fte executor running (not --once, not --no-ui) with the same FTE_UI_PORT?`,
    );
  }
  if (opts.print) {
    process.stdout.write(`${url}\n`);
    return;
  }
  const opener =
    process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => process.stdout.write(`open ${url} in your browser (${opener} is not available)\n`));
  child.unref();
  process.stdout.write(`opening ${url}\n`);
}

/** `fte ui hash-password`: a bcrypt hash of the password read from stdin (one line), for FTE_UI_PASSWORD_HASH. */
export async function hashPasswordFromStdin(): Promise<void> {
  if (process.stdin.isTTY) process.stderr.write('password (input shown; pipe it in to hide it): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (password.length < 12) throw new ConfigError('use a password of at least 12 characters');
  process.stdout.write(`${await hashPassword(password)}\n`);
}
