import { FteError } from '../../core/errors.js';
import { resolveTask } from '../../executor/decisions.js';
import { openLocal, SetupError, taskIdArgument } from '../../executor/setup.js';
import { CliError } from '../errors.js';
import { asCliError } from './local-common.js';

export async function run(
  rawId: string,
  opts: { vault: string; agent: string; sent?: boolean; notSent?: boolean },
): Promise<void> {
  try {
    const id = taskIdArgument(rawId);
    if (Boolean(opts.sent) === Boolean(opts.notSent))
      throw new SetupError('say exactly one of --sent or --not-sent', 'usage');
    const local = await openLocal(opts.vault, opts.agent);
    await resolveTask(local.ctx, local.ledger, id, opts.sent ? 'sent' : 'not_sent');
    process.stdout.write(
      opts.sent
        ? `resolved ${id}: recorded as sent; the executor moves it to Done/ without sending again\n`
        : `resolved ${id}: recorded as not sent; the executor sends it again (same Message-ID)\n`,
    );
  } catch (error) {
    // An unsafe vault path (a link the remote planted) is a one-line refusal with its own exit code.
    throw asCliError(error instanceof FteError ? new CliError(error.message, error.exitCode) : error);
  }
}
