/**
 * Runs `step` every `intervalMs` until SIGTERM or SIGINT; a step in flight always finishes before it returns.
 * `wake` lets a caller run the next step early (e.g. right after a local change).
 */
export async function untilStopped(
  intervalMs: number,
  step: () => Promise<void>,
  onStop?: () => void,
): Promise<void> {
  let stopped = false;
  let wake: () => void = () => undefined;
  const stop = () => {
    stopped = true;
    onStop?.();
    wake();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    while (!stopped) {
      await step();
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
