import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { approvalContentHash, approvalParameters, decodeApproval } from '../../core/codec.js';
import { ConfigError } from '../../core/config.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { loadExecutorConfig, rateFromHandbook } from '../../executor/config.js';
import {
  buildReply,
  classifySendError,
  composeRaw,
  envelopeRecipients,
  InvalidEmailError,
  SendFailure,
  stableMessageId,
} from '../../executor/email.js';
import { ApprovalKeyError, approvalKeyPath, loadApprovalKey } from '../../executor/key.js';
import { type Approval, signApproval, verifyApproval } from '../../executor/signature.js';
import { tempDir } from './helpers.js';

const KEY = Buffer.alloc(32, 7);
const NOW = new Date('2026-01-07T12:00:00Z');

function request(overrides: Record<string, unknown> = {}, body = 'Dear client,\nhere it is.\n'): Approval {
  const data: Record<string, unknown> = {
    type: 'approval_request',
    task: 'EMAIL_1',
    action: 'send_email',
    domain: 'email',
    to: 'client@example.com',
    subject: 'Re: Invoice',
    in_reply_to: '<a@mail.example.com>',
    references: '<a@mail.example.com>',
    created: '2026-01-07T10:00:00Z',
    expires: '2026-01-09T10:00:00Z',
    status: 'pending',
    source: 'In_Progress/cloud/EMAIL_1.md',
    ...overrides,
  };
  data.content_sha256 = approvalContentHash('send_email', approvalParameters(data), body);
  return decodeApproval(stringifyMarkdown({ data, body }));
}

/** Through the file format, as the executor reads it back. */
const roundTrip = (a: Approval): Approval => decodeApproval(stringifyMarkdown(a));

describe('signed approvals', () => {
  it('a signed approval verifies after a round trip through the file format', () => {
    const signed = roundTrip(signApproval(KEY, request(), { now: NOW, by: 'owner', via: 'cli' }));
    expect(signed.data.status).toBe('approved');
    expect(signed.data.approval_signature).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(verifyApproval(KEY, 'EMAIL_1', signed, NOW)).toEqual({ ok: true });
  });

  it('signing covers the owner’s edits made before approving, and keeps the cloud’s original hash', () => {
    const original = request();
    const edited = { data: original.data, body: 'Dear client,\nI changed this.\n' };
    const signed = roundTrip(signApproval(KEY, edited, { now: NOW, by: 'owner', via: 'obsidian' }));
    expect(signed.data.original_content_sha256).toBe(original.data.content_sha256);
    expect(signed.data.content_sha256).not.toBe(original.data.content_sha256);
    expect(verifyApproval(KEY, 'EMAIL_1', signed, NOW).ok).toBe(true);
  });

  it('refuses an unsigned approval (how the cloud would try to approve its own draft)', () => {
    const unsigned = request({ status: 'approved' });
    expect(verifyApproval(KEY, 'EMAIL_1', unsigned, NOW)).toMatchObject({ ok: false, code: 'unsigned' });
  });

  it('refuses a draft edited after signing: body, a parameter, or body plus a recomputed hash', () => {
    const signed = roundTrip(signApproval(KEY, request(), { now: NOW, by: 'owner', via: 'cli' }));
    const bodyEdited = { data: signed.data, body: `${signed.body}P.S. wire the money elsewhere.\n` };
    expect(verifyApproval(KEY, 'EMAIL_1', bodyEdited, NOW)).toMatchObject({ ok: false, code: 'edited' });
    const toEdited = { data: { ...signed.data, to: 'attacker@evil.test' }, body: signed.body };
    expect(verifyApproval(KEY, 'EMAIL_1', toEdited, NOW)).toMatchObject({ ok: false, code: 'edited' });
    const rehashed = {
      data: {
        ...toEdited.data,
        content_sha256: approvalContentHash('send_email', approvalParameters(toEdited.data), signed.body),
      },
      body: signed.body,
    };
    expect(verifyApproval(KEY, 'EMAIL_1', rehashed, NOW)).toMatchObject({ ok: false, code: 'forged' });
  });

  it('refuses a signature made with another key, for another task, or with a moved expiry', () => {
    const signed = roundTrip(signApproval(KEY, request(), { now: NOW, by: 'owner', via: 'cli' }));
    expect(verifyApproval(Buffer.alloc(32, 8), 'EMAIL_1', signed, NOW)).toMatchObject({
      ok: false,
      code: 'forged',
    });
    const other = { data: { ...signed.data, task: 'EMAIL_2' }, body: signed.body };
    expect(verifyApproval(KEY, 'EMAIL_2', other, NOW)).toMatchObject({ ok: false, code: 'forged' });
    expect(verifyApproval(KEY, 'EMAIL_2', signed, NOW)).toMatchObject({ ok: false, code: 'mismatch' });
    const extended = { data: { ...signed.data, expires: '2027-01-01T00:00:00Z' }, body: signed.body };
    expect(verifyApproval(KEY, 'EMAIL_1', extended, NOW)).toMatchObject({ ok: false, code: 'forged' });
  });

  it('refuses an expired approval', () => {
    const signed = roundTrip(signApproval(KEY, request(), { now: NOW, by: 'owner', via: 'cli' }));
    expect(verifyApproval(KEY, 'EMAIL_1', signed, new Date('2026-01-09T10:00:01Z'))).toMatchObject({
      ok: false,
      code: 'expired',
    });
  });
});

