import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NodeCluster, startLocalNode } from '../tests/harness/cluster.js';
import { buildFteImage, skaffold, vaultOnNode } from '../tests/harness/cluster-apps.js';
import { ms, printTable, progress, type Row, timed } from './report.js';

/**
 * The test node (tests/harness/cluster.ts): from nothing to a Ready node, the first pod Running (its
 * image pulled from the node's registry), a later pod, a clean stop; then `skaffold run -p local` from a
 * warm image cache to the operator Ready. Needs root and the caches of scripts/test-setup.sh, like the tests.
 */

async function podRunning(cluster: NodeCluster, name: string): Promise<void> {
  await cluster.ok(['run', name, `--image=${cluster.registry}/fte-test/pause:1`, '--restart=Never']);
  await cluster.ok(['wait', '--for=condition=Ready', `pod/${name}`, '--timeout=180s']);
}

const rows: Row[] = [];
const runs = Number(process.env.FTE_BENCH_CLUSTER_RUNS ?? 3);
for (let i = 1; i <= runs; i++) {
  progress(`cluster: start ${i}/${runs}`);
  const [cluster, startMs] = await timed(() => startLocalNode());
  try {
    const [, firstMs] = await timed(() => podRunning(cluster, 'first'));
    const [, laterMs] = await timed(() => podRunning(cluster, 'later'));
    const [, stopMs] = await timed(() => cluster.stop());
    rows.push(
      { what: `run ${i}: start to node Ready`, result: ms(startMs) },
      {
        what: `run ${i}: start to first pod Running`,
        result: ms(startMs + firstMs),
        target: '≤ 30 s (issue 10)',
      },
      { what: `run ${i}: a later pod Running`, result: ms(laterMs) },
      { what: `run ${i}: stop, nothing left`, result: ms(stopMs) },
    );
  } finally {
    await cluster.stop();
  }
}

progress('skaffold: warming the image layers');
await buildFteImage('skaffold');
const root = await mkdtemp(join(tmpdir(), 'fte-bench-skaffold-'));
const cluster = await startLocalNode();
try {
  const home = join(root, 'home');
  await mkdir(home);
  const values = await (await vaultOnNode(cluster, root, 'bench')).values();
  progress('skaffold: run -p local');
  const [deployed, runMs] = await timed(() =>
    skaffold(cluster, ['run', '--tag', 'bench', '--status-check=true'], { namespace: 'bench', home, values }),
  );
  if (deployed.code !== 0) throw new Error(`skaffold run failed:\n${deployed.stderr}`);
  rows.push({ what: 'skaffold run -p local (warm layers) to operator Ready', result: ms(runMs) });
  const [, deleteMs] = await timed(() => skaffold(cluster, ['delete'], { namespace: 'bench', home, values }));
  rows.push({ what: 'skaffold delete', result: ms(deleteMs) });
} finally {
  await cluster.stop();
  await rm(root, { recursive: true, force: true });
}
printTable(
  'Test node (etcd, API server, controller-manager, scheduler, containerd, kubelet, kube-proxy, registry)',
  rows,
);
