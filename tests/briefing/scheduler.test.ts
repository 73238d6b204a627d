import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BriefingScheduler } from '../../operator/briefing/scheduler.js';

describe('BriefingScheduler: Monday 07:00 in the owner zone', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-03-18T12:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes on Monday 07:00 Berlin before and after DST begins; a failed run keeps the schedule', async () => {
    const runs: string[] = [];
    const errors: unknown[] = [];
    const scheduler = new BriefingScheduler({
      timeZone: 'Europe/Berlin',
      clock: () => new Date(Date.now()),
      write: async (now) => {
        runs.push(now.toISOString());
        if (runs.length === 2) throw new Error('vault port down');
      },
      onError: (e) => errors.push(e),
    });
    expect(scheduler.next().toISOString()).toBe('2026-03-23T06:00:00.000Z');
    scheduler.start();
    await vi.advanceTimersByTimeAsync(Date.parse('2026-03-23T06:00:00Z') - Date.now() - 1); // 06:59:59.999 Berlin
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual(['2026-03-23T06:00:00.000Z']);
    await vi.advanceTimersByTimeAsync(7 * 86_400_000);
    // 29 March: clocks go forward, so 07:00 Berlin is 05:00 UTC
    expect(runs).toEqual(['2026-03-23T06:00:00.000Z', '2026-03-30T05:00:00.000Z']);
    expect(errors).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(7 * 86_400_000);
    expect(runs.at(-1)).toBe('2026-04-06T05:00:00.000Z');
    scheduler.stop();
    await vi.advanceTimersByTimeAsync(14 * 86_400_000);
    expect(runs).toHaveLength(3);
  });
});
