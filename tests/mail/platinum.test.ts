import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeItem } from '../../core/codec.js';
import { stableMessageId } from '../../executor/email.js';
import { taskIdForMessageId } from '../../operator/email/item.js';
import {
  type DovecotServer,
  imapAppend,
  type PostfixServer,
  rawMessage,
  startDovecot,
  startPostfix,
  waitForMessages,
} from '../harness/mail.js';
import { tempDir } from '../helpers/vaults.js';
import { read, waitFor } from './helpers.js';

/**
 * The Platinum path with real mail: an outside sender's message goes through Postfix and LMTP into the owner's
 * Dovecot INBOX; `fte operator` (the daemon, IMAP watcher on) takes it in and drafts; the owner runs
 * `fte approve`; `fte executor` sends the reply through Postfix; the reply is read back over IMAP from the
 * sender's mailbox with the right threading headers, and a copy is in the owner's Sent mailbox.
 */

const exec = promisify(execFile);
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

let dovecot: DovecotServer;
let postfix: PostfixServer;
beforeAll(async () => {
  dovecot = await startDovecot({
    users: [
      { name: 'owner', password: 'owner-imap-pw' },
      { name: 'client', password: 'client-pw' },
      { name: 'once', password: 'once-pw' },
    ],
  });
  postfix = await startPostfix({ dovecot, domains: ['example.test', 'customer.test'] });
});
afterAll(async () => {
  await postfix?.stop();
  await dovecot?.destroy();
});

