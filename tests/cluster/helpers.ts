import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeCluster } from '../harness/cluster.js';
import { run } from '../harness/kube.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

export interface GitServer {
  /** `http://<node address>:<port>`; repositories at `/<name>.git`. */
  url: string;
  /** The `Authorization: Basic …` header line git sends (http.extraHeader). */
  authorizationHeader: string;
}

/**
 * Serves every bare repository under `projectRoot` over smart HTTP with Basic auth on the node's address
 * (tests/harness/git-http-server.mjs inside the cluster's network namespace); stops with the cluster.
 */
export async function gitServer(cluster: NodeCluster, projectRoot: string, port = 8080): Promise<GitServer> {
  const password = randomBytes(12).toString('hex');
  const passwordFile = join(projectRoot, '..', 'git-password');
  await writeFile(passwordFile, password, { mode: 0o600 });
  const log = join(projectRoot, '..', 'git-http.log');
  const child = cluster.spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'tests', 'harness', 'git-http-server.mjs'),
      cluster.nodeAddress,
      String(port),
      projectRoot,
      'fte',
      passwordFile,
    ],
    log,
  );
  for (let i = 0; !(await readFile(log, 'utf8').catch(() => '')).includes('listening'); i++) {
    if (child.exitCode !== null || i > 100) {
      throw new Error(`git http server did not start: ${await readFile(log, 'utf8').catch(() => '')}`);
    }
    await sleep(100);
  }
  const basic = Buffer.from(`fte:${password}`).toString('base64');
  return {
    url: `http://${cluster.nodeAddress}:${port}`,
    authorizationHeader: `Authorization: Basic ${basic}`,
  };
}

/**
 * Builds the fte image for the node (amd64; layers cached) with scripts/build-image.sh outside the node, then
 * pushes the manifest list to the node's registry as `name` (from inside its network namespace), as a
 * release would reach a real cluster. Returns the reference pods use.
 */
export async function pushFteImage(cluster: NodeCluster, name: string): Promise<string> {
  const built = await run(
    'bash',
    [join(REPO_ROOT, 'scripts', 'build-image.sh'), '--tag', 'cluster-test', '--arch', 'amd64'],
    {
      timeoutMs: 1_800_000,
    },
  );
  if (built.code !== 0) throw new Error(`scripts/build-image.sh failed (${built.code}):\n${built.stderr}`);
  const storage = /^storage (.+)$/m.exec(built.stdout)?.[1]?.split(' ');
  const manifest = /^manifest (\S+)$/m.exec(built.stdout)?.[1];
  if (!storage || !manifest)
    throw new Error(`scripts/build-image.sh printed no storage/manifest:\n${built.stdout}`);
  const target = `${cluster.registry}/${name}`;
  const pushed = await cluster.exec(
    'buildah',
    [...storage, 'manifest', 'push', '--all', '--tls-verify=false', manifest, `docker://${target}`],
    { timeoutMs: 600_000 },
  );
  if (pushed.code !== 0) throw new Error(`pushing ${manifest} to ${target} failed: ${pushed.stderr}`);
  return target;
}
