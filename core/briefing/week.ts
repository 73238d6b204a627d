import { EXIT, FteError } from '../errors.js';

/**
 * ISO weeks (`YYYY-Www`, Monday to Sunday) in the owner's time zone, with plain Intl (no date library).
 * A day is a `YYYY-MM-DD` string; an instant is a Date.
 */

export class InvalidWeekError extends FteError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.usage });
  }
}

export class InvalidTimeZoneError extends FteError {
  constructor(tz: string) {
    super(`FTE_TIMEZONE: ${JSON.stringify(tz)} is not an IANA time zone (e.g. Europe/Berlin, UTC)`, {
      exitCode: EXIT.config,
    });
  }
}

export type IsoWeek = { year: number; week: number };

export type WeekRange = {
  /** `YYYY-Www` */
  week: string;
  /** Monday and Sunday of the week (calendar days in the owner's time zone). */
  startDay: string;
  endDay: string;
  /** The first day of the month the week's Sunday falls in: the month-to-date runs from it to `endDay`. */
  monthStartDay: string;
  /** The Monday after the week: the briefing's date. */
  briefingDay: string;
  /** Monday 00:00 and the next Monday 00:00 in the time zone, as instants. */
  start: Date;
  end: Date;
  /** Month start 00:00 in the time zone. */
  monthStart: Date;
  timeZone: string;
};

const DAY_MS = 86_400_000;

export function assertTimeZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new InvalidTimeZoneError(tz);
  }
  return tz;
}

/** `2026-W10` → { year: 2026, week: 10 }; a clear usage error for anything else (or a week 53 that does not exist). */
export function parseIsoWeek(text: string): IsoWeek {
  const m = /^(\d{4})-W(\d{2})$/.exec(text.trim());
  if (!m)
    throw new InvalidWeekError(`--week must be an ISO week like 2026-W10 (got ${JSON.stringify(text)})`);
  const year = Number(m[1]);
  const week = Number(m[2]);
  if (week < 1 || week > weeksInYear(year)) {
    throw new InvalidWeekError(`--week ${text}: ${year} has weeks 01 to ${weeksInYear(year)}`);
  }
  return { year, week };
}

export function formatIsoWeek({ year, week }: IsoWeek): string {
  return `${year}-W${String(week).padStart(2, '0')}`;
}

const dayMs = (day: string) => Date.parse(`${day}T00:00:00Z`);
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
export const addDays = (day: string, n: number) => dayOf(dayMs(day) + n * DAY_MS);

/** Monday of ISO week `week` of ISO year `year`. */
export function mondayOf({ year, week }: IsoWeek): string {
  const jan4 = Date.UTC(year, 0, 4);
  const dow = (new Date(jan4).getUTCDay() + 6) % 7; // Monday 0
  return dayOf(jan4 - dow * DAY_MS + (week - 1) * 7 * DAY_MS);
}

/** The ISO week a calendar day belongs to. */
export function isoWeekOf(day: string): IsoWeek {
  const ms = dayMs(day);
  const dow = (new Date(ms).getUTCDay() + 6) % 7;
  const thursday = new Date(ms + (3 - dow) * DAY_MS);
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY_MS / 7) + 1;
  return { year, week };
}

function weeksInYear(year: number): number {
  return isoWeekOf(`${year}-12-28`).week;
}

/** The calendar day of an instant in a time zone. */
export function dayIn(instant: Date, tz: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).formatToParts(instant);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** The zone's offset from UTC at an instant, in ms (Berlin in summer: +2 h). */
function offsetMs(instant: number, tz: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(instant));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant of a wall-clock time on a day in a zone (`hour` in 0-23). A time skipped by a DST jump
 * resolves to the instant right after the jump.
 */
export function zonedTime(day: string, tz: string, hour = 0, minute = 0): Date {
  const wall = dayMs(day) + hour * 3_600_000 + minute * 60_000;
  let guess = wall - offsetMs(wall, tz);
  guess = wall - offsetMs(guess, tz);
  return new Date(guess);
}

export function weekRange(week: IsoWeek | string, timeZone = 'UTC'): WeekRange {
  const w = typeof week === 'string' ? parseIsoWeek(week) : week;
  assertTimeZone(timeZone);
  const startDay = mondayOf(w);
  const endDay = addDays(startDay, 6);
  const briefingDay = addDays(startDay, 7);
  const monthStartDay = `${endDay.slice(0, 7)}-01`;
  return {
    week: formatIsoWeek(w),
    startDay,
    endDay,
    monthStartDay,
    briefingDay,
    start: zonedTime(startDay, timeZone),
    end: zonedTime(briefingDay, timeZone),
    monthStart: zonedTime(monthStartDay, timeZone),
    timeZone,
  };
}

/** The week a Monday briefing written at `now` covers: the last complete week in the zone. */
export function previousWeek(now: Date, timeZone = 'UTC'): IsoWeek {
  return isoWeekOf(addDays(dayIn(now, timeZone), -7));
}

/**
 * When the next Monday briefing is due after `now`: Monday `hour`:00 in `timeZone` (07:00 by default),
 * strictly later than `now`. DST-safe: computed on calendar days, then mapped to an instant.
 */
export function nextBriefingAt(now: Date, timeZone = 'UTC', hour = 7): Date {
  assertTimeZone(timeZone);
  const today = dayIn(now, timeZone);
  const dow = (new Date(dayMs(today)).getUTCDay() + 6) % 7;
  let monday = addDays(today, -dow);
  for (;;) {
    const at = zonedTime(monday, timeZone, hour);
    if (at.getTime() > now.getTime()) return at;
    monday = addDays(monday, 7);
  }
}

/**
 * The last Monday briefing time at or before `now`: Monday `hour`:00 in `timeZone`, at most 7 days back.
 * The briefing due then covers `previousWeek(lastBriefingAt(now))`.
 */
export function lastBriefingAt(now: Date, timeZone = 'UTC', hour = 7): Date {
  const next = nextBriefingAt(now, timeZone, hour);
  return zonedTime(addDays(dayIn(next, timeZone), -7), timeZone, hour);
}
