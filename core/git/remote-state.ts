import { lstat, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { isErrno } from '../fsutil.js';

/**
 * What this clone knows about its remote, kept in git's own directory (`.git/fte/remote-state.json`),
 * where no pull can reach it: never in the working tree. A file that does not fit is treated as empty.
 */
export const RemoteState = z.object({
  /** The last `origin/main` this clone checked (accepted or refused). */
  lastSeen: z.string().optional(),
  /** The last `origin/main` that passed the checks and was merged. */
  lastGood: z.string().optional(),
  /** Set while the remote's newest commit is refused; cleared by the next good sync. */
  refused: z
    .object({
      commit: z.string(),
      reason: z.string(),
      since: z.string(),
      /** `content`: the commit itself is refused (checked once). `checkout`: git could not check it out here (retried every pass). */
      kind: z.enum(['content', 'checkout']),
    })
    .optional(),
  /** The last time `origin/main` stopped descending from what this clone had seen (a force push). */
  rewritten: z.object({ from: z.string(), to: z.string(), at: z.string(), replayed: z.number() }).optional(),
  /** Transfer stall window grown after a fetch was killed for lack of progress; reset after a success. */
  stallMs: z.number().optional(),
});
export type RemoteState = z.infer<typeof RemoteState>;

export const REMOTE_STATE_FILE = join('fte', 'remote-state.json');

/** The clone's git directory; only a real folder named `.git` (a vault is a plain clone). */
export async function gitDirOf(root: string): Promise<string | undefined> {
  const dir = join(root, '.git');
  try {
    const info = await lstat(dir);
    return info.isDirectory() ? dir : undefined;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

export async function loadRemoteState(root: string): Promise<RemoteState> {
  const dir = await gitDirOf(root);
  if (!dir) return {};
  try {
    const parsed = RemoteState.safeParse(JSON.parse(await readFile(join(dir, REMOTE_STATE_FILE), 'utf8')));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

export async function saveRemoteState(root: string, state: RemoteState): Promise<void> {
  const dir = await gitDirOf(root);
  if (!dir) return;
  await mkdir(join(dir, 'fte'), { recursive: true });
  // Replaced whole (temp + rename), not fsynced: losing the newest state to a power cut only means the
  // remote's tip is checked once more.
  const temp = join(dir, 'fte', `.remote-state.${process.pid}.tmp`);
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(temp, join(dir, REMOTE_STATE_FILE));
}

/** One line per remote problem for `fte status`; empty when the remote is fine. */
export function remoteStatusLines(state: RemoteState, now = new Date()): string[] {
  const lines: string[] = [];
  if (state.refused) {
    lines.push(
      `remote refused: ${state.refused.reason} (commit ${state.refused.commit.slice(0, 12)}, since ${state.refused.since}; working locally, nothing pushed)`,
    );
  }
  const week = 7 * 24 * 3600 * 1000;
  if (state.rewritten && now.getTime() - Date.parse(state.rewritten.at) < week) {
    lines.push(
      `remote history rewritten at ${state.rewritten.at}: ${state.rewritten.from.slice(0, 12)} is no longer in ${state.rewritten.to.slice(0, 12)}; local commits kept and replayed on top`,
    );
  }
  return lines;
}
