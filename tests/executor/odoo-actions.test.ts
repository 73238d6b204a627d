import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config.js';
import { HANDBOOK_FILE } from '../../core/layout.js';
import { OdooClient, type OdooSettings } from '../../core/odoo/client.js';
import { NEW_PAYEE } from '../../executor/actions/register-payment.js';
import { loadExecutorConfig, ratePerHour } from '../../executor/config.js';
import { DecisionError, resolveTask } from '../../executor/decisions.js';
import { type OdooWho, odooKeys, odooSettings, odooUsers } from '../odoo/keys.js';
import { type OdooTestServer, startOdooServer } from '../odoo/server.js';
import {
  auditRecords,
  type CliResult,
  config,
  executive,
  frontmatterOf,
  git,
  localLedger,
  onCleanup,
  ownerContext,
  runCli,
  smtpEnv,
  tempDir,
  testKey,
  type World,
  world,
} from './helpers.js';
import { approveWithOdoo, cloudAccountingApproval, postedVendorBill } from './odoo-world.js';

/**
 * The laptop's Odoo actions (issue 13 part 4) against the test Odoo server over real HTTP and a real git
 * world: the cloud drafts in Odoo with its draft-only key and writes the approval; the owner approves;
 * the executor posts or pays with the laptop's key, at most once.
 */

const KEYS = odooKeys();
const users = () => odooUsers(KEYS);

async function odooServer(version: string): Promise<OdooTestServer> {
  const server = await startOdooServer({ version, users: users(), today: () => '2026-03-15' });
  onCleanup(() => server.close());
  return server;
}

const settings = (server: OdooTestServer, who: OdooWho, o: Partial<OdooSettings> = {}) =>
  odooSettings(server, KEYS, who, { readRetries: 1, ...o });

const admin = (server: OdooTestServer) => OdooClient.connect(settings(server, 'admin'));

type Line = { name: string; quantity: number; price_unit: number };
const LINES: Line[] = [
  { name: 'Consulting, October', quantity: 10, price_unit: 120 },
  { name: 'Travel', quantity: 1, price_unit: 80.5 },
];

/** What the cloud does with its key: a partner and a draft customer invoice in Odoo. */
async function draftInvoice(server: OdooTestServer, partner = 'Acme SA', lines = LINES) {
  const odoo = await OdooClient.connect(settings(server, 'cloud'));
  const partnerId = await odoo.create('res.partner', { name: partner });
  const id = await odoo.create('account.move', {
    move_type: 'out_invoice',
    partner_id: partnerId,
    invoice_line_ids: lines.map((l) => [0, 0, l]),
  });
  const [move] = await odoo.read('account.move', [id], ['amount_total']);
  return { id, partnerId, partner, total: Number(move!.amount_total) };
}

/** A posted vendor bill (entered and posted by a person with the admin key). */
const postedBill = async (server: OdooTestServer, partnerId: number, amount: number) =>
  postedVendorBill(await admin(server), partnerId, amount);

const cloudApproval = cloudAccountingApproval;

const invoiceParameters = (inv: Awaited<ReturnType<typeof draftInvoice>>, lines = LINES) => ({
  odoo_id: inv.id,
  move_type: 'out_invoice',
  partner: inv.partner,
  partner_id: inv.partnerId,
  invoice_lines: lines,
  amount_total: inv.total,
  currency: 'EUR',
});

/** The laptop's config with its Odoo (the posting key by default). */
const laptopConfig = (
  server: OdooTestServer,
  o: Partial<OdooSettings> = {},
  ceiling = 1000,
  who: OdooWho = 'laptop',
) => config(undefined, { odoo: settings(server, who, o), paymentCeiling: ceiling });

/** The owner's `fte approve`, in process, with the laptop's posting settings. */
const approveAll = (w: World, server: OdooTestServer, ids: string[], ceiling = 1000) =>
  approveWithOdoo(w, settings(server, 'laptop'), ids, ceiling);

