import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../core/audit.js';
import {
  approvalContentHash,
  approvalParameters,
  decodeApproval,
  decodeItem,
  decodeUpdate,
} from '../../core/codec.js';
import { initVault } from '../../core/init.js';
import { TEMPLATE_NOTICE, TemplateDrafter } from '../../operator/drafters/template.js';
import { Operator } from '../../operator/operator.js';
import { taskName } from '../../operator/task.js';
import { git, itemText, remoteWithClones, tempDir } from '../helpers/vaults.js';

const logger = pino({ level: 'silent' });

const EMAIL = itemText(
  {
    type: 'email',
    from: 'Jane Client <client@example.com>',
    subject: 'Invoice for January',
    received: '2026-01-07T10:30:00Z',
    message_id: '<abc@mail.example.com>',
    references: '<older@mail.example.com>',
    priority: 'high',
    status: 'pending',
  },
  '## Email Content\nHi, could you send me the January invoice?\n',
);

function operator(vault: string, clock?: () => Date): Operator {
  return new Operator({
    vault,
    agent: 'cloud',
    drafter: new TemplateDrafter(),
    logger,
    clock,
    backoff: { baseMs: 1, maxMs: 10 },
  });
}

async function commits(dir: string, grep: string): Promise<string[]> {
  const out = await git(dir, 'log', '--format=%s', `--grep=${grep}`);
  return out.split('\n').filter(Boolean);
}

async function files(dir: string, folder: string): Promise<string[]> {
  return existsSync(join(dir, folder))
    ? (await readdir(join(dir, folder))).filter((f) => !f.startsWith('.')).sort()
    : [];
}

