import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditLog } from '../core/audit.js';
import { stringifyMarkdown } from '../core/frontmatter.js';
import { writeFileAtomic, writeFileIfAbsent } from '../core/fsutil.js';
import { FOLDERS, itemPaths } from '../core/layout.js';
import type { Ledger } from './ledger.js';
import { type Approval, isExpired, signApproval } from './signature.js';
import {
  allInProgressPaths,
  allPendingPaths,
  pendingPaths,
  readApproval,
  removeIfPresent,
  retireItem,
  writeDoc,
} from './vault-files.js';

/**
 * The owner's decisions as file operations (no git): approve = sign and move into `Approved/`, reject =
 * move into `Rejected/` with the item beside it, refuse = keep the file where it is with the reason. The
 * executor commits them (it is the one git owner of the local clone); each returns the paths it touched.
 */

export type DecisionContext = {
  root: string;
  /** Agent name of this machine (the audit actor). */
  agent: string;
  /** Who the owner is, for `approved_by` (default `owner`). */
  owner: string;
  audit: AuditLog;
  clock: () => Date;
};

export class DecisionError extends Error {
  constructor(
    message: string,
    readonly kind: 'not_found' | 'refused' | 'conflict',
  ) {
    super(message);
  }
}

/** Statuses an approval in `Approved/` may be (re-)approved from by the owner. */
const REAPPROVABLE = new Set(['pending', 'approved', 'refused']);

/** Signs the owner's approval of task `id` (from `Pending_Approval/<d>/` or an unsigned/refused `Approved/` file). */
export async function approveTask(
  ctx: DecisionContext,
  key: Buffer,
  id: string,
  via: 'cli' | 'obsidian' | 'status_page',
): Promise<{ path: string; approval: Approval; touched: string[] }> {
  const now = ctx.clock();
  const pending = await pendingPaths(ctx.root, id);
  const approvedPath = itemPaths.approved(id);
  const inApproved = existsSync(join(ctx.root, approvedPath));
  const source = inApproved ? approvedPath : pending[0];
  if (!source) {
    throw new DecisionError(`no approval request ${id} in Pending_Approval/ or Approved/`, 'not_found');
  }
  const read = await readApproval(ctx.root, source);
  if (read.kind === 'missing') throw new DecisionError(`${source} disappeared`, 'not_found');
  if (read.kind !== 'ok')
    throw new DecisionError(`${source} is not a valid approval request: ${read.reason}`, 'refused');
  const { approval } = read;
  if (approval.data.task !== id) {
    throw new DecisionError(
      `${source} is about task ${JSON.stringify(approval.data.task)}, not ${id}`,
      'refused',
    );
  }
  if (inApproved && !REAPPROVABLE.has(approval.data.status)) {
    throw new DecisionError(
      `${approvedPath} is ${approval.data.status}; there is nothing to approve`,
      'conflict',
    );
  }
  if (isExpired(approval.data, now)) {
    throw new DecisionError(
      `${id} expired at ${approval.data.expires}; ask for a new draft instead of approving this one`,
      'refused',
    );
  }
  const signed = signApproval(key, approval, { now, by: ctx.owner, via });
  const text = stringifyMarkdown(signed);
  if (inApproved) {
    await writeFileAtomic(join(ctx.root, approvedPath), text);
  } else if (!(await writeFileIfAbsent(join(ctx.root, approvedPath), text))) {
    throw new DecisionError(`${approvedPath} appeared meanwhile; run the command again`, 'conflict');
  }
  for (const path of pending) await removeIfPresent(ctx.root, path);
  await ctx.audit.append({
    action_type: 'approval_granted',
    actor: ctx.agent,
    target: approvedPath,
    parameters: {
      action: signed.data.action,
      via,
      content_sha256: signed.data.content_sha256,
      edited_by_owner: signed.data.original_content_sha256 !== undefined,
    },
    approval_status: 'approved',
    approved_by: ctx.owner,
    result: 'signed',
    task: id,
  });
  return {
    path: approvedPath,
    approval: signed,
    touched: [approvedPath, ...(await allPendingPaths(ctx.root, id)), FOLDERS.logs],
  };
}

/**
 * Rejects task `id`: its approval request moves to `Rejected/<id>.md` (`status: rejected`) and its item to
 * `Rejected/<id>.item.md`. An approval whose sending has started (the ledger has a record for it) is not
 * rejectable any more: it is sent, or Uncertain and waits for `fte resolve`.
 */