/** Pulls the cloud's approvals into the local clone (an executive pass with nothing configured). */
async function pull(w: World): Promise<void> {
  await executive(w, await testKey(w.keyFile), undefined).pass();
}

const calls = (server: OdooTestServer, method: string) =>
  server.calls.filter((c) => c.method === method).length;

function odooEnv(w: World, server: OdooTestServer, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return smtpEnv(1, w.keyFile, {
    ODOO_URL: server.url,
    ODOO_DB: 'odoo',
    ODOO_LOGIN: 'laptop',
    ODOO_POST_API_KEY: KEYS.laptop,
    ODOO_TIMEOUT_MS: '5000',
    ...extra,
  });
}

const cli = (
  w: World,
  server: OdooTestServer,
  args: string[],
  extra: Record<string, string> = {},
): Promise<CliResult> => runCli([...args, '--vault', w.local.dir], odooEnv(w, server, extra));

describe.each([
  { protocol: 'json2', version: '19.0' },
  { protocol: 'jsonrpc', version: '17.0' },
] as const)('post_invoice over $protocol (Odoo $version)', ({ protocol, version }) => {
  it('approve + a pass posts the invoice exactly once, Done/ names it; another pass and a replay post nothing', async () => {
    const w = await world();
    const server = await odooServer(version);
    const key = await testKey(w.keyFile);
    const inv = await draftInvoice(server);
    expect(inv.total).toBe(1280.5);
    await cloudApproval(w.cloud, 'INV_1', 'post_invoice', invoiceParameters(inv));
    await pull(w);
    const [approved] = await approveAll(w, server, ['INV_1']);
    expect(approved!.effect).toEqual(
      expect.arrayContaining([
        ['partner', `Acme SA (res.partner ${inv.partnerId})`],
        ['line 1', 'Consulting, October: 10 × 120.00 EUR = 1200.00 EUR'],
        ['line 2', 'Travel: 1 × 80.50 EUR = 80.50 EUR'],
        ['total', '1280.50 EUR'],
        ['effect', 'posts the invoice in Odoo: it gets its number and can no longer be edited'],
      ]),
    );
    const signed = await readFile(join(w.local.dir, 'Approved/INV_1.md'), 'utf8');

    const cfg = laptopConfig(server, { protocol });
    const report = await executive(w, key, undefined, { config: cfg }).pass();
    expect(report.sent).toEqual([{ id: 'INV_1', messageId: 'INV/2026/00001' }]);
    expect(calls(server, 'action_post')).toBe(1);
    expect(await frontmatterOf(join(w.local.dir, 'Done/INV_1.md'))).toMatchObject({
      status: 'executed',
      sent_message_id: 'INV/2026/00001',
    });
    const [move] = await (await admin(server)).read('account.move', [inv.id], ['state', 'name']);
    expect(move).toMatchObject({ state: 'posted', name: 'INV/2026/00001' });
    const audit = (await auditRecords(w.local.dir)).filter((r) => r.action_type === 'invoice_post');
    expect(audit).toMatchObject([
      { result: 'sent', task: 'INV_1', parameters: { effect_id: 'INV/2026/00001' } },
    ]);
    expect(await git(w.remote, 'ls-tree', '-r', '--name-only', 'main')).toContain('Done/INV_1.md');

    // Another pass; then a copy of the signed approval comes back: nothing is posted again.
    await executive(w, key, undefined, { config: cfg }).pass();
    await writeFile(join(w.local.dir, 'Approved/INV_1.md'), signed);
    const again = executive(w, key, undefined, { config: cfg });
    await again.pass();
    const replay = await again.pass();
    expect(calls(server, 'action_post')).toBe(1);
    expect(replay.sent).toEqual([]);
    expect(String((await frontmatterOf(join(w.local.dir, 'Approved/INV_1.md'))).refusal_reason)).toMatch(
      /already carried out on this machine and filed in Done\/.*INV\/2026\/00001/,
    );
  });

  it('an invoice posted in Odoo meanwhile is recorded done without a second post', async () => {
    const w = await world();
    const server = await odooServer(version);
    const key = await testKey(w.keyFile);
    const inv = await draftInvoice(server);
    await cloudApproval(w.cloud, 'INV_P', 'post_invoice', invoiceParameters(inv));
    await pull(w);
    await approveAll(w, server, ['INV_P']);
    await (await admin(server)).call('account.move', 'action_post', [inv.id]);
    expect(calls(server, 'action_post')).toBe(1);

    const report = await executive(w, key, undefined, { config: laptopConfig(server, { protocol }) }).pass();
    expect(report.sent).toEqual([{ id: 'INV_P', messageId: 'INV/2026/00001' }]);
    expect(calls(server, 'action_post')).toBe(1);
    const ledger = await localLedger(w);
    expect((await ledger.records()).find((r) => r.kind === 'outcome')?.detail).toMatch(
      /already posted in Odoo as INV\/2026\/00001; not posted again/,
    );
  });

  it('an invoice changed in Odoo after the approval is refused: failed, visible, not posted', async () => {
    const w = await world();
    const server = await odooServer(version);
    const key = await testKey(w.keyFile);
    const inv = await draftInvoice(server);
    await cloudApproval(w.cloud, 'INV_C', 'post_invoice', invoiceParameters(inv));
    await pull(w);
    await approveAll(w, server, ['INV_C']);
    const odoo = await admin(server);
    const [move] = await odoo.read('account.move', [inv.id], ['invoice_line_ids']);
    const lineId = (move!.invoice_line_ids as number[])[1]!;
    await odoo.write('account.move.line', [lineId], { price_unit: 800.5 });

    const report = await executive(w, key, undefined, { config: laptopConfig(server, { protocol }) }).pass();
    expect(report.failed.map((f) => f.id)).toEqual(['INV_C']);
    expect(calls(server, 'action_post')).toBe(0);
    const file = await frontmatterOf(join(w.local.dir, 'Approved/INV_C.md'));
    expect(file.status).toBe('failed');
    expect(String(file.error)).toMatch(
      /changed in Odoo since you approved it \(its total is 2000\.50 EUR, not 1280\.50 EUR\)/,
    );
    await executive(w, key, undefined, { config: laptopConfig(server, { protocol }) }).pass();
    expect(calls(server, 'action_post')).toBe(0);
  });

  it('an invoice whose partner the approval names differently than Odoo does is refused: not posted', async () => {
    const w = await world();
    const server = await odooServer(version);
    const key = await testKey(w.keyFile);
    const inv = await draftInvoice(server, 'Acme SA');
    await cloudApproval(w.cloud, 'INV_N', 'post_invoice', {
      ...invoiceParameters(inv),
      partner: 'Your Bank Ltd',
    });
    await pull(w);
    await approveAll(w, server, ['INV_N']);
    const report = await executive(w, key, undefined, { config: laptopConfig(server, { protocol }) }).pass();
    expect(report.failed.map((f) => f.id)).toEqual(['INV_N']);
    expect(report.failed[0]!.reason).toMatch(
      /its partner is Acme SA \(\d+\), not Your Bank Ltd \(\d+\)\); nothing was posted/,
    );
    expect(calls(server, 'action_post')).toBe(0);
  });

  it("the cloud's draft-only key given as the posting key: Odoo refuses (AccessError), the task fails with a clear reason", async () => {
    const w = await world();
    const server = await odooServer(version);
    const key = await testKey(w.keyFile);
    const inv = await draftInvoice(server);
    await cloudApproval(w.cloud, 'INV_K', 'post_invoice', invoiceParameters(inv));
    await pull(w);
    await approveAll(w, server, ['INV_K']);
    const cfg = laptopConfig(server, { protocol }, 1000, 'cloud');
    const report = await executive(w, key, undefined, { config: cfg }).pass();
    expect(report.failed.map((f) => f.id)).toEqual(['INV_K']);
    expect(report.failed[0]!.reason).toMatch(/You are not allowed to post/);
    expect(report.failed[0]!.reason).toMatch(
      /ODOO_POST_API_KEY may not do this \(is it the cloud's draft-only key\?\)/,
    );
    const [move] = await (await admin(server)).read('account.move', [inv.id], ['state']);
    expect(move!.state).toBe('draft');
  });
});

