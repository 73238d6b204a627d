import { loadRemoteState, type RemoteState, remoteStatusLines } from './git/remote-state.js';
import { FOLDERS, type Location, locate, type Phase } from './layout.js';
import { canonicalize } from './schemas.js';
import { parseOrError, type VaultReadCache } from './vault/read-cache.js';
import { type RefusalProblem, VaultFiles } from './vault/safe-fs.js';

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
  invoice_request: 'accounting',
  vendor_bill: 'accounting',
  payment: 'accounting',
  whatsapp: 'whatsapp',
  file_drop: 'files',
};
const DOMAIN_OF_ACTION: Record<string, string> = {
  send_email: 'email',
  post_social: 'social',
  post_invoice: 'accounting',
  payment: 'accounting',
  register_payment: 'accounting',
  send_whatsapp: 'whatsapp',
};

export type ScanOptions = {
  /** Read each file's frontmatter (default true). */
  readFrontmatter?: boolean;
  /** Reuse reads and parses of unchanged files (a long-running reader: the status page). */
  cache?: VaultReadCache;
  /** Told of every link or special file met among task files: never read, never followed. */
  onUnsafe?: (unsafe: { path: string; problem: RefusalProblem; reason: string }) => void;
};

/**
 * Every protocol file of the vault, read only through VaultFiles: a link, symlinked folder, FIFO or
 * oversized file is reported and shown with the reason, never read. The one listing behind `fte status`
 * and Dashboard.md.
 */
export async function scanVault(root: string, options: ScanOptions = {}): Promise<VaultEntry[]> {
  const files = new VaultFiles(root);
  const report = options.onUnsafe ?? (() => undefined);
  const paths: string[] = [];
  const list = async (dir: string) => {
    const listing = await files.list(dir);
    for (const unsafe of listing.unsafe) report(unsafe);
    return listing;
  };
  for (const top of [FOLDERS.needsAction, FOLDERS.inProgress, FOLDERS.pendingApproval]) {
    for (const sub of (await list(top)).folders) {
      for (const file of (await list(`${top}/${sub}`)).files) paths.push(`${top}/${sub}/${file}`);
    }
  }
  for (const top of [FOLDERS.approved, FOLDERS.rejected, FOLDERS.done]) {
    for (const file of (await list(top)).files) paths.push(`${top}/${file}`);
  }
  const entries: VaultEntry[] = [];
  for (const path of paths) {
    const location = locate(path);
    if (!location) continue;
    const entry: VaultEntry = { ...location, path };
    if (options.readFrontmatter !== false) {
      const read = options.cache ? await options.cache.readMarkdown(path) : await files.readText(path);
      if (read.kind === 'missing') continue;
      if (read.kind === 'refused') {
        report({ path: read.at, problem: read.problem, reason: read.reason });
        entry.error = `not read: ${read.reason}`;
      } else {
        const doc = 'doc' in read ? read.doc : parseOrError(read.text);
        if (doc instanceof Error) entry.error = doc.message;
        else entry.data = canonicalize(doc.data);
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
