import { parseAddress } from '../../core/address.js';
import type { Decoded } from '../../core/codec.js';
import { replySubject, replyThread } from '../../core/reply.js';
import type { ItemFrontmatter } from '../../core/schemas.js';
import type { Drafter, EmailForDraft, Triage } from '../drafters/drafter.js';
import { oneLine } from '../drafters/template.js';
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
 * Email (`Needs_Action/email/`): triage, then a reply draft as a `send_email` approval request to the
 * original sender, threaded with In-Reply-To and References. A `message_id` or `references` value that is
 * not an RFC 5322 msg-id (vaults of other tools hold Gmail API ids there) is left out of the request, with
 * a note in its reason: the reply is still drafted, just not threaded on that value.
 */
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export class EmailHandler implements DomainHandler {
  readonly domain = 'email';

  constructor(private readonly drafter: Drafter) {}

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
    const { triage, usage } = await this.drafter.triageEmail(email, input.signal);
    return { triage, by: this.drafter.name, usage: usage ? [usage] : [] };
  }

  async draft(input: HandlerInput, triage: Triage): Promise<ApprovalDraft> {
    const email = this.email(input);
    const { body, usage } = await this.drafter.draftEmailReply(email, triage, input.signal);
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
      drafter: this.drafter.name,
      usage: usage ? [usage] : [],
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
