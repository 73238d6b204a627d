import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanVault, summarizeTasks } from '../../core/status.js';
import { idempotencyKey } from '../../executor/actions/at-most-once.js';
import { approveTask } from '../../executor/decisions.js';
import { stableMessageId } from '../../executor/email.js';
import {
  auditRecords,
  type CliResult,
  cloudDrafts,
  config,
  executive,
  frontmatterOf,
  git,
  localLedger,
  ownerContext,
  runCli,
  smtpEnv,
  smtpServer,
  subjects,
  testKey,
  type World,
  world,
} from './helpers.js';

/** Drafts from the cloud, pulled by an executive without SMTP, approved by the owner (as `fte approve` does). */
async function approved(w: World, ids: string[], draft = true): Promise<void> {
  if (draft) for (const id of ids) await cloudDrafts(w.cloud, id, { push: id === ids.at(-1) });
  const key = await testKey(w.keyFile);
  await executive(w, key, undefined).pass();
  const ctx = ownerContext(w);
  for (const id of ids) await approveTask(ctx, key, id, 'cli');
}

const once = (w: World, port: number, extra: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['executor', '--vault', w.local.dir, '--once'], smtpEnv(port, w.keyFile, extra));

describe('sending approved email over real SMTP (smtp-server on loopback)', () => {
  it('sends a threaded reply, audits it, and moves the task and its approval to Done/', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const smtp = await smtpServer();
    await cloudDrafts(w.cloud, 'EMAIL_T', {
      subject: 'Invoice for January',
      messageId: '<orig-42@mail.example.com>',
      references: '<thread-1@mail.example.com>',
      body: 'Dear client,\n\nPlease find the January invoice attached.\n\nBest regards,\nthe team\n',
    });
    await executive(w, await testKey(w.keyFile), undefined).pass();
    const approve = await runCli(['approve', 'EMAIL_T', '--vault', w.local.dir], smtpEnv(1, w.keyFile));
    expect(approve.stderr).toBe('');

    const run = await once(w, smtp.port);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/sent EMAIL_T <fte-/);
    expect(smtp.received).toHaveLength(1);
    const { parsed, envelopeTo } = smtp.received[0]!;
    expect(envelopeTo).toEqual(['client@example.com']);
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : '').toBe('client@example.com');
    expect(parsed.from?.value).toEqual([{ address: 'owner@example.com', name: 'Owner' }]);
    expect(parsed.subject).toBe('Re: Invoice for January');
    expect(parsed.inReplyTo).toBe('<orig-42@mail.example.com>');
    expect(parsed.references).toEqual(['<thread-1@mail.example.com>', '<orig-42@mail.example.com>']);
    expect(parsed.messageId).toBe(stableMessageId('EMAIL_T', 'owner@example.com'));
    expect(parsed.text).toBe(
      'Dear client,\n\nPlease find the January invoice attached.\n\nBest regards,\nthe team\n',
    );

    // Audit record (DESIGN.md §2): who, what, approved by whom, the result, the idempotency key.
    const sends = (await auditRecords(w.local.dir)).filter((r) => r.action_type === 'email_send');
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({
      actor: 'local',
      target: 'client@example.com',
      approval_status: 'approved',
      approved_by: 'owner',
      result: 'sent',
      task: 'EMAIL_T',
      parameters: { subject: 'Re: Invoice for January', message_id: parsed.messageId },
    });
    expect(sends[0]!.idempotency_key).toMatch(/^send_email:EMAIL_T:/);
    expect(JSON.stringify(sends[0])).not.toContain('Please find');

    // Folders: Done/<id>.md (outcome) and Done/<id>.item.md, one commit, pushed; phase Done.
    expect(existsSync(join(w.local.dir, 'Approved/EMAIL_T.md'))).toBe(false);
    expect(existsSync(join(w.local.dir, 'In_Progress/cloud/EMAIL_T.md'))).toBe(false);
    expect(await frontmatterOf(join(w.local.dir, 'Done/EMAIL_T.md'))).toMatchObject({
      status: 'executed',
      result: 'sent',
      sent_message_id: parsed.messageId,
    });
    expect(await frontmatterOf(join(w.local.dir, 'Done/EMAIL_T.item.md'))).toMatchObject({
      type: 'email',
      status: 'done',
    });
    expect(await subjects(w.local.dir)).toContain('local: done EMAIL_T');
    const tree = await git(w.remote, 'ls-tree', '-r', '--name-only', 'main');
    expect(tree).toContain('Done/EMAIL_T.md');
    expect(tree).toContain('Done/EMAIL_T.item.md');
    const [task] = summarizeTasks(await scanVault(w.local.dir));
    expect(task).toMatchObject({ id: 'EMAIL_T', phase: 'Done' });
  });

  it('running the executor twice sends once', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approved(w, ['EMAIL_1', 'EMAIL_2']);
    // Started at the same moment: one runs, the other is turned away by the vault's executor lock.
    const both = await Promise.all([once(w, smtp.port), once(w, smtp.port)]);
    expect(both.some((r) => r.code === 0)).toBe(true);
    for (const r of both) {
      if (r.code !== 0)
        expect(r.stderr).toMatch(/^fte: another executor \(pid \d+\) already runs on this vault/);
    }
    await once(w, smtp.port);
    await once(w, smtp.port);
    expect(smtp.received.map((m) => m.parsed.messageId).sort()).toEqual(
      [
        stableMessageId('EMAIL_1', 'owner@example.com'),
        stableMessageId('EMAIL_2', 'owner@example.com'),
      ].sort(),
    );
    expect(existsSync(join(w.local.dir, 'Done/EMAIL_1.md'))).toBe(true);
    expect(existsSync(join(w.local.dir, 'Done/EMAIL_2.md'))).toBe(true);
  });

  it('SIGKILL between intent and outcome: the restart sends nothing and marks the task Uncertain', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approved(w, ['EMAIL_K']);

    const crashed = await once(w, smtp.port, { FTE_TEST_CRASH_AFTER_INTENT: '1' });
    expect(crashed.signal).toBe('SIGKILL');
    const ledger = await localLedger(w);
    expect(existsSync(join(w.local.dir, '.fte/ledger.jsonl'))).toBe(false);
    expect((await ledger.records()).map((r) => r.kind)).toEqual(['intent']);

    const restart = await once(w, smtp.port);
    expect(restart.code).toBe(0);
    expect(restart.stdout).toMatch(/UNCERTAIN EMAIL_K/);
    expect(smtp.connections()).toBe(0);
    expect(await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_K.md'))).toMatchObject({
      status: 'uncertain',
    });
    expect((await auditRecords(w.local.dir)).filter((r) => r.result === 'uncertain')).toMatchObject([
      { action_type: 'email_send', task: 'EMAIL_K' },
    ]);
    const status = await runCli(['status', '--vault', w.local.dir], smtpEnv(1, w.keyFile));
    expect(status.stdout).toMatch(/EMAIL_K .*uncertain:/);
    expect(await readFile(join(w.local.dir, 'Dashboard.md'), 'utf8')).toMatch(
      /Needs your decision[\s\S]*EMAIL_K[\s\S]*fte resolve/,
    );

    // Never resent by itself, however often the executor runs.
    await once(w, smtp.port);
    expect(smtp.connections()).toBe(0);

    // The owner checked: it did not go out. The next pass sends it, with the same Message-ID.
    const resolve = await runCli(
      ['resolve', 'EMAIL_K', '--vault', w.local.dir, '--not-sent'],
      smtpEnv(1, w.keyFile),
    );
    expect(resolve.code).toBe(0);
    await once(w, smtp.port);
    expect(smtp.received.map((m) => m.parsed.messageId)).toEqual([
      stableMessageId('EMAIL_K', 'owner@example.com'),
    ]);
    expect(existsSync(join(w.local.dir, 'Done/EMAIL_K.md'))).toBe(true);
  });

  it('killed inside the finish step (sent, Approved/ removed, nothing committed): the next pass files it in Done/ without sending', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approved(w, ['EMAIL_F']);
    await executive(w, await testKey(w.keyFile), undefined).pass(); // commits and pushes the approval
    expect(await git(w.remote, 'ls-tree', '-r', '--name-only', 'main')).toContain('Approved/EMAIL_F.md');
    // What a kill between the send's outcome and the finish commit leaves: the ledger says sent, the
    // approval is gone from the working tree (still in HEAD), Done/ was never written.
    const data = await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_F.md'));
    const key = idempotencyKey({ data: data as { action: string; task: string; content_sha256: string } });
    const ledger = await localLedger(w);
    const ts = new Date().toISOString();
    const messageId = stableMessageId('EMAIL_F', 'owner@example.com');
    const base = { ts, key, task: 'EMAIL_F', action: 'send_email', message_id: messageId } as const;
    await ledger.append({ ...base, kind: 'intent' });
    await ledger.append({ ...base, kind: 'outcome', outcome: 'sent' });
    await rm(join(w.local.dir, 'Approved/EMAIL_F.md'));

    const run = await once(w, smtp.port);
    expect(run.code).toBe(0);
    expect(smtp.connections()).toBe(0);
    expect(await frontmatterOf(join(w.local.dir, 'Done/EMAIL_F.md'))).toMatchObject({
      status: 'executed',
      sent_message_id: messageId,
    });
    const head = await git(w.local.dir, 'ls-tree', '-r', '--name-only', 'HEAD');
    expect(head).toContain('Done/EMAIL_F.md');
    expect(head).not.toContain('Approved/EMAIL_F.md');
    expect(await git(w.local.dir, 'status', '--porcelain')).toBe('');
  });

  it('an Uncertain send the owner says went out is finished without sending', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approved(w, ['EMAIL_S']);
    expect((await once(w, smtp.port, { FTE_TEST_CRASH_AFTER_INTENT: '1' })).signal).toBe('SIGKILL');
    await once(w, smtp.port);
    expect(
      (await runCli(['resolve', 'EMAIL_S', '--vault', w.local.dir, '--sent'], smtpEnv(1, w.keyFile))).code,
    ).toBe(0);
    await once(w, smtp.port);
    expect(smtp.connections()).toBe(0);
    expect(await frontmatterOf(join(w.local.dir, 'Done/EMAIL_S.md'))).toMatchObject({ status: 'executed' });
  });

  it('a connection lost mid-send is Uncertain, not retried', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer({ dropAfterData: true });
    await approved(w, ['EMAIL_U']);
    const report = await executive(w, key, smtp.port).pass();
    expect(report.uncertain.map((u) => u.id)).toEqual(['EMAIL_U']);
    const before = smtp.connections();
    await executive(w, key, smtp.port).pass();
    expect(smtp.connections()).toBe(before);
  });

  it('a permanent SMTP refusal fails visibly; an unreachable server leaves it approved for a later pass', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const refusing = await smtpServer({ rejectWith: 550 });
    await approved(w, ['EMAIL_X', 'EMAIL_Y']);
    // Nothing listens on the port of a closed server: connection refused, certainly not sent.
    const gone = await smtpServer();
    await gone.close();
    const deferred = await executive(w, key, gone.port).pass();
    expect(deferred.deferred.map((d) => d.id).sort()).toEqual(['EMAIL_X', 'EMAIL_Y']);
    expect(await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_X.md'))).toMatchObject({
      status: 'approved',
    });

    const report = await executive(w, key, refusing.port).pass();
    expect(report.failed.map((f) => f.id).sort()).toEqual(['EMAIL_X', 'EMAIL_Y']);
    const x = await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_X.md'));
    expect(x).toMatchObject({ status: 'failed' });
    expect(String(x.error)).toMatch(/550/);

    const smtp = await smtpServer();
    await executive(w, key, smtp.port).pass();
    expect(smtp.connections()).toBe(0);
  });

  it('the rate limit holds: 10 an hour by default, the rest wait for the next hour', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    const ids = Array.from({ length: 12 }, (_, i) => `EMAIL_${String(i).padStart(2, '0')}`);
    await approved(w, ids);
    let now = new Date();
    const ex = executive(w, key, smtp.port, { clock: () => now });
    const first = await ex.pass();
    expect(first.sent).toHaveLength(10);
    expect(first.deferred).toHaveLength(2);
    expect(first.deferred[0]!.reason).toMatch(/rate limit: 10 emails sent in the last hour \(limit 10\)/);
    expect((await ex.pass()).sent).toHaveLength(0);
    now = new Date(now.getTime() + 61 * 60_000);
    expect((await ex.pass()).sent).toHaveLength(2);
    expect(smtp.received).toHaveLength(12);
  });

  it('an Uncertain send counts towards the hourly limit (it may have gone out)', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approved(w, ['EMAIL_Q1', 'EMAIL_Q2']);
    const limit = { FTE_EMAIL_RATE_PER_HOUR: '1' };
    // The first send is cut off after its intent: Uncertain, and one of the hour's one.
    const crashed = await once(w, smtp.port, { ...limit, FTE_TEST_CRASH_AFTER_INTENT: '1' });
    expect(crashed.signal).toBe('SIGKILL');
    const next = await once(w, smtp.port, limit);
    expect(next.code).toBe(0);
    expect(smtp.connections()).toBe(0);
    expect(next.stdout).toMatch(/UNCERTAIN EMAIL_Q1/);
    const ledger = await localLedger(w);
    expect((await ledger.records()).filter((r) => r.task === 'EMAIL_Q2')).toEqual([]);
    expect(await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_Q2.md'))).toMatchObject({
      status: 'approved',
    });
  });

  it('the limit comes from FTE_EMAIL_RATE_PER_HOUR', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approved(w, ['EMAIL_1', 'EMAIL_2', 'EMAIL_3']);
    const run = await once(w, smtp.port, { FTE_EMAIL_RATE_PER_HOUR: '2' });
    expect(run.code).toBe(0);
    expect(smtp.received).toHaveLength(2);
  });

  it('DRY_RUN logs what it would send and sends nothing; the approval still waits', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approved(w, ['EMAIL_D']);
    const run = await once(w, smtp.port, { DRY_RUN: 'true' });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/DRY_RUN: would send this email/);
    expect(run.stderr).toContain('Re: Invoice for January');
    await once(w, smtp.port, { DRY_RUN: '1' });
    expect(smtp.connections()).toBe(0);
    const dry = (await auditRecords(w.local.dir)).filter((r) => r.result === 'dry_run');
    expect(dry).toMatchObject([{ action_type: 'email_send', task: 'EMAIL_D', target: 'client@example.com' }]);
    expect(await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_D.md'))).toMatchObject({
      status: 'approved',
    });
    // With DRY_RUN off, the same approval is sent for real.
    const report = await executive(w, key, smtp.port, { config: config(smtp.port) }).pass();
    expect(report.sent.map((s) => s.id)).toEqual(['EMAIL_D']);
  });
});
