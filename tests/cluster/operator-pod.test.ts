import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { initVault } from '../../core/init.js';
import { VaultRepo } from '../../core/vault-repo.js';
import type { Task } from '../../operator/task.js';
import { type NodeCluster, startNodeCluster } from '../harness/cluster.js';
import { gitServer, pushFteImage, REPO_ROOT } from '../harness/cluster-apps.js';
import { git, itemText } from '../helpers/vaults.js';
import { eventually } from '../kube/store-contract.js';

/**
 * The `fte` image on a real node: `fte operator --store kube` in pods of deploy/operator.yaml, with the
 * in-cluster config and the service account of deploy/rbac.yaml, cloning and pushing the vault over HTTP
 * (with credentials) from a git server on the node's address, like it would from GitHub. The owner's side
 * is a clone of the same remote outside the cluster.
 */

const email = (id: string) =>
  itemText(
    {
      type: 'email',
      from: 'Jane Client <client@example.com>',
      subject: `Question ${id}`,
      received: '2026-01-07T10:30:00Z',
      message_id: `<${id.toLowerCase()}@mail.example.com>`,
      status: 'pending',
    },
    `## Email Content\nHello, about ${id}: could you get back to me?\n`,
  );

describe('the fte operator image on a real node', () => {
  let cluster: NodeCluster;
  let root: string;
  let image: string;
  let owner: { dir: string; repo: VaultRepo };
  let remote: string;
  const namespace = `fte-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    cluster = await startNodeCluster();
    image = await pushFteImage(cluster, 'fte/fte:test');
    root = await mkdtemp(join(tmpdir(), 'fte-pod-'));
    await mkdir(join(root, 'git'));
    remote = join(root, 'git', 'vault.git');
    await git(root, 'init', '--quiet', '--bare', '--initial-branch=main', remote);
    const owned = join(root, 'owner');
    await initVault(owned, { remote, agent: 'local' });
    owner = { dir: owned, repo: new VaultRepo({ root: owned, agent: 'local' }) };
    const server = await gitServer(cluster, join(root, 'git'));

    await cluster.ok(['create', 'namespace', namespace]);
    await cluster.ok(['apply', '--server-side', '-f', join(REPO_ROOT, 'crds', 'task.yaml')]);
    await cluster.ok(['wait', '--for=condition=Established', '--timeout=60s', 'crd/tasks.fte.dev']);
    await cluster.ok(['apply', '-n', namespace, '-f', join(REPO_ROOT, 'deploy', 'rbac.yaml')]);
    await cluster.ok([
      'create',
      'secret',
      'generic',
      'fte-git',
      '-n',
      namespace,
      `--from-literal=remote=${server.url}/vault.git`,
      `--from-literal=authorization=${server.authorizationHeader}`,
    ]);
    await cluster.ok(['apply', '-n', namespace, '-f', '-'], await operatorManifest(image));
    await cluster.ok(['rollout', 'status', '-n', namespace, 'deployment/fte-operator', '--timeout=180s']);
  }, 900_000);

  afterAll(async () => {
    await cluster?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  }, 120_000);

  async function task(id: string): Promise<Task | undefined> {
    const out = await cluster.ok(['get', 'tasks', '-n', namespace, '-o', 'json']);
    return (JSON.parse(out).items as Task[]).find((t) => t.spec.id === id);
  }

  const phaseIs = (id: string, phase: string, timeoutMs = 120_000) =>
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

  async function feed(ids: string[]): Promise<void> {
    for (const id of ids) await writeFile(join(owner.dir, `Needs_Action/email/${id}.md`), email(id));
    await owner.repo.commit(
      'local: new mail',
      ids.map((id) => `Needs_Action/email/${id}.md`),
    );
    expect((await owner.repo.sync()).state).toBe('synced');
  }

  it('an email item pushed to the git server becomes a Task at PendingApproval; the approval reaches the owner', async () => {
    const pods = JSON.parse(
      await cluster.ok([
        'get',
        'pods',
        '-n',
        namespace,
        '-l',
        'app.kubernetes.io/name=fte-operator',
        '-o',
        'json',
      ]),
    ).items as Array<{
      spec: { containers: Array<{ securityContext: unknown }> };
      status: { phase: string };
    }>;
    expect(pods).toHaveLength(2);
    for (const pod of pods) expect(pod.status.phase).toBe('Running');

    await feed(['EMAIL_P1']);
    const pending = await phaseIs('EMAIL_P1', 'PendingApproval');
    expect(pending.status).toMatchObject({
      owner: 'cloud',
      approvalPath: 'Pending_Approval/email/EMAIL_P1.md',
    });
    expect(await cluster.ok(['get', 'tasks', '-n', namespace])).toMatch(/email\s+PendingApproval\s+cloud/);

    await eventually(async () => {
      await owner.repo.sync();
      expect(existsSync(join(owner.dir, 'Pending_Approval/email/EMAIL_P1.md'))).toBe(true);
    }, 60_000);
    expect(await readFile(join(owner.dir, 'Pending_Approval/email/EMAIL_P1.md'), 'utf8')).toContain(
      'Re: Question EMAIL_P1',
    );

    // The leader's log is JSON lines, and the lines about this task carry its id.
    const logs = await cluster.ok(['logs', '-n', namespace, (await leader()).trim(), '-c', 'operator']);
    const lines = logs
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => JSON.stringify(l).includes('EMAIL_P1'))).toBe(true);
  }, 300_000);

  it('kubectl delete pod of the leader: the other replica takes the Lease and finishes; no draft twice over 20 items', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `EMAIL_F${String(i).padStart(2, '0')}`);
    await feed(ids);
    await phaseIs(ids[0]!, 'PendingApproval');
    const first = await leader();
    // The leader still has work in hand when it goes (one worker: the items go one by one).
    const tasks = JSON.parse(await cluster.ok(['get', 'tasks', '-n', namespace, '-o', 'json']))
      .items as Task[];
    const drafted = tasks.filter((t) => ids.includes(t.spec.id) && t.status?.phase === 'PendingApproval');
    expect(drafted.length).toBeLessThan(ids.length);
    const deleted = await cluster.kubectl(['delete', 'pod', '-n', namespace, first, '--wait=false']);
    expect(deleted.code, deleted.stderr).toBe(0);

    await eventually(async () => {
      const now = await leader();
      expect(now).toBeTruthy();
      expect(now).not.toBe(first);
    }, 120_000);
    for (const id of ids) await phaseIs(id, 'PendingApproval', 180_000);

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
  }, 600_000);
});

/** deploy/operator.yaml with the image just pushed and short lease and sync periods (the test's clock). */
async function operatorManifest(image: string): Promise<string> {
  const docs = parseAllDocuments(await readFile(join(REPO_ROOT, 'deploy', 'operator.yaml'), 'utf8'));
  const deployment = docs[0]!.toJS();
  const pod = deployment.spec.template.spec;
  for (const c of [...pod.initContainers, ...pod.containers]) c.image = image;
  const operator = pod.containers[0];
  operator.args.push('--interval', '1');
  operator.env.push(
    { name: 'FTE_LEASE_DURATION_SECONDS', value: '6' },
    { name: 'FTE_LEASE_RENEW_DEADLINE_SECONDS', value: '4' },
    { name: 'FTE_LEASE_RETRY_PERIOD_SECONDS', value: '1' },
    { name: 'FTE_RESYNC_SECONDS', value: '5' },
    { name: 'FTE_OPERATOR_WORKERS', value: '1' },
  );
  return JSON.stringify(deployment);
}
