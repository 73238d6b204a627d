import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { isErrno } from '../core/fsutil.js';

/**
 * The laptop's own record of what it did and what its owner decided: append-only, every line fsync'd
 * before the caller goes on, kept outside the working tree (executor/state.ts), so nothing the remote
 * holds can rewrite it. An `intent` is written before an external side effect and an `outcome` after it,
 * so a crash in between is seen on restart as an intent without an outcome: Uncertain, and never retried
 * automatically (at most once). The owner's decisions (approved, rejected, expired, resolution) and the
 * finish of a task are recorded too: the owner's last word outlives any file the remote later holds.
 */

export const OUTCOMES = ['sent', 'not_sent', 'failed', 'uncertain'] as const;
export type LedgerOutcome = (typeof OUTCOMES)[number];

export const LEDGER_KINDS = [
  /** About to act (fsync'd before the side effect). */
  'intent',
  /** What the side effect did. */
  'outcome',
  /** DRY_RUN: logged instead of acting. */
  'dry_run',
  /** The owner's word on an Uncertain one (`fte resolve`). */
  'resolution',
  /** The task was filed in Done/ after its send: a later copy of the approval is a replay. */
  'finished',
  /** The owner signed an approval (informational). */
  'approved',
  /** The owner rejected the task: no approval signed before this moment is ever executed. */
  'rejected',
  /** An approval of the task was seen expired: it is never executed. */
  'expired',
] as const;

export const LedgerRecord = z.object({
  ts: z.string(),
  key: z.string().min(1),
  task: z.string().min(1),
  action: z.string().min(1),
  kind: z.enum(LEDGER_KINDS),
  outcome: z.enum(OUTCOMES).optional(),
  message_id: z.string().optional(),
  /** Who the side effect was for (`res.partner/7`), when the action names one (Prepared.counterparty). */
  counterparty: z.string().optional(),
  detail: z.string().optional(),
});
export type LedgerRecord = z.infer<typeof LedgerRecord>;

/** A record that releases something (an owner's "it was not sent"): never imported from a foreign ledger. */
export function loosens(record: LedgerRecord): boolean {
  return record.kind === 'resolution' && record.outcome === 'not_sent';
}

/**
 * What may happen next for one idempotency key:
 * - `fresh`: nothing was attempted (or only logged in DRY_RUN): may act.
 * - `retry`: the last attempt certainly did not happen (refused before delivery): may act again.
 * - `uncertain`: an intent without a known outcome: the owner decides, never retried by itself.
 * - `sent` / `failed`: final.
 */
export type KeyState = 'fresh' | 'retry' | 'uncertain' | 'sent' | 'failed';

const ATTEMPT_KINDS = new Set<LedgerRecord['kind']>(['intent', 'outcome', 'resolution']);

export function stateOf(records: LedgerRecord[]): {
  state: KeyState;
  last?: LedgerRecord;
  dryRun: boolean;
  finished: boolean;
} {
  const meaningful = records.filter((r) => ATTEMPT_KINDS.has(r.kind));
  const last = meaningful.at(-1);
  const dryRun =
    records.filter((r) => ATTEMPT_KINDS.has(r.kind) || r.kind === 'dry_run').at(-1)?.kind === 'dry_run';
  const finished = records.some((r) => r.kind === 'finished');
  const base = { last, dryRun, finished };
  if (!last) return { state: 'fresh', ...base };
  if (last.kind === 'intent') return { state: 'uncertain', ...base };
  switch (last.outcome) {
    case 'sent':
      return { state: 'sent', ...base };
    case 'failed':
      return { state: 'failed', ...base };
    case 'not_sent':
      return { state: 'retry', ...base };
    default:
      return { state: 'uncertain', ...base };
  }
}

export class Ledger {
  private queue: Promise<unknown> = Promise.resolve();
  private cache?: { size: number; mtimeMs: number; records: LedgerRecord[] };

  constructor(readonly path: string) {}

