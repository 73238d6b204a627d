import { describe, expect, it } from 'vitest';
import { SendEmailExecutor } from '../../executor/actions/send-email.js';
import { InvalidActionError } from '../../executor/actions/types.js';
import { SendFailure, stableMessageId } from '../../executor/email.js';
import { OWNER_FROM, recordingSentCopy, smtpTransport } from './action-helpers.js';
import { accountingApproval } from './odoo-world.js';

/**
 * send_email's executor in-process (executor/actions/send-email.ts): what an approval shows the owner, what
 * it refuses, and the send over a real SMTP server on loopback.
 */

const BODY = 'Dear client,\n\nThe January invoice is attached.\n';

const approval = (parameters: Record<string, unknown>, body = BODY, task = 'EMAIL_A') =>
  accountingApproval('send_email', task, { to: 'client@example.com', ...parameters }, body);

/**
 * An approval whose data the codec would refuse (a header with a line break, a reply id that is not a
 * Message-ID): what the executor refuses again if such an approval ever reaches it from elsewhere.
 */
const raw = (parameters: Record<string, unknown>) => {
  const a = approval({});
  return { ...a, data: { ...a.data, ...parameters } } as typeof a;
};

describe('send_email: what the owner is shown', () => {
  const executor = new SendEmailExecutor({ from: OWNER_FROM });

  it('names the action, its audit type and the parameters it understands', () => {
    expect(executor.action).toBe('send_email');
    expect(executor.auditType).toBe('email_send');
    expect([...executor.parameters].sort()).toEqual([
      'bcc',
      'cc',
      'in_reply_to',
      'references',
      'subject',
      'to',
    ]);
  });

  it('every recipient and header, in order, with the message id and the body length', () => {
    const prepared = executor.prepare(
      approval({
        to: 'client@example.com',
        cc: 'Boss <boss@example.com>',
        bcc: 'archive@example.com',
        subject: 'Re: Invoice for January',
        in_reply_to: '<jan@mail.example.com>',
        references: '<first@mail.example.com> <jan@mail.example.com>',
      }),
    );
    const messageId = stableMessageId('EMAIL_A', OWNER_FROM);
    expect(prepared.effect).toEqual([
      ['send email from', OWNER_FROM],
      ['to', 'client@example.com'],
      ['cc', 'Boss <boss@example.com>'],
      ['bcc (hidden from the others)', 'archive@example.com'],
      ['subject', 'Re: Invoice for January'],
      ['in reply to', '<jan@mail.example.com>'],
      ['references', '<first@mail.example.com> <jan@mail.example.com>'],
      ['message id', messageId],
      ['body', `${BODY.length} characters (the draft, exactly as approved)`],
    ]);
    expect(prepared.target).toBe('client@example.com, Boss <boss@example.com>, archive@example.com');
    expect(prepared.audit).toEqual({
      subject: 'Re: Invoice for January',
      message_id: messageId,
      in_reply_to: '<jan@mail.example.com>',
      cc: 'Boss <boss@example.com>',
      bcc: 'archive@example.com',
      body_chars: BODY.length,
    });
    expect(prepared.effectId).toBe(messageId);
    expect(prepared.notes).toEqual([]);
    expect(prepared.payload).toMatchObject({
      from: OWNER_FROM,
      to: 'client@example.com',
      text: BODY,
      messageId,
    });
  });

  it('a plain reply shows no cc, bcc or thread lines, and audits none', () => {
    const prepared = executor.prepare(approval({ subject: 'Hello' }));
    expect(prepared.effect).toEqual([
      ['send email from', OWNER_FROM],
      ['to', 'client@example.com'],
      ['subject', 'Hello'],
      ['message id', stableMessageId('EMAIL_A', OWNER_FROM)],
      ['body', `${BODY.length} characters (the draft, exactly as approved)`],
    ]);
    expect(prepared.target).toBe('client@example.com');
    expect(prepared.audit).toEqual({
      subject: 'Hello',
      message_id: stableMessageId('EMAIL_A', OWNER_FROM),
      in_reply_to: null,
      body_chars: BODY.length,
    });
  });

  it('a reply id that is not a Message-ID is dropped, said in the notes and the audit', () => {
    const prepared = executor.prepare(raw({ subject: 'Hello', in_reply_to: 'not-a-message-id' }));
    const notes = ['in_reply_to "not-a-message-id" is not an RFC 5322 Message-ID; sent without In-Reply-To'];
    expect(prepared.notes).toEqual(notes);
    expect(prepared.audit.notes).toEqual(notes);
    expect(prepared.effect.map(([label]) => label)).not.toContain('in reply to');
  });

  it.each([
    [
      { to: 'client@example.com\r\nBcc: thief@evil.example' },
      'to contains a line break or control character',
    ],
    [{ cc: 'a@example.com\nX-Evil: 1' }, 'cc contains a line break or control character'],
    [{ subject: 'Re: x\r\nBcc: thief@evil.example' }, 'subject contains a line break or control character'],
    [{ to: 'not an address' }, 'not an email address in to: "not an address"'],
    [{ to: '' }, 'the approval has no recipient (to)'],
    [
      { attachment: '/etc/passwd', x_mailer: 'evil' },
      'parameters send_email does not show or understand: attachment, x_mailer (refused rather than sent)',
    ],
  ])('refuses %o', (parameters, reason) => {
    expect(() => executor.prepare(raw(parameters))).toThrow(InvalidActionError);
    expect(() => executor.prepare(raw(parameters))).toThrow(reason);
  });

  it('is unavailable without a transport, with the reason', () => {
    expect(executor.unavailable()).toBe('no SMTP server configured (set SMTP_HOST and SMTP_FROM)');
  });
});

