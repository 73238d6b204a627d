import { rejectTask } from '../../executor/decisions.js';
import { openLocal, taskIdArgument } from '../../executor/setup.js';

/** `fte reject <id>`: errors are FteErrors with their exit codes, reported by cli/errors.ts. */
export async function run(
  rawId: string,
  opts: { vault: string; agent: string; reason?: string },
): Promise<void> {
  const id = taskIdArgument(rawId);
  const local = await openLocal(opts.vault, opts.agent);
  const { path } = await rejectTask(local.ctx, id, opts.reason, 'cli', local.ledger);
  process.stdout.write(`rejected ${id}: moved to ${path}; nothing will be sent\n`);
}
