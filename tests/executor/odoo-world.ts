import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { approvalContentHash, approvalParameters } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import type { OdooClient, OdooSettings } from '../../core/odoo/client.js';
import { actionRegistry } from '../../executor/actions/index.js';
import { approveTask, type DecisionContext } from '../../executor/decisions.js';
import { type Clone, localLedger, ownerContext, testKey, type World } from './helpers.js';

/** What the laptop's Odoo action tests share: the cloud's accounting approval and the owner's approve. */

/** The cloud's approval request in `Pending_Approval/accounting/<id>.md`, committed and (by default) pushed. */
export async function cloudAccountingApproval(
  cloud: Clone,
  id: string,
  action: 'post_invoice' | 'register_payment',
  parameters: Record<string, unknown>,
  push = true,
): Promise<void> {
  const created = new Date();
  const data: Record<string, unknown> = {
    type: 'approval_request',
    task: id,
    action,
    domain: 'accounting',
    ...parameters,
    reason: action === 'post_invoice' ? 'invoice asked for by the client' : 'vendor bill due',
    created: created.toISOString(),
    expires: new Date(created.getTime() + 48 * 3_600_000).toISOString(),
    status: 'pending',
    drafter: 'template',
  };
  const body = `## ${action}\nPrepared by the cloud in Odoo.\n`;
  data.content_sha256 = approvalContentHash(action, approvalParameters(data), body);
  await mkdir(join(cloud.dir, 'Pending_Approval', 'accounting'), { recursive: true });
  await writeFile(
    join(cloud.dir, 'Pending_Approval', 'accounting', `${id}.md`),
    stringifyMarkdown({ data, body }),
  );
  await cloud.repo.commit(`cloud: ${action} ${id}`, [`Pending_Approval/accounting/${id}.md`]);
  if (!push) return;
  const report = await cloud.repo.sync();
  if (report.state !== 'synced') throw new Error(`cloud sync failed: ${report.error}`);
}

/** The owner's `fte approve`, in process, with the laptop's executors and ledger (what openLocal builds). */
export async function approveWithOdoo(w: World, odoo: OdooSettings, ids: string[], ceiling = 1000) {
  const key = await testKey(w.keyFile);
  const ledger = await localLedger(w);
  const ctx: DecisionContext = {
    ...ownerContext(w),
    ledger,
    actions: actionRegistry({
      from: 'owner@example.com',
      odoo,
      paymentCeiling: ceiling,
      ledger: () => ledger,
    }),
  };
  const out = [];
  for (const id of ids) out.push(await approveTask(ctx, key, id, 'cli'));
  return out;
}

/** A posted vendor bill, entered and posted by a person (`odoo`: the admin's client). */
export async function postedVendorBill(odoo: OdooClient, partnerId: number, amount: number): Promise<number> {
  const id = await odoo.create('account.move', {
    move_type: 'in_invoice',
    partner_id: partnerId,
    invoice_line_ids: [[0, 0, { name: 'Hosting', quantity: 1, price_unit: amount }]],
  });
  await odoo.call('account.move', 'action_post', [id]);
  return id;
}
