import { z } from 'zod';
import type { OdooClient } from '../../core/odoo/client.js';
import { Ledger } from '../ledger.js';
import type { Approval } from '../signature.js';
import { idempotencyKey } from './at-most-once.js';
import {
  beforeWrite,
  classifyOdoo,
  connectOdoo,
  duringWrite,
  formatAmount,
  many2one,
  money,
  type OdooAccess,
  odooParameters,
  odooUnavailable,
  sameAmount,
  text,
} from './odoo-common.js';
import {
  type ActionExecutor,
  ActionFailure,
  InvalidActionError,
  type Performed,
  type Prepared,
} from './types.js';

/**
 * `register_payment`: pays a posted vendor bill through Odoo's register-payment wizard, after the owner
 * approved the amount and the payee. The laptop's own limits hold: a per-payment ceiling (an approval
 * above it cannot be signed, and is refused again at execution), the hourly limit (at-most-once's
 * per-action rate limit, default 3), and a payee this machine never paid before is flagged NEW PAYEE in
 * what the owner signs. Newness is decided from this machine's ledger only: the cloud's `new_payee` hint
 * is shown as a hint, never trusted. An uncertain payment is never retried by itself (at-most-once).
 *
 * Odoo's own state is checked before paying, so a lost ledger never pays twice: each payment carries
 * `fte:<ledger key>` (action, task, approved content) in its memo, and a posted payment with this
 * approval's marker means it was already paid by this machine (recorded done, not paid again); so does
 * a bill Odoo shows fully paid (by a person, or by this machine). A bill owing less than the approved
 * amount is refused.
 */

export const REGISTER_PAYMENT_PARAMETERS: ReadonlySet<string> = new Set([
  'odoo_id',
  'partner',
  'partner_id',
  'amount',
  'currency',
  'new_payee',
]);

const Parameters = z.object({
  odoo_id: z.number().int().positive(),
  partner: text,
  partner_id: z.number().int().positive(),
  amount: money.refine((v) => v > 0, 'must be more than 0'),
  currency: text,
  new_payee: z.boolean().optional(),
});
export type RegisterPayment = z.infer<typeof Parameters>;
/** The approved parameters and the marker its payment carries in Odoo. */
export type RegisterPaymentPayload = RegisterPayment & { marker: string };

/**
 * The text in the payment's memo that ties it to one approval: `fte:` and the ledger key (action, task
 * and the first 16 hex digits of the approved content's hash), the same for every copy of the approval.
 */
export const paymentMarker = (approval: Approval) => `fte:${idempotencyKey(approval)}`;

/** Payment states that mean money did not leave (Odoo 18+: draft, canceled, rejected; 17: draft, cancel). */
const NOT_PAID_STATES = new Set(['draft', 'canceled', 'cancel', 'rejected']);

export const NEW_PAYEE = 'NEW PAYEE: no earlier payment to this partner from this machine';

const counterpartyOf = (partnerId: number) => `res.partner/${partnerId}`;

export class RegisterPaymentExecutor implements ActionExecutor<RegisterPaymentPayload> {
  readonly action = 'register_payment' as const;
  readonly auditType = 'payment_register';
  readonly parameters = REGISTER_PAYMENT_PARAMETERS;

  constructor(
    private readonly o: OdooAccess & {
      /** The per-payment maximum (FTE_PAYMENT_CEILING, executor.json `payment_ceiling`). */
      ceiling: number;
      /** This machine's ledger, for the new-payee rule (undefined: every payee is new). */
      ledger?: () => Ledger | undefined;
    },
  ) {}

  /** True when this machine's ledger records a payment done to the partner. */
  private paidBefore(partnerId: number): boolean {
    const ledger = this.o.ledger?.();
    if (!ledger) return false;
    return Ledger.doneFor(ledger.recordsSync(), this.action, counterpartyOf(partnerId));
  }