  /** Parses ledger text; a torn or foreign line is skipped (it never completed an intent). */
  static parse(text: string): LedgerRecord[] {
    const out: LedgerRecord[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const parsed = LedgerRecord.safeParse(JSON.parse(line));
        if (parsed.success) out.push(parsed.data);
      } catch {
        // A line cut short by a crash: its write never returned, so nothing acted on it.
      }
    }
    return out;
  }

  /** Appends one record and fsyncs it before resolving. A torn last line (crash mid-write) is closed off first. */
  append(record: LedgerRecord): Promise<void> {
    return this.appendMany([record]);
  }

  appendMany(records: LedgerRecord[]): Promise<void> {
    const lines = records.map((r) => `${JSON.stringify(LedgerRecord.parse(r))}\n`).join('');
    const run = this.queue.then(async () => {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const handle = await open(
        this.path,
        constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
        0o600,
      );
      try {
        const { size } = await handle.stat();
        let prefix = '';
        if (size > 0) {
          const last = Buffer.alloc(1);
          await handle.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) prefix = '\n';
        }
        if (lines || prefix) await handle.write(prefix + lines);
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Creates the ledger file if absent (no records). */
  touch(): Promise<void> {
    return this.appendMany([]);
  }

  /** Every readable record, oldest first. Re-read only when the file changed (other processes append too). */
  async records(): Promise<LedgerRecord[]> {
    await this.queue;
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(this.path);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
    if (this.cache && this.cache.size === info.size && this.cache.mtimeMs === info.mtimeMs) {
      return this.cache.records;
    }
    const handle = await open(this.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    let text: string;
    try {
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
    const records = Ledger.parse(text);
    this.cache = { size: Buffer.byteLength(text), mtimeMs: info.mtimeMs, records };
    return records;
  }

  async state(key: string): Promise<ReturnType<typeof stateOf>> {
    return stateOf((await this.records()).filter((r) => r.key === key));
  }

  /** Every record about one task, oldest first. */
  async forTask(task: string): Promise<LedgerRecord[]> {
    return (await this.records()).filter((r) => r.task === task);
  }

  /**
   * The owner's latest "no" for a task: a rejection or an expiry. An approval signed at or before this
   * moment is never executed, whatever copy of it the remote brings back.
   */
  async lastNo(task: string): Promise<LedgerRecord | undefined> {
    return (await this.forTask(task)).filter((r) => r.kind === 'rejected' || r.kind === 'expired').at(-1);
  }

  /**
   * Side effects of `action` that happened or may have happened since `since` (for rate limits): every
   * intent in the window, sent or uncertain (a crash mid-act counts), except those whose outcome says the
   * side effect certainly did not happen.
   */
  async countSince(action: string, since: Date): Promise<number> {
    const from = since.getTime();
    const counted = new Set<string>();
    let count = 0;
    for (const r of await this.records()) {
      if (r.action !== action) continue;
      if (r.kind === 'intent') {
        if (Date.parse(r.ts) >= from && !counted.has(r.key)) {
          counted.add(r.key);
          count++;
        }
      } else if (r.kind === 'outcome' && (r.outcome === 'not_sent' || r.outcome === 'failed')) {
        if (counted.delete(r.key)) count--;
      }
    }
    return count;
  }

  /**
   * True when a side effect of `action` for `counterparty` is recorded as done in these records: its key's
   * state is `sent` (an outcome, or the owner's `fte resolve --sent` on an Uncertain one).
   */
  static doneFor(records: LedgerRecord[], action: string, counterparty: string): boolean {
    const keys = new Set(
      records.filter((r) => r.action === action && r.counterparty === counterparty).map((r) => r.key),
    );
    return [...keys].some((key) => stateOf(records.filter((r) => r.key === key)).state === 'sent');
  }

  /**
   * Every readable record, read synchronously (for an executor's `prepare`, which is synchronous): the
   * same parsing as `records()`, no cache. An absent ledger has no records.
   */
  recordsSync(): LedgerRecord[] {
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
    try {
      return Ledger.parse(readFileSync(fd, 'utf8'));
    } finally {
      closeSync(fd);
    }
  }

  /** Tasks whose side effect happened but which were never filed in Done/ (a kill inside the finish step). */
  async unfinished(): Promise<string[]> {
    const byKey = new Map<string, LedgerRecord[]>();
    for (const r of await this.records()) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
    return [...byKey.values()].flatMap((rs) => {
      const s = stateOf(rs);
      return s.state === 'sent' && !s.finished && s.last ? [s.last.task] : [];
    });
  }

  /** Keys whose latest record is an intent with no outcome: a crash or a lost connection mid-act. */
  async unresolved(): Promise<LedgerRecord[]> {
    const byKey = new Map<string, LedgerRecord[]>();
    for (const r of await this.records()) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
    return [...byKey.values()].flatMap((rs) => {
      const s = stateOf(rs);
      return s.state === 'uncertain' && s.last ? [s.last] : [];
    });
  }
}