describe('email reconcile, embedded, on real git', () => {
  it('turns an email in the cloud clone into an approval request visible in the local clone', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!.dir;
    const local = clones.local!;
    await writeFile(join(cloud, 'Needs_Action/email/EMAIL_1.md'), EMAIL);

    const op = operator(cloud);
    const report = await op.runOnce();
    expect(report).toMatchObject({
      tasks: 1,
      phases: { PendingApproval: 1 },
      steps: { claim: 1, triage: 1, draft: 1 },
    });
    const task = await op.store.get(taskName('EMAIL_1'));
    expect(task?.status).toMatchObject({
      phase: 'PendingApproval',
      owner: 'cloud',
      approvalPath: 'Pending_Approval/email/EMAIL_1.md',
      observedGeneration: task?.metadata.generation,
      triage: { needsReply: true, priority: 'high', by: 'template' },
    });

    await local.repo.sync();
    const text = await readFile(join(local.dir, 'Pending_Approval/email/EMAIL_1.md'), 'utf8');
    const approval = decodeApproval(text);
    expect(approval.data).toMatchObject({
      type: 'approval_request',
      task: 'EMAIL_1',
      action: 'send_email',
      domain: 'email',
      to: 'client@example.com',
      subject: 'Re: Invoice for January',
      in_reply_to: '<abc@mail.example.com>',
      references: '<older@mail.example.com> <abc@mail.example.com>',
      status: 'pending',
      source: 'In_Progress/cloud/EMAIL_1.md',
      drafter: 'template',
    });
    expect(Date.parse(approval.data.expires) - Date.parse(approval.data.created)).toBe(48 * 3600 * 1000);
    const { content_sha256, ...unsigned } = approval.data;
    expect(approvalContentHash('send_email', approvalParameters(unsigned), approval.body)).toBe(
      content_sha256,
    );
    expect(approval.body.startsWith(TEMPLATE_NOTICE)).toBe(true);
    expect(approval.body).toContain('Hello Jane Client,');

    // The item waits in In_Progress/cloud/ (ADR 0001); Local got a signal; the owner's folders are untouched.
    expect(
      decodeItem(await readFile(join(local.dir, 'In_Progress/cloud/EMAIL_1.md'), 'utf8')).data.subject,
    ).toBe('Invoice for January');
    const updates = await files(local.dir, 'Updates');
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z_cloud_approval_requested_EMAIL_1\.md$/,
    );
    expect(decodeUpdate(await readFile(join(local.dir, 'Updates', updates[0]!), 'utf8')).data).toMatchObject({
      kind: 'approval_requested',
      task: 'EMAIL_1',
      approval: 'Pending_Approval/email/EMAIL_1.md',
    });
    for (const folder of ['Approved', 'Done', 'Rejected']) expect(await files(local.dir, folder)).toEqual([]);
    expect(await git(local.dir, 'log', '-1', '--format=%s', '--', 'Dashboard.md')).toMatch(/create vault/);
    expect(await commits(cloud, 'EMAIL_1')).toEqual(['cloud: draft EMAIL_1', 'cloud: claim EMAIL_1']);
    const audit = await new AuditLog(local.dir).read(new Date());
    expect(audit.map((r) => r.action_type)).toContain('approval_requested');

    // A second run finds nothing to do: one draft, not two.
    const again = await operator(cloud).runOnce();
    expect(again).toMatchObject({ phases: { PendingApproval: 1 }, steps: {} });
    expect(await commits(cloud, 'draft EMAIL_1')).toHaveLength(1);
  });

  it('files newsletters and no-reply mail without a draft, and tells Local', async () => {
    const { clones } = await remoteWithClones(['cloud']);
    const cloud = clones.cloud!.dir;
    await writeFile(
      join(cloud, 'Needs_Action/email/NEWS_1.md'),
      itemText({
        type: 'email',
        from: 'newsletter@shop.example',
        subject: 'Deals',
        list_unsubscribe: '<mailto:u@shop.example>',
      }),
    );
    await writeFile(
      join(cloud, 'Needs_Action/email/NOREPLY_1.md'),
      itemText({ type: 'email', from: 'no-reply@bank.example', subject: 'Your statement' }),
    );
    const op = operator(cloud);
    const report = await op.runOnce();
    expect(report.steps).toEqual({ claim: 2, triage: 2 });
    expect(await files(cloud, 'Pending_Approval/email')).toEqual([]);
    const item = decodeItem(await readFile(join(cloud, 'In_Progress/cloud/NOREPLY_1.md'), 'utf8'));
    expect(item.data).toMatchObject({ triage: 'no_reply', priority: 'low' });
    expect(String(item.data.triage_reason)).toMatch(/no-reply sender/);
    expect((await op.store.get(taskName('NEWS_1')))?.status?.conditions).toContainEqual(
      expect.objectContaining({ type: 'Progressing', status: 'False', reason: 'NoReplyNeeded' }),
    );
    expect((await files(cloud, 'Updates')).filter((f) => f.includes('_info_'))).toHaveLength(2);
    expect((await operator(cloud).runOnce()).steps).toEqual({});
  });

  it('leaves items of domains without a handler alone, visibly', async () => {
    const { clones } = await remoteWithClones(['cloud']);
    const cloud = clones.cloud!.dir;
    await writeFile(
      join(cloud, 'Needs_Action/social/POST_1.md'),
      itemText({ type: 'social_post', title: 'Launch' }),
    );
    const op = operator(cloud);
    expect((await op.runOnce()).steps).toEqual({});
    expect(existsSync(join(cloud, 'Needs_Action/social/POST_1.md'))).toBe(true);
    expect((await op.store.get(taskName('POST_1')))?.status).toMatchObject({
      phase: 'NeedsAction',
      conditions: [
        expect.objectContaining({
          type: 'Progressing',
          reason: 'NoHandler',
          message: expect.stringContaining('social'),
        }),
      ],
    });
  });

  it('expires an unanswered approval into Rejected/ in one "cloud: expire" commit', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!.dir;
    await writeFile(join(cloud, 'Needs_Action/email/EMAIL_2.md'), EMAIL);
    let now = new Date('2026-01-07T12:00:00Z');
    await operator(cloud, () => now).runOnce();
    now = new Date('2026-01-09T11:59:59Z');
    expect((await operator(cloud, () => now).runOnce()).steps).toEqual({});
    now = new Date('2026-01-09T12:00:00Z');
    const report = await operator(cloud, () => now).runOnce();
    expect(report).toMatchObject({ steps: { expire: 1 }, phases: { Rejected: 1 } });
    await clones.local!.repo.sync();
    const local = clones.local!.dir;
    const rejected = decodeApproval(await readFile(join(local, 'Rejected/EMAIL_2.md'), 'utf8'));
    expect(rejected.data).toMatchObject({ status: 'expired', reason: 'expired' });
    expect(existsSync(join(local, 'Rejected/EMAIL_2.item.md'))).toBe(true);
    expect(await files(local, 'Pending_Approval/email')).toEqual([]);
    expect(await files(local, 'In_Progress/cloud')).toEqual([]);
    expect(await commits(local, 'expire')).toEqual(['cloud: expire EMAIL_2']);
    const changed = await git(
      local,
      'show',
      '--name-only',
      '--no-renames',
      '--format=',
      ':/cloud: expire EMAIL_2',
    );
    expect(changed).toContain('Pending_Approval/email/EMAIL_2.md');
    expect(changed).toContain('Rejected/EMAIL_2.item.md');
    expect((await files(local, 'Updates')).some((f) => f.includes('_approval_expired_EMAIL_2'))).toBe(true);
  });

  it('writes a missing signal and commits an approval a crash left behind uncommitted', async () => {
    const cloud = join(await tempDir(), 'cloud');
    await initVault(cloud, { agent: 'cloud' });
    await writeFile(join(cloud, 'Needs_Action/email/EMAIL_3.md'), EMAIL);
    await operator(cloud).runOnce();
    // Simulate a crash after the approval was written but before its signal: drop the signal and the commit.
    await git(cloud, 'reset', '--quiet', '--soft', 'HEAD~1');
    const signal = (await files(cloud, 'Updates'))[0]!;
    await git(cloud, 'rm', '--quiet', '--cached', `Updates/${signal}`);
    await rm(join(cloud, 'Updates', signal));
    const report = await operator(cloud).runOnce();
    expect(report.steps).toEqual({ signal: 1 });
    expect(await files(cloud, 'Updates')).toEqual([signal]);
    expect(await git(cloud, 'status', '--porcelain', '--', 'Pending_Approval', 'Updates')).toBe('');
    expect(await commits(cloud, 'draft EMAIL_3')).toHaveLength(1);
  });
});
