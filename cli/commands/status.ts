import { scanVault, summarizeTasks } from '../../core/status.js';
import { formatTable } from '../table.js';
import { resolveVault } from '../vault-arg.js';

export async function run(opts: { vault: string; json?: boolean }): Promise<void> {
  const tasks = summarizeTasks(await scanVault(resolveVault(opts.vault)));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(tasks, null, 2)}\n`);
    return;
  }
  if (tasks.length === 0) {
    process.stdout.write('no tasks\n');
    return;
  }
  const rows = tasks.map((t) => [t.id, t.domain, t.phase, t.owner ?? '-', t.paths[0] ?? '', t.error ?? '']);
  process.stdout.write(formatTable(['ID', 'DOMAIN', 'PHASE', 'OWNER', 'PATH', 'ERROR'], rows));
}
