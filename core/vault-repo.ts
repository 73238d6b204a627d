import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UnsafePathError } from './errors.js';
import { keepStashedVersions, unmergedStages } from './git/autostash.js';
import { OwnerLock } from './git/owner-lock.js';
import { quarantineLinks } from './git/quarantine.js';
import { recoverClone } from './git/recovery.js';
import { checkRemoteTip, DEFAULT_REMOTE_LIMITS, type RemoteLimits } from './git/remote-check.js';
import { gitDirOf, loadRemoteState, type RemoteState, saveRemoteState } from './git/remote-state.js';
import { staleItemCopies } from './git/stale-copies.js';
import { Git, GitCommandError, isPushRejected, type StatusEntry, statusEntries } from './git.js';
import { assertSafeTaskId } from './ids.js';
import { assertFolderName, FOLDERS, itemPaths } from './layout.js';
import type { SecretFinding } from './secret-guard.js';
import { VaultFiles } from './vault/safe-fs.js';

export const BRANCH = 'main';
export const REMOTE = 'origin';
const REMOTE_REF = `${REMOTE}/${BRANCH}`;
/**
 * A rejected push means the remote moved on, which is progress, not failure: keep rebasing and retrying
 * (with jittered backoff, so two agents never retry in lockstep) for up to this long (default).
 */
const PUSH_RETRY_BUDGET_MS = 120_000;

