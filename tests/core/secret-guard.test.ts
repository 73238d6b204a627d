import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { approvalContentHash } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import type { ApprovalFrontmatter } from '../../core/schemas.js';
import {
  CHUNK_BYTES,
  createSecretGuard,
  findSecretContent,
  inspectFile,
  OVERLAP_BYTES,
  type SecretFinding,
  scanText,
} from '../../core/secret-guard.js';
import { computeSignature } from '../../executor/signature.js';
import { renderEmailItem } from '../../operator/email/item.js';

const exec = promisify(execFile);
const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true });
});

async function vault(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fte-guard-'));
  dirs.push(dir);
  return dir;
}

/** Writes `content` at `rel` in a fresh directory and inspects it as the commit guard would. */
async function inspect(rel: string, content: string | Buffer): Promise<SecretFinding | undefined> {
  const root = await vault();
  await mkdir(dirname(join(root, rel)), { recursive: true });
  await writeFile(join(root, rel), content);
  return inspectFile(join(root, rel), rel);
}

const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
  type: 'pkcs8',
  format: 'pem',
}) as string;
const ecPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
  type: 'sec1',
  format: 'pem',
}) as string;
const pemBody = (pem: string) =>
  pem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('\n');
const indent = (text: string, prefix: string) =>
  text
    .split('\n')
    .map((l) => (l ? prefix + l : l))
    .join('\n');

/** Ordinary prose, about 100 bytes a line, nothing a rule looks for. */
function filler(bytes: number): string {
  const line = 'The quarterly report is attached; please review the numbers before Friday and reply here.\n';
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
}

