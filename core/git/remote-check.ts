import type { Git } from '../git.js';

/**
 * What the remote may bring in (DESIGN.md §5: the cloud may be compromised). Every commit fetched from
 * `origin/main` is checked with git plumbing only (nothing is checked out, nothing outside git's object
 * store is read) before it is fast-forwarded to or rebased onto.
 */
export type RemoteLimits = {
  /** A file in the remote's tree larger than this is refused (default 25 MiB). */
  maxBlobBytes: number;
  /** More files than this in the remote's tree is refused (default 100 000). */
  maxFiles: number;
  /** More new commits than this in one fetch is refused (default 20 000). */
  maxNewCommits: number;
  /** A path longer than this many bytes is refused (default 4096). */
  maxPathBytes: number;
};

export const DEFAULT_REMOTE_LIMITS: RemoteLimits = {
  maxBlobBytes: 25 * 1024 * 1024,
  maxFiles: 100_000,
  maxNewCommits: 20_000,
  maxPathBytes: 4096,
};

export type RemoteVerdict = { ok: true; symlinks: number } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Code points HFS+ ignores in names, so `.g\u200cit` is `.git` there (git's own is_hfs_dotgit list). */
const HFS_IGNORABLE = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/** Names git treats specially that must never be symbolic links (git refuses a symlinked .gitmodules). */
const NEVER_LINKS = new Set(['.gitmodules', '.gitattributes', '.gitignore', '.mailmap']);

/**
 * Why git (on any platform) or fte would refuse this tree path, or undefined when it is a plain path:
 * not UTF-8, control characters, backslashes, absolute, empty/`.`/`..` components, and every spelling of
 * `.git` some file system resolves to git's own directory (any letter case, trailing spaces or dots,
 * NTFS alternate streams `.git::$INDEX_ALLOCATION`, the short name `git~1`, HFS+ ignorable characters).
 */
export function pathProblem(
  raw: Uint8Array,
  maxBytes = DEFAULT_REMOTE_LIMITS.maxPathBytes,
): string | undefined {
  if (raw.length === 0) return 'an empty path';
  if (raw.length > maxBytes) return `a path longer than ${maxBytes} bytes`;
  let path: string;
  try {
    path = utf8.decode(raw);
  } catch {
    return 'a path that is not valid UTF-8';
  }
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'a path with a control character';
  if (path.includes('\\')) return 'a path with a backslash';
  for (const part of path.split('/')) {
    if (part === '' || part === '.' || part === '..') return 'a path with an empty, "." or ".." component';
    const folded = part.replace(HFS_IGNORABLE, '').toLowerCase();
    const trimmed = folded.replace(/[ .]+$/, '');
    if (trimmed === '.git' || /^\.git[ .]*:/.test(folded)) return 'a path with a .git component';
    if (/^git~\d+$/.test(trimmed)) return 'a path with an NTFS short name of .git (git~1)';
  }
  return undefined;
}

function describePath(raw: Uint8Array): string {
  return JSON.stringify(Buffer.from(raw).toString('utf8'));
}

type TreeEntry = { mode: string; oid: string; size: number; path: Buffer };

/** Parses `git ls-tree -r -z -l` output: `<mode> <type> <oid> <size>\t<path>\0`. */
function* treeEntries(out: Buffer): Generator<TreeEntry> {
  let start = 0;
  while (start < out.length) {
    let end = out.indexOf(0, start);
    if (end === -1) end = out.length;
    const tab = out.indexOf(9, start);
    if (tab !== -1 && tab < end) {
      const [mode = '', , oid = '', size = '-'] = out.toString('latin1', start, tab).split(/ +/);
      yield { mode, oid, size: size === '-' ? 0 : Number(size), path: out.subarray(tab + 1, end) };
    }
    start = end + 1;
  }
}

/**
 * Checks what `tip` would bring in over `base` (our HEAD; undefined before the first commit): the number
 * of new commits and the whole tree of `tip` (paths, file modes, sizes, file count), plus what changed
 * since `base`: `.gitattributes` that would make git run a program, and added paths where the working tree
 * holds a local file (`ignoredAmong` says which of those git would silently overwrite because they are
 * ignored). Symbolic links are allowed here (they are quarantined after the merge) but never one git
 * itself refuses, nor a path under one. Only the tip is ever checked out (a fast-forward or a rebase onto
 * it), so only its tree counts: a bad commit fixed by a later one on top is accepted with the fix.
 */
export async function checkRemoteTip(
  git: Git,
  tip: string,
  base: string | undefined,
  limits: RemoteLimits,
  options: {
    /** New commits, when the caller already counted them (`rev-list --left-right --count`). */
    newCommits?: number;
    /** Of these added paths that exist in the working tree, the ones git ignores. */
    ignoredAmong: (added: string[]) => Promise<string[]>;
  },
): Promise<RemoteVerdict> {
  const short = tip.slice(0, 12);
  const count =
    options.newCommits ??
    Number((await git.run(['rev-list', '--count', ...(base ? [tip, `^${base}`] : [tip])])).trim());
  if (count > limits.maxNewCommits) {
    return {
      ok: false,
      reason: `${count} new commits at once, more than the limit of ${limits.maxNewCommits}`,
    };
  }

  const out = await git.runBuffer(['ls-tree', '-r', '-z', '-l', '--full-tree', tip]);
  const seen = new Set<string>();
  const links = new Set<string>();
  const attributes = new Map<string, string>();
  let files = 0;
  for (const entry of treeEntries(out)) {
    if (++files > limits.maxFiles) {
      return { ok: false, reason: `more than ${limits.maxFiles} files in the tree of ${short}` };
    }
    const problem = pathProblem(entry.path, limits.maxPathBytes);
    if (problem) return { ok: false, reason: `${problem}: ${describePath(entry.path)} (commit ${short})` };
    const path = entry.path.toString('utf8');
    if (entry.mode === '160000')
      return { ok: false, reason: `a submodule (gitlink) at ${describePath(entry.path)}` };
    if (entry.mode !== '100644' && entry.mode !== '100755' && entry.mode !== '120000') {
      return { ok: false, reason: `an entry with file mode ${entry.mode} at ${describePath(entry.path)}` };
    }
    if (entry.size > limits.maxBlobBytes) {
      return {
        ok: false,
        reason: `a file of ${entry.size} bytes, more than the limit of ${limits.maxBlobBytes}: ${describePath(entry.path)}`,
      };
    }
    if (seen.has(path))
      return { ok: false, reason: `the path ${describePath(entry.path)} twice in one tree` };
    seen.add(path);
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (entry.mode === '120000') {
      if (NEVER_LINKS.has(name.toLowerCase())) {
        return { ok: false, reason: `${describePath(entry.path)} as a symbolic link` };
      }
      links.add(path);
    }
    if (name === '.gitattributes') attributes.set(path, entry.oid);
  }
  // A file under a symbolic link (a broken tree git would write through the link) is refused outright.
  if (links.size > 0) {
    for (const path of seen) {
      for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
        if (links.has(path.slice(0, slash))) {
          return {
            ok: false,
            reason: `${JSON.stringify(path)} under the symbolic link ${JSON.stringify(path.slice(0, slash))}`,
          };
        }
      }
    }
  }

  // What changed since our HEAD (one diff-tree: identical subtrees are skipped, so this is cheap).
  const added: string[] = [];
  const changedAttributes: Array<[string, string]> = [];
  if (base) {
    const diff = await git.runBuffer(['diff-tree', '-r', '-z', '--no-renames', base, tip]);
    let header: string | undefined;
    let start = 0;
    while (start < diff.length) {
      let end = diff.indexOf(0, start);
      if (end === -1) end = diff.length;
      const token = diff.toString('utf8', start, end);
      start = end + 1;
      if (token.startsWith(':')) {
        header = token;
        continue;
      }
      if (header === undefined) continue;
      const status = header.slice(header.lastIndexOf(' ') + 1);
      header = undefined;
      if (status === 'A') added.push(token);
      const oid = attributes.get(token);
      if (status !== 'D' && oid) changedAttributes.push([token, oid]);
    }
  } else {
    added.push(...seen);
    changedAttributes.push(...attributes);
  }
  for (const [path, oid] of changedAttributes) {
    const problem = attributesProblem(await git.run(['cat-file', 'blob', oid]));
    if (problem) return { ok: false, reason: `${JSON.stringify(path)} ${problem}` };
  }
  if (added.length > 0) {
    const [ignored] = await options.ignoredAmong(added);
    if (ignored !== undefined) {
      return {
        ok: false,
        reason: `checking it out would overwrite the local ignored file ${JSON.stringify(ignored)}`,
      };
    }
  }
  return { ok: true, symlinks: links.size };
}

/**
 * A `.gitattributes` that makes git run a program on checkout or merge (a `filter` driver, which the
 * owner's global git config may define, e.g. git-lfs; a custom `merge` driver), or that makes checkout
 * rewrite bytes (`eol`, `text`, `crlf`, `ident`, `working-tree-encoding`): a file the owner signed would
 * no longer hash to what was signed. Built-in merges (`union`, `text`, `binary`) are fine.
 */
export function attributesProblem(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (/(^|\s)filter(=|\s|$)/.test(line)) return 'sets a filter driver (a program run on checkout)';
    const rewrite = /(^|\s)[-!]?(eol|text|crlf|ident|working-tree-encoding)(=\S*)?(\s|$)/.exec(line);
    if (rewrite) return `sets the "${rewrite[2]}" attribute (checkout would rewrite file bytes)`;
    const merge = /(^|\s)merge=(\S+)/.exec(line);
    if (merge && !['union', 'text', 'binary'].includes(merge[2] as string)) {
      return `sets the custom merge driver ${JSON.stringify(merge[2])}`;
    }
  }
  return undefined;
}
