import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../core/frontmatter.js';
import { BriefingWatcher } from '../../operator/briefing/watcher.js';
import { TemplateDrafter } from '../../operator/drafters/template.js';
import { Operator } from '../../operator/operator.js';
import { git, remoteWithClones } from '../helpers/vaults.js';
import { assertBuilt, cleanEnv, eventually, start } from '../operator/process.js';

/**
 * The operator writes the Monday briefing (issue 13 part 5): on Monday 07:00 in FTE_TIMEZONE, once per
 * week across restarts, the missed one at start. The in-process operator on a real git vault with a
 * bare remote, an injected clock and a timer the test fires by hand (no real waiting); then the real
 * `fte operator` process with the real clock.
 */

const logger = pino({ level: 'silent' });

/** A timer the test fires: the scheduler's pending wait, and whether it was cancelled. */
function manualTimers() {
  const timers: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  return {
    setTimer: (fn: () => void, ms: number) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return { cancel: () => (t.cancelled = true) };
    },
    pending: () => timers.filter((t) => !t.cancelled),
    fire: () => {
      const [t] = timers.filter((x) => !x.cancelled);
      if (!t) throw new Error('no timer pending');
      t.cancelled = true;
      t.fn();
    },
  };
}

async function briefings(dir: string): Promise<string[]> {
  return existsSync(join(dir, 'Briefings'))
    ? (await readdir(join(dir, 'Briefings'))).filter((f) => f.endsWith('_Monday_Briefing.md')).sort()
    : [];
}

const briefingCommits = async (dir: string, ref = 'HEAD') =>
  (await git(dir, 'log', '--format=%s', ref, '--grep=: briefing ')).split('\n').filter(Boolean);

describe('the operator writes the Monday briefing', () => {
  it('Monday 07:00 Berlin, once per week across restarts; the missed one at start; stops with the operator', async () => {
    const { clones, remote } = await remoteWithClones(['cloud']);
    const vault = clones.cloud!.dir;
    let now = new Date('2026-03-08T12:00:00Z'); // Sunday
    const env = { FTE_TIMEZONE: 'Europe/Berlin' };
    const timers = manualTimers();
    const boot = async () => {
      const watcher = new BriefingWatcher({ env, timeZone: 'Europe/Berlin', setTimer: timers.setTimer });
      const operator = new Operator({
        vault,
        agent: 'cloud',
        drafter: new TemplateDrafter(),
        logger,
        clock: () => now,
        syncIntervalMs: 3_600_000,
        resyncIntervalMs: 3_600_000,
        watchers: [watcher],
      });
      await operator.start();
      await watcher.whenIdle();
      return { operator, watcher };
    };

    // First start (Sunday): the briefing due last Monday (2 March, for W09) is not in the vault: written.
    let { operator, watcher } = await boot();
    expect(watcher.runs).toEqual([
      {
        week: '2026-W09',
        path: 'Briefings/2026-03-02_Monday_Briefing.md',
        written: true,
        why: 'briefing written',
      },
    ]);
    // The next one is armed for Monday 9 March 07:00 Berlin (06:00 UTC): 18 hours on the injected clock.
    expect(timers.pending().map((t) => t.ms)).toEqual([18 * 3_600_000]);

    now = new Date('2026-03-09T06:00:00Z');
    timers.fire();
    await watcher.whenIdle();
    expect(watcher.runs.at(-1)).toEqual({
      week: '2026-W10',
      path: 'Briefings/2026-03-09_Monday_Briefing.md',
      written: true,
      why: 'briefing written',
    });
    const w10 = parseMarkdown(await readFile(join(vault, 'Briefings/2026-03-09_Monday_Briefing.md'), 'utf8'));
    expect(w10.data).toMatchObject({ type: 'briefing', week: '2026-W10', time_zone: 'Europe/Berlin' });
    // Re-armed for the Monday after (DST starts on 29 March; 16 March is still UTC+1).
    expect(timers.pending().map((t) => t.ms)).toEqual([7 * 24 * 3_600_000]);

    // Stop: the timer is cancelled and what was committed is pushed.
    await operator.stop();
    expect(timers.pending()).toEqual([]);
    expect(await briefingCommits(remote, 'main')).toEqual([
      'cloud: briefing 2026-W10',
      'cloud: briefing 2026-W09',
    ]);

    // A restart on Monday 07:05: this week's briefing is there, nothing is written.
    now = new Date('2026-03-09T06:05:00Z');
    ({ operator, watcher } = await boot());
    expect(watcher.runs).toEqual([
      {
        week: '2026-W10',
        path: 'Briefings/2026-03-09_Monday_Briefing.md',
        written: false,
        why: 'briefing already in the vault; not written again',
      },
    ]);
    await operator.stop();

    // Down at 07:00 the next Monday, started at 09:00: the missed briefing is written at start, once.
    now = new Date('2026-03-16T08:00:00Z');
    ({ operator, watcher } = await boot());
    expect(watcher.runs.map((r) => [r.week, r.written])).toEqual([['2026-W11', true]]);
    await operator.stop();
    now = new Date('2026-03-16T08:30:00Z');
    ({ operator, watcher } = await boot());
    expect(watcher.runs.map((r) => [r.week, r.written])).toEqual([['2026-W11', false]]);
    await operator.stop();

    expect(await briefings(vault)).toEqual([
      '2026-03-02_Monday_Briefing.md',
      '2026-03-09_Monday_Briefing.md',
      '2026-03-16_Monday_Briefing.md',
    ]);
    expect(await briefingCommits(remote, 'main')).toEqual([
      'cloud: briefing 2026-W11',
      'cloud: briefing 2026-W10',
      'cloud: briefing 2026-W09',
    ]);
  });
});

