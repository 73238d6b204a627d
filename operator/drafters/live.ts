import type { DrafterSettings } from '../vault-resource.js';
import type { Drafter, EmailForDraft, Triage } from './drafter.js';

/**
 * A drafter whose settings can change while the operator runs (the Vault resource's `spec.drafter`,
 * ADR 0008): each call uses the drafter made from the settings of that moment, made again only when they
 * changed. A call in flight finishes with the drafter it started with.
 */
export class LiveDrafter implements Drafter {
  private made: { key: string; drafter: Drafter } | undefined;

  constructor(
    private readonly settings: () => DrafterSettings | undefined,
    private readonly make: (settings: DrafterSettings | undefined) => Drafter,
  ) {}

  private current(): Drafter {
    const settings = this.settings();
    const key = JSON.stringify(settings ?? {});
    if (this.made?.key !== key) this.made = { key, drafter: this.make(settings) };
    return this.made.drafter;
  }

  get name(): string {
    return this.current().name;
  }

  triageEmail(email: EmailForDraft, signal?: AbortSignal) {
    return this.current().triageEmail(email, signal);
  }

  draftEmailReply(email: EmailForDraft, triage: Triage, signal?: AbortSignal) {
    return this.current().draftEmailReply(email, triage, signal);
  }
}
