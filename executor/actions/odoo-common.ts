import { z } from 'zod';
import { approvalParameters } from '../../core/codec.js';
import {
  OdooAccessError,
  OdooClient,
  type OdooClientOptions,
  OdooError,
  OdooMissingError,
  OdooUserError,
  OdooValidationError,
} from '../../core/odoo/client.js';
import type { OdooSettings } from '../../core/odoo/settings.js';
import { ODOO_SETTINGS_HINT } from '../odoo-config.js';
import type { Approval } from '../signature.js';
import { ActionFailure, InvalidActionError } from './types.js';

/**
 * What post_invoice and register_payment share: how they reach Odoo (the laptop's posting key), how their
 * parameters are validated, and how an Odoo failure maps onto at-most-once's meanings:
 * - before the one write (reads, login, version): nothing changed in Odoo, so a refused connection, a
 *   timeout or a 5xx is `not_sent` (tried again on a later pass); an access error, a missing record or a
 *   user/validation error is `failed`;
 * - the write itself (action_post, action_create_payments): Odoo's own refusal (access, user, validation,
 *   missing) is `failed` (Odoo rolled the transaction back); a timeout or any answer whose outcome is
 *   unknown (`details.outcomeUnknown`) is `uncertain`: never repeated by itself.
 */

export type OdooAccess = {
  /** The laptop's Odoo (ODOO_POST_API_KEY); undefined: the actions are unavailable. */
  settings?: OdooSettings;
  /** Test hooks of the client (a fast sleep). */
  clientOptions?: OdooClientOptions;
};

export function odooUnavailable(access: OdooAccess): string | undefined {
  return access.settings ? undefined : `no Odoo configured on this machine (${ODOO_SETTINGS_HINT})`;
}

export async function connectOdoo(access: OdooAccess): Promise<OdooClient> {
  if (!access.settings) throw new ActionFailure(`no Odoo configured (${ODOO_SETTINGS_HINT})`, 'not_sent');
  try {
    return await OdooClient.connect(access.settings, access.clientOptions);
  } catch (error) {
    throw beforeWrite(error);
  }
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

function refusedForGood(error: unknown): boolean {
  return (
    error instanceof OdooAccessError ||
    error instanceof OdooUserError ||
    error instanceof OdooValidationError ||
    error instanceof OdooMissingError
  );
}

/** An error before the write: nothing was changed in Odoo. */
export function beforeWrite(error: unknown): ActionFailure {
  if (error instanceof ActionFailure) return error;
  if (refusedForGood(error)) return new ActionFailure(withHint(error), 'failed');
  return new ActionFailure(`Odoo could not be read, nothing was changed: ${message(error)}`, 'not_sent');
}

/** An error of the write itself. */
export function duringWrite(error: unknown): ActionFailure {
  if (error instanceof ActionFailure) return error;
  if (error instanceof OdooError && error.details.outcomeUnknown) {
    return new ActionFailure(message(error), 'uncertain');
  }
  if (refusedForGood(error)) return new ActionFailure(withHint(error), 'failed');
  if (error instanceof OdooError && !error.retryable) return new ActionFailure(message(error), 'failed');
  // A connection refused before anything was sent is not outcome-unknown (core/odoo/transport.ts);
  // anything else we cannot place may have reached Odoo.
  if (error instanceof OdooError && error.details.outcomeUnknown === false) {
    return new ActionFailure(`${message(error)} (not sent)`, 'not_sent');
  }
  return new ActionFailure(message(error), 'uncertain');
}

function withHint(error: unknown): string {
  if (error instanceof OdooAccessError) {
    return `${message(error)} — the Odoo user of ODOO_POST_API_KEY may not do this (is it the cloud's draft-only key?)`;
  }
  return message(error);
}

/** What `classify` answers: perform() throws only ActionFailure; anything else may have reached Odoo. */
export function classifyOdoo(error: unknown): 'not_sent' | 'failed' | 'uncertain' {
  return error instanceof ActionFailure ? error.meaning : 'uncertain';
}

/** The approval's parameters through `schema`; an unknown or ill-shaped one is an InvalidActionError. */
export function odooParameters<S extends z.ZodObject>(
  action: string,
  keys: ReadonlySet<string>,
  schema: S,
  approval: Approval,
): z.infer<S> {
  const raw = approvalParameters(approval.data);
  const unknown = Object.keys(raw).filter((k) => !keys.has(k));
  if (unknown.length > 0) {
    throw new InvalidActionError(
      `parameters ${action} does not show or understand: ${unknown.sort().join(', ')} (refused rather than carried out)`,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidActionError(`${action}: ${issue.path.join('.') || 'parameters'}: ${issue.message}`);
  }
  return parsed.data;
}

/** A money amount: finite, at most 2 decimals kept. */
export const money = z
  .number()
  .finite()
  .transform((v) => Math.round(v * 100) / 100);

export const text = z
  .string()
  .trim()
  .min(1)
  .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain line breaks or control characters');

export const sameAmount = (a: number, b: number) => Math.abs(a - b) < 0.005;

export const formatAmount = (amount: number, currency: string) => `${amount.toFixed(2)} ${currency}`;

/** A many2one value's id and name (`[id, name]` or false). */
export function many2one(value: unknown): { id: number; name: string } | undefined {
  return Array.isArray(value) && typeof value[0] === 'number'
    ? { id: value[0], name: String(value[1] ?? '') }
    : undefined;
}
