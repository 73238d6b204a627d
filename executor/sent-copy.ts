import { ImapFlow } from 'imapflow';
import {
  type ImapConfig,
  ImapConfigError,
  imapAuth,
  imapConfigured,
  loadImapConfig,
} from '../core/imap-config.js';
import type { Logger } from '../core/log.js';
import { composeRaw, type OutgoingEmail } from './email.js';

/**
 * The owner's "Sent" copy (optional, off by default): after Local sends a reply through SMTP, the same
 * message is appended to the owner's Sent mailbox over IMAP, so it shows in their mail client's thread.
 * Turned on with `FTE_SENT_COPY=1` plus the `IMAP_*` settings on the Local machine.
 *
 * Idempotent: a copy is appended only if the Sent mailbox holds no message with that Message-ID yet (the
 * executor's Message-IDs are fixed per task), so a retry never files two copies, and a provider that files
 * its own copy (Gmail's SMTP does) is recognised. A failure here is logged and never touches the send.
 */

export type SentCopyResult =
  | { kind: 'appended'; mailbox: string; uid?: number }
  | { kind: 'present'; mailbox: string }
  | { kind: 'failed'; reason: string };

export interface SentCopy {
  file(mail: OutgoingEmail, sentAt: Date): Promise<SentCopyResult>;
}

/** The IMAP settings for sent copies, or undefined when they are off. Half a configuration is an error. */
export function loadSentCopyConfig(env: NodeJS.ProcessEnv): ImapConfig | undefined {
  const flag = (env.FTE_SENT_COPY ?? '').trim().toLowerCase();
  if (!['1', 'true', 'yes', 'on'].includes(flag)) return undefined;
  if (!imapConfigured(env)) {
    throw new ImapConfigError(
      'FTE_SENT_COPY=1 needs IMAP_HOST, IMAP_USER and IMAP_PASSWORD (or IMAP_PASSWORD_FILE, or IMAP_OAUTH_TOKEN_FILE)',
    );
  }
  return loadImapConfig(env);
}

export class ImapSentCopy implements SentCopy {
  constructor(
    private readonly config: ImapConfig,
    private readonly log?: Logger,
  ) {}

  async file(mail: OutgoingEmail, sentAt: Date): Promise<SentCopyResult> {
    let auth: Awaited<ReturnType<typeof imapAuth>>;
    try {
      auth = await imapAuth(this.config);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log?.warn(
        { messageId: mail.messageId, err: reason },
        'sent copy not filed (the email itself was sent)',
      );
      return { kind: 'failed', reason };
    }
    const client = new ImapFlow({
      host: this.config.host,
      port: this.config.port,
      secure: this.config.secure,
      auth,
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
    });
    try {
      await client.connect();
      const mailbox = await this.sentMailbox(client);
      const lock = await client.getMailboxLock(mailbox);
      try {
        const found = await client.search({ header: { 'message-id': mail.messageId } }, { uid: true });
        if (Array.isArray(found) && found.length > 0) return { kind: 'present', mailbox };
        const raw = await composeRaw(mail, sentAt);
        const appended = await client.append(mailbox, raw, ['\\Seen'], sentAt);
        const result: SentCopyResult = {
          kind: 'appended',
          mailbox,
          uid: appended ? appended.uid : undefined,
        };
        this.log?.info({ mailbox, messageId: mail.messageId }, 'sent copy filed');
        return result;
      } finally {
        lock.release();
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log?.warn(
        { messageId: mail.messageId, err: reason },
        'sent copy not filed (the email itself was sent)',
      );
      return { kind: 'failed', reason };
    } finally {
      if (client.usable) await client.logout().catch(() => client.close());
      else client.close();
    }
  }

  /** IMAP_SENT_MAILBOX, else the mailbox marked \Sent (RFC 6154), else `Sent` (created if missing). */
  private async sentMailbox(client: ImapFlow): Promise<string> {
    if (this.config.sentMailbox) return this.config.sentMailbox;
    const boxes = await client.list();
    const special = boxes.find((box) => box.specialUse === '\\Sent');
    if (special) return special.path;
    const named = boxes.find((box) => box.path.toLowerCase() === 'sent');
    if (named) return named.path;
    await client.mailboxCreate('Sent');
    return 'Sent';
  }
}
