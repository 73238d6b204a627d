import { createHash } from 'node:crypto';
import type { AuditLog } from '../core/audit.js';
import { approvalParameters } from '../core/codec.js';
import { EXIT, FteError } from '../core/errors.js';
import { stringifyMarkdown } from '../core/frontmatter.js';
import { FOLDERS, itemPaths } from '../core/layout.js';
import { idempotencyKey } from './actions/at-most-once.js';
import type { ActionRegistry } from './actions/index.js';
import { InvalidActionError, type Prepared } from './actions/types.js';
import type { Ledger } from './ledger.js';
import { type Approval, isExpired, signApproval } from './signature.js';
import { TaskFiles } from './vault-files.js';

export { idempotencyKey };

/**
 * The owner's decisions as file operations (no git): approve = sign and move into `Approved/`, reject =
 * move into `Rejected/` with the item beside it, refuse = keep the file where it is with the reason. The
 * executor commits them (it is the one git owner of the local clone); each returns the paths it touched.
 * Every decision is also recorded in the laptop's ledger (outside the working tree): the owner's last word
 * outlives whatever files the remote later holds.
 */

export type DecisionContext = {
  root: string;
  /** Agent name of this machine (the audit actor). */
  agent: string;
  /** Who the owner is, for `approved_by` (default `owner`). */
  owner: string;
  audit: AuditLog;
  clock: () => Date;
  /** The laptop's ledger: decisions are recorded there, and a sent task is never approved or rejected again. */
  ledger?: Ledger;
  /** The executors: an approval they cannot show in full (an unknown parameter) is refused, not signed. */
  actions?: ActionRegistry;
  /** Task-file access; defaults to one over `root`. */
  files?: TaskFiles;
};

/**
 * The owner's decision cannot be carried out: `not_found` (no such approval: exit 4, like `fte claim`),
 * `refused` (the file or the approval does not allow it) or `conflict` (its state does not): exit 1.
 */
export class DecisionError extends FteError {
  constructor(
    message: string,
    readonly kind: 'not_found' | 'refused' | 'conflict',
  ) {
    super(message, { exitCode: kind === 'not_found' ? EXIT.missing : EXIT.failure });
  }
}

const filesOf = (ctx: DecisionContext) => ctx.files ?? new TaskFiles(ctx.root);

/** Statuses an approval in `Approved/` may be (re-)approved from by the owner. */
const REAPPROVABLE = new Set(['pending', 'approved', 'refused']);

/** Every parameter of an approval as `[key, value]` lines, for actions this machine has no executor for. */
function rawEffect(approval: Approval): Array<[string, string]> {
  return Object.entries(approvalParameters(approval.data)).map(([k, v]) => [
    k,
    typeof v === 'string' ? v : JSON.stringify(v),
  ]);
}

/**
 * What the owner was shown before deciding (the status page): the digest of the request file as shown
 * (a request that changed since is refused, never signed unseen) and the owner's edit of the draft.
 */
export type ShownRequest = { seenSha256?: string; body?: string };

/** sha256 hex of an approval request's exact text: what `ShownRequest.seenSha256` is compared with. */
export function requestDigest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Signs the owner's approval of task `id` (from `Pending_Approval/<d>/` or an unsigned/refused `Approved/`
 * file). Returns what the approval does (`effect`: every recipient and effect) for the owner to see.
 */
