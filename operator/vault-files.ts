import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import type { CodecError, Decoded } from '../core/codec.js';
import { MAX_VAULT_FILE_BYTES } from '../core/codec.js';
import { FteError } from '../core/errors.js';
import { isErrno } from '../core/fsutil.js';
import { FOLDERS, type Location, locate } from '../core/layout.js';
import { ApprovalFrontmatter, canonicalize, ItemFrontmatter } from '../core/schemas.js';
import { type RefusalProblem, VaultFiles } from '../core/vault/safe-fs.js';
import { parseMarkdownFast } from './quick-frontmatter.js';

/** One protocol file of a task, as found on disk (lstat: never through a link). */
export type TaskFile = Location & {
  path: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /**
   * Set when the entry is a symbolic link, a FIFO, socket or device, or sits under a linked folder: the
   * reason ("unsafe path: symbolic link, never followed"). Such a file is never opened, hashed or parsed.
   */
  unsafe?: string;
};

/** Why a file could not be read as what its folder says it is. */
export type FileProblem = {
  /**
   * `too_large`, `frontmatter` (not markdown with YAML frontmatter: bad YAML, binary, not UTF-8),
   * `schema`, or `unsafe` (a link or special file: not read at all).
   */
  kind: CodecError['kind'] | 'unsafe';
  message: string;
};

/** A file's content: decoded, or the reason it cannot be, never an exception. */
export type ReadResult<T> = { file: TaskFile; sha256?: string } & (
  | { ok: true; decoded: Decoded<T>; text: string }
  | { ok: false; problem: FileProblem; data?: Record<string, unknown> }
);

/** An entry of the vault's task folders that is not read: a link or special file, where it is and why. */
export type UnsafeEntry = { path: string; reason: string };

const TWO_LEVEL = [FOLDERS.needsAction, FOLDERS.inProgress, FOLDERS.pendingApproval] as const;
const FLAT = [FOLDERS.approved, FOLDERS.rejected, FOLDERS.done] as const;

/** The reason recorded for an entry that is never read. */
export function unsafeReason(problem: RefusalProblem | 'link' | 'special'): string {
  switch (problem) {
    case 'link':
      return 'unsafe path: symbolic link, never followed';
    case 'special':
      return 'unsafe path: special file (FIFO, socket or device), never read';
    case 'not_folder':
      return 'unsafe path: a folder on the way is not a folder';
    default:
      return `unsafe path: ${problem.replace('_', ' ')}`;
  }
}

/**
 * The file at `path` as it is on disk, by lstat (a link is reported, never followed). Synchronous on
 * purpose: a scan stats thousands of small local files, and one thread-pool round trip per file costs ten
 * times the stat itself. The folders above it were checked (they are real folders) by the listing.
 */
