import { appendFile, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ledger, type LedgerRecord, loosens, stateOf } from '../../executor/ledger.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function rec(kind: LedgerRecord['kind'], key: string, fields: Partial<LedgerRecord> = {}): LedgerRecord {
  return { ts: at(0), key, task: `task-${key}`, action: 'send_email', kind, ...fields };
}

async function ledgerWith(records: LedgerRecord[]): Promise<Ledger> {
  const dir = await mkdtemp(join(tmpdir(), 'fte-ledger-'));
  const ledger = new Ledger(join(dir, 'state', 'ledger.jsonl'));
  await ledger.appendMany(records);
  return ledger;
}

describe('stateOf: what may happen next for one key', () => {
  it('fresh with no records, or only informational ones', () => {
    expect(stateOf([]).state).toBe('fresh');
    const informational = stateOf([rec('approved', 'k'), rec('dry_run', 'k'), rec('finished', 'k')]);
    expect(informational.state).toBe('fresh');
    expect(informational.last).toBeUndefined();
    expect(informational.dryRun).toBe(true);
    expect(informational.finished).toBe(true);
  });

  it('an intent without an outcome is uncertain; each outcome decides the state', () => {
    const intent = rec('intent', 'k', { ts: at(1) });
    expect(stateOf([intent])).toEqual({ state: 'uncertain', last: intent, dryRun: false, finished: false });
    expect(stateOf([intent, rec('outcome', 'k', { outcome: 'sent' })]).state).toBe('sent');
    expect(stateOf([intent, rec('outcome', 'k', { outcome: 'failed' })]).state).toBe('failed');
    expect(stateOf([intent, rec('outcome', 'k', { outcome: 'not_sent' })]).state).toBe('retry');
    expect(stateOf([intent, rec('outcome', 'k', { outcome: 'uncertain' })]).state).toBe('uncertain');
    // The owner's resolution is an attempt record too: "it went out" is sent, "it did not" may retry.
    const resolvedSent = rec('resolution', 'k', { outcome: 'sent' });
    expect(stateOf([intent, resolvedSent])).toMatchObject({ state: 'sent', last: resolvedSent });
    expect(stateOf([intent, rec('resolution', 'k', { outcome: 'not_sent' })]).state).toBe('retry');
    // An intent is a new attempt whatever it carries: a later intent makes a sent key uncertain again.
    const stray = rec('intent', 'k', { outcome: 'sent' });
    expect(stateOf([intent, rec('outcome', 'k', { outcome: 'sent' }), stray]).state).toBe('uncertain');
  });

  it('the last attempt record counts, whatever informational records follow it', () => {
    const sent = rec('outcome', 'k', { outcome: 'sent' });
    const s = stateOf([rec('intent', 'k'), sent, rec('finished', 'k'), rec('approved', 'k')]);
    expect(s).toEqual({ state: 'sent', last: sent, dryRun: false, finished: true });
  });

  it('dryRun is true only when a dry_run is the latest of the attempts and dry runs', () => {
    expect(stateOf([rec('dry_run', 'k')]).dryRun).toBe(true);
    expect(stateOf([rec('dry_run', 'k'), rec('intent', 'k')]).dryRun).toBe(false);
    expect(
      stateOf([rec('intent', 'k'), rec('outcome', 'k', { outcome: 'not_sent' }), rec('dry_run', 'k')]).dryRun,
    ).toBe(true);
    expect(stateOf([rec('dry_run', 'k'), rec('approved', 'k')]).dryRun).toBe(true);
  });

  it('loosens only an owner saying "not sent"', () => {
    expect(loosens(rec('resolution', 'k', { outcome: 'not_sent' }))).toBe(true);
    expect(loosens(rec('resolution', 'k', { outcome: 'sent' }))).toBe(false);
    expect(loosens(rec('outcome', 'k', { outcome: 'not_sent' }))).toBe(false);
  });
});

