import type { Drafter, EmailForDraft, Triage } from './drafter.js';
import { keywordPriority } from './priority.js';

export const TEMPLATE_NOTICE =
  '[fte template draft: no AI drafter is configured (ANTHROPIC_API_KEY is not set), so this is a fixed acknowledgement. Edit it before approving.]';

/** The display name of a sender (`Jane Doe <jane@x>` → `Jane Doe`), or undefined. */
export function displayName(from: string): string | undefined {
  const match = /^\s*"?([^"<]+?)"?\s*</.exec(from);
  const name = match?.[1]?.trim();
  return name && !name.includes('@') ? name : undefined;
}

/**
 * A deterministic drafter for when there is no model: keyword triage and a fixed acknowledgement that
 * says plainly it is a template. Same input, same output; it never reads instructions in the email.
 */
export class TemplateDrafter implements Drafter {
  readonly name = 'template';

  async triageEmail(email: EmailForDraft): Promise<{ triage: Triage }> {
    const priority = keywordPriority(email.subject, email.body);
    return {
      triage: {
        priority,
        needsReply: true,
        reason: `${email.fromAddress} wrote about "${oneLine(email.subject) || '(no subject)'}"; an acknowledgement is suggested`,
      },
    };
  }

  async draftEmailReply(email: EmailForDraft): Promise<{ body: string }> {
    const name = displayName(email.from);
    const subject = oneLine(email.subject);
    const lines = [
      TEMPLATE_NOTICE,
      '',
      name ? `Hello ${name},` : 'Hello,',
      '',
      subject
        ? `Thank you for your message about "${subject}". We have received it and will get back to you shortly.`
        : 'Thank you for your message. We have received it and will get back to you shortly.',
      '',
      'Best regards,',
      'the team',
      '',
    ];
    return { body: lines.join('\n') };
  }
}

export function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
