import type { Logger } from 'pino';
import type { VaultPort } from '../core/vault/change.js';
import { LocalVaultPort } from '../core/vault/local-port.js';
import { type SyncReport, VaultRepo } from '../core/vault-repo.js';
import { Controller } from './controller/controller.js';
import { MemoryTaskStore } from './controller/memory-store.js';
import { OperatorMetrics } from './controller/metrics.js';
import type { BackoffOptions } from './controller/queue.js';
import type { TaskStore } from './controller/store.js';
import type { Drafter } from './drafters/drafter.js';
import type { EventRecorder } from './events.js';
import { EmailHandler } from './handlers/email.js';
import type { DomainHandler } from './handlers/handler.js';
import { Mirror } from './mirror.js';
import { TaskReconciler } from './reconciler.js';
import type { Watcher } from './watchers/watcher.js';

export type OperatorOptions = {
  vault: string;
  agent: string;
  /**
   * The git owner's port when another process owns the clone (the git-sync sidecar, `fte sync --serve`):
   * this operator then never runs git. Without it, the operator owns the clone in-process.
   */
  vaultPort?: VaultPort;
  drafter: Drafter;
  logger: Logger;
  store?: TaskStore;
  clock?: () => Date;
  approvalTtlMs?: number;
  /** Daemon: git sync every this often (and soon after each commit). */
  syncIntervalMs?: number;
  /** Daemon: full mirror of the vault every this often (file watches do the rest). */
  resyncIntervalMs?: number;
  workers?: number;
  backoff?: BackoffOptions;
  maxAttempts?: number;
  watchers?: Watcher[];
  metrics?: OperatorMetrics;
  /** Extra domain handlers (email is always there; with an accounting one, invoice requests in email go to it). */
  handlers?: DomainHandler[];
  /** Where step events go (Kubernetes Events with `--store kube`); none by default. */
  events?: EventRecorder;
  /**
   * The domains to work on, asked on every reconcile (the Vault resource's `spec.domains`); undefined:
   * every domain with a handler. After a change, `controller.enqueueAll()` lets waiting tasks see it.
   */
  enabledDomains?: () => ReadonlySet<string> | undefined;
};

export type OnceReport = {
  tasks: number;
  phases: Record<string, number>;
  steps: Record<string, number>;
  sync?: { before: SyncReport['state']; after: SyncReport['state'] };
};

export type Health = {
  live: boolean;
  ready: boolean;
  lastSyncAt?: string;
  lastSyncState?: SyncReport['state'];
  lastResyncAt?: string;
  lastTaskEventAt?: string;
  queueDepth: number;
};

/**
 * The cloud operator in embedded mode: one vault clone (this process is its only git owner), a task
 * store, the mirror (files → tasks), the controller running the reconciler, a sync loop and watchers.
 */
export class Operator {
  /** The clone's git owner when this process is it (undefined with a sidecar's port). */
  readonly repo: VaultRepo | undefined;
  readonly vault: VaultPort;
  readonly store: TaskStore;
  readonly mirror: Mirror;
  readonly controller: Controller;
  readonly metrics: OperatorMetrics;
  private readonly logger: Logger;
  private stopped = false;
  private started = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private lastSync: { at: number; state: SyncReport['state'] } | undefined;
  private lastTickAt = Date.now();
  private readonly watcherAbort = new AbortController();

  constructor(private readonly options: OperatorOptions) {
    this.logger = options.logger;
    this.metrics = options.metrics ?? new OperatorMetrics();
    if (options.vaultPort) {
      this.vault = options.vaultPort;
    } else {
      this.repo = new VaultRepo({
        root: options.vault,
        agent: options.agent,
        clock: options.clock,
        onEvent: (event) => this.logger.info({ event: event.kind, path: event.path }, event.message),
      });
      this.vault = new LocalVaultPort(this.repo, options.clock);
    }
    const repo = this.repo;
    const readLock = repo ? <T>(fn: () => Promise<T>) => repo.exclusive(fn) : undefined;
    this.store = options.store ?? new MemoryTaskStore({ clock: options.clock });
    this.mirror = new Mirror({
      root: options.vault,
      store: this.store,
      logger: this.logger,
      metrics: this.metrics,
      exclusive: readLock ?? ((fn) => fn()),
    });
    const reconciler = new TaskReconciler({
      vault: this.vault,
      readLock,
      store: this.store,
      handlers: [
        new EmailHandler(options.drafter, {
          invoiceRequests: (options.handlers ?? []).some((h) => h.domain === 'accounting'),
        }),
        ...(options.handlers ?? []),
      ],
      logger: this.logger,
      clock: options.clock,
      approvalTtlMs: options.approvalTtlMs,
      maxAttempts: options.maxAttempts,
      metrics: this.metrics,
      mirror: this.mirror,
      onCommitted: () => this.kickSync(),
      events: options.events,
      enabledDomains: options.enabledDomains,
    });
    this.controller = new Controller({
      store: this.store,
      reconciler,
      logger: this.logger,
      metrics: this.metrics,
      workers: options.workers,
      backoff: options.backoff,
    });
  }

  /**
   * `--once`: sync (if there is a remote), mirror, reconcile until no runnable work is left (scheduled
   * checks such as a future expiry do not count), sync again.
   */
  async runOnce(): Promise<OnceReport> {
    const hasRemote = await this.hasRemote();
    const before = hasRemote ? await this.sync() : undefined;
    await this.watchersOnce();
    await this.mirror.resync();
    await this.controller.start();
    this.controller.enqueueAll();
    await this.controller.whenIdle();
    await this.controller.stop();
    const after = hasRemote ? await this.sync() : undefined;
    const { items } = await this.store.list();
    const phases: Record<string, number> = {};
    for (const task of items) {
      const phase = task.status?.phase ?? 'Unknown';
      phases[phase] = (phases[phase] ?? 0) + 1;
    }
    return {
      tasks: items.length,
      phases,
      steps: await this.steps(),
      sync: before && after ? { before: before.state, after: after.state } : undefined,
    };
  }