/** The environment without anything from the caller's fte/SMTP/IMAP settings. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(SMTP_|IMAP_|FTE_|DRY_RUN|ANTHROPIC_)/.test(k)) env[k] = v;
  }
  return { ...env, FTE_LOG_LEVEL: 'warn', ...extra };
}

async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await exec(process.execPath, [CLI, ...args], { env, timeout: 60_000 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`fte ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

describe('Platinum with real mail: Postfix → LMTP → Dovecot → operator → approve → executor → Postfix', () => {
  test('the reply reaches the sender with the right threading headers', async () => {
    const root = await tempDir('fte-platinum-');
    const remote = join(root, 'remote.git');
    const cloud = join(root, 'cloud');
    const local = join(root, 'local');
    await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
    await cli(['init', cloud, '--remote', remote, '--agent', 'cloud'], baseEnv({}));
    await cli(['init', local, '--remote', remote, '--agent', 'local'], baseEnv({}));

    // The cloud's IMAP password comes from a mounted secret file; send credentials exist only on Local.
    const secrets = join(root, 'secrets');
    await mkdir(secrets, { recursive: true, mode: 0o700 });
    await writeFile(join(secrets, 'imap-password'), 'owner-imap-pw\n', { mode: 0o600 });
    const owner = dovecot.account('owner');
    const imapEnv = {
      IMAP_HOST: owner.host,
      IMAP_PORT: String(owner.port),
      IMAP_SECURE: 'false',
      IMAP_USER: owner.user,
    };
    const cloudEnv = baseEnv({
      ...imapEnv,
      IMAP_PASSWORD_FILE: join(secrets, 'imap-password'),
      IMAP_POLL_SECONDS: '30',
    });
    const localEnv = baseEnv({
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(postfix.smtpPort),
      SMTP_SECURE: 'false',
      SMTP_FROM: 'Owner <owner@example.test>',
      FTE_APPROVAL_KEY_FILE: join(root, 'local-config', 'approval.key'),
      FTE_SENT_COPY: '1',
      ...imapEnv,
      IMAP_PASSWORD: 'owner-imap-pw',
    });

    // The cloud operator runs as a daemon with its IMAP watcher.
    const operator = spawn(
      process.execPath,
      [CLI, 'operator', '--vault', cloud, '--agent', 'cloud', '--port', '0', '--interval', '1'],
      {
        env: cloudEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let operatorLog = '';
    operator.stdout?.on('data', (d) => (operatorLog += d));
    operator.stderr?.on('data', (d) => (operatorLog += d));
    try {
      // An outside sender writes to the owner, through the real MTA.
      const messageId = '<order-77@customer.test>';
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: postfix.smtpPort,
        secure: false,
        ignoreTLS: true,
      });
      await transport.sendMail({
        from: 'Carol Client <client@customer.test>',
        to: 'owner@example.test',
        subject: 'Quote for 4 chairs',
        text: 'Hello,\n\ncould you send me a quote for 4 oak chairs?\n\nCarol\n',
        messageId,
      });
      transport.close();
      await waitForMessages(owner, (m) => m.length === 1, { what: 'the message in the owner INBOX' });

      const id = taskIdForMessageId(messageId);
      // Local syncs until the cloud's draft arrives.
      await waitFor(
        'the approval request in the local clone',
        async () => {
          await cli(['executor', '--vault', local, '--once'], localEnv);
          return existsSync(join(local, 'Pending_Approval', 'email', `${id}.md`));
        },
        45_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\noperator log:\n${operatorLog}`);
      });
      const approval = decodeItem(await read(local, `Pending_Approval/email/${id}.md`));
      expect(approval.data).toMatchObject({
        to: 'client@customer.test',
        in_reply_to: messageId,
        subject: 'Re: Quote for 4 chairs',
      });

      await cli(['approve', id, '--vault', local], localEnv);
      await cli(['executor', '--vault', local, '--once'], localEnv);

      // The reply, read back over IMAP from the sender's own mailbox.
      const [reply] = await waitForMessages(dovecot.account('client'), (m) => m.length === 1, {
        what: 'the reply',
        timeoutMs: 30_000,
      });
      const parsed = await simpleParser(reply!.source);
      expect(parsed.subject).toBe('Re: Quote for 4 chairs');
      expect(parsed.inReplyTo).toBe(messageId);
      expect([parsed.references].flat()).toContain(messageId);
      expect(parsed.messageId).toBe(stableMessageId(id, 'owner@example.test'));
      expect(parsed.from?.value[0]?.address).toBe('owner@example.test');
      expect(parsed.headers.get('received')).toBeDefined();

      // The owner's Sent mailbox holds the same message once; the original is still unread in the INBOX.
      const sent = await waitForMessages(owner, (m) => m.length === 1, {
        mailbox: 'Sent',
        what: 'the sent copy',
      });
      expect((await simpleParser(sent[0]!.source)).messageId).toBe(parsed.messageId);
      const inbox = await waitForMessages(owner, (m) => m.length === 1);
      expect(inbox[0]?.flags).not.toContain('\\Seen');

      // Both clones agree the task is done; exactly one item was ever made for the message.
      await waitFor('Done in the local clone', async () => existsSync(join(local, 'Done', `${id}.md`)));
      const { stdout } = await exec('git', ['log', '--all', '--format=%s'], { cwd: local });
      expect(stdout.match(new RegExp(`^cloud: intake ${id}$`, 'gm'))).toHaveLength(1);
      expect(stdout).toMatch(new RegExp(`^local: done ${id}$`, 'm'));
    } finally {
      await stop(operator);
    }
    expect(operator.exitCode).toBe(0);
  }, 120_000);
});

describe('fte operator --once with IMAP settings', () => {
  test('takes in what waits in the inbox and drafts it, once; wrong settings exit 78 with one line', async () => {
    const vault = join(await tempDir('fte-once-'), 'cloud');
    await cli(['init', vault, '--agent', 'cloud'], baseEnv({}));
    const account = dovecot.account('once');
    const messageId = '<once-1@customer.test>';
    await imapAppend(account, rawMessage({ messageId, subject: 'Opening hours?' }));
    const env = baseEnv({
      IMAP_HOST: account.host,
      IMAP_PORT: String(account.port),
      IMAP_SECURE: 'false',
      IMAP_USER: account.user,
      IMAP_PASSWORD: account.password,
    });
    await cli(['operator', '--vault', vault, '--agent', 'cloud', '--once'], env);
    const id = taskIdForMessageId(messageId);
    expect(existsSync(join(vault, 'Pending_Approval', 'email', `${id}.md`))).toBe(true);
    await cli(['operator', '--vault', vault, '--agent', 'cloud', '--once'], env);
    const { stdout } = await exec('git', ['log', '--format=%s'], { cwd: vault });
    expect(stdout.match(/^cloud: intake /gm)).toHaveLength(1);
    expect(stdout.match(/^cloud: draft /gm)).toHaveLength(1);

    const bad = await exec(process.execPath, [CLI, 'operator', '--vault', vault, '--once'], {
      env: { ...env, IMAP_PORT: 'imap' },
    }).catch((error: { code: number; stderr: string }) => error);
    expect('code' in bad ? bad.code : 0).toBe(78);
    expect(bad.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^fte: invalid IMAP configuration: IMAP_PORT: /),
    ]);
  }, 60_000);
});

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
