import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helm, type KubeTestCluster, kubectl, startKubeApiServer } from '../harness/kube.js';
import { CHART, examplePath, examples, renderText } from './helm.js';

/** The one part of the Prometheus operator's CRD the API server needs to accept a ServiceMonitor. */
const SERVICE_MONITOR_CRD = JSON.stringify({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'servicemonitors.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com',
    scope: 'Namespaced',
    names: { plural: 'servicemonitors', singular: 'servicemonitor', kind: 'ServiceMonitor' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['selector'],
                properties: {
                  selector: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  endpoints: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        port: { type: 'string' },
                        path: { type: 'string' },
                        interval: { type: 'string' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
});

describe('charts/fte on a real kube-apiserver', () => {
  let cluster: KubeTestCluster;
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await kubectl(cluster, args, { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  };
  const namespace = async (): Promise<string> => {
    const name = `chart-${randomBytes(3).toString('hex')}`;
    await ok(['create', 'namespace', name]);
    return name;
  };

  beforeAll(async () => {
    cluster = await startKubeApiServer();
    await ok(['apply', '--server-side', '-f', join(CHART, 'crds')]);
    await ok(['apply', '--server-side', '-f', '-'], SERVICE_MONITOR_CRD);
    await ok([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/tasks.fte.dev',
      'crd/vaults.fte.dev',
      'crd/servicemonitors.monitoring.coreos.com',
    ]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it.each(examples)(
    'helm template -f examples/%s.yaml is accepted by kubectl apply --dry-run=server',
    async (name) => {
      const ns = await namespace();
      const manifests = await renderText({ values: [examplePath(name)], namespace: ns });
      const out = await ok(['apply', '--dry-run=server', '-n', ns, '-f', '-'], manifests);
      expect(out).toContain('deployment.apps/fte-operator created (server dry run)');
      expect(out).toContain('vault.fte.dev/fte created (server dry run)');
      expect(out).toContain('role.rbac.authorization.k8s.io/fte-operator created (server dry run)');
      const odoo = name === 'with-odoo' || name === 'external-db';
      const created = (what: string) => out.includes(`${what} created (server dry run)`);
      expect(created('deployment.apps/fte-odoo')).toBe(odoo);
      expect(created('cronjob.batch/fte-backup')).toBe(odoo);
      expect(created('ingress.networking.k8s.io/fte-odoo')).toBe(odoo);
      expect(created('statefulset.apps/fte-postgresql')).toBe(name === 'with-odoo');
    },
  );

  it('the ServiceMonitor and the restore Job are accepted too', async () => {
    const ns = await namespace();
    const manifests = await renderText({
      values: [examplePath('with-odoo')],
      set: ['metrics.serviceMonitor.enabled=true', 'backup.restore.file=odoo-20260107T033000Z.dump'],
      namespace: ns,
    });
    const out = await ok(['apply', '--dry-run=server', '-n', ns, '-f', '-'], manifests);
    expect(out).toContain('servicemonitor.monitoring.coreos.com/fte-operator created (server dry run)');
    expect(out).toMatch(/job\.batch\/fte-backup-restore-[0-9a-f]{8} created \(server dry run\)/);
  });

  it('helm install creates the token Secret once; helm upgrade keeps it (lookup)', async () => {
    const ns = await namespace();
    const install = await helm(cluster, ['install', 'fte', CHART, '-n', ns, '-f', examplePath('with-odoo')]);
    expect(install.stderr).toBe('');
    expect(install.code).toBe(0);
    expect(install.stdout).toContain(`kubectl get vaults -n ${ns}`);
    expect(install.stdout).toContain(`kubectl get tasks -n ${ns}`);
    expect(install.stdout).toContain('ssh-keygen -y -f /dev/stdin');
    const secret = async (name: string) => ok(['get', 'secret', name, '-n', ns, '-o', 'jsonpath={.data}']);
    const token = await secret('fte-vault-token');
    const password = await secret('fte-postgresql');
    expect(JSON.parse(token).token.length).toBeGreaterThan(40);
    const upgrade = await helm(cluster, [
      'upgrade',
      'fte',
      CHART,
      '-n',
      ns,
      '-f',
      examplePath('with-odoo'),
      '--set',
      'vault.intervalSeconds=30',
    ]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(await secret('fte-vault-token')).toBe(token);
    expect(await secret('fte-postgresql')).toBe(password);
    const vault = JSON.parse(await ok(['get', 'vault', 'fte', '-n', ns, '-o', 'json']));
    expect(vault.spec).toMatchObject({
      url: 'git@github.com:me/vault.git',
      intervalSeconds: 30,
      agent: 'cloud',
    });
    expect(await ok(['get', 'vaults', '-n', ns])).toMatch(
      /^NAME\s+URL\s+BRANCH\s+COMMIT\s+LAG\s+READY\s+AGE/,
    );
  });

  it('the rendered RBAC allows the operator exactly what it needs, in its namespace only', async () => {
    const ns = await namespace();
    const other = await namespace();
    const rbac = await renderText({
      values: [examplePath('minimal-ssh')],
      namespace: ns,
    }).then((all) =>
      all
        .split(/^---$/m)
        .filter((doc) => /^kind: (ServiceAccount|Role|RoleBinding)$/m.test(doc))
        .join('\n---\n'),
    );
    await ok(['apply', '-n', ns, '-f', '-'], rbac);
    const sa = `system:serviceaccount:${ns}:fte-operator`;
    const can = async (namespace: string, ...args: string[]) =>
      `${args.join(' ')} in ${namespace}: ${(await kubectl(cluster, ['auth', 'can-i', '--as', sa, '-n', namespace, ...args])).stdout.trim()}`;
    const allowed = [
      ['get', 'tasks.fte.dev'],
      ['list', 'tasks.fte.dev'],
      ['watch', 'tasks.fte.dev'],
      ['create', 'tasks.fte.dev'],
      ['patch', 'tasks.fte.dev'],
      ['delete', 'tasks.fte.dev'],
      ['patch', 'tasks.fte.dev', '--subresource=status'],
      ['get', 'vaults.fte.dev'],
      ['list', 'vaults.fte.dev'],
      ['watch', 'vaults.fte.dev'],
      ['patch', 'vaults.fte.dev', '--subresource=status'],
      ['create', 'leases.coordination.k8s.io'],
      ['get', 'leases.coordination.k8s.io/fte-operator'],
      ['update', 'leases.coordination.k8s.io/fte-operator'],
      ['create', 'events.events.k8s.io'],
    ];
    const denied = [
      ['get', 'secrets'],
      ['list', 'secrets'],
      ['get', 'configmaps'],
      ['create', 'pods'],
      ['get', 'pods'],
      ['get', 'nodes'],
      ['update', 'tasks.fte.dev'],
      ['patch', 'vaults.fte.dev'],
      ['create', 'vaults.fte.dev'],
      ['delete', 'vaults.fte.dev'],
      ['update', 'vaults.fte.dev', '--subresource=status'],
      ['delete', 'leases.coordination.k8s.io/fte-operator'],
      ['update', 'leases.coordination.k8s.io/someone-else'],
      ['delete', 'events.events.k8s.io'],
      ['create', 'events'],
      ['patch', 'customresourcedefinitions.apiextensions.k8s.io'],
      ['create', 'rolebindings.rbac.authorization.k8s.io'],
    ];
    for (const args of allowed) expect(await can(ns, ...args)).toBe(`${args.join(' ')} in ${ns}: yes`);
    for (const args of denied) expect(await can(ns, ...args)).toBe(`${args.join(' ')} in ${ns}: no`);
    for (const args of allowed) expect(await can(other, ...args)).toBe(`${args.join(' ')} in ${other}: no`);

    // And nothing beyond the list: every resource rule the service account holds in its namespace, but for
    // the self-reviews system:basic-user grants every authenticated user.
    const EVERYONE = [
      'selfsubjectaccessreviews.authorization.k8s.io',
      'selfsubjectrulesreviews.authorization.k8s.io',
      'selfsubjectreviews.authentication.k8s.io',
    ];
    const list = await ok(['auth', 'can-i', '--list', '--as', sa, '-n', ns]);
    const rows = list
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s{2,}/))
      .filter(([resource]) => resource !== '' && !EVERYONE.includes(resource!))
      .map(([resource, nonResource, names, verbs]) =>
        `${resource} ${nonResource} ${names} ${verbs}`.replace(/\s+/g, ' '),
      );
    expect(rows.filter((r) => !r.startsWith('[/')).sort()).toEqual(
      [
        'events.events.k8s.io [] [] [create]',
        'leases.coordination.k8s.io [] [] [create]',
        'leases.coordination.k8s.io [] [fte-operator] [get update]',
        'tasks.fte.dev [] [] [get list watch create patch delete]',
        'tasks.fte.dev/status [] [] [patch]',
        'vaults.fte.dev [] [] [get list watch]',
        'vaults.fte.dev/status [] [] [patch]',
      ].sort(),
    );
  });
});
