import { constants } from 'node:fs';
import { link, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno, processAlive } from '../fsutil.js';

/**
 * Between processes, one git operation of fte at a time per clone: `.git/fte/lock` holds the pid of the
 * process inside VaultRepo's lock (the sync sidecar, the executor, a `fte claim` beside them). A lock whose
 * process is gone was left by a crash; the next holder takes it over and repairs the clone first, knowing
 * no live fte process is half-way through a git operation.
 */
export class OwnerLock {
  private readonly path: string;

  constructor(gitDir: string) {
    this.path = join(gitDir, 'fte', 'lock');
  }

  /** Waits for the lock; true when the previous holder died while holding it (the clone may need repair). */
  async acquire(): Promise<boolean> {
    let tookOver = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(
          this.path,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
          0o644,
        );
        try {
          await handle.writeFile(`${process.pid}\n`);
        } finally {
          await handle.close();
        }
        return tookOver;
      } catch (error) {
        if (isErrno(error, 'ENOENT')) {
          await mkdir(join(this.path, '..'), { recursive: true });
          continue;
        }
        if (!isErrno(error, 'EEXIST')) throw error;
      }
      const holder = Number.parseInt(await readFile(this.path, 'utf8').catch(() => ''), 10);
      // Our own pid in the file is a previous incarnation (pid 1 in a restarted container): we never hold it twice.
      if (!Number.isFinite(holder) || holder === process.pid || !processAlive(holder)) {
        // Written but not yet filled in by a live process: give it a moment before calling it dead.
        if (!Number.isFinite(holder) && attempt < 20) {
          await sleep(10);
          continue;
        }
        tookOver = (await this.breakStale(holder)) || tookOver;
        continue;
      }
      await sleep(5 + Math.random() * 20);
    }
  }

  /** Removes the lock only if it still names `holder` (another process may have broken and retaken it meanwhile). */
  private async breakStale(holder: number): Promise<boolean> {
    const aside = `${this.path}.${process.pid}.stale`;
    try {
      await rename(this.path, aside);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw error;
    }
    const moved = Number.parseInt(await readFile(aside, 'utf8').catch(() => ''), 10);
    if (moved === holder || (Number.isNaN(moved) && Number.isNaN(holder))) {
      await rm(aside, { force: true });
      return true;
    }
    // We moved a live holder's fresh lock: put it back (link fails only if someone holds the lock again).
    await link(aside, this.path).catch(() => undefined);
    await rm(aside, { force: true });
    return false;
  }

  async release(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
