/**
 * What the tests and benchmarks put on the test node (tests/harness/cluster.ts): a git server the pods
 * clone from, the fte image in the node's registry, and skaffold runs.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { initVault } from '../../core/init.js';
import { VaultRepo } from '../../core/vault-repo.js';
import type { NodeCluster } from './cluster.js';
import { readKubeTools, run } from './kube.js';

/** The checkout: found upwards from this file, whether it runs from tests/harness or compiled in dist/. */
export const REPO_ROOT = findRepoRoot(import.meta.dirname);

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'Dockerfile'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no fte checkout above ${from}`);
  }
}

export interface BuiltImage {
  /** buildah's storage flags (`--root … --runroot …`). */
  storage: string[];
  /** The manifest list in that storage, e.g. `localhost/fte:cluster-test`. */
  manifest: string;
}

/**
 * Builds the fte image for the node (amd64; layers cached) with scripts/build-image.sh, outside the node:
 * the first build needs the package registries, which the node's namespace cannot reach. A later build of
 * the same sources inside it (skaffold's) is all cache hits.
 */
export async function buildFteImage(tag = 'cluster-test'): Promise<BuiltImage> {
  const built = await run(
    'bash',
    [join(REPO_ROOT, 'scripts', 'build-image.sh'), '--tag', tag, '--arch', 'amd64'],
    {
      timeoutMs: 2_400_000,
    },
  );
  if (built.code !== 0) throw new Error(`scripts/build-image.sh failed (${built.code}):\n${built.stderr}`);
  const storage = /^storage (.+)$/m.exec(built.stdout)?.[1]?.split(' ');
  const manifest = /^manifest (\S+)$/m.exec(built.stdout)?.[1];
  if (!storage || !manifest)
    throw new Error(`scripts/build-image.sh printed no storage/manifest:\n${built.stdout}`);
  return { storage, manifest };
}

/** Builds the image and pushes it to the node's registry as `name`, as a release reaches a real cluster. */
export async function pushFteImage(cluster: NodeCluster, name: string): Promise<string> {
  const { storage, manifest } = await buildFteImage();
  const target = `${cluster.registry}/${name}`;
  const pushed = await cluster.exec(
    'buildah',
    [...storage, 'manifest', 'push', '--all', '--tls-verify=false', manifest, `docker://${target}`],
    { timeoutMs: 600_000 },
  );
  if (pushed.code !== 0) throw new Error(`pushing ${manifest} to ${target} failed: ${pushed.stderr}`);
  return target;
}

/**
 * Runs the cached skaffold (scripts/ensure-k8s-tools.sh) inside the node's namespace on skaffold.yaml's
 * `local` profile, with a HOME of its own, in `namespace`, deploying the chart with the values file
 * `values` (FTE_VALUES) through the cached helm.
 */
export function skaffold(
  cluster: NodeCluster,
  args: string[],
  o: { namespace: string; home: string; values: string },
) {
  const tools = readKubeTools();
  const bin = tools.env.SKAFFOLD ?? '';
  if (!bin || !existsSync(bin)) throw new Error('skaffold not built: run scripts/ensure-k8s-tools.sh');
  if (!tools.helm) throw new Error('helm not built: run scripts/ensure-k8s-tools.sh');
  return cluster.exec(
    bin,
    [...args, '-p', 'local', '-n', o.namespace, '--kubeconfig', cluster.kubeconfigPath],
    {
      cwd: REPO_ROOT,
      timeoutMs: 1_800_000,
      env: {
        PATH: `${dirname(tools.helm)}:${process.env.PATH}`,
        HOME: o.home,
        FTE_VALUES: o.values,
        SKAFFOLD_UPDATE_CHECK: 'false',
        SKAFFOLD_INTERACTIVE: 'false',
        SKAFFOLD_DEFAULT_REPO: cluster.registry,
        FTE_PUSH_TLS_VERIFY: 'false',
        // The image cache stays the one the tests warm outside the node (skaffold's HOME is another).
        FTE_TOOLS_CACHE: process.env.FTE_TOOLS_CACHE || join(homedir(), '.cache', 'fte-tools'),
      },
    },
  );
}

