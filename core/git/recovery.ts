import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Git } from '../git.js';
import { GitCommandError, type StatusEntry, statusEntries } from '../git.js';
import { FOLDERS } from '../layout.js';
import { keepStashedVersions } from './autostash.js';

/** A git lock untouched this long, with no live git process in the clone, was left by a crash. */
export const STALE_LOCK_MS = 2_500;

/** How long a repair waits for git processes a killed fte left running in the clone. */
const ORPHAN_WAIT_MS = 10_000;

export type Repair = { kind: string; detail: string };

/**
 * Repairs whatever a process killed at any point (mid `git add`, commit, rebase, merge, push) left behind,
 * so the next operation succeeds instead of failing forever. Runs under the inter-process owner lock, so
 * no other fte process is half-way through a git operation here; git's own lock files are removed only
 * when stale (untouched for a few seconds and no git process working in this clone).
 */
export async function recoverClone(git: Git, root: string, gitDir: string, agent: string): Promise<Repair[]> {
  const repairs: Repair[] = [];
  // A killed fte's git children may live on as orphans and finish their checkout meanwhile: repairing
  // beside them races them (a file put back from the old HEAD just before an orphan moves HEAD on comes
  // back as a new file). They finish in moments; wait for them first.
  if (await orphanGitFinished(root))
    repairs.push({ kind: 'orphan_git', detail: 'waited for a git process left by a killed one' });
  const marker = new HalfCheckoutMarker(gitDir);
  for (const lock of await staleGitLocks(root, gitDir)) {
    // The lock is the evidence of a checkout killed half-way: recorded before it is removed, so a kill
    // of this repair leaves the next one knowing what this one knew.
    if (lock === join(gitDir, 'index.lock')) await marker.record('index_lock');
    await rm(lock, { force: true });
    repairs.push({ kind: 'stale_lock', detail: relative(root, lock) });
  }
  const sequences: Array<[string, string[], string[]]> = [
    ['rebase-merge', ['rebase', '--abort'], ['rebase', '--quit']],
    ['rebase-apply', ['rebase', '--abort'], ['rebase', '--quit']],
    ['MERGE_HEAD', ['merge', '--abort'], ['reset', '--quiet', '--merge']],
    ['CHERRY_PICK_HEAD', ['cherry-pick', '--abort'], ['cherry-pick', '--quit']],
    ['REVERT_HEAD', ['revert', '--abort'], ['revert', '--quit']],
    ['sequencer', ['cherry-pick', '--quit'], []],
  ];
  for (const [marker, abort, fallback] of sequences) {
    if (!existsSync(join(gitDir, marker))) continue;
    if (!(await git.succeeds(abort)) && fallback.length > 0) await git.succeeds(fallback);
    repairs.push({ kind: 'unfinished', detail: `${marker}: git ${abort.join(' ')}` });
  }
  // Killed after git put the autostash back with conflicts and before the sync settled them.
  for (const { path } of await keepStashedVersions(git, root)) {
    repairs.push({ kind: 'stashed_change_kept', detail: path });
  }
  // Staged but never committed (killed between `git add` and `git commit`): unstage, keep the files.
  if (!(await git.succeeds(['diff', '--cached', '--quiet']))) {
    if (await git.succeeds(['rev-parse', '--verify', '--quiet', 'HEAD'])) {
      await marker.record('staged');
      await git.run(['reset', '--quiet']);
      repairs.push({ kind: 'unstaged', detail: 'changes staged by a process that did not commit them' });
    }
  }
  // Killed inside a checkout (a fast-forward or rebase onto origin/main): files of the remote's commit are
  // in the working tree while HEAD and the index are not. They are the remote's, not this clone's work:
  // put HEAD's version back, or they would be committed as our own change (and, on the laptop, files in
  // Approved/ would look like the owner's moves). Killed after git wrote the new index but before it moved
  // HEAD, the same files show as staged instead of behind a stale lock.
  // The marker, not this run's findings: a repair killed after it removed the lock or unstaged (the
  // evidence) and before it put the files back must still put them back the next time.
  const evidence = await marker.read();
  if (evidence) {
    for (const path of await undoHalfCheckout(git, root, agent, evidence === 'index_lock')) {
      repairs.push({ kind: 'half_checkout', detail: path });
    }
    await marker.clear();
  }
  // One look at the working tree for what a kill may have left: temp files and a half-done claim.
  const entries = await statusEntries(git);
  // The temp file of an atomic write a kill interrupted (core/vault/safe-fs.ts): never content, never kept.
  for (const { code, path } of entries) {
    if (code !== '??' || !/(^|\/)\.[0-9a-f]{12}\.tmp$/.test(path)) continue;
    const age = await stat(join(root, path)).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    if (age < STALE_LOCK_MS) continue;
    await rm(join(root, path), { force: true });
    repairs.push({ kind: 'stale_temp_file', detail: path });
  }
  for (const id of await interruptedClaims(git, agent, entries)) {
    repairs.push({ kind: 'interrupted_claim', detail: id });
  }
  return repairs;
}

