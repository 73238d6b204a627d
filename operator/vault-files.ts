import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import type { CodecError, Decoded } from '../core/codec.js';
import { MAX_VAULT_FILE_BYTES } from '../core/codec.js';
import { FrontmatterError } from '../core/frontmatter.js';
import { isErrno, listFolders, listMarkdown } from '../core/fsutil.js';
import { FOLDERS, type Location, locate } from '../core/layout.js';
import { ApprovalFrontmatter, canonicalize, ItemFrontmatter } from '../core/schemas.js';
import { parseMarkdownFast } from './quick-frontmatter.js';

/** One protocol file of a task, as found on disk. */
export type TaskFile = Location & {
  path: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
};

/** Why a file could not be read as what its folder says it is. */
export type FileProblem = {
  /** `too_large`, `frontmatter` (not markdown with YAML frontmatter: bad YAML, binary, not UTF-8) or `schema`. */
  kind: CodecError['kind'];
  message: string;
};

/** A file's content: decoded, or the reason it cannot be, never an exception. */
export type ReadResult<T> = { file: TaskFile; sha256?: string } & (
  | { ok: true; decoded: Decoded<T>; text: string }
  | { ok: false; problem: FileProblem; data?: Record<string, unknown> }
);

const TWO_LEVEL = [FOLDERS.needsAction, FOLDERS.inProgress, FOLDERS.pendingApproval] as const;
const FLAT = [FOLDERS.approved, FOLDERS.rejected, FOLDERS.done] as const;

/**
 * Synchronous on purpose: a scan stats thousands of small local files, and one thread-pool round trip per
 * file costs ten times the stat itself.
 */
function statFile(root: string, path: string): TaskFile | undefined {
  const location = locate(path);
  if (!location) return undefined;
  try {
    const info = statSync(join(root, path));
    if (!info.isFile()) return undefined;
    return {
      ...location,
      path,
      size: info.size,
      mtimeMs: info.mtimeMs,
      ctimeMs: info.ctimeMs,
      ino: info.ino,
    };
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Every task file of the vault (the folders of DESIGN.md §2 that hold items and approvals). */
export async function scanTaskFiles(root: string): Promise<TaskFile[]> {
  const paths: string[] = [];
  for (const top of TWO_LEVEL) {
    for (const sub of await listFolders(join(root, top))) {
      for (const name of await listMarkdown(join(root, top, sub))) paths.push(`${top}/${sub}/${name}`);
    }
  }
  for (const top of FLAT)
    for (const name of await listMarkdown(join(root, top))) paths.push(`${top}/${name}`);
  return paths.map((path) => statFile(root, path)).filter((f): f is TaskFile => f !== undefined);
}

/** The files of one task, wherever they are; `id` is a file stem (never contains a separator). */
export async function findTaskFiles(root: string, id: string): Promise<TaskFile[]> {
  if (id.includes('/') || id.includes('\\') || id.includes('\u0000')) return [];
  const candidates: string[] = [];
  for (const top of TWO_LEVEL) {
    for (const sub of await listFolders(join(root, top))) candidates.push(`${top}/${sub}/${id}.md`);
  }
  for (const top of FLAT) candidates.push(`${top}/${id}.md`, `${top}/${id}.item.md`);
  return candidates
    .map((path) => statFile(root, path))
    .filter((f): f is TaskFile => f !== undefined && f.id === id);
}

/** sha256 of a file's bytes, streamed (a 20 MB mail is hashed without holding it twice). */
export async function hashFile(absPath: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(absPath)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads and decodes one file with a schema; files above MAX_VAULT_FILE_BYTES are not read into memory. */
async function readWith<T>(
  root: string,
  file: TaskFile,
  schema: z.ZodType<T>,
  what: string,
): Promise<ReadResult<T>> {
  const abs = join(root, file.path);
  if (file.size > MAX_VAULT_FILE_BYTES) {
    return {
      file,
      ok: false,
      problem: {
        kind: 'too_large',
        message: `${what} is ${file.size} bytes, more than the ${MAX_VAULT_FILE_BYTES} bytes allowed`,
      },
    };
  }
  const bytes = await readFile(abs);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return {
      file,
      sha256,
      ok: false,
      problem: { kind: 'frontmatter', message: `${what} is not UTF-8 text` },
    };
  }
  let data: Record<string, unknown>;
  let body: string;
  try {
    const doc = parseMarkdownFast(text);
    data = canonicalize(doc.data);
    body = doc.body;
  } catch (error) {
    if (!(error instanceof FrontmatterError)) throw error;
    return {
      file,
      sha256,
      ok: false,
      problem: { kind: 'frontmatter', message: `${what}: ${error.message}` },
    };
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 3)
      .map((issue) => {
        const key = issue.path.join('.') || '(root)';
        const value = data[String(issue.path[0])];
        return `${key}: ${issue.message}${value === undefined ? ' (missing)' : ''}`;
      })
      .join('; ');
    return { file, sha256, ok: false, data, problem: { kind: 'schema', message: `${what}: ${issues}` } };
  }
  return { file, sha256, ok: true, text, decoded: { data: parsed.data, body } };
}

export const readItemFile = (root: string, file: TaskFile): Promise<ReadResult<ItemFrontmatter>> =>
  readWith(root, file, ItemFrontmatter, 'item file');
export const readApprovalFile = (root: string, file: TaskFile): Promise<ReadResult<ApprovalFrontmatter>> =>
  readWith(root, file, ApprovalFrontmatter, 'approval request');
