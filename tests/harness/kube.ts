/**
 * Real Kubernetes API server for integration tests (envtest-style).
 *
 * Starts a real `etcd` and a real `kube-apiserver` (built once by
 * `scripts/ensure-k8s-tools.sh` into `${FTE_TOOLS_CACHE:-~/.cache/fte-tools}`)
 * on free loopback ports. There is no kubelet, scheduler or controller-manager:
 * pods never run, but every object, CRD, RBAC rule, Lease and watch is real.
 *
 * Authentication is a static token file: an admin token (group system:masters)
 * plus any extra users given in `opts.users`. Authorization is RBAC.
 * RBAC tests can also use `kubectl --as=<user> --as-group=<group>` with the
 * admin token, or `createServiceAccountToken()`.
 *
 * Without kube-controller-manager nothing reconciles: no ServiceAccount token
 * Secrets, no garbage collection, no namespace finalization (a deleted
 * namespace stays Terminating), and the aggregated ClusterRoles `view`, `edit`
 * and `admin` have NO rules — bind explicit Roles in RBAC tests.
 *
 * Uses only Node built-ins plus the `openssl` and `kubectl` executables.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { access, appendFile, constants, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface KubeTestUser {
  /** User name as the API server sees it (RBAC subject `kind: User`). */
  name: string;
  /** Groups of the user, e.g. `['system:authenticated']` is implicit anyway. */
  groups?: string[];
  /** Bearer token; generated when omitted. */
  token?: string;
}

export interface StartKubeApiServerOptions {
  /**
   * Directory for data, certificates, logs and the kubeconfig. When given it
   * is created if needed and left in place on stop() (handy for debugging);
   * when omitted a temp dir is created and removed on stop().
   */
  workDir?: string;
  /** Extra static token users (e.g. for RBAC tests). Tokens land in `cluster.users`. */
  users?: KubeTestUser[];
  /** Extra kube-apiserver flags, appended after the defaults (later flags win). */
  extraApiServerArgs?: string[];
  /** How long to wait for etcd and for kube-apiserver's /readyz (ms). Default 120 000. */
  startTimeoutMs?: number;
}

export interface KubeTestCluster {
  /** Kubeconfig for the admin user (system:masters), with the cluster CA embedded. */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** etcd's client URL (http://127.0.0.1:<port>), for tests that act on the storage itself (compaction). */
  etcdUrl: string;
  /** Admin bearer token (user `admin`, group `system:masters`). */
  token: string;
  /** PEM of the CA that signed the serving certificate. */
  caCert: string;
  /** Tokens of the extra static users, by user name. */
  users: Record<string, string>;
  /** Work directory (logs: etcd.log, kube-apiserver.log). */
  dir: string;
  /** Versions from k8s-tools.env, when present. */
  versions: { kubeApiServer?: string; etcd?: string; helm?: string };
  /** Path of the cached helm binary. */
  helmPath: string;
  /** How long the last kube-apiserver start took until /readyz was ok (ms). */
  readonly apiServerStartMs: number;
  /** Stops kube-apiserver and etcd, removes the temp dir (unless workDir was given). */
  stop(): Promise<void>;
  /** Stops only kube-apiserver and starts it again on the same port; etcd keeps the data. */
  restart(): Promise<void>;
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
}

export interface KubeTools {
  kubeApiServer: string;
  etcd: string;
  helm: string;
  env: Record<string, string>;
}

export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';

const NOT_BUILT = 'run scripts/ensure-k8s-tools.sh';

function toolsCacheDir(): string {
  return process.env.FTE_TOOLS_CACHE || join(homedir(), '.cache', 'fte-tools');
}

/**
 * Reads `${FTE_TOOLS_CACHE:-~/.cache/fte-tools}/k8s-tools.env`. Throws (never
 * skips) when the binaries have not been built.
 */
export function readKubeTools(): KubeTools {
  const envFile = join(toolsCacheDir(), 'k8s-tools.env');
  if (!existsSync(envFile)) {
    throw new Error(`kube-apiserver not built: ${NOT_BUILT} (missing ${envFile})`);
  }
  const env: Record<string, string> = {};
  for (const line of readFileSync(envFile, 'utf8').split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) env[m[1]] = m[2].trim();
  }
  const need = (key: string, name: string): string => {
    const p = env[key];
    if (!p) throw new Error(`${name} not built: ${NOT_BUILT} (${key}= missing in ${envFile})`);
    if (!existsSync(p)) throw new Error(`${name} not built: ${NOT_BUILT} (${p} does not exist)`);
    return p;
  };
  return {
    kubeApiServer: need('KUBE_APISERVER', 'kube-apiserver'),
    etcd: need('ETCD', 'etcd'),
    helm: env.HELM ?? '',
    env,
  };
}

