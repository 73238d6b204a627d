import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeCluster, startNodeCluster } from '../harness/cluster.js';
import { pushFteImage, REPO_ROOT } from '../harness/cluster-apps.js';
import { readKubeTools } from '../harness/kube.js';
import {
  buildTestImages,
  type ClusterDns,
  pushTestImage,
  splitImage,
  startClusterDns,
  type TestImages,
} from '../harness/test-images.js';

/**
 * charts/fte with Odoo on a real node: the PostgreSQL StatefulSet, the Odoo Deployment, the backup CronJob
 * and the restore Job, from the chart, on hostPath PersistentVolumes (the node has no provisioner).
 *
 * PostgreSQL is real (Debian's postgresql-15 in fte-test/postgres:15). Odoo is NOT: fte-test/odoo-standin
 * runs the test Odoo server of tests/odoo/ (both external APIs over an in-memory state), which answers the
 * chart's probes, /web/version and common.version and writes one attachment into the filestore; it never
 * connects to PostgreSQL, so this test creates the `odoo` database itself, as Odoo's first start would. The proof is about the chart's
 * backup and restore: a row and filestore files survive backup, loss and restore.
 *
 * The operator runs from the fte image but cannot clone: the chart only takes an https or ssh vault URL and
 * the test's git server speaks plain HTTP, and operator.replicas has a minimum of 1. Its one pod stays in
 * Init (nothing here depends on it).
 */

const CHART = join(REPO_ROOT, 'charts', 'fte');
const RELEASE = 'fte';
const STORAGE_CLASS = 'fte-test';
const ODOO_VERSION = '18.0';
/** PersistentVolumeClaims the chart makes for release `fte`: the StatefulSet's, Odoo's filestore, backups. */
const CLAIMS = ['data-fte-postgresql-0', 'fte-odoo-filestore', 'fte-backup'];

