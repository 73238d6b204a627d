/**
 * A real single-node Kubernetes cluster for end-to-end tests: pods run.
 *
 * One call starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet,
 * kube-proxy and a container registry, all inside a network namespace created for it. The namespace has
 * `lo` and a dummy interface carrying the node address (its default route points into that dummy, which
 * drops everything): every address the cluster uses belongs to the namespace, and nothing it sends can
 * leave this machine. containerd and kubelet share one private mount namespace whose /var/lib, /var/log
 * and /run/containerd are tmpfs, so their mounts and files vanish with it; pods live in their own cgroup
 * subtree (`/fte-<id>`). `stop()` kills what runs there and removes the namespace, the cgroups and the
 * work directory (tests/cluster/node.test.ts checks that nothing is left).
 *
 * The test process itself stays outside: it talks to the cluster through `exec()` / `kubectl()`, which
 * run a command inside the namespace (`nsenter --net`).
 *
 * With FTE_TEST_KUBECONFIG set, nothing is started: the same suites run against that cluster (kind, k3s),
 * with FTE_TEST_REGISTRY (a registry the cluster pulls from and this machine pushes to, `host:port`) and
 * FTE_TEST_NODE_ADDRESS (an address of this machine the pods can reach, for the test's git server).
 *
 * Needs root, the binaries of scripts/ensure-k8s-tools.sh and the Debian packages of scripts/test-setup.sh
 * (containerd, runc, containernetworking-plugins, iptables, docker-registry, skopeo). A missing one is an
 * error, never a skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CommandResult,
  exited,
  generateCerts,
  issueCert,
  KUBECTL,
  kubeconfigYaml,
  readKubeTools,
  run,
  tail,
  tokenLine,
  waitFor,
} from './kube.js';

export interface NodeCluster {
  /** The network namespace everything runs in (`ip netns` name); undefined for an external cluster. */
  netns: string | undefined;
  /** The node's address: the API server, the registry and the test's servers listen here. */
  nodeAddress: string;
  /** `host:port` of the registry pods pull from. */
  registry: string;
  /** Admin kubeconfig (server `https://<node address>:6443`). */
  kubeconfigPath: string;
  /** Work directory (logs of every component). */
  dir: string;
  /** The cgroup subtree the pods run in (`/fte-<id>`); undefined for an external cluster. */
  cgroupRoot: string | undefined;
  /** How long the start took until the node was Ready (ms). */
  readyMs: number;
  /** Runs a command inside the cluster's network namespace. */
  exec(cmd: string, args: string[], opts?: ExecOptions): Promise<CommandResult>;
  /** Starts a long-running process inside the network namespace, output to `logPath`. */
  spawn(cmd: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv): ChildProcess;
  /** kubectl as admin; resolves with the result, whatever the exit code. */
  kubectl(args: string[], opts?: ExecOptions): Promise<CommandResult>;
  /** kubectl as admin; throws with stderr when it fails. */
  ok(args: string[], input?: string): Promise<string>;
  /** Pushes an OCI archive (`oci-archive:` path) or other skopeo source into the registry as `name:tag`. */
  push(source: string, name: string): Promise<string>;
  /** Stops everything and removes all traces (idempotent). */
  stop(): Promise<void>;
}

export interface ExecOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

const NODE_NAME = 'fte-node';
const NODE_ADDRESS = '10.201.0.1';
const POD_SUBNET = '10.244.0.0/24';
const SERVICE_RANGE = '10.0.0.0/24';
const API_PORT = 6443;
const REGISTRY_PORT = 5000;
/** The sandbox ("pause") image every pod starts with; pushed to the node's registry at start. */
const PAUSE_IMAGE = 'fte-test/pause:1';

/** Starts a fresh node, or connects to FTE_TEST_KUBECONFIG's cluster. */
export async function startNodeCluster(opts: { startTimeoutMs?: number } = {}): Promise<NodeCluster> {
  if (process.env.FTE_TEST_KUBECONFIG) return externalCluster(process.env.FTE_TEST_KUBECONFIG);
  return startLocalNode(opts.startTimeoutMs ?? 180_000);
}

