import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeApproval } from '../../core/codec.js';
import { OdooClient } from '../../core/odoo/client.js';
import {
  type CliResult,
  frontmatterOf,
  git,
  onCleanup,
  runCli,
  smtpEnv,
  smtpServer,
  testKey,
  type World,
  world,
} from '../executor/helpers.js';
import { startFte } from '../helpers/cli.js';
import { itemText } from '../helpers/vaults.js';
import { odooKeys, odooSettings, odooUsers } from '../odoo/keys.js';
import { type OdooTestServer, startOdooServer } from '../odoo/server.js';
import { assertBuilt, cleanEnv, eventually } from '../operator/process.js';

/**
 * Issue 13's whole path with the real processes on both sides: an email asking for an invoice reaches the
 * cloud (`fte operator --once`, Odoo's draft-only key), which drafts the invoice in the test Odoo server and
 * asks for `post_invoice` with the reply that carries it; the owner runs `fte approve` on the laptop; the
 * laptop (`fte executor --once`, the posting key) posts it once and sends the reply with Odoo's PDF
 * through a real SMTP server; `Done/` names the invoice. Both Odoo protocols.
 */

const KEYS = odooKeys();

const REQUEST_EMAIL = itemText(
  {
    type: 'email',
    from: 'Jane Client <jane@client.example>',
    subject: 'October',
    message_id: '<october-request@client.example>',
  },
  'Hi, please send me the October invoice. Thanks, Jane\n',
);

/** Reads are tried 1 + this many times (a fault has to outlast them to be seen). */
const READ_RETRIES = 2;

type Setup = {
  w: World;
  server: OdooTestServer;
  smtp: Awaited<ReturnType<typeof smtpServer>>;
  cloud: (args: string[]) => Promise<CliResult>;
  laptop: (args: string[]) => Promise<CliResult>;
  laptopEnv: NodeJS.ProcessEnv;
  admin: OdooClient;
  /** `action_post` calls made with the laptop's key. */
  laptopPosts: () => number;
};

async function setup(protocol: 'json2' | 'jsonrpc', version: string): Promise<Setup> {
  const w = await world();
  await testKey(w.keyFile);
  const server = await startOdooServer({
    version,
    users: odooUsers(KEYS),
    today: () => '2026-11-02',
  });
  onCleanup(() => server.close());
  const smtp = await smtpServer();
  const odoo = {
    ODOO_URL: server.url,
    ODOO_DB: 'odoo',
    ODOO_PROTOCOL: protocol,
    ODOO_TIMEOUT_MS: '5000',
    ODOO_READ_RETRIES: String(READ_RETRIES),
  };
  const cloudEnv = cleanEnv({
    ...odoo,
    ODOO_LOGIN: 'cloud',
    ODOO_API_KEY: KEYS.cloud,
    FTE_OPERATOR_BACKOFF_MS: '5',
  });
  const laptopEnv = smtpEnv(smtp.port, w.keyFile, {
    ...odoo,
    ODOO_LOGIN: 'laptop',
    ODOO_POST_API_KEY: KEYS.laptop,
  });
  const admin = await OdooClient.connect(odooSettings(server, KEYS, 'admin', { protocol, readRetries: 1 }));
  return {
    w,
    server,
    smtp,
    admin,
    laptopEnv,
    cloud: (args) => runCli([...args, '--vault', w.cloud.dir, '--agent', 'cloud'], cloudEnv),
    laptop: (args) => runCli([...args, '--vault', w.local.dir], laptopEnv),
    laptopPosts: () => server.calls.filter((c) => c.method === 'action_post' && c.login === 'laptop').length,
  };
}

/** Jane's September invoice, posted by a person: what the October draft copies its lines from. */
async function september(s: Setup): Promise<number> {
  const partner = await s.admin.create('res.partner', { name: 'Jane Client', email: 'jane@client.example' });
  const id = await s.admin.create('account.move', {
    move_type: 'out_invoice',
    partner_id: partner,
    invoice_line_ids: [
      [0, 0, { name: 'Retainer', quantity: 1, price_unit: 1200 }],
      [0, 0, { name: 'Support hours', quantity: 4, price_unit: 95 }],
    ],
  });
  await s.admin.call('account.move', 'action_post', [id]);
  return partner;
}

