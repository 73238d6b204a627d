import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeItem } from '../../core/codec.js';
import { isSafeTaskId } from '../../core/ids.js';
import { type DovecotServer, imapAppend, rawMessage, startDovecot } from '../harness/mail.js';
import { emailItems, filesIn, read, runInBackground, waitFor, watchedVault } from './helpers.js';

/**
 * The bad-mail corpus against a real Dovecot: every message becomes a task or an error file with the
 * reason, and the watcher keeps going (a good message after the bad ones is still taken in).
 */

let dovecot: DovecotServer;
beforeAll(async () => {
  dovecot = await startDovecot({
    users: [
      { name: 'corpus', password: 'pw' },
      { name: 'big', password: 'pw' },
      { name: 'limit', password: 'pw' },
    ],
  });
});
afterAll(async () => {
  await dovecot?.destroy();
});

const CRLF = '\r\n';
const lines = (...parts: string[]) => parts.join(CRLF);

const corpus = {
  noBoundary: lines(
    'From: Ann <ann@customer.test>',
    'To: owner@example.test',
    'Subject: multipart without a boundary',
    'Message-ID: <no-boundary@customer.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed',
    '',
    '--zzz',
    'Content-Type: text/plain',
    '',
    'The parts cannot be split, but the words are here.',
    '--zzz--',
    '',
  ),
  unterminated: lines(
    'From: Bob <bob@customer.test>',
    'Subject: unterminated multipart, broken base64',
    'Message-ID: <unterminated@customer.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Text before a broken attachment.',
    '--b1',
    'Content-Type: application/pdf; name="quote.pdf"',
    'Content-Disposition: attachment; filename="quote.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    '!!!this is not base64@@@',
    '',
  ),
  unknownCharset: Buffer.concat([
    Buffer.from(
      lines(
        'From: Cy <cy@customer.test>',
        'Subject: =?x-klingon-99?Q?Qapla=E9?=',
        'Message-ID: <charset@customer.test>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset="x-klingon-99"',
        'Content-Transfer-Encoding: 8bit',
        '',
        '',
      ),
    ),
    Buffer.from('H\xe9llo w\xf6rld, the order is ready.\r\n', 'latin1'),
  ]),
  noMessageId: rawMessage({
    messageId: null,
    from: 'Dee <dee@customer.test>',
    subject: 'no Message-ID here',
  }),
  pathSubject: rawMessage({
    messageId: '<../../../Done/evil@customer.test>',
    from: 'Eve <eve@customer.test>',
    subject: '../../../Approved/x.md ..\\..\\Windows\\system32 /etc/passwd \u202Egnp.exe',
  }),
  noSender: lines('Subject: nobody sent this', 'Message-ID: <no-sender@customer.test>', '', 'Who am I?', ''),
  secret: rawMessage({
    messageId: '<secret@customer.test>',
    from: 'Fay <fay@customer.test>',
    subject: 'our key',
    body: 'Here is the key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n',
  }),
  htmlOnly: lines(
    'From: "Shop" <shop@customer.test>',
    'Subject: html only',
    'Message-ID: <html-only@customer.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<html><head><style>p{color:red}</style><script>alert("x")</script></head>',
    '<body><h1>Order 42</h1><p>Your <b>order</b> has shipped.</p><img src="http://track.test/pixel.gif"></body></html>',
    '',
  ),
};

async function itemBySubjectOrId(dir: string) {
  const out = new Map<string, { path: string; data: Record<string, unknown>; body: string }>();
  for (const path of [...(await emailItems(dir)), ...(await filesIn(dir, 'Needs_Action/_errors'))]) {
    if (!path.endsWith('.md')) continue;
    const { data, body } = decodeItem(await read(dir, path));
    out.set(String(data.message_id ?? data.subject), { path, data, body });
  }
  return out;
}

