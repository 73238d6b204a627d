import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { approvalContentHash, approvalParameters, decodeApproval } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import type { OdooClient, OdooSettings } from '../../core/odoo/client.js';
import { actionRegistry } from '../../executor/actions/index.js';
import { approveTask, type DecisionContext } from '../../executor/decisions.js';
import type { Approval } from '../../executor/signature.js';
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

/**
 * An accounting approval as the executors see it (decoded, not signed: `prepare` and `perform` read only
 * its data and body), for the in-process executor tests (tests/executor/action-*.test.ts).
 */
export function accountingApproval(
  action: string,
  task: string,
  parameters: Record<string, unknown>,
  body = `## ${action}\nPrepared by the cloud in Odoo.\n`,
): Approval {
  const data: Record<string, unknown> = {
    type: 'approval_request',
    task,
    action,
    domain: action === 'send_email' ? 'email' : 'accounting',
    ...parameters,
    reason: 'asked for by the client',
    created: '2026-03-15T09:00:00.000Z',
    expires: '2026-03-17T09:00:00.000Z',
    status: 'approved',
    drafter: 'template',
  };
  data.content_sha256 = approvalContentHash(action, approvalParameters(data), body);
  return decodeApproval(stringifyMarkdown({ data, body }));
}

/**
 * Odoo 17 in front of the test server (which has Odoo 18+'s `memo`): a fetch for the client's test hook
 * (`OdooClientOptions.fetch`) under which `account.payment` calls its memo field `ref`, as Odoo 17 does.
 * `fields_get`, `read` and `search_read` answer `ref`; a call naming `ref` reaches the server as `memo`;
 * a call naming `memo` names a field Odoo 17 does not have, and the server refuses it. A cancelled
 * payment's state is Odoo 17's `cancel` (18+: `canceled`).
 */
export function odoo17Fetch(): typeof fetch {
  const rename = (value: unknown, from: string, to: string): unknown => {
    if (value === from) return to;
    if (Array.isArray(value)) return value.map((v) => rename(v, from, to));
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k === from ? to : k, rename(v, from, to)]),
      );
    }
    return value;
  };
  return async (input, init) => {
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const args = body?.params?.args as unknown[] | undefined;
    const payment = body?.params?.method === 'execute_kw' && args?.[3] === 'account.payment';
    if (!payment) return fetch(input, init);
    const renamed = rename(
      rename(rename(args.slice(5), 'memo', 'memo_is_not_in_odoo_17'), 'ref', 'memo'),
      'cancel',
      'canceled',
    );
    const sent = {
      ...body,
      params: { ...body.params, args: [...args.slice(0, 5), ...(renamed as unknown[])] },
    };
    const answer = await fetch(input, { ...init, body: JSON.stringify(sent) });
    const json = (await answer.json()) as { result?: unknown };
    const result =
      'result' in json
        ? { ...json, result: rename(rename(json.result, 'memo', 'ref'), 'canceled', 'cancel') }
        : json;
    return new Response(JSON.stringify(result), {
      status: answer.status,
      headers: { 'content-type': answer.headers.get('content-type') ?? 'application/json' },
    });
  };
}

/**
 * A fetch for the client's test hook (`OdooClientOptions.fetch`, JSON-2 only) through which `rewrite` may
 * change Odoo's answer to a call: what a real Odoo answers where the test server is simpler (a bill
 * `in_payment` until the bank statement is reconciled, payments listed newest first by default).
 */
export function rewriteAnswers(
  rewrite: (
    call: { model: string; method: string; kwargs: Record<string, unknown> },
    result: unknown,
  ) => unknown,
): typeof fetch {
  return async (input, init) => {
    const answer = await fetch(input, init);
    const match = /\/json\/2\/([^/]+)\/([^/?]+)$/.exec(String(input));
    if (!match || answer.status !== 200) return answer;
    const kwargs = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : {};
    const result = rewrite({ model: match[1]!, method: match[2]!, kwargs }, await answer.json());
    return new Response(JSON.stringify(result), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
}
