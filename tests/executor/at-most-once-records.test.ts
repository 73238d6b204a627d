import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import type { AuditInput } from '../../core/audit.js';
import { approvalContentHash, approvalParameters, decodeApproval } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { OdooClient, type OdooSettings } from '../../core/odoo/client.js';
import { AtMostOnce, idempotencyKey } from '../../executor/actions/at-most-once.js';
import { PostInvoiceExecutor } from '../../executor/actions/post-invoice.js';
import { SendEmailExecutor } from '../../executor/actions/send-email.js';
import { SmtpTransport } from '../../executor/email.js';
import { Ledger } from '../../executor/ledger.js';
import { type Approval, signApproval } from '../../executor/signature.js';
import { odooKeys, odooSettings, odooUsers } from '../odoo/keys.js';
import { startOdooServer } from '../odoo/server.js';
import { onCleanup } from './helpers.js';

/**
 * What the at-most-once path writes where the owner reads it: the ledger's `detail` (cut to its length), the
 * audit records (also those the executive settles), and the DRY_RUN and adjusted-parameter log lines on
 * stderr, for an email and for an Odoo action. A real ledger file, a real pino logger writing JSON lines,
 * and a real SMTP server on loopback whose answers are as long as a server may make them.
 */

const KEY = Buffer.alloc(32, 5);
const NOW = new Date('2026-03-02T10:00:00Z');

function sign(data: Record<string, unknown>, body: string): Approval {
  const full = {
    type: 'approval_request',
    created: '2026-03-02T09:00:00Z',
    expires: '2026-03-04T09:00:00Z',
    status: 'pending',
    source: `In_Progress/cloud/${data.task}.md`,
    ...data,
  };
  full.content_sha256 = approvalContentHash(full.action as string, approvalParameters(full), body);
  return signApproval(KEY, decodeApproval(stringifyMarkdown({ data: full, body })), {
    now: NOW,
    by: 'owner',
    via: 'cli',
  });
}

const email = (task: string) =>
  sign(
    {
      task,
      action: 'send_email',
      domain: 'email',
      to: 'client@example.com',
      subject: `Re: ${task}`,
    },
    `Hello from ${task}.\n`,
  );

/** A post_invoice approval whose lines (100) do not add up to its total (119): a note for the owner. */
const invoice = (task: string) =>
  sign(
    {
      task,
      action: 'post_invoice',
      domain: 'accounting',
      odoo_id: 42,
      move_type: 'out_invoice',
      partner: 'Acme',
      partner_id: 7,
      invoice_lines: [{ name: 'Consulting', quantity: 1, price_unit: 100 }],
      amount_total: 119,
      currency: 'EUR',
    },
    'Invoice for Acme.\n',
  );

/** Settings of an Odoo that is never contacted here (a limit of 0 or DRY_RUN stops before it). */
const ODOO: OdooSettings = {
  url: 'http://127.0.0.1:9',
  database: 'db',
  apiKey: 'k',
  protocol: 'json2',
  timeoutMs: 1_000,
  readRetries: 0,
} as OdooSettings;

type Line = Record<string, unknown> & { level: number; msg: string };

async function setup(o: { dryRun?: boolean; rate?: number; port?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'fte-amo-rec-'));
  const ledger = new Ledger(join(dir, 'ledger.jsonl'));
  const audits: AuditInput[] = [];
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  const runner = new AtMostOnce({
    ledger,
    audit: async (record) => {
      audits.push(record);
    },
    agent: 'local',
    dryRun: o.dryRun ?? false,
    ratePerHour: () => o.rate ?? 10,
    clock: () => NOW,
    log,
  });
  const transport =
    o.port === undefined
      ? undefined
      : new SmtpTransport({
          host: '127.0.0.1',
          port: o.port,
          secure: false,
          from: 'Owner <owner@example.com>',
        });
  if (transport) onCleanup(async () => transport.close());
  const send = new SendEmailExecutor({ from: 'Owner <owner@example.com>', transport });
  return { runner, ledger, audits, lines, send };
}

