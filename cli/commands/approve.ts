import { approveTask } from '../../executor/decisions.js';
import { openLocal, taskIdArgument } from '../../executor/setup.js';
import { asCliError } from './local-common.js';

export async function run(rawId: string, opts: { vault: string; agent: string }): Promise<void> {
  try {
    const id = taskIdArgument(rawId);
    const local = await openLocal(opts.vault, opts.agent);
    const { path, approval } = await approveTask(local.ctx, local.key, id, 'cli');
    const what = [approval.data.action, approval.data.to, approval.data.subject].filter(Boolean).join(' ');
    process.stdout.write(
      `approved ${id} (${what}): signed and moved to ${path}; the executor carries it out on its next pass\n`,
    );
  } catch (error) {
    throw asCliError(error);
  }
}
