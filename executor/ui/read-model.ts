import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CodecError, decodeApproval, decodeAuditLine } from '../../core/codec.js';
import { parseMarkdown } from '../../core/frontmatter.js';
import { FOLDERS, PHASES } from '../../core/layout.js';
import { remoteProblems, scanVault, summarizeTasks } from '../../core/status.js';
import type {
  ActivityRecord,
  Alert,
  ApprovalDetail,
  ApprovalSummary,
  Briefing,
  CostRow,
  Overview,
  TaskRow,
  UncertainSend,
} from '../../core/ui-api.js';
import { parseOrError, VaultReadCache } from '../../core/vault/read-cache.js';
import type { VaultFiles } from '../../core/vault/safe-fs.js';
import type { ActionRegistry } from '../actions/index.js';
import { InvalidActionError } from '../actions/types.js';
import { loadDashboardState } from '../dashboard.js';
import { requestDigest } from '../decisions.js';
import type { Ledger } from '../ledger.js';
import { mailLoginLines } from '../mail-login.js';
import { isExpired } from '../signature.js';
import { type ReadApproval, TaskFiles } from '../vault-files.js';

/**
 * What the status page shows, read from the vault (through VaultFiles only: never a link, never an
 * oversized file), the executor's state folder and its ledger. Every text here may come from the remote;
 * the page renders it as text. Nothing here writes.
 */

export type ReadModelOptions = {
  root: string;
  /** This machine's agent name (its own heartbeat is not "the cloud"). */
  agent: string;
  /** `dashboard.json` in the state folder (heartbeats, sync state); absent in cluster mode. */
  dashboardState?: string;
  /** The laptop's ledger (Uncertain sends); absent in cluster mode. */
  ledger?: Ledger;
  /** Executors that show what an approval will do; absent: every parameter is shown raw. */
  actions?: ActionRegistry;
  clock?: () => Date;
  /** An agent not heard from for this long raises an alert (default 30 minutes). */
  silentAfterMs?: number;
  /** This machine's OAuth token files: a refused refresh is an alert ("run `fte mail login` again"). */
  mailTokenFiles?: string[];
};

