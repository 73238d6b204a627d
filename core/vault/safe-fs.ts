import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { UnsafePathError } from '../errors.js';
import { isErrno } from '../fsutil.js';

/**
 * The only way vault content is read, written, moved or removed (DESIGN.md §5: the remote is hostile).
 * Every operation `lstat`s each component of the vault-relative path from the root down, so a symbolic
 * link, a symlinked folder, a device, FIFO or socket anywhere on the path is never read through, written
 * through or moved onto: it is reported as `refused` (reads) or an UnsafePathError (writes). Files are
 * opened with O_NOFOLLOW and checked again after opening (fstat), and read only up to a size limit.
 *
 * Race note: a component could change between the check and the use only if something else writes the
 * working tree meanwhile; within fte only the git owner of the clone does, under the same lock as the
 * steps that use this module.
 */

/** Vault files larger than this are never read into memory (items, approvals, logs, signals). */
export const MAX_VAULT_FILE_BYTES = 5 * 1024 * 1024;

export type RefusalProblem = 'link' | 'special' | 'not_folder' | 'too_large' | 'not_utf8' | 'bad_path';

export type Entry =
  | { kind: 'file'; size: number }
  | { kind: 'dir' }
  | { kind: 'missing' }
  /** `at` is the vault-relative path of the offending component (the path itself or one of its folders). */
  | { kind: 'refused'; problem: RefusalProblem; at: string; reason: string };

export type ReadResult =
  | { kind: 'ok'; text: string; bytes: number }
  | { kind: 'missing' }
  | { kind: 'refused'; problem: RefusalProblem; at: string; reason: string };

export type Listing = {
  /** Regular files directly inside the folder. */
  files: string[];
  /** Real sub-folders (not links); names starting with "." are left out. */
  folders: string[];
  /** Vault-relative paths of entries that are links or special files: never to be followed. */
  unsafe: Array<{ path: string; problem: RefusalProblem; reason: string }>;
};

const DESCRIBE: Record<RefusalProblem, string> = {
  link: 'a symbolic link (never followed)',
  special: 'a device, FIFO or socket (never read)',
  not_folder: 'a folder on the path is not a folder',
  too_large: 'larger than the size limit',
  not_utf8: 'not valid UTF-8 text',
  bad_path: 'not a plain vault-relative path',
};

function refusal(problem: RefusalProblem, at: string, detail?: string): Extract<Entry, { kind: 'refused' }> {
  return { kind: 'refused', problem, at, reason: detail ?? DESCRIBE[problem] };
}

/**
 * Splits a vault-relative POSIX path into its components, refusing anything that is not a plain path
 * inside the vault: absolute paths, empty, `.` or `..` components, NUL, backslashes, and `.git` in any
 * letter case (git's own directory is never vault content).
 */