  prepare(approval: Approval): Prepared<RegisterPaymentPayload> {
    const p = odooParameters(this.action, this.parameters, Parameters, approval);
    if (p.amount > this.o.ceiling) {
      throw new InvalidActionError(
        `register_payment: ${formatAmount(p.amount, p.currency)} is above this machine's per-payment ceiling of ${formatAmount(this.o.ceiling, p.currency)} (FTE_PAYMENT_CEILING); it cannot be approved here`,
      );
    }
    const newPayee = !this.paidBefore(p.partner_id);
    const effect: Array<[string, string]> = [
      ['pay vendor bill in Odoo', `account.move ${p.odoo_id} (a posted vendor bill)`],
      ['amount', formatAmount(p.amount, p.currency)],
      ['payee', `${p.partner} (res.partner ${p.partner_id})`],
    ];
    if (newPayee) effect.push(['warning', NEW_PAYEE]);
    if (p.new_payee !== undefined && p.new_payee !== newPayee) {
      effect.push([
        'cloud hint',
        `the cloud said new_payee: ${p.new_payee}; this machine's own record says ${newPayee ? 'new' : 'paid before'} (the machine's record decides)`,
      ]);
    }
    effect.push([
      'effect',
      `registers a payment of ${formatAmount(p.amount, p.currency)} to ${p.partner} in Odoo (the register-payment wizard): money leaves the company's bank journal`,
    ]);
    return {
      payload: { ...p, marker: paymentMarker(approval) },
      target: `${p.partner} (${counterpartyOf(p.partner_id)})`,
      effect,
      audit: {
        odoo_id: p.odoo_id,
        partner_id: p.partner_id,
        amount: p.amount,
        currency: p.currency,
        new_payee: newPayee,
      },
      counterparty: counterpartyOf(p.partner_id),
      notes: [],
    };
  }

  unavailable(): string | undefined {
    return odooUnavailable(this.o);
  }

  async perform(prepared: Prepared<RegisterPaymentPayload>): Promise<Performed> {
    const p = prepared.payload;
    if (p.amount > this.o.ceiling) {
      throw new ActionFailure(
        `${formatAmount(p.amount, p.currency)} is above this machine's per-payment ceiling of ${formatAmount(this.o.ceiling, p.currency)}; nothing was paid`,
        'failed',
      );
    }
    const client = await connectOdoo(this.o);
    const context = { active_model: 'account.move', active_ids: [p.odoo_id] };
    let wizard: number;
    try {
      const earlier = await this.paidInOdoo(client, p);
      if (earlier) return earlier;
      const billName = await this.check(client, p);
      // The wizard is a transient record: creating it pays nothing (a failure here is still "not done").
      wizard = await client.create(
        'account.payment.register',
        { amount: p.amount, communication: `${billName} ${p.marker}` },
        { context },
      );
    } catch (error) {
      throw beforeWrite(error);
    }
    let result: unknown;
    try {
      result = await client.call(
        'account.payment.register',
        'action_create_payments',
        [wizard],
        {},
        { context },
      );
    } catch (error) {
      throw duringWrite(error);
    }
    const paymentId =
      result && typeof result === 'object' && typeof (result as { res_id?: unknown }).res_id === 'number'
        ? (result as { res_id: number }).res_id
        : undefined;
    let name: string | undefined;
    if (paymentId !== undefined) {
      try {
        const [payment] = await client.read('account.payment', [paymentId], ['name']);
        if (typeof payment?.name === 'string' && payment.name !== '/') name = payment.name;
      } catch {
        // Paid: the number is only for Done/.
      }
    }
    const effectId =
      name ??
      (paymentId !== undefined ? `account.payment/${paymentId}` : `account.move/${p.odoo_id}/payment`);
    return {
      detail: `paid ${formatAmount(p.amount, p.currency)} to ${p.partner} in Odoo (${effectId})`,
      audit: {
        odoo_id: p.odoo_id,
        payment_id: paymentId ?? null,
        name: name ?? null,
        protocol: client.protocol,
      },
      effectId,
    };
  }

