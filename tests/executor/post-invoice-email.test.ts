import { describe, expect, it } from 'vitest';
import { approvalContentHash, approvalParameters, decodeApproval } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { PostInvoiceExecutor } from '../../executor/actions/post-invoice.js';
import { InvalidActionError } from '../../executor/actions/types.js';

/**
 * What a post_invoice approval with a reply shows and refuses (pure: prepare builds the effect from the
 * approval alone). The end-to-end path is in tests/e2e/invoice-by-email.test.ts.
 */

const INVOICE = {
  odoo_id: 12,
  move_type: 'out_invoice',
  partner: 'Jane Client',
  partner_id: 7,
  invoice_lines: [{ name: 'Retainer', quantity: 1, price_unit: 1200 }],
  amount_total: 1200,
  currency: 'EUR',
};

function approval(
  parameters: Record<string, unknown>,
  body = 'Hello Jane,\n\nPlease find attached our invoice.\n',
) {
  const data: Record<string, unknown> = {
    type: 'approval_request',
    task: 'EMAIL_OCT_INVOICE',
    action: 'post_invoice',
    domain: 'accounting',
    ...parameters,
    reason: 'invoice asked for by email',
    created: '2026-11-02T09:00:00.000Z',
    expires: '2026-11-04T09:00:00.000Z',
    status: 'approved',
    drafter: 'odoo',
  };
  data.content_sha256 = approvalContentHash('post_invoice', approvalParameters(data), body);
  return decodeApproval(stringifyMarkdown({ data, body }));
}

const executor = new PostInvoiceExecutor({}, { from: 'Owner <owner@example.com>' });

describe('post_invoice with the reply that carries the invoice', () => {
  it('shows the recipient, the subject, the thread, the attachment and the body length among its effects', () => {
    const prepared = executor.prepare(
      approval({
        ...INVOICE,
        email_to: 'jane@client.example',
        email_subject: 'Re: October',
        email_in_reply_to: '<october@client.example>',
      }),
    );
    const effect = Object.fromEntries(prepared.effect);
    expect(effect).toMatchObject({
      'then send email from': 'Owner <owner@example.com>',
      to: 'jane@client.example',
      subject: 'Re: October',
      'in reply to': '<october@client.example>',
      attachment: "the posted invoice's PDF as Odoo renders it (<number>.pdf)",
      body: '47 characters (the draft, exactly as approved)',
    });
    expect(prepared.target).toBe('Jane Client (res.partner/7); email to jane@client.example');
    expect(prepared.payload.email?.text).toBe('Hello Jane,\n\nPlease find attached our invoice.\n');
  });

  it('without email_to it posts only, and shows no email', () => {
    const prepared = executor.prepare(approval(INVOICE, '# Post invoice\n'));
    expect(prepared.payload.email).toBeUndefined();
    expect(prepared.effect.map(([label]) => label)).not.toContain('to');
  });

  it.each([
    [{ email_to: 'jane@client.example\nBcc: thief@evil.example' }, /to contains a line break/],
    [{ email_to: 'not an address' }, /not an email address in to/],
    [
      { email_to: 'jane@client.example', email_subject: 'Re: x\r\nBcc: thief@evil.example' },
      /subject contains a line break/,
    ],
    [{ email_subject: 'Re: October' }, /need email_to/],
    [
      { email_to: 'jane@client.example', email_cc: 'thief@evil.example' },
      /does not show or understand: email_cc/,
    ],
  ])('refuses %o', (extra, reason) => {
    expect(() => executor.prepare(approval({ ...INVOICE, ...extra }))).toThrow(InvalidActionError);
    expect(() => executor.prepare(approval({ ...INVOICE, ...extra }))).toThrow(reason);
  });

  it('refuses an empty email', () => {
    expect(() =>
      executor.prepare(approval({ ...INVOICE, email_to: 'jane@client.example' }, '\n \n')),
    ).toThrow(/the email to send with the invoice is empty/);
  });
});
