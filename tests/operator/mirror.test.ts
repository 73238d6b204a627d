import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryTaskStore } from '../../operator/controller/memory-store.js';
import type { WatchEvent } from '../../operator/controller/store.js';
import { Mirror } from '../../operator/mirror.js';
import { taskName } from '../../operator/task.js';
import { itemText, tempDir } from '../helpers/vaults.js';

const logger = pino({ level: 'silent' });

async function put(root: string, path: string, text: string): Promise<void> {
  await mkdir(join(root, path, '..'), { recursive: true });
  await writeFile(join(root, path), text);
}

async function eventually(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Mirror', () => {
  it('mirrors vault files into tasks: spec from the files, grouped by id', async () => {
    const root = await tempDir();
    const email = itemText({
      type: 'email',
      from: 'a@example.com',
      subject: 'Quote',
      priority: 'medium',
      received: '2026-01-07T10:30:00Z',
    });
    await put(root, 'Needs_Action/email/E1.md', email);
    await put(root, 'In_Progress/cloud/E2.md', itemText({ type: 'email', subject: 'Second' }));
    await put(
      root,
      'Pending_Approval/email/E2.md',
      itemText({ type: 'approval_request', action: 'send_email' }),
    );
    await put(root, 'Needs_Action/social/S1.md', itemText({ type: 'social_post', title: 'Launch' }));
    await put(root, 'Needs_Action/_errors/B1.md', itemText({ type: 'error', error: 'bad' }));
    await put(root, 'Done/D1.md', itemText({ type: 'approval_request', action: 'payment', subject: 'Paid' }));
    await put(root, 'Done/D1.item.md', itemText({ type: 'invoice' }));
    await put(root, 'Needs_Action/email/notes.txt', 'not a task');
    const store = new MemoryTaskStore();
    const report = await new Mirror({ root, store, logger }).resync();
    expect(report).toMatchObject({ tasks: 5, applied: 5, deleted: 0 });
    const e1 = await store.get(taskName('E1'));
    expect(e1?.spec).toEqual({
      id: 'E1',
      domain: 'email',
      type: 'email',
      title: 'Quote',
      source: 'Needs_Action/email/E1.md',
      files: ['Needs_Action/email/E1.md'],
      contentSha256: createHash('sha256').update(email).digest('hex'),
      received: '2026-01-07T10:30:00Z',
      priority: 'normal',
    });
    expect(e1?.metadata.labels).toEqual({ 'fte.dev/domain': 'email' });
    expect(e1?.metadata.annotations).toEqual({ 'fte.dev/id': 'E1' });
    expect((await store.get(taskName('E2')))?.spec).toMatchObject({
      source: 'In_Progress/cloud/E2.md',
      files: ['In_Progress/cloud/E2.md', 'Pending_Approval/email/E2.md'],
    });
    expect((await store.get(taskName('S1')))?.spec).toMatchObject({ domain: 'social', title: 'Launch' });
    expect((await store.get(taskName('D1')))?.spec).toMatchObject({
      domain: 'accounting',
      source: 'Done/D1.item.md',
    });
  });

  it('a resync of an unchanged vault changes nothing; changes bump the generation; gone files delete the task', async () => {
    const root = await tempDir();
    await put(root, 'Needs_Action/email/E1.md', itemText({ type: 'email', subject: 'One' }));
    await put(root, 'Needs_Action/email/E2.md', itemText({ type: 'email', subject: 'Two' }));
    const store = new MemoryTaskStore();
    const mirror = new Mirror({ root, store, logger });
    await mirror.resync();
    const before = await store.list();
    const events: WatchEvent[] = [];
    await store.watch(before.resourceVersion, { onEvent: (e) => events.push(e), onClose: () => {} });
    expect(await mirror.resync()).toMatchObject({ applied: 0, deleted: 0 });
    expect(await mirror.resync()).toMatchObject({ applied: 0, deleted: 0 });
    expect((await store.list()).resourceVersion).toBe(before.resourceVersion);

    await put(root, 'Needs_Action/email/E1.md', itemText({ type: 'email', subject: 'One, edited' }));
    await mkdir(join(root, 'In_Progress/cloud'), { recursive: true });
    await rename(join(root, 'Needs_Action/email/E2.md'), join(root, 'In_Progress/cloud/E2.md'));
    expect(await mirror.resync()).toMatchObject({ applied: 2, deleted: 0 });
    expect((await store.get(taskName('E1')))?.metadata.generation).toBe(2);
    expect((await store.get(taskName('E2')))?.spec.source).toBe('In_Progress/cloud/E2.md');

    await rm(join(root, 'Needs_Action/email/E1.md'));
    expect(await mirror.resync()).toMatchObject({ applied: 0, deleted: 1 });
    await new Promise((r) => setImmediate(r));
    expect(events.map((e) => `${e.type} ${e.object.spec.id}`)).toEqual([
      'MODIFIED E1',
      'MODIFIED E2',
      'DELETED E1',
    ]);
  });

  it('keeps malformed and oversized files as tasks without crashing', async () => {
    const root = await tempDir();
    await put(root, 'Needs_Action/email/BAD.md', '---\nfrom: [unclosed\n---\n');
    await put(root, 'Needs_Action/email/BIN.md', '\u0000\u0001binary');
    await put(root, 'Needs_Action/email/BIG.md', `---\ntype: email\n---\n${'x'.repeat(6 * 1024 * 1024)}`);
    const store = new MemoryTaskStore();
    expect(await new Mirror({ root, store, logger }).resync()).toMatchObject({ tasks: 3 });
    expect((await store.get(taskName('BIG')))?.spec.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await store.get(taskName('BAD')))?.spec).toMatchObject({ domain: 'email', type: undefined });
  });

  it('follows file changes through folder watches, debounced', async () => {
    const root = await tempDir();
    for (const dir of [
      'Needs_Action/email',
      'In_Progress/cloud',
      'Pending_Approval/email',
      'Approved',
      'Rejected',
      'Done',
    ]) {
      await mkdir(join(root, dir), { recursive: true });
    }
    const store = new MemoryTaskStore();
    const mirror = new Mirror({ root, store, logger });
    await mirror.resync();
    await mirror.watch(30);
    try {
      await put(root, 'Needs_Action/email/W1.md', itemText({ type: 'email', subject: 'Watched' }));
      await eventually(async () => (await store.get(taskName('W1'))) !== undefined, 'the new item');
      await rename(join(root, 'Needs_Action/email/W1.md'), join(root, 'In_Progress/cloud/W1.md'));
      await eventually(
        async () => (await store.get(taskName('W1')))?.spec.source === 'In_Progress/cloud/W1.md',
        'the move',
      );
      await put(root, 'Needs_Action/accounting/A1.md', itemText({ type: 'invoice' }));
      await eventually(
        async () => (await store.get(taskName('A1')))?.spec.domain === 'accounting',
        'a new domain folder',
      );
      await rm(join(root, 'In_Progress/cloud/W1.md'));
      await eventually(async () => (await store.get(taskName('W1'))) === undefined, 'the deletion');
    } finally {
      mirror.stopWatching();
    }
  });
});
