import { dirname, join } from 'node:path';
import { ConfigError } from '../../core/config.js';
import { FOLDERS } from '../../core/layout.js';
import { createLogger, type Logger } from '../../core/log.js';
import { watchFolders } from '../../core/watch.js';
import { type ExecutorConfig, ratePerHour } from '../../executor/config.js';
import { SmtpTransport } from '../../executor/email.js';
import { Executive, type PassReport } from '../../executor/executive.js';
import { acquireLock } from '../../executor/lock.js';
import { localMailTokenFiles } from '../../executor/mail-login.js';
import { ImapSentCopy, loadSentCopyConfig } from '../../executor/sent-copy.js';
import { type LocalSetup, openLocal, SetupError } from '../../executor/setup.js';
import { loadUiConfig, type UiConfig } from '../../executor/ui/config.js';
import { PageDecisions } from '../../executor/ui/decision-port.js';
import { LiveFeed } from '../../executor/ui/live.js';
import { ReadModel } from '../../executor/ui/read-model.js';
import { type StatusPage, serveStatusPage } from '../../executor/ui/server.js';
import { StopRequest, untilStopped } from '../signals.js';
import { intervalMs } from '../vault-arg.js';

/** One line about a pass, or '' when nothing happened worth a line. */
export function describePass(report: PassReport): string {
  const parts: string[] = [];
  const sync = report.sync[0];
  if (sync) {
    const moved = report.sync.reduce((n, s) => n + s.pushed, 0);
    const pulled = report.sync.reduce((n, s) => n + s.pulled, 0);
    if (sync.state === 'offline')
      parts.push(`offline (${sync.error?.split('\n')[0] ?? 'remote unreachable'})`);
    else if (moved || pulled) parts.push(`synced (pulled ${pulled}, pushed ${moved})`);
  }
  const ids = (xs: Array<{ id: string }>) => xs.map((x) => x.id).join(', ');
  if (report.approved.length) parts.push(`approved ${report.approved.join(', ')}`);
  if (report.rejected.length) parts.push(`rejected ${report.rejected.join(', ')}`);
  for (const r of report.refused) parts.push(`REFUSED ${r.id}: ${r.reason}`);
  for (const s of report.sent) parts.push(`sent ${s.id} ${s.messageId}`);
  const finishedOnly = report.finished.filter((id) => !report.sent.some((s) => s.id === id));
  if (finishedOnly.length) parts.push(`finished ${finishedOnly.join(', ')}`);
  for (const u of report.uncertain) parts.push(`UNCERTAIN ${u.id}: ${u.reason}`);
  for (const f of report.failed) parts.push(`FAILED ${f.id}: ${f.reason}`);
  if (report.quarantined.length)
    parts.push(`unreadable, moved to ${FOLDERS.errors}/: ${report.quarantined.join(', ')}`);
  if (report.unsafe.length)
    parts.push(
      `UNSAFE (never read, left for the git owner): ${report.unsafe.map((u) => `${u.path} (${u.reason})`).join(', ')}`,
    );
  if (report.merged) parts.push(`merged ${report.merged} updates into Dashboard.md`);
  if (report.deferred.length && parts.length) parts.push(`waiting: ${ids(report.deferred)}`);
  return parts.join('; ');
}

/** The start-up line about the Odoo actions: where they post and pay (never the key), or that they are off. */
export function odooStartLine(config: ExecutorConfig): [Record<string, unknown>, string] {
  const odoo = config.odoo;
  if (!odoo) {
    return [
      { odoo: false },
      'Odoo actions off (no ODOO_URL): post_invoice and register_payment approvals wait in Approved/',
    ];
  }
  const ceiling = config.paymentCeiling;
  const rate = ratePerHour(config, 'register_payment');
  return [
    {
      odoo: { url: odoo.url, database: odoo.database, login: odoo.login ?? null, protocol: odoo.protocol },
      paymentCeiling: ceiling ?? null,
      paymentsPerHour: rate,
    },
    `Odoo actions enabled (post_invoice, register_payment): ${odoo.url} database ${odoo.database}${odoo.login ? ` as ${odoo.login}` : ''}; payments up to ${ceiling ?? 'no ceiling'} each, ${rate} an hour`,
  ];
}

/**
 * `fte executor`: every error before the loop (a setting, the key, the state folder, the lock, the Sent
 * copy's IMAP settings) is an FteError with its exit code, reported by cli/errors.ts.
 */
