import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decodeApproval } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { loadExecutorConfig } from '../../executor/config.js';
import { approveTask } from '../../executor/decisions.js';
import { stableMessageId } from '../../executor/email.js';
import type { PassReport } from '../../executor/executive.js';
import type { Ledger } from '../../executor/ledger.js';
import { openLocal } from '../../executor/setup.js';
import { signApproval } from '../../executor/signature.js';
import {
  auditRecords,
  cloudDrafts,
  executive,
  frontmatterOf,
  git,
  localLedger,
  ownerContext,
  runCli,
  smtpEnv,
  smtpServer,
  testKey,
  type World,
  world,
} from './helpers.js';

/**
 * DESIGN.md §5: the cloud is compromised. Everything it pushes is hostile input for the laptop, which must
 * never read or leak a file outside the vault, never execute what its owner did not sign, never execute
 * anything twice, never loosen a limit, never stop working.
 */

const exec = promisify(execFile);
const KEY_HEX = 'ab'.repeat(32);

/** The cloud as an attacker: raw git in its clone, no guard, no fte code. */
async function cloudPushes(w: World, message: string): Promise<void> {
  await git(w.cloud.dir, 'add', '--all', '--force', '.');
  await git(
    w.cloud.dir,
    '-c',
    'user.name=evil',
    '-c',
    'user.email=evil@x',
    'commit',
    '--quiet',
    '-m',
    message,
  );
  await git(w.cloud.dir, 'push', '--quiet', 'origin', 'HEAD:main');
}

async function cloudPulls(w: World): Promise<void> {
  const report = await w.cloud.repo.sync();
  if (report.state !== 'synced') throw new Error(`cloud sync: ${report.error}`);
}

/** Every object of the bare remote, contents included. */
async function remoteBlobs(w: World): Promise<string> {
  const { stdout } = await exec('git', ['-C', w.remote, 'cat-file', '--batch-all-objects', '--batch'], {
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'latin1',
  });
  return stdout;
}

const ctxOf = (w: World, ledger?: Ledger) => ({
  ...ownerContext(w),
  ledger,
});

/** Drafted by the cloud, pulled by a local executive without SMTP, approved by the owner, committed. */
async function approvedTasks(w: World, key: Buffer, ids: string[]): Promise<void> {
  for (const id of ids) await cloudDrafts(w.cloud, id, { push: id === ids.at(-1) });
  const idle = executive(w, key, undefined);
  await idle.pass();
  const ledger = await localLedger(w);
  for (const id of ids) await approveTask(ctxOf(w, ledger), key, id, 'cli');
  await idle.pass();
}