/** An SMTP server that answers the end of DATA with `answer` (accepted) or refuses it with 550 `answer`. */
async function answering(answer: string, refuse: boolean): Promise<number> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream: SMTPServerDataStream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        if (!refuse) return callback(null, answer);
        const error = Object.assign(new Error(answer), { responseCode: 550 });
        callback(error);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.server.address() as { port: number }).port;
}

describe('what the at-most-once path records and logs', () => {
  it('a long server answer is cut to 200 characters in the ledger; the result keeps all of it', async () => {
    const answer = `queued ${'a'.repeat(400)}`;
    const { runner, ledger, send } = await setup({ port: await answering(answer, false) });
    const outcome = await runner.run(email('EMAIL_L'), send);
    expect(outcome.kind).toBe('done');
    const detail = outcome.kind === 'done' ? outcome.detail : '';
    expect(detail).toContain(answer);
    expect(detail.length).toBeGreaterThan(400);
    const [, sent] = await ledger.records();
    expect(sent?.detail).toBe(detail.slice(0, 200));
  });

  it('a long refusal is cut to 300 characters in the ledger; the reason shown keeps all of it, and so does the next run', async () => {
    const answer = `no such mailbox ${'b'.repeat(400)}`;
    const { runner, ledger, send } = await setup({ port: await answering(answer, true) });
    const a = email('EMAIL_X');
    const outcome = await runner.run(a, send);
    expect(outcome.kind).toBe('failed');
    const reason = outcome.kind === 'failed' ? outcome.reason : '';
    expect(reason).toContain(answer);
    const [, failed] = await ledger.records();
    expect(failed).toMatchObject({ kind: 'outcome', outcome: 'failed' });
    expect(failed?.detail).toBe(reason.slice(0, 300));
    // Later runs read the reason from the ledger: the cut text.
    expect(await runner.run(a, send)).toEqual({
      kind: 'failed',
      key: idempotencyKey(a),
      reason: failed?.detail,
    });
  });

  it('a failure or an Uncertain outcome recorded without detail still says what it means', async () => {
    const { runner, ledger, send } = await setup({ port: 9 });
    const f = email('EMAIL_F');
    const u = email('EMAIL_U');
    for (const [a, outcome] of [
      [f, 'failed'],
      [u, 'uncertain'],
    ] as const) {
      await ledger.append({
        ts: NOW.toISOString(),
        key: idempotencyKey(a),
        task: a.data.task,
        action: 'send_email',
        kind: 'intent',
      });
      await ledger.append({
        ts: NOW.toISOString(),
        key: idempotencyKey(a),
        task: a.data.task,
        action: 'send_email',
        kind: 'outcome',
        outcome,
      });
    }
    expect(await runner.run(f, send)).toEqual({
      kind: 'failed',
      key: idempotencyKey(f),
      reason: 'refused for good by the server',
    });
    expect(await runner.run(u, send)).toEqual({
      kind: 'uncertain',
      key: idempotencyKey(u),
      reason:
        'it was started but its outcome was never recorded (the executor stopped mid-way); it may or may not have happened',
    });
  });

  it('DRY_RUN says on stderr what it would have sent, with its target and effect, and records it once', async () => {
    const { runner, ledger, lines, audits, send } = await setup({ dryRun: true, port: 9 });
    const a = email('EMAIL_D');
    expect((await runner.run(a, send)).kind).toBe('dry_run');
    const said = lines.filter((l) => l.msg.startsWith('DRY_RUN'));
    expect(said).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'DRY_RUN: would send this email; nothing done',
        task: 'EMAIL_D',
        action: 'send_email',
        target: 'client@example.com',
        effect: expect.objectContaining({ to: 'client@example.com', subject: 'Re: EMAIL_D' }),
      }),
    ]);
    const [record] = await ledger.records();
    expect(record).toMatchObject({
      kind: 'dry_run',
      key: idempotencyKey(a),
      task: 'EMAIL_D',
      action: 'send_email',
    });
    expect(record?.message_id).toMatch(/^<.+@.+>$/);
    expect(record?.counterparty).toBeUndefined();
    expect(audits).toEqual([
      expect.objectContaining({
        action_type: 'email_send',
        result: 'dry_run',
        approved_by: 'owner',
        task: 'EMAIL_D',
      }),
    ]);
    await runner.run(a, send);
    expect(lines.filter((l) => l.msg.startsWith('DRY_RUN'))).toHaveLength(1);
  });

  it('DRY_RUN of an Odoo action names it, warns of the adjusted total, and records who it was for', async () => {
    const { runner, ledger, lines, audits } = await setup({ dryRun: true });
    const post = new PostInvoiceExecutor({ settings: ODOO });
    const a = invoice('INV_1');
    expect((await runner.run(a, post)).kind).toBe('dry_run');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'parameter adjusted',
        task: 'INV_1',
        action: 'post_invoice',
        note: expect.stringMatching(/^the lines add up to .*100.*, the total is .*119/),
      }),
      expect.objectContaining({
        level: 30,
        msg: 'DRY_RUN: would perform post_invoice; nothing done',
        task: 'INV_1',
        action: 'post_invoice',
        target: 'Acme (res.partner/7)',
      }),
    ]);
    const [record] = await ledger.records();
    expect(record).toMatchObject({ kind: 'dry_run', counterparty: 'res.partner/7' });
    expect(record?.message_id).toBeUndefined();
    expect(audits).toEqual([
      expect.objectContaining({
        action_type: 'invoice_post',
        target: 'Acme (res.partner/7)',
        result: 'dry_run',
        parameters: expect.objectContaining({ odoo_id: 42, amount_total: 119 }),
      }),
    ]);
  });

  it("an Odoo action at its hourly limit waits with the action's own words; without Odoo it waits for one", async () => {
    const { runner, ledger } = await setup({ rate: 0 });
    const a = invoice('INV_2');
    expect(await runner.run(a, new PostInvoiceExecutor({ settings: ODOO }))).toEqual({
      kind: 'deferred',
      key: idempotencyKey(a),
      reason: 'rate limit: 0 post_invoice done in the last hour (limit 0)',
    });
    const none = await runner.run(a, new PostInvoiceExecutor({}));
    expect(none).toMatchObject({
      kind: 'deferred',
      reason: expect.stringMatching(/^no Odoo configured on this machine/),
    });
    expect(await ledger.records()).toEqual([]);
  });

  it('an approval without a recorded approver is audited with approved_by null', async () => {
    const { runner, audits } = await setup({ dryRun: true, port: 9 });
    const signed = email('EMAIL_N');
    const { approved_by: _dropped, ...data } = signed.data;
    const unsigned = { ...signed, data } as Approval;
    await runner.run(unsigned, new SendEmailExecutor({ from: 'Owner <owner@example.com>' }));
    expect(audits).toEqual([expect.objectContaining({ result: 'dry_run', approved_by: null })]);
  });

  it('the audit record of an outcome the executive settles names the action, the reason and the subject', async () => {
    const { runner, audits, send } = await setup();
    const a = email('EMAIL_S');
    await runner.auditSettled(a, send, 'uncertain', 'the connection failed mid-way', 'client@example.com');
    const inv = invoice('INV_3');
    await runner.auditSettled(inv, undefined, 'failed', 'refused', 'Acme');
    const { approved_by: _dropped, ...data } = inv.data;
    await runner.auditSettled({ ...inv, data } as Approval, undefined, 'failed', 'refused', 'Acme');
    expect(audits).toEqual([
      {
        action_type: 'email_send',
        actor: 'local',
        target: 'client@example.com',
        parameters: { reason: 'the connection failed mid-way', subject: 'Re: EMAIL_S' },
        approval_status: 'approved',
        approved_by: 'owner',
        result: 'uncertain',
        task: 'EMAIL_S',
        idempotency_key: idempotencyKey(a),
      },
      {
        action_type: 'post_invoice',
        actor: 'local',
        target: 'Acme',
        parameters: { reason: 'refused', subject: null },
        approval_status: 'approved',
        approved_by: 'owner',
        result: 'failed',
        task: 'INV_3',
        idempotency_key: idempotencyKey(inv),
      },
      expect.objectContaining({ task: 'INV_3', approved_by: null }),
    ]);
  });

  it('finished without an effect id records none', async () => {
    const { runner, ledger } = await setup();
    const a = invoice('INV_4');
    await runner.finished(a);
    const [record] = await ledger.records();
    expect(record).toEqual({
      ts: NOW.toISOString(),
      key: idempotencyKey(a),
      task: 'INV_4',
      action: 'post_invoice',
      kind: 'finished',
    });
  });

  it("an accepted email's audit names who the server accepted", async () => {
    const answer = 'queued';
    const { runner, audits, send } = await setup({ port: await answering(answer, false) });
    await runner.run(email('EMAIL_A'), send);
    expect(audits).toEqual([
      expect.objectContaining({
        result: 'sent',
        parameters: expect.objectContaining({ accepted: ['client@example.com'], rejected: [] }),
      }),
    ]);
    expect(audits[0]?.parameters).not.toHaveProperty('effect_id');
  });

  it('an error building the action that is not about the approval is thrown, not recorded as an invalid approval', async () => {
    const { runner, ledger, send } = await setup({ port: 9 });
    const a = email('EMAIL_T');
    // A task that is not text (past the schema): the Message-ID cannot be built from it.
    const broken = { ...a, data: { ...a.data, task: 5 } } as unknown as Approval;
    await expect(runner.run(broken, send)).rejects.toThrow(TypeError);
    expect(await ledger.records()).toEqual([]);
  });

  it("an Odoo post records the invoice's number, known only once posted, as the effect id", async () => {
    const keys = odooKeys();
    const server = await startOdooServer({
      version: '19.0',
      users: odooUsers(keys),
      today: () => '2026-03-15',
    });
    onCleanup(() => server.close());
    const cloud = await OdooClient.connect(odooSettings(server, keys, 'cloud'));
    const partnerId = await cloud.create('res.partner', { name: 'Acme' });
    const lines = [{ name: 'Consulting', quantity: 1, price_unit: 100 }];
    const id = await cloud.create('account.move', {
      move_type: 'out_invoice',
      partner_id: partnerId,
      invoice_line_ids: lines.map((l) => [0, 0, l]),
    });
    const [move] = await cloud.read('account.move', [id], ['amount_total']);
    const a = sign(
      {
        task: 'INV_P',
        action: 'post_invoice',
        domain: 'accounting',
        odoo_id: id,
        move_type: 'out_invoice',
        partner: 'Acme',
        partner_id: partnerId,
        invoice_lines: lines,
        amount_total: Number(move!.amount_total),
        currency: 'EUR',
      },
      'Invoice for Acme.\n',
    );
    const { runner, ledger, audits } = await setup();
    const post = new PostInvoiceExecutor({
      settings: odooSettings(server, keys, 'laptop', { readRetries: 1 }),
    });
    const outcome = await runner.run(a, post);
    expect(outcome.kind).toBe('done');
    const [posted] = await cloud.read('account.move', [id], ['name', 'state']);
    expect(posted).toMatchObject({ state: 'posted' });
    const number = String(posted!.name);
    expect(number).not.toBe('');
    expect(outcome.kind === 'done' && outcome.prepared.effectId).toBe(number);
    const [intent, sent] = await ledger.records();
    expect(intent).toMatchObject({ kind: 'intent', counterparty: `res.partner/${partnerId}` });
    expect(intent?.message_id).toBeUndefined();
    expect(sent).toMatchObject({ kind: 'outcome', outcome: 'sent', message_id: number });
    expect(audits).toEqual([
      expect.objectContaining({
        action_type: 'invoice_post',
        result: 'sent',
        parameters: expect.objectContaining({ odoo_id: id, effect_id: number }),
      }),
    ]);
  });
});
