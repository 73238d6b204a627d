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
    process.stdout.write(`${inertJson(tasks)}\n`);
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

/**
 * JSON whose text cannot reorder or hide what a terminal shows: JSON.stringify escapes C0 controls, this
 * also escapes C1 controls, bidi overrides and isolates, zero-width marks and line separators (a subject
 * from the remote may carry any of them).
 */
export function inertJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /[\u0080-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
