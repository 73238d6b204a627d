import type { Decoded } from '../../core/codec.js';
import { ConfigError } from '../../core/config.js';
import {
  type Domain,
  type Many2one,
  OdooClient,
  OdooError,
  type OdooSettings,
} from '../../core/odoo/client.js';
import { replySubject, replyThread } from '../../core/reply.js';
import type { ItemFrontmatter } from '../../core/schemas.js';
import { DrafterError } from '../drafters/drafter.js';
import { oneLine } from '../drafters/template.js';
import type { ApprovalDraft, DomainHandler, HandlerInput, TriageOutcome } from './handler.js';

/**
 * Accounting (`Needs_Action/accounting/`), on the cloud with Odoo's draft-only key:
 *
 * - `type: invoice_request` (`partner`, optional `partner_email`, `lines: [{name, quantity, price_unit}]`,
 *   optional `currency`, optional `source_email`; or `lines_from: last_invoice` instead of `lines`, as the
 *   email hand-off writes it): finds the partner in Odoo (by email, else by exact name) or creates it,
 *   creates the customer invoice **as a draft**, reads it back and asks for `action: post_invoice` with
 *   the numbers Odoo computed. The draft carries `invoice_origin: fte:<task id>`, and every attempt
 *   searches for it first, so a retry or a restart after a crash never creates a second draft.
 * - `type: vendor_bill` (`odoo_id`, written by the bills watcher): a posted vendor bill that is due;
 *   asks for `action: register_payment` of what is left to pay, with a `new_payee` hint when the vendor
 *   was never paid before. A bill paid meanwhile needs nothing (triage: no reply).
 *
 * Odoo errors become drafter errors: access denied, validation and user errors are final (the item keeps
 * `status: error` with Odoo's message); a 500, an HTML page or a timeout is retried with backoff.
 */

export const INVOICE_REQUEST = 'invoice_request';
export const VENDOR_BILL = 'vendor_bill';
/** Written in the draft invoice's `invoice_origin` ("Source document"): how a retry finds it. */
export const ORIGIN_PREFIX = 'fte:';

export type InvoiceLine = { name: string; quantity: number; price_unit: number };

/** A client connected on first use; a failed connection is tried again next time. */
export type OdooConnector = () => Promise<OdooClient>;

