import { describe, expect, it } from 'vitest';
import { MemoryTaskStore } from '../../operator/controller/memory-store.js';
import { ConflictError, GoneError, mergePatch, type WatchEvent } from '../../operator/controller/store.js';
import { setCondition, type TaskSpec, taskName } from '../../operator/task.js';

const spec = (id: string, extra: Partial<TaskSpec> = {}): TaskSpec => ({
  id,
  domain: 'email',
  source: `Needs_Action/email/${id}.md`,
  files: [`Needs_Action/email/${id}.md`],
  ...extra,
});
const opts = { fieldManager: 'test' };
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('MemoryTaskStore', () => {
  it('creates with generation 1, bumps generation on spec changes only, and ignores identical applies', async () => {
    const store = new MemoryTaskStore();
    const created = await store.apply('a', spec('A'), opts);
    expect(created.metadata).toMatchObject({ name: 'a', generation: 1, namespace: 'default' });
    const same = await store.apply('a', spec('A'), opts);
    expect(same.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    const withStatus = await store.patchStatus('a', { phase: 'InProgress' }, opts);
    expect(withStatus.metadata.generation).toBe(1);
    expect(Number(withStatus.metadata.resourceVersion)).toBeGreaterThan(
      Number(created.metadata.resourceVersion),
    );
    const changed = await store.apply('a', spec('A', { title: 'hi' }), opts);
    expect(changed.metadata.generation).toBe(2);
    expect(changed.status).toEqual({ phase: 'InProgress' });
    expect(changed.metadata.uid).toBe(created.metadata.uid);
  });

  it('hands out frozen objects', async () => {
    const store = new MemoryTaskStore();
    const task = await store.apply('a', spec('A'), opts);
    expect(() => {
      (task.spec as { title?: string }).title = 'x';
    }).toThrow();
  });

  it('patches status as a merge patch, conditional on the resource version', async () => {
    const store = new MemoryTaskStore();
    const task = await store.apply('a', spec('A'), opts);
    await store.patchStatus(
      'a',
      { phase: 'NeedsAction', lastError: 'x' },
      { ...opts, resourceVersion: task.metadata.resourceVersion },
    );
    await expect(
      store.patchStatus(
        'a',
        { phase: 'InProgress' },
        { ...opts, resourceVersion: task.metadata.resourceVersion },
      ),
    ).rejects.toBeInstanceOf(ConflictError);
    const cleared = await store.patchStatus('a', { lastError: null }, opts);
    expect(cleared.status).toEqual({ phase: 'NeedsAction' });
    await expect(store.patchStatus('a', { phase: 'Nope' as never }, opts)).rejects.toThrow(/status/);
  });

  it('watches from a version: ADDED, MODIFIED and DELETED in order', async () => {
    const store = new MemoryTaskStore();
    const first = await store.apply('a', spec('A'), opts);
    const events: WatchEvent[] = [];
    const handle = await store.watch(first.metadata.resourceVersion, {
      onEvent: (e) => events.push(e),
      onClose: () => {},
    });
    await store.apply('b', spec('B'), opts);
    await store.patchStatus('a', { phase: 'Done' }, opts);
    await store.delete('b');
    await tick();
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'ADDED b',
      'MODIFIED a',
      'DELETED b',
    ]);
    handle.stop();
    await store.apply('c', spec('C'), opts);
    await tick();
    expect(events).toHaveLength(3);
  });

  it('replays history to a watch from an older version, and answers Gone when it is too old', async () => {
    const store = new MemoryTaskStore({ historySize: 2 });
    await store.apply('a', spec('A'), opts);
    await store.apply('b', spec('B'), opts);
    await store.apply('c', spec('C'), opts);
    const replayed: string[] = [];
    await store.watch('1', { onEvent: (e) => replayed.push(e.object.metadata.name), onClose: () => {} });
    await tick();
    expect(replayed).toEqual(['b', 'c']);
    await expect(store.watch('0', { onEvent: () => {}, onClose: () => {} })).rejects.toBeInstanceOf(
      GoneError,
    );
  });
});

describe('task helpers', () => {
  it('names are DNS-1123 labels, distinct for ids that differ only in case or punctuation', () => {
    const names = ['EMAIL_18c2f', 'email_18c2f', 'EMAIL 18c2f', 'Ünïcode…', '__', 'x'.repeat(200)].map(
      taskName,
    );
    for (const name of names) expect(name).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    expect(new Set(names).size).toBe(names.length);
    expect(taskName('EMAIL_1')).toBe(taskName('EMAIL_1'));
  });

  it('setCondition keeps the transition time while the status holds', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const t1 = new Date('2026-01-01T01:00:00Z');
    const a = setCondition([], { type: 'Claimed', status: 'True', reason: 'Won', message: '' }, t0);
    const b = setCondition(a, { type: 'Claimed', status: 'True', reason: 'Won', message: 'again' }, t1);
    expect(b[0]).toMatchObject({ lastTransitionTime: t0.toISOString(), message: 'again' });
    const c = setCondition(b, { type: 'Claimed', status: 'False', reason: 'Lost', message: '' }, t1);
    expect(c).toHaveLength(1);
    expect(c[0]!.lastTransitionTime).toBe(t1.toISOString());
  });

  it('mergePatch follows RFC 7386', () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { a: null, b: { c: 4 }, e: [1] })).toEqual({
      b: { c: 4, d: 3 },
      e: [1],
    });
  });
});
