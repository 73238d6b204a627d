import { join } from 'node:path';
import type { Logger } from 'pino';
import { AuditLog } from '../core/audit.js';
import { listMarkdown } from '../core/fsutil.js';
import { Git } from '../core/git.js';
import { isSafeTaskId, sanitizeTaskId } from '../core/ids.js';
import { FOLDERS, itemPaths, locate } from '../core/layout.js';
import { type SyncReport, VaultRepo } from '../core/vault-repo.js';
import type { ExecutorConfig } from './config.js';
import { DashboardWriter } from './dashboard.js';
import { approveTask, type DecisionContext, DecisionError, refuseApproval, rejectTask } from './decisions.js';
import { InvalidEmailError, type MailTransport, type OutgoingEmail } from './email.js';
import { LEDGER_FILE, Ledger } from './ledger.js';
import { EmailSender, type SendOutcome } from './send-email.js';
import type { SentCopy } from './sent-copy.js';
import { type Approval, verifyApproval } from './signature.js';
import {
  allInProgressPaths,
  allPendingPaths,
  pendingPaths,
  quarantine,
  readApproval,
  removeIfPresent,
  retireItem,
  writeDoc,
} from './vault-files.js';

/**
 * The local executive's pass (DESIGN.md §1, §2, §4): take in the owner's decisions, sync, refuse what did
 * not come from the owner, execute signed approvals at most once, merge `Updates/` into `Dashboard.md`,
 * and push. Level-triggered: every pass reads the vault and the ledger afresh, so it can stop anywhere.
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
  merged: number;
};

/** Statuses of a file in `Approved/` that are already settled: intake and execution leave them alone. */
const SETTLED = new Set(['refused', 'uncertain', 'failed', 'rejected', 'expired']);

