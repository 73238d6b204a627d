import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectKube, KubeConfigError } from '../../operator/controller/kube/config.js';
import { KubeSettingsError, kubeEnv } from '../../operator/controller/kube/mode.js';
import { taskEvents } from '../../operator/events.js';
import { startKubeApiServer } from '../harness/kube.js';
import { assertBuilt, cleanEnv, fte } from '../operator/process.js';

const kubeconfig = (server: string, namespace?: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', ...(namespace ? { namespace } : {}) } }],
    'current-context': 'x',
  });

describe('finding the cluster', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fte-kubeconfig-'));
    await writeFile(join(dir, 'flag'), kubeconfig('https://flag.example:6443', 'from-flag'));
    await writeFile(join(dir, 'env'), kubeconfig('https://env.example:6443'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--kubeconfig wins over $KUBECONFIG, which wins over the rest; the namespace comes from flag, env or context', () => {
    const env = { KUBECONFIG: join(dir, 'env') };
    const flag = connectKube({ kubeconfig: join(dir, 'flag'), env });
    expect(flag).toMatchObject({ server: 'https://flag.example:6443', namespace: 'from-flag' });
    expect(connectKube({ env })).toMatchObject({ server: 'https://env.example:6443', namespace: 'default' });
    expect(connectKube({ env: { ...env, POD_NAMESPACE: 'pod-ns' } }).namespace).toBe('pod-ns');
    expect(connectKube({ env, namespace: 'flag-ns' }).namespace).toBe('flag-ns');
  });

  it('says what to do when there is no configuration', () => {
    expect(() => connectKube({ kubeconfig: join(dir, 'nope'), env: {} })).toThrow(KubeConfigError);
    expect(() => connectKube({ kubeconfig: join(dir, 'nope'), env: {} })).toThrow(
      /--kubeconfig .*nope does not exist/,
    );
    expect(() => connectKube({ env: { KUBECONFIG: join(dir, 'nope') } })).toThrow(
      /KUBECONFIG names no existing file/,
    );
  });

  it('lease settings default to 15 s / 10 s / 2 s and must keep retry < renew deadline < lease', () => {
    expect(kubeEnv({})).toMatchObject({
      FTE_LEASE_NAME: 'fte-operator',
      FTE_LEASE_DURATION_SECONDS: 15,
      FTE_LEASE_RENEW_DEADLINE_SECONDS: 10,
      FTE_LEASE_RETRY_PERIOD_SECONDS: 2,
    });
    expect(() => kubeEnv({ FTE_LEASE_RENEW_DEADLINE_SECONDS: '20' })).toThrow(KubeSettingsError);
    expect(() => kubeEnv({ FTE_LEASE_DURATION_SECONDS: '2.5' })).toThrow(
      /FTE_LEASE_DURATION_SECONDS: must be whole seconds/,
    );
  });
});

describe('fte operator --store kube, refused before it starts', () => {
  beforeAll(assertBuilt);

  it('no configuration: exit 78 with one line; a bad --store: exit 2', async () => {
    const vault = await mkdtemp(join(tmpdir(), 'fte-vault-'));
    try {
      await fte(['init', vault], cleanEnv());
      const home = await mkdtemp(join(tmpdir(), 'fte-home-'));
      const run = await fte(
        ['operator', '--vault', vault, '--store', 'kube', '--once'],
        cleanEnv({ HOME: home, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' }),
      );
      expect(run.code).toBe(78);
      expect(run.stderr.trim().split('\n')).toEqual([
        'fte: no Kubernetes configuration: pass --kubeconfig <file>, set KUBECONFIG, or run inside a cluster',
      ]);
      const bad = await fte(['operator', '--vault', vault, '--store', 'etcd', '--once'], cleanEnv());
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--store must be kube or memory');
      await rm(home, { recursive: true, force: true });
    } finally {
      await rm(vault, { recursive: true, force: true });
    }
  });

  it('an API server without the CRD: one line that says to install it', async () => {
    const cluster = await startKubeApiServer();
    const vault = await mkdtemp(join(tmpdir(), 'fte-vault-'));
    try {
      await fte(['init', vault], cleanEnv());
      const run = await fte(
        ['operator', '--vault', vault, '--store', 'kube', '--kubeconfig', cluster.kubeconfigPath, '--once'],
        cleanEnv(),
      );
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(
        /does not serve tasks\.fte\.dev\/v1alpha1: install the CRD \(kubectl apply -f crds\/task\.yaml\)/,
      );
    } finally {
      await cluster.stop();
      await rm(vault, { recursive: true, force: true });
    }
  });

  it('missing kube-apiserver binaries fail the suite loudly with what to run, never skip it', async () => {
    const previous = process.env.FTE_TOOLS_CACHE;
    process.env.FTE_TOOLS_CACHE = await mkdtemp(join(tmpdir(), 'fte-no-tools-'));
    try {
      await expect(startKubeApiServer()).rejects.toThrow(
        /kube-apiserver not built: run scripts\/ensure-k8s-tools\.sh/,
      );
    } finally {
      await rm(process.env.FTE_TOOLS_CACHE, { recursive: true, force: true });
      if (previous === undefined) delete process.env.FTE_TOOLS_CACHE;
      else process.env.FTE_TOOLS_CACHE = previous;
    }
  });
});

describe('task events', () => {
  const claimed = {
    type: 'Claimed',
    status: 'True' as const,
    reason: 'Won',
    message: 'claimed into In_Progress/cloud/X.md',
  };

  it('one event per step, none for a condition that did not change, and the owner’s decisions', () => {
    expect(taskEvents(undefined, { phase: 'InProgress' }, claimed).map((e) => e.reason)).toEqual(['Claimed']);
    const previous = { phase: 'InProgress' as const, conditions: [{ ...claimed, lastTransitionTime: 'x' }] };
    expect(taskEvents(previous, { phase: 'InProgress' }, claimed)).toEqual([]);
    const drafted = {
      type: 'Drafted',
      status: 'True' as const,
      reason: 'ApprovalRequested',
      message: 'waiting',
    };
    expect(taskEvents(previous, { phase: 'PendingApproval' }, drafted).map((e) => e.reason)).toEqual([
      'Drafted',
      'ApprovalRequested',
    ]);
    expect(taskEvents({ phase: 'PendingApproval' }, { phase: 'Done' }, undefined)).toMatchObject([
      { type: 'Normal', reason: 'Done' },
    ]);
    const failed = { type: 'Failed', status: 'True' as const, reason: 'Quarantined', message: 'bad YAML' };
    expect(taskEvents(undefined, { phase: 'Failed' }, failed)).toEqual([
      { type: 'Warning', reason: 'Failed', action: 'Quarantine', message: 'bad YAML' },
    ]);
    const expired = {
      type: 'Expired',
      status: 'True' as const,
      reason: 'Expired',
      message: 'moved to Rejected/X.md',
    };
    expect(
      taskEvents({ phase: 'PendingApproval' }, { phase: 'Rejected' }, expired).map((e) => e.reason),
    ).toEqual(['Expired', 'Rejected']);
  });
});
