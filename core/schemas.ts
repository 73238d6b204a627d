import { z } from 'zod';
import { parseAddressList } from './address.js';
import { MessageIdListSchema, MessageIdSchema } from './message-id.js';

/**
 * File formats of the vault (DESIGN.md §2). Every object schema is loose: fields we do not know are kept,
 * so a file written by another tool (or a newer fte) survives a round trip. Field variants seen in the
 * hackathon vaults (`action_type`, `expires_at`, `created_at`, `sender`, …) are accepted and mapped to
 * the canonical names by `canonicalize` before validation.
 */

const isoTimestamp = z
  .string()
  .refine((value) => !Number.isNaN(Date.parse(value)), { message: 'must be an ISO-8601 date-time' });

export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
const priority = z.preprocess(
  (value) => (value === 'medium' ? 'normal' : typeof value === 'string' ? value.toLowerCase() : value),
  z.enum(PRIORITIES),
);

/** Recipients of an action: one address or a comma-separated list, each `a@x.com` or `Name <a@x.com>`. */
const recipients = z.string().refine((value) => parseAddressList(value) !== undefined, {
  message: 'must be email addresses like a@example.com or "Name <a@example.com>", separated by commas',
});

/**
 * Frontmatter of an item file: anything that lands in `Needs_Action/<domain>/`. Header values from other
 * tools (`message_id`, `in_reply_to`, `references` may hold Gmail API ids, `from` free text) are kept as
 * strings here: the handlers decide what is usable (operator/handlers/email.ts) and leave the rest out
 * of anything sent, so one odd value never fails the whole item.
 */
export const ItemFrontmatter = z.looseObject({
  type: z.string().min(1),
  domain: z.string().optional(),
  title: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  cc: z.string().optional(),
  subject: z.string().optional(),
  received: isoTimestamp.optional(),
  message_id: z.string().optional(),
  in_reply_to: z.string().optional(),
  references: z.string().optional(),
  priority: priority.optional(),
  status: z.string().optional(),
});
export type ItemFrontmatter = z.infer<typeof ItemFrontmatter>;

export const ACTIONS = [
  'send_email',
  'post_social',
  'post_invoice',
  'payment',
  'register_payment',
  'send_whatsapp',
] as const;
export type Action = (typeof ACTIONS)[number];

export const APPROVAL_STATUSES = [
  'pending',
  'approved',
  'rejected',
  'expired',
  'executed',
  'failed',
  'uncertain',
  /** Local refused to execute it (unsigned, edited after signing, expired); `refusal_reason` says why. */
  'refused',
] as const;

/** Frontmatter of an approval request (`Pending_Approval/<domain>/<id>.md`). */
export const ApprovalFrontmatter = z.looseObject({
  type: z.literal('approval_request'),
  task: z.string().min(1),
  action: z.enum(ACTIONS),
  domain: z.string().optional(),
  reason: z.string().optional(),
  created: isoTimestamp,
  expires: isoTimestamp,
  status: z.enum(APPROVAL_STATUSES),
  content_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
  /** Action parameters: refused here when they do not fit, so a bad value is never passed on to a send. */
  to: recipients.optional(),
  subject: z.string().optional(),
  in_reply_to: MessageIdSchema.optional(),
  references: MessageIdListSchema.optional(),
});
export type ApprovalFrontmatter = z.infer<typeof ApprovalFrontmatter>;

/** Keys of an approval request that describe the request itself; every other key is an action parameter. */
export const APPROVAL_META_KEYS = new Set([
  'type',
  'task',
  'action',
  'domain',
  'reason',
  'created',
  'expires',
  'status',
  'content_sha256',
  'source',
  'drafter',
  'approved_by',
  'approved_at',
  'rejected_at',
  'rejection_reason',
  'result',
  'executed_at',
  'error',
  // Written by the local executive when it signs, refuses or executes an approval (executor/).
  'approval_signature',
  'approved_via',
  'original_content_sha256',
  'refused_at',
  'refusal_reason',
  'sent_message_id',
  'idempotency_key',
]);

export const UPDATE_KINDS = [
  'heartbeat',
  'approval_requested',
  'task_failed',
  'approval_expired',
  'info',
] as const;

/** A cloud → local signal in `Updates/`: one file each, never edited after it is written. */
export const UpdateFrontmatter = z.looseObject({
  type: z.literal('update'),
  kind: z.enum(UPDATE_KINDS),
  agent: z.string().min(1),
  created: isoTimestamp,
  task: z.string().optional(),
  summary: z.string().optional(),
});
export type UpdateFrontmatter = z.infer<typeof UpdateFrontmatter>;

/** One line of `Logs/YYYY-MM-DD.json`. */
export const AuditRecord = z.looseObject({
  timestamp: isoTimestamp,
  action_type: z.string().min(1),
  actor: z.string().min(1),
  target: z.string(),
  parameters: z.record(z.string(), z.unknown()),
  approval_status: z.string(),
  approved_by: z.string().nullable(),
  result: z.string(),
  task: z.string().optional(),
  idempotency_key: z.string().optional(),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

/** Field names used by other tools for the same thing, mapped to ours. The canonical name wins if both exist. */
const ALIASES: Record<string, string> = {
  action_type: 'action',
  expires_at: 'expires',
  expiry: 'expires',
  created_at: 'created',
  sender: 'from',
  recipient_email: 'to',
  received_at: 'received',
  date: 'received',
  task_id: 'task',
  messageId: 'message_id',
  message_id_header: 'message_id',
  inReplyTo: 'in_reply_to',
};

export function canonicalize(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...data };
  for (const [alias, canonical] of Object.entries(ALIASES)) {
    if (alias in out && !(canonical in out)) out[canonical] = out[alias];
    if (alias in out) delete out[alias];
  }
  return out;
}
