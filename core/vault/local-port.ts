import { createHash } from 'node:crypto';
import { AuditLog, auditFileFor } from '../audit.js';
import { FteError } from '../errors.js';
import { findSecretName, scanText } from '../secret-guard.js';
import type { ClaimOutcome, SyncReport, VaultRepo } from '../vault-repo.js';
import {
  type ChangeResult,
  type ParsedVaultChange,
  type Precondition,
  type SecretRefusal,
  VaultChange,
  type VaultPort,
} from './change.js';
import { VaultFiles } from './safe-fs.js';

/** A change that does not fit the VaultChange schema (a bug in a step, or a hostile HTTP client). */
export class InvalidChangeError extends FteError {
  constructor(message: string) {
    super(`invalid vault change: ${message}`, { exitCode: 65 });
  }
}

export function parseChange(input: unknown): ParsedVaultChange {
  const parsed = VaultChange.safeParse(input);
  if (!parsed.success) {
    throw new InvalidChangeError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

/**
 * The in-process VaultPort: applies a change under the clone's single git owner (VaultRepo), as one commit.
 * Every precondition, stated or implied by an operation (a `create` needs an absent path, a `move` a present
 * source and an absent target), is checked before anything is written; if an operation still fails midway,
 * the paths already touched get their earlier bytes back, so the working tree never holds half a change.
 */
export class LocalVaultPort implements VaultPort {
  readonly root: string;
  readonly agent: string;
  private readonly files: VaultFiles;
  private readonly audit: AuditLog;

  constructor(
    private readonly repo: VaultRepo,
    clock: () => Date = () => new Date(),
  ) {
    this.root = repo.root;
    this.agent = repo.agent;
    this.files = new VaultFiles(repo.root);
    this.audit = new AuditLog(repo.root, clock);
  }

  async apply(input: unknown): Promise<ChangeResult> {
    const change = parseChange(input);
    const secrets = await secretsIn(change);
    if (secrets.length > 0) return { kind: 'secret', refused: secrets };
    let conflict: string | undefined;
    const result = await this.repo.change(change.message, async () => {
      conflict = await this.firstConflict(change);
      if (conflict !== undefined) return [];
      return this.applyUnlocked(change);
    });
    if (conflict !== undefined) return { kind: 'conflict', reason: conflict };
    return { kind: 'applied', committed: result.committed, refused: result.refused };
  }

  claim(id: string): Promise<ClaimOutcome> {
    return this.repo.claim(id);
  }

  sync(): Promise<SyncReport> {
    return this.repo.sync();
  }

  private async firstConflict(change: ParsedVaultChange): Promise<string | undefined> {
    const implied: Precondition[] = [];
    for (const op of change.operations) {
      for (const path of op.op === 'move' ? [op.from, op.to] : [op.path]) {
        const entry = await this.files.inspect(path);
        // A link at the path itself may be replaced or removed; one on the way to it is never followed.
        if (entry.kind === 'refused' && (entry.at !== path || op.op === 'move')) {
          return `${entry.at}: ${entry.reason}`;
        }
      }
      if (op.op === 'write' && op.mode === 'create') implied.push({ kind: 'absent', path: op.path });
      if (op.op === 'move') implied.push({ kind: 'present', path: op.from }, { kind: 'absent', path: op.to });
    }
    for (const pre of [...change.preconditions, ...implied]) {
      const failed = await this.check(pre);
      if (failed) return failed;
    }
    return undefined;
  }

  private async check(pre: Precondition): Promise<string | undefined> {
    const entry = await this.files.inspect(pre.path);
    if (entry.kind === 'refused') return `${pre.path}: ${entry.reason}`;
    switch (pre.kind) {
      case 'absent':
        return entry.kind === 'missing' ? undefined : `${pre.path} already exists`;
      case 'present':
        return entry.kind === 'file' ? undefined : `${pre.path} is not there`;
      case 'sha256': {
        const read = await this.files.readBytes(pre.path);
        if (read.kind !== 'ok') return `${pre.path} is not there`;
        const actual = createHash('sha256').update(read.data).digest('hex');
        return actual === pre.sha256 ? undefined : `${pre.path} changed since it was read`;
      }
    }
  }

  /** Applies the operations and audit records; returns every path touched, for the commit. */
  private async applyUnlocked(change: ParsedVaultChange): Promise<string[]> {
    const before = new Map<string, Buffer | undefined>();
    const remember = async (path: string) => {
      if (before.has(path)) return;
      const read = await this.files.readBytes(path);
      before.set(path, read.kind === 'ok' ? read.data : undefined);
    };
    const touched: string[] = [];
    try {
      for (const op of change.operations) {
        if (op.op === 'write') {
          if (op.mode === 'ensure' && (await this.files.inspect(op.path)).kind !== 'missing') continue;
          await remember(op.path);
          await this.files.writeAtomic(op.path, Buffer.from(op.content, op.encoding));
          touched.push(op.path);
        } else if (op.op === 'move') {
          await remember(op.from);
          await remember(op.to);
          if (!(await this.files.move(op.from, op.to))) {
            throw new FteError(
              `cannot move ${op.from} to ${op.to}: the source went away or the target appeared`,
            );
          }
          touched.push(op.from, op.to);
        } else {
          await remember(op.path);
          if (await this.files.remove(op.path)) touched.push(op.path);
        }
      }
    } catch (error) {
      await this.restore(before);
      throw error;
    }
    for (const entry of change.audit) {
      const record = await this.audit.append({ parameters: {}, ...entry });
      touched.push(auditFileFor(new Date(record.timestamp)));
    }
    return [...new Set(touched)];
  }

  private async restore(before: Map<string, Buffer | undefined>): Promise<void> {
    for (const [path, bytes] of before) {
      if (bytes === undefined) await this.files.remove(path).catch(() => false);
      else await this.files.writeAtomic(path, bytes).catch(() => undefined);
    }
  }
}

/** Files the change would write that the secret guard refuses: by name or by content, before anything is written. */
async function secretsIn(change: ParsedVaultChange): Promise<SecretRefusal[]> {
  const refused: SecretRefusal[] = [];
  for (const op of change.operations) {
    const path = op.op === 'write' ? op.path : op.op === 'move' ? op.to : undefined;
    if (!path) continue;
    const byName = findSecretName(path);
    const text = op.op === 'write' ? Buffer.from(op.content, op.encoding).toString('utf8') : undefined;
    const byContent = text !== undefined && !byName ? await scanText(text, { path }) : undefined;
    if (byName) refused.push({ path, reason: `refused: ${byName}` });
    else if (byContent)
      refused.push({ path, reason: `refused: contains ${byContent.description} (rule ${byContent.rule})` });
  }
  return refused;
}
