import { stringifyMarkdown } from '../frontmatter.js';
import { FOLDERS } from '../layout.js';
import type { BriefingData } from './compute.js';

/** `Briefings/<Monday after the week>_Monday_Briefing.md` */
export function briefingPath(data: BriefingData): string {
  return `${FOLDERS.briefings}/${data.range.briefingDay}_Monday_Briefing.md`;
}

export const TEMPLATE_NARRATIVE_NOTE = '(template summary: no AI drafter is configured)';

const money = (n: number | null, currency: string) =>
  n === null ? 'n/a' : `${n.toFixed(2)}${currency ? ` ${currency}` : ''}`;

/** The intro paragraph without a model: fixed sentences around the computed numbers. */
export function templateNarrative(d: BriefingData): string {
  const c = d.currency;
  const parts: string[] = [];
  if (d.odoo.status !== 'ok') {
    parts.push(`Revenue is not available this week (Odoo ${d.odoo.status}).`);
  } else {
    const target =
      d.revenue.weeklyTarget === null
        ? ''
        : ` against a weekly target of ${money(d.revenue.weeklyTarget, c)}`;
    parts.push(
      `In week ${d.week} the business invoiced ${money(d.revenue.week, c)}${target}, and ${money(d.revenue.month, c)} month to date.`,
    );
    parts.push(`Payments received: ${money(d.revenue.paymentsWeek, c)} this week.`);
  }
  parts.push(
    `${d.completed.total} task(s) were completed; ${d.bottlenecks.pending.length} approval(s) are waiting and ${d.bottlenecks.expired.length} expired.`,
  );
  parts.push(
    d.suggestions.length === 0
      ? 'Nothing needs your attention beyond the usual.'
      : `${d.suggestions.length} suggestion(s) below need your attention.`,
  );
  return `${parts.join(' ')} ${TEMPLATE_NARRATIVE_NOTE}`;
}

/** The frontmatter: every number is the computed one. */
export function briefingFrontmatter(
  d: BriefingData,
  created: Date,
  narrativeBy: string,
): Record<string, unknown> {
  return {
    type: 'briefing',
    title: `Monday Briefing ${d.range.briefingDay} (week ${d.week})`,
    created: created.toISOString(),
    week: d.week,
    period_start: d.range.startDay,
    period_end: d.range.endDay,
    time_zone: d.range.timeZone,
    currency: d.currency || undefined,
    odoo: d.odoo.status,
    revenue_week: d.revenue.week,
    revenue_month: d.revenue.month,
    payments_received_week: d.revenue.paymentsWeek,
    payments_received_month: d.revenue.paymentsMonth,
    weekly_revenue_target: d.revenue.weeklyTarget,
    monthly_revenue_target: d.revenue.monthlyTarget,
    tasks_completed: d.completed.total,
    pending_approvals: d.bottlenecks.pending.length,
    expired_approvals: d.bottlenecks.expired.length,
    error_items: d.bottlenecks.errors.length,
    vendor_bills_week: d.costs.vendorBillsWeek,
    subscriptions_flagged: d.costs.subscriptions.filter((s) => s.flags.length > 0).length,
    model_spend_usd: d.modelSpend.totalUsd,
    model_calls: d.modelSpend.calls,
    model_calls_unpriced: d.modelSpend.unpricedCalls,
    suggestions: d.suggestions.length,
    narrative: narrativeBy,
  };
}

