import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { CLI, onCleanup } from '../executor/helpers.js';

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A free loopback port (bound and released; a tiny race that the caller retries). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * Serves the bare repositories under `base` with `git daemon` (push enabled), so that the remote is a
 * server of its own: killing a client's process group mid-push kills the client's git, never the
 * remote's receive-pack (which a local-path remote would run inside the killed group).
 */
export async function gitDaemon(base: string): Promise<{ url: (repo: string) => string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn(
      'git',
      [
        'daemon',
        '--reuseaddr',
        '--listen=127.0.0.1',
        `--port=${port}`,
        `--base-path=${base}`,
        '--export-all',
        '--enable=receive-pack',
        '--informative-errors',
        base,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Ready once it accepts connections.
    let ready = false;
    for (let waited = 0; waited < 5_000 && !ready; waited += 50) {
      const result = await Promise.race([
        exited.then(() => 'exited' as const),
        canConnect(port).then((ok) => (ok ? ('ready' as const) : ('wait' as const))),
      ]);
      if (result === 'exited') break;
      if (result === 'ready') ready = true;
      else await new Promise((r) => setTimeout(r, 50));
    }
    if (!ready) {
      child.kill('SIGKILL');
      if (attempt === 4) throw new Error(`git daemon did not start: ${stderr}`);
      continue;
    }
    onCleanup(async () => {
      child.kill('SIGTERM');
      await exited;
    });
    return { url: (repo) => `git://127.0.0.1:${port}/${repo}` };
  }
  throw new Error('git daemon did not start');
}

async function canConnect(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export type Ended = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
};

/**
 * Starts `fte <args>` in a process group of its own, so that `kill('group')` SIGKILLs it together with
 * every git process it started (a crashed machine or container), and `kill('node')` SIGKILLs only the
 * node process (its git children run on as orphans, as after `kill -9 <pid>`).
 */
export function startKillable(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 180_000,
): {
  child: ChildProcess;
  done: Promise<Ended>;
  exited: () => boolean;
  kill: (how: 'group' | 'node') => void;
} {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(killGroup, timeoutMs);
  const done = new Promise<Ended>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      const ms = Date.now() - started;
      // An orphaned git child may hold a pipe a little longer; do not wait for it beyond a moment.
      let closed = false;
      const finish = () => {
        if (closed) return;
        closed = true;
        resolve({ code, signal, stdout, stderr, ms });
      };
      child.on('close', finish);
      setTimeout(finish, 2_000);
    });
  });
  return {
    child,
    done,
    exited: () => exited,
    kill: (how) => {
      if (exited) return;
      if (how === 'group') killGroup();
      else child.kill('SIGKILL');
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
