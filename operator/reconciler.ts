import type { Logger } from 'pino';
import type { Decoded } from '../core/codec.js';
import { parseMarkdown } from '../core/frontmatter.js';
import { FOLDERS, HANDBOOK_FILE, itemPaths } from '../core/layout.js';
import type { ItemFrontmatter } from '../core/schemas.js';
import { summarizeTasks } from '../core/status.js';
import type { AuditEntry, ChangeResult, Operation, VaultChange, VaultPort } from '../core/vault/change.js';
import { VaultFiles } from '../core/vault/safe-fs.js';
import {
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
  TerminalError,
} from './controller/controller.js';
import type { OperatorMetrics } from './controller/metrics.js';
import { ConflictError, jsonEqual, type StatusPatch, type TaskStore } from './controller/store.js';
import { type Decision, decide, type Step, type VaultState } from './decide.js';
import { DrafterError, type LlmUsage } from './drafters/drafter.js';
import { type EventRecorder, taskEvents } from './events.js';
import type { DomainHandler, HandlerInput } from './handlers/handler.js';
import { setCondition, type Task, type TaskStatus, type TriageRecord } from './task.js';
import { findTaskFiles, readApprovalFile, readItemFile, type TaskFile } from './vault-files.js';
import {
  approvalRequest,
  archivedUpdatePath,
  DEFAULT_APPROVAL_TTL_MS,
  errorDescription,
  errorId,
  updatePath,
  updateSignal,
  withFields,
} from './vault-writes.js';

export const STATUS_FIELD_MANAGER = 'fte-operator';
const MAX_REQUEUE_MS = 6 * 60 * 60 * 1000;
const OFFLINE_RETRY_MS = 30_000;

export type TaskReconcilerOptions = {
  /** Where every step's change goes (in-process, or the git-sync sidecar's loopback port). */
  vault: VaultPort;
  /**
   * Runs a read of the working tree so that no change or sync is applied meanwhile (in-process: the
   * clone's lock). Without it (the HTTP port), reads are unlocked: every write states what it read as a
   * precondition, so a read that raced a sync makes the write refused, never wrong.
   */
  readLock?: <T>(fn: () => Promise<T>) => Promise<T>;
  store: TaskStore;
  handlers: DomainHandler[];
  logger: Logger;
  clock?: () => Date;
  approvalTtlMs?: number;
  /** Failed passes of one task (drafter errors, git errors) before it is marked failed. */
  maxAttempts?: number;
  metrics?: OperatorMetrics;
  /** Re-mirrors a task right after a step changed its files. */
  mirror?: { refresh(ids: string[]): Promise<void> };
  /** Called after a step committed something (the daemon pushes soon after). */
  onCommitted?: () => void;
  /** One event per step (claimed, drafted, approval requested, expired, failed), for `kubectl describe task`. */
  events?: EventRecorder;
  /** The domains enabled right now (asked on every pass); undefined: every domain with a handler. */
  enabledDomains?: () => ReadonlySet<string> | undefined;
};

/** What a step did, for the status and the queue. */
type StepOutcome = {
  /** The step changed files in the vault (and committed them). */
  changed: boolean;
  /** Other task ids whose files the step created (a quarantined item with an unsafe id gets a new one). */
  alsoTouched?: string[];
  condition?: { type: string; status: 'True' | 'False'; reason: string; message: string };
  triage?: TriageRecord;
  requeueAfterMs?: number;
};

/**
 * The reconciler of DESIGN.md §3: for one task, read the vault fresh, `decide` the next step, take at
 * most that one step (each an idempotent change committed as `"<agent>: <action> <id>"`), then write the
 * task's status if it changed. Every write re-checks its precondition under the clone's lock, so a
 * decision made on a view that has since moved on does nothing rather than something wrong.
 */
export class TaskReconciler implements Reconciler {
  private readonly handlers: Map<string, DomainHandler>;
  private readonly clock: () => Date;
  private readonly agent: string;
  private readonly root: string;
  private readonly files: VaultFiles;
  /** Audit records of model calls not committed yet, by task id. */
  private readonly pendingUsage = new Map<string, AuditEntry[]>();

