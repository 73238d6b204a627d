import type { Logger } from 'pino';
import type { Task } from '../task.js';
import { backoffDelay } from './queue.js';
import type { TaskStore, WatchHandle } from './store.js';

export type InformerHandlers = {
  onAdd(task: Task): void;
  onUpdate(previous: Task, current: Task): void;
  onDelete(task: Task): void;
};

export type InformerOptions = {
  logger: Logger;
  /** List again this often even when the watch looks healthy (watches can die silently). */
  relistMs?: number;
  now?: () => number;
};

/**
 * List, then watch from the list's version, keeping a cache; when the watch closes (GoneError, a dropped
 * connection, a server restart) it lists again after a backoff and reports the differences as events, so
 * handlers never miss a change. It never stays stopped on an error.
 */
export class TaskInformer {
  private readonly cache = new Map<string, Task>();
  private watch: WatchHandle | undefined;
  private relistTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = true;
  /** Epoch ms of the last list or watch event, reported on /healthz. */
  lastEventAt = 0;
  hasSynced = false;

  constructor(
    private readonly store: TaskStore,
    private readonly handlers: InformerHandlers,
    private readonly options: InformerOptions,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    await this.relist();
  }

  stop(): void {
    this.stopped = true;
    this.watch?.stop();
    this.watch = undefined;
    clearTimeout(this.relistTimer);
    clearTimeout(this.retryTimer);
  }

  get(name: string): Task | undefined {
    return this.cache.get(name);
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    this.watch?.stop();
    this.watch = undefined;
    clearTimeout(this.relistTimer);
    try {
      const { items, resourceVersion } = await this.store.list();
      const seen = new Set<string>();
      for (const task of items) {
        seen.add(task.metadata.name);
        this.upsert(task);
      }
      for (const [name, task] of [...this.cache]) {
        if (seen.has(name)) continue;
        this.cache.delete(name);
        this.handlers.onDelete(task);
      }
      this.hasSynced = true;
      this.lastEventAt = this.now();
      this.watch = await this.store.watch(resourceVersion, {
        onEvent: (event) => {
          this.lastEventAt = this.now();
          if (event.type === 'DELETED') {
            this.cache.delete(event.object.metadata.name);
            this.handlers.onDelete(event.object);
          } else {
            this.upsert(event.object);
          }
        },
        onClose: (error) => {
          if (this.stopped) return;
          this.options.logger.warn({ err: error?.message }, 'task watch closed; listing again');
          this.scheduleRetry();
        },
      });
      this.failures = 0;
      const relistMs = this.options.relistMs ?? 5 * 60_000;
      this.relistTimer = setTimeout(() => void this.relist(), relistMs);
      this.relistTimer.unref();
    } catch (error) {
      this.options.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'listing tasks failed; retrying',
      );
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.watch = undefined;
    this.failures++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(
      () => void this.relist(),
      backoffDelay(this.failures, { baseMs: 200, maxMs: 30_000 }),
    );
    this.retryTimer.unref();
  }

  private upsert(task: Task): void {
    const previous = this.cache.get(task.metadata.name);
    this.cache.set(task.metadata.name, task);
    if (!previous) this.handlers.onAdd(task);
    else if (previous.metadata.resourceVersion !== task.metadata.resourceVersion) {
      this.handlers.onUpdate(previous, task);
    }
  }
}
