import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroupMounts, type NodeCluster, startLocalNode } from '../harness/cluster.js';
import { run } from '../harness/kube.js';

/**
 * The test node itself: it runs pods pulled from its own registry, and stopping it leaves no process,
 * mount, network namespace, cgroup, iptables rule or file behind, so the suite can run again at once.
 */

const PAUSE = (cluster: NodeCluster) => `${cluster.registry}/fte-test/pause:1`;

/** Host iptables rules without counters (kube-proxy and CNI must never touch the host's tables). */
async function hostIptables(): Promise<string> {
  const r = await run('iptables-save', []);
  if (r.code !== 0) throw new Error(`iptables-save failed: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''))
    .join('\n');
}

/** Top-level cgroups a kubelet or containerd would make (other tools, e.g. a concurrent buildah, make theirs). */
async function nodeCgroups(): Promise<string[]> {
  const out: string[] = [];
  for (const mount of await cgroupMounts()) {
    for (const e of await readdir(mount, { withFileTypes: true })) {
      if (e.isDirectory() && /^(kubepods|k8s|containerd)/.test(e.name)) out.push(join(mount, e.name));
    }
  }
  return out.sort();
}

/** Everything of `cluster` still on this machine, as readable lines; empty when it is all gone. */
async function leftovers(cluster: NodeCluster): Promise<string[]> {
  const found: string[] = [];
  if (existsSync(`/run/netns/${cluster.netns}`)) found.push(`network namespace ${cluster.netns}`);
  if (existsSync(cluster.dir)) found.push(`directory ${cluster.dir}`);
  for (const mount of await cgroupMounts()) {
    if (existsSync(join(mount, cluster.cgroupRoot!)))
      found.push(`cgroup ${join(mount, cluster.cgroupRoot!)}`);
  }
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (cmdline.includes(cluster.dir) || cmdline.includes(cluster.netns!))
      found.push(`process ${pid}: ${cmdline}`);
    const mounts = await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '');
    for (const line of mounts.split('\n'))
      if (line.includes(cluster.dir)) found.push(`mount in ${pid}: ${line}`);
  }
  return found;
}

/** A node started by another process, which is then killed before it can stop it. */
async function orphanedNode(): Promise<Pick<NodeCluster, 'netns' | 'dir' | 'cgroupRoot'>> {
  const harness = join(import.meta.dirname, '..', '..', 'dist', 'tests', 'harness', 'cluster.js');
  if (!existsSync(harness)) throw new Error(`${harness} is missing: run make build first`);
  const script = `const m = await import(${JSON.stringify(harness)}); const c = await m.startLocalNode();
process.stdout.write(JSON.stringify({ netns: c.netns, dir: c.dir, cgroupRoot: c.cgroupRoot }) + '\\n');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout!.setEncoding('utf8'), 'data')) as [string];
  child.kill('SIGKILL');
  await once(child, 'exit');
  return JSON.parse(line);
}

describe('the test node', () => {
  const started: NodeCluster[] = [];
  afterAll(async () => {
    for (const c of started) await c.stop();
  }, 120_000);

  it('runs pods from its registry; stops without a trace; starts again right after', async () => {
    const iptablesBefore = await hostIptables();
    const cgroupsBefore = await nodeCgroups();
    for (const round of [1, 2]) {
      const cluster = await startLocalNode();
      started.push(cluster);
      expect(cluster.netns).toMatch(/^fte-/);
      const name = `pause-${round}`;
      await cluster.ok(['run', name, `--image=${PAUSE(cluster)}`, '--restart=Never']);
      await cluster.ok(['wait', '--for=condition=Ready', `pod/${name}`, '--timeout=120s']);
      const pod = JSON.parse(await cluster.ok(['get', 'pod', name, '-o', 'json']));
      expect(pod.status.phase).toBe('Running');
      expect(pod.status.podIP).toMatch(/^10\.244\.0\./);
      // The image was pulled from the node's registry, not imported behind the kubelet's back.
      expect(pod.status.containerStatuses[0].imageID).toContain(`${cluster.registry}/fte-test/pause@sha256:`);
      expect(pod.spec.containers[0].imagePullPolicy).not.toBe('Never');
      // Only this namespace's addresses: the node and its pods are unreachable from the host.
      const fromHost = await run('curl', ['-sS', '-m', '2', `https://${cluster.nodeAddress}:6443/readyz`]);
      expect(fromHost.code).not.toBe(0);

      await cluster.stop();
      expect(await leftovers(cluster)).toEqual([]);
    }
    expect(await hostIptables()).toBe(iptablesBefore);
    expect(await nodeCgroups()).toEqual(cgroupsBefore);
  }, 600_000);

  it('the next start tears down a node whose test process was killed', async () => {
    const orphan = await orphanedNode();
    expect(existsSync(`/run/netns/${orphan.netns}`)).toBe(true);
    const cluster = await startLocalNode();
    started.push(cluster);
    expect(await leftovers({ ...cluster, ...orphan })).toEqual([]);
    await cluster.stop();
    expect(await leftovers(cluster)).toEqual([]);
  }, 600_000);
});
