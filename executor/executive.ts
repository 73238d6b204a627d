import { type AuditInput, AuditLog } from '../core/audit.js';
import { UnsafePathError } from '../core/errors.js';
import { isSafeTaskId, sanitizeTaskId } from '../core/ids.js';
import { FOLDERS, itemPaths, locate } from '../core/layout.js';
import type { Logger } from '../core/log.js';
import type { AuditRecord } from '../core/schemas.js';
import { type SyncReport, VaultRepo } from '../core/vault-repo.js';
import { AtMostOnce, idempotencyKey } from './actions/at-most-once.js';
import { type ActionRegistry, actionRegistry } from './actions/index.js';
import type { ActionExecutor } from './actions/types.js';
import { type ExecutorConfig, ratePerHour } from './config.js';
import { DashboardWriter } from './dashboard.js';
import { approveTask, type DecisionContext, DecisionError, refuseApproval, rejectTask } from './decisions.js';
import type { MailTransport } from './email.js';
import { Ledger } from './ledger.js';
import type { SentCopy } from './sent-copy.js';
import { type Approval, verifyApproval } from './signature.js';
import { openStateDir, type StatePaths } from './state.js';
import { type ReadApproval, TaskFiles, type UnsafeEntry } from './vault-files.js';

/**
 * The local executive's pass (DESIGN.md §1, §2, §4, §5): take in the owner's decisions, sync, refuse what
 * did not come from the owner, execute signed approvals at most once, merge `Updates/` into
 * `Dashboard.md`, and push. Level-triggered: every pass reads the vault and the ledger afresh, so it can
 * stop anywhere. The remote is hostile: every vault file is read through VaultFiles (a link, a special
 * or an oversized file is reported and skipped, never followed), and one bad file never stops the pass.
 */

export type ExecutiveOptions = {
  root: string;
  agent?: string;
  key: Buffer;
  config: ExecutorConfig;
  log: Logger;
  clock?: () => Date;
  /** Defaults to SMTP from the config; tests and the bench may pass their own. */
  transport?: MailTransport;
  /** Skip git sync (tests of a single clone). */
  sync?: boolean;
  crashAfterIntent?: boolean;
  /** Optional copy of each sent reply in the owner's Sent mailbox (`FTE_SENT_COPY=1`, executor/sent-copy.ts). */
  sentCopy?: SentCopy;
  /** The executor's state folder (ledger, dashboard state); default from `stateEnv` (executor/state.ts). */
  state?: StatePaths;
  /** Environment the state folder is found from when `state` is not given (default process.env). */
  stateEnv?: NodeJS.ProcessEnv;
  /** The action executors; default: the registry (executor/actions/index.ts) over `transport`. */
  actions?: ActionRegistry;
};

export type PassReport = {
  sync: SyncReport[];
  approved: string[];
  rejected: string[];
  refused: Array<{ id: string; reason: string }>;
  sent: Array<{ id: string; messageId: string }>;
  finished: string[];
  uncertain: Array<{ id: string; reason: string }>;
  failed: Array<{ id: string; reason: string }>;
  deferred: Array<{ id: string; reason: string }>;
  quarantined: string[];
  /** Links, special files and oversized files found among task files: never read, reported once. */
  unsafe: UnsafeEntry[];
  merged: number;
};

/** Statuses of a file in `Approved/` that are already settled: intake and execution leave them alone. */
const SETTLED = new Set(['refused', 'uncertain', 'failed', 'rejected', 'expired']);

/** Statuses from which the owner's move into `Rejected/` is a rejection (nothing was sent). */
const REJECTABLE = new Set(['pending', 'approved', 'refused', 'failed', 'expired']);

