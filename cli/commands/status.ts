import { remoteProblems, scanVault, summarizeTasks } from '../../core/status.js';
import { formatTable } from '../table.js';
import { resolveVault } from '../vault-arg.js';

export async function run(opts: { vault: string; json?: boolean }): Promise<void> {
  const root = resolveVault(opts.vault);
  const tasks = summarizeTasks(await scanVault(root));
  const remote = await remoteProblems(root);
  if (opts.json) {
    // Always the list of tasks, so scripts can rely on its shape; a refused or rewritten remote is said
    // on stderr, where it is never missed.
    for (const line of remote.lines) process.stderr.write(`fte status: ${line}\n`);
    process.stdout.write(`${JSON.stringify(tasks, null, 2)}\n`);
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
