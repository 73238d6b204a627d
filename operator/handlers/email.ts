import { parseAddress } from '../../core/address.js';
import type { Decoded } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { isSafeTaskId } from '../../core/ids.js';
import { replySubject, replyThread } from '../../core/reply.js';
import type { ItemFrontmatter } from '../../core/schemas.js';
import type { Drafter, EmailForDraft, Triage } from '../drafters/drafter.js';
import { keywordPriority } from '../drafters/priority.js';
import { displayName, oneLine } from '../drafters/template.js';
import type { ApprovalDraft, DomainHandler, HandlerInput, TriageOutcome } from './handler.js';

/** The sender's address in `Name <address>` or a bare address, lower-cased; undefined when there is none. */
export function senderAddress(from: string): string | undefined {
  return parseAddress(from)?.toLowerCase();
}

const NO_REPLY_LOCAL =
  /^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer-daemon|postmaster|bounces?|notifications?|notify|alerts?|automated|auto-confirm)(?:[-_.+].*)?$/i;
const NEWSLETTER_LOCAL =
  /^(?:newsletters?|news|marketing|digest|updates|info-?mail|mailing|campaigns?)(?:[-_.+].*)?$/i;

/**
 * Mail that never gets a reply draft, decided by rules before any model is asked: no-reply senders,
 * bulk and list mail (the watcher keeps `list_unsubscribe`, `list_id`, `precedence`, `auto_submitted`
 * headers in the frontmatter), and newsletters. Returns undefined when a reply may be needed.
 */
export function ruleTriage(data: ItemFrontmatter, body: string, address: string): Triage | undefined {
  const local = address.split('@')[0] ?? '';
  const no = (reason: string): Triage => ({ priority: 'low', needsReply: false, reason });
  if (NO_REPLY_LOCAL.test(local)) return no(`no-reply sender (${address}): nobody reads replies there`);
  const precedence = typeof data.precedence === 'string' ? data.precedence.toLowerCase() : '';
  if (['bulk', 'list', 'junk'].includes(precedence)) return no(`bulk mail (Precedence: ${precedence})`);
  const auto = typeof data.auto_submitted === 'string' ? data.auto_submitted.toLowerCase() : '';
  if (auto && auto !== 'no') return no(`automatic message (Auto-Submitted: ${auto})`);
  if (data.list_unsubscribe !== undefined || data.list_id !== undefined) {
    return no('mailing-list or newsletter mail (List-Unsubscribe/List-Id header)');
  }
  if (NEWSLETTER_LOCAL.test(local)) return no(`newsletter sender (${address})`);
  if (
    /\bunsubscribe\b/i.test(body.slice(-4000)) &&
    /\b(newsletter|view (this|it) in your browser|mailing list)\b/i.test(body)
  ) {
    return no('newsletter (unsubscribe link in the body)');
  }
  return undefined;
}

/**
 * Whether an email asks for an invoice, by fixed rules (no model): a verb of asking or sending near the
 * word "invoice" in the subject or the first lines of the body ("please send me the October invoice",
 * "could you issue an invoice for…", "Invoice for January"). It does not understand which period,
 * amount or items are meant, replies about an invoice already received ("thanks for the invoice"),
 * disputes, or any language but English.
 */
const ASKS_FOR_INVOICE =
  /\b(?:send|resend|re-send|forward|issue|share|need|email|mail|provide|prepare|raise|bill)\b[^.?!\n]{0,60}\binvoices?\b/i;
const INVOICE_SUBJECT = /^\s*(?:(?:re|fwd?|aw)\s*:\s*)*invoice\s+(?:for|of|request)\b/i;

export function asksForInvoice(subject: string, body: string): boolean {
  return INVOICE_SUBJECT.test(subject) || ASKS_FOR_INVOICE.test(`${subject}\n${body.slice(0, 2000)}`);
}

/** The id of the accounting item an invoice-request email hands over: `<email id>_INVOICE`. */
export function invoiceItemId(id: string): string | undefined {
  const handoff = `${id}_INVOICE`;
  return isSafeTaskId(handoff) ? handoff : undefined;
}

/**
 * Email (`Needs_Action/email/`): triage, then a reply draft as a `send_email` approval request to the
 * original sender, threaded with In-Reply-To and References. A `message_id` or `references` value that is
 * not an RFC 5322 msg-id (vaults of other tools hold Gmail API ids there) is left out of the request, with
 * a note in its reason: the reply is still drafted, just not threaded on that value.
 */
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export type EmailHandlerOptions = {
  /**
   * Hand emails that ask for an invoice to accounting (set when the operator has Odoo settings): the
   * email's reply says the invoice follows, and `Needs_Action/accounting/<id>_INVOICE.md` is written in
   * the same commit as that reply's approval request.
   */
  invoiceRequests?: boolean;
};

export class EmailHandler implements DomainHandler {
  readonly domain = 'email';

  constructor(
    private readonly drafter: Drafter,
    private readonly options: EmailHandlerOptions = {},
  ) {}

