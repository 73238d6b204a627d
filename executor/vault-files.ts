import { CodecError, decodeApproval } from '../core/codec.js';
import { FrontmatterError, type MarkdownDoc, parseMarkdown, stringifyMarkdown } from '../core/frontmatter.js';
import { FOLDERS, itemPaths, locate } from '../core/layout.js';
import type { RefusalProblem } from '../core/vault/safe-fs.js';
import { VaultFiles } from '../core/vault/safe-fs.js';
import type { Approval } from './signature.js';

/**
 * The task files the executor touches, read and written only through VaultFiles (DESIGN.md §5): a
 * symbolic link, a symlinked folder, a FIFO or an oversized file is never read, written through or moved;
 * it is reported to `onUnsafe` (the executive audits it once and leaves it for the git owner) and skipped.
 * Every path is vault-relative and POSIX.
 */

export type UnsafeEntry = { path: string; problem: RefusalProblem; reason: string };

export type ReadApproval =
  | { kind: 'ok'; raw: MarkdownDoc; approval: Approval; text: string }
  /** Frontmatter parses but is not a valid approval request: it can still carry a refusal reason. */
  | { kind: 'invalid'; raw: MarkdownDoc; reason: string; text: string }
  /** A regular file that is not a markdown file with frontmatter at all. */
  | { kind: 'unreadable'; reason: string; text: string }
  /** A link, special file or oversized file (or under a linked folder): never read, never moved. */
  | { kind: 'unsafe'; entry: UnsafeEntry }
  | { kind: 'missing' };

export class TaskFiles {
  readonly files: VaultFiles;

  constructor(
    readonly root: string,
    private readonly onUnsafe: (entry: UnsafeEntry) => void = () => undefined,
  ) {
    this.files = new VaultFiles(root);
  }

  /** Reports an unsafe entry found by a caller that used `files` directly. */
  reportUnsafe(entry: UnsafeEntry): void {
    this.onUnsafe(entry);
  }

  /** Markdown files directly in `dir` (reporting links and special files there, or `dir` itself). */
  async listMarkdown(dir: string): Promise<string[]> {
    const listing = await this.files.list(dir);
    for (const u of listing.unsafe) if (u.path === dir || u.path.endsWith('.md')) this.onUnsafe(u);
    return listing.files.filter((f) => f.endsWith('.md'));
  }

  /** Real sub-folders of `dir`; a linked sub-folder is reported and skipped. */
  async listFolders(dir: string): Promise<string[]> {
    const listing = await this.files.list(dir);
    for (const u of listing.unsafe) this.onUnsafe(u);
    return listing.folders;
  }

  /** A regular file at `path`; anything unsafe there is reported. */
  async isFile(path: string): Promise<boolean> {
    const entry = await this.files.inspect(path);
    if (entry.kind === 'refused') {
      this.onUnsafe({ path: entry.at, problem: entry.problem, reason: entry.reason });
      return false;
    }
    return entry.kind === 'file';
  }

  /** Something (a file or a link or anything) is at `path`: a target that must not be overwritten. */
  async occupied(path: string): Promise<boolean> {
    return (await this.files.inspect(path)).kind !== 'missing';
  }

  async readApproval(path: string): Promise<ReadApproval> {
    const read = await this.files.readText(path);
    if (read.kind === 'missing') return read;
    if (read.kind === 'refused') {
      const entry = { path: read.at, problem: read.problem, reason: read.reason };
      this.onUnsafe(entry);
      return { kind: 'unsafe', entry };
    }
    const { text } = read;
    let raw: MarkdownDoc;
    try {
      raw = parseMarkdown(text);
    } catch (error) {
      if (error instanceof FrontmatterError) return { kind: 'unreadable', reason: error.message, text };
      throw error;
    }
    try {
      return { kind: 'ok', raw, approval: decodeApproval(text), text };
    } catch (error) {
      if (error instanceof CodecError) return { kind: 'invalid', raw, reason: error.message, text };
      throw error;
    }
  }

  async writeDoc(path: string, doc: MarkdownDoc): Promise<void> {
    await this.files.writeAtomic(path, stringifyMarkdown(doc));
  }

