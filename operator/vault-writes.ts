import { createHash } from 'node:crypto';
import { approvalContentHash, approvalParameters, encodeApproval, encodeUpdate } from '../core/codec.js';
import { stringifyMarkdown } from '../core/frontmatter.js';
import { sanitizeTaskId } from '../core/ids.js';
import { FOLDERS, itemPaths } from '../core/layout.js';
import type { ApprovalFrontmatter, UpdateFrontmatter } from '../core/schemas.js';
import type { ApprovalDraft } from './handlers/handler.js';

/** The pure builders of every file the operator writes; the reconciler does the I/O. */

export const DEFAULT_APPROVAL_TTL_MS = 48 * 60 * 60 * 1000;

/** `2026-01-07T10:30:00.000Z` → `2026-01-07T10-30-00-000Z`: sortable and safe in any file system. */
export function fileStamp(iso: string): string {
  return iso.replace(/[:.]/g, '-');
}

/** ADR 0001: `Updates/<UTC timestamp>_<agent>_<kind>_<id>.md`, deterministic for a given moment. */
export function updatePath(
  agent: string,
  kind: UpdateFrontmatter['kind'],
  id: string,
  created: string,
): string {
  return `${FOLDERS.updates}/${fileStamp(created)}_${agent}_${kind}_${id}.md`;
}

/** Where Local moves merged signals; a signal found there was written. */
export function archivedUpdatePath(path: string): string {
  return `${FOLDERS.updates}/archive/${path.slice(FOLDERS.updates.length + 1)}`;
}

export function updateSignal(input: {
  agent: string;
  kind: UpdateFrontmatter['kind'];
  id: string;
  created: string;
  summary: string;
  fields?: Record<string, string | undefined>;
  body?: string;
}): { path: string; text: string } {
  const data: UpdateFrontmatter = {
    type: 'update',
    kind: input.kind,
    agent: input.agent,
    created: input.created,
    task: input.id,
    summary: input.summary,
    ...Object.fromEntries(Object.entries(input.fields ?? {}).filter(([, v]) => v !== undefined)),
  };
  return {
    path: updatePath(input.agent, input.kind, input.id, input.created),
    text: encodeUpdate({ data, body: input.body ?? `${input.summary}\n` }),
  };
}

/**
 * The approval request for a draft (`Pending_Approval/<domain>/<id>.md`), as the executor verifies it:
 * `content_sha256` is computed over the final frontmatter (without itself) and the exact body.
 */
export function approvalRequest(input: {
  id: string;
  agent: string;
  domain: string;
  draft: ApprovalDraft;
  created: Date;
  ttlMs?: number;
}): { path: string; text: string; data: ApprovalFrontmatter } {
  const { id, agent, domain, draft } = input;
  const created = input.created.toISOString();
  const expires = new Date(input.created.getTime() + (input.ttlMs ?? DEFAULT_APPROVAL_TTL_MS)).toISOString();
  const body = draft.body.endsWith('\n') ? draft.body : `${draft.body}\n`;
  const unsigned: Record<string, unknown> = {
    type: 'approval_request',
    task: id,
    action: draft.action,
    domain,
    ...draft.parameters,
    reason: draft.reason,
    created,
    expires,
    status: 'pending',
    source: itemPaths.inProgress(agent, id),
    drafter: draft.drafter,
  };
  const content_sha256 = approvalContentHash(draft.action, approvalParameters(unsigned), body);
  const data = { ...unsigned, content_sha256 } as ApprovalFrontmatter;
  return { path: itemPaths.pendingApproval(domain, id), text: encodeApproval({ data, body }), data };
}

/** An id safe for `_errors/`: the id itself when it is safe, else its sanitised form (never throws). */
export function errorId(id: string): string {
  try {
    return sanitizeTaskId(id);
  } catch {
    return `item_${createHash('sha256').update(id).digest('hex').slice(0, 10)}`;
  }
}

/** An item's frontmatter with fields added (an error, a triage note); the body is kept byte for byte. */
export function withFields(
  data: Record<string, unknown>,
  body: string,
  fields: Record<string, unknown>,
): string {
  return stringifyMarkdown({ data: { ...data, ...fields }, body });
}

/** The description left in `_errors/<id>.md` when the original could not be parsed and is kept beside it as `.orig`. */
export function errorDescription(input: {
  id: string;
  reason: string;
  originalPath: string;
  keptAs: string;
  size: number;
  detected: string;
  agent: string;
}): string {
  return stringifyMarkdown({
    data: {
      type: 'error',
      task: input.id,
      status: 'error',
      error: input.reason,
      original_path: input.originalPath,
      original_file: input.keptAs,
      size: input.size,
      detected: input.detected,
      detected_by: input.agent,
    },
    body: [
      `# Unreadable item: ${input.originalPath}`,
      '',
      `The ${input.agent} agent could not read this item: ${input.reason}.`,
      '',
      `Its bytes are kept unchanged in \`${input.keptAs}\`. Fix the file and move it back to`,
      `\`${input.originalPath}\` to try again, or delete both files to drop it.`,
      '',
    ].join('\n'),
  });
}
