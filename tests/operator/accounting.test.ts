import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { approvalContentHash, approvalParameters, decodeApproval, decodeItem } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { OdooAccessError, OdooClient, type OdooSettings } from '../../core/odoo/client.js';
import { TemplateDrafter } from '../../operator/drafters/template.js';
import { AccountingHandler, lazyOdoo } from '../../operator/handlers/accounting.js';
import { asksForInvoice } from '../../operator/handlers/email.js';
import { Operator } from '../../operator/operator.js';
import { taskName } from '../../operator/task.js';
import { OdooBillsWatcher } from '../../operator/watchers/odoo-bills.js';
import { git, itemText, remoteWithClones } from '../helpers/vaults.js';
import { odooKeys, odooUsers } from '../odoo/keys.js';
import { DEFAULT_USERS, type OdooTestServer, startOdooServer } from '../odoo/server.js';
import { assertBuilt, cleanEnv, eventually, fte, start } from './process.js';

/**
 * The cloud's accounting against the test Odoo server over real HTTP (both protocols), on real git
 * vaults: invoice requests become draft invoices and post_invoice approvals, invoice-request emails are
 * handed to accounting, vendor bills due become register_payment approvals; the draft-only key never
 * posts; Odoo failures leave a clear error and nothing lost.
 */

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const KEYS = odooKeys();
const users = () => odooUsers(KEYS);
const TODAY = '2026-03-15';
const NOW = new Date(`${TODAY}T09:00:00Z`);

const PROTOCOLS = [
  { protocol: 'json2', version: '19.0' },
  { protocol: 'jsonrpc', version: '17.0' },
] as const;

function md(data: Record<string, unknown>, body = 'Please invoice this.\n'): string {
  return stringifyMarkdown({ data, body });
}

const REQUEST = md({
  type: 'invoice_request',
  partner: 'Acme Trading',
  partner_email: 'ap@acme.example',
  currency: 'EUR',
  lines: [
    { name: 'Consulting, October', quantity: 3, price_unit: 100 },
    { name: 'Support hour', quantity: 1, price_unit: 49.5 },
  ],
});

const EMAIL = itemText(
  {
    type: 'email',
    from: 'Jane Client <jane@client.example>',
    subject: 'October',
    message_id: '<oct@client.example>',
  },
  'Hi, please send me the October invoice. Thanks, Jane\n',
);

const PLAIN_EMAIL = itemText(
  { type: 'email', from: 'bob@other.example', subject: 'Quote for chairs', message_id: '<q@other.example>' },
  'Hello, could you quote 20 chairs?\n',
);

async function names(dir: string, folder: string): Promise<string[]> {
  return existsSync(join(dir, folder))
    ? (await readdir(join(dir, folder))).filter((f) => !f.startsWith('.')).sort()
    : [];
}

async function approval(dir: string, path: string) {
  const decoded = decodeApproval(await readFile(join(dir, path), 'utf8'));
  const { content_sha256, ...unsigned } = decoded.data;
  expect(approvalContentHash(decoded.data.action, approvalParameters(unsigned), decoded.body)).toBe(
    content_sha256,
  );
  return decoded;
}

