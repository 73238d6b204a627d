import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../core/frontmatter.js';
import { initVault } from '../../core/init.js';
import { OdooClient, type OdooSettings } from '../../core/odoo/client.js';
import { cloudEnv, runFte } from '../helpers/cli.js';
import { git, tempDir } from '../helpers/vaults.js';
import { odooKeys, odooUsers } from '../odoo/keys.js';
import { type OdooTestServer, startOdooServer } from '../odoo/server.js';
import { answer, type MessagesServer, message, startMessagesServer } from '../operator/messages-server.js';

/**
 * `fte briefing` (the built CLI) against the test Odoo server over HTTP on both protocols and a seeded
 * vault. Every expected number is computed here with plain loops over the seed data and literal week
 * boundaries, never with the product's functions.
 */

const KEYS = odooKeys();
const users = () => odooUsers(KEYS);

/** A small deterministic PRNG (mulberry32), so the quarter is the same on every run. */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const DAY = 86_400_000;
const Q_START = Date.UTC(2026, 0, 1);
const round2 = (n: number) => Math.round(n * 100) / 100;

type SeedInvoice = { partner: string; date: string; amount: number; posted: boolean };
type SeedPayment = { date: string; amount: number; inbound: boolean };
type SeedBill = { partner: string; date: string; amount: number; posted: boolean };

/** The quarter: every 2nd day an invoice (4 in 5 posted), payments for some, vendor bills monthly. */
function quarter() {
  const rnd = prng(20260101);
  const partners = ['Acme Trading', 'Beta GmbH', 'Gamma Ltd', 'Delta SA'];
  const invoices: SeedInvoice[] = [];
  for (let d = 0; d < 90; d += 2) {
    invoices.push({
      partner: partners[Math.floor(rnd() * partners.length)]!,
      date: day(Q_START + d * DAY),
      amount: round2(100 + Math.floor(rnd() * 90_000) / 100),
      posted: rnd() < 0.8,
    });
  }
  // The edges of the weeks under test: Saturday 31 January and Sunday 1 February, Monday 9 March.
  invoices.push({ partner: 'Acme Trading', date: '2026-01-31', amount: 310.1, posted: true });
  invoices.push({ partner: 'Beta GmbH', date: '2026-02-01', amount: 420.2, posted: true });
  invoices.push({ partner: 'Gamma Ltd', date: '2026-03-09', amount: 530.3, posted: true });
  invoices.push({ partner: 'Delta SA', date: '2026-03-08', amount: 640.4, posted: false });
  const bills: SeedBill[] = [
    { partner: 'Notion Labs', date: '2026-01-05', amount: 15, posted: true },
    { partner: 'Notion Labs', date: '2026-02-05', amount: 15, posted: true },
    { partner: 'Notion Labs', date: '2026-03-05', amount: 20, posted: true },
    { partner: 'AWS EMEA', date: '2026-01-28', amount: 95.5, posted: true },
    { partner: 'AWS EMEA', date: '2026-03-03', amount: 99.9, posted: true },
    { partner: 'AWS EMEA', date: '2026-03-04', amount: 500, posted: false },
    { partner: 'Office Rent', date: '2026-03-01', amount: 1200, posted: true },
  ];
  return { invoices, bills };
}

