import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { AuditLog } from '../core/audit.js';
import { CodecError, decodeUpdate } from '../core/codec.js';
import { UnsafePathError } from '../core/errors.js';
import { isErrno, writeFileAtomic } from '../core/fsutil.js';
import { DASHBOARD_FILE, FOLDERS } from '../core/layout.js';
import type { AuditRecord } from '../core/schemas.js';
import { scanVault, summarizeTasks, type VaultEntry } from '../core/status.js';
import type { SyncReport } from '../core/vault-repo.js';
import { localMailTokenFiles, mailLoginLines } from './mail-login.js';
import type { TaskFiles } from './vault-files.js';

/**
 * `Dashboard.md`, written by Local only (single writer, atomic write). Each pass merges the `Updates/`
 * signals into a small local state file (`dashboard.json` in the executor's state folder, outside the
 * working tree), archives them into `Updates/archive/`,
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
  /** Agents whose mail sign-in needs a new `fte mail login` (a `mail_login_needed` not yet followed by `mail_login_restored`). */
  mailLogin: z.record(z.string(), z.object({ at: z.string(), message: z.string() })).default({}),
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
  /** "run `fte mail login` again" lines (executor/mail-login.ts). */
  mailLogin?: string[];
};

/**
 * Text that came from the vault (the remote may have written it), made inert for Markdown and Obsidian:
 * control and bidi characters dropped, one line, at most 80 characters, inside a code span, where no link,
 * image, HTML or wikilink is ever rendered. Backticks become quotes so the span cannot be closed early;
 * `|` is escaped for the table it may sit in.
 */