  constructor(private readonly options: TaskReconcilerOptions) {
    this.handlers = new Map(options.handlers.map((h) => [h.domain, h]));
    this.clock = options.clock ?? (() => new Date());
    this.agent = options.vault.agent;
    this.root = options.vault.root;
    this.files = new VaultFiles(this.root);
  }

  async reconcile(request: Request, context: ReconcileContext): Promise<Result> {
    const task = await this.options.store.get(request.name);
    if (!task) return {};
    const id = task.spec.id;
    const log = this.options.logger.child({ task: id });
    const read = () => this.readState(id);
    const state = await (this.options.readLock ? this.options.readLock(read) : read());
    const decision = decide(task, state, {
      agent: this.agent,
      now: this.clock(),
      handlers: this.handlers,
      enabledDomains: this.options.enabledDomains?.(),
    });
    if (!decision.step) {
      await this.writeStatus(task, decision);
      if (decision.requeueAfterMs === undefined) return {};
      return {
        requeueAfterMs: Math.min(decision.requeueAfterMs, MAX_REQUEUE_MS),
        pending: decision.waiting?.reason === 'Settling',
      };
    }
    const step = decision.step;
    log.debug({ step: step.kind, phase: decision.phase }, 'step');
    let outcome: StepOutcome;
    try {
      outcome = await this.perform(step, task, state, context, log);
    } catch (error) {
      return this.failed(error, task, state, decision, context, log);
    }
    this.options.metrics?.steps.inc({ step: step.kind });
    await this.writeStatus(task, decision, outcome);
    if (outcome.changed) {
      await this.options.mirror?.refresh([id, ...(outcome.alsoTouched ?? [])]);
      this.options.onCommitted?.();
    }
    if (outcome.requeueAfterMs !== undefined) return { requeueAfterMs: outcome.requeueAfterMs };
    return { requeue: true };
  }

  // -- reading ---------------------------------------------------------------------------------------

  private async readState(id: string): Promise<VaultState> {
    const files = await findTaskFiles(this.root, id);
    const ranked = summarizeTasks(files.map((f) => ({ ...f })))[0]?.paths ?? [];
    const byPath = new Map(files.map((f) => [f.path, f]));
    const pick = (role: TaskFile['role']) => ranked.map((p) => byPath.get(p)!).find((f) => f.role === role);
    const itemFile = pick('item');
    const approvalFile = pick('approval');
    const state: VaultState = { files };
    if (itemFile) state.item = await readItemFile(this.root, itemFile);
    if (approvalFile) state.approval = await readApprovalFile(this.root, approvalFile);
    if (state.approval?.ok && state.approval.file.phase === 'PendingApproval') {
      const signal = updatePath(this.agent, 'approval_requested', id, state.approval.decoded.data.created);
      state.signalWritten =
        (await this.files.exists(signal)) || (await this.files.exists(archivedUpdatePath(signal)));
    }
    return state;
  }

  /** The handler `decide` chose: by the item's folder domain, else the task's. */
  private handlerFor(task: Task, state: VaultState): DomainHandler {
    const handler = this.handlers.get(state.item?.file.domain ?? task.spec.domain);
    if (!handler) throw new TerminalError(`no handler for the ${task.spec.domain} domain`);
    return handler;
  }

  /** The owner's rules for the drafters; a handbook that is a link, special or too large is not read. */
  private async handbook(): Promise<string> {
    const read = await this.files.readText(HANDBOOK_FILE);
    return read.kind === 'ok' ? read.text : '';
  }

  private async handlerInput(
    id: string,
    item: Decoded<ItemFrontmatter>,
    signal: AbortSignal,
  ): Promise<HandlerInput> {
    return { id, item, handbook: await this.handbook(), signal };
  }

  // -- steps -----------------------------------------------------------------------------------------

  private perform(
    step: Step,
    task: Task,
    state: VaultState,
    context: ReconcileContext,
    log: Logger,
  ): Promise<StepOutcome> {
    switch (step.kind) {
      case 'claim':
        return this.claim(task.spec.id, log);
      case 'quarantine':
        return this.quarantine(task.spec.id, state, step.reason, step.keepBytes, log);
      case 'triage':
        return this.triage(task, state, step.recorded, context, log);
      case 'draft':
        return this.draft(task, state, step.triage, context, log);
      case 'signal':
        return this.signal(task.spec.id, state, log);
      case 'expire':
        return this.expire(task.spec.id, state, log);
    }
  }