function statFile(root: string, path: string, unsafe?: string): TaskFile | undefined {
  const location = locate(path);
  if (!location) return undefined;
  try {
    const info = lstatSync(join(root, path));
    const problem =
      unsafe ??
      (info.isSymbolicLink() ? unsafeReason('link') : info.isFile() ? undefined : unsafeReason('special'));
    if (info.isDirectory()) return undefined;
    return {
      ...location,
      path,
      size: problem ? 0 : info.size,
      mtimeMs: info.mtimeMs,
      ctimeMs: info.ctimeMs,
      ino: info.ino,
      ...(problem ? { unsafe: problem } : {}),
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

/** The task files of the vault and the entries of its task folders that are never read. */
export type VaultScan = { files: TaskFile[]; unsafe: UnsafeEntry[] };

/**
 * Every task file of the vault (the folders of DESIGN.md §2 that hold items and approvals), listed
 * through VaultFiles: a linked folder is never entered, and a link or special file in a task position
 * becomes a TaskFile marked `unsafe` (so its task shows Failed with the reason) without being read.
 */
export async function scanVault(root: string): Promise<VaultScan> {
  const vault = new VaultFiles(root);
  const found: Array<{ path: string; unsafe?: string }> = [];
  const unsafe: UnsafeEntry[] = [];
  const take = (listing: Awaited<ReturnType<VaultFiles['list']>>, dir: string) => {
    for (const name of listing.files) if (name.endsWith('.md')) found.push({ path: `${dir}/${name}` });
    for (const entry of listing.unsafe) {
      const reason = unsafeReason(entry.problem);
      unsafe.push({ path: entry.path, reason });
      if (entry.path.startsWith(`${dir}/`) && locate(entry.path))
        found.push({ path: entry.path, unsafe: reason });
    }
  };
  for (const top of TWO_LEVEL) {
    const listing = await vault.list(top);
    take({ ...listing, files: [] }, top);
    for (const sub of listing.folders) take(await vault.list(`${top}/${sub}`), `${top}/${sub}`);
  }
  for (const top of FLAT) take(await vault.list(top), top);
  const files = found
    .map(({ path, unsafe: why }) => statFile(root, path, why))
    .filter((f): f is TaskFile => f !== undefined);
  return { files, unsafe };
}

/** Every task file of the vault; see scanVault. */
export async function scanTaskFiles(root: string): Promise<TaskFile[]> {
  return (await scanVault(root)).files;
}

/** The files of one task, wherever they are; `id` is a file stem (never contains a separator). */
export async function findTaskFiles(root: string, id: string): Promise<TaskFile[]> {
  if (id.includes('/') || id.includes('\\') || id.includes('\u0000')) return [];
  const vault = new VaultFiles(root);
  const candidates: string[] = [];
  for (const top of TWO_LEVEL) {
    for (const sub of await vault.listFolders(top)) candidates.push(`${top}/${sub}/${id}.md`);
  }
  for (const top of FLAT) candidates.push(`${top}/${id}.md`, `${top}/${id}.item.md`);
  const files: TaskFile[] = [];
  for (const path of candidates) {
    const entry = await vault.inspect(path);
    if (entry.kind === 'missing' || entry.kind === 'dir') continue;
    const file = statFile(root, path, entry.kind === 'refused' ? unsafeReason(entry.problem) : undefined);
    if (file && file.id === id) files.push(file);
  }
  return files;
}

/**
 * sha256 of a vault file's bytes, streamed (a 20 MB mail is hashed without holding it twice); undefined
 * when it is not a regular file reached through real folders (a link or FIFO is never opened).
 */
export async function hashFile(root: string, path: string): Promise<string | undefined> {
  if ((await new VaultFiles(root).inspect(path)).kind !== 'file') return undefined;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(join(root, path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ELOOP')) return undefined;
    throw error;
  }
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A file that was listed a moment ago is gone: the vault moved on; the caller tries again. */
export class VanishedFileError extends FteError {
  constructor(path: string) {
    super(`${path} disappeared while it was read`, { retryable: true });
  }
}

/**
 * The bytes and sha256 of a task file, or the reason it is not read: a link or special file (never
 * opened), or a file above MAX_VAULT_FILE_BYTES (not read into memory). Through VaultFiles only.
 */
export async function readTaskFileBytes(
  root: string,
  file: TaskFile,
  what = 'file',
): Promise<{ ok: true; bytes: Buffer; sha256: string } | { ok: false; problem: FileProblem }> {
  if (file.unsafe) return { ok: false, problem: { kind: 'unsafe', message: `${what}: ${file.unsafe}` } };
  if (file.size > MAX_VAULT_FILE_BYTES) {
    return {
      ok: false,
      problem: {
        kind: 'too_large',
        message: `${what} is ${file.size} bytes, more than the ${MAX_VAULT_FILE_BYTES} bytes allowed`,
      },
    };
  }
  const read = await new VaultFiles(root).readBytes(file.path, MAX_VAULT_FILE_BYTES);
  if (read.kind === 'missing') throw new VanishedFileError(file.path);
  if (read.kind === 'refused') {
    const kind = read.problem === 'too_large' ? 'too_large' : 'unsafe';
    const message =
      kind === 'too_large'
        ? `${what} is larger than the ${MAX_VAULT_FILE_BYTES} bytes allowed (${read.reason})`
        : `${what}: ${unsafeReason(read.problem)}`;
    return { ok: false, problem: { kind, message } };
  }
  return { ok: true, bytes: read.data, sha256: createHash('sha256').update(read.data).digest('hex') };
}

/**
 * readTaskFileBytes for a file a scan listed a moment ago (its folders were checked to be real folders
 * by that listing), synchronously: a cold mirror reads ten thousand small files, and the per-component
 * checks of VaultFiles cost four times the read. The file itself is opened with O_NOFOLLOW|O_NONBLOCK
 * and checked with fstat, so a link swapped in since is refused and a FIFO never blocks.
 */
export function readListedFileSync(
  root: string,
  file: TaskFile,
  what = 'file',
): { ok: true; bytes: Buffer; sha256: string } | { ok: false; problem: FileProblem } {
  if (file.unsafe) return { ok: false, problem: { kind: 'unsafe', message: `${what}: ${file.unsafe}` } };
  const tooLarge = (size: number) => ({
    ok: false as const,
    problem: {
      kind: 'too_large' as const,
      message: `${what} is ${size} bytes, more than the ${MAX_VAULT_FILE_BYTES} bytes allowed`,
    },
  });
  if (file.size > MAX_VAULT_FILE_BYTES) return tooLarge(file.size);
  let fd: number;
  try {
    fd = openSync(join(root, file.path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) throw new VanishedFileError(file.path);
    if (isErrno(error, 'ELOOP')) {
      return { ok: false, problem: { kind: 'unsafe', message: `${what}: ${unsafeReason('link')}` } };
    }
    throw error;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) {
      return { ok: false, problem: { kind: 'unsafe', message: `${what}: ${unsafeReason('special')}` } };
    }
    if (info.size > MAX_VAULT_FILE_BYTES) return tooLarge(info.size);
    const bytes = Buffer.alloc(info.size);
    let filled = 0;
    while (filled < info.size) {
      const n = readSync(fd, bytes, filled, info.size - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    const data = bytes.subarray(0, filled);
    return { ok: true, bytes: data, sha256: createHash('sha256').update(data).digest('hex') };
  } finally {
    closeSync(fd);
  }
}

/** Reads and decodes one file with a schema; never through a link, never more than MAX_VAULT_FILE_BYTES. */
async function readWith<T>(
  root: string,
  file: TaskFile,
  schema: z.ZodType<T>,
  what: string,
): Promise<ReadResult<T>> {
  const read = await readTaskFileBytes(root, file, what);
  if (!read.ok) return { file, ok: false, problem: read.problem };
  const { bytes, sha256 } = read;
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
    // parseMarkdown throws only FrontmatterError; whatever else is still this file's problem.
    return {
      file,
      sha256,
      ok: false,
      problem: {
        kind: 'frontmatter',
        message: `${what}: ${error instanceof Error ? error.message : String(error)}`,
      },
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
