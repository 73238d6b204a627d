import type { Logger } from 'pino';
import { z } from 'zod';
import { ConfigError, parseEnv } from '../../../core/config.js';
import type { Health } from '../../operator.js';
import { connectKube, type KubeConnection } from './config.js';
import { KubeEventRecorder } from './event-recorder.js';
import { DEFAULT_LEASE, DEFAULT_LEASE_NAME, defaultIdentity, LeaderElector } from './leader.js';
import { KubeTaskStore } from './task-store.js';

/** `--store kube` settings from the environment; the defaults are client-go's. */
export const KubeEnv = z
  .object({
    FTE_LEASE_NAME: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 name')
      .default(DEFAULT_LEASE_NAME),
    FTE_LEASE_DURATION_SECONDS: z.coerce
      .number<string | undefined>()
      .int('must be whole seconds')
      .positive()
      .default(DEFAULT_LEASE.leaseDurationMs / 1000),
    FTE_LEASE_RENEW_DEADLINE_SECONDS: z.coerce
      .number<string | undefined>()
      .positive()
      .default(DEFAULT_LEASE.renewDeadlineMs / 1000),
    FTE_LEASE_RETRY_PERIOD_SECONDS: z.coerce
      .number<string | undefined>()
      .positive()
      .default(DEFAULT_LEASE.retryPeriodMs / 1000),
    /** The pod's name (downward API): the identity in the Lease and in events. */
    POD_NAME: z.string().optional(),
  })
  .refine(
    (e) =>
      e.FTE_LEASE_RETRY_PERIOD_SECONDS < e.FTE_LEASE_RENEW_DEADLINE_SECONDS &&
      e.FTE_LEASE_RENEW_DEADLINE_SECONDS < e.FTE_LEASE_DURATION_SECONDS,
    {
      message:
        'must keep FTE_LEASE_RETRY_PERIOD_SECONDS < FTE_LEASE_RENEW_DEADLINE_SECONDS < FTE_LEASE_DURATION_SECONDS',
      path: ['FTE_LEASE_RENEW_DEADLINE_SECONDS'],
    },
  );
export type KubeEnv = z.infer<typeof KubeEnv>;

/** A FTE_LEASE_* setting is wrong: a configuration error (exit 78). */
export class KubeSettingsError extends ConfigError {}

export function kubeEnv(env: NodeJS.ProcessEnv): KubeEnv {
  return parseEnv(KubeEnv, env, { makeError: (message) => new KubeSettingsError(message) });
}

/** What `--store kube` adds to the operator: the store, its events, and the election for the right to run. */
export type KubeMode = {
  connection: KubeConnection;
  store: KubeTaskStore;
  events: KubeEventRecorder;
  elector: LeaderElector;
  settings: KubeEnv;
};

/**
 * Connects (`--kubeconfig`, `$KUBECONFIG`, in-cluster, `~/.kube/config`) and checks that the API server
 * serves Tasks to this identity before anything starts; errors say what to do.
 */
export async function startKubeMode(options: {
  kubeconfig?: string;
  namespace?: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}): Promise<KubeMode> {
  const settings = kubeEnv(options.env);
  const connection = connectKube({
    kubeconfig: options.kubeconfig,
    namespace: options.namespace,
    env: options.env,
  });
  const logger = options.logger.child({ store: 'kube', namespace: connection.namespace });
  const store = new KubeTaskStore({
    kubeConfig: connection.kubeConfig,
    namespace: connection.namespace,
    logger,
  });
  await store.verify();
  const identity = settings.POD_NAME || defaultIdentity(options.env);
  const elector = new LeaderElector({
    kubeConfig: connection.kubeConfig,
    namespace: connection.namespace,
    leaseName: settings.FTE_LEASE_NAME,
    identity,
    logger,
    leaseDurationMs: settings.FTE_LEASE_DURATION_SECONDS * 1000,
    renewDeadlineMs: settings.FTE_LEASE_RENEW_DEADLINE_SECONDS * 1000,
    retryPeriodMs: settings.FTE_LEASE_RETRY_PERIOD_SECONDS * 1000,
  });
  const events = new KubeEventRecorder({
    kubeConfig: connection.kubeConfig,
    namespace: connection.namespace,
    instance: identity,
    logger,
  });
  logger.info(
    { source: connection.source, server: connection.server, identity },
    'using Tasks in the Kubernetes API',
  );
  return { connection, store, events, elector, settings };
}

export type ElectedHealth = Health & { role: 'leader' | 'standby'; leader?: string; identity: string };

/**
 * The health of an elected operator: a standby is alive and ready (it is doing its job, which is to
 * wait; a rollout must not stall on it), the leader reports the operator's own health.
 */
export function electedHealth(elector: LeaderElector, health: () => Health): ElectedHealth {
  if (!elector.isLeader) {
    return {
      live: true,
      ready: true,
      queueDepth: 0,
      role: 'standby',
      leader: elector.observedLeader,
      identity: elector.identity,
    };
  }
  return { ...health(), role: 'leader', leader: elector.identity, identity: elector.identity };
}

export type ElectedOutcome = { kind: 'stopped' } | { kind: 'lost'; reason: string };

/**
 * Runs `work` only while this process holds the lease: waits for it (until `stop`), starts the work,
 * renews, and on a stop lets the work finish and releases the lease. When leadership is lost, the work
 * is stopped at once (`stopWork(true)`: cancel what is in flight) and the outcome says so; the caller
 * exits non-zero, so the restarted process campaigns again from a clean state.
 */
export async function runElected(options: {
  elector: LeaderElector;
  stop: AbortSignal;
  startWork(): Promise<void>;
  stopWork(lost: boolean): Promise<void>;
}): Promise<ElectedOutcome> {
  const { elector, stop } = options;
  if (!(await elector.acquire(stop))) return { kind: 'stopped' };
  try {
    await options.startWork();
  } catch (error) {
    await options.stopWork(false).catch(() => undefined);
    await elector.release();
    throw error;
  }
  const reason = await elector.holdUntilLost(stop);
  if (reason === 'stopped') {
    await options.stopWork(false);
    await elector.release();
    return { kind: 'stopped' };
  }
  await options.stopWork(true);
  return { kind: 'lost', reason };
}
