import { revealForTerminal, terminalLine } from '../../core/visible-text.js';
import { DecisionError } from '../../executor/decisions.js';
import { openLocal, taskIdArgument } from '../../executor/setup.js';
import { ReadModel } from '../../executor/ui/read-model.js';

/**
 * `fte show <id>`: what approving a pending request would sign, before anything is signed: every
 * recipient and effect (exactly the lines `fte approve` prints), the draft as text, why it cannot be
 * approved if so, and the digest of the request as shown. `fte approve <id> --seen <digest>` then signs
 * only that version: a sync that changed the request in between makes the approval refuse.
 * Everything from the vault is printed with hidden characters and escape sequences made visible.
 */
export async function run(rawId: string, opts: { vault: string; agent: string }): Promise<void> {
  const id = taskIdArgument(rawId);
  const local = await openLocal(opts.vault, opts.agent);
  const read = new ReadModel({
    root: local.root,
    agent: local.agent,
    ledger: local.ledger,
    actions: local.actions,
  });
  const detail = await read.approval(id);
  if (!detail) throw new DecisionError(`no approval request ${id} in Pending_Approval/`, 'not_found');
  const width = Math.max(...detail.effect.map(([label]) => label.length), 0);
  const lines = [
    `${id}: ${terminalLine(detail.action)} (${terminalLine(detail.domain)}), expires ${terminalLine(detail.expires)}`,
    ...(detail.problem ? [`  cannot be approved: ${terminalLine(detail.problem)}`] : []),
    `  approving signs exactly this (${terminalLine(detail.action)}):`,
    ...detail.effect.map(
      ([label, value]) => `    ${terminalLine(label).padEnd(width)}  ${terminalLine(value)}`,
    ),
    ...detail.notes.map((note) => `  note: ${terminalLine(note)}`),
    `  draft (${detail.draft.length} characters):`,
    ...revealForTerminal(detail.draft)
      .replace(/\n$/, '')
      .split('\n')
      .map((line) => `    | ${line}`),
    `  to approve this version: fte approve ${id} --seen ${detail.seen}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