// ------------------------------------------------------------------ external cluster

function externalCluster(kubeconfigPath: string): NodeCluster {
  const registry = process.env.FTE_TEST_REGISTRY;
  const nodeAddress = process.env.FTE_TEST_NODE_ADDRESS;
  if (!registry || !nodeAddress) {
    throw new Error(
      'FTE_TEST_KUBECONFIG is set: also set FTE_TEST_REGISTRY (host:port the cluster pulls from) and ' +
        'FTE_TEST_NODE_ADDRESS (an address of this machine its pods can reach)',
    );
  }
  const exec = (cmd: string, args: string[], o: ExecOptions = {}) =>
    run(cmd, args, { ...o, env: o.env ?? process.env });
  const kubectl = (args: string[], o: ExecOptions = {}) =>
    exec(KUBECTL, ['--kubeconfig', kubeconfigPath, ...args], { timeoutMs: 120_000, ...o });
  return {
    netns: undefined,
    cgroupRoot: undefined,
    nodeAddress,
    registry,
    kubeconfigPath,
    dir: tmpdir(),
    readyMs: 0,
    exec,
    spawn: (cmd, args, logPath, env) => startLogged(cmd, args, logPath, env),
    kubectl,
    ok: okFrom(kubectl),
    push: (source, name) => pushImage(exec, registry, source, name),
    stop: async () => {},
  };
}

// ------------------------------------------------------------------ local node

