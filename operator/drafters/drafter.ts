import { EXIT, FteError } from '../../core/errors.js';
import type { Priority } from './priority.js';

/** An email as a drafter sees it: every field came from outside and is untrusted data. */
export type EmailForDraft = {
  id: string;
  /** The sender as written (`Name <address>`), and the bare address a reply goes to. */
  from: string;
  fromAddress: string;
  subject: string;
  received?: string;
  body: string;
  /** The owner's rules of engagement (`Company_Handbook.md`), or empty. */
  handbook: string;
};

export type Triage = { priority: Priority; needsReply: boolean; reason: string };

/** What one model call cost; `costUsd` is null for a model without a known price. */
export type LlmUsage = {
  model: string;
  purpose: 'triage' | 'draft';
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
};

/**
 * Writes triage decisions and reply drafts. A drafter never sends, never executes anything, and never
 * follows instructions found in an email: what it returns is only ever a draft awaiting the owner.
 */
export interface Drafter {
  /** `template`, or `claude:<model>`; recorded in each approval request's `drafter` field. */
  readonly name: string;
  triageEmail(email: EmailForDraft, signal?: AbortSignal): Promise<{ triage: Triage; usage?: LlmUsage }>;
  draftEmailReply(
    email: EmailForDraft,
    triage: Triage,
    signal?: AbortSignal,
  ): Promise<{ body: string; usage?: LlmUsage }>;
}

/** A drafter call that failed; `retryable` when trying again later may work (rate limits, 5xx, network). */
export class DrafterError extends FteError {
  constructor(message: string, retryable: boolean) {
    super(message, { exitCode: retryable ? EXIT.tempFail : EXIT.unavailable, retryable });
  }
}
