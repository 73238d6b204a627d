import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { AuditLog } from '../core/audit.js';
import { CodecError, decodeUpdate } from '../core/codec.js';
import { isErrno, listMarkdown, writeFileAtomic } from '../core/fsutil.js';
import { DASHBOARD_FILE, FOLDERS } from '../core/layout.js';
import type { AuditRecord } from '../core/schemas.js';
import { scanVault, summarizeTasks, type VaultEntry } from '../core/status.js';
import type { SyncReport } from '../core/vault-repo.js';

/**
 * `Dashboard.md`, written by Local only (single writer, atomic write). Each pass merges the `Updates/`
 * signals into a small local state file (`.fte/dashboard.json`), archives them into `Updates/archive/`,
 * and renders the dashboard from that state and the vault. The text changes only when something did, so
 * an idle executor makes no commits.
 */

export const ARCHIVE = `${FOLDERS.updates}/archive`;
const KEPT_SIGNALS = 15;
const SHOWN_ACTIVITY = 12;

const Signal = z.object({
  created: z.string(),
  agent: z.string(),
  kind: z.string(),
  task: z.string().optional(),
  summary: z.string().optional(),
});
const DashboardState = z.object({
  heartbeats: z.record(z.string(), z.object({ at: z.string(), summary: z.string().optional() })).default({}),
  signals: z.array(Signal).default([]),
  sync: z
    .object({
      state: z.string(),
      /** When commits last came in from the remote. */
      lastReceived: z.string().optional(),
      error: z.string().optional(),
    })
    .optional(),
});
export type DashboardState = z.infer<typeof DashboardState>;

export type DashboardView = {
  now: Date;
  agent: string;
  state: DashboardState;
  entries: VaultEntry[];
  activity: AuditRecord[];
};

const cell = (value: unknown): string =>
  String(value ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 80);