/** One line of vault-sourced text, never able to open a heading or a fence. */
const line = (text: string, max = 200) => {
  const flat = text.replace(/\s+/g, ' ').replace(/[`<>]/g, "'").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

export function renderBriefing(
  d: BriefingData,
  narrative: { text: string; by: string },
  created: Date,
): string {
  const c = d.currency;
  const out: string[] = [`# Monday Briefing: week ${d.week} (${d.range.startDay} to ${d.range.endDay})`, ''];
  out.push(narrative.text.trim(), '');

  out.push('## Revenue', '');
  if (d.odoo.status !== 'ok') {
    out.push(
      `Odoo ${d.odoo.status}: ${line(d.odoo.reason ?? '')}. Revenue and costs from Odoo are left out.`,
      '',
    );
  } else {
    const r = d.revenue;
    out.push(
      '| | Week | Month to date |',
      '|---|---:|---:|',
      `| Invoiced (posted customer invoices) | ${money(r.week, c)} (${r.invoicesWeek}) | ${money(r.month, c)} (${r.invoicesMonth}) |`,
      `| Payments received | ${money(r.paymentsWeek, c)} | ${money(r.paymentsMonth, c)} |`,
      `| Target | ${money(r.weeklyTarget, c)} | ${money(r.monthlyTarget, c)} (pace to date ${money(r.monthPaceTarget, c)}) |`,
      '',
      `Invoices of the month not fully paid: ${r.unpaidMonth}.`,
      '',
    );
  }

  out.push('## Completed', '');
  if (d.completed.total === 0) out.push('No task completed this week.', '');
  else {
    out.push(
      `${d.completed.total} task(s): ${Object.entries(d.completed.byDomain)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([dom, n]) => `${dom} ${n}`)
        .join(', ')}.`,
      '',
    );
    for (const t of d.completed.tasks.slice(0, 50)) {
      out.push(`- ${line(t.id, 120)} (${t.domain})${t.title ? `: ${line(t.title)}` : ''}`);
    }
    out.push('');
  }

  out.push('## Bottlenecks', '');
  const b = d.bottlenecks;
  if (b.pending.length + b.expired.length + b.errors.length === 0) out.push('None.', '');
  else {
    for (const p of b.pending.slice(0, 20)) {
      out.push(
        `- waiting for approval: ${line(p.id, 120)} (${line(p.action ?? p.domain, 40)}), ${p.waitingHours === null ? 'age unknown' : `${p.waitingHours} h`}`,
      );
    }
    for (const e of b.expired) out.push(`- expired this week: ${line(e.id, 120)} (${e.domain})`);
    for (const e of b.errors)
      out.push(`- in _errors: ${line(e.id, 120)}${e.error ? `: ${line(e.error)}` : ''}`);
    out.push('');
  }

  out.push('## Costs & subscriptions', '');
  if (d.odoo.status === 'ok') {
    out.push(
      `Vendor bills: ${money(d.costs.vendorBillsWeek, c)} this week, ${money(d.costs.vendorBillsMonth, c)} month to date.`,
      '',
    );
  }
  if (d.costs.subscriptions.length === 0) out.push('No subscription rules in Company_Handbook.md.', '');
  else {
    for (const s of d.costs.subscriptions) {
      const billed = s.billedMonth === null ? '' : `, billed ${money(s.billedMonth, c)} this month`;
      out.push(
        `- ${line(s.name, 80)}: ${money(s.monthly, c)}/month${billed}${s.flags.length ? ` — flagged: ${s.flags.map((f) => line(f)).join('; ')}` : ''}`,
      );
    }
    out.push('');
  }

  out.push('## Model spend', '');
  const m = d.modelSpend;
  out.push(
    `${m.calls} model call(s), ${m.totalUsd.toFixed(4)} USD${m.unpricedCalls ? ` (+ ${m.unpricedCalls} call(s) of unknown price)` : ''}.`,
    '',
  );
  for (const row of m.byModel) {
    out.push(
      `- ${line(row.model, 80)}: ${row.calls} call(s), ${row.costUsd.toFixed(4)} USD${row.unpricedCalls ? `, ${row.unpricedCalls} unpriced` : ''}`,
    );
  }
  if (m.byModel.length) out.push('');

  out.push('## Suggestions', '');
  if (d.suggestions.length === 0) out.push('None this week.');
  for (const s of d.suggestions) out.push(`- ${line(s.text, 400)}`);
  out.push('');

  return stringifyMarkdown({ data: briefingFrontmatter(d, created, narrative.by), body: out.join('\n') });
}