  private async claim(id: string, log: Logger): Promise<StepOutcome> {
    const outcome = await this.options.vault.claim(id);
    switch (outcome.result) {
      case 'won':
        log.info({ path: outcome.path }, 'claimed');
        return { changed: true, condition: cond('Claimed', 'True', 'Won', `claimed into ${outcome.path}`) };
      case 'lost':
        log.info({ owner: outcome.owner }, 'claim lost: another agent owns it');
        return {
          changed: true,
          condition: cond('Claimed', 'False', 'Lost', `owned by ${outcome.owner ?? 'another agent'}`),
        };
      case 'missing':
        return { changed: true, condition: cond('Claimed', 'False', 'Missing', 'the item moved away first') };
      case 'offline':
        log.warn({ err: outcome.error }, 'claim not possible: remote unreachable; trying later');
        return {
          changed: false,
          condition: cond(
            'Claimed',
            'False',
            'Offline',
            `remote unreachable: ${outcome.error.split('\n')[0]}`,
          ),
          requeueAfterMs: OFFLINE_RETRY_MS,
        };
    }
  }

  private async triage(
    task: Task,
    state: VaultState,
    recorded: TriageRecord | undefined,
    context: ReconcileContext,
    log: Logger,
  ): Promise<StepOutcome> {
    const item = okItem(state);
    const id = task.spec.id;
    const handler = this.handlerFor(task, state);
    let record = recorded;
    if (!record) {
      const outcome = await handler.triage(await this.handlerInput(id, item.decoded, context.signal));
      this.recordUsage(id, outcome.usage);
      record = { contentSha256: item.sha256, ...outcome.triage, by: outcome.by };
      log.info({ priority: record.priority, needsReply: record.needsReply, by: record.by }, 'triaged');
    }
    if (record.needsReply) {
      return {
        changed: false,
        triage: record,
        condition: cond('Triaged', 'True', 'NeedsReply', record.reason),
      };
    }
    // No reply: note it in the item (so it is never triaged again) and tell Local.
    const now = this.clock().toISOString();
    const path = item.file.path;
    const signal = updateSignal({
      agent: this.agent,
      kind: 'info',
      id,
      created: now,
      summary: `No reply needed: ${record.reason}`,
      fields: { item: path },
    });
    const done = await this.apply({
      message: `${this.agent}: triage ${id}`,
      preconditions: [{ kind: 'sha256', path, sha256: item.sha256 }],
      operations: [
        {
          op: 'write',
          path,
          mode: 'replace',
          content: withFields(item.decoded.data, item.decoded.body, {
            triage: 'no_reply',
            triage_reason: record.reason,
            priority: record.priority,
            triaged_at: now,
          }),
        },
        { op: 'write', path: signal.path, content: signal.text, mode: 'ensure' },
      ],
      audit: [
        this.auditEntry({
          action_type: 'triage',
          target: path,
          parameters: { needs_reply: false, priority: record.priority, reason: record.reason, by: record.by },
          result: 'no_reply',
          task: id,
        }),
      ],
    });
    log.info({ reason: record.reason }, 'no reply needed');
    return {
      changed: done.kind === 'applied' && done.committed,
      triage: record,
      condition: cond('Triaged', 'True', 'NoReplyNeeded', record.reason),
    };
  }