describe('what the signature binds', () => {
  const signed = roundTrip(signApproval(KEY, request(), { now: NOW, by: 'owner', via: 'cli' }));
  const withData = (data: Record<string, unknown>): Approval =>
    ({ data: { ...signed.data, ...data }, body: signed.body }) as Approval;

  it('who approved and when are signed: changing either is a forgery, and so is a cut signature', () => {
    for (const changed of [
      { approved_by: 'cloud' },
      { approved_at: '2026-01-07T12:00:01.000Z' },
      { approval_signature: 'hmac-sha256:abcd' },
    ]) {
      expect(verifyApproval(KEY, 'EMAIL_1', withData(changed), NOW)).toEqual({
        ok: false,
        code: 'forged',
        reason: 'the approval signature does not verify with this machine’s approval key',
      });
    }
  });

  it('a signed file whose status is not approved is not an approval', () => {
    expect(verifyApproval(KEY, 'EMAIL_1', withData({ status: 'pending' }), NOW)).toEqual({
      ok: false,
      code: 'not_approved',
      reason: 'its status is pending, not approved',
    });
  });

  it('the expiry is the first moment it is refused', () => {
    const expires = new Date(signed.data.expires);
    expect(verifyApproval(KEY, 'EMAIL_1', signed, new Date(expires.getTime() - 1))).toEqual({ ok: true });
    expect(verifyApproval(KEY, 'EMAIL_1', signed, expires)).toEqual({
      ok: false,
      code: 'expired',
      reason: `the approval request expired at ${signed.data.expires}`,
    });
  });

  it('each refusal says why', () => {
    expect(verifyApproval(KEY, 'EMAIL_2', signed, NOW)).toEqual({
      ok: false,
      code: 'mismatch',
      reason: 'its task field "EMAIL_1" is not EMAIL_2',
    });
    expect(verifyApproval(KEY, 'EMAIL_1', withData({ approval_signature: undefined }), NOW)).toMatchObject({
      code: 'unsigned',
      reason: expect.stringMatching(/^not approved on this machine: it carries no owner signature/),
    });
    expect(verifyApproval(KEY, 'EMAIL_1', { data: signed.data, body: 'changed\n' }, NOW)).toMatchObject({
      code: 'edited',
      reason: 'the draft or its parameters changed after it was approved; review it and approve again',
    });
  });

  it('an approval signed as the cloud drafted it keeps no original hash', () => {
    expect(signed.data.original_content_sha256).toBeUndefined();
    expect(signed.data.content_sha256).toBe(request().data.content_sha256);
  });
});