  /** `--once`: each watcher that can takes in what is waiting (the IMAP inbox); a failure is logged, not fatal. */
  private async watchersOnce(): Promise<void> {
    for (const watcher of this.options.watchers ?? []) {
      if (!watcher.once) continue;
      const logger = this.logger.child({ watcher: watcher.name });
      try {
        await watcher.once({
          vault: this.vault,
          agent: this.options.agent,
          logger,
          clock: this.options.clock ?? (() => new Date()),
        });
      } catch (error) {
        logger.warn(
          { err: (error as Error).message },
          'watcher pass failed; going on with what the vault holds',
        );
      }
    }
  }

  /** Daemon: runs until `stop()`. Returns once everything is started. */
  async start(): Promise<void> {
    if (await this.hasRemote()) await this.sync();
    await this.mirror.resync();
    await this.controller.start();
    await this.mirror.watch();
    this.started = true;
    const syncMs = this.options.syncIntervalMs ?? 10_000;
    const tick = () => {
      this.syncTimer = setTimeout(async () => {
        this.lastTickAt = Date.now();
        await this.syncSoon();
        if (!this.stopped) tick();
      }, syncMs);
    };
    tick();
    const resyncMs = this.options.resyncIntervalMs ?? 60_000;
    this.resyncTimer = setInterval(() => {
      this.mirror
        .resync()
        .catch((error) => this.logger.warn({ err: (error as Error).message }, 'resync failed'));
    }, resyncMs);
    for (const watcher of this.options.watchers ?? []) {
      await watcher.start({
        vault: this.vault,
        agent: this.options.agent,
        logger: this.logger.child({ watcher: watcher.name }),
        clock: this.options.clock ?? (() => new Date()),
        signal: this.watcherAbort.signal,
        notify: (ids) => {
          const done = ids ? this.mirror.refresh(ids) : this.mirror.resync();
          done.catch((error) =>
            this.logger.warn({ err: (error as Error).message }, 'mirroring after a watcher failed'),
          );
        },
      });
      this.logger.info({ watcher: watcher.name }, 'watcher started');
    }
    this.logger.info(
      { vault: this.options.vault, store: this.store.kind, drafter: this.options.drafter.name },
      'operator started',
    );
  }

  /** Stops watchers and timers, lets the step in flight finish, and pushes what it committed. */
  async stop(options: { push?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.syncTimer);
    clearInterval(this.resyncTimer);
    this.watcherAbort.abort();
    for (const watcher of this.options.watchers ?? []) {
      await watcher
        .stop()
        .catch((error) =>
          this.logger.warn({ err: (error as Error).message, watcher: watcher.name }, 'watcher stop failed'),
        );
    }
    this.mirror.stopWatching();
    await this.controller.stop();
    await this.syncing;
    // `push: false` after a lost leader election: another instance owns the work now, and a late push of
    // what this one committed could race with it.
    if (this.started && options.push !== false && (await this.hasRemote())) await this.sync();
    this.logger.info('operator stopped');
  }

  health(now = Date.now()): Health {
    const syncMs = this.options.syncIntervalMs ?? 10_000;
    const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : undefined);
    return {
      live: !this.started || now - this.lastTickAt < Math.max(3 * syncMs, 60_000),
      ready: this.started && this.mirror.lastResyncAt > 0 && this.controller.informer.hasSynced,
      lastSyncAt: iso(this.lastSync?.at),
      lastSyncState: this.lastSync?.state,
      lastResyncAt: iso(this.mirror.lastResyncAt),
      lastTaskEventAt: iso(this.controller.informer.lastEventAt),
      queueDepth: this.controller.queue.len(),
    };
  }

  /** A sync soon (after a commit), coalesced with one already running. */
  private kickSync(): void {
    if (!this.started || this.stopped) return;
    void this.syncSoon();
  }

  private async syncSoon(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          if (!(await this.hasRemote())) return;
          const report = await this.sync();
          const moved =
            report.pulled > 0 || report.lostClaims.length > 0 || (report.quarantinedLinks?.length ?? 0) > 0;
          if (moved) await this.mirror.resync();
        } while (this.syncAgain && !this.stopped);
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'sync cycle failed');
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  /** With a sidecar's port, the sidecar knows; asking it to sync is cheap and answers `local-only` without one. */
  private async hasRemote(): Promise<boolean> {
    return this.repo ? this.repo.hasRemote() : true;
  }

  private async sync(): Promise<SyncReport> {
    const report = await this.vault.sync();
    this.metrics.syncs.inc({ state: report.state });
    this.lastSync = { at: Date.now(), state: report.state };
    if (report.state === 'offline')
      this.logger.warn({ err: report.error }, 'remote unreachable; working locally');
    if (report.state === 'refused')
      this.logger.error({ err: report.error }, 'remote refused; staying on the last good commit');
    for (const id of report.lostClaims) this.logger.info({ task: id }, 'claim lost to another agent');
    for (const path of report.conflicts) this.logger.warn({ path }, 'sync conflict: both versions kept');
    if (report.pulled || report.pushed)
      this.logger.debug({ pulled: report.pulled, pushed: report.pushed }, 'synced');
    return report;
  }

  private async steps(): Promise<Record<string, number>> {
    const metric = await this.metrics.steps.get();
    return Object.fromEntries(
      metric.values.filter((v) => v.value > 0).map((v) => [String(v.labels.step), v.value]),
    );
  }
}