export function lazyOdoo(settings: OdooSettings): OdooConnector {
  let pending: Promise<OdooClient> | undefined;
  return () => {
    pending ??= OdooClient.connect(settings).catch((error) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

const WHICH_LINES =
  'which lines? add `lines: [{name, quantity, price_unit}]` to the item, then set `status: pending` to retry';

/** The item's lines when they are all well formed; else the problem, one line. */
export function parseLines(raw: unknown): InvoiceLine[] | string {
  if (!Array.isArray(raw)) return 'lines: must be a list of {name, quantity, price_unit}';
  const lines: InvoiceLine[] = [];
  for (const [i, line] of raw.entries()) {
    const l = (line ?? {}) as Record<string, unknown>;
    const name = str(l.name);
    const quantity = l.quantity ?? 1;
    const price = l.price_unit;
    if (!name) return `lines[${i}].name: missing`;
    if (typeof quantity !== 'number' || !Number.isFinite(quantity) || quantity <= 0)
      return `lines[${i}].quantity: must be a number above 0`;
    if (typeof price !== 'number' || !Number.isFinite(price) || price < 0)
      return `lines[${i}].price_unit: must be a number, 0 or more`;
    lines.push({ name, quantity, price_unit: price });
  }
  return lines;
}

const m2oId = (v: unknown): number | undefined => (Array.isArray(v) ? (v[0] as number) : undefined);
const m2oName = (v: unknown): string => (Array.isArray(v) ? String(v[1]) : '');
const money = (n: number) => n.toFixed(2);

export type AccountingHandlerOptions = { connect: OdooConnector };

export class AccountingHandler implements DomainHandler {
  readonly domain = 'accounting';

  constructor(private readonly options: AccountingHandlerOptions) {}

  validate(item: Decoded<ItemFrontmatter>): string | undefined {
    const { data } = item;
    const type = data.type.toLowerCase();
    if (type === VENDOR_BILL) {
      const id = data.odoo_id;
      if (typeof id !== 'number' || !Number.isInteger(id) || id <= 0)
        return 'odoo_id: the vendor bill id in Odoo (a whole number) is missing';
      return undefined;
    }
    if (type !== INVOICE_REQUEST)
      return `type: expected "${INVOICE_REQUEST}" or "${VENDOR_BILL}" for an item in Needs_Action/accounting/ (got ${JSON.stringify(data.type)})`;
    if (!str(data.partner) && !str(data.partner_email))
      return 'partner: missing (the customer to invoice, by name; partner_email helps find them)';
    if (data.currency !== undefined && !/^[A-Z]{3}$/.test(String(data.currency)))
      return `currency: must be a three-letter code such as EUR (got ${JSON.stringify(data.currency)})`;
    if (data.lines === undefined || (Array.isArray(data.lines) && data.lines.length === 0)) {
      return data.lines_from === 'last_invoice' ? undefined : `lines: none given: ${WHICH_LINES}`;
    }
    const lines = parseLines(data.lines);
    return typeof lines === 'string' ? lines : undefined;
  }

  async triage(input: HandlerInput): Promise<TriageOutcome> {
    const { data } = input.item;
    const priority = data.priority ?? 'normal';
    if (data.type.toLowerCase() === VENDOR_BILL) {
      const bill = await this.odoo((odoo) => this.readBill(odoo, data.odoo_id as number, input.signal));
      if (bill.state !== 'posted' || !['not_paid', 'partial'].includes(String(bill.payment_state))) {
        const why = bill.state !== 'posted' ? `is ${bill.state}, not posted` : `is ${bill.payment_state}`;
        return {
          triage: {
            priority: 'low',
            needsReply: false,
            reason: `vendor bill ${bill.name} ${why}: nothing to pay`,
          },
          by: 'rules',
          usage: [],
        };
      }
      return {
        triage: {
          priority: priority === 'urgent' ? 'urgent' : 'high',
          needsReply: true,
          reason: `vendor bill ${bill.name} of ${m2oName(bill.partner_id)} is due ${bill.invoice_date_due}`,
        },
        by: 'rules',
        usage: [],
      };
    }
    const who = str(data.partner) ?? str(data.partner_email) ?? '?';
    const source = str(data.source_email) ? ` (asked for in email ${data.source_email})` : '';
    return {
      triage: { priority, needsReply: true, reason: `invoice request for ${oneLine(who, 80)}${source}` },
      by: 'rules',
      usage: [],
    };
  }

  async draft(input: HandlerInput): Promise<ApprovalDraft> {
    return this.odoo((odoo) =>
      input.item.data.type.toLowerCase() === VENDOR_BILL
        ? this.draftPayment(odoo, input)
        : this.draftInvoice(odoo, input),
    );
  }

  /** Runs `fn` with a client; Odoo and settings errors become drafter errors (retryable when transient). */
  private async odoo<T>(fn: (odoo: OdooClient) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.options.connect());
    } catch (error) {
      if (error instanceof OdooError) {
        const unknown = error.details.outcomeUnknown
          ? ' (a write may have happened: the next attempt looks first)'
          : '';
        throw new DrafterError(`${oneLine(error.message, 300)}${unknown}`, error.retryable);
      }
      if (error instanceof ConfigError) throw new DrafterError(`Odoo settings: ${error.message}`, false);
      throw error;
    }
  }

  // -- invoices --------------------------------------------------------------------------------------

  private async draftInvoice(odoo: OdooClient, input: HandlerInput): Promise<ApprovalDraft> {
    const { data } = input.item;
    const signal = input.signal;
    const origin = `${ORIGIN_PREFIX}${input.id}`;
    const [existing] = await odoo.searchRead(
      'account.move',
      [
        ['invoice_origin', '=', origin],
        ['move_type', '=', 'out_invoice'],
        ['state', '!=', 'cancel'],
      ],
      ['id'],
      { limit: 1, order: 'id asc', signal },
    );
    let moveId = existing?.id;
    let linesNote = '';
    if (moveId === undefined) {
      let partnerId = await this.findPartner(odoo, data, signal);
      let lines = data.lines === undefined ? [] : parseLines(data.lines);
      if (typeof lines === 'string') throw new DrafterError(lines, false);
      if (lines.length === 0) {
        lines = partnerId === undefined ? [] : await this.lastInvoiceLines(odoo, partnerId, signal);
        if (lines.length === 0) {
          throw new DrafterError(
            `${WHICH_LINES} (${str(data.partner) ?? str(data.partner_email)} has no posted invoice in Odoo to copy lines from)`,
            false,
          );
        }
        linesNote = "The request names no lines: these are the lines of the partner's last posted invoice.";
      }
      partnerId ??= await odoo.create(
        'res.partner',
        {
          name: str(data.partner) ?? str(data.partner_email),
          ...(str(data.partner_email) ? { email: str(data.partner_email) } : {}),
          customer_rank: 1,
        },
        { signal },
      );
      const values: Record<string, unknown> = {
        move_type: 'out_invoice',
        partner_id: partnerId,
        invoice_origin: origin,
        invoice_line_ids: lines.map((l) => [
          0,
          0,
          { name: l.name, quantity: l.quantity, price_unit: l.price_unit },
        ]),
      };
      if (str(data.currency)) values.currency_id = await this.currencyId(odoo, String(data.currency), signal);
      moveId = await odoo.create('account.move', values, { signal });
    } else if (data.lines === undefined) {
      linesNote = "The request names no lines: these are the lines of the partner's last posted invoice.";
    }
    return this.invoiceApproval(odoo, input, moveId, linesNote);
  }

  private async invoiceApproval(
    odoo: OdooClient,
    input: HandlerInput,
    moveId: number,
    linesNote: string,
  ): Promise<ApprovalDraft> {
    const signal = input.signal;
    const [move] = await odoo.read(
      'account.move',
      [moveId],
      [
        'name',
        'display_name',
        'state',
        'move_type',
        'partner_id',
        'currency_id',
        'amount_total',
        'invoice_line_ids',
      ],
      { signal },
    );
    if (!move) throw new DrafterError(`Odoo: invoice ${moveId} is gone`, false);
    if (move.state !== 'draft') {
      throw new DrafterError(
        `Odoo: invoice ${move.display_name} (id ${moveId}) made for this task is ${move.state}, not a draft: nothing to ask`,
        false,
      );
    }
    const rows = await odoo.read<{
      name: string | false;
      quantity: number;
      price_unit: number;
      price_subtotal: number;
    }>(
      'account.move.line',
      move.invoice_line_ids as number[],
      ['name', 'quantity', 'price_unit', 'price_subtotal'],
      { signal },
    );
    const lines: InvoiceLine[] = rows.map((r) => ({
      name: r.name === false ? '' : r.name,
      quantity: r.quantity,
      price_unit: r.price_unit,
    }));
    const partner = m2oName(move.partner_id as Many2one);
    const currency = m2oName(move.currency_id as Many2one);
    const total = move.amount_total as number;
    const { data } = input.item;
    const source = str(data.source_email);
    const body = [
      `# Post invoice ${move.display_name} to ${partner}`,
      '',
      `Approving this posts the draft customer invoice ${move.display_name} (Odoo id ${moveId}) in Odoo,`,
      'from the laptop, with its posting key. The cloud only drafted it; nothing is posted or sent yet.',
      '',
      '| Line | Quantity | Unit price | Subtotal |',
      '|---|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${oneLine(r.name === false ? '' : r.name, 80).replace(/\|/g, '\\|')} | ${r.quantity} | ${money(r.price_unit)} | ${money(r.price_subtotal)} |`,
      ),
      '',
      `**Total: ${money(total)} ${currency}**`,
      '',
      ...(linesNote ? [linesNote, ''] : []),
      ...(source ? [`Requested in email task \`${source}\`.`, ''] : []),
      'To change the invoice, edit the draft in Odoo and reject this request; the numbers above are the ones',
      'that will be checked before posting.',
    ].join('\n');
    const reply = source ? invoiceReply(data, lines, total, currency) : undefined;
    return {
      action: 'post_invoice',
      parameters: {
        odoo_id: moveId,
        move_type: 'out_invoice',
        partner,
        partner_id: m2oId(move.partner_id),
        invoice_lines: lines,
        amount_total: total,
        currency,
        ...reply?.parameters,
      },
      body: reply ? reply.body : `${body}\n`,
      reason: `invoice request for ${oneLine(partner, 80)}${source ? ` (email ${source})` : ''}: draft ${move.display_name} of ${money(total)} ${currency}`,
      summary: `post_invoice ${move.display_name}: ${partner}, ${money(total)} ${currency}`,
      drafter: 'odoo',
      usage: [],
    };
  }

  /** The partner by email (case-insensitive), else by exact name; undefined when there is none. */
  private async findPartner(
    odoo: OdooClient,
    data: ItemFrontmatter,
    signal?: AbortSignal,
  ): Promise<number | undefined> {
    const email = str(data.partner_email)?.toLowerCase();
    const name = str(data.partner);
    if (email) {
      const found = await odoo.searchRead<{ email: string | false }>(
        'res.partner',
        [['email', '=ilike', email]],
        ['email'],
        { order: 'id asc', signal },
      );
      // =ilike treats _ and % as wildcards: keep exact matches only.
      const hit = found.find((p) => typeof p.email === 'string' && p.email.toLowerCase() === email);
      if (hit) return hit.id;
    }
    if (name) {
      const [hit] = await odoo.searchRead('res.partner', [['name', '=', name]], ['id'], {
        order: 'id asc',
        limit: 1,
        signal,
      });
      if (hit) return hit.id;
    }
    return undefined;
  }

  private async lastInvoiceLines(
    odoo: OdooClient,
    partnerId: number,
    signal?: AbortSignal,
  ): Promise<InvoiceLine[]> {
    const [last] = await odoo.searchRead<{ invoice_line_ids: number[] }>(
      'account.move',
      [
        ['partner_id', '=', partnerId],
        ['move_type', '=', 'out_invoice'],
        ['state', '=', 'posted'],
      ],
      ['invoice_line_ids'],
      { order: 'invoice_date desc, id desc', limit: 1, signal },
    );
    if (!last || last.invoice_line_ids.length === 0) return [];
    const rows = await odoo.read<{ name: string | false; quantity: number; price_unit: number }>(
      'account.move.line',
      last.invoice_line_ids,
      ['name', 'quantity', 'price_unit'],
      { signal },
    );
    return rows.map((r) => ({ name: r.name || 'Services', quantity: r.quantity, price_unit: r.price_unit }));
  }

  private async currencyId(odoo: OdooClient, code: string, signal?: AbortSignal): Promise<number> {
    const [hit] = await odoo.searchRead('res.currency', [['name', '=', code]], ['id'], { limit: 1, signal });
    if (!hit) throw new DrafterError(`currency: Odoo has no currency ${code}`, false);
    return hit.id;
  }

  // -- vendor bills ----------------------------------------------------------------------------------

  private async readBill(odoo: OdooClient, id: number, signal?: AbortSignal) {
    const [bill] = await odoo.read(
      'account.move',
      [id],
      [
        'name',
        'display_name',
        'state',
        'move_type',
        'partner_id',
        'amount_residual',
        'currency_id',
        'invoice_date_due',
        'payment_state',
      ],
      { signal },
    );
    if (!bill) throw new DrafterError(`Odoo: vendor bill ${id} does not exist`, false);
    if (bill.move_type !== 'in_invoice')
      throw new DrafterError(
        `Odoo: move ${id} is a ${bill.move_type}, not a vendor bill (in_invoice)`,
        false,
      );
    return bill;
  }

  private async draftPayment(odoo: OdooClient, input: HandlerInput): Promise<ApprovalDraft> {
    const signal = input.signal;
    const id = input.item.data.odoo_id as number;
    const bill = await this.readBill(odoo, id, signal);
    if (bill.state !== 'posted' || !['not_paid', 'partial'].includes(String(bill.payment_state)))
      throw new DrafterError(
        `Odoo: vendor bill ${bill.name} is ${bill.state}/${bill.payment_state}: nothing to pay`,
        false,
      );
    const partnerId = m2oId(bill.partner_id);
    const partner = m2oName(bill.partner_id as Many2one);
    const currency = m2oName(bill.currency_id as Many2one);
    const amount = bill.amount_residual as number;
    const earlier: Domain = [
      ['partner_id', '=', partnerId ?? 0],
      ['payment_type', '=', 'outbound'],
      ['state', 'in', ['in_process', 'paid']],
    ];
    const newPayee = (await odoo.searchCount('account.payment', earlier, { signal })) === 0;
    const body = [
      `# Pay vendor bill ${bill.name} of ${partner}`,
      '',
      `Approving this registers a payment of **${money(amount)} ${currency}** on the posted vendor bill`,
      `${bill.name} (Odoo id ${id}), due ${bill.invoice_date_due}, from the laptop with its payment key.`,
      '',
      ...(newPayee
        ? [
            `**New payee:** fte finds no earlier payment to ${partner} in Odoo. Check the vendor and the bill first.`,
            '',
          ]
        : []),
      `Payment state now: ${bill.payment_state}.`,
    ].join('\n');
    return {
      action: 'register_payment',
      parameters: {
        odoo_id: id,
        partner,
        partner_id: partnerId,
        amount,
        currency,
        ...(newPayee ? { new_payee: true } : {}),
      },
      body: `${body}\n`,
      reason: `vendor bill ${bill.name} of ${oneLine(partner, 80)} due ${bill.invoice_date_due}${newPayee ? ' (new payee)' : ''}`,
      summary: `register_payment ${bill.name}: ${partner}, ${money(amount)} ${currency}`,
      drafter: 'odoo',
      usage: [],
    };
  }
}

