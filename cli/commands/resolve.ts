import { resolveTask } from '../../executor/decisions.js';
import { openLocal, SetupError, taskIdArgument } from '../../executor/setup.js';

/** `fte resolve <id> --sent|--not-sent`: errors are FteErrors with their exit codes, reported by cli/errors.ts. */
export async function run(
  rawId: string,
  opts: { vault: string; agent: string; sent?: boolean; notSent?: boolean },
): Promise<void> {
  const id = taskIdArgument(rawId);
  if (Boolean(opts.sent) === Boolean(opts.notSent))
    throw new SetupError('say exactly one of --sent or --not-sent');
  const local = await openLocal(opts.vault, opts.agent);
  await resolveTask(local.ctx, local.ledger, id, opts.sent ? 'sent' : 'not_sent');
  process.stdout.write(
    opts.sent
      ? `resolved ${id}: recorded as sent; the executor moves it to Done/ without sending again\n`
      : `resolved ${id}: recorded as not sent; the executor sends it again (same Message-ID)\n`,
  );
}
