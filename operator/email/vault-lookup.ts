import { parseMarkdown } from '../../core/frontmatter.js';
import { FOLDERS } from '../../core/layout.js';
import { findTaskFiles, readListedFileSync, scanTaskFiles, type TaskFile } from '../vault-files.js';

/**
 * What the vault already knows about emails, read from the files themselves, so a lost state file can
 * never make the watcher take a message in twice: where a task's files are, and which task a Message-ID
 * belongs to (its own message, a follow-up attached to it, or the reply Local sent for it).
 */

const FLAT = [FOLDERS.approved, FOLDERS.rejected, FOLDERS.done] as const;

/**
 * Every existing vault-relative path of task `id` (item, approval, outcome, error), in any state; a link
 * or special file counts as existing (so its id is never reused) but is never read (vault-files.ts).
 */
export async function taskFilesOf(root: string, id: string): Promise<string[]> {
  return (await findTaskFiles(root, id)).map((file) => file.path);
}

export type TaskState =
  /** Not in the vault. */
  | { kind: 'absent' }
  /** Open and ours to add to: the item waits in `Needs_Action/` or is held by this agent (drafting or awaiting approval). */
  | { kind: 'open'; itemPath: string }
  /** Decided, finished, failed, or held by another agent: a new message in its thread is a new task. */
  | { kind: 'closed'; paths: string[] };

export async function taskState(root: string, id: string, agent: string): Promise<TaskState> {
  const files = await findTaskFiles(root, id);
  const paths = files.map((file) => file.path);
  if (paths.length === 0) return { kind: 'absent' };
  const decided = paths.some((p) => FLAT.some((top) => p.startsWith(`${top}/`)));
  // A link or special file is never an item to add to: its thread is closed, a new message is a new task.
  const unsafe = files.some((file) => file.unsafe);
  const item = paths.find(
    (p) =>
      (p.startsWith(`${FOLDERS.needsAction}/`) && !p.startsWith(`${FOLDERS.errors}/`)) ||
      p.startsWith(`${FOLDERS.inProgress}/${agent}/`),
  );
  if (!decided && !unsafe && item) return { kind: 'open', itemPath: item };
  return { kind: 'closed', paths };
}

/** Frontmatter keys that hold Message-IDs belonging to a task. */
const ID_KEYS = ['message_id', 'followup_message_ids', 'sent_message_id'] as const;
const HEAD_BYTES = 16 * 1024;

type Entry = { mtimeMs: number; size: number; task: string; ids: string[] };

/**
 * Message-ID → task id, from the frontmatter of every task file. Refreshing re-reads only files whose
 * size or mtime changed, so it stays cheap on a large vault.
 */
export class MessageIndex {
  private readonly files = new Map<string, Entry>();
  private byId = new Map<string, string>();

  constructor(private readonly root: string) {}

  taskFor(messageId: string): string | undefined {
    return this.byId.get(messageId);
  }

  /** Records ids written by this process, so they are known before the next refresh. */
  remember(messageId: string, task: string): void {
    this.byId.set(messageId, task);
  }

  async refresh(): Promise<void> {
    const seen = new Set<string>();
    // Listed through VaultFiles: links and special files (a FIFO would block a read forever) are skipped.
    for (const file of await scanTaskFiles(this.root)) {
      if (file.unsafe) continue;
      const path = file.path;
      seen.add(path);
      const known = this.files.get(path);
      if (known && known.mtimeMs === file.mtimeMs && known.size === file.size) continue;
      this.files.set(path, { mtimeMs: file.mtimeMs, size: file.size, ...this.read(file) });
    }
    for (const path of [...this.files.keys()]) if (!seen.has(path)) this.files.delete(path);
    const byId = new Map<string, string>();
    for (const entry of this.files.values()) for (const id of entry.ids) byId.set(id, entry.task);
    this.byId = byId;
  }

  private read(file: TaskFile): { task: string; ids: string[] } {
    const path = file.path;
    const name = path.slice(path.lastIndexOf('/') + 1);
    const task = name.replace(/(\.item)?\.md$/, '');
    let head: string;
    try {
      const read = readListedFileSync(this.root, file);
      if (!read.ok) return { task, ids: [] };
      head = read.bytes.subarray(0, HEAD_BYTES).toString('utf8');
    } catch {
      return { task, ids: [] };
    }
    const end = head.indexOf('\n---', 4);
    if (!head.startsWith('---') || end < 0) return { task, ids: [] };
    let data: Record<string, unknown>;
    try {
      data = parseMarkdown(`${head.slice(0, end)}\n---\n`).data;
    } catch {
      return { task, ids: [] };
    }
    const ids: string[] = [];
    for (const key of ID_KEYS) {
      const value = data[key];
      for (const v of Array.isArray(value) ? value : [value])
        if (typeof v === 'string' && v.trim()) ids.push(v.trim());
    }
    if (typeof data.task === 'string' && data.type === 'approval_request') return { task: data.task, ids };
    return { task, ids };
  }
}
