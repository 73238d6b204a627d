import type { Decoded } from '../../core/codec.js';
import type { Action, ItemFrontmatter } from '../../core/schemas.js';
import type { ItemValidator } from '../decide.js';
import type { LlmUsage, Triage } from '../drafters/drafter.js';

export type HandlerInput = {
  id: string;
  item: Decoded<ItemFrontmatter>;
  /** `Company_Handbook.md`, or empty. */
  handbook: string;
  signal?: AbortSignal;
};

export type TriageOutcome = { triage: Triage; by: string; usage: LlmUsage[] };

/**
 * A new item a draft hands to another domain (an invoice request found in an email → accounting): written
 * to `Needs_Action/<domain>/<id>.md` in the same commit as the approval request, unless a task with that
 * id already exists anywhere in the vault.
 */
export type HandoffItem = { domain: string; id: string; text: string };

/** What a handler wants the owner to approve: the action, its parameters and the draft body. */
export type ApprovalDraft = {
  action: Action;
  /** Strings for email; accounting actions carry numbers and lists too (kept as YAML values, hashed as JSON). */
  parameters: Record<string, unknown>;
  body: string;
  /** One line: why this action is suggested. */
  reason: string;
  drafter: string;
  usage: LlmUsage[];
  /** One line for the `Updates/` signal; default `<action> to <to>: <subject>`. */
  summary?: string;
  items?: HandoffItem[];
};

/**
 * The work of one domain (`Needs_Action/<domain>/`): which items it can take, how it triages them and
 * what it asks the owner to approve. A domain without a handler is left alone (its tasks say so).
 */
export interface DomainHandler extends ItemValidator {
  readonly domain: string;
  triage(input: HandlerInput): Promise<TriageOutcome>;
  draft(input: HandlerInput, triage: Triage): Promise<ApprovalDraft>;
}