describe.each(PROTOCOLS)(
  'accounting on the cloud over $protocol (Odoo $version)',
  ({ protocol, version }) => {
    let server: OdooTestServer;
    let admin: OdooClient;
    const settings = (overrides: Partial<OdooSettings> = {}): OdooSettings => ({
      url: server.url,
      database: 'odoo',
      login: 'cloud',
      apiKey: KEYS.cloud,
      protocol,
      timeoutMs: 5_000,
      readRetries: 2,
      ...overrides,
    });

    beforeEach(async () => {
      server = await startOdooServer({ version, users: users(), today: () => TODAY });
      admin = await OdooClient.connect(
        { ...settings(), login: 'admin', apiKey: KEYS.admin },
        { sleep: async () => {} },
      );
    });
    afterEach(async () => {
      await server.close();
    });

    function operator(vault: string, options: { odoo?: Partial<OdooSettings>; bills?: boolean } = {}) {
      const connect = lazyOdoo(settings(options.odoo));
      return new Operator({
        vault,
        agent: 'cloud',
        drafter: new TemplateDrafter(),
        logger,
        clock: () => NOW,
        backoff: { baseMs: 1, maxMs: 10 },
        handlers: [new AccountingHandler({ connect })],
        watchers: options.bills ? [new OdooBillsWatcher({ connect })] : [],
      });
    }

    const invoices = () =>
      admin.searchRead<{ state: string; invoice_origin: string | false; amount_total: number }>(
        'account.move',
        [['move_type', '=', 'out_invoice']],
        ['state', 'invoice_origin', 'amount_total', 'partner_id', 'invoice_line_ids'],
      );
    const posts = () => server.calls.filter((c) => c.method === 'action_post');

    it('an invoice_request becomes a draft invoice in Odoo and a post_invoice approval with exactly its numbers', async () => {
      const { clones } = await remoteWithClones(['cloud', 'local']);
      const cloud = clones.cloud!.dir;
      await writeFile(join(cloud, 'Needs_Action/accounting/INV_REQ_1.md'), REQUEST);
      const report = await operator(cloud).runOnce();
      expect(report).toMatchObject({
        phases: { PendingApproval: 1 },
        steps: { claim: 1, triage: 1, draft: 1 },
      });

      const [invoice, ...more] = await invoices();
      expect(more).toEqual([]);
      expect(invoice).toMatchObject({ state: 'draft', invoice_origin: 'fte:INV_REQ_1', amount_total: 349.5 });
      const lines = await admin.read('account.move.line', invoice!.invoice_line_ids as number[], [
        'name',
        'quantity',
        'price_unit',
      ]);
      expect(lines.map(({ id: _, ...l }) => l)).toEqual([
        { name: 'Consulting, October', quantity: 3, price_unit: 100 },
        { name: 'Support hour', quantity: 1, price_unit: 49.5 },
      ]);
      const [partner] = await admin.searchRead('res.partner', [['email', '=', 'ap@acme.example']], ['name']);
      expect(partner).toMatchObject({ name: 'Acme Trading' });

      await clones.local!.repo.sync();
      const request = await approval(clones.local!.dir, 'Pending_Approval/accounting/INV_REQ_1.md');
      expect(request.data).toMatchObject({
        type: 'approval_request',
        task: 'INV_REQ_1',
        action: 'post_invoice',
        domain: 'accounting',
        status: 'pending',
        odoo_id: invoice!.id,
        move_type: 'out_invoice',
        partner: 'Acme Trading',
        partner_id: partner!.id,
        amount_total: 349.5,
        currency: 'EUR',
      });
      expect(request.data.invoice_lines).toEqual([
        { name: 'Consulting, October', quantity: 3, price_unit: 100 },
        { name: 'Support hour', quantity: 1, price_unit: 49.5 },
      ]);
      expect(request.body).toContain('Total: 349.50 EUR');
      // The draft-only key never asked Odoo to post anything.
      expect(posts()).toEqual([]);

      // Running again: nothing to do, still one draft.
      expect((await operator(cloud).runOnce()).steps).toEqual({});
      expect(await invoices()).toHaveLength(1);
    });

    it('a crash between creating the draft and writing the approval never makes a second draft', async () => {
      const { clones } = await remoteWithClones(['cloud']);
      const cloud = clones.cloud!.dir;
      await writeFile(join(cloud, 'Needs_Action/accounting/INV_REQ_2.md'), REQUEST);
      // The first pass dies right after Odoo created the draft: the read-back never gets an answer.
      server.inject({ kind: 'hang', model: 'account.move', method: 'read', count: 1 });
      const first = operator(cloud, { odoo: { timeoutMs: 400, readRetries: 0 } });
      const report = await first.runOnce();
      expect(await invoices()).toHaveLength(1);
      // The timeout is retried: the second attempt finds the draft by its origin and asks for it.
      expect(report.phases).toEqual({ PendingApproval: 1 });
      expect(await invoices()).toHaveLength(1);
      expect(await names(cloud, 'Pending_Approval/accounting')).toEqual(['INV_REQ_2.md']);
      expect(server.calls.filter((c) => c.model === 'account.move' && c.method === 'create')).toHaveLength(1);
    });

    it('an email asking for an invoice → an accounting item → a draft with the lines of the last posted invoice; the email gets a reply that it follows', async () => {
      const partnerId = await admin.create('res.partner', {
        name: 'Jane Client',
        email: 'jane@client.example',
      });
      const september = await admin.create('account.move', {
        move_type: 'out_invoice',
        partner_id: partnerId,
        invoice_line_ids: [[0, 0, { name: 'Retainer', quantity: 1, price_unit: 1200 }]],
      });
      await admin.call('account.move', 'action_post', [september]);
      const { clones } = await remoteWithClones(['cloud']);
      const cloud = clones.cloud!.dir;
      await writeFile(join(cloud, 'Needs_Action/email/EMAIL_INV.md'), EMAIL);
      await writeFile(join(cloud, 'Needs_Action/email/EMAIL_Q.md'), PLAIN_EMAIL);

      const report = await operator(cloud).runOnce();
      expect(report.phases).toEqual({ PendingApproval: 3 });

      const reply = await approval(cloud, 'Pending_Approval/email/EMAIL_INV.md');
      expect(reply.data).toMatchObject({
        action: 'send_email',
        to: 'jane@client.example',
        subject: 'Re: October',
      });
      expect(reply.body).toContain('it will follow in a separate email');
      const item = decodeItem(await readFile(join(cloud, 'In_Progress/cloud/EMAIL_INV_INVOICE.md'), 'utf8'));
      expect(item.data).toMatchObject({
        type: 'invoice_request',
        partner: 'Jane Client',
        partner_email: 'jane@client.example',
        lines_from: 'last_invoice',
        source_email: 'EMAIL_INV',
      });
      const request = await approval(cloud, 'Pending_Approval/accounting/EMAIL_INV_INVOICE.md');
      const drafts = (await invoices()).filter((i) => i.state === 'draft');
      expect(drafts).toHaveLength(1);
      expect(request.data).toMatchObject({
        action: 'post_invoice',
        odoo_id: drafts[0]!.id,
        partner: 'Jane Client',
        partner_id: partnerId,
        amount_total: 1200,
        invoice_lines: [{ name: 'Retainer', quantity: 1, price_unit: 1200 }],
      });
      // The other email is an ordinary reply, not an invoice.
      expect((await approval(cloud, 'Pending_Approval/email/EMAIL_Q.md')).data.action).toBe('send_email');
      expect(await names(cloud, 'Needs_Action/accounting')).toEqual([]);
      // Only the seeding admin posted (September's invoice).
      expect(posts()).toHaveLength(1);
      expect((await operator(cloud).runOnce()).steps).toEqual({});
      expect((await invoices()).filter((i) => i.state === 'draft')).toHaveLength(1);
    });

    it('an invoice request by email with no earlier invoice stops with "which lines?", creating nothing in Odoo', async () => {
      const { clones } = await remoteWithClones(['cloud']);
      const cloud = clones.cloud!.dir;
      await writeFile(join(cloud, 'Needs_Action/email/EMAIL_NEW.md'), EMAIL);
      const op = operator(cloud);
      await op.runOnce();
      const item = decodeItem(await readFile(join(cloud, 'In_Progress/cloud/EMAIL_NEW_INVOICE.md'), 'utf8'));
      expect(item.data.status).toBe('error');
      expect(String(item.data.error)).toMatch(/^which lines\?/);
      expect((await op.store.get(taskName('EMAIL_NEW_INVOICE')))?.status?.phase).toBe('Failed');
      expect(await invoices()).toEqual([]);
      expect(await admin.searchCount('res.partner', [['email', '=', 'jane@client.example']])).toBe(0);
      expect(await names(cloud, 'Pending_Approval/email')).toEqual(['EMAIL_NEW.md']);
    });

    it('an invoice_request without lines goes to Needs_Action/_errors/ asking which lines, unclaimed; a bill no longer payable needs nothing', async () => {
      const vendor = await admin.create('res.partner', { name: 'Paper Supplies' });
      const draftBill = await admin.create('account.move', {
        move_type: 'in_invoice',
        partner_id: vendor,
        invoice_line_ids: [[0, 0, { name: 'Paper', quantity: 1, price_unit: 5 }]],
      });
      const { clones } = await remoteWithClones(['cloud']);
      const cloud = clones.cloud!.dir;
      await writeFile(
        join(cloud, 'Needs_Action/accounting/INV_REQ_7.md'),
        md({ type: 'invoice_request', partner: 'Acme Trading' }),
      );
      await writeFile(
        join(cloud, 'Needs_Action/accounting/BILL_X.md'),
        md({ type: 'vendor_bill', odoo_id: draftBill }),
      );
      const report = await operator(cloud).runOnce();
      expect(report.steps).toEqual({ quarantine: 1, claim: 1, triage: 1 });
      const quarantined = decodeItem(
        await readFile(join(cloud, 'Needs_Action/_errors/INV_REQ_7.md'), 'utf8'),
      );
      expect(quarantined.data).toMatchObject({ status: 'error' });
      expect(String(quarantined.data.error)).toContain('which lines?');
      const bill = decodeItem(await readFile(join(cloud, 'In_Progress/cloud/BILL_X.md'), 'utf8'));
      expect(bill.data).toMatchObject({ triage: 'no_reply' });
      expect(String(bill.data.triage_reason)).toMatch(/is draft, not posted: nothing to pay/);
      expect(server.calls.filter((c) => c.method === 'create' && c.model !== 'res.partner')).toHaveLength(1);
    });

    it('Odoo answering 500 or an HTML page is retried: one draft, nothing lost', async () => {
      const { clones } = await remoteWithClones(['cloud']);
      const cloud = clones.cloud!.dir;
      await writeFile(join(cloud, 'Needs_Action/accounting/INV_REQ_3.md'), REQUEST);
      server.inject({ kind: 'status500', model: 'account.move', method: 'create', count: 1 });
      server.inject({ kind: 'html', model: 'account.move', method: 'search_read', count: 4 });
      const report = await operator(cloud).runOnce();
      expect(report.phases).toEqual({ PendingApproval: 1 });
      expect(server.calls.filter((c) => c.fault).length).toBe(5);
      expect(await invoices()).toHaveLength(1);
      expect(await names(cloud, 'Pending_Approval/accounting')).toEqual(['INV_REQ_3.md']);
    });

    it('Odoo not answering (a timeout) is retried: the email beside it flows, then one draft', async () => {
      const { clones } = await remoteWithClones(['cloud']);
      const cloud = clones.cloud!.dir;
      await writeFile(join(cloud, 'Needs_Action/accounting/INV_REQ_T.md'), REQUEST);
      await writeFile(join(cloud, 'Needs_Action/email/EMAIL_Q.md'), PLAIN_EMAIL);
      // The create reaches Odoo and is never answered: the retry must find that draft, not make another.
      server.inject({ kind: 'hang_after', model: 'account.move', method: 'create', count: 1 });
      server.inject({ kind: 'hang', model: 'account.move', method: 'read', count: 1 });
      const report = await operator(cloud, { odoo: { timeoutMs: 300, readRetries: 0 } }).runOnce();
      expect(report.phases).toEqual({ PendingApproval: 2 });
      expect(server.calls.filter((c) => c.fault).length).toBe(2);
      expect(await invoices()).toHaveLength(1);
      expect(await names(cloud, 'Pending_Approval/accounting')).toEqual(['INV_REQ_T.md']);
      expect(await names(cloud, 'Pending_Approval/email')).toEqual(['EMAIL_Q.md']);
    });

    it('Odoo refusing the key (access denied) leaves a clear error on the task, and an email task still flows', async () => {
      const { clones } = await remoteWithClones(['cloud']);
      const cloud = clones.cloud!.dir;
      await writeFile(join(cloud, 'Needs_Action/accounting/INV_REQ_4.md'), REQUEST);
      await writeFile(join(cloud, 'Needs_Action/email/EMAIL_Q.md'), PLAIN_EMAIL);
      const op = operator(cloud, { odoo: { apiKey: `bad${randomBytes(8).toString('hex')}` } });
      const report = await op.runOnce();
      expect(report.phases).toEqual({ PendingApproval: 1, Failed: 1 });
      const item = decodeItem(await readFile(join(cloud, 'In_Progress/cloud/INV_REQ_4.md'), 'utf8'));
      expect(item.data.status).toBe('error');
      expect(String(item.data.error)).toMatch(/Odoo .*(Access Denied|Invalid apikey|refused the login)/);
      expect(item.data.lines).toHaveLength(2);
      expect((await op.store.get(taskName('INV_REQ_4')))?.status?.lastError).toMatch(
        /Access Denied|Invalid apikey|refused the login/,
      );
      expect(await names(cloud, 'Pending_Approval/email')).toEqual(['EMAIL_Q.md']);
      expect(await invoices()).toEqual([]);
    });

    it('the cloud key cannot post or pay: Odoo refuses', async () => {
      const cloudClient = await OdooClient.connect(settings(), { sleep: async () => {} });
      const partner = await cloudClient.create('res.partner', { name: 'X' });
      const move = await cloudClient.create('account.move', {
        move_type: 'out_invoice',
        partner_id: partner,
        invoice_line_ids: [[0, 0, { name: 'A', quantity: 1, price_unit: 1 }]],
      });
      await expect(cloudClient.call('account.move', 'action_post', [move])).rejects.toBeInstanceOf(
        OdooAccessError,
      );
      const [after] = await admin.read('account.move', [move], ['state']);
      expect(after).toMatchObject({ state: 'draft' });

      // Nor pay: a posted vendor bill stays unpaid whichever way the cloud's key tries.
      const bill = await admin.create('account.move', {
        move_type: 'in_invoice',
        partner_id: partner,
        invoice_line_ids: [[0, 0, { name: 'Hosting', quantity: 1, price_unit: 40 }]],
      });
      await admin.call('account.move', 'action_post', [bill]);
      const context = { active_model: 'account.move', active_ids: [bill] };
      const wizard = cloudClient.create('account.payment.register', { amount: 40 }, { context });
      await expect(wizard).rejects.toBeInstanceOf(OdooAccessError);
      const byAdmin = await admin.create('account.payment.register', { amount: 40 }, { context });
      await expect(
        cloudClient.call('account.payment.register', 'action_create_payments', [byAdmin], {}, { context }),
      ).rejects.toBeInstanceOf(OdooAccessError);
      await expect(
        cloudClient.create('account.payment', { partner_id: partner, amount: 40, payment_type: 'outbound' }),
      ).rejects.toBeInstanceOf(OdooAccessError);
      const [unpaid] = await admin.read('account.move', [bill], ['payment_state']);
      expect(unpaid).toMatchObject({ payment_state: 'not_paid' });
    });

    it('vendor bills due become register_payment approvals, once per bill, with the new-payee hint', async () => {
      const vendor = await admin.create('res.partner', {
        name: 'Paper Supplies',
        email: 'bills@paper.example',
      });
      const bill = async (due: string, price: number) => {
        const id = await admin.create('account.move', {
          move_type: 'in_invoice',
          partner_id: vendor,
          invoice_date: '2026-03-01',
          invoice_date_due: due,
          invoice_line_ids: [[0, 0, { name: 'Paper', quantity: 1, price_unit: price }]],
        });
        await admin.call('account.move', 'action_post', [id]);
        return id;
      };
      const dueSoon = await bill('2026-03-17', 230);
      const overdue = await bill('2026-03-10', 80);
      await bill('2026-03-30', 500); // not due within 3 days
      const draftBill = await admin.create('account.move', {
        move_type: 'in_invoice',
        partner_id: vendor,
        invoice_date_due: '2026-03-16',
        invoice_line_ids: [[0, 0, { name: 'Draft', quantity: 1, price_unit: 5 }]],
      });

      const { clones } = await remoteWithClones(['cloud']);
      const cloud = clones.cloud!.dir;
      const report = await operator(cloud, { bills: true }).runOnce();
      expect(report.phases).toEqual({ PendingApproval: 2 });
      expect(await names(cloud, 'Pending_Approval/accounting')).toEqual(
        [`BILL_${dueSoon}.md`, `BILL_${overdue}.md`].sort(),
      );
      const request = await approval(cloud, `Pending_Approval/accounting/BILL_${dueSoon}.md`);
      expect(request.data).toMatchObject({
        action: 'register_payment',
        odoo_id: dueSoon,
        partner: 'Paper Supplies',
        partner_id: vendor,
        amount: 230,
        currency: 'EUR',
        new_payee: true,
      });
      expect(request.body).toContain('New payee');
      expect(existsSync(join(cloud, `Pending_Approval/accounting/BILL_${draftBill}.md`))).toBe(false);
      expect(
        server.calls.some((c) => c.model?.startsWith('account.payment') && c.method !== 'search_count'),
      ).toBe(false);

      // Another pass: no second item or approval for the same bills.
      expect((await operator(cloud, { bills: true }).runOnce()).steps).toEqual({});
      expect((await git(cloud, 'log', '--format=%s', `--grep=intake BILL_${dueSoon}`)).trim()).toBe(
        `cloud: intake BILL_${dueSoon}`,
      );
    });
  },
);

