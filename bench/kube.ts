import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { initVault } from '../core/init.js';
import { VaultRepo } from '../core/vault-repo.js';
import { KubeEventRecorder } from '../operator/controller/kube/event-recorder.js';
import { KubeTaskStore } from '../operator/controller/kube/task-store.js';
import { TemplateDrafter } from '../operator/drafters/template.js';
import { Mirror } from '../operator/mirror.js';
import { Operator } from '../operator/operator.js';
import type { Task } from '../operator/task.js';
import { type KubeTestCluster, kubectl, startKubeApiServer } from '../tests/harness/kube.js';
import { ms, percentile, printTable, progress, type Row, timed } from './report.js';

/**
 * The Task store on a real kube-apiserver + etcd (built by scripts/ensure-k8s-tools.sh; the benchmark
 * fails when they are missing): a cold mirror of 10 000 vault items (server-side applies), the list an
 * informer starts from, and the steady-state latency of a running operator from a file change to the
 * Task's status.
 */

const exec = promisify(execFile);
const logger = pino({ level: 'silent' });
const SELF = fileURLToPath(import.meta.url);
const CRD = fileURLToPath(new URL('../../crds/task.yaml', import.meta.url));

function emailItem(n: number, prefix = 'Invoice'): string {
  return [
    '---',
    'type: email',
    `from: "client${n}@example.com"`,
    `subject: "${prefix} ${n} for January"`,
    'received: "2026-01-07T10:30:00Z"',
    `message_id: "<${prefix.toLowerCase()}${n}@mail.example.com>"`,
    'priority: high',
    'status: pending',
    '---',
    '',
    '## Email Content',
    `Hello, could you send invoice ${n}? Thanks.`,
    '',
  ].join('\n');
}

async function writeItems(dir: string, count: number, prefix: string): Promise<void> {
  await mkdir(join(dir, 'Needs_Action', 'email'), { recursive: true });
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, (_, j) =>
        writeFile(
          join(dir, 'Needs_Action', 'email', `${prefix}${String(i + j).padStart(5, '0')}.md`),
          emailItem(i + j),
        ),
      ),
    );
  }
}