/** Seeds Odoo through the client as the Odoo tests do; returns what was made, with payments. */
async function seedOdoo(admin: OdooClient) {
  const { invoices, bills } = quarter();
  const partnerIds = new Map<string, number>();
  const partner = async (name: string) => {
    if (!partnerIds.has(name)) partnerIds.set(name, await admin.create('res.partner', { name }));
    return partnerIds.get(name)!;
  };
  const payments: SeedPayment[] = [];
  const rnd = prng(7);
  for (const inv of invoices) {
    const id = await admin.create('account.move', {
      move_type: 'out_invoice',
      partner_id: await partner(inv.partner),
      invoice_date: inv.date,
      invoice_line_ids: [[0, 0, { name: 'Services', quantity: 1, price_unit: inv.amount }]],
    });
    if (!inv.posted) continue;
    await admin.call('account.move', 'action_post', [id]);
    const r = rnd();
    if (r < 0.6) {
      // paid in full, or in part, a few days later
      const amount = r < 0.4 ? inv.amount : round2(inv.amount / 2);
      const date = day(Date.parse(inv.date) + Math.floor(rnd() * 10) * DAY);
      const pay = await admin.create('account.payment', {
        payment_type: 'inbound',
        partner_type: 'customer',
        partner_id: await partner(inv.partner),
        amount,
        date,
        invoice_ids: [[6, 0, [id]]],
      });
      await admin.call('account.payment', 'action_post', [pay]);
      payments.push({ date, amount, inbound: true });
    }
  }
  // An advance without an invoice (in_process) and a draft payment (not received).
  const adv = await admin.create('account.payment', {
    payment_type: 'inbound',
    partner_type: 'customer',
    partner_id: await partner('Delta SA'),
    amount: 250,
    date: '2026-03-06',
  });
  await admin.call('account.payment', 'action_post', [adv]);
  payments.push({ date: '2026-03-06', amount: 250, inbound: true });
  await admin.create('account.payment', {
    payment_type: 'inbound',
    partner_type: 'customer',
    partner_id: await partner('Delta SA'),
    amount: 999,
    date: '2026-03-05',
  });
  for (const bill of bills) {
    const id = await admin.create('account.move', {
      move_type: 'in_invoice',
      partner_id: await partner(bill.partner),
      invoice_date: bill.date,
      invoice_line_ids: [[0, 0, { name: 'Bill', quantity: 1, price_unit: bill.amount }]],
    });
    if (!bill.posted) continue;
    await admin.call('account.move', 'action_post', [id]);
    if (bill.partner === 'Office Rent') {
      // an outbound payment is money paid, not received
      const pay = await admin.create('account.payment', {
        payment_type: 'outbound',
        partner_type: 'supplier',
        partner_id: await partner(bill.partner),
        amount: bill.amount,
        date: '2026-03-02',
        invoice_ids: [[6, 0, [id]]],
      });
      await admin.call('account.payment', 'action_post', [pay]);
      payments.push({ date: '2026-03-02', amount: bill.amount, inbound: false });
    }
  }
  return { invoices, bills, payments };
}

type Seeded = Awaited<ReturnType<typeof seedOdoo>>;

type DoneSeed = { id: string; action: string; domain: string; at: string; field: 'executed_at' | 'done' };
type LlmSeed = { ts: string; model: string; cost: number | null };

const NOW = Date.now();
const hoursAgo = (h: number) => new Date(NOW - h * 3_600_000).toISOString();

const DONE: DoneSeed[] = [
  { id: 'EMAIL_a1', action: 'send_email', domain: 'email', at: '2026-03-02T08:00:00Z', field: 'executed_at' },
  { id: 'EMAIL_a2', action: 'send_email', domain: 'email', at: '2026-03-05T16:20:00Z', field: 'executed_at' },
  { id: 'INV_b1', action: 'post_invoice', domain: 'accounting', at: '2026-03-07T10:00:00Z', field: 'done' },
  { id: 'SOC_c1', action: 'post_social', domain: 'social', at: '2026-03-08T22:30:00Z', field: 'executed_at' },
  // Monday 00:30 in Berlin: the next week there, still W10 in UTC
  { id: 'SOC_c2', action: 'post_social', domain: 'social', at: '2026-03-08T23:30:00Z', field: 'executed_at' },
  // Sunday 23:30 in Berlin, before the week there; in UTC Sunday 22:30, before W10 too (W09)
  { id: 'EMAIL_a0', action: 'send_email', domain: 'email', at: '2026-03-01T22:30:00Z', field: 'executed_at' },
  { id: 'EMAIL_j1', action: 'send_email', domain: 'email', at: '2026-01-27T09:00:00Z', field: 'executed_at' },
  {
    id: 'INV_j2',
    action: 'post_invoice',
    domain: 'accounting',
    at: '2026-02-01T12:00:00Z',
    field: 'executed_at',
  },
  { id: 'EMAIL_j3', action: 'send_email', domain: 'email', at: '2026-02-02T07:00:00Z', field: 'executed_at' },
];

