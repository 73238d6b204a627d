import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalNode } from '../tests/harness/cluster.js';
import { pushFteImage, REPO_ROOT, vaultOnNode } from '../tests/harness/cluster-apps.js';
import { readKubeTools } from '../tests/harness/kube.js';
import { ms, percentile, printTable, progress, type Row, timed } from './report.js';

/**
 * charts/fte on the test node: `helm install` to the operator pods Ready and to the first Task drafted,
 * then the handover (an item pushed by the owner → its approval request in the owner's clone) through the
 * in-cluster git-sync sidecar, at the chart's default interval and at 1 s. Needs root and the caches of
 * scripts/test-setup.sh, like the tests.
 */

const ITEMS = Number(process.env.FTE_BENCH_HANDOVER_ITEMS ?? 5);
const email = (id: string) =>
  [
    '---',
    'type: email',
    'from: "Jane Client <client@example.com>"',
    `subject: "Question ${id}"`,
    'received: "2026-01-07T10:30:00Z"',
    `message_id: "<${id.toLowerCase()}@mail.example.com>"`,
    'status: pending',
    '---',
    '',
    '## Email Content',
    `Hello, about ${id}.`,
    '',
  ].join('\n');

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const rows: Row[] = [];
const cluster = await startLocalNode();
const root = await mkdtemp(join(tmpdir(), 'fte-bench-chart-'));
try {
  progress('chart: image and git server');
  const image = await pushFteImage(cluster, 'fte/fte:bench');
  const vault = await vaultOnNode(cluster, root, 'fte');
  const ownerDir = vault.owner.dir;
  const owner = vault.owner.repo;
  const [repository, tag] = image.split(/:(?=[^:]+$)/);
  const values = await vault.values({ image: { repository, tag } });

  progress('chart: helm install');
  const helm = readKubeTools().helm;
  const started = performance.now();
  const installed = await cluster.exec(
    helm,
    [
      '--kubeconfig',
      cluster.kubeconfigPath,
      '-n',
      'fte',
      'install',
      'fte',
      join(REPO_ROOT, 'charts', 'fte'),
      '-f',
      values,
    ],
    {
      timeoutMs: 600_000,
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(root, 'helm'),
        HELM_CONFIG_HOME: join(root, 'helm'),
        HELM_DATA_HOME: join(root, 'helm'),
      },
    },
  );
  if (installed.code !== 0) throw new Error(`helm install failed: ${installed.stderr}`);
  await cluster.ok(['rollout', 'status', '-n', 'fte', 'deployment/fte-operator', '--timeout=600s']);
  rows.push({ what: 'helm install → operator pods Ready', result: ms(performance.now() - started) });

  const handover = async (id: string): Promise<number> => {
    await writeFile(join(ownerDir, `Needs_Action/email/${id}.md`), email(id));
    await owner.commit(`local: ${id}`, [`Needs_Action/email/${id}.md`]);
    const [, took] = await timed(async () => {
      await owner.sync();
      await until(async () => {
        await owner.sync();
        return existsSync(join(ownerDir, `Pending_Approval/email/${id}.md`));
      }, `the approval of ${id}`);
    });
    return took;
  };
  const first = await handover('EMAIL_B0');
  rows.push({
    what: 'helm install → first Task drafted (in the owner clone)',
    result: ms(performance.now() - started),
  });
  rows.push({ what: 'handover, first item after install', result: ms(first) });

  for (const interval of [10, 1]) {
    await cluster.ok([
      'patch',
      'vault',
      'fte',
      '-n',
      'fte',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { intervalSeconds: interval } }),
    ]);
    const samples: number[] = [];
    for (let i = 0; i < ITEMS; i++) {
      progress(`chart: handover at ${interval} s, ${i + 1}/${ITEMS}`);
      samples.push(await handover(`EMAIL_I${interval}_${i}`));
    }
    rows.push({
      what: `handover through the sidecar, interval ${interval} s (${ITEMS} items)`,
      result: `p50 ${ms(percentile(samples, 50))}, max ${ms(Math.max(...samples))}`,
    });
  }
} finally {
  await cluster.stop();
  await rm(root, { recursive: true, force: true });
}
printTable('charts/fte on the test node', rows);
