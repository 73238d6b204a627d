import { z } from 'zod';

/**
 * RFC 5322 msg-ids (`<id-left@id-right>`), the values of Message-ID, In-Reply-To and References. A vault
 * written by another tool may hold something else there (a Gmail API id like `18c2f3a9…`, a bare
 * `id@host`, a URL): such a value is never put into a header of an outgoing message.
 */

/** Longest msg-id accepted, brackets included (RFC 5322 allows 998 per line; real ones are < 120). */
export const MAX_MESSAGE_ID_LENGTH = 250;

const ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~\\-";
/** id-left: dot-atom text (obsolete forms with repeated dots, seen in the wild, are tolerated). */
const LEFT = `[${ATEXT}.]+`;
/** id-right: dot-atom text or a no-fold literal `[…]`. */
const RIGHT = `(?:[${ATEXT}.]+|\\[[\\x21-\\x5a\\x5e-\\x7e]*\\])`;
const MSG_ID = new RegExp(`^<${LEFT}@${RIGHT}>$`);

/** Whether `value` is exactly one msg-id: brackets, one `@`, no white space or control characters. */
export function isMessageId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_MESSAGE_ID_LENGTH && MSG_ID.test(value);
}

/**
 * The msg-ids of a References-like value (white-space or comma separated), in order and without repeats,
 * and the tokens that are not msg-ids (for a note saying what was left out).
 */
export function parseMessageIdList(value: string): { ids: string[]; invalid: string[] } {
  const ids: string[] = [];
  const invalid: string[] = [];
  for (const token of value
    .split(/[\s,]+/)
    .filter(Boolean)
    .slice(0, 200)) {
    if (isMessageId(token)) {
      if (!ids.includes(token)) ids.push(token);
    } else invalid.push(token);
  }
  return { ids, invalid };
}

/** zod: one msg-id, unchanged (no trimming: parameters are hashed as written) (for `in_reply_to`, `message_id` of files fte writes). */
export const MessageIdSchema = z
  .string()
  .refine(isMessageId, { message: 'must be one RFC 5322 Message-ID like <id@host>' });

/** zod: a References value, msg-ids separated by white space. */
export const MessageIdListSchema = z
  .string()
  .refine((value) => value !== '' && parseMessageIdList(value).invalid.length === 0, {
    message: 'must be RFC 5322 Message-IDs like <id@host> separated by spaces',
  });