export function cell(value: unknown, max = 80): string {
  const text = String(value ?? '')
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, ' ')
    .replace(/`/g, "'")
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, max)
    .replace(/\|/g, '\\|');
  return text === '' ? '' : `\`${text}\``;
}

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

  if (state.sync?.state === 'refused') {
    out.push(
      `**Remote refused**: ${cell(state.sync.error)}. This laptop stays on its last good commit and keeps executing what you approve; it syncs again once the remote is fixed.`,
      '',
    );
  }

  for (const line of view.mailLogin ?? []) {
    out.push(`**Mail sign-in needed**: ${cell(line, 200)}`, '');
  }

  const pending = entries.filter((e) => e.phase === 'PendingApproval' && e.role === 'approval');
  out.push(`## Pending approvals (${pending.length})`, '');
  if (pending.length === 0) out.push('Nothing waits for you.', '');
  else {
    out.push(
      table(
        ['Task', 'Action', 'To', 'Subject', 'Expires', 'Approve with'],
        pending.map((e) => [
          cell(e.id),
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
      out.push(`- ${cell(e.id)}: ${cell(e.data?.action)} ${cell(e.data?.to)} ${cell(e.data?.subject)}`);
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
    out.push(
      `- ${cell(agent)}: last heartbeat ${cell(beat.at)}${beat.summary ? ` (${cell(beat.summary)})` : ''}`,
    );
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
        `- ${cell(s.created)} ${cell(s.agent)} ${cell(s.kind)}${s.task ? ` ${cell(s.task)}` : ''}${s.summary ? `: ${cell(s.summary)}` : ''}`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

/** The merged heartbeats, signals and sync state (`dashboard.json` in the state folder); empty when absent. */
export async function loadDashboardState(statePath: string): Promise<DashboardState> {
  try {
    const parsed = DashboardState.safeParse(JSON.parse(await readFile(statePath, 'utf8')));
    if (parsed.success) return parsed.data;
  } catch (error) {
    if (!isErrno(error, 'ENOENT') && !(error instanceof SyntaxError)) throw error;
  }
  return { heartbeats: {}, signals: [], mailLogin: {} };
}

export class DashboardWriter {
  private rendered = false;
  private lastMailLogin = '';

  constructor(
    private readonly files: TaskFiles,
    private readonly agent: string,
    private readonly audit: AuditLog,
    private readonly clock: () => Date,
    /** `dashboard.json` in the executor's state folder (outside the working tree). */
    private readonly statePath: string,
    /** Appends an audit record without letting an unsafe log path stop the pass. */
    private readonly record: (input: Parameters<AuditLog['append']>[0]) => Promise<void> = async (i) => {
      await audit.append(i);
    },
    /** This machine's OAuth token files (a refused refresh shows on the dashboard). */
    private readonly mailTokenFiles: string[] = localMailTokenFiles(process.env),
  ) {}

  private loadState(): Promise<DashboardState> {
    return loadDashboardState(this.statePath);
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
    for (const file of (await this.files.listMarkdown(FOLDERS.updates)).sort()) {
      const path = `${FOLDERS.updates}/${file}`;
      const read = await this.files.files.readText(path);
      if (read.kind === 'missing') continue;
      if (read.kind === 'refused') {
        // Oversized or not UTF-8: never read; the git owner quarantines it.
        this.files.reportUnsafe({ path: read.at, problem: read.problem, reason: read.reason });
        continue;
      }
      const text = read.text;
      try {
        const { data } = decodeUpdate(text);
        if (data.kind === 'heartbeat') {
          const prev = state.heartbeats[data.agent];
          if (!prev || Date.parse(prev.at) <= Date.parse(data.created)) {
            state.heartbeats[data.agent] = { at: data.created, summary: data.summary };
          }
        } else {
          if (data.kind === 'mail_login_needed') {
            const prev = state.mailLogin[data.agent];
            if (!prev || prev.at <= data.created)
              state.mailLogin[data.agent] = {
                at: data.created,
                message: data.summary ?? 'run `fte mail login` again',
              };
          } else if (data.kind === 'mail_login_restored') {
            const prev = state.mailLogin[data.agent];
            if (prev && prev.at <= data.created) delete state.mailLogin[data.agent];
          }
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
        await this.record({
          action_type: 'update_unreadable',
          actor: this.agent,
          target: path,
          parameters: { reason: error.message, archived_as: `${ARCHIVE}/${file}` },
          result: 'archived',
        });
        touched.push(FOLDERS.logs);
      }
      const target = await this.archiveName(file);
      try {
        if (!(await this.files.files.move(path, target))) continue;
      } catch (error) {
        if (!(error instanceof UnsafePathError)) throw error;
        this.files.reportUnsafe({ path: error.path, problem: 'link', reason: error.reason });
        continue;
      }
      touched.push(path, target);
      merged++;
    }
    state.signals = state.signals.sort((a, b) => a.created.localeCompare(b.created)).slice(-KEPT_SIGNALS);
    const before = JSON.stringify(state.sync ?? null);
    if (sync) {
      state.sync = {
        state: sync.state,
        lastReceived: sync.pulled > 0 ? now.toISOString() : state.sync?.lastReceived,
        error: sync.state === 'offline' || sync.state === 'refused' ? sync.error?.split('\n')[0] : undefined,
      };
    }
    const syncChanged = JSON.stringify(state.sync ?? null) !== before;
    const mailLogin = await mailLoginLines(state, this.mailTokenFiles);
    const mailChanged = mailLogin.join('\n') !== this.lastMailLogin;
    this.lastMailLogin = mailLogin.join('\n');
    // Rendering reads every task file; an idle pass (nothing pulled, nothing done) skips it.
    if (merged === 0 && !syncChanged && !mailChanged && !changed && this.rendered) return { touched, merged };
    this.rendered = true;
    await writeFileAtomic(this.statePath, `${JSON.stringify(state, null, 2)}\n`, 0o600);

    const text = renderDashboard({
      now,
      agent: this.agent,
      state,
      entries: await scanVault(this.files.root, { onUnsafe: (u) => this.files.reportUnsafe(u) }),
      activity: await this.recentActivity(now),
      mailLogin,
    });
    const current = await this.files.files.readText(DASHBOARD_FILE);
    if (current.kind !== 'ok' || current.text !== text) {
      // writeAtomic replaces a link planted at Dashboard.md itself (rename never follows it).
      await this.files.files.writeAtomic(DASHBOARD_FILE, text);
      touched.push(DASHBOARD_FILE);
    }
    return { touched, merged };
  }

  private async archiveName(file: string): Promise<string> {
    let target = `${ARCHIVE}/${file}`;
    for (let n = 2; await this.files.occupied(target); n++)
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
        if (!(error instanceof CodecError) && !(error instanceof UnsafePathError)) throw error;
        // A damaged log line must not take the dashboard down; the log itself keeps it.
      }
    }
    return records.sort((a, b) => b.timestamp.localeCompare(a.timestamp)).slice(0, SHOWN_ACTIVITY);
  }
}
