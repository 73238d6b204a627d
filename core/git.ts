import { execFile } from 'node:child_process';

/**
 * The one exec wrapper for git. It calls the git binary directly rather than through simple-git:
 * simple-git waits a fixed 50 ms after every command that prints nothing (most of ours: add, commit,
 * an idle status) and costs ~110 ms to import, which together made an idle sync cycle 3× slower.
 */

/** `FTE_TRACE_GIT=1` prints every git call with its duration on stderr. */
const TRACE = process.env.FTE_TRACE_GIT === '1';

/** A git command that failed; `stderr` carries git's own words. */
export class GitCommandError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | string | null,
  ) {
    super(
      `git ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${exitCode}`}`,
    );
  }
}

export type GitOptions = {
  /** Kill a git process that runs longer than this. */
  timeoutMs?: number;
  /** Commit identity; set per call so a fresh machine without git config works. */
  author?: { name: string; email: string };
};

export class Git {
  private readonly prefix: string[];
  private readonly env: NodeJS.ProcessEnv;
  private readonly timeoutMs: number;

  constructor(
    readonly dir: string,
    options: GitOptions = {},
  ) {
    const author = options.author ?? { name: 'fte', email: 'fte@localhost' };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.prefix = [
      `user.name=${author.name}`,
      `user.email=${author.email}`,
      'core.quotePath=false',
      'commit.gpgSign=false',
      'advice.detachedHead=false',
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
  async run(args: string[]): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.runOnce(args);
      } catch (error) {
        const busy = error instanceof GitCommandError && /index\.lock': File exists/.test(error.stderr);
        if (!busy || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
      }
    }
  }

  private runOnce(args: string[]): Promise<string> {
    const started = TRACE ? performance.now() : 0;
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        [...this.prefix, ...args],
        {
          cwd: this.dir,
          env: this.env,
          timeout: this.timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: 256 * 1024 * 1024,
          encoding: 'utf8',
        },
        (error, stdout, stderr) => {
          if (TRACE)
            process.stderr.write(`git ${args.join(' ')}: ${(performance.now() - started).toFixed(1)} ms\n`);
          if (!error) return resolve(stdout);
          const timedOut = error.killed && error.signal === 'SIGKILL';
          const detail = timedOut
            ? `timed out after ${this.timeoutMs} ms\n${stderr}`
            : stderr || stdout || error.message; // some answers (`nothing to commit`) come on stdout
          reject(new GitCommandError(args, detail, error.code ?? null));
        },
      );
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
