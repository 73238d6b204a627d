import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { sendCredentialsIn } from '../../operator/credentials.js';
import { runFte, startFte } from '../helpers/cli.js';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

/** The built CLI must exist: these tests run the real `fte` process (`npx tsc -p tsconfig.json` builds it). */
export function assertBuilt(): void {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.json\` (or make build) first`);
}

/** The test runner's environment without send credentials or keys, plus `extra`. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of sendCredentialsIn(env)) delete env[name];
  for (const name of Object.keys(env))
    if (name.startsWith('ANTHROPIC_') || name.startsWith('FTE_')) delete env[name];
  return { ...env, FTE_LOG_LEVEL: 'info', ...extra };
}

export type { Run } from '../helpers/cli.js';

export function start(args: string[], env: NodeJS.ProcessEnv) {
  return startFte(args, env);
}

export function fte(args: string[], env: NodeJS.ProcessEnv) {
  return runFte(args, env);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