export async function rejectTask(
  ctx: DecisionContext,
  id: string,
  reason: string | undefined,
  via: 'cli' | 'obsidian' | 'status_page',
  ledger?: Ledger,
): Promise<{ path: string; touched: string[] }> {
  const now = ctx.clock();
  const rejectedPath = itemPaths.rejected(id);
  const approvedPath = itemPaths.approved(id);
  const candidates = [
    ...(existsSync(join(ctx.root, rejectedPath)) ? [rejectedPath] : []),
    ...(await pendingPaths(ctx.root, id)),
    ...(existsSync(join(ctx.root, approvedPath)) ? [approvedPath] : []),
  ];
  const source = candidates[0];
  if (!source)
    throw new DecisionError(`no approval request ${id} in Pending_Approval/ or Approved/`, 'not_found');
  const read = await readApproval(ctx.root, source);
  if (read.kind === 'missing' || read.kind === 'unreadable') {
    throw new DecisionError(
      `${source} cannot be read: ${read.kind === 'unreadable' ? read.reason : 'missing'}`,
      'refused',
    );
  }
  const data = read.raw.data;
  if (source === rejectedPath && data.status !== 'pending' && data.status !== 'approved') {
    throw new DecisionError(`${id} is already ${String(data.status)} in Rejected/`, 'conflict');
  }
  if (data.status === 'executed' || data.status === 'uncertain') {
    throw new DecisionError(`${id} is ${String(data.status)}; it can no longer be rejected`, 'conflict');
  }
  if (ledger && read.kind === 'ok') {
    const { state } = await ledger.state(idempotencyKey(read.approval));
    if (state === 'sent' || state === 'uncertain') {
      throw new DecisionError(
        `${id} has already been sent or may have been (${state}); it cannot be rejected`,
        'conflict',
      );
    }
  }
  const rejected = {
    data: {
      ...data,
      status: 'rejected',
      rejected_at: now.toISOString(),
      rejection_reason: reason ?? `rejected by the owner (${via})`,
    },
    body: read.raw.body,
  };
  await writeDoc(ctx.root, rejectedPath, rejected);
  for (const path of candidates) if (path !== rejectedPath) await removeIfPresent(ctx.root, path);
  const itemTouched = await retireItem(ctx.root, id, data.source, 'rejected', 'rejected');
  await ctx.audit.append({
    action_type: 'approval_rejected',
    actor: ctx.agent,
    target: rejectedPath,
    parameters: { action: data.action ?? null, via, reason: rejected.data.rejection_reason },
    approval_status: 'rejected',
    approved_by: null,
    result: 'rejected',
    task: id,
  });
  return {
    path: rejectedPath,
    touched: [
      rejectedPath,
      approvedPath,
      itemPaths.rejectedItem(id),
      ...itemTouched,
      ...(await allPendingPaths(ctx.root, id)),
      ...(await allInProgressPaths(ctx.root, id)),
      FOLDERS.logs,
    ],
  };
}

/** Marks an approval as refused where it lies (it stays visible, with the reason) and audits it. */
export async function refuseApproval(
  ctx: DecisionContext,
  path: string,
  id: string,
  raw: { data: Record<string, unknown>; body: string },
  code: string,
  reason: string,
): Promise<string[]> {
  const now = ctx.clock();
  await writeDoc(ctx.root, path, {
    data: {
      ...raw.data,
      status: 'refused',
      refused_at: now.toISOString(),
      refusal_reason: reason,
      error: `refused: ${reason}`,
    },
    body: raw.body,
  });
  await ctx.audit.append({
    action_type: 'approval_refused',
    actor: ctx.agent,
    target: path,
    parameters: { code, reason, action: raw.data.action ?? null },
    approval_status: 'refused',
    approved_by: typeof raw.data.approved_by === 'string' ? raw.data.approved_by : null,
    result: 'refused',
    task: id,
  });
  return [path, FOLDERS.logs];
}

/** The ledger key of an approval: the task and exactly what was approved. */
export function idempotencyKey(approval: Approval): string {
  return `${approval.data.action}:${approval.data.task}:${approval.data.content_sha256.slice(0, 16)}`;
}

/**
 * The owner's word on an Uncertain send: `sent` (it did go out: finish without sending) or `not_sent`
 * (it did not: send it again, with the same Message-ID). Only an approval in `Approved/` with
 * `status: uncertain` can be resolved.
 */
export async function resolveTask(
  ctx: DecisionContext,
  ledger: Ledger,
  id: string,
  outcome: 'sent' | 'not_sent',
): Promise<{ path: string; touched: string[] }> {
  const path = itemPaths.approved(id);
  const read = await readApproval(ctx.root, path);
  if (read.kind === 'missing') throw new DecisionError(`no approval ${id} in Approved/`, 'not_found');
  if (read.kind !== 'ok')
    throw new DecisionError(`${path} is not a valid approval: ${read.reason}`, 'refused');
  if (read.approval.data.status !== 'uncertain') {
    throw new DecisionError(
      `${id} is ${read.approval.data.status}, not uncertain; there is nothing to resolve`,
      'conflict',
    );
  }
  const key = idempotencyKey(read.approval);
  await ledger.append({
    ts: ctx.clock().toISOString(),
    key,
    task: id,
    action: read.approval.data.action,
    kind: 'resolution',
    outcome,
    detail: `resolved by ${ctx.owner}`,
  });
  const data: Record<string, unknown> = { ...read.approval.data, status: 'approved' };
  delete data.error;
  await writeDoc(ctx.root, path, { data, body: read.approval.body });
  await ctx.audit.append({
    action_type: 'send_resolved',
    actor: ctx.agent,
    target: path,
    parameters: { outcome },
    approval_status: 'approved',
    approved_by: ctx.owner,
    result: outcome === 'sent' ? 'owner_says_sent' : 'owner_says_not_sent',
    task: id,
    idempotency_key: key,
  });
  return { path, touched: [path, FOLDERS.logs] };
}