export async function approveTask(
  ctx: DecisionContext,
  key: Buffer,
  id: string,
  via: 'cli' | 'obsidian' | 'status_page',
  shown: ShownRequest = {},
): Promise<{
  path: string;
  approval: Approval;
  touched: string[];
  effect: Array<[string, string]>;
  notes: string[];
}> {
  const files = filesOf(ctx);
  const now = ctx.clock();
  const pending = await files.pendingPaths(id);
  const approvedPath = itemPaths.approved(id);
  const inApproved = await files.isFile(approvedPath);
  const source = inApproved ? approvedPath : pending[0];
  if (!source) {
    throw new DecisionError(`no approval request ${id} in Pending_Approval/ or Approved/`, 'not_found');
  }
  const read = await files.readApproval(source);
  if (read.kind === 'missing') throw new DecisionError(`${source} disappeared`, 'not_found');
  if (read.kind === 'unsafe') {
    throw new DecisionError(
      `${read.entry.path} is ${read.entry.reason}; it is never read or approved`,
      'refused',
    );
  }
  if (read.kind !== 'ok')
    throw new DecisionError(`${source} is not a valid approval request: ${read.reason}`, 'refused');
  if (shown.seenSha256 !== undefined && requestDigest(read.text) !== shown.seenSha256) {
    throw new DecisionError(
      `${id} changed since it was shown (a sync brought a new version); look at it again before approving`,
      'conflict',
    );
  }
  const approval = shown.body === undefined ? read.approval : { ...read.approval, body: shown.body };
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
    await ctx.ledger?.append({
      ts: now.toISOString(),
      key: idempotencyKey(approval),
      task: id,
      action: approval.data.action,
      kind: 'expired',
      detail: `expired at ${approval.data.expires}`,
    });
    throw new DecisionError(
      `${id} expired at ${approval.data.expires}; ask for a new draft instead of approving this one`,
      'refused',
    );
  }
  // What the signature will cover, as the executor will carry it out: refused if it cannot be shown in full.
  let effect = rawEffect(approval);
  let notes: string[] = [];
  const executor = ctx.actions?.get(approval.data.action);
  if (executor) {
    let prepared: Prepared<unknown>;
    try {
      prepared = executor.prepare(approval);
    } catch (error) {
      if (error instanceof InvalidActionError)
        throw new DecisionError(`${id} cannot be approved: ${error.message}`, 'refused');
      throw error;
    }
    effect = prepared.effect;
    notes = prepared.notes;
  }
  const signed = signApproval(key, approval, { now, by: ctx.owner, via });
  if (ctx.ledger) {
    const { state } = await ctx.ledger.state(idempotencyKey(signed));
    if (state === 'sent' || state === 'uncertain') {
      throw new DecisionError(
        `${id} has already been carried out or may have been (${state}); it is not approved again`,
        'conflict',
      );
    }
  }
  const text = stringifyMarkdown(signed);
  if (inApproved) {
    await files.files.writeAtomic(approvedPath, text);
  } else if (!(await files.files.writeIfAbsent(approvedPath, text))) {
    throw new DecisionError(`${approvedPath} appeared meanwhile; run the command again`, 'conflict');
  }
  for (const path of pending) await files.remove(path);
  await ctx.ledger?.append({
    ts: now.toISOString(),
    key: idempotencyKey(signed),
    task: id,
    action: signed.data.action,
    kind: 'approved',
    detail: `approved by ${ctx.owner} via ${via}`,
  });
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
    touched: [approvedPath, ...(await files.allPendingPaths(id)), FOLDERS.logs],
    effect,
    notes,
  };
}

/**
 * Rejects task `id`: its approval request moves to `Rejected/<id>.md` (`status: rejected`) and its item to
 * `Rejected/<id>.item.md`, and the ledger records the rejection: no approval of this task signed before now
 * is ever executed, whatever copy the remote brings back. An approval whose execution has started (the
 * ledger has a sent or uncertain record for it) is not rejectable any more: it is sent, or Uncertain and
 * waits for `fte resolve`.
 */
