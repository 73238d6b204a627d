import { decodeAuditLine } from './codec.js';
import { UnsafePathError } from './errors.js';
import { FOLDERS } from './layout.js';
import { AuditRecord } from './schemas.js';
import { VaultFiles } from './vault/safe-fs.js';

export type AuditInput = Omit<AuditRecord, 'timestamp' | 'approval_status' | 'approved_by' | 'parameters'> &
  Partial<Pick<AuditRecord, 'approval_status' | 'approved_by' | 'parameters'>>;

/** `Logs/YYYY-MM-DD.json` for a moment in UTC. */
export function auditFileFor(date: Date): string {
  return `${FOLDERS.logs}/${date.toISOString().slice(0, 10)}.json`;
}

/**
 * Append-only audit log: one JSON object per line. Each record is written with a single O_APPEND write,
 * so concurrent writers on one machine never interleave; across machines the vault's `.gitattributes`
 * sets `merge=union` on `Logs/*.json`, so both sides' lines survive a rebase. A log file the remote turned
 * into a link is never appended through (VaultFiles refuses it).
 */
export class AuditLog {
  private readonly files: VaultFiles;

  constructor(
    vaultRoot: string,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.files = new VaultFiles(vaultRoot);
  }

  async append(input: AuditInput): Promise<AuditRecord> {
    const now = this.clock();
    const record = AuditRecord.parse({
      timestamp: now.toISOString(),
      parameters: {},
      approval_status: 'not_required',
      approved_by: null,
      ...input,
    });
    await this.files.append(auditFileFor(now), `${JSON.stringify(record)}\n`);
    return record;
  }

  /** Records of one day, oldest first; a line that does not parse is reported, not dropped silently. */
  async read(day: Date): Promise<AuditRecord[]> {
    const read = await this.files.readText(auditFileFor(day), 64 * 1024 * 1024);
    if (read.kind === 'missing') return [];
    if (read.kind === 'refused') throw new UnsafePathError(auditFileFor(day), read.reason);
    return read.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(decodeAuditLine);
  }
}