describe('post_invoice through the CLI', () => {
  it('SIGKILL after the intent: the restart posts nothing and marks it Uncertain; fte resolve releases it, posted once', async () => {
    const w = await world();
    const server = await odooServer('19.0');
    await testKey(w.keyFile);
    const inv = await draftInvoice(server);
    await cloudApproval(w.cloud, 'INV_K', 'post_invoice', invoiceParameters(inv));
    await pull(w);
    const approve = await cli(w, server, ['approve', 'INV_K']);
    expect(approve.code).toBe(0);
    expect(approve.stdout).toContain(
      'posts the invoice in Odoo: it gets its number and can no longer be edited',
    );

    const crashed = await cli(w, server, ['executor', '--once'], { FTE_TEST_CRASH_AFTER_INTENT: '1' });
    expect(crashed.signal).toBe('SIGKILL');
    const restart = await cli(w, server, ['executor', '--once']);
    expect(restart.code).toBe(0);
    expect(restart.stdout).toMatch(/UNCERTAIN INV_K: .*may or may not have happened/);
    expect(calls(server, 'action_post')).toBe(0);
    expect(await frontmatterOf(join(w.local.dir, 'Approved/INV_K.md'))).toMatchObject({
      status: 'uncertain',
    });
    await cli(w, server, ['executor', '--once']);
    expect(calls(server, 'action_post')).toBe(0);

    // The owner looked in Odoo: still a draft. Released, the next pass posts it, once.
    const resolve = await cli(w, server, ['resolve', 'INV_K', '--not-sent']);
    expect(resolve.code).toBe(0);
    const run = await cli(w, server, ['executor', '--once']);
    expect(run.stdout).toMatch(/sent INV_K INV\/2026\/00001/);
    await cli(w, server, ['executor', '--once']);
    expect(calls(server, 'action_post')).toBe(1);
    expect(existsSync(join(w.local.dir, 'Done/INV_K.md'))).toBe(true);
  });

  it('no Odoo configured: the approval waits with the reason', async () => {
    const w = await world();
    const server = await odooServer('19.0');
    const key = await testKey(w.keyFile);
    const inv = await draftInvoice(server);
    await cloudApproval(w.cloud, 'INV_W', 'post_invoice', invoiceParameters(inv));
    await pull(w);
    await approveAll(w, server, ['INV_W']);
    const report = await executive(w, key, undefined).pass();
    expect(report.deferred).toEqual([
      { id: 'INV_W', reason: expect.stringMatching(/no Odoo configured on this machine \(set ODOO_URL/) },
    ]);
    expect(calls(server, 'action_post')).toBe(0);
  });
});

describe.each([
  { protocol: 'json2', version: '19.0' },
  { protocol: 'jsonrpc', version: '17.0' },
] as const)('register_payment over $protocol (Odoo $version)', ({ protocol, version }) => {
  const pcli = (w: World, server: OdooTestServer, args: string[], extra: Record<string, string> = {}) =>
    cli(w, server, args, { ODOO_PROTOCOL: protocol, ...extra });
  async function vendor(server: OdooTestServer, name = 'Hosting Ltd'): Promise<number> {
    return (await admin(server)).create('res.partner', { name });
  }
  const paymentParameters = (billId: number, partnerId: number, amount: number, extra = {}) => ({
    odoo_id: billId,
    partner: 'Hosting Ltd',
    partner_id: partnerId,
    amount,
    currency: 'EUR',
    ...extra,
  });
  const payments = async (server: OdooTestServer) =>
    (await admin(server)).searchRead('account.payment', [], ['name', 'amount', 'state']);

  it('above the ceiling: refused at approve time, and again at execution under a lower ceiling', async () => {
    const w = await world();
    const server = await odooServer(version);
    const key = await testKey(w.keyFile);
    const partner = await vendor(server);
    const big = await postedBill(server, partner, 800);
    await cloudApproval(w.cloud, 'PAY_BIG', 'register_payment', paymentParameters(big, partner, 800));
    await pull(w);
    const refused = await pcli(w, server, ['approve', 'PAY_BIG'], { FTE_PAYMENT_CEILING: '500' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/800\.00 EUR is above this machine's per-payment ceiling of 500\.00 EUR/);
    expect(existsSync(join(w.local.dir, 'Pending_Approval/accounting/PAY_BIG.md'))).toBe(true);
    await expect(approveAll(w, server, ['PAY_BIG'], 500)).rejects.toBeInstanceOf(DecisionError);

    // Signed where the ceiling was 1000; this machine's ceiling is now 500: refused, nothing paid.
    await approveAll(w, server, ['PAY_BIG'], 1000);
    const report = await executive(w, key, undefined, {
      config: laptopConfig(server, { protocol }, 500),
    }).pass();
    expect(report.refused.map((r) => r.id)).toEqual(['PAY_BIG']);
    expect(calls(server, 'action_create_payments')).toBe(0);
    expect(await payments(server)).toEqual([]);
  });

  it('4 payments in an hour: 3 are made, the 4th waits with the rate-limit reason', async () => {
    const w = await world();
    const server = await odooServer(version);
    const key = await testKey(w.keyFile);
    const partner = await vendor(server);
    const ids = ['PAY_1', 'PAY_2', 'PAY_3', 'PAY_4'];
    for (const [i, id] of ids.entries()) {
      const bill = await postedBill(server, partner, 100 + i);
      await cloudApproval(
        w.cloud,
        id,
        'register_payment',
        paymentParameters(bill, partner, 100 + i),
        i === 3,
      );
    }
    await pull(w);
    await approveAll(w, server, ids);
    let now = new Date();
    const ex = executive(w, key, undefined, { config: laptopConfig(server, { protocol }), clock: () => now });
    const first = await ex.pass();
    expect(first.sent.map((s) => s.id)).toEqual(['PAY_1', 'PAY_2', 'PAY_3']);
    expect(first.sent[0]!.messageId).toBe('PBNK1/2026/00001');
    expect(first.deferred).toEqual([
      { id: 'PAY_4', reason: 'rate limit: 3 register_payment done in the last hour (limit 3)' },
    ]);
    expect(await payments(server)).toHaveLength(3);
    expect((await ex.pass()).sent).toEqual([]);
    now = new Date(now.getTime() + 61 * 60_000);
    expect((await ex.pass()).sent.map((s) => s.id)).toEqual(['PAY_4']);
    expect((await payments(server)).map((p) => p.amount)).toEqual([100, 101, 102, 103]);
  });

  it('a new payee is flagged in fte approve for the first payment to a partner, not for the second', async () => {
    const w = await world();
    const server = await odooServer(version);
    await testKey(w.keyFile);
    const partner = await vendor(server);
    const bill1 = await postedBill(server, partner, 200);
    const bill2 = await postedBill(server, partner, 300);
    // The cloud's hint says "not new": never trusted, the laptop's ledger decides.
    await cloudApproval(
      w.cloud,
      'PAY_A',
      'register_payment',
      paymentParameters(bill1, partner, 200, { new_payee: false }),
    );
    await pull(w);
    const first = await pcli(w, server, ['approve', 'PAY_A']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(NEW_PAYEE);
    expect(first.stdout).toMatch(/amount\s+200\.00 EUR/);
    expect(first.stdout).toMatch(/payee\s+Hosting Ltd \(res\.partner \d+\)/);
    expect(first.stdout).toMatch(/the cloud said new_payee: false; this machine's own record says new/);
    const run = await pcli(w, server, ['executor', '--once']);
    expect(run.stdout).toMatch(/sent PAY_A PBNK1\/2026\/00001/);

    await cloudApproval(w.cloud, 'PAY_B', 'register_payment', paymentParameters(bill2, partner, 300));
    await pcli(w, server, ['executor', '--once']);
    const second = await pcli(w, server, ['approve', 'PAY_B']);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain('NEW PAYEE');
    expect(second.stdout).toMatch(/amount\s+300\.00 EUR/);
    await pcli(w, server, ['executor', '--once']);
    expect((await payments(server)).map((p) => p.amount)).toEqual([200, 300]);
  });

  it('an uncertain payment (Odoo never answers action_create_payments) is never repeated by later passes', async () => {
    const w = await world();
    const server = await odooServer(version);
    const key = await testKey(w.keyFile);
    const partner = await vendor(server);
    const bill = await postedBill(server, partner, 250);
    await cloudApproval(w.cloud, 'PAY_U', 'register_payment', paymentParameters(bill, partner, 250));
    await pull(w);
    const [first] = await approveAll(w, server, ['PAY_U']);
    expect(first!.effect).toContainEqual(['warning', NEW_PAYEE]);
    server.inject({ kind: 'hang', method: 'action_create_payments' });
    const cfg = laptopConfig(server, { protocol, timeoutMs: 1_000, readRetries: 0 });
    const report = await executive(w, key, undefined, { config: cfg }).pass();
    expect(report.uncertain.map((u) => u.id)).toEqual(['PAY_U']);
    expect(report.uncertain[0]!.reason).toMatch(/may have happened/);
    expect(await frontmatterOf(join(w.local.dir, 'Approved/PAY_U.md'))).toMatchObject({
      status: 'uncertain',
    });
    for (let i = 0; i < 3; i++) await executive(w, key, undefined, { config: cfg }).pass();
    expect(calls(server, 'action_create_payments')).toBe(1);
    expect(await payments(server)).toEqual([]);

    // The owner says it did go out (fte resolve --sent): from then on the partner is not a new payee.
    const ledger = await localLedger(w);
    const ctx = ownerContext(w);
    await resolveTask(ctx, ledger, 'PAY_U', 'sent');
    const bill2 = await postedBill(server, partner, 50);
    await cloudApproval(w.cloud, 'PAY_V', 'register_payment', paymentParameters(bill2, partner, 50));
    await pull(w);
    const [second] = await approveAll(w, server, ['PAY_V']);
    expect(second!.effect.map(([, v]) => v)).not.toContain(NEW_PAYEE);
  });

  it('a bill owing less than the approved amount fails without paying', async () => {
    const w = await world();
    const server = await odooServer(version);
    const key = await testKey(w.keyFile);
    const partner = await vendor(server);
    const bill = await postedBill(server, partner, 90);
    await cloudApproval(w.cloud, 'PAY_L', 'register_payment', paymentParameters(bill, partner, 120));
    await pull(w);
    await approveAll(w, server, ['PAY_L']);
    const report = await executive(w, key, undefined, { config: laptopConfig(server, { protocol }) }).pass();
    expect(report.failed).toEqual([
      {
        id: 'PAY_L',
        reason: expect.stringMatching(
          /it owes 90\.00 EUR, less than the approved 120\.00 EUR; nothing was paid/,
        ),
      },
    ]);
    expect(calls(server, 'action_create_payments')).toBe(0);
  });
});

describe("the laptop's Odoo settings and payment limits", () => {
  const base = (dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    FTE_EXECUTOR_CONFIG: join(dir, 'executor.json'),
    ...extra,
  });
  const odooVars = {
    ODOO_URL: 'http://127.0.0.1:8069/',
    ODOO_DB: 'odoo',
    ODOO_LOGIN: 'laptop',
  };

  it('the posting key is ODOO_POST_API_KEY (or _FILE); the cloud variable ODOO_API_KEY is never used', async () => {
    const dir = await tempDir();
    const cfg = await loadExecutorConfig(
      base(dir, { ...odooVars, ODOO_POST_API_KEY: 'post-key-1234', ODOO_API_KEY: 'draft-key-5678' }),
    );
    expect(cfg.odoo).toMatchObject({
      url: 'http://127.0.0.1:8069',
      database: 'odoo',
      login: 'laptop',
      apiKey: 'post-key-1234',
    });
    await writeFile(join(dir, 'post.key'), 'file-key-9999\n');
    const fromFile = await loadExecutorConfig(
      base(dir, { ...odooVars, ODOO_POST_API_KEY_FILE: join(dir, 'post.key'), ODOO_API_KEY: 'draft' }),
    );
    expect(fromFile.odoo?.apiKey).toBe('file-key-9999');
    // Only the cloud's key: the laptop has no posting key, a configuration error naming the laptop's variable.
    await expect(
      loadExecutorConfig(base(dir, { ...odooVars, ODOO_API_KEY: 'draft-key-5678' })),
    ).rejects.toThrow(/ODOO_POST_API_KEY or ODOO_POST_API_KEY_FILE: set one/);
    await expect(
      loadExecutorConfig(
        base(dir, {
          ...odooVars,
          ODOO_POST_API_KEY: 'a-key-1',
          ODOO_POST_API_KEY_FILE: join(dir, 'post.key'),
        }),
      ),
    ).rejects.toThrow(/ODOO_POST_API_KEY and ODOO_POST_API_KEY_FILE are both set/);
    await expect(loadExecutorConfig(base(dir, { ODOO_POST_API_KEY: 'a-key-1' }))).rejects.toBeInstanceOf(
      ConfigError,
    );
    expect((await loadExecutorConfig(base(dir))).odoo).toBeUndefined();
  });

  it('3 payments an hour and a 1000 ceiling by default; the environment, then executor.json; the handbook only lowers', async () => {
    const dir = await tempDir();
    const defaults = await loadExecutorConfig(base(dir));
    expect(ratePerHour(defaults, 'register_payment')).toBe(3);
    expect(defaults.paymentCeiling).toBe(1000);

    await writeFile(
      join(dir, 'executor.json'),
      JSON.stringify({ rate_per_hour: { register_payment: 2 }, payment_ceiling: 400 }),
    );
    const file = await loadExecutorConfig(base(dir));
    expect(ratePerHour(file, 'register_payment')).toBe(2);
    expect(file.paymentCeiling).toBe(400);
    const env = await loadExecutorConfig(
      base(dir, { FTE_PAYMENTS_PER_HOUR: '5', FTE_PAYMENT_CEILING: '250' }),
    );
    expect(ratePerHour(env, 'register_payment')).toBe(5);
    expect(env.paymentCeiling).toBe(250);
    await expect(loadExecutorConfig(base(dir, { FTE_PAYMENT_CEILING: 'lots' }))).rejects.toThrow(
      /FTE_PAYMENT_CEILING/,
    );

    const vault = await tempDir();
    await writeFile(join(vault, HANDBOOK_FILE), '## Limits\n- At most 1 payment per hour.\n');
    expect(
      ratePerHour(
        await loadExecutorConfig(base(dir, { FTE_PAYMENTS_PER_HOUR: '5' }), vault),
        'register_payment',
      ),
    ).toBe(1);
    await writeFile(join(vault, HANDBOOK_FILE), '## Limits\n- At most 9 payments per hour.\n');
    expect(
      ratePerHour(
        await loadExecutorConfig(base(dir, { FTE_PAYMENTS_PER_HOUR: '5' }), vault),
        'register_payment',
      ),
    ).toBe(5);
  });
});
