import type { Logger } from '../../core/log.js';
import type { OdooClientOptions } from '../../core/odoo/client.js';
import type { OdooSettings } from '../../core/odoo/settings.js';
import { DEFAULT_PAYMENT_CEILING } from '../config.js';
import type { MailTransport } from '../email.js';
import type { Ledger } from '../ledger.js';
import type { SentCopy } from '../sent-copy.js';
import { PostInvoiceExecutor } from './post-invoice.js';
import { RegisterPaymentExecutor } from './register-payment.js';
import { SendEmailExecutor } from './send-email.js';
import type { ActionExecutor } from './types.js';

/**
 * The registry: every action this machine can carry out. An approval whose action is not here waits in
 * `Approved/` with a reason. A new action (post_invoice, payment, send_whatsapp, post_social) is a new file
 * in this folder and one line below.
 */
export type ActionContext = {
  from: string;
  transport?: MailTransport;
  sentCopy?: SentCopy;
  log?: Logger;
  /** The laptop's Odoo (ODOO_POST_API_KEY); undefined: post_invoice and register_payment wait, with the reason. */
  odoo?: OdooSettings;
  /** Test hooks of the Odoo client. */
  odooClientOptions?: OdooClientOptions;
  /** The per-payment ceiling (default DEFAULT_PAYMENT_CEILING). */
  paymentCeiling?: number;
  /** This machine's ledger (the new-payee rule); a getter, as the executive opens it on its first pass. */
  ledger?: () => Ledger | undefined;
};

export type ActionRegistry = ReadonlyMap<string, ActionExecutor>;

export function actionRegistry(ctx: ActionContext): ActionRegistry {
  const odoo = { settings: ctx.odoo, clientOptions: ctx.odooClientOptions };
  const executors: ActionExecutor[] = [
    new SendEmailExecutor({
      from: ctx.from,
      transport: ctx.transport,
      sentCopy: ctx.sentCopy,
      log: ctx.log,
    }) as ActionExecutor,
    new PostInvoiceExecutor(odoo, {
      from: ctx.from,
      transport: ctx.transport,
      sentCopy: ctx.sentCopy,
    }) as ActionExecutor,
    new RegisterPaymentExecutor({
      ...odoo,
      ceiling: ctx.paymentCeiling ?? DEFAULT_PAYMENT_CEILING,
      ledger: ctx.ledger,
    }) as ActionExecutor,
  ];
  return new Map(executors.map((e) => [e.action, e]));
}