const LLM: LlmSeed[] = [
  { ts: '2026-03-02T09:00:00Z', model: 'claude-sonnet-4-6', cost: 0.012345 },
  { ts: '2026-03-03T09:00:00Z', model: 'claude-sonnet-4-6', cost: 0.5 },
  { ts: '2026-03-04T09:00:00Z', model: 'claude-haiku-4-5', cost: 0.0021 },
  { ts: '2026-03-06T09:00:00Z', model: 'mystery-model', cost: null },
  { ts: '2026-03-08T23:10:00Z', model: 'claude-sonnet-4-6', cost: 1 },
  { ts: '2026-03-01T23:10:00Z', model: 'claude-haiku-4-5', cost: 0.25 },
  { ts: '2026-03-10T09:00:00Z', model: 'claude-sonnet-4-6', cost: 3 },
  { ts: '2026-01-28T09:00:00Z', model: 'claude-sonnet-4-6', cost: 0.04 },
  { ts: '2026-02-01T10:00:00Z', model: 'mystery-model', cost: null },
];

const EXPIRED = [
  { id: 'EXP_w10', at: '2026-03-04T12:00:00Z' },
  { id: 'EXP_w09', at: '2026-02-26T12:00:00Z' },
  { id: 'EXP_w05', at: '2026-01-30T12:00:00Z' },
];

const GOALS =
  '---\nmonthly_revenue_target: 10000\nweekly_revenue_target: 2500\ncurrency: EUR\n---\n\n# Goals\n';
const SUBSCRIPTIONS = [
  { name: 'Notion', monthly: 15, unusedDays: 30, lastUsed: '2026-01-02' },
  { name: 'AWS', monthly: 100 },
];
const HANDBOOK_RULES = `
## Subscriptions

- Notion: 15/month, review if unused for 30 days, last used 2026-01-02
- AWS: 100/month
- this line is not a rule
`;

/** A temp dir kept for a whole describe (tempDir() is removed after each test). */
const suiteDirs: string[] = [];
async function suiteDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fte-briefing-'));
  suiteDirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of suiteDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function put(root: string, rel: string, text: string) {
  await mkdir(dirname(join(root, rel)), { recursive: true });
  await writeFile(join(root, rel), text);
}

async function seedVault(root: string, init = true) {
  if (init) await initVault(root, { agent: 'cloud' });
  await put(root, 'Business_Goals.md', GOALS);
  const handbook = await readFile(join(root, 'Company_Handbook.md'), 'utf8');
  await put(root, 'Company_Handbook.md', handbook + HANDBOOK_RULES);
  for (const d of DONE) {
    await put(
      root,
      `Done/${d.id}.md`,
      `---\ntype: approval_request\ntask: ${d.id}\naction: ${d.action}\nstatus: executed\n${d.field}: ${d.at}\n---\n\nbody\n`,
    );
    await put(
      root,
      `Done/${d.id}.item.md`,
      `---\ntype: file_drop\nreceived: 2026-01-01T00:00:00Z\n---\n\nitem\n`,
    );
  }
  await put(
    root,
    'Pending_Approval/email/EMAIL_old.md',
    `---\ntype: approval_request\ntask: EMAIL_old\naction: send_email\ncreated: ${hoursAgo(72)}\nexpires: ${hoursAgo(-24)}\nstatus: pending\n---\n\ndraft\n`,
  );
  await put(
    root,
    'Pending_Approval/accounting/INV_new.md',
    `---\ntype: approval_request\ntask: INV_new\naction: post_invoice\ncreated: ${hoursAgo(5)}\nexpires: ${hoursAgo(-24)}\nstatus: pending\n---\n\ndraft\n`,
  );
  for (const e of EXPIRED) {
    await put(
      root,
      `Rejected/${e.id}.md`,
      `---\ntype: approval_request\ntask: ${e.id}\naction: send_email\nstatus: expired\nreason: expired\nexpired_at: ${e.at}\n---\n\nx\n`,
    );
  }
  await put(
    root,
    'Rejected/REJ_owner.md',
    '---\ntype: approval_request\ntask: REJ_owner\naction: send_email\nstatus: rejected\nrejected_at: 2026-03-04T12:00:00Z\n---\n\nx\n',
  );
  await put(
    root,
    'Needs_Action/_errors/ERR_1.md',
    '---\ntype: email\nstatus: error\nerror: cannot parse the message\n---\n\nx\n',
  );
  const byDay = new Map<string, string[]>();
  for (const l of LLM) {
    const file = l.ts.slice(0, 10);
    const line = JSON.stringify({
      timestamp: l.ts,
      action_type: 'llm_call',
      actor: 'cloud',
      target: l.model,
      parameters: {
        purpose: 'draft',
        model: l.model,
        input_tokens: 100,
        output_tokens: 20,
        cost_usd: l.cost,
      },
      approval_status: 'not_required',
      approved_by: null,
      result: 'ok',
    });
    const other = JSON.stringify({
      timestamp: l.ts,
      action_type: 'email_sent',
      actor: 'local',
      target: 'x@example.com',
      parameters: { cost_usd: 100 },
      approval_status: 'approved',
      approved_by: 'owner',
      result: 'ok',
    });
    byDay.set(file, [...(byDay.get(file) ?? []), line, other]);
  }
  for (const [file, lines] of byDay) await put(root, `Logs/${file}.json`, `${lines.join('\n')}\n`);
  await git(root, 'add', '-A');
  await git(root, 'commit', '-qm', 'cloud: seed briefing');
}

