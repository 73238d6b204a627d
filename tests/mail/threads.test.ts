import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeItem } from '../../core/codec.js';
import { taskIdForMessageId } from '../../operator/email/item.js';
import { type DovecotServer, imapAppend, rawMessage, startDovecot } from '../harness/mail.js';
import { commitSubjects, emailItems, filesIn, read, watchedVault } from './helpers.js';

/** A reply in the thread of an open task is attached to it: no second item, so no second draft. */

let dovecot: DovecotServer;
beforeAll(async () => {
  dovecot = await startDovecot({ users: [{ name: 'threads', password: 'pw' }] });
});
afterAll(async () => {
  await dovecot?.destroy();
});

describe('threads', () => {
  test('follow-ups attach to the open task; after it is done, a reply starts a new linked task', async () => {
    const account = dovecot.account('threads');
    const vault = await watchedVault(account);
    const original = '<order-1@customer.test>';
    const task = taskIdForMessageId(original);
    await imapAppend(
      account,
      rawMessage({ messageId: original, subject: 'Order 1', body: 'I want 3 chairs.\n' }),
    );
    await vault.watcher().runOnce();
    expect(await emailItems(vault.dir)).toEqual([`Needs_Action/email/${task}.md`]);

    // A follow-up while the item still waits in Needs_Action/.
    const reply1 = '<order-1-reply-1@customer.test>';
    await imapAppend(
      account,
      rawMessage({
        messageId: reply1,
        inReplyTo: original,
        references: original,
        subject: 'Re: Order 1',
        body: 'Make it 4 chairs.\n',
      }),
    );
    await vault.watcher().runOnce();
    expect(await emailItems(vault.dir)).toEqual([`Needs_Action/email/${task}.md`]);
    let item = decodeItem(await read(vault.dir, `Needs_Action/email/${task}.md`));
    expect(item.data.followup_message_ids).toEqual([reply1]);
    expect(item.body).toContain('I want 3 chairs.');
    expect(item.body).toMatch(/## Follow-up .* from `Client <client@customer\.test>`/);
    expect(item.body).toContain('Make it 4 chairs.');
    expect((await commitSubjects(vault.dir))[0]).toBe(`cloud: followup ${task}`);
    const updates = await filesIn(vault.dir, 'Updates');
    expect(updates).toEqual([expect.stringMatching(new RegExp(`_cloud_info_${task}\\.md$`))]);
    expect(await read(vault.dir, updates[0]!)).toContain(`attached to ${task}`);

    // The operator claims it and asks for approval; a second follow-up answers the first one.
    expect((await vault.repo.claim(task)).result).toBe('won');
    await mkdir(join(vault.dir, 'Pending_Approval/email'), { recursive: true });
    await vault.repo.change(`cloud: draft ${task}`, async () => {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(
        join(vault.dir, `Pending_Approval/email/${task}.md`),
        '---\ntype: approval_request\n---\n\ndraft\n',
      );
      return [`Pending_Approval/email/${task}.md`];
    });
    const reply2 = '<order-1-reply-2@customer.test>';
    await imapAppend(
      account,
      rawMessage({
        messageId: reply2,
        inReplyTo: reply1,
        references: `${original} ${reply1}`,
        subject: 'Re: Order 1',
        body: 'And a table.\n',
      }),
    );
    await vault.watcher().runOnce();
    await vault.watcher().runOnce();
    expect(await emailItems(vault.dir)).toEqual([]);
    item = decodeItem(await read(vault.dir, `In_Progress/cloud/${task}.md`));
    expect(item.data.followup_message_ids).toEqual([reply1, reply2]);
    expect(item.body).toContain('And a table.');
    expect(item.body.match(/## Follow-up/g)).toHaveLength(2);

    // The owner approved, Local sent and finished it: a reply now needs a new answer, linked to the old task.
    await mkdir(join(vault.dir, 'Done'), { recursive: true });
    await rename(join(vault.dir, `Pending_Approval/email/${task}.md`), join(vault.dir, `Done/${task}.md`));
    await rename(join(vault.dir, `In_Progress/cloud/${task}.md`), join(vault.dir, `Done/${task}.item.md`));
    await vault.repo.commit(`local: done ${task}`);
    const reply3 = '<order-1-reply-3@customer.test>';
    await imapAppend(
      account,
      rawMessage({
        messageId: reply3,
        inReplyTo: '<fte-0123@example.test>',
        references: `${original} ${reply1} ${reply2} <fte-0123@example.test>`,
        subject: 'Re: Order 1',
        body: 'Thanks! When does it ship?\n',
      }),
    );
    await vault.watcher().runOnce();
    const items = await emailItems(vault.dir);
    expect(items).toEqual([`Needs_Action/email/${taskIdForMessageId(reply3)}.md`]);
    const fresh = decodeItem(await read(vault.dir, items[0]!));
    expect(fresh.data).toMatchObject({ thread_task: task, in_reply_to: '<fte-0123@example.test>' });
    expect(vault.outcomes.map((o) => o.kind)).toEqual(['created', 'followup', 'followup', 'created']);
  });

  test('a reply to a message the vault never saw is a new task', async () => {
    const account = dovecot.account('threads');
    const vault = await watchedVault(account, { sinceDays: 0 });
    await vault.watcher().runOnce();
    await imapAppend(
      account,
      rawMessage({
        messageId: '<x-2@customer.test>',
        inReplyTo: '<unknown@elsewhere.test>',
        subject: 'Re: something old',
      }),
    );
    await vault.watcher().runOnce();
    const items = await emailItems(vault.dir);
    expect(items).toHaveLength(1);
    expect(decodeItem(await read(vault.dir, items[0]!)).data.thread_task).toBeUndefined();
  });
});
