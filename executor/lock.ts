import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EXIT, FteError } from '../core/errors.js';
import { isErrno, processAlive } from '../core/fsutil.js';

/** Another executor already runs on this vault: exit 1; once it stops, starting again works. */
export class LockedError extends FteError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.failure, retryable: true });
  }
}

/**
 * One executor per vault: a pid file taken with O_EXCL. A lock whose process is gone (SIGKILL, power
 * loss) is taken over. Returns the release function.
 */
export async function acquireLock(path: string): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o644);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return async () => {
        const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
        if (owner === process.pid) await unlink(path).catch(() => undefined);
      };
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) {
      throw new LockedError(`another executor (pid ${owner}) already runs on this vault; stop it first`);
    }
    await unlink(path).catch((error) => {
      if (!isErrno(error, 'ENOENT')) throw error;
    });
  }
  throw new LockedError(`could not take the executor lock ${path}`);
}
