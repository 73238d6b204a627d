import { parseIsoWeek } from '../../core/briefing/week.js';
import { LocalVaultPort } from '../../core/vault/local-port.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { commitBriefing, makeBriefing } from '../../operator/briefing/briefing.js';
import { CliError, EXIT } from '../errors.js';
import { resolveVault } from '../vault-arg.js';

export type BriefingCliOptions = { vault: string; agent: string; week?: string; print?: boolean };

/**
 * `fte briefing`: computes the Monday briefing of a week and commits `Briefings/<date>_Monday_Briefing.md`
 * in the vault as one change through the vault port (the way every cloud-side write is committed);
 * `--print` only prints it. The next `fte sync` pushes it.
 */
export async function run(opts: BriefingCliOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (opts.week !== undefined) parseIsoWeek(opts.week); // a bad week is a usage error before anything is read
  const root = resolveVault(opts.vault);
  const briefing = await makeBriefing({ root, env, week: opts.week, agent: opts.agent });
  if (briefing.narrative.fallback) {
    process.stderr.write(
      `fte briefing: Claude failed, template narrative used: ${briefing.narrative.fallback}\n`,
    );
  }
  if (briefing.data.odoo.status !== 'ok') {
    process.stderr.write(
      `fte briefing: Odoo ${briefing.data.odoo.status}: ${briefing.data.odoo.reason ?? ''}\n`,
    );
  }
  if (opts.print) {
    process.stdout.write(briefing.content);
    return;
  }
  const port = new LocalVaultPort(new VaultRepo({ root, agent: opts.agent }));
  const result = await commitBriefing(port, briefing);
  if (result.kind === 'conflict') throw new CliError(`briefing not written: ${result.reason}`, EXIT.offline);
  if (result.kind === 'secret') {
    throw new CliError(
      `briefing not written: the secret guard refused it (${result.refused.map((r) => r.reason).join('; ')})`,
      EXIT.dataError,
    );
  }
  process.stdout.write(`wrote ${briefing.path} (week ${briefing.data.week})\n`);
}
