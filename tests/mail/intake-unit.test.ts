import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { AuditLog } from '../../core/audit.js';
import { decodeItem } from '../../core/codec.js';
import { isSafeTaskId } from '../../core/ids.js';
import { ImapConfigError, loadImapConfig } from '../../core/imap-config.js';
import { initVault } from '../../core/init.js';
import { LocalVaultPort } from '../../core/vault/local-port.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { EmailIntake } from '../../operator/email/intake.js';
import {
  emailTaskId,
  fenced,
  type MailSource,
  renderEmailItem,
  taskIdForMessageId,
} from '../../operator/email/item.js';
import { messageIds, parseEmail, unknownCharsets } from '../../operator/email/parse.js';
import { attachmentsOf } from '../../operator/watchers/imap.js';
import { rawMessage } from '../harness/mail.js';
import { tempDir } from '../helpers/vaults.js';
import { commitSubjects, read } from './helpers.js';

const source: MailSource = {
  user: 'owner',
  host: 'imap.example.test',
  mailbox: 'INBOX',
  uidValidity: '42',
  uid: 7,
};

describe('IMAP settings', () => {
  test('defaults, TLS by default, and the password from a mounted secret file', () => {
    const config = loadImapConfig(
      { IMAP_HOST: 'imap.example.test', IMAP_USER: 'owner', IMAP_PASSWORD_FILE: '/run/secrets/imap' },
      (path) => (path === '/run/secrets/imap' ? 's3cret\n' : ''),
    );
    expect(config).toEqual({
      host: 'imap.example.test',
      port: 993,
      secure: true,
      user: 'owner',
      password: 's3cret',
      mailbox: 'INBOX',
      sinceDays: 7,
      pollMs: 60_000,
      idle: true,
      maxMessageBytes: 50 * 1024 * 1024,
      sentMailbox: undefined,
    });
    expect(
      loadImapConfig({ IMAP_HOST: 'h', IMAP_USER: 'u', IMAP_PASSWORD: 'p', IMAP_SECURE: 'false' }),
    ).toMatchObject({
      port: 143,
      secure: false,
    });
  });

  test('a wrong or missing value names the variable; the password never shows', () => {
    expect(() => loadImapConfig({ IMAP_HOST: 'h', IMAP_USER: 'u' })).toThrow(
      /IMAP_PASSWORD or IMAP_PASSWORD_FILE/,
    );
    expect(() =>
      loadImapConfig({ IMAP_HOST: 'h', IMAP_USER: 'u', IMAP_PASSWORD: 'hunter2', IMAP_PORT: 'x' }),
    ).toThrow(/IMAP_PORT/);
    expect(() =>
      loadImapConfig({ IMAP_HOST: 'h', IMAP_USER: 'u', IMAP_PASSWORD: 'hunter2', IMAP_SINCE_DAYS: '-1' }),
    ).toThrow(ImapConfigError);
    const badIdle = () =>
      loadImapConfig({ IMAP_HOST: 'h', IMAP_USER: 'u', IMAP_PASSWORD: 'hunter2', IMAP_IDLE: 'maybe' });
    expect(badIdle).toThrow(/IMAP_IDLE/);
    expect(badIdle).not.toThrow(/hunter2/);
    expect(() =>
      loadImapConfig({ IMAP_HOST: 'h', IMAP_USER: 'u', IMAP_PASSWORD_FILE: '/nope' }, () => {
        throw Object.assign(new Error('x'), { code: 'ENOENT' });
      }),
    ).toThrow('IMAP_PASSWORD_FILE /nope cannot be read (ENOENT)');
  });
});