describe('the ledger file', () => {
  it('skips torn, blank and foreign lines and closes off a torn last line before appending', async () => {
    const ledger = await ledgerWith([rec('intent', 'a')]);
    // A crash mid-write left half a line without its newline; another program added a foreign line.
    await appendFile(ledger.path, '{"ts":"x","key":"b","task":"t","act');
    expect(Ledger.parse(await readFile(ledger.path, 'utf8'))).toEqual([rec('intent', 'a')]);
    await ledger.append(rec('outcome', 'a', { outcome: 'sent' }));
    await appendFile(ledger.path, '\n   \n{"kept":false}\nnot json\n');
    await ledger.append(rec('finished', 'a'));
    const text = await readFile(ledger.path, 'utf8');
    expect(text.split('\n')[1]).toBe('{"ts":"x","key":"b","task":"t","act');
    expect(text.endsWith('\n')).toBe(true);
    const expected = [rec('intent', 'a'), rec('outcome', 'a', { outcome: 'sent' }), rec('finished', 'a')];
    expect(await ledger.records()).toEqual(expected);
    expect(ledger.recordsSync()).toEqual(expected);
    expect((await ledger.state('a')).state).toBe('sent');
  });

  it('an absent ledger has no records; touch creates it empty; a bad record is never written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fte-ledger-'));
    const ledger = new Ledger(join(dir, 'deep', 'ledger.jsonl'));
    expect(await ledger.records()).toEqual([]);
    expect(ledger.recordsSync()).toEqual([]);
    await ledger.touch();
    expect(await readFile(ledger.path, 'utf8')).toBe('');
    expect(() => ledger.append({ ...rec('intent', 'a'), key: '' })).toThrow(/too small/i);
    expect(await readFile(ledger.path, 'utf8')).toBe('');
  });

  it('re-reads the file when another process appended to it', async () => {
    const ledger = await ledgerWith([rec('intent', 'a')]);
    expect(await ledger.records()).toHaveLength(1);
    await new Ledger(ledger.path).append(rec('outcome', 'a', { outcome: 'sent' }));
    expect(await ledger.records()).toHaveLength(2);
    expect((await ledger.state('a')).state).toBe('sent');
  });

  it('sees a rewrite of the same size, and an append that left the modification time as it was', async () => {
    const ledger = await ledgerWith([rec('intent', 'a')]);
    expect(await ledger.records()).toEqual([rec('intent', 'a')]);
    const before = await stat(ledger.path);
    // Another process rewrote the line (same length): the modification time tells.
    await writeFile(ledger.path, `${JSON.stringify(rec('intent', 'b'))}\n`);
    await utimes(ledger.path, before.atime, new Date(before.mtimeMs + 5_000));
    expect(await ledger.records()).toEqual([rec('intent', 'b')]);
    // Another process appended within the same clock tick: the size tells.
    const same = await stat(ledger.path);
    await appendFile(ledger.path, `${JSON.stringify(rec('intent', 'c'))}\n`);
    await utimes(ledger.path, same.atime, same.mtime);
    expect(await ledger.records()).toEqual([rec('intent', 'b'), rec('intent', 'c')]);
  });

  it('a ledger that cannot be read is an error, never an empty ledger', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fte-ledger-'));
    await writeFile(join(dir, 'state'), 'not a folder');
    const ledger = new Ledger(join(dir, 'state', 'ledger.jsonl'));
    await expect(ledger.records()).rejects.toThrow(/ENOTDIR/);
    expect(() => ledger.recordsSync()).toThrow(/ENOTDIR/);
  });

  it('never reads or appends through a link', async () => {
    const ledger = await ledgerWith([rec('intent', 'a')]);
    const linked = new Ledger(join(ledger.path, '..', 'link.jsonl'));
    await symlink(ledger.path, linked.path);
    await expect(linked.records()).rejects.toThrow();
    expect(() => linked.recordsSync()).toThrow();
    await expect(linked.append(rec('intent', 'b'))).rejects.toThrow();
    expect(await ledger.records()).toEqual([rec('intent', 'a')]);
  });

  it('forTask, lastNo, unfinished and unresolved', async () => {
    const ledger = await ledgerWith([
      rec('intent', 'sent-filed', { task: 'T1' }),
      rec('outcome', 'sent-filed', { task: 'T1', outcome: 'sent' }),
      rec('finished', 'sent-filed', { task: 'T1' }),
      rec('intent', 'sent-unfiled', { task: 'T2' }),
      rec('outcome', 'sent-unfiled', { task: 'T2', outcome: 'sent' }),
      rec('intent', 'crashed', { task: 'T3' }),
      rec('rejected', 'crashed', { task: 'T3', ts: at(5) }),
      rec('expired', 'crashed', { task: 'T3', ts: at(6) }),
      rec('approved', 'crashed', { task: 'T3', ts: at(7) }),
      rec('intent', 'retry', { task: 'T4' }),
      rec('outcome', 'retry', { task: 'T4', outcome: 'not_sent' }),
    ]);
    expect((await ledger.forTask('T1')).map((r) => r.kind)).toEqual(['intent', 'outcome', 'finished']);
    expect(await ledger.lastNo('T3')).toEqual(rec('expired', 'crashed', { task: 'T3', ts: at(6) }));
    expect(await ledger.lastNo('T1')).toBeUndefined();
    expect((await ledger.state('crashed')).state).toBe('uncertain');
    expect((await ledger.state('retry')).state).toBe('retry');
    expect((await ledger.state('unknown')).state).toBe('fresh');
    expect(await ledger.unfinished()).toEqual(['T2']);
    expect(await ledger.unresolved()).toEqual([rec('intent', 'crashed', { task: 'T3' })]);
  });

  it('lastNo: the latest rejection or expiry of the task', async () => {
    const ledger = await ledgerWith([
      rec('rejected', 'k', { task: 'T', ts: at(1) }),
      rec('expired', 'k', { task: 'T', ts: at(2) }),
      rec('approved', 'k', { task: 'T', ts: at(3) }),
      rec('rejected', 'k', { task: 'T', ts: at(4) }),
      rec('rejected', 'k', { task: 'other', ts: at(5) }),
      rec('rejected', 'j', { task: 'R', ts: at(6) }),
    ]);
    expect(await ledger.lastNo('T')).toEqual(rec('rejected', 'k', { task: 'T', ts: at(4) }));
    expect(await ledger.lastNo('R')).toEqual(rec('rejected', 'j', { task: 'R', ts: at(6) }));
  });

  it('doneFor: a counterparty counts as paid only when its key is sent', () => {
    const records = [
      rec('intent', 'p1', { action: 'register_payment', counterparty: 'res.partner/7' }),
      rec('outcome', 'p1', { action: 'register_payment', counterparty: 'res.partner/7', outcome: 'sent' }),
      rec('intent', 'p2', { action: 'register_payment', counterparty: 'res.partner/8' }),
      rec('intent', 'p3', { action: 'register_payment', counterparty: 'res.partner/9' }),
      rec('outcome', 'p3', { action: 'register_payment', counterparty: 'res.partner/9', outcome: 'failed' }),
    ];
    expect(Ledger.doneFor(records, 'register_payment', 'res.partner/7')).toBe(true);
    expect(Ledger.doneFor(records, 'register_payment', 'res.partner/8')).toBe(false);
    expect(Ledger.doneFor(records, 'register_payment', 'res.partner/9')).toBe(false);
    expect(Ledger.doneFor(records, 'post_invoice', 'res.partner/7')).toBe(false);
  });
});

