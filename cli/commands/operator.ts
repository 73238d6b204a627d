import type { Logger } from 'pino';
import { createLogger } from '../../core/log.js';
import { loadOdooSettings } from '../../core/odoo/settings.js';
import { BriefingWatcher } from '../../operator/briefing/watcher.js';
import { type OperatorEnv, operatorEnv } from '../../operator/config.js';
import { type HealthServer, startHealthServer } from '../../operator/controller/health.js';
import type { KubeMode } from '../../operator/controller/kube/mode.js';
import { MemoryTaskStore } from '../../operator/controller/memory-store.js';
import { sendCredentialsIn } from '../../operator/credentials.js';
import { ClaudeDrafter } from '../../operator/drafters/claude.js';
import type { Drafter } from '../../operator/drafters/drafter.js';
import { LiveDrafter } from '../../operator/drafters/live.js';
import { TemplateDrafter } from '../../operator/drafters/template.js';
import { AccountingHandler, lazyOdoo } from '../../operator/handlers/accounting.js';
import { type OnceReport, Operator } from '../../operator/operator.js';
import type { DrafterSettings } from '../../operator/vault-resource.js';
import { watchersFromEnv } from '../../operator/watchers/index.js';
import { OdooBillsWatcher } from '../../operator/watchers/odoo-bills.js';
import { CliError, EXIT } from '../errors.js';
import type { OperatorVaultSettings } from '../operator-vault-resource.js';
import { StopRequest } from '../signals.js';
import { intervalMs, resolveVault } from '../vault-arg.js';
import { operatorPort } from '../vault-port.js';

export const DEFAULT_PORT = 9464;

export type OperatorCliOptions = {
  vault: string;
  agent: string;
  store?: string;
  kubeconfig?: string;
  namespace?: string;
  once?: boolean;
  port?: string;
  /** Serve the read-only status page on this port (FTE_UI_BIND, default 127.0.0.1). */
  uiPort?: string;
  interval: string;
  vaultPort?: string;
  vaultResource?: string;
};

/** The drafter from the environment, with the Vault resource's `spec.drafter` (when given) on top. */
function drafterFrom(env: OperatorEnv, settings?: DrafterSettings): Drafter {
  if (!env.ANTHROPIC_API_KEY) return new TemplateDrafter();
  return new ClaudeDrafter({
    apiKey: env.ANTHROPIC_API_KEY,
    baseURL: env.ANTHROPIC_BASE_URL,
    model: settings?.model ?? env.FTE_CLAUDE_MODEL,
    maxTokens: settings?.maxTokens,
    maxRetries: env.FTE_CLAUDE_MAX_RETRIES,
    priceOverride: env.FTE_CLAUDE_PRICE,
  });
}

/** `--store`, or the default: kube inside a cluster (a daemon there is one replica of a Deployment), else memory. */
function storeKind(raw: string | undefined, once: boolean, env: NodeJS.ProcessEnv): 'kube' | 'memory' {
  if (raw === undefined) return env.KUBERNETES_SERVICE_HOST && !once ? 'kube' : 'memory';
  if (raw === 'kube' || raw === 'memory') return raw;
  throw new CliError(`--store must be kube or memory (got ${JSON.stringify(raw)})`, EXIT.usage);
}

async function kubeModeFor(opts: OperatorCliOptions, logger: Logger): Promise<KubeMode> {
  try {
    // Loaded only for --store kube: @kubernetes/client-node takes seconds to import on a small machine.
    const { startKubeMode } = await import('../../operator/controller/kube/mode.js');
    return await startKubeMode({
      kubeconfig: opts.kubeconfig,
      namespace: opts.namespace,
      env: process.env,
      logger,
    });
  } catch (error) {
    // KubeConfigError and KubeSettingsError are ConfigErrors (exit 78) as they are.
    const { KubeApiError } = await import('../../operator/controller/kube/api-errors.js');
    if (error instanceof KubeApiError) throw new CliError(error.message, EXIT.error);
    throw error;
  }
}

