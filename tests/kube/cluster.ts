import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import {
  type KubeTestCluster,
  type KubeTestUser,
  kubectl,
  readKubeTools,
  run,
  startKubeApiServer,
  writeKubeconfig,
} from '../harness/kube.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const CRD_PATH = join(REPO_ROOT, 'crds', 'task.yaml');
const CHART = join(REPO_ROOT, 'charts', 'fte');

/**
 * The operator's ServiceAccount, Role and RoleBinding exactly as charts/fte renders them for release `fte`
 * in `namespace` (service account and Lease `fte-operator`): the one source of the operator's rights.
 */
export async function operatorRbac(namespace: string): Promise<string> {
  const helmPath = readKubeTools().helm;
  if (!helmPath) throw new Error('helm not built: run scripts/ensure-k8s-tools.sh');
  const r = await run(helmPath, [
    'template',
    'fte',
    CHART,
    '--namespace',
    namespace,
    '-f',
    join(CHART, 'examples', 'minimal-ssh.yaml'),
    '--show-only',
    'templates/serviceaccount.yaml',
    '--show-only',
    'templates/rbac.yaml',
  ]);
  if (r.code !== 0) throw new Error(`helm template (RBAC) failed: ${r.stderr}`);
  return r.stdout;
}

/** A real API server with the Task CRD from crds/task.yaml applied and established. */
export type TaskCluster = {
  cluster: KubeTestCluster;
  /** kubectl as admin; throws with stderr when it fails. */
  ok(args: string[], input?: string): Promise<string>;
  /** A client configuration for admin, or for the given kubeconfig file. */
  kubeConfig(path?: string): KubeConfig;
  /** A new namespace with a unique name. */
  namespace(prefix?: string): Promise<string>;
  stop(): Promise<void>;
};

export async function startTaskCluster(
  users: KubeTestUser[] = [],
  extraApiServerArgs: string[] = [],
): Promise<TaskCluster> {
  const cluster = await startKubeApiServer({ users, extraApiServerArgs });
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await kubectl(cluster, args, { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  };
  try {
    await ok(['apply', '--server-side', '-f', CRD_PATH]);
    await ok(['wait', '--for=condition=Established', '--timeout=60s', 'crd/tasks.fte.dev']);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return {
    cluster,
    ok,
    kubeConfig(path = cluster.kubeconfigPath) {
      const kc = new KubeConfig();
      kc.loadFromFile(path);
      return kc;
    },
    async namespace(prefix = 'fte') {
      const name = `${prefix}-${randomBytes(3).toString('hex')}`;
      await ok(['create', 'namespace', name]);
      return name;
    },
    stop: () => cluster.stop(),
  };
}

/** A kubeconfig that authenticates with `token` (a static user's or a service account's), in `namespace`. */
export async function tokenKubeconfig(
  cluster: KubeTestCluster,
  user: string,
  token: string,
  namespace: string,
): Promise<string> {
  const path = await writeKubeconfig(cluster, user, token);
  const doc = JSON.parse(await readFile(path, 'utf8'));
  doc.contexts[0].context.namespace = namespace;
  await writeFile(path, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return path;
}

/** kubectl's table output as rows of cells, cut at the header's column starts (empty cells stay empty). */
export function table(text: string): string[][] {
  const lines = text.trimEnd().split('\n');
  const header = lines[0]!;
  const starts = [...header.matchAll(/\S+/g)].map((m) => m.index);
  return lines.map((line) =>
    starts.map((start, i) => line.slice(start, i + 1 < starts.length ? starts[i + 1] : undefined).trim()),
  );
}