/**
 * `.git/fte-half-checkout`: what a repair found (a stale index lock, or staged changes nobody committed)
 * before it removed that evidence, kept until the working tree is put back. Never in the vault.
 */
class HalfCheckoutMarker {
  private readonly path: string;

  constructor(gitDir: string) {
    this.path = join(gitDir, 'fte-half-checkout');
  }

  /** Records `found`; a stale index lock (a checkout killed mid-write) outranks staged changes. */
  async record(found: 'index_lock' | 'staged'): Promise<void> {
    if (found === 'staged' && (await this.read()) === 'index_lock') return;
    await writeFile(this.path, `${found}\n`);
  }

  /** What was recorded; a marker a kill left torn or empty counts as the stronger finding. */
  async read(): Promise<'index_lock' | 'staged' | undefined> {
    const text = await readFile(this.path, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    return text.trim() === 'staged' ? 'staged' : 'index_lock';
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

/** Paths whose working-tree content is origin/main's and not HEAD's, set back to HEAD's; returns them. */
async function undoHalfCheckout(
  git: Git,
  root: string,
  agent: string,
  killedInGit: boolean,
): Promise<string[]> {
  if (!(await git.succeeds(['rev-parse', '--verify', '--quiet', 'refs/remotes/origin/main^{commit}'])))
    return [];
  const entries = await statusEntries(git);
  // A claim killed in its `git add` (the index lock left) moved the item itself: that is this agent's
  // claim, committed as one below, not a checkout's doing. Putting Needs_Action/ back from HEAD here would
  // leave the moved copy as a second, untracked one, which the next sync commits beside the remote's owner.
  const claims = new Set(interruptedClaimPaths(agent, entries));
  const restored: string[] = [];
  for (const { code, path } of entries) {
    if (claims.has(path)) continue;
    const inHead = await blobAt(git, 'HEAD', path);
    const inRemote = await blobAt(git, 'refs/remotes/origin/main', path);
    if (code === ' D') {
      // Deleted here and absent from the remote's commit: the checkout removed it.
      if (inHead !== undefined && inRemote === undefined) {
        await git.run(['checkout', 'HEAD', '--', `:(literal)${path}`]);
        restored.push(path);
      }
      continue;
    }
    const info = await lstat(join(root, path)).catch(() => undefined);
    if (!info?.isFile()) continue;
    // Git writes a file in place during a checkout, holding the index lock: a kill mid-write leaves the
    // start of HEAD's or the remote's version. Never anybody's work: HEAD's version goes back.
    if (killedInGit && code === ' M' && (await tornCopyOf(git, root, path, info.size, [inHead, inRemote]))) {
      await git.run(['checkout', 'HEAD', '--', `:(literal)${path}`]);
      restored.push(path);
      continue;
    }
    if (inRemote === undefined || inRemote === inHead) continue;
    const here = (await git.run(['hash-object', '--no-filters', '--', path])).trim();
    if (here !== inRemote) continue;
    if (inHead !== undefined) await git.run(['checkout', 'HEAD', '--', `:(literal)${path}`]);
    else await rm(join(root, path), { force: true });
    restored.push(path);
  }
  return restored;
}

/** True when the working file is a proper prefix (the torn start) of one of these blobs. */
async function tornCopyOf(
  git: Git,
  root: string,
  path: string,
  size: number,
  blobs: Array<string | undefined>,
): Promise<boolean> {
  let here: Buffer | undefined;
  for (const blob of blobs) {
    if (blob === undefined) continue;
    const full = await git.runBuffer(['cat-file', 'blob', blob]);
    if (size >= full.length) continue;
    here ??= await readFile(join(root, path));
    if (here.length < full.length && full.subarray(0, here.length).equals(here)) return true;
  }
  return false;
}

async function blobAt(git: Git, commit: string, path: string): Promise<string | undefined> {
  try {
    return (await git.run(['rev-parse', '--verify', '--quiet', `${commit}:${path}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claims a crash interrupted after the move: `Needs_Action/<d>/<id>.md` gone from the working tree and
 * `In_Progress/<agent>/<id>.md` new and uncommitted. They must be committed as claims (which yield to a
 * remote that decided first), never swept into an ordinary commit that would keep both.
 */
async function interruptedClaims(git: Git, agent: string, entries: StatusEntry[]): Promise<string[]> {
  const { gone, claims } = findInterruptedClaims(agent, entries);
  for (const id of claims) {
    const source = gone.get(id) as string;
    const target = `${FOLDERS.inProgress}/${agent}/${id}.md`;
    await git.run(['add', '--all', '--', `:(literal)${source}`, `:(literal)${target}`]);
    await git.run(['commit', '--quiet', '--no-verify', '-m', `${agent}: claim ${id}`]);
  }
  return claims;
}

/** Ids moved from `Needs_Action/<d>/` (deleted there) to an untracked `In_Progress/<agent>/`, and their sources. */
function findInterruptedClaims(
  agent: string,
  entries: StatusEntry[],
): { gone: Map<string, string>; claims: string[] } {
  const gone = new Map<string, string>();
  const added: string[] = [];
  for (const { code, path } of entries) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (!name.endsWith('.md')) continue;
    const id = name.slice(0, -3);
    if (code === ' D' && path.startsWith(`${FOLDERS.needsAction}/`)) gone.set(id, path);
    if (code === '??' && path === `${FOLDERS.inProgress}/${agent}/${name}`) added.push(id);
  }
  return { gone, claims: added.filter((id) => gone.has(id)) };
}

/** Both paths (source and target) of every interrupted claim in `entries`. */
function interruptedClaimPaths(agent: string, entries: StatusEntry[]): string[] {
  const { gone, claims } = findInterruptedClaims(agent, entries);
  return claims.flatMap((id) => [gone.get(id) as string, `${FOLDERS.inProgress}/${agent}/${id}.md`]);
}

/** `.git/*.lock` and `.git/refs/**\/*.lock` that no live git process holds. */
async function staleGitLocks(root: string, gitDir: string): Promise<string[]> {
  const locks = [...(await findLocks(gitDir, false)), ...(await findLocks(join(gitDir, 'refs'), true))];
  if (locks.length === 0) return [];
  const stale: string[] = [];
  const deadline = Date.now() + STALE_LOCK_MS + 500;
  for (const lock of locks) {
    // A lock a live process holds disappears within milliseconds; wait until this one is old enough to judge.
    for (;;) {
      const age = await stat(lock).then(
        (info) => Date.now() - info.mtimeMs,
        () => undefined,
      );
      if (age === undefined) break;
      if (age >= STALE_LOCK_MS) {
        if (!(await gitRunsIn(root))) stale.push(lock);
        break;
      }
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return stale;
}

async function findLocks(dir: string, recursive: boolean): Promise<string[]> {
  const found: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith('.lock')) found.push(path);
    else if (recursive && entry.isDirectory()) found.push(...(await findLocks(path, true)));
  }
  return found;
}

/** Waits (at most ORPHAN_WAIT_MS) while a git process works in this clone; true when there was one. */
async function orphanGitFinished(root: string): Promise<boolean> {
  if (!(await gitRunsIn(root))) return false;
  const deadline = Date.now() + ORPHAN_WAIT_MS;
  while (Date.now() < deadline && (await gitRunsIn(root))) await new Promise((r) => setTimeout(r, 50));
  return true;
}

/** True when a git process works in this clone (Linux: /proc); unknown elsewhere counts as no. */
async function gitRunsIn(root: string): Promise<boolean> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  } catch {
    return false;
  }
  const clone = await realpath(root).catch(() => root);
  for (const pid of pids) {
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    if (!comm.startsWith('git')) continue;
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (cwd === clone || cwd.startsWith(`${clone}/`)) return true;
  }
  return false;
}

/** A git error that may have left the clone needing repair (anything but an answer like "nothing to commit"). */
export function needsRepairAfter(error: unknown): boolean {
  return error instanceof GitCommandError;
}
