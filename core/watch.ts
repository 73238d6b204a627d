import { type FSWatcher, watch } from 'node:fs';

/** Ignores git's and fte's own state folders, whose changes are ours, not the owner's. */
const isOwnState = (name: string) => name === '.git' || name.startsWith('.git/') || name.startsWith('.fte/');

/**
 * Calls `onChange` (debounced) when something changes in one of `dirs`, each watched as given: the vault
 * root recursively, or a few folders flat. Returns a function that stops watching. Watching is best
 * effort (a folder that does not exist yet is not watched): callers keep their periodic cycle.
 */
export function watchFolders(
  dirs: string[],
  onChange: () => void,
  options: { recursive?: boolean; debounceMs?: number } = {},
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  for (const dir of dirs) {
    try {
      const watcher = watch(
        dir,
        { recursive: options.recursive ?? false, persistent: false },
        (_event, file) => {
          if (isOwnState(file?.toString() ?? '')) return;
          clearTimeout(timer);
          timer = setTimeout(onChange, options.debounceMs ?? 200);
        },
      );
      watcher.on('error', () => watcher.close());
      watchers.push(watcher);
    } catch {
      // Not there yet, or no recursive watch on this platform: the periodic cycle covers it.
    }
  }
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}

/** The whole vault, recursively. */
export function watchVault(root: string, onChange: () => void): () => void {
  return watchFolders([root], onChange, { recursive: true });
}