export interface SshGitServer {
  /** `ssh://root@<node address>:2222<projectRoot>`; repositories at `<url>/<name>.git`. */
  url: string;
  /** The deploy key (OpenSSH private key) the pods use. */
  privateKey: string;
  /** The known_hosts line of the server's host key. */
  knownHosts: string;
}

/**
 * Serves the bare repositories under `projectRoot` over ssh (Debian's sshd inside the node's network
 * namespace, port 2222), as a git host with a deploy key: only the generated key gets in, and the pods
 * check the host key against the known_hosts line they are given.
 */
export async function sshGitServer(cluster: NodeCluster, projectRoot: string): Promise<SshGitServer> {
  const dir = join(projectRoot, '..', 'sshd');
  await mkdir(dir, { recursive: true });
  for (const [name, comment] of [
    ['host_ed25519', 'fte-test-host'],
    ['deploy_key', 'fte-cloud'],
  ] as const) {
    const r = await run('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      comment,
      '-f',
      join(dir, name),
    ]);
    if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  }
  const deployKey = (await readFile(join(dir, 'deploy_key.pub'), 'utf8')).trim();
  await writeFile(join(dir, 'authorized_keys'), `restrict ${deployKey}\n`, { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      'Port 2222',
      `ListenAddress ${cluster.nodeAddress}`,
      `HostKey ${join(dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      '',
    ].join('\n'),
  );
  // sshd's privilege-separation directory (the package's, created by its service on a booted system).
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const log = join(dir, 'sshd.log');
  const child = cluster.spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], log);
  for (let i = 0; !(await readFile(log, 'utf8').catch(() => '')).includes('Server listening'); i++) {
    if (child.exitCode !== null || i > 100) {
      throw new Error(`sshd did not start: ${await readFile(log, 'utf8').catch(() => '')}`);
    }
    await sleep(100);
  }
  const hostKey = (await readFile(join(dir, 'host_ed25519.pub'), 'utf8'))
    .trim()
    .split(' ')
    .slice(0, 2)
    .join(' ');
  return {
    url: `ssh://root@${cluster.nodeAddress}:2222${projectRoot}`,
    privateKey: await readFile(join(dir, 'deploy_key'), 'utf8'),
    knownHosts: `[${cluster.nodeAddress}]:2222 ${hostKey}`,
  };
}

export interface NodeVault {
  /** The bare remote on this machine (the owner's clone syncs with it directly). */
  remote: string;
  /** The owner's clone, outside the cluster. */
  owner: { dir: string; repo: VaultRepo };
  /** Writes a values file for charts/fte (the vault over ssh with the deploy key Secret), plus `extra`. */
  values(extra?: Record<string, unknown>): Promise<string>;
}

/**
 * What a chart install on the node needs besides the image: a bare remote served by sshd on the node's
 * address, the owner's clone of it, and `namespace` with the deploy key Secret `fte-git-ssh` in it.
 */
export async function vaultOnNode(cluster: NodeCluster, root: string, namespace: string): Promise<NodeVault> {
  await mkdir(join(root, 'git'), { recursive: true });
  const remote = join(root, 'git', 'vault.git');
  const init = await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  if (init.code !== 0) throw new Error(`git init --bare failed: ${init.stderr}`);
  const ownerDir = join(root, 'owner');
  await initVault(ownerDir, { remote, agent: 'local' });
  const server = await sshGitServer(cluster, join(root, 'git'));
  await cluster.ok(['create', 'namespace', namespace]);
  const keyFile = join(root, 'deploy_key');
  await writeFile(keyFile, server.privateKey, { mode: 0o600 });
  await cluster.ok([
    'create',
    'secret',
    'generic',
    'fte-git-ssh',
    '-n',
    namespace,
    `--from-file=ssh-privatekey=${keyFile}`,
  ]);
  return {
    remote,
    owner: { dir: ownerDir, repo: new VaultRepo({ root: ownerDir, agent: 'local' }) },
    async values(extra = {}) {
      const path = join(root, 'values.yaml');
      const vault = { url: `${server.url}/vault.git`, ...((extra.vault as object | undefined) ?? {}) };
      const git = { sshKey: { existingSecret: 'fte-git-ssh' }, knownHosts: server.knownHosts };
      await writeFile(path, stringify({ ...extra, vault, git }));
      return path;
    },
  };
}
