import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Task } from '../../operator/task.js';
import { type VaultResource, VaultSpec } from '../../operator/vault-resource.js';
import { createServiceAccountToken } from '../harness/kube.js';
import { startFte } from '../helpers/cli.js';
import { emailItem, git, isAncestor, remoteWithClones } from '../helpers/vaults.js';
import { assertBuilt, cleanEnv, freePort } from '../operator/process.js';
import {
  operatorRbac,
  REPO_ROOT,
  startTaskCluster,
  type TaskCluster,
  table,
  tokenKubeconfig,
} from './cluster.js';
import { eventually } from './store-contract.js';

/**
 * The Vault resource (ADR 0008) against a real kube-apiserver: the git-sync sidecar (`fte sync
 * --vault-resource`) writes its status and follows its interval, the operator (`fte operator
 * --vault-resource`) follows its domains, both as the operator's service account with the chart's RBAC
 * (nothing more), with real bare git remotes.
 */

const VAULT_CRD_PATH = join(REPO_ROOT, 'crds', 'vault.yaml');

type Proc = ReturnType<typeof startFte>;

describe('the Vault resource (real API server, real git remotes)', () => {
  let kube: TaskCluster;
  const live: Proc[] = [];
  beforeAll(async () => {
    assertBuilt();
    kube = await startTaskCluster();
    await kube.ok(['apply', '--server-side', '-f', VAULT_CRD_PATH]);
    await kube.ok(['wait', '--for=condition=Established', '--timeout=60s', 'crd/vaults.fte.dev']);
  }, 180_000);
  afterAll(async () => {
    for (const p of live)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await kube?.stop();
  });

  async function namespaceWithAccount(): Promise<{ namespace: string; kubeconfig: string }> {
    const namespace = await kube.namespace('vault');
    await kube.ok(['apply', '-n', namespace, '-f', '-'], await operatorRbac(namespace));
    const token = await createServiceAccountToken(kube.cluster, namespace, 'fte-operator');
    return { namespace, kubeconfig: await tokenKubeconfig(kube.cluster, 'fte-operator', token, namespace) };
  }

  async function createVault(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
    const doc = { apiVersion: 'fte.dev/v1alpha1', kind: 'Vault', metadata: { name, namespace }, spec };
    await kube.ok(['apply', '-f', '-'], stringify(doc));
  }

  async function vault(namespace: string, name: string): Promise<VaultResource> {
    return JSON.parse(await kube.ok(['get', 'vault', name, '-n', namespace, '-o', 'json']));
  }

  async function patchSpec(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
    await kube.ok(['patch', 'vault', name, '-n', namespace, '--type=merge', '-p', JSON.stringify({ spec })]);
  }

  const condition = (v: VaultResource, type: string) => v.status?.conditions?.find((c) => c.type === type);

  function sidecar(dir: string, name: string, kubeconfig: string, namespace: string): Proc {
    const proc = startFte(
      [
        'sync',
        '--vault',
        dir,
        '--agent',
        'cloud',
        '--interval',
        '1',
        '--vault-resource',
        name,
        '--kubeconfig',
        kubeconfig,
        '--namespace',
        namespace,
      ],
      cleanEnv(),
      600_000,
    );
    live.push(proc);
    return proc;
  }

  async function stop(proc: Proc): Promise<void> {
    proc.child.kill('SIGTERM');
    const end = await proc.done;
    expect(end.code, end.stderr).toBe(0);
  }

  const head = async (dir: string, ref = 'HEAD') => (await git(dir, 'rev-parse', ref)).trim();

  it('the sidecar writes synced / offline / synced; kubectl get vaults shows URL BRANCH COMMIT LAG READY AGE', async () => {
    const { namespace, kubeconfig } = await namespaceWithAccount();
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    await createVault(namespace, 'main-vault', { url: remote, intervalSeconds: 1 });
    const proc = sidecar(clones.cloud!.dir, 'main-vault', kubeconfig, namespace);
    try {
      const synced = await eventually(async () => {
        const v = await vault(namespace, 'main-vault');
        expect(v.status?.state, proc.output().stderr).toBe('synced');
        return v;
      }, 60_000);
      const commit = await head(clones.cloud!.dir);
      expect(synced.status).toMatchObject({
        lastSyncedCommit: commit,
        shortCommit: commit.slice(0, 12),
        remoteCommit: await head(remote, 'main'),
        lagSeconds: 0,
        observedGeneration: synced.metadata.generation,
      });
      expect(synced.status?.reason).toBeUndefined();
      expect(condition(synced, 'Ready')).toMatchObject({ status: 'True', reason: 'Synced' });
      expect(condition(synced, 'Synced')).toMatchObject({ status: 'True' });
      expect(condition(synced, 'RemoteRefused')).toMatchObject({ status: 'False' });
      // The API server filled in the spec's defaults.
      expect(synced.spec).toMatchObject({ branch: 'main', agent: 'cloud', intervalSeconds: 1 });

      const rows = table(await kube.ok(['get', 'vaults', '-n', namespace]));
      expect(rows[0]).toEqual(['NAME', 'URL', 'BRANCH', 'COMMIT', 'LAG', 'READY', 'AGE']);
      expect(rows[1]!.slice(0, 6)).toEqual(['main-vault', remote, 'main', commit.slice(0, 12), '0', 'True']);
      expect(rows[1]![6]).not.toBe('');
      expect(await kube.ok(['get', 'fv', '-n', namespace])).toContain('main-vault');
      expect(await kube.ok(['get', 'fv', '-n', namespace, '-o', 'wide'])).toMatch(/STATE.*\n.*synced/);

      // The remote goes away: offline, with git's reason; the last synced commit stays.
      await rename(remote, `${remote}.away`);
      const offline = await eventually(async () => {
        const v = await vault(namespace, 'main-vault');
        expect(v.status?.state).toBe('offline');
        return v;
      }, 60_000);
      expect(offline.status?.reason).toMatch(/\S/);
      expect(offline.status?.lastSyncedCommit).toBe(commit);
      expect(typeof offline.status?.lagSeconds).toBe('number');
      expect(condition(offline, 'Ready')).toMatchObject({ status: 'False', reason: 'Offline' });
      expect(condition(offline, 'Synced')).toMatchObject({ status: 'False', reason: 'Offline' });
      expect(table(await kube.ok(['get', 'vaults', '-n', namespace]))[1]![5]).toBe('False');

      // It comes back with a new commit on it: synced to that commit.
      await rename(`${remote}.away`, remote);
      await writeFile(join(clones.local!.dir, 'Plans', 'note.md'), 'a plan\n');
      expect((await clones.local!.repo.sync()).state).toBe('synced');
      const tip = await head(remote, 'main');
      const back = await eventually(async () => {
        const v = await vault(namespace, 'main-vault');
        expect(v.status).toMatchObject({ state: 'synced', lastSyncedCommit: tip, lagSeconds: 0 });
        return v;
      }, 60_000);
      expect(back.status?.reason).toBeUndefined();
      expect(condition(back, 'Ready')?.status).toBe('True');
      expect(condition(back, 'Ready')?.lastTransitionTime).not.toBe(
        condition(synced, 'Ready')?.lastTransitionTime,
      );
    } finally {
      await stop(proc);
    }
  }, 300_000);

  it('a hostile remote tip is shown as refused with the reason, and synced again once fixed', async () => {
    const { namespace, kubeconfig } = await namespaceWithAccount();
    const { root, remote, clones } = await remoteWithClones(['cloud']);
    await createVault(namespace, 'hostile', { url: remote, intervalSeconds: 1 });
    const proc = sidecar(clones.cloud!.dir, 'hostile', kubeconfig, namespace);
    try {
      const good = await eventually(async () => {
        const v = await vault(namespace, 'hostile');
        expect(v.status?.state, proc.output().stderr).toBe('synced');
        return v;
      }, 60_000);
      // The compromised cloud pushes a submodule gitlink, which the git owner refuses to check out.
      const attacker = join(root, 'attacker');
      await git(root, 'clone', '--quiet', remote, attacker);
      const base = await head(attacker);
      await git(attacker, 'update-index', '--add', '--cacheinfo', `160000,${base},Plans/sub`);
      await git(attacker, '-c', 'user.name=evil', '-c', 'user.email=evil@x', 'commit', '-q', '-m', 'evil');
      await git(attacker, 'push', '-q', 'origin', 'HEAD:main');
      const evil = await head(attacker);

      const refused = await eventually(async () => {
        const v = await vault(namespace, 'hostile');
        expect(v.status?.state).toBe('refused');
        return v;
      }, 60_000);
      expect(refused.status?.reason).toMatch(/gitlink/);
      expect(refused.status?.remoteCommit).toBe(evil);
      expect(refused.status?.lastSyncedCommit).toBe(good.status?.lastSyncedCommit);
      expect(condition(refused, 'RemoteRefused')).toMatchObject({ status: 'True', reason: 'RemoteRefused' });
      expect(condition(refused, 'RemoteRefused')?.message).toContain(evil.slice(0, 12));
      expect(condition(refused, 'Ready')).toMatchObject({ status: 'False', reason: 'RemoteRefused' });
      expect(await kube.ok(['get', 'vault', 'hostile', '-n', namespace, '-o', 'wide'])).toMatch(/refused/);

      await git(attacker, 'rm', '-q', '--cached', 'Plans/sub');
      await git(attacker, '-c', 'user.name=evil', '-c', 'user.email=evil@x', 'commit', '-q', '-m', 'fix');
      await git(attacker, 'push', '-q', 'origin', 'HEAD:main');
      const fixed = await head(attacker);
      const again = await eventually(async () => {
        const v = await vault(namespace, 'hostile');
        expect(v.status?.state).toBe('synced');
        return v;
      }, 60_000);
      // The clone's own audit record of the refusal is rebased onto the fix and pushed.
      expect(again.status?.lastSyncedCommit).toBe(await head(clones.cloud!.dir));
      expect(await isAncestor(clones.cloud!.dir, fixed, again.status!.lastSyncedCommit!)).toBe(true);
      expect(condition(again, 'RemoteRefused')).toMatchObject({ status: 'False', reason: 'RemoteAccepted' });
    } finally {
      await stop(proc);
    }
  }, 300_000);

  it('a kubectl edit of spec.intervalSeconds changes the running sidecar’s interval, no restart', async () => {
    const { namespace, kubeconfig } = await namespaceWithAccount();
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    await createVault(namespace, 'tick', { url: remote, intervalSeconds: 1 });
    const proc = sidecar(clones.cloud!.dir, 'tick', kubeconfig, namespace);
    const stderr = () => proc.output().stderr;
    try {
      await eventually(
        async () => expect((await vault(namespace, 'tick')).status?.state).toBe('synced'),
        60_000,
      );
      // An hour: the loop says so when it next waits, and the status shows the generation it read.
      await patchSpec(namespace, 'tick', { intervalSeconds: 3600 });
      const generation = (await vault(namespace, 'tick')).metadata.generation;
      await eventually(() => expect(stderr()).toContain('syncing every 3600 s'), 60_000);
      await eventually(
        async () => expect((await vault(namespace, 'tick')).status?.observedGeneration).toBe(generation),
        60_000,
      );
      // Back to one second: applied at once (not after the hour), so a new remote commit arrives.
      await writeFile(join(clones.local!.dir, 'Plans', 'tick.md'), 'tick\n');
      expect((await clones.local!.repo.sync()).state).toBe('synced');
      const tip = await head(remote, 'main');
      await patchSpec(namespace, 'tick', { intervalSeconds: 1 });
      await eventually(
        () => expect(stderr()).toMatch(/syncing every 3600 s[\s\S]*syncing every 1 s/),
        60_000,
      );
      await eventually(
        async () => expect((await vault(namespace, 'tick')).status?.lastSyncedCommit).toBe(tip),
        60_000,
      );
      expect(proc.child.exitCode).toBeNull();
    } finally {
      await stop(proc);
    }
  }, 300_000);

  it('a kubectl edit of spec.domains changes what the running operator drafts, no restart', async () => {
    const { namespace, kubeconfig } = await namespaceWithAccount();
    const { clones } = await remoteWithClones(['cloud']);
    await createVault(namespace, 'ops', { url: 'git@example.com:vault.git', domains: ['social'] });
    const port = await freePort();
    const op = startFte(
      [
        'operator',
        '--vault',
        clones.cloud!.dir,
        '--store',
        'kube',
        '--kubeconfig',
        kubeconfig,
        '--namespace',
        namespace,
        '--vault-resource',
        'ops',
        '--port',
        String(port),
        '--interval',
        '1',
      ],
      cleanEnv({ FTE_RESYNC_SECONDS: '2', POD_NAME: 'op-0' }),
      600_000,
    );
    live.push(op);
    const task = async (id: string) => {
      const out = await kube.ok(['get', 'tasks', '-n', namespace, '-o', 'json']);
      return (JSON.parse(out).items as Task[]).find((t) => t.spec.id === id);
    };
    try {
      await writeFile(
        join(clones.cloud!.dir, 'Needs_Action/email/EMAIL_V1.md'),
        emailItem('Invoice for January', 'EMAIL_V1'),
      );
      // email is not enabled: the task says why and the item is not claimed.
      const waiting = await eventually(async () => {
        const t = await task('EMAIL_V1');
        const progressing = t?.status?.conditions?.find((c) => c.type === 'Progressing');
        expect(progressing?.reason, op.output().stderr).toBe('DomainDisabled');
        return t!;
      }, 90_000);
      expect(waiting.status?.phase).toBe('NeedsAction');
      expect(await git(clones.cloud!.dir, 'log', '--format=%s')).not.toMatch(/claim EMAIL_V1/);

      await patchSpec(namespace, 'ops', { domains: ['email', 'social'] });
      const drafted = await eventually(async () => {
        const t = await task('EMAIL_V1');
        expect(t?.status?.phase, op.output().stderr).toBe('PendingApproval');
        return t!;
      }, 90_000);
      expect(drafted.status?.approvalPath).toBe('Pending_Approval/email/EMAIL_V1.md');
      expect(op.output().stderr).toContain('Vault resource changed; applying its settings');
      expect(op.child.exitCode).toBeNull();
    } finally {
      await stop(op);
    }
  }, 300_000);

  it('the operator refuses to start without its Vault resource (exit 78, says what is missing)', async () => {
    const { namespace, kubeconfig } = await namespaceWithAccount();
    const { clones } = await remoteWithClones(['cloud']);
    const run = await startFte(
      [
        'operator',
        '--once',
        '--vault',
        clones.cloud!.dir,
        '--kubeconfig',
        kubeconfig,
        '--namespace',
        namespace,
        '--vault-resource',
        'nowhere',
      ],
      cleanEnv(),
    ).done;
    expect(run.code, run.stderr).toBe(78);
    expect(run.stderr).toMatch(/vault nowhere .*no such Vault/);
  }, 120_000);

  it('the API server refuses an invalid Vault with a readable message, as zod does', async () => {
    const namespace = await kube.namespace('bad');
    const bad = {
      url: 'git@example.com:vault.git',
      intervalSeconds: 0,
      agent: 'Cloud/../x',
      domains: ['Email!'],
      drafter: { maxTokens: -5 },
      secretRefs: { deployKey: '-----BEGIN OPENSSH PRIVATE KEY-----' },
    };
    const doc = {
      apiVersion: 'fte.dev/v1alpha1',
      kind: 'Vault',
      metadata: { name: 'bad', namespace },
      spec: bad,
    };
    const { kubectl } = await import('../harness/kube.js');
    const refused = await kubectl(kube.cluster, ['apply', '-f', '-'], { input: stringify(doc) });
    expect(refused.code).not.toBe(0);
    for (const field of [
      'spec.intervalSeconds',
      'spec.agent',
      'spec.domains[0]',
      'spec.drafter.maxTokens',
      'spec.secretRefs.deployKey',
    ]) {
      expect(refused.stderr).toContain(field);
    }
    expect(refused.stderr).toMatch(/should be greater than or equal to 1/);
    const missing = await kubectl(kube.cluster, ['apply', '-f', '-'], {
      input: stringify({ ...doc, spec: { branch: 'main' } }),
    });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/spec\.url: Required value/);
    // zod, the schema the CRD is generated from, refuses the same fields.
    const parsed = VaultSpec.safeParse(bad);
    expect(parsed.success).toBe(false);
    expect(new Set(parsed.error?.issues.map((i) => i.path.join('.')))).toEqual(
      new Set(['intervalSeconds', 'agent', 'domains.0', 'drafter.maxTokens', 'secretRefs.deployKey']),
    );
    // A minimal one is accepted and defaulted by the server as zod defaults it.
    await kube.ok(['apply', '-f', '-'], stringify({ ...doc, spec: { url: 'git@example.com:vault.git' } }));
    const stored = JSON.parse(await kube.ok(['get', 'vault', 'bad', '-n', namespace, '-o', 'json']));
    expect(stored.spec).toEqual(VaultSpec.parse({ url: 'git@example.com:vault.git' }));
  }, 120_000);
});
