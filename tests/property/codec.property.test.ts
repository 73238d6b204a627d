import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  approvalContentHash,
  approvalParameters,
  CodecError,
  decodeApproval,
  decodeAuditLine,
  decodeItem,
  decodeUpdate,
  encodeApproval,
  encodeItem,
} from '../../core/codec.js';
import { FrontmatterError, parseMarkdown } from '../../core/frontmatter.js';
import { InvalidTaskIdError, isSafeTaskId, MAX_ID_BYTES, sanitizeTaskId } from '../../core/ids.js';
import { ACTIONS, APPROVAL_STATUSES, PRIORITIES } from '../../core/schemas.js';

/**
 * Property tests of the vault's file codec and of task-id sanitising (issue 14): random seeds, so every
 * run explores new input; fast-check prints the seed and the shrunk counterexample when one fails.
 */

/** Text that means something to YAML, to markdown fences or to line splitting. */
const SPECIAL = [
  '---',
  '---\n',
  '\n---\n',
  '...',
  ': ',
  '- ',
  '? ',
  '#',
  '&a',
  '*a',
  '!!binary',
  '!tag',
  '|',
  '>',
  '"',
  "'",
  '\\',
  '`',
  '{',
  '}',
  '[',
  ']',
  ',',
  '%YAML 1.2',
  '<<',
  'null',
  '~',
  'true',
  'yes',
  'off',
  '0x1F',
  '0o17',
  '1e3',
  '.inf',
  '-.nan',
  '2026-01-01',
  '12:30',
  '\n',
  '\r\n',
  '\r',
  '\t',
  ' ',
  '\u0085',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\u200b',
  'é',
  'e\u0301',
  '日本',
  '😀',
  '__proto__',
  'constructor',
];

/** Any unicode text, with the special tokens above mixed in often. */
const text = (maxLength = 40): fc.Arbitrary<string> =>
  fc
    .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom(...SPECIAL)), {
      maxLength,
    })
    .map((parts) => parts.join(''));

/** A markdown body: anything but NUL (a NUL byte makes a file binary, refused by design). */
const body = text(60).map((t) => t.replaceAll('\u0000', ''));

const isoDate = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

