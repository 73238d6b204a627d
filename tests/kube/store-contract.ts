import { expect, it } from 'vitest';
import {
  ConflictError,
  GoneError,
  InvalidError,
  NotFoundError,
  type TaskStore,
  type WatchEvent,
} from '../../operator/controller/store.js';
import { setCondition, type TaskSpec } from '../../operator/task.js';

/**
 * What every TaskStore does, the API server's way: run against the memory store and against Tasks in a
 * real kube-apiserver, so the two cannot drift apart.
 */

export const spec = (id: string, extra: Partial<TaskSpec> = {}): TaskSpec => ({
  id,
  domain: 'email',
  source: `Needs_Action/email/${id}.md`,
  files: [`Needs_Action/email/${id}.md`],
  ...extra,
});
const opts = { fieldManager: 'contract' };

/** Polls until `check` stops throwing (watch events arrive asynchronously, over a network for kube). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

export function taskStoreContract(fresh: () => Promise<TaskStore>): void {
  it('creates with generation 1, bumps the generation on spec changes only, ignores identical applies', async () => {
    const store = await fresh();
    const created = await store.apply('a', spec('A'), { ...opts, labels: { 'fte.dev/domain': 'email' } });
    expect(created.metadata).toMatchObject({
      name: 'a',
      generation: 1,
      labels: { 'fte.dev/domain': 'email' },
    });
    const same = await store.apply('a', spec('A'), { ...opts, labels: { 'fte.dev/domain': 'email' } });
    expect(same.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    const withStatus = await store.patchStatus('a', { phase: 'InProgress' }, opts);
    expect(withStatus.metadata.generation).toBe(1);
    expect(withStatus.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
    const changed = await store.apply('a', spec('A', { title: 'hi' }), opts);
    expect(changed.metadata.generation).toBe(2);
    expect(changed.status).toEqual({ phase: 'InProgress' });
    expect(changed.metadata.uid).toBe(created.metadata.uid);
    // An apply that leaves a field out removes it: the field manager owns the spec wholly.
    const dropped = await store.apply('a', spec('A'), opts);
    expect(dropped.spec.title).toBeUndefined();
    expect(dropped.metadata.generation).toBe(3);
  });

  it('hands out frozen objects', async () => {
    const store = await fresh();
    const task = await store.apply('a', spec('A'), opts);
    expect(() => {
      (task.spec as { title?: string }).title = 'x';
    }).toThrow();
  });

  it('patches status as a merge patch, conditional on the resource version', async () => {
    const store = await fresh();
    const task = await store.apply('a', spec('A'), opts);
    const patched = await store.patchStatus(
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
    const cleared = await store.patchStatus(
      'a',
      { lastError: null },
      {
        ...opts,
        resourceVersion: patched.metadata.resourceVersion,
      },
    );
    expect(cleared.status).toEqual({ phase: 'NeedsAction' });
    const conditions = setCondition(
      [],
      { type: 'Claimed', status: 'True', reason: 'Won', message: 'm' },
      new Date(),
    );
    const withConditions = await store.patchStatus('a', { conditions, observedGeneration: 1 }, opts);
    expect(withConditions.status?.conditions).toEqual(conditions);
    // Lists are replaced, not merged.
    const replaced = await store.patchStatus('a', { conditions: [] }, opts);
    expect(replaced.status?.conditions ?? []).toEqual([]);
    const unchanged = await store.patchStatus('a', { phase: 'NeedsAction' }, opts);
    expect(unchanged.metadata.resourceVersion).toBe(replaced.metadata.resourceVersion);
  });

  it('refuses a status the schema does not allow', async () => {
    const store = await fresh();
    await store.apply('a', spec('A'), opts);
    await expect(store.patchStatus('a', { phase: 'Nope' as never }, opts)).rejects.toBeInstanceOf(
      InvalidError,
    );
    const badReason = [
      { type: 'Claimed', status: 'True', reason: 'not camel', message: '', lastTransitionTime: 'x' },
    ];
    await expect(store.patchStatus('a', { conditions: badReason as never }, opts)).rejects.toBeInstanceOf(
      InvalidError,
    );
    await expect(store.apply('b', spec('B', { contentSha256: 'abc' }), opts)).rejects.toBeInstanceOf(
      InvalidError,
    );
    expect((await store.get('a'))?.status).toBeUndefined();
  });

  it('answers missing tasks: get → undefined, delete → false, status → NotFoundError', async () => {
    const store = await fresh();
    expect(await store.get('nope')).toBeUndefined();
    expect(await store.delete('nope')).toBe(false);
    await expect(store.patchStatus('nope', { phase: 'Done' }, opts)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists every task with a version to watch from', async () => {
    const store = await fresh();
    for (const id of ['A', 'B', 'C', 'D', 'E']) await store.apply(id.toLowerCase(), spec(id), opts);
    const list = await store.list();
    expect(list.items.map((t) => t.metadata.name).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(list.resourceVersion).toMatch(/^\d+$/);
  });

  it('watches from a version: ADDED, MODIFIED and DELETED in order, and nothing after stop', async () => {
    const store = await fresh();
    const first = await store.apply('a', spec('A'), opts);
    const events: WatchEvent[] = [];
    const handle = await store.watch(first.metadata.resourceVersion, {
      onEvent: (e) => events.push(e),
      onClose: () => {},
    });
    await store.apply('b', spec('B'), opts);
    await store.patchStatus('a', { phase: 'Done' }, opts);
    expect(await store.delete('b')).toBe(true);
    await eventually(() => expect(events).toHaveLength(3));
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'ADDED b',
      'MODIFIED a',
      'DELETED b',
    ]);
    expect(events[1]!.object.status).toEqual({ phase: 'Done' });
    handle.stop();
    await store.apply('c', spec('C'), opts);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(events).toHaveLength(3);
  });

  it('answers Gone to a watch from a version it no longer has', async () => {
    const store = await fresh();
    for (const id of ['A', 'B', 'C', 'D']) await store.apply(id.toLowerCase(), spec(id), opts);
    let closed: Error | undefined;
    const gone = await store
      .watch('1', {
        onEvent: () => {},
        onClose: (error) => (closed = error ?? new Error('closed without error')),
      })
      .then(
        () => eventually(() => closed ?? Promise.reject(new Error('still open'))),
        (error: Error) => error,
      );
    expect(gone).toBeInstanceOf(GoneError);
  });
}