/**
 * The reply that carries the invoice of a request made by email: to the requester, in the thread of
 * their message, with the lines and the total. The laptop attaches the PDF once the invoice is posted.
 */
export function invoiceReply(
  data: ItemFrontmatter,
  lines: InvoiceLine[],
  total: number,
  currency: string,
): { parameters: Record<string, string>; body: string } | undefined {
  const to = str(data.partner_email);
  if (!to) return undefined;
  const parameters: Record<string, string> = {
    email_to: to,
    email_subject: replySubject(str(data.subject)),
  };
  const thread = replyThread(str(data.source_message_id), str(data.source_references));
  if (thread.inReplyTo) parameters.email_in_reply_to = thread.inReplyTo;
  if (thread.references.length > 0) parameters.email_references = thread.references.join(' ');
  const name = str(data.partner);
  const body = [
    name && name !== to ? `Hello ${oneLine(name, 80)},` : 'Hello,',
    '',
    'Please find attached our invoice for:',
    '',
    ...lines.map((l) => `- ${oneLine(l.name, 120)}: ${l.quantity} × ${money(l.price_unit)} ${currency}`),
    '',
    `Total: ${money(total)} ${currency}`,
    '',
    'Best regards,',
    'the team',
    '',
  ].join('\n');
  return { parameters, body };
}
