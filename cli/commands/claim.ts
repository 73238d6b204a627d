import { sanitizeTaskId } from '../../core/ids.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { CliError, EXIT } from '../errors.js';
import { resolveVault } from '../vault-arg.js';

export async function run(rawId: string, opts: { vault: string; agent: string }): Promise<void> {
  const id = rawId.endsWith('.md') ? rawId.slice(0, -3) : rawId;
  if (sanitizeTaskId(id) !== id) throw new CliError(`not a task id: ${JSON.stringify(rawId)}`, EXIT.usage);
  const repo = new VaultRepo({ root: resolveVault(opts.vault), agent: opts.agent });
  const outcome = await repo.claim(id);
  switch (outcome.result) {
    case 'won':
      process.stdout.write(`claimed ${id}: ${outcome.path}\n`);
      return;
    case 'lost':
      throw new CliError(`${id} is owned by ${outcome.owner ?? 'another agent'}`, EXIT.claimLost);
    case 'missing':
      throw new CliError(`no item ${id} in Needs_Action/`, EXIT.notFound);
    case 'offline':
      // Offline, or the remote's newest commit is refused (`remote refused: <reason>`): nothing is claimed.
      throw new CliError(
        outcome.error.startsWith('remote refused:')
          ? `nothing claimed: ${outcome.error}`
          : `remote unreachable, nothing claimed: ${outcome.error}`,
        EXIT.offline,
      );
  }
}
