import type { Logger } from '../../core/log.js';
import {
  buildReply,
  classifySendError,
  EMAIL_PARAMETERS,
  type MailTransport,
  type OutgoingEmail,
} from '../email.js';
import type { SentCopy } from '../sent-copy.js';
import type { Approval } from '../signature.js';
import type { ActionExecutor, Performed, Prepared } from './types.js';

/**
 * `send_email`: a reply over SMTP with a Message-ID fixed per task (executor/email.ts builds it, the
 * transport classifies failures by SMTP phase), and optionally a copy in the owner's Sent mailbox.
 */
export class SendEmailExecutor implements ActionExecutor<OutgoingEmail> {
  readonly action = 'send_email' as const;
  readonly auditType = 'email_send';
  readonly parameters = EMAIL_PARAMETERS;

  constructor(
    private readonly o: {
      from: string;
      /** Undefined when no SMTP server is configured: approvals wait. */
      transport?: MailTransport;
      sentCopy?: SentCopy;
      log?: Logger;
    },
  ) {}

  /** Throws InvalidEmailError (an InvalidActionError) when the approval cannot become an email. */
  prepare(approval: Approval): Prepared<OutgoingEmail> {
    const { notes, ...mail } = buildReply(approval, this.o.from);
    const effect: Array<[string, string]> = [
      ['send email from', mail.from],
      ['to', mail.to],
    ];
    if (mail.cc) effect.push(['cc', mail.cc]);
    if (mail.bcc) effect.push(['bcc (hidden from the others)', mail.bcc]);
    effect.push(['subject', mail.subject]);
    if (mail.inReplyTo) effect.push(['in reply to', mail.inReplyTo]);
    if (mail.references) effect.push(['references', mail.references.join(' ')]);
    effect.push(['message id', mail.messageId]);
    effect.push(['body', `${mail.text.length} characters (the draft, exactly as approved)`]);
    return {
      payload: mail,
      target: [mail.to, mail.cc, mail.bcc].filter(Boolean).join(', '),
      effect,
      audit: {
        subject: mail.subject,
        message_id: mail.messageId,
        in_reply_to: mail.inReplyTo ?? null,
        ...(mail.cc ? { cc: mail.cc } : {}),
        ...(mail.bcc ? { bcc: mail.bcc } : {}),
        ...(notes.length ? { notes } : {}),
        body_chars: mail.text.length,
      },
      effectId: mail.messageId,
      notes,
    };
  }

  unavailable(): string | undefined {
    return this.o.transport ? undefined : 'no SMTP server configured (set SMTP_HOST and SMTP_FROM)';
  }

  async perform(prepared: Prepared<OutgoingEmail>): Promise<Performed> {
    if (!this.o.transport) throw new Error('no SMTP transport');
    const result = await this.o.transport.send(prepared.payload);
    return {
      detail: result.response,
      audit: { accepted: result.accepted, rejected: result.rejected },
    };
  }

  classify(error: unknown): 'not_sent' | 'failed' | 'uncertain' {
    return classifySendError(error);
  }

  async afterDone(prepared: Prepared<OutgoingEmail>, at: Date): Promise<void> {
    // A failure to file the copy is logged by SentCopy and never undoes the send.
    if (this.o.sentCopy) await this.o.sentCopy.file(prepared.payload, at);
  }
}
