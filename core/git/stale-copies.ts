import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Git, StatusEntry } from '../git.js';
import { FOLDERS } from '../layout.js';

/** Where an item goes after `Needs_Action/`. */
const LATER_FOLDERS = [
  FOLDERS.inProgress,
  FOLDERS.pendingApproval,
  FOLDERS.approved,
  FOLDERS.rejected,
  FOLDERS.done,
];

/**
 * Untracked `Needs_Action/` files that are stale copies, not new work: HEAD holds the same item in another
 * folder (claimed, waiting for approval, done) and that file is in the working tree too, while this one
 * has exactly the bytes the path had when HEAD's history moved it away. Only git puts such a copy back (a
 * checkout or an abort interrupted by a kill, against a HEAD that moved on); swept into a commit it would
 * bring a claimed item back as new work and the other agent would take it a second time. The caller
 * removes them (their content is in history). When the other copy is gone from the working tree too, the
 * item was moved back (by hand, or a whole stale tree): that is left to the sweep, never removed here.
 */
export async function staleItemCopies(git: Git, root: string, entries: StatusEntry[]): Promise<string[]> {
  const candidates = entries.filter(
    (e) => e.code === '??' && e.path.startsWith(`${FOLDERS.needsAction}/`) && e.path.endsWith('.md'),
  );
  if (candidates.length === 0) return [];
  const elsewhere = new Map<string, string[]>();
  // No HEAD yet (a new vault's first commit): nothing was ever moved away.
  const listing = await git
    .run(['ls-tree', '-r', '-z', '--name-only', 'HEAD', '--', ...LATER_FOLDERS])
    .catch(() => '');
  for (const path of listing.split('\0')) {
    if (!path) continue;
    elsewhere.set(fileName(path), [...(elsewhere.get(fileName(path)) ?? []), path]);
  }
  const stale: string[] = [];
  for (const { path } of candidates) {
    const held = elsewhere.get(fileName(path)) ?? [];
    if (!(await anyRegularFile(root, held))) continue;
    const [removedBy] = (
      await git.run([
        'log',
        '-1',
        '--format=%H',
        '--no-renames',
        '--diff-filter=D',
        'HEAD',
        '--',
        `:(literal)${path}`,
      ])
    ).split(/\s+/);
    if (!removedBy) continue;
    const before = await git.run(['rev-parse', '--verify', '--quiet', `${removedBy}^:${path}`]).then(
      (out) => out.trim(),
      () => '',
    );
    const here = (await git.run(['hash-object', '--no-filters', '--', path])).trim();
    if (before !== '' && here === before) stale.push(path);
  }
  return stale;
}

async function anyRegularFile(root: string, paths: string[]): Promise<boolean> {
  for (const path of paths) {
    if ((await lstat(join(root, path)).catch(() => undefined))?.isFile()) return true;
  }
  return false;
}

function fileName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
