/**
 * The images the cluster tests run beside the fte image (scripts/build-test-images.sh), built outside the
 * node (the first build needs the package registries) and pushed into the node's registry from inside its
 * namespace:
 *   fte-test/postgres:15             Debian's postgresql-15 behaving like the official image for charts/fte
 *   fte-test/odoo-standin:<version>  NOT Odoo: the test Odoo server of tests/odoo/ (JSON-RPC, JSON-2 from
 *                                    19.0, /web/health, /web/version, the invoice report; state in memory),
 *                                    writing one file into the filestore on start
 * And a DNS server for Service names: the test node has no cluster DNS, while the chart's pods reach
 * PostgreSQL (and the operator Odoo) by Service name.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeCluster } from './cluster.js';
import { REPO_ROOT } from './cluster-apps.js';
import { run } from './kube.js';

export interface TestImage {
  /** The image in buildah's storage, e.g. `localhost/fte-test/postgres:15`. */
  local: string;
  /** Uncompressed size of all layers. */
  bytes: number;
}

export interface TestImages {
  /** buildah's storage flags (`--root … --runroot … --storage-driver overlay`). */
  storage: string[];
  postgres: TestImage;
  odooStandin: TestImage;
  /** How long the build (or the cache check) took. */
  buildMs: number;
}

/** Runs scripts/build-test-images.sh (cached) and reads what it built. */
export async function buildTestImages(odooVersion = '18.0'): Promise<TestImages> {
  const started = Date.now();
  const built = await run(
    'bash',
    [join(REPO_ROOT, 'scripts', 'build-test-images.sh'), '--odoo-version', odooVersion],
    { timeoutMs: 1_800_000 },
  );
  if (built.code !== 0) {
    throw new Error(`scripts/build-test-images.sh failed (${built.code}):\n${built.stderr}`);
  }
  const root = /^storage --root (\S+) --runroot (\S+)$/m.exec(built.stdout);
  const image = (what: string): TestImage => {
    const m = new RegExp(`^image ${what} (\\S+) (\\d+)$`, 'm').exec(built.stdout);
    if (!m?.[1] || !m[2])
      throw new Error(`scripts/build-test-images.sh printed no ${what} image:\n${built.stdout}`);
    return { local: m[1], bytes: Number(m[2]) };
  };
  if (!root?.[1] || !root[2]) {
    throw new Error(`scripts/build-test-images.sh printed no storage line:\n${built.stdout}`);
  }
  return {
    storage: ['--root', root[1], '--runroot', root[2], '--storage-driver', 'overlay'],
    postgres: image('postgres'),
    odooStandin: image('odoo-standin'),
    buildMs: Date.now() - started,
  };
}

/**
 * Pushes one built image into the node's registry as `<registry>/<local name without localhost/>` and
 * returns that reference (repository:tag).
 */
export async function pushTestImage(
  cluster: NodeCluster,
  images: TestImages,
  image: TestImage,
): Promise<string> {
  const target = `${cluster.registry}/${image.local.replace(/^localhost\//, '')}`;
  const pushed = await cluster.exec(
    'buildah',
    [...images.storage, 'push', '--quiet', '--tls-verify=false', image.local, `docker://${target}`],
    { timeoutMs: 600_000 },
  );
  if (pushed.code !== 0) throw new Error(`pushing ${image.local} to ${target} failed: ${pushed.stderr}`);
  return target;
}

/** `repository:tag` split at the last colon after the last slash. */
export function splitImage(reference: string): { repository: string; tag: string } {
  const colon = reference.lastIndexOf(':');
  if (colon <= reference.lastIndexOf('/')) throw new Error(`${reference} has no tag`);
  return { repository: reference.slice(0, colon), tag: reference.slice(colon + 1) };
}

export interface ClusterDns {
  /** Publishes the ClusterIP of every Service of `namespace` as `<name>.<namespace>.svc.cluster.local`. */
  refresh(namespace: string): Promise<Record<string, string>>;
}

/**
 * Cluster DNS for the test node: tests/harness/dns-server.mjs on `<node address>:53` inside the namespace,
 * answering A queries for the Services `refresh()` published. Pods find it because the kubelet (without a
 * clusterDNS) hands them its resolv.conf, which this rewrites: nameserver = the node address, searched
 * `<namespace>.svc.cluster.local svc.cluster.local cluster.local`, ndots 5, as in a real cluster. Only pods
 * created afterwards see it. Against an external cluster (real DNS) it does nothing.
 */
export async function startClusterDns(cluster: NodeCluster, namespace: string): Promise<ClusterDns> {
  if (!cluster.netns) return { refresh: async () => ({}) };
  const records = join(cluster.dir, 'dns-records.json');
  await writeFile(records, '{}\n');
  const log = join(cluster.dir, 'dns-server.log');
  const child = cluster.spawn(
    process.execPath,
    [join(REPO_ROOT, 'tests', 'harness', 'dns-server.mjs'), cluster.nodeAddress, '53', records],
    log,
  );
  for (let i = 0; !(await readFile(log, 'utf8').catch(() => '')).includes('listening'); i++) {
    if (child.exitCode !== null || i > 100) {
      throw new Error(`dns server did not start: ${await readFile(log, 'utf8').catch(() => '')}`);
    }
    await sleep(100);
  }
  const resolvConf = join(cluster.dir, 'resolv.conf');
  if (!existsSync(resolvConf)) throw new Error(`${resolvConf} missing: the kubelet's resolvConf moved?`);
  await writeFile(
    resolvConf,
    `nameserver ${cluster.nodeAddress}\nsearch ${namespace}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`,
  );
  return {
    refresh: async (ns: string) => {
      const services = JSON.parse(await cluster.ok(['get', 'services', '-n', ns, '-o', 'json']))
        .items as Array<{
        metadata: { name: string };
        spec: { clusterIP?: string };
      }>;
      const current = JSON.parse(await readFile(records, 'utf8')) as Record<string, string>;
      for (const svc of services) {
        const ip = svc.spec.clusterIP;
        if (ip && ip !== 'None') current[`${svc.metadata.name}.${ns}.svc.cluster.local`] = ip;
      }
      await writeFile(`${records}.tmp`, `${JSON.stringify(current, null, 2)}\n`);
      const moved = await run('mv', [`${records}.tmp`, records]);
      if (moved.code !== 0) throw new Error(`mv ${records}: ${moved.stderr}`);
      return current;
    },
  };
}
