import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError } from '../core/config.js';
import { isErrno } from '../core/fsutil.js';
import { Ledger, type LedgerRecord, loosens } from './ledger.js';

/**
 * Where the local executive keeps its own state (DESIGN.md §5): the at-most-once ledger, the executor
 * lock and the dashboard's merged signals live outside the working tree, in
 * `$FTE_STATE_DIR/<vault id>/`, else `$XDG_STATE_HOME/fte/<vault id>/`, else
 * `~/.local/state/fte/<vault id>/`, so no git operation (a fast-forward over a force-added
 * `.fte/ledger.jsonl`, a checkout, a clean) can ever reach them.
 *
 * `<vault id>` is fixed when a clone first meets the executor and kept in `.git/fte/vault-id` (git's own
 * folder: no pull reaches it), so it survives moving the clone; it starts as the first 16 hex digits of
 * sha256 of the vault root's realpath (what older versions used), different for two clones on one machine.
 */

/** The state folder cannot be where it is configured (inside the vault): a configuration error (exit 78). */
export class StateDirError extends ConfigError {}

const VAULT_ID = /^[0-9a-f]{16}$/;

/** The stable id of a clone, from `.git/fte/vault-id` (written on first use). */
export async function vaultId(vaultRoot: string, retry = true): Promise<string> {
  const real = await realpath(resolve(vaultRoot));
  const gitDir = join(real, '.git');
  const idFile = join(gitDir, 'fte', 'vault-id');
  const fromPath = createHash('sha256').update(real).digest('hex').slice(0, 16);
  if (!(await lstat(gitDir).catch(() => undefined))?.isDirectory()) return fromPath;
  const kept = await readPlainFile(idFile);
  if (kept !== undefined && VAULT_ID.test(kept.trim())) return kept.trim();
  await mkdir(join(gitDir, 'fte'), { recursive: true });
  const handle = await open(idFile, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600).catch(
    (error: unknown) => {
      if (isErrno(error, 'EEXIST')) return undefined;
      throw error;
    },
  );
  // Another process wrote it first: read theirs. Something else in the way (a link): the path-derived id.
  if (!handle) return retry ? vaultId(vaultRoot, false) : fromPath;
  try {
    await handle.writeFile(`${fromPath}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return fromPath;
}

/** A regular file's text (never through a link or a FIFO), or undefined when there is none. */
async function readPlainFile(path: string): Promise<string | undefined> {
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      if (!(await handle.stat()).isFile()) return undefined;
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ELOOP')) return undefined;
    throw error;
  }
}

/** The base folder holding one state folder per vault. */
export function stateBase(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FTE_STATE_DIR && env.FTE_STATE_DIR.trim() !== '') return resolve(env.FTE_STATE_DIR);
  const xdg = env.XDG_STATE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'state'), 'fte');
}

export type StatePaths = {
  dir: string;
  ledger: string;
  lock: string;
  dashboard: string;
};

export function statePaths(dir: string): StatePaths {
  return {
    dir,
    ledger: join(dir, 'ledger.jsonl'),
    lock: join(dir, 'executor.lock'),
    dashboard: join(dir, 'dashboard.json'),
  };
}

/**
 * The state folder of a vault, created 0700. Refused when it would lie inside the vault (it would be
 * reachable by git again).
 */
export async function openStateDir(
  vaultRoot: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StatePaths> {
  const root = await realpath(resolve(vaultRoot));
  const dir = join(stateBase(env), await vaultId(root));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const real = await realpath(dir);
  const rel = relative(root, real);
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
    throw new StateDirError(
      `the executor's state folder ${real} is inside the vault ${root}; git could reach it. ` +
        'Set FTE_STATE_DIR (or XDG_STATE_HOME) to a folder outside the vault.',
    );
  }
  return statePaths(dir);
}

/** Where older versions kept the ledger, inside the working tree. */
export const LEGACY_LEDGER = '.fte/ledger.jsonl';

export type Migration =
  | { kind: 'none' }
  | { kind: 'migrated'; records: number; dropped: number }
  | { kind: 'refused'; reason: string };

/**
 * One-time import of a ledger an older version kept in `<vault>/.fte/ledger.jsonl`, when the state
 * folder has no ledger yet. Only records that restrict what may happen are imported (intents, outcomes,
 * decisions; never an owner's "not sent" resolution), so even a ledger the remote planted there can
 * only hold sends back, never release one. Refused (and reported) when the file is not a plain file
 * (a link, a FIFO) or when git ever carried that path: a checkout may have written it.
 */
export async function migrateLegacyLedger(
  vaultRoot: string,
  ledger: Ledger,
  gitEverHad: (path: string) => Promise<boolean>,
): Promise<Migration> {
  const legacy = join(vaultRoot, LEGACY_LEDGER);
  try {
    await lstat(ledger.path);
    return { kind: 'none' };
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  for (const rel of ['.fte', LEGACY_LEDGER]) {
    let info: Awaited<ReturnType<typeof lstat>>;
    try {
      info = await lstat(join(vaultRoot, rel));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return { kind: 'none' };
      throw error;
    }
    const wanted = rel === '.fte' ? info.isDirectory() : info.isFile();
    if (info.isSymbolicLink() || !wanted) {
      return { kind: 'refused', reason: `${rel} is not a plain ${rel === '.fte' ? 'folder' : 'file'}` };
    }
  }
  if (await gitEverHad(LEGACY_LEDGER)) {
    return {
      kind: 'refused',
      reason: `${LEGACY_LEDGER} was committed to the vault's git history, so a pull may have written it`,
    };
  }
  const handle = await open(legacy, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  let text: string;
  try {
    if (!(await handle.stat()).isFile()) return { kind: 'refused', reason: `${LEGACY_LEDGER} is not a file` };
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  const records = Ledger.parse(text);
  const kept = records.filter((r: LedgerRecord) => !loosens(r));
  for (const record of kept) await ledger.append(record);
  // An empty import still creates the file, so the migration runs once.
  if (kept.length === 0) await ledger.touch();
  return { kind: 'migrated', records: kept.length, dropped: records.length - kept.length };
}