export class Executive {
  readonly repo: VaultRepo;
  readonly ledger: Ledger;
  readonly audit: AuditLog;
  readonly agent: string;
  private readonly root: string;
  /** Read-only queries (`git status`), always run under the repo's lock. */
  private readonly git: Git;
  private readonly clock: () => Date;
  private readonly log: Logger;
  private readonly ctx: DecisionContext;
  private readonly sender: EmailSender;
  private readonly dashboard: DashboardWriter;
  /** Deferral reasons already logged, so a waiting approval is not logged on every pass. */
  private readonly quietDeferrals = new Map<string, string>();

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
      onEvent: (event) => this.log.warn({ path: event.path, kind: event.kind }, event.message),
    });
    this.git = new Git(o.root);
    this.ledger = new Ledger(join(o.root, LEDGER_FILE));
    this.audit = new AuditLog(o.root, this.clock);
    this.ctx = {
      root: o.root,
      agent: this.agent,
      owner: o.config.owner,
      audit: this.audit,
      clock: this.clock,
    };
    this.sender = new EmailSender({
      ledger: this.ledger,
      transport: o.transport,
      from: o.config.smtp?.from ?? o.config.from,
      dryRun: o.config.dryRun,
      emailsPerHour: o.config.emailsPerHour,
      clock: this.clock,
      log: this.log,
      crashAfterIntent: o.crashAfterIntent,
    });
    this.dashboard = new DashboardWriter(o.root, this.agent, this.audit, this.clock);
  }

  async pass(): Promise<PassReport> {
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
      merged: 0,
    };
    const sync = this.o.sync !== false;
    // The owner's own moves first: once swept into a commit they would look like a pull.
    let dirty = await this.intake(report);
    if (sync) {
      report.sync.push(await this.repo.sync());
      dirty = false;
    }
    dirty = (await this.intake(report)) || dirty;
    dirty = (await this.execute(report)) || dirty;
    const pulled = report.sync.some((r) => r.pulled > 0 || r.conflicts.length > 0);
    const { touched, merged } = await this.dashboard.merge(
      report.sync.at(-1),
      dirty || pulled || touchedAny(report),
    );
    report.merged = merged;
    if (touched.length > 0) {
      const { committed } = await this.repo.commit(
        `${this.agent}: dashboard ${merged > 0 ? `${merged}-updates` : 'refresh'}`,
        [...touched, FOLDERS.logs],
      );
      dirty = committed || dirty;
    }
    if (sync && dirty) report.sync.push(await this.repo.sync());
    return report;
  }

  // ---------------------------------------------------------------------------------------------------
  // Intake: the owner's decisions made on this machine, and refusals of everything else in Approved/.

  private async intake(report: PassReport): Promise<boolean> {
    let dirty = false;
    const uncommitted = await this.notInHead();
    for (const file of (await listMarkdown(join(this.root, FOLDERS.approved))).sort()) {
      const path = `${FOLDERS.approved}/${file}`;
      dirty = (await this.intakeApproved(path, !uncommitted.has(path), report)) || dirty;
    }
    // Only files this machine added can be the owner's rejections; the rest are already recorded.
    for (const path of [...uncommitted].filter((p) => p.startsWith(`${FOLDERS.rejected}/`)).sort()) {
      dirty = (await this.intakeRejected(path, report)) || dirty;
    }
    return dirty;
  }

  /**
   * Files in `Approved/` and `Rejected/` that HEAD does not have (untracked or only staged): made on
   * this machine since the last commit. Anything a pull brought is in HEAD. One `git status` per call.
   */
  private async notInHead(): Promise<Set<string>> {
    const out = await this.repo.exclusive(() =>
      this.git.run([
        'status',
        '--porcelain=v1',
        '-z',
        '--untracked-files=all',
        '--no-renames',
        '--',
        FOLDERS.approved,
        FOLDERS.rejected,
      ]),
    );
    const paths = new Set<string>();
    for (const entry of out.split('\0')) {
      if (entry.length < 4) continue;
      const code = entry.slice(0, 2);
      if (code === '??' || code[0] === 'A') paths.add(entry.slice(3));
    }
    return paths;
  }

  private async commitChange(message: string, touched: string[]): Promise<boolean> {
    return (await this.repo.commit(message, [...new Set(touched)])).committed;
  }

  private async intakeApproved(path: string, committed: boolean, report: PassReport): Promise<boolean> {
    const where = locate(path);
    if (where?.role !== 'approval') return false;
    const id = where.id;
    const read = await readApproval(this.root, path);
    if (read.kind === 'missing') return false;
    if (read.kind === 'unreadable' || !isSafeTaskId(id)) {
      const safeId = isSafeTaskId(id) ? id : sanitizeTaskId(id);
      const reason = read.kind === 'unreadable' ? read.reason : `unsafe file name ${JSON.stringify(id)}`;
      const touched = await quarantine(
        this.root,
        path,
        safeId,
        `not an approval request: ${reason}`,
        this.clock(),
      );
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
        const { approval, touched } = await approveTask(this.ctx, this.o.key, id, 'obsidian');
        report.approved.push(id);
        this.log.info({ task: id, via: 'obsidian', action: approval.data.action }, 'approval signed');
        return this.commitChange(`${this.agent}: approve ${id}`, touched);
      } catch (error) {
        if (!(error instanceof DecisionError)) throw error;
        return this.refuse(path, id, read.raw, 'expired', error.message, report);
      }
    }
    const verdict = verifyApproval(this.o.key, id, read.approval, this.clock());
    if (!verdict.ok) return this.refuse(path, id, read.raw, verdict.code, verdict.reason, report);
    // A stale copy left in Pending_Approval/ (an interrupted `fte approve`, or a copy instead of a move).
    const stale = await pendingPaths(this.root, id);
    for (const p of stale) await removeIfPresent(this.root, p);
    if (!committed || stale.length > 0) {
      report.approved.push(id);
      return this.commitChange(`${this.agent}: approve ${id}`, [
        path,
        ...(await allPendingPaths(this.root, id)),
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
    const touched = await refuseApproval(this.ctx, path, id, raw, code, reason);
    report.refused.push({ id, reason });
    this.log.warn({ task: id, path, code, reason }, 'approval refused');
    return this.commitChange(`${this.agent}: refuse ${id}`, touched);
  }

  private async intakeRejected(path: string, report: PassReport): Promise<boolean> {
    const where = locate(path);
    if (where?.role !== 'approval' || !isSafeTaskId(where.id)) return false;
    const id = where.id;
    const read = await readApproval(this.root, path);
    if (read.kind === 'missing') return false;
    let touched: string[];
    if (
      read.kind !== 'unreadable' &&
      ['pending', 'approved', 'refused'].includes(String(read.raw.data.status))
    ) {
      // Moved into Rejected/ on this machine: the owner said no.
      touched = (await rejectTask(this.ctx, id, 'moved to Rejected/ by the owner', 'obsidian', this.ledger))
        .touched;
    } else {
      // `fte reject` already wrote it; commit it with the item beside it.
      touched = [
        path,
        itemPaths.rejectedItem(id),
        itemPaths.approved(id),
        ...(await allPendingPaths(this.root, id)),
        ...(await allInProgressPaths(this.root, id)),
        FOLDERS.logs,
      ];
    }
    report.rejected.push(id);
    this.log.info({ task: id }, 'rejected by the owner');
    return this.commitChange(`${this.agent}: reject ${id}`, touched);
  }

  // ---------------------------------------------------------------------------------------------------
  // Execution: signed, committed approvals only.

  private async execute(report: PassReport): Promise<boolean> {
    let dirty = false;
    const uncommitted = await this.notInHead();
    for (const file of (await listMarkdown(join(this.root, FOLDERS.approved))).sort()) {
      const path = `${FOLDERS.approved}/${file}`;
      const where = locate(path);
      if (where?.role !== 'approval' || !isSafeTaskId(where.id)) continue;
      if (uncommitted.has(path)) continue; // intake commits it first
      const read = await readApproval(this.root, path);
      if (read.kind !== 'ok' || read.approval.data.status !== 'approved') continue;
      const id = where.id;
      const verdict = verifyApproval(this.o.key, id, read.approval, this.clock());
      if (!verdict.ok) {
        dirty = (await this.refuse(path, id, read.raw, verdict.code, verdict.reason, report)) || dirty;
        continue;
      }
      dirty = (await this.executeOne(path, id, read.approval, report)) || dirty;
    }
    return dirty;
  }

  private async executeOne(
    path: string,
    id: string,
    approval: Approval,
    report: PassReport,
  ): Promise<boolean> {
    if (approval.data.action !== 'send_email') {
      this.deferOnce(report, id, `no executor for ${approval.data.action} on this machine yet`);
      return false;
    }
    let outcome: SendOutcome;
    try {
      outcome = await this.sender.send(approval);
    } catch (error) {
      if (!(error instanceof InvalidEmailError)) throw error;
      return this.settle(path, id, approval, 'failed', `cannot build the email: ${error.message}`, report);
    }
    switch (outcome.kind) {
      case 'sent':
        await this.audit.append({
          action_type: 'email_send',
          actor: this.agent,
          target: outcome.mail.to,
          parameters: {
            subject: outcome.mail.subject,
            message_id: outcome.mail.messageId,
            in_reply_to: outcome.mail.inReplyTo ?? null,
            accepted: outcome.accepted,
            rejected: outcome.rejected,
          },
          approval_status: 'approved',
          approved_by: typeof approval.data.approved_by === 'string' ? approval.data.approved_by : null,
          result: 'sent',
          task: id,
          idempotency_key: outcome.key,
        });
        report.sent.push({ id, messageId: outcome.mail.messageId });
        this.log.info(
          { task: id, to: outcome.mail.to, messageId: outcome.mail.messageId, response: outcome.response },
          'email sent',
        );
        return this.finish(path, id, approval, outcome.mail.messageId, outcome.key, report, outcome.mail);
      case 'already_sent':
        return this.finish(path, id, approval, outcome.messageId, outcome.key, report);
      case 'dry_run':
        await this.audit.append({
          action_type: 'email_send',
          actor: this.agent,
          target: outcome.mail.to,
          parameters: {
            subject: outcome.mail.subject,
            message_id: outcome.mail.messageId,
            in_reply_to: outcome.mail.inReplyTo ?? null,
            body_chars: outcome.mail.text.length,
          },
          approval_status: 'approved',
          approved_by: typeof approval.data.approved_by === 'string' ? approval.data.approved_by : null,
          result: 'dry_run',
          task: id,
          idempotency_key: outcome.key,
        });
        report.deferred.push({ id, reason: 'DRY_RUN: logged, not sent' });
        return false;
      case 'uncertain':
        return this.settle(path, id, approval, 'uncertain', outcome.reason, report, outcome.key);
      case 'failed':
        return this.settle(path, id, approval, 'failed', outcome.reason, report, outcome.key);
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

  /** After the send: the approval becomes `Done/<id>.md` with the outcome, the item `Done/<id>.item.md`; one commit. */
  private async finish(
    path: string,
    id: string,
    approval: Approval,
    messageId: string | undefined,
    key: string,
    report: PassReport,
    mail?: OutgoingEmail,
  ): Promise<boolean> {
    const now = this.clock();
    const done = itemPaths.done(id);
    const { committed } = await this.repo.change(`${this.agent}: done ${id}`, async () => {
      await writeDoc(this.root, done, {
        data: {
          ...approval.data,
          status: 'executed',
          result: 'sent',
          executed_at: now.toISOString(),
          sent_message_id: messageId,
          idempotency_key: key,
        },
        body: approval.body,
      });
      await removeIfPresent(this.root, path);
      await retireItem(this.root, id, approval.data.source, 'done', 'done');
      for (const p of await pendingPaths(this.root, id)) await removeIfPresent(this.root, p);
      return [
        done,
        path,
        itemPaths.doneItem(id),
        ...(await allInProgressPaths(this.root, id)),
        ...(await allPendingPaths(this.root, id)),
        FOLDERS.logs,
      ];
    });
    report.finished.push(id);
    this.quietDeferrals.delete(id);
    // After the task is Done: a failure to file the copy is logged by SentCopy and never undoes the send.
    if (mail && this.o.sentCopy) await this.o.sentCopy.file(mail, now);
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
    key?: string,
  ): Promise<boolean> {
    await writeDoc(this.root, path, {
      data: { ...approval.data, status, error: `${status}: ${reason}`, idempotency_key: key },
      body: approval.body,
    });
    await this.audit.append({
      action_type: 'email_send',
      actor: this.agent,
      target: typeof approval.data.to === 'string' ? approval.data.to : path,
      parameters: { reason, subject: approval.data.subject ?? null },
      approval_status: 'approved',
      approved_by: typeof approval.data.approved_by === 'string' ? approval.data.approved_by : null,
      result: status,
      task: id,
      idempotency_key: key,
    });
    (status === 'uncertain' ? report.uncertain : report.failed).push({ id, reason });
    this.log.warn(
      { task: id, status, reason },
      status === 'uncertain' ? 'send outcome unknown; the owner decides' : 'send failed',
    );
    return this.commitChange(`${this.agent}: ${status} ${id}`, [path, FOLDERS.logs]);
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
