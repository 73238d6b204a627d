import { terminalLine } from '../../core/visible-text.js';
import { approveTask } from '../../executor/decisions.js';
import { openLocal, SetupError, taskIdArgument } from '../../executor/setup.js';

/**
 * `fte approve <id>`: signs the draft and prints exactly what the signature lets the executor do: every
 * recipient (to, cc, bcc), the subject, the threading headers, the action's effect. A draft carrying a
 * parameter the executor would not show or does not understand is refused, never signed. Every error is an
 * FteError with its exit code (DecisionError, SetupError, ConfigError, UnsafePathError), reported by cli/errors.ts.
 */
export async function run(
  rawId: string,
  opts: { vault: string; agent: string; seen?: string },
): Promise<void> {
  const id = taskIdArgument(rawId);
  if (opts.seen !== undefined && !/^[0-9a-f]{64}$/.test(opts.seen)) {
    throw new SetupError('--seen takes the 64-character digest `fte show` prints');
  }
  const local = await openLocal(opts.vault, opts.agent);
  const { path, approval, effect, notes } = await approveTask(local.ctx, local.key, id, 'cli', {
    seenSha256: opts.seen,
  });
  const what = terminalLine(
    [approval.data.action, approval.data.to, approval.data.subject].filter(Boolean).join(' '),
  );
  const width = Math.max(...effect.map(([label]) => label.length), 0);
  const lines = [
    `approved ${id} (${what}): signed and moved to ${path}; the executor carries it out on its next pass`,
    `  the signature covers exactly this (${approval.data.action}):`,
    ...effect.map(([label, value]) => `    ${label.padEnd(width)}  ${terminalLine(value)}`),
    ...notes.map((note) => `  note: ${terminalLine(note)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