export async function rejectTask(
  ctx: DecisionContext,
  id: string,
  reason: string | undefined,
  via: 'cli' | 'obsidian' | 'status_page',
  ledger: Ledger | undefined = ctx.ledger,
): Promise<{ path: string; touched: string[] }> {
  const files = filesOf(ctx);
  const now = ctx.clock();
  const rejectedPath = itemPaths.rejected(id);
  const approvedPath = itemPaths.approved(id);
  const candidates = [
    ...((await files.isFile(rejectedPath)) ? [rejectedPath] : []),
    ...(await files.pendingPaths(id)),
    ...((await files.isFile(approvedPath)) ? [approvedPath] : []),
  ];
  const source = candidates[0];
  if (!source)
    throw new DecisionError(`no approval request ${id} in Pending_Approval/ or Approved/`, 'not_found');
  const read = await files.readApproval(source);
  if (read.kind === 'missing' || read.kind === 'unreadable' || read.kind === 'unsafe') {
    const why =
      read.kind === 'unreadable' ? read.reason : read.kind === 'unsafe' ? read.entry.reason : 'missing';
    throw new DecisionError(`${source} cannot be read: ${why}`, 'refused');
  }
  const data = read.raw.data;
  if (
    source === rejectedPath &&
    !['pending', 'approved', 'refused', 'failed', 'expired'].includes(String(data.status))
  ) {
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
  const rejectionReason = reason ?? `rejected by the owner (${via})`;
  // The owner's word first, where no pull can reach it.
  await ledger?.append({
    ts: now.toISOString(),
    key: read.kind === 'ok' ? idempotencyKey(read.approval) : `${String(data.action ?? 'unknown')}:${id}:-`,
    task: id,
    action: String(data.action ?? 'unknown'),
    kind: 'rejected',
    detail: rejectionReason.slice(0, 300),
  });
  const rejected = {
    data: {
      ...data,
      status: 'rejected',
      rejected_at: now.toISOString(),
      rejection_reason: rejectionReason,
    },
    body: read.raw.body,
  };
  await files.writeDoc(rejectedPath, rejected);
  for (const path of candidates) if (path !== rejectedPath) await files.remove(path);
  const itemTouched = await files.retireItem(id, data.source, 'rejected', 'rejected');
  await ctx.audit.append({
    action_type: 'approval_rejected',
    actor: ctx.agent,
    target: rejectedPath,
    parameters: { action: data.action ?? null, via, reason: rejectionReason },
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
      ...(await files.allPendingPaths(id)),
      ...(await files.allInProgressPaths(id)),
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
  await filesOf(ctx).writeDoc(path, {
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

/**
 * The owner's word on an Uncertain send: `sent` (it did go out: finish without sending) or `not_sent`
 * (it did not: send it again, with the same Message-ID). Only an approval in `Approved/` with
 * `status: uncertain` whose ledger record is uncertain too can be resolved (a file the remote marked
 * uncertain cannot release a send the ledger knows went out).
 */
export async function resolveTask(
  ctx: DecisionContext,
  ledger: Ledger,
  id: string,
  outcome: 'sent' | 'not_sent',
  via: 'cli' | 'status_page' = 'cli',
): Promise<{ path: string; touched: string[] }> {
  const files = filesOf(ctx);
  const path = itemPaths.approved(id);
  const read = await files.readApproval(path);
  if (read.kind === 'missing') throw new DecisionError(`no approval ${id} in Approved/`, 'not_found');
  if (read.kind === 'unsafe')
    throw new DecisionError(`${read.entry.path} is ${read.entry.reason}; it is never read`, 'refused');
  if (read.kind !== 'ok')
    throw new DecisionError(`${path} is not a valid approval: ${read.reason}`, 'refused');
  if (read.approval.data.status !== 'uncertain') {
    throw new DecisionError(
      `${id} is ${read.approval.data.status}, not uncertain; there is nothing to resolve`,
      'conflict',
    );
  }
  const key = idempotencyKey(read.approval);
  const { state } = await ledger.state(key);
  if (state !== 'uncertain') {
    throw new DecisionError(
      `this machine's ledger says ${id} is ${state}, not uncertain; there is nothing to resolve`,
      'conflict',
    );
  }
  // The file first, then the ledger: a crash in between leaves `status: approved` over a ledger that still
  // says uncertain, which the next pass marks Uncertain again (the owner resolves once more). The other
  // order would leave a resolved ledger under an `uncertain` file: never executed, never resolvable.
  const data: Record<string, unknown> = { ...read.approval.data, status: 'approved' };
  delete data.error;
  await files.writeDoc(path, { data, body: read.approval.body });
  await ledger.append({
    ts: ctx.clock().toISOString(),
    key,
    task: id,
    action: read.approval.data.action,
    kind: 'resolution',
    outcome,
    detail: `resolved by ${ctx.owner}`,
  });
  await ctx.audit.append({
    action_type: 'send_resolved',
    actor: ctx.agent,
    target: path,
    parameters: { outcome, via },
    approval_status: 'approved',
    approved_by: ctx.owner,
    result: outcome === 'sent' ? 'owner_says_sent' : 'owner_says_not_sent',
    task: id,
    idempotency_key: key,
  });
  return { path, touched: [path, FOLDERS.logs] };
}
