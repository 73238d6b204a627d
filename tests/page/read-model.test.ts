import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReadModel } from '../../executor/ui/read-model.js';
import { cloudDrafts, executive, localState, tempDir, testKey, world } from '../executor/helpers.js';

/** What the page is told, computed from a real vault, state folder and ledger. */

const llmCall = (ts: string, model: string, cost: number | null, input = 1000, output = 200) =>
  JSON.stringify({
    timestamp: ts,
    action_type: 'llm_call',
    actor: 'cloud',
    target: model,
    parameters: { purpose: 'draft', model, input_tokens: input, output_tokens: output, cost_usd: cost },
    approval_status: 'not_required',
    approved_by: null,
    result: 'ok',
  });

describe('the status page read model', () => {
  it('sums model cost per day and model; an unpriced call makes the day’s cost unknown, not zero', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'Logs'));
    await writeFile(
      join(root, 'Logs', '2026-11-30.json'),
      [
        llmCall('2026-11-30T08:00:00.000Z', 'claude-sonnet-4-5', 0.01),
        llmCall('2026-11-30T09:00:00.000Z', 'claude-sonnet-4-5', 0.02, 500, 100),
        llmCall('2026-11-30T09:30:00.000Z', 'mystery-model', null),
        'not json at all',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(root, 'Logs', '2026-12-01.json'),
      `${llmCall('2026-12-01T08:00:00.000Z', 'claude-haiku-4-5', 0.001)}\n`,
    );
    const costs = await new ReadModel({ root, agent: 'local' }).costs();
    expect(costs).toEqual([
      {
        day: '2026-11-30',
        model: 'claude-sonnet-4-5',
        calls: 2,
        inputTokens: 1500,
        outputTokens: 300,
        costUsd: 0.03,
      },
      {
        day: '2026-11-30',
        model: 'mystery-model',
        calls: 1,
        inputTokens: 1000,
        outputTokens: 200,
        costUsd: null,
      },
      {
        day: '2026-12-01',
        model: 'claude-haiku-4-5',
        calls: 1,
        inputTokens: 1000,
        outputTokens: 200,
        costUsd: 0.001,
      },
    ]);
    const activity = await new ReadModel({ root, agent: 'local' }).activity(2);
    expect(activity.map((a) => a.timestamp)).toEqual([
      '2026-12-01T08:00:00.000Z',
      '2026-11-30T09:30:00.000Z',
    ]);
  });

  it('never reads through a link the remote planted: a linked log or approval is not shown', async () => {
    const root = await tempDir();
    const outside = await tempDir();
    await writeFile(join(outside, 'secret.json'), `${llmCall('2026-11-30T08:00:00.000Z', 'leak', 1)}\n`);
    await mkdir(join(root, 'Logs'));
    await symlink(join(outside, 'secret.json'), join(root, 'Logs', '2026-11-30.json'));
    await mkdir(join(root, 'Pending_Approval', 'email'), { recursive: true });
    await symlink(join(outside, 'secret.json'), join(root, 'Pending_Approval', 'email', 'EMAIL_LINK.md'));
    const model = new ReadModel({ root, agent: 'local' });
    expect(await model.costs()).toEqual([]);
    expect(await model.approvals()).toEqual([]);
    expect(await model.approval('EMAIL_LINK')).toBeUndefined();
  });

  it('alerts on approvals expiring within the hour and on a silent cloud; sorts approvals by expiry', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const now = Date.now();
    await cloudDrafts(w.cloud, 'EMAIL_LATER', { expires: new Date(now + 5 * 3_600_000), push: false });
    await cloudDrafts(w.cloud, 'EMAIL_SOON', { expires: new Date(now + 20 * 60_000) });
    await executive(w, key, undefined).pass();
    const state = await localState(w);
    const quiet = new Date(now - 2 * 3_600_000).toISOString();
    await writeFile(state.dashboard, JSON.stringify({ heartbeats: { cloud: { at: quiet } }, signals: [] }));
    const model = new ReadModel({ root: w.local.dir, agent: 'local', dashboardState: state.dashboard });
    expect((await model.approvals()).map((a) => a.id)).toEqual(['EMAIL_SOON', 'EMAIL_LATER']);
    const overview = await model.overview();
    expect(overview.counts.PendingApproval).toBe(2);
    expect(overview.alerts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'expiring', task: 'EMAIL_SOON' }),
        expect.objectContaining({
          kind: 'cloud_silent',
          message: expect.stringMatching(/^cloud not seen for 120 min/),
        }),
      ]),
    );
    expect(overview.alerts.some((a) => a.task === 'EMAIL_LATER')).toBe(false);
    expect(overview.agents).toEqual([expect.objectContaining({ name: 'cloud', lastSeen: quiet })]);
  });
});
