import type { Logger } from '../../core/log.js';
import type { MailTransport } from '../email.js';
import type { SentCopy } from '../sent-copy.js';
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
};

export type ActionRegistry = ReadonlyMap<string, ActionExecutor>;

export function actionRegistry(ctx: ActionContext): ActionRegistry {
  const executors: ActionExecutor[] = [
    new SendEmailExecutor({
      from: ctx.from,
      transport: ctx.transport,
      sentCopy: ctx.sentCopy,
      log: ctx.log,
    }) as ActionExecutor,
  ];
  return new Map(executors.map((e) => [e.action, e]));
}