describe('fte operator (the real process) and the briefing', () => {
  beforeAll(assertBuilt);

  const daemon = (vault: string, extra: NodeJS.ProcessEnv) =>
    start(['operator', '--vault', vault, '--port', '0', '--interval', '1'], cleanEnv(extra));

  it('writes the briefing due at the last Monday 07:00 once, not again after a restart; FTE_BRIEFING=0 writes none', async () => {
    const { clones, remote } = await remoteWithClones(['cloud']);
    const vault = clones.cloud!.dir;
    const first = daemon(vault, { FTE_TIMEZONE: 'Europe/Berlin' });
    try {
      await eventually(
        () => first.output().stderr.includes('"msg":"briefing written"'),
        'the briefing',
        60_000,
      );
    } finally {
      first.child.kill('SIGTERM');
    }
    const run1 = await first.done;
    expect(run1.code, run1.stderr).toBe(0);
    const [file, ...more] = await briefings(vault);
    expect(more).toEqual([]);
    // The date is a Monday (the last one at 07:00 Berlin), at most 7 days back.
    expect(new Date(`${file!.slice(0, 10)}T12:00:00Z`).getUTCDay()).toBe(1);
    expect(await briefingCommits(remote, 'main')).toHaveLength(1);

    const second = daemon(vault, { FTE_TIMEZONE: 'Europe/Berlin' });
    try {
      await eventually(
        () => second.output().stderr.includes('"msg":"briefing already in the vault; not written again"'),
        'the restart to see the briefing',
        60_000,
      );
    } finally {
      second.child.kill('SIGTERM');
    }
    const run2 = await second.done;
    expect(run2.code, run2.stderr).toBe(0);
    expect(await briefings(vault)).toEqual([file]);
    expect(await briefingCommits(remote, 'main')).toHaveLength(1);

    const other = await remoteWithClones(['cloud']);
    const off = daemon(other.clones.cloud!.dir, { FTE_BRIEFING: '0' });
    try {
      await eventually(() => off.output().stderr.includes('"msg":"operator started"'), 'the start', 60_000);
    } finally {
      off.child.kill('SIGTERM');
    }
    const run3 = await off.done;
    expect(run3.code, run3.stderr).toBe(0);
    expect(run3.stderr).not.toContain('briefing');
    expect(await briefings(other.clones.cloud!.dir)).toEqual([]);
  });

  it('a time zone that does not exist stops the start: exit 78, one line', async () => {
    const { clones } = await remoteWithClones(['cloud']);
    const run = await daemon(clones.cloud!.dir, { FTE_TIMEZONE: 'Mars/Olympus' }).done;
    expect(run.code).toBe(78);
    expect(run.stderr).toMatch(/FTE_TIMEZONE: must be an IANA time zone/);
  });
});
