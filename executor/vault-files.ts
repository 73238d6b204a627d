import { existsSync } from 'node:fs';
import { readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CodecError, decodeApproval, MAX_VAULT_FILE_BYTES } from '../core/codec.js';
import { FrontmatterError, type MarkdownDoc, parseMarkdown, stringifyMarkdown } from '../core/frontmatter.js';
import { isErrno, listFolders, writeFileAtomic, writeFileIfAbsent } from '../core/fsutil.js';
import { FOLDERS, itemPaths, locate } from '../core/layout.js';
import type { Approval } from './signature.js';

/** Reading and writing the task files the executor touches; every path is vault-relative and POSIX. */

export type ReadApproval =
  | { kind: 'ok'; raw: MarkdownDoc; approval: Approval; text: string }
  /** Frontmatter parses but is not a valid approval request: it can still carry a refusal reason. */
  | { kind: 'invalid'; raw: MarkdownDoc; reason: string; text: string }
  /** Not a markdown file with frontmatter at all (or too large). */
  | { kind: 'unreadable'; reason: string; text: string }
  | { kind: 'missing' };

export async function readApproval(root: string, path: string): Promise<ReadApproval> {
  let text: string;
  try {
    text = await readFile(join(root, path), 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return { kind: 'missing' };
    throw error;
  }
  if (Buffer.byteLength(text) > MAX_VAULT_FILE_BYTES) {
    return { kind: 'unreadable', reason: `larger than ${MAX_VAULT_FILE_BYTES} bytes`, text };
  }
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

export async function writeDoc(root: string, path: string, doc: MarkdownDoc): Promise<void> {
  await writeFileAtomic(join(root, path), stringifyMarkdown(doc));
}

/** `Pending_Approval/<domain>/<id>.md` paths of a task that exist in the working tree. */
export async function pendingPaths(root: string, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const domain of await listFolders(join(root, FOLDERS.pendingApproval))) {
    const path = `${FOLDERS.pendingApproval}/${domain}/${id}.md`;
    if (existsSync(join(root, path))) out.push(path);
  }
  return out;
}

/** Every `Pending_Approval/<domain>/<id>.md` path a task could have, present or not (for commits of deletions). */
export async function allPendingPaths(root: string, id: string): Promise<string[]> {
  return (await listFolders(join(root, FOLDERS.pendingApproval))).map(
    (domain) => `${FOLDERS.pendingApproval}/${domain}/${id}.md`,
  );
}

/** The item a task's approval refers to: its `source` when that is an item path of this task, else `In_Progress/<any>/<id>.md`. */
export async function findItem(root: string, id: string, source?: unknown): Promise<string | undefined> {
  if (typeof source === 'string') {
    const where = locate(source);
    if (
      where?.role === 'item' &&
      where.phase === 'InProgress' &&
      where.id === id &&
      existsSync(join(root, source))
    ) {
      return source;
    }
  }
  for (const agent of await listFolders(join(root, FOLDERS.inProgress))) {
    const path = `${FOLDERS.inProgress}/${agent}/${id}.md`;
    if (existsSync(join(root, path))) return path;
  }
  return undefined;
}

/** Every `In_Progress/<agent>/<id>.md` path, present or not (for commits of moves). */
export async function allInProgressPaths(root: string, id: string): Promise<string[]> {
  return (await listFolders(join(root, FOLDERS.inProgress))).map(
    (agent) => `${FOLDERS.inProgress}/${agent}/${id}.md`,
  );
}

/**
 * Moves the task's item next to its finished approval (`Done/<id>.item.md` or `Rejected/<id>.item.md`),
 * recording the final status in its frontmatter when it has one. Returns the paths touched.
 */
export async function retireItem(
  root: string,
  id: string,
  source: unknown,
  target: 'done' | 'rejected',
  status: string,
): Promise<string[]> {
  const from = await findItem(root, id, source);
  if (!from) return [];
  const to = target === 'done' ? itemPaths.doneItem(id) : itemPaths.rejectedItem(id);
  const text = await readFile(join(root, from), 'utf8');
  let content = text;
  try {
    const doc = parseMarkdown(text);
    content = stringifyMarkdown({ data: { ...doc.data, status }, body: doc.body });
  } catch {
    // An item we cannot parse moves unchanged.
  }
  if (existsSync(join(root, to))) {
    await unlink(join(root, from));
  } else {
    await writeFileAtomic(join(root, to), content);
    await unlink(join(root, from));
  }
  return [from, to];
}

/** Removes a file if present; true when it was there. */
export async function removeIfPresent(root: string, path: string): Promise<boolean> {
  try {
    await unlink(join(root, path));
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/**
 * ADR 0001's error place for a file that cannot be read at all: its bytes are kept unchanged as
 * `Needs_Action/_errors/<id>.orig` and `_errors/<id>.md` describes the error. Returns the paths touched.
 */
export async function quarantine(
  root: string,
  path: string,
  id: string,
  reason: string,
  now: Date,
): Promise<string[]> {
  let stem = id;
  for (let n = 2; existsSync(join(root, itemPaths.error(stem))); n++) stem = `${id}-${n}`;
  const description = itemPaths.error(stem);
  const original = `${FOLDERS.errors}/${stem}.orig`;
  await rename(join(root, path), join(root, original));
  await writeFileIfAbsent(
    join(root, description),
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
