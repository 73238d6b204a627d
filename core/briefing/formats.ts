import { z } from 'zod';
import { EXIT, FteError } from '../errors.js';
import { parseMarkdown } from '../frontmatter.js';

/**
 * The owner's inputs to the Monday briefing (docs/briefing.md):
 *
 * `Business_Goals.md`, frontmatter (all optional; a missing file means no targets):
 *   monthly_revenue_target: 10000     # revenue (posted customer invoices) per calendar month
 *   weekly_revenue_target: 2500       # default: monthly × 12 / 52
 *   currency: EUR                     # shown beside the amounts
 *   approval_wait_hours: 48           # an approval waiting longer is a suggestion (default 48)
 *
 * `Company_Handbook.md`, a section `## Subscriptions` with one rule per list item:
 *   - <name>: <amount>/month[, review if unused for <N> days][, last used <YYYY-MM-DD>]
 * Vendor bills whose partner name contains <name> (case-insensitive) are that subscription's bills.
 */

export class BriefingInputError extends FteError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.dataError });
  }
}

export const GOALS_FILE = 'Business_Goals.md';

const amount = z.number({ error: 'must be a number' }).finite().nonnegative('must not be negative');

export const Goals = z.looseObject({
  monthly_revenue_target: amount.optional(),
  weekly_revenue_target: amount.optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be a 3-letter currency code such as EUR')
    .optional(),
  approval_wait_hours: z.number().int().positive().max(10_000).optional(),
});
export type Goals = z.infer<typeof Goals>;

export type Targets = { monthly: number | null; weekly: number | null; currency: string; waitHours: number };

/** Business_Goals.md's text (undefined: no file) → targets; a clear error naming the field for a bad file. */
export function parseGoals(text: string | undefined): Targets {
  if (text === undefined) return { monthly: null, weekly: null, currency: '', waitHours: 48 };
  let data: Record<string, unknown>;
  try {
    data = parseMarkdown(text).data;
  } catch (e) {
    throw new BriefingInputError(`${GOALS_FILE}: ${(e as Error).message}`);
  }
  const parsed = Goals.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(frontmatter)'}: ${i.message}`);
    throw new BriefingInputError(
      `${GOALS_FILE}: ${issues.join('; ')} (expected frontmatter like "monthly_revenue_target: 10000")`,
    );
  }
  const g = parsed.data;
  const monthly = g.monthly_revenue_target ?? null;
  const weekly = g.weekly_revenue_target ?? (monthly === null ? null : round2((monthly * 12) / 52));
  return { monthly, weekly, currency: g.currency ?? '', waitHours: g.approval_wait_hours ?? 48 };
}

export type SubscriptionRule = {
  name: string;
  monthly: number;
  /** `review if unused for N days`. */
  unusedDays?: number;
  /** `last used YYYY-MM-DD`, kept by the owner. */
  lastUsed?: string;
};

const RULE = /^\s*[-*]\s+(.+?):\s*([0-9]+(?:\.[0-9]+)?)\s*\/\s*month\b(.*)$/i;

/**
 * The `## Subscriptions` rules of the handbook; lines that are not rules are ignored and returned in
 * `skipped` (the briefing mentions them), so a typo never breaks the briefing.
 */
export function parseSubscriptionRules(handbook: string | undefined): {
  rules: SubscriptionRule[];
  skipped: string[];
} {
  const rules: SubscriptionRule[] = [];
  const skipped: string[] = [];
  if (!handbook) return { rules, skipped };
  let inSection = false;
  for (const line of handbook.split(/\r?\n/)) {
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      inSection = /^subscriptions\b/i.test(heading[2]!.trim());
      continue;
    }
    if (!inSection || !/^\s*[-*]\s+/.test(line)) continue;
    const m = RULE.exec(line);
    if (!m) {
      skipped.push(line.trim());
      continue;
    }
    const rest = m[3] ?? '';
    const unused = /review if unused for\s+(\d+)\s+days?/i.exec(rest);
    const last = /last used\s+(\d{4}-\d{2}-\d{2})/i.exec(rest);
    rules.push({
      name: m[1]!.trim(),
      monthly: Number(m[2]),
      ...(unused ? { unusedDays: Number(unused[1]) } : {}),
      ...(last ? { lastUsed: last[1] } : {}),
    });
  }
  return { rules, skipped };
}

export const round2 = (n: number) => Math.round(n * 100) / 100;
