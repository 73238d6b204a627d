import { remoteProblems, scanVault, summarizeTasks } from '../../core/status.js';
import { formatTable } from '../table.js';
import { resolveVault } from '../vault-arg.js';

export async function run(opts: { vault: string; json?: boolean }): Promise<void> {
  const root = resolveVault(opts.vault);
  const tasks = summarizeTasks(await scanVault(root));
  const remote = await remoteProblems(root);
  if (opts.json) {
    // The list of tasks while the remote is fine; while it is refused or was rewritten, an object with
    // both (`remote.lines` are the lines the table view prints), so the problem is never missed.
    const out = remote.lines.length > 0 ? { remote, tasks } : tasks;
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  for (const line of remote.lines) process.stdout.write(`${line}\n`);
  if (tasks.length === 0) {
    process.stdout.write('no tasks\n');
    return;
  }
  const rows = tasks.map((t) => [t.id, t.domain, t.phase, t.owner ?? '-', t.paths[0] ?? '', t.error ?? '']);
  process.stdout.write(formatTable(['ID', 'DOMAIN', 'PHASE', 'OWNER', 'PATH', 'ERROR'], rows));
}