  private async draft(
    task: Task,
    state: VaultState,
    triage: TriageRecord,
    context: ReconcileContext,
    log: Logger,
  ): Promise<StepOutcome> {
    const item = okItem(state);
    const id = task.spec.id;
    const handler = this.handlerFor(task, state);
    const draft = await handler.draft(await this.handlerInput(id, item.decoded, context.signal), triage);
    this.recordUsage(id, draft.usage);
    const request = approvalRequest({
      id,
      agent: this.agent,
      domain: handler.domain,
      draft,
      created: this.clock(),
      ttlMs: this.options.approvalTtlMs ?? DEFAULT_APPROVAL_TTL_MS,
    });
    const signal = updateSignal({
      agent: this.agent,
      kind: 'approval_requested',
      id,
      created: request.data.created,
      summary:
        draft.summary ??
        `${draft.action} to ${String(draft.parameters.to ?? '?')}: ${String(draft.parameters.subject ?? '')}`.trim(),
      fields: { approval: request.path, action: draft.action, priority: triage.priority },
    });
    // Any approval or decision for this task, wherever it is, means the task moved on since the read.
    const decided = (await findTaskFiles(this.root, id)).filter((f) => f.role === 'approval');
    // Items handed to another domain: written once, never over a task of that id that exists already.
    const handoffs: Array<{ id: string; path: string; text: string }> = [];
    for (const item of draft.items ?? []) {
      if ((await findTaskFiles(this.root, item.id)).length > 0) continue;
      handoffs.push({ id: item.id, path: itemPaths.needsAction(item.domain, item.id), text: item.text });
    }
    const result = await this.apply({
      message: `${this.agent}: draft ${id}`,
      preconditions: [
        { kind: 'sha256', path: item.file.path, sha256: item.sha256 },
        ...[itemPaths.approved(id), itemPaths.rejected(id), itemPaths.done(id)].map((path) => ({
          kind: 'absent' as const,
          path,
        })),
      ],
      operations: decided.length
        ? []
        : [
            { op: 'write', path: request.path, content: request.text, mode: 'create' },
            { op: 'write', path: signal.path, content: signal.text, mode: 'ensure' },
            ...handoffs.map((h) => ({
              op: 'write' as const,
              path: h.path,
              content: h.text,
              mode: 'ensure' as const,
            })),
          ],
      audit: decided.length
        ? []
        : [
            this.auditEntry({
              action_type: 'approval_requested',
              target: request.path,
              parameters: { ...draft.parameters, action: draft.action, drafter: draft.drafter },
              approval_status: 'pending',
              result: 'draft_written',
              task: id,
              idempotency_key: request.data.content_sha256,
            }),
            ...handoffs.map((h) =>
              this.auditEntry({
                action_type: 'handoff',
                target: h.path,
                parameters: { from_task: id, item: h.id },
                result: 'item_written',
                task: id,
              }),
            ),
          ],
    });
    if (result.kind === 'secret') {
      throw new DrafterError(
        `the draft was refused by the secret guard (${result.refused.map((r) => r.reason).join('; ')}); nothing was written`,
        false,
      );
    }
    if (result.kind === 'conflict' || decided.length > 0) {
      log.info('draft skipped: the task moved on meanwhile');
      return { changed: true };
    }
    log.info(
      { approval: request.path, drafter: draft.drafter, expires: request.data.expires },
      'approval requested',
    );
    if (handoffs.length > 0)
      log.info({ items: handoffs.map((h) => h.path) }, 'handed items to another domain');
    return {
      changed: true,
      alsoTouched: handoffs.length > 0 ? handoffs.map((h) => h.id) : undefined,
      condition: cond('Drafted', 'True', 'ApprovalRequested', `waiting for the owner in ${request.path}`),
    };
  }

  /** Writes the missing `approval_requested` signal of an approval (a crash came between the two writes). */
  private async signal(id: string, state: VaultState, log: Logger): Promise<StepOutcome> {
    const approval = state.approval;
    if (!approval?.ok) return { changed: false };
    const data = approval.decoded.data;
    const signal = updateSignal({
      agent: this.agent,
      kind: 'approval_requested',
      id,
      created: data.created,
      summary: `${data.action} to ${data.to ?? '?'}: ${data.subject ?? ''}`.trim(),
      fields: { approval: approval.file.path, action: data.action },
    });
    // The approval itself may be what the crash left uncommitted: written again as it is, it is committed too.
    await this.apply({
      message: `${this.agent}: draft ${id}`,
      preconditions: approval.sha256
        ? [{ kind: 'sha256', path: approval.file.path, sha256: approval.sha256 }]
        : [],
      operations: [
        { op: 'write', path: approval.file.path, content: approval.text, mode: 'replace' },
        { op: 'write', path: signal.path, content: signal.text, mode: 'ensure' },
      ],
    });
    log.info({ signal: signal.path }, 'approval signal completed');
    return { changed: true };
  }