describe('countSince: the side effects a rate limit counts', () => {
  it('counts sent and Uncertain intents in the window, not those certainly not done, other actions or older ones', async () => {
    const ledger = await ledgerWith([
      // Before the window: never counted.
      rec('intent', 'old', { ts: at(-61) }),
      rec('outcome', 'old', { ts: at(-61), outcome: 'sent' }),
      // Sent in the window.
      rec('intent', 'sent', { ts: at(-30) }),
      rec('outcome', 'sent', { ts: at(-30), outcome: 'sent' }),
      // A crash between intent and outcome: Uncertain, it may have gone out.
      rec('intent', 'crashed', { ts: at(-20) }),
      // The connection failed mid-send: Uncertain too.
      rec('intent', 'lost', { ts: at(-15) }),
      rec('outcome', 'lost', { ts: at(-15), outcome: 'uncertain' }),
      // Certainly not done: refused before delivery, or refused for good.
      rec('intent', 'refused', { ts: at(-10) }),
      rec('outcome', 'refused', { ts: at(-10), outcome: 'not_sent' }),
      rec('intent', 'failed', { ts: at(-5) }),
      rec('outcome', 'failed', { ts: at(-5), outcome: 'failed' }),
      // Another action's side effects have their own limit.
      rec('intent', 'pay', { ts: at(-5), action: 'register_payment' }),
      // Informational records are not side effects.
      rec('dry_run', 'dry', { ts: at(-5) }),
      rec('approved', 'dry', { ts: at(-5) }),
    ]);
    const since = new Date(T0 - 60 * 60_000);
    expect(await ledger.countSince('send_email', since)).toBe(3);
    expect(await ledger.countSince('register_payment', since)).toBe(1);
    // The window's start is inclusive.
    expect(await ledger.countSince('send_email', new Date(T0 - 61 * 60_000))).toBe(4);
    expect(await ledger.countSince('send_email', new Date(T0 - 14 * 60_000))).toBe(0);
  });

  it('an Uncertain send counts once, however many intents its key has', async () => {
    const ledger = await ledgerWith([
      rec('intent', 'k', { ts: at(-3) }),
      rec('outcome', 'k', { ts: at(-3), outcome: 'uncertain' }),
      rec('intent', 'k', { ts: at(-2) }),
    ]);
    expect(await ledger.countSince('send_email', new Date(T0 - 60 * 60_000))).toBe(1);
  });

  it('the owner\'s "not sent" on an Uncertain send frees the task for a retry but still counts this hour', async () => {
    const ledger = await ledgerWith([
      rec('intent', 'k', { ts: at(-3) }),
      rec('resolution', 'k', { ts: at(-2), outcome: 'not_sent' }),
    ]);
    expect((await ledger.state('k')).state).toBe('retry');
    expect(await ledger.countSince('send_email', new Date(T0 - 60 * 60_000))).toBe(1);
  });

  it('a retried send counts once: the refusal releases the first attempt, the retry counts', async () => {
    const ledger = await ledgerWith([
      rec('intent', 'k', { ts: at(-3) }),
      rec('outcome', 'k', { ts: at(-3), outcome: 'not_sent' }),
      rec('intent', 'k', { ts: at(-2) }),
      rec('outcome', 'k', { ts: at(-2), outcome: 'sent' }),
      // An outcome whose intent is outside the window releases nothing.
      rec('outcome', 'older', { ts: at(-1), outcome: 'not_sent' }),
    ]);
    expect(await ledger.countSince('send_email', new Date(T0 - 60 * 60_000))).toBe(1);
  });
});

describe('appending', () => {
  it('concurrent appends are serialised, each a whole line', async () => {
    const ledger = await ledgerWith([]);
    await Promise.all(Array.from({ length: 20 }, (_, i) => ledger.append(rec('intent', `k${i}`))));
    const text = await readFile(ledger.path, 'utf8');
    // Exactly one line each: no blank line between them, none torn.
    expect(text.split('\n')).toHaveLength(21);
    expect(text.endsWith('}\n')).toBe(true);
    expect((await ledger.records()).map((r) => r.key).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `k${i}`).sort(),
    );
  });

  it('a failed append does not stop the next one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fte-ledger-'));
    // The ledger's folder is a file: the append fails; once it is gone the same ledger appends again.
    await writeFile(join(dir, 'state'), 'x');
    const ledger = new Ledger(join(dir, 'state', 'ledger.jsonl'));
    await expect(ledger.append(rec('intent', 'a'))).rejects.toThrow();
    await rm(join(dir, 'state'));
    await ledger.append(rec('intent', 'b'));
    expect(await ledger.records()).toEqual([rec('intent', 'b')]);
  });
});