describe('bad mail', () => {
  test('each case becomes a task or an error with the reason, and the watcher keeps running', async () => {
    const account = dovecot.account('corpus');
    const vault = await watchedVault(account, { pollMs: 300 });
    const watcher = vault.watcher();
    const running = runInBackground(watcher);
    try {
      for (const raw of Object.values(corpus)) await imapAppend(account, raw);
      await imapAppend(
        account,
        rawMessage({ messageId: '<good-after-bad@customer.test>', subject: 'a good one' }),
      );
      await waitFor('all nine messages handled', async () => vault.outcomes.length === 9);
    } finally {
      await running.stop();
    }
    const byKey = await itemBySubjectOrId(vault.dir);
    for (const { path } of byKey.values())
      expect(isSafeTaskId(path.split('/').pop()!.replace(/\.md$/, ''))).toBe(true);

    const noBoundary = byKey.get('<no-boundary@customer.test>')!;
    expect(noBoundary.path).toMatch(/^Needs_Action\/email\//);
    expect(noBoundary.body).toContain('the words are here');
    expect(noBoundary.data.problems).toEqual([expect.stringContaining('without a boundary')]);

    const unterminated = byKey.get('<unterminated@customer.test>')!;
    expect(unterminated.path).toMatch(/^Needs_Action\/email\//);
    expect(unterminated.body).toContain('Text before a broken attachment.');
    expect(unterminated.data.attachments).toEqual([
      expect.objectContaining({ name: 'quote.pdf', type: 'application/pdf' }),
    ]);

    const charset = byKey.get('<charset@customer.test>')!;
    expect(charset.path).toMatch(/^Needs_Action\/email\//);
    expect(charset.body).toContain('the order is ready');
    expect(charset.data.problems).toEqual([expect.stringContaining('unknown charset "x-klingon-99"')]);

    const noId = byKey.get('no Message-ID here')!;
    expect(noId.path).toMatch(/^Needs_Action\/email\/EMAIL_[0-9a-f]+\.md$/);
    expect(noId.data.message_id).toBeUndefined();
    expect(noId.data.problems).toEqual(['no Message-ID header']);

    const path = byKey.get('<../../../Done/evil@customer.test>')!;
    expect(path.path).toMatch(/^Needs_Action\/email\/EMAIL_[0-9a-f]+\.md$/);
    expect(path.data.subject).toBe('../../../Approved/x.md ..\\..\\Windows\\system32 /etc/passwd gnp.exe');
    expect(await filesIn(vault.dir, 'Approved')).toEqual([]);
    expect(await filesIn(vault.dir, 'Done')).toEqual([]);

    const noSender = byKey.get('<no-sender@customer.test>')!;
    expect(noSender.path).toMatch(/^Needs_Action\/_errors\//);
    expect(noSender.data.status).toBe('error');
    expect(noSender.data.error).toContain('no usable From address');
    expect(noSender.body).toContain('Who am I?');

    const secret = byKey.get('<secret@customer.test>')!;
    expect(secret.path).toMatch(/^Needs_Action\/_errors\//);
    expect(secret.data.error).toContain('a private key block');
    const { spawnSync } = await import('node:child_process');
    // git grep exits 1 when nothing matches: the key never reached a commit, nor the working tree.
    expect(spawnSync('git', ['grep', '-q', 'PRIVATE KEY-----', 'HEAD'], { cwd: vault.dir }).status).toBe(1);
    expect(
      spawnSync('grep', ['-rq', '--exclude-dir=.git', 'PRIVATE KEY-----', '.'], { cwd: vault.dir }).status,
    ).toBe(1);

    const html = byKey.get('<html-only@customer.test>')!;
    expect(html.body).toContain('ORDER 42');
    expect(html.body).toContain('has shipped');
    expect(html.body).not.toContain('<script');
    expect(html.body).not.toContain('alert(');
    expect(html.body).toContain('converted from HTML');

    expect(byKey.get('<good-after-bad@customer.test>')?.path).toMatch(/^Needs_Action\/email\//);
    expect(vault.outcomes.map((o) => o.kind).sort()).toEqual(
      [...Array(7).fill('created'), 'error', 'error'].sort(),
    );

    // Nothing is taken in twice on the next run.
    await vault.watcher().runOnce();
    expect(vault.outcomes).toHaveLength(9);
  }, 60_000);

  test('a 25 MB message becomes a task listing its attachment; its bytes stay in the mailbox', async () => {
    const account = dovecot.account('big');
    const vault = await watchedVault(account);
    const attachment = randomBytes(18 * 1024 * 1024);
    const raw = bigMessage('<big@customer.test>', attachment);
    expect(raw.length).toBeGreaterThan(24 * 1024 * 1024);
    await imapAppend(account, raw);
    await vault.watcher().runOnce();
    const [path] = await emailItems(vault.dir);
    const { data, body } = decodeItem(await read(vault.dir, path!));
    expect(data.attachments).toEqual([{ name: 'scan.tiff', size: attachment.length, type: 'image/tiff' }]);
    expect(body).toContain('Please find the scan attached.');
    expect(body).toContain('scan.tiff (image/tiff, 18.0 MB)');
    expect((await read(vault.dir, path!)).length).toBeLessThan(10_000);
  }, 60_000);

  test('above IMAP_MAX_MESSAGE_BYTES only the headers and structure are read, and the task says so', async () => {
    const account = dovecot.account('limit');
    const vault = await watchedVault(account, { maxMessageBytes: 1024 * 1024 });
    await imapAppend(account, bigMessage('<over-limit@customer.test>', randomBytes(3 * 1024 * 1024)));
    await vault.watcher().runOnce();
    const [path] = await emailItems(vault.dir);
    const { data } = decodeItem(await read(vault.dir, path!));
    expect(data).toMatchObject({
      message_id: '<over-limit@customer.test>',
      subject: 'the scan',
      from: 'Gus <gus@customer.test>',
    });
    expect(data.attachments).toEqual([expect.objectContaining({ name: 'scan.tiff', type: 'image/tiff' })]);
    expect(data.problems).toEqual([expect.stringContaining('above the 1.0 MB download limit')]);
  });
});

function bigMessage(messageId: string, attachment: Buffer): Buffer {
  const base64 = attachment.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    lines(
      'From: Gus <gus@customer.test>',
      'To: owner@example.test',
      'Subject: the scan',
      `Message-ID: ${messageId}`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="BIG"',
      '',
      '--BIG',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Please find the scan attached.',
      '--BIG',
      'Content-Type: image/tiff; name="scan.tiff"',
      'Content-Disposition: attachment; filename="scan.tiff"',
      'Content-Transfer-Encoding: base64',
      '',
      base64,
      '--BIG--',
      '',
    ),
  );
}
