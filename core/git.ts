import { spawn } from 'node:child_process';
import { FteError } from './errors.js';
import { processTreeActivity } from './git/activity.js';

/**
 * The one exec wrapper for git. It calls the git binary directly rather than through simple-git:
 * simple-git waits a fixed 50 ms after every command that prints nothing (most of ours: add, commit,
 * an idle status) and costs ~110 ms to import, which together made an idle sync cycle 3× slower.
 */

/** `FTE_TRACE_GIT=1` prints every git call with its duration on stderr. */
const TRACE = process.env.FTE_TRACE_GIT === '1';

/** A git command that failed; `stderr` carries git's own words. */
export class GitCommandError extends FteError {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    /** git's own exit status (or the signal that ended it). */
    readonly gitExit: number | string | null,
    /** Killed by us: it ran too long (local commands) or showed no progress for too long (transfers). */
    readonly timedOut = false,
  ) {
    super(
      `git ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${gitExit}`}`,
      { exitCode: 1, retryable: true },
    );
  }
}

export type GitOptions = {
  /** Kill a local git process (status, commit, rebase, ls-tree…) that runs longer than this. Default 30 s. */
  timeoutMs?: number;
  /**
   * Transfers (fetch, push) have no fixed deadline: they are killed only when they show no progress (no
   * progress line from git, no bytes read or written and no CPU used by git's process tree) for this long.
   * Default 60 s, more than the 5 s keepalive a git server sends while it prepares a big pack.
   */
  stallTimeoutMs?: number;
  /** Upper bound for one transfer however much progress it shows. Default 1 h. */
  maxTransferMs?: number;
  /** Commit identity; set per call so a fresh machine without git config works. */
  author?: { name: string; email: string };
};

type RunOptions = {
  /** Written to git's stdin, then closed. */
  input?: string | Buffer;
  /** Transfer mode: stall timeout instead of a fixed deadline. */
  stallMs?: number;
  /** Resolve with stdout followed by stderr (a fetch reports ref updates such as "forced update" there). */
  withStderr?: boolean;
};

export class Git {
  private readonly prefix: string[];
  private readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly stallTimeoutMs: number;
  readonly maxTransferMs: number;

  constructor(
    readonly dir: string,
    options: GitOptions = {},
  ) {
    const author = options.author ?? { name: 'fte', email: 'fte@localhost' };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
    this.maxTransferMs = options.maxTransferMs ?? 3_600_000;
    this.prefix = [
      `user.name=${author.name}`,
      `user.email=${author.email}`,
      'core.quotePath=false',
      'commit.gpgSign=false',
      'advice.detachedHead=false',
      // Never a program the user's global config names for this repo's working tree (it is the remote's content).
      'core.fsmonitor=false',
    ].flatMap((setting) => ['-c', setting]);
    this.env = {
      ...process.env,
      GIT_EDITOR: 'true',
      GIT_TERMINAL_PROMPT: '0',
      GIT_OPTIONAL_LOCKS: '0',
      LC_ALL: 'C',
    };
  }

  /** Runs git; when another process holds the index lock for a moment, waits and tries again. */
  async run(args: string[], options: RunOptions = {}): Promise<string> {
    return (await this.runRetrying(args, options)).toString('utf8');
  }

  /** Like `run`, but git's stdout as raw bytes (paths that are not UTF-8 stay visible as such). */
  runBuffer(args: string[], options: RunOptions = {}): Promise<Buffer> {
    return this.runRetrying(args, options);
  }

  /**
   * A fetch or push: `--progress` is added, and the process is killed only after `stallMs` without any
   * progress (see GitOptions.stallTimeoutMs), so a big pack takes as long as it needs. Resolves with
   * git's stdout and stderr (ref updates).
   */
  transfer(args: string[], stallMs = this.stallTimeoutMs): Promise<string> {
    const [verb, ...rest] = args;
    return this.run([verb as string, '--progress', ...rest], { stallMs, withStderr: true });
  }

  private async runRetrying(args: string[], options: RunOptions): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.runOnce(args, options);
      } catch (error) {
        const busy = error instanceof GitCommandError && /index\.lock': File exists/.test(error.stderr);
        if (!busy || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
      }
    }
  }

  private runOnce(args: string[], options: RunOptions): Promise<Buffer> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const child = spawn('git', [...this.prefix, ...args], {
        cwd: this.dir,
        env: this.env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      let outBytes = 0;
      let err = '';
      let killedFor: string | undefined;
      const kill = (why: string) => {
        if (killedFor) return;
        killedFor = why;
        child.kill('SIGKILL');
      };
      child.stdout.on('data', (chunk: Buffer) => {
        outBytes += chunk.length;
        if (outBytes > 512 * 1024 * 1024) kill('printed more than 512 MiB');
        else out.push(chunk);
      });
      let lastProgress = performance.now();
      child.stderr.on('data', (chunk: Buffer) => {
        lastProgress = performance.now();
        err += chunk.toString('utf8');
        // Progress lines are rewritten with \r; keep only the tail so a long transfer does not pile up.
        if (err.length > 64 * 1024) err = err.slice(-32 * 1024);
      });
      const timers: NodeJS.Timeout[] = [];
      if (options.stallMs === undefined) {
        timers.push(setTimeout(() => kill(`timed out after ${this.timeoutMs} ms`), this.timeoutMs));
      } else {
        const stallMs = options.stallMs;
        timers.push(
          setTimeout(() => kill(`still running after ${this.maxTransferMs} ms`), this.maxTransferMs),
        );
        let activity = -1;
        const poll = setInterval(
          async () => {
            const now = performance.now();
            const seen = child.pid === undefined ? -1 : await processTreeActivity(child.pid);
            if (seen !== activity && seen !== -1) {
              activity = seen;
              lastProgress = now;
            }
            if (now - lastProgress > stallMs) kill(`no progress for ${stallMs} ms`);
          },
          Math.max(50, Math.min(1_000, stallMs / 4)),
        );
        timers.push(poll);
      }
      child.on('error', (error) => {
        for (const timer of timers) clearTimeout(timer);
        reject(new GitCommandError(args, error.message, null));
      });
      child.on('close', (code, signal) => {
        for (const timer of timers) clearTimeout(timer);
        if (TRACE)
          process.stderr.write(`git ${args.join(' ')}: ${(performance.now() - started).toFixed(1)} ms\n`);
        const stdout = Buffer.concat(out);
        if (code === 0 && !killedFor) {
          return resolve(options.withStderr ? Buffer.concat([stdout, Buffer.from(`\n${err}`)]) : stdout);
        }
        const detail = killedFor
          ? `${killedFor}\n${err}`
          : err || stdout.toString('utf8') || `exit ${code ?? signal}`; // some answers (`nothing to commit`) come on stdout
        reject(new GitCommandError(args, detail, code ?? signal, killedFor !== undefined));
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    });
  }

  /** Runs a command whose failure is an answer, not an error (e.g. `cat-file -e`). */
  async succeeds(args: string[]): Promise<boolean> {
    try {
      await this.run(args);
      return true;
    } catch (error) {
      if (error instanceof GitCommandError) return false;
      throw error;
    }
  }
}

/** True when git's error text says the remote refused a push because it moved on (retry after a rebase). */
export function isPushRejected(error: unknown): boolean {
  const text = error instanceof GitCommandError ? error.stderr : String(error);
  return /Updates were rejected|\[rejected\]|non-fast-forward|fetch first|\[remote rejected\].*(cannot lock ref|failed to update ref)|incorrect old value/i.test(
    text,
  );
}

/** One entry of `git status --porcelain=v1`: the two-letter code (`??`, ` M`, `A `, ` D`, …) and the path. */
export type StatusEntry = { code: string; path: string };

/** The working tree's changes (untracked files one by one, renames as delete + add), optionally under `paths`. */
export async function statusEntries(git: Git, paths?: string[]): Promise<StatusEntry[]> {
  const args = ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames'];
  if (paths) args.push('--', ...paths);
  return (await git.run(args))
    .split('\0')
    .filter((entry) => entry.length > 3)
    .map((entry) => ({ code: entry.slice(0, 2), path: entry.slice(3) }));
}
