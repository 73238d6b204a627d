import { z } from 'zod';
import type { OdooClient } from '../../core/odoo/client.js';
import { buildEmail, classifySendError, type MailTransport, type OutgoingEmail } from '../email.js';
import type { SentCopy } from '../sent-copy.js';
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
import {
  type ActionExecutor,
  ActionFailure,
  InvalidActionError,
  type Performed,
  type Prepared,
} from './types.js';

/**
 * `post_invoice`: posts a customer invoice the cloud drafted in Odoo (with its draft-only key), after the
 * owner approved exactly its partner, lines, total and currency. Odoo's own state is read first: an
 * invoice already posted (by this machine before its ledger was lost, or by a person) is recorded as done
 * and never posted twice; one that changed since the approval is refused.
 *
 * With `email_to` (an invoice asked for by email) the approval also signs the reply that carries the
 * invoice: its recipient, subject, thread and text (the approval's body). After the post the executor
 * fetches the invoice PDF from Odoo and sends the reply with it. Both steps are safe to run again: a pass
 * after a failure before the email finds the invoice posted, does not post it again, and sends the email
 * (an SMTP failure keeps its meaning: a message that may have left is Uncertain, never resent by itself).
 */

export const POST_INVOICE_PARAMETERS: ReadonlySet<string> = new Set([
  'odoo_id',
  'move_type',
  'partner',
  'partner_id',
  'invoice_lines',
  'amount_total',
  'currency',
  'email_to',
  'email_subject',
  'email_in_reply_to',
  'email_references',
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
  email_to: z.string().optional(),
  email_subject: z.string().optional(),
  email_in_reply_to: z.string().optional(),
  email_references: z.string().optional(),
});
export type PostInvoice = z.infer<typeof Parameters> & {
  /** The reply that carries the invoice PDF, when the approval has `email_to`. */
  email?: OutgoingEmail;
};

