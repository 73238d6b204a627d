import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import { bareAddress, type SmtpConfig } from './config.js';
import type { Approval } from './signature.js';

/** What goes out for a `send_email` approval: a reply in the original thread, with a Message-ID fixed per task. */
export type OutgoingEmail = {
  from: string;
  to: string;
  cc?: string;
  subject: string;
  text: string;
  messageId: string;
  inReplyTo?: string;
  references?: string[];
};

export class InvalidEmailError extends Error {}

/**
 * `<fte-<sha256(task) prefix>@<from domain>>`: the same task always gets the same Message-ID, so a resend
 * after an Uncertain decision is recognisable (mail clients and the recipient's server see a duplicate).
 */
export function stableMessageId(task: string, from: string): string {
  const domain = bareAddress(from)?.split('@')[1] ?? 'localhost.invalid';
  return `<fte-${createHash('sha256').update(task).digest('hex').slice(0, 32)}@${domain}>`;
}

/** "Re: <subject>" unless it already starts with a reply prefix. */
export function replySubject(subject: string | undefined): string {
  const s = (subject ?? '').trim();
  if (/^(re|aw|sv|antw)\s*:/i.test(s)) return s;
  return s ? `Re: ${s}` : 'Re:';
}

const MESSAGE_ID = /<[^<>\s]+>/g;

/** `References` for a reply: the thread so far, then the message answered (RFC 5322 §3.6.4). */
export function replyReferences(references: string | undefined, inReplyTo: string | undefined): string[] {
  const ids = [...(references?.match(MESSAGE_ID) ?? [])];
  if (inReplyTo && !ids.includes(inReplyTo)) ids.push(inReplyTo);
  return ids;
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

/** Builds the message for an approved `send_email` (pure). The body is exactly the approved draft. */
export function buildReply(approval: Approval, from: string): OutgoingEmail {
  const data = approval.data;
  const to = str(data.to);
  if (!to) throw new InvalidEmailError('the approval has no recipient (to)');
  for (const address of to.split(',')) {
    if (!bareAddress(address.trim()))
      throw new InvalidEmailError(`not an email address in to: ${JSON.stringify(address.trim())}`);
  }
  const inReplyTo = str(data.in_reply_to)?.match(MESSAGE_ID)?.[0];
  return {
    from,
    to,
    cc: str(data.cc),
    subject: inReplyTo ? replySubject(str(data.subject)) : (str(data.subject) ?? '(no subject)'),
    text: approval.body,
    messageId: stableMessageId(data.task, from),
    inReplyTo,
    references: inReplyTo ? replyReferences(str(data.references), inReplyTo) : undefined,
  };
}

export type SendResult = { messageId: string; accepted: string[]; rejected: string[]; response: string };

/** The one outward port of the email executor. */
export interface MailTransport {
  send(mail: OutgoingEmail): Promise<SendResult>;
  close(): void;
}

export class SmtpTransport implements MailTransport {
  private readonly transporter: nodemailer.Transporter;

  constructor(config: SmtpConfig) {
    this.transporter = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      auth: config.auth,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 30_000,
    });
  }

  async send(mail: OutgoingEmail): Promise<SendResult> {
    const info = await this.transporter.sendMail({
      from: mail.from,
      to: mail.to,
      cc: mail.cc,
      subject: mail.subject,
      text: mail.text,
      messageId: mail.messageId,
      inReplyTo: mail.inReplyTo,
      references: mail.references,
    });
    const list = (values: unknown[] | undefined) =>
      (values ?? []).map((v) =>
        typeof v === 'string' ? v : ((v as { address?: string }).address ?? String(v)),
      );
    return {
      messageId: info.messageId,
      accepted: list(info.accepted),
      rejected: list(info.rejected),
      response: String(info.response ?? ''),
    };
  }

  close(): void {
    this.transporter.close();
  }
}

/**
 * What a failed send means for at-most-once:
 * - `not_sent`: the server never took the message (no connection, login refused, or a 4xx answer): safe to try later;
 * - `failed`: the server refused it for good (5xx): final, shown to the owner;
 * - `uncertain`: the connection broke while the message was in flight: it may have been delivered.
 */
export function classifySendError(error: unknown): 'not_sent' | 'failed' | 'uncertain' {
  const e = (error ?? {}) as { code?: string; command?: string; responseCode?: number };
  if (typeof e.responseCode === 'number' && e.responseCode >= 500) return 'failed';
  if (typeof e.responseCode === 'number' && e.responseCode >= 400) return 'not_sent';
  if (e.command === 'CONN') return 'not_sent';
  if (
    e.code &&
    ['ECONNECTION', 'EDNS', 'EAUTH', 'ETLS', 'ECONNREFUSED', 'ENOTFOUND', 'EENVELOPE'].includes(e.code)
  ) {
    return 'not_sent';
  }
  return 'uncertain';
}
