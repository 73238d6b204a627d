import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { EXIT, FteError } from './errors.js';
import { parseMarkdown, stringifyMarkdown } from './frontmatter.js';
import {
  APPROVAL_META_KEYS,
  ApprovalFrontmatter,
  AuditRecord,
  canonicalize,
  ItemFrontmatter,
  UpdateFrontmatter,
} from './schemas.js';
import { MAX_VAULT_FILE_BYTES } from './vault/safe-fs.js';

/** Files above this size are refused before parsing (a 20 MB mail body is an error, not a task). */
export { MAX_VAULT_FILE_BYTES };

/** Why a vault file could not be read as what it claims to be; the message quotes the problem. A data error. */
export class CodecError extends FteError {
  constructor(
    readonly kind: 'too_large' | 'frontmatter' | 'schema',
    message: string,
  ) {
    super(message, { exitCode: EXIT.dataError });
  }
}

export type Decoded<T> = { data: T; body: string };

function describeIssues(error: z.ZodError, data: Record<string, unknown>): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const key = issue.path.join('.') || '(root)';
      const value = issue.path.length > 0 ? data[String(issue.path[0])] : undefined;
      const shown = value === undefined ? 'missing' : `got ${JSON.stringify(value)?.slice(0, 60)}`;
      return `${key}: ${issue.message} (${shown})`;
    })
    .join('; ');
}

function decodeWith<S extends z.ZodType>(schema: S, what: string, text: string): Decoded<z.infer<S>> {
  if (text.length > MAX_VAULT_FILE_BYTES || Buffer.byteLength(text, 'utf8') > MAX_VAULT_FILE_BYTES) {
    throw new CodecError('too_large', `${what} is larger than ${MAX_VAULT_FILE_BYTES} bytes`);
  }
  let doc: ReturnType<typeof parseMarkdown>;
  try {
    doc = parseMarkdown(text);
  } catch (error) {
    // parseMarkdown throws only FrontmatterError; anything else is still this file's problem, never a crash.
    throw new CodecError('frontmatter', `${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const data = canonicalize(doc.data);
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new CodecError('schema', `${what}: ${describeIssues(parsed.error, data)}`);
  return { data: parsed.data, body: doc.body };
}

export const decodeItem = (text: string) => decodeWith(ItemFrontmatter, 'item file', text);
export const decodeApproval = (text: string) => decodeWith(ApprovalFrontmatter, 'approval request', text);
export const decodeUpdate = (text: string) => decodeWith(UpdateFrontmatter, 'update signal', text);

export function encodeItem(item: Decoded<ItemFrontmatter>): string {
  return stringifyMarkdown({ data: ItemFrontmatter.parse(item.data), body: item.body });
}
export function encodeApproval(approval: Decoded<ApprovalFrontmatter>): string {
  return stringifyMarkdown({ data: ApprovalFrontmatter.parse(approval.data), body: approval.body });
}
export function encodeUpdate(update: Decoded<UpdateFrontmatter>): string {
  return stringifyMarkdown({ data: UpdateFrontmatter.parse(update.data), body: update.body });
}

export function decodeAuditLine(line: string): AuditRecord {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new CodecError('frontmatter', `audit line is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  const parsed = AuditRecord.safeParse(json);
  if (!parsed.success) {
    throw new CodecError(
      'schema',
      `audit record: ${describeIssues(parsed.error, json as Record<string, unknown>)}`,
    );
  }
  return parsed.data;
}

/** The action parameters of an approval request: every frontmatter key that is not request metadata. */
export function approvalParameters(data: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([key]) => !APPROVAL_META_KEYS.has(key)));
}

/** JSON with object keys sorted at every level, so equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `content_sha256` of an approval request: the action, its parameters and the exact body. */
export function approvalContentHash(
  action: string,
  parameters: Record<string, unknown>,
  body: string,
): string {
  return createHash('sha256').update(canonicalJson({ action, parameters, body })).digest('hex');
}