  private async expire(id: string, state: VaultState, log: Logger): Promise<StepOutcome> {
    const approval = state.approval;
    if (!approval?.ok || !approval.sha256) return { changed: false };
    const pending = approval.file.path;
    const rejected = itemPaths.rejected(id);
    const item =
      state.item?.file.phase === 'InProgress' && state.item.file.owner === this.agent
        ? state.item
        : undefined;
    const now = this.clock().toISOString();
    const data = approval.decoded.data;
    const signal = updateSignal({
      agent: this.agent,
      kind: 'approval_expired',
      id,
      created: now,
      summary: `Approval request expired unanswered (${data.action}, expired ${data.expires})`,
      fields: { approval: rejected },
    });
    // The owner may have answered since the decision: then the request is gone or changed, the
    // preconditions fail, and their move wins.
    const result = await this.apply({
      message: `${this.agent}: expire ${id}`,
      preconditions: [{ kind: 'sha256', path: pending, sha256: approval.sha256 }],
      operations: [
        { op: 'delete', path: pending },
        {
          op: 'write',
          path: rejected,
          mode: 'create',
          content: withFields(approval.decoded.data, approval.decoded.body, {
            status: 'expired',
            reason: 'expired',
            expired_at: now,
          }),
        },
        ...(item ? [{ op: 'move' as const, from: item.file.path, to: itemPaths.rejectedItem(id) }] : []),
        { op: 'write', path: signal.path, content: signal.text, mode: 'ensure' },
      ],
      audit: [
        this.auditEntry({
          action_type: 'approval_expired',
          target: rejected,
          parameters: { action: data.action, expires: data.expires },
          approval_status: 'expired',
          result: 'rejected',
          task: id,
        }),
      ],
    });
    const moved = result.kind === 'applied';
    if (moved) log.info({ path: rejected }, 'approval expired');
    return {
      changed: true,
      condition: moved ? cond('Expired', 'True', 'Expired', `moved to ${rejected} unanswered`) : undefined,
    };
  }

  /** Moves an item that cannot be processed to `Needs_Action/_errors/` with the reason (ADR 0001). */
  private async quarantine(
    id: string,
    state: VaultState,
    reason: string,
    keepBytes: boolean,
    log: Logger,
  ): Promise<StepOutcome> {
    const item = state.item;
    if (!item) return { changed: false };
    const source = item.file.path;
    const safe = errorId(id);
    const target = itemPaths.error(safe);
    const orig = `${FOLDERS.errors}/${safe}.orig`;
    const now = this.clock().toISOString();
    if ((await this.files.inspect(target)).kind !== 'missing') {
      throw new TerminalError(`cannot quarantine ${source}: ${target} already exists`);
    }
    let described: Operation[];
    if (keepBytes) {
      if ((await this.files.inspect(orig)).kind !== 'missing') {
        throw new TerminalError(`cannot quarantine ${source}: ${orig} already exists`);
      }
      described = [
        { op: 'move', from: source, to: orig },
        {
          op: 'write',
          path: target,
          content: errorDescription({
            id,
            reason,
            originalPath: source,
            keptAs: orig,
            size: item.file.size,
            detected: now,
            agent: this.agent,
          }),
        },
      ];
    } else {
      const read = await this.files.readText(source);
      if (read.kind !== 'ok') return { changed: false };
      const doc = parseMarkdown(read.text);
      described = [
        {
          op: 'write',
          path: target,
          content: withFields(doc.data, doc.body, {
            status: 'error',
            error: reason,
            original_path: source,
            failed_at: now,
          }),
        },
        { op: 'delete', path: source },
      ];
    }
    const signal = updateSignal({
      agent: this.agent,
      kind: 'task_failed',
      id: safe,
      created: now,
      summary: `Item could not be processed: ${reason}`,
      fields: { item: target, original_path: source },
    });
    const result = await this.apply({
      message: `${this.agent}: error ${safe}`,
      preconditions: [{ kind: 'present', path: source }],
      operations: [...described, { op: 'write', path: signal.path, content: signal.text, mode: 'ensure' }],
      audit: [
        this.auditEntry({
          action_type: 'item_error',
          target: source,
          parameters: { reason, moved_to: target, kept_bytes_as: keepBytes ? orig : null },
          result: 'quarantined',
          task: id,
        }),
      ],
    });
    if (result.kind === 'conflict' || result.kind === 'secret') {
      // Nothing moved: say so once, as a Failed task, instead of trying again every pass.
      const why = result.kind === 'conflict' ? result.reason : 'the secret guard refused the description';
      throw new TerminalError(`cannot quarantine ${source}: ${why}`);
    }
    log.warn({ reason, path: target }, 'item moved to Needs_Action/_errors/');
    return {
      changed: true,
      alsoTouched: safe === id ? undefined : [safe],
      condition: cond('Failed', 'True', 'Quarantined', reason),
    };
  }

