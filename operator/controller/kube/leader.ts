import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiFailure, describeApiError } from './api-errors.js';
import { shareConnections } from './connections.js';

/** client-go's defaults: a lease lasts 15 s, the leader gives up after 10 s without a renewal, tries every 2 s. */
export const DEFAULT_LEASE = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;
export const DEFAULT_LEASE_NAME = 'fte-operator';

export type LeaderElectionOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  leaseName?: string;
  /** Who we are in the Lease: the pod name ($POD_NAME), else host name and pid. */
  identity?: string;
  logger: Logger;
  /** Whole seconds (the Lease stores seconds). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Monotonic milliseconds, for "has the record stayed unchanged for a whole lease duration". */
  monotonic?: () => number;
  /** Wall clock, for the times written into the Lease. */
  clock?: () => Date;
};

export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  return env.POD_NAME || `${hostname()}-${process.pid}`;
}

type Record = {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
};

/**
 * Leader election on a coordination.k8s.io/v1 Lease, the way client-go's `leaderelection` does it:
 * - a candidate takes the lease when it is free, or when its record has stayed unchanged (as this
 *   process observed it, on its own monotonic clock) for a whole lease duration;
 * - every write is a replace carrying the resourceVersion read, so of two candidates only one wins;
 * - the leader renews every retry period and counts itself deposed when no renewal succeeded within the
 *   renew deadline (shorter than the lease, so it stops before anyone else may start) or when it sees
 *   another holder;
 * - `release()` on a graceful stop empties the holder, so a successor need not wait out the lease.
 */
export class LeaderElector {
  readonly identity: string;
  readonly leaseName: string;
  private readonly api: CoordinationV1Api;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly monotonic: () => number;
  private readonly clock: () => Date;
  private observed: { raw: string; record: Record; at: number } | undefined;
  private leading = false;
  /** The holder we last saw in the Lease (for logs and /readyz). */
  observedLeader: string | undefined;
  /** Attempts to take or renew the lease finished so far. */
  attempts = 0;

  constructor(private readonly options: LeaderElectionOptions) {
    this.identity = options.identity ?? defaultIdentity();
    this.leaseName = options.leaseName ?? DEFAULT_LEASE_NAME;
    this.api = shareConnections(options.kubeConfig).makeApiClient(CoordinationV1Api);
    this.leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE.leaseDurationMs;
    this.renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_LEASE.renewDeadlineMs;
    this.retryPeriodMs = options.retryPeriodMs ?? DEFAULT_LEASE.retryPeriodMs;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.clock = options.clock ?? (() => new Date());
    if (this.leaseDurationMs % 1000 !== 0 || this.leaseDurationMs < 1000) {
      throw new Error(`lease duration must be whole seconds (got ${this.leaseDurationMs} ms)`);
    }
    if (!(this.renewDeadlineMs < this.leaseDurationMs && this.retryPeriodMs < this.renewDeadlineMs)) {
      throw new Error('leader election needs retry period < renew deadline < lease duration');
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Tries every retry period (jittered) until this process holds the lease; false when aborted first. */
  async acquire(signal?: AbortSignal): Promise<boolean> {
    let waitingFor: string | undefined;
    while (!signal?.aborted) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        this.options.logger.info({ lease: this.leaseName, identity: this.identity }, 'became the leader');
        return true;
      }
      if (this.observedLeader && this.observedLeader !== waitingFor) {
        waitingFor = this.observedLeader;
        this.options.logger.info(
          { lease: this.leaseName, leader: waitingFor },
          'waiting: another instance leads',
        );
      }
      await sleep(this.retryPeriodMs * (1 + Math.random() * 0.2), undefined, { signal }).catch(
        () => undefined,
      );
    }
    return false;
  }

  /**
   * While leading, renews the lease every retry period; resolves with the reason once leadership is
   * lost (or right away when not leading). An abort ends it quietly (resolves with 'stopped').
   */
  async holdUntilLost(signal?: AbortSignal): Promise<string> {
    if (!this.leading) return 'not the leader';
    let lastRenew = this.monotonic();
    while (!signal?.aborted) {
      await sleep(this.retryPeriodMs, undefined, { signal }).catch(() => undefined);
      if (signal?.aborted) break;
      const renewed = await this.tryAcquireOrRenew(this.renewDeadlineMs - (this.monotonic() - lastRenew));
      if (renewed) {
        lastRenew = this.monotonic();
        continue;
      }
      const other =
        this.observedLeader && this.observedLeader !== this.identity ? this.observedLeader : undefined;
      const silentFor = this.monotonic() - lastRenew;
      if (other || silentFor >= this.renewDeadlineMs) {
        this.leading = false;
        const reason = other
          ? `lease ${this.leaseName} is now held by ${other}`
          : `lease ${this.leaseName} not renewed for ${Math.round(silentFor)} ms (renew deadline ${this.renewDeadlineMs} ms)`;
        this.options.logger.error(
          { lease: this.leaseName, identity: this.identity },
          `leadership lost: ${reason}`,
        );
        return reason;
      }
    }
    return 'stopped';
  }

