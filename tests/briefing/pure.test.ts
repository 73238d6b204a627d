import { describe, expect, it } from 'vitest';
import { type BriefingInput, briefingData } from '../../core/briefing/compute.js';
import { BriefingInputError, parseGoals, parseSubscriptionRules } from '../../core/briefing/formats.js';
import { briefingPath, renderBriefing, templateNarrative } from '../../core/briefing/render.js';
import {
  InvalidWeekError,
  lastBriefingAt,
  nextBriefingAt,
  parseIsoWeek,
  previousWeek,
  weekRange,
} from '../../core/briefing/week.js';
import { parseMarkdown } from '../../core/frontmatter.js';

describe('ISO weeks in a time zone', () => {
  it('parses YYYY-Www and refuses anything else with a usage error', () => {
    expect(parseIsoWeek('2026-W10')).toEqual({ year: 2026, week: 10 });
    expect(parseIsoWeek('2026-W53')).toEqual({ year: 2026, week: 53 });
    for (const bad of ['2026-10', '2026-W1', '2026-W00', '2025-W53', 'x']) {
      expect(() => parseIsoWeek(bad), bad).toThrow(InvalidWeekError);
    }
  });

  it('week ranges: Monday..Sunday, the month of the Sunday, instants at local midnight', () => {
    const r = weekRange('2026-W01', 'Europe/Berlin');
    expect([r.startDay, r.endDay, r.monthStartDay, r.briefingDay]).toEqual([
      '2025-12-29',
      '2026-01-04',
      '2026-01-01',
      '2026-01-05',
    ]);
    expect(r.start.toISOString()).toBe('2025-12-28T23:00:00.000Z');
    expect(r.end.toISOString()).toBe('2026-01-04T23:00:00.000Z');
    // the week DST starts in Berlin (29 March 2026): 167 hours long
    const dst = weekRange('2026-W13', 'Europe/Berlin');
    expect(dst.start.toISOString()).toBe('2026-03-22T23:00:00.000Z');
    expect(dst.end.toISOString()).toBe('2026-03-29T22:00:00.000Z');
    expect(weekRange('2026-W10', 'America/New_York').start.toISOString()).toBe('2026-03-02T05:00:00.000Z');
  });

  it('the default week is the last complete one in the zone', () => {
    // Monday 07:00 in Berlin is Monday 06:00 UTC: the week before
    expect(previousWeek(new Date('2026-03-09T06:00:00Z'), 'Europe/Berlin')).toEqual({ year: 2026, week: 10 });
    // Sunday 23:30 UTC is already Monday in Berlin
    expect(previousWeek(new Date('2026-03-08T23:30:00Z'), 'Europe/Berlin')).toEqual({ year: 2026, week: 10 });
    expect(previousWeek(new Date('2026-03-08T23:30:00Z'), 'UTC')).toEqual({ year: 2026, week: 9 });
  });

  it('lastBriefingAt: the latest Monday 07:00 local at or before now, across DST', () => {
    const tz = 'Europe/Berlin';
    const last = (iso: string, zone = tz) => lastBriefingAt(new Date(iso), zone).toISOString();
    expect(last('2026-03-23T06:00:00Z')).toBe('2026-03-23T06:00:00.000Z'); // exactly then
    expect(last('2026-03-23T05:59:59Z')).toBe('2026-03-16T06:00:00.000Z');
    // Sunday 29 March clocks go forward: Monday 30 March 07:00 is 05:00 UTC
    expect(last('2026-04-02T12:00:00Z')).toBe('2026-03-30T05:00:00.000Z');
    expect(last('2026-03-29T12:00:00Z')).toBe('2026-03-23T06:00:00.000Z');
    expect(last('2026-10-27T00:00:00Z')).toBe('2026-10-26T06:00:00.000Z');
    expect(last('2026-03-09T06:59:00Z', 'UTC')).toBe('2026-03-02T07:00:00.000Z');
  });

  it('nextBriefingAt: Monday 07:00 local, across DST in both directions', () => {
    const tz = 'Europe/Berlin';
    expect(nextBriefingAt(new Date('2026-03-25T12:00:00Z'), tz).toISOString()).toBe(
      '2026-03-30T05:00:00.000Z',
    );
    expect(nextBriefingAt(new Date('2026-03-23T05:59:59Z'), tz).toISOString()).toBe(
      '2026-03-23T06:00:00.000Z',
    );
    expect(nextBriefingAt(new Date('2026-03-23T06:00:00Z'), tz).toISOString()).toBe(
      '2026-03-30T05:00:00.000Z',
    );
    expect(nextBriefingAt(new Date('2026-10-21T12:00:00Z'), tz).toISOString()).toBe(
      '2026-10-26T06:00:00.000Z',
    );
    expect(nextBriefingAt(new Date('2026-03-04T00:00:00Z'), 'UTC').toISOString()).toBe(
      '2026-03-09T07:00:00.000Z',
    );
    expect(nextBriefingAt(new Date('2026-11-01T12:00:00Z'), 'America/New_York').toISOString()).toBe(
      '2026-11-02T12:00:00.000Z',
    );
  });
});

