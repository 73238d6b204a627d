import type { Git } from '../git.js';
import { FOLDERS } from '../layout.js';
import { VaultFiles } from '../vault/safe-fs.js';

/** At most this many links get a commit of their own; more are quarantined in one commit. */
const ONE_COMMIT_EACH = 50;

export type QuarantinedLink = { path: string; target: string };

/** Symbolic links in the index (`git ls-files -s -z`, mode 120000), with their git-stored targets. */
export async function indexedLinks(git: Git): Promise<Array<{ path: string; oid: string }>> {
  const out = await git.runBuffer(['ls-files', '-s', '-z']);
  const links: Array<{ path: string; oid: string }> = [];
  let start = 0;
  while (start < out.length) {
    let end = out.indexOf(0, start);
    if (end === -1) end = out.length;
    // `<mode> <oid> <stage>\t<path>`; only links need parsing.
    if (out[start] === 0x31 && out.toString('latin1', start, start + 7) === '120000 ') {
      const tab = out.indexOf(9, start);
      const [, oid = ''] = out.toString('latin1', start, tab).split(' ');
      links.push({ path: out.toString('utf8', tab + 1, end), oid });
    }
    start = end + 1;
  }
  return links;
}

/**
 * Takes every symbolic link out of the vault in place (DESIGN.md §5: no link is ever followed): the link
 * itself is removed from the index and the working tree (never its target, which is never read), one
 * commit `<agent>: quarantine <path>` each, with an audit record naming the path and the target string git
 * stored for it. Runs under the repo lock right after a merge, before anything else reads the tree.
 */
export async function quarantineLinks(
  git: Git,
  root: string,
  agent: string,
  audit: (link: QuarantinedLink, commit: string) => Promise<void>,
): Promise<QuarantinedLink[]> {
  const links = await indexedLinks(git);
  if (links.length === 0) return [];
  const files = new VaultFiles(root);
  const head = (await git.run(['rev-parse', 'HEAD'])).trim();
  const done: QuarantinedLink[] = [];
  // Shortest first: a linked folder goes before anything a broken index lists under it.
  links.sort((a, b) => a.path.length - b.path.length);
  for (const { path, oid } of links) {
    const stored = await git.runBuffer(['cat-file', 'blob', oid]);
    const target = stored.subarray(0, 4096).toString('utf8');
    const entry = await files.inspect(path);
    // Only the link itself is removed; anything else at the path (or a path under another link) is left.
    if (entry.kind === 'refused' && entry.problem === 'link' && entry.at === path) await files.remove(path);
    await git.run(['rm', '--quiet', '--cached', '--ignore-unmatch', '--', `:(literal)${path}`]);
    const link = { path, target };
    await audit(link, head);
    done.push(link);
    if (links.length <= ONE_COMMIT_EACH) await commitQuarantine(git, `${agent}: quarantine ${path}`);
  }
  if (links.length > ONE_COMMIT_EACH) {
    await commitQuarantine(git, `${agent}: quarantine ${links.length} links`);
  }
  return done;
}

async function commitQuarantine(git: Git, message: string): Promise<void> {
  // The audit record was just appended, so the folder exists (as a real folder: VaultFiles made it).
  await git.run(['add', '--all', '--', FOLDERS.logs]);
  await git.run(['commit', '--quiet', '--no-verify', '-m', message]);
}
