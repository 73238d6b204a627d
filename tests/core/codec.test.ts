import { describe, expect, it } from 'vitest';
import { parseAddress, parseAddressList } from '../../core/address.js';
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
  encodeUpdate,
  MAX_VAULT_FILE_BYTES,
} from '../../core/codec.js';
import { FteError } from '../../core/errors.js';
import {
  FrontmatterError,
  MAX_FRONTMATTER_BYTES,
  parseMarkdown,
  stringifyMarkdown,
} from '../../core/frontmatter.js';
import { isMessageId, parseMessageIdList } from '../../core/message-id.js';
import { replySubject, replyThread } from '../../core/reply.js';

const ITEM = `---
type: email
from: client@example.com
subject: Invoice for January
received: 2026-01-07T10:30:00Z
message_id: <abc@mail.example.com>
priority: high
status: pending
x_custom_field: keep me
---
## Email Content
Please send the January invoice.
`;

function approvalText(overrides: Record<string, string> = {}): string {
  const fields: Record<string, string> = {
    type: 'approval_request',
    task: 'EMAIL_1',
    action: 'send_email',
    to: 'client@example.com',
    subject: 'Re: Invoice for January',
    created: '2026-01-07T11:00:00Z',
    expires: '2026-01-09T11:00:00Z',
    status: 'pending',
    content_sha256: 'a'.repeat(64),
    ...overrides,
  };
  const yaml = Object.entries(fields)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n');
  return `---\n${yaml}\n---\n\nDear client, attached.\n`;
}

