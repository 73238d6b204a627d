import type { AuditInput } from '../../core/audit.js';
import type { Logger } from '../../core/log.js';
import type { Ledger, LedgerRecord } from '../ledger.js';
import type { Approval } from '../signature.js';
import { type ActionExecutor, InvalidActionError, type Prepared } from './types.js';

/**
 * The one at-most-once path every action goes through: whatever the ledger already says for this
 * approval decides first; then DRY_RUN, availability and the per-action rate limit (sent and uncertain
 * both count); then an fsync'd intent, the side effect, and the outcome. An uncertain outcome is never
 * retried by itself. This is also the one place that builds the ledger and audit records of an execution.
 */

export type AttemptOutcome =
  | { kind: 'done'; key: string; prepared: Prepared<unknown>; detail: string }
  /** The ledger says it happened but the task was never filed in Done/ (a crash after the outcome). */
  | { kind: 'already_done'; key: string; effectId?: string }
  /** The ledger says it happened and the task was filed: this copy of the approval is a replay. */
  | { kind: 'replay'; key: string; effectId?: string; at: string }
  | { kind: 'uncertain'; key: string; reason: string }
  | { kind: 'failed'; key: string; reason: string }
  | { kind: 'invalid'; key: string; reason: string }
  /** DRY_RUN: logged instead of performed, once; it stays approved. */
  | { kind: 'dry_run'; key: string; prepared: Prepared<unknown> }
  /** Nothing left the machine; it stays approved and is tried on a later pass. */
  | { kind: 'deferred'; key: string; reason: string };

export type AtMostOnceOptions = {
  ledger: Ledger;
  /** Appends an audit record (the executive's, which never lets an unsafe log path stop a pass). */
  audit: (record: AuditInput) => Promise<void>;
  agent: string;
  dryRun: boolean;
  /** Side effects per hour allowed for an action. */
  ratePerHour: (action: string) => number;
  clock: () => Date;
  log: Logger;
  /** Test hook: `FTE_TEST_CRASH_AFTER_INTENT=1` kills the process right after the intent is on disk. */
  crashAfterIntent?: boolean;
};

const HOUR_MS = 3_600_000;

/**
 * The ledger key of an approval: the action, the task and exactly what was approved. Takes only those
 * three fields, so a file that is not a valid approval any more (refused as expired) gets the same key.
 */
export function idempotencyKey(approval: {
  data: { action: string; task: string; content_sha256: string };
}): string {
  return `${approval.data.action}:${approval.data.task}:${approval.data.content_sha256.slice(0, 16)}`;
}

export class AtMostOnce {
  constructor(private readonly o: AtMostOnceOptions) {}

