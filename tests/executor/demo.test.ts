import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../core/audit.js';
import { stableMessageId } from '../../executor/email.js';
import { git, runCli, tempDir } from './helpers.js';

describe('fte demo (make demo): the Platinum scenario', () => {
  it('runs end to end against its loopback SMTP server and a bare git remote, and leaves the evidence', async () => {
    const dir = join(await tempDir(), 'demo');
    const env = {
      ...process.env,
      SMTP_PASSWORD: 'must-not-reach-the-cloud',
      FTE_APPROVAL_KEY_FILE: '/nonexistent/x.key',
    };
    const run = await runCli(['demo', '--keep', '--dir', dir], env, 120_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const n of [1, 2, 3, 4, 5, 6, 7]) expect(run.stdout).toContain(`[${n}/7]`);
    expect(run.stdout).toMatch(/Local goes offline/);
    expect(run.stdout).toMatch(/`fte approve EMAIL_[0-9a-f]{20}`/);
    expect(run.stdout).toMatch(/=== The message the SMTP server accepted/);
    expect(run.stdout).toMatch(/=== Audit records/);
    expect(run.stdout).toMatch(/=== Task history[\s\S]*local: done EMAIL_[\s\S]*cloud: draft EMAIL_/);

    // The message the SMTP server accepted.
    const [eml, ...more] = (await readdir(join(dir, 'outbox'))).sort();
    expect(more).toEqual([]);
    const mail = await simpleParser(await readFile(join(dir, 'outbox', eml!)));
    const id = /Done\/(EMAIL_[0-9a-f]{20})\.md too: true/.exec(run.stdout)?.[1];
    expect(id).toBeDefined();
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address) : []).toEqual([
      'client@example.com',
    ]);
    expect(mail.subject).toBe('Re: Invoice for January');
    expect(mail.inReplyTo).toBe('<invoice-jan-2026@mail.example.com>');
    expect(mail.references).toBe('<invoice-jan-2026@mail.example.com>');
    expect(mail.messageId).toBe(stableMessageId(id!, 'owner@example.com'));
    // The draft the cloud's drafter wrote, with the owner's edit (the template notice removed) signed and sent.
    expect(mail.text).toMatch(/Invoice for January[\s\S]*the team\n?$/);
    expect(mail.text).not.toContain('[fte template draft');

    // The audit records.
    const local = join(dir, 'local');
    const all = await new AuditLog(local).read(new Date());
    expect(all.filter((r) => r.actor === 'cloud').map((r) => r.action_type)).toContain('approval_requested');
    const records = all.filter((r) => r.actor === 'local');
    expect(records.map((r) => [r.action_type, r.result])).toEqual([
      ['approval_granted', 'signed'],
      ['email_send', 'sent'],
    ]);
    expect(records[0]).toMatchObject({ task: id, parameters: { edited_by_owner: true } });
    expect(records[1]).toMatchObject({ task: id, target: 'client@example.com', approved_by: 'owner' });

    // The final folders, in both clones and on the remote.
    for (const clone of [local, join(dir, 'cloud')]) {
      expect(existsSync(join(clone, 'Done', `${id}.md`))).toBe(true);
      expect(existsSync(join(clone, 'Done', `${id}.item.md`))).toBe(true);
      expect(existsSync(join(clone, 'Approved', `${id}.md`))).toBe(false);
      expect(existsSync(join(clone, 'Pending_Approval', 'email', `${id}.md`))).toBe(false);
      expect(existsSync(join(clone, 'In_Progress', 'cloud', `${id}.md`))).toBe(false);
    }
    const status = await runCli(['status', '--vault', local, '--json'], process.env);
    expect(JSON.parse(status.stdout)).toMatchObject([{ id, phase: 'Done', domain: 'email' }]);
    // The approval key was created where the demo put it, outside both vaults, and never committed.
    const keyPath = join(dir, 'local-config', 'approval.key');
    expect(existsSync(keyPath)).toBe(true);
    // Not in any commit of the remote: neither the file (its blob) nor its bytes inside another file.
    const remote = join(dir, 'remote.git');
    const blob = (await git(remote, 'hash-object', keyPath)).trim();
    const objects = await git(remote, 'rev-list', '--all', '--objects');
    expect(objects).not.toContain(blob);
    const keyText = (await readFile(keyPath, 'utf8')).trim();
    expect(keyText.length).toBeGreaterThan(16);
    expect(await git(remote, 'log', '--all', '-p', '--format=%s')).not.toContain(keyText);
    expect(await git(join(dir, 'remote.git'), 'ls-tree', '-r', '--name-only', 'main')).not.toMatch(
      /\.key$|ledger/m,
    );
  }, 120_000);
});
