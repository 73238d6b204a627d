/** Timers the queue uses; injected so tests can move time by hand. */
export type Scheduler = {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
};

export const realScheduler: Scheduler = {
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export type BackoffOptions = { baseMs: number; maxMs: number };
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 5 * 60_000 };

/** Per-item exponential backoff: base, 2·base, 4·base, … capped at max (failures counts from 1). */
export function backoffDelay(failures: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, failures - 1);
  return Math.min(options.maxMs, options.baseMs * 2 ** Math.min(exponent, 40));
}

type Delayed = { handle: unknown; due: number; kind: 'retry' | 'scheduled' };

/**
 * A controller work queue in the manner of client-go's: a key waiting in the queue is held once (the
 * dirty set), a key being processed is never handed out again until `done` (the processing set; an add
 * meanwhile is remembered and re-queued on `done`), failures back off per key, and delayed adds fire
 * later. A delayed add is either a `retry` after an error (outstanding work) or `scheduled` (a future
 * check, such as an approval's expiry), so `whenIdle` can tell "nothing left to do now" apart.
 */
export class WorkQueue<K = string> {
  private readonly queue: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly failures = new Map<K, number>();
  private readonly delayed = new Map<K, Delayed>();
  private readonly getters: Array<(key: K | undefined) => void> = [];
  private idleWaiters: Array<() => void> = [];
  private shuttingDown = false;
  private readonly now: () => number;

  constructor(
    private readonly options: { backoff?: BackoffOptions; scheduler?: Scheduler; now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const getter = this.getters.shift();
    if (getter) this.handOut(key, getter);
    else this.queue.push(key);
  }

  /** Adds the key after `ms`; of several delayed adds for one key the earliest wins. */
  addAfter(key: K, ms: number, kind: 'retry' | 'scheduled' = 'scheduled'): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = this.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.due <= due) {
      if (kind === 'retry') {
        existing.kind = 'retry';
        (existing.handle as { ref?: () => void }).ref?.();
      }
      return;
    }
    if (existing) this.scheduler.clearTimeout(existing.handle);
    const handle = this.scheduler.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
      this.checkIdle();
    }, ms);
    // Work still owed keeps the process alive (a `--once` run waits for it); a future check does not.
    if (kind === 'retry') (handle as { ref?: () => void }).ref?.();
    this.delayed.set(key, { handle, due, kind });
  }

  /** Re-adds the key after its own backoff delay, which doubles with each failure until `forget`. */
  addRateLimited(key: K): void {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    this.addAfter(key, backoffDelay(failures, this.options.backoff), 'retry');
  }

  /** Clears the key's failure count (after a success or a terminal error). */
  forget(key: K): void {
    this.failures.delete(key);
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to work on; waits while the queue is empty; undefined once shut down. */
  get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks the key finished; if it was added meanwhile, it goes back in the queue. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      const getter = this.getters.shift();
      if (getter) this.handOut(key, getter);
      else this.queue.push(key);
    }
    this.checkIdle();
  }

  /** Stops handing out keys: waiting `get` calls return undefined; pending delays are cancelled. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.scheduler.clearTimeout(handle);
    this.delayed.clear();
    for (const getter of this.getters.splice(0)) getter(undefined);
    this.checkIdle();
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Keys waiting to be handed out. */
  len(): number {
    return this.queue.length;
  }

  processingCount(): number {
    return this.processing.size;
  }

  /** Keys waiting for a retry after an error. */
  pendingRetries(): number {
    let count = 0;
    for (const entry of this.delayed.values()) if (entry.kind === 'retry') count++;
    return count;
  }

  /** Keys scheduled for a later check (not outstanding work). */
  scheduledKeys(): K[] {
    return [...this.delayed].filter(([, d]) => d.kind === 'scheduled').map(([key]) => key);
  }

  isIdle(): boolean {
    return (
      this.queue.length === 0 &&
      this.processing.size === 0 &&
      (this.shuttingDown || this.pendingRetries() === 0)
    );
  }

  /** Resolves once nothing is queued, nothing is being processed and no retry is pending. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private get scheduler(): Scheduler {
    return this.options.scheduler ?? realScheduler;
  }

  private handOut(key: K, getter: (key: K | undefined) => void): void {
    this.dirty.delete(key);
    this.processing.add(key);
    getter(key);
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
