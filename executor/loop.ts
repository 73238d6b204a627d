import { type FSWatcher, watch } from 'node:fs';

/**
 * Runs `step` every `intervalMs` until SIGTERM or SIGINT, and early when a watched folder changes (the
 * owner moving a file into `Approved/`, `fte approve`). A step in flight always finishes first, so a
 * send that has started records its outcome before the process exits.
 */
export async function runUntilStopped(
  intervalMs: number,
  step: () => Promise<void>,
  options: { watchDirs?: string[]; onStop?: () => void; debounceMs?: number } = {},
): Promise<void> {
  let stopped = false;
  let early = false;
  let wake: () => void = () => undefined;
  const stop = () => {
    stopped = true;
    options.onStop?.();
    wake();
  };
  let debounce: NodeJS.Timeout | undefined;
  const poke = () => {
    early = true;
    if (debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      wake();
    }, options.debounceMs ?? 50);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of options.watchDirs ?? []) {
    try {
      const watcher = watch(dir, { persistent: false }, poke);
      watcher.on('error', () => watcher.close());
      watchers.push(watcher);
    } catch {
      // A folder that does not exist yet is simply polled.
    }
  }
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    while (!stopped) {
      early = false;
      await step();
      if (stopped) break;
      if (early) continue; // something changed while the step ran
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    if (debounce) clearTimeout(debounce);
    for (const watcher of watchers) watcher.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
