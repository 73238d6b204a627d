import type { Logger } from 'pino';
import type { Watcher } from './watcher.js';

export type { Watcher, WatcherContext } from './watcher.js';

/**
 * The watchers `fte operator` starts, chosen by the environment (e.g. an IMAP watcher when its settings
 * are present). None yet: items arrive through the vault (a watcher elsewhere, Obsidian, `git push`).
 */
export async function watchersFromEnv(_env: NodeJS.ProcessEnv, _logger: Logger): Promise<Watcher[]> {
  return [];
}