async function ok(cluster: KubeTestCluster, args: string[]): Promise<void> {
  const r = await kubectl(cluster, args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

async function mirrorBench(
  root: string,
  kubeConfig: KubeConfig,
  cluster: KubeTestCluster,
  items: number,
): Promise<Row[]> {
  progress(`kube mirror: writing ${items} items`);
  const dir = join(root, 'mirror');
  await writeItems(dir, items, 'EMAIL_');
  await ok(cluster, ['create', 'namespace', 'bench-mirror']);
  const store = new KubeTaskStore({ kubeConfig, namespace: 'bench-mirror', logger });
  const mirror = new Mirror({ root: dir, store, logger });
  progress(`kube mirror: cold mirror of ${items} items into the API server`);
  const [cold, coldMs] = await timed(() => mirror.resync());
  progress('kube mirror: resync of the unchanged vault');
  const [warm, warmMs] = await timed(() => mirror.resync());
  const [list, listMs] = await timed(() => store.list());
  return [
    {
      what: `cold mirror of ${cold.tasks} items into a real API server (server-side apply, 32 in flight)`,
      result: `${(coldMs / 1000).toFixed(1)} s, ${((cold.applied / coldMs) * 1000).toFixed(0)} creates/s`,
      target: '≤ 60 s',
    },
    {
      what: `resync of the unchanged vault (${warm.applied} applied)`,
      result: `${(warmMs / 1000).toFixed(1)} s`,
    },
    { what: `list of ${list.items.length} Tasks (an informer's start, pages of 500)`, result: ms(listMs) },
  ];
}

/**
 * A running operator (kube store, events, template drafter, a bare remote on disk) with `warm` tasks
 * drafted already; then one new item at a time: file written → Task exists (mirror) → Task status says
 * PendingApproval (claim + push, triage, draft + commit, status patch).
 */
async function latencyBench(
  root: string,
  kubeConfig: KubeConfig,
  cluster: KubeTestCluster,
  samples: number,
): Promise<Row[]> {
  progress(`kube latency: ${samples} items through a running operator`);
  const remote = join(root, 'latency-remote.git');
  await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  const dir = join(root, 'latency');
  await initVault(dir, { remote, agent: 'cloud' });
  await writeItems(dir, 20, 'WARM_');
  const repo = new VaultRepo({ root: dir, agent: 'cloud' });
  await repo.commit('cloud: add items');
  await repo.sync();
  await ok(cluster, ['create', 'namespace', 'bench-latency']);
  const store = new KubeTaskStore({ kubeConfig, namespace: 'bench-latency', logger });
  const events = new KubeEventRecorder({ kubeConfig, namespace: 'bench-latency', instance: 'bench', logger });
  const operator = new Operator({
    vault: dir,
    agent: 'cloud',
    drafter: new TemplateDrafter(),
    logger,
    store,
    events,
    syncIntervalMs: 1000,
  });
  const seen = new Map<string, { created?: number; pending?: number }>();
  const waiters = new Set<() => void>();
  const { resourceVersion } = await store.list();
  const watch = await store.watch(resourceVersion, {
    onEvent: ({ object }: { object: Task }) => {
      const entry = seen.get(object.spec.id) ?? {};
      entry.created ??= performance.now();
      if (object.status?.phase === 'PendingApproval') entry.pending ??= performance.now();
      seen.set(object.spec.id, entry);
      for (const wake of waiters) wake();
    },
    onClose: () => {},
  });
  const until = async (check: () => boolean, timeoutMs = 120_000) => {
    const deadline = performance.now() + timeoutMs;
    while (!check()) {
      if (performance.now() > deadline) throw new Error('kube latency: no PendingApproval status in time');
      await new Promise<void>((resolve) => {
        waiters.add(resolve);
        setTimeout(resolve, 1000);
      });
      waiters.clear();
    }
  };
  await operator.start();
  try {
    await until(() => [...seen.values()].filter((e) => e.pending).length >= 20);
    const toTask: number[] = [];
    const toStatus: number[] = [];
    for (let i = 0; i < samples; i++) {
      const id = `LAT_${i}`;
      const started = performance.now();
      await writeFile(join(dir, 'Needs_Action', 'email', `${id}.md`), emailItem(i, 'Latency'));
      await until(() => seen.get(id)?.pending !== undefined);
      const entry = seen.get(id)!;
      toTask.push(entry.created! - started);
      toStatus.push(entry.pending! - started);
    }
    return [
      {
        what: `file written → Task in the API server (p50 / p95 of ${samples})`,
        result: `${ms(percentile(toTask, 50))} / ${ms(percentile(toTask, 95))}`,
      },
      {
        what: 'file written → Task status PendingApproval (claim+push, triage, draft, status)',
        result: `${ms(percentile(toStatus, 50))} / ${ms(percentile(toStatus, 95))}`,
      },
    ];
  } finally {
    watch.stop();
    await operator.stop();
    await events.flush();
  }
}

export async function benchKube(options: { items?: number; samples?: number } = {}): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'fte-bench-kube-'));
  progress('kube: starting etcd and kube-apiserver');
  const cluster = await startKubeApiServer();
  try {
    await ok(cluster, ['apply', '--server-side', '-f', CRD]);
    await ok(cluster, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/tasks.fte.dev']);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    const rows = [
      ...(await mirrorBench(root, kubeConfig, cluster, options.items ?? 10_000)),
      ...(await latencyBench(root, kubeConfig, cluster, options.samples ?? 20)),
    ];
    printTable(
      `kube: Tasks in a real kube-apiserver ${cluster.versions.kubeApiServer ?? ''} + etcd ${cluster.versions.etcd ?? ''}`,
      rows,
    );
  } finally {
    await cluster.stop();
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF) {
  await benchKube({
    items: Number(process.env.FTE_BENCH_ITEMS ?? 10_000),
    samples: Number(process.env.FTE_BENCH_KUBE_SAMPLES ?? 20),
  });
}
