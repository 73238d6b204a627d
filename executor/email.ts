import { createHash } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { parseAddress, parseAddressList } from '../core/address.js';
import { approvalParameters } from '../core/codec.js';
import { clearLoginNeeded, LoginRequired, tokenSource } from '../core/oauth/token-source.js';
import { replySubject, replyThread } from '../core/reply.js';
import { InvalidActionError } from './actions/types.js';
import type { SmtpConfig } from './config.js';
import type { Approval } from './signature.js';

/** What goes out for a `send_email` approval: a reply in the original thread, with a Message-ID fixed per task. */
export type OutgoingEmail = {
  from: string;
  to: string;
  cc?: string;
  /** Envelope recipients only: never written as a header. */
  bcc?: string;
  subject: string;
  text: string;
  messageId: string;
  inReplyTo?: string;
  references?: string[];
  /** Files sent with the message (the invoice PDF of a post_invoice approval). */
  attachments?: EmailAttachment[];
};

export type EmailAttachment = { filename: string; content: Buffer; contentType: string };

/** An approval that cannot become an email (a bad recipient, a header it would not show): bad data, exit 65. */
export class InvalidEmailError extends InvalidActionError {}

/**
 * `<fte-<sha256(task) prefix>@<from domain>>`: the same task always gets the same Message-ID, so a resend
 * after an Uncertain decision is recognisable (mail clients and the recipient's server see a duplicate).
 */
export function stableMessageId(task: string, from: string): string {
  const domain = parseAddress(from)?.split('@')[1] ?? 'localhost.invalid';
  return `<fte-${createHash('sha256').update(task).digest('hex').slice(0, 32)}@${domain}>`;
}

/** The parameters a `send_email` approval may carry: every one is shown to the owner and signed. */
export const EMAIL_PARAMETERS = new Set(['to', 'cc', 'bcc', 'subject', 'in_reply_to', 'references']);

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

/** Header injection and lookalikes: no line breaks or other control characters in any header value. */
const CONTROL = /[\u0000-\u001f\u007f]/;

function addressList(field: string, value: unknown, required: boolean): string | undefined {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
    if (required) throw new InvalidEmailError(`the approval has no recipient (${field})`);
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new InvalidEmailError(
      `${field} must be a comma-separated list of addresses, got ${JSON.stringify(value)}`,
    );
  }
  if (CONTROL.test(value)) throw new InvalidEmailError(`${field} contains a line break or control character`);
  if (!parseAddressList(value)) {
    const bad = value.split(',').find((entry) => parseAddress(entry) === undefined);
    throw new InvalidEmailError(
      bad === undefined
        ? `too many addresses in ${field}`
        : `not an email address in ${field}: ${JSON.stringify(bad.trim())}`,
    );
  }
  return value.trim();
}

/**
 * Builds the message for an approved `send_email` (pure). The body is exactly the approved draft. A
 * parameter the executor does not know, or a known one of the wrong shape, is an InvalidEmailError: the
 * approval is refused rather than sent with something the owner was not shown. `notes` says what was
 * dropped (reply ids that are not RFC 5322 msg-ids) without failing the send.
 */
export function buildReply(approval: Approval, from: string): OutgoingEmail & { notes: string[] } {
  const data = approval.data;
  const unknown = Object.keys(approvalParameters(data)).filter((k) => !EMAIL_PARAMETERS.has(k));
  if (unknown.length > 0) {
    throw new InvalidEmailError(
      `parameters send_email does not show or understand: ${unknown.sort().join(', ')} (refused rather than sent)`,
    );
  }
  return buildEmail(data, approval.body, data.task, from);
}

/** The header fields of an email an approval asks for (send_email's parameters, or post_invoice's `email_*`). */
export type EmailFields = {
  to?: unknown;
  cc?: unknown;
  bcc?: unknown;
  subject?: unknown;
  in_reply_to?: unknown;
  references?: unknown;
};

/**
 * The message for `fields` and exactly the approved `body` (pure); the Message-ID is fixed by `task`.
 * A field of the wrong shape is an InvalidEmailError; `notes` says which reply ids were dropped.
 */
