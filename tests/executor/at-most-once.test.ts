import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditInput } from '../../core/audit.js';
import { approvalContentHash, approvalParameters, decodeApproval } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { AtMostOnce, idempotencyKey } from '../../executor/actions/at-most-once.js';
import { SendEmailExecutor } from '../../executor/actions/send-email.js';
import { SmtpTransport } from '../../executor/email.js';
import { Ledger, type LedgerRecord } from '../../executor/ledger.js';
import { type Approval, signApproval } from '../../executor/signature.js';
import { onCleanup, type SmtpOptions, silentLog, smtpServer } from './helpers.js';

/**
 * The one at-most-once path of every action, in-process: a real ledger file, the real send_email executor
 * and SMTP transport, and a real SMTP server (tests/executor/helpers.ts) that accepts, refuses or drops.
 */

const KEY = Buffer.alloc(32, 3);
const NOW = new Date('2026-03-02T10:00:00Z');

function approval(task: string): Approval {
  const body = `Hello from ${task}.\n`;
  const data: Record<string, unknown> = {
    type: 'approval_request',
    task,
    action: 'send_email',
    domain: 'email',
    to: 'client@example.com',
    subject: `Re: ${task}`,
    created: '2026-03-02T09:00:00Z',
    expires: '2026-03-04T09:00:00Z',
    status: 'pending',
    source: `In_Progress/cloud/${task}.md`,
  };
  data.content_sha256 = approvalContentHash('send_email', approvalParameters(data), body);
  const request = decodeApproval(stringifyMarkdown({ data, body }));
  return signApproval(KEY, request, { now: NOW, by: 'owner', via: 'cli' });
}

type Setup = {
  runner: AtMostOnce;
  ledger: Ledger;
  audits: AuditInput[];
  send: SendEmailExecutor;
};

async function setup(
  port: number | undefined,
  o: { dryRun?: boolean; rate?: number; clock?: () => Date } = {},
): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'fte-amo-'));
  const ledger = new Ledger(join(dir, 'ledger.jsonl'));
  const audits: AuditInput[] = [];
  const transport =
    port === undefined
      ? undefined
      : new SmtpTransport({ host: '127.0.0.1', port, secure: false, from: 'Owner <owner@example.com>' });
  if (transport) onCleanup(async () => transport.close());
  const send = new SendEmailExecutor({ from: 'Owner <owner@example.com>', transport });
  const runner = new AtMostOnce({
    ledger,
    audit: async (record) => {
      audits.push(record);
    },
    agent: 'local',
    dryRun: o.dryRun ?? false,
    ratePerHour: (action) => (action === 'send_email' ? (o.rate ?? 10) : 0),
    clock: o.clock ?? (() => NOW),
    log: silentLog,
  });
  return { runner, ledger, audits, send };
}

const server = (options: SmtpOptions = {}) => smtpServer(options);

