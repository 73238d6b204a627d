import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeAuditLine } from './codec.js';
import { isErrno } from './fsutil.js';
import { FOLDERS } from './layout.js';
import { AuditRecord } from './schemas.js';

export type AuditInput = Omit<AuditRecord, 'timestamp' | 'approval_status' | 'approved_by' | 'parameters'> &
  Partial<Pick<AuditRecord, 'approval_status' | 'approved_by' | 'parameters'>>;

/** `Logs/YYYY-MM-DD.json` for a moment in UTC. */
export function auditFileFor(date: Date): string {
  return `${FOLDERS.logs}/${date.toISOString().slice(0, 10)}.json`;
}

/**
 * Append-only audit log: one JSON object per line. Each record is written with a single O_APPEND write,
 * so concurrent writers on one machine never interleave; across machines the vault's `.gitattributes`
 * sets `merge=union` on `Logs/*.json`, so both sides' lines survive a rebase.
 */
export class AuditLog {
  constructor(
    private readonly vaultRoot: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async append(input: AuditInput): Promise<AuditRecord> {
    const now = this.clock();
    const record = AuditRecord.parse({
      timestamp: now.toISOString(),
      parameters: {},
      approval_status: 'not_required',
      approved_by: null,
      ...input,
    });
    const path = join(this.vaultRoot, auditFileFor(now));
    await mkdir(join(this.vaultRoot, FOLDERS.logs), { recursive: true });
    await appendFile(path, `${JSON.stringify(record)}\n`, { encoding: 'utf8', flag: 'a' });
    return record;
  }

  /** Records of one day, oldest first; a line that does not parse is reported, not dropped silently. */
  async read(day: Date): Promise<AuditRecord[]> {
    let text: string;
    try {
      text = await readFile(join(this.vaultRoot, auditFileFor(day)), 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(decodeAuditLine);
  }
}
