import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type AuditInput, AuditLog, auditFileFor } from '../core/audit.js';
import type { Decoded } from '../core/codec.js';
import { parseMarkdown } from '../core/frontmatter.js';
import { isErrno, moveExclusive, writeFileAtomic, writeFileIfAbsent } from '../core/fsutil.js';
import { FOLDERS, HANDBOOK_FILE, itemPaths } from '../core/layout.js';
import type { ItemFrontmatter } from '../core/schemas.js';
import { summarizeTasks } from '../core/status.js';
import type { VaultRepo } from '../core/vault-repo.js';
import {
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
  TerminalError,
} from './controller.js';
import { type Decision, decide, type Step, type VaultState } from './decide.js';
import { DrafterError, type LlmUsage } from './drafters/drafter.js';
import { type EventRecorder, taskEvents } from './events.js';
import type { DomainHandler, HandlerInput } from './handlers/handler.js';
import type { OperatorMetrics } from './metrics.js';
import { ConflictError, jsonEqual, type StatusPatch, type TaskStore } from './store.js';
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
  repo: VaultRepo;
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
  private readonly audit: AuditLog;
  private readonly agent: string;
  private readonly root: string;

  constructor(private readonly options: TaskReconcilerOptions) {
    this.handlers = new Map(options.handlers.map((h) => [h.domain, h]));
    this.clock = options.clock ?? (() => new Date());
    this.audit = new AuditLog(options.repo.root, this.clock);
    this.agent = options.repo.agent;
    this.root = options.repo.root;
  }

  async reconcile(request: Request, context: ReconcileContext): Promise<Result> {
    const task = await this.options.store.get(request.name);
    if (!task) return {};
    const id = task.spec.id;
    const log = this.options.logger.child({ task: id });
    const state = await this.options.repo.exclusive(() => this.readState(id));
    const decision = decide(task, state, { agent: this.agent, now: this.clock(), handlers: this.handlers });
    if (!decision.step) {
      await this.writeStatus(task, decision);
      if (decision.requeueAfterMs === undefined) return {};
      return { requeueAfterMs: Math.min(decision.requeueAfterMs, MAX_REQUEUE_MS) };
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
        existsSync(join(this.root, signal)) || existsSync(join(this.root, archivedUpdatePath(signal)));
    }
    return state;
  }

  /** The handler `decide` chose: by the item's folder domain, else the task's. */
  private handlerFor(task: Task, state: VaultState): DomainHandler {
    const handler = this.handlers.get(state.item?.file.domain ?? task.spec.domain);
    if (!handler) throw new TerminalError(`no handler for the ${task.spec.domain} domain`);
    return handler;
  }

  private async handbook(): Promise<string> {
    try {
      return await readFile(join(this.root, HANDBOOK_FILE), 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return '';
      throw error;
    }
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
    const outcome = await this.options.repo.claim(id);
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
      await this.recordUsage(id, outcome.usage);
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
    const done = await this.options.repo.change(`${this.agent}: triage ${id}`, async () => {
      if (!(await this.unchanged(path, item.sha256))) return [];
      await writeFileAtomic(
        join(this.root, path),
        withFields(item.decoded.data, item.decoded.body, {
          triage: 'no_reply',
          triage_reason: record.reason,
          priority: record.priority,
          triaged_at: now,
        }),
      );
      const signal = updateSignal({
        agent: this.agent,
        kind: 'info',
        id,
        created: now,
        summary: `No reply needed: ${record.reason}`,
        fields: { item: path },
      });
      await writeFileIfAbsent(join(this.root, signal.path), signal.text);
      const log = await this.appendAudit({
        action_type: 'triage',
        target: path,
        parameters: { needs_reply: false, priority: record.priority, reason: record.reason, by: record.by },
        result: 'no_reply',
        task: id,
      });
      return [path, signal.path, log];
    });
    log.info({ reason: record.reason }, 'no reply needed');
    return {
      changed: done.committed,
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
    await this.recordUsage(id, draft.usage);
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
      summary: `${draft.action} to ${draft.parameters.to ?? '?'}: ${draft.parameters.subject ?? ''}`.trim(),
      fields: { approval: request.path, action: draft.action, priority: triage.priority },
    });
    let wrote = false;
    const result = await this.options.repo.change(`${this.agent}: draft ${id}`, async () => {
      if (!(await this.unchanged(item.file.path, item.sha256))) return [];
      if ((await findTaskFiles(this.root, id)).some((f) => f.role === 'approval')) return [];
      wrote = await writeFileIfAbsent(join(this.root, request.path), request.text);
      if (!wrote) return [];
      await writeFileIfAbsent(join(this.root, signal.path), signal.text);
      const logPath = await this.appendAudit({
        action_type: 'approval_requested',
        target: request.path,
        parameters: { ...draft.parameters, action: draft.action, drafter: draft.drafter },
        approval_status: 'pending',
        result: 'draft_written',
        task: id,
        idempotency_key: request.data.content_sha256,
      });
      return [request.path, signal.path, logPath];
    });
    const refused = result.refused.find((r) => r.path === request.path || r.path === signal.path);
    if (refused) {
      await rm(join(this.root, request.path), { force: true });
      await rm(join(this.root, signal.path), { force: true });
      throw new DrafterError(
        `the draft was refused by the secret guard (${refused.reason}); nothing was written`,
        false,
      );
    }
    if (!wrote) {
      log.info('draft skipped: the task moved on meanwhile');
      return { changed: true };
    }
    log.info(
      { approval: request.path, drafter: draft.drafter, expires: request.data.expires },
      'approval requested',
    );
    return {
      changed: true,
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
    await this.options.repo.change(`${this.agent}: draft ${id}`, async () => {
      if (!existsSync(join(this.root, approval.file.path))) return [];
      await writeFileIfAbsent(join(this.root, signal.path), signal.text);
      return [approval.file.path, signal.path];
    });
    log.info({ signal: signal.path }, 'approval signal completed');
    return { changed: true };
  }

  private async expire(id: string, state: VaultState, log: Logger): Promise<StepOutcome> {
    const approval = state.approval;
    if (!approval?.ok) return { changed: false };
    const pending = approval.file.path;
    const rejected = itemPaths.rejected(id);
    const item =
      state.item?.file.phase === 'InProgress' && state.item.file.owner === this.agent
        ? state.item
        : undefined;
    const now = this.clock().toISOString();
    let moved = false;
    await this.options.repo.change(`${this.agent}: expire ${id}`, async () => {
      // The owner may have answered since the decision: then their move wins and nothing happens here.
      if (!(await moveExclusive(join(this.root, pending), join(this.root, rejected)))) return [];
      moved = true;
      const doc = parseMarkdown(await readFile(join(this.root, rejected), 'utf8'));
      await writeFileAtomic(
        join(this.root, rejected),
        withFields(doc.data, doc.body, { status: 'expired', reason: 'expired', expired_at: now }),
      );
      const paths = [pending, rejected];
      if (
        item &&
        (await moveExclusive(join(this.root, item.file.path), join(this.root, itemPaths.rejectedItem(id))))
      ) {
        paths.push(item.file.path, itemPaths.rejectedItem(id));
      }
      const signal = updateSignal({
        agent: this.agent,
        kind: 'approval_expired',
        id,
        created: now,
        summary: `Approval request expired unanswered (${approval.decoded.data.action}, expired ${approval.decoded.data.expires})`,
        fields: { approval: rejected },
      });
      await writeFileIfAbsent(join(this.root, signal.path), signal.text);
      const logPath = await this.appendAudit({
        action_type: 'approval_expired',
        target: rejected,
        parameters: { action: approval.decoded.data.action, expires: approval.decoded.data.expires },
        approval_status: 'expired',
        result: 'rejected',
        task: id,
      });
      return [...paths, signal.path, logPath];
    });
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
    await this.options.repo.change(`${this.agent}: error ${safe}`, async () => {
      const abs = join(this.root, source);
      if (!existsSync(abs)) return [];
      if (existsSync(join(this.root, target))) {
        throw new TerminalError(`cannot quarantine ${source}: ${target} already exists`);
      }
      const paths = [source, target];
      if (keepBytes) {
        if (!(await moveExclusive(abs, join(this.root, orig)))) {
          throw new TerminalError(`cannot quarantine ${source}: ${orig} already exists`);
        }
        await writeFileAtomic(
          join(this.root, target),
          errorDescription({
            id,
            reason,
            originalPath: source,
            keptAs: orig,
            size: item.file.size,
            detected: now,
            agent: this.agent,
          }),
        );
        paths.push(orig);
      } else {
        const doc = parseMarkdown(await readFile(abs, 'utf8'));
        await writeFileAtomic(
          join(this.root, target),
          withFields(doc.data, doc.body, {
            status: 'error',
            error: reason,
            original_path: source,
            failed_at: now,
          }),
        );
        await unlink(abs);
      }
      const signal = updateSignal({
        agent: this.agent,
        kind: 'task_failed',
        id: safe,
        created: now,
        summary: `Item could not be processed: ${reason}`,
        fields: { item: target, original_path: source },
      });
      await writeFileIfAbsent(join(this.root, signal.path), signal.text);
      const logPath = await this.appendAudit({
        action_type: 'item_error',
        target: source,
        parameters: { reason, moved_to: target, kept_bytes_as: keepBytes ? orig : null },
        result: 'quarantined',
        task: id,
      });
      return [...paths, signal.path, logPath];
    });
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
    if (!item?.ok || item.file.phase !== 'InProgress' || item.file.owner !== this.agent) return;
    const now = this.clock().toISOString();
    await this.options.repo.change(`${this.agent}: error ${id}`, async () => {
      if (!(await this.unchanged(item.file.path, item.sha256!))) return [];
      await writeFileAtomic(
        join(this.root, item.file.path),
        withFields(item.decoded.data, item.decoded.body, { status: 'error', error: reason, failed_at: now }),
      );
      const signal = updateSignal({
        agent: this.agent,
        kind: 'task_failed',
        id,
        created: now,
        summary: `Drafting failed: ${reason}`,
        fields: { item: item.file.path },
      });
      await writeFileIfAbsent(join(this.root, signal.path), signal.text);
      const logPath = await this.appendAudit({
        action_type: 'draft_failed',
        target: item.file.path,
        parameters: { reason },
        result: 'failed',
        task: id,
      });
      return [item.file.path, signal.path, logPath];
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

  private async unchanged(path: string, sha256: string): Promise<boolean> {
    try {
      const bytes = await readFile(join(this.root, path));
      return createHash('sha256').update(bytes).digest('hex') === sha256;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw error;
    }
  }

  /** Appends an audit record (under the clone's lock) and returns the log file's path for the commit. */
  private async appendAudit(input: Omit<AuditInput, 'actor'>): Promise<string> {
    await this.audit.append({ actor: this.agent, ...input });
    return auditFileFor(this.clock());
  }

  /** Token usage and cost of each model call, as audit records (and metrics). */
  private async recordUsage(id: string, usage: LlmUsage[]): Promise<void> {
    if (usage.length === 0) return;
    await this.options.repo.exclusive(async () => {
      for (const u of usage) {
        await this.audit.append({
          action_type: 'llm_call',
          actor: this.agent,
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
        });
      }
    });
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
