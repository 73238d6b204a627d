import type { Decoded } from '../core/codec.js';
import { isSafeTaskId } from '../core/ids.js';
import { itemPaths, type Phase } from '../core/layout.js';
import type { ApprovalFrontmatter, ItemFrontmatter } from '../core/schemas.js';
import { summarizeTasks } from '../core/status.js';
import { getCondition, type Task, type TriageRecord } from './task.js';
import type { ReadResult, TaskFile } from './vault-files.js';

/** What the vault holds for one task right now, read fresh for each pass. */
export type VaultState = {
  files: TaskFile[];
  /** The task's item file (the furthest along, if a conflict left two). */
  item?: ReadResult<ItemFrontmatter>;
  /** Its approval request or the owner's decision on it. */
  approval?: ReadResult<ApprovalFrontmatter>;
  /** For a pending approval: whether its `Updates/` signal exists (undefined when not looked at). */
  signalWritten?: boolean;
};

/** The pure part of a domain handler: whether an item is something it can work on. */
export type ItemValidator = {
  /** Undefined when the item is fine, else the reason it is not (one line). */
  validate(item: Decoded<ItemFrontmatter>): string | undefined;
};

export type DecideContext = {
  agent: string;
  now: Date;
  handlers: ReadonlyMap<string, ItemValidator>;
  /**
   * The domains the operator may work on (the Vault resource's `spec.domains`, ADR 0008); undefined means
   * every domain it has a handler for. An item of another domain is left alone: not claimed, triaged,
   * drafted or quarantined. Approvals already requested still expire.
   */
  enabledDomains?: ReadonlySet<string>;
};

/** One idempotent step on the vault; a pass takes at most one. */
export type Step =
  | { kind: 'claim' }
  /** Move the item to `Needs_Action/_errors/`; `keepBytes` when it cannot be parsed at all. */
  | { kind: 'quarantine'; reason: string; keepBytes: boolean }
  /** Decide priority and whether a reply is needed (reusing a triage already recorded for this content). */
  | { kind: 'triage'; recorded?: TriageRecord }
  | { kind: 'draft'; triage: TriageRecord }
  /** The approval exists but its `Updates/` signal does not (a crash between the two writes). */
  | { kind: 'signal' }
  | { kind: 'expire' };

export type Decision = {
  phase: Phase;
  owner?: string;
  approvalPath?: string;
  expires?: string;
  step?: Step;
  /** Why no step is taken: a CamelCase reason and a message for the task's status. */
  waiting?: { reason: string; message: string };
  /** A problem the owner should see (`status.lastError`). */
  error?: string;
  requeueAfterMs?: number;
};

const OWNER_DECIDED: ReadonlySet<Phase> = new Set(['Approved', 'Rejected', 'Done', 'Executing']);

/** The folder phase of the task (as `fte status` shows it), with an item marked `status: error` as Failed. */
export function phaseOf(state: VaultState): Phase {
  const summary = summarizeTasks(state.files)[0];
  const phase = summary?.phase ?? 'NeedsAction';
  if (
    state.item?.ok &&
    state.item.decoded.data.status === 'error' &&
    (phase === 'InProgress' || phase === 'NeedsAction')
  ) {
    return 'Failed';
  }
  return phase;
}

/**
 * The next step for a task, from the task (its recorded progress) and the vault (the truth). Pure: the
 * same inputs always give the same decision, and applying the step and deciding again never repeats it,
 * because every step changes the vault or the recorded progress that this function reads.
 */
/** How long a new file that does not parse is given to be written whole before it is an error. */
export const SETTLE_MS = 3_000;

