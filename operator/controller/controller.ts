import type { Logger } from 'pino';
import type { Task } from '../task.js';
import { TaskInformer } from './informer.js';
import type { OperatorMetrics, ReconcileResult } from './metrics.js';
import { type BackoffOptions, WorkQueue } from './queue.js';
import type { TaskStore } from './store.js';

export type Request = { name: string };

/**
 * What a pass asks of the queue: nothing (done until something changes), `requeue` (run again now: one
 * step was taken and there may be another), or `requeueAfterMs` (check again later, e.g. at expiry).
 */
export type Result = {
  requeue?: boolean;
  requeueAfterMs?: number;
  /** The delayed requeue is work still owed (a `--once` run waits for it), not a future check. */
  pending?: boolean;
};

export type ReconcileContext = {
  signal: AbortSignal;
  /** Failed passes of this key so far (0 on the first try); the reconciler decides when to give up. */
  attempt: number;
};

export interface Reconciler {
  reconcile(request: Request, context: ReconcileContext): Promise<Result>;
}

/** An error that retrying cannot fix: the key is dropped until something about the task changes. */
export class TerminalError extends Error {}

export type ControllerOptions = {
  store: TaskStore;
  reconciler: Reconciler;
  logger: Logger;
  metrics?: OperatorMetrics;
  workers?: number;
  backoff?: BackoffOptions;
  relistMs?: number;
};

/**
 * A level-triggered controller: an informer turns task events into keys (spec changes only: a status
 * write by the reconciler itself does not wake it), workers take keys from the queue and call the
 * reconciler, and the result decides what happens to the key.
 */
export class Controller {
  readonly queue: WorkQueue<string>;
  readonly informer: TaskInformer;
  private workers: Array<Promise<void>> = [];
  private readonly abort = new AbortController();

  constructor(private readonly options: ControllerOptions) {
    this.queue = new WorkQueue({ backoff: options.backoff });
    this.informer = new TaskInformer(
      options.store,
      {
        onAdd: (task) => this.queue.add(task.metadata.name),
        onUpdate: (previous, current) => {
          if (previous.metadata.generation !== current.metadata.generation) {
            this.queue.add(current.metadata.name);
          }
        },
        onDelete: (task) => this.queue.forget(task.metadata.name),
      },
      { logger: options.logger, relistMs: options.relistMs },
    );
    options.metrics?.bind({
      queueDepth: () => this.queue.len(),
      tasksByPhase: () => countPhases(this.informer.keys().map((k) => this.informer.get(k))),
    });
  }

  async start(): Promise<void> {
    await this.informer.start();
    const count = Math.max(1, this.options.workers ?? 2);
    this.workers = Array.from({ length: count }, () => this.work());
  }

  /** Adds every known task to the queue (after a full mirror, or at start of a `--once` run). */
  enqueueAll(): void {
    for (const key of this.informer.keys()) this.queue.add(key);
  }

  /** Resolves when no work is queued, running or waiting for a retry (scheduled checks do not count). */
  async whenIdle(): Promise<void> {
    for (;;) {
      await this.queue.whenIdle();
      // A watch event still in flight may add a key: let it land, then look again.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.queue.isIdle()) return;
    }
  }

  /** Stops taking keys; the passes in flight finish (their step completes) before this resolves. */
  async stop(): Promise<void> {
    this.informer.stop();
    this.queue.shutDown();
    await Promise.all(this.workers);
  }

  /** Aborts passes in flight (a drafter call is cancelled); used when a graceful stop takes too long. */
  abortInFlight(): void {
    this.abort.abort();
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    const { metrics } = this.options;
    const logger = this.options.logger.child({ task: this.informer.get(key)?.spec.id ?? key });
    const started = performance.now();
    metrics?.activeWorkers.inc();
    let result: ReconcileResult;
    try {
      const outcome = await this.options.reconciler.reconcile(
        { name: key },
        { signal: this.abort.signal, attempt: this.queue.numRequeues(key) },
      );
      this.queue.forget(key);
      if (outcome.requeue) {
        this.queue.add(key);
        result = 'requeue';
      } else if (outcome.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, outcome.requeueAfterMs, outcome.pending ? 'retry' : 'scheduled');
        result = 'requeue_after';
      } else {
        result = 'success';
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      metrics?.reconcileErrors.inc();
      if (error instanceof TerminalError) {
        this.queue.forget(key);
        logger.error({ key, err: message }, 'reconcile failed for good; waiting for the task to change');
        result = 'terminal_error';
      } else {
        this.queue.addRateLimited(key);
        logger.warn(
          { key, err: message, attempt: this.queue.numRequeues(key) },
          'reconcile failed; will retry',
        );
        result = 'error';
      }
    } finally {
      metrics?.activeWorkers.dec();
    }
    metrics?.reconcileTotal.inc({ result });
    metrics?.reconcileDuration.observe((performance.now() - started) / 1000);
    this.queue.done(key);
  }
}

function countPhases(tasks: Array<Task | undefined>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const task of tasks) {
    const phase = task?.status?.phase ?? 'Unknown';
    counts[phase] = (counts[phase] ?? 0) + 1;
  }
  return counts;
}
