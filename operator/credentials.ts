/**
 * Send and pay credentials the cloud operator must never hold (DESIGN.md §5). Only the environment is
 * checked: the operator reads its secrets from there, and a file it is never told about it never reads.
 */
const SEND_CREDENTIALS: Array<[RegExp, string]> = [
  [/^SMTP_PASSWORD$/, 'SMTP password'],
  [/^WHATSAPP_SESSION/, 'WhatsApp session'],
  [/^BANK_/, 'banking credential'],
  [/_BANK_TOKEN$/, 'banking token'],
  [/^PAYMENT_.*TOKEN$/, 'payment token'],
  [/^FTE_APPROVAL_KEY(_FILE)?$/, 'approval signing key'],
  /** The laptop's Odoo key that may post invoices and register payments; the cloud's key drafts only. */
  [/^ODOO_POST_API_KEY(_FILE)?$/, 'Odoo posting key'],
];

/** Names of the send credentials set (non-empty) in `env`, sorted. */
export function sendCredentialsIn(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter((name) => env[name] !== undefined && env[name] !== '')
    .filter((name) => SEND_CREDENTIALS.some(([pattern]) => pattern.test(name)))
    .sort();
}