export class Executive {
  readonly repo: VaultRepo;
  readonly audit: AuditLog;
  readonly agent: string;
  readonly files: TaskFiles;
  private readonly root: string;
  private readonly clock: () => Date;
  private readonly log: Logger;
  private readonly actions: ActionRegistry;
  /** Deferral reasons already logged, so a waiting approval is not logged on every pass. */
  private readonly quietDeferrals = new Map<string, string>();
  /** Unsafe paths already reported by this process (path → reason). */
  private readonly reportedUnsafe = new Map<string, string>();
  private pendingUnsafe: UnsafeEntry[] = [];
  private opened?: {
    state: StatePaths;
    ledger: Ledger;
    ctx: DecisionContext;
    once: AtMostOnce;
    dashboard: DashboardWriter;
  };

  constructor(private readonly o: ExecutiveOptions) {
    this.root = o.root;
    this.agent = o.agent ?? 'local';
    this.clock = o.clock ?? (() => new Date());
    this.log = o.log;
    this.repo = new VaultRepo({
      root: o.root,
      agent: this.agent,
      clock: this.clock,
      sweepExclude: [FOLDERS.approved, FOLDERS.rejected],
      knownSecrets: [o.key],
      onEvent: (event) => this.log.warn({ path: event.path, kind: event.kind }, event.message),
    });
    this.files = new TaskFiles(o.root, (entry) => this.noteUnsafe(entry));
    this.audit = new ReportingAudit(o.root, this.clock, (entry, record) => {
      this.noteUnsafe(entry);
      this.log.warn({ record }, 'audit record not written: the audit log path is unsafe');
    });
    this.actions =
      o.actions ??
      actionRegistry({
        from: o.config.smtp?.from ?? o.config.from,
        transport: o.transport,
        sentCopy: o.sentCopy,
        log: o.log,
        odoo: o.config.odoo,
        paymentCeiling: o.config.paymentCeiling,
        ledger: () => this.opened?.ledger,
      });
  }

  /** The state folder, ledger and helpers (opened on the first pass: finding the state folder is async). */
  private async open(): Promise<NonNullable<Executive['opened']>> {
    if (this.opened) return this.opened;
    const state = this.o.state ?? (await openStateDir(this.root, this.o.stateEnv ?? process.env));
    const ledger = new Ledger(state.ledger);
    const ctx: DecisionContext = {
      root: this.root,
      agent: this.agent,
      owner: this.o.config.owner,
      audit: this.audit,
      clock: this.clock,
      ledger,
      actions: this.actions,
      files: this.files,
    };
    const once = new AtMostOnce({
      ledger,
      audit: async (record) => {
        await this.audit.append(record);
      },
      agent: this.agent,
      dryRun: this.o.config.dryRun,
      ratePerHour: (action) => ratePerHour(this.o.config, action),
      clock: this.clock,
      log: this.log,
      crashAfterIntent: this.o.crashAfterIntent,
    });
    const dashboard = new DashboardWriter(this.files, this.agent, this.audit, this.clock, state.dashboard);
    this.opened = { state, ledger, ctx, once, dashboard };
    return this.opened;
  }

  /** The ledger (outside the working tree). */
  async ledger(): Promise<Ledger> {
    return (await this.open()).ledger;
  }

  async pass(): Promise<PassReport> {
    const { dashboard } = await this.open();
    const report: PassReport = {
      sync: [],
      approved: [],
      rejected: [],
      refused: [],
      sent: [],
      finished: [],
      uncertain: [],
      failed: [],
      deferred: [],
      quarantined: [],
      unsafe: [],
      merged: 0,
    };
    const sync = this.o.sync !== false;
    await this.resumeInterruptedFinishes();
    // The owner's own moves first: once swept into a commit they would look like a pull.
    let dirty = await this.intake(report);
    if (sync) {
      report.sync.push(await this.repo.sync());
      dirty = false;
    }
    dirty = (await this.intake(report)) || dirty;
    dirty = (await this.execute(report)) || dirty;
    const pulled = report.sync.some((r) => r.pulled > 0 || r.conflicts.length > 0);
    const { touched, merged } = await dashboard.merge(
      report.sync.at(-1),
      dirty || pulled || touchedAny(report),
    );
    report.merged = merged;
    const audited = await this.flushUnsafe(report);
    if (touched.length > 0 || audited) {
      const { committed } = await this.repo.commit(
        touched.length > 0
          ? `${this.agent}: dashboard ${merged > 0 ? `${merged}-updates` : 'refresh'}`
          : `${this.agent}: unsafe paths reported`,
        [...touched, FOLDERS.logs],
      );
      dirty = committed || dirty;
    }
    if (sync && dirty) report.sync.push(await this.repo.sync());
    return report;
  }