  async run(approval: Approval, executor: ActionExecutor): Promise<AttemptOutcome> {
    const { ledger, clock, log } = this.o;
    const key = idempotencyKey(approval);
    const task = approval.data.task;
    const action = executor.action;
    const prior = await ledger.state(key);
    if (prior.state === 'sent') {
      const effectId = prior.last?.message_id;
      if (prior.finished) {
        const at = (await ledger.forTask(task)).find((r) => r.key === key && r.kind === 'finished')?.ts ?? '';
        return { kind: 'replay', key, effectId, at };
      }
      return { kind: 'already_done', key, effectId };
    }
    if (prior.state === 'failed') {
      return { kind: 'failed', key, reason: prior.last?.detail ?? 'refused for good by the server' };
    }
    if (prior.state === 'uncertain') {
      return {
        kind: 'uncertain',
        key,
        reason:
          prior.last?.detail ??
          'it was started but its outcome was never recorded (the executor stopped mid-way); it may or may not have happened',
      };
    }
    let prepared: Prepared<unknown>;
    try {
      prepared = executor.prepare(approval);
    } catch (error) {
      if (error instanceof InvalidActionError) return { kind: 'invalid', key, reason: error.message };
      throw error;
    }
    const record = (fields: Partial<LedgerRecord> & Pick<LedgerRecord, 'kind'>): LedgerRecord => ({
      ts: clock().toISOString(),
      key,
      task,
      action,
      ...(prepared.effectId ? { message_id: prepared.effectId } : {}),
      ...(prepared.counterparty ? { counterparty: prepared.counterparty } : {}),
      ...fields,
    });
    const audit = (result: string, extra: Record<string, unknown> = {}) =>
      this.o.audit({
        action_type: executor.auditType,
        actor: this.o.agent,
        target: prepared.target,
        parameters: { ...prepared.audit, ...extra },
        approval_status: 'approved',
        approved_by: typeof approval.data.approved_by === 'string' ? approval.data.approved_by : null,
        result,
        task,
        idempotency_key: key,
      });
    for (const note of prepared.notes) log.warn({ task, action, note }, 'parameter adjusted');

    if (this.o.dryRun) {
      if (prior.dryRun) return { kind: 'deferred', key, reason: 'DRY_RUN: logged, not performed' };
      log.info(
        { task, action, target: prepared.target, effect: Object.fromEntries(prepared.effect) },
        `DRY_RUN: would ${action === 'send_email' ? 'send this email' : `perform ${action}`}; nothing done`,
      );
      await ledger.append(record({ kind: 'dry_run' }));
      await audit('dry_run');
      return { kind: 'dry_run', key, prepared };
    }
    const unavailable = executor.unavailable();
    if (unavailable) return { kind: 'deferred', key, reason: unavailable };
    const now = clock();
    const limit = this.o.ratePerHour(action);
    const recent = await ledger.countSince(action, new Date(now.getTime() - HOUR_MS));
    if (recent >= limit) {
      const noun = action === 'send_email' ? 'emails sent' : `${action} done`;
      return {
        kind: 'deferred',
        key,
        reason: `rate limit: ${recent} ${noun} in the last hour (limit ${limit})`,
      };
    }

    await ledger.append(record({ kind: 'intent' }));
    if (this.o.crashAfterIntent) process.kill(process.pid, 'SIGKILL');
    try {
      const performed = await executor.perform(prepared);
      const effectId = performed.effectId ?? prepared.effectId;
      await ledger.append(
        record({
          kind: 'outcome',
          outcome: 'sent',
          detail: performed.detail.slice(0, 200),
          ...(effectId ? { message_id: effectId } : {}),
        }),
      );
      await audit('sent', {
        ...performed.audit,
        ...(performed.effectId ? { effect_id: performed.effectId } : {}),
      });
      return { kind: 'done', key, prepared: { ...prepared, effectId }, detail: performed.detail };
    } catch (error) {
      const meaning = executor.classify(error);
      const reason = error instanceof Error ? error.message : String(error);
      await ledger.append(record({ kind: 'outcome', outcome: meaning, detail: reason.slice(0, 300) }));
      if (meaning === 'failed') return { kind: 'failed', key, reason };
      if (meaning === 'uncertain') {
        return {
          kind: 'uncertain',
          key,
          reason: `the connection failed mid-way (${reason}); it may have happened`,
        };
      }
      return { kind: 'deferred', key, reason: `not done, will retry: ${reason}` };
    }
  }

  /** Recorded once the task is filed in Done/: from then on a copy of this approval is a replay. */
  async finished(approval: Approval, effectId?: string): Promise<void> {
    await this.o.ledger.append({
      ts: this.o.clock().toISOString(),
      key: idempotencyKey(approval),
      task: approval.data.task,
      action: approval.data.action,
      kind: 'finished',
      ...(effectId ? { message_id: effectId } : {}),
    });
  }

  /** The audit record of an outcome the executive settles (uncertain, failed): built here like the others. */
  async auditSettled(
    approval: Approval,
    executor: ActionExecutor | undefined,
    result: 'uncertain' | 'failed',
    reason: string,
    target: string,
  ): Promise<void> {
    await this.o.audit({
      action_type: executor?.auditType ?? approval.data.action,
      actor: this.o.agent,
      target,
      parameters: { reason, subject: approval.data.subject ?? null },
      approval_status: 'approved',
      approved_by: typeof approval.data.approved_by === 'string' ? approval.data.approved_by : null,
      result,
      task: approval.data.task,
      idempotency_key: idempotencyKey(approval),
    });
  }
}
