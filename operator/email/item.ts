import { createHash } from 'node:crypto';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { sanitizeTaskId } from '../../core/ids.js';
import { ItemFrontmatter } from '../../core/schemas.js';
import type { Address, AttachmentInfo, ParsedEmail } from './parse.js';

/**
 * Pure rendering of an email into vault files (DESIGN.md §2, ADR 0002): the item for a new message, the
 * section appended to a task for a follow-up in its thread, and the error file for a message that cannot
 * become a task. No I/O here.
 */

/** Where a message was read from: enough to find it again in the mailbox. */
export type MailSource = {
  user: string;
  host: string;
  mailbox: string;
  uidValidity: string;
  uid: number;
  /** INTERNALDATE: when the server received it. */
  internalDate?: Date;
  size?: number;
};

const ID_PREFIX = 'EMAIL_';

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 20);
}

/** The task id for a Message-ID (the same message always gets the same id, from any mailbox). */
export function taskIdForMessageId(messageId: string): string {
  return sanitizeTaskId(`${ID_PREFIX}${shortHash(`message-id:${messageId.trim()}`)}`);
}

/**
 * `EMAIL_<hash of the Message-ID>`, or, for a message without one, of the mailbox's UIDVALIDITY and the
 * message's UID (RFC 3501 §2.3.1.1: that pair names one message for good).
 */
export function emailTaskId(messageId: string | undefined, source: MailSource): string {
  if (messageId) return taskIdForMessageId(messageId);
  return sanitizeTaskId(
    `${ID_PREFIX}${shortHash(`uid:${source.user}@${source.host}/${source.mailbox};UIDVALIDITY=${source.uidValidity};UID=${source.uid}`)}`,
  );
}

/** An RFC 5092 IMAP URL naming the message (no password). */
export function imapUrl(source: MailSource): string {
  return `imap://${encodeURIComponent(source.user)}@${source.host}/${encodeURIComponent(source.mailbox)};UIDVALIDITY=${source.uidValidity}/;UID=${source.uid}`;
}

export function formatAddress(address: Address): string {
  if (!address.name) return address.address;
  const name = /^[\w .'-]*$/u.test(address.name) ? address.name : JSON.stringify(address.name);
  return `${name} <${address.address}>`;
}

const list = (addresses: Address[]) =>
  addresses.length ? addresses.map(formatAddress).join(', ') : undefined;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * The email's text as a fenced block: a stranger's message is shown as quoted text, so Obsidian never
 * renders its links, embeds or remote images (tracking pixels), and a drafter sees where it ends.
 */
export function fenced(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/~{3,}/g)].map((m) => m[0].length));
  const fence = '~'.repeat(Math.max(3, longest + 1));
  return `${fence}text\n${text}\n${fence}`;
}

