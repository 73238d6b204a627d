import { type SyncReport, VaultRepo } from '../../core/vault-repo.js';
import { watchVault } from '../../core/watch.js';
import { EXIT } from '../errors.js';
import { StopRequest, untilStopped } from '../signals.js';
import type { SyncVaultLink } from '../sync-vault-resource.js';
import { intervalMs, resolveVault } from '../vault-arg.js';

function describe(report: SyncReport): string {
  const parts: string[] = [report.state];
  if (report.pushed) parts.push(`pushed ${report.pushed}`);
  if (report.pulled) parts.push(`pulled ${report.pulled}`);
  if (report.conflicts.length) parts.push(`conflicts kept: ${report.conflicts.join(', ')}`);
  if (report.lostClaims.length) parts.push(`claims lost: ${report.lostClaims.join(', ')}`);
  for (const refused of report.refused) parts.push(`refused ${refused.path} (${refused.reason})`);
  if (report.historyRewritten) {
    const { from, to, replayed } = report.historyRewritten;
    parts.push(
      `remote history rewritten (${from.slice(0, 12)} → ${to.slice(0, 12)}), ${replayed} local commits replayed`,
    );
  }
  if (report.quarantinedLinks?.length) parts.push(`links quarantined: ${report.quarantinedLinks.join(', ')}`);
  if (report.remoteRefused)
    parts.push(
      `remote refused: ${report.remoteRefused.reason} (commit ${report.remoteRefused.commit.slice(0, 12)})`,
    );
  else if (report.error) parts.push(`(${report.error.split('\n')[0]})`);
  return parts.join('; ');
}

export async function run(opts: {
  vault: string;
  agent: string;
  once?: boolean;
  interval: string;
  serve?: string;
  vaultResource?: string;
  kubeconfig?: string;
  namespace?: string;
}): Promise<void> {
  const everyMs = intervalMs(opts.interval);
  const log = (line: string) => process.stderr.write(`fte sync: ${line}\n`);
  // The Vault resource (ADR 0008): loaded only when asked for; @kubernetes/client-node is slow to import.
  const link = opts.vaultResource
    ? await (await import('../sync-vault-resource.js')).linkVaultResource({
        name: opts.vaultResource,
        kubeconfig: opts.kubeconfig,
        namespace: opts.namespace,
        env: process.env,
        log,
      })
    : undefined;
  const agent = link?.agent ?? opts.agent;
  if (link?.agent && link.agent !== opts.agent) log(`agent ${link.agent} (spec.agent of the Vault)`);
  const repo = new VaultRepo({
    root: resolveVault(opts.vault),
    agent,
    onEvent: (event) => log(event.message),
  });
  try {
    if (opts.once) {
      const report = await repo.sync();
      link?.report(report);
      process.stdout.write(`${describe(report)}\n`);
      // Refused: the remote's commit cannot be taken; like offline, work stays local until it is fixed.
      if (report.state === 'offline' || report.state === 'refused') process.exitCode = EXIT.offline;
      return;
    }
    await syncLoop(repo, everyMs, opts.serve, link);
  } finally {
    await link?.close();
  }
}

async function syncLoop(
  repo: VaultRepo,
  everyMs: number,
  serve: string | undefined,
  link: SyncVaultLink | undefined,
): Promise<void> {
  const stop = new StopRequest();
  // The git-sync sidecar: the operator in the same pod applies its changes through this port.
  const server = serve
    ? await (await import('../vault-port.js')).serveSyncPort(repo, serve, process.env)
    : undefined;
  if (server) process.stderr.write(`fte sync: vault port listening on ${server.url}\n`);
  let last = '';
  let waitMs = everyMs;
  // The Vault's interval once it is read (a `kubectl edit` applies from the next wait), else --interval.
  const nextWait = () => {
    const ms = link?.intervalMs() ?? everyMs;
    if (ms !== waitMs) process.stderr.write(`fte sync: syncing every ${ms / 1000} s\n`);
    waitMs = ms;
    return ms;
  };
  // A local change (a note edited, a file moved in Obsidian) is synced right away, not at the next tick;
  // so is a changed Vault spec (a shorter interval must not wait out the longer one).
  await untilStopped(
    stop,
    nextWait,
    async () => {
      const report = await repo.sync();
      link?.report(report);
      const line = describe(report);
      if (line !== last || line !== 'synced') process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      last = line;
    },
    {
      subscribeWake: (wake) => {
        const unwatch = watchVault(repo.root, wake);
        const unfollow = link?.onSpecChange(wake);
        return () => {
          unwatch();
          unfollow?.();
        };
      },
    },
  );
  stop.dispose();
  await server?.close();
}