  /** The drafter gave up for good: the item stays where it is, marked `status: error` with the reason. */
  private async markFailed(task: Task, state: VaultState, reason: string, log: Logger): Promise<void> {
    const id = task.spec.id;
    const item = state.item;
    if (!item?.ok || !item.sha256 || item.file.phase !== 'InProgress' || item.file.owner !== this.agent)
      return;
    const now = this.clock().toISOString();
    const signal = updateSignal({
      agent: this.agent,
      kind: 'task_failed',
      id,
      created: now,
      summary: `Drafting failed: ${reason}`,
      fields: { item: item.file.path },
    });
    await this.apply({
      message: `${this.agent}: error ${id}`,
      preconditions: [{ kind: 'sha256', path: item.file.path, sha256: item.sha256 }],
      operations: [
        {
          op: 'write',
          path: item.file.path,
          mode: 'replace',
          content: withFields(item.decoded.data, item.decoded.body, {
            status: 'error',
            error: reason,
            failed_at: now,
          }),
        },
        { op: 'write', path: signal.path, content: signal.text, mode: 'ensure' },
      ],
      audit: [
        this.auditEntry({
          action_type: 'draft_failed',
          target: item.file.path,
          parameters: { reason },
          result: 'failed',
          task: id,
        }),
      ],
    });
    log.error({ reason }, 'task failed; the item is kept with status: error');
  }

  // -- failures and status ---------------------------------------------------------------------------

  private async failed(
    error: unknown,
    task: Task,
    state: VaultState,
    decision: Decision,
    context: ReconcileContext,
    log: Logger,
  ): Promise<Result> {
    const message = error instanceof Error ? error.message : String(error);
    const maxAttempts = this.options.maxAttempts ?? 5;
    const lastTry = context.attempt + 1 >= maxAttempts;
    if (error instanceof DrafterError) {
      if (error.retryable && !lastTry) {
        log.warn({ err: message, attempt: context.attempt + 1 }, 'drafter failed; retrying with backoff');
        await this.writeStatus(task, decision, {
          changed: false,
          condition: cond('Drafted', 'False', 'DrafterError', message),
        });
        throw error;
      }
      const reason = error.retryable ? `${message} (gave up after ${context.attempt + 1} attempts)` : message;
      await this.markFailed(task, state, reason, log);
      await this.options.mirror?.refresh([task.spec.id]);
      this.options.onCommitted?.();
      await this.writeStatus(
        task,
        { ...decision, phase: 'Failed', error: reason },
        {
          changed: true,
          condition: cond('Drafted', 'False', 'DrafterFailed', reason),
        },
      );
      return { requeue: true };
    }
    if (error instanceof TerminalError || lastTry) {
      const reason =
        error instanceof TerminalError
          ? message
          : `${message} (gave up after ${context.attempt + 1} attempts)`;
      await this.writeStatus(
        task,
        { ...decision, phase: 'Failed', error: reason },
        {
          changed: false,
          condition: cond('Stalled', 'True', 'RepeatedErrors', reason),
        },
      );
      throw new TerminalError(reason);
    }
    throw error;
  }