function attachmentLines(attachments: AttachmentInfo[]): string[] {
  return attachments.map(
    (a) => `- ${a.name.replace(/[[\]`*_<>|]/g, '\\$&')} (${a.type}, ${formatBytes(a.size)})`,
  );
}

function receivedAt(email: ParsedEmail, source: MailSource, now: Date): Date {
  return source.internalDate ?? email.date ?? now;
}

export type RenderedItem = { id: string; text: string; data: ItemFrontmatter; body: string };

export type RenderOptions = {
  now: Date;
  /** Set when this message answers a task that is already finished: the new task links to it. */
  threadTask?: string;
};

/** The item file for a new message: `Needs_Action/email/<id>.md`. */
export function renderEmailItem(
  email: ParsedEmail,
  source: MailSource,
  options: RenderOptions,
): RenderedItem {
  const id = emailTaskId(email.messageId, source);
  const received = receivedAt(email, source, options.now);
  const data: Record<string, unknown> = {
    type: 'email',
    from: email.from ? formatAddress(email.from) : undefined,
    reply_to: list(email.replyTo.filter((r) => r.address !== email.from?.address)),
    to: list(email.to),
    cc: list(email.cc),
    subject: email.subject ?? '',
    received: received.toISOString(),
    sent: email.date && email.date.getTime() !== received.getTime() ? email.date.toISOString() : undefined,
    message_id: email.messageId,
    in_reply_to: email.inReplyTo,
    references: email.references.length ? email.references.join(' ') : undefined,
    priority: email.priority === 'high' ? 'high' : undefined,
    status: 'pending',
    attachments: email.attachments.length ? email.attachments : undefined,
    ...email.listHeaders,
    thread_task: options.threadTask,
    source: imapUrl(source),
    problems: email.problems.length ? email.problems : undefined,
  };
  const item = ItemFrontmatter.parse(data);
  const body = renderBody(email, source);
  return { id, text: stringifyMarkdown({ data: item, body }), data: item, body };
}

function renderBody(email: ParsedEmail, source: MailSource): string {
  const parts = ['## Email Content', ''];
  if (email.text) parts.push(fenced(email.text));
  else parts.push('_(no text in this message)_');
  if (email.truncatedChars > 0) {
    parts.push(
      '',
      `_(${email.truncatedChars} more characters not copied; the whole message is in the mailbox: ${imapUrl(source)})_`,
    );
  }
  if (email.fromHtml) parts.push('', '_(converted from HTML)_');
  if (email.attachments.length) {
    parts.push('', '## Attachments', '', ...attachmentLines(email.attachments), '');
    parts.push('_Attachments are not copied into the vault; they stay with the message in the mailbox._');
  }
  return `${parts.join('\n')}\n`;
}

/** The section appended to a task's item when a reply in its thread arrives while the task is open. */
export function renderFollowup(email: ParsedEmail, source: MailSource, now: Date): string {
  const received = receivedAt(email, source, now).toISOString();
  const from = email.from ? formatAddress(email.from) : '(unknown sender)';
  const lines = [
    '',
    `## Follow-up ${received} from \`${from.replace(/`/g, "'")}\``,
    '',
    `- Subject: ${(email.subject ?? '').replace(/[[\]`*_<>|]/g, '\\$&') || '(none)'}`,
    `- Message-ID: \`${email.messageId ?? '(none)'}\``,
    '',
    email.text ? fenced(email.text) : '_(no text in this message)_',
  ];
  if (email.truncatedChars > 0) lines.push('', `_(${email.truncatedChars} more characters in the mailbox)_`);
  if (email.attachments.length)
    lines.push('', 'Attachments (in the mailbox):', ...attachmentLines(email.attachments));
  return `${lines.join('\n')}\n`;
}

export type ErrorFacts = {
  reason: string;
  messageId?: string;
  from?: string;
  subject?: string;
  date?: Date;
  /** Whatever text could be read, shown (fenced) in the error file. */
  text?: string;
};

/** `Needs_Action/_errors/<id>.md` for a message that could not become a task (ADR 0001, Errors). */
export function renderEmailError(
  facts: ErrorFacts,
  source: MailSource,
  now: Date,
  keptOriginal: boolean,
): RenderedItem {
  const id = emailTaskId(facts.messageId, source);
  const data = ItemFrontmatter.parse({
    type: 'email',
    status: 'error',
    error: facts.reason,
    from: facts.from,
    subject: facts.subject,
    received: (source.internalDate ?? facts.date ?? now).toISOString(),
    message_id: facts.messageId,
    original_path: imapUrl(source),
    source: imapUrl(source),
    size: source.size,
  });
  const body = [
    '## Why this email is here',
    '',
    facts.reason,
    '',
    `The message is still in the mailbox: ${imapUrl(source)}.`,
    keptOriginal ? `Its raw bytes are kept beside this file as \`${id}.orig\`.` : '',
    'Read it in your mail client; move this file to `Done/` when it is handled.',
    '',
    ...(facts.text ? ['## What could be read', '', fenced(facts.text), ''] : []),
  ]
    .filter((line, i, all) => line !== '' || all[i - 1] !== '')
    .join('\n');
  return { id, text: stringifyMarkdown({ data, body }), data, body };
}
