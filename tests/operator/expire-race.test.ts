import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { approveTask } from '../../executor/decisions.js';
import { TemplateDrafter } from '../../operator/drafters/template.js';
import { Operator } from '../../operator/operator.js';
import { taskName } from '../../operator/task.js';
import { executive, git, ownerContext, smtpServer, testKey, world } from '../executor/helpers.js';
import { itemText } from '../helpers/vaults.js';

/**
 * operator/reconciler.ts expire: the cloud decides an approval expired while the owner's move into
 * Approved/ is on its way. When the owner's push lands between the cloud's pull and the cloud's push, the
 * cloud's "expire" commit no longer applies on top of the remote: the owner's decision stands and the
 * expiry is dropped (core/vault-repo.ts YIELDING_COMMIT), never both an approval and a rejection.
 */

const EMAIL = itemText(
  {
    type: 'email',
    from: 'Jane Client <client@example.com>',
    subject: 'Invoice for January',
    received: '2026-01-07T10:30:00Z',
    message_id: '<race@mail.example.com>',
    priority: 'high',
    status: 'pending',
  },
  '## Email Content\nHi, could you send me the January invoice?\n',
);

function operator(vault: string, clock: () => Date): Operator {
  return new Operator({
    vault,
    agent: 'cloud',
    drafter: new TemplateDrafter(),
    logger: pino({ level: 'silent' }),
    clock,
    backoff: { baseMs: 1, maxMs: 10 },
  });
}

async function remoteTree(remote: string): Promise<string[]> {
  return (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n').filter(Boolean);
}

describe('the cloud expires an approval the owner has just approved', () => {
  it("the owner's push lands first: the cloud's expire commit is dropped and the approval is executed", async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const smtp = await smtpServer();
    const drafted = new Date();
    await writeFile(join(w.cloud.dir, 'Needs_Action/email/EMAIL_E.md'), EMAIL);
    await operator(w.cloud.dir, () => drafted).runOnce();
    expect(await remoteTree(w.remote)).toContain('Pending_Approval/email/EMAIL_E.md');

    // The owner approves on the laptop (committed there, not pushed yet).
    await executive(w, key, undefined).pass();
    const ctx = ownerContext(w);
    await approveTask(ctx, key, 'EMAIL_E', 'cli');
    await executive(w, key, undefined, { sync: false }).pass();
    expect(await git(w.local.dir, 'log', '--format=%s', 'origin/main..HEAD')).toMatch(
      /^local: approve EMAIL_E$/m,
    );

    // The laptop's push lands right after the cloud committed its expiry and before the cloud pushes it:
    // the cloud clone's post-commit hook pushes the laptop's approval at that moment.
    const hook = join(w.cloud.dir, '.git', 'hooks', 'post-commit');
    await writeFile(
      hook,
      [
        '#!/bin/sh',
        'case "$(git log -1 --format=%s)" in',
        `  "cloud: expire EMAIL_E") env -u GIT_DIR -u GIT_INDEX_FILE -u GIT_WORK_TREE -u GIT_PREFIX git -C '${w.local.dir}' push --quiet origin HEAD:main >> '${w.root}/hook.log' 2>&1 && echo pushed >> '${w.root}/hook.log' ;;`,
        'esac',
        '',
      ].join('\n'),
    );
    await chmod(hook, 0o755);

    const late = new Date(drafted.getTime() + 49 * 3_600_000);
    const report = await operator(w.cloud.dir, () => late).runOnce();
    expect(report.steps).toMatchObject({ expire: 1 });
    expect(existsSync(join(w.root, 'hook.log'))).toBe(true);
    expect(report.sync).toEqual({ before: 'synced', after: 'synced' });

    // The remote holds the owner's approval only: no expiry commit, nothing in Rejected/.
    const tree = await remoteTree(w.remote);
    expect(tree).toContain('Approved/EMAIL_E.md');
    expect(tree.filter((p) => p.startsWith('Rejected/EMAIL_E'))).toEqual([]);
    expect(tree).not.toContain('Pending_Approval/email/EMAIL_E.md');
    const subjects = await git(w.remote, 'log', '--format=%s', 'main');
    expect(subjects).toMatch(/^local: approve EMAIL_E$/m);
    expect(subjects).not.toMatch(/expire EMAIL_E/);
    expect(existsSync(join(w.cloud.dir, 'Rejected/EMAIL_E.md'))).toBe(false);
    expect(await git(w.cloud.dir, 'status', '--porcelain')).toBe('');

    // The cloud's next pass does not expire it again; the laptop executes the owner's decision.
    const next = operator(w.cloud.dir, () => late);
    const again = await next.runOnce();
    expect(again.steps.expire).toBeUndefined();
    expect((await next.store.get(taskName('EMAIL_E')))?.status?.phase).toBe('Approved');
    const sent = await executive(w, key, smtp.port).pass();
    expect(sent.sent.map((s) => s.id)).toEqual(['EMAIL_E']);
    expect(smtp.received).toHaveLength(1);
    expect(existsSync(join(w.local.dir, 'Done/EMAIL_E.md'))).toBe(true);
    expect(existsSync(join(w.local.dir, 'Rejected/EMAIL_E.md'))).toBe(false);
  });
});