/** `--vault-resource`: the Vault must be readable at start; what to do is in the message. */
async function vaultSettingsFor(
  opts: OperatorCliOptions,
  name: string,
  logger: Logger,
): Promise<OperatorVaultSettings> {
  const { operatorVaultSettings } = await import('../operator-vault-resource.js');
  try {
    return await operatorVaultSettings({
      name,
      kubeconfig: opts.kubeconfig,
      namespace: opts.namespace,
      env: process.env,
      logger,
    });
  } catch (error) {
    const { KubeApiError } = await import('../../operator/controller/kube/api-errors.js');
    if (!(error instanceof KubeApiError)) throw error;
    const code = error.failure?.code;
    const config = code === 404 || code === 401 || code === 403;
    throw new CliError(`--vault-resource: ${error.message}`, config ? EXIT.config : EXIT.error);
  }
}

function portFrom(raw: string | undefined, once: boolean): number {
  if (raw === undefined) return once ? 0 : DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliError(
      `--port must be a whole number from 0 to 65535 (got ${JSON.stringify(raw)})`,
      EXIT.usage,
    );
  }
  return port;
}

function describe(report: OnceReport): string {
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const sync = report.sync ? `; sync ${report.sync.after}` : '';
  return `operator: ${report.tasks} task${report.tasks === 1 ? '' : 's'} (${list(report.phases)}); steps: ${list(report.steps)}${sync}`;
}

export async function run(opts: OperatorCliOptions): Promise<void> {
  // First, before anything is read or started: the cloud never runs next to send credentials.
  const credentials = sendCredentialsIn(process.env);
  if (credentials.length > 0) {
    throw new CliError(
      `refusing to start: send credentials are set (${credentials.join(', ')}); the cloud operator drafts only, so unset them here and keep them on the local machine`,
      EXIT.config,
    );
  }
  // A wrong setting is a ConfigError: exit 78 with its one-line message (cli/errors.ts).
  const env = operatorEnv(process.env);
  const vault = resolveVault(opts.vault);
  const everyMs = intervalMs(opts.interval);
  const port = portFrom(opts.port, opts.once ?? false);
  const kind = storeKind(opts.store, opts.once ?? false, process.env);
  const baseLogger = createLogger({ level: env.FTE_LOG_LEVEL, agent: opts.agent });
  const settings = opts.vaultResource
    ? await vaultSettingsFor(opts, opts.vaultResource, baseLogger)
    : undefined;
  const agent = settings?.agent ?? opts.agent;
  const logger = agent === opts.agent ? baseLogger : createLogger({ level: env.FTE_LOG_LEVEL, agent });
  // Watchers from the environment (the IMAP inbox when IMAP_HOST is set); wrong settings stop us here
  // (an ImapConfigError, exit 78).
  const watchers = await watchersFromEnv(process.env, logger);
  // Odoo (ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY or ODOO_API_KEY_FILE: the draft-only key): the
  // accounting domain, invoice requests in email, and vendor bills due. Connected on first use.
  const odoo = process.env.ODOO_URL ? lazyOdoo(loadOdooSettings(process.env)) : undefined;
  if (odoo) {
    watchers.push(
      new OdooBillsWatcher({
        connect: odoo,
        dueWithinDays: env.FTE_BILLS_DUE_DAYS,
        intervalMs: env.FTE_ODOO_POLL_SECONDS * 1000,
      }),
    );
    logger.info({ url: process.env.ODOO_URL }, 'Odoo accounting configured');
  }
  // The Monday briefing (docs/briefing.md): a daemon's watcher, so only the leader writes it; FTE_BRIEFING=0
  // turns it off (the chart's CronJob writes it instead). `--once` never writes it.
  if (env.FTE_BRIEFING) watchers.push(new BriefingWatcher({ env: process.env, timeZone: env.FTE_TIMEZONE }));
  const kube = kind === 'kube' ? await kubeModeFor(opts, logger) : undefined;
  const kubeHealth = kube
    ? (await import('../../operator/controller/kube/mode.js')).electedHealth
    : undefined;
  const vaultPort = opts.vaultPort
    ? await operatorPort(opts.vaultPort, vault, agent, process.env)
    : undefined;
  const operator = new Operator({
    vault,
    agent,
    vaultPort,
    store: kube?.store ?? new MemoryTaskStore(),
    events: kube?.events,
    drafter: settings
      ? new LiveDrafter(settings.drafter, (drafter) => drafterFrom(env, drafter))
      : drafterFrom(env),
    enabledDomains: settings?.domains,
    handlers: odoo ? [new AccountingHandler({ connect: odoo })] : undefined,
    logger,
    approvalTtlMs: env.FTE_APPROVAL_TTL_HOURS * 3600_000,
    syncIntervalMs: everyMs,
    resyncIntervalMs: env.FTE_RESYNC_SECONDS * 1000,
    workers: env.FTE_OPERATOR_WORKERS,
    maxAttempts: env.FTE_OPERATOR_MAX_ATTEMPTS,
    backoff: { baseMs: env.FTE_OPERATOR_BACKOFF_MS, maxMs: 5 * 60_000 },
    watchers,
  });
  // A changed spec: tasks left waiting (a domain just enabled) are looked at again.
  settings?.onChange(() => operator.controller.enqueueAll());
  let server: HealthServer | undefined;
  if (port > 0) {
    server = await startHealthServer({
      port,
      host: env.FTE_OPERATOR_BIND,
      health: () =>
        kube && kubeHealth ? kubeHealth(kube.elector, () => operator.health()) : operator.health(),
      metrics: operator.metrics,
      logger,
    });
  }
  const page =
    opts.uiPort !== undefined && !opts.once
      ? await (await import('../operator-page.js')).startClusterPage({
          vault,
          agent,
          port: opts.uiPort,
          env: process.env,
          logger,
        })
      : undefined;
  try {
    if (opts.once) {
      // Against a cluster, a one-off pass takes the lease too, so it never runs beside the leader.
      if (kube && !(await kube.elector.acquire())) return;
      try {
        process.stdout.write(`${describe(await operator.runOnce())}\n`);
      } finally {
        await kube?.elector.release();
        await kube?.events.flush();
      }
      return;
    }
    if (kube) {
      await runKubeDaemon(kube, operator, logger, env);
      return;
    }
    const stop = new StopRequest();
    try {
      await operator.start();
      await stop.asked;
    } finally {
      stop.dispose();
    }
    await stopGracefully(operator, logger, env);
  } finally {
    await page?.close();
    await server?.close();
    await settings?.stop();
  }
}