describe('Business_Goals.md and the handbook rules', () => {
  it('targets from frontmatter; weekly defaults to monthly × 12 / 52; no file, no targets', () => {
    expect(parseGoals('---\nmonthly_revenue_target: 5200\n---\n')).toEqual({
      monthly: 5200,
      weekly: 1200,
      currency: '',
      waitHours: 48,
    });
    expect(parseGoals(undefined)).toMatchObject({ monthly: null, weekly: null });
    expect(() => parseGoals('---\nweekly_revenue_target: -1\n---\n')).toThrow(
      /Business_Goals.md: weekly_revenue_target: must not be negative/,
    );
    expect(() => parseGoals('---\ncurrency: euro\n---\n')).toThrow(BriefingInputError);
  });

  it('## Subscriptions rules; other sections and non-rules ignored', () => {
    const { rules, skipped } = parseSubscriptionRules(
      '# Handbook\n- Slack: 1/month\n## Subscriptions\n- Notion: 15/month, review if unused for 30 days, last used 2026-01-02\n* Adobe: 54.99 / month\n- ask Bob\n## Tone\n- Figma: 12/month\n',
    );
    expect(rules).toEqual([
      { name: 'Notion', monthly: 15, unusedDays: 30, lastUsed: '2026-01-02' },
      { name: 'Adobe', monthly: 54.99 },
    ]);
    expect(skipped).toEqual(['- ask Bob']);
  });
});

function input(overrides: Partial<BriefingInput> = {}): BriefingInput {
  return {
    range: weekRange('2026-W10', 'UTC'),
    now: new Date('2026-03-09T07:00:00Z'),
    targets: { monthly: 10000, weekly: 2500, currency: 'EUR', waitHours: 48 },
    subscriptions: [],
    odoo: {
      status: 'ok',
      moves: [
        {
          id: 1,
          name: 'INV/1',
          move_type: 'out_invoice',
          state: 'posted',
          partner: 'A',
          invoice_date: '2026-03-03',
          amount_total: 1000,
          payment_state: 'paid',
        },
        {
          id: 2,
          name: '/',
          move_type: 'out_invoice',
          state: 'draft',
          partner: 'A',
          invoice_date: '2026-03-03',
          amount_total: 500,
        },
        {
          id: 3,
          name: 'INV/2',
          move_type: 'out_invoice',
          state: 'posted',
          partner: 'B',
          invoice_date: '2026-03-01',
          amount_total: 200,
        },
      ],
      payments: [
        { id: 1, payment_type: 'inbound', state: 'paid', partner: 'A', date: '2026-03-04', amount: 1000 },
      ],
    },
    done: [{ id: 'T1', domain: 'email', at: '2026-03-03T10:00:00Z' }],
    pending: [{ id: 'P1', domain: 'email', action: 'send_email', created: '2026-03-06T07:00:00Z' }],
    expired: [],
    errors: [],
    llmCalls: [],
    ...overrides,
  };
}

describe('briefingData and the template narrative', () => {
  it('computes the numbers and the suggestions deterministically', () => {
    const d = briefingData(input());
    expect(d.revenue).toMatchObject({ week: 1000, month: 1200, paymentsWeek: 1000, invoicesWeek: 1 });
    expect(d.revenue.monthPaceTarget).toBe(2580.65);
    expect(d.bottlenecks.pending[0]?.waitingHours).toBe(72);
    expect(d.suggestions.map((s) => s.rule)).toEqual([
      'revenue_below_pace',
      'revenue_below_weekly_target',
      'approval_waiting',
    ]);
    expect(briefingData(input())).toEqual(d);
    expect(briefingPath(d)).toBe('Briefings/2026-03-09_Monday_Briefing.md');
  });

  it('the template narrative states the computed numbers and says it is a template', () => {
    const d = briefingData(input());
    expect(templateNarrative(d)).toBe(
      'In week 2026-W10 the business invoiced 1000.00 EUR against a weekly target of 2500.00 EUR, and 1200.00 EUR month to date. Payments received: 1000.00 EUR this week. 1 task(s) were completed; 1 approval(s) are waiting and 0 expired. 3 suggestion(s) below need your attention. (template summary: no AI drafter is configured)',
    );
    const off = briefingData(input({ odoo: { status: 'not configured', reason: 'ODOO_URL is not set' } }));
    expect(templateNarrative(off)).toMatch(/^Revenue is not available this week \(Odoo not configured\)\./);
    const text = renderBriefing(
      d,
      { text: templateNarrative(d), by: 'template' },
      new Date('2026-03-09T07:00:00Z'),
    );
    expect(parseMarkdown(text).data).toMatchObject({
      type: 'briefing',
      title: 'Monday Briefing 2026-03-09 (week 2026-W10)',
      created: '2026-03-09T07:00:00.000Z',
      revenue_week: 1000,
      revenue_month: 1200,
      narrative: 'template',
    });
  });

  it('text from the vault renders on one line: it cannot open a heading, a fence or a tag', () => {
    const d = briefingData(
      input({
        done: [
          { id: 'T1', domain: 'email', at: '2026-03-03T10:00:00Z', title: 'hi\n## Revenue\n```\n<script>' },
        ],
      }),
    );
    const text = renderBriefing(d, { text: 'intro', by: 'template' }, new Date('2026-03-09T07:00:00Z'));
    expect(text.match(/^## Revenue$/gm)).toHaveLength(1);
    expect(text).toContain("- T1 (email): hi ## Revenue ''' 'script'");
  });
});
