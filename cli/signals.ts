/**
 * A daemon's stop: SIGTERM or SIGINT from the moment this is made. Make it before the daemon says it started
 * (a supervisor or a test stops it as soon as it reads that line), so a signal right after that line is a
 * graceful stop, never Node's default kill of a process that has not listened yet.
 */
export class StopRequest {
  private isRequested = false;
  private readonly listeners: Array<() => void> = [];
  private readonly onSignal = () => this.request();

  constructor() {
    process.once('SIGTERM', this.onSignal);
    process.once('SIGINT', this.onSignal);
  }

  get requested(): boolean {
    return this.isRequested;
  }

  /** Resolves when a stop is asked for (at once when it already was). */
  get asked(): Promise<void> {
    return new Promise((resolve) => this.onStop(resolve));
  }

  /** `listener` runs once, when a stop is asked for (at once when it already was). */
  onStop(listener: () => void): void {
    if (this.isRequested) listener();
    else this.listeners.push(listener);
  }

  /** Stops listening for signals. */
  dispose(): void {
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
  }

  private request(): void {
    if (this.isRequested) return;
    this.isRequested = true;
    for (const listener of this.listeners.splice(0)) listener();
  }
}

/**
 * Runs `step` every `intervalMs` until `stop` is asked for; a step in flight always finishes before it returns.
 * `intervalMs` may be a function, asked before each wait (a setting that changes while running).
 * `subscribeWake` may call its argument to run the next step early (e.g. right after a local change); it
 * returns an unsubscribe function.
 */
export async function untilStopped(
  stop: StopRequest,
  intervalMs: number | (() => number),
  step: () => Promise<void>,
  options: { onStop?: () => void; subscribeWake?: (wake: () => void) => () => void } = {},
): Promise<void> {
  let early = false;
  let wake: () => void = () => {
    early = true;
  };
  stop.onStop(() => {
    options.onStop?.();
    wake();
  });
  const unsubscribe = options.subscribeWake?.(() => wake());
  try {
    while (!stop.requested) {
      await step();
      if (stop.requested) break;
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
  }
}