/** The email arrives on the cloud; the operator drafts; the laptop pulls the approvals. */
async function draftedOnTheCloud(s: Setup, id: string): Promise<void> {
  await writeFile(join(s.w.cloud.dir, `Needs_Action/email/${id}.md`), REQUEST_EMAIL);
  await s.w.cloud.repo.commit(`cloud: intake ${id}`, [`Needs_Action/email/${id}.md`]);
  const run = await s.cloud(['operator', '--once']);
  expect(run.code, run.stderr).toBe(0);
  const pull = await s.laptop(['executor', '--once']);
  expect(pull.code, pull.stderr).toBe(0);
}

const drafts = (s: Setup) =>
  s.admin.searchRead<{ state: string; name: string; amount_total: number }>(
    'account.move',
    [
      ['move_type', '=', 'out_invoice'],
      ['state', '=', 'draft'],
    ],
    ['state', 'name', 'amount_total'],
  );

describe.each([
  { protocol: 'json2', version: '19.0' },
  { protocol: 'jsonrpc', version: '17.0' },
] as const)('an invoice asked for by email, over $protocol (Odoo $version)', ({ protocol, version }) => {
  beforeAll(assertBuilt);

  it('email → draft in Odoo → fte approve → posted once → the reply carries the PDF → Done/ names the invoice', async () => {
    const s = await setup(protocol, version);
    const partner = await september(s);
    await draftedOnTheCloud(s, 'EMAIL_OCT');

    // The cloud drafted, never posted; the laptop has the approval with the reply it will send.
    const [draft] = await drafts(s);
    expect(draft).toMatchObject({ amount_total: 1580 });
    expect(s.server.calls.filter((c) => c.method === 'action_post' && c.login === 'cloud')).toEqual([]);
    const request = decodeApproval(
      await readFile(join(s.w.local.dir, 'Pending_Approval/accounting/EMAIL_OCT_INVOICE.md'), 'utf8'),
    );
    expect(request.data).toMatchObject({
      action: 'post_invoice',
      odoo_id: draft!.id,
      partner_id: partner,
      amount_total: 1580,
      email_to: 'jane@client.example',
      email_subject: 'Re: October',
      email_in_reply_to: '<october-request@client.example>',
    });
    expect(request.body).toContain('Please find attached our invoice');

    // The owner sees every effect, the recipient among them, before it runs.
    const approve = await s.laptop(['approve', 'EMAIL_OCT_INVOICE']);
    expect(approve.code, approve.stderr).toBe(0);
    for (const line of [
      `account.move ${draft!.id} (customer invoice, out_invoice)`,
      'Retainer: 1 × 1200.00 EUR = 1200.00 EUR',
      'Support hours: 4 × 95.00 EUR = 380.00 EUR',
      '1580.00 EUR',
      'jane@client.example',
      'Re: October',
      "the posted invoice's PDF as Odoo renders it",
    ]) {
      expect(approve.stdout).toContain(line);
    }
    expect(s.laptopPosts()).toBe(0);

    const run = await s.laptop(['executor', '--once']);
    expect(run.code, run.stderr).toBe(0);
    expect(s.laptopPosts()).toBe(1);
    const [posted] = await s.admin.read('account.move', [draft!.id], ['state', 'name']);
    expect(posted).toMatchObject({ state: 'posted', name: 'INV/2026/00002' });

    // The reply: to Jane, in her thread, with Odoo's PDF of exactly this invoice.
    const invoiceMails = s.smtp.received.filter((m) => m.parsed.attachments.length > 0);
    expect(invoiceMails).toHaveLength(1);
    const mail = invoiceMails[0]!;
    expect(mail.envelopeTo).toEqual(['jane@client.example']);
    expect(mail.parsed.subject).toBe('Re: October');
    expect(mail.parsed.inReplyTo).toBe('<october-request@client.example>');
    expect(mail.parsed.text).toContain('Total: 1580.00 EUR');
    const [pdf] = mail.parsed.attachments;
    expect(pdf).toMatchObject({ filename: 'INV_2026_00002.pdf', contentType: 'application/pdf' });
    expect(pdf!.content.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf!.content.toString('latin1')).toContain('INV/2026/00002');
    expect(pdf!.content.toString('latin1')).not.toContain('INV/2026/00001');

    expect(await frontmatterOf(join(s.w.local.dir, 'Done/EMAIL_OCT_INVOICE.md'))).toMatchObject({
      status: 'executed',
      sent_message_id: 'INV/2026/00002',
    });
    expect(await git(s.w.remote, 'ls-tree', '-r', '--name-only', 'main')).toContain(
      'Done/EMAIL_OCT_INVOICE.md',
    );

    // More passes and a cloud pass post and send nothing more.
    await s.laptop(['executor', '--once']);
    await s.cloud(['operator', '--once']);
    await s.laptop(['executor', '--once']);
    expect(s.laptopPosts()).toBe(1);
    expect(s.smtp.received.filter((m) => m.parsed.attachments.length > 0)).toHaveLength(1);
    expect(await drafts(s)).toEqual([]);
  });
});

