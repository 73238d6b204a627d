import { type NodeCluster, startNodeCluster } from '../tests/harness/cluster.js';
import { ms, printTable, progress, type Row, timed } from './report.js';

/**
 * The test node (tests/harness/cluster.ts): from nothing to a Ready node, the first pod Running (its
 * image pulled from the node's registry), a later pod, and a clean stop. Run with warm caches (the
 * binaries of scripts/ensure-k8s-tools.sh); needs root, like the tests.
 */

async function podRunning(cluster: NodeCluster, name: string): Promise<void> {
  await cluster.ok(['run', name, `--image=${cluster.registry}/fte-test/pause:1`, '--restart=Never']);
  await cluster.ok(['wait', '--for=condition=Ready', `pod/${name}`, '--timeout=180s']);
}

const rows: Row[] = [];
const runs = Number(process.env.FTE_BENCH_CLUSTER_RUNS ?? 3);
for (let i = 1; i <= runs; i++) {
  progress(`cluster: start ${i}/${runs}`);
  const [cluster, startMs] = await timed(() => startNodeCluster());
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
printTable(
  'Test node (etcd, API server, controller-manager, scheduler, containerd, kubelet, kube-proxy, registry)',
  rows,
);
