import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMarkdown } from '../../core/frontmatter.js';
import { isErrno, listFolders, listMarkdown } from '../../core/fsutil.js';
import { FOLDERS } from '../../core/layout.js';

/**
 * What the vault already knows about emails, read from the files themselves, so a lost state file can
 * never make the watcher take a message in twice: where a task's files are, and which task a Message-ID
 * belongs to (its own message, a follow-up attached to it, or the reply Local sent for it).
 */

const TWO_LEVEL = [FOLDERS.needsAction, FOLDERS.inProgress, FOLDERS.pendingApproval] as const;
const FLAT = [FOLDERS.approved, FOLDERS.rejected, FOLDERS.done] as const;

/** Every existing vault-relative path of task `id` (item, approval, outcome, error), in any state. */
export async function taskFilesOf(root: string, id: string): Promise<string[]> {
  const candidates: string[] = [];
  for (const top of TWO_LEVEL) {
    for (const sub of await listFolders(join(root, top))) candidates.push(`${top}/${sub}/${id}.md`);
  }
  for (const top of FLAT) candidates.push(`${top}/${id}.md`, `${top}/${id}.item.md`);
  return candidates.filter((path) => existsSync(join(root, path)));
}

export type TaskState =
  /** Not in the vault. */
  | { kind: 'absent' }
  /** Open and ours to add to: the item waits in `Needs_Action/` or is held by this agent (drafting or awaiting approval). */
  | { kind: 'open'; itemPath: string }
  /** Decided, finished, failed, or held by another agent: a new message in its thread is a new task. */
  | { kind: 'closed'; paths: string[] };

export async function taskState(root: string, id: string, agent: string): Promise<TaskState> {
  const paths = await taskFilesOf(root, id);
  if (paths.length === 0) return { kind: 'absent' };
  const decided = paths.some((p) => FLAT.some((top) => p.startsWith(`${top}/`)));
  const item = paths.find(
    (p) =>
      (p.startsWith(`${FOLDERS.needsAction}/`) && !p.startsWith(`${FOLDERS.errors}/`)) ||
      p.startsWith(`${FOLDERS.inProgress}/${agent}/`),
  );
  if (!decided && item) return { kind: 'open', itemPath: item };
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
    for (const path of await this.paths()) {
      seen.add(path);
      let info: Awaited<ReturnType<typeof stat>>;
      try {
        info = await stat(join(this.root, path));
      } catch (error) {
        if (isErrno(error, 'ENOENT')) continue;
        throw error;
      }
      const known = this.files.get(path);
      if (known && known.mtimeMs === info.mtimeMs && known.size === info.size) continue;
      this.files.set(path, { mtimeMs: info.mtimeMs, size: info.size, ...(await this.read(path)) });
    }
    for (const path of [...this.files.keys()]) if (!seen.has(path)) this.files.delete(path);
    const byId = new Map<string, string>();
    for (const entry of this.files.values()) for (const id of entry.ids) byId.set(id, entry.task);
    this.byId = byId;
  }

  private async paths(): Promise<string[]> {
    const out: string[] = [];
    for (const top of TWO_LEVEL) {
      for (const sub of await listFolders(join(this.root, top))) {
        for (const name of await listMarkdown(join(this.root, top, sub))) out.push(`${top}/${sub}/${name}`);
      }
    }
    for (const top of FLAT)
      for (const name of await listMarkdown(join(this.root, top))) out.push(`${top}/${name}`);
    return out;
  }

  private async read(path: string): Promise<{ task: string; ids: string[] }> {
    const name = path.slice(path.lastIndexOf('/') + 1);
    const task = name.replace(/(\.item)?\.md$/, '');
    const handle = await open(join(this.root, path), 'r');
    let head: string;
    try {
      const buffer = Buffer.alloc(HEAD_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
      head = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
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