  /** Removes a regular file (or a link itself, never its target) if present; true when it was there. */
  async remove(path: string): Promise<boolean> {
    return this.files.remove(path);
  }

  /** `Pending_Approval/<domain>/<id>.md` paths of a task that exist (as regular files) in the working tree. */
  async pendingPaths(id: string): Promise<string[]> {
    const out: string[] = [];
    for (const domain of await this.listFolders(FOLDERS.pendingApproval)) {
      const path = `${FOLDERS.pendingApproval}/${domain}/${id}.md`;
      if (await this.isFile(path)) out.push(path);
    }
    return out;
  }

  /** Every `Pending_Approval/<domain>/<id>.md` path a task could have, present or not (for commits of deletions). */
  async allPendingPaths(id: string): Promise<string[]> {
    return (await this.listFolders(FOLDERS.pendingApproval)).map(
      (domain) => `${FOLDERS.pendingApproval}/${domain}/${id}.md`,
    );
  }

  /** Every `In_Progress/<agent>/<id>.md` path, present or not (for commits of moves). */
  async allInProgressPaths(id: string): Promise<string[]> {
    return (await this.listFolders(FOLDERS.inProgress)).map(
      (agent) => `${FOLDERS.inProgress}/${agent}/${id}.md`,
    );
  }

  /** The item a task's approval refers to: its `source` when that is an item path of this task, else `In_Progress/<any>/<id>.md`. */
  async findItem(id: string, source?: unknown): Promise<string | undefined> {
    if (typeof source === 'string') {
      const where = locate(source);
      if (
        where?.role === 'item' &&
        where.phase === 'InProgress' &&
        where.id === id &&
        (await this.isFile(source))
      ) {
        return source;
      }
    }
    for (const agent of await this.listFolders(FOLDERS.inProgress)) {
      const path = `${FOLDERS.inProgress}/${agent}/${id}.md`;
      if (await this.isFile(path)) return path;
    }
    return undefined;
  }

  /**
   * Moves the task's item next to its finished approval (`Done/<id>.item.md` or `Rejected/<id>.item.md`),
   * recording the final status in its frontmatter when it has one. An item that is a link, a special or an
   * oversized file is never read or moved (reported instead). Returns the paths touched.
   */
  async retireItem(
    id: string,
    source: unknown,
    target: 'done' | 'rejected',
    status: string,
  ): Promise<string[]> {
    const from = await this.findItem(id, source);
    if (!from) return [];
    const to = target === 'done' ? itemPaths.doneItem(id) : itemPaths.rejectedItem(id);
    const read = await this.files.readText(from);
    if (read.kind === 'missing') return [];
    if (read.kind === 'refused') {
      this.onUnsafe({ path: read.at, problem: read.problem, reason: read.reason });
      return [];
    }
    let content = read.text;
    try {
      const doc = parseMarkdown(read.text);
      content = stringifyMarkdown({ data: { ...doc.data, status }, body: doc.body });
    } catch {
      // An item we cannot parse moves unchanged.
    }
    if (!(await this.occupied(to))) await this.files.writeAtomic(to, content);
    await this.files.remove(from);
    return [from, to];
  }

  /**
   * ADR 0001's error place for a file that cannot be read at all: its bytes are kept unchanged as
   * `Needs_Action/_errors/<id>.orig` and `_errors/<id>.md` describes the error. Returns the paths touched.
   */
  async quarantine(path: string, id: string, reason: string, now: Date): Promise<string[]> {
    let stem = id;
    for (let n = 2; await this.occupied(itemPaths.error(stem)); n++) stem = `${id}-${n}`;
    const description = itemPaths.error(stem);
    const original = `${FOLDERS.errors}/${stem}.orig`;
    if (!(await this.files.move(path, original))) return [];
    await this.files.writeIfAbsent(
      description,
      stringifyMarkdown({
        data: {
          type: 'error',
          task: id,
          status: 'error',
          error: reason,
          original_path: path,
          kept_as: original,
          created: now.toISOString(),
        },
        body: `The local executive could not read \`${path}\`: ${reason}\n\nIts bytes are kept unchanged in \`${original}\`.\n`,
      }),
    );
    return [path, original, description];
  }
}