export function decide(task: Task, state: VaultState, context: DecideContext): Decision {
  const id = task.spec.id;
  if (state.files.length === 0) {
    return {
      phase: task.status?.phase ?? 'NeedsAction',
      waiting: { reason: 'Gone', message: 'no file of this task is left in the vault' },
    };
  }
  const phase = phaseOf(state);
  const item = state.item;
  const approval = state.approval;
  const owner = item?.file.owner;
  const base: Decision = { phase, owner, approvalPath: approval?.file.path };
  if (approval?.ok) base.expires = approval.decoded.data.expires;

  const stalled = getCondition(task, 'Stalled');
  if (stalled?.status === 'True' && stalled.observedGeneration === task.metadata.generation) {
    return {
      ...base,
      phase: 'Failed',
      error: stalled.message,
      waiting: {
        reason: 'Stalled',
        message: 'gave up after repeated errors; waiting for the task to change',
      },
    };
  }

  if (approval && OWNER_DECIDED.has(approval.file.phase)) {
    const expired = approval.ok && approval.decoded.data.status === 'expired';
    return {
      ...base,
      waiting: expired
        ? { reason: 'Expired', message: 'the approval request expired unanswered' }
        : { reason: 'OwnerDecided', message: `the owner's decision is in ${approval.file.path}` },
    };
  }
  if (item?.file.phase === 'Failed') {
    const reason = item.ok ? item.decoded.data.error : (item.data?.error ?? item.problem.message);
    return {
      ...base,
      error: typeof reason === 'string' ? reason : 'moved to Needs_Action/_errors/',
      waiting: { reason: 'Quarantined', message: `kept in ${item.file.path} with the reason` },
    };
  }
  if (item && (item.file.phase === 'Done' || item.file.phase === 'Rejected')) {
    return { ...base, waiting: { reason: 'Finished', message: `finished in ${item.file.path}` } };
  }

  if (approval?.file.phase === 'PendingApproval') {
    const mine =
      owner === context.agent ||
      (approval.ok && approval.decoded.data.source === safeInProgress(context.agent, id));
    if (!mine) {
      return { ...base, waiting: { reason: 'NotOurs', message: 'another agent asked for this approval' } };
    }
    if (!approval.ok) {
      return {
        ...base,
        error: approval.problem.message,
        waiting: {
          reason: 'ApprovalUnreadable',
          message: 'the approval request cannot be read; the owner can fix or reject it',
        },
      };
    }
    const remaining = Date.parse(approval.decoded.data.expires) - context.now.getTime();
    if (remaining <= 0) return { ...base, step: { kind: 'expire' } };
    if (state.signalWritten === false) return { ...base, step: { kind: 'signal' } };
    return {
      ...base,
      requeueAfterMs: remaining,
      waiting: { reason: 'AwaitingApproval', message: `waiting for the owner in ${approval.file.path}` },
    };
  }

  if (!item) {
    return { ...base, waiting: { reason: 'NoItem', message: 'nothing to work on' } };
  }
  if (!item.ok && item.problem.kind === 'unsafe') {
    // A link or special file (vault-files.ts): never read, and not moved by this agent either (the git
    // owner removes links the remote planted); the task shows Failed with the reason until it is gone.
    return {
      ...base,
      phase: 'Failed',
      error: item.problem.message,
      waiting: { reason: 'UnsafePath', message: `${item.file.path} is not a regular file; it is never read` },
    };
  }
  const domain = item.file.domain ?? task.spec.domain;
  const handler = context.handlers.get(domain);
  const inProgress = item.file.phase === 'InProgress';
  if (inProgress && owner !== context.agent) {
    return { ...base, waiting: { reason: 'NotOurs', message: `claimed by ${owner}` } };
  }
  if (context.enabledDomains && !context.enabledDomains.has(domain)) {
    return {
      ...base,
      waiting: {
        reason: 'DomainDisabled',
        message: `the ${domain} domain is not enabled in the Vault resource; left alone`,
      },
    };
  }
  if (!handler) {
    return {
      ...base,
      waiting: { reason: 'NoHandler', message: `no handler for the ${domain} domain; left for someone else` },
    };
  }
  if (!isSafeTaskId(id)) {
    return {
      ...base,
      step: { kind: 'quarantine', reason: 'the file name is not a valid task id', keepBytes: true },
    };
  }
  if (!item.ok) {
    // A file that does not parse yet may be half written (Obsidian and most editors write in place): look
    // again once it has not changed for a moment, before calling it an error.
    const age = context.now.getTime() - item.file.mtimeMs;
    if (item.problem.kind === 'frontmatter' && !inProgress && age >= 0 && age < SETTLE_MS) {
      return {
        ...base,
        waiting: {
          reason: 'Settling',
          message: 'written moments ago and not readable yet; read again shortly',
        },
        requeueAfterMs: SETTLE_MS - age + 100,
      };
    }
    return {
      ...base,
      step: { kind: 'quarantine', reason: item.problem.message, keepBytes: item.problem.kind !== 'schema' },
    };
  }
  const invalid = handler.validate(item.decoded);
  if (invalid) return { ...base, step: { kind: 'quarantine', reason: invalid, keepBytes: false } };
  if (!inProgress) return { ...base, step: { kind: 'claim' } };

  const data = item.decoded.data;
  if (data.status === 'error') {
    return {
      ...base,
      error: typeof data.error === 'string' ? data.error : 'marked status: error',
      waiting: { reason: 'Failed', message: 'marked failed in the item; edit it (status: pending) to retry' },
    };
  }
  if (data.triage === 'no_reply') {
    return {
      ...base,
      waiting: { reason: 'NoReplyNeeded', message: String(data.triage_reason ?? 'no reply needed') },
    };
  }
  const recorded = task.status?.triage;
  const current = recorded && recorded.contentSha256 === item.sha256 ? recorded : undefined;
  if (current?.needsReply) return { ...base, step: { kind: 'draft', triage: current } };
  return { ...base, step: { kind: 'triage', recorded: current } };
}

function safeInProgress(agent: string, id: string): string | undefined {
  try {
    return itemPaths.inProgress(agent, id);
  } catch {
    return undefined;
  }
}