  /** Whether this email goes to accounting as an invoice request. */
  private invoiceRequest(input: HandlerInput, email: EmailForDraft): string | undefined {
    if (!this.options.invoiceRequests || !asksForInvoice(email.subject, email.body)) return undefined;
    return invoiceItemId(input.id);
  }

  validate(item: Decoded<ItemFrontmatter>): string | undefined {
    const { data } = item;
    if (data.type.toLowerCase() !== 'email')
      return `type: expected "email" for an item in Needs_Action/email/ (got ${JSON.stringify(data.type)})`;
    if (!data.from) return 'from: missing (an email item needs the sender)';
    if (!senderAddress(data.from))
      return `from: no email address in ${JSON.stringify(data.from.slice(0, 80))}`;
    return undefined;
  }

  async triage(input: HandlerInput): Promise<TriageOutcome> {
    const email = this.email(input);
    const byRule = ruleTriage(input.item.data, input.item.body, email.fromAddress);
    if (byRule) return { triage: byRule, by: 'rules', usage: [] };
    const handoff = this.invoiceRequest(input, email);
    if (handoff) {
      const priority = keywordPriority(email.subject, email.body, input.item.data.priority);
      const reason = `asks for an invoice ("${oneLine(email.subject, 80) || '(no subject)'}"): handed to accounting as ${handoff}`;
      return { triage: { priority, needsReply: true, reason }, by: 'rules', usage: [] };
    }
    const { triage, usage } = await this.drafter.triageEmail(email, input.signal);
    return { triage, by: this.drafter.name, usage: usage ? [usage] : [] };
  }

  async draft(input: HandlerInput, triage: Triage): Promise<ApprovalDraft> {
    const email = this.email(input);
    const handoff = this.invoiceRequest(input, email);
    const { body, usage } = handoff
      ? { body: invoiceFollowsReply(email), usage: undefined }
      : await this.drafter.draftEmailReply(email, triage, input.signal);
    const { data } = input.item;
    const parameters: Record<string, string> = {
      to: email.fromAddress,
      subject: replySubject(email.subject),
    };
    const thread = replyThread(str(data.message_id), str(data.references));
    if (thread.inReplyTo) parameters.in_reply_to = thread.inReplyTo;
    if (thread.references.length > 0) parameters.references = thread.references.join(' ');
    const note =
      thread.dropped.length > 0
        ? ` (not threaded on ${thread.dropped
            .slice(0, 3)
            .map((v) => JSON.stringify(oneLine(v, 40)))
            .join(', ')}: not an RFC 5322 Message-ID)`
        : '';
    return {
      action: 'send_email',
      parameters,
      body,
      reason: `${oneLine(triage.reason, 200)}${note}`,
      drafter: handoff ? 'rules' : this.drafter.name,
      usage: usage ? [usage] : [],
      items: handoff
        ? [{ domain: 'accounting', id: handoff, text: invoiceRequestItem(input, email) }]
        : undefined,
    };
  }

  private email(input: HandlerInput): EmailForDraft {
    const { data, body } = input.item;
    const from = data.from ?? '';
    return {
      id: input.id,
      from,
      fromAddress: senderAddress(from) ?? from,
      subject: data.subject ?? '',
      received: data.received,
      body,
      handbook: input.handbook,
    };
  }
}

/** The reply to an invoice request: a fixed text, the invoice itself follows once the owner approves it. */
export function invoiceFollowsReply(email: EmailForDraft): string {
  const name = displayName(email.from);
  return [
    name ? `Hello ${name},` : 'Hello,',
    '',
    'Thank you for your message. We are preparing your invoice; it will follow in a separate email shortly.',
    '',
    'Best regards,',
    'the team',
    '',
  ].join('\n');
}

/**
 * The `invoice_request` item an invoice-request email becomes: the partner is the sender (name and
 * address); the email's text is not read for lines, amounts or periods, so `lines_from: last_invoice`
 * asks accounting to copy the lines of the partner's last posted invoice (and to stop and ask "which
 * lines?" when there is none).
 */
export function invoiceRequestItem(input: HandlerInput, email: EmailForDraft): string {
  const data: Record<string, unknown> = {
    type: 'invoice_request',
    partner: displayName(email.from) ?? email.fromAddress,
    partner_email: email.fromAddress,
    lines_from: 'last_invoice',
    source_email: input.id,
    // The thread the invoice's email answers (the laptop checks both before it puts them in a header).
    source_message_id: str(input.item.data.message_id),
    source_references: str(input.item.data.references),
    subject: email.subject || undefined,
    received: email.received,
    priority: input.item.data.priority,
    status: 'pending',
  };
  const body = [
    `## Invoice requested by email`,
    '',
    `From: ${oneLine(email.from, 200)}`,
    `Subject: ${oneLine(email.subject, 200) || '(none)'}`,
    `Email task: ${input.id}`,
    '',
    "fte does not read lines or amounts from an email: the draft copies the lines of this customer's last",
    'posted invoice. To invoice other lines, replace `lines_from` with `lines: [{name, quantity, price_unit}]`.',
    '',
  ].join('\n');
  return stringifyMarkdown({
    data: Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)),
    body,
  });
}
