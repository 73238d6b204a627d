import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OdooClient, type OdooSettings } from '../../core/odoo/client.js';
import { type OdooWho, odooKeys, odooSettings, odooUsers } from '../odoo/keys.js';
import { type OdooTestServer, startOdooServer } from '../odoo/server.js';
import {
  type Clone,
  config,
  executive,
  frontmatterOf,
  localLedger,
  localState,
  onCleanup,
  testKey,
  type World,
  world,
} from './helpers.js';
import { approveWithOdoo, cloudAccountingApproval, postedVendorBill } from './odoo-world.js';

/**
 * register_payment checks Odoo's own state before paying (issue 13): a payment this machine made is
 * recognised by the marker in its memo even after the ledger is lost, a bill paid in Odoo meanwhile is
 * recorded done without a second payment, and a bill a person paid partly is refused when it owes less
 * than the approved amount. Against the test Odoo server over HTTP and a real git world.
 */

const KEYS = odooKeys();

async function odooServer(version: string): Promise<OdooTestServer> {
  const users = odooUsers(KEYS);
  const server = await startOdooServer({ version, users, today: () => '2026-03-15' });
  onCleanup(() => server.close());
  return server;
}

const settings = (server: OdooTestServer, who: OdooWho, o: Partial<OdooSettings> = {}) =>
  odooSettings(server, KEYS, who, { readRetries: 1, ...o });

const admin = (server: OdooTestServer) => OdooClient.connect(settings(server, 'admin'));

/** A posted vendor bill (entered and posted by a person with the admin key). */
const postedBill = async (server: OdooTestServer, partnerId: number, amount: number) =>
  postedVendorBill(await admin(server), partnerId, amount);

/** A person pays (part of) a bill in Odoo through the register-payment wizard. */
async function payInOdoo(server: OdooTestServer, billId: number, amount: number): Promise<void> {
  const odoo = await admin(server);
  const context = { active_model: 'account.move', active_ids: [billId] };
  const wizard = await odoo.create('account.payment.register', { amount }, { context });
  await odoo.call('account.payment.register', 'action_create_payments', [wizard], {}, { context });
}

const cloudApproval = (cloud: Clone, id: string, parameters: Record<string, unknown>) =>
  cloudAccountingApproval(cloud, id, 'register_payment', parameters);

async function approve(w: World, server: OdooTestServer, id: string): Promise<void> {
  await approveWithOdoo(w, settings(server, 'laptop'), [id]);
}

const parameters = (billId: number, partnerId: number, amount: number, partner = 'Hosting Ltd') => ({
  odoo_id: billId,
  partner,
  partner_id: partnerId,
  amount,
  currency: 'EUR',
});

const payments = async (server: OdooTestServer) =>
  (await admin(server)).searchRead<{ amount: number; memo: string | false }>(
    'account.payment',
    [],
    ['name', 'amount', 'memo'],
    { order: 'id asc' },
  );

const calls = (server: OdooTestServer, method: string) =>
  server.calls.filter((c) => c.method === method).length;

/** A world with a vendor, a posted bill, the cloud's approval pulled and approved by the owner. */
async function approvedPayment(
  version: string,
  id: string,
  billAmount: number,
  amount: number,
  /** The payee's name as the cloud wrote it in the approval (Odoo's is "Hosting Ltd"). */
  shownName = 'Hosting Ltd',
) {
  const w = await world();
  const server = await odooServer(version);
  const key = await testKey(w.keyFile);
  const partner = await (await admin(server)).create('res.partner', { name: 'Hosting Ltd' });
  const bill = await postedBill(server, partner, billAmount);
  await cloudApproval(w.cloud, id, parameters(bill, partner, amount, shownName));
  await executive(w, key, undefined).pass(); // pulls the approval
  await approve(w, server, id);
  return { w, server, key, bill };
}

