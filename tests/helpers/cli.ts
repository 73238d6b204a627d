import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** The built CLI (`make build` / `npx tsc` first): tests run what a user runs. */
export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export type Run = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

/** Starts `fte <args>`; `done` resolves when it exits. It is SIGKILLed after `timeoutMs`. */
export function startFte(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): { child: ChildProcess; done: Promise<Run>; output: () => { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

export function runFte(args: string[], env?: NodeJS.ProcessEnv, timeoutMs?: number): Promise<Run> {
  return startFte(args, env, timeoutMs).done;
}

/** The test's environment without fte, mail or model settings: what a cloud process starts from. */
export function cloudEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    const own = k.startsWith('SMTP_') || k.startsWith('FTE_') || k.startsWith('IMAP_');
    if (!own && k !== 'ANTHROPIC_API_KEY') env[k] = v;
  }
  return env;
}