/** Starts this harness's own node, whatever FTE_TEST_KUBECONFIG says. */
export async function startLocalNode(startTimeoutMs = 180_000): Promise<NodeCluster> {
  const tools = nodeTools();
  const id = randomBytes(4).toString('hex');
  const netns = `fte-${id}`;
  const cgroupRoot = `/fte-${id}`;
  const dir = await mkdtemp(join(tmpdir(), 'fte-node-'));
  const children: ChildProcess[] = [];
  let stopped = false;
  const started = Date.now();

  const inNetns = (cmd: string, args: string[]): [string, string[]] => [
    'nsenter',
    [`--net=/run/netns/${netns}`, '--', cmd, ...args],
  ];
  const exec = (cmd: string, args: string[], o: ExecOptions = {}) => {
    const [c, a] = inNetns(cmd, args);
    return run(c, a, { ...o, env: o.env ?? process.env });
  };
  const launch = (name: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess => {
    const [c, a] = inNetns(cmd, args);
    const child = startLogged(c, a, join(dir, `${name}.log`), env);
    children.push(child);
    return child;
  };
  const kubeconfigPath = join(dir, 'admin.kubeconfig');
  const kubectl = (args: string[], o: ExecOptions = {}) =>
    exec(KUBECTL, ['--kubeconfig', kubeconfigPath, ...args], { timeoutMs: 120_000, ...o });
  const registry = `${NODE_ADDRESS}:${REGISTRY_PORT}`;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await teardown({ netns, cgroupRoot, dir, children });
    await rm(join(NODES_DIR, `${netns}.json`), { force: true });
  };

  await removeOrphanedNodes();
  await mkdir(NODES_DIR, { recursive: true });
  await writeFile(
    join(NODES_DIR, `${netns}.json`),
    JSON.stringify({ pid: process.pid, netns, cgroupRoot, dir }),
  );
  try {
    await createNetns(netns);
    const files = await writeNodeFiles(dir, { cgroupRoot });
    const server = `https://${NODE_ADDRESS}:${API_PORT}`;
    await writeFile(kubeconfigPath, kubeconfigYaml(server, files.caCert, 'admin', files.tokens.admin), {
      mode: 0o600,
    });

    launch('etcd', tools.etcd, [
      '--name=fte-node',
      `--data-dir=${join(dir, 'etcd')}`,
      '--listen-client-urls=http://127.0.0.1:2379',
      '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=fte-node=http://127.0.0.1:2380',
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    const registryProcess = launch('registry', '/usr/bin/docker-registry', ['serve', files.registryConfig]);
    const apiserver = launch('kube-apiserver', tools.kubeApiServer, apiServerArgs(dir, server));
    await waitFor('kube-apiserver', apiserver, join(dir, 'kube-apiserver.log'), startTimeoutMs, async () => {
      const r = await exec('curl', ['-fsS', '--cacert', files.caPath, `${server}/readyz`], {
        timeoutMs: 5_000,
      });
      return r.code === 0 && r.stdout.trim() === 'ok';
    });
    await waitFor('registry', registryProcess, join(dir, 'registry.log'), startTimeoutMs, async () => {
      const r = await exec('curl', ['-fsS', `http://${registry}/v2/`], { timeoutMs: 5_000 });
      return r.code === 0;
    });

    launch('kube-controller-manager', tools.controllerManager, [
      `--kubeconfig=${files.kubeconfigs.controllerManager}`,
      `--authentication-kubeconfig=${files.kubeconfigs.controllerManager}`,
      `--authorization-kubeconfig=${files.kubeconfigs.controllerManager}`,
      '--bind-address=127.0.0.1',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${join(dir, 'pki', 'sa.key')}`,
      `--root-ca-file=${files.caPath}`,
      `--cluster-signing-cert-file=${files.caPath}`,
      `--cluster-signing-key-file=${join(dir, 'pki', 'ca.key')}`,
      '--leader-elect=false',
      '--controllers=*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
    ]);
    launch('kube-scheduler', tools.scheduler, [
      `--kubeconfig=${files.kubeconfigs.scheduler}`,
      `--authentication-kubeconfig=${files.kubeconfigs.scheduler}`,
      `--authorization-kubeconfig=${files.kubeconfigs.scheduler}`,
      '--bind-address=127.0.0.1',
      '--leader-elect=false',
    ]);

    // containerd in a private mount namespace with tmpfs over the paths it and kubelet insist on.
    const containerd = launch('containerd', 'unshare', [
      '--mount',
      '--propagation',
      'slave',
      '--',
      '/bin/sh',
      '-c',
      'set -e; for d in /var/lib /var/log /run/containerd; do mkdir -p "$d"; mount -t tmpfs -o mode=0755 tmpfs "$d"; done; ' +
        `exec containerd --config ${files.containerdConfig}`,
    ]);
    await waitFor('containerd', containerd, join(dir, 'containerd.log'), startTimeoutMs, async () => {
      const r = await run('ctr', ['--address', files.containerdSocket, 'version'], { timeoutMs: 5_000 });
      return r.code === 0;
    });
    await pushPauseImage(dir, tools.pause, (source, name) => pushImage(exec, registry, source, name));

    // kubelet places pods under its cgroup root but insists that the root exists in every hierarchy.
    for (const mount of await cgroupMounts()) await mkdir(join(mount, cgroupRoot), { recursive: true });
    const kubelet = startLogged(
      'nsenter',
      [
        `--net=/run/netns/${netns}`,
        `--mount=/proc/${containerd.pid}/ns/mnt`,
        '--',
        tools.kubelet,
        `--config=${files.kubeletConfig}`,
        `--kubeconfig=${files.kubeconfigs.kubelet}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${NODE_ADDRESS}`,
        '--root-dir=/var/lib/kubelet',
        '--v=1',
      ],
      join(dir, 'kubelet.log'),
    );
    children.push(kubelet);
    launch('kube-proxy', tools.proxy, [`--config=${files.proxyConfig}`]);

    await waitFor('node Ready', kubelet, join(dir, 'kubelet.log'), startTimeoutMs, async () => {
      const r = await kubectl([
        'get',
        'node',
        NODE_NAME,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      return r.stdout.trim() === 'True';
    });
    // Pods need the namespace's default service account, which the controller-manager creates.
    await waitFor(
      'service account default/default',
      kubelet,
      join(dir, 'kubelet.log'),
      startTimeoutMs,
      async () => {
        return (await kubectl(['get', 'serviceaccount', 'default', '-n', 'default'])).code === 0;
      },
    );
    const readyMs = Date.now() - started;

    return {
      netns,
      cgroupRoot,
      nodeAddress: NODE_ADDRESS,
      registry,
      kubeconfigPath,
      dir,
      readyMs,
      exec,
      spawn: (cmd, args, logPath, env) => {
        const [c, a] = inNetns(cmd, args);
        const child = startLogged(c, a, logPath, env);
        children.push(child);
        return child;
      },
      kubectl,
      ok: okFrom(kubectl),
      push: (source, name) => pushImage(exec, registry, source, name),
      stop,
    };
  } catch (error) {
    const logs = await componentLogs(dir);
    await stop().catch(() => {});
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`);
  }
}

interface NodeTools {
  etcd: string;
  kubeApiServer: string;
  controllerManager: string;
  scheduler: string;
  kubelet: string;
  proxy: string;
  pause: string;
}

function nodeTools(): NodeTools {
  const { env, etcd, kubeApiServer } = readKubeTools();
  const need = (key: string): string => {
    const path = env[key];
    if (!path || !existsSync(path)) {
      throw new Error(`${key} not built: run scripts/ensure-k8s-tools.sh (${path ?? `${key}= missing`})`);
    }
    return path;
  };
  for (const bin of [
    '/usr/bin/containerd',
    '/usr/sbin/runc',
    '/usr/bin/docker-registry',
    '/usr/bin/skopeo',
  ]) {
    if (!existsSync(bin) && !existsSync(bin.replace('/usr/sbin/', '/usr/bin/'))) {
      throw new Error(`${bin} is missing: run scripts/test-setup.sh (Debian packages of the test node)`);
    }
  }
  if (!existsSync('/usr/lib/cni/bridge')) {
    throw new Error('/usr/lib/cni/bridge is missing: apt-get install containernetworking-plugins');
  }
  if (process.getuid?.() !== 0)
    throw new Error('the test node needs root (network namespaces, mounts, cgroups)');
  return {
    etcd,
    kubeApiServer,
    controllerManager: need('KUBE_CONTROLLER_MANAGER'),
    scheduler: need('KUBE_SCHEDULER'),
    kubelet: need('KUBELET'),
    proxy: need('KUBE_PROXY'),
    pause: need('PAUSE'),
  };
}

async function createNetns(netns: string): Promise<void> {
  const steps: string[][] = [
    ['netns', 'add', netns],
    ['-n', netns, 'link', 'set', 'lo', 'up'],
    ['-n', netns, 'link', 'add', 'fte0', 'type', 'bridge'],
    ['-n', netns, 'addr', 'add', `${NODE_ADDRESS}/24`, 'dev', 'fte0'],
    ['-n', netns, 'link', 'set', 'fte0', 'up'],
    // kubelet and kube-proxy want a default route to find the node's address; the dummy drops it all.
    ['-n', netns, 'route', 'add', 'default', 'dev', 'fte0'],
  ];
  for (const args of steps) {
    const r = await run('ip', args, { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
  }
  const sysctl = await run(
    'nsenter',
    [`--net=/run/netns/${netns}`, '--', 'sysctl', '-qw', 'net.ipv4.ip_forward=1'],
    { timeoutMs: 10_000 },
  );
  if (sysctl.code !== 0) throw new Error(`sysctl in ${netns} failed: ${sysctl.stderr.trim()}`);
}

function apiServerArgs(dir: string, server: string): string[] {
  const pki = join(dir, 'pki');
  return [
    '--etcd-servers=http://127.0.0.1:2379',
    '--bind-address=0.0.0.0',
    `--advertise-address=${NODE_ADDRESS}`,
    `--secure-port=${API_PORT}`,
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
    `--client-ca-file=${join(pki, 'ca.crt')}`,
    `--kubelet-client-certificate=${join(pki, 'kubelet-client.crt')}`,
    `--kubelet-client-key=${join(pki, 'kubelet-client.key')}`,
    // The node's name resolves nowhere (no DNS in the namespace, by design): reach kubelets by address.
    '--kubelet-preferred-address-types=InternalIP',
    `--service-cluster-ip-range=${SERVICE_RANGE}`,
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${join(pki, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true',
    '--endpoint-reconciler-type=lease',
    '--profiling=false',
  ];
}

interface NodeFiles {
  caPath: string;
  caCert: string;
  tokens: Record<'admin' | 'kubelet' | 'controllerManager' | 'scheduler' | 'proxy', string>;
  kubeconfigs: Record<'kubelet' | 'controllerManager' | 'scheduler' | 'proxy', string>;
  containerdConfig: string;
  containerdSocket: string;
  kubeletConfig: string;
  proxyConfig: string;
  registryConfig: string;
}

/** Certificates, tokens, kubeconfigs and the config files of every component. */
async function writeNodeFiles(dir: string, o: { cgroupRoot: string }): Promise<NodeFiles> {
  const pki = join(dir, 'pki');
  await generateCerts(pki, [`IP:${NODE_ADDRESS}`]);
  // The API server's client certificate towards kubelets (logs, exec, port-forward).
  await issueCert(pki, 'kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', [
    'extendedKeyUsage=clientAuth',
  ]);
  const caPath = join(pki, 'ca.crt');
  const caCert = await readFile(caPath, 'utf8');
  const server = `https://${NODE_ADDRESS}:${API_PORT}`;

  const identities = {
    admin: { user: 'admin', groups: ['system:masters'] },
    kubelet: { user: `system:node:${NODE_NAME}`, groups: ['system:nodes'] },
    controllerManager: { user: 'system:kube-controller-manager', groups: [] },
    scheduler: { user: 'system:kube-scheduler', groups: [] },
    proxy: { user: 'system:kube-proxy', groups: [] },
  } as const;
  const tokens = {} as NodeFiles['tokens'];
  let tokenFile = '';
  for (const [key, who] of Object.entries(identities) as [
    keyof typeof identities,
    (typeof identities)['admin'],
  ][]) {
    tokens[key] = randomBytes(24).toString('hex');
    tokenFile += tokenLine(tokens[key], who.user, who.user, [...who.groups]);
  }
  await writeFile(join(dir, 'tokens.csv'), tokenFile, { mode: 0o600 });
  const kubeconfigs = {} as NodeFiles['kubeconfigs'];
  for (const key of ['kubelet', 'controllerManager', 'scheduler', 'proxy'] as const) {
    kubeconfigs[key] = join(dir, `${key}.kubeconfig`);
    await writeFile(kubeconfigs[key], kubeconfigYaml(server, caCert, identities[key].user, tokens[key]), {
      mode: 0o600,
    });
  }

  const cni = join(dir, 'cni');
  await mkdir(cni, { recursive: true });
  await writeFile(
    join(cni, '10-fte.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'fte',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: POD_SUBNET }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: join(dir, 'cni-ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }),
  );
  const registryHosts = join(dir, 'certs.d', `${NODE_ADDRESS}:${REGISTRY_PORT}`);
  await mkdir(registryHosts, { recursive: true });
  await writeFile(
    join(registryHosts, 'hosts.toml'),
    `server = "http://${NODE_ADDRESS}:${REGISTRY_PORT}"\n\n[host."http://${NODE_ADDRESS}:${REGISTRY_PORT}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  const containerdDir = join(dir, 'containerd');
  const containerdSocket = join(containerdDir, 'containerd.sock');
  const containerdConfig = join(dir, 'containerd.toml');
  await writeFile(
    containerdConfig,
    [
      'version = 2',
      `root = "${join(containerdDir, 'root')}"`,
      `state = "${join(containerdDir, 'state')}"`,
      '[grpc]',
      `  address = "${containerdSocket}"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${join(containerdDir, 'opt')}"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "${NODE_ADDRESS}:${REGISTRY_PORT}/${PAUSE_IMAGE}"`,
      // Without it every sandbox fails here: the VM gives root no CAP_SYS_RESOURCE.
      '  restrict_oom_score_adj = true',
      '  netns_mounts_under_state_dir = true',
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      '    bin_dir = "/usr/lib/cni"',
      `    conf_dir = "${cni}"`,
      '  [plugins."io.containerd.grpc.v1.cri".registry]',
      `    config_path = "${join(dir, 'certs.d')}"`,
      '',
    ].join('\n'),
  );
  const resolvConf = join(dir, 'resolv.conf');
  await writeFile(resolvConf, 'nameserver 127.0.0.1\noptions ndots:1\n');
  const kubeletConfig = join(dir, 'kubelet.yaml');
  await writeFile(
    kubeletConfig,
    JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: NODE_ADDRESS,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      cgroupDriver: 'cgroupfs',
      cgroupRoot: o.cgroupRoot,
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${containerdSocket}`,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: false },
        x509: { clientCAFile: caPath },
      },
      authorization: { mode: 'AlwaysAllow' },
      evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      resolvConf,
      clusterDomain: 'cluster.local',
      serializeImagePulls: false,
      protectKernelDefaults: false,
      localStorageCapacityIsolation: false,
    }),
  );
  const proxyConfig = join(dir, 'kube-proxy.yaml');
  await writeFile(
    proxyConfig,
    JSON.stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: kubeconfigs.proxy },
      mode: 'iptables',
      hostnameOverride: NODE_NAME,
      clusterCIDR: POD_SUBNET,
      // The namespace's conntrack table is not ours to size.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      metricsBindAddress: '127.0.0.1:10249',
      healthzBindAddress: '127.0.0.1:10256',
    }),
  );
  const registryConfig = join(dir, 'registry.yml');
  await writeFile(
    registryConfig,
    JSON.stringify({
      version: 0.1,
      log: { level: 'warn' },
      storage: { filesystem: { rootdirectory: join(dir, 'registry') }, delete: { enabled: true } },
      http: { addr: `${NODE_ADDRESS}:${REGISTRY_PORT}` },
    }),
  );
  return {
    caPath,
    caCert,
    tokens,
    kubeconfigs,
    containerdConfig,
    containerdSocket,
    kubeletConfig,
    proxyConfig,
    registryConfig,
  };
}

// ------------------------------------------------------------------ images

type Exec = (cmd: string, args: string[], o?: ExecOptions) => Promise<CommandResult>;

async function pushImage(exec: Exec, registry: string, source: string, name: string): Promise<string> {
  const target = `${registry}/${name}`;
  const r = await exec(
    'skopeo',
    ['copy', '--quiet', '--dest-tls-verify=false', '--all', source, `docker://${target}`],
    { timeoutMs: 300_000 },
  );
  if (r.code !== 0) throw new Error(`skopeo copy ${source} docker://${target} failed: ${r.stderr.trim()}`);
  return target;
}

/**
 * The sandbox image: an OCI archive with one layer holding the static pause binary, written here (no
 * image tool needed) and pushed to the node's registry like any other image.
 */
async function pushPauseImage(
  dir: string,
  pauseBinary: string,
  push: (source: string, name: string) => Promise<string>,
): Promise<void> {
  const work = join(dir, 'pause-image');
  const layout = join(work, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(join(work, 'rootfs'), { recursive: true });
  await mkdir(blobs, { recursive: true });
  const copy = await run('cp', [pauseBinary, join(work, 'rootfs', 'pause')]);
  if (copy.code !== 0) throw new Error(`cp pause: ${copy.stderr}`);
  const layerPath = join(work, 'layer.tar');
  const tar = await run('tar', [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=@0',
    '-C',
    join(work, 'rootfs'),
    '-cf',
    layerPath,
    'pause',
  ]);
  if (tar.code !== 0) throw new Error(`tar pause layer: ${tar.stderr}`);
  const blob = async (bytes: Buffer): Promise<{ digest: string; size: number }> => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layer = await blob(await readFile(layerPath));
  const config = await blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Entrypoint: ['/pause'] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = await blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }],
    }),
  );
  await push(`oci:${layout}`, PAUSE_IMAGE);
}

// ------------------------------------------------------------------ teardown

/** One record per running node, so that the next start can clean up after a test process that was killed. */
const NODES_DIR = '/run/fte-test-nodes';

/** Tears down every node whose test process is gone (killed before it could stop its node). */
async function removeOrphanedNodes(): Promise<void> {
  for (const name of await readdir(NODES_DIR).catch(() => [] as string[])) {
    const record = join(NODES_DIR, name);
    const node = JSON.parse(await readFile(record, 'utf8').catch(() => '{}')) as {
      pid?: number;
      netns?: string;
      cgroupRoot?: string;
      dir?: string;
    };
    if (node.pid !== undefined && alive(node.pid)) continue;
    if (node.netns && node.cgroupRoot && node.dir) {
      // kubelet and containerd first (they live in the node's network namespace), then the pods.
      await killNetnsProcesses(node.netns);
      await teardown({ netns: node.netns, cgroupRoot: node.cgroupRoot, dir: node.dir, children: [] });
    }
    await rm(record, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function teardown(o: { netns: string; cgroupRoot: string; dir: string; children: ChildProcess[] }) {
  // The node is disposable: no component gets a graceful stop. kubelet first, or it restarts what the next
  // steps kill.
  const kubelet = o.children.find((c) => c.spawnargs.some((a) => a.includes('kubelet.yaml')));
  await kill(kubelet);
  // Every container (pods have their own network namespaces, but they all sit in our cgroup subtree).
  await killCgroupTree(o.cgroupRoot);
  // Then everything in the node's network namespace: control plane, containerd and its shims, servers.
  for (const child of o.children) await kill(child);
  await killNetnsProcesses(o.netns);
  await removeCgroupTree(o.cgroupRoot);
  const del = await run('ip', ['netns', 'del', o.netns], { timeoutMs: 10_000 });
  if (del.code !== 0 && !/No such file/.test(del.stderr)) {
    throw new Error(`ip netns del ${o.netns} failed: ${del.stderr.trim()}`);
  }
  await rm(o.dir, { recursive: true, force: true });
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.pid === undefined || exited(child)) return;
  const gone = once(child, 'exit');
  child.kill('SIGKILL');
  await gone;
}

/** The cgroup v1 hierarchies (or the v2 root) that can hold our subtree. */
export async function cgroupMounts(): Promise<string[]> {
  const base = '/sys/fs/cgroup';
  if (existsSync(join(base, 'cgroup.controllers'))) return [base];
  const names = await readdir(base).catch(() => [] as string[]);
  const roots: string[] = [];
  for (const name of names) {
    const path = join(base, name);
    if ((await stat(path).catch(() => undefined))?.isDirectory() && existsSync(join(path, 'cgroup.procs'))) {
      roots.push(path);
    }
  }
  return roots;
}

async function cgroupDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await walk(join(dir, e.name));
    out.push(dir);
  };
  if (existsSync(root)) await walk(root);
  return out; // children before parents
}

async function killCgroupTree(cgroupRoot: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    let found = 0;
    for (const mount of await cgroupMounts()) {
      for (const dir of await cgroupDirs(join(mount, cgroupRoot))) {
        const pids = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n');
        for (const pid of pids.filter(Boolean)) {
          found++;
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    }
    if (found === 0) return;
    await sleep(100);
  }
  throw new Error(`processes in cgroup ${cgroupRoot} survive SIGKILL`);
}

async function removeCgroupTree(cgroupRoot: string): Promise<void> {
  for (const mount of await cgroupMounts()) {
    for (const dir of await cgroupDirs(join(mount, cgroupRoot))) {
      for (let attempt = 0; ; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') break;
          if (attempt >= 50) throw new Error(`cannot remove cgroup ${dir}: ${(error as Error).message}`);
          await sleep(100);
        }
      }
    }
  }
}

/** Processes whose network namespace is the node's (`ip netns pids`). */
export async function netnsPids(netns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', netns], { timeoutMs: 10_000 });
  if (r.code !== 0) return [];
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

async function killNetnsProcesses(netns: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = await netnsPids(netns);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(100);
  }
  throw new Error(`processes in network namespace ${netns} survive SIGKILL`);
}

// ------------------------------------------------------------------ helpers

function startLogged(cmd: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
    child.on('error', () => {});
    return child;
  } finally {
    closeSync(fd);
  }
}

function okFrom(kubectl: (args: string[], o?: ExecOptions) => Promise<CommandResult>) {
  return async (args: string[], input?: string): Promise<string> => {
    const r = await kubectl(args, { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  };
}

async function componentLogs(dir: string): Promise<string> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.log'));
  const parts: string[] = [];
  for (const name of names) parts.push(`--- ${name}\n${await tail(join(dir, name), 15)}`);
  return parts.join('\n');
}
