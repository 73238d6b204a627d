import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeCluster, startNodeCluster } from '../harness/cluster.js';

describe('a real node', () => {
  let cluster: NodeCluster;
  beforeAll(async () => {
    cluster = await startNodeCluster();
  }, 300_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('runs a pod', async () => {
    console.log('ready in', cluster.readyMs);
    await cluster.ok(['run', 'p1', `--image=${cluster.registry}/fte-test/pause:1`, '--restart=Never']);
    await cluster.ok(['wait', '--for=condition=Ready', 'pod/p1', '--timeout=120s']);
    expect(await cluster.ok(['get', 'pod', 'p1', '-o', 'jsonpath={.status.phase}'])).toBe('Running');
  }, 200_000);
});
