import type { Git } from '../git.js';
import { VaultFiles } from '../vault/safe-fs.js';

type Side = { mode: string; oid: string };

/** The unmerged paths of the index (`git ls-files -u -z`): for each, its stages (1 base, 2 and 3 the sides). */
export async function unmergedStages(git: Git): Promise<Map<string, Map<number, Side>>> {
  const out = await git.run(['ls-files', '-u', '-z']);
  const stages = new Map<string, Map<number, Side>>();
  for (const entry of out.split('\0')) {
    const tab = entry.indexOf('\t');
    if (tab === -1) continue;
    const [mode = '', oid = '', stage = '0'] = entry.slice(0, tab).split(' ');
    const path = entry.slice(tab + 1);
    if (!stages.has(path)) stages.set(path, new Map());
    stages.get(path)?.set(Number(stage), { mode, oid });
  }
  return stages;
}

/**
 * `git rebase/merge --autostash` sets uncommitted changes aside and puts them back once the remote's commits
 * are in: on the laptop, the owner's decisions in `Approved/` and `Rejected/` (the sync leaves them
 * uncommitted for approval intake); anywhere, a file the secret guard refused to commit. When the remote
 * changed the same file, git leaves it unmerged with conflict markers in it (and keeps the change in its
 * stash), so every later commit fails. This puts each such file back as this machine had it: uncommitted,
 * over the remote's version (now HEAD's), never a merge of the two. Never writes through a link. Returns
 * each path, and whether a version of ours was put there (else it was removed).
 */
export async function keepStashedVersions(
  git: Git,
  root: string,
): Promise<Array<{ path: string; kept: boolean }>> {
  const stages = await unmergedStages(git);
  if (stages.size === 0) return [];
  // The index as HEAD has it (the remote's version): links among it are quarantined as after any pull.
  await git.run(['reset', '--quiet']);
  const files = new VaultFiles(root);
  for (const [path, sides] of stages) {
    // Applying a stash, stage 2 is the updated upstream (HEAD) and stage 3 the stashed change.
    const stashed = sides.get(3);
    if (stashed === undefined) {
      // Deleted here, or a side file git made for a folder/file clash (`<path>~Updated upstream`, maybe
      // the remote's link): nothing of ours, removed (a link itself, never what it points to).
      const entry = await files.inspect(path);
      if (
        entry.kind === 'file' ||
        (entry.kind === 'refused' && entry.problem === 'link' && entry.at === path)
      )
        await files.remove(path);
    } else if (stashed.mode !== '120000') {
      await files.writeAtomic(path, await git.runBuffer(['cat-file', 'blob', stashed.oid]));
    }
  }
  return [...stages].map(([path, sides]) => ({ path, kept: sides.has(3) }));
}