export function buildEmail(
  data: EmailFields,
  body: string,
  task: string,
  from: string,
): OutgoingEmail & { notes: string[] } {
  const to = addressList('to', data.to, true) as string;
  const cc = addressList('cc', data.cc, false);
  const bcc = addressList('bcc', data.bcc, false);
  for (const field of ['subject', 'in_reply_to', 'references'] as const) {
    const value = data[field];
    if (value !== undefined && value !== null && typeof value !== 'string')
      throw new InvalidEmailError(`${field} must be text, got ${JSON.stringify(value)}`);
  }
  const subject = str(data.subject);
  if (subject && CONTROL.test(subject))
    throw new InvalidEmailError('subject contains a line break or control character');
  // The approval schema refuses such values already; an approval from elsewhere still never puts one in a header.
  const notes: string[] = [];
  const rawReplyTo = str(data.in_reply_to);
  const { inReplyTo, references, dropped } = replyThread(rawReplyTo, str(data.references));
  const badReplyTo = rawReplyTo !== undefined && inReplyTo === undefined;
  if (badReplyTo) {
    notes.push(
      `in_reply_to ${JSON.stringify(rawReplyTo.slice(0, 80))} is not an RFC 5322 Message-ID; sent without In-Reply-To`,
    );
  }
  const droppedReferences = dropped.length - (badReplyTo ? 1 : 0);
  if (droppedReferences > 0) {
    notes.push(`references: dropped ${droppedReferences} value(s) that are not RFC 5322 Message-IDs`);
  }
  return {
    from,
    to,
    cc,
    bcc,
    subject: inReplyTo ? replySubject(subject) : (subject ?? '(no subject)'),
    text: body,
    messageId: stableMessageId(task, from),
    inReplyTo,
    references: references.length > 0 ? references : undefined,
    notes,
  };
}

/** Every address the message goes to (to, cc, bcc), bare. */
export function envelopeRecipients(mail: OutgoingEmail): string[] {
  return [mail.to, mail.cc, mail.bcc].flatMap((list) => (list ? (parseAddressList(list) ?? []) : []));
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
    attachments: mail.attachments?.map((a) => ({ ...a })),
    date,
  });
  return composer.compile().build();
}

/**
 * What nodemailer's SMTPConnection.login takes: the password, or an XOAUTH2 token provider. A server that
 * refuses the token (`isRetry`) gets one freshly refreshed token; a revoked refresh token surfaces as
 * LoginRequired ("run `fte mail login` again").
 */
export function smtpLogin(
  auth: NonNullable<SmtpConfig['auth']>,
): SMTPConnection.AuthenticationCredentials | SMTPConnection.AuthenticationOAuth2 {
  if ('pass' in auth) return { credentials: { user: auth.user, pass: auth.pass } };
  const source = tokenSource(auth.oauthTokenFile);
  const provider = {
    getToken(isRetry: boolean, callback: (error: Error | null, token?: string) => void) {
      source.accessToken(isRetry).then(
        (token) => callback(null, token),
        (error: Error) => callback(error),
      );
    },
    buildXOAuth2Token(accessToken: string) {
      return Buffer.from(`user=${auth.user}\x01auth=Bearer ${accessToken}\x01\x01`, 'utf8').toString(
        'base64',
      );
    },
  };
  return { oauth2: provider as unknown as SMTPConnection.AuthenticationOAuth2['oauth2'] };
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
      from: parseAddress(mail.from) ?? mail.from,
      to: envelopeRecipients(mail),
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
        if (this.config.auth) {
          const auth = smtpLogin(this.config.auth);
          await phase<void>((done) => connection.login(auth, (e) => done(e ?? null)));
          if ('oauthTokenFile' in this.config.auth) await clearLoginNeeded(this.config.auth.oauthTokenFile);
        }
      } catch (error) {
        if (error instanceof LoginRequired) throw new SendFailure(error.message, 'not_sent');
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
