import { round2, type SubscriptionRule, type Targets } from './formats.js';
import { addDays, type WeekRange } from './week.js';

/** What the briefing is computed from; gathered by gather.ts, nothing here reads or writes anything. */

/** A customer invoice or vendor bill as read from Odoo (`account.move`). */
export type MoveRow = {
  id: number;
  name: string;
  move_type: string;
  state: string;
  partner: string;
  invoice_date: string | null;
  amount_total: number;
  payment_state?: string;
};

/** A payment as read from Odoo (`account.payment`). */
export type PaymentRow = {
  id: number;
  payment_type: string;
  state: string;
  partner: string;
  date: string | null;
  amount: number;
};

export type OdooData =
  | { status: 'ok'; moves: MoveRow[]; payments: PaymentRow[] }
  | { status: 'not configured' | 'unreachable'; reason: string };

export type VaultTask = { id: string; domain: string; at?: string; title?: string };
export type PendingApproval = { id: string; domain: string; action?: string; created?: string };
export type ExpiredApproval = { id: string; domain: string; expiredAt?: string };
export type ErrorItem = { id: string; error?: string };
export type LlmCall = { timestamp: string; model: string; costUsd: number | null };

export type BriefingInput = {
  range: WeekRange;
  now: Date;
  targets: Targets;
  subscriptions: SubscriptionRule[];
  odoo: OdooData;
  done: VaultTask[];
  pending: PendingApproval[];
  expired: ExpiredApproval[];
  errors: ErrorItem[];
  llmCalls: LlmCall[];
};

export type Suggestion = { rule: string; text: string };

export type BriefingData = {
  week: string;
  range: WeekRange;
  currency: string;
  odoo: { status: OdooData['status']; reason?: string };
  revenue: {
    week: number | null;
    month: number | null;
    invoicesWeek: number;
    invoicesMonth: number;
    paymentsWeek: number | null;
    paymentsMonth: number | null;
    /** Posted customer invoices of the month not fully paid. */
    unpaidMonth: number | null;
    weeklyTarget: number | null;
    monthlyTarget: number | null;
    /** The share of the monthly target the month-to-date should have reached by the week's end. */
    monthPaceTarget: number | null;
  };
  completed: { total: number; byDomain: Record<string, number>; tasks: VaultTask[] };
  bottlenecks: {
    pending: Array<PendingApproval & { waitingHours: number | null }>;
    expired: ExpiredApproval[];
    errors: ErrorItem[];
  };
  costs: {
    vendorBillsWeek: number | null;
    vendorBillsMonth: number | null;
    subscriptions: Array<{
      name: string;
      monthly: number;
      billedMonth: number | null;
      flags: string[];
    }>;
  };
  modelSpend: {
    totalUsd: number;
    calls: number;
    unpricedCalls: number;
    byModel: Array<{ model: string; calls: number; costUsd: number; unpricedCalls: number }>;
  };
  suggestions: Suggestion[];
};

const inDays = (day: string | null | undefined, from: string, to: string) =>
  typeof day === 'string' && day.slice(0, 10) >= from && day.slice(0, 10) <= to;

const inInstants = (ts: string | undefined, range: WeekRange) => {
  const t = ts ? Date.parse(ts) : Number.NaN;
  return Number.isFinite(t) && t >= range.start.getTime() && t < range.end.getTime();
};

const sum = (values: number[]) => round2(values.reduce((a, b) => a + b, 0));

const RECEIVED_PAYMENT_STATES = new Set(['paid', 'in_process', 'posted']);