function jitteredBackoff(attempt: number): Promise<void> {
  const ceiling = Math.min(100, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

/**
 * `refused`: the remote's newest commit failed the checks of core/git/remote-check.ts or could not be
 * checked out here; the clone stays on its last good commit and works locally, nothing is pushed.
 */
export type SyncState = 'synced' | 'offline' | 'local-only' | 'refused';

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
  /** Set while the remote's newest commit is refused (state `refused`): why, and which commit. */
  remoteRefused?: { reason: string; commit: string };
  /** Set in the cycle that found `origin/main` no longer descending from what this clone had seen. */
  historyRewritten?: { from: string; to: string; replayed: number };
  /** Symbolic links the pull brought, taken out of the vault (one commit and audit record each). */
  quarantinedLinks?: string[];
  /** The clone's HEAD when the cycle ended. */
  head?: string;
  /** `origin/main` as last fetched when the cycle ended (a refused tip included); absent before any fetch. */
  remoteHead?: string;
};

export type ClaimOutcome =
  | { result: 'won'; path: string }
  | { result: 'lost'; owner?: string }
  | { result: 'missing' }
  | { result: 'offline'; error: string };

export type VaultRepoOptions = {
  root: string;
  agent: string;
  /** Deadline of a local git command (default 30 s). */
  timeoutMs?: number;
  /** A fetch or push is killed after this long without progress (default 60 s); see GitOptions. */
  stallTimeoutMs?: number;
  /** Upper bound for one fetch or push (default 1 h). */
  maxTransferMs?: number;
  /** What the remote may bring in; see core/git/remote-check.ts for the defaults. */
  limits?: Partial<RemoteLimits>;
  clock?: () => Date;
  /** Called for each thing worth a log line (refused files, conflicts, offline). */
  onEvent?: (event: { kind: string; message: string; path?: string }) => void;
  /**
   * Folders the sync's "commit the working tree" step leaves alone. Local keeps the owner's uncommitted
   * moves into `Approved/` and `Rejected/` out of it, so approval intake (executor/) sees them as the
   * owner's decisions and signs them, instead of finding them already committed like a pull.
   */
  sweepExclude?: string[];
  /** Secrets this machine holds (the laptop's approval key): a file containing one is never committed. */
  knownSecrets?: Buffer[];
  /** How long one sync keeps rebasing and pushing while every push is rejected (default 120 s). */
  pushRetryBudgetMs?: number;
};

/**
 * Commits that are decisions about an item someone else may have decided first: a claim, or the cloud
 * expiring an approval the owner may already have answered. When such a commit no longer applies on top
 * of the remote, the remote's decision stands and ours is dropped (never "both kept").
 */
const YIELDING_COMMIT = /^(\S+): (claim|expire) (\S+)$/;

/** What one sync attempt learnt about `origin/main` before integrating it. */
/** What a fetch changed: origin/main before it, and whether git called the update forced. */
type Fetched = { previous?: string; forced: boolean };

type Gate = {
  tip?: string;
  state: RemoteState;
  refused: boolean;
  /** Symbolic links in the checked tip; undefined when it was not checked in this pass. */
  symlinks?: number;
  /** `rev-list --left-right --count HEAD...origin/main`, when the gate already asked. */
  split?: { ahead: number; behind: number };
  /**
   * Audit records still to write and commit. A claim first takes back its own claim commit (the newest
   * commit) and only then settles these, so an audit commit never sits on top of a claim being undone.
   */
  pending: Array<() => Promise<void>>;
};

/**
 * The single git owner of one vault clone (DESIGN.md §4): small commits, fetch → check → rebase → push,
 * claims decided by whose push lands. Every public method runs under one in-process lock (and an
 * inter-process one in `.git/fte/lock`), so a claim can never interleave with another commit.
 *
 * The remote is hostile input (DESIGN.md §5): whatever it pushes is checked with git plumbing before
 * anything is checked out (core/git/remote-check.ts); a refused commit is never merged, the clone keeps
 * working on its last good commit, and the refusal is reported, audited once and kept in
 * `.git/fte/remote-state.json` for `fte status`. Symbolic links a pull brings are quarantined before the
 * lock is released. A process killed at any point leaves nothing the next one does not repair.
 */
export class VaultRepo {
  readonly root: string;
  readonly agent: string;
  private readonly git: Git;
  private readonly files: VaultFiles;
  private readonly clock: () => Date;
  private readonly onEvent: NonNullable<VaultRepoOptions['onEvent']>;
  private readonly sweepExclude: string[];
  private readonly limits: RemoteLimits;
  private queue: Promise<unknown> = Promise.resolve();
  /** Repair the clone before the next operation: at start, after a failed git command, after a crash. */
  private needsRepair = true;
  /** Links already in the index are looked for once per process, then after every pull. */
  private linksChecked = false;
  private remoteConfigured: boolean | undefined;
  private gitDir: string | undefined | null = null;
  private ownerLock: OwnerLock | undefined;

  private readonly knownSecrets: Buffer[] | undefined;
  private readonly pushRetryBudgetMs: number;
  /** What git said when the last `rebase --continue/--skip` stopped, for a rebase that makes no progress. */
  private lastRebaseError = '';

  constructor(options: VaultRepoOptions) {
    this.knownSecrets = options.knownSecrets;
    this.pushRetryBudgetMs = options.pushRetryBudgetMs ?? PUSH_RETRY_BUDGET_MS;
    this.root = options.root;
    this.agent = assertFolderName('agent', options.agent);
    this.clock = options.clock ?? (() => new Date());
    this.git = new Git(options.root, {
      timeoutMs: options.timeoutMs,
      stallTimeoutMs: options.stallTimeoutMs,
      maxTransferMs: options.maxTransferMs,
      author: { name: `fte-${options.agent}`, email: `${options.agent}@fte.invalid` },
    });
    this.files = new VaultFiles(options.root);
    this.onEvent = options.onEvent ?? (() => undefined);
    this.sweepExclude = options.sweepExclude ?? [];
    this.limits = { ...DEFAULT_REMOTE_LIMITS, ...options.limits };
  }

  /** Runs `fn` alone: nothing else in this process touches git or moves files through this repo meanwhile. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      const gitDir = await this.resolveGitDir();
      this.ownerLock ??= gitDir ? new OwnerLock(gitDir) : undefined;
      const lock = this.ownerLock;
      if (lock && (await lock.acquire())) this.needsRepair = true;
      try {
        if (this.needsRepair && gitDir) {
          this.needsRepair = false;
          await this.repair(gitDir);
        }
        return await fn();
      } catch (error) {
        // A git command that failed may have left a lock, a half rebase or staged paths behind.
        if (error instanceof GitCommandError) this.needsRepair = true;
        throw error;
      } finally {
        await lock?.release();
      }
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
    return this.exclusive(async () => {
      const report = await this.syncUnlocked();
      // Two ref reads (loose files, no git process in the common case), for the Vault resource's status.
      return {
        ...report,
        head: await this.headCommit(),
        remoteHead: await this.readRef(`refs/remotes/${REMOTE_REF}`),
      };
    });
  }

  /** Claim-by-move: `Needs_Action/<d>/<id>.md` → `In_Progress/<agent>/<id>.md`, committed, and pushed if a remote exists. */
  claim(id: string): Promise<ClaimOutcome> {
    assertSafeTaskId(id);
    return this.exclusive(() => this.claimUnlocked(id));
  }

  /**
   * Puts back a file this clone deleted without committing (a kill between a removal and its commit),
   * as HEAD has it, when HEAD has it as a regular file; written through VaultFiles. True when restored.
   */
  restoreDeleted(path: string): Promise<boolean> {
    return this.exclusive(async () => {
      const [entry] = await this.statusEntries([path]);
      if (entry?.code !== ' D' || entry.path !== path) return false;
      const [mode, , oid] = (await this.git.run(['ls-tree', 'HEAD', '--', `:(literal)${path}`])).split(/\s+/);
      if (mode !== '100644' || !oid) return false;
      await this.files.writeAtomic(path, await this.git.runBuffer(['cat-file', 'blob', oid]));
      return true;
    });
  }

  async hasRemote(): Promise<boolean> {
    this.remoteConfigured ??= (await this.git.run(['remote'])).split('\n').includes(REMOTE);
    return this.remoteConfigured;
  }

  // ---------------------------------------------------------------------------------------------------

  private async resolveGitDir(): Promise<string | undefined> {
    if (this.gitDir === null || this.gitDir === undefined) this.gitDir = await gitDirOf(this.root);
    return this.gitDir;
  }

  /** After a crash or a failed git command: see core/git/recovery.ts. */
  private async repair(gitDir: string): Promise<void> {
    for (const repair of await recoverClone(this.git, this.root, gitDir, this.agent)) {
      this.onEvent({ kind: 'repaired', message: `repaired the clone: ${repair.kind} ${repair.detail}` });
    }
  }

  /** `git status` entries (two-letter code and path) for the given pathspecs, or every change. */
  private async statusEntries(paths?: string[]): Promise<StatusEntry[]> {
    return (await statusEntries(this.git, paths)).filter((entry) => !isWriteInProgress(entry.path));
  }

  /** The working tree's uncommitted changes under `paths`, read under the lock (never mid-commit or mid-sync). */
  status(paths: string[]): Promise<StatusEntry[]> {
    return this.exclusive(() => this.statusEntries(paths));
  }

  private async commitUnlocked(
    message: string,
    paths?: string[],
  ): Promise<{ committed: boolean; refused: SecretFinding[] }> {
    if (paths?.length === 0) return { committed: false, refused: [] };
    const changed = await this.withoutStaleItemCopies(await this.statusEntries(paths));
    const refused: SecretFinding[] = [];
    const allowed: Array<{ code: string; path: string }> = [];
    for (const entry of changed) {
      // Loaded on first use: the rule set (secretlint) costs ~100 ms to import, an idle cycle needs none.
      const { inspectFile } = await import('./secret-guard.js');
      const finding = await inspectFile(join(this.root, entry.path), entry.path, {
        knownSecrets: this.knownSecrets,
      });
      if (finding) refused.push(finding);
      else allowed.push(entry);
    }
    for (const finding of refused) {
      this.onEvent({
        kind: 'secret_refused',
        message: `secret guard: ${finding.path} ${finding.reason}`,
        path: finding.path,
      });
    }
    // A refused file someone else staged must not ride along in this commit.
    const stagedRefused = changed.filter(
      (e) => e.code[0] !== ' ' && e.code[0] !== '?' && refused.some((r) => r.path === e.path),
    );
    if (stagedRefused.length > 0) {
      await this.git.run(['reset', '--quiet', '--', ...stagedRefused.map((e) => `:(literal)${e.path}`)]);
    }
    if (allowed.length === 0) return { committed: false, refused };
    await this.stage(allowed);
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

  /** Never commits a claimed item back into `Needs_Action/`: see core/git/stale-copies.ts. */
  private async withoutStaleItemCopies(entries: StatusEntry[]): Promise<StatusEntry[]> {
    const stale = await staleItemCopies(this.git, this.root, entries);
    for (const path of stale) {
      await this.files.remove(path);
      this.onEvent({
        kind: 'repaired',
        message: `repaired the clone: removed ${path}, a stale copy git put back of an item HEAD holds elsewhere`,
        path,
      });
    }
    return entries.filter((entry) => !stale.includes(entry.path));
  }

  /**
   * Stages what status listed. A path already staged as it is in the working tree (code `X `) needs no
   * `git add`, and naming it would fail when it is gone from both index and tree (a staged deletion):
   * only paths whose working tree differs from the index are added. If one vanished meanwhile, status is
   * asked again and only what still exists is added.
   */
  private async stage(entries: Array<{ code: string; path: string }>): Promise<void> {
    const add = async (list: Array<{ code: string; path: string }>) => {
      const paths = list.filter((e) => e.code[1] !== ' ').map((e) => `:(literal)${e.path}`);
      if (paths.length > 0) await this.git.run(['add', '--all', '--', ...paths]);
    };
    try {
      await add(entries);
    } catch (error) {
      if (!(error instanceof GitCommandError) || !/did not match any files/.test(error.stderr)) throw error;
      const still = new Set(entries.map((e) => e.path));
      await add((await this.statusEntries()).filter((e) => still.has(e.path)));
    }
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
    const deadline = Date.now() + this.pushRetryBudgetMs;
    let attempts = 0;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      if (attempt > 0) await jitteredBackoff(attempt);
      attempts = attempt + 1;
      const state = await loadRemoteState(this.root);
      let fetched: Fetched;
      try {
        fetched = await this.fetch(state);
      } catch (error) {
        return this.offline(report, error);
      }
      const gate = await this.gateRemote(report, state, fetched);
      await this.settle(gate);
      if (gate.refused) return this.refusedReport(report);
      const before = await this.headCommit();
      let ahead: number;
      try {
        ahead = await this.integrate(report, gate.split);
      } catch (error) {
        await this.refuseCheckout(report, gate, before, error);
        await this.settle(gate);
        return this.refusedReport(report);
      }
      await this.afterIntegrate(report, gate);
      await this.settle(gate);
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
    const error = `push still rejected after ${attempts} attempts in ${this.pushRetryBudgetMs / 1000} s: the remote kept moving between our fetch and our push; our commits stay here and go with the next sync`;
    this.onEvent({ kind: 'offline', message: error });
    return { ...report, state: 'offline', error };
  }

  private offline(report: SyncReport, error: unknown): SyncReport {
    const message = error instanceof Error ? error.message : String(error);
    this.onEvent({ kind: 'offline', message: `remote unreachable, working locally: ${message}` });
    return { ...report, state: 'offline', error: message };
  }

  private refusedReport(report: SyncReport): SyncReport {
    return {
      ...report,
      state: 'refused',
      pulled: 0,
      error: `remote refused: ${report.remoteRefused?.reason ?? 'unknown'}`,
    };
  }

  /**
   * Fetches with a stall timeout, not a fixed one: a big pack takes as long as it shows progress. A fetch
   * killed for lack of progress doubles the window for the next pass (kept in the remote state), so a
   * remote that is slow to start sending never makes every pass time out forever.
   */
  private async fetch(state: RemoteState): Promise<Fetched> {
    const stall = state.stallMs ?? this.git.stallTimeoutMs;
    const started = Date.now();
    const previous = await this.readRef(`refs/remotes/${REMOTE_REF}`);
    let output: string;
    try {
      // The remote's default refspec: an empty remote (no branch yet) fetches fine and leaves origin/main absent.
      output = await this.git.transfer(['fetch', '--no-tags', '--prune', REMOTE], stall);
    } catch (error) {
      if (error instanceof GitCommandError && error.timedOut) {
        state.stallMs = Math.min(stall * 2, this.git.maxTransferMs);
        await saveRemoteState(this.root, state);
        await this.removePartialPacks(started);
      }
      throw error;
    }
    if (state.stallMs !== undefined) {
      delete state.stallMs;
      await saveRemoteState(this.root, state);
    }
    return { previous, forced: / \(forced update\)$/m.test(output) };
  }

  /** A killed fetch leaves its half-received pack behind (`objects/pack/tmp_pack_*`); it is garbage. */
  private async removePartialPacks(since: number): Promise<void> {
    const gitDir = await this.resolveGitDir();
    if (!gitDir) return;
    const packs = join(gitDir, 'objects', 'pack');
    for (const name of await readdir(packs).catch(() => [] as string[])) {
      if (!name.startsWith('tmp_')) continue;
      const info = await stat(join(packs, name)).catch(() => undefined);
      if (info && info.mtimeMs >= since - 1_000) await rm(join(packs, name), { force: true });
    }
  }

  /**
   * Pushes (never forced). What we pushed is the remote's tip now and needs no check when the next fetch
   * sees it: it is remembered as seen and good.
   */
  private async push(): Promise<void> {
    await this.git.transfer(['push', REMOTE, `HEAD:refs/heads/${BRANCH}`]);
    const pushed = await this.headCommit();
    if (!pushed) return;
    const state = await loadRemoteState(this.root);
    state.lastSeen = pushed;
    state.lastGood = pushed;
    await saveRemoteState(this.root, state);
  }

  private async headCommit(): Promise<string | undefined> {
    return this.readRef('HEAD');
  }

  /** A ref's commit id: the loose ref file when there is one (no process for an idle cycle), else git. */
  private async readRef(ref: string): Promise<string | undefined> {
    const gitDir = await this.resolveGitDir();
    if (gitDir) {
      let text = await readFile(join(gitDir, ref), 'utf8').catch(() => '');
      if (text.startsWith('ref: refs/heads/')) {
        text = await readFile(join(gitDir, text.slice(5).trim()), 'utf8').catch(() => '');
      }
      if (/^[0-9a-f]{40}\s*$/.test(text)) return text.trim();
    }
    try {
      return (
        (await this.git.run(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim() || undefined
      );
    } catch {
      return undefined;
    }
  }

  private async isAncestor(older: string, newer: string): Promise<boolean> {
    return this.git.succeeds(['merge-base', '--is-ancestor', older, newer]);
  }

  /**
   * Decides whether the fetched `origin/main` may be integrated. When it did not move since the last
   * check, nothing is checked again (the idle cycle costs no git call here). A new tip is checked once.
   */
  private async gateRemote(report: SyncReport, state: RemoteState, fetched: Fetched): Promise<Gate> {
    const tip = await this.readRef(`refs/remotes/${REMOTE_REF}`);
    const pending: Gate['pending'] = [];
    if (!tip) return { state, refused: false, pending };
    if (tip === state.lastSeen) {
      if (state.refused?.commit === tip && state.refused.kind === 'content') {
        report.remoteRefused = { reason: state.refused.reason, commit: tip };
        return { tip, state, refused: true, pending };
      }
      return { tip, state, refused: false, pending };
    }
    // Rewritten: git said "forced update", or (when our ref was moved by something else) lastSeen is gone.
    const rewritten =
      state.lastSeen !== undefined &&
      (fetched.forced ||
        (fetched.previous !== state.lastSeen && !(await this.isAncestor(state.lastSeen, tip))));
    if (rewritten && state.lastSeen) {
      const at = this.clock().toISOString();
      report.historyRewritten = { from: state.lastSeen, to: tip, replayed: 0 };
      state.rewritten = { from: state.lastSeen, to: tip, at, replayed: 0 };
      this.onEvent({
        kind: 'history_rewritten',
        message: `remote history rewritten: ${state.lastSeen.slice(0, 12)} is no longer in ${tip.slice(0, 12)}; local commits are kept and replayed on top`,
      });
      const previous = state.lastSeen;
      pending.push(() =>
        this.audit({
          action_type: 'remote_history_rewritten',
          target: tip,
          parameters: { previous, current: tip },
          result: 'local_commits_kept',
        }),
      );
    }
    const head = await this.headCommit();
    const split = head ? await this.divergence() : undefined;
    const verdict = await checkRemoteTip(this.git, tip, head, this.limits, {
      newCommits: split?.behind,
      ignoredAmong: (added) => this.ignoredAmong(added),
    });
    state.lastSeen = tip;
    const gate: Gate = { tip, state, refused: !verdict.ok, pending, split };
    // Saved after the integration (one write per pass), or with the refusal.
    if (verdict.ok) gate.symlinks = verdict.symlinks;
    else await this.recordRefusal(report, gate, verdict.reason, 'content');
    return gate;
  }

  /** Writes and commits the audit records the gate left pending. */
  private async settle(gate: Gate): Promise<void> {
    if (gate.pending.length === 0) return;
    // These commit: the divergence the gate counted is out of date.
    gate.split = undefined;
    for (const write of gate.pending.splice(0)) await write();
  }

  /**
   * Of the paths the remote adds, those where the working tree already holds an ignored local file (or
   * an ignored file where the remote puts a folder): git would overwrite them silently on checkout.
   * Untracked files that are not ignored need no check: git refuses to overwrite those itself.
   */
  private async ignoredAmong(added: string[]): Promise<string[]> {
    const present = new Set<string>();
    for (const path of added) {
      const parts = path.split('/');
      for (let i = 1; i <= parts.length; i++) {
        const prefix = parts.slice(0, i).join('/');
        const entry = await lstat(join(this.root, prefix)).catch(() => undefined);
        if (!entry) break;
        if (!entry.isDirectory()) {
          present.add(prefix);
          break;
        }
      }
    }
    if (present.size === 0) return [];
    try {
      const out = await this.git.run(['check-ignore', '-z', '--stdin'], {
        input: `${[...present].join('\0')}\0`,
      });
      return out.split('\0').filter(Boolean);
    } catch (error) {
      // Exit 1: none of them is ignored.
      if (error instanceof GitCommandError && error.gitExit === 1) return [];
      throw error;
    }
  }

  /** Records a refusal: state file always, event and (pending) audit record once per refused commit. */
  private async recordRefusal(
    report: SyncReport,
    gate: Gate,
    reason: string,
    kind: 'content' | 'checkout',
  ): Promise<void> {
    const { state } = gate;
    const tip = gate.tip as string;
    gate.refused = true;
    report.remoteRefused = { reason, commit: tip };
    const fresh = state.refused?.commit !== tip || state.refused.kind !== kind;
    if (fresh) state.refused = { commit: tip, reason, since: this.clock().toISOString(), kind };
    await saveRemoteState(this.root, state);
    if (!fresh) return;
    this.onEvent({
      kind: 'remote_refused',
      message: `remote refused: ${reason} (commit ${tip.slice(0, 12)}); staying on the last good commit, working locally`,
    });
    gate.pending.push(() =>
      this.audit({
        action_type: 'remote_refused',
        target: tip,
        parameters: { reason, kind },
        result: 'refused',
      }),
    );
  }

  /** Appends an audit record and commits it (locally; it is pushed with the rest once the remote is good). */
  private async audit(record: {
    action_type: string;
    target: string;
    parameters: Record<string, unknown>;
    result: string;
  }): Promise<void> {
    // Loaded on first use: the audit log pulls in zod, which an idle sync cycle does not need.
    const { AuditLog, auditFileFor } = await import('./audit.js');
    const written = await new AuditLog(this.root, this.clock).append({ actor: this.agent, ...record });
    await this.commitUnlocked(`${this.agent}: ${record.action_type} ${record.target.slice(0, 12)}`, [
      auditFileFor(new Date(written.timestamp)),
    ]);
  }

  /**
   * A merge or rebase git could not carry out here (untracked files in the way, a checkout error): the
   * clone is put back exactly where it was and the remote is reported as refused with git's own words.
   * Unlike a refused commit, this is tried again on every pass (the obstacle may be gone).
   */
  private async refuseCheckout(
    report: SyncReport,
    gate: Gate,
    before: string | undefined,
    error: unknown,
  ): Promise<void> {
    if (this.rebaseInProgress()) await this.git.succeeds(['rebase', '--abort']);
    if (existsSync(join(this.root, '.git', 'MERGE_HEAD'))) await this.git.succeeds(['merge', '--abort']);
    const head = await this.headCommit();
    if (before && head !== before) {
      this.onEvent({
        kind: 'repaired',
        message: `put the clone back on ${before.slice(0, 12)} after a failed merge`,
      });
      await this.git.succeeds(['reset', '--quiet', '--keep', before]);
    }
    report.conflicts = [];
    report.lostClaims = [];
    if (!gate.tip) throw error;
    const words =
      error instanceof GitCommandError
        ? error.stderr
            .split('\n')
            .map((line) => line.trim())
            .filter((line) => line && !/^hint:/.test(line))
            .slice(0, 6)
            .join(' ')
        : String(error);
    await this.recordRefusal(
      report,
      gate,
      `git could not check it out here: ${words.slice(0, 500)}`,
      'checkout',
    );
  }

  /** After a good integration: the remote state moves on, a refusal is cleared, pulled links are quarantined. */
  private async afterIntegrate(report: SyncReport, gate: Gate): Promise<void> {
    const { state, tip } = gate;
    if (tip && (state.lastGood !== tip || state.refused)) {
      if (state.refused) {
        this.onEvent({
          kind: 'remote_accepted',
          message: `remote accepted again at ${tip.slice(0, 12)} (was refused: ${state.refused.reason})`,
        });
        delete state.refused;
      }
      state.lastGood = tip;
      if (report.historyRewritten && state.rewritten)
        state.rewritten.replayed = report.historyRewritten.replayed;
      await saveRemoteState(this.root, state);
    }
    // The tree was just checked: when it had no link, the index has none from the remote.
    const linksPossible = (report.pulled > 0 || report.historyRewritten) && gate.symlinks !== 0;
    if (linksPossible || !this.linksChecked) {
      this.linksChecked = true;
      const quarantined = await quarantineLinks(this.git, this.root, this.agent, async (link, commit) => {
        this.onEvent({
          kind: 'quarantined',
          message: `symbolic link ${link.path} → ${JSON.stringify(link.target)} taken out of the vault (never followed)`,
          path: link.path,
        });
        const { AuditLog } = await import('./audit.js');
        await new AuditLog(this.root, this.clock).append({
          action_type: 'link_quarantined',
          actor: this.agent,
          target: link.path,
          parameters: { link_target: link.target, commit },
          result: 'quarantined',
        });
      });
      if (quarantined.length > 0) {
        report.quarantinedLinks = [...(report.quarantinedLinks ?? []), ...quarantined.map((l) => l.path)];
      }
    }
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
   * and returns how many of our commits are left to push. An empty remote gets everything. After a
   * rewritten history, every commit of ours the new remote lacks is replayed on top of it.
   */
  private async integrate(report: SyncReport, known?: { ahead: number; behind: number }): Promise<number> {
    const split = known ?? (await this.divergence());
    if (!split) return 1;
    if (report.historyRewritten) report.historyRewritten.replayed = split.ahead;
    if (split.behind === 0) return split.ahead;
    report.pulled += split.behind;
    if (split.ahead === 0) {
      await this.git.run([
        'merge',
        '--quiet',
        '--ff-only',
        '--autostash',
        '--no-overwrite-ignore',
        REMOTE_REF,
      ]);
      await this.keepStashedVersions();
      return 0;
    }
    await this.rebase(report);
    return (await this.divergence())?.ahead ?? 0;
  }

  /** Puts our commits on top of the remote's, then our uncommitted changes back as they were. */
  private async rebase(report: SyncReport): Promise<void> {
    await this.replayOnRemote(report);
    await this.keepStashedVersions();
  }

  private async keepStashedVersions(): Promise<void> {
    for (const { path, kept } of await keepStashedVersions(this.git, this.root)) {
      this.onEvent({
        kind: 'kept_local_change',
        message: kept
          ? `${path}: the remote changed it too; this machine's uncommitted version is kept over it`
          : `${path}: the remote changed it too; removed here, as this machine had it (or as git's side copy of the remote's)`,
        path,
      });
    }
  }

  private async replayOnRemote(report: SyncReport): Promise<void> {
    try {
      await this.git.run(['rebase', '--quiet', '--autostash', REMOTE_REF]);
      return;
    } catch (error) {
      if (!this.rebaseInProgress()) throw error;
    }
    let last = '';
    for (let step = 0; step < 10_000 && this.rebaseInProgress(); step++) {
      const current = (await this.git.run(['rev-parse', '--verify', '--quiet', 'REBASE_HEAD'])).trim();
      if (current === last) {
        // The same commit again: git can neither apply it nor report a conflict we could resolve (e.g. the
        // remote replaced a folder our commit writes into with a link). Stop here; the caller puts the clone
        // back and reports the remote as refused, instead of looping.
        throw new GitCommandError(
          ['rebase', '--continue'],
          `cannot replay ${current.slice(0, 12)} on the remote: ${this.lastRebaseError || 'no progress'}`,
          null,
        );
      }
      last = current;
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
    if (this.rebaseInProgress()) throw new Error('rebase did not finish after 10 000 steps');
  }

  private rebaseInProgress(): boolean {
    return (
      existsSync(join(this.root, '.git', 'rebase-merge')) ||
      existsSync(join(this.root, '.git', 'rebase-apply'))
    );
  }

  /** `rebase --continue/--skip` stops again at the next conflict with a non-zero exit; that is not an error. */
  private async continueRebase(args: string[]): Promise<void> {
    this.lastRebaseError = '';
    try {
      await this.git.run(args);
    } catch (error) {
      if (!this.rebaseInProgress()) throw error;
      this.lastRebaseError =
        error instanceof GitCommandError ? error.stderr.trim().split('\n').slice(-2).join(' ') : '';
    }
  }

  /**
   * Resolves every unmerged path of the commit being replayed without losing a byte: the remote's version
   * stays at the path (exactly as git stored it: mode and content), ours is saved beside it as
   * `<name>.conflict-<agent>-<ts><ext>`, and each conflict gets an audit record. Files are written through
   * VaultFiles: never through a link.
   */
  private async keepBothVersions(report: SyncReport, subject: string): Promise<void> {
    const stages = await unmergedStages(this.git);
    const stamp = this.clock().toISOString().replace(/[:.]/g, '-');
    for (const [path, sides] of stages) {
      // During a rebase, stage 2 is the upstream (remote) side and stage 3 is our commit being replayed.
      const remote = sides.get(2);
      const local = sides.get(3);
      const copy = conflictCopyName(path, this.agent, stamp);
      if (local) {
        await this.files.writeAtomic(copy, await this.git.runBuffer(['cat-file', 'blob', local.oid]));
        await this.git.run(['add', '--', `:(literal)${copy}`]);
        report.conflicts.push(copy);
      }
      const entry = await this.files.inspect(path);
      if (
        entry.kind === 'file' ||
        (entry.kind === 'refused' && entry.at === path && entry.problem === 'link')
      ) {
        await this.files.remove(path);
      }
      const nul = '0'.repeat(40);
      const lines = [`0 ${nul}\t${path}`];
      if (remote) {
        lines.push(`${remote.mode} ${remote.oid} 0\t${path}`);
        // A link stays in the index only (never created): the quarantine right after the rebase removes it.
        if (remote.mode !== '120000') {
          await this.files.writeAtomic(path, await this.git.runBuffer(['cat-file', 'blob', remote.oid]));
        }
      }
      await this.git.run(['update-index', '--index-info'], { input: `${lines.join('\n')}\n` });
      if (remote && remote.mode !== '120000') await this.git.run(['add', '--', `:(literal)${path}`]);
      const { AuditLog } = await import('./audit.js');
      await new AuditLog(this.root, this.clock).append({
        action_type: 'sync_conflict',
        actor: this.agent,
        target: path,
        parameters: { commit: subject, kept_local_as: local === undefined ? null : copy },
        result: 'both_versions_kept',
      });
      this.onEvent({ kind: 'conflict', message: `content conflict on ${path}: both versions kept`, path });
    }
    if (stages.size > 0) await this.git.run(['add', '--', FOLDERS.logs]);
  }

  private async claimUnlocked(id: string): Promise<ClaimOutcome> {
    const target = itemPaths.inProgress(this.agent, id);
    const source = await this.findNeedsAction(id);
    if (!source) {
      if (await this.files.exists(target)) return this.claimHeld(target);
      const owner = await this.findOwner(id);
      return owner ? { result: 'lost', owner } : { result: 'missing' };
    }
    if (!(await this.files.move(source, target))) {
      return { result: 'lost', owner: await this.findOwner(id) };
    }
    try {
      await this.commitUnlocked(`${this.agent}: claim ${id}`, [source, target]);
    } catch (error) {
      await this.files.move(target, source);
      throw error;
    }
    if (!(await this.hasRemote())) return { result: 'won', path: target };
    const deadline = Date.now() + this.pushRetryBudgetMs;
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
      const state = await loadRemoteState(this.root);
      let fetched: Fetched;
      try {
        fetched = await this.fetch(state);
      } catch (error) {
        await this.undoClaim(source, target);
        return { result: 'offline', error: error instanceof Error ? error.message : String(error) };
      }
      const replay = this.emptyReport('synced');
      const gate = await this.gateRemote(replay, state, fetched);
      if (gate.refused) {
        // The remote cannot be integrated: nothing is claimed until it is fixed.
        await this.undoClaim(source, target);
        await this.settle(gate);
        return { result: 'offline', error: `remote refused: ${replay.remoteRefused?.reason}` };
      }
      const before = await this.headCommit();
      if (!(await this.git.succeeds(['cat-file', '-e', `${REMOTE_REF}:${source}`]))) {
        await this.undoClaim(source, target);
        const after = await this.headCommit();
        try {
          await this.integrate(replay);
          await this.afterIntegrate(replay, gate);
        } catch (error) {
          await this.refuseCheckout(replay, gate, after, error);
        }
        await this.settle(gate);
        return { result: 'lost', owner: await this.findOwner(id) };
      }
      // The item is still free on the remote: put our claim commit on top of the remote's and push again.
      // What the replay brings in is pulled: afterIntegrate then quarantines the links among it.
      replay.pulled += (gate.split ?? (await this.divergence()))?.behind ?? 0;
      try {
        await this.rebase(replay);
      } catch (error) {
        await this.refuseCheckout(replay, gate, before, error);
        await this.undoClaim(source, target);
        await this.settle(gate);
        return { result: 'offline', error: `remote refused: ${replay.remoteRefused?.reason}` };
      }
      if (replay.lostClaims.includes(id)) {
        await this.afterIntegrate(replay, gate);
        await this.settle(gate);
        return { result: 'lost', owner: await this.findOwner(id) };
      }
      // Quarantine commits and audit records go on top of the claim commit and are pushed with it.
      await this.afterIntegrate(replay, gate);
      await this.settle(gate);
    }
    await this.undoClaim(source, target);
    return {
      result: 'offline',
      error: `push still rejected after ${this.pushRetryBudgetMs / 1000} s of retries`,
    };
  }

  /**
   * An item already in our `In_Progress/`: won once our claim is on the remote. A claim committed but never
   * pushed (killed in between) is pushed now; if that push does not land, the next sync decides (it drops
   * the claim when another agent's landed first), so until then nobody works on the item.
   */
  private async claimHeld(target: string): Promise<ClaimOutcome> {
    const onRemote = await this.git.succeeds(['cat-file', '-e', `${REMOTE_REF}:${target}`]);
    if (onRemote || !(await this.hasRemote())) return { result: 'won', path: target };
    try {
      await this.push();
      return { result: 'won', path: target };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { result: 'offline', error: `our claim of ${target} is not on the remote yet: ${reason}` };
    }
  }

  /** Takes back our claim commit (the newest commit, under the lock) and restores the item where it was. */
  private async undoClaim(source: string, target: string): Promise<void> {
    const subject = (await this.git.run(['log', '-1', '--format=%s'])).trim();
    if (!YIELDING_COMMIT.test(subject) || !subject.startsWith(`${this.agent}: claim `)) {
      // Something was committed on top of the claim meanwhile (never expected): keep it all; the claim
      // stays a yielding commit that the next sync pushes or drops.
      this.onEvent({
        kind: 'claim_kept',
        message: `claim of ${target} left to the next sync: "${subject}" is on top`,
      });
      return;
    }
    await this.git.run(['reset', '--quiet', '--soft', 'HEAD~1']);
    await this.git.run(['reset', '--quiet', '--', `:(literal)${source}`, `:(literal)${target}`]);
    await this.git.run(['checkout', '--', `:(literal)${source}`]);
    await this.files.remove(target);
  }

  private async findNeedsAction(id: string): Promise<string | undefined> {
    for (const domain of await this.files.listFolders(FOLDERS.needsAction)) {
      if (domain.startsWith('_')) continue;
      const path = `${FOLDERS.needsAction}/${domain}/${id}.md`;
      if (await this.files.exists(path)) return path;
    }
    return undefined;
  }

  private async findOwner(id: string): Promise<string | undefined> {
    for (const agent of await this.files.listFolders(FOLDERS.inProgress)) {
      if (await this.files.exists(`${FOLDERS.inProgress}/${agent}/${id}.md`)) return agent;
    }
    return undefined;
  }

  /** A vault file as text, read through VaultFiles (never through a link, never an oversized file). */
  async readFileText(path: string): Promise<string> {
    const read = await this.files.readText(path);
    if (read.kind === 'ok') return read.text;
    if (read.kind === 'refused') throw new UnsafePathError(path, read.reason);
    throw Object.assign(new Error(`ENOENT: no such vault file ${JSON.stringify(path)}`), { code: 'ENOENT' });
  }
}

export function conflictCopyName(path: string, agent: string, stamp: string): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  const [stem, ext] = dot > slash ? [path.slice(0, dot), path.slice(dot)] : [path, ''];
  return `${stem}.conflict-${agent}-${stamp}${ext}`;
}

/** The temp file of an atomic write (core/vault/safe-fs.ts) that a kill left behind: never vault content. */
function isWriteInProgress(path: string): boolean {
  return /(^|\/)\.[0-9a-f]{12}\.tmp$/.test(path);
}