function table(headers: string[], rows: string[][]): string {
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** The dashboard's text (pure). */
export function renderDashboard(view: DashboardView): string {
  const { state, entries } = view;
  const out: string[] = [
    '# Dashboard',
    '',
    '_Written by the local executive only (it is rewritten on every change); do not edit._',
    '',
  ];

  const pending = entries.filter((e) => e.phase === 'PendingApproval' && e.role === 'approval');
  out.push(`## Pending approvals (${pending.length})`, '');
  if (pending.length === 0) out.push('Nothing waits for you.', '');
  else {
    out.push(
      table(
        ['Task', 'Action', 'To', 'Subject', 'Expires', 'Approve with'],
        pending.map((e) => [
          `[[${e.path.slice(0, -3)}\\|${cell(e.id)}]]`,
          cell(e.data?.action),
          cell(e.data?.to ?? e.data?.recipient),
          cell(e.data?.subject),
          cell(e.data?.expires),
          `\`fte approve ${e.id}\``,
        ]),
      ),
      '',
      'Approve with the command, or move the file into `Approved/` (reject: `fte reject <id>` or move it into `Rejected/`).',
      '',
    );
  }

  const attention = entries.filter(
    (e) =>
      (e.phase === 'Approved' &&
        e.role === 'approval' &&
        ['refused', 'uncertain', 'failed'].includes(String(e.data?.status))) ||
      e.phase === 'Failed' ||
      e.error !== undefined,
  );
  if (attention.length > 0) {
    out.push(`## Needs your decision (${attention.length})`, '');
    out.push(
      table(
        ['Task', 'Where', 'Status', 'Reason'],
        attention.map((e) => [
          cell(e.id),
          cell(e.path),
          cell(e.data?.status ?? 'unreadable'),
          cell(e.data?.refusal_reason ?? e.data?.error ?? e.error),
        ]),
      ),
      '',
    );
    if (attention.some((e) => e.data?.status === 'uncertain')) {
      out.push(
        'Uncertain sends are never retried by themselves: check the Sent folder, then `fte resolve <id> --sent` or `--not-sent`.',
        '',
      );
    }
  }

  const waiting = entries.filter(
    (e) => e.phase === 'Approved' && e.role === 'approval' && e.data?.status === 'approved',
  );
  if (waiting.length > 0) {
    out.push(`## Approved, being executed (${waiting.length})`, '');
    for (const e of waiting)
      out.push(`- ${e.id}: ${cell(e.data?.action)} ${cell(e.data?.to)} ${cell(e.data?.subject)}`);
    out.push('');
  }

  const tasks = summarizeTasks(entries);
  const counts = new Map<string, number>();
  for (const t of tasks) counts.set(t.phase, (counts.get(t.phase) ?? 0) + 1);
  out.push('## Tasks', '');
  out.push(
    counts.size === 0
      ? 'No tasks yet.'
      : [...counts.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([phase, n]) => `${phase}: ${n}`)
          .join(' · '),
    '',
  );

  out.push('## Recent activity', '');
  if (view.activity.length === 0) out.push('Nothing logged today or yesterday.', '');
  else {
    out.push(
      table(
        ['Time (UTC)', 'Actor', 'Action', 'Task', 'Result'],
        view.activity.map((r) => [
          cell(r.timestamp.replace('T', ' ').slice(0, 19)),
          cell(r.actor),
          cell(r.action_type),
          cell(r.task ?? r.target),
          cell(r.result),
        ]),
      ),
      '',
    );
  }

  out.push('## Agents', '');
  const beats = Object.entries(state.heartbeats).sort(([a], [b]) => a.localeCompare(b));
  if (beats.length === 0) out.push('- No heartbeat received from another agent yet.');
  for (const [agent, beat] of beats) {
    out.push(`- ${agent}: last heartbeat ${beat.at}${beat.summary ? ` (${cell(beat.summary)})` : ''}`);
  }
  const sync = state.sync;
  out.push(
    sync
      ? `- ${view.agent} (this machine): sync ${sync.state}${sync.lastReceived ? `, last change received ${sync.lastReceived}` : ''}${sync.error ? ` (${cell(sync.error)})` : ''}`
      : `- ${view.agent} (this machine): not synced yet`,
    '',
  );

  if (state.signals.length > 0) {
    out.push('## Signals from the agents', '');
    for (const s of [...state.signals].reverse()) {
      out.push(
        `- ${s.created} ${s.agent} ${s.kind}${s.task ? ` ${s.task}` : ''}${s.summary ? `: ${cell(s.summary)}` : ''}`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

export class DashboardWriter {
  private readonly statePath: string;
  private rendered = false;

  constructor(
    private readonly root: string,
    private readonly agent: string,
    private readonly audit: AuditLog,
    private readonly clock: () => Date,
  ) {
    this.statePath = join(root, '.fte', 'dashboard.json');
  }

  private async loadState(): Promise<DashboardState> {
    try {
      const parsed = DashboardState.safeParse(JSON.parse(await readFile(this.statePath, 'utf8')));
      if (parsed.success) return parsed.data;
    } catch (error) {
      if (!isErrno(error, 'ENOENT') && !(error instanceof SyntaxError)) throw error;
    }
    return { heartbeats: {}, signals: [] };
  }

  /**
   * Merges new `Updates/` signals, archives them and rewrites `Dashboard.md` if its text changed.
   * Returns the vault paths touched (to commit) and how many signals were merged.
   */
  async merge(
    sync?: SyncReport,
    /** Something in the vault changed this pass (a pull, a commit): render even without new signals. */
    changed = true,
  ): Promise<{ touched: string[]; merged: number }> {
    const now = this.clock();
    const state = await this.loadState();
    const touched: string[] = [];
    let merged = 0;
    for (const file of (await listMarkdown(join(this.root, FOLDERS.updates))).sort()) {
      const path = `${FOLDERS.updates}/${file}`;
      let text: string;
      try {
        text = await readFile(join(this.root, path), 'utf8');
      } catch (error) {
        if (isErrno(error, 'ENOENT')) continue;
        throw error;
      }
      try {
        const { data } = decodeUpdate(text);
        if (data.kind === 'heartbeat') {
          const prev = state.heartbeats[data.agent];
          if (!prev || Date.parse(prev.at) <= Date.parse(data.created)) {
            state.heartbeats[data.agent] = { at: data.created, summary: data.summary };
          }
        } else {
          state.signals.push({
            created: data.created,
            agent: data.agent,
            kind: data.kind,
            task: data.task,
            summary: data.summary,
          });
        }
      } catch (error) {
        if (!(error instanceof CodecError)) throw error;
        state.signals.push({
          created: now.toISOString(),
          agent: 'unknown',
          kind: 'unreadable',
          summary: `${path}: ${error.message}`,
        });
        await this.audit.append({
          action_type: 'update_unreadable',
          actor: this.agent,
          target: path,
          parameters: { reason: error.message, archived_as: `${ARCHIVE}/${file}` },
          result: 'archived',
        });
        touched.push(FOLDERS.logs);
      }
      const target = await this.archiveName(file);
      await mkdir(join(this.root, ARCHIVE), { recursive: true });
      await rename(join(this.root, path), join(this.root, target));
      touched.push(path, target);
      merged++;
    }
    state.signals = state.signals.sort((a, b) => a.created.localeCompare(b.created)).slice(-KEPT_SIGNALS);
    const before = JSON.stringify(state.sync ?? null);
    if (sync) {
      state.sync = {
        state: sync.state,
        lastReceived: sync.pulled > 0 ? now.toISOString() : state.sync?.lastReceived,
        error: sync.state === 'offline' ? sync.error?.split('\n')[0] : undefined,
      };
    }
    const syncChanged = JSON.stringify(state.sync ?? null) !== before;
    // Rendering reads every task file; an idle pass (nothing pulled, nothing done) skips it.
    if (merged === 0 && !syncChanged && !changed && this.rendered) return { touched, merged };
    this.rendered = true;
    await writeFileAtomic(this.statePath, `${JSON.stringify(state, null, 2)}\n`);

    const text = renderDashboard({
      now,
      agent: this.agent,
      state,
      entries: await scanVault(this.root),
      activity: await this.recentActivity(now),
    });
    const current = await readFile(join(this.root, DASHBOARD_FILE), 'utf8').catch(() => undefined);
    if (current !== text) {
      await writeFileAtomic(join(this.root, DASHBOARD_FILE), text);
      touched.push(DASHBOARD_FILE);
    }
    return { touched, merged };
  }

  private async archiveName(file: string): Promise<string> {
    let target = `${ARCHIVE}/${file}`;
    for (let n = 2; existsSync(join(this.root, target)); n++)
      target = `${ARCHIVE}/${file.slice(0, -3)}-${n}.md`;
    return target;
  }

  private async recentActivity(now: Date): Promise<AuditRecord[]> {
    const yesterday = new Date(now.getTime() - 86_400_000);
    const records: AuditRecord[] = [];
    for (const day of [yesterday, now]) {
      try {
        records.push(...(await this.audit.read(day)));
      } catch (error) {
        if (!(error instanceof CodecError)) throw error;
        // A damaged log line must not take the dashboard down; the log itself keeps it.
      }
    }
    return records.sort((a, b) => b.timestamp.localeCompare(a.timestamp)).slice(0, SHOWN_ACTIVITY);
  }
}
