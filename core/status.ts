import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMarkdown } from './frontmatter.js';
import { listFolders, listMarkdown } from './fsutil.js';
import { loadRemoteState, type RemoteState, remoteStatusLines } from './git/remote-state.js';
import { FOLDERS, type Location, locate, type Phase } from './layout.js';
import { canonicalize } from './schemas.js';

/** One markdown file of the protocol, with what its folder and frontmatter say about it. */
export type VaultEntry = Location & {
  path: string;
  /** The frontmatter, or undefined when it does not parse (such files still show, with `error`). */
  data?: Record<string, unknown>;
  error?: string;
};

export type TaskSummary = {
  id: string;
  domain: string;
  phase: Phase;
  owner?: string;
  title?: string;
  /** Every file of the task, the one deciding its phase first. */
  paths: string[];
  error?: string;
};

/** Item types mapped to their domain folder, for files in flat folders (`Approved/`, `Done/`, …). */
const DOMAIN_OF_TYPE: Record<string, string> = {
  email: 'email',
  social_post: 'social',
  linkedin_post: 'social',
  invoice: 'accounting',
  payment: 'accounting',
  whatsapp: 'whatsapp',
  file_drop: 'files',
};
const DOMAIN_OF_ACTION: Record<string, string> = {
  send_email: 'email',
  post_social: 'social',
  post_invoice: 'accounting',
  payment: 'accounting',
  send_whatsapp: 'whatsapp',
};

/** The task folders, relative to the vault root: two levels deep where the folder holds per-domain/agent subfolders. */
async function protocolFiles(root: string): Promise<string[]> {
  const paths: string[] = [];
  for (const top of [FOLDERS.needsAction, FOLDERS.inProgress, FOLDERS.pendingApproval]) {
    for (const sub of await listFolders(join(root, top))) {
      for (const file of await listMarkdown(join(root, top, sub))) paths.push(`${top}/${sub}/${file}`);
    }
  }
  for (const top of [FOLDERS.approved, FOLDERS.rejected, FOLDERS.done]) {
    for (const file of await listMarkdown(join(root, top))) paths.push(`${top}/${file}`);
  }
  return paths;
}

export async function scanVault(
  root: string,
  options: { readFrontmatter?: boolean } = {},
): Promise<VaultEntry[]> {
  const entries: VaultEntry[] = [];
  for (const path of await protocolFiles(root)) {
    const location = locate(path);
    if (!location) continue;
    const entry: VaultEntry = { ...location, path };
    if (options.readFrontmatter !== false) {
      try {
        entry.data = canonicalize(parseMarkdown(await readFile(join(root, path), 'utf8')).data);
      } catch (error) {
        entry.error = error instanceof Error ? error.message : String(error);
      }
    }
    entries.push(entry);
  }
  return entries;
}

/** Later phases win when a task has several files (its item in `In_Progress/`, its approval in `Pending_Approval/`). */
const PHASE_RANK: Record<Phase, number> = {
  NeedsAction: 0,
  InProgress: 1,
  PendingApproval: 2,
  Approved: 3,
  Executing: 4,
  Failed: 5,
  Rejected: 6,
  Done: 7,
};

function domainOf(entry: VaultEntry): string | undefined {
  const declared = entry.data?.domain;
  if (typeof declared === 'string') return declared;
  if (entry.domain) return entry.domain;
  const type = entry.data?.type;
  if (typeof type === 'string' && DOMAIN_OF_TYPE[type]) return DOMAIN_OF_TYPE[type];
  const action = entry.data?.action;
  if (typeof action === 'string' && DOMAIN_OF_ACTION[action]) return DOMAIN_OF_ACTION[action];
  return undefined;
}

const outcomeFirst = (entry: VaultEntry) => (entry.role === 'approval' ? 0 : 1);

export function summarizeTasks(entries: VaultEntry[]): TaskSummary[] {
  const byId = new Map<string, VaultEntry[]>();
  for (const entry of entries) byId.set(entry.id, [...(byId.get(entry.id) ?? []), entry]);
  const tasks: TaskSummary[] = [];
  for (const [id, files] of byId) {
    // Latest phase first; on a tie (`Done/X.md` beside `Done/X.item.md`) the outcome file leads.
    files.sort((a, b) => PHASE_RANK[b.phase] - PHASE_RANK[a.phase] || outcomeFirst(a) - outcomeFirst(b));
    const lead = files[0]!;
    const title = files.map((f) => f.data?.title ?? f.data?.subject).find((t) => typeof t === 'string') as
      | string
      | undefined;
    tasks.push({
      id,
      domain: files.map(domainOf).find((d) => d !== undefined) ?? 'unknown',
      phase: lead.phase,
      owner: files.map((f) => f.owner).find((o) => o !== undefined),
      title,
      paths: files.map((f) => f.path),
      error: files
        .map((f) => f.error ?? (typeof f.data?.error === 'string' ? f.data.error : undefined))
        .find(Boolean),
    });
  }
  return tasks.sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * What is wrong with the clone's remote, one line each ("remote refused: <reason>", a rewritten history),
 * from `.git/fte/remote-state.json`; empty when all is well. Cleared by the next good sync.
 */
export async function remoteProblems(
  root: string,
  now = new Date(),
): Promise<{ lines: string[]; refused?: RemoteState['refused']; rewritten?: RemoteState['rewritten'] }> {
  const state = await loadRemoteState(root);
  const lines = remoteStatusLines(state, now);
  return { lines, refused: state.refused, rewritten: lines.length > 0 ? state.rewritten : undefined };
}