/** Stops the operator after the step in flight; one that takes longer than the grace period is cancelled. */
async function stopGracefully(operator: Operator, logger: Logger, env: OperatorEnv): Promise<void> {
  logger.info('stopping: finishing the step in flight');
  const grace = setTimeout(() => {
    logger.warn('the step in flight takes too long; cancelling it');
    operator.controller.abortInFlight();
  }, env.FTE_STOP_GRACE_SECONDS * 1000);
  try {
    await operator.stop();
  } finally {
    clearTimeout(grace);
  }
}

/**
 * `--store kube` as a daemon: only the lease holder runs the operator; SIGTERM stops it gracefully and
 * releases the lease. Losing the lease cancels the step in flight, stops within the margin the lease
 * leaves (lease duration − renew deadline) and exits 1, so the restarted process campaigns again.
 */
async function runKubeDaemon(
  kube: KubeMode,
  operator: Operator,
  logger: Logger,
  env: OperatorEnv,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const marginMs =
    (kube.settings.FTE_LEASE_DURATION_SECONDS - kube.settings.FTE_LEASE_RENEW_DEADLINE_SECONDS) * 1000;
  const { runElected } = await import('../../operator/controller/kube/mode.js');
  try {
    const outcome = await runElected({
      elector: kube.elector,
      stop: stop.signal,
      startWork: () => operator.start(),
      stopWork: async (lost) => {
        if (lost) {
          operator.controller.abortInFlight();
          await Promise.race([
            operator.stop({ push: false }),
            new Promise((resolve) => setTimeout(resolve, marginMs / 2).unref()),
          ]);
          return;
        }
        await stopGracefully(operator, logger, env);
      },
    });
    await kube.events.flush();
    if (outcome.kind === 'lost') {
      // Whatever still holds the event loop (a watch, a socket) must not keep a deposed leader alive.
      setTimeout(() => process.exit(EXIT.error), 2000).unref();
      throw new CliError(
        `leadership lost: ${outcome.reason}; exiting so that a restart campaigns again`,
        EXIT.error,
      );
    }
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