/** A week as literal boundaries: calendar days for Odoo dates, instants for vault timestamps. */
type WeekCase = {
  week: string;
  tz: string;
  file: string;
  weekDays: [string, string];
  monthDays: [string, string];
  instants: [string, string];
  /** The week's Sunday minus 30 days (the Notion rule's limit). */
  unusedLimit: string;
};

const CASES: WeekCase[] = [
  {
    week: '2026-W10',
    tz: 'Europe/Berlin',
    file: 'Briefings/2026-03-09_Monday_Briefing.md',
    weekDays: ['2026-03-02', '2026-03-08'],
    monthDays: ['2026-03-01', '2026-03-08'],
    instants: ['2026-03-01T23:00:00Z', '2026-03-08T23:00:00Z'],
    unusedLimit: '2026-02-06',
  },
  {
    week: '2026-W05',
    tz: 'UTC',
    file: 'Briefings/2026-02-02_Monday_Briefing.md',
    weekDays: ['2026-01-26', '2026-02-01'],
    monthDays: ['2026-02-01', '2026-02-01'],
    instants: ['2026-01-26T00:00:00Z', '2026-02-02T00:00:00Z'],
    unusedLimit: '2026-01-02',
  },
];

function expected(seed: Seeded, c: WeekCase) {
  const inRange = (d: string, [a, b]: [string, string]) => d >= a && d <= b;
  const inInstants = (ts: string) => {
    const t = Date.parse(ts);
    return t >= Date.parse(c.instants[0]) && t < Date.parse(c.instants[1]);
  };
  let revenueWeek = 0;
  let revenueMonth = 0;
  for (const inv of seed.invoices) {
    if (!inv.posted) continue;
    if (inRange(inv.date, c.weekDays)) revenueWeek += inv.amount;
    if (inRange(inv.date, c.monthDays)) revenueMonth += inv.amount;
  }
  let paymentsWeek = 0;
  let paymentsMonth = 0;
  for (const p of seed.payments) {
    if (!p.inbound) continue;
    if (inRange(p.date, c.weekDays)) paymentsWeek += p.amount;
    if (inRange(p.date, c.monthDays)) paymentsMonth += p.amount;
  }
  let billsWeek = 0;
  for (const b of seed.bills) if (b.posted && inRange(b.date, c.weekDays)) billsWeek += b.amount;
  let flagged = 0;
  for (const s of SUBSCRIPTIONS) {
    let billed = 0;
    for (const b of seed.bills) {
      if (
        b.posted &&
        inRange(b.date, c.monthDays) &&
        b.partner.toLowerCase().includes(s.name.toLowerCase())
      ) {
        billed += b.amount;
      }
    }
    const unused = 'lastUsed' in s && s.lastUsed !== undefined && s.lastUsed < c.unusedLimit;
    if (billed > s.monthly || unused) flagged++;
  }
  const done = DONE.filter((d) => inInstants(d.at));
  let spend = 0;
  let calls = 0;
  let unpriced = 0;
  for (const l of LLM) {
    if (!inInstants(l.ts)) continue;
    calls++;
    if (l.cost === null) unpriced++;
    else spend += l.cost;
  }
  return {
    revenue_week: round2(revenueWeek),
    revenue_month: round2(revenueMonth),
    payments_received_week: round2(paymentsWeek),
    payments_received_month: round2(paymentsMonth),
    vendor_bills_week: round2(billsWeek),
    tasks_completed: done.length,
    doneIds: done.map((d) => d.id),
    expired_approvals: EXPIRED.filter((e) => inInstants(e.at)).length,
    subscriptions_flagged: flagged,
    model_spend_usd: spend,
    model_calls: calls,
    model_calls_unpriced: unpriced,
  };
}