export async function run(opts: {
  vault: string;
  agent: string;
  once?: boolean;
  interval: string;
  uiPort?: string;
  uiBind?: string;
  ui?: boolean;
}): Promise<void> {
  const everyMs = intervalMs(opts.interval);
  // The page's settings first: a non-loopback bind without a password refuses to start (exit 78).
  const ui = loadUiConfig(process.env, { port: uiPortArgument(opts.uiPort), bind: opts.uiBind });
  const local = await openLocal(opts.vault, opts.agent);
  const log = createLogger({ agent: opts.agent });
  const imap = loadSentCopyConfig(process.env);
  const sentCopy = imap ? new ImapSentCopy(imap, log) : undefined;
  const transport =
    local.config.smtp && !local.config.dryRun ? new SmtpTransport(local.config.smtp) : undefined;
  const executive = new Executive({
    root: local.root,
    agent: opts.agent,
    key: local.key,
    config: local.config,
    log,
    transport,
    crashAfterIntent: process.env.FTE_TEST_CRASH_AFTER_INTENT === '1',
    sentCopy,
    state: local.state,
  });
  // The lock last: a refusal above leaves no lock behind, and from here on this is the one executor.
  const release = await acquireLock(local.state.lock);
  if (local.migration.kind === 'migrated') {
    log.info(
      { records: local.migration.records, dropped: local.migration.dropped, ledger: local.ledger.path },
      'ledger moved out of the vault into the state folder',
    );
  } else if (local.migration.kind === 'refused') {
    log.warn(
      { reason: local.migration.reason, ledger: local.ledger.path },
      'the old in-vault ledger was not imported (it may have been written by a pull); starting from the state folder',
    );
  }
  if (!transport && !local.config.dryRun) {
    log.warn('no SMTP server configured (SMTP_HOST, SMTP_FROM): approved emails wait in Approved/');
  }
  log.info(...odooStartLine(local.config));
  const step = async () => {
    const line = describePass(await executive.pass());
    if (line) process.stdout.write(`${opts.once ? '' : `${new Date().toISOString()} `}${line}\n`);
  };
  try {
    if (opts.once) {
      // A signal during the pass lets it finish (a send in flight records its outcome), then we exit.
      const later = () => log.info('stopping after the current pass');
      process.on('SIGTERM', later);
      process.on('SIGINT', later);
      try {
        await step();
      } finally {
        process.off('SIGTERM', later);
        process.off('SIGINT', later);
      }
      return;
    }
    let wakePass: () => void = () => undefined;
    const stop = new StopRequest();
    const page =
      ui.enabled && opts.ui !== false
        ? await startLocalPage(ui, local, executive, log, () => wakePass())
        : undefined;
    log.info(
      {
        vault: local.root,
        statusPage: page?.url,
        state: local.state.dir,
        intervalMs: everyMs,
        dryRun: local.config.dryRun,
        emailsPerHour: local.config.emailsPerHour,
        limitFrom: local.config.limitSources,
      },
      'local executive started',
    );
    await untilStopped(
      stop,
      everyMs,
      async () => {
        try {
          await step();
        } catch (error) {
          // One bad pass (a git hiccup, a full disk) must not stop the executive; the next pass retries.
          log.error({ err: error instanceof Error ? error.message : String(error) }, 'pass failed');
        }
      },
      {
        // The owner's decisions (a move into Approved/ or Rejected/, `fte approve`) start a pass at once.
        subscribeWake: (wake) => {
          wakePass = wake;
          return watchFolders(
            [join(local.root, FOLDERS.approved), join(local.root, FOLDERS.rejected)],
            wake,
            {
              debounceMs: 50,
            },
          );
        },
        onStop: () => log.info('stopping after the current pass'),
      },
    );
    stop.dispose();
    await page?.close();
    log.info('local executive stopped');
  } finally {
    transport?.close();
    await release();
  }
}

function uiPortArgument(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SetupError(`--ui-port must be a port number (0 picks a free one), not ${JSON.stringify(raw)}`);
  }
  return port;
}

/** The status page of this executor: read-write, on the configured bind; its address on stdout. */
async function startLocalPage(
  ui: UiConfig,
  local: LocalSetup,
  executive: Executive,
  log: Logger,
  wake: () => void,
): Promise<StatusPage> {
  const live = new LiveFeed(local.root, [dirname(local.state.ledger)]);
  const page = await serveStatusPage({
    bind: ui.bind,
    port: ui.port,
    agent: local.agent,
    mode: 'local',
    read: new ReadModel({
      root: local.root,
      agent: local.agent,
      dashboardState: local.state.dashboard,
      ledger: local.ledger,
      actions: local.actions,
      mailTokenFiles: localMailTokenFiles(process.env),
    }),
    live,
    decisions: new PageDecisions({
      repo: executive.repo,
      ctx: local.ctx,
      key: local.key,
      ledger: local.ledger,
      wake,
    }),
    credentials: { passwordHash: ui.passwordHash, token: ui.token },
    log: (message, fields) => log.warn(fields ?? {}, message),
  }).catch((error: unknown) => {
    live.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
      throw new ConfigError(
        `the status page cannot listen on ${ui.bind}:${ui.port} (${code}): choose another --ui-port or FTE_UI_PORT, or --no-ui`,
      );
    }
    throw error;
  });
  process.stdout.write(`status page: ${page.url}\n`);
  return {
    ...page,
    close: async () => {
      live.close();
      await page.close();
    },
  };
}
