import { createHash } from 'node:crypto';
import { EXIT, FteError } from './errors.js';

/** Longest task id in UTF-8 bytes; file names allow 255, and suffixes like `.conflict-<agent>-<ts>.md` need room. */
export const MAX_ID_BYTES = 120;

/** A string that cannot be a task id (a data error: it came from a file name, a header or an argument). */
export class InvalidTaskIdError extends FteError {
  constructor(readonly raw: string) {
    super(`invalid task id ${JSON.stringify(raw.slice(0, 80))}: nothing usable is left after sanitising`, {
      exitCode: EXIT.dataError,
    });
  }
}

const utf8Length = (text: string): number => Buffer.byteLength(text, 'utf8');

function truncateToBytes(text: string, maxBytes: number): string {
  let out = '';
  for (const ch of text) {
    if (utf8Length(out) + utf8Length(ch) > maxBytes) break;
    out += ch;
  }
  return out;
}

/**
 * Turns any string (a subject, a file name from a pull, a Message-ID) into a task id that is safe as a
 * single path segment: letters and digits of any script, `-`, `_` and inner dots; no separators, no `..`,
 * no control or invisible characters, no leading or trailing dot, at most MAX_ID_BYTES bytes.
 * An input that had to change gets a short hash of the original appended, so two different inputs never
 * collapse into one id. Pure and idempotent: sanitizeTaskId(sanitizeTaskId(x)) === sanitizeTaskId(x).
 */
export function sanitizeTaskId(raw: string): string {
  const normalized = raw.normalize('NFC');
  const cleaned = normalized
    .replace(/[^\p{L}\p{N}\-_.]+/gu, '_')
    .replace(/\.{2,}/g, '_')
    .replace(/^[._]+/, '')
    .replace(/[._]+$/, '');
  if (cleaned.length === 0) throw new InvalidTaskIdError(raw);
  if (cleaned === normalized && utf8Length(cleaned) <= MAX_ID_BYTES) return cleaned;
  const hash = createHash('sha256').update(normalized).digest('hex').slice(0, 10);
  const head = truncateToBytes(cleaned, MAX_ID_BYTES - hash.length - 1).replace(/[._]+$/, '');
  return `${head || 'id'}_${hash}`;
}

/** True when `id` is already in sanitised form, as every path-building function requires. */
export function isSafeTaskId(id: string): boolean {
  try {
    return sanitizeTaskId(id) === id;
  } catch {
    return false;
  }
}

export function assertSafeTaskId(id: string): string {
  if (!isSafeTaskId(id)) throw new InvalidTaskIdError(id);
  return id;
}
