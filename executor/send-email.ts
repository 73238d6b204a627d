import type { Logger } from 'pino';
import { idempotencyKey } from './decisions.js';
import { buildReply, classifySendError, type MailTransport, type OutgoingEmail } from './email.js';
import type { Ledger } from './ledger.js';
import type { Approval } from './signature.js';

/**
 * Sends one approved email at most once. The ledger gets an fsync'd intent before the SMTP conversation
 * and the outcome after it; whatever the ledger already says for this approval decides first.
 */

export type SendOutcome =
  | {
      kind: 'sent';
      key: string;
      mail: OutgoingEmail;
      response: string;
      accepted: string[];
      rejected: string[];
    }
  /** The ledger says it was sent before (a finish that did not complete, or a replayed approval). */
  | { kind: 'already_sent'; key: string; messageId?: string }
  | { kind: 'uncertain'; key: string; reason: string }
  | { kind: 'failed'; key: string; reason: string }
  /** DRY_RUN: logged instead of sent, once; it stays approved. */
  | { kind: 'dry_run'; key: string; mail: OutgoingEmail }
  /** Nothing left the machine; it stays approved and is tried on a later pass. */
  | { kind: 'deferred'; key: string; reason: string };

export type EmailSenderOptions = {
  ledger: Ledger;
  /** Undefined when no SMTP server is configured. */
  transport?: MailTransport;
  from: string;
  dryRun: boolean;
  emailsPerHour: number;
  clock: () => Date;
  log: Logger;
  /** Test hook: `FTE_TEST_CRASH_AFTER_INTENT=1` kills the process right after the intent is on disk. */
  crashAfterIntent?: boolean;
};

const HOUR_MS = 3_600_000;

export class EmailSender {
  constructor(private readonly o: EmailSenderOptions) {}

  async send(approval: Approval): Promise<SendOutcome> {
    const { ledger, clock, log } = this.o;
    const key = idempotencyKey(approval);
    const task = approval.data.task;
    const prior = await ledger.state(key);
    if (prior.state === 'sent') return { kind: 'already_sent', key, messageId: prior.last?.message_id };
    if (prior.state === 'failed')
      return { kind: 'failed', key, reason: prior.last?.detail ?? 'the server refused it' };
    if (prior.state === 'uncertain') {
      return {
        kind: 'uncertain',
        key,
        reason:
          prior.last?.detail ??
          'a send was started but its outcome was never recorded (the executor stopped mid-send); it may or may not have gone out',
      };
    }
    const mail = buildReply(approval, this.o.from);
    if (this.o.dryRun) {
      if (prior.dryRun) return { kind: 'deferred', key, reason: 'DRY_RUN: logged, not sent' };
      log.info(
        {
          task,
          to: mail.to,
          subject: mail.subject,
          messageId: mail.messageId,
          inReplyTo: mail.inReplyTo,
          bytes: mail.text.length,
        },
        'DRY_RUN: would send this email; nothing sent',
      );
      await ledger.append({
        ts: clock().toISOString(),
        key,
        task,
        action: 'send_email',
        kind: 'dry_run',
        message_id: mail.messageId,
      });
      return { kind: 'dry_run', key, mail };
    }
    if (!this.o.transport) {
      return {
        kind: 'deferred',
        key,
        reason: 'no SMTP server configured (set SMTP_HOST and SMTP_FROM)',
      };
    }
    const now = clock();
    const recent = await ledger.countSince('send_email', new Date(now.getTime() - HOUR_MS));
    if (recent >= this.o.emailsPerHour) {
      return {
        kind: 'deferred',
        key,
        reason: `rate limit: ${recent} emails sent in the last hour (limit ${this.o.emailsPerHour})`,
      };
    }

    await ledger.append({
      ts: now.toISOString(),
      key,
      task,
      action: 'send_email',
      kind: 'intent',
      message_id: mail.messageId,
    });
    if (this.o.crashAfterIntent) process.kill(process.pid, 'SIGKILL');
    try {
      const result = await this.o.transport.send(mail);
      await ledger.append({
        ts: clock().toISOString(),
        key,
        task,
        action: 'send_email',
        kind: 'outcome',
        outcome: 'sent',
        message_id: mail.messageId,
        detail: result.response.slice(0, 200),
      });
      return {
        kind: 'sent',
        key,
        mail,
        response: result.response,
        accepted: result.accepted,
        rejected: result.rejected,
      };
    } catch (error) {
      const meaning = classifySendError(error);
      const reason = error instanceof Error ? error.message : String(error);
      await ledger.append({
        ts: clock().toISOString(),
        key,
        task,
        action: 'send_email',
        kind: 'outcome',
        outcome: meaning,
        message_id: mail.messageId,
        detail: reason.slice(0, 300),
      });
      if (meaning === 'failed') return { kind: 'failed', key, reason };
      if (meaning === 'uncertain') {
        return {
          kind: 'uncertain',
          key,
          reason: `the connection failed mid-send (${reason}); it may have been delivered`,
        };
      }
      return { kind: 'deferred', key, reason: `not sent, will retry: ${reason}` };
    }
  }
}