  /** Gives the lease up (graceful stop): the next candidate takes it at once instead of waiting it out. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({
        name: this.leaseName,
        namespace: this.options.namespace,
      });
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = micro(this.clock());
      lease.spec = {
        ...lease.spec,
        holderIdentity: undefined,
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
      };
      await this.api.replaceNamespacedLease({
        name: this.leaseName,
        namespace: this.options.namespace,
        body: lease,
      });
      this.options.logger.info({ lease: this.leaseName }, 'released the lease');
    } catch (error) {
      this.options.logger.warn(
        { lease: this.leaseName, err: describeApiError(error) },
        'releasing the lease failed',
      );
    }
  }

  /** One attempt; false on any failure (the caller retries or gives up by its own deadline). */
  private async tryAcquireOrRenew(budgetMs = this.renewDeadlineMs): Promise<boolean> {
    const timeoutMs = Math.max(250, Math.min(budgetMs, this.renewDeadlineMs));
    try {
      return await withTimeout(
        this.attempt(),
        timeoutMs,
        `lease ${this.leaseName}: no answer in ${timeoutMs} ms`,
      );
    } catch (error) {
      this.options.logger.warn(
        { lease: this.leaseName, err: describeApiError(error) },
        'lease request failed',
      );
      return false;
    } finally {
      this.attempts++;
    }
  }

  private async attempt(): Promise<boolean> {
    const namespace = this.options.namespace;
    const now = this.clock();
    const leaseSeconds = this.leaseDurationMs / 1000;
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name: this.leaseName, namespace });
    } catch (error) {
      if (apiFailure(error)?.code !== 404) throw error;
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.leaseName, namespace },
            spec: {
              holderIdentity: this.identity,
              leaseDurationSeconds: leaseSeconds,
              acquireTime: micro(now),
              renewTime: micro(now),
              leaseTransitions: 0,
            },
          },
        });
      } catch (createError) {
        if (apiFailure(createError)?.code === 409) return false; // another candidate created it first
        throw createError;
      }
      this.observe({
        holderIdentity: this.identity,
        leaseDurationSeconds: leaseSeconds,
        leaseTransitions: 0,
      });
      return true;
    }
    const record = recordOf(lease);
    this.observe(record);
    const observed = this.observed!;
    const valid = observed.at + record.leaseDurationSeconds * 1000 > this.monotonic();
    if (record.holderIdentity && record.holderIdentity !== this.identity && valid) return false;
    const renewing = record.holderIdentity === this.identity;
    lease.spec = {
      ...lease.spec,
      holderIdentity: this.identity,
      leaseDurationSeconds: leaseSeconds,
      renewTime: micro(now),
      acquireTime: renewing && lease.spec?.acquireTime ? lease.spec.acquireTime : micro(now),
      leaseTransitions: renewing ? record.leaseTransitions : record.leaseTransitions + 1,
    };
    try {
      // The body carries the resourceVersion we read: a concurrent writer makes this fail with 409.
      const written = await this.api.replaceNamespacedLease({ name: this.leaseName, namespace, body: lease });
      this.observe(recordOf(written));
      return true;
    } catch (error) {
      if (apiFailure(error)?.code === 409) return false;
      throw error;
    }
  }

  private observe(record: Record): void {
    const raw = JSON.stringify(record);
    this.observedLeader = record.holderIdentity || undefined;
    if (this.observed?.raw === raw) return;
    this.observed = { raw, record, at: this.monotonic() };
  }
}

function recordOf(lease: V1Lease): Record {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: spec.acquireTime === undefined ? undefined : String(timeText(spec.acquireTime)),
    renewTime: spec.renewTime === undefined ? undefined : String(timeText(spec.renewTime)),
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

/** Lease times come back as strings (the client does not revive MicroTime); compare them as text. */
function timeText(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

/** A MicroTime (`…T…:05.000000Z`) the API server accepts. */
function micro(date: Date): V1MicroTime {
  return new V1MicroTime(date.getTime());
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
