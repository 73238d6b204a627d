import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatIsoWeek, lastBriefingAt, previousWeek, weekRange } from '../../core/briefing/week.js';
import { FOLDERS } from '../../core/layout.js';
import type { Watcher, WatcherContext } from '../watchers/watcher.js';
import { commitBriefing, makeBriefing } from './briefing.js';
import { BriefingScheduler, type BriefingSchedulerOptions } from './scheduler.js';

export type BriefingWatcherOptions = {
  /** The environment makeBriefing reads (Odoo's read settings, the Anthropic key). */
  env: NodeJS.ProcessEnv;
  /** FTE_TIMEZONE, already validated. */
  timeZone: string;
  /** Monday `hour`:00; default 7. */
  hour?: number;
  /** Test hook: the scheduler's timer. */
  setTimer?: BriefingSchedulerOptions['setTimer'];
};

export type BriefingRun = { week: string; path: string; written: boolean; why: string };

/**
 * The operator's Monday briefing (issue 13 part 5), started with the other watchers, so on the leader
 * only, and stopped with them. At start it writes the briefing due at the last Monday 07:00 (at most a
 * week back) when the vault does not have it: an operator that was down at 07:00 writes it once when it
 * starts. Then BriefingScheduler writes each Monday at 07:00 in FTE_TIMEZONE. A week whose file is already
 * in the vault (written before a restart, by the CronJob, by `fte briefing`) is never written again: the
 * file is looked for first, and the commit has an "absent" precondition. Runs one at a time.
 */
export class BriefingWatcher implements Watcher {
  readonly name = 'briefing';
  private scheduler: BriefingScheduler | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** What each run did, latest last (for tests and logs). */
  readonly runs: BriefingRun[] = [];

  constructor(private readonly options: BriefingWatcherOptions) {}

  async start(context: WatcherContext): Promise<void> {
    const hour = this.options.hour ?? 7;
    const due = (now: Date) => this.enqueue(context, lastBriefingAt(now, this.options.timeZone, hour));
    this.scheduler = new BriefingScheduler({
      timeZone: this.options.timeZone,
      hour,
      clock: context.clock,
      setTimer: this.options.setTimer,
      write: async (now) => {
        await due(now);
      },
      onError: (error) =>
        context.logger.warn({ err: (error as Error).message }, 'briefing not written; next Monday is kept'),
    });
    // The catch-up: in the background, so a slow Odoo or model never holds up the operator's start.
    due(context.clock()).catch((error) =>
      context.logger.warn({ err: (error as Error).message }, 'briefing catch-up failed'),
    );
    this.scheduler.start();
    context.logger.info(
      { next: this.scheduler.next().toISOString(), timeZone: this.options.timeZone },
      'briefing scheduled',
    );
  }

  async stop(): Promise<void> {
    this.scheduler?.stop();
    await this.whenIdle();
  }

  /** Resolves once the run in flight (if any) has finished. */
  whenIdle(): Promise<void> {
    return this.chain.then(
      () => undefined,
      () => undefined,
    );
  }

  private enqueue(context: WatcherContext, at: Date): Promise<BriefingRun> {
    const run = this.chain.then(
      () => this.writeDue(context, at),
      () => this.writeDue(context, at),
    );
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Writes the briefing due at `at` (the week before it) unless the vault has it. */
  private async writeDue(context: WatcherContext, at: Date): Promise<BriefingRun> {
    const tz = this.options.timeZone;
    const week = formatIsoWeek(previousWeek(at, tz));
    const path = `${FOLDERS.briefings}/${weekRange(week, tz).briefingDay}_Monday_Briefing.md`;
    const record = (written: boolean, why: string): BriefingRun => {
      const run = { week, path, written, why };
      this.runs.push(run);
      context.logger.info({ week, path, written }, why);
      return run;
    };
    if (context.signal.aborted) return record(false, 'briefing skipped: the operator is stopping');
    if (existsSync(join(context.vault.root, path))) {
      return record(false, 'briefing already in the vault; not written again');
    }
    const briefing = await makeBriefing({
      root: context.vault.root,
      env: this.options.env,
      week,
      now: context.clock(),
      agent: context.agent,
    });
    if (briefing.narrative.fallback) {
      context.logger.warn({ err: briefing.narrative.fallback }, 'briefing: Claude failed, template used');
    }
    const result = await commitBriefing(context.vault, briefing, { onlyIfAbsent: true });
    if (result.kind === 'conflict') return record(false, `briefing not written again: ${result.reason}`);
    if (result.kind === 'secret') {
      throw new Error(
        `briefing ${week} refused by the secret guard (${result.refused.map((r) => r.reason).join('; ')})`,
      );
    }
    return record(true, 'briefing written');
  }
}
