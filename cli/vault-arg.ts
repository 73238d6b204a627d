import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, EXIT } from './errors.js';

/** The absolute path of `--vault`, or a one-line error that says how to make one. */
export function resolveVault(dir: string): string {
  const root = resolve(dir);
  if (!existsSync(root))
    throw new CliError(`${root} does not exist; create a vault with \`fte init ${dir}\``, EXIT.usage);
  if (!existsSync(join(root, '.git'))) {
    throw new CliError(
      `${root} is not a vault (no git repo); create one with \`fte init ${dir}\``,
      EXIT.usage,
    );
  }
  return root;
}

/** `--interval <seconds>` in milliseconds, or a usage error. */
export function intervalMs(seconds: string): number {
  const ms = Number(seconds) * 1000;
  if (!Number.isFinite(ms) || ms <= 0)
    throw new CliError('--interval must be a positive number of seconds', EXIT.usage);
  return ms;
}
