import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isErrno, listFolders, moveExclusive } from './fsutil.js';
import { Git, GitCommandError, isPushRejected } from './git.js';
import { assertSafeTaskId } from './ids.js';
import { assertFolderName, FOLDERS, itemPaths } from './layout.js';
import { inspectFile, type SecretFinding } from './secret-guard.js';

export const BRANCH = 'main';
export const REMOTE = 'origin';
const REMOTE_REF = `${REMOTE}/${BRANCH}`;
/**
 * A rejected push means the remote moved on, which is progress, not failure: keep rebasing and retrying
 * (with jittered backoff, so two agents never retry in lockstep) for up to this long.
 */
const PUSH_RETRY_BUDGET_MS = 120_000;

function jitteredBackoff(attempt: number): Promise<void> {
  const ceiling = Math.min(100, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

export type SyncState = 'synced' | 'offline' | 'local-only';

export type SyncReport = {
  state: SyncState;
  /** Commits sent to the remote in this cycle. */
  pushed: number;
  /** Commits taken from the remote in this cycle. */
  pulled: number;
  /** Files git could not merge; both versions are kept, the local one renamed. */
  conflicts: string[];
  /** Claims this clone made that another agent's push had already decided. */
  lostClaims: string[];
  /** Files the secret guard refused to commit. */
  refused: SecretFinding[];
  error?: string;
};

export type ClaimOutcome =
  | { result: 'won'; path: string }
  | { result: 'lost'; owner?: string }
  | { result: 'missing' }
  | { result: 'offline'; error: string };

export type VaultRepoOptions = {
  root: string;
  agent: string;
  timeoutMs?: number;
  clock?: () => Date;
  /** Called for each thing worth a log line (refused files, conflicts, offline). */
  onEvent?: (event: { kind: string; message: string; path?: string }) => void;
  /**
   * Folders the sync's "commit the working tree" step leaves alone. Local keeps the owner's uncommitted
   * moves into `Approved/` and `Rejected/` out of it, so approval intake (executor/) sees them as the
   * owner's decisions and signs them, instead of finding them already committed like a pull.
   */
  sweepExclude?: string[];
};

/**
 * Commits that are decisions about an item someone else may have decided first: a claim, or the cloud
 * expiring an approval the owner may already have answered. When such a commit no longer applies on top
 * of the remote, the remote's decision stands and ours is dropped (never "both kept").
 */
const YIELDING_COMMIT = /^(\S+): (claim|expire) (\S+)$/;

/**
 * The single git owner of one vault clone (DESIGN.md §4): small commits, fetch → rebase → push, claims
 * decided by whose push lands. Every public method runs under one in-process lock, so a claim can never
 * interleave with another commit.
 */
export class VaultRepo {
  readonly root: string;
  readonly agent: string;
  private readonly git: Git;
  private readonly clock: () => Date;
  private readonly onEvent: NonNullable<VaultRepoOptions['onEvent']>;
  private readonly sweepExclude: string[];
  private queue: Promise<unknown> = Promise.resolve();
  private recovered = false;
  private remoteConfigured: boolean | undefined;

  constructor(options: VaultRepoOptions) {
    this.root = options.root;
    this.agent = assertFolderName('agent', options.agent);
    this.clock = options.clock ?? (() => new Date());
    this.git = new Git(options.root, {
      timeoutMs: options.timeoutMs,
      author: { name: `fte-${options.agent}`, email: `${options.agent}@fte.invalid` },
    });
    this.onEvent = options.onEvent ?? (() => undefined);
    this.sweepExclude = options.sweepExclude ?? [];
  }

  /** Runs `fn` alone: nothing else in this process touches git or moves files through this repo meanwhile. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      await this.recoverOnce();
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Commits the given paths (or every change) as one small commit; secret files are left unstaged. */
  commit(message: string, paths?: string[]): Promise<{ committed: boolean; refused: SecretFinding[] }> {
    return this.exclusive(() => this.commitUnlocked(message, paths));
  }

  /**
   * Makes a change and commits it as one small commit, all under the lock: `fn` writes or moves files and
   * returns the vault-relative paths it touched.
   */
  change(
    message: string,
    fn: () => Promise<string[]>,
  ): Promise<{ committed: boolean; refused: SecretFinding[] }> {
    return this.exclusive(async () => this.commitUnlocked(message, await fn()));
  }

  sync(): Promise<SyncReport> {
    return this.exclusive(() => this.syncUnlocked());
  }

  /** Claim-by-move: `Needs_Action/<d>/<id>.md` → `In_Progress/<agent>/<id>.md`, committed, and pushed if a remote exists. */
  claim(id: string): Promise<ClaimOutcome> {
    assertSafeTaskId(id);
    return this.exclusive(() => this.claimUnlocked(id));
  }

  async hasRemote(): Promise<boolean> {
    this.remoteConfigured ??= (await this.git.run(['remote'])).split('\n').includes(REMOTE);
    return this.remoteConfigured;
  }

  // ---------------------------------------------------------------------------------------------------

  /** After a crash: a stale index.lock or a half-done rebase would block every later git call. */
  private async recoverOnce(): Promise<void> {
    if (this.recovered) return;
    this.recovered = true;
    const gitDir = join(this.root, '.git');
    await removeStaleLock(join(gitDir, 'index.lock'));
    if (existsSync(join(gitDir, 'rebase-merge')) || existsSync(join(gitDir, 'rebase-apply'))) {
      await this.git.run(['rebase', '--abort']).catch(() => undefined);
    }
  }

  private async changedPaths(paths?: string[]): Promise<string[]> {
    const args = ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames'];
    if (paths) args.push('--', ...paths);
    const out = await this.git.run(args);
    return out
      .split('\0')
      .filter((entry) => entry.length > 3)
      .map((entry) => entry.slice(3));
  }

  private async commitUnlocked(
    message: string,
    paths?: string[],
  ): Promise<{ committed: boolean; refused: SecretFinding[] }> {
    if (paths?.length === 0) return { committed: false, refused: [] };
    const changed = await this.changedPaths(paths);
    const refused: SecretFinding[] = [];
    const allowed: string[] = [];
    for (const path of changed) {
      const finding = await inspectFile(join(this.root, path), path);
      if (finding) refused.push(finding);
      else allowed.push(path);
    }
    for (const finding of refused) {
      this.onEvent({
        kind: 'secret_refused',
        message: `secret guard: ${finding.path} ${finding.reason}`,
        path: finding.path,
      });
    }
    if (allowed.length === 0) return { committed: false, refused };
    await this.git.run(['add', '--all', '--', ...allowed]);
    try {
      await this.git.run(['commit', '--quiet', '--no-verify', '-m', message]);
    } catch (error) {
      // Status listed a change that staging turned into none (e.g. a file restored meanwhile).
      if (
        error instanceof GitCommandError &&
        /nothing (added )?to commit|no changes added/.test(error.stderr)
      ) {
        return { committed: false, refused };
      }
      throw error;
    }
    return { committed: true, refused };
  }

  private emptyReport(state: SyncState): SyncReport {
    return { state, pushed: 0, pulled: 0, conflicts: [], lostClaims: [], refused: [] };
  }

  private async syncUnlocked(): Promise<SyncReport> {
    const sweep = this.sweepExclude.length
      ? ['.', ...this.sweepExclude.map((path) => `:(exclude)${path}`)]
      : undefined;
    const pending = await this.commitUnlocked(`${this.agent}: sync working tree`, sweep);
    const report = this.emptyReport('local-only');
    report.refused = pending.refused;
    if (!(await this.hasRemote())) return report;
    const deadline = Date.now() + PUSH_RETRY_BUDGET_MS;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      if (attempt > 0) await jitteredBackoff(attempt);
      try {
        await this.fetch();
      } catch (error) {
        return this.offline(report, error);
      }
      const ahead = await this.integrate(report);
      if (ahead === 0) return { ...report, state: 'synced' };
      try {
        await this.push();
        report.pushed += ahead;
        return { ...report, state: 'synced' };
      } catch (error) {
        if (!isPushRejected(error)) return this.offline(report, error);
        // Someone pushed in between: fetch, rebase and try again.
      }
    }
    return {
      ...report,
      state: 'offline',
      error: `push still rejected after ${PUSH_RETRY_BUDGET_MS / 1000} s of retries`,
    };
  }

  private offline(report: SyncReport, error: unknown): SyncReport {
    const message = error instanceof Error ? error.message : String(error);
    this.onEvent({ kind: 'offline', message: `remote unreachable, working locally: ${message}` });
    return { ...report, state: 'offline', error: message };
  }

  private async fetch(): Promise<void> {
    // The remote's default refspec: an empty remote (no branch yet) fetches fine and leaves origin/main absent.
    await this.git.run(['fetch', '--quiet', '--no-tags', '--prune', REMOTE]);
  }

  private async push(): Promise<void> {
    await this.git.run(['push', '--quiet', REMOTE, `HEAD:refs/heads/${BRANCH}`]);
  }

  /** Commits on each side since the histories split, or undefined when the remote has no branch yet. */
  private async divergence(): Promise<{ ahead: number; behind: number } | undefined> {
    try {
      const [ahead, behind] = (
        await this.git.run(['rev-list', '--left-right', '--count', `HEAD...${REMOTE_REF}`])
      )
        .trim()
        .split(/\s+/)
        .map(Number);
      return { ahead: ahead ?? 0, behind: behind ?? 0 };
    } catch (error) {
      if (await this.git.succeeds(['rev-parse', '--verify', '--quiet', `${REMOTE_REF}^{commit}`]))
        throw error;
      return undefined;
    }
  }

  /**
   * Brings the remote's commits in (fast-forward when we have none of our own, else rebase ours on top)
   * and returns how many of our commits are left to push. An empty remote gets everything.
   */
  private async integrate(report: SyncReport): Promise<number> {
    const split = await this.divergence();
    if (!split) return 1;
    if (split.behind === 0) return split.ahead;
    report.pulled += split.behind;
    if (split.ahead === 0) {
      await this.git.run(['merge', '--quiet', '--ff-only', '--autostash', REMOTE_REF]);
      return 0;
    }
    await this.rebase(report);
    return (await this.divergence())?.ahead ?? 0;
  }

  private async rebase(report: SyncReport): Promise<void> {
    try {
      await this.git.run(['rebase', '--quiet', '--autostash', REMOTE_REF]);
      return;
    } catch (error) {
      if (!this.rebaseInProgress()) throw error;
    }
    for (let step = 0; step < 10_000 && this.rebaseInProgress(); step++) {
      const subject = (await this.git.run(['log', '-1', '--format=%s', 'REBASE_HEAD'])).trim();
      const decision = YIELDING_COMMIT.exec(subject);
      if (decision?.[1] === this.agent && decision[3]) {
        // Our decision met the remote's: the other push landed first, so theirs stands.
        if (decision[2] === 'claim') report.lostClaims.push(decision[3]);
        this.onEvent({
          kind: 'superseded',
          message: `dropped "${subject}": the remote decided ${decision[3]} first`,
        });
        await this.continueRebase(['rebase', '--skip']);
        continue;
      }
      await this.keepBothVersions(report, subject);
      const anythingStaged = !(await this.git.succeeds(['diff', '--cached', '--quiet']));
      await this.continueRebase(anythingStaged ? ['rebase', '--continue'] : ['rebase', '--skip']);
    }
  }

  private rebaseInProgress(): boolean {
    return (
      existsSync(join(this.root, '.git', 'rebase-merge')) ||
      existsSync(join(this.root, '.git', 'rebase-apply'))
    );
  }

  /** `rebase --continue/--skip` stops again at the next conflict with a non-zero exit; that is not an error. */
  private async continueRebase(args: string[]): Promise<void> {
    try {
      await this.git.run(args);
    } catch (error) {
      if (!this.rebaseInProgress()) throw error;
    }
  }

  /**
   * Resolves every unmerged path of the commit being replayed without losing a byte: the remote's version
   * stays at the path, ours is saved beside it as `<name>.conflict-<agent>-<ts><ext>`, and each conflict
   * gets an audit record.
   */
  private async keepBothVersions(report: SyncReport, subject: string): Promise<void> {
    const unmerged = (await this.git.run(['diff', '--name-only', '-z', '--diff-filter=U']))
      .split('\0')
      .filter(Boolean);
    const stamp = this.clock().toISOString().replace(/[:.]/g, '-');
    for (const path of unmerged) {
      // During a rebase, stage 2 is the upstream (remote) side and stage 3 is our commit being replayed.
      const remote = await this.stageContent(2, path);
      const local = await this.stageContent(3, path);
      const abs = join(this.root, path);
      if (local !== undefined) {
        const copy = conflictCopyName(path, this.agent, stamp);
        await mkdir(dirname(join(this.root, copy)), { recursive: true });
        await writeFile(join(this.root, copy), local);
        await this.git.run(['add', '--', copy]);
        report.conflicts.push(copy);
      }
      if (remote !== undefined) {
        await writeFile(abs, remote);
        await this.git.run(['add', '--', path]);
      } else {
        await unlink(abs).catch((error) => {
          if (!isErrno(error, 'ENOENT')) throw error;
        });
        await this.git.run(['rm', '--quiet', '--cached', '--ignore-unmatch', '--', path]);
      }
      // Loaded on first use: the audit log pulls in zod, which an idle sync cycle does not need.
      const { AuditLog } = await import('./audit.js');
      await new AuditLog(this.root, this.clock).append({
        action_type: 'sync_conflict',
        actor: this.agent,
        target: path,
        parameters: {
          commit: subject,
          kept_local_as: local === undefined ? null : conflictCopyName(path, this.agent, stamp),
        },
        result: 'both_versions_kept',
      });
      this.onEvent({ kind: 'conflict', message: `content conflict on ${path}: both versions kept`, path });
    }
    if (unmerged.length > 0) await this.git.run(['add', '--', FOLDERS.logs]);
  }

  private async stageContent(stage: 2 | 3, path: string): Promise<Buffer | undefined> {
    try {
      const text = await this.git.run(['show', `:${stage}:${path}`]);
      return Buffer.from(text);
    } catch {
      return undefined;
    }
  }

  private async claimUnlocked(id: string): Promise<ClaimOutcome> {
    const target = itemPaths.inProgress(this.agent, id);
    const source = await this.findNeedsAction(id);
    if (!source) {
      if (existsSync(join(this.root, target))) return { result: 'won', path: target };
      const owner = await this.findOwner(id);
      return owner ? { result: 'lost', owner } : { result: 'missing' };
    }
    if (!(await moveExclusive(join(this.root, source), join(this.root, target)))) {
      return { result: 'lost', owner: await this.findOwner(id) };
    }
    try {
      await this.commitUnlocked(`${this.agent}: claim ${id}`, [source, target]);
    } catch (error) {
      await moveExclusive(join(this.root, target), join(this.root, source));
      throw error;
    }
    if (!(await this.hasRemote())) return { result: 'won', path: target };
    const deadline = Date.now() + PUSH_RETRY_BUDGET_MS;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      if (attempt > 0) await jitteredBackoff(attempt);
      try {
        await this.push();
        return { result: 'won', path: target };
      } catch (error) {
        if (!isPushRejected(error)) {
          await this.undoClaim(source, target);
          return { result: 'offline', error: error instanceof Error ? error.message : String(error) };
        }
      }
      try {
        await this.fetch();
      } catch (error) {
        await this.undoClaim(source, target);
        return { result: 'offline', error: error instanceof Error ? error.message : String(error) };
      }
      if (!(await this.git.succeeds(['cat-file', '-e', `${REMOTE_REF}:${source}`]))) {
        await this.undoClaim(source, target);
        await this.integrate(this.emptyReport('synced'));
        return { result: 'lost', owner: await this.findOwner(id) };
      }
      // The item is still free on the remote: put our claim commit on top of the remote's and push again.
      const replay = this.emptyReport('synced');
      await this.rebase(replay);
      if (replay.lostClaims.includes(id)) return { result: 'lost', owner: await this.findOwner(id) };
    }
    await this.undoClaim(source, target);
    return {
      result: 'offline',
      error: `push still rejected after ${PUSH_RETRY_BUDGET_MS / 1000} s of retries`,
    };
  }

  /** Takes back our claim commit (the newest commit, under the lock) and restores the item where it was. */
  private async undoClaim(source: string, target: string): Promise<void> {
    await this.git.run(['reset', '--quiet', '--soft', 'HEAD~1']);
    await this.git.run(['reset', '--quiet', '--', source, target]);
    await this.git.run(['checkout', '--', source]);
    await rm(join(this.root, target), { force: true });
  }

  private async findNeedsAction(id: string): Promise<string | undefined> {
    for (const domain of await listFolders(join(this.root, FOLDERS.needsAction))) {
      if (domain.startsWith('_')) continue;
      const path = `${FOLDERS.needsAction}/${domain}/${id}.md`;
      if (existsSync(join(this.root, path))) return path;
    }
    return undefined;
  }

  private async findOwner(id: string): Promise<string | undefined> {
    for (const agent of await listFolders(join(this.root, FOLDERS.inProgress))) {
      if (existsSync(join(this.root, FOLDERS.inProgress, agent, `${id}.md`))) return agent;
    }
    return undefined;
  }

  async readFileText(path: string): Promise<string> {
    return readFile(join(this.root, path), 'utf8');
  }
}

/**
 * A lock another live git process holds disappears within milliseconds; one still there after a few
 * seconds was left by a crash (e.g. SIGKILL mid-commit) and would block every git call forever.
 */
async function removeStaleLock(path: string): Promise<void> {
  for (let waited = 0; waited < 3_000; waited += 100) {
    if (!existsSync(path)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Only a lock nobody has touched for the whole wait is stale; a fresh one belongs to a live process.
  const age = await stat(path).then(
    (info) => Date.now() - info.mtimeMs,
    () => 0,
  );
  if (age >= 2_500) await rm(path, { force: true });
}

export function conflictCopyName(path: string, agent: string, stamp: string): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  const [stem, ext] = dot > slash ? [path.slice(0, dot), path.slice(dot)] : [path, ''];
  return `${stem}.conflict-${agent}-${stamp}${ext}`;
}