describe.each([
  { protocol: 'json2', version: '19.0' },
  { protocol: 'jsonrpc', version: '17.0' },
] as const)(
  'register_payment checks Odoo before paying, over $protocol (Odoo $version)',
  ({ protocol, version }) => {
    const laptop = (server: OdooTestServer) =>
      config(undefined, { odoo: settings(server, 'laptop', { protocol }), paymentCeiling: 1000 });

    it('paid, then the ledger is deleted and the approval put back in Approved/: no second payment, Done with the reason', async () => {
      const { w, server, key } = await approvedPayment(version, 'BILL_PART', 100, 40);
      const approved = await readFile(join(w.local.dir, 'Approved/BILL_PART.md'), 'utf8');
      const first = await executive(w, key, undefined, { config: laptop(server) }).pass();
      expect(first.sent.map((s) => s.id)).toEqual(['BILL_PART']);
      const [paid] = await payments(server);
      expect(paid!.amount).toBe(40);
      // The memo ties the payment to this approval: the ledger key (action, task, approved content).
      expect(String(paid!.memo)).toMatch(/fte:register_payment:BILL_PART:[0-9a-f]{16}$/);
      expect(existsSync(join(w.local.dir, 'Done/BILL_PART.md'))).toBe(true);

      // The laptop loses its ledger; the approval comes back (a restored backup, a replayed file). The bill
      // still owes 60, more than the approved 40: only Odoo's memo can tell that it was paid.
      const ledgerPath = (await localState(w)).ledger;
      expect(existsSync(ledgerPath)).toBe(true);
      await rm(ledgerPath);
      await rm(join(w.local.dir, 'Done/BILL_PART.md'));
      await writeFile(join(w.local.dir, 'Approved/BILL_PART.md'), approved);
      await w.local.repo.commit('owner: the approval again', ['Approved/BILL_PART.md', 'Done/BILL_PART.md']);

      const again = await executive(w, key, undefined, { config: laptop(server) }).pass();
      expect(again.sent).toEqual([{ id: 'BILL_PART', messageId: paid!.name }]);
      expect(calls(server, 'action_create_payments')).toBe(1);
      expect((await payments(server)).map((p) => p.amount)).toEqual([40]);
      const done = await frontmatterOf(join(w.local.dir, 'Done/BILL_PART.md'));
      expect(done.status).toBe('executed');
      const outcome = (await (await localLedger(w)).records()).find((r) => r.kind === 'outcome');
      expect(outcome?.detail).toMatch(
        new RegExp(
          `already paid in Odoo by this approval \\(${paid!.name}, memo fte:register_payment:BILL_PART:[0-9a-f]{16}\\); not paid again`,
        ),
      );
    });

    it('a bill a person paid in full in Odoo meanwhile is recorded done without a second payment', async () => {
      const { w, server, key, bill } = await approvedPayment(version, 'BILL_FULL', 300, 300);
      await payInOdoo(server, bill, 300);
      expect(calls(server, 'action_create_payments')).toBe(1);

      const report = await executive(w, key, undefined, { config: laptop(server) }).pass();
      expect(report.sent.map((s) => s.id)).toEqual(['BILL_FULL']);
      expect(report.failed).toEqual([]);
      expect(calls(server, 'action_create_payments')).toBe(1);
      expect((await payments(server)).map((p) => p.amount)).toEqual([300]);
      expect(existsSync(join(w.local.dir, 'Done/BILL_FULL.md'))).toBe(true);
      const outcome = (await (await localLedger(w)).records()).find((r) => r.kind === 'outcome');
      expect(outcome?.detail).toMatch(
        /already paid in Odoo: vendor bill BILL\/2026\/\d+ is paid; not paid again/,
      );
    });

    it('a bill a person paid partly, now owing less than the approved amount, fails without paying', async () => {
      const { w, server, key, bill } = await approvedPayment(version, 'BILL_LESS', 100, 50);
      await payInOdoo(server, bill, 70);
      const report = await executive(w, key, undefined, { config: laptop(server) }).pass();
      expect(report.failed).toEqual([
        {
          id: 'BILL_LESS',
          reason: expect.stringMatching(
            /it owes 30\.00 EUR, less than the approved 50\.00 EUR; nothing was paid/,
          ),
        },
      ]);
      expect((await payments(server)).map((p) => p.amount)).toEqual([70]);
    });

    it('a payee shown under another name than Odoo has for that partner id is refused: nothing paid', async () => {
      const { w, server, key } = await approvedPayment(version, 'BILL_NAME', 100, 100, 'Trusted Supplies SA');
      const report = await executive(w, key, undefined, { config: laptop(server) }).pass();
      expect(report.failed).toEqual([
        {
          id: 'BILL_NAME',
          reason: expect.stringMatching(
            /its partner is Hosting Ltd \(\d+\), not Trusted Supplies SA \(\d+\) as approved; nothing was paid/,
          ),
        },
      ]);
      expect(calls(server, 'action_create_payments')).toBe(0);
      expect(await payments(server)).toEqual([]);
    });

    it('a bill a person paid partly, still owing the approved amount, is paid (once)', async () => {
      const { w, server, key, bill } = await approvedPayment(version, 'BILL_REST', 100, 60);
      await payInOdoo(server, bill, 40);
      const report = await executive(w, key, undefined, { config: laptop(server) }).pass();
      expect(report.sent.map((s) => s.id)).toEqual(['BILL_REST']);
      expect((await payments(server)).map((p) => p.amount)).toEqual([40, 60]);
      const [move] = await (await admin(server)).read('account.move', [bill], ['payment_state']);
      expect(move!.payment_state).toBe('paid');
    });
  },
);