describe('charts/fte: PostgreSQL, an Odoo stand-in, backup and restore on a real node', () => {
  let cluster: NodeCluster;
  let images: TestImages;
  let dns: ClusterDns;
  let work: string;
  const namespace = `odoo-${randomBytes(3).toString('hex')}`;
  const timings: Record<string, number> = {};

  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Date.now() - started;
    }
  };

  const helm = async (args: string[]): Promise<string> => {
    const bin = readKubeTools().helm;
    if (!bin) throw new Error('helm not built: run scripts/ensure-k8s-tools.sh (HELM= missing)');
    const r = await cluster.exec(bin, ['--kubeconfig', cluster.kubeconfigPath, ...args], {
      timeoutMs: 300_000,
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(work, 'helm', 'cache'),
        HELM_CONFIG_HOME: join(work, 'helm', 'config'),
        HELM_DATA_HOME: join(work, 'helm', 'data'),
      },
    });
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  };

  const kubectl = (args: string[], input?: string) => cluster.ok(['-n', namespace, ...args], input);

  /** What the namespace looks like, for failure messages. */
  const diagnose = async (): Promise<string> => {
    const parts: string[] = [];
    for (const args of [
      ['get', 'pods,pvc,jobs', '-o', 'wide'],
      ['get', 'events', '--sort-by=.lastTimestamp'],
    ]) {
      const r = await cluster.kubectl(['-n', namespace, ...args]);
      parts.push(`$ kubectl ${args.join(' ')}\n${r.stdout}${r.stderr}`);
    }
    const pods = await cluster.kubectl(['-n', namespace, 'get', 'pods', '-o', 'name']);
    for (const pod of pods.stdout.split('\n').filter(Boolean)) {
      const logs = await cluster.kubectl(['-n', namespace, 'logs', pod, '--all-containers', '--tail=30']);
      parts.push(`$ kubectl logs ${pod}\n${logs.stdout}${logs.stderr}`);
    }
    return parts.join('\n');
  };

  const until = async (what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${await diagnose()}`);
      await sleep(1000);
    }
  };

  const podReady = (selector: string) => async (): Promise<boolean> => {
    const out = await kubectl(['get', 'pods', '-l', selector, '-o', 'json']);
    const pods = JSON.parse(out).items as Array<{
      metadata: { deletionTimestamp?: string };
      status: { conditions?: Array<{ type: string; status: string }> };
    }>;
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    return (
      live.length === 1 &&
      live[0]!.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
    );
  };

  /** Waits for a Job to complete; throws with its logs as soon as it has failed. */
  const jobDone = async (name: string, timeoutMs: number): Promise<string> => {
    await until(`job ${name} complete`, timeoutMs, async () => {
      const job = JSON.parse(await kubectl(['get', 'job', name, '-o', 'json']));
      const conditions = (job.status?.conditions ?? []) as Array<{ type: string; status: string }>;
      if (conditions.some((c) => c.type === 'Failed' && c.status === 'True')) {
        const logs = await cluster.kubectl(['-n', namespace, 'logs', `job/${name}`]);
        throw new Error(`job ${name} failed:\n${logs.stdout}${logs.stderr}\n${await diagnose()}`);
      }
      return conditions.some((c) => c.type === 'Complete' && c.status === 'True');
    });
    return kubectl(['logs', `job/${name}`]);
  };

  const psql = (db: string, sql: string) =>
    kubectl([
      'exec',
      'fte-postgresql-0',
      '-c',
      'postgresql',
      '--',
      'psql',
      '-X',
      '-At',
      '-v',
      'ON_ERROR_STOP=1',
      '-U',
      'odoo',
      '-d',
      db,
      '-c',
      sql,
    ]).then((out) => out.trim());

  const odooPod = async (): Promise<string> => {
    const out = await kubectl([
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/component=odoo',
      '-o',
      'jsonpath={.items[*].metadata.name}',
    ]);
    const names = out.split(' ').filter(Boolean);
    if (names.length !== 1)
      throw new Error(`expected one Odoo pod, found ${names.length}\n${await diagnose()}`);
    return names[0]!;
  };
  const inOdoo = async (script: string, ...args: string[]) =>
    kubectl(['exec', await odooPod(), '-c', 'odoo', '--', 'sh', '-c', script, 'sh', ...args]);

  beforeAll(async () => {
    cluster = await step('node start', () => startNodeCluster());
    work = await mkdtemp(join(tmpdir(), 'fte-odoo-backup-'));
    images = await step('test images build', () => buildTestImages(ODOO_VERSION));
    const postgres = await step('push postgres', () => pushTestImage(cluster, images, images.postgres));
    const odoo = await step('push odoo-standin', () => pushTestImage(cluster, images, images.odooStandin));
    const fte = await step('fte image build+push', () => pushFteImage(cluster, 'fte/fte:test'));

    await cluster.ok(['create', 'namespace', namespace]);
    dns = await startClusterDns(cluster, namespace);

    // Static volumes: a hostPath directory per claim, open to the pods' UIDs like k3s's local-path ones
    // (the kubelet applies no fsGroup to hostPath), each PV bound to its claim by claimRef.
    const volumes = join(work, 'volumes');
    await mkdir(volumes);
    await chmod(work, 0o755);
    await chmod(volumes, 0o755);
    const manifests: object[] = [
      {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: STORAGE_CLASS },
        provisioner: 'kubernetes.io/no-provisioner',
        volumeBindingMode: 'Immediate',
      },
    ];
    for (const claim of CLAIMS) {
      const path = join(volumes, claim);
      await mkdir(path);
      await chmod(path, 0o777);
      manifests.push({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `${namespace}-${claim}` },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: STORAGE_CLASS,
          claimRef: { namespace, name: claim },
          hostPath: { path, type: 'Directory' },
        },
      });
    }
    await cluster.ok(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests }),
    );

    // The operator's Secrets: a git header (the remote is unreachable, see above) and an Odoo API key.
    await kubectl([
      'create',
      'secret',
      'generic',
      'fte-git',
      '--from-literal=authorization=Authorization: Basic dGVzdDp0ZXN0',
    ]);
    await kubectl(['create', 'secret', 'generic', 'fte-odoo-cloud', '--from-literal=api-key=unused']);

    const fteImage = splitImage(fte);
    const small = (memory: string) => ({ requests: { cpu: '10m', memory: '32Mi' }, limits: { memory } });
    const values = {
      image: { repository: fteImage.repository, tag: fteImage.tag },
      vault: { url: `https://${cluster.nodeAddress}:8443/vault.git` },
      git: { http: { existingSecret: 'fte-git' } },
      operator: { replicas: 1 },
      odoo: {
        enabled: true,
        version: ODOO_VERSION,
        image: { repository: splitImage(odoo).repository },
        cloudApiKey: { existingSecret: 'fte-odoo-cloud' },
        persistence: { size: '1Gi', storageClass: STORAGE_CLASS },
        resources: small('256Mi'),
      },
      postgresql: {
        image: { repository: splitImage(postgres).repository, tag: splitImage(postgres).tag },
        persistence: { size: '1Gi', storageClass: STORAGE_CLASS },
        resources: small('512Mi'),
      },
      backup: { persistence: { size: '1Gi', storageClass: STORAGE_CLASS }, retention: 3 },
    };
    const valuesPath = join(work, 'values.yaml');
    await writeFile(valuesPath, `${JSON.stringify(values, null, 2)}\n`);
    console.log(`odoo-backup: values\n${JSON.stringify(values, null, 2)}`);

    await step('helm install', () => helm(['install', RELEASE, CHART, '-n', namespace, '-f', valuesPath]));
    await dns.refresh(namespace);
    for (const claim of CLAIMS) {
      await until(`PVC ${claim} Bound`, 60_000, async () => {
        const phase = await kubectl(['get', 'pvc', claim, '-o', 'jsonpath={.status.phase}']);
        return phase === 'Bound';
      });
    }
    await step('postgres Ready', () =>
      until('PostgreSQL Ready', 300_000, podReady('app.kubernetes.io/component=postgresql')),
    );
    await step('odoo Ready', () =>
      until('Odoo Ready', 300_000, podReady('app.kubernetes.io/component=odoo')),
    );
  }, 1_800_000);

  afterAll(async () => {
    console.log(`odoo-backup: timings (ms) ${JSON.stringify(timings)}`);
    if (images) {
      console.log(
        `odoo-backup: images ${images.postgres.local} ${images.postgres.bytes} B, ${images.odooStandin.local} ${images.odooStandin.bytes} B (build/check ${images.buildMs} ms)`,
      );
    }
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  }, 120_000);

  it('PostgreSQL runs as UID 999 from its volume; the stand-in answers like Odoo on the Service port', async () => {
    expect(await psql('postgres', 'SELECT current_user')).toBe('odoo');
    const pgUid = await kubectl(['exec', 'fte-postgresql-0', '-c', 'postgresql', '--', 'id', '-u']);
    expect(pgUid.trim()).toBe('999');
    expect(await psql('postgres', 'SHOW data_directory')).toBe('/var/lib/postgresql/data/pgdata');
    // Password authentication over TCP, as Odoo and the backup Jobs connect.
    const overTcp = await kubectl([
      'exec',
      'fte-postgresql-0',
      '-c',
      'postgresql',
      '--',
      'sh',
      '-c',
      'PGPASSWORD=wrong psql -X -h 127.0.0.1 -U odoo -d postgres -c "select 1" 2>&1 || true',
    ]);
    expect(overTcp).toContain('password authentication failed');

    const ip = await kubectl(['get', 'service', 'fte-odoo', '-o', 'jsonpath={.spec.clusterIP}']);
    const version = await cluster.exec('curl', ['-fsS', `http://${ip}:8069/web/version`]);
    expect(version.code, version.stderr).toBe(0);
    // /web/version as Odoo documents it (external_api.rst); common.version below has the long form.
    expect(JSON.parse(version.stdout)).toEqual({
      version_info: [18, 0, 0, 'final', 0, ''],
      version: ODOO_VERSION,
    });
    const rpc = await cluster.exec('curl', [
      '-fsS',
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'call',
        params: { service: 'common', method: 'version', args: [] },
        id: 7,
      }),
      `http://${ip}:8069/jsonrpc`,
    ]);
    expect(rpc.code, rpc.stderr).toBe(0);
    expect(JSON.parse(rpc.stdout)).toMatchObject({
      jsonrpc: '2.0',
      id: 7,
      result: { server_version: '18.0' },
    });
  }, 120_000);

  it('backup CronJob → data lost → restore Job via helm upgrade: the row and the filestore are back', async () => {
    // What Odoo's first start would do (the stand-in does not): create its database. Then business data.
    await psql('postgres', 'CREATE DATABASE odoo');
    await psql(
      'odoo',
      "CREATE TABLE account_move (name text PRIMARY KEY, amount numeric); INSERT INTO account_move VALUES ('INV/2026/0001', 119.00)",
    );
    const attachment = `invoice scan ${randomBytes(8).toString('hex')}`;
    await inOdoo(
      'mkdir -p /var/lib/odoo/filestore/odoo/fe && printf %s "$1" > /var/lib/odoo/filestore/odoo/fe/test-attachment',
      attachment,
    );
    const filesBefore = (await inOdoo('cd /var/lib/odoo && find filestore -type f | sort')).trim();
    expect(filesBefore.split('\n')).toHaveLength(2); // the stand-in's attachment and the test's

    // The backup, as the schedule would run it; PGHOST is the Service name (the test's DNS).
    const backupLogs = await step('backup job', async () => {
      await kubectl(['create', 'job', '--from=cronjob/fte-backup', 'fte-backup-now']);
      return jobDone('fte-backup-now', 300_000);
    });
    const dump = /^backup: wrote (odoo-\d{8}T\d{6}Z\.dump)$/m.exec(backupLogs)?.[1];
    expect(dump, backupLogs).toBeDefined();
    // The backup volume is a hostPath directory of this test: a custom-format dump and the filestore tar.
    const onVolume = (await readdir(join(work, 'volumes', 'fte-backup'))).sort();
    expect(onVolume).toEqual([dump, dump!.replace(/\.dump$/, '.filestore.tar.gz')]);
    const head = await readFile(join(work, 'volumes', 'fte-backup', dump!));
    expect(head.subarray(0, 5).toString()).toBe('PGDMP');

    // Disaster: the table and every file of the filestore gone.
    await psql('odoo', 'DROP TABLE account_move');
    await inOdoo('rm -rf /var/lib/odoo/filestore/odoo');
    expect(await psql('odoo', "SELECT to_regclass('account_move') IS NULL")).toBe('t');

    // The restore: helm upgrade renders the Job and stops Odoo while it runs.
    await step('restore (helm upgrade + job)', async () => {
      await helm([
        'upgrade',
        RELEASE,
        CHART,
        '-n',
        namespace,
        '--reuse-values',
        '--set',
        `backup.restore.file=${dump}`,
      ]);
      expect(await kubectl(['get', 'deployment', 'fte-odoo', '-o', 'jsonpath={.spec.replicas}'])).toBe('0');
      const jobs = await kubectl([
        'get',
        'jobs',
        '-l',
        'app.kubernetes.io/component=backup',
        '-o',
        'jsonpath={.items[*].metadata.name}',
      ]);
      const restoreJob = jobs.split(' ').find((n) => n.startsWith('fte-backup-restore-'));
      expect(restoreJob, jobs).toBeDefined();
      const restoreLogs = await jobDone(restoreJob!, 300_000);
      expect(restoreLogs).toContain(`restore: ${dump} restored`);
    });

    expect(await psql('odoo', 'SELECT name, amount FROM account_move')).toBe('INV/2026/0001|119.00');

    // Odoo again, on the restored filestore.
    await step('odoo back', async () => {
      await helm([
        'upgrade',
        RELEASE,
        CHART,
        '-n',
        namespace,
        '--reuse-values',
        '--set',
        'backup.restore.file=',
      ]);
      await until('Odoo Ready after the restore', 300_000, podReady('app.kubernetes.io/component=odoo'));
    });
    expect((await inOdoo('cd /var/lib/odoo && find filestore -type f | sort')).trim()).toBe(filesBefore);
    expect(await inOdoo('cat /var/lib/odoo/filestore/odoo/fe/test-attachment')).toBe(attachment);
    // The stand-in found its own attachment restored rather than writing it again.
    const odooLogs = await kubectl(['logs', await odooPod(), '-c', 'odoo']);
    expect(odooLogs).toMatch(/filestore: \S+ already there/);

    // helm uninstall keeps the data, as docs/deploy.md says: every volume claim and the CRDs stay.
    await helm(['uninstall', RELEASE, '-n', namespace, '--wait']);
    const claims = await kubectl(['get', 'pvc', '-o', 'jsonpath={.items[*].metadata.name}']);
    expect(claims.split(' ').sort()).toEqual([...CLAIMS].sort());
    await until(
      'the pods of the release gone',
      120_000,
      async () => (await kubectl(['get', 'pods', '-o', 'name'])) === '',
    );
    for (const crd of ['tasks.fte.dev', 'vaults.fte.dev'])
      expect((await cluster.kubectl(['get', 'crd', crd])).code).toBe(0);
  }, 900_000);
});