/** YAML-representable values: strings, finite numbers, booleans, null, lists and mappings of them. */
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text(12),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(text(6), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/**
 * Names the schemas or canonicalize() give a meaning to; extra keys avoid them. `__proto__` too: zod drops
 * that key when it validates (never turning it into a prototype), so it is the one unknown key not kept.
 */
const RESERVED = new Set([
  '__proto__',
  'type',
  'domain',
  'title',
  'from',
  'to',
  'cc',
  'subject',
  'received',
  'message_id',
  'in_reply_to',
  'references',
  'priority',
  'status',
  'task',
  'action',
  'reason',
  'created',
  'expires',
  'content_sha256',
  'action_type',
  'expires_at',
  'expiry',
  'created_at',
  'sender',
  'recipient_email',
  'received_at',
  'date',
  'task_id',
  'messageId',
  'message_id_header',
  'inReplyTo',
]);
const extras = fc.dictionary(
  text(8).filter((k) => !RESERVED.has(k)),
  value,
  { maxKeys: 5 },
);

const item = fc.record({
  data: fc
    .tuple(
      fc.record(
        {
          type: text(10).filter((t) => t.length > 0),
          domain: text(10),
          title: text(),
          from: text(),
          subject: text(),
          received: isoDate,
          message_id: text(),
          priority: fc.constantFrom(...PRIORITIES),
          status: text(10),
        },
        { requiredKeys: ['type'] },
      ),
      extras,
    )
    .map(([known, extra]) => ({ ...extra, ...known })),
  body,
});

const ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-";
const atom = fc.string({ unit: fc.constantFrom(...ATEXT), minLength: 1, maxLength: 8 });
const address = fc
  .tuple(
    fc.array(atom, { minLength: 1, maxLength: 2 }),
    fc.constantFrom('example.com', 'x.test', 'mail.example.org'),
  )
  .map(([local, domain]) => `${local.join('.')}@${domain}`);
const recipient = fc.oneof(
  address,
  fc
    .tuple(
      text(10).map((n) => n.replace(/[<>,\u0000-\u001f\u007f]/g, '')),
      address,
    )
    .map(([name, a]) => `${name} <${a}>`),
);
const messageId = fc.tuple(atom, atom).map(([l, r]) => `<${l}@${r}>`);

const approval = fc.record({
  data: fc
    .tuple(
      fc.record(
        {
          type: fc.constant('approval_request' as const),
          task: text(10).filter((t) => t.length > 0),
          action: fc.constantFrom(...ACTIONS),
          domain: text(8),
          reason: text(),
          created: isoDate,
          expires: isoDate,
          status: fc.constantFrom(...APPROVAL_STATUSES),
          content_sha256: fc.string({
            unit: fc.constantFrom(...'0123456789abcdef'),
            minLength: 64,
            maxLength: 64,
          }),
          to: fc.array(recipient, { minLength: 1, maxLength: 3 }).map((list) => list.join(', ')),
          subject: text(),
          in_reply_to: messageId,
          references: fc.array(messageId, { minLength: 1, maxLength: 3 }).map((ids) => ids.join(' ')),
        },
        { requiredKeys: ['type', 'task', 'action', 'created', 'expires', 'status', 'content_sha256'] },
      ),
      extras,
    )
    .map(([known, extra]) => ({ ...extra, ...known })),
  body,
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('the codec on generated files', () => {
  it('round-trips any item: frontmatter (unicode, YAML-special text, numbers, lists) and body exactly', () => {
    fc.assert(
      fc.property(item, (generated) => {
        const encoded = encodeItem(generated);
        const decoded = decodeItem(encoded);
        expect(decoded).toEqual(generated);
        // Encoding is a fixed point: a decoded file written back is byte for byte what was read.
        expect(encodeItem(decoded)).toBe(encoded);
      }),
      { numRuns: 400 },
    );
  });

  it('round-trips any approval request, and its content hash is the same after re-encoding', () => {
    fc.assert(
      fc.property(approval, (generated) => {
        const encoded = encodeApproval(generated);
        const decoded = decodeApproval(encoded);
        expect(decoded).toEqual(generated);
        const again = decodeApproval(encodeApproval(decoded));
        const hash = (a: typeof generated) =>
          approvalContentHash(a.data.action, approvalParameters(a.data), a.body);
        expect(hash(again)).toBe(hash(generated));
        expect(encodeApproval(again)).toBe(encoded);
      }),
      { numRuns: 400 },
    );
  });

  it('the content hash changes when any action parameter or the body changes', () => {
    fc.assert(
      fc.property(approval, text(8), (generated, extra) => {
        const params = approvalParameters(generated.data);
        const hash = approvalContentHash(generated.data.action, params, generated.body);
        expect(approvalContentHash(generated.data.action, params, `${generated.body}${extra}x`)).not.toBe(
          hash,
        );
        expect(
          approvalContentHash(
            generated.data.action,
            { ...params, to: `${params.to ?? ''}x` },
            generated.body,
          ),
        ).not.toBe(hash);
      }),
      { numRuns: 200 },
    );
  });
});

/** Something shaped like a file: an opening fence, YAML-ish tokens, maybe a closing fence, a body. */
const fileLike = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc
    .tuple(
      fc.constantFrom('---\n', '\ufeff---\n', '---\r\n', '--- \n', '', '--\n'),
      fc.array(fc.constantFrom(...SPECIAL, 'type', 'email', 'approval_request', 'a', '1', '-', '  '), {
        maxLength: 60,
      }),
      fc.constantFrom('\n---\n', '\n---', '\r\n---\r\n', '\n--- \t\n', '', '\n...\n'),
      fc.string({ unit: 'binary', maxLength: 40 }),
    )
    .map(([open, tokens, close, rest]) => `${open}${tokens.join('')}${close}${rest}`),
);

describe('the codec on arbitrary bytes', () => {
  it('never throws anything but its typed error', () => {
    fc.assert(
      fc.property(fileLike, (input) => {
        for (const decode of [decodeItem, decodeApproval, decodeUpdate]) {
          const error = thrown(() => decode(input));
          if (error !== undefined) expect(error).toBeInstanceOf(CodecError);
        }
        const raw = thrown(() => parseMarkdown(input));
        if (raw !== undefined) expect(raw).toBeInstanceOf(FrontmatterError);
        const audit = thrown(() => decodeAuditLine(input));
        if (audit !== undefined) expect(audit).toBeInstanceOf(CodecError);
      }),
      { numRuns: 2_000 },
    );
  });
});

/** Names with path separators, dots, controls, invisible characters and long runs in them. */
const rawName = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          '/',
          '\\',
          '.',
          '..',
          '.git',
          '\u0000',
          '\n',
          '\u001b',
          '\u007f',
          '\u200b',
          '\u202e',
          '\ufeff',
          ' ',
          '_',
          '-',
          ':',
          'é',
          'e\u0301',
          '日',
          '😀',
          'a',
          'Z',
          '9',
        ),
        fc.string({ unit: 'grapheme', maxLength: 5 }),
      ),
      { maxLength: 80 },
    )
    .map((parts) => parts.join('')),
  // Long names, so truncation is exercised.
  fc
    .tuple(fc.constantFrom('x', 'é', '日', '😀', 'a/'), fc.integer({ min: 40, max: 200 }))
    .map(([c, n]) => c.repeat(n)),
);

