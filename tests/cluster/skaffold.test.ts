import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeCluster, startNodeCluster } from '../harness/cluster.js';
import { buildFteImage, skaffold, vaultOnNode } from '../harness/cluster-apps.js';
import { eventually } from '../kube/store-contract.js';

/**
 * skaffold.yaml's `local` profile against the test node, as a developer would use it: `skaffold run`
 * builds the image (scripts/skaffold-build.sh, buildah), pushes it to the node's registry, deploys the
 * operator with charts/fte and waits until it is Ready; `skaffold delete` uninstalls it again.
 */
describe('skaffold run -p local', () => {
  let cluster: NodeCluster;
  let root: string;
  let home: string;
  let values: string;
  const namespace = `fte-skaffold-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    // skaffold builds inside the node's namespace, which reaches no package registry: warm the layers here.
    await buildFteImage('skaffold');
    cluster = await startNodeCluster();
    root = await mkdtemp(join(tmpdir(), 'fte-skaffold-'));
    home = join(root, 'home');
    await mkdir(home);
    values = await (await vaultOnNode(cluster, root, namespace)).values();
  }, 600_000);

  afterAll(async () => {
    await cluster?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  }, 120_000);

  const run = (args: string[]) => skaffold(cluster, args, { namespace, home, values });

  it('deploys the operator from a freshly built image until it is Ready, and deletes it again', async () => {
    const deployed = await run(['run', '--tag', 'skaffold-test', '--status-check=true']);
    expect(deployed.code, `${deployed.stdout}\n${deployed.stderr}`).toBe(0);

    const deployment = JSON.parse(
      await cluster.ok(['get', 'deployment', 'fte-operator', '-n', namespace, '-o', 'json']),
    );
    expect(deployment.status.readyReplicas).toBe(2);
    const image = deployment.spec.template.spec.containers[0].image as string;
    // skaffold deployed what it pushed, pinned by digest, from the node's registry.
    expect(image).toMatch(new RegExp(`^${cluster.registry.replaceAll('.', '\\.')}/fte@sha256:[0-9a-f]{64}$`));
    const lease = JSON.parse(
      await cluster.ok(['get', 'lease', 'fte-operator', '-n', namespace, '-o', 'json']),
    );
    expect(lease.spec.holderIdentity).toMatch(/^fte-operator-/);

    const deleted = await run(['delete']);
    expect(deleted.code, deleted.stderr).toBe(0);
    await eventually(async () => {
      const left = await cluster.ok(['get', 'deployments,pods', '-n', namespace, '-o', 'name']);
      expect(left.trim()).toBe('');
    }, 120_000);
    // helm never deletes the CRDs it installed (nor, with them, anyone's Tasks): docs/deploy.md.
    expect((await cluster.kubectl(['get', 'crd', 'tasks.fte.dev'])).code).toBe(0);
  }, 1_800_000);
});