  /**
   * Done already, according to Odoo: a payment carrying this approval's marker (this machine paid it,
   * then lost its ledger), or the bill fully paid (by a person, or by this machine). Read before any write.
   */
  private async paidInOdoo(client: OdooClient, p: RegisterPaymentPayload): Promise<Performed | undefined> {
    // Odoo 18 renamed the payment's `ref` to `memo`: ask which one this server has.
    const fields = await client.fieldsGet('account.payment', ['type']);
    const memo = 'memo' in fields ? 'memo' : 'ref';
    // ilike treats `_` as a wildcard: the exact marker is checked here.
    const marked = (
      await client.searchRead('account.payment', [[memo, 'ilike', p.marker]], ['name', 'state', memo], {
        order: 'id asc',
      })
    ).filter(
      (payment) => String(payment[memo]).includes(p.marker) && !NOT_PAID_STATES.has(String(payment.state)),
    );
    if (marked.length > 0) {
      const names = marked.map((m) =>
        typeof m.name === 'string' && m.name !== '/' ? m.name : `account.payment/${m.id}`,
      );
      return {
        detail: `already paid in Odoo by this approval (${names.join(', ')}, memo ${p.marker}); not paid again`,
        audit: {
          odoo_id: p.odoo_id,
          payment_id: marked[0]!.id,
          name: names[0]!,
          already_paid: true,
          protocol: client.protocol,
        },
        effectId: names[0]!,
      };
    }
    const [bill] = await client.read('account.move', [p.odoo_id], ['name', 'move_type', 'payment_state']);
    if (
      bill?.move_type === 'in_invoice' &&
      (bill.payment_state === 'paid' || bill.payment_state === 'in_payment')
    ) {
      const name =
        typeof bill.name === 'string' && bill.name !== '/' ? bill.name : `account.move ${p.odoo_id}`;
      return {
        detail: `already paid in Odoo: vendor bill ${name} is ${String(bill.payment_state)}; not paid again`,
        audit: {
          odoo_id: p.odoo_id,
          payment_id: null,
          name: null,
          already_paid: true,
          protocol: client.protocol,
        },
        effectId: `account.move/${p.odoo_id}/paid`,
      };
    }
    return undefined;
  }

  /**
   * The bill must be a posted vendor bill of the approved partner and currency, owing at least the
   * amount; its name (for the payment's memo).
   */
  private async check(client: OdooClient, p: RegisterPayment): Promise<string> {
    const refuse = (why: string) =>
      new ActionFailure(`vendor bill account.move ${p.odoo_id}: ${why}; nothing was paid`, 'failed');
    const [bill] = await client.read(
      'account.move',
      [p.odoo_id],
      ['name', 'state', 'move_type', 'partner_id', 'currency_id', 'amount_residual', 'payment_state'],
    );
    if (!bill) throw refuse('it does not exist in Odoo (any more)');
    if (bill.move_type !== 'in_invoice') throw refuse(`it is a ${String(bill.move_type)}, not a vendor bill`);
    if (bill.state !== 'posted') throw refuse(`it is ${String(bill.state)}, not posted`);
    if (bill.payment_state === 'paid') throw refuse('it is already paid in Odoo');
    const partner = many2one(bill.partner_id);
    // The name is checked too: the owner approved a name, and an id alone could be anybody in Odoo.
    if (partner?.id !== p.partner_id || partner.name.trim() !== p.partner) {
      throw refuse(
        `its partner is ${partner ? `${partner.name} (${partner.id})` : 'empty'}, not ${p.partner} (${p.partner_id}) as approved`,
      );
    }
    const currency = many2one(bill.currency_id);
    if (currency && currency.name !== p.currency)
      throw refuse(`its currency is ${currency.name}, not ${p.currency}`);
    const residual = Number(bill.amount_residual);
    if (!(residual >= p.amount || sameAmount(residual, p.amount))) {
      throw refuse(
        `it owes ${formatAmount(residual, p.currency)}, less than the approved ${formatAmount(p.amount, p.currency)}`,
      );
    }
    return typeof bill.name === 'string' && bill.name !== '/' ? bill.name : `account.move ${p.odoo_id}`;
  }

  classify(error: unknown): 'not_sent' | 'failed' | 'uncertain' {
    return classifyOdoo(error);
  }
}
