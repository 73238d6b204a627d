import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { EXIT, FteError } from './errors.js';
import { assertSafeTaskId } from './ids.js';

/** The vault's folders (DESIGN.md §2). The folder an item sits in is its state. */
export const FOLDERS = {
  inbox: 'Inbox',
  needsAction: 'Needs_Action',
  errors: 'Needs_Action/_errors',
  plans: 'Plans',
  inProgress: 'In_Progress',
  pendingApproval: 'Pending_Approval',
  approved: 'Approved',
  rejected: 'Rejected',
  done: 'Done',
  updates: 'Updates',
  logs: 'Logs',
  briefings: 'Briefings',
} as const;

export const DASHBOARD_FILE = 'Dashboard.md';
export const HANDBOOK_FILE = 'Company_Handbook.md';
export const DEFAULT_DOMAINS = ['email', 'social', 'accounting', 'whatsapp', 'files'] as const;
export const DEFAULT_AGENTS = ['cloud', 'local'] as const;

export { PHASES } from './phases.js';
export type Phase = import('./phases.js').Phase;

/** Domain and agent names are folder names too, so they follow a strict pattern. */
const NAME_PATTERN = /^[a-z][a-z0-9_-]{0,39}$/;

/** A domain or agent name that cannot be a folder name. */
export class InvalidNameError extends FteError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.dataError });
  }
}

export function assertFolderName(kind: 'domain' | 'agent', name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new InvalidNameError(
      `invalid ${kind} name ${JSON.stringify(name)}: use lower-case letters, digits, - and _`,
    );
  }
  return name;
}

/** Relative (POSIX) paths of an item in each state; every id is checked before it becomes a path. */
export const itemPaths = {
  needsAction: (domain: string, id: string) =>
    `${FOLDERS.needsAction}/${assertFolderName('domain', domain)}/${assertSafeTaskId(id)}.md`,
  inProgress: (agent: string, id: string) =>
    `${FOLDERS.inProgress}/${assertFolderName('agent', agent)}/${assertSafeTaskId(id)}.md`,
  pendingApproval: (domain: string, id: string) =>
    `${FOLDERS.pendingApproval}/${assertFolderName('domain', domain)}/${assertSafeTaskId(id)}.md`,
  approved: (id: string) => `${FOLDERS.approved}/${assertSafeTaskId(id)}.md`,
  rejected: (id: string) => `${FOLDERS.rejected}/${assertSafeTaskId(id)}.md`,
  done: (id: string) => `${FOLDERS.done}/${assertSafeTaskId(id)}.md`,
  /** The original item beside its finished approval in `Done/` or `Rejected/`. */
  doneItem: (id: string) => `${FOLDERS.done}/${assertSafeTaskId(id)}.item.md`,
  rejectedItem: (id: string) => `${FOLDERS.rejected}/${assertSafeTaskId(id)}.item.md`,
  error: (id: string) => `${FOLDERS.errors}/${assertSafeTaskId(id)}.md`,
};

/** A vault-relative path that would leave the vault. */
export class PathEscapeError extends FteError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.dataError });
  }
}

/** Resolves a vault-relative path to an absolute one, refusing anything that would leave the vault. */
export function insideVault(vaultRoot: string, relPath: string): string {
  const root = resolve(vaultRoot);
  if (isAbsolute(relPath)) throw new PathEscapeError(`absolute path not allowed in the vault: ${relPath}`);
  const abs = resolve(root, relPath);
  const rel = relative(root, abs);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new PathEscapeError(`path escapes the vault: ${JSON.stringify(relPath)}`);
  }
  return abs;
}

export function toPosix(relPath: string): string {
  return relPath.split(sep).join('/');
}

export { join };

/** Where a vault-relative path sits in the protocol, or undefined when it is not a task file. */
export type Location = {
  phase: Phase;
  /** Folder-derived domain (Needs_Action/<d>/, Pending_Approval/<d>/); undefined for flat folders. */
  domain?: string;
  /** Agent holding the claim (In_Progress/<agent>/). */
  owner?: string;
  /** `item`: the task's own file; `approval`: the approval request or outcome for it. */
  role: 'item' | 'approval';
  id: string;
};

export function locate(relPath: string): Location | undefined {
  const parts = toPosix(relPath).split('/');
  const file = parts.at(-1);
  if (!file?.endsWith('.md') || file.includes('.conflict-')) return undefined;
  const stem = file.slice(0, -3);
  const [top, sub] = parts;
  if (parts.length === 3 && top === FOLDERS.needsAction && sub === '_errors') {
    return { phase: 'Failed', role: 'item', id: stem };
  }
  if (parts.length === 3 && top === FOLDERS.needsAction && sub) {
    return { phase: 'NeedsAction', domain: sub, role: 'item', id: stem };
  }
  if (parts.length === 3 && top === FOLDERS.inProgress && sub) {
    return { phase: 'InProgress', owner: sub, role: 'item', id: stem };
  }
  if (parts.length === 3 && top === FOLDERS.pendingApproval && sub) {
    return { phase: 'PendingApproval', domain: sub, role: 'approval', id: stem };
  }
  if (parts.length === 2 && (top === FOLDERS.approved || top === FOLDERS.rejected || top === FOLDERS.done)) {
    const phase: Phase =
      top === FOLDERS.approved ? 'Approved' : top === FOLDERS.rejected ? 'Rejected' : 'Done';
    if (stem.endsWith('.item')) return { phase, role: 'item', id: stem.slice(0, -'.item'.length) };
    return { phase, role: 'approval', id: stem };
  }
  return undefined;
}
