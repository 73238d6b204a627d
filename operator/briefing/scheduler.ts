import { nextBriefingAt } from '../../core/briefing/week.js';

/** setTimeout's longest delay; a longer wait is taken in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export type BriefingSchedulerOptions = {
  /** Writes the briefing of the week before `now` (e.g. makeBriefing + commitBriefing on the operator's port). */
  write: (now: Date) => Promise<void>;
  /** FTE_TIMEZONE: Monday `hour`:00 there. */
  timeZone: string;
  hour?: number;
  clock?: () => Date;
  onError?: (error: unknown) => void;
  /** The timer (tests drive it by hand); default setTimeout, unref'd. */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
};

const realTimer = (fn: () => void, ms: number) => {
  const timer = setTimeout(fn, ms);
  timer.unref?.();
  return { cancel: () => clearTimeout(timer) };
};

/**
 * "The operator writes the briefing on Monday 07:00 in FTE_TIMEZONE": one timer to the next
 * nextBriefingAt(), re-armed after each run (DST-safe: the next time is computed on calendar days each
 * time). A failed run is reported and the next Monday is still scheduled. Run it on the leader only.
 * The operator runs it through BriefingWatcher (./watcher.ts), which adds the catch-up at start and the
 * once-per-week rule (docs/briefing.md).
 */
export class BriefingScheduler {
  private timer: { cancel(): void } | undefined;
  private running = false;
  private readonly clock: () => Date;

  constructor(private readonly o: BriefingSchedulerOptions) {
    this.clock = o.clock ?? (() => new Date());
  }

  /** When the next briefing will be written. */
  next(): Date {
    return nextBriefingAt(this.clock(), this.o.timeZone, this.o.hour ?? 7);
  }

  start(): void {
    this.running = true;
    this.arm(this.next());
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(at: Date): void {
    if (!this.running) return;
    const delay = Math.max(0, Math.min(at.getTime() - this.clock().getTime(), MAX_DELAY_MS));
    this.timer = (this.o.setTimer ?? realTimer)(() => void this.fire(at), delay);
  }

  private async fire(at: Date): Promise<void> {
    if (!this.running) return;
    const now = this.clock();
    if (now.getTime() < at.getTime()) return this.arm(at); // a long wait taken in steps
    try {
      await this.o.write(now);
    } catch (error) {
      this.o.onError?.(error);
    }
    this.arm(this.next());
  }
}
