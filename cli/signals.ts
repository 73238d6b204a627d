/**
 * Runs `step` every `intervalMs` until SIGTERM or SIGINT; a step in flight always finishes before it returns.
 * `intervalMs` may be a function, asked before each wait (a setting that changes while running).
 * `subscribeWake` may call its argument to run the next step early (e.g. right after a local change); it
 * returns an unsubscribe function.
 */
export async function untilStopped(
  intervalMs: number | (() => number),
  step: () => Promise<void>,
  options: { onStop?: () => void; subscribeWake?: (wake: () => void) => () => void } = {},
): Promise<void> {
  let stopped = false;
  let early = false;
  let wake: () => void = () => {
    early = true;
  };
  const stop = () => {
    stopped = true;
    options.onStop?.();
    wake();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const unsubscribe = options.subscribeWake?.(() => wake());
  try {
    while (!stopped) {
      await step();
      if (stopped) break;
      if (early) {
        early = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, typeof intervalMs === 'function' ? intervalMs() : intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = () => {
        early = true;
      };
    }
  } finally {
    unsubscribe?.();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