export function pathComponents(rel: string): string[] | undefined {
  if (rel.length === 0 || rel.length > 4096 || rel.startsWith('/') || /[\0\\]/.test(rel)) return undefined;
  const parts = rel.split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..' || part.toLowerCase() === '.git') return undefined;
  }
  return parts;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class VaultFiles {
  constructor(
    readonly root: string,
    private readonly maxFileBytes = MAX_VAULT_FILE_BYTES,
  ) {}

  /** What is at `rel`, checked component by component without following anything. */
  async inspect(rel: string): Promise<Entry> {
    const parts = pathComponents(rel);
    if (!parts) return refusal('bad_path', rel);
    let abs = this.root;
    for (let i = 0; i < parts.length; i++) {
      abs = join(abs, parts[i] as string);
      const at = parts.slice(0, i + 1).join('/');
      let info: Awaited<ReturnType<typeof lstat>>;
      try {
        info = await lstat(abs);
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return { kind: 'missing' };
        if (isErrno(error, 'ENOTDIR')) return refusal('not_folder', at);
        throw error;
      }
      if (info.isSymbolicLink()) return refusal('link', at);
      const last = i === parts.length - 1;
      if (!last && !info.isDirectory()) return refusal('not_folder', at);
      if (last) {
        if (info.isDirectory()) return { kind: 'dir' };
        if (info.isFile()) return { kind: 'file', size: info.size };
        return refusal('special', at);
      }
    }
    return { kind: 'missing' };
  }

  /** Reads a regular file as UTF-8 text, never through a link, never more than the size limit. */
  async readText(rel: string, maxBytes = this.maxFileBytes): Promise<ReadResult> {
    const bytes = await this.readBytes(rel, maxBytes);
    if (bytes.kind !== 'ok') return bytes;
    try {
      return { kind: 'ok', text: utf8.decode(bytes.data), bytes: bytes.data.length };
    } catch {
      return refusal('not_utf8', rel);
    }
  }

  async readBytes(
    rel: string,
    maxBytes = this.maxFileBytes,
  ): Promise<{ kind: 'ok'; data: Buffer } | Exclude<ReadResult, { kind: 'ok' }>> {
    const entry = await this.inspect(rel);
    if (entry.kind === 'missing' || entry.kind === 'refused') return entry;
    if (entry.kind === 'dir') return refusal('special', rel, 'a folder, not a file');
    if (entry.size > maxBytes) return refusal('too_large', rel, `${entry.size} bytes, more than ${maxBytes}`);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(
        join(this.root, rel),
        constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      );
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return { kind: 'missing' };
      if (isErrno(error, 'ELOOP')) return refusal('link', rel);
      throw error;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) return refusal('special', rel);
      if (info.size > maxBytes) return refusal('too_large', rel, `${info.size} bytes, more than ${maxBytes}`);
      const buffer = Buffer.alloc(info.size);
      let filled = 0;
      while (filled < info.size) {
        const { bytesRead } = await handle.read(buffer, filled, info.size - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return { kind: 'ok', data: buffer.subarray(0, filled) };
    } finally {
      await handle.close();
    }
  }

  /** Regular files, real folders and unsafe entries directly inside `dir`; an absent folder is empty. */
  async list(dir: string): Promise<Listing> {
    const listing: Listing = { files: [], folders: [], unsafe: [] };
    const entry = await this.inspect(dir);
    if (entry.kind === 'missing') return listing;
    if (entry.kind === 'refused') {
      listing.unsafe.push({ path: entry.at, problem: entry.problem, reason: entry.reason });
      return listing;
    }
    if (entry.kind !== 'dir') return listing;
    let dirents: import('node:fs').Dirent[];
    try {
      dirents = await readdir(join(this.root, dir), { withFileTypes: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return listing;
      throw error;
    }
    for (const d of dirents) {
      const path = `${dir}/${d.name}`;
      if (d.isSymbolicLink()) listing.unsafe.push({ path, problem: 'link', reason: DESCRIBE.link });
      else if (d.isDirectory()) {
        if (!d.name.startsWith('.')) listing.folders.push(d.name);
      } else if (d.isFile()) listing.files.push(d.name);
      else listing.unsafe.push({ path, problem: 'special', reason: DESCRIBE.special });
    }
    listing.files.sort();
    listing.folders.sort();
    return listing;
  }

  /** Markdown files directly inside `dir`. */
  async listMarkdown(dir: string): Promise<string[]> {
    return (await this.list(dir)).files.filter((name) => name.endsWith('.md'));
  }

  async listFolders(dir: string): Promise<string[]> {
    return (await this.list(dir)).folders;
  }

  async exists(rel: string): Promise<boolean> {
    return (await this.inspect(rel)).kind === 'file';
  }

  /** Writes a file atomically (temp + rename); the folders on the way are created as real folders. */
  async writeAtomic(rel: string, content: string | Uint8Array): Promise<void> {
    const parts = this.requirePath(rel);
    await this.ensureFolder(parts.slice(0, -1));
    const target = await this.inspect(rel);
    if (target.kind === 'dir') throw new UnsafePathError(rel, 'a folder is in the way');
    if (target.kind === 'refused' && target.at !== rel) throw new UnsafePathError(rel, target.reason);
    // A link or special file at the target itself is replaced (rename never follows it).
    const temp = await this.writeTemp(parts, content);
    try {
      await rename(temp, join(this.root, rel));
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /**
   * Creates a file only if nothing is at `rel` yet; false when something was. Atomic: the content is
   * written to a temp file first and linked into place, so a reader (or a crash) never sees half of it.
   */
  async writeIfAbsent(rel: string, content: string): Promise<boolean> {
    const parts = this.requirePath(rel);
    await this.ensureFolder(parts.slice(0, -1));
    if ((await this.inspect(rel)).kind !== 'missing') return false;
    const temp = await this.writeTemp(parts, content);
    try {
      await link(temp, join(this.root, rel));
      return true;
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return false;
      throw error;
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** Appends to a regular file (created if absent), never through a link. */
  async append(rel: string, text: string): Promise<void> {
    const parts = this.requirePath(rel);
    await this.ensureFolder(parts.slice(0, -1));
    const entry = await this.inspect(rel);
    if (entry.kind === 'refused' || entry.kind === 'dir') {
      throw new UnsafePathError(rel, entry.kind === 'dir' ? 'a folder is in the way' : entry.reason);
    }
    const handle = await open(
      join(this.root, rel),
      constants.O_WRONLY |
        constants.O_APPEND |
        constants.O_CREAT |
        constants.O_NOFOLLOW |
        constants.O_NONBLOCK,
      0o644,
    );
    try {
      if (!(await handle.stat()).isFile()) throw new UnsafePathError(rel, DESCRIBE.special);
      await handle.appendFile(text);
    } finally {
      await handle.close();
    }
  }

  /**
   * Moves a regular file. `exclusive` (the default): only when nothing is at `to`, atomically, so of
   * several movers exactly one wins (false for the others). Otherwise `to` is replaced.
   */
  async move(from: string, to: string, options: { exclusive?: boolean } = {}): Promise<boolean> {
    const source = await this.inspect(from);
    if (source.kind === 'missing') return false;
    if (source.kind !== 'file') {
      throw new UnsafePathError(from, source.kind === 'refused' ? source.reason : 'not a file');
    }
    const parts = this.requirePath(to);
    await this.ensureFolder(parts.slice(0, -1));
    const target = await this.inspect(to);
    if (target.kind === 'dir') throw new UnsafePathError(to, 'a folder is in the way');
    if (target.kind === 'refused' && target.at !== to) throw new UnsafePathError(to, target.reason);
    if (options.exclusive === false) {
      await rename(join(this.root, from), join(this.root, to));
      return true;
    }
    try {
      await link(join(this.root, from), join(this.root, to));
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'EEXIST')) return false;
      throw error;
    }
    try {
      await unlink(join(this.root, from));
      return true;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) {
        await unlink(join(this.root, to)).catch(() => undefined);
        return false;
      }
      throw error;
    }
  }

  /**
   * Removes the entry at `rel` itself (a file, or a link without touching its target); true when it was
   * there. The folders on the way must be real folders.
   */
  async remove(rel: string): Promise<boolean> {
    const entry = await this.inspect(rel);
    if (entry.kind === 'missing') return false;
    if (entry.kind === 'dir') throw new UnsafePathError(rel, 'a folder, not a file');
    if (entry.kind === 'refused' && entry.at !== rel) throw new UnsafePathError(rel, entry.reason);
    try {
      await unlink(join(this.root, rel));
      return true;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw error;
    }
  }

  /** A new temp file (fsynced) beside the target of `parts`, in a folder already checked; returns its path. */
  private async writeTemp(parts: string[], content: string | Uint8Array): Promise<string> {
    const temp = join(this.root, ...parts.slice(0, -1), `.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(temp, { force: true });
      throw error;
    }
    await handle.close();
    return temp;
  }

  private requirePath(rel: string): string[] {
    const parts = pathComponents(rel);
    if (!parts) throw new UnsafePathError(rel, DESCRIBE.bad_path);
    return parts;
  }

  /** Creates each missing folder of `parts` one at a time; anything else in the way is an UnsafePathError. */
  private async ensureFolder(parts: string[]): Promise<void> {
    let abs = this.root;
    for (let i = 0; i < parts.length; i++) {
      abs = join(abs, parts[i] as string);
      let info: Awaited<ReturnType<typeof lstat>> | undefined;
      try {
        info = await lstat(abs);
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      if (!info) {
        try {
          await mkdir(abs);
          continue;
        } catch (error) {
          if (!isErrno(error, 'EEXIST')) throw error;
          info = await lstat(abs);
        }
      }
      if (!info.isDirectory() || info.isSymbolicLink()) {
        const at = parts.slice(0, i + 1).join('/');
        throw new UnsafePathError(at, info.isSymbolicLink() ? DESCRIBE.link : DESCRIBE.not_folder);
      }
    }
  }
}
