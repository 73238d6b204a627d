import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initVault } from '../../core/init.js';
import { VaultRepo } from '../../core/vault-repo.js';
import type { Task } from '../../operator/task.js';
import { taskName } from '../../operator/task.js';
import { runCli, smtpEnv, smtpServer, testKey } from '../executor/helpers.js';
import { createServiceAccountToken } from '../harness/kube.js';
import { emailItem, git, remoteWithClones, tempDir } from '../helpers/vaults.js';
import { assertBuilt, cleanEnv, freePort, type Run, start } from '../operator/process.js';
import { operatorRbac, startTaskCluster, type TaskCluster, table, tokenKubeconfig } from './cluster.js';
import { eventually } from './store-contract.js';

/**
 * The real `fte operator --store kube` processes against a real kube-apiserver and etcd, running as the
 * service account of charts/fte's RBAC (nothing more), with real git remotes, the real `fte approve` and
 * `fte executor` on the local side and a real SMTP server.
 */

type OperatorProcess = { child: ChildProcess; done: Promise<Run>; base: string; output(): string };

describe('fte operator --store kube (real processes, real API server)', () => {
  let kube: TaskCluster;
  const live: ChildProcess[] = [];
  beforeAll(async () => {
    assertBuilt();
    kube = await startTaskCluster();
  });
  afterAll(async () => {
    for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await kube?.stop();
  });

  /** A namespace with the chart's RBAC applied, and a kubeconfig for its service account. */
  async function operatorNamespace(): Promise<{ namespace: string; kubeconfig: string }> {
    const namespace = await kube.namespace('op');
    await kube.ok(['apply', '-n', namespace, '-f', '-'], await operatorRbac(namespace));
    const token = await createServiceAccountToken(kube.cluster, namespace, 'fte-operator');
    return { namespace, kubeconfig: await tokenKubeconfig(kube.cluster, 'fte-operator', token, namespace) };
  }

  async function operator(
    vault: string,
    kubeconfig: string,
    env: Record<string, string>,
  ): Promise<OperatorProcess> {
    const port = await freePort();
    const { child, done } = start(
      [
        'operator',
        '--vault',
        vault,
        '--store',
        'kube',
        '--kubeconfig',
        kubeconfig,
        '--port',
        String(port),
        '--interval',
        '1',
      ],
      cleanEnv({ FTE_RESYNC_SECONDS: '2', ...env }),
    );
    live.push(child);
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    return { child, done, base: `http://127.0.0.1:${port}`, output: () => stderr };
  }

  /** `/readyz` once it answers 200 and matches `expected` (a process starts as a standby, then leads). */
  async function readyz(
    op: OperatorProcess,
    expected: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    return eventually(async () => {
      const res = await fetch(`${op.base}/readyz`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject(expected);
      return body;
    }, 60_000);
  }

  async function task(namespace: string, id: string): Promise<Task | undefined> {
    const out = await kube.ok(['get', 'tasks', '-n', namespace, '-o', 'json']);
    return (JSON.parse(out).items as Task[]).find((t) => t.spec.id === id);
  }

  const phaseIs = (namespace: string, id: string, phase: string, timeoutMs = 60_000) =>
    eventually(async () => {
      const t = await task(namespace, id);
      expect(t?.status?.phase, `${id}: ${JSON.stringify(t?.status)}`).toBe(phase);
      return t!;
    }, timeoutMs);

  /** The Lease's holder; a kubectl failure (no Lease, no API server) fails the test instead of reading as "none". */
  async function holder(namespace: string): Promise<string | undefined> {
    const out = await kube.ok(['get', 'lease', 'fte-operator', '-n', namespace, '-o', 'json']);
    return JSON.parse(out).spec.holderIdentity || undefined;
  }

  it('drives the email flow end to end with Tasks in the API server; kubectl shows and describes them', async () => {
    const { namespace, kubeconfig } = await operatorNamespace();
    const { clones, root } = await remoteWithClones(['cloud', 'local']);
    const keyFile = join(root, 'keys', 'approval.key');
    await testKey(keyFile);
    const smtp = await smtpServer();
    const localEnv = smtpEnv(smtp.port, keyFile);
    const op = await operator(clones.cloud!.dir, kubeconfig, { POD_NAME: 'op-0' });
    try {
      await readyz(op, { ready: true, role: 'leader', identity: 'op-0' });
      expect(await holder(namespace)).toBe('op-0');

      await writeFile(
        join(clones.cloud!.dir, 'Needs_Action/email/EMAIL_K1.md'),
        emailItem('Invoice for January', 'EMAIL_K1'),
      );
      const pending = await phaseIs(namespace, 'EMAIL_K1', 'PendingApproval');
      expect(pending.metadata.name).toBe(taskName('EMAIL_K1'));
      expect(pending.status).toMatchObject({
        owner: 'cloud',
        approvalPath: 'Pending_Approval/email/EMAIL_K1.md',
        observedGeneration: pending.metadata.generation,
      });
      const rows = table(await kube.ok(['get', 'tasks', '-n', namespace]));
      expect(rows[0]).toEqual(['NAME', 'DOMAIN', 'PHASE', 'OWNER', 'TITLE', 'AGE']);
      expect(rows[1]!.slice(0, 5)).toEqual([
        taskName('EMAIL_K1'),
        'email',
        'PendingApproval',
        'cloud',
        // The title is the approval's subject once there is one (as in `fte status`).
        'Re: Invoice for January',
      ]);
      expect(await kube.ok(['get', 'ftask', '-n', namespace, '-o', 'wide'])).toContain(
        'Pending_Approval/email/EMAIL_K1.md',
      );

      // The owner approves on the laptop; the local executive sends and finishes; the operator pulls and
      // the Task follows the vault to Done.
      await eventually(async () => {
        await clones.local!.repo.sync();
        expect(existsSync(join(clones.local!.dir, 'Pending_Approval/email/EMAIL_K1.md'))).toBe(true);
      }, 30_000);
      const approve = await runCli(['approve', 'EMAIL_K1', '--vault', clones.local!.dir], localEnv);
      expect(approve.code, approve.stderr).toBe(0);
      const executor = await runCli(['executor', '--vault', clones.local!.dir, '--once'], localEnv);
      expect(executor.code, executor.stderr).toBe(0);
      await smtp.waitFor(1);
      expect(smtp.received[0]!.parsed.subject).toBe('Re: Invoice for January');
      await phaseIs(namespace, 'EMAIL_K1', 'Done');

      const described = await kube.ok(['describe', 'task', taskName('EMAIL_K1'), '-n', namespace]);
      const events = described.slice(described.indexOf('Events:'));
      for (const reason of ['Claimed', 'Triaged', 'Drafted', 'ApprovalRequested', 'Done']) {
        expect(events, described).toMatch(new RegExp(`Normal\\s+${reason}\\s`));
      }
      expect(events).toContain('fte.dev/operator');
      expect(events).not.toMatch(/Warning/);
    } finally {
      op.child.kill('SIGTERM');
    }
    const run = await op.done;
    expect(run.code, run.stderr).toBe(0);
    // A graceful stop gives the lease back.
    expect(await holder(namespace)).toBeFalsy();
  });

  it('two operators: only the leader works; a killed leader is replaced after its lease runs out; no draft twice', async () => {
    const { namespace, kubeconfig } = await operatorNamespace();
    const root = await tempDir();
    const remote = join(root, 'remote.git');
    await mkdir(remote);
    await git(remote, 'init', '--quiet', '--bare', '--initial-branch=main');
    const feeder = join(root, 'feeder');
    await initVault(feeder, { remote, agent: 'local' });
    const feed = new VaultRepo({ root: feeder, agent: 'local' });
    const a = join(root, 'a');
    const b = join(root, 'b');
    await initVault(a, { remote, agent: 'cloud' });
    await initVault(b, { remote, agent: 'cloud' });
    // Real processes on the real clock: a renew deadline with room for a loaded machine (a leader that
    // misses it steps down and exits, and the standby would work before the test kills anyone).
    const LEASE_SECONDS = 8;
    const lease = {
      FTE_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
      FTE_LEASE_RENEW_DEADLINE_SECONDS: '6',
      FTE_LEASE_RETRY_PERIOD_SECONDS: '0.5',
    };
    const opA = await operator(a, kubeconfig, { ...lease, POD_NAME: 'op-a' });
    await readyz(opA, { role: 'leader' });
    const opB = await operator(b, kubeconfig, { ...lease, POD_NAME: 'op-b' });
    try {
      await readyz(opB, {
        ready: true,
        role: 'standby',
        leader: 'op-a',
        identity: 'op-b',
      });
      const bHead = await git(b, 'rev-parse', 'HEAD');

      const ids = Array.from({ length: 8 }, (_, i) => `EMAIL_H${i}`);
      for (const id of ids)
        await writeFile(join(feeder, `Needs_Action/email/${id}.md`), emailItem(`Question ${id}`, id));
      await feed.commit(
        'local: new items',
        ids.map((id) => `Needs_Action/email/${id}.md`),
      );
      expect((await feed.sync()).state).toBe('synced');

      // As soon as the leader has drafted one, it dies without a word.
      await phaseIs(namespace, ids[0]!, 'PendingApproval');
      // Meanwhile the standby did nothing: no sync of its clone, no reconcile.
      expect(await git(b, 'rev-parse', 'HEAD')).toBe(bHead);
      const metrics = await (await fetch(`${opB.base}/metrics`)).text();
      expect(metrics).toMatch(/^fte_operator_reconcile_duration_seconds_count 0$/m);
      opA.child.kill('SIGKILL');
      await opA.done;
      const dead = JSON.parse(
        await kube.ok(['get', 'lease', 'fte-operator', '-n', namespace, '-o', 'json']),
      ).spec;
      expect(dead.holderIdentity).toBe('op-a');

      // A bound for a stuck test, not a speed claim: ten lease durations.
      await eventually(async () => expect(await holder(namespace)).toBe('op-b'), 10 * LEASE_SECONDS * 1000);
      const taken = JSON.parse(
        await kube.ok(['get', 'lease', 'fte-operator', '-n', namespace, '-o', 'json']),
      ).spec;
      expect(taken.leaseTransitions).toBe(dead.leaseTransitions + 1);
      // The standby waited the dead leader's lease out, read from the times the two processes wrote into
      // the Lease: a standby that did not wait would take it within a retry period (0.5 s). Half a lease of
      // slack, because op-b stamps acquireTime before the read that finds the lease run out (a slow read on
      // a loaded machine makes the gap look shorter by that read). The exact rule ("not before a whole lease
      // on the standby's own clock") is tested on an injected clock in cluster-features.test.ts. How soon
      // after the lease ran out is not asserted.
      const gapMs = Date.parse(taken.acquireTime) - Date.parse(dead.renewTime);
      expect(gapMs).toBeGreaterThanOrEqual((LEASE_SECONDS * 1000) / 2);
      await readyz(opB, { role: 'leader', identity: 'op-b' });

      for (const id of ids) await phaseIs(namespace, id, 'PendingApproval');
      await eventually(async () => {
        await feed.sync();
        for (const id of ids)
          expect(existsSync(join(feeder, `Pending_Approval/email/${id}.md`)), id).toBe(true);
      }, 30_000);
      for (const id of ids) {
        const drafts = (await git(feeder, 'log', '--format=%s', `--grep=^cloud: draft ${id}$`))
          .trim()
          .split('\n');
        expect(drafts, id).toHaveLength(1);
      }
      expect(await git(feeder, 'ls-files')).not.toMatch(/conflict/);

      // Someone else takes the lease: the leader stops and exits non-zero.
      await kube.ok([
        'patch',
        'lease',
        'fte-operator',
        '-n',
        namespace,
        '--type=merge',
        '-p',
        '{"spec":{"holderIdentity":"someone-else"}}',
      ]);
      const run = await opB.done;
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/fte: leadership lost: lease fte-operator is now held by someone-else/);
    } finally {
      opA.child.kill('SIGKILL');
      opB.child.kill('SIGKILL');
    }
  });

  it('survives an API server restart: the informer recovers and changes made during the outage are reconciled', async () => {
    const { namespace, kubeconfig } = await operatorNamespace();
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!.dir;
    // A lease long enough to outlast the restart (a longer outage makes the leader step down and exit).
    const op = await operator(cloud, kubeconfig, {
      POD_NAME: 'op-r',
      FTE_LEASE_DURATION_SECONDS: '90',
      FTE_LEASE_RENEW_DEADLINE_SECONDS: '60',
    });
    try {
      await readyz(op, { role: 'leader', ready: true });
      await writeFile(
        join(cloud, 'Needs_Action/email/EMAIL_R1.md'),
        emailItem('Before the outage', 'EMAIL_R1'),
      );
      await phaseIs(namespace, 'EMAIL_R1', 'PendingApproval');
      const before = (await readyz(op)).lastTaskEventAt as string;

      await kube.cluster.stopApiServer();
      // During the outage: a new email lands on the cloud, and the owner rejects the first draft.
      await writeFile(
        join(cloud, 'Needs_Action/email/EMAIL_R2.md'),
        emailItem('During the outage', 'EMAIL_R2'),
      );
      await clones.local!.repo.sync();
      const reject = await runCli(
        ['reject', 'EMAIL_R1', '--vault', clones.local!.dir, '--reason', 'no'],
        cleanEnv(),
      );
      expect(reject.code, reject.stderr).toBe(0);
      expect((await clones.local!.repo.sync()).state).toBe('synced');
      await kube.cluster.startApiServer();

      await phaseIs(namespace, 'EMAIL_R2', 'PendingApproval', 90_000);
      await phaseIs(namespace, 'EMAIL_R1', 'Rejected', 90_000);
      const after = await readyz(op, { role: 'leader', ready: true });
      expect(Date.parse(after.lastTaskEventAt as string)).toBeGreaterThan(Date.parse(before));
      expect(op.child.exitCode).toBeNull();
      expect(await git(cloud, 'log', '--format=%s', '--grep=^cloud: draft EMAIL_R2$')).toMatch(
        /draft EMAIL_R2/,
      );
    } finally {
      op.child.kill('SIGTERM');
    }
    const run = await op.done;
    expect(run.code, run.stderr).toBe(0);
  });
});
