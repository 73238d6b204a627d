import { describe, expect, it } from 'vitest';
import { backoffDelay, type Scheduler, WorkQueue } from '../../operator/controller/queue.js';

/** A scheduler whose time moves only when the test says so. */
function manualClock() {
  let now = 0;
  const timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let nextId = 0;
  const scheduler: Scheduler = {
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (handle) => {
      const index = timers.findIndex((t) => t.id === handle);
      if (index >= 0) timers.splice(index, 1);
    },
  };
  return {
    scheduler,
    now: () => now,
    advance(ms: number) {
      now += ms;
      for (const timer of timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at)) {
        timers.splice(timers.indexOf(timer), 1);
        timer.fn();
      }
    },
    pending: () => timers.length,
  };
}

describe('WorkQueue', () => {
  it('holds a key once while it waits, however often it is added', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('never hands out a key that is being processed; an add meanwhile runs it again after done', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    const first = await q.get();
    q.add('a');
    expect(q.len()).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(first!);
    await Promise.resolve();
    expect(second).toBe('a');
  });

  it('backs off exponentially per key, capped, and forget resets it', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, { baseMs: 5, maxMs: 30 }))).toEqual([5, 10, 20, 30]);
    const clock = manualClock();
    const q = new WorkQueue<string>({
      scheduler: clock.scheduler,
      now: clock.now,
      backoff: { baseMs: 10, maxMs: 1000 },
    });
    q.addRateLimited('a');
    q.addRateLimited('b');
    expect(q.numRequeues('a')).toBe(1);
    clock.advance(9);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(2);
    q.addRateLimited('a');
    expect(q.numRequeues('a')).toBe(2);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
  });

  it('keeps the earliest of several delayed adds and tells retries from scheduled checks', async () => {
    const clock = manualClock();
    const q = new WorkQueue<string>({ scheduler: clock.scheduler, now: clock.now });
    q.addAfter('a', 1000);
    q.addAfter('a', 100);
    q.addAfter('a', 5000);
    expect(clock.pending()).toBe(1);
    expect(q.scheduledKeys()).toEqual(['a']);
    expect(q.isIdle()).toBe(true);
    q.addRateLimited('b');
    expect(q.pendingRetries()).toBe(1);
    expect(q.isIdle()).toBe(false);
    clock.advance(100);
    expect(q.len()).toBe(2);
  });

  it('whenIdle waits for queued work, work in flight and retries, not for scheduled checks', async () => {
    const clock = manualClock();
    const q = new WorkQueue<string>({ scheduler: clock.scheduler, now: clock.now });
    q.add('a');
    q.addAfter('later', 60_000);
    let idle = false;
    void q.whenIdle().then(() => (idle = true));
    const key = await q.get();
    q.addRateLimited(key!);
    q.done(key!);
    await Promise.resolve();
    expect(idle).toBe(false);
    clock.advance(1000);
    const again = await q.get();
    q.done(again!);
    await Promise.resolve();
    expect(idle).toBe(true);
  });

  it('shutDown wakes waiting workers with undefined and cancels timers', async () => {
    const clock = manualClock();
    const q = new WorkQueue<string>({ scheduler: clock.scheduler, now: clock.now });
    const waiting = q.get();
    q.addAfter('x', 10);
    q.shutDown();
    expect(await waiting).toBeUndefined();
    expect(clock.pending()).toBe(0);
    q.add('y');
    expect(await q.get()).toBeUndefined();
  });
});
