import { CoordinationV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeEventRecorder } from '../../operator/controller/kube/event-recorder.js';
import { LeaderElector } from '../../operator/controller/kube/leader.js';
import { KubeTaskStore } from '../../operator/controller/kube/task-store.js';
import { setCondition, taskName } from '../../operator/task.js';
import { createServiceAccountToken, kubectl } from '../harness/kube.js';
import { operatorRbac, startTaskCluster, type TaskCluster, table, tokenKubeconfig } from './cluster.js';
import { eventually, spec } from './store-contract.js';

const logger = pino({ level: 'silent' });
/**
 * Every elector here runs on a monotonic clock the test moves (manualClock): a lease runs out, or a renew
 * deadline passes, only when the test says so, never because a loaded machine was slow. The real time that
 * is left, each API request's timeout (min(renew deadline, what is left of it)), gets ample room.
 */
const LEASE = { leaseDurationMs: 10_000, renewDeadlineMs: 8_000, retryPeriodMs: 100 };

/** A monotonic clock that moves only when told to. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('on a real kube-apiserver', () => {
  let kube: TaskCluster;
  beforeAll(async () => {
    kube = await startTaskCluster();
  });
  afterAll(async () => {
    await kube?.stop();
  });

  describe('leader election on a Lease', () => {
    const elector = (namespace: string, identity: string, monotonic = manualClock().now) =>
      new LeaderElector({ kubeConfig: kube.kubeConfig(), namespace, identity, logger, ...LEASE, monotonic });

    /** Waits until `e` has finished `n` more attempts. */
    const attempts = async (e: LeaderElector, n: number) => {
      const target = e.attempts + n;
      await eventually(() => expect(e.attempts).toBeGreaterThanOrEqual(target));
    };

    const lease = async (namespace: string) =>
      (
        await kube
          .kubeConfig()
          .makeApiClient(CoordinationV1Api)
          .readNamespacedLease({ name: 'fte-operator', namespace })
      ).spec;

    it('one candidate leads; the other takes over only after the record stayed unchanged for a whole lease', async () => {
      const namespace = await kube.namespace();
      const a = elector(namespace, 'a');
      const clock = manualClock();
      const b = elector(namespace, 'b', clock.now);
      expect(await a.acquire()).toBe(true);
      const stopA = new AbortController();
      const holding = a.holdUntilLost(stopA.signal);
      const stopB = new AbortController();
      const campaign = b.acquire(stopB.signal);
      await attempts(b, 3);
      expect(b.isLeader).toBe(false);
      expect(b.observedLeader).toBe('a');
      expect((await lease(namespace))?.holderIdentity).toBe('a');

      // The leader dies without a word (no release): its record stops changing. (a's own clock never
      // moves, so only this abort ends its hold, however slow a renew on a loaded machine.)
      stopA.abort();
      expect(await holding).toBe('stopped');
      await attempts(b, 3);
      // b's clock has not moved: however long it waits in real time, the lease is still a's.
      clock.advance(LEASE.leaseDurationMs - 1);
      await attempts(b, 3);
      expect(b.isLeader).toBe(false);
      clock.advance(1);
      expect(await campaign).toBe(true);
      expect(await lease(namespace)).toMatchObject({
        holderIdentity: 'b',
        leaseTransitions: 1,
        leaseDurationSeconds: LEASE.leaseDurationMs / 1000,
      });
      await b.release();
    });

    it('a released lease is taken at once', async () => {
      const namespace = await kube.namespace();
      const a = elector(namespace, 'a');
      const b = elector(namespace, 'b', manualClock().now);
      expect(await a.acquire()).toBe(true);
      const campaign = b.acquire();
      await attempts(b, 2);
      await a.release();
      // b's clock is frozen, so only an empty holder lets it in.
      expect(await campaign).toBe(true);
      expect((await lease(namespace))?.holderIdentity).toBe('b');
      await b.release();
      expect((await lease(namespace))?.holderIdentity).toBeFalsy();
    });

    it('a leader that finds someone else in the lease stops leading', async () => {
      const namespace = await kube.namespace();
      const a = elector(namespace, 'a');
      expect(await a.acquire()).toBe(true);
      const holding = a.holdUntilLost();
      const patch = '{"spec":{"holderIdentity":"intruder"}}';
      await kube.ok(['patch', 'lease', 'fte-operator', '-n', namespace, '--type=merge', '-p', patch]);
      expect(await holding).toMatch(/held by intruder/);
      expect(a.isLeader).toBe(false);
    });
  });

  it('kubectl get tasks / ftask / -o wide shows the printer columns; kubectl describe task tells the story', async () => {
    const namespace = await kube.namespace();
    const store = new KubeTaskStore({ kubeConfig: kube.kubeConfig(), namespace, logger });
    const name = taskName('EMAIL_1');
    const task = await store.apply(
      name,
      spec('EMAIL_1', { title: 'Invoice for January', priority: 'high' }),
      {
        fieldManager: 'fte-operator-mirror',
      },
    );
    const now = new Date();
    await store.patchStatus(
      name,
      {
        phase: 'PendingApproval',
        owner: 'cloud',
        approvalPath: 'Pending_Approval/email/EMAIL_1.md',
        expires: '2026-01-09T10:30:00Z',
        conditions: setCondition(
          [],
          { type: 'Drafted', status: 'True', reason: 'ApprovalRequested', message: 'm' },
          now,
        ),
        observedGeneration: 1,
      },
      { fieldManager: 'fte-operator' },
    );
    await store.apply('other-1', spec('OTHER_1', { domain: 'files' }), {
      fieldManager: 'fte-operator-mirror',
    });

    const rows = table(await kube.ok(['get', 'tasks', '-n', namespace]));
    expect(rows[0]).toEqual(['NAME', 'DOMAIN', 'PHASE', 'OWNER', 'TITLE', 'AGE']);
    expect(rows.find((r) => r[0] === name)!.slice(0, 5)).toEqual([
      name,
      'email',
      'PendingApproval',
      'cloud',
      'Invoice for January',
    ]);
    // A task the reconciler has not looked at yet: no phase, no owner, no title.
    expect(rows.find((r) => r[0] === 'other-1')!.slice(0, 5)).toEqual(['other-1', 'files', '', '', '']);

    const wide = table(await kube.ok(['get', 'ftask', '-n', namespace, '-o', 'wide']));
    expect(wide[0]).toEqual([
      'NAME',
      'DOMAIN',
      'PHASE',
      'OWNER',
      'TITLE',
      'AGE',
      'ID',
      'PRIORITY',
      'APPROVAL',
      'EXPIRES',
      'ERROR',
    ]);
    expect(wide.find((r) => r[0] === name)!.slice(6)).toEqual([
      'EMAIL_1',
      'high',
      'Pending_Approval/email/EMAIL_1.md',
      '2026-01-09T10:30:00Z',
      '',
    ]);
    // The category and a selectable field.
    expect(await kube.ok(['get', 'fte', '-n', namespace, '-o', 'name'])).toContain(`task.fte.dev/${name}`);
    const emailOnly = await kube.ok([
      'get',
      'tasks',
      '-n',
      namespace,
      '--field-selector',
      'spec.domain=files',
      '-o',
      'name',
    ]);
    expect(emailOnly.trim()).toBe('task.fte.dev/other-1');

    const events = new KubeEventRecorder({
      kubeConfig: kube.kubeConfig(),
      namespace,
      instance: 'op-0',
      logger,
    });
    events.record(task, {
      type: 'Normal',
      reason: 'Claimed',
      action: 'Claim',
      message: 'claimed into In_Progress/cloud/EMAIL_1.md',
    });
    events.record(task, { type: 'Normal', reason: 'Drafted', action: 'Draft', message: 'draft written' });
    events.record(task, {
      type: 'Normal',
      reason: 'ApprovalRequested',
      action: 'RequestApproval',
      message: 'waiting for the owner in Pending_Approval/email/EMAIL_1.md',
    });
    events.record(task, { type: 'Warning', reason: 'Failed', action: 'Draft', message: 'x'.repeat(5000) });
    await events.flush();
    expect(events.failed).toBe(0);
    const described = await kube.ok(['describe', 'task', name, '-n', namespace]);
    expect(described).toMatch(/Phase:\s+PendingApproval/);
    const eventLines = described.slice(described.indexOf('Events:')).split('\n');
    expect(eventLines[1]!.trim().split(/\s{2,}/)).toEqual(['Type', 'Reason', 'Age', 'From', 'Message']);
    const reasons = eventLines.slice(3).map((line) =>
      line
        .trim()
        .split(/\s{2,}/)
        .slice(0, 2)
        .join(' '),
    );
    expect(reasons.filter(Boolean)).toEqual([
      'Normal Claimed',
      'Normal Drafted',
      'Normal ApprovalRequested',
      'Warning Failed',
    ]);
    expect(described).toContain('waiting for the owner in Pending_Approval/email/EMAIL_1.md');
    expect(described).toContain('fte.dev/operator');
  });

  it('the RBAC of charts/fte grants the operator what it uses and nothing more', async () => {
    const namespace = await kube.namespace();
    await kube.ok(['apply', '-n', namespace, '-f', '-'], await operatorRbac(namespace));
    const token = await createServiceAccountToken(kube.cluster, namespace, 'fte-operator');
    const path = await tokenKubeconfig(kube.cluster, 'fte-operator', token, namespace);
    const kubeConfig = kube.kubeConfig(path);

    // Everything the operator does, as that service account.
    const store = new KubeTaskStore({ kubeConfig, namespace, logger });
    await store.verify();
    const created = await store.apply('a', spec('A'), { fieldManager: 'fte-operator-mirror' });
    await store.patchStatus(
      'a',
      { phase: 'InProgress' },
      { fieldManager: 'fte-operator', resourceVersion: created.metadata.resourceVersion },
    );
    const seen: string[] = [];
    const { resourceVersion } = await store.list();
    const watch = await store.watch(resourceVersion, {
      onEvent: (e) => seen.push(e.type),
      onClose: () => {},
    });
    expect(await store.delete('a')).toBe(true);
    await eventually(() => expect(seen).toEqual(['DELETED']));
    watch.stop();
    const elector = new LeaderElector({
      kubeConfig,
      namespace,
      identity: 'op-0',
      logger,
      ...LEASE,
      monotonic: manualClock().now,
    });
    expect(await elector.acquire()).toBe(true);
    const stop = new AbortController();
    const holding = elector.holdUntilLost(stop.signal);
    await eventually(() => expect(elector.attempts).toBeGreaterThanOrEqual(3));
    stop.abort();
    expect(await holding).toBe('stopped');
    await elector.release();
    const events = new KubeEventRecorder({ kubeConfig, namespace, instance: 'op-0', logger });
    events.record(created, { type: 'Normal', reason: 'Claimed', action: 'Claim', message: 'm' });
    await events.flush();
    expect(events.failed).toBe(0);

    // And nothing more.
    const sa = `system:serviceaccount:${namespace}:fte-operator`;
    const can = async (...args: string[]) =>
      (await kubectl(kube.cluster, ['auth', 'can-i', '--as', sa, '-n', namespace, ...args])).stdout.trim();
    expect(await can('patch', 'tasks.fte.dev')).toBe('yes');
    expect(await can('patch', 'tasks.fte.dev', '--subresource=status')).toBe('yes');
    for (const denied of [
      ['get', 'secrets'],
      ['update', 'tasks.fte.dev'],
      ['delete', 'leases.coordination.k8s.io/fte-operator'],
      ['update', 'leases.coordination.k8s.io/someone-else'],
      ['delete', 'events.events.k8s.io'],
      ['create', 'pods'],
      ['patch', 'customresourcedefinitions.apiextensions.k8s.io'],
    ]) {
      expect(`${denied.join(' ')}: ${await can(...denied)}`).toBe(`${denied.join(' ')}: no`);
    }
    expect(
      (
        await kubectl(kube.cluster, ['auth', 'can-i', '--as', sa, '-n', 'default', 'list', 'tasks.fte.dev'])
      ).stdout.trim(),
    ).toBe('no');
  });
});
