import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const RECONCILE_RESULTS = ['success', 'requeue', 'requeue_after', 'error', 'terminal_error'] as const;
export type ReconcileResult = (typeof RECONCILE_RESULTS)[number];

/** The operator's Prometheus metrics, in a registry of its own (several operators can share a process in tests). */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'fte_operator_reconcile_total',
    help: 'Reconcile passes by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'fte_operator_reconcile_errors_total',
    help: 'Reconcile passes that ended in an error (retried or terminal)',
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'fte_operator_reconcile_duration_seconds',
    help: 'Time spent in one reconcile pass',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  /** Live values read at scrape time; the operator sets them once its parts exist. */
  private sources: MetricSources = {};
  readonly queueDepth = new Gauge({
    name: 'fte_operator_queue_depth',
    help: 'Keys waiting in the work queue',
    registers: [this.registry],
    collect: () => {
      if (this.sources.queueDepth) this.queueDepth.set(this.sources.queueDepth());
    },
  });
  readonly activeWorkers = new Gauge({
    name: 'fte_operator_active_workers',
    help: 'Workers currently reconciling a task',
    registers: [this.registry],
  });
  readonly steps = new Counter({
    name: 'fte_operator_steps_total',
    help: 'Vault steps taken, by step',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });
  readonly tasks = new Gauge({
    name: 'fte_operator_tasks',
    help: 'Tasks in the store by phase',
    labelNames: ['phase'] as const,
    registers: [this.registry],
    collect: () => {
      if (!this.sources.tasksByPhase) return;
      this.tasks.reset();
      for (const [phase, count] of Object.entries(this.sources.tasksByPhase()))
        this.tasks.set({ phase }, count);
    },
  });
  readonly llmTokens = new Counter({
    name: 'fte_operator_llm_tokens_total',
    help: 'Tokens used by the drafter, by model and direction',
    labelNames: ['model', 'direction'] as const,
    registers: [this.registry],
  });
  readonly llmCost = new Counter({
    name: 'fte_operator_llm_cost_usd_total',
    help: 'Estimated drafter cost in USD, by model (models without a known price are not counted)',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly mirrorDuration = new Histogram({
    name: 'fte_operator_mirror_duration_seconds',
    help: 'Time for a full mirror of the vault into the task store',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly syncs = new Counter({
    name: 'fte_operator_syncs_total',
    help: 'Vault sync cycles by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  constructor() {
    for (const result of RECONCILE_RESULTS) this.reconcileTotal.inc({ result }, 0);
    this.reconcileErrors.inc(0);
  }

  bind(sources: MetricSources): void {
    this.sources = sources;
  }
}

export type MetricSources = {
  queueDepth?: () => number;
  tasksByPhase?: () => Record<string, number>;
};
