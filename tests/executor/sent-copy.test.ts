import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DovecotServer, imapRead, startDovecot } from '../harness/mail.js';
import { cloudDrafts, runCli, smtpEnv, smtpServer, testKey, world } from './helpers.js';

let dovecot: DovecotServer;
beforeAll(async () => {
  dovecot = await startDovecot({ users: [{ name: 'owner', password: 'pw' }] });
});
afterAll(async () => {
  await dovecot?.destroy();
});

describe('fte executor with FTE_SENT_COPY=1 (real SMTP server and real Dovecot)', () => {
  it('files the sent reply once in the owner’s Sent mailbox; a half configuration is refused at start', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const smtp = await smtpServer();
    const account = dovecot.account('owner');
    const imap = {
      FTE_SENT_COPY: '1',
      IMAP_HOST: account.host,
      IMAP_PORT: String(account.port),
      IMAP_SECURE: 'false',
      IMAP_USER: account.user,
      IMAP_PASSWORD: account.password,
    };
    const half = await runCli(
      ['executor', '--vault', w.local.dir, '--once'],
      smtpEnv(smtp.port, w.keyFile, { FTE_SENT_COPY: '1' }),
    );
    expect(half.code).toBe(78);
    expect(half.stderr).toMatch(/^fte: FTE_SENT_COPY=1 needs IMAP_HOST/);

    await cloudDrafts(w.cloud, 'EMAIL_COPY');
    const env = smtpEnv(smtp.port, w.keyFile, imap);
    expect((await runCli(['executor', '--vault', w.local.dir, '--once'], env)).code).toBe(0);
    expect((await runCli(['approve', 'EMAIL_COPY', '--vault', w.local.dir], env)).code).toBe(0);
    const run = await runCli(['executor', '--vault', w.local.dir, '--once'], env);
    expect(run.code).toBe(0);
    expect(smtp.received).toHaveLength(1);
    const sent = await imapRead(account, 'Sent');
    expect(sent).toHaveLength(1);
    const copy = await simpleParser(sent[0]!.source);
    expect(copy.messageId).toBe(smtp.received[0]!.parsed.messageId);
    expect(copy.inReplyTo).toBe(smtp.received[0]!.parsed.inReplyTo);
    await runCli(['executor', '--vault', w.local.dir, '--once'], env);
    expect(await imapRead(account, 'Sent')).toHaveLength(1);
  });
});
