import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuditLog } from '../core/audit.js';
import { sanitizeTaskId } from '../core/ids.js';
import { ConfigError, type ExecutorConfig, loadExecutorConfig } from './config.js';
import type { DecisionContext } from './decisions.js';
import { ApprovalKeyError, approvalKeyPath, loadApprovalKey } from './key.js';
import { LEDGER_FILE, Ledger } from './ledger.js';

/** What every local command needs: the vault, the config, the approval key. Errors carry a one-line message. */
export class SetupError extends Error {
  constructor(
    message: string,
    readonly kind: 'usage' | 'config',
  ) {
    super(message);
  }
}

export type LocalSetup = {
  root: string;
  agent: string;
  config: ExecutorConfig;
  key: Buffer;
  ctx: DecisionContext;
  ledger: Ledger;
};

export async function openLocal(vault: string, agent: string, env = process.env): Promise<LocalSetup> {
  const root = resolve(vault);
  if (!existsSync(join(root, '.git'))) {
    throw new SetupError(`${root} is not a vault (no git repo there); create one with fte init`, 'usage');
  }
  let config: ExecutorConfig;
  let key: Buffer;
  try {
    config = await loadExecutorConfig(env, root);
    key = await loadApprovalKey(approvalKeyPath(env), root);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ApprovalKeyError)
      throw new SetupError(error.message, 'config');
    throw error;
  }
  const ctx: DecisionContext = {
    root,
    agent,
    owner: config.owner,
    audit: new AuditLog(root),
    clock: () => new Date(),
  };
  return { root, agent, config, key, ctx, ledger: new Ledger(join(root, LEDGER_FILE)) };
}

/** A task id as typed by the owner (`X` or `X.md`), refused unless it is already in safe form. */
export function taskIdArgument(raw: string): string {
  const id = raw.endsWith('.md') ? raw.slice(0, -3) : raw;
  try {
    if (sanitizeTaskId(id) === id) return id;
  } catch {
    // falls through
  }
  throw new SetupError(`not a task id: ${JSON.stringify(raw)}`, 'usage');
}
