import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeApproval } from '../../core/codec.js';
import { idempotencyKey } from '../../executor/actions/at-most-once.js';
import { approveTask } from '../../executor/decisions.js';
import { Ledger, LedgerRecord } from '../../executor/ledger.js';
import {
  cloudDrafts,
  executive,
  frontmatterOf,
  localLedger,
  ownerContext,
  smtpServer,
  tempDir,
  testKey,
  world,
} from './helpers.js';

/**
 * executor/ledger.ts: a crash mid-append leaves a last line cut short. It is skipped when read (its write
 * never returned, so nothing acted on it), the next append starts on a fresh line, and an intent whose
 * outcome line was torn stays Uncertain: never executed again by itself.
 */

const TS = '2026-12-01T10:00:00.000Z';
const intent: LedgerRecord = {
  ts: TS,
  key: 'send_email:EMAIL_T:0123456789abcdef',
  task: 'EMAIL_T',
  action: 'send_email',
  kind: 'intent',
};
const outcome: LedgerRecord = { ...intent, kind: 'outcome', outcome: 'sent', message_id: '<t@example.com>' };
const later: LedgerRecord = {
  ...intent,
  ts: '2026-12-01T11:00:00.000Z',
  key: 'send_email:EMAIL_L:fedcba9876543210',
  task: 'EMAIL_L',
};

/** The outcome line as a crash leaves it: its first bytes, no newline. */
const tornOutcome = JSON.stringify(outcome).slice(0, 40);

describe('the ledger after a crash mid-write', () => {
  it('a torn last line is skipped when read, and the next append starts a fresh, valid line', async () => {
    const path = join(await tempDir(), 'ledger.jsonl');
    await writeFile(path, `${JSON.stringify(intent)}\n${tornOutcome}`);
    const ledger = new Ledger(path);
    expect(await ledger.records()).toEqual([intent]);
    expect(ledger.recordsSync()).toEqual([intent]);
    expect((await ledger.state(intent.key)).state).toBe('uncertain');

    await ledger.append(later);
    const lines = (await readFile(path, 'utf8')).split('\n');
    // The torn fragment is closed off on its own line; the new record is whole on the next one.
    expect(lines).toEqual([JSON.stringify(intent), tornOutcome, JSON.stringify(later), '']);
    expect(await new Ledger(path).records()).toEqual([intent, later]);
    expect((await new Ledger(path).state(intent.key)).state).toBe('uncertain');
  });

  it('a torn line cut inside a multi-byte character or holding only a brace is skipped too', async () => {
    const path = join(await tempDir(), 'ledger.jsonl');
    const withUnicode = JSON.stringify({ ...outcome, detail: 'Grüße → über' });
    const cut = Buffer.from(withUnicode).subarray(
      0,
      Buffer.byteLength(withUnicode.slice(0, withUnicode.indexOf('ü'))) + 1,
    );
    await writeFile(path, Buffer.concat([Buffer.from(`${JSON.stringify(intent)}\n{\n`), cut]));
    const ledger = new Ledger(path);
    expect(await ledger.records()).toEqual([intent]);
    await ledger.appendMany([later, { ...later, kind: 'outcome', outcome: 'sent' }]);
    expect(await new Ledger(path).records()).toEqual([
      intent,
      later,
      { ...later, kind: 'outcome', outcome: 'sent' },
    ]);
  });

  it('an approved send whose outcome line was torn is Uncertain: the executive never sends it again', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await cloudDrafts(w.cloud, 'EMAIL_T');
    await executive(w, key, undefined).pass();
    const ctx = ownerContext(w);
    await approveTask(ctx, key, 'EMAIL_T', 'cli');
    await executive(w, key, undefined).pass();

    // A crash while the outcome of the send was being written: intent whole, outcome cut short.
    const approval = decodeApproval(await readFile(join(w.local.dir, 'Approved/EMAIL_T.md'), 'utf8'));
    const k = idempotencyKey(approval);
    const ledger = await localLedger(w);
    await ledger.append({
      ts: new Date().toISOString(),
      key: k,
      task: 'EMAIL_T',
      action: 'send_email',
      kind: 'intent',
    });
    const torn = JSON.stringify({
      ts: new Date().toISOString(),
      key: k,
      task: 'EMAIL_T',
      action: 'send_email',
      kind: 'outcome',
      outcome: 'sent',
    });
    await appendFile(ledger.path, torn.slice(0, torn.length - 12));

    for (let i = 0; i < 2; i++) {
      const report = await executive(w, key, smtp.port).pass();
      expect(report.sent).toEqual([]);
    }
    expect(smtp.connections()).toBe(0);
    expect(await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_T.md'))).toMatchObject({
      status: 'uncertain',
    });
    const records = await new Ledger(ledger.path).records();
    expect(records.filter((r) => r.task === 'EMAIL_T').map((r) => r.kind)).toEqual(['intent']);
    // Every line but the torn one is a whole record: the ledger stays readable line by line.
    const lines = (await readFile(ledger.path, 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines.filter((l) => !LedgerRecord.safeParse(safeJson(l)).success)).toEqual([
      torn.slice(0, torn.length - 12),
    ]);
  });
});

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
