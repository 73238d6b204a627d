import { z } from 'zod';
import type { OdooClient } from '../../core/odoo/client.js';
import type { Approval } from '../signature.js';
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
import { type ActionExecutor, ActionFailure, type Performed, type Prepared } from './types.js';

/**
 * `post_invoice`: posts a customer invoice the cloud drafted in Odoo (with its draft-only key), after the
 * owner approved exactly its partner, lines, total and currency. Odoo's own state is read first: an
 * invoice already posted (by this machine before its ledger was lost, or by a person) is recorded as done
 * and never posted twice; one that changed since the approval is refused.
 */

export const POST_INVOICE_PARAMETERS: ReadonlySet<string> = new Set([
  'odoo_id',
  'move_type',
  'partner',
  'partner_id',
  'invoice_lines',
  'amount_total',
  'currency',
]);

const Line = z.strictObject({
  name: text,
  quantity: z.number().finite(),
  price_unit: money,
});

const Parameters = z.object({
  odoo_id: z.number().int().positive(),
  move_type: z.literal('out_invoice'),
  partner: text,
  partner_id: z.number().int().positive(),
  invoice_lines: z.array(Line).min(1, 'an invoice needs at least one line'),
  amount_total: money,
  currency: text,
});
export type PostInvoice = z.infer<typeof Parameters>;

const MOVE_FIELDS = [
  'name',
  'state',
  'move_type',
  'partner_id',
  'currency_id',
  'amount_total',
  'invoice_line_ids',
];

export class PostInvoiceExecutor implements ActionExecutor<PostInvoice> {
  readonly action = 'post_invoice' as const;
  readonly auditType = 'invoice_post';
  readonly parameters = POST_INVOICE_PARAMETERS;

  constructor(private readonly odoo: OdooAccess) {}

  prepare(approval: Approval): Prepared<PostInvoice> {
    const p = odooParameters(this.action, this.parameters, Parameters, approval);
    const effect: Array<[string, string]> = [
      ['post invoice in Odoo', `account.move ${p.odoo_id} (customer invoice, ${p.move_type})`],
      ['partner', `${p.partner} (res.partner ${p.partner_id})`],
    ];
    p.invoice_lines.forEach((line, i) => {
      effect.push([
        `line ${i + 1}`,
        `${line.name}: ${line.quantity} × ${formatAmount(line.price_unit, p.currency)} = ${formatAmount(line.quantity * line.price_unit, p.currency)}`,
      ]);
    });
    effect.push(['total', formatAmount(p.amount_total, p.currency)]);
    effect.push(['effect', 'posts the invoice in Odoo: it gets its number and can no longer be edited']);
    const linesSum = p.invoice_lines.reduce((s, l) => s + l.quantity * l.price_unit, 0);
    const notes = sameAmount(linesSum, p.amount_total)
      ? []
      : [
          `the lines add up to ${formatAmount(linesSum, p.currency)}, the total is ${formatAmount(p.amount_total, p.currency)} (taxes?); Odoo's total must equal the approved total`,
        ];
    return {
      payload: p,
      target: `${p.partner} (res.partner/${p.partner_id})`,
      effect,
      audit: {
        odoo_id: p.odoo_id,
        partner_id: p.partner_id,
        amount_total: p.amount_total,
        currency: p.currency,
        lines: p.invoice_lines.length,
      },
      counterparty: `res.partner/${p.partner_id}`,
      notes,
    };
  }

  unavailable(): string | undefined {
    return odooUnavailable(this.odoo);
  }

