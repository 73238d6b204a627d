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

/** What a handler wants the owner to approve: the action, its parameters and the draft body. */
export type ApprovalDraft = {
  action: Action;
  parameters: Record<string, string>;
  body: string;
  /** One line: why this action is suggested. */
  reason: string;
  drafter: string;
  usage: LlmUsage[];
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