const SECRETS: Array<[string, string, string, RegExp]> = [
  ['a PEM key', 'Inbox/key.md', `# key\n\n${rsaPem}`, /rule private-key/],
  [
    'a PEM key indented in YAML',
    'Plans/deploy.md',
    `---\ntls:\n  key: |\n${indent(rsaPem, '    ')}---\n`,
    /private-key/,
  ],
  ['a PEM key in a markdown quote', 'Inbox/quote.md', `He wrote:\n\n${indent(ecPem, '> ')}`, /private-key/],
  [
    'a PEM key split and cut short',
    'Inbox/short.md',
    '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n',
    /private-key/,
  ],
  ['a bare RSA PEM body', 'Inbox/body.md', `notes\n\n${pemBody(rsaPem)}\n`, /rule pem-key-body/],
  [
    'a bare EC PEM body, quoted',
    'Inbox/ec.md',
    `> ${pemBody(ecPem).split('\n').join('\n> ')}\n`,
    /pem-key-body/,
  ],
  [
    'a fine-grained GitHub token',
    'Plans/gh.md',
    `token github_pat_11ABCDEFG0${'k3Jd9aQ2Lp'.slice(0, 12)}ab_${'Zq8Wm2Xv4Rt6Yp1Ns3Bc5Hd7Kf9Lg0Jh2Mk4Nn6Pq8Rs1Tu3Vw5Xy7Za9Bb2Cc4Dd'.slice(0, 59)}\n`,
    /GitHub Token \(rule secretlint\/github:/,
  ],
  [
    'a Stripe live secret key',
    'Plans/stripe.md',
    'key: sk_live_4eC39HqLyjWDarjtT1zdp7dc\n',
    /Stripe Live Secret Key \(rule secretlint\/stripe:STRIPE_SECRET_KEY_LIVE\)/,
  ],
  [
    'a Stripe restricted key',
    'Plans/rk.md',
    'use rk_live_51H8xYzAbCdEfGhIjKlMnOpQr\n',
    /rule secretlint\/stripe:STRIPE_RESTRICTED_KEY_LIVE/,
  ],
  ['an AWS access key id', 'Plans/aws.md', 'id AKIAZ7XQ3MPL4WNBT2RD\n', /rule secretlint\/aws:/],
  [
    'a YAML password',
    'Plans/config.md',
    '---\ndb:\n  password: Tr0ub4dor&3x\n---\n',
    /rule yaml-secret-assignment/,
  ],
  ['a YAML secret', 'Plans/s.yaml', 'client_secret: "q8Vf3kLm2Zp9"\n', /yaml-secret-assignment/],
  ['a YAML api_key', 'Plans/a.yml', 'service:\n  api_key: 9f8e7d6c5b4a\n', /yaml-secret-assignment/],
  ['an env assignment', 'Plans/deploy-notes.txt', 'DB_PASSWORD=s3cr3tValue\n', /rule env-secret-assignment/],
  ['an env file by name', 'Plans/prod.env', 'X=1\n', /rule name:env-file/],
  ['64 random hex digits', 'Inbox/hex.md', `key ${randomBytes(32).toString('hex')}\n`, /rule long-hex/],
  ['a random base64 key', 'Inbox/b64.md', `key ${randomBytes(32).toString('base64')}\n`, /rule long-base64/],
  [
    'a random base64url key',
    'Inbox/b64u.md',
    `key=${randomBytes(33).toString('base64url')}\n`,
    /rule long-base64/,
  ],
  [
    'a key despite a secretlint-disable comment',
    'Plans/disable.md',
    '<!-- secretlint-disable -->\nsk_live_4eC39HqLyjWDarjtT1zdp7dc\n',
    /stripe/,
  ],
];

describe('secret guard: refusals', () => {
  it.each(SECRETS)('refuses %s, naming the file and the rule', async (_name, rel, content, reason) => {
    const finding = await inspect(rel, content);
    expect(finding?.path).toBe(rel);
    expect(finding?.reason).toMatch(/^refused: /);
    expect(finding?.reason).toMatch(reason);
    expect(finding?.rule).toBeTruthy();
  });

  it('describes a refusal in words and by rule id', async () => {
    const finding = await inspect('Plans/stripe.md', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc\n');
    expect(finding).toEqual({
      path: 'Plans/stripe.md',
      reason: 'refused: contains a Stripe Live Secret Key (rule secretlint/stripe:STRIPE_SECRET_KEY_LIVE)',
      rule: 'secretlint/stripe:STRIPE_SECRET_KEY_LIVE',
    });
  });

  it('reads the whole file: a secret after 5 MB of filler is refused', async () => {
    const key = await inspect(
      'Inbox/long.md',
      `${filler(5 * 1024 * 1024)}\nsk_live_4eC39HqLyjWDarjtT1zdp7dc\n`,
    );
    expect(key?.rule).toBe('secretlint/stripe:STRIPE_SECRET_KEY_LIVE');
    const pem = await inspect('Inbox/long2.md', `${filler(5 * 1024 * 1024 + 17)}\n${indent(rsaPem, '  ')}`);
    expect(pem?.rule).toBe('private-key');
  });

  it('finds a secret that spans a chunk border', async () => {
    for (const offset of [10, 3, 1]) {
      const secret = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';
      const text = `${filler(CHUNK_BYTES - offset - 1)} ${secret}\n${filler(1000)}`;
      expect((await inspect('Inbox/border.md', text))?.rule).toBe('secretlint/stripe:STRIPE_SECRET_KEY_LIVE');
    }
    const hex = `${filler(CHUNK_BYTES - 30)} ${randomBytes(32).toString('hex')}\n`;
    expect((await inspect('Inbox/border-hex.md', hex))?.rule).toBe('long-hex');
    const header = `${filler(2 * CHUNK_BYTES - 12)}\n${indent(rsaPem, '  ')}`;
    expect((await inspect('Inbox/border-pem.md', header))?.rule).toBe('private-key');
  });
});

/** Ordinary prose on one line (no line break), `bytes` long. */
function proseLine(bytes: number): string {
  const words = 'The quarterly report is attached; please review the numbers before Friday and reply here. ';
  return words.repeat(Math.ceil(bytes / words.length)).slice(0, bytes);
}

/** A Stripe live key: secretlint's `stripe` rule refuses it wherever it stands. */
const stripe = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';

describe('secret guard: chunk windows end at a line end and overlap', () => {
  /** An audit line's digest, allowed only because its `content_sha256` key stands before it on its line. */
  const digest = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const key = '{"task":"EMAIL_1","content_sha256":"';
  /** A Message-ID local part: long random base64 that is allowed only because an `@` follows it. */
  const local = 'CAKd3tLsZ8eHq2jXo5cYg1NfRaT4wE6bMAFxQm7yP0r9uWnbV+A';

  it('a window never ends inside a line: a Message-ID cut by the chunk border passes', async () => {
    const prefix = 'In-Reply-To: <';
    // The line's `@` is the first byte after the first chunk: a window cut there ends with bare base64.
    const head = `${filler(CHUNK_BYTES - prefix.length - local.length - 1)}\n`;
    const text = `${head}${prefix}${local}@mail.gmail.com>\n${filler(1000)}`;
    expect(text.indexOf('@')).toBe(CHUNK_BYTES);
    expect(findSecretContent(`${prefix}${local}`)).toMatch(/base64/);
    expect(await inspect('Inbox/reply.md', text)).toBeUndefined();
  });

  it('a window keeps its last line whole: a placeholder value just before the border passes', async () => {
    const line = 'password: redacted\n';
    // The line's own line break is the first chunk's last byte.
    const text = `${filler(CHUNK_BYTES - line.length - 1)}\n${line}${filler(1000)}`;
    expect(text.lastIndexOf('\n', CHUNK_BYTES - 1)).toBe(CHUNK_BYTES - 1);
    expect(findSecretContent('password: redacte')).toMatch(/password/);
    expect(await inspect('Plans/setup.md', text)).toBeUndefined();
  });

  it('a line longer than half the overlap is scanned in pieces: a secret early in it is found', async () => {
    // The long line starts well before the next window's earliest start (a chunk minus the overlap).
    const before = OVERLAP_BYTES + 30_000;
    const long = `${proseLine(10_000)} ${stripe} ${proseLine(before + 50_000)}`;
    const text = `${filler(CHUNK_BYTES - before - 1)}\n${long}\n${filler(1000)}`;
    expect(text.indexOf(stripe)).toBeLessThan(CHUNK_BYTES - OVERLAP_BYTES);
    expect((await inspect('Inbox/long-line.md', text))?.rule).toBe(
      'secretlint/stripe:STRIPE_SECRET_KEY_LIVE',
    );
  });

  it('the next window may start right after a line break at the overlap limit: a secret across the border is found', async () => {
    // A line break exactly one overlap before the border: the next window starts just after it.
    const text = `${filler(CHUNK_BYTES - OVERLAP_BYTES)}\n${filler(OVERLAP_BYTES - 12)} ${stripe}\n${filler(1000)}`;
    expect(text.indexOf('\n', CHUNK_BYTES - OVERLAP_BYTES)).toBe(CHUNK_BYTES - OVERLAP_BYTES);
    expect(text.indexOf(stripe)).toBe(CHUNK_BYTES - 10);
    expect((await inspect('Inbox/limit.md', text))?.rule).toBe('secretlint/stripe:STRIPE_SECRET_KEY_LIVE');
  });

  it('a window ends at a line break of its own read, never at one an earlier read left in the buffer', async () => {
    // The line breaks right after each window's earliest start fix where the next window starts: here the
    // third window's buffer ends two bytes short of where the second one's did, at a line break of the
    // second read, and its own last line is a Message-ID whose `@` is the first byte of the fourth chunk.
    const prefix = 'In-Reply-To: <';
    const text = [
      `${filler(CHUNK_BYTES - OVERLAP_BYTES)}\n`,
      `${filler(CHUNK_BYTES - 1)}ab\n`,
      `${filler(OVERLAP_BYTES - 5)}\nx`,
      `${filler(CHUNK_BYTES - prefix.length - local.length - 1)}\n${prefix}${local}@mail.gmail.com>\n`,
      filler(1000),
    ].join('');
    expect(text.indexOf('\n', CHUNK_BYTES - OVERLAP_BYTES)).toBe(CHUNK_BYTES - OVERLAP_BYTES);
    expect(text.indexOf('\n', 2 * CHUNK_BYTES - OVERLAP_BYTES)).toBe(2 * CHUNK_BYTES - OVERLAP_BYTES + 2);
    expect(text.slice(2 * CHUNK_BYTES - 2, 2 * CHUNK_BYTES)).toBe('\nx');
    expect(text.indexOf('@')).toBe(3 * CHUNK_BYTES);
    expect(await inspect('Inbox/stale.md', text)).toBeUndefined();
  });

  it('the next window never starts at a line break past the end of its read (one left in the buffer)', async () => {
    // The second window starts 40 000 bytes after its earliest start, so the third read ends short of the
    // second one, whose bytes (with line breaks) stay in the buffer after it. The third read ends inside a
    // long line: the next window must start inside it, at the earliest start, not at a stale line break.
    const third = 3 * CHUNK_BYTES;
    const text = [
      `${filler(CHUNK_BYTES - OVERLAP_BYTES)}\n`,
      `${filler(CHUNK_BYTES - 1)}${proseLine(39_999)}\n`,
      `${filler(third - 70_001 - (2 * CHUNK_BYTES - OVERLAP_BYTES + 40_000))}\n`,
      `${proseLine(70_000 - 11)} ${stripe} ${proseLine(10_000)}\n`,
      filler(1000),
    ].join('');
    expect(text.indexOf('\n', 2 * CHUNK_BYTES - OVERLAP_BYTES)).toBe(
      2 * CHUNK_BYTES - OVERLAP_BYTES + 39_999,
    );
    expect(text.lastIndexOf('\n', third)).toBe(third - 70_001);
    expect(text.indexOf(stripe)).toBe(third - 10);
    expect((await inspect('Inbox/stale-start.md', text))?.rule).toBe(
      'secretlint/stripe:STRIPE_SECRET_KEY_LIVE',
    );
  });

  it('the next window starts at a line start a quarter of the overlap before the border, not inside a long line', async () => {
    // A long audit line from before the earliest start: a window starting at that start would see its
    // digest without the `content_sha256` key. The next line starts exactly a quarter overlap before the
    // last line break of the read, so the next window starts there.
    const earliest = CHUNK_BYTES - OVERLAP_BYTES;
    const lineEnd = CHUNK_BYTES - 100;
    const lineStart = lineEnd - OVERLAP_BYTES / 4;
    const longLine = `${key}${digest}","note":"${proseLine(lineStart - 1 - earliest - digest.length - 12)}"}`;
    const text = [
      `${filler(earliest - key.length - 1)}\n`,
      `${longLine}\n`,
      `${filler(lineEnd - lineStart - 1)}\n`,
      `${proseLine(200)}\n${filler(1000)}`,
    ].join('');
    expect(text.indexOf(digest)).toBe(earliest);
    expect(text.indexOf('\n', earliest)).toBe(lineStart - 1);
    expect(text.lastIndexOf('\n', CHUNK_BYTES - 1)).toBe(lineEnd - 1);
    expect(findSecretContent(`${digest}","note":"x"}`)).toMatch(/hex/);
    expect(await inspect('Logs/long-line.jsonl', text)).toBeUndefined();
  });

  it('a last line of exactly half the overlap is scanned in pieces, and the next window starts at its start', async () => {
    // The read ends in a line that began exactly half the overlap earlier, after a long audit line that
    // began before the earliest start: the next window starts at the last line's start, and never inside
    // the audit line, where it would see the digest without its `content_sha256` key.
    const earliest = CHUNK_BYTES - OVERLAP_BYTES;
    const lastLine = CHUNK_BYTES - OVERLAP_BYTES / 2;
    const audit = `${key}${digest}","note":"${proseLine(lastLine - 1 - earliest - digest.length - 12)}"}`;
    const text = [
      `${filler(earliest - key.length - 1)}\n`,
      `${audit}\n`,
      `${proseLine(OVERLAP_BYTES / 2 + 200)}\n`,
      filler(1000),
    ].join('');
    expect(text.indexOf(digest)).toBe(earliest);
    expect(text.indexOf('\n', earliest)).toBe(lastLine - 1);
    expect(text.indexOf('\n', lastLine)).toBe(CHUNK_BYTES + 200);
    expect(await inspect('Logs/half-overlap.jsonl', text)).toBeUndefined();
  });

  it('a file without any line break, larger than a chunk, is read whole in overlapping pieces', async () => {
    expect(await inspect('Inbox/one-line.md', proseLine(CHUNK_BYTES + 300_000))).toBeUndefined();
    const across = `${proseLine(CHUNK_BYTES - 10)} ${stripe} ${proseLine(300_000)}`;
    expect((await inspect('Inbox/one-line-key.md', across))?.rule).toBe(
      'secretlint/stripe:STRIPE_SECRET_KEY_LIVE',
    );
  });
});

describe('secret guard: ordinary fte files pass', () => {
  it('an approval request with content_sha256 and approval_signature', async () => {
    const body = 'Hi Ana,\n\nThanks, the invoice is attached.\n\nBest,\nSam\n';
    const parameters = { to: 'ana@example.com', subject: 'Re: invoice' };
    const data: ApprovalFrontmatter = {
      type: 'approval_request',
      task: 'EMAIL_3f2a9c0d1e2b3a4c5d6e',
      action: 'send_email',
      created: '2025-01-01T10:00:00.000Z',
      expires: '2025-01-02T10:00:00.000Z',
      status: 'approved',
      content_sha256: approvalContentHash('send_email', parameters, body),
      ...parameters,
      in_reply_to: '<CAFxQm7yP0r9uWnbV+Kd3tLsZ8e=Hq2jXo5cYg1NfRaT4wE6bMA@mail.gmail.com>',
    };
    const signed = {
      ...data,
      original_content_sha256: randomBytes(32).toString('hex'),
      approved_by: 'owner',
      approval_signature: computeSignature(randomBytes(32), data),
      idempotency_key: `send_email:EMAIL_3f2a9c0d1e2b3a4c5d6e:${data.content_sha256.slice(0, 16)}`,
    };
    const text = stringifyMarkdown({ data: signed, body });
    expect(text).toMatch(/approval_signature: hmac-sha256:[0-9a-f]{64}/);
    expect(await inspect('Approved/EMAIL_3f2a9c0d1e2b3a4c5d6e.md', text)).toBeUndefined();
  });

  it('an email item with Message-IDs and a long HTML-converted body', async () => {
    const paragraphs = Array.from(
      { length: 400 },
      (_, i) =>
        `Section ${i}: our spring collection is here. Shop now (https://click.example-mail.com/ls/click?upn=u001.${randomBytes(60).toString('base64url')}) or read more at https://www.example.com/p/${randomBytes(24).toString('hex')}?utm_source=newsletter\n`,
    ).join('\n');
    const item = renderEmailItem(
      {
        messageId: '<CAFxQm7yP0r9uWnbV+Kd3tLsZ8e=Hq2jXo5cYg1NfRaT4wE6bMA@mail.gmail.com>',
        inReplyTo: '<0100018d2f7c9a1b-4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8-000000@email.amazonses.com>',
        references: [
          '<CAKd3tLsZ8eHq2jXo5cYg1NfRaT4wE6bMAFxQm7yP0r9uWnbV+A@mail.gmail.com>',
          `<${randomBytes(32).toString('hex')}@mailer.example.com>`,
        ],
        from: { name: 'Shop', address: 'news@example.com' },
        replyTo: [],
        to: [{ name: '', address: 'me@example.com' }],
        cc: [],
        subject: 'Spring collection',
        date: new Date('2025-03-01T09:00:00Z'),
        text: paragraphs,
        truncatedChars: 0,
        fromHtml: true,
        attachments: [{ name: 'lookbook.pdf', type: 'application/pdf', size: 1234567 }],
        listHeaders: { list_unsubscribe: '<https://example.com/u?t=eyJhbGciOiJIUzI1NiJ9.eyJ1IjoxfQ>' },
        problems: [],
      },
      {
        user: 'me@example.com',
        host: 'imap.example.com',
        mailbox: 'INBOX',
        uidValidity: '1700000000',
        uid: 42,
      },
      { now: new Date('2025-03-01T09:01:00Z') },
    );
    expect(item.text.length).toBeGreaterThan(100_000);
    expect(await inspect(`Needs_Action/email/${item.id}.md`, item.text)).toBeUndefined();
  });

  it('a Dashboard, an audit log line, git hashes and ordinary notes', async () => {
    const dashboard = [
      '# Dashboard',
      '',
      '## Pending approvals (1)',
      '',
      '| Task | Action | To | Subject | Expires | Approve with |',
      '| --- | --- | --- | --- | --- | --- |',
      '| [[Pending_Approval/email/EMAIL_3f2a9c0d1e2b3a4c5d6e\\|EMAIL_3f2a9c0d1e2b3a4c5d6e]] | send_email | ana@example.com | Re: invoice | 2025-01-02T10:00:00.000Z | `fte approve EMAIL_3f2a9c0d1e2b3a4c5d6e` |',
      '',
      '## Sync',
      '',
      `- last commit ${randomBytes(20).toString('hex')} pushed to origin/main`,
      '- Pending_Approval/email/EMAIL_20250101_abcdef/InProgress_cloud_Needs_Action_email_EMAIL_3f2a9c0d',
      '',
    ].join('\n');
    expect(await inspect('Dashboard.md', dashboard)).toBeUndefined();
    const audit = `${JSON.stringify({ at: '2025-01-01T10:00:00.000Z', agent: 'local', action: 'send', task: 'EMAIL_3f2a9c0d1e2b3a4c5d6e', content_sha256: randomBytes(32).toString('hex') })}\n`;
    expect(await inspect('Logs/2025-01-01.jsonl', audit)).toBeUndefined();
    const note = [
      '# Plan',
      '- [ ] call the client about SMTP_PASSWORD rotation',
      '- password: reset it next week',
      'The key point: sk- prefixes are not secrets by themselves.',
      `Release checksum sha256:${randomBytes(32).toString('hex')}`,
      'token: $GITHUB_TOKEN',
      'AbstractSingletonProxyFactoryBeanConfigurerImplementation is a long Java name.',
    ].join('\n');
    expect(await inspect('Plans/note.md', note)).toBeUndefined();
  });

  it('a multi-MB log of digests: no chunk border cuts a digest from its key', async () => {
    const lines: string[] = [];
    for (let size = 0; size < 3 * CHUNK_BYTES; size += 100) {
      lines.push(`{"task":"EMAIL_1","content_sha256":"${randomBytes(32).toString('hex')}"}`);
    }
    expect(await inspect('Logs/big.jsonl', `${lines.join('\n')}\n`)).toBeUndefined();
  });

  it('raw mail (.orig) with DKIM and ARC headers', async () => {
    const raw = [
      `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=gmail.com; s=20230601; t=1700000000; x=1700604800; darn=example.com;`,
      `        h=to:subject:message-id:date:from:mime-version:from:to:cc:subject;`,
      `        bh=${randomBytes(32).toString('base64')};`,
      `        b=${randomBytes(60).toString('base64')}`,
      `         ${randomBytes(60).toString('base64')}`,
      `X-Gm-Message-State: AOJu0Yx${randomBytes(40).toString('base64')}`,
      'Message-ID: <CAFxQm7yP0r9uWnbV+Kd3tLsZ8e=Hq2jXo5cYg1NfRaT4wE6bMA@mail.gmail.com>',
      'Content-Type: text/plain',
      '',
      'hello',
      '',
    ].join('\r\n');
    expect(await inspect('Errors/EMAIL_3f2a9c0d1e2b3a4c5d6e.orig', raw)).toBeUndefined();
  });
});

describe('secret guard: what it never opens', () => {
  it('does not follow a symlink (to a FIFO that would block, or to a key)', async () => {
    const root = await vault();
    const outside = await vault();
    await exec('mkfifo', [join(outside, 'fifo')]);
    await writeFile(join(outside, 'key.pem.txt'), rsaPem);
    await symlink(join(outside, 'fifo'), join(root, 'to-fifo.md'));
    await symlink(join(outside, 'key.pem.txt'), join(root, 'to-key.md'));
    // Opening the FIFO for reading would block until a writer comes: resolving at all proves it was not.
    expect(await inspectFile(join(root, 'to-fifo.md'), 'to-fifo.md')).toBeUndefined();
    expect(await inspectFile(join(root, 'to-key.md'), 'to-key.md')).toBeUndefined();
  });

  it('judges a symlink by its target string, which is what git commits', async () => {
    const root = await vault();
    await symlink('sk_live_4eC39HqLyjWDarjtT1zdp7dc', join(root, 'odd-link.md'));
    expect((await inspectFile(join(root, 'odd-link.md'), 'odd-link.md'))?.rule).toBe(
      'secretlint/stripe:STRIPE_SECRET_KEY_LIVE',
    );
  });

  it('refuses a FIFO in the tree without opening it for a blocking read', async () => {
    const root = await vault();
    await exec('mkfifo', [join(root, 'pipe.md')]);
    expect((await inspectFile(join(root, 'pipe.md'), 'pipe.md'))?.rule).toBe('special-file');
  });

  it('passes deleted files and directories', async () => {
    const root = await vault();
    await mkdir(join(root, 'dir'));
    expect(await inspectFile(join(root, 'gone.md'), 'gone.md')).toBeUndefined();
    expect(await inspectFile(join(root, 'dir'), 'dir')).toBeUndefined();
  });

  it('passes a deleted file whose folder is now a file (the path cannot exist)', async () => {
    const root = await vault();
    await writeFile(join(root, 'Plans'), 'the folder became a note\n');
    expect(await inspectFile(join(root, 'Plans', 'old.md'), 'Plans/old.md')).toBeUndefined();
  });

  it('fails, rather than passing, a path it cannot look at (a symlink loop on the way)', async () => {
    const root = await vault();
    await symlink('loop', join(root, 'loop'));
    await expect(inspectFile(join(root, 'loop', 'x.md'), 'loop/x.md')).rejects.toMatchObject({
      code: 'ELOOP',
    });
  });

  it('refuses a socket and a device, saying why, without opening them', async () => {
    const root = await vault();
    const server = createServer();
    await new Promise<void>((done) => server.listen(join(root, 'sock.md'), done));
    try {
      expect(await inspectFile(join(root, 'sock.md'), 'sock.md')).toEqual({
        path: 'sock.md',
        reason: 'refused: not a regular file (FIFO, socket or device)',
        rule: 'special-file',
      });
    } finally {
      await new Promise((done) => server.close(done));
    }
    expect((await inspectFile('/dev/null', 'null.md'))?.rule).toBe('special-file');
  });
});

describe('secret guard: known local secrets', () => {
  const key = randomBytes(32);
  const guard = createSecretGuard({ knownSecrets: [key] });
  const forms: Array<[string, string]> = [
    ['hex', `approval_signature: ${key.toString('hex')}`],
    ['upper-case hex', `see ${key.toString('hex').toUpperCase()}`],
    ['base64', `k=${key.toString('base64')}`],
    ['base64url', `k ${key.toString('base64url')}`],
    [
      'base64 inside a longer blob',
      `blob ${Buffer.concat([randomBytes(7), key, randomBytes(5)]).toString('base64')}`,
    ],
  ];

  it.each(forms)('refuses the key as %s, even where the long-hex rule allows a hash', async (_form, text) => {
    const root = await vault();
    await writeFile(join(root, 'x.md'), `---\n${text}\n---\n`);
    const finding = await guard.inspectFile(join(root, 'x.md'), 'x.md');
    expect(finding?.rule).toBe('known-secret');
    expect(finding?.reason).toMatch(/a secret this machine holds/);
  });

  it('refuses the raw bytes, also through the inspectFile option', async () => {
    const root = await vault();
    await writeFile(join(root, 'raw.bin'), Buffer.concat([Buffer.from('head'), key, Buffer.from('tail')]));
    expect((await guard.inspectFile(join(root, 'raw.bin'), 'raw.bin'))?.rule).toBe('known-secret');
    expect((await inspectFile(join(root, 'raw.bin'), 'raw.bin', { knownSecrets: [key] }))?.rule).toBe(
      'known-secret',
    );
  });

  it('scans text too (e.g. an email body before it is written)', async () => {
    expect((await guard.scanText(`body ${key.toString('hex')} end`))?.rule).toBe('known-secret');
    expect(await guard.scanText('nothing here')).toBeUndefined();
  });
});

describe('raw mail (.orig, .eml) is scanned without the base64 heuristic', () => {
  const dkim = `DKIM-Signature: v=1; a=rsa-sha256; d=gmail.com;\n bh=Xq3v9Lk2Zp7Yw1Rt5Nm8Bc4Hd6Jf0Gs2Ka9Ue3Wi7Oy1Qx5Tv8Pr=;\n`;

  it('by file extension, in any case, and only as the last extension', async () => {
    expect(await scanText(dkim, { path: 'Errors/EMAIL_1.eml' })).toBeUndefined();
    expect(await scanText(dkim, { path: 'Errors/EMAIL_1.ORIG' })).toBeUndefined();
    expect((await scanText(dkim, { path: 'Plans/EMAIL_1.eml.md' }))?.rule).toBe('long-base64');
    expect((await scanText(dkim, { path: 'Plans/EMAIL_1.orig.txt' }))?.rule).toBe('long-base64');
    expect(await inspect('Errors/EMAIL_2.eml', dkim)).toBeUndefined();
    expect((await inspect('Plans/EMAIL_2.eml.md', dkim))?.rule).toBe('long-base64');
  });

  it('scanText without a path judges the text as a note, and still applies every other rule', async () => {
    expect((await scanText(dkim))?.rule).toBe('long-base64');
    expect((await scanText(`x ${stripe}`, { path: 'Errors/EMAIL_1.eml' }))?.rule).toBe(
      'secretlint/stripe:STRIPE_SECRET_KEY_LIVE',
    );
    const key = randomBytes(32);
    expect((await scanText(`sig ${key.toString('hex')}`, { knownSecrets: [key] }))?.rule).toBe(
      'known-secret',
    );
    expect(await scanText('Thanks, see you Friday.')).toBeUndefined();
  });
});

describe('findSecretContent (fte rules, synchronous)', () => {
  it('still names what it found, and skips the base64 heuristic for raw mail', () => {
    expect(findSecretContent(`x sk-ant-api03-${'A'.repeat(40)}`)).toMatch(/Anthropic API key/);
    const dkim = `bh=${randomBytes(32).toString('base64')};`;
    expect(findSecretContent(dkim)).toMatch(/base64/);
    expect(findSecretContent(dkim, 'raw-mail')).toBeUndefined();
  });
});

describe('secret guard: a daemon scans for months', () => {
  it('a scan leaves no timing entries behind (secretlint’s profiler would keep about 110 per scan, for good)', async () => {
    const before = performance.getEntries().length;
    for (let i = 0; i < 20; i++) expect(await scanText(`an ordinary note, number ${i}\n`)).toBeUndefined();
    expect(await scanText('ghp_0123456789abcdefghijABCDEFGHIJ012345\n')).toBeDefined();
    expect(performance.getEntries().length).toBe(before);
  });
});