/** How the reply with the invoice leaves (the laptop's SMTP); the same as send_email's. */
export type InvoiceMail = { from: string; transport?: MailTransport; sentCopy?: SentCopy };

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

  /** The replies sent with an invoice, kept until afterDone files their Sent copy. */
  private readonly sent = new Map<string, OutgoingEmail>();

  constructor(
    private readonly odoo: OdooAccess,
    private readonly mail: InvoiceMail = { from: '' },
  ) {}

  prepare(approval: Approval): Prepared<PostInvoice> {
    const p: PostInvoice = odooParameters(this.action, this.parameters, Parameters, approval);
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
    const reply = this.invoiceEmail(p, approval);
    if (reply) {
      const { notes: mailNotes, ...mail } = reply;
      p.email = mail;
      notes.push(...mailNotes);
      effect.push(['then send email from', mail.from]);
      effect.push(['to', mail.to]);
      effect.push(['subject', mail.subject]);
      if (mail.inReplyTo) effect.push(['in reply to', mail.inReplyTo]);
      if (mail.references) effect.push(['references', mail.references.join(' ')]);
      effect.push(['message id', mail.messageId]);
      effect.push(['attachment', "the posted invoice's PDF as Odoo renders it (<number>.pdf)"]);
      effect.push(['body', `${mail.text.length} characters (the draft, exactly as approved)`]);
    }
    return {
      payload: p,
      target: p.email
        ? `${p.partner} (res.partner/${p.partner_id}); email to ${p.email.to}`
        : `${p.partner} (res.partner/${p.partner_id})`,
      effect,
      audit: {
        odoo_id: p.odoo_id,
        partner_id: p.partner_id,
        amount_total: p.amount_total,
        currency: p.currency,
        lines: p.invoice_lines.length,
        ...(p.email ? { email_to: p.email.to, message_id: p.email.messageId } : {}),
      },
      counterparty: `res.partner/${p.partner_id}`,
      notes,
    };
  }

  /** The reply that carries the invoice, when the approval asks for one (`email_to`). */
  private invoiceEmail(
    p: PostInvoice,
    approval: Approval,
  ): (OutgoingEmail & { notes: string[] }) | undefined {
    if (p.email_to === undefined) {
      if ([p.email_subject, p.email_in_reply_to, p.email_references].some((v) => v !== undefined)) {
        throw new InvalidActionError(
          'post_invoice: email_subject and the thread fields need email_to (who gets the invoice)',
        );
      }
      return undefined;
    }
    const email = buildEmail(
      {
        to: p.email_to,
        subject: p.email_subject,
        in_reply_to: p.email_in_reply_to,
        references: p.email_references,
      },
      approval.body,
      approval.data.task,
      this.mail.from,
    );
    if (email.text.trim() === '') {
      throw new InvalidActionError('post_invoice: the email to send with the invoice is empty');
    }
    return email;
  }

  unavailable(): string | undefined {
    return odooUnavailable(this.odoo);
  }

  async perform(prepared: Prepared<PostInvoice>): Promise<Performed> {
    const p = prepared.payload;
    if (p.email && !this.mail.transport) {
      throw new ActionFailure(
        'no SMTP server configured (set SMTP_HOST and SMTP_FROM): the invoice is posted only together with its email',
        'not_sent',
      );
    }
    const client = await connectOdoo(this.odoo);
    let state: string;
    try {
      state = await this.check(client, p);
    } catch (error) {
      throw beforeWrite(error);
    }
    if (state !== 'posted') {
      try {
        await client.call('account.move', 'action_post', [p.odoo_id]);
      } catch (error) {
        throw duringWrite(error);
      }
    }
    // Posted: whatever happens now, it happened. The number is read back for Done/ (a read, retried).
    const name = await this.nameOf(client, p.odoo_id);
    const invoice = name ?? `account.move ${p.odoo_id}`;
    const posted =
      state === 'posted'
        ? `already posted in Odoo as ${invoice}; not posted again`
        : `posted in Odoo as ${invoice}`;
    const audit = {
      odoo_id: p.odoo_id,
      name: name ?? null,
      ...(state === 'posted' ? { already_posted: true } : { protocol: client.protocol }),
    };
    const effectId = name ?? `account.move/${p.odoo_id}`;
    if (!p.email) return { detail: posted, audit, effectId };
    const sent = await this.sendWithPdf(client, p.odoo_id, p.email, name, posted);
    return {
      detail: `${posted}; emailed ${sent.filename} to ${p.email.to}: ${sent.response}`,
      audit: { ...audit, attachment: sent.filename, accepted: sent.accepted, rejected: sent.rejected },
      effectId,
    };
  }

  /**
   * The reply with the invoice PDF. Runs only once the invoice is posted; a failure keeps its SMTP meaning
   * (the PDF not fetched or the message not taken: `not_sent`, the next pass finds the invoice posted and
   * sends; a message that may have left: `uncertain`) and says that the invoice is posted.
   */
  private async sendWithPdf(
    client: OdooClient,
    id: number,
    email: OutgoingEmail,
    name: string | undefined,
    posted: string,
  ) {
    const filename = `${(name ?? `invoice-${id}`).replace(/[^A-Za-z0-9._-]+/g, '_')}.pdf`;
    let pdf: Buffer;
    try {
      pdf = await client.invoicePdf(id);
    } catch (error) {
      throw new ActionFailure(
        `${posted}; its PDF could not be read from Odoo, the email was not sent (a later pass sends it): ${errorText(error)}`,
        'not_sent',
      );
    }
    const mail: OutgoingEmail = {
      ...email,
      attachments: [{ filename, content: pdf, contentType: 'application/pdf' }],
    };
    try {
      const result = await this.mail.transport!.send(mail);
      this.sent.set(email.messageId, mail);
      return { filename, ...result };
    } catch (error) {
      const meaning = classifySendError(error);
      const what = {
        not_sent: 'the email was not sent (a later pass sends it)',
        failed: 'the email was refused for good',
        uncertain: 'the email may or may not have left',
      }[meaning];
      throw new ActionFailure(`${posted}; ${what}: ${errorText(error)}`, meaning);
    }
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
    // The name is checked too: the owner approved a name, and an id alone could be anybody in Odoo.
    if (partner?.id !== p.partner_id || partner.name.trim() !== p.partner) {
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

  async afterDone(prepared: Prepared<PostInvoice>, at: Date): Promise<void> {
    const mail = prepared.payload.email && this.sent.get(prepared.payload.email.messageId);
    if (!mail) return;
    this.sent.delete(mail.messageId);
    // A failure to file the copy is logged by SentCopy and never undoes the send.
    if (this.mail.sentCopy) await this.mail.sentCopy.file(mail, at);
  }
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