describe('an invoice asked for by email: a crash during the post', () => {
  beforeAll(assertBuilt);

  it('SIGKILL while Odoo posts: the restart neither posts nor sends, the task is Uncertain with the reason; released, it sends the PDF once and never posts again', async () => {
    const s = await setup('json2', '19.0');
    await september(s);
    await draftedOnTheCloud(s, 'EMAIL_KILL');
    expect((await s.laptop(['approve', 'EMAIL_KILL_INVOICE'])).code).toBe(0);
    const [draft] = await drafts(s);

    // Odoo posts the invoice, and its answer never comes: the executor is killed while it waits.
    s.server.inject({ kind: 'hang_after', method: 'action_post' });
    const { child, done } = startFte(['executor', '--once', '--vault', s.w.local.dir], s.laptopEnv);
    await eventually(
      () => s.server.calls.some((c) => c.method === 'action_post' && c.fault === 'hang_after'),
      'the post on its way',
    );
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    const [move] = await s.admin.read('account.move', [draft!.id], ['state', 'name']);
    expect(move).toMatchObject({ state: 'posted', name: 'INV/2026/00002' });

    const restart = await s.laptop(['executor', '--once']);
    expect(restart.code, restart.stderr).toBe(0);
    expect(restart.stdout).toMatch(/UNCERTAIN EMAIL_KILL_INVOICE: .*may or may not have happened/);
    await s.laptop(['executor', '--once']);
    expect(s.laptopPosts()).toBe(1);
    expect(s.smtp.received.filter((m) => m.parsed.attachments.length > 0)).toEqual([]);
    expect(await frontmatterOf(join(s.w.local.dir, 'Approved/EMAIL_KILL_INVOICE.md'))).toMatchObject({
      status: 'uncertain',
    });
    expect(existsSync(join(s.w.local.dir, 'Done/EMAIL_KILL_INVOICE.md'))).toBe(false);

    // The owner releases it ("it did not all happen"): the pass finds the invoice posted, does not post
    // it again, and sends the reply with the PDF, once.
    const resolve = await s.laptop(['resolve', 'EMAIL_KILL_INVOICE', '--not-sent']);
    expect(resolve.code, resolve.stderr).toBe(0);
    const run = await s.laptop(['executor', '--once']);
    expect(run.code, run.stderr).toBe(0);
    await s.laptop(['executor', '--once']);
    expect(s.laptopPosts()).toBe(1);
    const mails = s.smtp.received.filter((m) => m.parsed.attachments.length > 0);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.parsed.attachments[0]!.filename).toBe('INV_2026_00002.pdf');
    expect(await frontmatterOf(join(s.w.local.dir, 'Done/EMAIL_KILL_INVOICE.md'))).toMatchObject({
      status: 'executed',
      sent_message_id: 'INV/2026/00002',
    });
  });

  it('the PDF route failing after the post: posted once, the email waits with the reason, the next pass sends it without posting again', async () => {
    const s = await setup('jsonrpc', '17.0');
    await september(s);
    await draftedOnTheCloud(s, 'EMAIL_PDF');
    expect((await s.laptop(['approve', 'EMAIL_PDF_INVOICE'])).code).toBe(0);
    s.server.inject({ kind: 'status500', path: '/report/pdf/', count: READ_RETRIES + 1 });

    const first = await s.laptop(['executor', '--once']);
    expect(first.code, first.stderr).toBe(0);
    expect(s.laptopPosts()).toBe(1);
    expect(s.smtp.received.filter((m) => m.parsed.attachments.length > 0)).toEqual([]);
    expect(first.stdout + first.stderr).toMatch(
      /posted in Odoo as INV\/2026\/00002; its PDF could not be read from Odoo, the email was not sent/,
    );
    expect(existsSync(join(s.w.local.dir, 'Approved/EMAIL_PDF_INVOICE.md'))).toBe(true);

    const second = await s.laptop(['executor', '--once']);
    expect(second.code, second.stderr).toBe(0);
    expect(s.laptopPosts()).toBe(1);
    expect(s.smtp.received.filter((m) => m.parsed.attachments.length > 0)).toHaveLength(1);
    expect(await frontmatterOf(join(s.w.local.dir, 'Done/EMAIL_PDF_INVOICE.md'))).toMatchObject({
      status: 'executed',
      sent_message_id: 'INV/2026/00002',
    });
  });
});
