import { FteError } from '../../core/errors.js';
import { rejectTask } from '../../executor/decisions.js';
import { openLocal, taskIdArgument } from '../../executor/setup.js';
import { CliError } from '../errors.js';
import { asCliError } from './local-common.js';

export async function run(
  rawId: string,
  opts: { vault: string; agent: string; reason?: string },
): Promise<void> {
  try {
    const id = taskIdArgument(rawId);
    const local = await openLocal(opts.vault, opts.agent);
    const { path } = await rejectTask(local.ctx, id, opts.reason, 'cli', local.ledger);
    process.stdout.write(`rejected ${id}: moved to ${path}; nothing will be sent\n`);
  } catch (error) {
    // An unsafe vault path (a link the remote planted) is a one-line refusal with its own exit code.
    throw asCliError(error instanceof FteError ? new CliError(error.message, error.exitCode) : error);
  }
}
