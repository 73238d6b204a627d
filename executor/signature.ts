import { createHmac, timingSafeEqual } from 'node:crypto';
import { approvalContentHash, approvalParameters, canonicalJson, type Decoded } from '../core/codec.js';
import type { ApprovalFrontmatter } from '../core/schemas.js';

/**
 * Signed approvals (DESIGN.md §2): HMAC-SHA256, with the key that exists only on the Local machine, over
 * the task id, the action, its parameters, the content hash, the expiry and who approved when. Pure.
 */

export const SIGNATURE_PREFIX = 'hmac-sha256:';

export type Approval = Decoded<ApprovalFrontmatter>;

/** Why an approval in `Approved/` must not be executed. */
export type RefusalCode = 'unsigned' | 'edited' | 'forged' | 'expired' | 'mismatch' | 'not_approved';
export type Verdict = { ok: true } | { ok: false; code: RefusalCode; reason: string };

/** The exact bytes the signature covers. */
export function signaturePayload(data: ApprovalFrontmatter): string {
  return canonicalJson({
    v: 1,
    task: data.task,
    action: data.action,
    parameters: approvalParameters(data),
    content_sha256: data.content_sha256,
    expires: data.expires,
    approved_by: data.approved_by ?? null,
    approved_at: data.approved_at ?? null,
  });
}

export function computeSignature(key: Buffer, data: ApprovalFrontmatter): string {
  return SIGNATURE_PREFIX + createHmac('sha256', key).update(signaturePayload(data)).digest('hex');
}

export function isExpired(data: ApprovalFrontmatter, now: Date): boolean {
  return Date.parse(data.expires) <= now.getTime();
}

/**
 * The owner's decision on a draft, as it stands now: the content hash is taken over what the owner saw
 * (they may have edited the draft before approving), then everything is signed. Refuses an expired request.
 */
export function signApproval(
  key: Buffer,
  approval: Approval,
  options: { now: Date; by: string; via: 'cli' | 'obsidian' | 'status_page' },
): Approval {
  const data = { ...approval.data };
  const hash = approvalContentHash(data.action, approvalParameters(data), approval.body);
  if (hash !== data.content_sha256) {
    data.original_content_sha256 ??= data.content_sha256;
    data.content_sha256 = hash;
  }
  data.status = 'approved';
  data.approved_by = options.by;
  data.approved_at = options.now.toISOString();
  data.approved_via = options.via;
  delete data.approval_signature;
  delete data.refusal_reason;
  delete data.refused_at;
  delete data.error;
  data.approval_signature = computeSignature(key, data);
  return { data, body: approval.body };
}

/** Checks an approval before it is executed: signed here, unchanged since, not expired, about this task. */
export function verifyApproval(key: Buffer, id: string, approval: Approval, now: Date): Verdict {
  const { data, body } = approval;
  if (data.task !== id) {
    return {
      ok: false,
      code: 'mismatch',
      reason: `its task field ${JSON.stringify(data.task)} is not ${id}`,
    };
  }
  if (data.status !== 'approved') {
    return { ok: false, code: 'not_approved', reason: `its status is ${data.status}, not approved` };
  }
  const signature = data.approval_signature;
  if (typeof signature !== 'string' || !signature.startsWith(SIGNATURE_PREFIX)) {
    return {
      ok: false,
      code: 'unsigned',
      reason:
        'not approved on this machine: it carries no owner signature (a file that arrives in Approved/ through a sync is not an approval); review it and run fte approve',
    };
  }
  if (approvalContentHash(data.action, approvalParameters(data), body) !== data.content_sha256) {
    return {
      ok: false,
      code: 'edited',
      reason: 'the draft or its parameters changed after it was approved; review it and approve again',
    };
  }
  const expected = Buffer.from(computeSignature(key, data));
  const actual = Buffer.from(signature);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    return {
      ok: false,
      code: 'forged',
      reason: 'the approval signature does not verify with this machine’s approval key',
    };
  }
  if (isExpired(data, now)) {
    return { ok: false, code: 'expired', reason: `the approval request expired at ${data.expires}` };
  }
  return { ok: true };
}
