import { readFileSync } from 'node:fs';
import { isSendScope } from '../core/oauth/providers.js';

/**
 * Send and pay credentials the cloud operator must never hold (DESIGN.md §5). The environment is checked,
 * and the one file it names that may hold a send right: the IMAP OAuth token file, whose recorded scopes
 * must not allow sending (a Microsoft token with SMTP.Send, Google's https://mail.google.com/).
 */
const SEND_CREDENTIALS: Array<[RegExp, string]> = [
  [/^SMTP_PASSWORD$/, 'SMTP password'],
  [/^SMTP_OAUTH_TOKEN_FILE$/, 'SMTP OAuth token'],
  [/^WHATSAPP_SESSION/, 'WhatsApp session'],
  [/^BANK_/, 'banking credential'],
  [/_BANK_TOKEN$/, 'banking token'],
  [/^PAYMENT_.*TOKEN$/, 'payment token'],
  [/^FTE_APPROVAL_KEY(_FILE)?$/, 'approval signing key'],
  /** The laptop's Odoo key that may post invoices and register payments; the cloud's key drafts only. */
  [/^ODOO_POST_API_KEY(_FILE)?$/, 'Odoo posting key'],
];

/** Scopes recorded in a token file that allow sending; [] when none or when the file cannot be read. */
export function sendScopesOf(tokenFile: string, read = (p: string) => readFileSync(p, 'utf8')): string[] {
  try {
    const scopes = (JSON.parse(read(tokenFile)) as { scopes?: unknown }).scopes;
    return Array.isArray(scopes)
      ? scopes.filter((s): s is string => typeof s === 'string' && isSendScope(s))
      : [];
  } catch {
    return [];
  }
}

/**
 * Names of the send credentials set (non-empty) in `env`, sorted; an IMAP token file whose scopes allow
 * sending is named as `IMAP_OAUTH_TOKEN_FILE (scopes allow sending: …)`.
 */
export function sendCredentialsIn(env: NodeJS.ProcessEnv): string[] {
  const found = Object.keys(env)
    .filter((name) => env[name] !== undefined && env[name] !== '')
    .filter((name) => SEND_CREDENTIALS.some(([pattern]) => pattern.test(name)));
  const token = env.IMAP_OAUTH_TOKEN_FILE?.trim();
  if (token) {
    const scopes = sendScopesOf(token);
    if (scopes.length > 0) found.push(`IMAP_OAUTH_TOKEN_FILE (scopes allow sending: ${scopes.join(' ')})`);
  }
  return found.sort();
}