describe('markdown frontmatter', () => {
  it('round-trips data and body exactly, including leading blank lines', () => {
    for (const body of ['', 'one line', '\n\nstarts with blank lines\n', '---\nnot a fence in the body\n']) {
      // U+2028/U+2029 are no line ends for YAML, which writes them raw: a "---" after one is no fence.
      const doc = {
        data: {
          type: 'email',
          nested: { a: [1, 2] },
          unicode: 'café 日本',
          sep: 'a\u2028---\u2029---',
          // The yaml library alone writes this as a `|+` block that reads back as "\n".
          blank: ' \n',
        },
        body,
      };
      expect(parseMarkdown(stringifyMarkdown(doc))).toEqual(doc);
    }
  });

  it('quotes the offending line of broken YAML', () => {
    const error = (() => {
      try {
        decodeItem('---\ntype: email\nsubject: [unclosed\n---\nbody');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CodecError);
    expect((error as CodecError).kind).toBe('frontmatter');
    expect((error as Error).message).toContain('subject: [unclosed');
  });

  it('refuses files without frontmatter, unterminated frontmatter, binary and huge files', () => {
    expect(() => decodeItem('just text')).toThrow(/missing frontmatter.*just text/);
    expect(() => decodeItem('---\ntype: email\nno end')).toThrow(/unterminated/);
    expect(() => decodeItem('---\ntype: email\n---\n\u0000\u0001binary')).toThrow(/binary/);
    const huge = `---\ntype: email\n---\n${'x'.repeat(MAX_VAULT_FILE_BYTES + 1)}`;
    expect(() => decodeItem(huge)).toThrow(expect.objectContaining({ kind: 'too_large' }));
  });
});

describe('item files', () => {
  it('decode, keep unknown fields and encode back to an equal item', () => {
    const item = decodeItem(ITEM);
    expect(item.data.type).toBe('email');
    expect(item.data.priority).toBe('high');
    expect(item.data.x_custom_field).toBe('keep me');
    expect(item.body).toContain('January invoice');
    expect(decodeItem(encodeItem(item))).toEqual(item);
  });

  it('accept the hackathon field variants', () => {
    const item = decodeItem(
      '---\ntype: email\nsender: a@b.c\nreceived_at: 2026-01-01T00:00:00Z\npriority: medium\n---\n',
    );
    expect(item.data.from).toBe('a@b.c');
    expect(item.data.received).toBe('2026-01-01T00:00:00Z');
    expect(item.data.priority).toBe('normal');
  });

  it('name the field that is wrong', () => {
    expect(() => decodeItem('---\nfrom: a@b.c\n---\n')).toThrow(/type: .*missing/);
    expect(() => decodeItem('---\ntype: email\nreceived: yesterday\n---\n')).toThrow(
      /received: must be an ISO-8601.*"yesterday"/,
    );
    expect(() => decodeItem('---\n- a\n- b\n---\n')).toThrow(/mapping/);
  });
});

describe('approval requests', () => {
  it('round-trip and accept action_type / expires_at', () => {
    const approval = decodeApproval(approvalText());
    expect(decodeApproval(encodeApproval(approval))).toEqual(approval);
    const variant = decodeApproval(
      approvalText()
        .replace('action: "send_email"', 'action_type: "payment"')
        .replace('expires:', 'expires_at:'),
    );
    expect(variant.data.action).toBe('payment');
    expect(variant.data.expires).toBe('2026-01-09T11:00:00Z');
  });

  it('refuse unknown actions and bad hashes', () => {
    expect(() => decodeApproval(approvalText({ action: 'wire_everything' }))).toThrow(/action/);
    expect(() => decodeApproval(approvalText({ content_sha256: 'nothex' }))).toThrow(/content_sha256/);
  });

  it('hash parameters and body, not metadata', () => {
    const approval = decodeApproval(approvalText());
    const params = approvalParameters(approval.data);
    expect(Object.keys(params).sort()).toEqual(['subject', 'to']);
    const hash = approvalContentHash('send_email', params, approval.body);
    expect(approvalContentHash('send_email', { subject: params.subject, to: params.to }, approval.body)).toBe(
      hash,
    );
    expect(approvalContentHash('send_email', { ...params, to: 'evil@example.com' }, approval.body)).not.toBe(
      hash,
    );
    expect(approvalContentHash('send_email', params, `${approval.body} `)).not.toBe(hash);
  });
});

describe('update signals and audit records', () => {
  it('round-trip an update', () => {
    const update = decodeUpdate(
      '---\ntype: update\nkind: approval_requested\nagent: cloud\ncreated: 2026-01-07T11:00:00Z\ntask: EMAIL_1\n---\n\nDraft ready.\n',
    );
    expect(decodeUpdate(encodeUpdate(update))).toEqual(update);
  });

  it('parse an audit line and reject one without the required fields', () => {
    const record = {
      timestamp: '2026-01-07T11:00:00.000Z',
      action_type: 'email_send',
      actor: 'local',
      target: 'client@example.com',
      parameters: { subject: 'Re: x' },
      approval_status: 'approved',
      approved_by: 'owner',
      result: 'success',
      task: 'EMAIL_1',
      idempotency_key: 'k',
    };
    expect(decodeAuditLine(JSON.stringify(record))).toEqual(record);
    expect(() => decodeAuditLine('{"timestamp":"2026-01-07T11:00:00Z"}')).toThrow(/action_type/);
    expect(() => decodeAuditLine('not json')).toThrow(/not JSON/);
  });
});

describe('the hardened frontmatter parser', () => {
  const doc = (yaml: string) => `---\n${yaml}\n---\n\nBody\n`;
  const refuses = (yaml: string, pattern: RegExp) => {
    let caught: unknown;
    try {
      parseMarkdown(doc(yaml));
    } catch (error) {
      caught = error;
    }
    expect(caught, yaml.slice(0, 40)).toBeInstanceOf(FrontmatterError);
    expect(caught).toBeInstanceOf(FteError);
    expect((caught as FrontmatterError).exitCode).toBe(65);
    expect((caught as Error).message).toMatch(pattern);
    // And through the codec: a CodecError of kind frontmatter, never anything else.
    expect(() => decodeItem(doc(yaml))).toThrow(expect.objectContaining({ kind: 'frontmatter' }));
  };

  it('refuses an alias bomb as a FrontmatterError, not a ReferenceError', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f'].entries()) {
      const prev = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    refuses(levels.join('\n'), /unreadable YAML.*alias/i);
    // A few aliases are fine.
    expect(parseMarkdown(doc('a: &x hi\nb: *x')).data).toEqual({ a: 'hi', b: 'hi' });
  });

  // Each input below is also invalid YAML (an unterminated quote or bracket, duplicate keys): had the
  // parser seen it first, the error would say so. The size and depth refusals prove they come first.
  it('refuses oversized frontmatter before parsing it', () => {
    refuses(`type: email\npad: "${'x'.repeat(MAX_FRONTMATTER_BYTES)}`, /frontmatter too large/);
    refuses(`type: email\n${'k: v\n'.repeat(MAX_FRONTMATTER_BYTES / 4)}`, /frontmatter too large/);
  });

  it('refuses deep nesting before parsing it, without a stack overflow', () => {
    refuses(`x: ${'['.repeat(100_000)}`, /nested too deeply/);
    refuses(`x: ${'{a: '.repeat(1_000)}`, /nested too deeply/);
    refuses(`x:\n${'- '.repeat(10_000)}a`, /nested too deeply/);
    expect(parseMarkdown(doc('x: [[1, 2], {a: [b]}]')).data).toEqual({ x: [[1, 2], { a: ['b'] }] });
  });

  it('refuses YAML tags, complex keys, duplicate keys and NUL bytes', () => {
    refuses('run: !!js/function "function () { return 1 }"', /YAML tags are not allowed/);
    refuses('data: !!binary aGVsbG8=', /YAML tags are not allowed/);
    refuses('s: !!set {a}', /YAML tags are not allowed/);
    refuses('x: !custom value', /YAML tags are not allowed/);
    refuses('x: !!str text', /YAML tags are not allowed/);
    refuses('? [a, b]\n: c', /keys must be plain names/);
    refuses('a: 1\na: 2', /invalid YAML.*duplicate_key/);
    expect(() => parseMarkdown('---\na: b\u0000\n---\n')).toThrow(FrontmatterError);
  });

  it('keeps a __proto__ key as data, never as a prototype', () => {
    const data = parseMarkdown(doc('__proto__: {polluted: yes}\ntype: email')).data;
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('message ids and addresses', () => {
  it('accepts RFC 5322 msg-ids and nothing else', () => {
    for (const ok of [
      '<abc@mail.example.com>',
      '<CAKx=a+b_c.d@mail.gmail.com>',
      '<z@x>',
      '<1234.5678@[192.168.0.1]>',
    ]) {
      expect(isMessageId(ok), ok).toBe(true);
    }
    for (const bad of [
      '18c2f3a9d0e1b2c3',
      'abc@mail.example.com',
      '<abc>',
      '<a b@example.com>',
      '<a@b> <c@d>',
      '<a@b\r\nBcc: x@y>',
      '<a@b@c>',
      `<${'a'.repeat(300)}@example.com>`,
      '',
    ]) {
      expect(isMessageId(bad), bad).toBe(false);
    }
    expect(parseMessageIdList('<a@b> 18c2f3a <c@d>, <a@b>')).toEqual({
      ids: ['<a@b>', '<c@d>'],
      invalid: ['18c2f3a'],
    });
  });

  it('builds reply threading from valid ids only and says what it dropped', () => {
    expect(replyThread('<m2@x.com>', '<m1@x.com>')).toEqual({
      inReplyTo: '<m2@x.com>',
      references: ['<m1@x.com>', '<m2@x.com>'],
      dropped: [],
    });
    expect(replyThread('18c2f3a9d0e1', '<m1@x.com> 17aa')).toEqual({
      inReplyTo: undefined,
      references: ['<m1@x.com>'],
      dropped: ['18c2f3a9d0e1', '17aa'],
    });
    expect(replySubject('RE: x')).toBe('RE: x');
    expect(replySubject(' Invoice ')).toBe('Re: Invoice');
    expect(replySubject('')).toBe('Re: (no subject)');
  });

  it('parses addresses with one parser', () => {
    expect(parseAddress('Jane Client <Jane@Example.com>')).toBe('Jane@Example.com');
    expect(parseAddress('"Doe, Jane" <jane@customer.test>')).toBe('jane@customer.test');
    expect(parseAddress(' owner@localhost ')).toBe('owner@localhost');
    for (const bad of [
      'Jane (no address)',
      'a@b@c',
      'a b@c.com',
      '<a@b.com>, <c@d.com>',
      'x@y.com\r\nBcc: z@w.com',
      '',
    ]) {
      expect(parseAddress(bad), bad).toBeUndefined();
    }
    expect(parseAddressList('a@x.com, Jane <b@y.com>')).toEqual(['a@x.com', 'b@y.com']);
    expect(parseAddressList('a@x.com, nobody')).toBeUndefined();
  });

  it('an approval request with a value that does not fit its field is refused', () => {
    expect(() => decodeApproval(approvalText({ in_reply_to: '18c2f3a9d0e1' }))).toThrow(/in_reply_to/);
    expect(() => decodeApproval(approvalText({ references: '<a@b> 18c2f3a' }))).toThrow(/references/);
    expect(() => decodeApproval(approvalText({ to: 'Jane (no address)' }))).toThrow(/to:/);
    expect(
      decodeApproval(approvalText({ in_reply_to: '<a@b.com>', references: '<z@x> <a@b.com>' })).data,
    ).toMatchObject({
      in_reply_to: '<a@b.com>',
    });
  });
});
