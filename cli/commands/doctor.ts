import { formatChecks, runDoctor } from '../../executor/doctor.js';
import { envFilePath } from '../../executor/service/env-file.js';

/** `fte doctor`: one line per check; exit 0 when nothing failed, 1 otherwise. Never prints a secret. */
export async function run(opts: { vault: string; envPath?: string; json?: boolean }): Promise<void> {
  const checks = await runDoctor({ vault: opts.vault, envFile: envFilePath(opts.envPath) });
  const failed = checks.some((c) => c.status === 'fail');
  if (opts.json) process.stdout.write(`${JSON.stringify({ ok: !failed, checks }, null, 2)}\n`);
  else process.stdout.write(`${formatChecks(checks)}\n`);
  if (failed) process.exitCode = 1;
}
