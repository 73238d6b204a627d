import { type FSWatcher, watch } from 'node:fs';

/**
 * Calls `onChange` (debounced) whenever a file in the vault changes, ignoring git's and fte's own state
 * folders. Returns a function that stops watching. Watching is best effort: the periodic cycle still runs.
 */
export function watchVault(root: string, onChange: () => void, debounceMs = 200): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(root, { recursive: true }, (_event, file) => {
      const name = file?.toString() ?? '';
      if (name === '.git' || name.startsWith('.git/') || name.startsWith('.fte/')) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    // No recursive watch on this platform or too many files: fall back to the interval alone.
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
