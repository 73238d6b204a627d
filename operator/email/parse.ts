import { Readable } from 'node:stream';
import {
  type AddressObject,
  type EmailAddress,
  type Headers,
  type HeaderValue,
  MailParser,
} from 'mailparser';
import { isAddress } from '../../core/address.js';
import { EXIT, FteError } from '../../core/errors.js';

/**
 * Raw RFC 822 bytes → the parts of an email a task needs (mailparser, streamed): addresses, threading
 * headers, clean text (HTML converted), attachments listed by name, size and type. Attachments are counted
 * and dropped as they stream past, so a 25 MB message costs little memory. Never trusts the input: text
 * is capped, control characters are removed, and whatever mailparser could not make sense of is reported
 * in `problems` instead of failing the message.
 */

export type Address = { name?: string; address: string };

export type AttachmentInfo = { name: string; size: number; type: string };

export type ParsedEmail = {
  messageId?: string;
  inReplyTo?: string;
  /** Message-IDs of the thread, oldest first (References). */
  references: string[];
  from?: Address;
  replyTo: Address[];
  to: Address[];
  cc: Address[];
  subject?: string;
  /** The Date header, when it is a real date. */
  date?: Date;
  /** Clean text: the text/plain part, or the HTML converted to text. */
  text: string;
  /** Characters cut from `text` because of the limit (0 when nothing was cut). */
  truncatedChars: number;
  /** Whether the body was HTML only (so `text` was converted from it). */
  fromHtml: boolean;
  attachments: AttachmentInfo[];
  priority?: 'low' | 'normal' | 'high';
  /** Headers that tell bulk and automatic mail apart (raw values, one line each), when present. */
  listHeaders: { list_id?: string; list_unsubscribe?: string; precedence?: string; auto_submitted?: string };
  /** Things that were odd about the message but did not stop it from becoming a task. */
  problems: string[];
};

export type ParseLimits = {
  /** Longest body text kept, in characters. */
  maxTextChars: number;
};

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxTextChars: 100_000 };

/** The message could not be read as an email at all; the reason is shown to the owner. */
export class EmailParseError extends FteError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.dataError });
  }
}

const MESSAGE_ID = /<[^<>\s]+>/g;

/** All `<…>` ids in a header value (mailparser gives a string or a list). */
export function messageIds(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(' ') : value;
  const ids = text.match(MESSAGE_ID) ?? [];
  // A bare id without brackets (seen from broken mailers): keep it, bracketed.
  if (ids.length === 0 && text.trim() && !/\s/.test(text.trim())) return [`<${text.trim()}>`];
  return [...new Set(ids)];
}

/** Removes control and invisible formatting characters (keeps tab and newline); collapses a header to one line. */
export function cleanLine(text: string, max = 998): string {
  return stripControls(text)
    .replace(/[\t\n]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim()
    .slice(0, max);
}

function stripControls(text: string): string {
  // C0/C1 controls except tab and newline, bidi overrides and zero-width characters.
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/g, '');
}

function addressesOf(value: AddressObject | AddressObject[] | undefined): Address[] {
  if (!value) return [];
  const out: Address[] = [];
  const visit = (entry: EmailAddress) => {
    if (entry.group) entry.group.forEach(visit);
    else if (entry.address) {
      // Only what the one address parser (core/address.ts) accepts becomes an address in the vault.
      const address = cleanLine(entry.address, 320);
      if (!isAddress(address)) return;
      const name = cleanLine(entry.name ?? '', 200);
      out.push({ address, ...(name ? { name } : {}) });
    }
  };
  for (const object of Array.isArray(value) ? value : [value]) object.value.forEach(visit);
  return out;
}

function headerString(headers: Headers, key: string): string | undefined {
  const value: HeaderValue | undefined = headers.get(key);
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return (value as string[]).join(' ');
  return undefined;
}

const HEAD_CAPTURE_BYTES = 256 * 1024;

/** The bytes after the header section (after the first empty line). */
function bodyOf(raw: Buffer): Buffer {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return raw.subarray(crlf + 4);
  return lf >= 0 ? raw.subarray(lf + 2) : Buffer.alloc(0);
}

/** Charset labels (in Content-Type parameters and encoded words) that no decoder here knows. */
export function unknownCharsets(raw: string): string[] {
  const labels = new Set<string>();
  for (const m of raw.matchAll(/charset\s*=\s*"?([^"';\s]+)/gi)) if (m[1]) labels.add(m[1].toLowerCase());
  for (const m of raw.matchAll(/=\?([^?*\s]+)(?:\*[^?]*)?\?[bq]\?/gi))
    if (m[1]) labels.add(m[1].toLowerCase());
  return [...labels].filter((label) => {
    try {
      new TextDecoder(label);
      return false;
    } catch {
      return !KNOWN_EXTRA.has(label);
    }
  });
}

/** Labels mailparser decodes (iconv-lite, encoding-japanese) that TextDecoder does not know. */
const KNOWN_EXTRA = new Set([
  'utf7',
  'utf-7',
  'unicode-1-1-utf-7',
  'us-ascii',
  'ascii',
  'cp1252',
  'cp850',
  'cp437',
  'ansi_x3.4-1968',
]);

/** The first raw value of each wanted header, unfolded and cleaned, under the given names. */
function rawHeaders<K extends string>(
  lines: ReadonlyArray<{ key: string; line: string }>,
  wanted: Record<string, K>,
): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const { key, line } of lines) {
    const name = wanted[key.toLowerCase()];
    if (!name || out[name] !== undefined) continue;
    const value = cleanLine(line.slice(line.indexOf(':') + 1), 500);
    if (value) out[name] = value;
  }
  return out;
}