const PROTOCOLS = [
  { protocol: 'json2', version: '19.0' },
  { protocol: 'jsonrpc', version: '17.0' },
] as const;

function odooEnv(server: OdooTestServer, protocol: string): NodeJS.ProcessEnv {
  return {
    ODOO_URL: server.url,
    ODOO_DB: 'odoo',
    ODOO_LOGIN: 'cloud',
    ODOO_API_KEY: KEYS.cloud,
    ODOO_PROTOCOL: protocol,
  };
}

async function briefingFile(root: string, rel: string) {
  const text = await readFile(join(root, rel), 'utf8');
  return { text, ...parseMarkdown(text) };
}

describe.each(PROTOCOLS)('fte briefing over $protocol (Odoo $version)', ({ protocol, version }) => {
  let server: OdooTestServer;
  let seed: Seeded;
  let vault: string;

  beforeAll(async () => {
    server = await startOdooServer({ version, users: users(), today: () => '2026-03-31' });
    const settings: OdooSettings = {
      url: server.url,
      database: 'odoo',
      login: 'admin',
      apiKey: KEYS.admin,
      protocol,
      timeoutMs: 5_000,
      readRetries: 0,
    };
    seed = await seedOdoo(await OdooClient.connect(settings));
    vault = join(await suiteDir(), 'vault');
    await seedVault(vault);
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(CASES)(
    '$week ($tz): the frontmatter numbers equal the totals computed from the seed',
    async (c) => {
      const run = await runFte(['briefing', '--vault', vault, '--week', c.week], {
        ...cloudEnv(),
        ...odooEnv(server, protocol),
        FTE_TIMEZONE: c.tz,
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`wrote ${c.file}`);
      const want = expected(seed, c);
      const { data, body } = await briefingFile(vault, c.file);
      expect(data).toMatchObject({
        type: 'briefing',
        week: c.week,
        title: expect.stringContaining(c.week),
        created: expect.any(String),
        period_start: c.weekDays[0],
        period_end: c.weekDays[1],
        time_zone: c.tz,
        odoo: 'ok',
        currency: 'EUR',
        revenue_week: want.revenue_week,
        revenue_month: want.revenue_month,
        payments_received_week: want.payments_received_week,
        payments_received_month: want.payments_received_month,
        weekly_revenue_target: 2500,
        monthly_revenue_target: 10000,
        vendor_bills_week: want.vendor_bills_week,
        tasks_completed: want.tasks_completed,
        pending_approvals: 2,
        expired_approvals: want.expired_approvals,
        error_items: 1,
        subscriptions_flagged: want.subscriptions_flagged,
        model_calls: want.model_calls,
        model_calls_unpriced: want.model_calls_unpriced,
        narrative: 'template',
      });
      expect(data.model_spend_usd).toBeCloseTo(want.model_spend_usd, 6);
      // the seed makes each number non-trivial
      expect(want.revenue_week).toBeGreaterThan(0);
      expect(want.tasks_completed).toBeGreaterThan(0);
      for (const id of want.doneIds) expect(body).toContain(`- ${id} (`);
      for (const section of [
        'Revenue',
        'Completed',
        'Bottlenecks',
        'Costs & subscriptions',
        'Model spend',
        'Suggestions',
      ]) {
        expect(body).toContain(`\n## ${section}\n`);
      }
      expect(body).toContain('(template summary: no AI drafter is configured)');
      expect(body).toMatch(/Approval EMAIL_old \(send_email\) has waited 7\d h/);
      expect(body).not.toMatch(/Approval INV_new .* has waited/);
      expect(body).toContain('wait in Needs_Action/_errors');
      expect(await git(vault, 'log', '-1', '--format=%s')).toBe(`cloud: briefing ${c.week}\n`);
      expect(await git(vault, 'status', '--porcelain')).toBe('');
    },
  );

  it('W10: revenue below the weekly target and a flagged Notion subscription are suggestions', async () => {
    const { body, data } = await briefingFile(vault, CASES[0]!.file);
    expect(data.revenue_week).toBeLessThan(2500);
    expect(body).toContain('Revenue of the week');
    expect(body).toContain('Review the Notion subscription');
    expect(body).not.toContain('Review the AWS subscription');
  });
});

describe('fte briefing without or with a broken Odoo, bad input, Claude', () => {
  let vault: string;
  beforeAll(async () => {
    vault = join(await suiteDir(), 'vault');
    await seedVault(vault);
  });

  it('no Odoo settings: "Odoo not configured", and the rest of the briefing is written', async () => {
    const run = await runFte(['briefing', '--vault', vault, '--week', '2026-W10'], cloudEnv());
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('Odoo not configured');
    const { data, body } = await briefingFile(vault, CASES[0]!.file);
    // UTC (no FTE_TIMEZONE): SOC_c2 (Sunday 23:30 UTC) is in the week
    expect(data).toMatchObject({ odoo: 'not configured', revenue_week: null, tasks_completed: 5 });
    expect(body).toContain('Odoo not configured: ODOO_URL is not set');
    expect(body).toContain('## Model spend');
  });

  it('Odoo down (nothing listening): "Odoo unreachable", and the rest of the briefing is written', async () => {
    const server = await startOdooServer({ users: users() });
    const url = server.url;
    await server.close();
    const run = await runFte(['briefing', '--vault', vault, '--week', '2026-W10'], {
      ...cloudEnv(),
      ODOO_URL: url,
      ODOO_DB: 'odoo',
      ODOO_API_KEY: KEYS.cloud,
      ODOO_PROTOCOL: 'json2',
      ODOO_READ_RETRIES: '0',
      ODOO_TIMEOUT_MS: '2000',
      FTE_TIMEZONE: 'Europe/Berlin',
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('Odoo unreachable');
    const { data, body } = await briefingFile(vault, CASES[0]!.file);
    expect(data).toMatchObject({
      odoo: 'unreachable',
      revenue_week: null,
      tasks_completed: 4,
      error_items: 1,
    });
    expect(body).toMatch(/Odoo unreachable: .+Revenue and costs from Odoo are left out/);
    expect(body).toContain('## Suggestions');
  });

  it('Odoo answering 500: "Odoo unreachable" too', async () => {
    const server = await startOdooServer({ users: users() });
    try {
      server.inject({ kind: 'status500', count: 100, model: 'account.move' });
      const run = await runFte(['briefing', '--vault', vault, '--week', '2026-W10', '--print'], {
        ...cloudEnv(),
        ...odooEnv(server, 'json2'),
        ODOO_READ_RETRIES: '0',
      });
      expect(run.code).toBe(0);
      expect(parseMarkdown(run.stdout).data).toMatchObject({ odoo: 'unreachable', tasks_completed: 5 });
    } finally {
      await server.close();
    }
  });

  it("the CronJob's sequence: fte init --remote, fte briefing, fte sync --once puts the briefing on the remote", async () => {
    const root = await suiteDir();
    const remote = join(root, 'remote.git');
    await mkdir(remote);
    await git(remote, 'init', '-q', '--bare', '--initial-branch=main');
    const owner = join(root, 'owner');
    await initVault(owner, { remote, agent: 'local' });
    await seedVault(owner, false);
    const env = { ...cloudEnv(), FTE_TIMEZONE: 'Europe/Berlin' };
    expect((await runFte(['sync', '--vault', owner, '--agent', 'local', '--once'], env)).code).toBe(0);
    const job = join(root, 'job');
    expect((await runFte(['init', job, '--remote', remote, '--agent', 'cloud'], env)).code).toBe(0);
    const written = await runFte(['briefing', '--vault', job, '--agent', 'cloud', '--week', '2026-W10'], env);
    expect(written.code).toBe(0);
    expect((await runFte(['sync', '--vault', job, '--agent', 'cloud', '--once'], env)).code).toBe(0);
    const pushed = await git(remote, 'show', `main:${CASES[0]!.file}`);
    expect(parseMarkdown(pushed).data).toMatchObject({
      week: '2026-W10',
      tasks_completed: 4,
      odoo: 'not configured',
    });
    expect(await git(remote, 'log', '-1', '--format=%s', 'main')).toBe('cloud: briefing 2026-W10\n');
  });

  it('--week: a bad week is a usage error (exit 2) with a clear message; nothing is written', async () => {
    const head = await git(vault, 'rev-parse', 'HEAD');
    for (const bad of ['2026-10', '2026-W00', '2025-W53', 'W10', '2026-w10x']) {
      const run = await runFte(['briefing', '--vault', vault, '--week', bad], cloudEnv());
      expect(run.code, bad).toBe(2);
      expect(run.stderr).toMatch(/--week .*(ISO week like 2026-W10|has weeks 01 to 5[23])/);
    }
    expect(await git(vault, 'rev-parse', 'HEAD')).toBe(head);
    expect((await runFte(['briefing', '--help'], cloudEnv())).stdout).toContain('--week <YYYY-Www>');
  });

  it('--print prints the briefing and commits nothing', async () => {
    const head = await git(vault, 'rev-parse', 'HEAD');
    const run = await runFte(['briefing', '--vault', vault, '--week', '2026-W05', '--print'], cloudEnv());
    expect(run.code).toBe(0);
    expect(parseMarkdown(run.stdout).data).toMatchObject({ type: 'briefing', week: '2026-W05' });
    expect(await git(vault, 'rev-parse', 'HEAD')).toBe(head);
  });

  it('a bad Business_Goals.md is a clear data error (exit 65) naming the field', async () => {
    const dir = join(await tempDir('fte-briefing-'), 'vault');
    await seedVault(dir);
    await writeFile(join(dir, 'Business_Goals.md'), '---\nmonthly_revenue_target: lots\n---\n');
    const run = await runFte(['briefing', '--vault', dir, '--week', '2026-W10'], cloudEnv());
    expect(run.code).toBe(65);
    expect(run.stderr).toContain('Business_Goals.md: monthly_revenue_target: must be a number');
  });

  it('with ANTHROPIC_API_KEY Claude writes the intro around fenced data; the numbers stay the computed ones', async () => {
    let api: MessagesServer | undefined;
    try {
      api = await startMessagesServer((req) =>
        req.body.system?.includes('Monday briefing')
          ? message('What a week: revenue was 999999 EUR and everything is fine.', {
              input_tokens: 800,
              output_tokens: 60,
            })
          : answer(req),
      );
      const run = await runFte(['briefing', '--vault', vault, '--week', '2026-W10'], {
        ...cloudEnv(),
        ANTHROPIC_API_KEY: 'sk-test',
        ANTHROPIC_BASE_URL: api.url,
      });
      expect(run.code).toBe(0);
      const { data, body } = await briefingFile(vault, CASES[0]!.file);
      expect(data.narrative).toBe('claude:claude-sonnet-4-6');
      expect(data.revenue_week).toBeNull(); // no Odoo: the model's 999999 is never a number of the file
      expect(data.tasks_completed).toBe(5);
      expect(body).toContain('What a week');
      const prompt = api.requests[0]!.body.messages[0]!.content;
      expect(prompt).toMatch(/<briefing_data_[0-9a-f]{12}>\n\{/);
      expect(prompt).toContain('"tasks_completed": 5');
      const today = new Date().toISOString().slice(0, 10);
      const log = await readFile(join(vault, 'Logs', `${today}.json`), 'utf8');
      expect(log).toContain('"purpose":"briefing"');
    } finally {
      await api?.close();
    }
  });
});
