import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OdooClient, type OdooSettings } from '../../core/odoo/client.js';
import { idempotencyKey } from '../../executor/actions/at-most-once.js';
import {
  NEW_PAYEE,
  paymentMarker,
  REGISTER_PAYMENT_PARAMETERS,
  RegisterPaymentExecutor,
} from '../../executor/actions/register-payment.js';
import { ActionFailure, InvalidActionError } from '../../executor/actions/types.js';
import { Ledger } from '../../executor/ledger.js';
import { ODOO_SETTINGS_HINT } from '../../executor/odoo-config.js';
import { odooKeys, odooSettings, odooUsers } from '../odoo/keys.js';
import { type OdooTestServer, startOdooServer } from '../odoo/server.js';
import { actionFailure } from './action-helpers.js';
import { accountingApproval, odoo17Fetch, postedVendorBill, rewriteAnswers } from './odoo-world.js';

/**
 * register_payment's executor in-process (executor/actions/register-payment.ts) against the test Odoo
 * server over HTTP: what the owner is shown (amount, payee, NEW PAYEE from this machine's ledger), the
 * limits, the checks of the bill before paying, Odoo's own record of an earlier payment (the memo marker),
 * and what each failure means for at-most-once.
 */

const KEYS = odooKeys();
let server: OdooTestServer;
let server17: OdooTestServer;

beforeAll(async () => {
  server = await startOdooServer({ users: odooUsers(KEYS), today: () => '2026-03-15' });
  server17 = await startOdooServer({ version: '17.0', users: odooUsers(KEYS), today: () => '2026-03-15' });
});
afterAll(async () => {
  await server?.close();
  await server17?.close();
});

const laptop = (o: Partial<OdooSettings> = {}, s = server) =>
  odooSettings(s, KEYS, 'laptop', { readRetries: 0, timeoutMs: 3_000, ...o });
const admin = (s = server) => OdooClient.connect(odooSettings(s, KEYS, 'admin'));

/** A vendor and a bill of `amount` it sent, posted by a person; the bill's number. */
async function vendorBill(amount: number, o: { name?: string; s?: OdooTestServer; currency?: number } = {}) {
  const odoo = await admin(o.s);
  const partnerId = await odoo.create('res.partner', { name: o.name ?? 'Hosting Ltd' });
  let billId: number;
  if (o.currency === undefined) {
    billId = await postedVendorBill(odoo, partnerId, amount);
  } else {
    billId = await odoo.create('account.move', {
      move_type: 'in_invoice',
      partner_id: partnerId,
      currency_id: o.currency,
      invoice_line_ids: [[0, 0, { name: 'Hosting', quantity: 1, price_unit: amount }]],
    });
    await odoo.call('account.move', 'action_post', [billId]);
  }
  const [bill] = await odoo.read('account.move', [billId], ['name']);
  return { billId, partnerId, billName: String(bill!.name) };
}

let tasks = 0;
const pay = (billId: number, partnerId: number, amount: number, extra: Record<string, unknown> = {}) =>
  accountingApproval('register_payment', `PAY_${++tasks}`, {
    odoo_id: billId,
    partner: 'Hosting Ltd',
    partner_id: partnerId,
    amount,
    currency: 'EUR',
    ...extra,
  });

const executor = (
  o: { ceiling?: number; settings?: OdooSettings; ledger?: Ledger; fetch?: typeof fetch } = {},
) =>
  new RegisterPaymentExecutor({
    settings: 'settings' in o ? o.settings : laptop(),
    clientOptions: o.fetch ? { fetch: o.fetch } : undefined,
    ceiling: o.ceiling ?? 1000,
    ledger: () => o.ledger,
  });

const payments = async (s = server, partnerId?: number) =>
  (await admin(s)).searchRead<{ amount: number; memo: string | false; state: string; name: string }>(
    'account.payment',
    partnerId === undefined ? [] : [['partner_id', '=', partnerId]],
    ['name', 'amount', 'memo', 'state'],
    { order: 'id asc' },
  );

const calls = (method: string, s = server) => s.calls.filter((c) => c.method === method).length;

