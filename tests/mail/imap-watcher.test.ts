import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeItem } from '../../core/codec.js';
import {
  type DovecotServer,
  imapAddFlags,
  imapAppend,
  imapRead,
  rawMessage,
  startDovecot,
} from '../harness/mail.js';
import { commitSubjects, emailItems, read, runInBackground, waitFor, watchedVault } from './helpers.js';

/** Real Dovecot on loopback: exactly one vault item per message, whatever happens to the watcher or the server. */

let dovecot: DovecotServer;
let userCount = 0;
const users = Array.from({ length: 12 }, (_, i) => ({ name: `owner${i}`, password: `pw-${i}` }));

beforeAll(async () => {
  dovecot = await startDovecot({ users });
});
afterAll(async () => {
  await dovecot?.destroy();
});

/** Each test gets its own mailbox. */
function freshAccount() {
  const user = users[userCount++];
  if (!user) throw new Error('add more test users');
  return dovecot.account(user.name);
}

describe('IMAP watcher against Dovecot', () => {
  test('a message appended to INBOX becomes exactly one item, also across a watcher restart', async () => {
    const account = freshAccount();
    const vault = await watchedVault(account);
    const messageId = '<first-1@customer.test>';
    await imapAppend(
      account,
      rawMessage({ messageId, subject: 'Invoice for January', body: 'Please send the invoice.\n' }),
    );

    await vault.watcher().runOnce();
    const items = await emailItems(vault.dir);
    expect(items).toHaveLength(1);
    const item = decodeItem(await read(vault.dir, items[0]!));
    expect(item.data).toMatchObject({
      type: 'email',
      from: 'Client <client@customer.test>',
      to: 'Owner <owner@example.test>',
      subject: 'Invoice for January',
      message_id: messageId,
      status: 'pending',
    });
    expect(item.body).toContain('Please send the invoice.');
    expect((await commitSubjects(vault.dir))[0]).toBe(
      `cloud: intake ${items[0]!.split('/').pop()!.replace(/\.md$/, '')}`,
    );

    // A second and a third watcher (new processes, same clone): nothing new.
    await vault.watcher().runOnce();
    await vault.watcher().runOnce();
    expect(await emailItems(vault.dir)).toEqual(items);

    // The watcher never marks the message read (EXAMINE, BODY.PEEK).
    const [stored] = await imapRead(account);
    expect(stored?.flags).not.toContain('\\Seen');
  });

  test('a message marked \\Seen before the watcher runs is still taken in, once', async () => {
    const account = freshAccount();
    const vault = await watchedVault(account);
    const uid = await imapAppend(
      account,
      rawMessage({ messageId: '<read-on-phone@customer.test>', subject: 'Read on my phone' }),
    );
    await imapAddFlags(account, uid, ['\\Seen']);
    const alsoSeen = await imapAppend(account, rawMessage({ subject: 'Appended already read' }), {
      flags: ['\\Seen'],
    });
    expect(alsoSeen).toBeGreaterThan(uid);

    await vault.watcher().runOnce();
    await vault.watcher().runOnce();
    const items = await emailItems(vault.dir);
    expect(items).toHaveLength(2);
    const subjects = await Promise.all(
      items.map(async (p) => decodeItem(await read(vault.dir, p)).data.subject),
    );
    expect(subjects.sort()).toEqual(['Appended already read', 'Read on my phone']);
  });

  test('a running watcher picks up new mail through IDLE; a restart in between neither loses nor repeats', async () => {
    const account = freshAccount();
    // Poll rarely: only IDLE can make this test fast.
    const vault = await watchedVault(account, { pollMs: 60_000 });
    const watcher = vault.watcher();
    const first = runInBackground(watcher);
    await waitFor('the watcher to idle', async () => watcher.status().idle);
    await imapAppend(account, rawMessage({ messageId: '<idle-1@customer.test>', subject: 'one' }));
    await waitFor('one item', async () => (await emailItems(vault.dir)).length === 1);
    await first.stop();

    await imapAppend(account, rawMessage({ messageId: '<idle-2@customer.test>', subject: 'two' }));
    const second = runInBackground(vault.watcher());
    await waitFor('two items', async () => (await emailItems(vault.dir)).length === 2);
    await imapAppend(account, rawMessage({ messageId: '<idle-3@customer.test>', subject: 'three' }));
    await waitFor('three items', async () => (await emailItems(vault.dir)).length === 3);
    // Mail that lands while the watcher is busy taking in the previous one is not left for the next poll.
    for (let i = 4; i <= 8; i++) {
      await imapAppend(
        account,
        rawMessage({ messageId: `<idle-${i}@customer.test>`, subject: `burst ${i}` }),
      );
    }
    await waitFor('eight items', async () => (await emailItems(vault.dir)).length === 8);
    await second.stop();
    expect(vault.outcomes.map((o) => o.kind)).toEqual(Array(8).fill('created'));
  });

  test('the IMAP server stopped and restarted under a running watcher: nothing lost, nothing duplicated', async () => {
    const account = freshAccount();
    const vault = await watchedVault(account, { pollMs: 300 });
    const watcher = vault.watcher();
    const running = runInBackground(watcher);
    try {
      await imapAppend(account, rawMessage({ messageId: '<before-stop@customer.test>', subject: 'before' }));
      await waitFor('the first item', async () => (await emailItems(vault.dir)).length === 1);
      expect(watcher.status().lastError).toBeUndefined();

      await dovecot.stop();
      // The watcher saw the outage: it lost its connection and a reconnect found the port closed.
      await waitFor('a refused reconnect', async () => {
        const status = watcher.status();
        return !status.connected && /ECONNREFUSED/.test(status.lastError ?? '');
      });
      await dovecot.start();
      await imapAppend(account, rawMessage({ messageId: '<after-restart@customer.test>', subject: 'after' }));
      await imapAppend(account, rawMessage({ messageId: null, subject: 'after, without a Message-ID' }));
      await waitFor('three items', async () => (await emailItems(vault.dir)).length === 3, 30_000);

      // Once more, while it is idle on the new connection: the stop is seen as a lost connection.
      await waitFor(
        'idle on a new connection',
        async () => watcher.status().connected && watcher.status().idle,
      );
      await dovecot.stop();
      await waitFor('the lost connection', async () => !watcher.status().connected);
      await dovecot.start();
      await imapAppend(
        account,
        rawMessage({ messageId: '<after-second-restart@customer.test>', subject: 'last' }),
      );
      await waitFor('four items', async () => (await emailItems(vault.dir)).length === 4, 30_000);
    } finally {
      await running.stop();
    }
    await vault.watcher().runOnce();
    const items = await emailItems(vault.dir);
    expect(items).toHaveLength(4);
    const subjects = await Promise.all(
      items.map(async (p) => decodeItem(await read(vault.dir, p)).data.subject),
    );
    expect(subjects.sort()).toEqual(['after', 'after, without a Message-ID', 'before', 'last']);
    expect(vault.outcomes.filter((o) => o.kind === 'created')).toHaveLength(4);
  });

  test('a lost state file does not duplicate: the vault itself says what was taken in', async () => {
    const account = freshAccount();
    const vault = await watchedVault(account);
    await imapAppend(account, rawMessage({ messageId: '<kept@customer.test>', subject: 'kept' }));
    await imapAppend(account, rawMessage({ messageId: null, subject: 'no id' }));
    await vault.watcher().runOnce();
    const { rm } = await import('node:fs/promises');
    await rm(`${vault.dir}/.fte/imap`, { recursive: true, force: true });
    await vault.watcher().runOnce();
    expect(await emailItems(vault.dir)).toHaveLength(2);
    expect(vault.outcomes.map((o) => o.kind)).toEqual(['created', 'created', 'duplicate', 'duplicate']);
  });

  test('IMAP_SINCE_DAYS decides where a fresh mailbox starts', async () => {
    const account = freshAccount();
    const old = new Date(Date.now() - 30 * 86_400_000);
    await imapAppend(account, rawMessage({ subject: 'a month old', date: old }), { date: old });
    await imapAppend(account, rawMessage({ subject: 'recent' }));

    const week = await watchedVault(account, { sinceDays: 7 });
    await week.watcher().runOnce();
    const items = await emailItems(week.dir);
    expect(items).toHaveLength(1);
    expect(decodeItem(await read(week.dir, items[0]!)).data.subject).toBe('recent');

    const onlyNew = await watchedVault(account, { sinceDays: 0 });
    await onlyNew.watcher().runOnce();
    expect(await emailItems(onlyNew.dir)).toHaveLength(0);
    await imapAppend(account, rawMessage({ subject: 'arrived after the start' }));
    await onlyNew.watcher().runOnce();
    const fresh = await emailItems(onlyNew.dir);
    expect(fresh).toHaveLength(1);
    expect(decodeItem(await read(onlyNew.dir, fresh[0]!)).data.subject).toBe('arrived after the start');
  });
});
