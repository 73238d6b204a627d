import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ImapConfigError } from '../../core/imap-config.js';
import type { OutgoingEmail } from '../../executor/email.js';
import { ImapSentCopy, loadSentCopyConfig } from '../../executor/sent-copy.js';
import { type DovecotServer, imapRead, startDovecot } from '../harness/mail.js';
import { imapConfigFor } from './helpers.js';

let dovecot: DovecotServer;
beforeAll(async () => {
  dovecot = await startDovecot({
    users: [
      { name: 'owner', password: 'pw' },
      { name: 'plain', password: 'pw' },
    ],
  });
});
afterAll(async () => {
  await dovecot?.destroy();
});

const reply: OutgoingEmail = {
  from: 'Owner <owner@example.test>',
  to: 'client@customer.test',
  subject: 'Re: Order 1',
  text: 'Four chairs it is.\n',
  messageId: '<fte-0123456789abcdef@example.test>',
  inReplyTo: '<order-1@customer.test>',
  references: ['<order-1@customer.test>'],
};

describe('sent copy', () => {
  test('is off unless FTE_SENT_COPY=1, and half a configuration is an error', () => {
    expect(
      loadSentCopyConfig({ IMAP_HOST: 'imap.example.test', IMAP_USER: 'u', IMAP_PASSWORD: 'p' }),
    ).toBeUndefined();
    expect(() => loadSentCopyConfig({ FTE_SENT_COPY: '1' })).toThrow(ImapConfigError);
    expect(
      loadSentCopyConfig({
        FTE_SENT_COPY: '1',
        IMAP_HOST: 'imap.gmail.com',
        IMAP_USER: 'u',
        IMAP_PASSWORD: 'abcd efgh ijkl mnop',
      }),
    ).toMatchObject({ host: 'imap.gmail.com', port: 993, secure: true, password: 'abcdefghijklmnop' });
  });

  test('appends the sent reply to the \\Sent mailbox once, with its threading headers', async () => {
    const account = dovecot.account('owner');
    const copy = new ImapSentCopy(imapConfigFor(account));
    const sentAt = new Date('2026-01-07T10:30:00Z');
    expect(await copy.file(reply, sentAt)).toMatchObject({ kind: 'appended', mailbox: 'Sent' });
    expect(await copy.file(reply, sentAt)).toEqual({ kind: 'present', mailbox: 'Sent' });

    const stored = await imapRead(account, 'Sent');
    expect(stored).toHaveLength(1);
    expect(stored[0]?.flags).toContain('\\Seen');
    const parsed = await simpleParser(stored[0]!.source);
    expect(parsed.messageId).toBe(reply.messageId);
    expect(parsed.inReplyTo).toBe(reply.inReplyTo);
    expect(parsed.references).toBe('<order-1@customer.test>');
    expect(parsed.subject).toBe('Re: Order 1');
    expect(parsed.text?.trim()).toBe('Four chairs it is.');
    expect(await imapRead(account, 'INBOX')).toHaveLength(0);
  });

  test('a wrong password is reported, never thrown', async () => {
    const account = { ...dovecot.account('plain'), password: 'wrong' };
    const result = await new ImapSentCopy(imapConfigFor(account)).file(reply, new Date());
    expect(result.kind).toBe('failed');
  });
});