const HOUR_MS = 3_600_000;
const MAX_ACTIVITY = 1_000;
const COST_DAYS = 60;

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export class ReadModel {
  private readonly files: TaskFiles;
  private readonly clock: () => Date;
  /** Files are read and parsed again only when they changed: a page refetches often. */
  private readonly cache: VaultReadCache;

  constructor(private readonly o: ReadModelOptions) {
    this.files = new TaskFiles(o.root);
    this.clock = o.clock ?? (() => new Date());
    this.cache = new VaultReadCache(this.files.files);
  }

  private get vault(): VaultFiles {
    return this.files.files;
  }

  async tasks(): Promise<TaskRow[]> {
    return summarizeTasks(await scanVault(this.o.root, { cache: this.cache })).map((t) => ({
      id: t.id,
      domain: t.domain,
      phase: t.phase,
      owner: t.owner,
      title: t.title,
      error: t.error,
    }));
  }

  async approvals(): Promise<ApprovalSummary[]> {
    const out: ApprovalSummary[] = [];
    for (const domain of await this.files.listFolders(FOLDERS.pendingApproval)) {
      const dir = `${FOLDERS.pendingApproval}/${domain}`;
      for (const file of await this.files.listMarkdown(dir)) {
        const summary = await this.summaryOf(`${dir}/${file}`, domain, file.slice(0, -3));
        if (summary) out.push(summary);
      }
    }
    return out.sort((a, b) => a.expires.localeCompare(b.expires) || a.id.localeCompare(b.id));
  }

  private async summaryOf(path: string, domain: string, id: string): Promise<ApprovalSummary | undefined> {
    const read = await this.readApproval(path);
    if (read.kind === 'missing' || read.kind === 'unsafe') return undefined;
    const data = read.kind === 'unreadable' ? {} : read.raw.data;
    return {
      id,
      domain,
      action: text(data.action) ?? 'unknown',
      to: text(data.to),
      subject: text(data.subject),
      expires: text(data.expires) ?? '',
      status: text(data.status) ?? 'unreadable',
      created: text(data.created),
    };
  }

  /** One pending approval as the owner decides on it; undefined when there is none. */
  async approval(id: string): Promise<ApprovalDetail | undefined> {
    const [path] = await this.files.pendingPaths(id);
    if (!path) return undefined;
    const domain = path.split('/')[1] ?? '';
    const summary = await this.summaryOf(path, domain, id);
    const read = await this.readApproval(path);
    if (!summary || read.kind === 'missing' || read.kind === 'unsafe') return undefined;
    const seen = requestDigest(read.text);
    if (read.kind !== 'ok') {
      const problem = read.reason;
      const body = read.kind === 'invalid' ? read.raw.body : '';
      return { ...summary, effect: [], notes: [], draft: body, seen, problem };
    }
    const { approval } = read;
    let effect: Array<[string, string]> = Object.entries(approval.data)
      .filter(([k]) => ['to', 'cc', 'bcc', 'subject', 'in_reply_to', 'references'].includes(k))
      .map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]);
    let notes: string[] = [];
    let problem: string | undefined;
    const executor = this.o.actions?.get(approval.data.action);
    if (executor) {
      try {
        const prepared = executor.prepare(approval);
        effect = prepared.effect;
        notes = prepared.notes;
      } catch (error) {
        if (!(error instanceof InvalidActionError)) throw error;
        problem = `cannot be approved: ${error.message}`;
      }
    } else if (this.o.actions) {
      problem = `this machine has no executor for ${approval.data.action}`;
    }
    if (isExpired(approval.data, this.clock())) problem = `expired at ${approval.data.expires}`;
    return {
      ...summary,
      effect,
      notes,
      draft: approval.body,
      original: await this.original(id, approval.data.source),
      seen,
      problem,
    };
  }

  /** The message the draft answers: the task's item, as text. */
  private async original(id: string, source: unknown): Promise<ApprovalDetail['original']> {
    const path = await this.files.findItem(id, source);
    if (!path) return undefined;
    const read = await this.vault.readText(path);
    if (read.kind !== 'ok') return undefined;
    try {
      const { data, body } = parseMarkdown(read.text);
      return {
        from: text(data.from),
        to: text(data.to),
        subject: text(data.subject),
        received: text(data.received),
        body,
      };
    } catch {
      return { body: read.text };
    }
  }

  /** Sends that may or may not have happened (the ledger's intents without an outcome). */
  async uncertain(): Promise<UncertainSend[]> {
    if (!this.o.ledger) return [];
    const out: UncertainSend[] = [];
    for (const record of await this.o.ledger.unresolved()) {
      const read = await this.readApproval(`${FOLDERS.approved}/${record.task}.md`);
      const data = read.kind === 'ok' || read.kind === 'invalid' ? read.raw.data : {};
      out.push({
        id: record.task,
        action: record.action,
        target: text(data.to),
        since: record.ts,
        detail:
          text(data.error) ??
          record.detail ??
          'the executor stopped while carrying it out: it may or may not have happened',
        messageId: record.message_id,
      });
    }
    return out.sort((a, b) => a.since.localeCompare(b.since));
  }

  /** TaskFiles.readApproval through the cache: the same answers, parsed once per version of the file. */
  private async readApproval(path: string): Promise<ReadApproval> {
    const read = await this.cache.readMarkdown(path);
    if (read.kind === 'missing') return read;
    if (read.kind === 'refused') {
      return { kind: 'unsafe', entry: { path: read.at, problem: read.problem, reason: read.reason } };
    }
    const { text } = read;
    const doc = 'doc' in read ? read.doc : parseOrError(text);
    if (doc instanceof Error) return { kind: 'unreadable', reason: doc.message, text };
    const decoded = this.cache.derive(path, text, 'approval', (t) => {
      try {
        return decodeApproval(t);
      } catch (error) {
        if (error instanceof CodecError) return error;
        throw error;
      }
    });
    if (decoded instanceof CodecError) return { kind: 'invalid', raw: doc, reason: decoded.message, text };
    return { kind: 'ok', raw: doc, approval: decoded, text };
  }

  /** Audit records, newest first, from the newest day files back. A line that does not parse is skipped. */
  async activity(limit = 200): Promise<ActivityRecord[]> {
    const out: ActivityRecord[] = [];
    for (const day of (await this.logDays()).reverse()) {
      const records = await this.auditRecords(day);
      for (const r of records.reverse()) {
        out.push({
          timestamp: r.timestamp,
          action_type: r.action_type,
          actor: r.actor,
          target: r.target,
          result: r.result,
          task: r.task,
          approval_status: r.approval_status,
          approved_by: r.approved_by,
          via: text(r.parameters.via),
        });
        if (out.length >= Math.min(limit, MAX_ACTIVITY)) return out;
      }
    }
    return out;
  }

  /** Model calls per day and model, from the `llm_call` audit records of the last 60 days. */
  async costs(): Promise<CostRow[]> {
    const rows = new Map<string, CostRow>();
    for (const day of (await this.logDays()).slice(-COST_DAYS)) {
      for (const r of await this.auditRecords(day)) {
        if (r.action_type !== 'llm_call') continue;
        const model = text(r.parameters.model) ?? r.target;
        const key = `${day}\0${model}`;
        const row = rows.get(key) ?? { day, model, calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
        const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
        row.calls += 1;
        row.inputTokens += count(r.parameters.input_tokens);
        row.outputTokens += count(r.parameters.output_tokens);
        const cost = r.parameters.cost_usd;
        row.costUsd =
          row.costUsd === null || typeof cost !== 'number' || !Number.isFinite(cost)
            ? null
            : Math.round((row.costUsd + cost) * 1e6) / 1e6;
        rows.set(key, row);
      }
    }
    return [...rows.values()].sort((a, b) => a.day.localeCompare(b.day) || a.model.localeCompare(b.model));
  }

  async briefings(): Promise<Briefing[]> {
    const out: Briefing[] = [];
    for (const file of (await this.files.listMarkdown(FOLDERS.briefings)).sort().reverse()) {
      const path = `${FOLDERS.briefings}/${file}`;
      const read = await this.vault.readText(path);
      if (read.kind !== 'ok') continue;
      try {
        const { data, body } = parseMarkdown(read.text);
        out.push({ path, title: text(data.title) ?? file.slice(0, -3), created: text(data.created), body });
      } catch {
        out.push({ path, title: file.slice(0, -3), body: read.text });
      }
    }
    return out;
  }

  async overview(): Promise<Overview> {
    const now = this.clock();
    const tasks = await this.tasks();
    const counts: Record<string, number> = Object.fromEntries(PHASES.map((p) => [p, 0]));
    for (const t of tasks) counts[t.phase] = (counts[t.phase] ?? 0) + 1;
    const state = this.o.dashboardState
      ? await loadDashboardState(this.o.dashboardState)
      : { heartbeats: {}, signals: [], mailLogin: {} };
    const agents = Object.entries(state.heartbeats)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, beat]) => ({
        name,
        lastSeen: beat.at,
        summary: beat.summary,
        ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(beat.at)) / 1000)),
      }));
    const lastSync = await stat(join(this.o.root, '.git', 'FETCH_HEAD')).then(
      (s) => s.mtime.toISOString(),
      () => undefined,
    );
    const lastReceived = state.sync?.lastReceived;
    const overview: Overview = {
      now: now.toISOString(),
      counts,
      agents,
      sync: {
        state: state.sync?.state ?? (lastSync ? 'ok' : 'never'),
        lastReceived,
        lastSync,
        lagSeconds: lastReceived
          ? Math.max(0, Math.round((now.getTime() - Date.parse(lastReceived)) / 1000))
          : undefined,
        error: state.sync?.error,
      },
      alerts: [],
    };
    overview.alerts = await this.alerts(now, tasks, agents);
    for (const line of await mailLoginLines(state, this.o.mailTokenFiles ?? [])) {
      overview.alerts.unshift({ kind: 'mail_login', message: line });
    }
    return overview;
  }

  private async alerts(now: Date, tasks: TaskRow[], agents: Overview['agents']): Promise<Alert[]> {
    const alerts: Alert[] = [];
    const remote = await remoteProblems(this.o.root, now);
    for (const line of remote.lines) {
      alerts.push({ kind: remote.refused ? 'remote_refused' : 'history_rewritten', message: line });
    }
    for (const u of await this.uncertain()) {
      alerts.push({
        kind: 'uncertain',
        task: u.id,
        message: `${u.id}: ${u.action} may or may not have happened; say which (Uncertain sends)`,
      });
    }
    for (const t of tasks) {
      if (t.phase === 'Failed')
        alerts.push({ kind: 'failed', task: t.id, message: `${t.id} failed: ${t.error ?? ''}` });
    }
    for (const a of await this.approvals()) {
      const left = Date.parse(a.expires) - now.getTime();
      if (left > 0 && left <= HOUR_MS) {
        alerts.push({
          kind: 'expiring',
          task: a.id,
          message: `${a.id} expires in ${Math.max(1, Math.round(left / 60_000))} min`,
        });
      }
    }
    const errors = (await this.files.listMarkdown(FOLDERS.errors)).filter((f) => !f.endsWith('.error.md'));
    if (errors.length > 0) {
      alerts.push({
        kind: 'errors',
        message: `${errors.length} item(s) in Needs_Action/_errors need a look`,
      });
    }
    const silentAfter = this.o.silentAfterMs ?? 30 * 60_000;
    const others = agents.filter((a) => a.name !== this.o.agent);
    if (this.o.dashboardState && others.length === 0) {
      alerts.push({ kind: 'cloud_silent', message: 'no heartbeat from the cloud agent yet' });
    }
    for (const a of others) {
      if ((a.ageSeconds ?? 0) * 1000 > silentAfter) {
        alerts.push({
          kind: 'cloud_silent',
          message: `${a.name} not seen for ${Math.round((a.ageSeconds ?? 0) / 60)} min`,
        });
      }
    }
    return alerts;
  }

  /** `Logs/YYYY-MM-DD.json` days present, oldest first. */
  private async logDays(): Promise<string[]> {
    const listing = await this.vault.list(FOLDERS.logs);
    return listing.files
      .map((f) => /^(\d{4}-\d{2}-\d{2})\.json$/.exec(f)?.[1])
      .filter((d): d is string => d !== undefined)
      .sort();
  }

  private async auditRecords(day: string) {
    const read = await this.vault.readText(`${FOLDERS.logs}/${day}.json`, 64 * 1024 * 1024);
    if (read.kind !== 'ok') return [];
    const out = [];
    for (const line of read.text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(decodeAuditLine(line));
      } catch {
        // A line that is not an audit record (the remote can write Logs/ too): not shown.
      }
    }
    return out;
  }
}