function cleanText(text: string): string {
  return stripControls(text)
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Parses one message; rejects only with EmailParseError (the message is unreadable). */
export async function parseEmail(
  source: Buffer | string | Readable,
  limits: ParseLimits = DEFAULT_PARSE_LIMITS,
): Promise<ParsedEmail> {
  const input =
    typeof source === 'string' || Buffer.isBuffer(source) ? Readable.from([Buffer.from(source)]) : source;
  const parser = new MailParser({
    skipTextToHtml: true,
    skipImageLinks: true,
    maxHtmlLengthToParse: 2_000_000,
  });
  let headers: Headers | undefined;
  let headerLines: ReadonlyArray<{ key: string; line: string }> = [];
  const attachments: AttachmentInfo[] = [];
  const problems: string[] = [];
  let text: string | undefined;
  let html: string | undefined;
  // The first bytes, kept for what the parser does not expose: charset labels and a body it could not split.
  const head: Buffer[] = [];
  let headBytes = 0;
  input.on('data', (chunk: Buffer) => {
    if (headBytes >= HEAD_CAPTURE_BYTES) return;
    const piece = Buffer.from(chunk).subarray(0, HEAD_CAPTURE_BYTES - headBytes);
    head.push(piece);
    headBytes += piece.length;
  });

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const stop = (error: Error) => {
      if (settled) return;
      settled = true;
      input.unpipe(parser);
      input.destroy();
      reject(error);
    };
    // A parser failure is the message's fault; a failing source (the connection) is not, and stays as it is.
    const fail = (error: unknown) =>
      stop(new EmailParseError(`cannot parse the message: ${(error as Error)?.message ?? String(error)}`));
    parser.on('headers', (value) => {
      headers = value;
    });
    parser.on('headerLines', (value) => {
      headerLines = value;
    });
    parser.on('data', (data) => {
      if (data.type === 'attachment') {
        let size = 0;
        data.content.on('data', (chunk: Buffer) => {
          size += chunk.length;
        });
        data.content.on('end', () => {
          attachments.push({
            name: cleanLine(data.filename ?? '', 255) || `(unnamed ${data.contentType || 'part'})`,
            size,
            type: cleanLine(data.contentType || 'application/octet-stream', 100),
          });
          data.release?.();
        });
        data.content.on('error', fail);
      } else if (data.type === 'text') {
        text = data.text;
        html = data.html;
        if (data.textConversionError)
          problems.push(`HTML could not be converted: ${data.textConversionError.message}`);
      }
    });
    parser.on('error', fail);
    input.on('error', (error: Error) => stop(error));
    parser.on('end', () => {
      if (settled) return;
      settled = true;
      resolve();
    });
    input.pipe(parser);
  });

  if (!headers) throw new EmailParseError('cannot parse the message: no header section');
  const p = parser;
  const contentType = headers.get('content-type') as
    | { value?: string; params?: Record<string, string> }
    | undefined;
  if (contentType?.value?.startsWith('multipart/') && !contentType.params?.boundary) {
    problems.push(`${contentType.value} without a boundary: the body may be shown as raw MIME`);
  }
  const raw = Buffer.concat(head).toString('latin1');
  let rawText = text ?? '';
  if (contentType?.value?.startsWith('multipart/') && !contentType.params?.boundary && !rawText.trim()) {
    // Without a boundary the parts cannot be told apart: show the body as it is rather than nothing.
    rawText = bodyOf(Buffer.concat(head)).toString('utf8');
  }
  for (const label of unknownCharsets(raw)) {
    problems.push(`unknown charset "${cleanLine(label, 60)}": characters outside ASCII may be shown wrong`);
  }
  const fromHtml = Boolean(html) && (contentType?.value ?? '').toLowerCase() === 'text/html';
  const cleaned = cleanText(rawText);
  const truncatedChars = Math.max(0, cleaned.length - limits.maxTextChars);
  const from = addressesOf(p.from)[0];
  const date = p.date && !Number.isNaN(p.date.getTime()) ? p.date : undefined;
  if (!p.messageId) problems.push('no Message-ID header');
  if (!from) problems.push('no usable From address');
  const subject = p.subject === undefined ? undefined : cleanLine(p.subject, 500);
  // mailparser folds Priority, X-Priority, X-MSMail-Priority and Importance into `priority`.
  const priority = headerString(headers, 'priority');
  return {
    messageId: p.messageId ? messageIds(p.messageId)[0] : undefined,
    inReplyTo: messageIds(p.inReplyTo)[0],
    references: messageIds(p.references),
    from,
    replyTo: addressesOf(p.replyTo),
    to: addressesOf(p.to),
    cc: addressesOf(p.cc),
    subject,
    date,
    text: truncatedChars > 0 ? cleaned.slice(0, limits.maxTextChars) : cleaned,
    truncatedChars,
    fromHtml,
    attachments,
    priority: priority === 'high' || priority === 'low' || priority === 'normal' ? priority : undefined,
    listHeaders: rawHeaders(headerLines, {
      'list-id': 'list_id',
      'list-unsubscribe': 'list_unsubscribe',
      precedence: 'precedence',
      'auto-submitted': 'auto_submitted',
    }),
    problems,
  };
}
