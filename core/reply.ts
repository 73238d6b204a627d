import { isMessageId, parseMessageIdList } from './message-id.js';

/** A reply prefix already there (English and the common European ones). */
const REPLY_PREFIX = /^(?:re|aw|sv|antw)\s*:/i;

/** "Re: " + subject, never doubled: a subject that already starts with a reply prefix stays as it is. */
export function replySubject(subject: string | undefined): string {
  const trimmed = (subject ?? '').trim();
  if (trimmed === '') return 'Re: (no subject)';
  return REPLY_PREFIX.test(trimmed) ? trimmed : `Re: ${trimmed}`;
}

/** In-Reply-To and References of a reply, and the values left out because they are not msg-ids. */
export type ReplyThread = { inReplyTo?: string; references: string[]; dropped: string[] };

/**
 * The threading headers of a reply to a message with `messageId` and `references` (RFC 5322 §3.6.4:
 * References = the parent's References, then the parent's Message-ID). Only valid msg-ids are used;
 * anything else (a Gmail API id, free text) is returned in `dropped` and goes into no header.
 */
export function replyThread(messageId: string | undefined, references: string | undefined): ReplyThread {
  const dropped: string[] = [];
  const parent = messageId?.trim();
  let inReplyTo: string | undefined;
  if (parent) {
    if (isMessageId(parent)) inReplyTo = parent;
    else dropped.push(parent);
  }
  const listed = references ? parseMessageIdList(references) : { ids: [], invalid: [] };
  dropped.push(...listed.invalid);
  const refs = listed.ids.filter((id) => id !== inReplyTo);
  if (inReplyTo) refs.push(inReplyTo);
  return { inReplyTo, references: refs, dropped };
}