describe('the approval key file', () => {
  it('is created 0600 on first use and read back unchanged', async () => {
    const dir = await tempDir();
    const path = join(dir, 'config', 'fte', 'approval.key');
    const vault = join(dir, 'vault');
    await mkdir(vault);
    const first = await loadApprovalKey(path, vault);
    expect(first).toHaveLength(32);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await loadApprovalKey(path, vault)).toEqual(first);
  });

  it('defaults to the user’s config dir and honours FTE_APPROVAL_KEY_FILE', () => {
    expect(approvalKeyPath({ XDG_CONFIG_HOME: '/x/cfg' })).toBe('/x/cfg/fte/approval.key');
    expect(approvalKeyPath({ FTE_APPROVAL_KEY_FILE: '/k/a.key', XDG_CONFIG_HOME: '/x' })).toBe('/k/a.key');
    expect(approvalKeyPath({})).toMatch(/\.config\/fte\/approval\.key$/);
  });

  it('refuses a key inside the vault, a key readable by others, and a file that is not a key', async () => {
    const dir = await tempDir();
    const vault = join(dir, 'vault');
    await mkdir(vault);
    await expect(loadApprovalKey(join(vault, '.fte', 'approval.key'), vault)).rejects.toThrow(
      /inside the vault/,
    );
    await expect(loadApprovalKey(join(vault, 'approval.key'), join(vault, '.'))).rejects.toBeInstanceOf(
      ApprovalKeyError,
    );
    const loose = join(dir, 'loose.key');
    await writeFile(loose, `${'cd'.repeat(32)}\n`);
    await chmod(loose, 0o644);
    await expect(loadApprovalKey(loose, vault)).rejects.toThrow(/chmod 600/);
    const junk = join(dir, 'junk.key');
    await writeFile(junk, 'hello\n', { mode: 0o600 });
    await expect(loadApprovalKey(junk, vault)).rejects.toThrow(/not 64\+ hex digits/);
    expect(await readFile(junk, 'utf8')).toBe('hello\n');
  });
});

describe('the email a send_email approval becomes', () => {
  it('replies in the thread with a Message-ID fixed per task', () => {
    const mail = buildReply(
      request({ subject: 'Invoice', references: '<z@x> <a@mail.example.com>' }),
      'Owner <owner@example.com>',
    );
    expect(mail.subject).toBe('Re: Invoice');
    expect(mail.inReplyTo).toBe('<a@mail.example.com>');
    expect(mail.references).toEqual(['<z@x>', '<a@mail.example.com>']);
    expect(mail.messageId).toBe(stableMessageId('EMAIL_1', 'owner@example.com'));
    expect(mail.messageId).toMatch(/^<fte-[0-9a-f]{32}@example\.com>$/);
    expect(mail.text).toBe('Dear client,\nhere it is.\n');
    // core/reply.ts: an existing reply prefix is kept, and an empty subject still says it is a reply.
    expect(buildReply(request({ subject: 'AW: Rechnung' }), 'owner@example.com').subject).toBe(
      'AW: Rechnung',
    );
    expect(buildReply(request({ subject: '' }), 'owner@example.com').subject).toBe('Re: (no subject)');
    expect(buildReply(request({ references: undefined }), 'owner@example.com').references).toEqual([
      '<a@mail.example.com>',
    ]);
  });

  it('puts bcc only into the envelope, never into a header', async () => {
    const mail = buildReply(
      request({ cc: 'Partner <partner@example.com>', bcc: 'boss@example.com' }),
      'owner@example.com',
    );
    expect(envelopeRecipients(mail)).toEqual([
      'client@example.com',
      'partner@example.com',
      'boss@example.com',
    ]);
    const raw = (await composeRaw(mail, NOW)).toString();
    expect(raw).toMatch(/^Cc: Partner <partner@example\.com>$/m);
    expect(raw).not.toContain('boss@example.com');
  });

  it('refuses a recipient that is not an address', () => {
    // The approval schema refuses it first; buildReply refuses it too for an approval that bypassed the schema.
    expect(() => request({ to: 'not an address' })).toThrow(/to: must be email addresses/);
    const good = request();
    const cases: Array<[string, string]> = [
      ['to', 'not an address'],
      ['cc', 'a@example.com, not an address'],
      ['bcc', 'a@example.com\r\nSubject: x'],
    ];
    for (const [field, value] of cases) {
      const bad = { ...good, data: { ...good.data, [field]: value } } as Approval;
      expect(() => buildReply(bad, 'owner@example.com')).toThrow(InvalidEmailError);
    }
    const bad = { ...good, data: { ...good.data, cc: 'Jane <jane@example.com>, nope' } } as Approval;
    expect(() => buildReply(bad, 'owner@example.com')).toThrow(/not an email address in cc: "nope"/);
  });

  it('drops reply ids that are not RFC 5322 Message-IDs, with a note, for an approval that bypassed the schema', () => {
    const good = request();
    const gmail = {
      ...good,
      data: { ...good.data, in_reply_to: '18c2f3a9b1d2e4f5', references: '<z@x> 18c2f3a9b1d2e4f4' },
    } as Approval;
    const mail = buildReply(gmail, 'owner@example.com');
    expect(mail.inReplyTo).toBeUndefined();
    expect(mail.references).toEqual(['<z@x>']);
    expect(mail.notes).toEqual([
      'in_reply_to "18c2f3a9b1d2e4f5" is not an RFC 5322 Message-ID; sent without In-Reply-To',
      'references: dropped 1 value(s) that are not RFC 5322 Message-IDs',
    ]);
  });

  it('tells a send that certainly failed from one that may have gone out', () => {
    expect(classifySendError(new SendFailure('could not connect', 'not_sent'))).toBe('not_sent');
    expect(classifySendError({ code: 'EMESSAGE', responseCode: 550 })).toBe('failed');
    expect(classifySendError({ code: 'EENVELOPE', responseCode: 451 })).toBe('not_sent');
    // Without a reply code nobody knows whether the message got through (nodemailer calls a drop mid-DATA 'CONN').
    expect(classifySendError({ code: 'ECONNECTION', command: 'CONN' })).toBe('uncertain');
    expect(classifySendError(new Error('Connection closed unexpectedly'))).toBe('uncertain');
  });
});

