import { stringifyMarkdown } from '../../core/frontmatter.js';
import { itemPaths } from '../../core/layout.js';
import type { OdooConnector } from '../handlers/accounting.js';
import { VENDOR_BILL } from '../handlers/accounting.js';
import { findTaskFiles } from '../vault-files.js';
import type { Watcher, WatcherContext } from './watcher.js';

export type OdooBillsWatcherOptions = {
  connect: OdooConnector;
  /** Bills due within this many days from today (UTC) are taken in; default 3. */
  dueWithinDays?: number;
  /** Daemon: one pass every this often; default 5 minutes. */
  intervalMs?: number;
};

/** `BILL_<odoo id>`: one task per vendor bill, ever. */
export const billTaskId = (odooId: number) => `BILL_${odooId}`;

/**
 * Vendor bills due → `Needs_Action/accounting/BILL_<id>.md` (`type: vendor_bill`), which the accounting
 * handler turns into a `register_payment` approval. Each pass searches Odoo for posted vendor bills not
 * (fully) paid whose due date is at most `dueWithinDays` days away (overdue ones included), and writes an
 * item for each bill that has no task anywhere in the vault yet: idempotent by bill id across passes,
 * restarts and agents (a bill whose task is done or rejected is not taken in again).
 */
export class OdooBillsWatcher implements Watcher {
  readonly name = 'odoo-bills';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(private readonly options: OdooBillsWatcherOptions) {}

  async once(context: Pick<WatcherContext, 'vault' | 'agent' | 'logger' | 'clock'>): Promise<string[]> {
    const odoo = await this.options.connect();
    const today = context.clock();
    const until = new Date(today.getTime() + (this.options.dueWithinDays ?? 3) * 86_400_000)
      .toISOString()
      .slice(0, 10);
    const bills = await odoo.searchRead<{
      name: string;
      partner_id: [number, string] | false;
      invoice_date_due: string | false;
      amount_residual: number;
    }>(
      'account.move',
      [
        ['move_type', '=', 'in_invoice'],
        ['state', '=', 'posted'],
        ['payment_state', 'in', ['not_paid', 'partial']],
        ['invoice_date_due', '<=', until],
      ],
      ['name', 'partner_id', 'invoice_date_due', 'amount_residual'],
      { order: 'invoice_date_due asc, id asc' },
    );
    const written: string[] = [];
    for (const bill of bills) {
      const id = billTaskId(bill.id);
      if ((await findTaskFiles(context.vault.root, id)).length > 0) continue;
      const path = itemPaths.needsAction('accounting', id);
      const partner = bill.partner_id ? bill.partner_id[1] : '';
      const text = stringifyMarkdown({
        data: {
          type: VENDOR_BILL,
          odoo_id: bill.id,
          title: `Vendor bill ${bill.name} due ${bill.invoice_date_due}`,
          partner,
          due: bill.invoice_date_due || undefined,
          amount_residual: bill.amount_residual,
          received: context.clock().toISOString(),
          status: 'pending',
        },
        body: `## Vendor bill due\n\n${bill.name} of ${partner}, due ${bill.invoice_date_due}: ${bill.amount_residual.toFixed(2)} left to pay.\n`,
      });
      const result = await context.vault.apply({
        message: `${context.agent}: intake ${id}`,
        preconditions: [{ kind: 'absent', path }],
        operations: [{ op: 'write', path, content: text, mode: 'create' }],
        audit: [
          {
            actor: context.agent,
            action_type: 'intake',
            target: path,
            parameters: { source: 'odoo', odoo_id: bill.id, due: bill.invoice_date_due },
            result: 'item_written',
            task: id,
          },
        ],
      });
      if (result.kind === 'applied') written.push(id);
    }
    if (written.length > 0) context.logger.info({ items: written }, 'vendor bills due taken in');
    return written;
  }

  async start(context: WatcherContext): Promise<void> {
    const every = this.options.intervalMs ?? 5 * 60_000;
    const pass = async () => {
      try {
        const ids = await this.once(context);
        if (ids.length > 0) context.notify(ids);
      } catch (error) {
        context.logger.warn(
          { err: (error as Error).message },
          'vendor bills pass failed; trying again later',
        );
      }
      if (!this.stopped) {
        this.timer = setTimeout(() => {
          this.running = pass();
        }, every);
      }
    };
    this.running = pass();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
