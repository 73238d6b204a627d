import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VaultRepo } from '../../core/vault-repo.js';
import type { Task } from '../../operator/task.js';
import { runCli, smtpEnv, smtpServer, testKey } from '../executor/helpers.js';
import { type NodeCluster, startNodeCluster } from '../harness/cluster.js';
import { pushFteImage, REPO_ROOT, vaultOnNode } from '../harness/cluster-apps.js';
import { readKubeTools } from '../harness/kube.js';
import { emailItem, git } from '../helpers/vaults.js';
import { eventually } from '../kube/store-contract.js';

/**
 * `helm install` of charts/fte on a real node: the fte image runs the operator and its git-sync sidecar in
 * each of two pods (in-cluster config, the chart's service account and RBAC, read-only root, non-root); the
 * sidecar alone clones and pushes the vault over ssh with a deploy key from a git server on the node's
 * address, as from GitHub, and writes the Vault's status. The owner's side is a clone of the same remote
 * outside the cluster, with the real `fte approve` and `fte executor` and a real SMTP server.
 */

describe('helm install charts/fte on a real node', () => {
  let cluster: NodeCluster;
  let root: string;
  let owner: { dir: string; repo: VaultRepo };
  let remote: string;
  let values: string;
  const namespace = 'fte';

  const helm = (args: string[]) => {
    const helmPath = readKubeTools().helm;
    return cluster.exec(helmPath, ['--kubeconfig', cluster.kubeconfigPath, '-n', namespace, ...args], {
      timeoutMs: 600_000,
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(root, 'helm', 'cache'),
        HELM_CONFIG_HOME: join(root, 'helm', 'config'),
        HELM_DATA_HOME: join(root, 'helm', 'data'),
      },
    });
  };

  beforeAll(async () => {
    cluster = await startNodeCluster();
    const image = await pushFteImage(cluster, 'fte/fte:test');
    root = await mkdtemp(join(tmpdir(), 'fte-chart-'));
    const vault = await vaultOnNode(cluster, root, namespace);
    remote = vault.remote;
    owner = vault.owner;
    const [repository, tag] = image.split(/:(?=[^:]+$)/);
    values = await vault.values({ image: { repository, tag }, vault: { intervalSeconds: 1 } });
    const installed = await helm([
      'install',
      'fte',
      join(REPO_ROOT, 'charts', 'fte'),
      '-f',
      values,
      '--wait',
      '--timeout',
      '5m',
    ]);
    expect(installed.code, `${installed.stdout}\n${installed.stderr}`).toBe(0);
    expect(installed.stdout).toContain('kubectl get vaults');
  }, 1_200_000);

  afterAll(async () => {
    await cluster?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  }, 120_000);

  async function task(id: string): Promise<Task | undefined> {
    const out = await cluster.ok(['get', 'tasks', '-n', namespace, '-o', 'json']);
    return (JSON.parse(out).items as Task[]).find((t) => t.spec.id === id);
  }

  const phaseIs = (id: string, phase: string, timeoutMs = 300_000) =>
    eventually(async () => {
      const t = await task(id);
      expect(t?.status?.phase, `${id}: ${JSON.stringify(t?.status)}`).toBe(phase);
      return t!;
    }, timeoutMs);

  async function leader(): Promise<string> {
    const lease = JSON.parse(
      await cluster.ok(['get', 'lease', 'fte-operator', '-n', namespace, '-o', 'json']),
    );
    return lease.spec.holderIdentity as string;
  }

  type Pod = {
    metadata: { name: string };
    status: {
      phase: string;
      containerStatuses: Array<{ name: string; ready: boolean; restartCount: number }>;
    };
  };
  async function operatorPods(): Promise<Pod[]> {
    const out = await cluster.ok([
      'get',
      'pods',
      '-n',
      namespace,
      '-l',
      'app.kubernetes.io/component=operator',
      '-o',
      'json',
    ]);
    return (JSON.parse(out).items as Pod[]).filter((p) => p.status.phase === 'Running');
  }

  async function feed(ids: string[]): Promise<void> {
    for (const id of ids)
      await writeFile(join(owner.dir, `Needs_Action/email/${id}.md`), emailItem(`Question ${id}`, id));
    await owner.repo.commit(
      'local: new mail',
      ids.map((id) => `Needs_Action/email/${id}.md`),
    );
    expect((await owner.repo.sync()).state).toBe('synced');
  }

  it('two operator pods, one leader; the Vault is Ready at the remote commit; only the sidecar runs git', async () => {
    const pods = await operatorPods();
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      // Both containers start together; the operator waits for the sidecar's port instead of crashing.
      expect(pod.status.containerStatuses.map((c) => [c.name, c.restartCount])).toEqual([
        [expect.any(String), 0],
        [expect.any(String), 0],
      ]);
      expect(pod.status.containerStatuses.map((c) => [c.name, c.ready]).sort()).toEqual([
        ['operator', true],
        ['sync', true],
      ]);
    }
    expect(pods.map((p) => p.metadata.name)).toContain(await leader());

    await eventually(async () => {
      // The remote's commit now: the operator's own start-up commits may move it after the install.
      const head = (await git(remote, 'rev-parse', 'main')).trim();
      const vault = JSON.parse(await cluster.ok(['get', 'vault', 'fte', '-n', namespace, '-o', 'json']));
      expect(vault.status).toMatchObject({ state: 'synced', lastSyncedCommit: head });
      expect(vault.status.conditions.find((c: { type: string }) => c.type === 'Ready')?.status).toBe('True');
    }, 60_000);
    expect(await cluster.ok(['get', 'vaults', '-n', namespace])).toMatch(
      /^NAME\s+URL\s+BRANCH\s+COMMIT\s+LAG\s+READY/,
    );

    // The operator container holds no git credentials and no clone of its own: everything goes through
    // the sidecar's vault port.
    for (const pod of pods) {
      const env = await cluster.ok([
        'exec',
        '-n',
        namespace,
        pod.metadata.name,
        '-c',
        'operator',
        '--',
        'node',
        '-e',
        'process.stdout.write(JSON.stringify(Object.keys(process.env)))',
      ]);
      expect(JSON.parse(env)).not.toEqual(expect.arrayContaining([expect.stringMatching(/^GIT_/)]));
      const key = await cluster.kubectl([
        'exec',
        '-n',
        namespace,
        pod.metadata.name,
        '-c',
        'operator',
        '--',
        'ls',
        '/etc/fte/git',
      ]);
      expect(key.code).not.toBe(0);
    }
  }, 300_000);

  it('an email item becomes a Task at PendingApproval, the approval reaches the owner, and after approve + execute the Task is Done', async () => {
    await feed(['EMAIL_C1']);
    const pending = await phaseIs('EMAIL_C1', 'PendingApproval');
    expect(pending.status).toMatchObject({
      owner: 'cloud',
      approvalPath: 'Pending_Approval/email/EMAIL_C1.md',
    });
    await eventually(async () => {
      await owner.repo.sync();
      expect(existsSync(join(owner.dir, 'Pending_Approval/email/EMAIL_C1.md'))).toBe(true);
    }, 60_000);

    const keyFile = join(root, 'keys', 'approval.key');
    await testKey(keyFile);
    const smtp = await smtpServer();
    const localEnv = smtpEnv(smtp.port, keyFile);
    const approve = await runCli(['approve', 'EMAIL_C1', '--vault', owner.dir], localEnv);
    expect(approve.code, approve.stderr).toBe(0);
    const executor = await runCli(['executor', '--vault', owner.dir, '--once'], localEnv);
    expect(executor.code, executor.stderr).toBe(0);
    await smtp.waitFor(1);
    expect(smtp.received[0]!.parsed.subject).toBe('Re: Question EMAIL_C1');
    await phaseIs('EMAIL_C1', 'Done');

    const logs = await cluster.ok(['logs', '-n', namespace, await leader(), '-c', 'operator']);
    const lines = logs
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.some((l) => JSON.stringify(l).includes('EMAIL_C1'))).toBe(true);
  }, 300_000);

  const setSyncInterval = (seconds: number) =>
    cluster.ok([
      'patch',
      'vault',
      'fte',
      '-n',
      namespace,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { intervalSeconds: seconds } }),
    ]);

  it('kubectl edit vault changes the sync interval without a restart', async () => {
    await setSyncInterval(7);
    for (const pod of await operatorPods()) {
      await eventually(async () => {
        const logs = await cluster.ok(['logs', '-n', namespace, pod.metadata.name, '-c', 'sync']);
        expect(logs).toMatch(/syncing every 7 s/);
      }, 60_000);
      expect(pod.status.containerStatuses.every((c) => c.restartCount === 0)).toBe(true);
    }
    await setSyncInterval(1);
  }, 180_000);

  it('kubectl delete pod of the leader, then helm upgrade, with 20 items in flight: no draft twice, none lost', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `EMAIL_U${String(i).padStart(2, '0')}`);
    await feed(ids);
    await phaseIs(ids[0]!, 'PendingApproval');
    const first = await leader();
    const deleted = await cluster.kubectl(['delete', 'pod', '-n', namespace, first, '--wait=false']);
    expect(deleted.code, deleted.stderr).toBe(0);
    await eventually(async () => expect(await leader()).not.toBe(first), 120_000);

    const upgraded = await helm([
      'upgrade',
      'fte',
      join(REPO_ROOT, 'charts', 'fte'),
      '-f',
      values,
      '--set',
      'operator.logLevel=debug',
      '--wait',
      '--timeout',
      '5m',
    ]);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    for (const id of ids) await phaseIs(id, 'PendingApproval', 240_000);

    await eventually(async () => {
      await owner.repo.sync();
      for (const id of ids)
        expect(existsSync(join(owner.dir, `Pending_Approval/email/${id}.md`)), id).toBe(true);
    }, 60_000);
    for (const id of ids) {
      const drafts = (await git(owner.dir, 'log', '--format=%s', `--grep=^cloud: draft ${id}$`))
        .trim()
        .split('\n');
      expect(drafts, id).toHaveLength(1);
    }
    expect(await git(owner.dir, 'ls-files')).not.toMatch(/conflict/);
  }, 900_000);

  it('helm uninstall removes the workloads and keeps the CRDs (and with them every Task and Vault definition)', async () => {
    const removed = await helm(['uninstall', 'fte', '--wait']);
    expect(removed.code, removed.stderr).toBe(0);
    await eventually(async () => expect(await operatorPods()).toEqual([]), 120_000);
    for (const crd of ['tasks.fte.dev', 'vaults.fte.dev']) {
      expect((await cluster.kubectl(['get', 'crd', crd])).code, crd).toBe(0);
    }
  }, 300_000);
});