  async perform(prepared: Prepared<PostInvoice>): Promise<Performed> {
    const p = prepared.payload;
    const client = await connectOdoo(this.odoo);
    let state: string;
    try {
      state = await this.check(client, p);
    } catch (error) {
      throw beforeWrite(error);
    }
    if (state === 'posted') {
      const name = await this.nameOf(client, p.odoo_id);
      return {
        detail: `already posted in Odoo as ${name ?? `account.move ${p.odoo_id}`}; not posted again`,
        audit: { odoo_id: p.odoo_id, name: name ?? null, already_posted: true },
        effectId: name ?? `account.move/${p.odoo_id}`,
      };
    }
    try {
      await client.call('account.move', 'action_post', [p.odoo_id]);
    } catch (error) {
      throw duringWrite(error);
    }
    // Posted: whatever happens now, it happened. The number is read back for Done/ (a read, retried).
    const name = await this.nameOf(client, p.odoo_id);
    return {
      detail: `posted in Odoo as ${name ?? `account.move ${p.odoo_id}`}`,
      audit: { odoo_id: p.odoo_id, name: name ?? null, protocol: client.protocol },
      effectId: name ?? `account.move/${p.odoo_id}`,
    };
  }

  /** Reads the invoice and compares it with what was approved; its state (`draft` or `posted`). */
  private async check(client: OdooClient, p: PostInvoice): Promise<string> {
    const changed = (what: string) =>
      new ActionFailure(
        `invoice account.move ${p.odoo_id} changed in Odoo since you approved it (${what}); nothing was posted — ask for a new approval`,
        'failed',
      );
    const [move] = await client.read('account.move', [p.odoo_id], MOVE_FIELDS);
    if (!move) {
      throw new ActionFailure(
        `invoice account.move ${p.odoo_id} does not exist in Odoo (any more)`,
        'failed',
      );
    }
    const state = String(move.state);
    if (state !== 'draft' && state !== 'posted') {
      throw new ActionFailure(
        `invoice account.move ${p.odoo_id} is ${state} in Odoo, not a draft; nothing was posted`,
        'failed',
      );
    }
    if (move.move_type !== p.move_type)
      throw changed(`its type is ${String(move.move_type)}, not ${p.move_type}`);
    const partner = many2one(move.partner_id);
    if (partner?.id !== p.partner_id) {
      throw changed(
        `its partner is ${partner ? `${partner.name} (${partner.id})` : 'empty'}, not ${p.partner} (${p.partner_id})`,
      );
    }
    const currency = many2one(move.currency_id);
    if (currency && currency.name !== p.currency)
      throw changed(`its currency is ${currency.name}, not ${p.currency}`);
    if (!sameAmount(Number(move.amount_total), p.amount_total)) {
      throw changed(
        `its total is ${formatAmount(Number(move.amount_total), p.currency)}, not ${formatAmount(p.amount_total, p.currency)}`,
      );
    }
    const lineIds = Array.isArray(move.invoice_line_ids) ? (move.invoice_line_ids as number[]) : [];
    const lines = lineIds.length
      ? await client.read('account.move.line', lineIds, ['name', 'quantity', 'price_unit'])
      : [];
    lines.sort((a, b) => a.id - b.id);
    if (lines.length !== p.invoice_lines.length) {
      throw changed(`it has ${lines.length} lines, not ${p.invoice_lines.length}`);
    }
    p.invoice_lines.forEach((want, i) => {
      const got = lines[i]!;
      if (
        String(got.name ?? '').trim() !== want.name ||
        !sameAmount(Number(got.quantity), want.quantity) ||
        !sameAmount(Number(got.price_unit), want.price_unit)
      ) {
        throw changed(
          `line ${i + 1} is "${String(got.name)}" ${Number(got.quantity)} × ${Number(got.price_unit)}, not "${want.name}" ${want.quantity} × ${want.price_unit}`,
        );
      }
    });
    return state;
  }

  private async nameOf(client: OdooClient, id: number): Promise<string | undefined> {
    try {
      const [move] = await client.read('account.move', [id], ['name']);
      return typeof move?.name === 'string' && move.name !== '/' ? move.name : undefined;
    } catch {
      return undefined;
    }
  }

  classify(error: unknown): 'not_sent' | 'failed' | 'uncertain' {
    return classifyOdoo(error);
  }
}