/** A port nothing listens on: connecting is refused before anything is sent. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const kinds = (records: LedgerRecord[]) => records.map((r) => `${r.kind}${r.outcome ? `:${r.outcome}` : ''}`);

describe('at most once', () => {
  it('sends once: intent, send, outcome and audit; a second run is already done, and after finished a replay', async () => {
    const smtp = await server();
    let now = NOW;
    const { runner, ledger, audits, send } = await setup(smtp.port, { clock: () => now });
    const a = approval('EMAIL_A');
    const key = idempotencyKey(a);
    expect(key).toBe(`send_email:EMAIL_A:${a.data.content_sha256.slice(0, 16)}`);

    const first = await runner.run(a, send);
    expect(first).toMatchObject({ kind: 'done', key });
    expect(smtp.received).toHaveLength(1);
    const records = await ledger.records();
    expect(kinds(records)).toEqual(['intent', 'outcome:sent']);
    const messageId = first.kind === 'done' ? first.prepared.effectId : undefined;
    expect(messageId).toMatch(/^<.+@.+>$/);
    for (const r of records) {
      expect(r).toMatchObject({ key, task: 'EMAIL_A', action: 'send_email', ts: NOW.toISOString() });
      expect(r.message_id).toBe(messageId);
    }
    expect(records[1]?.detail).toMatch(/^250/);
    expect(audits).toEqual([
      expect.objectContaining({
        action_type: 'email_send',
        actor: 'local',
        target: 'client@example.com',
        approval_status: 'approved',
        approved_by: 'owner',
        result: 'sent',
        task: 'EMAIL_A',
        idempotency_key: key,
        parameters: expect.objectContaining({ subject: 'Re: EMAIL_A', message_id: messageId }),
      }),
    ]);

    expect(await runner.run(a, send)).toEqual({ kind: 'already_done', key, effectId: messageId });
    // An earlier approval of the same task was filed before: the replay names when this one was.
    await ledger.append({
      ts: '2026-03-01T08:00:00.000Z',
      key: 'send_email:EMAIL_A:0',
      task: 'EMAIL_A',
      action: 'send_email',
      kind: 'finished',
    });
    now = new Date(NOW.getTime() + 60_000);
    await runner.finished(a, messageId);
    expect(await runner.run(a, send)).toEqual({
      kind: 'replay',
      key,
      effectId: messageId,
      at: now.toISOString(),
    });
    expect(smtp.received).toHaveLength(1);
    expect(kinds(await ledger.records())).toEqual(['intent', 'outcome:sent', 'finished', 'finished']);
    expect((await ledger.records())[3]?.message_id).toBe(messageId);
  });

  it('a refusal for good is final: failed now and on every later run, never sent again', async () => {
    const smtp = await server({ rejectWith: 550 });
    const { runner, ledger, audits, send } = await setup(smtp.port);
    const a = approval('EMAIL_F');
    const first = await runner.run(a, send);
    expect(first).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/refused by policy/) });
    expect(kinds(await ledger.records())).toEqual(['intent', 'outcome:failed']);
    expect((await ledger.records())[1]?.detail).toMatch(/refused by policy/);
    expect(audits).toEqual([]);
    const again = await runner.run(a, send);
    expect(again).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/refused by policy/) });
    expect(smtp.dataArrived()).toBe(1);
    expect(kinds(await ledger.records())).toEqual(['intent', 'outcome:failed']);
  });

  it('a connection lost after the data is Uncertain: never retried by itself', async () => {
    const smtp = await server({ dropAfterData: true });
    const { runner, ledger, send } = await setup(smtp.port);
    const a = approval('EMAIL_U');
    const first = await runner.run(a, send);
    expect(first).toMatchObject({
      kind: 'uncertain',
      reason: expect.stringMatching(/^the connection failed mid-way/),
    });
    expect(kinds(await ledger.records())).toEqual(['intent', 'outcome:uncertain']);
    const again = await runner.run(a, send);
    expect(again.kind).toBe('uncertain');
    expect(again.kind === 'uncertain' && again.reason).toBe((await ledger.records())[1]?.detail);
    expect(smtp.dataArrived()).toBe(1);
  });

  it('an intent without an outcome (a crash mid-send) is Uncertain: nothing is sent', async () => {
    const smtp = await server();
    const { runner, ledger, send } = await setup(smtp.port);
    const a = approval('EMAIL_C');
    await ledger.append({
      ts: NOW.toISOString(),
      key: idempotencyKey(a),
      task: 'EMAIL_C',
      action: 'send_email',
      kind: 'intent',
    });
    const outcome = await runner.run(a, send);
    expect(outcome).toMatchObject({
      kind: 'uncertain',
      reason: expect.stringMatching(/outcome was never recorded/),
    });
    expect(smtp.connections()).toBe(0);
  });

  it('a server that cannot be reached: nothing left the machine, it waits and is tried again', async () => {
    const port = await closedPort();
    const { runner, ledger, send } = await setup(port);
    const a = approval('EMAIL_R');
    const first = await runner.run(a, send);
    expect(first).toMatchObject({
      kind: 'deferred',
      reason: expect.stringMatching(/^not done, will retry: /),
    });
    expect(kinds(await ledger.records())).toEqual(['intent', 'outcome:not_sent']);
    // The same ledger, now with a server that answers: the retry sends.
    const smtp = await server();
    const retry = new AtMostOnce({
      ledger,
      audit: async () => undefined,
      agent: 'local',
      dryRun: false,
      ratePerHour: () => 10,
      clock: () => NOW,
      log: silentLog,
    });
    const transport = new SmtpTransport({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      from: 'o@example.com',
    });
    onCleanup(async () => transport.close());
    const sender = new SendEmailExecutor({ from: 'Owner <owner@example.com>', transport });
    expect((await retry.run(a, sender)).kind).toBe('done');
    expect(smtp.received).toHaveLength(1);
    // A refusal before delivery does not count against the hour; the send does.
    expect(await ledger.countSince('send_email', new Date(NOW.getTime() - 3_600_000))).toBe(1);
  });

  it('no SMTP server configured: it waits, nothing is recorded', async () => {
    const { runner, ledger, audits, send } = await setup(undefined);
    const outcome = await runner.run(approval('EMAIL_N'), send);
    expect(outcome).toMatchObject({
      kind: 'deferred',
      reason: expect.stringMatching(/no SMTP server configured/),
    });
    expect(await ledger.records()).toEqual([]);
    expect(audits).toEqual([]);
  });

  it('an approval that cannot become an email is invalid, nothing recorded or sent', async () => {
    const smtp = await server();
    const { runner, ledger, send } = await setup(smtp.port);
    // Past the schema (as a file that bypassed it would be): the executor's own check refuses it.
    const valid = approval('EMAIL_I');
    const outcome = await runner.run(
      { data: { ...valid.data, to: 'not an address' }, body: valid.body },
      send,
    );
    expect(outcome).toMatchObject({
      kind: 'invalid',
      reason: expect.stringMatching(/not an address|recipient/i),
    });
    expect(await ledger.records()).toEqual([]);
    expect(smtp.connections()).toBe(0);
  });

  it('DRY_RUN logs once and sends nothing; the approval still waits', async () => {
    const smtp = await server();
    const { runner, ledger, audits, send } = await setup(smtp.port, { dryRun: true });
    const a = approval('EMAIL_D');
    expect(await runner.run(a, send)).toMatchObject({ kind: 'dry_run', key: idempotencyKey(a) });
    expect(kinds(await ledger.records())).toEqual(['dry_run']);
    expect(audits.map((r) => r.result)).toEqual(['dry_run']);
    expect(await runner.run(a, send)).toEqual({
      kind: 'deferred',
      key: idempotencyKey(a),
      reason: 'DRY_RUN: logged, not performed',
    });
    expect(kinds(await ledger.records())).toEqual(['dry_run']);
    expect(smtp.connections()).toBe(0);
  });

  it('the hourly limit counts sent and Uncertain sends of the last hour; the rest wait', async () => {
    const smtp = await server();
    let now = NOW;
    const { runner, ledger, send } = await setup(smtp.port, { rate: 2, clock: () => now });
    // An Uncertain send 30 minutes ago (a crash mid-send) counts: it may have gone out.
    await ledger.append({
      ts: new Date(NOW.getTime() - 30 * 60_000).toISOString(),
      key: 'send_email:OLD:0',
      task: 'OLD',
      action: 'send_email',
      kind: 'intent',
    });
    // Another action's side effects count towards its own limit only.
    await ledger.append({
      ts: new Date(NOW.getTime() - 10 * 60_000).toISOString(),
      key: 'register_payment:BILL:0',
      task: 'BILL',
      action: 'register_payment',
      kind: 'intent',
    });
    expect((await runner.run(approval('EMAIL_1'), send)).kind).toBe('done');
    const held = await runner.run(approval('EMAIL_2'), send);
    expect(held).toMatchObject({
      kind: 'deferred',
      reason: 'rate limit: 2 emails sent in the last hour (limit 2)',
    });
    expect(smtp.received).toHaveLength(1);
    // An hour after the Uncertain one (and one minute before EMAIL_1's hour ends) one more may go.
    now = new Date(NOW.getTime() + 30 * 60_000 + 1);
    expect((await runner.run(approval('EMAIL_2'), send)).kind).toBe('done');
    expect(smtp.received).toHaveLength(2);
  });

  it('a limit of 0 sends nothing', async () => {
    const smtp = await server();
    const { runner, ledger, send } = await setup(smtp.port, { rate: 0 });
    const outcome = await runner.run(approval('EMAIL_Z'), send);
    expect(outcome).toMatchObject({
      kind: 'deferred',
      reason: 'rate limit: 0 emails sent in the last hour (limit 0)',
    });
    expect(await ledger.records()).toEqual([]);
    expect(smtp.connections()).toBe(0);
  });
});