describe('fte operator with Odoo (the real process)', () => {
  beforeAll(assertBuilt);
  let server: OdooTestServer;
  beforeEach(async () => {
    server = await startOdooServer({ users: users(), today: () => TODAY });
  });
  afterEach(async () => {
    await server.close();
  });
  const odooEnv = (extra: NodeJS.ProcessEnv = {}) =>
    cleanEnv({
      ODOO_URL: server.url,
      ODOO_DB: 'odoo',
      ODOO_LOGIN: 'cloud',
      ODOO_API_KEY: KEYS.cloud,
      FTE_OPERATOR_BACKOFF_MS: '5',
      ...extra,
    });

  it('refuses to start with the posting key in its environment: exit 78, and Odoo is never called', async () => {
    const { clones } = await remoteWithClones(['cloud']);
    const vault = clones.cloud!.dir;
    await writeFile(join(vault, 'Needs_Action/accounting/INV_REQ_5.md'), REQUEST);
    for (const [name, value] of [
      ['ODOO_POST_API_KEY', KEYS.laptop],
      ['ODOO_POST_API_KEY_FILE', '/tmp/odoo-post.key'],
    ]) {
      const run = await fte(['operator', '--vault', vault, '--once'], odooEnv({ [name!]: value }));
      expect(run.code, name).toBe(78);
      expect(run.stderr.trim().split('\n'), name).toHaveLength(1);
      expect(run.stderr).toContain(`refusing to start: send credentials are set (${name})`);
      expect(run.stderr).not.toContain(value!);
    }
    expect(server.calls).toEqual([]);
    expect(existsSync(join(vault, 'Needs_Action/accounting/INV_REQ_5.md'))).toBe(true);
  });

  it('--once drafts the invoice; SIGKILL after the create and a restart still leave one draft', async () => {
    const { clones } = await remoteWithClones(['cloud']);
    const cloud = clones.cloud!.dir;
    await writeFile(join(cloud, 'Needs_Action/accounting/INV_REQ_6.md'), REQUEST);
    server.inject({ kind: 'hang', model: 'account.move', method: 'read', count: 1 });
    const { child, done } = start(['operator', '--vault', cloud, '--once'], odooEnv());
    await eventually(
      () => server.calls.some((c) => c.model === 'account.move' && c.method === 'read'),
      'the read-back after the create',
    );
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    expect(await server.db.read(DEFAULT_USERS[0]!, 'account.move', [1], ['state'])).toMatchObject([
      { state: 'draft' },
    ]);
    const restart = await fte(['operator', '--vault', cloud, '--once'], odooEnv());
    expect(restart.code, restart.stderr).toBe(0);
    expect(restart.stdout).toContain('PendingApproval 1');
    expect(server.calls.filter((c) => c.model === 'account.move' && c.method === 'create')).toHaveLength(1);
    const request = decodeApproval(
      await readFile(join(cloud, 'Pending_Approval/accounting/INV_REQ_6.md'), 'utf8'),
    );
    expect(request.data).toMatchObject({ action: 'post_invoice', odoo_id: 1, amount_total: 349.5 });
    expect(server.calls.filter((c) => c.method === 'action_post')).toEqual([]);
  });
});

describe('invoice requests in email, by rules', () => {
  it.each([
    ['October', 'Hi, please send me the October invoice.', true],
    ['Invoice for January', 'Hello', true],
    ['Re: Invoice request', '', true],
    ['Question', 'Could you issue an invoice for the workshop?', true],
    ['Question', 'We need the invoices for Q3 for our auditor', true],
    ['Thanks', 'Thanks for the invoice, paid today.', false],
    ['Chairs', 'Could you quote 20 chairs?', false],
    ['Payment', 'Your invoice was paid.', false],
  ])('%s / %s → %s', (subject, body, expected) => {
    expect(asksForInvoice(subject, body)).toBe(expected);
  });
});