describe('ids and rendering', () => {
  test('ids are stable, safe, and never come from the subject', () => {
    expect(taskIdForMessageId('<a@b>')).toBe(taskIdForMessageId(' <a@b> '));
    expect(taskIdForMessageId('<a@b>')).not.toBe(taskIdForMessageId('<A@b>'));
    expect(taskIdForMessageId('<../../x@y>')).toMatch(/^EMAIL_[0-9a-f]{20}$/);
    const noId = emailTaskId(undefined, source);
    expect(noId).toBe(emailTaskId(undefined, { ...source }));
    expect(noId).not.toBe(emailTaskId(undefined, { ...source, uid: 8 }));
    expect(noId).not.toBe(emailTaskId(undefined, { ...source, uidValidity: '43' }));
    expect(isSafeTaskId(noId)).toBe(true);
  });

  test('a fence is always longer than any fence in the text', () => {
    expect(fenced('plain')).toBe('~~~text\nplain\n~~~');
    expect(fenced('a\n~~~~~\nb')).toBe('~~~~~~text\na\n~~~~~\nb\n~~~~~~');
  });

  test('threading headers, recipients and bulk headers land in the frontmatter', async () => {
    const email = await parseEmail(
      rawMessage({
        from: '"Doe, Jane" <jane@customer.test>',
        to: 'Owner <owner@example.test>, second@example.test',
        cc: 'boss@customer.test',
        messageId: '<m3@customer.test>',
        inReplyTo: '<m2@customer.test>',
        references: '<m1@customer.test> <m2@customer.test>',
        subject: 'Re: Re: chairs',
        headers: {
          'Reply-To': 'orders@customer.test',
          'List-Id': 'Customers <customers.customer.test>',
          Precedence: 'bulk',
          'X-Priority': '1 (Highest)',
        },
        body: 'Line one.\r\n\r\n\r\n\r\nLine two.\u202E\n',
      }),
    );
    const item = renderEmailItem(email, source, { now: new Date('2026-01-07T10:00:00Z') });
    expect(item.data).toMatchObject({
      type: 'email',
      from: '"Doe, Jane" <jane@customer.test>',
      reply_to: 'orders@customer.test',
      to: 'Owner <owner@example.test>, second@example.test',
      cc: 'boss@customer.test',
      message_id: '<m3@customer.test>',
      in_reply_to: '<m2@customer.test>',
      references: '<m1@customer.test> <m2@customer.test>',
      priority: 'high',
      list_id: 'Customers <customers.customer.test>',
      precedence: 'bulk',
      source: 'imap://owner@imap.example.test/INBOX;UIDVALIDITY=42/;UID=7',
    });
    expect(item.body).toContain('Line one.\n\nLine two.\n~~~');
    expect(decodeItem(item.text).data).toMatchObject({ message_id: '<m3@customer.test>' });
  });

  test('long text is cut with a note; message ids are normalised', async () => {
    const email = await parseEmail(rawMessage({ body: 'x'.repeat(150_000) }));
    expect(email.text).toHaveLength(100_000);
    expect(email.truncatedChars).toBe(50_000);
    expect(renderEmailItem(email, source, { now: new Date() }).body).toContain(
      '50000 more characters not copied',
    );
    expect(messageIds('<a@b> junk <c@d>')).toEqual(['<a@b>', '<c@d>']);
    expect(messageIds('bare@id')).toEqual(['<bare@id>']);
    expect(unknownCharsets('charset="utf-8" charset=iso-8859-1 charset=x-nonsense =?x-other?Q?a?=')).toEqual([
      'x-nonsense',
      'x-other',
    ]);
  });

  test('attachments of a message too large to download come from BODYSTRUCTURE', () => {
    expect(
      attachmentsOf({
        type: 'multipart/mixed',
        childNodes: [
          { part: '1', type: 'text/plain', size: 120 },
          {
            part: '2',
            type: 'application/pdf',
            encoding: 'base64',
            size: 4000,
            dispositionParameters: { filename: 'quote.pdf' },
          },
          { part: '3', type: 'image/png', size: 10, parameters: { name: 'logo.png' }, disposition: 'inline' },
        ],
      }),
    ).toEqual([
      { name: 'quote.pdf', size: 3000, type: 'application/pdf' },
      { name: 'logo.png', size: 10, type: 'image/png' },
    ]);
  });
});

describe('EmailIntake on a real git vault', () => {
  async function intake() {
    const dir = join(await tempDir('fte-intake-'), 'cloud');
    await initVault(dir, { agent: 'cloud' });
    return {
      dir,
      intake: new EmailIntake({ vault: new LocalVaultPort(new VaultRepo({ root: dir, agent: 'cloud' })) }),
    };
  }

  test('an unreadable message becomes an error file with its bytes kept and an audit record; once', async () => {
    const { dir, intake: sink } = await intake();
    const raw = Buffer.from('not really a message\u0000\u0001');
    const input = {
      kind: 'unreadable' as const,
      reason: 'cannot parse the message: boom',
      source,
      facts: { messageId: '<broken@customer.test>', subject: 'broken' },
      raw,
    };
    const outcome = await sink.accept(input);
    const id = taskIdForMessageId('<broken@customer.test>');
    expect(outcome).toEqual({
      kind: 'error',
      id,
      path: `Needs_Action/_errors/${id}.md`,
      reason: 'cannot parse the message: boom',
    });
    const file = decodeItem(await read(dir, outcome.kind === 'error' ? outcome.path : ''));
    expect(file.data).toMatchObject({
      status: 'error',
      error: 'cannot parse the message: boom',
      subject: 'broken',
    });
    expect(file.body).toContain(`${id}.orig`);
    expect(existsSync(join(dir, `Needs_Action/_errors/${id}.orig`))).toBe(true);
    expect((await commitSubjects(dir))[0]).toBe(`cloud: error ${id}`);
    const audit = await new AuditLog(dir).read(new Date());
    expect(audit.map((r) => [r.action_type, r.task, r.result])).toEqual([
      ['email_intake', id, 'error: cannot parse the message: boom'],
    ]);
    expect(await sink.accept(input)).toMatchObject({ kind: 'duplicate', id });
  });

  test('a secret in a follow-up is not copied; the follow-up still shows', async () => {
    const { dir, intake: sink } = await intake();
    const original = await parseEmail(rawMessage({ messageId: '<o@customer.test>', subject: 'keys' }));
    await sink.accept({ kind: 'email', email: original, source });
    const followup = await parseEmail(
      rawMessage({
        messageId: '<f@customer.test>',
        inReplyTo: '<o@customer.test>',
        subject: 'Re: keys',
        body: 'AWS key: AKIAABCDEFGHIJKLMNOP\n',
      }),
    );
    expect(
      await sink.accept({ kind: 'email', email: followup, source: { ...source, uid: 8 } }),
    ).toMatchObject({
      kind: 'followup',
    });
    const id = taskIdForMessageId('<o@customer.test>');
    const text = await read(dir, `Needs_Action/email/${id}.md`);
    expect(text).toMatch(/not copied: the message contains an AWS access key id/i);
    expect(text).not.toContain('AKIAABCDEFGHIJKLMNOP');
  });
});