// ---------------------------------------------------------------- processes

/**
 * Every child we started and every temp dir we own, so a test run that exits
 * without calling stop() does not leak servers or directories.
 */
const liveChildren = new Set<ChildProcess>();
const ownedDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of liveChildren) {
      if (c.pid !== undefined && !exited(c)) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    for (const d of ownedDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  });
}
function trackChild(child: ChildProcess): void {
  installExitHook();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

function startProcess(bin: string, args: string[], logPath: string): ChildProcess {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd], env: { ...process.env } });
    trackChild(child);
    // Surface spawn errors (ENOENT/EACCES) through the exit path below.
    child.on('error', () => {});
    return child;
  } finally {
    closeSync(fd);
  }
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; resolves once the process is gone. */
async function stopProcess(child: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!child || child.pid === undefined || exited(child)) return;
  const gone = once(child, 'exit').catch(() => undefined);
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timedOut = await Promise.race([gone.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut && !exited(child)) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await gone;
  }
}

export async function tail(path: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// -------------------------------------------------------------------- ports

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  srv.close();
  await once(srv, 'close');
  if (!port) throw new Error('could not allocate a free port');
  return port;
}

async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

// -------------------------------------------------------------------- certs

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            stderr += `\n[harness] ${cmd} timed out after ${opts.timeoutMs} ms`;
            child.kill('SIGKILL');
          }, opts.timeoutMs)
        : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? (signal ? 128 : 1) });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const r = await run('openssl', args, { cwd: dir, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

/**
 * CA, serving cert for 127.0.0.1/localhost/kubernetes.default… (plus `extraSans`, e.g. `IP:10.201.0.1`),
 * and the service-account key pair.
 */
export async function generateCerts(pki: string, extraSans: string[] = []): Promise<void> {
  await mkdir(pki, { recursive: true });
  // CA (EC P-256: fast to generate, accepted everywhere).
  await openssl(pki, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  await openssl(pki, [
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-sha256',
    '-days',
    '3650',
    '-subj',
    '/CN=fte-test-ca',
    '-out',
    'ca.crt',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  // Serving certificate.
  await issueCert(pki, 'apiserver', '/CN=kube-apiserver', [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${['IP:127.0.0.1', 'IP:10.0.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', ...extraSans].join(',')}`,
  ]);
  // Service-account token signing key pair (RSA, what every client expects).
  await openssl(pki, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key']);
  await openssl(pki, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

/** `<name>.key` and `<name>.crt` in `pki`, signed by its `ca.crt`/`ca.key` with the given extensions. */
export async function issueCert(
  pki: string,
  name: string,
  subject: string,
  extensions: string[],
): Promise<void> {
  await openssl(pki, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  await openssl(pki, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  await writeFile(join(pki, `${name}.ext`), `${extensions.join('\n')}\n`);
  await openssl(pki, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-sha256',
    '-days',
    '3650',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
}

// ------------------------------------------------------------------- probes

interface HttpResult {
  status: number;
  body: string;
}

function httpGet(
  url: string,
  opts: { ca?: string; token?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      { method: 'GET', headers, ca: opts.ca, timeout: opts.timeoutMs ?? 5_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `probe` until it returns true; fails early when `child` exits. */
export async function waitFor(
  what: string,
  child: ChildProcess,
  logPath: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    if (exited(child)) {
      throw new Error(
        `${what} exited before becoming ready (code ${child.exitCode}, signal ${child.signalCode}); ` +
          `last lines of ${logPath}:\n${await tail(logPath)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not ready after ${timeoutMs} ms${last ? ` (last error: ${last})` : ''}; ` +
          `last lines of ${logPath}:\n${await tail(logPath)}`,
      );
    }
    await sleep(delay);
  }
}

// ---------------------------------------------------------------- kubeconfig

export function kubeconfigYaml(server: string, caCert: string, user: string, token: string): string {
  const ca = Buffer.from(caCert).toString('base64');
  // JSON is valid YAML and needs no quoting rules.
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fte-test', cluster: { server, 'certificate-authority-data': ca } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: `${user}@fte-test`, context: { cluster: 'fte-test', user, namespace: 'default' } }],
      'current-context': `${user}@fte-test`,
      preferences: {},
    },
    null,
    2,
  )}\n`;
}

/** Writes a kubeconfig for `cluster` that authenticates with `token` (e.g. an extra user's). */
export async function writeKubeconfig(
  cluster: Pick<KubeTestCluster, 'server' | 'caCert' | 'dir'>,
  user: string,
  token: string,
  path: string = join(cluster.dir, `kubeconfig-${user.replace(/[^A-Za-z0-9_.-]/g, '_')}`),
): Promise<string> {
  await writeFile(path, kubeconfigYaml(cluster.server, cluster.caCert, user, token), { mode: 0o600 });
  return path;
}

// ---------------------------------------------------------------------- main

function csvField(s: string): string {
  if (/[",\n]/.test(s)) return `"${s.replace(/"/g, '""')}"`;
  return s;
}

export function tokenLine(token: string, user: string, uid: string, groups: string[]): string {
  return `${token},${csvField(user)},${csvField(uid)},${csvField(groups.join(','))}\n`;
}

export async function startKubeApiServer(opts: StartKubeApiServerOptions = {}): Promise<KubeTestCluster> {
  const tools = readKubeTools();
  await access(tools.kubeApiServer, constants.X_OK).catch(() => {
    throw new Error(`kube-apiserver not built: ${NOT_BUILT} (${tools.kubeApiServer} is not executable)`);
  });
  const startTimeoutMs = opts.startTimeoutMs ?? 120_000;
  const ownDir = opts.workDir === undefined;
  const dir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'fte-kube-')));
  await mkdir(dir, { recursive: true });
  if (ownDir) {
    ownedDirs.add(dir);
    installExitHook();
  }

  let etcd: ChildProcess | undefined;
  let apiserver: ChildProcess | undefined;
  let stopped = false;
  let lastApiServerStartMs = 0;

  const cleanup = async (): Promise<void> => {
    await stopProcess(apiserver);
    await stopProcess(etcd);
    if (ownDir) {
      await rm(dir, { recursive: true, force: true });
      ownedDirs.delete(dir);
    }
  };

  try {
    const pki = join(dir, 'pki');
    await generateCerts(pki);
    const caCert = await readFile(join(pki, 'ca.crt'), 'utf8');

    const token = randomBytes(24).toString('hex');
    const tokenFile = join(dir, 'tokens.csv');
    let tokens = tokenLine(token, 'admin', 'admin', ['system:masters']);
    const users: Record<string, string> = {};
    for (const u of opts.users ?? []) {
      const t = u.token ?? randomBytes(24).toString('hex');
      users[u.name] = t;
      tokens += tokenLine(t, u.name, u.name, u.groups ?? []);
    }
    await writeFile(tokenFile, tokens, { mode: 0o600 });

    const etcdLog = join(dir, 'etcd.log');
    const apiLog = join(dir, 'kube-apiserver.log');
    // Ports are chosen before the servers bind them; if another process grabs
    // one in between, start over with fresh ports (and a fresh etcd).
    let etcdUrl = '';
    let server = '';

    const apiArgs = (): string[] => [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${new URL(server).port}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${join(pki, 'ca.crt')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      `--token-auth-file=${tokenFile}`,
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      // No kubelets/nodes exist: 127.0.0.1 endpoints for the `kubernetes`
      // Service are rejected (loopback range) and the default lease reconciler
      // logs an error every 10 s, so do not reconcile them.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      ...(opts.extraApiServerArgs ?? []),
    ];

    const startApiServer = async (): Promise<void> => {
      if (stopped) throw new Error('cluster already stopped');
      if (apiserver && !exited(apiserver)) return;
      const started = Date.now();
      const child = startProcess(tools.kubeApiServer, apiArgs(), apiLog);
      apiserver = child;
      await waitFor('kube-apiserver', child, apiLog, startTimeoutMs, async () => {
        const r = await httpGet(`${server}/readyz`, { ca: caCert, token, timeoutMs: 5_000 });
        return r.status === 200 && r.body.trim() === 'ok';
      });
      // /readyz is green before the system namespaces exist; wait for `default`.
      await waitFor('kube-apiserver (namespace default)', child, apiLog, startTimeoutMs, async () => {
        const r = await httpGet(`${server}/api/v1/namespaces/default`, {
          ca: caCert,
          token,
          timeoutMs: 5_000,
        });
        return r.status === 200;
      });
      lastApiServerStartMs = Date.now() - started;
    };
    const stopApiServer = async (): Promise<void> => {
      await stopProcess(apiserver);
      apiserver = undefined;
    };

    for (let attempt = 1; ; attempt++) {
      const [etcdClientPort, etcdPeerPort, apiPort] = (await freePorts(3)) as [number, number, number];
      etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
      const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
      server = `https://127.0.0.1:${apiPort}`;
      try {
        etcd = startProcess(
          tools.etcd,
          [
            '--name=fte-test',
            `--data-dir=${join(dir, 'etcd')}`,
            `--listen-client-urls=${etcdUrl}`,
            `--advertise-client-urls=${etcdUrl}`,
            `--listen-peer-urls=${peerUrl}`,
            `--initial-advertise-peer-urls=${peerUrl}`,
            `--initial-cluster=fte-test=${peerUrl}`,
            '--initial-cluster-state=new',
            '--unsafe-no-fsync=true',
            '--log-level=warn',
          ],
          etcdLog,
        );
        const etcdChild = etcd;
        await waitFor('etcd', etcdChild, etcdLog, startTimeoutMs, async () => {
          const r = await httpGet(`${etcdUrl}/health`, { timeoutMs: 2_000 });
          return r.status === 200 && /"health"\s*:\s*"true"/.test(r.body);
        });
        await startApiServer();
        break;
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (attempt >= 3 || !/address already in use/i.test(msg)) throw err;
        await stopApiServer();
        await stopProcess(etcd);
        etcd = undefined;
        await rm(join(dir, 'etcd'), { recursive: true, force: true });
      }
    }

    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(server, caCert, 'admin', token), { mode: 0o600 });

    const cluster: KubeTestCluster = {
      kubeconfigPath,
      server,
      etcdUrl,
      token,
      caCert,
      users,
      dir,
      helmPath: tools.helm,
      versions: {
        kubeApiServer: tools.env.KUBE_APISERVER_VERSION,
        etcd: tools.env.ETCD_VERSION,
        helm: tools.env.HELM_VERSION,
      },
      get apiServerStartMs() {
        return lastApiServerStartMs;
      },
      startApiServer,
      stopApiServer,
      async restart() {
        await stopApiServer();
        await startApiServer();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
    return cluster;
  } catch (err) {
    stopped = true;
    await cleanup().catch(() => {});
    throw err;
  }
}

// ------------------------------------------------------------------ kubectl

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs `/usr/bin/kubectl --kubeconfig <cluster kubeconfig> …args` (override with $KUBECTL). */
export function kubectl(
  cluster: Pick<KubeTestCluster, 'kubeconfigPath'>,
  args: string[],
  opts: { input?: string; kubeconfigPath?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return run(KUBECTL, ['--kubeconfig', opts.kubeconfigPath ?? cluster.kubeconfigPath, ...args], {
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

/** Runs the cached helm binary against the cluster (isolated HELM_* dirs under the cluster dir). */
export function helm(
  cluster: Pick<KubeTestCluster, 'kubeconfigPath' | 'dir' | 'helmPath'>,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  if (!cluster.helmPath) throw new Error(`helm not built: ${NOT_BUILT}`);
  const home = join(cluster.dir, 'helm');
  return run(cluster.helmPath, ['--kubeconfig', cluster.kubeconfigPath, ...args], {
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 120_000,
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
}

/**
 * Creates (if needed) a ServiceAccount and returns a fresh bearer token for it
 * via the TokenRequest API. Its RBAC user is `system:serviceaccount:<ns>:<name>`.
 */
export async function createServiceAccountToken(
  cluster: KubeTestCluster,
  namespace: string,
  name: string,
  duration = '1h',
): Promise<string> {
  const sa = JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
  const applied = await kubectl(cluster, ['apply', '-f', '-'], { input: sa });
  if (applied.code !== 0)
    throw new Error(`creating ServiceAccount ${namespace}/${name} failed: ${applied.stderr}`);
  const r = await kubectl(cluster, ['create', 'token', name, '-n', namespace, `--duration=${duration}`]);
  if (r.code !== 0) throw new Error(`kubectl create token ${namespace}/${name} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * Adds a static token user after start. The token file is only read at
 * start-up, so this restarts kube-apiserver (a few seconds; etcd data stays).
 * Prefer `opts.users` at start, `kubectl --as`, or createServiceAccountToken().
 */
export async function addTokenUser(
  cluster: KubeTestCluster,
  name: string,
  groups: string[] = [],
): Promise<string> {
  const token = randomBytes(24).toString('hex');
  await appendFile(join(cluster.dir, 'tokens.csv'), tokenLine(token, name, name, groups));
  cluster.users[name] = token;
  await cluster.restart();
  return token;
}
