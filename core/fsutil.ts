import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Writes a file so readers see the old content or the new one, never half of it (temp file + rename). */
export async function writeFileAtomic(
  path: string,
  content: string | Uint8Array,
  mode = 0o644,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Creates a file only if it does not exist yet; returns false when it already did. */
export async function writeFileIfAbsent(path: string, content: string, mode = 0o644): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true });
  try {
    const handle = await open(path, 'wx', mode);
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    throw error;
  }
}

/**
 * Moves `from` to `to` only if `to` does not exist, atomically: of several processes moving the same file,
 * exactly one succeeds and the others get `false`. (A hard link is refused when the target exists, which
 * a plain rename would silently overwrite.)
 */
export async function moveExclusive(from: string, to: string): Promise<boolean> {
  await mkdir(dirname(to), { recursive: true });
  try {
    await link(from, to);
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'EEXIST')) return false;
    throw error;
  }
  try {
    await unlink(from);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) {
      // Another process moved the source between our link and unlink: it won; drop our copy.
      await unlink(to).catch(() => undefined);
      return false;
    }
    throw error;
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

/** Markdown files directly inside `dir` (not recursive); an absent folder is empty. */
export async function listMarkdown(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() && e.name.endsWith('.md')).map((e) => e.name);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
}

/** Sub-folders of `dir`; an absent folder has none. */
export async function listFolders(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
}
