import { describe, expect, it } from 'vitest';
import { decodeApproval, decodeItem } from '../../core/codec.js';
import { TemplateDrafter } from '../../operator/drafters/template.js';
import { EmailHandler } from '../../operator/handlers/email.js';
import { approvalRequest } from '../../operator/vault-writes.js';
import { itemText } from '../helpers/vaults.js';

const triage = { priority: 'normal' as const, needsReply: true, reason: 'a question' };

async function draftFor(fields: Record<string, string>) {
  const item = decodeItem(
    itemText({ type: 'email', from: 'Jane <jane@example.com>', subject: 'Quote', ...fields }),
  );
  const handler = new EmailHandler(new TemplateDrafter());
  expect(handler.validate(item)).toBeUndefined();
  return handler.draft({ id: 'EMAIL_T', item, handbook: '' }, triage);
}

const REPLY = { to: 'jane@example.com', subject: 'Re: Quote' };

describe('reply threading from values other tools wrote', () => {
  it('valid ids thread the reply', async () => {
    const draft = await draftFor({
      message_id: '<m2@mail.example.com>',
      references: '<m1@mail.example.com>',
    });
    expect(draft.parameters).toEqual({
      ...REPLY,
      in_reply_to: '<m2@mail.example.com>',
      references: '<m1@mail.example.com> <m2@mail.example.com>',
    });
    expect(draft.reason).toBe('a question');
  });

  it('a Gmail API id is dropped from the parameters with a note, and the draft still goes out for approval', async () => {
    const draft = await draftFor({
      message_id: '18c2f3a9d0e1b2c3',
      references: '<m1@mail.example.com> 17aa0b',
    });
    expect(draft.parameters).toEqual({ ...REPLY, references: '<m1@mail.example.com>' });
    expect(draft.reason).toMatch(/not threaded on "18c2f3a9d0e1b2c3", "17aa0b": not an RFC 5322 Message-ID/);
    // The request it becomes is valid (the schema refuses bad ids, so they must never get this far).
    const request = approvalRequest({
      id: 'EMAIL_T',
      agent: 'cloud',
      domain: 'email',
      draft,
      created: new Date('2026-01-07T10:00:00Z'),
    });
    expect(decodeApproval(request.text).data.in_reply_to).toBeUndefined();
  });

  it('a header smuggled into message_id never reaches a header', async () => {
    const draft = await draftFor({ message_id: '<a@b.com>\r\nBcc: victim@example.com' });
    expect(draft.parameters.in_reply_to).toBeUndefined();
    expect(draft.parameters.references).toBeUndefined();
  });
});
