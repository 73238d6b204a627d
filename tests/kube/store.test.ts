import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskInformer } from '../../operator/controller/informer.js';
import { KubeTaskStore } from '../../operator/controller/kube/task-store.js';
import { MemoryTaskStore } from '../../operator/controller/memory-store.js';
import type { Task } from '../../operator/task.js';
import { startTaskCluster, type TaskCluster } from './cluster.js';
import { eventually, spec, taskStoreContract } from './store-contract.js';

const logger = pino({ level: 'silent' });

describe('MemoryTaskStore (the contract)', () => {
  taskStoreContract(async () => new MemoryTaskStore({ historySize: 2 }));
});

describe('KubeTaskStore on a real kube-apiserver', () => {
  let kube: TaskCluster;
  beforeAll(async () => {
    kube = await startTaskCluster();
  });
  afterAll(async () => {
    await kube?.stop();
  });

  const fresh = async () =>
    new KubeTaskStore({
      kubeConfig: kube.kubeConfig(),
      namespace: await kube.namespace(),
      logger,
      pageSize: 2,
    });

  describe('the contract', () => {
    taskStoreContract(fresh);
  });

  it('writes the spec with server-side apply under a stable field manager, the status through /status', async () => {
    const store = await fresh();
    await store.apply('a', spec('A'), { fieldManager: 'fte-operator-mirror' });
    await store.patchStatus('a', { phase: 'InProgress', owner: 'cloud' }, { fieldManager: 'fte-operator' });
    const raw = JSON.parse(
      await kube.ok([
        'get',
        'tasks.fte.dev',
        'a',
        '-n',
        store.namespace,
        '-o',
        'json',
        '--show-managed-fields',
      ]),
    );
    const managers = raw.metadata.managedFields.map(
      (m: { manager: string; operation: string; subresource?: string }) =>
        `${m.manager} ${m.operation} ${m.subresource ?? ''}`.trim(),
    );
    expect(managers.sort()).toEqual(['fte-operator Update status', 'fte-operator-mirror Apply']);
    // A hand edit of a mirrored field is put back by the next apply (the mirror owns the spec).
    await kube.ok([
      'patch',
      'tasks.fte.dev',
      'a',
      '-n',
      store.namespace,
      '--type=merge',
      '-p',
      '{"spec":{"domain":"x"}}',
    ]);
    const back = await store.apply('a', spec('A'), { fieldManager: 'fte-operator-mirror' });
    expect(back.spec.domain).toBe('email');
  });

  it('an informer on the kube store recovers from an API server restart and misses nothing', async () => {
    const store = await fresh();
    await store.apply('before', spec('BEFORE'), { fieldManager: 'test' });
    const seen = new Map<string, Task>();
    const deleted: string[] = [];
    const informer = new TaskInformer(
      store,
      {
        onAdd: (t) => seen.set(t.metadata.name, t),
        onUpdate: (_p, t) => seen.set(t.metadata.name, t),
        onDelete: (t) => {
          seen.delete(t.metadata.name);
          deleted.push(t.metadata.name);
        },
      },
      { logger },
    );
    await informer.start();
    try {
      expect([...seen.keys()]).toEqual(['before']);
      await kube.cluster.stopApiServer();
      const outage = informer.lastEventAt;
      await kube.cluster.startApiServer();
      // Changes right after the restart reach the informer: through a new watch or a relist.
      await store.apply('after', spec('AFTER'), { fieldManager: 'test' });
      await store.delete('before');
      await eventually(() => expect([...seen.keys()]).toEqual(['after']), 60_000);
      expect(deleted).toEqual(['before']);
      expect(informer.lastEventAt).toBeGreaterThan(outage);
    } finally {
      informer.stop();
    }
  });
});
