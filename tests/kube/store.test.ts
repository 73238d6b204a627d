import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
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

  it('a continue token that expired mid-list (a real 410 from etcd compaction) makes the store list again from the start', async () => {
    // Its own API server, with continued lists served by etcd (as before 1.34): with 1.34's default
    // ListFromCacheSnapshot the watch cache answers a continue token from its snapshot, which an etcd
    // compaction does not touch, so no 410 could be provoked there.
    const own = await startTaskCluster([], ['--feature-gates=ListFromCacheSnapshot=false']);
    const namespace = await own.namespace();
    const admin = new KubeTaskStore({ kubeConfig: own.kubeConfig(), namespace, logger });
    for (const id of ['A', 'B', 'C', 'D'])
      await admin.apply(id.toLowerCase(), spec(id), { fieldManager: 'test' });
    const proxy = await compactingProxy(own);
    try {
      const store = new KubeTaskStore({ kubeConfig: proxy.kubeConfig, namespace, logger, pageSize: 1 });
      const { items } = await store.list();
      expect(items.map((t) => t.metadata.name).sort()).toEqual(['a', 'b', 'c', 'd']);
      // What the API server answered, in order: page 1, then a 410 for the stale token (etcd compacted
      // between the pages), then a whole list again from the start, page by page.
      const answers = proxy.answers.map((a) => `${a.continued ? 'continue' : 'first'} ${a.status}`);
      expect(answers).toEqual([
        'first 200',
        'continue 410',
        'first 200',
        'continue 200',
        'continue 200',
        'continue 200',
      ]);
      const gone = JSON.parse(proxy.answers[1]!.body);
      expect(gone).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
    } finally {
      await proxy.close();
      await own.stop();
    }
  });
});

type Answer = { continued: boolean; status: number; body: string };

/**
 * A plain-HTTP proxy in front of the real API server. Before it forwards the first request that carries
 * a continue token, it writes a key into etcd and compacts etcd up to that write: the token's revision is
 * gone from the storage, and the real API server answers what it answers then (410 Expired). Every answer
 * is recorded. Nothing else is changed on the way.
 */
async function compactingProxy(kube: TaskCluster): Promise<{
  kubeConfig: KubeConfig;
  answers: Answer[];
  close(): Promise<void>;
}> {
  const upstream = new URL(kube.cluster.server);
  const etcd = async (path: string, body: unknown) => {
    const res = await fetch(`${kube.cluster.etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { header?: { revision?: string } };
  };
  const answers: Answer[] = [];
  let compacted = false;
  const server = createServer(async (req, res) => {
    const continued = new URL(req.url ?? '/', 'http://proxy').searchParams.has('continue');
    if (continued && !compacted) {
      compacted = true;
      const key = Buffer.from('/fte-test/compaction-marker').toString('base64');
      const put = await etcd('/v3/kv/put', { key, value: Buffer.from('x').toString('base64') });
      await etcd('/v3/kv/compaction', { revision: put.header?.revision, physical: true });
    }
    const forward = httpsRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: upstream.host },
        ca: kube.cluster.caCert,
      },
      (upstreamRes) => {
        const chunks: Buffer[] = [];
        upstreamRes.on('data', (c: Buffer) => chunks.push(c));
        upstreamRes.on('end', () => {
          const body = Buffer.concat(chunks);
          answers.push({ continued, status: upstreamRes.statusCode ?? 0, body: body.toString('utf8') });
          const headers = { ...upstreamRes.headers };
          delete headers['transfer-encoding'];
          headers['content-length'] = String(body.length);
          res.writeHead(upstreamRes.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    forward.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'proxy', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'admin', token: kube.cluster.token }],
    contexts: [{ name: 'proxy', cluster: 'proxy', user: 'admin' }],
    currentContext: 'proxy',
  });
  return {
    kubeConfig,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