function sanitized(raw: string): string | undefined {
  try {
    return sanitizeTaskId(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTaskIdError);
    return undefined;
  }
}

describe('task id sanitising on arbitrary input', () => {
  it('yields a safe single path segment, or refuses with its typed error', () => {
    fc.assert(
      fc.property(rawName, (raw) => {
        const id = sanitized(raw);
        if (id === undefined) return;
        expect(id.length).toBeGreaterThan(0);
        expect(id).not.toMatch(/[/\\]/);
        expect(id).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\s]/u);
        expect(id).not.toContain('..');
        expect(id.startsWith('.')).toBe(false);
        expect(id.endsWith('.')).toBe(false);
        expect(id.toLowerCase()).not.toBe('.git');
        expect(Buffer.byteLength(id, 'utf8')).toBeLessThanOrEqual(MAX_ID_BYTES);
        expect(id.normalize('NFC')).toBe(id);
      }),
      { numRuns: 2_000 },
    );
  });

  it('is idempotent, and what it returns is accepted as safe', () => {
    fc.assert(
      fc.property(rawName, (raw) => {
        const id = sanitized(raw);
        if (id === undefined) return;
        expect(sanitizeTaskId(id)).toBe(id);
        expect(isSafeTaskId(id)).toBe(true);
      }),
      { numRuns: 1_000 },
    );
  });

  it('keeps different inputs apart (its promise: only inputs equal after NFC, or an input and its own id, meet)', () => {
    // Pairs built to collide if anything were dropped: one character swapped for another the sanitiser
    // treats alike ('/' vs '_' vs ' '), a suffix past the length limit, a changed case.
    const pair = fc
      .tuple(rawName, fc.nat(), fc.constantFrom('/', '_', ' ', '.', '-', '\\', 'x', 'X', '..', ''))
      .map(([raw, at, swap]) => {
        const chars = [...raw];
        const i = chars.length === 0 ? 0 : at % chars.length;
        return [raw, [...chars.slice(0, i), swap, ...chars.slice(i + 1)].join('')] as const;
      });
    fc.assert(
      fc.property(fc.oneof(pair, fc.tuple(rawName, rawName)), ([a, b]) => {
        const x = sanitized(a);
        const y = sanitized(b);
        if (x === undefined || y === undefined || x !== y) return;
        const allowed = a.normalize('NFC') === b.normalize('NFC') || a === y || b === x;
        expect(
          allowed,
          `${JSON.stringify(a)} and ${JSON.stringify(b)} both became ${JSON.stringify(x)}`,
        ).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});
