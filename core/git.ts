import { type SimpleGit, simpleGit } from 'simple-git';

/** A git command that failed; `stderr` carries git's own words. */
export class GitCommandError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
  ) {
    super(`git ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

export type GitOptions = {
  /** Kill a git process that shows no progress for this long. */
  timeoutMs?: number;
  /** Commit identity; set per call so a fresh machine without git config works. */
  author?: { name: string; email: string };
};

/** The one exec wrapper for git in a clone: every call has a timeout and fails with GitCommandError. */
export class Git {
  private readonly git: SimpleGit;

  constructor(
    readonly dir: string,
    options: GitOptions = {},
  ) {
    const author = options.author ?? { name: 'fte', email: 'fte@localhost' };
    this.git = simpleGit({
      baseDir: dir,
      timeout: { block: options.timeoutMs ?? 20_000 },
      // GIT_EDITOR=true is ours: rebase --continue must never open an editor.
      unsafe: { allowUnsafeEditor: true },
      // Any non-zero exit is a failure (simple-git otherwise resolves when git printed nothing to stderr).
      errors: (error, result) => {
        if (error) return error;
        if (result.exitCode === 0) return undefined;
        const stderr = Buffer.concat(result.stdErr).toString('utf8');
        return Buffer.from(stderr || `exit code ${result.exitCode}`);
      },
      config: [
        `user.name=${author.name}`,
        `user.email=${author.email}`,
        'core.quotePath=false',
        'commit.gpgSign=false',
        'rebase.autoStash=false',
        'advice.detachedHead=false',
      ],
    }).env({ ...process.env, GIT_EDITOR: 'true', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' });
  }

  async run(args: string[]): Promise<string> {
    try {
      return await this.git.raw(args);
    } catch (error) {
      throw new GitCommandError(args, error instanceof Error ? error.message : String(error));
    }
  }

  /** Runs a command whose failure is an answer, not an error (e.g. `cat-file -e`). */
  async succeeds(args: string[]): Promise<boolean> {
    try {
      await this.git.raw(args);
      return true;
    } catch {
      return false;
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
