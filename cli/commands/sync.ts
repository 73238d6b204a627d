import { type SyncReport, VaultRepo } from '../../core/vault-repo.js';
import { watchVault } from '../../core/watch.js';
import { EXIT } from '../errors.js';
import { untilStopped } from '../signals.js';
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
}): Promise<void> {
  const everyMs = intervalMs(opts.interval);
  const repo = new VaultRepo({
    root: resolveVault(opts.vault),
    agent: opts.agent,
    onEvent: (event) => process.stderr.write(`fte sync: ${event.message}\n`),
  });
  if (opts.once) {
    const report = await repo.sync();
    process.stdout.write(`${describe(report)}\n`);
    // Refused: the remote's commit cannot be taken; like offline, work stays local until it is fixed.
    if (report.state === 'offline' || report.state === 'refused') process.exitCode = EXIT.offline;
    return;
  }
  // The git-sync sidecar: the operator in the same pod applies its changes through this port.
  const server = opts.serve
    ? await (await import('../vault-port.js')).serveSyncPort(repo, opts.serve, process.env)
    : undefined;
  if (server) process.stderr.write(`fte sync: vault port listening on ${server.url}\n`);
  let last = '';
  // A local change (a note edited, a file moved in Obsidian) is synced right away, not at the next tick.
  await untilStopped(
    everyMs,
    async () => {
      const line = describe(await repo.sync());
      if (line !== last || line !== 'synced') process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      last = line;
    },
    { subscribeWake: (wake) => watchVault(repo.root, wake) },
  );
  await server?.close();
}
