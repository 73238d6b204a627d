import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { isErrno } from '../core/fsutil.js';

/**
 * The idempotency ledger: local-only (`<vault>/.fte/ledger.jsonl`, never synced), append-only, every line
 * fsync'd before the caller goes on. An `intent` is written before an external side effect and an `outcome`
 * after it, so a crash in between is seen on restart as an intent without an outcome: Uncertain, and
 * never retried automatically (at most once).
 */

/** Where the ledger lives in a vault: `.fte/` is git-ignored, so it never syncs. */
export const LEDGER_FILE = '.fte/ledger.jsonl';

export const OUTCOMES = ['sent', 'not_sent', 'failed', 'uncertain'] as const;
export type LedgerOutcome = (typeof OUTCOMES)[number];

export const LedgerRecord = z.object({
  ts: z.string(),
  key: z.string().min(1),
  task: z.string().min(1),
  action: z.string().min(1),
  /** intent: about to act; outcome: what happened; dry_run: logged instead of acting; resolution: the owner's word on an Uncertain one. */
  kind: z.enum(['intent', 'outcome', 'dry_run', 'resolution']),
  outcome: z.enum(OUTCOMES).optional(),
  message_id: z.string().optional(),
  detail: z.string().optional(),
});
export type LedgerRecord = z.infer<typeof LedgerRecord>;

/**
 * What may happen next for one idempotency key:
 * - `fresh`: nothing was attempted (or only logged in DRY_RUN): may act.
 * - `retry`: the last attempt certainly did not happen (refused before delivery): may act again.
 * - `uncertain`: an intent without a known outcome: the owner decides, never retried by itself.
 * - `sent` / `failed`: final.
 */
export type KeyState = 'fresh' | 'retry' | 'uncertain' | 'sent' | 'failed';

export function stateOf(records: LedgerRecord[]): { state: KeyState; last?: LedgerRecord; dryRun: boolean } {
  const meaningful = records.filter((r) => r.kind !== 'dry_run');
  const last = meaningful.at(-1);
  const dryRun = records.at(-1)?.kind === 'dry_run';
  if (!last) return { state: 'fresh', dryRun };
  if (last.kind === 'intent') return { state: 'uncertain', last, dryRun };
  switch (last.outcome) {
    case 'sent':
      return { state: 'sent', last, dryRun };
    case 'failed':
      return { state: 'failed', last, dryRun };
    case 'not_sent':
      return { state: 'retry', last, dryRun };
    default:
      return { state: 'uncertain', last, dryRun };
  }
}

export class Ledger {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Appends one record and fsyncs it before resolving. A torn last line (crash mid-write) is closed off first. */
  append(record: LedgerRecord): Promise<void> {
    const line = `${JSON.stringify(LedgerRecord.parse(record))}\n`;
    const run = this.queue.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const handle = await open(this.path, 'a+');
      try {
        const { size } = await handle.stat();
        let prefix = '';
        if (size > 0) {
          const last = Buffer.alloc(1);
          await handle.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) prefix = '\n';
        }
        await handle.write(prefix + line);
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Every readable record, oldest first; a torn or foreign line is skipped (it never completed an intent). */
  async records(): Promise<LedgerRecord[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
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

  async state(key: string): Promise<ReturnType<typeof stateOf>> {
    return stateOf((await this.records()).filter((r) => r.key === key));
  }

  /** Side effects of `action` that happened or may have happened since `since` (for rate limits). */
  async countSince(action: string, since: Date): Promise<number> {
    const from = since.getTime();
    return (await this.records()).filter(
      (r) =>
        r.action === action &&
        r.kind === 'outcome' &&
        (r.outcome === 'sent' || r.outcome === 'uncertain') &&
        Date.parse(r.ts) >= from,
    ).length;
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