  /**
   * A kill inside `finish()` after the approval was removed and before the commit leaves the approval
   * deleted in the working tree only, with a ledger that says sent: nothing would ever file it in Done/.
   * Put HEAD's approval back; this pass then finds it already done and finishes it without acting again.
   */
  private async resumeInterruptedFinishes(): Promise<void> {
    const { ledger } = await this.open();
    for (const task of await ledger.unfinished()) {
      // Moved into Rejected/ by the owner: the rejection intake refuses it and files it (never both).
      if (!isSafeTaskId(task) || (await this.files.isFile(`${FOLDERS.rejected}/${task}.md`))) continue;
      if (await this.repo.restoreDeleted(`${FOLDERS.approved}/${task}.md`)) {
        this.log.warn(
          { task },
          'an interrupted finish removed the approval uncommitted: restored, filing it in Done/',
        );
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Unsafe paths: never read or moved; reported once per process (audit + log), left for the git owner.

  private noteUnsafe(entry: UnsafeEntry): void {
    if (this.reportedUnsafe.get(entry.path) === entry.reason) return;
    this.reportedUnsafe.set(entry.path, entry.reason);
    this.pendingUnsafe.push(entry);
    this.log.warn(
      { path: entry.path, problem: entry.problem, reason: entry.reason },
      'unsafe vault path: never read or moved; left for the git owner to quarantine',
    );
  }

  private async flushUnsafe(report: PassReport): Promise<boolean> {
    const entries = this.pendingUnsafe;
    this.pendingUnsafe = [];
    let audited = false;
    for (const entry of entries) {
      report.unsafe.push(entry);
      const written = await this.audit.append({
        action_type: 'unsafe_path',
        actor: this.agent,
        target: entry.path,
        parameters: { problem: entry.problem, reason: entry.reason },
        result: 'skipped',
      });
      audited = audited || written.timestamp !== '';
    }
    return audited;
  }

  /**
   * Runs one file's step so that one bad file never stops the pass: an unsafe path is reported, an
   * owner's decision that cannot be carried out is logged; anything else is a real failure.
   */
  private async isolated(path: string, step: () => Promise<boolean>): Promise<boolean> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof UnsafePathError) {
        this.noteUnsafe({ path: error.path, problem: 'link', reason: error.reason });
        return false;
      }
      if (error instanceof DecisionError) {
        this.log.warn({ path, err: error.message }, 'decision not carried out');
        return false;
      }
      throw error;
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Intake: the owner's decisions made on this machine, and refusals of everything else in Approved/.

  private async intake(report: PassReport): Promise<boolean> {
    let dirty = false;
    const uncommitted = await this.notInHead();
    for (const file of await this.files.listMarkdown(FOLDERS.approved)) {
      const path = `${FOLDERS.approved}/${file}`;
      dirty =
        (await this.isolated(path, () => this.intakeApproved(path, !uncommitted.has(path), report))) || dirty;
    }
    // Only files this machine added can be the owner's rejections; the rest are already recorded.
    for (const path of [...uncommitted].filter((p) => p.startsWith(`${FOLDERS.rejected}/`)).sort()) {
      dirty = (await this.isolated(path, () => this.intakeRejected(path, report))) || dirty;
    }
    return dirty;
  }

  /**
   * Files in `Approved/` and `Rejected/` that HEAD does not have (untracked or only staged): made on
   * this machine since the last commit. Anything a pull brought is in HEAD. One `git status` per call.
   */
  private async notInHead(): Promise<Set<string>> {
    const entries = await this.repo.status([FOLDERS.approved, FOLDERS.rejected]);
    return new Set(entries.filter((e) => e.code === '??' || e.code[0] === 'A').map((e) => e.path));
  }

  private async commitChange(message: string, touched: string[]): Promise<boolean> {
    return (await this.repo.commit(message, [...new Set(touched)])).committed;
  }

  private async intakeApproved(path: string, committed: boolean, report: PassReport): Promise<boolean> {
    const { ctx } = await this.open();
    const where = locate(path);
    if (where?.role !== 'approval') return false;
    const id = where.id;
    const read = await this.files.readApproval(path);
    if (read.kind === 'missing' || read.kind === 'unsafe') return false;
    if (read.kind === 'unreadable' || !isSafeTaskId(id)) {
      const safeId = isSafeTaskId(id) ? id : sanitizeTaskId(id);
      const reason = read.kind === 'unreadable' ? read.reason : `unsafe file name ${JSON.stringify(id)}`;
      const touched = await this.files.quarantine(
        path,
        safeId,
        `not an approval request: ${reason}`,
        this.clock(),
      );
      if (touched.length === 0) return false;
      await this.audit.append({
        action_type: 'approval_refused',
        actor: this.agent,
        target: path,
        parameters: { reason, kept_as: touched[1] },
        approval_status: 'refused',
        result: 'quarantined',
        task: safeId,
      });
      report.quarantined.push(path);
      this.log.warn(
        { task: safeId, path, reason },
        'unreadable file in Approved/ moved to Needs_Action/_errors/',
      );
      return this.commitChange(`${this.agent}: error ${safeId}`, [...touched, FOLDERS.logs]);
    }
    const status = String(read.raw.data.status ?? '');
    if (SETTLED.has(status) || status === 'executed') return false;
    if (read.kind === 'invalid') return this.refuse(path, id, read.raw, 'invalid', read.reason, report);

    if (!committed && read.approval.data.approval_signature === undefined) {
      // Moved into Approved/ on this machine (e.g. in Obsidian) and not committed yet: the owner's decision.
      try {
        const { approval, touched } = await approveTask(ctx, this.o.key, id, 'obsidian');
        report.approved.push(id);
        this.log.info({ task: id, via: 'obsidian', action: approval.data.action }, 'approval signed');
        return this.commitChange(`${this.agent}: approve ${id}`, touched);
      } catch (error) {
        if (!(error instanceof DecisionError)) throw error;
        const code = /expired/.test(error.message) ? 'expired' : error.kind;
        return this.refuse(path, id, read.raw, code, error.message, report);
      }
    }
    const verdict = verifyApproval(this.o.key, id, read.approval, this.clock());
    if (!verdict.ok) return this.refuse(path, id, read.raw, verdict.code, verdict.reason, report);
    // A stale copy left in Pending_Approval/ (an interrupted `fte approve`, or a copy instead of a move).
    const stale = await this.files.pendingPaths(id);
    for (const p of stale) await this.files.remove(p);
    if (!committed || stale.length > 0) {
      report.approved.push(id);
      return this.commitChange(`${this.agent}: approve ${id}`, [
        path,
        ...(await this.files.allPendingPaths(id)),
        FOLDERS.logs,
      ]);
    }
    return false;
  }

  private async refuse(
    path: string,
    id: string,
    raw: { data: Record<string, unknown>; body: string },
    code: string,
    reason: string,
    report: PassReport,
  ): Promise<boolean> {
    const { ctx, ledger } = await this.open();
    const { action, content_sha256 } = raw.data;
    if (code === 'expired' && typeof action === 'string' && typeof content_sha256 === 'string') {
      // An expiry seen is the owner's "no" too: recorded where no pull reaches it.
      await ledger.append({
        ts: this.clock().toISOString(),
        key: idempotencyKey({ data: { action, task: id, content_sha256 } }),
        task: id,
        action,
        kind: 'expired',
        detail: reason.slice(0, 300),
      });
    }
    const touched = await refuseApproval(ctx, path, id, raw, code, reason);
    report.refused.push({ id, reason });
    this.log.warn({ task: id, path, code, reason }, 'approval refused');
    return this.commitChange(`${this.agent}: refuse ${id}`, touched);
  }

  private async intakeRejected(path: string, report: PassReport): Promise<boolean> {
    const { ctx } = await this.open();
    const where = locate(path);
    if (where?.role !== 'approval' || !isSafeTaskId(where.id)) return false;
    const id = where.id;
    const read = await this.files.readApproval(path);
    if (read.kind === 'missing' || read.kind === 'unsafe') return false;
    const status = read.kind === 'unreadable' ? '' : String(read.raw.data.status);
    let touched: string[];
    if (read.kind !== 'unreadable' && REJECTABLE.has(status)) {
      // Moved into Rejected/ on this machine: the owner said no.
      try {
        touched = (await rejectTask(ctx, id, 'moved to Rejected/ by the owner', 'obsidian')).touched;
      } catch (error) {
        if (!(error instanceof DecisionError)) throw error;
        return this.undoRejection(path, id, read, error.message, report);
      }
    } else if (read.kind === 'unreadable' || status === 'rejected') {
      // `fte reject` already wrote it (or the owner dropped a non-approval there); commit it with the item.
      touched = [
        path,
        itemPaths.rejectedItem(id),
        itemPaths.approved(id),
        ...(await this.files.allPendingPaths(id)),
        ...(await this.files.allInProgressPaths(id)),
        FOLDERS.logs,
      ];
    } else {
      return this.undoRejection(
        path,
        id,
        read,
        `${id} is ${status}; it may have been carried out already and can no longer be rejected`,
        report,
      );
    }
    report.rejected.push(id);
    this.log.info({ task: id }, 'rejected by the owner');
    return this.commitChange(`${this.agent}: reject ${id}`, touched);
  }

  /**
   * The owner moved into `Rejected/` an approval that was sent or may have been (Uncertain): that cannot be
   * undone, so the file goes back to `Approved/` with the reason, visible, and the pass goes on.
   */
  private async undoRejection(
    path: string,
    id: string,
    read: Exclude<ReadApproval, { kind: 'missing' | 'unsafe' | 'unreadable' }>,
    reason: string,
    report: PassReport,
  ): Promise<boolean> {
    const back = itemPaths.approved(id);
    if (await this.files.occupied(back)) {
      this.deferOnce(
        report,
        id,
        `cannot reject: ${reason}; remove ${path} (the approval is still in ${back})`,
      );
      return false;
    }
    await this.files.writeDoc(path, {
      data: { ...read.raw.data, error: `not rejected: ${reason}` },
      body: read.raw.body,
    });
    if (!(await this.files.files.move(path, back))) return false;
    await this.audit.append({
      action_type: 'rejection_refused',
      actor: this.agent,
      target: path,
      parameters: { reason, kept_as: back },
      approval_status: 'approved',
      result: 'kept',
      task: id,
    });
    report.refused.push({ id, reason: `not rejected: ${reason}` });
    this.log.warn({ task: id, reason }, 'rejection refused; the approval is back in Approved/');
    return this.commitChange(`${this.agent}: keep ${id}`, [path, back, FOLDERS.logs]);
  }

  // ---------------------------------------------------------------------------------------------------
  // Execution: signed, committed approvals only.

  private async execute(report: PassReport): Promise<boolean> {
    let dirty = false;
    const uncommitted = await this.notInHead();
    for (const file of await this.files.listMarkdown(FOLDERS.approved)) {
      const path = `${FOLDERS.approved}/${file}`;
      const where = locate(path);
      if (where?.role !== 'approval' || !isSafeTaskId(where.id)) continue;
      if (uncommitted.has(path)) continue; // intake commits it first
      dirty = (await this.isolated(path, () => this.executeFile(path, where.id, report))) || dirty;
    }
    return dirty;
  }

  private async executeFile(path: string, id: string, report: PassReport): Promise<boolean> {
    const read = await this.files.readApproval(path);
    if (read.kind !== 'ok' || read.approval.data.status !== 'approved') return false;
    const verdict = verifyApproval(this.o.key, id, read.approval, this.clock());
    if (!verdict.ok) return this.refuse(path, id, read.raw, verdict.code, verdict.reason, report);
    // The owner's last word: a rejection (or an expiry) recorded after this approval was signed wins.
    const { ledger } = await this.open();
    const no = await ledger.lastNo(id);
    const signedAt = Date.parse(String(read.approval.data.approved_at ?? ''));
    if (no && !(signedAt > Date.parse(no.ts))) {
      return this.refuse(
        path,
        id,
        read.raw,
        no.kind,
        `the owner's later decision stands: ${no.kind} on this machine at ${no.ts}, after this approval was signed; a copy of the earlier approval is never executed`,
        report,
      );
    }
    return this.executeOne(path, id, read.approval, read.raw, report);
  }

  private async executeOne(
    path: string,
    id: string,
    approval: Approval,
    raw: { data: Record<string, unknown>; body: string },
    report: PassReport,
  ): Promise<boolean> {
    const { once } = await this.open();
    const action = approval.data.action;
    const executor = this.actions.get(action);
    if (!executor) {
      this.deferOnce(report, id, `no executor for ${action} on this machine yet`);
      return false;
    }
    const allowed = this.o.config.allowedActions;
    if (allowed && !allowed.includes(action)) {
      this.deferOnce(
        report,
        id,
        `${action} is not allowed on this machine (allowed: ${allowed.join(', ') || 'none'})`,
      );
      return false;
    }
    const outcome = await once.run(approval, executor);
    switch (outcome.kind) {
      case 'done': {
        const effectId = outcome.prepared.effectId ?? '';
        report.sent.push({ id, messageId: effectId });
        this.log.info(
          {
            task: id,
            action,
            target: outcome.prepared.target,
            messageId: effectId,
            response: outcome.detail,
          },
          action === 'send_email' ? 'email sent' : `${action} done`,
        );
        return this.finish(path, id, approval, effectId, outcome.key, report, executor, outcome.prepared);
      }
      case 'already_done':
        return this.finish(path, id, approval, outcome.effectId, outcome.key, report, executor);
      case 'replay':
        // Sent and filed in Done/ before: this copy came back through the remote. Never again, and the
        // finish step is not run a second time over whatever files the remote put beside it.
        return this.refuse(
          path,
          id,
          raw,
          'replay',
          `already carried out on this machine and filed in Done/ at ${outcome.at}${outcome.effectId ? ` (${outcome.effectId})` : ''}; a copy of an executed approval is never executed again`,
          report,
        );
      case 'invalid':
        return this.refuse(path, id, raw, 'invalid', outcome.reason, report);
      case 'dry_run':
        report.deferred.push({ id, reason: 'DRY_RUN: logged, not sent' });
        return false;
      case 'uncertain':
        return this.settle(path, id, approval, 'uncertain', outcome.reason, report, outcome.key, executor);
      case 'failed':
        return this.settle(path, id, approval, 'failed', outcome.reason, report, outcome.key, executor);
      case 'deferred':
        // Logged once per reason, not on every pass while it waits (a rate limit, a server that is down).
        this.deferOnce(report, id, outcome.reason);
        return false;
    }
  }

  private deferOnce(report: PassReport, id: string, reason: string): void {
    report.deferred.push({ id, reason });
    if (this.quietDeferrals.get(id) === reason) return;
    this.quietDeferrals.set(id, reason);
    this.log.info({ task: id, reason }, 'approval waits');
  }

  /** After the side effect: the approval becomes `Done/<id>.md` with the outcome, the item `Done/<id>.item.md`; one commit. */
  private async finish(
    path: string,
    id: string,
    approval: Approval,
    effectId: string | undefined,
    key: string,
    report: PassReport,
    executor: ActionExecutor,
    prepared?: Parameters<NonNullable<ActionExecutor['afterDone']>>[0],
  ): Promise<boolean> {
    const { once } = await this.open();
    const now = this.clock();
    const done = itemPaths.done(id);
    const { committed } = await this.repo.change(`${this.agent}: done ${id}`, async () => {
      await this.files.writeDoc(done, {
        data: {
          ...approval.data,
          status: 'executed',
          result: 'sent',
          executed_at: now.toISOString(),
          sent_message_id: effectId,
          idempotency_key: key,
        },
        body: approval.body,
      });
      await this.files.remove(path);
      await this.files.retireItem(id, approval.data.source, 'done', 'done');
      for (const p of await this.files.pendingPaths(id)) await this.files.remove(p);
      return [
        done,
        path,
        itemPaths.doneItem(id),
        ...(await this.files.allInProgressPaths(id)),
        ...(await this.files.allPendingPaths(id)),
        FOLDERS.logs,
      ];
    });
    await once.finished(approval, effectId);
    report.finished.push(id);
    this.quietDeferrals.delete(id);
    // After the task is Done: a failure here (a Sent copy) is logged and never undoes the side effect.
    if (prepared && executor.afterDone) await executor.afterDone(prepared, now);
    return committed;
  }

  /** Uncertain or failed: the approval stays in `Approved/` with the status and the reason, for the owner. */
  private async settle(
    path: string,
    id: string,
    approval: Approval,
    status: 'uncertain' | 'failed',
    reason: string,
    report: PassReport,
    key: string,
    executor: ActionExecutor,
  ): Promise<boolean> {
    const { once } = await this.open();
    await this.files.writeDoc(path, {
      data: { ...approval.data, status, error: `${status}: ${reason}`, idempotency_key: key },
      body: approval.body,
    });
    const target = typeof approval.data.to === 'string' ? approval.data.to : path;
    await once.auditSettled(approval, executor, status, reason, target);
    (status === 'uncertain' ? report.uncertain : report.failed).push({ id, reason });
    this.log.warn(
      { task: id, status, reason },
      status === 'uncertain' ? 'outcome unknown; the owner decides' : 'failed',
    );
    return this.commitChange(`${this.agent}: ${status} ${id}`, [path, FOLDERS.logs]);
  }
}

/**
 * The audit log, except that a log path the remote made unsafe (a linked `Logs/` or log file) never stops
 * a pass: the record goes to the process log instead, and the path is reported. Returns a record with an
 * empty timestamp when it was not written.
 */
class ReportingAudit extends AuditLog {
  constructor(
    root: string,
    clock: () => Date,
    private readonly onUnsafe: (entry: UnsafeEntry, record: AuditInput) => void,
  ) {
    super(root, clock);
  }

  override async append(input: AuditInput): Promise<AuditRecord> {
    try {
      return await super.append(input);
    } catch (error) {
      if (!(error instanceof UnsafePathError)) throw error;
      this.onUnsafe({ path: error.path, problem: 'link', reason: error.reason }, input);
      return {
        timestamp: '',
        parameters: {},
        approval_status: 'not_required',
        approved_by: null,
        ...input,
      } as AuditRecord;
    }
  }
}

/** True when the pass did anything a dashboard shows (some of it may have been committed before the sync). */
function touchedAny(report: PassReport): boolean {
  return (
    report.approved.length +
      report.rejected.length +
      report.refused.length +
      report.sent.length +
      report.finished.length +
      report.uncertain.length +
      report.failed.length +
      report.quarantined.length >
    0
  );
}