/**
 * The Monday briefing's numbers, from data only (deterministic: same input, same output).
 * - revenue: posted customer invoices (`out_invoice`, state posted) by invoice_date, amount_total;
 *   week = Monday..Sunday, month = the month of the week's Sunday, from its 1st to that Sunday;
 * - payments received: inbound `account.payment` records, state paid or in_process (posted), by date;
 * - completed: Done/ tasks whose `executed_at` (or done/completed) instant falls in the week;
 * - bottlenecks: pending approvals by age (oldest first), approvals expired in the week, items in _errors;
 * - costs: posted vendor bills (`in_invoice`) and the handbook's subscription rules;
 * - model spend: `llm_call` audit records of the week, cost_usd per model; a null cost counts as unpriced.
 */
export function briefingData(input: BriefingInput): BriefingData {
  const { range, targets } = input;
  const now = input.now.getTime();
  const odooOk = input.odoo.status === 'ok' ? input.odoo : undefined;
  const moves = odooOk?.moves ?? [];
  const payments = odooOk?.payments ?? [];

  const invoices = moves.filter((m) => m.move_type === 'out_invoice' && m.state === 'posted');
  const invWeek = invoices.filter((m) => inDays(m.invoice_date, range.startDay, range.endDay));
  const invMonth = invoices.filter((m) => inDays(m.invoice_date, range.monthStartDay, range.endDay));
  const received = payments.filter(
    (p) => p.payment_type === 'inbound' && RECEIVED_PAYMENT_STATES.has(p.state),
  );
  const bills = moves.filter((m) => m.move_type === 'in_invoice' && m.state === 'posted');
  const billsMonth = bills.filter((m) => inDays(m.invoice_date, range.monthStartDay, range.endDay));

  const daysInMonth = new Date(
    Date.UTC(Number(range.endDay.slice(0, 4)), Number(range.endDay.slice(5, 7)), 0),
  ).getUTCDate();
  const dayOfMonth = Number(range.endDay.slice(8, 10));
  const monthPaceTarget =
    targets.monthly === null ? null : round2((targets.monthly * dayOfMonth) / daysInMonth);

  const revenue: BriefingData['revenue'] = {
    week: odooOk ? sum(invWeek.map((m) => m.amount_total)) : null,
    month: odooOk ? sum(invMonth.map((m) => m.amount_total)) : null,
    invoicesWeek: invWeek.length,
    invoicesMonth: invMonth.length,
    paymentsWeek: odooOk
      ? sum(received.filter((p) => inDays(p.date, range.startDay, range.endDay)).map((p) => p.amount))
      : null,
    paymentsMonth: odooOk
      ? sum(received.filter((p) => inDays(p.date, range.monthStartDay, range.endDay)).map((p) => p.amount))
      : null,
    unpaidMonth: odooOk ? invMonth.filter((m) => m.payment_state !== 'paid').length : null,
    weeklyTarget: targets.weekly,
    monthlyTarget: targets.monthly,
    monthPaceTarget,
  };

  const tasks = input.done.filter((t) => inInstants(t.at, range)).sort((a, b) => a.id.localeCompare(b.id));
  const byDomain: Record<string, number> = {};
  for (const t of tasks) byDomain[t.domain] = (byDomain[t.domain] ?? 0) + 1;

  const pending = input.pending
    .map((p) => {
      const created = p.created ? Date.parse(p.created) : Number.NaN;
      return {
        ...p,
        waitingHours: Number.isFinite(created) ? Math.max(0, Math.floor((now - created) / 3_600_000)) : null,
      };
    })
    .sort((a, b) => (b.waitingHours ?? -1) - (a.waitingHours ?? -1) || a.id.localeCompare(b.id));
  const expired = input.expired
    .filter((e) => inInstants(e.expiredAt, range))
    .sort((a, b) => a.id.localeCompare(b.id));
  const errors = [...input.errors].sort((a, b) => a.id.localeCompare(b.id));

  const subscriptions = input.subscriptions.map((rule) => {
    const mine = billsMonth.filter((b) => b.partner.toLowerCase().includes(rule.name.toLowerCase()));
    const billed = odooOk ? sum(mine.map((b) => b.amount_total)) : null;
    const flags: string[] = [];
    if (billed !== null && billed > rule.monthly) {
      flags.push(`billed ${billed} this month, above the ${rule.monthly}/month in the handbook`);
    }
    if (rule.unusedDays !== undefined) {
      const limit = addDays(range.endDay, -rule.unusedDays);
      if (!rule.lastUsed) flags.push(`no "last used" date: review if unused for ${rule.unusedDays} days`);
      else if (rule.lastUsed < limit) {
        flags.push(`last used ${rule.lastUsed}, more than ${rule.unusedDays} days ago: review`);
      }
    }
    return { name: rule.name, monthly: rule.monthly, billedMonth: billed, flags };
  });

  const calls = input.llmCalls.filter((c) => inInstants(c.timestamp, range));
  const models = new Map<string, { model: string; calls: number; costUsd: number; unpricedCalls: number }>();
  for (const c of calls) {
    const row = models.get(c.model) ?? { model: c.model, calls: 0, costUsd: 0, unpricedCalls: 0 };
    row.calls += 1;
    if (c.costUsd === null) row.unpricedCalls += 1;
    else row.costUsd = Math.round((row.costUsd + c.costUsd) * 1e6) / 1e6;
    models.set(c.model, row);
  }
  const byModel = [...models.values()].sort((a, b) => a.model.localeCompare(b.model));
  const modelSpend = {
    totalUsd: Math.round(byModel.reduce((a, r) => a + r.costUsd, 0) * 1e6) / 1e6,
    calls: calls.length,
    unpricedCalls: byModel.reduce((a, r) => a + r.unpricedCalls, 0),
    byModel,
  };

  const suggestions: Suggestion[] = [];
  const cur = targets.currency ? ` ${targets.currency}` : '';
  if (revenue.month !== null && monthPaceTarget !== null && revenue.month < monthPaceTarget) {
    suggestions.push({
      rule: 'revenue_below_pace',
      text: `Month-to-date revenue ${revenue.month}${cur} is below the pace of ${monthPaceTarget}${cur} for the monthly target of ${targets.monthly}${cur}: follow up on open quotes and draft invoices.`,
    });
  }
  if (revenue.week !== null && targets.weekly !== null && revenue.week < targets.weekly) {
    suggestions.push({
      rule: 'revenue_below_weekly_target',
      text: `Revenue of the week ${revenue.week}${cur} is below the weekly target of ${targets.weekly}${cur}.`,
    });
  }
  for (const p of pending) {
    if (p.waitingHours !== null && p.waitingHours > targets.waitHours) {
      suggestions.push({
        rule: 'approval_waiting',
        text: `Approval ${p.id} (${p.action ?? p.domain}) has waited ${p.waitingHours} h: approve or reject it.`,
      });
    }
  }
  for (const s of subscriptions) {
    if (s.flags.length > 0) {
      suggestions.push({
        rule: 'subscription_flagged',
        text: `Review the ${s.name} subscription: ${s.flags.join('; ')}.`,
      });
    }
  }
  if (errors.length > 0) {
    suggestions.push({
      rule: 'errors_waiting',
      text: `${errors.length} item(s) wait in Needs_Action/_errors: resolve or retry them.`,
    });
  }

  return {
    week: range.week,
    range,
    currency: targets.currency,
    odoo:
      input.odoo.status === 'ok'
        ? { status: 'ok' }
        : { status: input.odoo.status, reason: input.odoo.reason },
    revenue,
    completed: { total: tasks.length, byDomain, tasks },
    bottlenecks: { pending, expired, errors },
    costs: {
      vendorBillsWeek: odooOk
        ? sum(
            bills
              .filter((m) => inDays(m.invoice_date, range.startDay, range.endDay))
              .map((m) => m.amount_total),
          )
        : null,
      vendorBillsMonth: odooOk ? sum(billsMonth.map((m) => m.amount_total)) : null,
      subscriptions,
    },
    modelSpend,
    suggestions,
  };
}
