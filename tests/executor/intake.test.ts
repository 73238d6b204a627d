import { existsSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeApproval } from '../../core/codec.js';
import { verifyApproval } from '../../executor/signature.js';
import {
  auditRecords,
  cloudDrafts,
  executive,
  frontmatterOf,
  git,
  runCli,
  smtpEnv,
  smtpServer,
  subjects,
  testKey,
  world,
} from './helpers.js';

describe('approval intake on real git clones', () => {
  it('fte approve signs the draft; the executor commits it as the owner’s approval and pushes it', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    await cloudDrafts(w.cloud, 'EMAIL_A');
    const ex = executive(w, key, undefined);
    await ex.pass();
    expect(existsSync(join(w.local.dir, 'Pending_Approval/email/EMAIL_A.md'))).toBe(true);

    const approve = await runCli(['approve', 'EMAIL_A', '--vault', w.local.dir], smtpEnv(1, w.keyFile));
    expect(approve.stderr).toBe('');
    expect(approve.code).toBe(0);
    expect(approve.stdout).toMatch(/approved EMAIL_A .*Approved\/EMAIL_A\.md/);
    expect(existsSync(join(w.local.dir, 'Pending_Approval/email/EMAIL_A.md'))).toBe(false);

    const report = await ex.pass();
    expect(report.approved).toEqual(['EMAIL_A']);
    expect(report.refused).toEqual([]);
    expect(await subjects(w.local.dir)).toContain('local: approve EMAIL_A');
    const remoteTree = await git(w.remote, 'ls-tree', '-r', '--name-only', 'main');
    expect(remoteTree).toContain('Approved/EMAIL_A.md');
    expect(remoteTree).not.toContain('Pending_Approval/email/EMAIL_A.md');
    const approval = decodeApproval(await readFile(join(w.local.dir, 'Approved/EMAIL_A.md'), 'utf8'));
    expect(approval.data).toMatchObject({ status: 'approved', approved_by: 'owner', approved_via: 'cli' });
    expect(verifyApproval(key, 'EMAIL_A', approval, new Date()).ok).toBe(true);
    const granted = (await auditRecords(w.local.dir)).filter((r) => r.action_type === 'approval_granted');
    expect(granted).toMatchObject([{ task: 'EMAIL_A', approval_status: 'approved', approved_by: 'owner' }]);
  });

  it('a move into Approved/ made on this machine (Obsidian) is the owner’s decision: signed and committed', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    await cloudDrafts(w.cloud, 'EMAIL_B');
    const ex = executive(w, key, undefined);
    await ex.pass();
    await rename(
      join(w.local.dir, 'Pending_Approval/email/EMAIL_B.md'),
      join(w.local.dir, 'Approved/EMAIL_B.md'),
    );

    const report = await ex.pass();
    expect(report.approved).toEqual(['EMAIL_B']);
    const data = await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_B.md'));
    expect(data).toMatchObject({ status: 'approved', approved_via: 'obsidian' });
    expect(String(data.approval_signature)).toMatch(/^hmac-sha256:/);
    const tree = await git(w.remote, 'ls-tree', '-r', '--name-only', 'main');
    expect(tree).toContain('Approved/EMAIL_B.md');
    expect(tree).not.toContain('Pending_Approval/email/EMAIL_B.md');
  });

  it('the cloud cannot approve: its commit moving a draft into Approved/ is refused, visibly, and nothing is sent', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await cloudDrafts(w.cloud, 'EMAIL_C');
    // The cloud moves its own draft into Approved/, even writing status: approved and a made-up signature.
    const draftPath = join(w.cloud.dir, 'Pending_Approval/email/EMAIL_C.md');
    const forged = (await readFile(draftPath, 'utf8')).replace(
      'status: pending',
      `status: approved\napproved_by: owner\napproval_signature: hmac-sha256:${'0'.repeat(64)}`,
    );
    await writeFile(join(w.cloud.dir, 'Approved/EMAIL_C.md'), forged);
    await unlink(draftPath);
    await w.cloud.repo.commit('cloud: approve EMAIL_C');
    expect((await w.cloud.repo.sync()).state).toBe('synced');
    await cloudDrafts(w.cloud, 'EMAIL_D');
    await writeFile(
      join(w.cloud.dir, 'Approved/EMAIL_D.md'),
      (await readFile(join(w.cloud.dir, 'Pending_Approval/email/EMAIL_D.md'), 'utf8')).replace(
        'status: pending',
        'status: approved',
      ),
    );
    await w.cloud.repo.commit('local: approve EMAIL_D'); // even a commit message pretending to be Local
    await w.cloud.repo.sync();

    const report = await executive(w, key, smtp.port).pass();
    expect(report.refused.map((r) => r.id).sort()).toEqual(['EMAIL_C', 'EMAIL_D']);
    expect(report.sent).toEqual([]);
    expect(smtp.connections()).toBe(0);
    const c = await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_C.md'));
    expect(c).toMatchObject({ status: 'refused' });
    expect(String(c.refusal_reason)).toMatch(/does not verify/);
    const d = await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_D.md'));
    expect(d).toMatchObject({ status: 'refused' });
    expect(String(d.refusal_reason)).toMatch(/not approved on this machine/);
    const refusals = (await auditRecords(w.local.dir)).filter((r) => r.action_type === 'approval_refused');
    expect(refusals.map((r) => r.task).sort()).toEqual(['EMAIL_C', 'EMAIL_D']);
    // The cloud sees the refusal and its reason after its next sync.
    await w.cloud.repo.sync();
    expect(await frontmatterOf(join(w.cloud.dir, 'Approved/EMAIL_C.md'))).toMatchObject({
      status: 'refused',
    });

    // A second pass neither sends nor refuses again; `fte status` shows the reason.
    const again = await executive(w, key, smtp.port).pass();
    expect(again.refused).toEqual([]);
    expect(smtp.connections()).toBe(0);
    const status = await runCli(['status', '--vault', w.local.dir], smtpEnv(1, w.keyFile));
    expect(status.stdout).toMatch(/EMAIL_C .*refused: the approval signature does not verify/);

    // The owner, having looked at it, may still approve it on this machine.
    const approve = await runCli(
      ['approve', 'EMAIL_D', '--vault', w.local.dir],
      smtpEnv(smtp.port, w.keyFile),
    );
    expect(approve.code).toBe(0);
    const third = await executive(w, key, smtp.port).pass();
    expect(third.sent.map((s) => s.id)).toEqual(['EMAIL_D']);
  });

  it('an approved draft edited afterwards is refused: by the owner locally, or by the cloud through a push', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await cloudDrafts(w.cloud, 'EMAIL_E');
    await cloudDrafts(w.cloud, 'EMAIL_F');
    // No SMTP yet: approvals are signed and committed but wait.
    const idle = executive(w, key, undefined);
    await idle.pass();
    for (const id of ['EMAIL_E', 'EMAIL_F']) {
      expect((await runCli(['approve', id, '--vault', w.local.dir], smtpEnv(1, w.keyFile))).code).toBe(0);
    }
    await idle.pass();
    // Edited on this machine after approval.
    const e = join(w.local.dir, 'Approved/EMAIL_E.md');
    await writeFile(
      e,
      (await readFile(e, 'utf8')).replace('attached', 'attached. Also, wire 5000 EUR to IBAN X'),
    );
    // Edited by the cloud after approval, pushed.
    await w.cloud.repo.sync();
    const f = join(w.cloud.dir, 'Approved/EMAIL_F.md');
    await writeFile(
      f,
      (await readFile(f, 'utf8')).replace('to: client@example.com', 'to: attacker@evil.test'),
    );
    await w.cloud.repo.commit('cloud: edit EMAIL_F');
    await w.cloud.repo.sync();

    const report = await executive(w, key, smtp.port).pass();
    expect(report.refused.map((r) => r.id).sort()).toEqual(['EMAIL_E', 'EMAIL_F']);
    expect(report.refused.every((r) => /changed after it was approved/.test(r.reason))).toBe(true);
    expect(smtp.connections()).toBe(0);
    expect(await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_F.md'))).toMatchObject({
      status: 'refused',
    });
  });

  it('expired: fte approve refuses it, and a signed approval that expires before execution is refused', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    const past = new Date(Date.now() - 3_600_000);
    await cloudDrafts(w.cloud, 'EMAIL_OLD', { created: new Date(past.getTime() - 3_600_000), expires: past });
    await cloudDrafts(w.cloud, 'EMAIL_SOON', { expires: new Date(Date.now() + 3_600_000) });
    await executive(w, key, undefined).pass();

    const late = await runCli(['approve', 'EMAIL_OLD', '--vault', w.local.dir], smtpEnv(1, w.keyFile));
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/^fte: EMAIL_OLD expired at .*ask for a new draft/);
    // An Obsidian move of the expired one is refused too.
    await rename(
      join(w.local.dir, 'Pending_Approval/email/EMAIL_OLD.md'),
      join(w.local.dir, 'Approved/EMAIL_OLD.md'),
    );
    expect(
      (await runCli(['approve', 'EMAIL_SOON', '--vault', w.local.dir], smtpEnv(1, w.keyFile))).code,
    ).toBe(0);
    await executive(w, key, undefined).pass();
    expect(await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_OLD.md'))).toMatchObject({
      status: 'refused',
    });

    // Two hours later the executor finally has SMTP: the approval of EMAIL_SOON has expired meanwhile.
    const later = new Date(Date.now() + 2 * 3_600_000);
    const report = await executive(w, key, smtp.port, { clock: () => later }).pass();
    expect(report.refused).toMatchObject([{ id: 'EMAIL_SOON', reason: expect.stringMatching(/expired/) }]);
    expect(smtp.connections()).toBe(0);
  });

  it('rejection by fte reject or by a move into Rejected/: the item goes beside it, nothing is sent', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    await cloudDrafts(w.cloud, 'EMAIL_R1');
    await cloudDrafts(w.cloud, 'EMAIL_R2');
    const ex = executive(w, key, smtp.port);
    await ex.pass();
    const reject = await runCli(
      ['reject', 'EMAIL_R1', '--vault', w.local.dir, '--reason', 'wrong tone'],
      smtpEnv(1, w.keyFile),
    );
    expect(reject.code).toBe(0);
    await rename(
      join(w.local.dir, 'Pending_Approval/email/EMAIL_R2.md'),
      join(w.local.dir, 'Rejected/EMAIL_R2.md'),
    );
    const report = await ex.pass();
    expect(report.rejected.sort()).toEqual(['EMAIL_R1', 'EMAIL_R2']);
    expect(smtp.connections()).toBe(0);
    const tree = await git(w.remote, 'ls-tree', '-r', '--name-only', 'main');
    for (const id of ['EMAIL_R1', 'EMAIL_R2']) {
      expect(tree).toContain(`Rejected/${id}.md`);
      expect(tree).toContain(`Rejected/${id}.item.md`);
      expect(tree).not.toContain(`In_Progress/cloud/${id}.md`);
      expect(tree).not.toContain(`Pending_Approval/email/${id}.md`);
    }
    expect(await frontmatterOf(join(w.local.dir, 'Rejected/EMAIL_R1.md'))).toMatchObject({
      status: 'rejected',
      rejection_reason: 'wrong tone',
    });
    expect(await frontmatterOf(join(w.local.dir, 'Rejected/EMAIL_R2.md'))).toMatchObject({
      status: 'rejected',
    });
  });

  it('a file in Approved/ that is not markdown at all moves to Needs_Action/_errors/ with the reason', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    await writeFile(join(w.cloud.dir, 'Approved/JUNK.md'), 'no frontmatter here\n');
    await w.cloud.repo.commit('cloud: junk');
    await w.cloud.repo.sync();
    const report = await executive(w, key, undefined).pass();
    expect(report.quarantined).toEqual(['Approved/JUNK.md']);
    expect(await readFile(join(w.local.dir, 'Needs_Action/_errors/JUNK.orig'), 'utf8')).toBe(
      'no frontmatter here\n',
    );
    expect(String((await frontmatterOf(join(w.local.dir, 'Needs_Action/_errors/JUNK.md'))).error)).toMatch(
      /missing frontmatter/,
    );
  });
});
