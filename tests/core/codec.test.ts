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
  encodeUpdate,
  MAX_VAULT_FILE_BYTES,
} from '../../core/codec.js';
import { parseMarkdown, stringifyMarkdown } from '../../core/frontmatter.js';

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
      const doc = { data: { type: 'email', nested: { a: [1, 2] }, unicode: 'café 日本' }, body };
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