describe('send_email: the send', () => {
  it('sends the approved message over SMTP; the server answer is the detail, its recipients the audit', async () => {
    const { smtp, transport } = await smtpTransport();
    const executor = new SendEmailExecutor({ from: OWNER_FROM, transport });
    expect(executor.unavailable()).toBeUndefined();
    const prepared = executor.prepare(
      approval({ subject: 'Re: January', cc: 'boss@example.com', bcc: 'archive@example.com' }),
    );
    const performed = await executor.perform(prepared);
    expect(performed.detail).toMatch(/^250 /);
    expect(performed.audit).toEqual({
      accepted: ['client@example.com', 'boss@example.com', 'archive@example.com'],
      rejected: [],
    });
    expect(performed.effectId).toBeUndefined();
    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail!.parsed.messageId).toBe(stableMessageId('EMAIL_A', OWNER_FROM));
    expect(mail!.parsed.text).toBe(BODY);
    expect(mail!.envelopeTo).toEqual(['client@example.com', 'boss@example.com', 'archive@example.com']);
    expect(mail!.raw).not.toMatch(/^bcc:/im);
  });

  it('without a transport it throws and is uncertain (it never runs: unavailable() says why)', async () => {
    const executor = new SendEmailExecutor({ from: OWNER_FROM });
    const error = await executor.perform(executor.prepare(approval({}))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('no SMTP transport');
    expect(executor.classify(error)).toBe('uncertain');
  });

  it.each([
    [{ rejectWith: 550 }, 'failed'],
    [{ rejectWith: 451 }, 'not_sent'],
    [{ dropAfterData: true }, 'uncertain'],
  ] as const)('an SMTP server that answers %o: %s', async (options, meaning) => {
    const { transport } = await smtpTransport(options);
    const executor = new SendEmailExecutor({ from: OWNER_FROM, transport });
    const error = await executor.perform(executor.prepare(approval({}))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendFailure);
    expect(executor.classify(error)).toBe(meaning);
  });

  it('classifies a bare SMTP reply code too', () => {
    const executor = new SendEmailExecutor({ from: OWNER_FROM });
    expect(executor.classify(Object.assign(new Error('x'), { responseCode: 554 }))).toBe('failed');
    expect(executor.classify(Object.assign(new Error('x'), { responseCode: 421 }))).toBe('not_sent');
    expect(executor.classify(new Error('socket closed'))).toBe('uncertain');
  });

  it('afterDone files the sent message as a Sent copy, when one is configured', async () => {
    const copies = recordingSentCopy();
    const executor = new SendEmailExecutor({ from: OWNER_FROM, sentCopy: copies });
    const prepared = executor.prepare(approval({ subject: 'Re: January' }));
    const at = new Date('2026-03-15T10:00:00Z');
    await executor.afterDone(prepared, at);
    expect(copies.filed).toEqual([{ mail: prepared.payload, at }]);
    await expect(
      new SendEmailExecutor({ from: OWNER_FROM }).afterDone(prepared, at),
    ).resolves.toBeUndefined();
  });
});
