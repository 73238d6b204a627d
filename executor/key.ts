import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError } from '../core/config.js';
import { isErrno } from '../core/fsutil.js';

/**
 * The approval key: 32 random bytes that exist only on the owner's machine (DESIGN.md §2, §5). Every
 * approval is signed with it, so a file the cloud pushes into `Approved/` can never pass as the owner's.
 * A key in an unsafe place, readable by others, or not a key is a configuration error (exit 78).
 */
export class ApprovalKeyError extends ConfigError {}

const KEY_BYTES = 32;

/** `FTE_APPROVAL_KEY_FILE`, else `$XDG_CONFIG_HOME/fte/approval.key`, else `~/.config/fte/approval.key`. */
export function approvalKeyPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FTE_APPROVAL_KEY_FILE) return resolve(env.FTE_APPROVAL_KEY_FILE);
  const config =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(config, 'fte', 'approval.key');
}

/** The nearest existing ancestor of `path`, resolved through symlinks. */
async function realpathOfNearest(path: string): Promise<string> {
  let current = resolve(path);
  const missing: string[] = [];
  for (;;) {
    try {
      return join(await realpath(current), ...missing.reverse());
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
      const parent = dirname(current);
      if (parent === current) return resolve(path);
      missing.push(basename(current));
      current = parent;
    }
  }
}

/** True when `path` is `dir` or lies under it, after resolving both through symlinks (missing tails allowed). */
export async function isInside(dir: string, path: string): Promise<boolean> {
  const rel = relative(await realpathOfNearest(dir), await realpathOfNearest(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Loads the key, creating it (mode 0600, parent 0700) on first use. Refuses a key file inside the vault
 * (it would sync to the cloud), one readable by other users, and one that is not a key.
 */
export async function loadApprovalKey(path: string, vaultRoot: string): Promise<Buffer> {
  if (await isInside(vaultRoot, path)) {
    throw new ApprovalKeyError(
      `the approval key ${path} is inside the vault ${vaultRoot}; it would sync to the cloud. ` +
        'Set FTE_APPROVAL_KEY_FILE to a path outside the vault.',
    );
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(`${randomBytes(KEY_BYTES).toString('hex')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
  }
  const info = await stat(path);
  if (!info.isFile()) throw new ApprovalKeyError(`the approval key ${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    throw new ApprovalKeyError(
      `the approval key ${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
    );
  }
  const handle = await open(path, 'r');
  let text: string;
  try {
    text = (await handle.readFile('utf8')).trim();
  } finally {
    await handle.close();
  }
  if (!/^[0-9a-f]{64,}$/.test(text)) {
    throw new ApprovalKeyError(
      `the approval key ${path} is not 64+ hex digits; move it away to make a new one`,
    );
  }
  return Buffer.from(text, 'hex');
}