async function ledgerWithPaymentTo(partnerId: number, outcome: 'sent' | 'failed' = 'sent'): Promise<Ledger> {
  const ledger = new Ledger(join(await mkdtemp(join(tmpdir(), 'fte-pay-')), 'ledger.jsonl'));
  const base = {
    ts: '2026-03-01T08:00:00.000Z',
    key: 'register_payment:OLD:0',
    task: 'OLD',
    action: 'register_payment',
  };
  await ledger.appendMany([
    { ...base, kind: 'intent', counterparty: `res.partner/${partnerId}` },
    { ...base, kind: 'outcome', outcome, counterparty: `res.partner/${partnerId}` },
  ]);
  return ledger;
}

describe('register_payment: what the owner is shown', () => {
  it('names the action, its audit type and the parameters it understands', () => {
    const ex = executor();
    expect(ex.action).toBe('register_payment');
    expect(ex.auditType).toBe('payment_register');
    expect(ex.parameters).toBe(REGISTER_PAYMENT_PARAMETERS);
    expect([...REGISTER_PAYMENT_PARAMETERS].sort()).toEqual([
      'amount',
      'currency',
      'new_payee',
      'odoo_id',
      'partner',
      'partner_id',
    ]);
  });

  it('the bill, the amount, the payee, NEW PAYEE for a partner never paid from here, and the effect', () => {
    const approval = pay(41, 7, 250.5);
    const prepared = executor().prepare(approval);
    expect(prepared.effect).toEqual([
      ['pay vendor bill in Odoo', 'account.move 41 (a posted vendor bill)'],
      ['amount', '250.50 EUR'],
      ['payee', 'Hosting Ltd (res.partner 7)'],
      ['warning', NEW_PAYEE],
      [
        'effect',
        "registers a payment of 250.50 EUR to Hosting Ltd in Odoo (the register-payment wizard): money leaves the company's bank journal",
      ],
    ]);
    expect(NEW_PAYEE).toBe('NEW PAYEE: no earlier payment to this partner from this machine');
    expect(prepared.payload).toEqual({
      odoo_id: 41,
      partner: 'Hosting Ltd',
      partner_id: 7,
      amount: 250.5,
      currency: 'EUR',
      marker: `fte:${idempotencyKey(approval)}`,
    });
    expect(paymentMarker(approval)).toMatch(/^fte:register_payment:PAY_\d+:[0-9a-f]{16}$/);
    expect(prepared.target).toBe('Hosting Ltd (res.partner/7)');
    expect(prepared.counterparty).toBe('res.partner/7');
    expect(prepared.audit).toEqual({
      odoo_id: 41,
      partner_id: 7,
      amount: 250.5,
      currency: 'EUR',
      new_payee: true,
    });
    expect(prepared.notes).toEqual([]);
    expect(prepared.effectId).toBeUndefined();
  });

  it("a partner this machine's ledger paid before is no new payee; one only tried, or another partner, still is", async () => {
    const paid = await ledgerWithPaymentTo(7);
    const known = executor({ ledger: paid }).prepare(pay(41, 7, 10));
    expect(known.effect.map(([label]) => label)).toEqual([
      'pay vendor bill in Odoo',
      'amount',
      'payee',
      'effect',
    ]);
    expect(known.audit.new_payee).toBe(false);
    expect(executor({ ledger: paid }).prepare(pay(41, 8, 10)).effect).toContainEqual(['warning', NEW_PAYEE]);
    const noLedger = new RegisterPaymentExecutor({ settings: laptop(), ceiling: 1000 });
    expect(noLedger.prepare(pay(41, 7, 10)).effect).toContainEqual(['warning', NEW_PAYEE]);
    const failedOnly = await ledgerWithPaymentTo(7, 'failed');
    expect(executor({ ledger: failedOnly }).prepare(pay(41, 7, 10)).effect).toContainEqual([
      'warning',
      NEW_PAYEE,
    ]);
  });

  it("the cloud's new_payee hint is shown only where it disagrees with this machine's record", async () => {
    const paid = await ledgerWithPaymentTo(7);
    const hint = (prepared: { effect: Array<[string, string]> }) =>
      prepared.effect.filter(([label]) => label === 'cloud hint').map(([, v]) => v);
    expect(hint(executor().prepare(pay(41, 7, 10, { new_payee: false })))).toEqual([
      "the cloud said new_payee: false; this machine's own record says new (the machine's record decides)",
    ]);
    expect(hint(executor({ ledger: paid }).prepare(pay(41, 7, 10, { new_payee: true })))).toEqual([
      "the cloud said new_payee: true; this machine's own record says paid before (the machine's record decides)",
    ]);
    expect(hint(executor().prepare(pay(41, 7, 10, { new_payee: true })))).toEqual([]);
    expect(hint(executor({ ledger: paid }).prepare(pay(41, 7, 10, { new_payee: false })))).toEqual([]);
    expect(executor({ ledger: paid }).prepare(pay(41, 7, 10, { new_payee: true })).audit.new_payee).toBe(
      false,
    );
  });

  it("an amount above this machine's ceiling cannot be approved; the ceiling itself can", () => {
    const error = (() => {
      try {
        executor({ ceiling: 500 }).prepare(pay(41, 7, 500.01));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidActionError);
    expect((error as Error).message).toBe(
      "register_payment: 500.01 EUR is above this machine's per-payment ceiling of 500.00 EUR (FTE_PAYMENT_CEILING); it cannot be approved here",
    );
    expect(executor({ ceiling: 500 }).prepare(pay(41, 7, 500)).payload.amount).toBe(500);
  });

  it.each([
    [{ amount: 0 }, 'register_payment: amount: must be more than 0'],
    [{ amount: -5 }, 'register_payment: amount: must be more than 0'],
    [{ amount: 0.004 }, 'register_payment: amount: must be more than 0'],
    [{ amount: '100.00' }, /^register_payment: amount: /],
    [{ odoo_id: 0 }, /^register_payment: odoo_id: /],
    [{ odoo_id: 4.5 }, /^register_payment: odoo_id: /],
    [{ partner_id: -7 }, /^register_payment: partner_id: /],
    [{ partner: '   ' }, /^register_payment: partner: /],
    [{ currency: '' }, /^register_payment: currency: /],
    [{ new_payee: 'yes' }, /^register_payment: new_payee: /],
    [{ iban: 'BE00 0000' }, /^parameters register_payment does not show or understand: iban/],
  ])('refuses %o', (extra, reason) => {
    expect(() => executor().prepare(pay(41, 7, 10, extra))).toThrow(InvalidActionError);
    expect(() => executor().prepare(pay(41, 7, 10, extra))).toThrow(reason);
  });

  it('is unavailable without Odoo settings, with the hint', () => {
    expect(executor({ settings: undefined }).unavailable()).toBe(
      `no Odoo configured on this machine (${ODOO_SETTINGS_HINT})`,
    );
    expect(executor().unavailable()).toBeUndefined();
  });
});

describe('register_payment: paying', () => {
  it('pays the bill once through the wizard, with the bill number and the marker in the memo', async () => {
    const { billId, partnerId, billName } = await vendorBill(300);
    const ex = executor();
    const prepared = ex.prepare(pay(billId, partnerId, 120));
    const performed = await ex.perform(prepared);
    const [payment] = await payments(server, partnerId);
    expect(payment).toMatchObject({ amount: 120, memo: `${billName} ${prepared.payload.marker}` });
    expect(performed).toEqual({
      detail: `paid 120.00 EUR to Hosting Ltd in Odoo (${payment!.name})`,
      audit: { odoo_id: billId, payment_id: payment!.id, name: payment!.name, protocol: 'json2' },
      effectId: payment!.name,
    });
    expect(payment!.name).toMatch(/^PBNK1\/2026\/\d{5}$/);

    // The ledger is lost and the approval comes back: Odoo's memo says it was paid.
    const before = calls('action_create_payments');
    const again = await executor().perform(prepared);
    expect(again).toEqual({
      detail: `already paid in Odoo by this approval (${payment!.name}, memo ${prepared.payload.marker}); not paid again`,
      audit: {
        odoo_id: billId,
        payment_id: payment!.id,
        name: payment!.name,
        already_paid: true,
        protocol: 'json2',
      },
      effectId: payment!.name,
    });
    expect(calls('action_create_payments')).toBe(before);
    expect(await payments(server, partnerId)).toHaveLength(1);
  });

  it('on Odoo 17 (the memo is called ref) the marker is found in ref', async () => {
    const { billId, partnerId, billName } = await vendorBill(300, { s: server17 });
    const settings = laptop({ protocol: 'jsonrpc' }, server17);
    const ex = executor({ settings, fetch: odoo17Fetch() });
    const prepared = ex.prepare(pay(billId, partnerId, 100));
    // A payment with the marker that was cancelled (Odoo 17's state `cancel`) is no earlier payment.
    const odoo = await admin(server17);
    const canceled = await odoo.create('account.payment', {
      payment_type: 'outbound',
      partner_id: partnerId,
      amount: 1,
      memo: prepared.payload.marker,
    });
    await odoo.write('account.payment', [canceled], { state: 'canceled' });
    const performed = await ex.perform(prepared);
    const [, payment] = await payments(server17, partnerId);
    expect(payment!.memo).toBe(`${billName} ${prepared.payload.marker}`);
    expect(performed.audit).toMatchObject({ protocol: 'jsonrpc', name: payment!.name });
    const again = await ex.perform(prepared);
    expect(again.detail).toBe(
      `already paid in Odoo by this approval (${payment!.name}, memo ${prepared.payload.marker}); not paid again`,
    );
    expect(await payments(server17, partnerId)).toHaveLength(2);
  });

  it('a payment with the marker that is draft or canceled, or a memo only ilike-similar, is no earlier payment', async () => {
    const { billId, partnerId } = await vendorBill(300);
    const ex = executor();
    const prepared = ex.prepare(pay(billId, partnerId, 50));
    const marker = prepared.payload.marker;
    const odoo = await admin();
    const payment = (memo: string) =>
      odoo.create('account.payment', { payment_type: 'outbound', partner_id: partnerId, amount: 1, memo });
    await payment(`draft ${marker}`);
    const canceled = await payment(`canceled ${marker}`);
    await odoo.write('account.payment', [canceled], { state: 'canceled' });
    // `_` is a wildcard of ilike: "register-payment" matches the marker's "register_payment" there.
    const similar = await payment(`posted ${marker.replace('register_payment', 'register-payment')}`);
    await odoo.call('account.payment', 'action_post', [similar]);
    expect((await payments(server, partnerId)).map((p) => p.state)).toEqual([
      'draft',
      'canceled',
      'in_process',
    ]);

    const performed = await ex.perform(prepared);
    expect(performed.detail).toMatch(/^paid 50\.00 EUR to Hosting Ltd in Odoo \(PBNK1\/2026\/\d{5}\)$/);
    expect((await payments(server, partnerId)).map((p) => p.amount)).toEqual([1, 1, 1, 50]);
  });

  it('payments a person posted with the marker in their memo count as this approval paid, all named', async () => {
    const { billId, partnerId } = await vendorBill(300);
    const ex = executor();
    const prepared = ex.prepare(pay(billId, partnerId, 70));
    const odoo = await admin();
    const posted = async (memo: string) => {
      const id = await odoo.create('account.payment', {
        payment_type: 'outbound',
        partner_id: partnerId,
        amount: 35,
        memo,
      });
      await odoo.call('account.payment', 'action_post', [id]);
      const [{ name } = { name: '' }] = await odoo.read('account.payment', [id], ['name']);
      return { id, name: String(name) };
    };
    const first = await posted(`by hand ${prepared.payload.marker}`);
    const second = await posted(`rest ${prepared.payload.marker}`);
    const performed = await ex.perform(prepared);
    expect(performed.detail).toBe(
      `already paid in Odoo by this approval (${first.name}, ${second.name}, memo ${prepared.payload.marker}); not paid again`,
    );
    expect(performed.audit).toMatchObject({ payment_id: first.id, name: first.name, already_paid: true });
    expect(performed.effectId).toBe(first.name);
  });

  it("listed in Odoo's default order (newest first), the marked payments are still named oldest first", async () => {
    const { billId, partnerId } = await vendorBill(300);
    const prepared = executor().prepare(pay(billId, partnerId, 70));
    const odoo = await admin();
    const names: string[] = [];
    const ids: number[] = [];
    for (const memo of [`a ${prepared.payload.marker}`, `b ${prepared.payload.marker}`]) {
      const id = await odoo.create('account.payment', {
        payment_type: 'outbound',
        partner_id: partnerId,
        amount: 35,
        memo,
      });
      await odoo.call('account.payment', 'action_post', [id]);
      const [row] = await odoo.read('account.payment', [id], ['name']);
      ids.push(id);
      names.push(String(row!.name));
    }
    // Odoo orders account.payment by "date desc, name desc" unless told otherwise.
    const newestFirst = rewriteAnswers((call, result) =>
      call.model === 'account.payment' &&
      call.method === 'search_read' &&
      !call.kwargs.order &&
      Array.isArray(result)
        ? [...result].reverse()
        : result,
    );
    const performed = await executor({ fetch: newestFirst }).perform(prepared);
    expect(performed.detail).toBe(
      `already paid in Odoo by this approval (${names[0]}, ${names[1]}, memo ${prepared.payload.marker}); not paid again`,
    );
    expect(performed.audit).toMatchObject({ payment_id: ids[0], name: names[0] });
  });

  it('a payment with the marker that Odoo 18 shows rejected is no earlier payment', async () => {
    const { billId, partnerId } = await vendorBill(300);
    const prepared = executor().prepare(pay(billId, partnerId, 20));
    const odoo = await admin();
    const rejected = await odoo.create('account.payment', {
      payment_type: 'outbound',
      partner_id: partnerId,
      amount: 20,
      memo: prepared.payload.marker,
    });
    await odoo.write('account.payment', [rejected], { state: 'canceled' });
    // The test server has no `rejected` state: Odoo 18's rejected payment, shown through the hook.
    const asRejected = rewriteAnswers((call, result) =>
      call.model === 'account.payment' && call.method === 'search_read' && Array.isArray(result)
        ? result.map((r: Record<string, unknown>) =>
            r.state === 'canceled' ? { ...r, state: 'rejected' } : r,
          )
        : result,
    );
    const performed = await executor({ fetch: asRejected }).perform(prepared);
    expect(performed.detail).toMatch(/^paid 20\.00 EUR to Hosting Ltd in Odoo \(PBNK1\//);
  });

  it('a bill Odoo shows in_payment (paid, not yet reconciled with the bank) is recorded done, not paid again', async () => {
    const { billId, partnerId, billName } = await vendorBill(45);
    const odoo = await admin();
    const context = { active_model: 'account.move', active_ids: [billId] };
    const wizard = await odoo.create('account.payment.register', { amount: 45 }, { context });
    await odoo.call('account.payment.register', 'action_create_payments', [wizard], {}, { context });
    const inPayment = rewriteAnswers((call, result) =>
      call.model === 'account.move' && call.method === 'read' && Array.isArray(result)
        ? result.map((r: Record<string, unknown>) =>
            r.payment_state === 'paid' ? { ...r, payment_state: 'in_payment' } : r,
          )
        : result,
    );
    const before = calls('action_create_payments');
    const performed = await executor({ fetch: inPayment }).perform(
      executor().prepare(pay(billId, partnerId, 45)),
    );
    expect(performed.detail).toBe(
      `already paid in Odoo: vendor bill ${billName} is in_payment; not paid again`,
    );
    expect(calls('action_create_payments')).toBe(before);
  });

  it('a customer invoice paid in full is still no vendor bill: refused, not recorded paid', async () => {
    const odoo = await admin();
    const partnerId = await odoo.create('res.partner', { name: 'Hosting Ltd' });
    const invoice = await odoo.create('account.move', {
      move_type: 'out_invoice',
      partner_id: partnerId,
      invoice_line_ids: [[0, 0, { name: 'Work', quantity: 1, price_unit: 60 }]],
    });
    await odoo.call('account.move', 'action_post', [invoice]);
    const context = { active_model: 'account.move', active_ids: [invoice] };
    const wizard = await odoo.create('account.payment.register', { amount: 60 }, { context });
    await odoo.call('account.payment.register', 'action_create_payments', [wizard], {}, { context });
    expect(await actionFailure(executor().perform(executor().prepare(pay(invoice, partnerId, 60))))).toEqual({
      message: `vendor bill account.move ${invoice}: it is a out_invoice, not a vendor bill; nothing was paid`,
      meaning: 'failed',
    });
  });

  it('a bill a person paid in full meanwhile is recorded done without a second payment', async () => {
    const { billId, partnerId, billName } = await vendorBill(80);
    const odoo = await admin();
    const context = { active_model: 'account.move', active_ids: [billId] };
    const wizard = await odoo.create('account.payment.register', { amount: 80 }, { context });
    await odoo.call('account.payment.register', 'action_create_payments', [wizard], {}, { context });
    const before = calls('action_create_payments');
    const performed = await executor().perform(executor().prepare(pay(billId, partnerId, 80)));
    expect(performed).toEqual({
      detail: `already paid in Odoo: vendor bill ${billName} is paid; not paid again`,
      audit: { odoo_id: billId, payment_id: null, name: null, already_paid: true, protocol: 'json2' },
      effectId: `account.move/${billId}/paid`,
    });
    expect(calls('action_create_payments')).toBe(before);
  });

  it('pays exactly what the bill still owes; refuses more, nothing paid', async () => {
    const { billId, partnerId } = await vendorBill(90);
    const refused = await actionFailure(
      executor().perform(executor().prepare(pay(billId, partnerId, 90.01))),
    );
    expect(refused).toEqual({
      message: `vendor bill account.move ${billId}: it owes 90.00 EUR, less than the approved 90.01 EUR; nothing was paid`,
      meaning: 'failed',
    });
    expect(await payments(server, partnerId)).toEqual([]);
    // At exactly this machine's ceiling: paid.
    const performed = await executor({ ceiling: 90 }).perform(executor().prepare(pay(billId, partnerId, 90)));
    expect(performed.detail).toMatch(/^paid 90\.00 EUR to Hosting Ltd/);
  });

  it("the payee's id and name must be Odoo's for that bill (names compared trimmed)", async () => {
    const { billId, partnerId } = await vendorBill(100);
    const other = await (await admin()).create('res.partner', { name: 'Hosting Ltd' });
    expect(await actionFailure(executor().perform(executor().prepare(pay(billId, other, 10))))).toEqual({
      message: `vendor bill account.move ${billId}: its partner is Hosting Ltd (${partnerId}), not Hosting Ltd (${other}) as approved; nothing was paid`,
      meaning: 'failed',
    });
    expect(
      await actionFailure(
        executor().perform(executor().prepare(pay(billId, partnerId, 10, { partner: 'Hosting Limited' }))),
      ),
    ).toEqual({
      message: `vendor bill account.move ${billId}: its partner is Hosting Ltd (${partnerId}), not Hosting Limited (${partnerId}) as approved; nothing was paid`,
      meaning: 'failed',
    });
    expect(await payments(server, partnerId)).toEqual([]);
    const spaced = await vendorBill(100, { name: '  Hosting Ltd ' });
    const paid = await executor().perform(executor().prepare(pay(spaced.billId, spaced.partnerId, 10)));
    expect(paid.detail).toMatch(/^paid 10\.00 EUR to Hosting Ltd/);
  });

  it('refuses a bill in another currency, a customer invoice and a draft bill: failed, nothing paid', async () => {
    const usd = await vendorBill(100, { currency: 2 });
    expect(
      await actionFailure(executor().perform(executor().prepare(pay(usd.billId, usd.partnerId, 10)))),
    ).toEqual({
      message: `vendor bill account.move ${usd.billId}: its currency is USD, not EUR; nothing was paid`,
      meaning: 'failed',
    });
    const paidUsd = await executor().perform(
      executor().prepare(pay(usd.billId, usd.partnerId, 10, { currency: 'USD' })),
    );
    expect(paidUsd.detail).toMatch(/^paid 10\.00 USD to Hosting Ltd/);

    const odoo = await admin();
    const partnerId = await odoo.create('res.partner', { name: 'Hosting Ltd' });
    const invoice = await odoo.create('account.move', {
      move_type: 'out_invoice',
      partner_id: partnerId,
      invoice_line_ids: [[0, 0, { name: 'Work', quantity: 1, price_unit: 100 }]],
    });
    await odoo.call('account.move', 'action_post', [invoice]);
    expect(await actionFailure(executor().perform(executor().prepare(pay(invoice, partnerId, 10))))).toEqual({
      message: `vendor bill account.move ${invoice}: it is a out_invoice, not a vendor bill; nothing was paid`,
      meaning: 'failed',
    });
    const draft = await odoo.create('account.move', {
      move_type: 'in_invoice',
      partner_id: partnerId,
      invoice_line_ids: [[0, 0, { name: 'Hosting', quantity: 1, price_unit: 100 }]],
    });
    expect(await actionFailure(executor().perform(executor().prepare(pay(draft, partnerId, 10))))).toEqual({
      message: `vendor bill account.move ${draft}: it is draft, not posted; nothing was paid`,
      meaning: 'failed',
    });
    expect(await payments(server, partnerId)).toEqual([]);
  });

  it("a bill Odoo does not have: Odoo's MissingError, failed", async () => {
    const refused = await actionFailure(executor().perform(executor().prepare(pay(999_999, 7, 10))));
    expect(refused.meaning).toBe('failed');
    expect(refused.message).toMatch(/^Odoo account\.move\.read: Record does not exist or has been deleted/);
  });

  it("above this machine's ceiling at execution: failed before Odoo is asked anything", async () => {
    const prepared = executor({ ceiling: 1000 }).prepare(pay(41, 7, 800));
    const seen = server.calls.length;
    expect(await actionFailure(executor({ ceiling: 500 }).perform(prepared))).toEqual({
      message: "800.00 EUR is above this machine's per-payment ceiling of 500.00 EUR; nothing was paid",
      meaning: 'failed',
    });
    expect(server.calls.length).toBe(seen);
    expect(await actionFailure(executor({ ceiling: 799.99 }).perform(prepared))).toMatchObject({
      meaning: 'failed',
    });
  });

  it('without Odoo settings: not_sent', async () => {
    const prepared = executor().prepare(pay(41, 7, 10));
    expect(await actionFailure(executor({ settings: undefined }).perform(prepared))).toEqual({
      message: `no Odoo configured (${ODOO_SETTINGS_HINT})`,
      meaning: 'not_sent',
    });
  });
});

describe('register_payment: what a failure means', () => {
  it("the cloud's draft-only key: Odoo refuses the wizard (AccessError), failed with the hint, nothing paid", async () => {
    const { billId, partnerId } = await vendorBill(100);
    const ex = executor({ settings: odooSettings(server, KEYS, 'cloud', { readRetries: 0 }) });
    const refused = await actionFailure(ex.perform(ex.prepare(pay(billId, partnerId, 10))));
    expect(refused.meaning).toBe('failed');
    expect(refused.message).toMatch(/may not do this \(is it the cloud's draft-only key\?\)$/);
    expect(await payments(server, partnerId)).toEqual([]);
  });

  it('the wizard cannot be created (a 5xx): nothing was paid, not_sent', async () => {
    const { billId, partnerId } = await vendorBill(100);
    server.inject({ kind: 'html', model: 'account.payment.register', method: 'create' });
    const refused = await actionFailure(executor().perform(executor().prepare(pay(billId, partnerId, 10))));
    expect(refused.meaning).toBe('not_sent');
    expect(refused.message).toMatch(/^Odoo could not be read, nothing was changed: /);
    expect(await payments(server, partnerId)).toEqual([]);
  });

  it('Odoo reads fail before paying: not_sent', async () => {
    const { billId, partnerId } = await vendorBill(100);
    server.inject({ kind: 'status500', model: 'account.payment', method: 'fields_get' });
    const refused = await actionFailure(executor().perform(executor().prepare(pay(billId, partnerId, 10))));
    expect(refused.meaning).toBe('not_sent');
    expect(refused.message).toMatch(/^Odoo could not be read, nothing was changed: /);
  });

  it('no answer to the payment itself: uncertain (it may have been paid)', async () => {
    const { billId, partnerId } = await vendorBill(100);
    server.inject({ kind: 'hang_after', method: 'action_create_payments' });
    const ex = executor({ settings: laptop({ timeoutMs: 700 }) });
    const refused = await actionFailure(ex.perform(ex.prepare(pay(billId, partnerId, 10))));
    expect(refused.meaning).toBe('uncertain');
    expect(refused.message).toMatch(/no answer .* within 700 ms/);
    expect(await payments(server, partnerId)).toHaveLength(1);
  });

  it("an error page for the payment (a proxy's 502): uncertain", async () => {
    const { billId, partnerId } = await vendorBill(100);
    server.inject({ kind: 'html', method: 'action_create_payments' });
    const refused = await actionFailure(executor().perform(executor().prepare(pay(billId, partnerId, 10))));
    expect(refused.meaning).toBe('uncertain');
  });

  it("Odoo's own error answer to the payment (rolled back): not_sent", async () => {
    const { billId, partnerId } = await vendorBill(100);
    server.inject({ kind: 'status500', method: 'action_create_payments' });
    const refused = await actionFailure(executor().perform(executor().prepare(pay(billId, partnerId, 10))));
    expect(refused.meaning).toBe('not_sent');
    expect(refused.message).toMatch(/ \(not sent\)$/);
  });

  it.each([
    ['/', "a draft's name, no number yet"],
    [false, 'Odoo\'s "no value"'],
  ])(
    'records whose name Odoo gives as %j (%s) are named by their ids: the payment, the bill, the marked payments',
    async (unnamed) => {
      const { billId, partnerId } = await vendorBill(100);
      const unnumbered = rewriteAnswers((call, result) =>
        ['account.payment', 'account.move'].includes(call.model) &&
        ['read', 'search_read'].includes(call.method) &&
        Array.isArray(result)
          ? result.map((r: Record<string, unknown>) => ('name' in r ? { ...r, name: unnamed } : r))
          : result,
      );
      const prepared = executor().prepare(pay(billId, partnerId, 40));
      const paid = await executor({ fetch: unnumbered }).perform(prepared);
      const [payment] = await payments(server, partnerId);
      expect(payment!.memo).toBe(`account.move ${billId} ${prepared.payload.marker}`);
      expect(paid.detail).toBe(`paid 40.00 EUR to Hosting Ltd in Odoo (account.payment/${payment!.id})`);

      const again = await executor({ fetch: unnumbered }).perform(prepared);
      expect(again.detail).toBe(
        `already paid in Odoo by this approval (account.payment/${payment!.id}, memo ${prepared.payload.marker}); not paid again`,
      );
      expect(again.effectId).toBe(`account.payment/${payment!.id}`);

      const full = await vendorBill(30);
      const odoo = await admin();
      const context = { active_model: 'account.move', active_ids: [full.billId] };
      const wizard = await odoo.create('account.payment.register', { amount: 30 }, { context });
      await odoo.call('account.payment.register', 'action_create_payments', [wizard], {}, { context });
      const byPerson = await executor({ fetch: unnumbered }).perform(
        executor().prepare(pay(full.billId, full.partnerId, 30)),
      );
      expect(byPerson.detail).toBe(
        `already paid in Odoo: vendor bill account.move ${full.billId} is paid; not paid again`,
      );
    },
  );

  it("the payment's number cannot be read back: paid all the same, named by its id", async () => {
    const { billId, partnerId } = await vendorBill(100);
    server.inject({ kind: 'status500', model: 'account.payment', method: 'read' });
    const performed = await executor().perform(executor().prepare(pay(billId, partnerId, 10)));
    const [payment] = await payments(server, partnerId);
    expect(performed).toEqual({
      detail: `paid 10.00 EUR to Hosting Ltd in Odoo (account.payment/${payment!.id})`,
      audit: { odoo_id: billId, payment_id: payment!.id, name: null, protocol: 'json2' },
      effectId: `account.payment/${payment!.id}`,
    });
  });

  it('classify: the meaning of an ActionFailure, anything else uncertain', () => {
    expect(executor().classify(new ActionFailure('x', 'not_sent'))).toBe('not_sent');
    expect(executor().classify(new Error('x'))).toBe('uncertain');
  });
});
