import { describe, expect, it } from 'vitest';
import { StopRequest, untilStopped } from '../../cli/signals.js';

// Real signals to this test's own process (vitest runs each file in a forked process).
describe('StopRequest and untilStopped', () => {
  it('a SIGTERM that comes before the loop starts (right after the daemon said it started) stops it gracefully', async () => {
    const before = process.listenerCount('SIGTERM');
    const stop = new StopRequest();
    process.kill(process.pid, 'SIGTERM');
    await stop.asked;
    let steps = 0;
    let stops = 0;
    await untilStopped(stop, 10, async () => void steps++, { onStop: () => void stops++ });
    expect([steps, stops, stop.requested]).toEqual([0, 1, true]);
    stop.dispose();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('a SIGINT during a step lets that step finish, runs no other, and returns', async () => {
    const stop = new StopRequest();
    const steps: string[] = [];
    await untilStopped(stop, 60_000, async () => {
      steps.push('begun');
      process.kill(process.pid, 'SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 50));
      steps.push('finished');
    });
    stop.dispose();
    expect(steps).toEqual(['begun', 'finished']);
  });

  it('waits between steps until the interval passes or a stop comes', async () => {
    const stop = new StopRequest();
    let steps = 0;
    const loop = untilStopped(stop, 20, async () => {
      steps++;
      if (steps === 3) process.kill(process.pid, 'SIGTERM');
    });
    await loop;
    stop.dispose();
    expect(steps).toBe(3);
  });
});