  private async writeStatus(task: Task, decision: Decision, outcome?: StepOutcome): Promise<void> {
    const now = this.clock();
    const generation = task.metadata.generation;
    let conditions = task.status?.conditions ?? [];
    if (outcome?.condition)
      conditions = setCondition(conditions, { ...outcome.condition, observedGeneration: generation }, now);
    const progressing = decision.step
      ? cond('Progressing', 'True', stepReason(decision.step), `took the ${decision.step.kind} step`)
      : cond('Progressing', 'False', decision.waiting?.reason ?? 'Idle', decision.waiting?.message ?? '');
    conditions = setCondition(conditions, { ...progressing, observedGeneration: generation }, now);
    const stalled = conditions.find((c) => c.type === 'Stalled');
    if (stalled && stalled.observedGeneration !== generation && stalled.status === 'True') {
      conditions = setCondition(
        conditions,
        {
          type: 'Stalled',
          status: 'False',
          reason: 'TaskChanged',
          message: '',
          observedGeneration: generation,
        },
        now,
      );
    }
    const desired: TaskStatus = {
      phase: decision.phase,
      owner: decision.owner,
      approvalPath: decision.approvalPath,
      expires: decision.expires,
      conditions,
      observedGeneration: generation,
      lastError: decision.error,
      triage: outcome?.triage ?? task.status?.triage,
    };
    for (const event of taskEvents(task.status, desired, outcome?.condition))
      this.options.events?.record(task, event);
    await this.patchStatus(task, desired);
  }

  /**
   * Writes the status as a merge patch conditional on the version it was computed from. A conflict means
   * the spec moved on meanwhile (the reconciler is the status's only writer): what this pass did still
   * holds, so it is written again on the fresh version; the new generation gets its own pass.
   */
  private async patchStatus(task: Task, desired: TaskStatus): Promise<void> {
    let current = task;
    for (let attempt = 1; ; attempt++) {
      const status = current.status ?? {};
      if (jsonEqual(status, desired)) return;
      const patch: StatusPatch = { ...desired };
      for (const key of Object.keys(status) as Array<keyof TaskStatus>) {
        if (desired[key] === undefined) patch[key] = null;
      }
      try {
        await this.options.store.patchStatus(current.metadata.name, patch, {
          fieldManager: STATUS_FIELD_MANAGER,
          resourceVersion: current.metadata.resourceVersion,
        });
        return;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= 5) throw error;
        const fresh = await this.options.store.get(current.metadata.name);
        if (!fresh || fresh.metadata.uid !== task.metadata.uid) return;
        current = fresh;
      }
    }
  }

  // -- helpers ---------------------------------------------------------------------------------------

  /**
   * Hands a change to the vault port; every step's write goes through here. Model usage recorded for the
   * task since its last change rides along in the same commit.
   */
  private async apply(change: VaultChange & { audit?: AuditEntry[] }): Promise<ChangeResult> {
    const id = change.message.split(' ').at(-1) ?? '';
    const usage = this.pendingUsage.get(id) ?? [];
    const result = await this.options.vault.apply({ ...change, audit: [...usage, ...(change.audit ?? [])] });
    if (result.kind === 'applied') this.pendingUsage.delete(id);
    return result;
  }

  private auditEntry(input: {
    action_type: string;
    target: string;
    result: string;
    parameters?: Record<string, unknown>;
    approval_status?: string;
    task?: string;
    idempotency_key?: string;
  }): AuditEntry {
    return { actor: this.agent, ...input };
  }

  /** Token usage and cost of each model call, as audit records (committed with the task's next change) and metrics. */
  private recordUsage(id: string, usage: LlmUsage[]): void {
    if (usage.length === 0) return;
    this.pendingUsage.set(id, [
      ...(this.pendingUsage.get(id) ?? []),
      ...usage.map((u) =>
        this.auditEntry({
          action_type: 'llm_call',
          target: u.model,
          parameters: {
            purpose: u.purpose,
            model: u.model,
            input_tokens: u.inputTokens,
            output_tokens: u.outputTokens,
            cost_usd: u.costUsd,
          },
          result: 'ok',
          task: id,
        }),
      ),
    ]);
    for (const u of usage) {
      this.options.metrics?.llmTokens.inc({ model: u.model, direction: 'input' }, u.inputTokens);
      this.options.metrics?.llmTokens.inc({ model: u.model, direction: 'output' }, u.outputTokens);
      if (u.costUsd !== null) this.options.metrics?.llmCost.inc({ model: u.model }, u.costUsd);
    }
  }
}

function cond(type: string, status: 'True' | 'False', reason: string, message: string) {
  return { type, status, reason, message };
}

function stepReason(step: Step): string {
  return `${step.kind[0]!.toUpperCase()}${step.kind.slice(1)}Step`;
}

function okItem(state: VaultState) {
  const item = state.item;
  if (!item?.ok || !item.sha256) throw new TerminalError('the item cannot be read');
  return item as typeof item & { sha256: string };
}
