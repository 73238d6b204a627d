import { decodeAuditLine } from '../codec.js';
import { FOLDERS, HANDBOOK_FILE } from '../layout.js';
import type { OdooClient } from '../odoo/client.js';
import { scanVault, summarizeTasks } from '../status.js';
import { VaultFiles } from '../vault/safe-fs.js';
import type {
  ErrorItem,
  ExpiredApproval,
  LlmCall,
  MoveRow,
  OdooData,
  PaymentRow,
  PendingApproval,
  VaultTask,
} from './compute.js';
import { BriefingInputError, GOALS_FILE, parseGoals, parseSubscriptionRules } from './formats.js';
import { addDays, type WeekRange } from './week.js';

/** Reads what briefingData needs: the vault through VaultFiles (never a link), Odoo with read calls only. */

const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : undefined;

async function readOptional(files: VaultFiles, path: string): Promise<string | undefined> {
  const read = await files.readText(path);
  if (read.kind === 'missing') return undefined;
  if (read.kind === 'refused') throw new BriefingInputError(`${path}: not read: ${read.reason}`);
  return read.text;
}

export type VaultInputs = {
  targets: ReturnType<typeof parseGoals>;
  subscriptions: ReturnType<typeof parseSubscriptionRules>;
  done: VaultTask[];
  pending: PendingApproval[];
  expired: ExpiredApproval[];
  errors: ErrorItem[];
  llmCalls: LlmCall[];
};

export async function readVaultInputs(root: string, range: WeekRange): Promise<VaultInputs> {
  const files = new VaultFiles(root);
  const targets = parseGoals(await readOptional(files, GOALS_FILE));
  const subscriptions = parseSubscriptionRules(await readOptional(files, HANDBOOK_FILE));
  const entries = await scanVault(root);
  const tasks = new Map(summarizeTasks(entries).map((t) => [t.id, t]));
  const done = new Map<string, VaultTask>();
  const pending: PendingApproval[] = [];
  const expired: ExpiredApproval[] = [];
  const errors = new Map<string, ErrorItem>();
  for (const e of entries) {
    const task = tasks.get(e.id);
    const domain = task?.domain ?? e.domain ?? 'unknown';
    const data = e.data ?? {};
    if (e.phase === 'Done' && task?.phase === 'Done') {
      const at = str(data.executed_at) ?? str(data.done) ?? str(data.completed_at) ?? str(data.completed);
      const known = done.get(e.id);
      if (!known || (!known.at && at))
        done.set(e.id, { id: e.id, domain, at: at ?? known?.at, title: task.title });
    } else if (e.phase === 'PendingApproval' && e.role === 'approval') {
      pending.push({ id: e.id, domain, action: str(data.action), created: str(data.created) });
    } else if (
      e.phase === 'Rejected' &&
      e.role === 'approval' &&
      (data.reason === 'expired' ||
        data.status === 'expired' ||
        /^expired\b/i.test(str(data.rejection_reason) ?? ''))
    ) {
      expired.push({ id: e.id, domain, expiredAt: str(data.expired_at) ?? str(data.rejected_at) });
    } else if (e.phase === 'Failed') {
      errors.set(e.id, { id: e.id, error: e.error ?? str(data.error) ?? str(data.reason) });
    }
  }
  const llmCalls: LlmCall[] = [];
  // Logs/ files are per UTC day: the week in any zone lies within a day either side of it.
  for (let day = addDays(range.startDay, -1); day <= addDays(range.endDay, 1); day = addDays(day, 1)) {
    const text = await readOptional(files, `${FOLDERS.logs}/${day}.json`);
    for (const raw of text?.split('\n') ?? []) {
      if (!raw.trim()) continue;
      let r: ReturnType<typeof decodeAuditLine>;
      try {
        r = decodeAuditLine(raw);
      } catch {
        continue; // a damaged line: the status page reports those; the spend leaves it out
      }
      if (r.action_type !== 'llm_call') continue;
      const cost = r.parameters?.cost_usd;
      llmCalls.push({
        timestamp: r.timestamp,
        model: str(r.parameters?.model) ?? r.target,
        costUsd: typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 ? cost : null,
      });
    }
  }
  return {
    targets,
    subscriptions,
    done: [...done.values()],
    pending,
    expired,
    errors: [...errors.values()],
    llmCalls,
  };
}

const m2oName = (v: unknown) => (Array.isArray(v) && typeof v[1] === 'string' ? v[1] : '');
const dateOrNull = (v: unknown) => (typeof v === 'string' ? v : null);

/**
 * Posted customer invoices and vendor bills dated from the month start (or the week's Monday, whichever
 * is earlier) to the week's Sunday, and payments of that span: search_read only.
 */
export async function readOdoo(client: OdooClient, range: WeekRange): Promise<OdooData> {
  const [from] = [range.monthStartDay, range.startDay].sort() as [string, string];
  const to = range.endDay;
  const moves = await client.searchRead(
    'account.move',
    [
      ['move_type', 'in', ['out_invoice', 'in_invoice']],
      ['state', '=', 'posted'],
      ['invoice_date', '>=', from],
      ['invoice_date', '<=', to],
    ],
    ['name', 'move_type', 'state', 'partner_id', 'invoice_date', 'amount_total', 'payment_state'],
    { order: 'invoice_date asc, id asc' },
  );
  const payments = await client.searchRead(
    'account.payment',
    [
      ['payment_type', '=', 'inbound'],
      ['date', '>=', from],
      ['date', '<=', to],
    ],
    ['payment_type', 'state', 'partner_id', 'date', 'amount'],
    { order: 'date asc, id asc' },
  );
  return {
    status: 'ok',
    moves: moves.map(
      (m): MoveRow => ({
        id: m.id,
        name: String(m.name ?? ''),
        move_type: String(m.move_type),
        state: String(m.state),
        partner: m2oName(m.partner_id),
        invoice_date: dateOrNull(m.invoice_date),
        amount_total: Number(m.amount_total ?? 0),
        payment_state: typeof m.payment_state === 'string' ? m.payment_state : undefined,
      }),
    ),
    payments: payments.map(
      (p): PaymentRow => ({
        id: p.id,
        payment_type: String(p.payment_type),
        state: String(p.state),
        partner: m2oName(p.partner_id),
        date: dateOrNull(p.date),
        amount: Number(p.amount ?? 0),
      }),
    ),
  };
}
