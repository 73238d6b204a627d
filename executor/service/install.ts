import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../core/config.js';
import { isErrno } from '../../core/fsutil.js';
import { isInside } from '../key.js';
import { ENV_KEYS, renderEnvTemplate } from './env-file.js';

/** The file I/O of `fte executor install`/`uninstall`; what goes into the files is rendered elsewhere (pure). */

export type EnvFileOutcome = {
  path: string;
  created: boolean;
  /** The mode a kept file had before it was tightened to 0600. */
  fixedMode?: number;
  /** The folder's mode before it was tightened to 0700. */
  fixedDirMode?: number;
  /** Keys filled from the environment (`--from-env`, new file only). */
  filled: string[];
  /** Keys `--from-env` could not write (a value with a line break). */
  skipped: string[];
};

/** An env file that cannot be used where it is (inside the vault, not a regular file): exit 78. */
export class EnvFileError extends ConfigError {}

/** The env file's place is refused when it lies in the vault (it would sync to the cloud). */
export async function assertOutsideVault(path: string, vaultRoot: string): Promise<void> {
  if (await isInside(vaultRoot, path)) {
    throw new EnvFileError(
      `the env file ${path} is inside the vault ${vaultRoot}; it would sync to the cloud with your SMTP password. ` +
        'Use --env-path with a path outside the vault.',
    );
  }
}

/**
 * Creates the env file (0600, its folder 0700) from the commented template, or keeps the one there (the
 * owner's secrets are never overwritten) and tightens its mode to 0600. `tightenDir`: also tighten an
 * existing folder to 0700 (for fte's own config folder; never for a folder the owner named).
 */
export async function ensureEnvFile(
  path: string,
  vaultRoot: string,
  options: { fromEnv?: NodeJS.ProcessEnv; tightenDir?: boolean } = {},
): Promise<EnvFileOutcome> {
  await assertOutsideVault(path, vaultRoot);
  const dir = dirname(path);
  const outcome: EnvFileOutcome = { path, created: false, filled: [], skipped: [] };
  const dirBefore = await stat(dir).catch((error: unknown) => {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!dirBefore) {
    await chmod(dir, 0o700);
  } else if (options.tightenDir && (dirBefore.mode & 0o077) !== 0) {
    outcome.fixedDirMode = dirBefore.mode & 0o777;
    await chmod(dir, 0o700);
  }
  const values: Record<string, string> = {};
  if (options.fromEnv) {
    for (const key of ENV_KEYS) {
      const value = options.fromEnv[key];
      if (value !== undefined && value !== '') values[key] = value;
    }
  }
  const { text, skipped } = renderEnvTemplate(values);
  try {
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(path, 0o600);
    outcome.created = true;
    outcome.skipped = skipped;
    outcome.filled = Object.keys(values).filter((k) => !skipped.includes(k));
    return outcome;
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
  }
  const info = await stat(path);
  if (!info.isFile()) throw new EnvFileError(`the env file ${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    outcome.fixedMode = info.mode & 0o777;
    await chmod(path, 0o600);
  }
  return outcome;
}

/** Writes a file whole (temp file + rename), so a reader never sees half a unit. */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  await writeFile(temp, text, { mode });
  await chmod(temp, mode);
  await rename(temp, path);
}

/** Removes a file; false when there was none. */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await lstat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
  await rm(path, { force: true });
  return true;
}

export type CommandResult = { ok: boolean; output: string };

/** Runs a service manager command (systemctl, launchctl) with a 30 s limit; its failure is an answer. */
export function runCommand(command: string, args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      resolve({ ok: !error, output: output || (error ? error.message : '') });
    });
  });
}
