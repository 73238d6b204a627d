import { afterAll, describe, expect, it } from 'vitest';
import { type KubeTestCluster, kubectl, startKubeApiServer, writeKubeconfig } from './kube.js';

// A real kube-apiserver + etcd (built by scripts/ensure-k8s-tools.sh). The
// test fails, never skips, when the binaries are missing.

const crd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.smoke.fte.dev' },
  spec: {
    group: 'smoke.fte.dev',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
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
                properties: { color: { type: 'string' }, size: { type: 'integer' } },
                required: ['color'],
              },
            },
          },
        },
      },
    ],
  },
};

const widget = {
  apiVersion: 'smoke.fte.dev/v1',
  kind: 'Widget',
  metadata: { name: 'w1', namespace: 'default' },
  spec: { color: 'teal', size: 3 },
};

async function ok(cluster: KubeTestCluster, args: string[], input?: string): Promise<string> {
  const r = await kubectl(cluster, args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

describe('kube harness (real kube-apiserver + etcd)', () => {
  let cluster: KubeTestCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('serves namespaces, CRDs and custom objects, and keeps them across an API server restart', async () => {
    cluster = await startKubeApiServer({ users: [{ name: 'reader', groups: ['smoke-readers'] }] });

    const ns = await ok(cluster, ['get', 'ns', '-o', 'name']);
    expect(ns.split('\n')).toContain('namespace/default');

    await ok(cluster, ['apply', '-f', '-'], JSON.stringify(crd));
    await ok(cluster, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/widgets.smoke.fte.dev']);

    await ok(cluster, ['apply', '-f', '-'], JSON.stringify(widget));
    const read = JSON.parse(
      await ok(cluster, ['get', 'widgets.smoke.fte.dev', 'w1', '-n', 'default', '-o', 'json']),
    );
    expect(read.spec).toEqual({ color: 'teal', size: 3 });

    // RBAC is real: an authenticated user without bindings is forbidden.
    const readerKubeconfig = await writeKubeconfig(cluster, 'reader', cluster.users.reader ?? '');
    const denied = await kubectl(cluster, ['get', 'widgets.smoke.fte.dev', '-n', 'default'], {
      kubeconfigPath: readerKubeconfig,
    });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/forbidden/i);

    // Schema validation is real: a widget without the required color is rejected.
    const bad = await kubectl(cluster, ['apply', '-f', '-'], {
      input: JSON.stringify({ ...widget, metadata: { name: 'w2', namespace: 'default' }, spec: { size: 1 } }),
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/color/);

    const port = new URL(cluster.server).port;
    await cluster.restart();
    expect(new URL(cluster.server).port).toBe(port);

    const again = JSON.parse(
      await ok(cluster, ['get', 'widgets.smoke.fte.dev', 'w1', '-n', 'default', '-o', 'json']),
    );
    expect(again.spec).toEqual({ color: 'teal', size: 3 });
    expect(again.metadata.uid).toBe(read.metadata.uid);

    await cluster.stop();
    cluster = undefined;
  }, 180_000);
});