describe('a compromised cloud against the local executive', () => {
  it('a replay of Done/ into Approved/ with the item turned into a link to the approval key: no resend, no leak', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approvedTasks(w, key, ['EMAIL_R']);
    const first = await executive(w, key, smtp.port).pass();
    expect(first.sent.map((s) => s.id)).toEqual(['EMAIL_R']);
    expect(smtp.received).toHaveLength(1);

    // The cloud moves the executed approval (valid old signature) back into Approved/ and replaces the
    // task's item with a link to the laptop's approval key, hoping the finish step copies it into Done/.
    await cloudPulls(w);
    const done = await readFile(join(w.cloud.dir, 'Done/EMAIL_R.md'), 'utf8');
    await writeFile(
      join(w.cloud.dir, 'Approved/EMAIL_R.md'),
      done.replace('status: executed', 'status: approved'),
    );
    await rm(join(w.cloud.dir, 'Done/EMAIL_R.md'));
    await rm(join(w.cloud.dir, 'Done/EMAIL_R.item.md'));
    await symlink(w.keyFile, join(w.cloud.dir, 'In_Progress/cloud/EMAIL_R.md'));
    await cloudPushes(w, 'local: approve EMAIL_R');

    const replay = await executive(w, key, smtp.port).pass();
    expect(replay.sent).toEqual([]);
    expect(replay.finished).toEqual([]);
    expect(replay.refused).toMatchObject([
      { id: 'EMAIL_R', reason: expect.stringMatching(/never executed again/) },
    ]);
    expect(handledLinks(replay)).toContain('In_Progress/cloud/EMAIL_R.md');
    await executive(w, key, smtp.port).pass();
    expect(smtp.received).toHaveLength(1);
    expect(smtp.dataArrived()).toBe(1);
    expect(existsSync(join(w.local.dir, 'Done/EMAIL_R.item.md'))).toBe(false);
    // The link is gone from the clone (quarantined by git rm, never read), and the audit log names it.
    expect(existsSync(join(w.local.dir, 'In_Progress/cloud/EMAIL_R.md'))).toBe(false);
    const named = (await auditRecords(w.local.dir)).filter((r) =>
      ['unsafe_path', 'link_quarantined'].includes(r.action_type),
    );
    expect(named.map((r) => r.target)).toContain('In_Progress/cloud/EMAIL_R.md');

    expect(await readFile(w.keyFile, 'utf8')).toBe(`${KEY_HEX}\n`);
    expect(await remoteBlobs(w)).not.toContain(KEY_HEX);
  });

  it('a send recorded but not yet filed (crash before the finish) whose item became a link: filed without reading it', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approvedTasks(w, key, ['EMAIL_F']);
    // The ledger says: sent, not finished (the process died between the SMTP answer and the Done/ commit).
    const ledger = await localLedger(w);
    const approval = decodeApproval(await readFile(join(w.local.dir, 'Approved/EMAIL_F.md'), 'utf8'));
    const keyOf = `send_email:EMAIL_F:${approval.data.content_sha256.slice(0, 16)}`;
    const ts = new Date().toISOString();
    await ledger.append({ ts, key: keyOf, task: 'EMAIL_F', action: 'send_email', kind: 'intent' });
    await ledger.append({
      ts,
      key: keyOf,
      task: 'EMAIL_F',
      action: 'send_email',
      kind: 'outcome',
      outcome: 'sent',
    });
    await cloudPulls(w);
    await rm(join(w.cloud.dir, 'In_Progress/cloud/EMAIL_F.md'));
    await symlink(w.keyFile, join(w.cloud.dir, 'In_Progress/cloud/EMAIL_F.md'));
    await cloudPushes(w, 'cloud: touch EMAIL_F');

    const report = await executive(w, key, smtp.port).pass();
    expect(report.finished).toEqual(['EMAIL_F']);
    expect(smtp.connections()).toBe(0);
    expect(existsSync(join(w.local.dir, 'Done/EMAIL_F.md'))).toBe(true);
    expect(existsSync(join(w.local.dir, 'Done/EMAIL_F.item.md'))).toBe(false);
    expect(handledLinks(report)).toContain('In_Progress/cloud/EMAIL_F.md');
    expect(await readFile(w.keyFile, 'utf8')).toBe(`${KEY_HEX}\n`);
    expect(await remoteBlobs(w)).not.toContain(KEY_HEX);
  });

  it('Approved/ turned into a link to a private folder: nothing there is read, moved or pushed', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    const notes = join(w.root, 'notes');
    await mkdir(notes);
    const diary = 'PRIVATE-DIARY-7f3a: not markdown with frontmatter\n';
    const plan = stringifyMarkdown({
      data: { type: 'approval_request', task: 'plan' },
      body: 'PRIVATE-PLAN-91c2\n',
    });
    await writeFile(join(notes, 'diary.md'), diary);
    await writeFile(join(notes, 'plan.md'), plan);
    await cloudDrafts(w.cloud, 'EMAIL_P');
    await rm(join(w.cloud.dir, 'Approved'), { recursive: true });
    await symlink(notes, join(w.cloud.dir, 'Approved'));
    await cloudPushes(w, 'cloud: tidy');

    const ex = executive(w, key, smtp.port);
    const report = await ex.pass();
    // The git owner takes the link out of the index and the tree (never reading through it) right after
    // the pull; the folder comes back as a real one and the owner's approval works as ever.
    expect(handledLinks(report)).toContain('Approved');
    expect(report.quarantined).toEqual([]);
    await approveTask(ctxOf(w), key, 'EMAIL_P', 'cli');
    expect((await lstat(join(w.local.dir, 'Approved'))).isDirectory()).toBe(true);
    await ex.pass();

    expect((await readdir(notes)).sort()).toEqual(['diary.md', 'plan.md']);
    expect(await readFile(join(notes, 'diary.md'), 'utf8')).toBe(diary);
    expect(await readFile(join(notes, 'plan.md'), 'utf8')).toBe(plan);
    const blobs = await remoteBlobs(w);
    expect(blobs).not.toContain('PRIVATE-DIARY-7f3a');
    expect(blobs).not.toContain('PRIVATE-PLAN-91c2');
    expect(existsSync(join(w.local.dir, 'Needs_Action/_errors/diary.orig'))).toBe(false);
    expect(smtp.received.map((m) => m.parsed.subject)).toHaveLength(1);
  });

  it('a force-added .fte/ledger.jsonl that erases the sends has no effect: the replay is not sent again', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approvedTasks(w, key, ['EMAIL_L']);
    await executive(w, key, smtp.port).pass();
    expect(smtp.received).toHaveLength(1);
    const stateLedger = await localLedger(w);
    const before = await stateLedger.records();

    // The attack of old: a ledger in the working tree, overwritten by a fast-forward, saying nothing was
    // ever sent (and even that the owner said "not sent"), plus the executed approval replayed.
    await cloudPulls(w);
    const forged = `${JSON.stringify({
      ts: new Date().toISOString(),
      key: before[0]!.key,
      task: 'EMAIL_L',
      action: 'send_email',
      kind: 'resolution',
      outcome: 'not_sent',
    })}\n`;
    await mkdir(join(w.cloud.dir, '.fte'), { recursive: true });
    await writeFile(join(w.cloud.dir, '.fte/ledger.jsonl'), forged);
    const done = await readFile(join(w.cloud.dir, 'Done/EMAIL_L.md'), 'utf8');
    await writeFile(
      join(w.cloud.dir, 'Approved/EMAIL_L.md'),
      done.replace('status: executed', 'status: approved'),
    );
    await rm(join(w.cloud.dir, 'Done/EMAIL_L.md'));
    await cloudPushes(w, 'local: approve EMAIL_L');

    const once = await runCli(['executor', '--vault', w.local.dir, '--once'], smtpEnv(smtp.port, w.keyFile));
    expect(once.code).toBe(0);
    expect(await readFile(join(w.local.dir, '.fte/ledger.jsonl'), 'utf8')).toBe(forged); // pulled, and ignored
    expect(smtp.received).toHaveLength(1);
    expect(once.stdout).toMatch(/REFUSED EMAIL_L: already carried out/);
    expect((await stateLedger.records()).slice(0, before.length)).toEqual(before);

    // A fresh state folder does not import a ledger git ever carried; an untouched old one is imported,
    // without anything that would release a send.
    const fresh = await openLocal(
      w.local.dir,
      'local',
      smtpEnv(1, w.keyFile, { FTE_STATE_DIR: join(w.root, 's2') }),
    );
    expect(fresh.migration).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/git history/) });
    expect(await fresh.ledger.records()).toEqual([]);
  });

  it('an old in-vault ledger git never carried is imported once, minus records that would release a send', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const ts = new Date().toISOString();
    const lines = [
      { ts, key: 'send_email:EMAIL_O:1', task: 'EMAIL_O', action: 'send_email', kind: 'intent' },
      {
        ts,
        key: 'send_email:EMAIL_O:1',
        task: 'EMAIL_O',
        action: 'send_email',
        kind: 'resolution',
        outcome: 'not_sent',
      },
    ];
    await mkdir(join(w.local.dir, '.fte'), { recursive: true });
    await writeFile(join(w.local.dir, '.fte/ledger.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n'));
    const local = await openLocal(w.local.dir, 'local', smtpEnv(1, w.keyFile));
    expect(local.migration).toEqual({ kind: 'migrated', records: 1, dropped: 1 });
    expect((await local.ledger.state('send_email:EMAIL_O:1')).state).toBe('uncertain');
    const again = await openLocal(w.local.dir, 'local', smtpEnv(1, w.keyFile));
    expect(again.migration).toEqual({ kind: 'none' });
    expect(await again.ledger.records()).toHaveLength(1);
  });

  it('the handbook may lower the hourly limit, never raise it, and is never read through a link', async () => {
    const w = await world();
    const handbook = join(w.local.dir, 'Company_Handbook.md');
    await writeFile(handbook, '## Limits\n- At most 1000 emails per hour.\n');
    expect((await loadExecutorConfig({}, w.local.dir)).emailsPerHour).toBe(10);
    expect((await loadExecutorConfig({ FTE_EMAIL_RATE_PER_HOUR: '3' }, w.local.dir)).emailsPerHour).toBe(3);
    await writeFile(handbook, '## Limits\n- At most 2 emails per hour.\n');
    expect((await loadExecutorConfig({}, w.local.dir)).emailsPerHour).toBe(2);
    expect((await loadExecutorConfig({ FTE_EMAIL_RATE_PER_HOUR: '50' }, w.local.dir)).emailsPerHour).toBe(2);
    // The laptop's own config file counts as local; unknown keys in it are refused.
    const file = join(w.root, 'other-config', 'executor.json');
    await mkdir(join(w.root, 'other-config'), { recursive: true });
    await writeFile(file, JSON.stringify({ emails_per_hour: 1 }));
    expect((await loadExecutorConfig({ FTE_EXECUTOR_CONFIG: file }, w.local.dir)).emailsPerHour).toBe(1);
    await writeFile(file, JSON.stringify({ emails_per_hour: 1, from_handbook: true }));
    await expect(loadExecutorConfig({ FTE_EXECUTOR_CONFIG: file }, w.local.dir)).rejects.toThrow(
      /from_handbook/,
    );
    // A handbook that is a link to a file outside the vault is not read.
    const outside = join(w.root, 'outside.md');
    await writeFile(outside, 'At most 1 emails per hour\n');
    await rm(handbook);
    await symlink(outside, handbook);
    expect((await loadExecutorConfig({}, w.local.dir)).emailsPerHour).toBe(10);

    // End to end: the cloud's handbook says 1000, the laptop says 2: two of three go out.
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await rm(handbook);
    await git(w.local.dir, 'checkout', '--', 'Company_Handbook.md');
    await writeFile(join(w.cloud.dir, 'Company_Handbook.md'), '- At most 1000 emails per hour.\n');
    await cloudPushes(w, 'cloud: handbook');
    await approvedTasks(w, key, ['EMAIL_1', 'EMAIL_2', 'EMAIL_3']);
    const run = await runCli(
      ['executor', '--vault', w.local.dir, '--once'],
      smtpEnv(smtp.port, w.keyFile, { FTE_EMAIL_RATE_PER_HOUR: '2' }),
    );
    expect(run.code).toBe(0);
    expect(smtp.received).toHaveLength(2);
  });

  it('a rejected task stays rejected: its earlier signed approval, replayed by the cloud, is never executed', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approvedTasks(w, key, ['EMAIL_J']);
    const signed = await readFile(join(w.local.dir, 'Approved/EMAIL_J.md'), 'utf8');
    const reject = await runCli(
      ['reject', 'EMAIL_J', '--vault', w.local.dir, '--reason', 'changed my mind'],
      smtpEnv(1, w.keyFile),
    );
    expect(reject.code).toBe(0);
    await executive(w, key, undefined).pass();
    expect((await (await localLedger(w)).forTask('EMAIL_J')).map((r) => r.kind)).toEqual([
      'approved',
      'rejected',
    ]);

    await cloudPulls(w);
    await writeFile(join(w.cloud.dir, 'Approved/EMAIL_J.md'), signed);
    await rm(join(w.cloud.dir, 'Rejected/EMAIL_J.md'));
    await cloudPushes(w, 'local: approve EMAIL_J');

    const report = await executive(w, key, smtp.port).pass();
    expect(report.sent).toEqual([]);
    expect(report.refused).toMatchObject([
      { id: 'EMAIL_J', reason: expect.stringMatching(/owner's later decision stands: rejected/) },
    ]);
    expect(smtp.connections()).toBe(0);
    expect(await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_J.md'))).toMatchObject({
      status: 'refused',
    });
  });

  it('a FIFO, a huge file and a link in Approved/ are skipped and reported; the other approvals still send', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approvedTasks(w, key, ['EMAIL_A1', 'EMAIL_A2']);
    await cloudPulls(w);
    await writeFile(
      join(w.cloud.dir, 'Approved/HUGE.md'),
      `---\ntype: x\n---\n${'x'.repeat(6 * 1024 * 1024)}`,
    );
    await symlink(w.keyFile, join(w.cloud.dir, 'Approved/LINK.md'));
    await cloudPushes(w, 'cloud: junk');
    await cloudPulls(w);
    await exec('mkfifo', [join(w.local.dir, 'Approved/FIFO.md')]);

    const report = await executive(w, key, smtp.port).pass();
    expect(report.sent.map((s) => s.id).sort()).toEqual(['EMAIL_A1', 'EMAIL_A2']);
    expect(handledLinks(report).sort()).toEqual(
      expect.arrayContaining(['Approved/FIFO.md', 'Approved/HUGE.md', 'Approved/LINK.md']),
    );
    expect(smtp.received.map((m) => m.parsed.messageId).sort()).toEqual(
      [
        stableMessageId('EMAIL_A1', 'owner@example.com'),
        stableMessageId('EMAIL_A2', 'owner@example.com'),
      ].sort(),
    );
    expect(await remoteBlobs(w)).not.toContain(KEY_HEX);
  }, 60_000);

  it('a move into Rejected/ of an approval already sent does not abort the pass: it goes back and is filed', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approvedTasks(w, key, ['EMAIL_V', 'EMAIL_W']);
    const ledger = await localLedger(w);
    const v = decodeApproval(await readFile(join(w.local.dir, 'Approved/EMAIL_V.md'), 'utf8'));
    const keyOf = `send_email:EMAIL_V:${v.data.content_sha256.slice(0, 16)}`;
    const ts = new Date().toISOString();
    await ledger.append({ ts, key: keyOf, task: 'EMAIL_V', action: 'send_email', kind: 'intent' });
    await ledger.append({
      ts,
      key: keyOf,
      task: 'EMAIL_V',
      action: 'send_email',
      kind: 'outcome',
      outcome: 'sent',
    });
    await rename(join(w.local.dir, 'Approved/EMAIL_V.md'), join(w.local.dir, 'Rejected/EMAIL_V.md'));

    const report = await executive(w, key, smtp.port).pass();
    expect(report.refused).toMatchObject([{ id: 'EMAIL_V', reason: expect.stringMatching(/not rejected/) }]);
    expect(report.rejected).toEqual([]);
    expect(report.finished.sort()).toEqual(['EMAIL_V', 'EMAIL_W']);
    expect(report.sent.map((s) => s.id)).toEqual(['EMAIL_W']);
    expect(existsSync(join(w.local.dir, 'Done/EMAIL_V.md'))).toBe(true);
    expect(existsSync(join(w.local.dir, 'Rejected/EMAIL_V.md'))).toBe(false);
    expect(smtp.received).toHaveLength(1);
  });

  it('a move into Rejected/ of an Uncertain approval (intent, no outcome) is refused; the other tasks of the pass still send', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await approvedTasks(w, key, ['EMAIL_U', 'EMAIL_X', 'EMAIL_Y']);
    const ledger = await localLedger(w);
    const u = decodeApproval(await readFile(join(w.local.dir, 'Approved/EMAIL_U.md'), 'utf8'));
    const uKey = `send_email:EMAIL_U:${u.data.content_sha256.slice(0, 16)}`;
    // A kill between the intent and the outcome: nobody knows whether EMAIL_U went out.
    await ledger.append({
      ts: new Date().toISOString(),
      key: uKey,
      task: 'EMAIL_U',
      action: 'send_email',
      kind: 'intent',
    });
    expect((await ledger.state(uKey)).state).toBe('uncertain');
    await rename(join(w.local.dir, 'Approved/EMAIL_U.md'), join(w.local.dir, 'Rejected/EMAIL_U.md'));

    const report = await executive(w, key, smtp.port).pass();
    expect(report.refused).toMatchObject([
      { id: 'EMAIL_U', reason: expect.stringMatching(/not rejected: .*may have been \(uncertain\)/) },
    ]);
    expect(report.rejected).toEqual([]);
    expect(report.sent.map((s) => s.id).sort()).toEqual(['EMAIL_X', 'EMAIL_Y']);
    expect(smtp.received).toHaveLength(2);
    expect(existsSync(join(w.local.dir, 'Rejected/EMAIL_U.md'))).toBe(false);
    expect(existsSync(join(w.local.dir, 'Rejected/EMAIL_U.item.md'))).toBe(false);
    // Never retried: it stays Uncertain for the owner to resolve, with the rejection refusal audited.
    expect((await ledger.state(uKey)).state).toBe('uncertain');
    const refusals = (await auditRecords(w.local.dir)).filter((r) => r.action_type === 'rejection_refused');
    expect(refusals.map((r) => r.task)).toEqual(['EMAIL_U']);
  });

  it('fte approve shows every recipient; a parameter it would not show is refused, and a Gmail id never becomes a header', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await cloudDrafts(w.cloud, 'EMAIL_B', { extra: { cc: 'partner@example.com', bcc: 'boss@example.com' } });
    await cloudDrafts(w.cloud, 'EMAIL_H', { extra: { reply_to: 'attacker@evil.test' } });
    await cloudDrafts(w.cloud, 'EMAIL_G', { inReplyTo: '18c2f3a9b1d2e4f5', references: '18c2f3a9b1d2e4f4' });
    await executive(w, key, undefined).pass();

    const b = await runCli(['approve', 'EMAIL_B', '--vault', w.local.dir], smtpEnv(1, w.keyFile));
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^\s+to\s+client@example\.com$/m);
    expect(b.stdout).toMatch(/^\s+cc\s+partner@example\.com$/m);
    expect(b.stdout).toMatch(/^\s+bcc \(hidden from the others\)\s+boss@example\.com$/m);
    expect(b.stdout).toMatch(/^\s+subject\s+Re: Invoice for January$/m);

    const h = await runCli(['approve', 'EMAIL_H', '--vault', w.local.dir], smtpEnv(1, w.keyFile));
    expect(h.code).not.toBe(0);
    expect(h.stderr).toMatch(/does not show or understand: reply_to/);
    expect(existsSync(join(w.local.dir, 'Approved/EMAIL_H.md'))).toBe(false);

    // The approval schema (core/schemas.ts) refuses a reply id that is not a Message-ID: never signed.
    const g = await runCli(['approve', 'EMAIL_G', '--vault', w.local.dir], smtpEnv(1, w.keyFile));
    expect(g.code).toBe(1);
    expect(g.stderr).toMatch(
      /^fte: .*EMAIL_G\.md is not a valid approval request: .*in_reply_to: must be one RFC 5322 Message-ID/,
    );
    expect(g.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(w.local.dir, 'Approved/EMAIL_G.md'))).toBe(false);

    // Signed by an older version that did not check: refused at execution, never sent.
    const pending = join(w.local.dir, 'Pending_Approval/email/EMAIL_H.md');
    const old = signApproval(key, decodeApproval(await readFile(pending, 'utf8')), {
      now: new Date(),
      by: 'owner',
      via: 'cli',
    });
    await rm(pending);
    await writeFile(join(w.local.dir, 'Approved/EMAIL_H.md'), stringifyMarkdown(old));

    const report = await executive(w, key, smtp.port).pass();
    expect(report.sent.map((s) => s.id).sort()).toEqual(['EMAIL_B']);
    expect(report.refused).toMatchObject([{ id: 'EMAIL_H', reason: expect.stringMatching(/reply_to/) }]);
    const mb = smtp.received.find(
      (m) => m.parsed.messageId === stableMessageId('EMAIL_B', 'owner@example.com'),
    )!;
    expect(mb.envelopeTo.sort()).toEqual(['boss@example.com', 'client@example.com', 'partner@example.com']);
    expect(mb.raw).not.toMatch(/^bcc:/im);
    expect(mb.raw).not.toContain('boss@example.com');
    // (buildReply drops such ids with a note for an approval that bypassed the schema: signature.test.ts.)
    expect(smtp.received.some((m) => m.raw.includes('18c2f3a9b1d2e4f'))).toBe(false);
  });
});

/** Links and special files the pass kept away from: reported by the executor, or quarantined by the git owner. */
function handledLinks(report: PassReport): string[] {
  return [...report.unsafe.map((u) => u.path), ...report.sync.flatMap((s) => s.quarantinedLinks ?? [])];
}
