import { createHash } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
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

/** A send that failed, with what the failure means for at-most-once (see `SendFailure.meaning`). */
export class SendFailure extends Error {
  constructor(
    message: string,
    /**
     * - `not_sent`: the server never took the message (no connection, login refused, or a 4xx answer): safe to try later;
     * - `failed`: the server refused it for good (5xx): final, shown to the owner;
     * - `uncertain`: the connection broke once the message was on its way: it may have been delivered.
     */
    readonly meaning: 'not_sent' | 'failed' | 'uncertain',
  ) {
    super(message);
  }
}

/** The exact RFC 822 message for an outgoing email (what the SMTP transport sends and the Sent copy files). */
export async function composeRaw(mail: OutgoingEmail, date: Date): Promise<Buffer> {
  const composer = new MailComposer({
    from: mail.from,
    to: mail.to,
    cc: mail.cc,
    subject: mail.subject,
    text: mail.text,
    messageId: mail.messageId,
    inReplyTo: mail.inReplyTo,
    references: mail.references,
    date,
  });
  return composer.compile().build();
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * SMTP over nodemailer's connection class, phase by phase, so a failure is classified by where it
 * happened: anything before the envelope is certainly not sent; after that only an explicit server
 * answer (a reply code) proves the message was not taken.
 */
export class SmtpTransport implements MailTransport {
  constructor(private readonly config: SmtpConfig) {}

  async send(mail: OutgoingEmail): Promise<SendResult> {
    const raw = await composeRaw(mail, new Date());
    const envelope = {
      from: bareAddress(mail.from) ?? mail.from,
      to: [mail.to, mail.cc ?? '']
        .flatMap((list) => list.split(','))
        .map((a) => bareAddress(a.trim()))
        .filter((a): a is string => a !== undefined),
    };
    const connection = new SMTPConnection({
      host: this.config.host,
      port: this.config.port,
      secure: this.config.secure,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 30_000,
    });
    // Socket errors and an early close arrive as events, in any phase; each phase races them.
    let broken: ((error: Error) => void) | undefined;
    connection.on('error', (error: Error) => broken?.(error));
    connection.on('end', () => broken?.(new Error('the server closed the connection')));
    const phase = <T>(run: (done: (error: Error | null, value?: T) => void) => void) =>
      new Promise<T>((resolve, reject) => {
        broken = reject;
        run((error, value) => (error ? reject(error) : resolve(value as T)));
      });
    try {
      try {
        await phase<void>((done) => connection.connect(() => done(null)));
        if (this.config.auth)
          await phase<void>((done) => connection.login(this.config.auth!, (e) => done(e ?? null)));
      } catch (error) {
        throw new SendFailure(`could not connect or log in: ${errorText(error)}`, 'not_sent');
      }
      let info: SMTPConnection.SentMessageInfo;
      try {
        info = await phase<SMTPConnection.SentMessageInfo>((done) =>
          connection.send(envelope, raw, (e, value) => done(e ?? null, value)),
        );
      } catch (error) {
        const code = (error as { responseCode?: number }).responseCode;
        const meaning = typeof code === 'number' ? (code >= 500 ? 'failed' : 'not_sent') : 'uncertain';
        throw new SendFailure(errorText(error), meaning);
      }
      broken = undefined;
      connection.quit();
      return {
        messageId: mail.messageId,
        accepted: info.accepted.map(String),
        rejected: info.rejected.map(String),
        response: String(info.response ?? ''),
      };
    } finally {
      broken = undefined;
      connection.close();
    }
  }

  close(): void {}
}

/**
 * What a failed send means for at-most-once. Our transport says so itself (`SendFailure`); for any other
 * error only an explicit SMTP reply code proves the message was not taken, everything else may have gone out.
 */
export function classifySendError(error: unknown): 'not_sent' | 'failed' | 'uncertain' {
  if (error instanceof SendFailure) return error.meaning;
  const code = (error as { responseCode?: unknown } | null)?.responseCode;
  if (typeof code === 'number' && code >= 500) return 'failed';
  if (typeof code === 'number' && code >= 400) return 'not_sent';
  return 'uncertain';
}