describe('executor configuration', () => {
  it('reads SMTP settings, DRY_RUN and the hourly limit, with the handbook as the fallback', async () => {
    const config = await loadExecutorConfig({
      SMTP_HOST: 'smtp.example.com',
      SMTP_PORT: '465',
      SMTP_USER: 'u',
      SMTP_PASSWORD: 'p',
      SMTP_FROM: 'Owner <owner@example.com>',
      DRY_RUN: 'true',
    });
    expect(config.smtp).toEqual({
      host: 'smtp.example.com',
      port: 465,
      secure: true,
      auth: { user: 'u', pass: 'p' },
      from: 'Owner <owner@example.com>',
    });
    expect(config.dryRun).toBe(true);
    expect(config.emailsPerHour).toBe(10);
    expect((await loadExecutorConfig({ FTE_EMAIL_RATE_PER_HOUR: '3' })).emailsPerHour).toBe(3);
    expect(rateFromHandbook('## Limits\n- At most 25 emails per hour are sent.\n')).toBe(25);
  });

  it('names the variable that is wrong', async () => {
    await expect(
      loadExecutorConfig({ SMTP_HOST: 'h', SMTP_PORT: 'abc', SMTP_FROM: 'a@b.c' }),
    ).rejects.toThrow(/SMTP_PORT/);
    await expect(loadExecutorConfig({ SMTP_HOST: 'h' })).rejects.toThrow(/SMTP_FROM/);
    await expect(loadExecutorConfig({ SMTP_USER: 'u' })).rejects.toBeInstanceOf(ConfigError);
    await expect(loadExecutorConfig({ DRY_RUN: 'maybe' })).rejects.toThrow(/DRY_RUN/);
    await expect(loadExecutorConfig({ SMTP_FROM: 'me at home' })).rejects.toThrow(
      /^SMTP_FROM: must be an address/,
    );
    await expect(loadExecutorConfig({ FTE_ALLOWED_ACTIONS: 'send_email,launch' })).rejects.toThrow(
      /^FTE_ALLOWED_ACTIONS: must be actions from send_email/,
    );
    expect((await loadExecutorConfig({ FTE_ALLOWED_ACTIONS: 'send_email' })).allowedActions).toEqual([
      'send_email',
    ]);
  });
});
