import { EXIT, FteError } from '../../core/errors.js';
import type { Action } from '../../core/schemas.js';
import type { Approval } from '../signature.js';

/**
 * One executor per action (DESIGN.md §1 layout: executor/actions/). The executive never knows what an
 * action does: it verifies the signature, then hands the approval to the generic at-most-once helper
 * (at-most-once.ts) with the executor registered for its `action`. A new action is a new file here and
 * one line in index.ts.
 */

/** What an approval will do, built from the approval alone (pure), shown before signing and executed as is. */
export type Prepared<P> = {
  payload: P;
  /** The audit record's target (the recipients, the account, …). */
  target: string;
  /**
   * Every recipient and effect, one `[label, value]` per line: what `fte approve` prints. Every parameter
   * that changes the effect appears here.
   */
  effect: Array<[string, string]>;
  /** Audit parameters (no message bodies). */
  audit: Record<string, unknown>;
  /** A stable id of the side effect (a Message-ID), recorded in the ledger and the Done/ file. */
  effectId?: string;
  /**
   * Who the side effect is for, as a stable id (`res.partner/7`), recorded in the ledger with each attempt:
   * what a later approval asks ("was anything paid to this partner from this machine before?").
   */
  counterparty?: string;
  /** Parameters that were dropped or adjusted, with why (e.g. a reply id that is not an RFC 5322 msg-id). */
  notes: string[];
};

/** What a side effect answered. */
export type Performed = {
  detail: string;
  audit: Record<string, unknown>;
  /** The side effect's id known only once it happened (the posted invoice's number); replaces Prepared.effectId. */
  effectId?: string;
};

/**
 * A failure with what it means for at-most-once: `not_sent` (certainly did not happen: may retry later),
 * `failed` (refused for good: final, shown), `uncertain` (may have happened: the owner decides).
 */
export class ActionFailure extends Error {
  constructor(
    message: string,
    readonly meaning: 'not_sent' | 'failed' | 'uncertain',
  ) {
    super(message);
  }
}

/** The approval cannot become this action (a missing recipient, a field it does not understand): bad data, exit 65. */
export class InvalidActionError extends FteError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.dataError });
  }
}

export interface ActionExecutor<P = unknown> {
  readonly action: Action;
  /** `action_type` of its audit records (`email_send` for send_email). */
  readonly auditType: string;
  /**
   * Parameter keys this executor understands and shows to the owner. An approval carrying any other
   * parameter is refused (never executed with a field the owner did not see explained).
   */
  readonly parameters: ReadonlySet<string>;
  /** Builds the effect (pure); throws InvalidActionError when the approval cannot become this action. */
  prepare(approval: Approval): Prepared<P>;
  /** Why it cannot run on this machine now (no server configured), or undefined when it can. */
  unavailable(): string | undefined;
  /** Performs the side effect once; throws ActionFailure (or any error, classified by `classify`). */
  perform(prepared: Prepared<P>): Promise<Performed>;
  /** What an error thrown by `perform` means for at-most-once. */
  classify(error: unknown): 'not_sent' | 'failed' | 'uncertain';
  /** Optional follow-up after the task is in Done/ (a Sent copy); never undoes the side effect. */
  afterDone?(prepared: Prepared<P>, at: Date): Promise<void>;
}
