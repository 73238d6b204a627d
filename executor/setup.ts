import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuditLog } from '../core/audit.js';
import { EXIT, FteError } from '../core/errors.js';
import { Git } from '../core/git.js';
import { sanitizeTaskId } from '../core/ids.js';
import { type ActionRegistry, actionRegistry } from './actions/index.js';
import { type ExecutorConfig, loadExecutorConfig } from './config.js';
import type { DecisionContext } from './decisions.js';
import { approvalKeyPath, loadApprovalKey } from './key.js';
import { Ledger } from './ledger.js';
import { type Migration, migrateLegacyLedger, openStateDir, type StatePaths } from './state.js';

/** A local command called wrongly (no vault there, not a task id, contradictory options): exit 2. */
export class SetupError extends FteError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.usage });
  }
}

export type LocalSetup = {
  root: string;
  agent: string;
  config: ExecutorConfig;
  key: Buffer;
  ctx: DecisionContext;
  ledger: Ledger;
  state: StatePaths;
  /** What happened to a ledger an older version kept inside the vault. */
  migration: Migration;
  /** The executors, without a transport (enough to show and check an approval). */
  actions: ActionRegistry;
};

/** True when any commit git knows (any ref, the reflog included) touched `path`. */
export function gitEverHad(root: string): (path: string) => Promise<boolean> {
  return async (path) => {
    const git = new Git(root);
    const out = await git
      .run(['log', '--all', '--reflog', '--format=%H', '-1', '--', path])
      .catch(() => 'unknown');
    return out.trim() !== '';
  };
}

export async function openLocal(vault: string, agent: string, env = process.env): Promise<LocalSetup> {
  const root = resolve(vault);
  if (!existsSync(join(root, '.git'))) {
    throw new SetupError(`${root} is not a vault (no git repo there); create one with fte init`);
  }
  // A wrong setting, key or state folder is a ConfigError (exit 78) as it is.
  const config = await loadExecutorConfig(env, root);
  const key = await loadApprovalKey(approvalKeyPath(env), root);
  const state = await openStateDir(root, env);
  const ledger = new Ledger(state.ledger);
  const migration = await migrateLegacyLedger(root, ledger, gitEverHad(root));
  const actions = actionRegistry({
    from: config.smtp?.from ?? config.from,
    odoo: config.odoo,
    paymentCeiling: config.paymentCeiling,
    ledger: () => ledger,
  });
  const ctx: DecisionContext = {
    root,
    agent,
    owner: config.owner,
    audit: new AuditLog(root),
    clock: () => new Date(),
    ledger,
    actions,
  };
  return { root, agent, config, key, ctx, ledger, state, migration, actions };
}

/** A task id as typed by the owner (`X` or `X.md`), refused unless it is already in safe form. */
export function taskIdArgument(raw: string): string {
  const id = raw.endsWith('.md') ? raw.slice(0, -3) : raw;
  try {
    if (sanitizeTaskId(id) === id) return id;
  } catch {
    // falls through
  }
  throw new SetupError(`not a task id: ${JSON.stringify(raw)}`);
}
